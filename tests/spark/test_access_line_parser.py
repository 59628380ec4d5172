"""The compiled access-line parser (jvm/lakeml/AccessLineParser.java) against ingest_logs' regex path.

The regex path owns the rules; the compiled parser may only decline lines (null), never type one
differently. Every test parses the same lines twice, `compiled=True` and `compiled=False`, and
compares every output column of every line: real fixture lines, generated lines with real browser
user agents, lines built from deliberately odd parts (hypothesis), and random mutations of valid
lines. The tests also check that the compiled parser does take the ordinary lines (a parser that
declined everything would agree trivially).
"""

from __future__ import annotations

import calendar
import random

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from core.errors import LakemlError
from jobs import ingest_logs as il
from tests.spark.test_ingest_logs import FIXTURE_ACCESS, apachelogs_vhost, generated_lines, logged, user_agents


def lines_frame(spark, lines):
    """One access line per row; `source_file` carries its index so both parses can be lined up."""
    rows = [(line, str(i), False) for i, line in enumerate(lines)]
    return spark.createDataFrame(rows, "line string, source_file string, is_json boolean")


def comparable(rows) -> dict:
    """index -> the row's values, maps as sorted items."""
    return {row["source_file"]: tuple(sorted(v.items()) if isinstance(v, dict) else v for v in row) for row in rows}


def collected(parsed) -> dict:
    """The parse's rows; times as numbers (a line may carry year 0, which Python's datetime cannot hold)."""
    from pyspark.sql import functions as F

    return comparable(
        parsed.withColumn("event_ts", F.unix_micros("event_ts"))
        .withColumn("event_date", F.unix_date("event_date"))
        .drop("parsed_by")
        .collect()
    )


def assert_same_as_regex(spark, lines) -> None:
    frame = lines_frame(spark, lines).cache()
    compiled = collected(il.parse_lines(frame))
    regex = collected(il.parse_lines(frame, compiled=False))
    frame.unpersist()
    assert len(compiled) == len(regex) == len(lines)
    differ = [(lines[int(i)], compiled[i], regex[i]) for i in regex if compiled[i] != regex[i]]
    assert not differ, f"{len(differ)} lines differ, first: {differ[0]}"


def assert_time_decides_as_parser(spark, lines) -> None:
    """compiled_time takes exactly the lines compiled_parse takes, with the same event time."""
    from pyspark.sql import functions as F

    frame = lines_frame(spark, lines).select(
        il.compiled_parse(spark, F.col("line"))["event_micros"].alias("parser"),
        il.compiled_time(spark, F.col("line")).alias("time"),
    )
    assert frame.filter(~F.col("parser").eqNullSafe(F.col("time"))).count() == 0


def taken_by_compiled(spark, lines) -> int:
    """How many of the lines the compiled parser types (returns non-null for)."""
    from pyspark.sql import functions as F

    frame = lines_frame(spark, lines)
    return frame.filter(il.compiled_parse(spark, F.col("line")).isNotNull()).count()


def test_the_parsers_share_their_constants(spark):
    parser = spark.sparkContext._jvm.lakeml.AccessLineParser
    assert list(parser.BOT_HINTS) == list(il.BOT_HINTS)
    assert parser.BOT_PATTERN == il.BOT_PATTERN
    assert parser.ABSOLUTE_URL_HEAD == il.ABSOLUTE_URL_HEAD
    assert parser.SCHEMA.simpleString() == il.ACCESS_PARSER_SCHEMA


def test_a_session_without_the_parser_class_gets_a_clear_error(spark):
    with pytest.raises(LakemlError, match=r"lakeml\.NoSuchParser is not on the session.s classpath"):
        il.access_parser(spark, "lakeml.NoSuchParser")
    assert il.access_parser(spark)._fqn == il.ACCESS_PARSER_CLASS


def test_real_and_generated_lines_agree_and_ordinary_lines_take_the_compiled_path(spark):
    with open(FIXTURE_ACCESS, encoding="utf-8") as handle:
        fixture = handle.read().splitlines()
    with open(apachelogs_vhost(), encoding="utf-8") as handle:
        vhost = handle.read().splitlines()
    generated = generated_lines(400)
    assert_same_as_regex(spark, fixture + vhost + generated)
    ascii_generated = [line for line in generated if line.isascii()]
    assert len(ascii_generated) > 300
    assert taken_by_compiled(spark, ascii_generated) == len(ascii_generated)
    # the fixture's plain Apache and Nginx lines (IPv6 client, trailing fields, '-' bytes, escaped quotes)
    assert taken_by_compiled(spark, fixture[:8]) == 8
    assert taken_by_compiled(spark, vhost) == 0  # a vhost prefix is left to the regex


def test_month_ends_leap_years_and_offsets_agree(spark):
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    dates = [
        (year, month, day)
        for year in (1900, 2000, 2024, 2026, 2100)
        for month in (1, 2, 4, 12)
        for day in (28, 29, 30, 31)
    ]
    lines = [
        f'192.0.2.1 - - [{day}/{months[month - 1]}/{year}:23:59:59 {zone}] "GET / HTTP/1.1" 200 1'
        for year, month, day in dates
        for zone in ("+0000", "-1800")
    ]
    assert_same_as_regex(spark, lines)
    real = sum(day <= calendar.monthrange(year, month)[1] for year, month, day in dates)
    assert taken_by_compiled(spark, lines) == 2 * real


BOT_VERDICTS = {
    "Googlebot/2.1 (+http://www.google.com/bot.html)": True,
    "BOT": True,
    "Mozilla/5.0 (compatible; SPIDER)": True,
    "YandexImages/3.0": True,
    "Yandex/1.0": False,  # a hint, but not the pattern
    "Botanist/1.0": False,  # "bot" not at a word's end
    "Mozilla/5.0 (compatible; Bot/1)": True,
    "Mediapartners-GOOGLE": True,
    "ARCHIVE.ORG_bot": True,
    "archiveXorg": False,
    "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0": False,
}


def test_bot_verdicts_agree_whatever_the_case(spark):
    from pyspark.sql import functions as F

    agents = list(BOT_VERDICTS)
    lines = [f'192.0.2.1 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "{a}"' for a in agents]
    assert_same_as_regex(spark, lines)
    parsed = lines_frame(spark, lines).select("source_file", il.compiled_parse(spark, F.col("line"))["is_bot"])
    assert {agents[int(i)]: bot for i, bot in parsed.collect()} == BOT_VERDICTS


def test_the_plan_without_the_regex_agrees_and_refuses_a_line_for_the_regex(spark):
    from pyspark.sql import functions as F

    from tests.spark.test_ingest_logs import FIXTURE_EVENTS

    with open(FIXTURE_EVENTS, encoding="utf-8") as handle:
        events = handle.read().splitlines()
    access = [*generated_lines(100, seed=5), "", "x" * (il.MAX_RAW_BYTES + 1)]
    rows = [(line, str(i), False) for i, line in enumerate(access)]
    rows += [(line, str(len(rows) + i), True) for i, line in enumerate(events)]
    frame = spark.createDataFrame(rows, "line string, source_file string, is_json boolean")
    full = il.parse_lines(frame)
    assert {r.parsed_by for r in full.collect()} == {"compiled", "json", None}
    assert collected(il.parse_lines(frame, regex=False)) == collected(full)
    with_odd = frame.union(spark.createDataFrame([("not a log line", "odd", False)], frame.schema))
    try:
        il.parse_lines(with_odd, regex=False).filter(F.col("reason").isNull()).count()
    except Exception as error:
        assert "did an input file change during the run" in str(error)
    else:
        raise AssertionError("a line for the regex must fail the plan without it")


def mixed_frame(spark):
    """Generated access lines, fixture lines (some for the regex, some rejects), an empty and a too long
    line, and JSON events; `source_file` tells a few files apart."""
    from tests.spark.test_ingest_logs import FIXTURE_EVENTS

    with open(FIXTURE_ACCESS, encoding="utf-8") as handle:
        fixture = handle.read().splitlines()
    with open(FIXTURE_EVENTS, encoding="utf-8") as handle:
        events = handle.read().splitlines()
    access = [*generated_lines(300, seed=8), *fixture, "", "x" * (il.MAX_RAW_BYTES + 1)]
    rows = [(line, f"file:///in/{i % 3}.log", False) for i, line in enumerate(access)]
    rows += [(line, "file:///in/events.json", True) for line in events]
    return spark.createDataFrame(rows, "line string, source_file string, is_json boolean")


def test_line_stats_count_as_the_full_parse_does(spark):
    from pyspark.sql import functions as F

    frame = mixed_frame(spark)
    mapping = il.parse_json_mapping(il.DEFAULT_JSON_MAPPING)
    stats = il.line_stats(frame, mapping)
    parsed = il.parse_lines(frame, mapping).select(
        "*", F.unix_date("event_date").alias("event_day"), F.unix_micros("event_ts").alias("micros")
    )
    full = parsed.groupBy("source_file", "event_day", "reason", "parsed_by", "invalid_utf8")
    expected = full.agg(F.count("*").alias("n"), F.min("micros").alias("lo"), F.max("micros").alias("hi"))

    def key(row):
        return tuple(str(row[k]) for k in ("source_file", "event_day", "reason", "parsed_by", "invalid_utf8"))

    assert {key(r): (r["n"], r["lo"], r["hi"]) for r in stats} == {
        key(r): (r["n"], r["lo"], r["hi"]) for r in expected.collect()
    }
    assert {r["parsed_by"] for r in stats} >= {"compiled", "regex", "json"}
    assert any(r["reason"] for r in stats)  # the fixture's rejects are counted too


def test_the_compiled_plan_equals_the_full_plan_and_refuses_other_lines(spark):
    from pyspark.sql import functions as F

    frame = lines_frame(spark, generated_lines(300, seed=9))
    as_json = {"query": F.to_json("query"), "properties": F.to_json("properties")}
    lean = il.compiled_rows(frame, "r1").withColumns(as_json)
    full = il.table_rows(il.parse_lines(frame), "r1").withColumns(as_json)
    assert lean.schema == full.schema
    assert lean.count() == 300
    assert lean.exceptAll(full).count() == 0 and full.exceptAll(lean).count() == 0
    with_odd = frame.union(spark.createDataFrame([("not a log line", "odd", False)], frame.schema))
    try:
        il.compiled_rows(with_odd, "r1").collect()
    except Exception as error:
        assert "did an input file change during the run" in str(error)
    else:
        raise AssertionError("a line the compiled parser does not take must fail its plan")


# --- lines built from odd parts ------------------------------------------------------------

TOKEN = st.sampled_from(["192.0.2.1", "2001:db8::1", "host.example:80", "crawl.example.com", "-", "a\tb", "é", ""])
DAY = st.sampled_from(["01", "09", "28", "29", "30", "31", "00", "32", "1", "0x"])
MONTH = st.sampled_from(["Jan", "Feb", "Apr", "Nov", "Dec", "nov", "Foo", "eb"])
YEAR = st.sampled_from(["2026", "2024", "2100", "2000", "1970", "1582", "0000", "9999", "20x6"])
CLOCK = st.sampled_from(["00:00:00", "23:59:59", "12:30:45", "24:00:00", "12:60:00", "12:00:60", "1:00:00"])
ZONE = st.sampled_from(["+0000", "-0700", "+0530", "+1800", "-1800", "+1801", "+1860", "+2400", "0000", "*0100"])
REQUEST = st.sampled_from(
    [
        "GET / HTTP/1.1",
        "POST /api/v1/items?page=3&page=4&x HTTP/2.0",
        "GET /q?a=1&&b==2&=c&d= HTTP/1.1",
        "GET http://example.com:8080/x?y=1 HTTP/1.0",
        "GET /a%20b/ HTTP/1.1",
        "GET /x",
        "GET  HTTP/1.1",
        " /x HTTP/1.1",
        "GET /x HTTP/1.1 extra",
        "-",
        "",
        'GET /quote?\\"x\\" HTTP/1.1',
        "GET /trailing\\\\ HTTP/1.1",
        "GET /?",
    ]
)
STATUS = st.sampled_from(["200", "304", "599", "100", "099", "600", "20", "2000", "abc", "-"])
BYTES = st.sampled_from(["-", "0", "123", "12kb", "999999999999999999", "9999999999999999999", "+5", "1.5"])
QUOTED = st.sampled_from(
    ["-", "", "https://www.example.com/", 'Mozilla/5.0 \\"x\\"', "Googlebot/2.1", "ends\\\\", "bingpreview", "ü"]
)
TAIL = st.sampled_from(
    [
        "",
        "  ",
        ' "{r}" "{u}"',
        ' "{r}" "{u}" "-"',
        ' "{r}" "{u}" 0.003 "up=10.0.0.1:80"',
        ' "{r}" "{u}" ""',
        ' "{r}" "{u}"   ',
        ' "{r}" "{u}"  x',
        ' "{r}" "{u}" x"y',
        ' "{r}" "{u}" "open',
        ' "{r}" "{u}""x"',
        ' "{r}"',
        ' "{r}" "{u}',
        ' "{r}" "{u}"\t',
        " x",
    ]
)


@st.composite
def odd_line(draw) -> str:
    client, ident, user = draw(TOKEN), draw(st.sampled_from(["-", "x"])), draw(TOKEN)
    vhost = draw(st.sampled_from(["", "", "", "www.example.com:443 "]))
    stamp = f"[{draw(DAY)}/{draw(MONTH)}/{draw(YEAR)}:{draw(CLOCK)} {draw(ZONE)}]"
    tail = draw(TAIL).format(r=draw(QUOTED), u=draw(QUOTED))
    return f'{vhost}{client} {ident} {user} {stamp} "{draw(REQUEST)}" {draw(STATUS)} {draw(BYTES)}{tail}'


# no shrinking: each example is two Spark jobs, and the failure message names the first differing line
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.generate])
@given(st.lists(odd_line(), min_size=150, max_size=300))
def test_lines_from_odd_parts_agree(spark, lines):
    assert_same_as_regex(spark, lines)
    assert_time_decides_as_parser(spark, lines)


# --- random mutations of valid lines -------------------------------------------------------

MUTATION_ALPHABET = ' "\\[]:/-+?&=.\t0123456789aZé\x01'


def mutate(line: str, rng: random.Random) -> str:
    """The line with one to three characters replaced, inserted or deleted."""
    chars = list(line)
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(chars) + 1)
        kind = rng.random()
        if kind < 0.4 and at < len(chars):
            chars[at] = rng.choice(MUTATION_ALPHABET)
        elif kind < 0.7:
            chars.insert(at, rng.choice(MUTATION_ALPHABET))
        elif at < len(chars):
            del chars[at]
    return "".join(chars)


def test_mutated_lines_agree(spark):
    rng = random.Random(20261123)
    agents = user_agents()
    base = [
        *generated_lines(200, seed=3),
        f'203.0.113.9 - - [29/Feb/2024:23:59:59 -1130] "GET /p?a=1 HTTP/1.1" 200 7 "-" "{logged(rng.choice(agents))}"'
        ' "-" 0.1',
        '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326',
    ]
    lines = [mutate(rng.choice(base), rng) for _ in range(6000)]
    assert_same_as_regex(spark, lines)
    assert_time_decides_as_parser(spark, lines)
    assert taken_by_compiled(spark, lines) > 1000  # many mutations keep the line valid and typed


def utc_micros(*parts) -> int:
    """Epoch microseconds of a UTC (year, month, day, hour, minute, second)."""
    return calendar.timegm((*parts, 0, 0, 0)) * 1_000_000


MOZ_X11 = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
# the fixture's first 8 lines as the compiled parser must type them, written by hand from the lines:
# client, user, method, url, path, query, protocol, status, bytes, referrer, user_agent, is_bot, extra, UTC time
FIXTURE_EXPECTED = [
    ("127.0.0.1", "frank", "GET", "/apache_pb.gif", "/apache_pb.gif", None, "HTTP/1.0", 200, 2326,
     "http://www.example.com/start.html", "Mozilla/4.08 [en] (Win98; I ;Nav)", False, None,
     utc_micros(2000, 10, 10, 20, 55, 36)),
    ("127.0.0.1", "frank", "GET", "/apache_pb.gif", "/apache_pb.gif", None, "HTTP/1.0", 200, 2326, None, None, False,
     None, utc_micros(2000, 10, 10, 20, 55, 36)),
    ("192.0.2.10", None, "GET", "/search?q=shoes&page=2&q=boots", "/search", {"q": "shoes", "page": "2"}, "HTTP/1.1",
     200, 5316, "https://www.example.org/", MOZ_X11, False, None, utc_micros(2026, 11, 20, 6, 25, 24)),
    ("crawl-66-249-66-1.googlebot.com", None, "GET", "/robots.txt", "/robots.txt", None, "HTTP/1.1", 304, None, None,
     GOOGLEBOT, True, None, utc_micros(2026, 11, 20, 6, 0, 1)),
    ("203.0.113.7", None, "POST", "/api/v1/cart", "/api/v1/cart", None, "HTTP/2.0", 201, 87,
     "https://shop.example.com/cart", IPHONE, False, ["198.51.100.4, 10.0.0.1"], utc_micros(2026, 11, 21, 4, 59, 59)),
    ("2001:db8::1", "alice", "GET", "/a%20b/index.html", "/a%20b/index.html", None, "HTTP/1.1", 404, 153, None,
     "curl/8.4.0", False, ["-", "0.003", "upstream=10.1.2.3:8080"], utc_micros(2026, 11, 20, 6, 30, 0)),
    ("198.51.100.23", None, None, None, None, None, None, 400, 0, None, None, False, None,
     utc_micros(2026, 11, 20, 12, 0, 1)),
    ("198.51.100.24", None, "GET", '/quote?\\"x\\"', "/quote", {'\\"x\\"': ""}, "HTTP/1.1", 200, 12, None,
     'Mozilla/5.0 \\"quoted\\" agent', False, None, utc_micros(2026, 11, 20, 12, 0, 2)),
]  # fmt: skip


def test_the_compiled_parser_types_real_lines_as_written_by_hand(spark):
    """Fixed values, not a comparison with the regex path (one bug in both would pass that)."""
    from pyspark.sql import functions as F

    with open(FIXTURE_ACCESS, encoding="utf-8") as handle:
        fixture = handle.read().splitlines()[:8]
    fields = [name for name, _ in il.ACCESS_PARSER_FIELDS]
    rows = lines_frame(spark, fixture).select("source_file", il.compiled_parse(spark, F.col("line")).alias("c"))
    got = {int(r.source_file): r.c for r in rows.collect()}
    for i, expected in enumerate(FIXTURE_EXPECTED):
        assert got[i] is not None, fixture[i]
        assert tuple(got[i][name] for name in fields) == expected, fixture[i]

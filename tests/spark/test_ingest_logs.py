"""ingest_logs on real formats: the pure parse, whole runs in-process (local and S3), re-runs, the gate."""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil

import pytest
from chispa import assert_df_equality

from core.errors import UsageError
from core.quality import MAX_RAW_BYTES
from jobs import ingest_logs as il
from tests.datasets import package_file
from tests.helpers import run_in_process

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "logs")
FIXTURE_ACCESS = os.path.join(DATA, "access_combined.log")
FIXTURE_EVENTS = os.path.join(DATA, "events.jsonl")
# reasons of the hand-written fixtures (see the comments in the files' lines)
ACCESS_REASONS = {"unparseable": 3, "bad_status": 1, "bad_timestamp": 2, "bad_bytes": 1, "empty_line": 1}
EVENT_REASONS = {"bad_timestamp": 1, "unparseable_json": 2}


def apachelogs_vhost() -> str:
    """Real vhost_combined lines from the apachelogs package's test data (6 valid, 1 'Bad line')."""
    return package_file("apachelogs", "0.6.1", "test/data/vhost_combined.log", sdist=True)


def user_agents() -> list:
    """Real browser user agents from fake-useragent's browsers.jsonl."""
    path = package_file("fake-useragent", "2.2.0", "fake_useragent/data/browsers.jsonl")
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line)["useragent"] for line in handle if line.strip()]


def logged(text: str) -> str:
    """A value as Apache writes it between quotes: backslashes and quotes escaped."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def generated_lines(n: int, day: str = "20/Nov/2026", seed: int = 7) -> list:
    """Combined-format lines with realistic user agents, paths, statuses and sizes."""
    rng = random.Random(seed)
    agents = user_agents()
    paths = ["/", "/index.html", "/products/42?color=red&size=m", "/api/v1/items?page=3", "/static/app.js", "/login"]
    out = []
    for i in range(n):
        ip = f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        ts = f"{day}:{i % 24:02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d} +0000"
        status = rng.choice([200, 200, 200, 304, 404, 500])
        size = "-" if status == 304 else str(rng.randint(100, 90_000))
        out.append(
            f'{ip} - - [{ts}] "{rng.choice(["GET", "POST"])} {rng.choice(paths)} HTTP/1.1" {status} {size} '
            f'"https://www.example.com/" "{logged(rng.choice(agents))}"'
        )
    return out


def build_input(root: str, generated: int = 200) -> dict:
    """A raw prefix with every kind of file; returns the expected counts."""
    day = os.path.join(root, "dt=2026-11-20")
    os.makedirs(day)
    os.makedirs(os.path.join(root, "events"))
    with open(FIXTURE_ACCESS, "rb") as handle:
        fixture = handle.read()
    too_long = b'192.0.2.1 - - [20/Nov/2026:01:00:00 +0000] "GET /' + b"a" * (MAX_RAW_BYTES + 10) + b' HTTP/1.1" 200 1'
    junk = b"\x00\xff\xfe\x80binary junk \xc3\x28\n"
    bad_utf8_ua = b'192.0.2.2 - - [20/Nov/2026:01:00:01 +0000] "GET / HTTP/1.1" 200 5 "-" "Mozilla/5.0 \xff\xfe"\n'
    with open(os.path.join(day, "access 1.log"), "wb") as handle:
        handle.write(fixture)
        handle.write(("\n".join(generated_lines(generated)) + "\n").encode())
        handle.write(too_long + b"\n" + junk + bad_utf8_ua)
    with open(apachelogs_vhost(), "rb") as src, gzip.open(os.path.join(day, "vhost.log.gz"), "wb") as dst:
        shutil.copyfileobj(src, dst)
    shutil.copy(FIXTURE_EVENTS, os.path.join(root, "events", "part-0.jsonl"))
    open(os.path.join(root, "empty.log"), "w").close()
    reasons = dict(ACCESS_REASONS)
    reasons["unparseable"] += 2  # apachelogs' "Bad line" and the binary junk
    reasons["too_long"] = 1
    for reason, count in EVENT_REASONS.items():
        reasons[reason] = reasons.get(reason, 0) + count
    lines = 16 + generated + 3 + 7 + 6
    rejected = sum(reasons.values())
    return {"lines": lines, "rejected": rejected, "rows": lines - rejected, "reasons": dict(sorted(reasons.items()))}


def table(spark, lake, source="web"):
    return spark.read.format("delta").load(lake.table(f"logs_{source}"))


def args_for(input_uri: str, lake, *extra: str) -> list:
    return ["--source", "web", "--input", input_uri, "--lake", lake.root, "--run-date", "2026-11-21", *extra]


# --- the pure parse -----------------------------------------------------------------------


def parse_file(spark, path: str, is_json: bool):
    from pyspark.sql import functions as F

    lines = spark.read.text(path).select(
        F.col("value").alias("line"), F.lit(path).alias("source_file"), F.lit(is_json).alias("is_json")
    )
    return il.parse_lines(lines)


def test_access_fixture_parses_real_world_variants(spark):
    rows = parse_file(spark, FIXTURE_ACCESS, False).collect()
    assert len(rows) == 16
    good = [r for r in rows if r.reason is None]
    assert len(good) == 8
    by_client = {r.client: r for r in good}
    apache = good[0]
    assert (apache.user, apache.method, apache.path, apache.protocol, apache.status, apache.bytes) == (
        "frank",
        "GET",
        "/apache_pb.gif",
        "HTTP/1.0",
        200,
        2326,
    )
    assert apache.event_ts.isoformat() == "2000-10-10T20:55:36"  # -0700 turned into UTC
    assert apache.referrer == "http://www.example.com/start.html"
    assert good[1].referrer is None and good[1].user_agent is None  # common format
    assert by_client["192.0.2.10"].query == {"q": "shoes", "page": "2"}  # repeated key keeps the first
    bot = by_client["crawl-66-249-66-1.googlebot.com"]  # a host name, not an IP
    assert bot.bytes is None and bot.status == 304 and bot.is_bot is True
    assert bot.event_ts.isoformat() == "2026-11-20T06:00:01"
    assert by_client["203.0.113.7"].extra == ["198.51.100.4, 10.0.0.1"]  # Nginx x-forwarded-for
    assert str(by_client["203.0.113.7"].event_date) == "2026-11-21"  # 23:59:59 -0500 is the next UTC day
    ipv6 = by_client["2001:db8::1"]
    assert ipv6.extra == ["-", "0.003", "upstream=10.1.2.3:8080"] and ipv6.is_bot is False
    assert ipv6.event_ts.isoformat() == "2026-11-20T06:30:00"  # +0530
    dash = by_client["198.51.100.23"]
    assert dash.status == 400 and dash.method is None and dash.url is None
    reasons = {}
    for r in rows:
        if r.reason:
            reasons[r.reason] = reasons.get(r.reason, 0) + 1
            assert r.raw is not None
    assert reasons == ACCESS_REASONS


def test_json_events_with_the_default_segment_mapping(spark):
    rows = parse_file(spark, FIXTURE_EVENTS, True).collect()
    good = {r.event: r for r in rows if r.reason is None}
    assert set(good) == {"Order Completed", "page", "identify"}
    order = good["Order Completed"]
    assert (order.user_id, order.anonymous_id, order.client) == ("u-1", "a-1", "192.0.2.44")
    assert order.properties == {"order_id": "o-9", "total": "27.5", "items": "[1,2]"}
    assert order.event_ts.isoformat() == "2026-11-20T10:00:00.123000"
    page = good["page"]
    assert page.event_ts.isoformat() == "2026-11-20T21:30:00"
    assert page.path == "/" and page.query == {"utm_source": "mail", "utm_medium": "email"}
    assert page.referrer == "https://mail.example.com/"
    assert good["identify"].event_ts.isoformat() == "2026-11-27T12:00:00"  # epoch seconds
    reasons = {}
    for r in rows:
        if r.reason:
            reasons[r.reason] = reasons.get(r.reason, 0) + 1
    assert reasons == EVENT_REASONS


def test_custom_json_mapping(spark):
    from pyspark.sql import functions as F

    mapping = il.parse_json_mapping("event_ts=time,client=remote_addr,status=status,bytes=body_bytes_sent,url=uri")
    line = (
        '{"time":"2026-11-20T01:02:03+00:00","remote_addr":"10.0.0.1","status":"503",'
        '"body_bytes_sent":7,"uri":"/x?a=1"}'
    )
    lines = spark.createDataFrame([(line,), ('{"time":"2026-11-20T01:02:03Z","status":"7"}',)], "line string")
    out = il.parse_lines(lines.select("line", F.lit("f").alias("source_file"), F.lit(True).alias("is_json")), mapping)
    first, second = out.collect()
    assert (first.client, first.status, first.bytes, first.path, first.query) == ("10.0.0.1", 503, 7, "/x", {"a": "1"})
    assert first.reason is None and second.reason == "bad_status"


def test_json_mapping_errors_name_the_flag():
    with pytest.raises(UsageError, match="--json-mapping"):
        il.parse_json_mapping("nope=x")
    with pytest.raises(UsageError, match="--json-mapping"):
        il.parse_json_mapping("event_ts=a b")
    assert il.parse_json_mapping("user_id=user.id")["user_id"] == ["user.id"]


def test_real_browser_user_agents_are_not_bots(spark):
    from pyspark.sql import functions as F

    agents = spark.createDataFrame([(ua,) for ua in user_agents()], "ua string")
    flagged = agents.filter(F.col("ua").rlike(il.BOT_PATTERN)).count()
    assert agents.count() > 6000 and flagged == 0


def test_sniff_format():
    assert il.sniff_format(["", '  {"a": 1}']) == "json"
    assert il.sniff_format(['127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1']) == "access"
    assert il.sniff_format([]) == "access"


# --- whole runs ----------------------------------------------------------------------------


def comparable(df):
    """A table's rows without run_id, maps as sorted entries: orderable, for chispa's assert_df_equality."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import MapType

    maps = {f.name for f in df.schema.fields if isinstance(f.dataType, MapType)}
    return df.select(*(F.array_sort(F.map_entries(c)).alias(c) if c in maps else F.col(c) for c in df.columns)).drop(
        "run_id"
    )


def table_at(spark, lake, version: int):
    return spark.read.format("delta").option("versionAsOf", version).load(lake.table("logs_web"))


@pytest.fixture(scope="module")
def runs(spark, tmp_path_factory):
    """One lake, four runs: every kind of file; the same input again; a new file; --reprocess.
    name -> (summary, the table's Delta version after the run); plus the lake, the input and its counts."""
    from delta.tables import DeltaTable

    from core.lake import Lake

    base = tmp_path_factory.mktemp("runs")
    raw = str(base / "raw")
    expected = build_input(raw)
    lake = Lake.at(str(base / "lake"))
    out = {"lake": lake, "raw": raw, "expected": expected}

    def step(name, *extra):
        code, summary = run_in_process(spark, "ingest_logs", args_for(raw, lake, *extra))
        assert code == 0, summary["message"]
        out[name] = (summary, DeltaTable.forPath(spark, lake.table("logs_web")).history(1).first().version)
        if name == "first":
            out["quarantine_first"] = spark.read.format("delta").load(lake.quarantine("ingest_logs")).collect()

    step("first")
    step("again")
    with open(os.path.join(raw, "dt=2026-11-20", "access 2.log"), "w") as handle:
        handle.write("\n".join(generated_lines(30, seed=99)) + "\n")
    step("new_file")
    step("reprocess", "--reprocess")
    out["quarantine_last"] = spark.read.format("delta").load(lake.quarantine("ingest_logs")).count()
    return out


def test_every_line_is_a_row_or_a_reject_with_its_reason(runs):
    summary, _ = runs["first"]
    expected, counts = runs["expected"], summary["counts"]
    assert summary["rows_in"] == expected["lines"] == counts["lines_read"]
    assert summary["rows_out"] == expected["rows"] == counts["rows_written"]
    assert summary["rows_rejected"] == expected["rejected"]
    assert summary["rows_in"] == summary["rows_out"] + summary["rows_rejected"]
    assert counts["rejected"] == expected["reasons"]
    assert (counts["files_taken"], counts["files_skipped"]) == (4, 0)
    assert counts["files_by_format"] == {"access": 2, "json": 1}  # the zero-byte empty.log is not sniffed
    assert (counts["files_empty"], counts["files_ignored"]) == (1, 0)
    assert counts["lines_invalid_utf8"] == 2  # the binary junk and one user agent


def test_the_compiled_parser_takes_the_ordinary_lines(runs):
    by_parser = runs["first"][0]["counts"]["lines_by_parser"]
    assert by_parser["json"] == 6 and by_parser["compiled"] >= runs["expected"]["lines"] - 30  # the generated lines
    assert by_parser["regex"] >= 7 + 6  # the fixture's odd lines and apachelogs' vhost lines


def test_event_dates_and_times_are_summarized(spark, runs):
    summary, version = runs["first"]
    counts = summary["counts"]
    assert counts["event_time_min"] == "2000-10-10T20:55:36Z"
    assert "2026-11-20" in counts["event_dates"] and "2019-05-06" in counts["event_dates"]
    first = table_at(spark, runs["lake"], version)
    assert first.count() == runs["expected"]["rows"]
    dates = {r.event_date.isoformat() for r in first.select("event_date").distinct().collect()}
    assert dates == set(counts["event_dates"])


def test_source_file_is_the_files_literal_uri(spark, runs):
    first = table_at(spark, runs["lake"], runs["first"][1])
    sources = {r.source_file for r in first.select("source_file").distinct().collect()}
    assert "file://" + os.path.join(runs["raw"], "dt=2026-11-20", "access 1.log") in sources, sources
    assert all(s.startswith("file:///") for s in sources)


def test_invalid_utf8_in_a_taken_line_becomes_u_fffd(spark, runs):
    odd = table_at(spark, runs["lake"], runs["first"][1]).filter("client = '192.0.2.2'").first()
    assert odd is not None and odd.user_agent == "Mozilla/5.0 \ufffd\ufffd"


def test_the_quarantine_keeps_every_reject_cut_to_100_kb(runs):
    quarantine = runs["quarantine_first"]
    assert len(quarantine) == runs["expected"]["rejected"]
    longest = next(r for r in quarantine if r.reason == "too_long")
    assert len(longest.raw.encode()) == MAX_RAW_BYTES and len(longest.raw_bytes) == MAX_RAW_BYTES
    assert {r.job for r in quarantine} == {"ingest_logs"}


def test_the_same_input_again_takes_nothing_and_changes_nothing(runs):
    again, version = runs["again"]
    assert again["counts"]["files_taken"] == 0 and again["counts"]["files_skipped"] == 4
    assert again["rows_in"] == again["rows_out"] + again["rows_rejected"] == 0
    assert version == runs["first"][1]


def test_a_new_file_adds_its_rows_and_earlier_rows_stay(spark, runs):
    third, version = runs["new_file"]
    assert third["counts"]["files_taken"] == 1 and third["counts"]["files_skipped"] == 4
    assert third["rows_in"] == third["rows_out"] == 30
    assert third["counts"]["lines_by_parser"] == {"compiled": 30}  # the table's pass ran without the regex
    after = table_at(spark, runs["lake"], version)
    assert after.count() == runs["expected"]["rows"] + 30
    earlier = after.filter("source_file NOT LIKE '%access 2.log'")
    assert_df_equality(
        comparable(earlier), comparable(table_at(spark, runs["lake"], runs["first"][1])), ignore_row_order=True
    )


def test_reprocess_rebuilds_the_same_table_row_for_row(spark, runs):
    redo, version = runs["reprocess"]
    assert redo["counts"]["files_taken"] == 5
    assert redo["rows_in"] == redo["rows_out"] + redo["rows_rejected"]
    assert_df_equality(
        comparable(table_at(spark, runs["lake"], version)),
        comparable(table_at(spark, runs["lake"], runs["new_file"][1])),
        ignore_row_order=True,
    )
    assert runs["quarantine_last"] == runs["expected"]["rejected"]


def test_reject_gate_publishes_nothing(spark, lake, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(FIXTURE_ACCESS, raw / "a.log")  # half of its lines are broken
    code, summary = run_in_process(spark, "ingest_logs", args_for(str(raw), lake))
    assert code == 3
    assert summary["status"] == "gate_tripped"
    assert summary["rows_in"] == 16 and summary["rows_rejected"] == 8
    assert "unparseable: 3" in summary["message"] and "0.1" in summary["message"]
    assert not os.path.exists(lake.table("logs_web")[len("file://") :])
    assert not os.path.exists(lake.state("ingest_logs", "web")[len("file://") :])
    # the quarantine is diagnostic: it holds the rejects that tripped the gate, and the message says where
    assert lake.quarantine("ingest_logs") in summary["message"]
    quarantine = spark.read.format("delta").load(lake.quarantine("ingest_logs"))
    assert quarantine.count() == 8 and {r.run_id for r in quarantine.select("run_id").collect()} == {summary["run_id"]}
    code, summary = run_in_process(spark, "ingest_logs", args_for(str(raw), lake, "--max-reject-fraction", "0.6"))
    assert code == 0 and summary["rows_out"] == 8 and summary["rows_rejected"] == 8
    assert spark.read.format("delta").load(lake.quarantine("ingest_logs")).count() == 8  # replaced by file


def test_a_file_with_more_dates_than_open_writers_lands_whole(spark, lake, tmp_path):
    """The table's write keeps a writer per date up to DATE_WRITERS_PER_TASK and sorts the rest."""
    days = [f"{day:02d}/Nov/2026" for day in range(1, il.DATE_WRITERS_PER_TASK + 5)]
    raw = tmp_path / "raw"
    raw.mkdir()
    lines = [line for i, day in enumerate(days) for line in generated_lines(30 + i, day=day, seed=i)]
    random.Random(3).shuffle(lines)  # dates interleaved, as in a file that spans a backfill
    (raw / "a.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, summary = run_in_process(spark, "ingest_logs", args_for(str(raw), lake))
    assert code == 0 and summary["rows_out"] == len(lines)
    per_date = {str(r["event_date"]): r["count"] for r in table(spark, lake).groupBy("event_date").count().collect()}
    assert per_date == {f"2026-11-{i + 1:02d}": 30 + i for i in range(len(days))}


def test_truncated_gzip_is_a_clear_error_naming_the_file(spark, lake, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    data = ("\n".join(generated_lines(3000)) + "\n").encode()
    packed = gzip.compress(data)
    (raw / "ok.log.gz").write_bytes(packed)
    (raw / "cut.log.gz").write_bytes(packed[: len(packed) // 2])
    code, summary = run_in_process(spark, "ingest_logs", args_for(str(raw), lake))
    assert code == 1
    assert "cut.log.gz" in summary["message"] and "ok.log.gz" not in summary["message"]
    assert "truncated or corrupt" in summary["message"]
    assert not os.path.exists(lake.table("logs_web")[len("file://") :])


def test_s3_input_and_lake(spark, s3_bucket, s3_client, tmp_path):
    from core.lake import Lake

    bucket = s3_bucket[len("s3://") :]
    lines = generated_lines(50)
    s3_client.put_object(Bucket=bucket, Key="raw/web/dt=2026-11-20/a.log", Body="\n".join(lines[:30]) + "\n")
    s3_client.put_object(
        Bucket=bucket, Key="raw/web/dt=2026-11-20/b.log.gz", Body=gzip.compress(("\n".join(lines[30:]) + "\n").encode())
    )
    s3_client.put_object(Bucket=bucket, Key="raw/web/events.jsonl", Body=open(FIXTURE_EVENTS, "rb").read())
    lake = Lake.at(f"{s3_bucket}/lake")
    argv = ["--source", "web", "--input", f"{s3_bucket}/raw/web", "--lake", lake.root, "--run-date", "2026-11-21"]
    code, summary = run_in_process(spark, "ingest_logs", argv)
    assert code == 0, summary["message"]
    assert summary["rows_in"] == 56 and summary["rows_out"] == 53 and summary["rows_rejected"] == 3
    assert summary["counts"]["lines_by_parser"] == {"compiled": 50, "json": 6}
    df = spark.read.format("delta").load("s3a://" + bucket + "/lake/tables/logs_web")
    assert df.count() == 53
    assert {r.source_file for r in df.select("source_file").distinct().collect()} == {
        f"{s3_bucket}/raw/web/dt=2026-11-20/a.log",
        f"{s3_bucket}/raw/web/dt=2026-11-20/b.log.gz",
        f"{s3_bucket}/raw/web/events.jsonl",
    }
    ledger = json.loads(
        s3_client.get_object(Bucket=bucket, Key="lake/_state/ingest_logs/web/ledger.json")["Body"].read()
    )
    assert sorted(ledger["files"]) == sorted(
        f"{s3_bucket}/raw/web/{k}" for k in ["dt=2026-11-20/a.log", "dt=2026-11-20/b.log.gz", "events.jsonl"]
    )
    code, again = run_in_process(spark, "ingest_logs", argv)
    assert code == 0 and again["counts"]["files_taken"] == 0 and again["counts"]["files_skipped"] == 3

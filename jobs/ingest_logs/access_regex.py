"""The regex path for access lines: the pattern that owns the rules, event times, bot and query helpers.

Every access line the compiled parser declines is matched by ONE evaluation of ACCESS_PATTERN
(`regexp_replace` into a SEP-joined string, then `split`); the groups become columns in parse.py.
"""

from __future__ import annotations

from pyspark.sql import functions as F

SEP = "\x01"  # joins the regex groups; a line holding it is never taken as parsed

# Access logs: [vhost:port] client ident user [dd/Mon/yyyy:HH:mm:ss +zzzz] "request" status bytes
# then optionally "referrer" "user-agent" and any further quoted or bare fields (Nginx adds e.g.
# "$http_x_forwarded_for"). Groups: 1 vhost, 2 client, 3 user, 4 day, 5 month, 6 year, 7 hour,
# 8 minute, 9 second, 10 offset sign, 11 offset hours, 12 offset minutes, 13 request, 14 status,
# 15 bytes, 16 referrer, 17 user agent, 18 trailing fields.
QUOTED = r'"((?:[^"\\]++|\\.)*+)"'
ACCESS_PATTERN = (
    r"^(?:(\S+:\d+) )?(\S++) \S++ (\S++) "
    r"\[(\d{2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\] "
    + QUOTED
    + r" (\S++) (\S++)"
    + r"(?: "
    + QUOTED
    + " "
    + QUOTED
    + r'((?: (?:"(?:[^"\\]++|\\.)*+"|[^\s"]++))*+))?\s*$'
)
ACCESS_GROUPS = 18
ACCESS_REPLACEMENT = "".join(SEP + f"${i}" for i in range(1, ACCESS_GROUPS + 1))
# the trailing fields (group 18: each one preceded by one space) re-joined with SEP, quotes dropped
TRAILING_FIELD = r' (?:"((?:[^"\\]|\\.)*)"|([^\s"]+))'
TRAILING_REPLACEMENT = SEP + "$1$2"
# a query string's non-empty `&`-separated pairs: the key (up to the first `=`) and the value (after it)
QUERY_KEY = r"(?:^|&)(?=[^&])([^&=]*)"
QUERY_VALUE = r"(?:^|&)(?=[^&])[^&=]*=?([^&]*)"
ABSOLUTE_URL_HEAD = r"^[A-Za-z][A-Za-z0-9+.-]*://[^/]*"
MONTHS = "JanFebMarAprMayJunJulAugSepOctNovDec"
BOT_PATTERN = (
    r"(?i)bot\b|bot/|crawl|spider|slurp|facebookexternalhit|ia_archiver|mediapartners-google|"
    r"feedfetcher|bingpreview|yandex(?:images|metrika)|archive\.org|petalsearch"
)

# every token of BOT_PATTERN contains one of these (lower case)
BOT_HINTS = ("bot", "crawl", "spider", "slurp", "facebookexternalhit", "ia_archiver", "mediapartners", "feedfetcher")
BOT_HINTS += ("bingpreview", "yandex", "archive.org", "petalsearch")


def access_event_micros(a):
    """The UTC event time of an access line's groups in microseconds since the epoch (null when impossible).

    The local time is cast without its offset (so Spark does not parse a zone id per row) and the
    offset is applied as arithmetic on the microseconds; offsets beyond +-18:00 are impossible.
    """
    month_at = F.expr(f"instr('{MONTHS}', _a[5])")  # the access groups are the column `_a`
    month = F.when(month_at % 3 == 1, ((month_at + 2) / 3).cast("int").cast("string"))
    local = F.concat_ws(
        "", a[6], F.lit("-"), month, F.lit("-"), a[4], F.lit(" "), a[7], F.lit(":"), a[8], F.lit(":"), a[9]
    )
    offset_minutes = a[11].cast("int") * 60 + a[12].cast("int")  # digits only: the casts cannot fail
    east = F.when(a[10] == "-", -offset_minutes).otherwise(offset_minutes)
    possible = (a[12].cast("int") <= 59) & (offset_minutes <= 18 * 60)
    return F.when(possible, F.unix_micros(local.cast("timestamp")) - east.cast("long") * 60_000_000)


def is_bot(user_agent):
    """True for known crawler tokens; a cheap substring pre-check keeps the regex off ordinary browsers."""
    lowered = F.lower(user_agent)
    maybe = lowered.contains(BOT_HINTS[0])
    for hint in BOT_HINTS[1:]:
        maybe = maybe | lowered.contains(hint)
    return F.when(maybe, user_agent.rlike(BOT_PATTERN)).otherwise(F.lit(False))


def query_map(qs_col: str):
    """`a=1&b=2` -> {a: 1, b: 2}: values as logged (not percent-decoded); a repeated key keeps its first value.

    Built from two regexp_extract_all (compiled code); the higher-order function (interpreted) runs
    only for the rare query string that repeats a key. Keep it: not being compilable, it also keeps this
    projection out of the parse's generated stage, whose methods fused with it grow too big for the JIT
    (measured: bench/RESULTS.md, ingest_logs).
    """
    keys = f"regexp_extract_all({qs_col}, '{QUERY_KEY}', 1)"
    values = f"regexp_extract_all({qs_col}, '{QUERY_VALUE}', 1)"
    return F.expr(
        f"""CASE WHEN {qs_col} IS NULL THEN NULL
        WHEN size(array_distinct({keys})) = size({keys}) THEN map_from_arrays({keys}, {values})
        ELSE map_from_arrays(array_distinct({keys}),
             transform(array_distinct({keys}), k -> element_at({values}, cast(array_position({keys}, k) as int))))
        END"""
    )

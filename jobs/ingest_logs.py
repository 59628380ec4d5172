"""ingest_logs: raw web/app logs under a prefix into the typed Delta table `tables/logs_<source>`.

Every file under `--input` (nested folders, plain or gzip) is one of: Apache/Nginx access logs
(common, combined, vhost_combined, with real-world variants) or JSON lines (one event per line,
mapped to columns by `--json-mapping`). Each line becomes a row of the table or a row of the
quarantine, never neither.

How it runs (I/O at the edges, the parsing is `parse_lines`, a pure DataFrame transform):
1. list the input files; the ledger (`_state/ingest_logs/<source>/ledger.json`) says which
   (uri, size, mtime) were already taken; only new or changed files are read;
2. `auto` sniffs each file's first lines (JSON object or access log);
3. the parse (`parse_lines`): access lines through lakeml's compiled parser
   (jvm/lakeml/AccessLineParser.java, a static call in Spark's generated code, working on the
   line's bytes), which types the lines it can fully validate; every other
   access line through ONE regex evaluation (`regexp_replace` into a separator-joined string, then
   `split`), which owns the rules and the reject reasons; JSON lines with one `from_json`;
4. a counting pass (`line_stats`: lines, rows and rejects by file, date, reason and parser) and
   the reject gate (exit 3, nothing published). It asks the compiled parser only for event times
   (the same decision, without building the columns) and runs `parse_lines` only over the lines
   the compiled parser does not take, if any;
5. publish: Delta `replaceWhere source_file IN (taken files)` on the table and on the
   quarantine, so re-taking a file replaces exactly its rows (a run killed between a commit and
   the ledger write is repaired by the re-run); then the ledger. The table's commit parses the
   files again rather than caching the first pass: with the compiled parser a second parse is
   cheaper than building a cache, and memory stays flat. When the compiled parser took every
   line (the usual night), that parse is `compiled_rows`, a much smaller plan than `parse_lines`.
   The quarantine's commit parses the lines it did not take once more, only when there are rejects.
The table keeps Delta's data-skipping statistics only on event_ts, status, client and path (table
property `delta.dataSkippingStatsColumns`, set when the table is created): the columns logs are
filtered by; statistics on all 22 columns cost about a third of the write.
`--reprocess` re-reads every file under `--input` (ledger or not) plus every ledger file sharing
an event date with them, and replaces those dates whole.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence, Tuple

from jobs.common.errors import LakemlError, UsageError
from jobs.common.files import list_tree, read_paths, source_file_col
from jobs.common.lake import FileInfo, hadoop_path, list_files, normalize_uri, spark_uri
from jobs.common.ledger import FilePlan, identity, ledger_uri, plan_files, read_ledger, write_ledger
from jobs.common.log import logger, stage
from jobs.common.quality import (
    MAX_RAW_BYTES,
    RejectPolicy,
    check_reject_gate,
    publish_quarantine,
    sql_list,
    to_quarantine,
)
from jobs.common.session import session_confs
from jobs.common.summary import RunSummary

HELP = "access logs and JSON event lines into the Delta table logs_<source>"
JOB = "ingest_logs"
FORMATS = ("auto", "combined", "common", "json")
DEFAULT_MAX_REJECT_FRACTION = 0.1
SNIFF_LINES = 5
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

# lakeml's compiled access-line parser (jvm/lakeml/AccessLineParser.java) returns these columns
ACCESS_PARSER_CLASS = "lakeml.AccessLineParser"
ACCESS_PARSER_FIELDS = (
    ("client", "string"),
    ("user", "string"),
    ("method", "string"),
    ("url", "string"),
    ("path", "string"),
    ("query", "map<string,string>"),
    ("protocol", "string"),
    ("status", "int"),
    ("bytes", "bigint"),
    ("referrer", "string"),
    ("user_agent", "string"),
    ("is_bot", "boolean"),
    ("extra", "array<string>"),
    ("event_micros", "bigint"),
)
ACCESS_PARSER_SCHEMA = "struct<" + ",".join(f"{name}:{kind}" for name, kind in ACCESS_PARSER_FIELDS) + ">"

NOT_COMPILED_ERROR = (
    "ingest_logs: an access line the compiled parser does not take turned up after the counting pass "
    "(did an input file change during the run?); nothing was published, run the job again"
)

# every token of BOT_PATTERN contains one of these (lower case)
BOT_HINTS = ("bot", "crawl", "spider", "slurp", "facebookexternalhit", "ia_archiver", "mediapartners", "feedfetcher")
BOT_HINTS += ("bingpreview", "yandex", "archive.org", "petalsearch")

# JSON lines: target column -> JSON path(s); `a|b` takes the first present. Segment-style defaults.
JSON_TARGETS = {
    "event_ts": "string",
    "event": "string",
    "user_id": "string",
    "anonymous_id": "string",
    "properties": "map",
    "client": "string",
    "user": "string",
    "method": "string",
    "url": "string",
    "referrer": "string",
    "user_agent": "string",
    "status": "string",
    "bytes": "string",
}
DEFAULT_JSON_MAPPING = (
    "event_ts=timestamp,event=event|type,user_id=userId,anonymous_id=anonymousId,properties=properties,"
    "client=context.ip,user_agent=context.userAgent,url=context.page.url|properties.url,"
    "referrer=context.page.referrer|properties.referrer"
)
JSON_PATH = re.compile(r"^[A-Za-z0-9_$@-]+(\.[A-Za-z0-9_$@-]+)*$")

TABLE_COLUMNS = (
    "event_ts",
    "event_date",
    "client",
    "user",
    "method",
    "url",
    "path",
    "query",
    "protocol",
    "status",
    "bytes",
    "referrer",
    "user_agent",
    "is_bot",
    "extra",
    "vhost",
    "event",
    "user_id",
    "anonymous_id",
    "properties",
    "source_file",
    "run_id",
)
# Delta keeps per-file min/max/null statistics only for the columns people filter logs by (it would
# otherwise compute them for the first 32 columns, a third of the write's cost here); set when the
# table is created.
STATS_COLUMNS = "event_ts,status,client,path"
# The table's write keeps one Parquet writer open per event date in each task, up to this many, instead
# of sorting the rows by date first (Spark sorts whatever dates a task meets beyond them). A night's
# files hold a few dates; the first large write of a JVM is ~12% faster without the sort's code to warm.
DATE_WRITERS_PER_TASK = 8
TABLE_WRITE_CONFS = {"spark.sql.maxConcurrentOutputFileWriters": str(DATE_WRITERS_PER_TASK)}
REASONS = (
    "empty_line",
    "too_long",
    "unparseable",
    "unparseable_json",
    "bad_timestamp",
    "bad_status",
    "bad_bytes",
)


# --- command line ----------------------------------------------------------------------


def add_arguments(parser) -> None:
    parser.add_argument("--source", required=True, help="source name; the table is <lake>/tables/logs_<source>")
    parser.add_argument("--input", required=True, help="prefix holding the log files: local path, file:// or s3://")
    parser.add_argument(
        "--format",
        default="auto",
        choices=FORMATS,
        help="log format; auto decides per file from its first lines (a JSON object or an access-log line); "
        "common and combined share one pattern (referrer and user agent optional, vhost:port prefix allowed)",
    )
    parser.add_argument(
        "--json-mapping",
        default=DEFAULT_JSON_MAPPING,
        help="for JSON lines: comma-separated column=json.path[|other.path] pairs; columns: " + ", ".join(JSON_TARGETS),
    )
    parser.add_argument(
        "--max-reject-fraction",
        type=_fraction,
        default=DEFAULT_MAX_REJECT_FRACTION,
        help="fail (exit 3, nothing published) when more than this fraction of lines is rejected "
        "(a lakeml policy); over 10,000 rejects always fails (Amazon ML's rule)",
    )
    parser.add_argument(
        "--reprocess",
        action="store_true",
        help="re-read every file under --input even if the ledger has it, and rebuild the event dates they touch",
    )


def _fraction(value: str) -> float:
    from jobs.common.cli import fraction

    return fraction(value)


def validate(args) -> None:
    """Check the flags without Spark."""
    if not re.match(r"^[a-z][a-z0-9_]*$", args.source or ""):
        raise UsageError(f"--source {args.source!r}: use lower-case letters, digits and _ (it names the table)")
    args.input = normalize_uri(args.input, "--input")
    args.json_mapping_parsed = parse_json_mapping(args.json_mapping)


def parse_json_mapping(text: str) -> Dict[str, List[str]]:
    """`col=a.b|c,col2=d` -> {col: [a.b, c], col2: [d]}; defaults fill columns not named."""
    mapping = _parse_pairs(DEFAULT_JSON_MAPPING)
    if text and text != DEFAULT_JSON_MAPPING:
        mapping.update(_parse_pairs(text))
    if "event_ts" not in mapping:
        raise UsageError("--json-mapping: event_ts must be mapped (every row needs an event time)")
    for target, paths in mapping.items():
        for path in paths:
            head = path.split(".")[0]
            if JSON_TARGETS[target] == "map" and "." in path:
                raise UsageError(f"--json-mapping {target}={path}: a map column takes a top-level JSON object")
            for other, other_paths in mapping.items():
                if JSON_TARGETS[other] != "map" and head in other_paths and path != head:
                    raise UsageError(f"--json-mapping: {other}={head} is a string but {target}={path} reads inside it")
    return mapping


def _parse_pairs(text: str) -> Dict[str, List[str]]:
    pairs: Dict[str, List[str]] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        target, sep, paths = item.partition("=")
        target = target.strip()
        if not sep or target not in JSON_TARGETS:
            raise UsageError(
                f"--json-mapping {item!r}: give column=json.path with a column among {', '.join(JSON_TARGETS)}"
            )
        alternatives = [p.strip() for p in paths.split("|") if p.strip()]
        if not alternatives or not all(JSON_PATH.match(p) for p in alternatives):
            raise UsageError(f"--json-mapping {item!r}: the JSON path must be names joined by dots")
        pairs[target] = alternatives
    return pairs


# --- pure transforms ---------------------------------------------------------------------


def json_schema(mapping: Dict[str, List[str]]):
    """The from_json schema holding every mapped path: nested structs of strings, maps for map columns."""
    from pyspark.sql.types import MapType, StringType, StructField, StructType

    map_heads = {paths[0] for target, paths in mapping.items() if JSON_TARGETS[target] == "map"}
    map_heads |= {p for target, paths in mapping.items() if JSON_TARGETS[target] == "map" for p in paths}
    tree: dict = {}
    for paths in mapping.values():
        for path in paths:
            parts = path.split(".")
            if parts[0] in map_heads:
                tree[parts[0]] = "map"
                continue
            node = tree
            for part in parts[:-1]:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
            node.setdefault(parts[-1], "string")

    def build(node: dict) -> StructType:
        fields = []
        for name, child in sorted(node.items()):
            if child == "map":
                kind = MapType(StringType(), StringType())
            elif child == "string":
                kind = StringType()
            else:
                kind = build(child)
            fields.append(StructField(name, kind))
        return StructType(fields)

    schema = build(tree)
    return schema.add("_corrupt", StringType()), map_heads


def _json_value(js, path: str, map_heads):
    """The column reading one JSON path out of the parsed struct `js`."""
    from pyspark.sql import functions as F

    parts = path.split(".")
    if parts[0] in map_heads and len(parts) > 1:
        return F.try_element_at(js[parts[0]], F.lit(".".join(parts[1:])))
    column = js
    for part in parts:
        column = column[part]
    return column


def access_parser(spark, class_name: str = ACCESS_PARSER_CLASS):
    """lakeml's compiled access-line parser, the JVM class (jvm/lakeml/AccessLineParser.java)."""
    from py4j.java_gateway import JavaClass

    parser = spark.sparkContext._jvm
    for part in class_name.split("."):
        parser = getattr(parser, part)
    if not isinstance(parser, JavaClass):
        raise LakemlError(
            f"class {class_name} is not on the session's classpath: lakeml's JVM jar is missing. "
            "Locally run through ./spark-submit.sh (it compiles jvm/); on EMR the step passes the artifact's "
            "lakeml-jvm.jar with --jars."
        )
    return parser


def compiled_parse(spark, line):
    """The compiled parser's columns of a string column (a struct of ACCESS_PARSER_FIELDS), null for
    every line it leaves to the regex path."""
    from pyspark.sql.column import Column

    return Column(access_parser(spark).columns(line._jc))


def compiled_time(spark, line):
    """The compiled parser's decision on a string column, returning only the event time (microseconds)."""
    from pyspark.sql.column import Column

    return Column(access_parser(spark).eventTime(line._jc))


def parse_lines(lines, json_mapping: Optional[Dict[str, List[str]]] = None, compiled: bool = True, regex: bool = True):
    """Raw lines (`line`, `source_file`, `is_json`) -> every table column plus `reason` (null when
    taken), `raw` and `parsed_by` (compiled, regex or json; null for empty and too long lines).

    Access lines go first through the compiled parser (compiled_parse), which types the lines it can
    fully validate; every other access line is matched by ONE regular expression evaluation, which
    owns the rules and the reject reasons. JSON lines take one from_json. `compiled=False` sends every
    access line through the regex (the reference the compiled parser is tested against);
    `regex=False` leaves the regex out of the plan (a smaller, faster plan, for input known to hold
    no line for it) and fails the query on any access line the compiled parser does not take.
    """
    from pyspark.sql import functions as F

    if not (compiled or regex):
        raise ValueError("parse_lines needs the compiled parser, the regex, or both")

    mapping = json_mapping or parse_json_mapping(DEFAULT_JSON_MAPPING)
    schema, map_heads = json_schema(mapping)
    line, is_json = F.col("line"), F.col("is_json")
    size_ok = F.octet_length(line) <= MAX_RAW_BYTES
    if compiled:
        typed_access = compiled_parse(lines.sparkSession, line)
    else:
        typed_access = F.lit(None).cast(ACCESS_PARSER_SCHEMA)
    # the compiled parse in a projection of its own, so that referring to it twice does not run it twice
    stage0 = lines.select("*", size_ok.alias("_size_ok"), F.when(~is_json & size_ok, typed_access).alias("_c"))
    size_ok, fast = F.col("_size_ok"), F.col("_c").isNotNull()
    stage1 = stage0.select(
        # a line the compiled parser took is never a reject, so its raw text is not needed further on
        F.when(~fast, line).alias("line"),
        "source_file",
        "is_json",
        "_size_ok",
        "_c",
        fast.alias("_fast"),
        (
            F.when(~is_json & size_ok & ~fast, F.split(F.regexp_replace(line, ACCESS_PATTERN, ACCESS_REPLACEMENT), SEP))
            if regex
            else F.lit(None).cast("array<string>")
        ).alias("_a"),
        F.when(
            is_json & size_ok,
            F.from_json(line, schema, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": "_corrupt"}),
        ).alias("_j"),
    )
    a, js = F.col("_a"), F.col("_j")
    matched = (F.size(a) == ACCESS_GROUPS + 1) & (a[0] == "") & ~line.contains(SEP)

    def group(i: int):
        return F.when(a[i] != "", a[i])

    def from_json_target(target: str):
        paths = mapping.get(target)
        if not paths:
            return F.lit(None).cast("string")
        values = [_json_value(js, p, map_heads) for p in paths]
        return values[0] if len(values) == 1 else F.coalesce(*values)

    def pick(target: str, access_value):
        return F.when(is_json, from_json_target(target)).otherwise(access_value)

    def access(field: str, from_regex):
        """An access column: the compiled parser's when it took the line, else the regex path's."""
        return F.when(F.col("_fast"), F.col("_c")[field]).otherwise(from_regex)

    request = F.split(a[13], " ")
    request_ok = (F.size(request) >= 2) & (F.size(request) <= 3)
    json_ok = js.isNotNull() & js["_corrupt"].isNull() & F.ltrim(line).startswith("{")
    stage2 = stage1.select(
        "line",
        "source_file",
        "is_json",
        "_size_ok",
        "_fast",
        *(F.col("_c")[field].alias(f"_c_{field}") for field in ("status", "bytes", "path", "is_bot", "query")),
        F.when(is_json, json_ok).otherwise(matched).alias("_parsed"),
        group(1).alias("vhost"),
        pick("client", access("client", group(2))).alias("client"),
        pick("user", access("user", F.when(a[3] != "-", group(3)))).alias("user"),
        pick("method", access("method", F.when(request_ok, request[0]))).alias("method"),
        pick("url", access("url", F.when(request_ok, request[1]).when(a[13] != "-", group(13)))).alias("url"),
        access("protocol", F.when(~is_json & request_ok, request[2])).alias("protocol"),
        pick("status", a[14]).alias("_status"),
        pick("bytes", a[15]).alias("_bytes"),
        pick("referrer", access("referrer", F.when(a[16] != "-", group(16)))).alias("referrer"),
        pick("user_agent", access("user_agent", F.when(a[17] != "-", group(17)))).alias("user_agent"),
        access(
            "extra",
            F.when(
                a[18] != "",
                F.split(F.substring(F.regexp_replace(a[18], TRAILING_FIELD, TRAILING_REPLACEMENT), 2, 1 << 30), SEP),
            ),
        ).alias("extra"),
        F.when(is_json, from_json_target("event_ts")).alias("_ts"),
        access("event_micros", access_event_micros(a)).alias("_access_micros"),
        F.when(is_json, from_json_target("event")).alias("event"),
        F.when(is_json, from_json_target("user_id")).alias("user_id"),
        F.when(is_json, from_json_target("anonymous_id")).alias("anonymous_id"),
        (F.when(is_json, from_json_target("properties")) if "properties" in mapping else F.lit(None))
        .cast("map<string,string>")
        .alias("properties"),
    )
    return _typed(stage2, regex)


def access_event_micros(a):
    """The UTC event time of an access line's groups in microseconds since the epoch (null when impossible).

    The local time is cast without its offset (so Spark does not parse a zone id per row) and the
    offset is applied as arithmetic on the microseconds; offsets beyond +-18:00 are impossible.
    """
    from pyspark.sql import functions as F

    month_at = F.expr(f"instr('{MONTHS}', _a[5])")  # the access groups are the column `_a`
    month = F.when(month_at % 3 == 1, ((month_at + 2) / 3).cast("int").cast("string"))
    local = F.concat_ws(
        "", a[6], F.lit("-"), month, F.lit("-"), a[4], F.lit(" "), a[7], F.lit(":"), a[8], F.lit(":"), a[9]
    )
    offset_minutes = a[11].cast("int") * 60 + a[12].cast("int")  # digits only: the casts cannot fail
    east = F.when(a[10] == "-", -offset_minutes).otherwise(offset_minutes)
    possible = (a[12].cast("int") <= 59) & (offset_minutes <= 18 * 60)
    return F.when(possible, F.unix_micros(local.cast("timestamp")) - east.cast("long") * 60_000_000)


def _typed(df, regex: bool = True):
    """Typed columns, derived columns and the reject reason (see parse_lines for `regex`)."""
    from pyspark.sql import functions as F

    ts_text = F.col("_ts")
    epoch = F.col("is_json") & ts_text.rlike(r"^\d{1,13}(\.\d+)?$")
    event_ts = (
        F.when(epoch & (F.length(F.split(ts_text, r"\.")[0]) >= 12), F.timestamp_millis(ts_text.cast("long")))
        .when(epoch, F.timestamp_seconds(ts_text.cast("double")))
        .when(F.col("is_json"), F.expr("try_cast(_ts as timestamp)"))
        .otherwise(F.timestamp_micros(F.col("_access_micros")))
    )
    fast = F.col("_fast")
    status_text, bytes_text = F.col("_status"), F.col("_bytes")
    status = F.when(fast, F.col("_c_status")).otherwise(F.expr("try_cast(_status as int)"))
    bytes_ = F.when(fast, F.col("_c_bytes")).when(bytes_text != "-", F.expr("try_cast(_bytes as bigint)"))
    reason = (
        F.when(fast, F.lit(None).cast("string"))
        .when(F.col("line") == "", "empty_line")
        .when(~F.col("_size_ok"), "too_long")
        .when(~F.col("is_json") & F.lit(not regex), F.raise_error(F.lit(NOT_COMPILED_ERROR)))
        .when(~F.col("_parsed") & F.col("is_json"), "unparseable_json")
        .when(~F.col("_parsed"), "unparseable")
        .when(F.col("event_ts").isNull(), "bad_timestamp")
        .when(status_text.isNotNull() & ~F.col("status").between(100, 599), "bad_status")
        .when(status_text.isNotNull() & F.col("status").isNull(), "bad_status")
        .when(bytes_text.isNotNull() & (bytes_text != "-") & F.col("bytes").isNull(), "bad_bytes")
    )
    url = F.col("url")
    has_query = url.contains("?")
    # the lines whose path, query and is_bot Spark derives: JSON lines, and the access lines the compiled
    # parser declined when the regex is in the plan (without it they can only be rejects); for a run
    # without JSON files and without the regex this is constant false, and the optimizer drops the branches
    derived = F.col("is_json") | F.lit(regex)
    typed = df.select(
        "*",
        event_ts.alias("event_ts"),
        status.alias("status"),
        bytes_.alias("bytes"),
        F.when(fast, F.col("_c_path"))
        .when(derived & url.contains("://"), F.regexp_replace(F.substring_index(url, "?", 1), ABSOLUTE_URL_HEAD, ""))
        .when(derived, F.substring_index(url, "?", 1))
        .alias("path"),
        F.when(~fast & derived & has_query, F.expr("substring(url, instr(url, '?') + 1)")).alias("_qs"),
        F.when(fast, F.col("_c_is_bot")).when(derived, is_bot(F.col("user_agent"))).otherwise(False).alias("is_bot"),
    )
    # The reason is computed once here; spark_partition_id() >= 0 is always true, but being
    # non-deterministic it stops the optimizer from pushing a later `reason IS NULL` filter below this
    # projection, which would inline (and run) the parse expressions once per reference.
    out = typed.select(
        "*",
        F.to_date("event_ts").alias("event_date"),
        F.when(fast, F.col("_c_query")).when(derived, query_map("_qs")).alias("query"),
        F.when(F.spark_partition_id() >= 0, reason).alias("reason"),
    )
    parsed_by = (
        F.when(F.col("is_json"), "json").when(fast, "compiled").when((F.col("line") != "") & F.col("_size_ok"), "regex")
    )
    return out.select(
        *TABLE_COLUMNS[:-1],
        "reason",
        F.when(F.col("reason").isNotNull(), F.col("line")).alias("raw"),
        parsed_by.alias("parsed_by"),
    )


def is_bot(user_agent):
    """True for known crawler tokens; a cheap substring pre-check keeps the regex off ordinary browsers."""
    from pyspark.sql import functions as F

    lowered = F.lower(user_agent)
    maybe = lowered.contains(BOT_HINTS[0])
    for hint in BOT_HINTS[1:]:
        maybe = maybe | lowered.contains(hint)
    return F.when(maybe, user_agent.rlike(BOT_PATTERN)).otherwise(F.lit(False))


def query_map(qs_col: str):
    """`a=1&b=2` -> {a: 1, b: 2}: values as logged (not percent-decoded); a repeated key keeps its first value.

    Built from two regexp_extract_all (compiled code); the higher-order function (interpreted) runs
    only for the rare query string that repeats a key. Keep it: not being compilable, it also keeps this
    projection out of the parse's generated stage; fused into one stage, the parse's methods grow too big
    for the JIT and the job took 33 s instead of 20 s per 1M lines (bench/RESULTS.md, ingest_logs).
    """
    from pyspark.sql import functions as F

    keys = f"regexp_extract_all({qs_col}, '{QUERY_KEY}', 1)"
    values = f"regexp_extract_all({qs_col}, '{QUERY_VALUE}', 1)"
    return F.expr(
        f"""CASE WHEN {qs_col} IS NULL THEN NULL
        WHEN size(array_distinct({keys})) = size({keys}) THEN map_from_arrays({keys}, {values})
        ELSE map_from_arrays(array_distinct({keys}),
             transform(array_distinct({keys}), k -> element_at({values}, cast(array_position({keys}, k) as int))))
        END"""
    )


def table_rows(parsed, run_id: str):
    """The taken rows in the table's column order."""
    from pyspark.sql import functions as F

    return parsed.filter(F.col("reason").isNull()).select(*TABLE_COLUMNS[:-1], F.lit(run_id).alias("run_id"))


def rejected_rows(parsed, run_id: str, run_date: str):
    """The rejected lines in the quarantine's shape."""
    from pyspark.sql import functions as F

    return to_quarantine(
        parsed.filter(F.col("reason").isNotNull()), "raw", "source_file", "reason", JOB, run_id, run_date
    )


def compiled_times(lines):
    """The lines with `_micros`: the event time of each access line the compiled parser takes, else null.

    compiled_time makes the compiled parser's decision without building its columns: the counting
    pass of a night whose lines it all takes needs no more.
    """
    from pyspark.sql import functions as F

    line = F.col("line")
    takeable = ~F.col("is_json") & (F.octet_length(line) <= MAX_RAW_BYTES)
    return lines.select("*", F.when(takeable, compiled_time(lines.sparkSession, line)).alias("_micros"))


def not_compiled(lines):
    """The lines the compiled parser does not take: JSON, empty, too long and declined lines."""
    from pyspark.sql import functions as F

    return compiled_times(lines).filter(F.col("_micros").isNull()).drop("_micros")


def line_stats(lines, mapping: Dict[str, List[str]]) -> List[dict]:
    """Lines per file, event date, reject reason and parser, with the event-time range of each group.

    One pass with compiled_time counts the lines the compiled parser takes; the other lines, if any, are
    then read again through parse_lines (the rules and the reasons) and counted the same way.
    """
    from pyspark.sql import functions as F

    ts = F.timestamp_micros("_micros")
    groups = (
        compiled_times(lines)
        .groupBy("source_file", F.to_date(ts).alias("event_date"))
        .agg(F.count("*").alias("n"), F.min(ts).alias("lo"), F.max(ts).alias("hi"))
        .collect()
    )
    stats = [{**g.asDict(), "reason": None, "parsed_by": "compiled"} for g in groups if g["event_date"] is not None]
    if len(stats) < len(groups):
        rest = parse_lines(not_compiled(lines), mapping)
        stats += [
            g.asDict()
            for g in rest.groupBy("source_file", "event_date", "reason", "parsed_by")
            .agg(F.count("*").alias("n"), F.min("event_ts").alias("lo"), F.max("event_ts").alias("hi"))
            .collect()
        ]
    return stats


def compiled_rows(lines, run_id: str):
    """The table's rows of input whose lines the compiled parser all takes: its columns as they are, a
    plan much smaller than parse_lines'. A line it does not take fails the query (NOT_COMPILED_ERROR)."""
    from pyspark.sql import functions as F

    # the parse in a projection of its own, so that taking its fields does not run it once per field
    parsed = lines.select("source_file", compiled_parse(lines.sparkSession, F.col("line")).alias("_c"))
    typed = dict(ACCESS_PARSER_FIELDS)
    micros = F.coalesce(F.col("_c.event_micros"), F.raise_error(F.lit(NOT_COMPILED_ERROR)).cast("bigint"))
    event_ts = F.timestamp_micros(micros)
    derived = {"event_ts": event_ts, "event_date": F.to_date(event_ts), "source_file": F.col("source_file")}
    derived["run_id"] = F.lit(run_id)
    derived["properties"] = F.lit(None).cast("map<string,string>")

    def column(name: str):
        if name in derived:
            return derived[name]
        return F.col("_c")[name] if name in typed else F.lit(None).cast("string")

    return parsed.select(*(column(name).alias(name) for name in TABLE_COLUMNS))


def no_rejects(lines, run_id: str, run_date: str):
    """An empty frame in the quarantine's shape (its commit still clears the files' earlier rejects)."""
    from pyspark.sql import functions as F

    empty = lines.limit(0).select("line", "source_file", F.lit(None).cast("string").alias("reason"))
    return to_quarantine(empty, "line", "source_file", "reason", JOB, run_id, run_date)


# --- sniffing and reading ----------------------------------------------------------------


def sniff_format(first_lines: Sequence[str]) -> str:
    """`json` when the first non-empty line is a JSON object, else `access`."""
    for text in first_lines:
        stripped = text.strip().lstrip("\ufeff")
        if stripped:
            return "json" if stripped.startswith("{") else "access"
    return "access"


def first_lines(spark, uri: str, count: int = SNIFF_LINES) -> List[str]:
    """Up to `count` non-empty first lines of a file (gzip decoded by Hadoop's codecs)."""
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    fs, path = hadoop_path(spark, uri)
    codec = jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(conf).getCodec(path)
    stream = fs.open(path)
    try:
        source = codec.createInputStream(stream) if codec is not None else stream
        reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(source, "UTF-8"))
        found: List[str] = []
        for _ in range(200):
            text = reader.readLine()
            if text is None:
                break
            if text.strip():
                found.append(text[:4096])
                if len(found) >= count:
                    break
        return found
    except Exception as error:
        raise LakemlError(f"cannot read {uri}: {_cause(error)}; fix or remove the file and run again") from None
    finally:
        stream.close()


def _cause(error: Exception) -> str:
    text = str(error)
    for line in text.splitlines():
        if "Exception:" in line and ("java.io" in line or "java.util" in line):
            return line.split(":", 1)[-1].strip() or line.strip()
    return text.splitlines()[0][:300] if text else type(error).__name__


def read_lines(spark, files: Sequence[FileInfo], formats: Dict[str, str]):
    """Lines of the files with `source_file` (the file's listed URI) and `is_json`; each file read once."""
    from pyspark.sql import functions as F

    json_uris = [f.uri for f in files if formats[f.uri] == "json"]
    # input_file_name() in its own projection: non-deterministic, it is evaluated once per line there
    # instead of once per reference in the expression below
    lines = (
        spark.read.text(read_paths([f.uri for f in files]))
        .select(F.col("value").alias("line"), F.input_file_name().alias("_file"))
        .select("line", source_file_col(F.col("_file")).alias("source_file"))
    )
    is_json = F.col("source_file").isin(json_uris) if json_uris else F.lit(False)
    return lines.select("line", "source_file", is_json.alias("is_json"))


def find_unreadable(spark, files: Sequence[FileInfo]) -> Optional[Tuple[str, str]]:
    """The first compressed file Spark cannot read to the end, with the cause; None if all read."""
    for info in files:
        if not info.uri.endswith((".gz", ".bz2", ".deflate", ".zst", ".lz4", ".snappy")):
            continue
        try:
            spark.read.text(read_paths([info.uri])).count()
        except Exception as error:
            return info.uri, _cause(error)
    return None


# --- the ledger ----------------------------------------------------------------------------


def load_ledger(spark, lake, source: str) -> Dict[str, dict]:
    """uri -> {size, mtime_ms, run_id, dates, lines} of every file taken so far."""
    return read_ledger(spark, ledger_uri(lake, JOB, source)).get("files", {})


# --- the run ---------------------------------------------------------------------------------


def run(spark, args) -> RunSummary:
    lake = args.lake
    table_uri = lake.table(f"logs_{args.source}")
    quarantine_uri = lake.quarantine(JOB)
    mapping = getattr(args, "json_mapping_parsed", None) or parse_json_mapping(args.json_mapping)
    summary = RunSummary(job=JOB, run_id=args.run_id, run_date=args.run_date, inputs=[args.input])

    with stage("list_files") as counts:
        listing = list_tree(spark, args.input)
        listed = listing.files
        ledger = load_ledger(spark, lake, args.source)
        plan = plan_files(listed, ledger, args.reprocess)
        counts.update(listed=len(listed), to_read=len(plan.read), skipped=len(plan.skipped))
    if args.reprocess and plan.read:
        plan = _with_same_date_files(spark, plan, ledger, listed)

    summary.counts = {
        "files_listed": len(listed),
        "files_taken": 0,
        "files_skipped": len(plan.skipped),
        "files_changed": len(plan.changed),
        "files_ignored": len(listing.ignored),
        "files_empty": sum(f.size == 0 for f in plan.read),
        "lines_read": 0,
        "rows_written": 0,
        "rejected": {},
    }
    empty = [f for f in plan.read if f.size == 0]
    plan.read = [f for f in plan.read if f.size > 0]
    if not plan.read:
        logger.info("no new files with lines under %s", args.input)
        _write_ledger(spark, args, ledger, empty, {})
        summary.counts["files_taken"] = len(empty)
        summary.outputs = [table_uri]
        return summary

    with stage("sniff") as counts:
        formats = {
            f.uri: (sniff_format(first_lines(spark, f.uri)) if args.format == "auto" else _kind(args.format))
            for f in plan.read
        }
        counts.update(
            json=sum(v == "json" for v in formats.values()), access=sum(v == "access" for v in formats.values())
        )

    lines = read_lines(spark, plan.read, formats)
    with stage("parse") as counts:
        try:
            stats = line_stats(lines, mapping)
        except Exception as error:
            bad = find_unreadable(spark, plan.read)
            if bad is not None:
                raise LakemlError(
                    f"cannot read {bad[0]}: {bad[1]} (truncated or corrupt compressed file); "
                    "replace or remove it and run again. Nothing was published."
                ) from None
            raise error
        facts = _facts(stats)
        counts.update(lines=facts["lines"], rows=facts["rows"], rejected=facts["rejected_total"])

    summary.rows_in, summary.rows_out, summary.rows_rejected = (
        facts["lines"],
        facts["rows"],
        facts["rejected_total"],
    )
    summary.counts.update(
        files_taken=len(plan.read) + len(empty),
        files_by_format={k: sum(v == k for v in formats.values()) for k in ("access", "json")},
        lines_read=facts["lines"],
        lines_by_parser=facts["by_parser"],
        rows_written=facts["rows"],
        rejected=facts["reasons"],
        event_time_min=facts["lo"],
        event_time_max=facts["hi"],
        event_dates=facts["dates"],
    )
    top = dict(sorted(facts["reasons"].items(), key=lambda kv: -kv[1])[:5])
    check_reject_gate(facts["lines"], facts["rejected_total"], RejectPolicy(max_fraction=args.max_reject_fraction), top)

    taken_files = f"source_file IN ({sql_list(sorted(f.uri for f in plan.read + empty))})"
    where = taken_files
    if args.reprocess and facts["dates"]:
        where = f"(event_date IN ({sql_list(facts['dates'])}) OR {taken_files})"
    # the usual night: the compiled parser takes every line, and the table's pass runs its plan alone; else
    # parse_lines, without the regex when no line needs it
    if facts["by_parser"].get("compiled", 0) == facts["lines"]:
        table = compiled_rows(lines, args.run_id)
    else:
        table = table_rows(parse_lines(lines, mapping, regex=bool(facts["by_parser"].get("regex"))), args.run_id)
    with stage("publish_table") as counts, session_confs(spark, TABLE_WRITE_CONFS):
        (
            table.write.format("delta")
            .mode("overwrite")
            .option("replaceWhere", where)
            .option("delta.dataSkippingStatsColumns", STATS_COLUMNS)
            .partitionBy("event_date")
            .save(spark_uri(table_uri))
        )
        counts.update(rows=facts["rows"])
    with stage("publish_quarantine") as counts:
        # only lines the compiled parser does not take can be rejects
        rejected = (
            rejected_rows(parse_lines(not_compiled(lines), mapping), args.run_id, args.run_date)
            if facts["rejected_total"]
            else no_rejects(lines, args.run_id, args.run_date)
        )
        publish_quarantine(rejected, quarantine_uri, taken_files)
        counts.update(rows=facts["rejected_total"])

    _write_ledger(spark, args, ledger, plan.read + empty, facts["files"])
    summary.outputs = [table_uri, quarantine_uri]
    return summary


def _write_ledger(spark, args, ledger: Dict[str, dict], taken: Sequence[FileInfo], per_file: Dict[str, dict]) -> None:
    """Record the files taken (with their dates and line counts) and write the ledger."""
    with stage("ledger") as counts:
        for info in taken:
            found = per_file.get(info.uri, {"dates": [], "lines": 0})
            ledger[info.uri] = {
                **identity(info),
                "run_id": args.run_id,
                "dates": found["dates"],
                "lines": found["lines"],
            }
        write_ledger(spark, ledger_uri(args.lake, JOB, args.source), {"source": args.source, "files": ledger})
        counts.update(files=len(ledger))


def _kind(fmt: str) -> str:
    return "json" if fmt == "json" else "access"


def _with_same_date_files(spark, plan: FilePlan, ledger: Dict[str, dict], listed: Sequence[FileInfo]) -> FilePlan:
    """For --reprocess: add every existing ledger file that shares an event date with the files read."""
    reading = {f.uri for f in plan.read}
    dates = {d for uri in reading for d in ledger.get(uri, {}).get("dates", [])}
    extra = [uri for uri, entry in ledger.items() if uri not in reading and dates & set(entry.get("dates", []))]
    if not extra:
        return plan
    present = {f.uri: f for f in listed}
    from jobs.common.lake import exists

    for uri in extra:
        info = present.get(uri)
        if info is None and exists(spark, uri):
            found = list_files(spark, uri)
            info = found[0] if found else None
        if info is not None:
            plan.read.append(info)
    plan.read.sort(key=lambda f: f.uri)
    return plan


def _facts(stats) -> dict:
    """Counts, reasons, event-time range and per-file dates from the grouped parse result."""
    lines = rows = 0
    reasons: Dict[str, int] = {}
    by_parser: Dict[str, int] = {}
    files: Dict[str, dict] = {}
    lo = hi = None
    dates = set()
    for row in stats:
        n = int(row["n"])
        lines += n
        if row["parsed_by"] is not None:
            by_parser[row["parsed_by"]] = by_parser.get(row["parsed_by"], 0) + n
        entry = files.setdefault(row["source_file"], {"dates": set(), "lines": 0})
        entry["lines"] += n
        if row["reason"] is None:
            rows += n
            day = row["event_date"].isoformat()
            dates.add(day)
            entry["dates"].add(day)
            lo = row["lo"] if lo is None or row["lo"] < lo else lo
            hi = row["hi"] if hi is None or row["hi"] > hi else hi
        else:
            reasons[row["reason"]] = reasons.get(row["reason"], 0) + n
    for entry in files.values():
        entry["dates"] = sorted(entry["dates"])
    return {
        "lines": lines,
        "rows": rows,
        "rejected_total": lines - rows,
        "reasons": dict(sorted(reasons.items())),
        "by_parser": dict(sorted(by_parser.items())),
        "files": files,
        "dates": sorted(dates),
        "lo": lo.isoformat() + "Z" if lo else None,
        "hi": hi.isoformat() + "Z" if hi else None,
    }

"""The parse: raw lines into the table's typed columns plus a reject reason, a pure DataFrame transform.

Access lines go first through the compiled parser (compiled.py), which types the lines it can fully
validate; every other access line is matched by ONE regular expression evaluation (access_regex.py),
which owns the rules and the reject reasons. JSON lines take one from_json (json_lines.py).
"""

from __future__ import annotations

from typing import Dict, List, Optional

from pyspark.sql import functions as F

from core.quality import MAX_RAW_BYTES
from jobs.ingest_logs.access_regex import (
    ABSOLUTE_URL_HEAD,
    ACCESS_GROUPS,
    ACCESS_PATTERN,
    ACCESS_REPLACEMENT,
    SEP,
    TRAILING_FIELD,
    TRAILING_REPLACEMENT,
    access_event_micros,
    is_bot,
    query_map,
)
from jobs.ingest_logs.compiled import ACCESS_PARSER_SCHEMA, NOT_COMPILED_ERROR, compiled_parse
from jobs.ingest_logs.json_lines import DEFAULT_JSON_MAPPING, json_schema, json_value, parse_json_mapping
from jobs.ingest_logs.table import TABLE_COLUMNS, in_event_range

JSON_OPTIONS = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": "_corrupt"}


def parse_lines(lines, json_mapping: Optional[Dict[str, List[str]]] = None, compiled: bool = True, regex: bool = True):
    """Raw lines (`line`, `source_file`, `is_json`) -> every table column plus `reason` (null when
    taken), `raw` (the line as valid UTF-8) and `raw_bytes` (its bytes) of rejects, `invalid_utf8` (the
    line's bytes were not UTF-8: its text holds U+FFFD instead) and `parsed_by` (compiled, regex or json;
    null for empty and too long lines).

    `compiled=False` sends every access line through the regex (the reference the compiled parser is
    tested against); `regex=False` leaves the regex out of the plan (a smaller, faster plan, for input
    known to hold no line for it) and fails the query on any access line the compiled parser does not take.
    """
    if not (compiled or regex):
        raise ValueError("parse_lines needs the compiled parser, the regex, or both")
    mapping = json_mapping or parse_json_mapping(DEFAULT_JSON_MAPPING)
    schema, map_heads = json_schema(mapping)
    split = _split_by_parser(lines, schema, compiled, regex)
    return _typed(_columns(split, mapping, map_heads), regex)


def _split_by_parser(lines, schema, compiled: bool, regex: bool):
    """The compiled parse (`_c`), the regex groups (`_a`) of the access lines it declines, from_json (`_j`)."""
    line, is_json = F.col("line"), F.col("is_json")
    size_ok = F.octet_length(line) <= MAX_RAW_BYTES
    if compiled:
        typed_access = compiled_parse(lines.sparkSession, line)
    else:
        typed_access = F.lit(None).cast(ACCESS_PARSER_SCHEMA)
    # the compiled parse in a projection of its own, so that referring to it twice does not run it twice
    stage0 = lines.select("*", size_ok.alias("_size_ok"), F.when(~is_json & size_ok, typed_access).alias("_c"))
    size_ok, fast = F.col("_size_ok"), F.col("_fast")
    groups = F.split(F.regexp_replace(line, ACCESS_PATTERN, ACCESS_REPLACEMENT), SEP)
    access_groups = F.when(~is_json & size_ok & ~fast, groups) if regex else F.lit(None).cast("array<string>")
    return _valid_utf8(stage0).select(
        "*",
        access_groups.alias("_a"),
        F.when(is_json & size_ok, F.from_json(line, schema, JSON_OPTIONS)).alias("_j"),
    )


def _valid_utf8(stage0):
    """`_fast` (the compiled parser took the line), and the other lines as valid UTF-8 text (Java's decoder
    puts U+FFFD for invalid bytes; the compiled parser takes printable ASCII only) with their bytes."""
    # the compiled parser's event times outside the table's range are left to the regex path, which rejects them
    fast = F.col("_c").isNotNull() & in_event_range(F.col("_c")["event_micros"])
    line = F.col("line")
    utf8 = F.encode(line, "UTF-8")
    return stage0.select(
        # a line the compiled parser took is never a reject, so its raw text is not needed further on
        F.when(~fast, F.decode(utf8, "UTF-8")).alias("line"),
        F.when(~fast, line.cast("binary")).alias("_raw_bytes"),
        F.coalesce(F.when(~fast, utf8 != line.cast("binary")), F.lit(False)).alias("_invalid_utf8"),
        "source_file",
        "is_json",
        "_size_ok",
        "_c",
        fast.alias("_fast"),
    )


def _columns(split, mapping: Dict[str, List[str]], map_heads):
    """The table's columns as text or typed values, from the compiled parse, the regex groups or the JSON."""
    a, js, line, is_json = F.col("_a"), F.col("_j"), F.col("line"), F.col("is_json")
    matched = (F.size(a) == ACCESS_GROUPS + 1) & (a[0] == "") & ~line.contains(SEP)

    def group(i: int):
        return F.when(a[i] != "", a[i])

    def from_json_target(target: str):
        paths = mapping.get(target)
        if not paths:
            return F.lit(None).cast("string")
        values = [json_value(js, p, map_heads) for p in paths]
        return values[0] if len(values) == 1 else F.coalesce(*values)

    def pick(target: str, access_value):
        return F.when(is_json, from_json_target(target)).otherwise(access_value)

    def access(field: str, from_regex):
        """An access column: the compiled parser's when it took the line, else the regex path's."""
        return F.when(F.col("_fast"), F.col("_c")[field]).otherwise(from_regex)

    request = F.split(a[13], " ")
    request_ok = (F.size(request) >= 2) & (F.size(request) <= 3)
    json_ok = js.isNotNull() & js["_corrupt"].isNull() & F.ltrim(line).startswith("{")
    trailing = F.split(F.substring(F.regexp_replace(a[18], TRAILING_FIELD, TRAILING_REPLACEMENT), 2, 1 << 30), SEP)
    properties = F.when(is_json, from_json_target("properties")) if "properties" in mapping else F.lit(None)
    return split.select(
        "line",
        "_raw_bytes",
        "_invalid_utf8",
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
        access("extra", F.when(a[18] != "", trailing)).alias("extra"),
        F.when(is_json, from_json_target("event_ts")).alias("_ts"),
        access("event_micros", access_event_micros(a)).alias("_access_micros"),
        F.when(is_json, from_json_target("event")).alias("event"),
        F.when(is_json, from_json_target("user_id")).alias("user_id"),
        F.when(is_json, from_json_target("anonymous_id")).alias("anonymous_id"),
        properties.cast("map<string,string>").alias("properties"),
    )


def event_ts_col():
    """The event time: JSON epoch seconds or milliseconds or a timestamp text, else the access line's."""
    ts_text = F.col("_ts")
    epoch = F.col("is_json") & ts_text.rlike(r"^\d{1,13}(\.\d+)?$")
    return (
        F.when(epoch & (F.length(F.split(ts_text, r"\.")[0]) >= 12), F.timestamp_millis(ts_text.cast("long")))
        .when(epoch, F.timestamp_seconds(ts_text.cast("double")))
        .when(F.col("is_json"), F.expr("try_cast(_ts as timestamp)"))
        .otherwise(F.timestamp_micros(F.col("_access_micros")))
    )


def reason_col(regex: bool):
    """Why a line is rejected (null when taken), the first rule it breaks."""
    status_text, bytes_text = F.col("_status"), F.col("_bytes")
    return (
        F.when(F.col("_fast"), F.lit(None).cast("string"))
        .when(F.col("line") == "", "empty_line")
        .when(~F.col("_size_ok"), "too_long")
        .when(~F.col("is_json") & F.lit(not regex), F.raise_error(F.lit(NOT_COMPILED_ERROR)))
        .when(~F.col("_parsed") & F.col("is_json"), "unparseable_json")
        .when(~F.col("_parsed"), "unparseable")
        .when(F.col("event_ts").isNull(), "bad_timestamp")
        .when(~in_event_range(F.unix_micros("event_ts")), "event_time_out_of_range")
        .when(status_text.isNotNull() & ~F.col("status").between(100, 599), "bad_status")
        .when(status_text.isNotNull() & F.col("status").isNull(), "bad_status")
        .when(bytes_text.isNotNull() & (bytes_text != "-") & F.col("bytes").isNull(), "bad_bytes")
    )


def _typed(df, regex: bool = True):
    """Typed columns, derived columns and the reject reason (see parse_lines for `regex`)."""
    fast, url = F.col("_fast"), F.col("url")
    status = F.when(fast, F.col("_c_status")).otherwise(F.expr("try_cast(_status as int)"))
    bytes_ = F.when(fast, F.col("_c_bytes")).when(F.col("_bytes") != "-", F.expr("try_cast(_bytes as bigint)"))
    # the lines whose path, query and is_bot Spark derives: JSON lines, and the access lines the compiled
    # parser declined when the regex is in the plan (without it they can only be rejects); for a run
    # without JSON files and without the regex this is constant false, and the optimizer drops the branches
    derived = F.col("is_json") | F.lit(regex)
    without_host = F.regexp_replace(F.substring_index(url, "?", 1), ABSOLUTE_URL_HEAD, "")
    typed = df.select(
        "*",
        event_ts_col().alias("event_ts"),
        status.alias("status"),
        bytes_.alias("bytes"),
        F.when(fast, F.col("_c_path"))
        .when(derived & url.contains("://"), without_host)
        .when(derived, F.substring_index(url, "?", 1))
        .alias("path"),
        F.when(~fast & derived & url.contains("?"), F.expr("substring(url, instr(url, '?') + 1)")).alias("_qs"),
        F.when(fast, F.col("_c_is_bot")).when(derived, is_bot(F.col("user_agent"))).otherwise(False).alias("is_bot"),
    )
    # The reason is computed once here; spark_partition_id() >= 0 is always true, but being
    # non-deterministic it stops the optimizer from pushing a later `reason IS NULL` filter below this
    # projection, which would inline (and run) the parse expressions once per reference.
    out = typed.select(
        "*",
        F.to_date("event_ts").alias("event_date"),
        F.when(fast, F.col("_c_query")).when(derived, query_map("_qs")).alias("query"),
        F.when(F.spark_partition_id() >= 0, reason_col(regex)).alias("reason"),
    )
    line = F.col("line")
    parsed_by = F.when(F.col("is_json"), "json").when(fast, "compiled").when((line != "") & F.col("_size_ok"), "regex")
    return out.select(
        *TABLE_COLUMNS[:-1],
        "reason",
        F.when(F.col("reason").isNotNull(), line).alias("raw"),
        F.when(F.col("reason").isNotNull(), F.col("_raw_bytes")).alias("raw_bytes"),
        F.col("_invalid_utf8").alias("invalid_utf8"),
        parsed_by.alias("parsed_by"),
    )

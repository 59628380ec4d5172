"""Amazon ML datasources read the way Amazon ML read them (docs/amazon-ml.md, "Datasources").

    ds = read_datasource(spark, "s3://bucket/data/", schema, require_target=True)
    ds.rows      one column per schema attribute (NUMERIC double, BINARY int 0/1, CATEGORICAL and
                 TEXT string) plus `_source_file` and `_row` (order in the input: file order, then line)
    ds.rejects   raw, source_file, line, reason: the lines that break the CSV rules
    ds.rows_in   observations read (header and blank lines are not observations)

The CSV rules: one file, or every file under a prefix (hidden `_x`/`.x` entries skipped), plain or
gzip, local or s3://; one observation per line, comma-separated, a value containing a comma
double-quoted (`""` is a quote inside it); a value may not hold a line break, so an unclosed quote
rejects its line; every line has the schema's number of values, mapped to the attributes by
position; an observation over 100 KB is rejected; a header line (dataFileContainsHeader) must name
the schema's attributes in order. Values: an empty value is missing (null); NUMERIC that does not
parse as a finite number and BINARY that is not one of Amazon ML's spellings are invalid, counted
per attribute in `ds.invalid`, and read as missing. With require_target, a missing or invalid
target rejects the row. Over 10,000 rejects fail the read (exit 3), Amazon ML's rule.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import unquote

from core.errors import UsageError
from core.files import list_files
from core.lake import FileInfo, exists, hadoop_path, join, normalize_uri, read_parsed, spark_uri
from core.quality import MAX_RAW_BYTES, RejectPolicy, check_reject_gate
from core.tables import read_table

MAX_OBSERVATION_BYTES = 100 * 1024
_CSV_OPTIONS = {"columnNameOfCorruptRecord": "_corrupt", "escape": '"', "mode": "PERMISSIVE"}
# A comma outside double quotes: how many values a malformed line has, for its reason.
_SEPARATOR = r',(?=(?:[^"]*"[^"]*")*[^"]*$)'
_GLOB_CHARS = "\\*?[]{}"


@dataclass
class Datasource:
    """A read datasource: typed rows, rejected lines with reasons, and the counts of the read."""

    rows: Any
    rejects: Any
    rows_in: int
    rows_rejected: int
    files: List[str]
    reasons: Dict[str, int] = field(default_factory=dict)
    invalid: Dict[str, int] = field(default_factory=dict)
    fingerprint: str = ""
    blank_lines: int = 0
    source: str = ""


# --- files ----------------------------------------------------------------------------------


def literal_path(uri: str) -> str:
    """The URI Spark opens as exactly this file: Hadoop glob characters escaped."""
    scheme, sep, rest = spark_uri(uri).partition("://")
    return scheme + sep + "".join("\\" + c if c in _GLOB_CHARS else c for c in rest)


def data_files(spark, data_uri: str, flag: str = "--data") -> List[FileInfo]:
    """The input files of a datasource: the file itself, or every data file under the prefix."""
    uri = normalize_uri(data_uri, flag)
    fs, path = hadoop_path(spark, uri)
    if fs.exists(path) and fs.getFileStatus(path).isFile():
        status = fs.getFileStatus(path)
        return [FileInfo(uri, int(status.getLen()), int(status.getModificationTime()))]
    found = [f for f in list_files(spark, uri) if not f.uri.endswith(".schema")]
    if not found:
        raise UsageError(f"{flag} {data_uri}: no such file, and no data files under it; check the path")
    return found


def default_schema_uri(spark, data_uri: str) -> str:
    """Amazon ML's schema location: `<file>.schema` for a file, `<prefix>/.schema` for a prefix."""
    uri = normalize_uri(data_uri, "--data")
    fs, path = hadoop_path(spark, uri)
    if fs.exists(path) and fs.getFileStatus(path).isDirectory():
        return join(uri, ".schema")
    return uri + ".schema"


def read_schema(spark, uri: Optional[str], flag: str = "--schema") -> Dict[str, Any]:
    """The normalized Amazon ML schema at a URI; exit 2 naming the flag when missing or invalid."""
    from features.schema import SchemaError, load_schema

    hint = "; give the Amazon ML schema JSON (default: <data>.schema)"
    return read_parsed(spark, uri, flag, load_schema, SchemaError, hint)


# --- lines and their positions ----------------------------------------------------------------


def spark_file_uri(spark_path: str) -> str:
    """The listed spelling of a file path as Spark gives it (`file:/x%20y` -> `file:///x y`)."""
    plain = unquote(spark_path)
    if plain.startswith("file:") and not plain.startswith("file://"):
        plain = "file://" + plain[len("file:") :]
    return normalize_uri(plain, "path")


def text_frame(spark, files: List[FileInfo], root: Optional[str] = None):
    """The files as one text DataFrame, in few tasks whatever their number.

    Given many literal paths, Spark lists each one (a job of one task per path past 32 paths:
    minutes for a thousand small files on 2 cores). So the prefix is read whole when Spark's own
    listing of it is exactly the listed files (one listing of the folder, no job), and otherwise
    the literal paths are listed on the driver.
    """
    from core.session import session_confs

    if root is not None and len(files) > 1:
        whole = spark.read.option("recursiveFileLookup", "true").text(literal_path(root))
        if sorted(spark_file_uri(p) for p in whole.inputFiles()) == [f.uri for f in files]:
            return whole
    with session_confs(spark, {"spark.sql.sources.parallelPartitionDiscovery.threshold": str(len(files) + 1)}):
        return spark.read.text([literal_path(f.uri) for f in files])


CORRUPT_COMPRESSION = ("EOFException", "ZipException", "Not in GZIP format", "Corrupt GZIP trailer")


def unreadable_file(spark, files: List[FileInfo]) -> Optional[str]:
    """The first compressed file that cannot be read to its end (truncated or corrupt), or None.

    Spark's error for such a file names no file, so each compressed file is read alone: only on that failure.
    """
    for f in files:
        if not f.uri.endswith((".gz", ".bz2")):
            continue
        try:
            spark.read.text(literal_path(f.uri)).count()
        except Exception as error:  # the file's own read fails: it is the one
            if any(mark in str(error) for mark in CORRUPT_COMPRESSION):
                return f.uri
    return None


def collect_lines(spark, action, files: List[FileInfo]):
    """Run the first Spark action over the files; a truncated or corrupt compressed file is exit 2 naming it."""
    try:
        return action()
    except Exception as error:
        if not any(mark in str(error) for mark in CORRUPT_COMPRESSION):
            raise
        bad = unreadable_file(spark, files)
        raise UsageError(
            f"--data {bad or 'a compressed file'}: cannot be read to its end (truncated or corrupt compressed data); "
            "replace the file or remove it from the input, then run again"
        ) from None


def read_lines(spark, files: List[FileInfo], root: Optional[str] = None):
    """Every line of the files (listed under root, when given) with its file and split and Spark's row id."""
    from pyspark.sql import functions as F

    return text_frame(spark, files, root).select(
        F.col("value").alias("raw"),
        F.col("_metadata.file_path").alias("_fp"),
        F.col("_metadata.file_block_start").alias("_bs"),
        F.monotonically_increasing_id().alias("_mono"),
    )


def _canonical_file(spark_path: str, files: List[FileInfo]) -> Tuple[int, str]:
    """(index, canonical URI) of the listed file a path from Spark's `_metadata` names."""
    uri = spark_file_uri(spark_path)
    for i, f in enumerate(files):
        if f.uri == uri:
            return i, uri
    raise RuntimeError(f"Spark read {spark_path}, which is not among the listed files")


def split_positions(splits: List[Tuple[str, int, int, int]], files: List[FileInfo]) -> Dict[str, Tuple[int, int, str]]:
    """For each split (path, start, lines, min id): (line offset in its file, offset overall, file URI)."""
    keyed = sorted((_canonical_file(fp, files), bs, n, low, fp) for fp, bs, n, low in splits)
    out: Dict[str, Tuple[int, int, str]] = {}
    overall, current, in_file = 0, None, 0
    for (index, uri), bs, n, low, fp in keyed:
        if index != current:
            current, in_file = index, 0
        out[f"{fp}#{bs}"] = (in_file - low + 1, overall - low, uri)
        in_file += n
        overall += n
    return out


def with_positions(lines, positions: Dict[str, Tuple[int, int, str]]):
    """Add `_line` (1-based line in its file), `_row` (0-based line overall) and `_source_file`."""
    from pyspark.sql import functions as F

    # a broadcast join, not a map literal: a map lookup scans its keys, one per split, for every line
    key = F.concat(F.col("_fp"), F.lit("#"), F.col("_bs").cast("string"))
    rows = [(split, line_off, row_off, uri) for split, (line_off, row_off, uri) in positions.items()]
    table = lines.sparkSession.createDataFrame(rows, "_split string, l long, r long, u string")
    joined = lines.withColumn("_split", key).join(F.broadcast(table), "_split", "left")
    return joined.select(
        "raw",
        (F.col("l") + F.col("_mono")).alias("_line"),
        (F.col("r") + F.col("_mono")).alias("_row"),
        F.col("u").alias("_source_file"),
    )


def check_header(header_lines: List[Tuple[str, str]], names: List[str]) -> None:
    """Every file's header names the schema's attributes in order; UsageError naming the first difference."""
    for uri, raw in header_lines:
        found = [v.strip() for v in next(csv.reader([raw]), [])]
        if found != names:
            first = next((i for i in range(max(len(found), len(names))) if found[i : i + 1] != names[i : i + 1]), 0)
            got = found[first] if first < len(found) else "(nothing)"
            want = names[first] if first < len(names) else "(nothing)"
            raise UsageError(
                f"--schema: the header of {uri} does not match the schema's attributes: column {first + 1} is "
                f"{got!r}, the schema says {want!r}; values map to attributes by position, so fix the schema "
                "or set dataFileContainsHeader false"
            )


# --- values (pure column functions) -----------------------------------------------------------


def parse_values(lines, names: List[str]):
    """Split each line into one string per attribute and set `_reason` for lines that break the rules."""
    from pyspark.sql import functions as F

    ddl = ", ".join(f"c{i} STRING" for i in range(len(names))) + ", _corrupt STRING"
    parsed = F.from_csv(F.col("raw"), ddl, _CSV_OPTIONS)
    quotes = F.length("raw") - F.length(F.regexp_replace("raw", '"', ""))
    found = F.size(F.split("raw", _SEPARATOR, -1))
    # Spark keeps a line's bytes as read; re-encoding its Java text differs exactly when they were not UTF-8
    invalid_utf8 = F.encode(F.col("raw"), "UTF-8") != F.col("raw").cast("binary")
    reason = (
        F.when(F.octet_length("raw") > MAX_OBSERVATION_BYTES, F.lit("observation larger than 100 KB"))
        .when(invalid_utf8, F.lit("invalid UTF-8 (the line's bytes are not UTF-8 text)"))
        .when(quotes % 2 == 1, F.lit("unclosed double quote (values may not contain line breaks)"))
        .when(
            F.col("_p._corrupt").isNotNull(),
            F.concat(F.lit(f"expected {len(names)} values, found "), found.cast("string")),
        )
    )
    return (
        lines.withColumn("_p", parsed)
        .select("*", *[F.col(f"_p.c{i}").alias(name) for i, name in enumerate(names)], reason.alias("_reason"))
        .drop("_p")
    )


def typed_value(name: str, kind: str):
    """(typed column, invalid flag) of one attribute's string value."""
    from pyspark.sql import functions as F

    from features.categorical import parse_binary

    raw = F.col(name)
    present = raw.isNotNull() & (F.trim(raw) != "")
    if kind == "NUMERIC":
        number = F.trim(raw).cast("double")
        finite = number.isNotNull() & ~F.isnan(number) & (F.abs(number) != float("inf"))
        return F.when(finite, number), present & ~finite
    if kind == "BINARY":
        value = parse_binary(raw)
        return value, present & value.isNull()
    return F.when(present, raw), F.lit(False)


def type_values(parsed, attributes: Dict[str, str], target: Optional[str]):
    """Typed attribute columns, `_invalid_<i>` flags, and target reasons folded into `_reason`."""
    from pyspark.sql import functions as F

    columns, flags = [], []
    reason = F.col("_reason")
    for i, (name, kind) in enumerate(attributes.items()):
        value, invalid = typed_value(name, kind)
        columns.append(value.alias(name))
        flags.append(invalid.alias(f"_invalid_{i}"))
        if name == target:
            missing = F.col(name).isNull() | (F.trim(F.col(name)) == "")
            reason = (
                F.when(reason.isNotNull(), reason)
                .when(missing, F.lit(f"missing target {name}"))
                .when(invalid, F.lit(f"invalid {kind} target {name}"))
            )
    return parsed.select("raw", "_line", "_row", "_source_file", *columns, *flags, reason.alias("_reason"))


def observation_counts(typed, attributes: Dict[str, str]) -> Dict[str, Any]:
    """One pass: observations, rejects by reason, invalid values per attribute, a content hash."""
    from pyspark.sql import functions as F

    flags = [F.sum(F.col(f"_invalid_{i}").cast("long")).alias(f"i{i}") for i in range(len(attributes))]
    rows = (
        typed.groupBy("_reason")
        .agg(F.count(F.lit(1)).alias("n"), F.sum(F.xxhash64("raw") % 1000000007).alias("h"), *flags)
        .collect()
    )
    names = list(attributes)
    invalid = {name: 0 for name, kind in attributes.items() if kind in ("NUMERIC", "BINARY")}
    out = {"rows_in": 0, "reasons": {}, "hash": 0, "invalid": invalid}
    for row in rows:
        out["rows_in"] += int(row["n"])
        out["hash"] += int(row["h"] or 0)
        if row["_reason"] is not None:
            out["reasons"][row["_reason"]] = int(row["n"])
        for i, name in enumerate(names):
            if name in invalid and row["_reason"] is None:
                invalid[name] += int(row[f"i{i}"] or 0)
    return out


# --- the reader -------------------------------------------------------------------------------


def _target(schema: Dict[str, Any], require_target: bool) -> Optional[str]:
    target = schema.get("targetAttributeName")
    if require_target and not target:
        raise UsageError("--schema: targetAttributeName is not set; training and evaluation need a target")
    return target


def _fingerprint(counts: Dict[str, Any], files: List[FileInfo]) -> str:
    text = f"{counts['rows_in']}:{counts['hash']}:{len(files)}"
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:32]


def read_datasource(
    spark, data_uri: str, schema: Dict[str, Any], *, require_target: bool, gate: bool = True
) -> Datasource:
    """Read a CSV datasource by the rules above; with gate, over 10,000 rejects raise (exit 3)."""
    from pyspark.sql import functions as F

    from features.schema import attribute_types

    target = _target(schema, require_target)
    attributes = attribute_types(schema)
    files = data_files(spark, data_uri)
    lines = read_lines(spark, files, normalize_uri(data_uri, "--data"))
    per_split = lines.groupBy("_fp", "_bs").agg(F.count(F.lit(1)).alias("n"), F.min("_mono").alias("low"))
    splits = collect_lines(spark, per_split.collect, files)
    placed = with_positions(lines, split_positions([(r["_fp"], r["_bs"], r["n"], r["low"]) for r in splits], files))
    if schema.get("dataFileContainsHeader"):
        headers = placed.where(F.col("_line") == 1).select("_source_file", "raw").collect()
        check_header([(r["_source_file"], r["raw"]) for r in headers], list(attributes))
        placed = placed.where(F.col("_line") > 1)
    blank = F.trim(F.col("raw")) == ""
    observations = placed.where(~blank)
    typed = type_values(parse_values(observations, list(attributes)), attributes, target if require_target else None)
    counts = observation_counts(typed, attributes)
    blank_lines = (
        sum(int(r["n"]) for r in splits)
        - counts["rows_in"]
        - (len(files) if schema.get("dataFileContainsHeader") else 0)
    )
    rows_rejected = sum(counts["reasons"].values())
    top = dict(sorted(counts["reasons"].items(), key=lambda kv: -kv[1])[:5])
    if gate:
        check_reject_gate(counts["rows_in"], rows_rejected, RejectPolicy(), top)
    good = typed.where(F.col("_reason").isNull()).select(*[F.col(n) for n in attributes], "_source_file", "_row")
    bad = typed.where(F.col("_reason").isNotNull()).select(
        F.substring("raw", 1, MAX_RAW_BYTES).alias("raw"),
        F.col("_source_file").alias("source_file"),
        F.col("_line").alias("line"),
        F.col("_reason").alias("reason"),
    )
    return Datasource(
        rows=good,
        rejects=bad,
        rows_in=counts["rows_in"],
        rows_rejected=rows_rejected,
        files=[f.uri for f in files],
        reasons=top,
        invalid=counts["invalid"],
        fingerprint=_fingerprint(counts, files),
        blank_lines=max(0, blank_lines),
        source=normalize_uri(data_uri, "--data"),
    )


def read_table_datasource(spark, table_uri: str, schema: Dict[str, Any], *, require_target: bool) -> Datasource:
    """A lake (Delta) table as a datasource: the schema's attributes by name, typed as from CSV."""
    from pyspark.sql import functions as F

    from features.schema import attribute_types

    target = _target(schema, require_target)
    if not exists(spark, join(table_uri, "_delta_log")):
        raise UsageError(f"--table: no Delta table at {table_uri}; check the name, or run its ingest job first")
    table = read_table(spark, table_uri)
    attributes = attribute_types(schema)
    missing = [n for n in attributes if n not in table.columns and (n != target or require_target)]
    if missing:
        raise UsageError(f"--schema: attribute(s) {', '.join(missing)} are not columns of the table {table_uri}")
    present = {n: k for n, k in attributes.items() if n in table.columns}
    raw = F.to_json(F.struct(*[F.col(n) for n in present]))
    strings = table.select(
        raw.alias("raw"),
        F.lit(None).cast("long").alias("_line"),
        F.monotonically_increasing_id().alias("_row"),
        F.lit(table_uri).alias("_source_file"),
        *[F.col(n).cast("string").alias(n) for n in present],
        F.lit(None).cast("string").alias("_reason"),
    )
    typed = type_values(strings, present, target if require_target else None)
    counts = observation_counts(typed, present)
    rows_rejected = sum(counts["reasons"].values())
    top = dict(sorted(counts["reasons"].items(), key=lambda kv: -kv[1])[:5])
    check_reject_gate(counts["rows_in"], rows_rejected, RejectPolicy(), top)
    return Datasource(
        rows=typed.where(F.col("_reason").isNull()).select(*present, "_source_file", "_row"),
        rejects=typed.where(F.col("_reason").isNotNull()).select(
            "raw",
            F.col("_source_file").alias("source_file"),
            F.col("_line").alias("line"),
            F.col("_reason").alias("reason"),
        ),
        rows_in=counts["rows_in"],
        rows_rejected=rows_rejected,
        files=[table_uri],
        reasons=top,
        invalid=counts["invalid"],
        fingerprint="sha256:" + hashlib.sha256(f"{counts['rows_in']}:{counts['hash']}".encode()).hexdigest()[:32],
        source=table_uri,
    )

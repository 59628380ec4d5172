"""The files of one DMS table folder: which are full load and which CDC, in apply order, and reading them."""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Tuple

from core.errors import UsageError
from core.files import read_paths, source_file_col
from core.lake import FileInfo
from jobs.ingest_dms.conf import TableSpec

LOAD_RE = re.compile(r"^(?:SEGMENT(\d+)_)?LOAD([0-9A-Fa-f]{8})\.(csv|parquet)(\.gz)?$")
DATA_FILE_RE = re.compile(r"\.(csv|parquet)(\.gz)?$")


def load_sort_key(relative: str) -> Optional[Tuple[str, int, int]]:
    """Sort key of a full-load file (folder, segment, hex counter), or None when it is not one."""
    folder, _, base = relative.rpartition("/")
    match = LOAD_RE.match(base)
    if not match:
        return None
    segment = int(match.group(1)) if match.group(1) is not None else -1
    return folder, segment, int(match.group(2), 16)


def cdc_sort_key(relative: str) -> Tuple[str, str]:
    """Sort key of a CDC file: its name (the timestamp DMS writes), then its path (date folders)."""
    return relative.rpartition("/")[2], relative


def file_format(relative: str) -> Optional[str]:
    """csv or parquet from the file name, None for anything else."""
    match = DATA_FILE_RE.search(relative)
    return match.group(1) if match else None


def classify_files(files: List[FileInfo], base: str, fmt: str) -> Tuple[List[FileInfo], List[FileInfo], List[str]]:
    """(full-load files in counter order, CDC files in name order, ignored URIs) of one table folder."""
    loads, cdcs, ignored = [], [], []
    prefix = base.rstrip("/") + "/"
    for info in files:
        relative = info.uri[len(prefix) :] if info.uri.startswith(prefix) else info.uri
        if file_format(relative) != fmt:
            ignored.append(info.uri)
        elif load_sort_key(relative) is not None:
            loads.append((load_sort_key(relative), info))
        else:
            cdcs.append((cdc_sort_key(relative), info))
    return (
        [info for _, info in sorted(loads, key=lambda pair: pair[0])],
        [info for _, info in sorted(cdcs, key=lambda pair: pair[0])],
        ignored,
    )


def read_options(spec: TableSpec) -> Dict[str, str]:
    """Spark CSV options for DMS CSV: RFC 4180 quotes, quoted newlines, CsvNullValue, no header."""
    return {
        "header": "false",
        "sep": spec.csv_delimiter,
        "quote": '"',
        "escape": '"',
        "multiLine": "true",
        "nullValue": spec.csv_null_value,
        "mode": "PERMISSIVE",
        "columnNameOfCorruptRecord": "_corrupt",
        "enforceSchema": "true",
    }


def csv_schema(spec: TableSpec, with_op: bool):
    """All-string read schema: [Op] + declared columns + the corrupt-record column."""
    from pyspark.sql.types import StringType, StructField, StructType

    names = (["Op"] if with_op else []) + spec.column_names + ["_corrupt"]
    return StructType([StructField(name, StringType(), True) for name in names])


def with_file_position(df, fmt: str):
    """Add _file (the listed URI), _fname (base name) and _pos (increasing within a file) right after the read."""
    from pyspark.sql import functions as F

    pos = F.col("_metadata.row_index") if fmt == "parquet" else F.monotonically_increasing_id()
    return df.select(
        "*",
        pos.cast("long").alias("_pos"),
        source_file_col(F.col("_metadata.file_path")).alias("_file"),
        F.col("_metadata.file_name").alias("_fname"),
    )


def read_files(spark, spec: TableSpec, uris: List[str], has_op: bool):
    """Raw rows of the given files with _file/_fname/_pos; (DataFrame, extra Parquet columns, op present).

    Each file is read by its literal name (glob characters escaped: core.files)."""
    paths = read_paths(uris)
    if spec.format == "csv":
        reader = spark.read.schema(csv_schema(spec, has_op)).options(**read_options(spec))
        return with_file_position(reader.csv(paths), "csv"), [], has_op
    df = spark.read.option("mergeSchema", "true").parquet(*paths)
    lower = {c.lower() for c in spec.column_names}
    present_op = "Op" in df.columns
    for name in spec.column_names:
        if name not in df.columns:
            raise UsageError(
                f"--tables table {spec.name}: column {name} is not in the Parquet files "
                f"({', '.join(df.columns)}); update columns in CONF"
            )
    extra = [c for c in df.columns if c != "Op" and c.lower() not in lower]
    return with_file_position(df, "parquet"), extra, present_op

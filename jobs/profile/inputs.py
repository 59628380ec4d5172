"""What a profile reads: an Amazon ML CSV datasource, a lake table or a feature set, with its types.

- `--data URI [--schema URI]`: read by ml.datasource (the CSV rules; the schema defaults to
  Amazon ML's location `<file>.schema` / `<prefix>/.schema`); its rejected lines are the run's
  rejects, its invalid counts per attribute are the profile's.
- `--table NAME [--schema URI]`: `<lake>/tables/NAME`, every row.
- `--features SET [--schema URI]`: `<lake>/features/SET`, the partition run_date = --run-date,
  without the `features` vector, `label` and `run_date`.
With a schema, its attributes are profiled under its types (rowId and excluded attributes are
listed as skipped) and its target is the correlation target; every attribute must be a column.
Without one, types are inferred (see prepare.py), columns starting with `_` are bookkeeping
and skipped, and `--target` may name the target column.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from core.errors import UsageError
from core.lake import exists, join
from core.tables import read_table
from ml.datasource import read_schema

FEATURE_BOOKKEEPING = ("features", "label", "run_date")


@dataclass
class Source:
    """A profiled input: its rows, types (None: inferred), target, and the counts of its read."""

    form: str
    name: str
    frame: object
    types: Optional[Dict[str, str]]
    target: Optional[str]
    inputs: List[str]
    schema_uri: Optional[str] = None
    skip: List[str] = field(default_factory=list)
    skipped: Dict[str, str] = field(default_factory=dict)
    rows_in: Optional[int] = None  # known from the reader; else pass 1 counts it
    rows_rejected: int = 0
    reasons: Dict[str, int] = field(default_factory=dict)
    rejects: object = None
    invalid: Optional[Dict[str, int]] = None  # per attribute, when the reader typed the values


def schema_types(schema: dict) -> Dict[str, str]:
    """The attributes a profile covers: features and target, in schema order."""
    from features.schema import attribute_types, feature_attributes

    keep = set(feature_attributes(schema)) | {schema.get("targetAttributeName")}
    return {n: k for n, k in attribute_types(schema).items() if n in keep}


def schema_skipped(schema: dict) -> Dict[str, str]:
    """The schema's attributes a profile leaves out, with the reason."""
    out = {name: "excluded (excludedAttributeNames)" for name in schema.get("excludedAttributeNames") or []}
    if schema.get("rowId"):
        out[schema["rowId"]] = "rowId (an identifier, never a feature)"
    return out


def check_columns(frame, types: Dict[str, str], where: str, schema_uri: str) -> None:
    """Every schema attribute must be a column of the input (exit 2 naming them)."""
    missing = [n for n in types if n not in frame.columns]
    if missing:
        raise UsageError(
            f"--schema {schema_uri}: attribute(s) {', '.join(missing)} not found in {where} "
            f"(its columns: {', '.join(frame.columns)}); fix the schema or the input"
        )


def apply_schema(spark, source: Source, schema_uri: Optional[str], where: str) -> Source:
    """Types, target and skipped attributes from the schema, checked against the columns."""
    if schema_uri is None:
        source.skip = [c for c in source.frame.columns if c.startswith("_")] + source.skip
        return source
    schema = read_schema(spark, schema_uri)
    source.types = schema_types(schema)
    source.target = schema.get("targetAttributeName")
    source.schema_uri = schema_uri
    source.skipped = schema_skipped(schema)
    check_columns(source.frame, source.types, where, schema_uri)
    return source


def read_delta(spark, uri: str, flag: str, what: str):
    """A Delta table of the lake; exit 2 when there is none."""
    if not exists(spark, join(uri, "_delta_log")):
        raise UsageError(f"{flag}: no {what} at {uri}; check the name, or run the job that writes it first")
    return read_table(spark, uri)


def from_table(spark, lake, name: str, schema_uri: Optional[str]) -> Source:
    """A lake table, every row."""
    uri = lake.table(name)
    frame = read_delta(spark, uri, "--table", "table")
    return apply_schema(spark, Source("table", name, frame, None, None, [uri]), schema_uri, f"table {uri}")


def from_features(spark, lake, name: str, run_date: str, schema_uri: Optional[str]) -> Source:
    """A feature set's partition for the run date, without its vector and label."""
    from pyspark.sql import functions as F

    uri = lake.features(name)
    frame = read_delta(spark, uri, "--features", "feature set")
    if "run_date" in frame.columns:
        frame = frame.where(F.col("run_date") == F.lit(run_date).cast("date"))
    source = Source("features", name, frame, None, None, [uri], skip=list(FEATURE_BOOKKEEPING))
    source = apply_schema(spark, source, schema_uri, f"feature set {uri}")
    source.frame = frame.drop(*[c for c in FEATURE_BOOKKEEPING if c in frame.columns])
    return source


def data_name(data_uri: str) -> str:
    """A datasource's report name: its file or folder name without extensions."""
    base = posixpath.basename(data_uri.rstrip("/")) or "data"
    return base.split(".")[0] or "data"


def from_data(spark, data_uri: str, schema_uri: Optional[str]) -> Source:
    """An Amazon ML CSV datasource read by ml.datasource (rejects and invalid counts included)."""
    from ml.datasource import default_schema_uri, read_datasource

    if schema_uri is None:
        schema_uri = default_schema_uri(spark, data_uri)
        if not exists(spark, schema_uri):
            raise UsageError(f"--data {data_uri}: no --schema given and no schema at {schema_uri}; pass --schema URI")
    schema = read_schema(spark, schema_uri)
    ds = read_datasource(spark, data_uri, schema, require_target=False)
    source = Source("data", data_name(data_uri), ds.rows, schema_types(schema), schema.get("targetAttributeName"), [])
    source.inputs = list(ds.files)
    source.schema_uri = schema_uri
    source.skipped = schema_skipped(schema)
    source.rows_in, source.rows_rejected, source.reasons = ds.rows_in, ds.rows_rejected, dict(ds.reasons)
    source.rejects, source.invalid = ds.rejects, dict(ds.invalid)
    return source

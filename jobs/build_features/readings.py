"""The `windows` base of build_features: readings read (a lake table or a CSV datasource), cut into windows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional

from core.errors import UsageError
from core.lake import exists, join, normalize_uri
from core.tables import read_table
from jobs.build_features.conf import Config, resolve


@dataclass
class ReadingsRead:
    """The readings of a run: rows, the rejected lines (CSV only) and the counts."""

    rows: Any
    rows_in: int
    rows_rejected: int
    rejects: Any
    files: List[str]
    reasons: dict


def data_uri(lake, data: str) -> str:
    """The readings' URI: as given when it has a scheme or is absolute, else relative to the lake."""
    if "://" in data or data.startswith("/"):
        return normalize_uri(data, "--config field windows.readings.data")
    return join(lake.root, data)


def read_readings(spark, config: Config, lake, read_table) -> ReadingsRead:
    """The readings the windows section names, typed; CSV rejects kept for the quarantine."""
    from ml.datasource import default_schema_uri, read_datasource, read_schema

    readings = config.windows.readings
    if readings.table is not None:
        df = read_table(readings.table)
        return ReadingsRead(df, df.count(), 0, None, [lake.table(readings.table)], {})
    uri = data_uri(lake, readings.data)
    if readings.schema_file:
        schema_uri = resolve(readings.schema_file, "windows.readings.schema_file", config.conf_uri)
    else:
        schema_uri = default_schema_uri(spark, uri)
    schema = read_schema(spark, schema_uri, "--config field windows.readings.schema_file")
    ds = read_datasource(spark, uri, schema, require_target=False)
    rows = ds.rows.drop("_source_file", "_row")
    return ReadingsRead(rows, ds.rows_in, ds.rows_rejected, ds.rejects, ds.files, ds.reasons)


def check_readings(df, config: Config) -> None:
    """The columns the windows section names exist in the readings (exit 2 naming the field)."""
    w = config.windows
    named = {"entity": w.entity, "order": (w.order,), "channels": w.channels, "label": (w.label,) if w.label else ()}
    for field_name, columns in named.items():
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise UsageError(
                f"--config: field windows.{field_name}: the readings have no column(s) {', '.join(missing)}; "
                f"columns: {', '.join(df.columns)}"
            )


def window_base(readings: ReadingsRead, config: Config):
    """One row per window (features.windows.window_features), `_reason` null: windows have unique keys."""
    from pyspark.sql import functions as F

    from features.windows import window_features

    check_readings(readings.rows, config)
    windows = window_features(readings.rows, config.windows.spec())
    return windows.withColumn("_reason", F.lit(None).cast("string"))


def table_exists(spark, uri: str) -> bool:
    """A Delta table is at the URI."""
    return exists(spark, join(uri, "_delta_log"))


def load_table(spark, uri: str, name: str, inputs: Optional[List[str]] = None):
    """A lake table as a DataFrame; exit 1 with what to do when it is missing."""
    from core.errors import LakemlError

    if not table_exists(spark, uri):
        raise LakemlError(f"table {name} not found at {uri}; run its ingest job first, or fix --config")
    if inputs is not None:
        inputs.append(uri)
    return read_table(spark, uri)

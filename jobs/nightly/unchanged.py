"""Skip a train step whose input has not changed since the version it last produced.

A night re-run for the same date (or a night with no new data) must not add a model version.
The fingerprint is the step's flags (without its run id) plus an order-independent hash of the
input rows (the sum and count of `xxhash64` over every non-vector column of the feature set's
run date, or of the lake table), one aggregation. The last fingerprint and the version it
produced are kept in `<lake>/_state/nightly/train/<name>.json`, written after the train step.
"""

from __future__ import annotations

import hashlib
import json
from typing import List, Optional

from core.lake import Lake, exists, join, read_text, write_text
from core.tables import read_run_date, read_table

FLAGS_WITHOUT_EFFECT = ("--run-id", "--log-level")


def record_uri(lake: Lake, name: str) -> str:
    """Where the last fingerprint of a model's train step is kept."""
    return lake.state("nightly", "train", f"{name}.json")


def flags_key(argv: List[str]) -> List[str]:
    """The argv without the flags that do not change what is trained."""
    out, skip = [], False
    for item in argv:
        if skip:
            skip = False
        elif item in FLAGS_WITHOUT_EFFECT:
            skip = True
        else:
            out.append(item)
    return out


def rows_hash(df) -> str:
    """Sum and count of xxhash64 over the non-vector columns: equal for the same rows in any order."""
    from pyspark.sql import functions as F

    columns = sorted(f.name for f in df.schema.fields if f.dataType.typeName() not in ("vector", "udt"))
    row = df.select(F.xxhash64(*[F.col(c) for c in columns]).cast("decimal(38,0)").alias("h")).agg(
        F.sum("h").alias("s"), F.count(F.lit(1)).alias("n")
    )
    first = row.first()
    return f"{first['s']}:{first['n']}:{','.join(columns)}"


def input_fingerprint(spark, lake: Lake, argv: List[str], value) -> Optional[str]:
    """The step's fingerprint, or None when its input form is not one this knows (then it always trains)."""

    features, table, run_date = value(argv, "--features"), value(argv, "--table"), value(argv, "--run-date")
    if features:
        uri = lake.features(features)
        if not exists(spark, join(uri, "_delta_log")):
            return None
        df = read_run_date(spark, uri, run_date)
    elif table:
        uri = lake.table(table)
        if not exists(spark, join(uri, "_delta_log")):
            return None
        df = read_table(spark, uri)
    else:
        return None
    text = json.dumps({"flags": flags_key(argv), "rows": rows_hash(df)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def unchanged_version(spark, lake: Lake, name: str, fingerprint: Optional[str]) -> Optional[str]:
    """The version the same fingerprint produced, when it is still a complete version in the registry."""
    from ml.registry import list_versions

    text = read_text(spark, record_uri(lake, name)) if fingerprint else None
    if not text:
        return None
    record = json.loads(text)
    if record.get("fingerprint") != fingerprint:
        return None
    versions = {kept.version for kept in list_versions(spark, lake, name)}
    return record.get("version") if record.get("version") in versions else None


def remember(spark, lake: Lake, name: str, fingerprint: Optional[str], version: Optional[str]) -> None:
    """Keep the fingerprint and the version it produced."""
    if fingerprint and version:
        write_text(spark, record_uri(lake, name), json.dumps({"fingerprint": fingerprint, "version": version}) + "\n")

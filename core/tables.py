"""Delta table reads and writes, the few forms every job uses: read a table, replace the rows a predicate
selects (a run date's partition, a run's source files), and commit rows once per transaction id.

Every write is one Delta commit. Lake URIs are taken in any spelling `core.lake` accepts; Spark opens them
through `spark_uri`.
"""

from __future__ import annotations

import json
from typing import Dict, Optional, Sequence

from core.lake import spark_uri


def read_table(spark, uri: str, version: Optional[int] = None):
    """The Delta table at a lake URI (as of `version` when given)."""
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(spark_uri(uri))


def read_run_date(spark, uri: str, run_date: str):
    """The rows of one run date (`run_date` column, YYYY-MM-DD) of a Delta table."""
    from pyspark.sql import functions as F

    return read_table(spark, uri).where(F.col("run_date") == F.to_date(F.lit(run_date)))


def replace_rows(
    rows,
    uri: str,
    where: str,
    partition_by: Sequence[str] = ("run_date",),
    merge_schema: bool = True,
    options: Optional[Dict[str, str]] = None,
) -> None:
    """Replace what the predicate `where` selects with these rows, in one commit (a re-run replaces, never adds).

    merge_schema: a table written before a column existed takes it; options: further Delta writer options."""
    writer = rows.write.format("delta").mode("overwrite").option("replaceWhere", where)
    if merge_schema:
        writer = writer.option("mergeSchema", "true")
    for name, value in (options or {}).items():
        writer = writer.option(name, value)
    writer.partitionBy(*partition_by).save(spark_uri(uri))


def commit_once(
    rows,
    uri: str,
    mode: str,
    app_id: str,
    version: int,
    metadata: dict,
    options: Optional[Dict[str, str]] = None,
) -> None:
    """Write rows (mode `append` or `overwrite`) in one commit that Delta skips when the transaction id
    (app_id, version) has committed already: a resumed run never writes a step twice. metadata is stored
    as the commit's userMetadata."""
    writer = (
        rows.write.format("delta")
        .mode(mode)
        .option("txnAppId", app_id)
        .option("txnVersion", version)
        .option("userMetadata", json.dumps(metadata))
    )
    for name, value in (options or {}).items():
        writer = writer.option(name, value)
    writer.save(spark_uri(uri))


def create_empty(rows, uri: str) -> None:
    """Create a table with the rows' schema and no rows, unless one exists there."""
    rows.limit(0).write.format("delta").mode("ignore").save(spark_uri(uri))

"""The Delta side of ingest_dms: idempotent commits (txnAppId/txnVersion), MERGE of changes, SCD2 history."""

from __future__ import annotations

import contextlib
import json
from typing import Dict, Iterator, List

from core.errors import LakemlError
from core.lake import spark_uri
from core.session import session_confs
from core.tables import commit_once, create_empty, read_table
from jobs.ingest_dms.changes import STALE, UTC_TEXT, merge_assignments, rebuild_history
from jobs.ingest_dms.conf import TableSpec


def txn_confs(app_id: str, version: int, metadata: dict) -> Dict[str, str]:
    """Confs that make the next Delta DML commit idempotent (txnAppId/txnVersion) and labelled."""
    return {
        "spark.databricks.delta.write.txnAppId": app_id,
        "spark.databricks.delta.write.txnVersion": str(version),
        "spark.databricks.delta.commitInfo.userMetadata": json.dumps(metadata),
    }


def new_table_confs(spec: TableSpec) -> Dict[str, str]:
    """Table properties for tables this job creates: deletion vectors when the CONF keeps them on."""
    return {"spark.databricks.delta.properties.defaults.enableDeletionVectors": str(spec.deletion_vectors).lower()}


def delta_exists(spark, uri: str) -> bool:
    """True when a Delta table is at the URI."""
    from delta.tables import DeltaTable

    return bool(DeltaTable.isDeltaTable(spark, spark_uri(uri)))


def create_table(spark, spec: TableSpec, uri: str, rows) -> None:
    """Create the table with the rows' schema and no rows, unless it exists."""
    if not delta_exists(spark, uri):
        with session_confs(spark, new_table_confs(spec)):
            create_empty(rows, uri)


def overwrite(spark, spec: TableSpec, path: str, rows, app_id: str, version: int, metadata: dict) -> None:
    """Replace the table's rows (and schema) in one idempotent commit."""
    with session_confs(spark, new_table_confs(spec)):
        commit_once(rows, path, "overwrite", app_id, version, metadata, {"overwriteSchema": "true"})


def add_columns(spark, path: str, source, app_id: str, version: int, metadata: dict) -> List[str]:
    """Add the source's columns the table lacks (schema drift), as one idempotent zero-row append."""
    target = read_table(spark, path)
    missing = [c for c in source.columns if c.lower() not in {t.lower() for t in target.columns}]
    if missing:
        commit_once(source.limit(0), path, "append", app_id, version, metadata, {"mergeSchema": "true"})
    return missing


def merge_changes(spark, path: str, reduced, key: List[str], columns: List[str], partial: bool) -> None:
    """One MERGE: D deletes, I/U upsert, changes older than the stored row ignored."""
    from delta.tables import DeltaTable

    condition = " AND ".join(f"t.`{k}` = s.`{k}`" for k in key)
    assignments = merge_assignments(columns, key, partial)
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(reduced.alias("s"), condition)
        .whenMatchedDelete(condition=f"s._op = 'D' AND NOT {STALE}")
        .whenMatchedUpdate(condition=f"s._op <> 'D' AND NOT {STALE}", set=assignments)
        .whenNotMatchedInsert(condition="s._op <> 'D'", values={k: f"s.`{k[1:-1]}`" for k in assignments})
        .execute()
    )


def merge_matched(spark, path: str, reduced, condition, columns: List[str], key: List[str], partial: bool) -> None:
    """A MERGE without an insert clause (D deletes, I/U update, stale ignored): the target is joined, not shuffled."""
    from delta.tables import DeltaTable

    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(reduced.alias("s"), condition)
        .whenMatchedDelete(condition=f"s._op = 'D' AND NOT {STALE}")
        .whenMatchedUpdate(condition=f"s._op <> 'D' AND NOT {STALE}", set=merge_assignments(columns, key, partial))
        .execute()
    )


def append(path: str, rows, app_id: str, version: int, metadata: dict) -> None:
    """Append rows in one idempotent commit (skipped when the app id has committed this version)."""
    commit_once(rows, path, "append", app_id, version, metadata)


def optimize_zorder(spark, path: str, key: List[str]) -> Dict[str, int]:
    """OPTIMIZE ... ZORDER BY the key, so that a batch's key range skips files; files removed and added."""
    from delta.tables import DeltaTable

    metrics = DeltaTable.forPath(spark, path).optimize().executeZOrderBy(*key).collect()[0]["metrics"]
    return {"files_removed": int(metrics["numFilesRemoved"]), "files_added": int(metrics["numFilesAdded"])}


def close_and_append_history(spark, path: str, rows, key: List[str]) -> None:
    """SCD2 for a full load: close every current row at the load's time, append the load's rows."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    target = read_table(spark, path)
    first = rows.agg(F.date_format(F.min("valid_from"), UTC_TEXT).alias("_close")).collect()[0]["_close"]
    closing = target.where("is_current").select(*key).distinct().withColumn("_close", F.lit(first).cast("timestamp"))
    staged = closing.select(*key, "_close", F.lit(True).alias("_closing")).unionByName(
        rows.withColumn("_close", F.lit(None).cast("timestamp")).withColumn("_closing", F.lit(False)),
        allowMissingColumns=True,
    )
    condition = "s._closing AND t.is_current AND " + " AND ".join(f"t.`{k}` = s.`{k}`" for k in key)
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(staged.alias("s"), condition)
        .whenMatchedUpdate(set={"valid_to": "s._close", "is_current": "false"})
        .whenNotMatchedInsert(condition="NOT s._closing", values={f"`{c}`": f"s.`{c}`" for c in rows.columns})
        .execute()
    )


def rebuild_history_keys(spark, path: str, ranked, key: List[str]) -> None:
    """SCD2 for CDC: the batch's keys' rows replaced by their history rebuilt with the new changes, one MERGE."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    target = read_table(spark, path)
    touched = ranked.select(*key).distinct()
    rebuilt = rebuild_history(target.join(touched, key, "left_semi"), ranked, key)
    staged = touched.withColumn("_drop", F.lit(True)).unionByName(
        rebuilt.withColumn("_drop", F.lit(False)), allowMissingColumns=True
    )
    condition = "s._drop AND " + " AND ".join(f"t.`{k}` = s.`{k}`" for k in key)
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(staged.alias("s"), condition)
        .whenMatchedDelete()
        .whenNotMatchedInsert(condition="NOT s._drop", values={f"`{c}`": f"s.`{c}`" for c in target.columns})
        .execute()
    )


def last_metrics(spark, path: str) -> Dict[str, int]:
    """Row counts of the table's last commit (inserted, updated, deleted, output)."""
    from delta.tables import DeltaTable

    row = DeltaTable.forPath(spark, path).history(1).select("operation", "operationMetrics").collect()[0]
    metrics = row["operationMetrics"] or {}
    wanted = ("numTargetRowsInserted", "numTargetRowsUpdated", "numTargetRowsDeleted", "numOutputRows")
    return {k: int(v) for k, v in metrics.items() if k in wanted}


CONFLICTS = (
    "ConcurrentAppendException",
    "ConcurrentDeleteReadException",
    "ConcurrentDeleteDeleteException",
    "ConcurrentTransactionException",
    "ConcurrentWriteException",
    "MetadataChangedException",
    "ProtocolChangedException",
    "DeltaConcurrentModificationException",
)


def is_commit_conflict(error: BaseException) -> bool:
    """True for Delta's optimistic-concurrency failures (another writer committed first), however surfaced."""
    from delta.exceptions import DeltaConcurrentModificationException

    if isinstance(error, DeltaConcurrentModificationException):
        return True
    text = f"{type(error).__name__}: {str(error)[:2000]}"
    return any(name in text for name in CONFLICTS)


@contextlib.contextmanager
def one_run_per_table(name: str) -> Iterator[None]:
    """Turn a lost Delta commit race into one line (exit 1); the batch stays pending for the next run."""
    try:
        yield
    except Exception as error:
        if not is_commit_conflict(error):
            raise
        raise LakemlError(
            f"table {name}: another run holds the table (a concurrent Delta commit won); this run stopped with "
            "its batch pending and the next run completes it: run again once the other run has finished"
        ) from None

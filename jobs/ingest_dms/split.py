"""The split apply plan's two commits (docs/dms.md section 8), and `--optimize`."""

from __future__ import annotations

from typing import Dict, List, Optional

from core.context import RunContext
from core.log import logger, stage
from core.session import session_confs
from core.tables import read_table
from jobs.ingest_dms.apply import aligned, broadcast_if_small, cached_batch, key_bounds, key_condition, new_keys
from jobs.ingest_dms.batch import STEP_CDC, Plan, txn_version
from jobs.ingest_dms.conf import IngestDmsSettings, TableSpec
from jobs.ingest_dms.delta_io import append, delta_exists, last_metrics, merge_matched, optimize_zorder
from jobs.ingest_dms.target import TableResult, Target


def apply_split(
    spark, target: Target, plan: Plan, source, columns: List[str], meta: dict, confs: dict, result: TableResult
) -> None:
    """Split plan: a matched-only MERGE inside the batch's key range, then an append of the keys the table lacks.

    Each commit is idempotent (the MERGE under the table's app id, the append under `<app id>:insert`), so a
    run killed between them resumes with the append; readers in between see the updates, not yet the inserts."""
    spec = target.spec
    key = list(spec.key)
    source = cached_batch(source)
    try:
        bounds = key_bounds(source, key)
        condition = key_condition(key, bounds)
        with session_confs(spark, confs):
            merge_matched(spark, target.path, broadcast_if_small(source), condition, columns, key, spec.partial_updates)
        matched = {} if plan.resumed else last_metrics(spark, target.path)
        after_matched_merge(spark, target)
        stored = read_table(spark, target.path)
        inserts = aligned(new_keys(stored, source, key, bounds), stored.columns, stored.schema)
        version, step_meta = txn_version(plan.batch, STEP_CDC), {**meta, "step": "cdc-insert"}
        append(target.path, inserts, target.app_id + ":insert", version, step_meta)
    finally:
        source.unpersist()
    if not plan.resumed:
        inserted = last_metrics(spark, target.path).get("numOutputRows", 0)
        result.merge = {**{k: v for k, v in matched.items() if k != "numOutputRows"}, "numTargetRowsInserted": inserted}


def after_matched_merge(spark, target: Target) -> None:
    """Called between the two commits of the split plan (tests simulate a kill or read the table here)."""
    logger.info("table %s: split plan: matched rows committed, appending new keys", target.spec.name)


def optimize_table(
    spark, context: RunContext, settings: IngestDmsSettings, spec: TableSpec
) -> Optional[Dict[str, float]]:
    """`--optimize`: OPTIMIZE the table ZORDER BY its key (so a batch's key range skips files); files and seconds."""
    import time

    target = Target.of(context.lake, settings.input, spec)
    if not delta_exists(spark, target.table_uri):
        return None
    with stage(f"optimize {spec.name}") as counts:
        started = time.monotonic()
        counts.update(optimize_zorder(spark, target.path, list(spec.key)))
        counts["seconds_total"] = round(time.monotonic() - started, 3)
    return dict(counts)

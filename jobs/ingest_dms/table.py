"""One table's run: plan the batch, read and count its changes, gate, apply, record history, commit the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from core.context import RunContext
from core.errors import LakemlError, QualityGateError, UsageError
from core.files import list_tree
from core.log import logger, stage
from core.session import session_confs
from core.tables import read_table
from jobs.ingest_dms import batch as ledgers
from jobs.ingest_dms.apply import choose_plan, rebuilt_rows
from jobs.ingest_dms.batch import (
    STEP_CDC,
    STEP_CDC_SCHEMA,
    STEP_LOAD,
    STEP_LOAD_SCHEMA,
    Plan,
    commit_plan,
    plan_batch,
    txn_version,
    with_pending,
)
from jobs.ingest_dms.changes import (
    SEQ_COL,
    TS_COL,
    UTC_TEXT,
    apply_to_rows,
    history_rows,
    last_change_per_key,
    normalize_changes,
    not_older_than,
    one_change_per_key,
    ranked_history_rows,
    repeated_keys,
    table_rows,
    union_all,
)
from jobs.ingest_dms.conf import IngestDmsSettings, TableSpec
from jobs.ingest_dms.delta_io import (
    add_columns,
    close_and_append_history,
    create_table,
    delta_exists,
    last_metrics,
    merge_changes,
    one_run_per_table,
    overwrite,
    rebuild_history_keys,
    txn_confs,
)
from jobs.ingest_dms.files import classify_files, read_files
from jobs.ingest_dms.split import apply_split
from jobs.ingest_dms.target import JOB, TableResult, Target


@dataclass
class Part:
    """The changes of one kind (full load or CDC) of a batch, and the time of its first valid change (UTC text)."""

    kind: str
    changes: object
    extra: List[str]
    first_change: Optional[str] = None


def plan_table(spark, settings: IngestDmsSettings, target: Target, ledger: dict, result: TableResult):
    """(the next batch or None, the LOAD files, the CDC files) of the table's folder; ignored files counted."""
    spec = target.spec
    with stage(f"plan {spec.name}") as counts:
        listing = list_tree(spark, target.base)
        loads, cdcs, ignored = classify_files(listing.files, target.base, spec.format)
        if ignored:
            logger.warning(
                "table %s: ignoring %d files that are not %s: %s", spec.name, len(ignored), spec.format, ignored[:5]
            )
        result.files_ignored = len(ignored) + len(listing.ignored)  # wrong format, hidden or underscore
        result.empty_files = [info.uri for info in cdcs if info.size == 0]
        exists = delta_exists(spark, target.table_uri)
        plan = plan_batch(ledger, loads, cdcs, settings.full_reload, exists, by_file_time=not spec.timestamp_column)
        counts.update(load_files=len(loads), cdc_files=len(cdcs), new=len(plan.files) if plan else 0)
    return plan, loads, cdcs


def check_plan(target: Target, plan: Plan, loads, cdcs) -> None:
    """Refuse a batch that cannot be applied: no full load to rebuild from, or files of a pending batch gone."""
    if plan.full and not loads and not plan.resumed:
        raise UsageError(f"table {target.spec.name}: no LOAD files under {target.base}")
    present = {info.uri for info in loads + cdcs}
    missing = [u for u in plan.files if u not in present]
    if missing:
        raise LakemlError(
            f"table {target.spec.name}: batch {plan.batch} was interrupted and {len(missing)} of its files are gone "
            f"(e.g. {missing[0]}); run again with --full-reload to rebuild the table from the full load"
        )


def rows_without_batch(spark, target: Target, ledger: dict) -> int:
    """The table's row count when nothing is applied: the ledger's, else counted."""
    rows = ledger.get("rows_in_table")
    if rows is None:
        rows = read_table(spark, target.path).count() if delta_exists(spark, target.table_uri) else 0
    return rows


def read_parts(spark, spec: TableSpec, plan: Plan, empty: List[str]) -> List[Part]:
    """The batch's changes, typed: the full load (if any), then the CDC files (zero-byte ones skipped).

    The CDC part is cached for the passes over it; the full load is read again by each pass instead, since
    caching millions of rows with their file columns costs several times a re-read (bench/RESULTS.md)."""
    from pyspark import StorageLevel

    parts = []
    cdc_files = [uri for uri in plan.cdc_files if uri not in empty]  # an empty input: no rows, still applied
    for kind, uris, has_op in (("load", plan.load_files, spec.include_op_for_full_load), ("cdc", cdc_files, True)):
        if uris:
            raw, extra, present_op = read_files(spark, spec, uris, has_op)
            changes = normalize_changes(raw, spec, present_op, spec.format, extra)
            if kind == "cdc":
                changes = changes.persist(StorageLevel.MEMORY_AND_DISK)
            parts.append(Part(kind, changes, extra))
    return parts


def count_parts(spec: TableSpec, parts: List[Part], result: TableResult) -> Dict[str, int]:
    """Count rows, ops and reject reasons of every part, and find its first valid change, in one pass each.

    Returns the reasons; sets each part's `first_change` (the UTC text sorts as the times do)."""
    from pyspark.sql import functions as F

    reasons: Dict[str, int] = {}
    for part in parts:
        with stage(f"read {spec.name} {part.kind}") as counts:
            ops: Dict[str, int] = {}
            rows = 0
            first = F.date_format(F.min(TS_COL), UTC_TEXT).alias("first_change")
            for r in part.changes.groupBy("_op", "_reason").agg(F.count(F.lit(1)).alias("count"), first).collect():
                bucket, name = (reasons, r["_reason"]) if r["_reason"] is not None else (ops, r["_op"])
                bucket[name] = bucket.get(name, 0) + int(r["count"])
                rows += int(r["count"])
                if r["_reason"] is None and r["first_change"] is not None:
                    part.first_change = min(filter(None, (part.first_change, r["first_change"])))
            counts.update(rows=rows, **ops)
        for op, n in ops.items():
            label = "L" if part.kind == "load" else op
            result.ops[label] = result.ops.get(label, 0) + n
        result.rows_in += rows
    return reasons


def quarantine_and_gate(
    context: RunContext,
    settings: IngestDmsSettings,
    spec: TableSpec,
    changes,
    plan: Plan,
    rows_in: int,
    reasons: Dict[str, int],
) -> int:
    """Publish the batch's rejects; raise when the column count is off or the reject gate trips."""
    from pyspark.sql import functions as F

    from core.quality import RejectPolicy, check_reject_gate, publish_quarantine, sql_list, to_quarantine

    quarantine_uri = context.lake.quarantine(JOB)

    rejects = changes.where(F.col("_reason").isNotNull())
    reasons = dict(sorted(reasons.items(), key=lambda item: -item[1]))
    rejected = sum(reasons.values())
    if rejected:
        quarantine = to_quarantine(rejects, "_raw", "_file", "_reason", JOB, context.run_id, context.run_date)
        # keyed by file, not run date: a batch re-run on another day replaces its rejects
        publish_quarantine(quarantine, quarantine_uri, f"source_file IN ({sql_list(plan.files)})")
        logger.warning("table %s: %d rows quarantined: %s", spec.name, rejected, reasons)
    if reasons.get("column_count"):
        bad_files = sorted(
            r["_file"] for r in rejects.where("_reason = 'column_count'").select("_file").distinct().collect()
        )
        raise QualityGateError(
            f"table {spec.name}: {reasons['column_count']} rows in {', '.join(bad_files[:5])} do not have the "
            f"{len(spec.columns)} fields (after Op) that CONF declares; the source table's columns changed. "
            f"Update columns of {spec.name} in the CONF (--tables) to the new file layout, then run again; "
            f"the rows are in the quarantine ({quarantine_uri}). Nothing was applied to this table.",
            counts={"rows_in": rows_in, "rows_rejected": rejected, "reasons": reasons},
        )
    policy = RejectPolicy(max_fraction=settings.max_reject_fraction)
    check_reject_gate(rows_in, rejected, policy, reasons, quarantine_uri if rejected else None)
    return rejected


def load_time(spec: TableSpec, plan: Plan, parts: List[Part], ledger: dict) -> Optional[str]:
    """The time of the full load the table holds (docs/dms.md §5), as UTC text: this batch's, else the ledger's."""
    if not spec.timestamp_column:
        return None
    if plan.full:
        load = [p for p in parts if p.kind == "load"]
        return load[0].first_change if load else None
    return ledger.get("load_time")


def load_has_repeated_keys(spec: TableSpec, valid) -> bool:
    """Whether a full load holds a key more than once (a DMS full load is a snapshot: normally not)."""
    with stage(f"keys {spec.name} load") as counts:
        repeated = bool(repeated_keys(valid, list(spec.key)).limit(1).count())
        counts["repeated"] = repeated
    if repeated:
        logger.warning("table %s: the full load has keys more than once; the last in apply order is kept", spec.name)
    return repeated


def reduce_parts(spec: TableSpec, parts: List[Part], since) -> Dict[str, Tuple[object, object, List[str]]]:
    """kind -> (valid changes, last change per key, data columns) of every part; CDC older than `since` dropped.

    A full load with one row per key is taken as it is: the per-key window would sort every row for nothing."""
    from pyspark.sql import functions as F

    out = {}
    for part in parts:
        valid = part.changes.where(F.col("_reason").isNull())
        if part.kind == "cdc":
            valid = not_older_than(valid, since)
        columns = spec.column_names + part.extra
        if part.kind == "load" and not load_has_repeated_keys(spec, valid):
            last = one_change_per_key(valid, spec.partial_updates)
        else:
            last = last_change_per_key(valid, list(spec.key), columns, spec.partial_updates)
        out[part.kind] = (valid, last, columns)
    return out


def publish_load(spark, target: Target, plan: Plan, reduced, meta: dict, result: TableResult) -> None:
    """Rebuild the table from the full load, with the batch's newer CDC applied in the same commit."""
    spec = target.spec
    _, load_reduced, data_columns = reduced["load"]
    rebuilt = table_rows(load_reduced, data_columns)
    if "cdc" in reduced:  # CDC present at load time: applied to the rebuilt rows in the same commit
        _, cdc_reduced, cdc_columns = reduced["cdc"]
        result.added_columns += [c for c in cdc_columns if c not in data_columns]
        columns = data_columns + result.added_columns
        rebuilt = apply_to_rows(rebuilt, cdc_reduced, list(spec.key), [*columns, SEQ_COL, TS_COL], spec.partial_updates)
    with stage(f"load {spec.name}") as counts:
        step_meta = {**meta, "step": "load"}
        overwrite(spark, spec, target.path, rebuilt, target.app_id, txn_version(plan.batch, STEP_LOAD), step_meta)
        counts["batch"] = plan.batch


def publish_cdc(spark, target: Target, plan: Plan, reduced, meta: dict, result: TableResult) -> None:
    """Apply the batch's last change per key to the table by its plan (new columns added first)."""
    spec = target.spec
    _, cdc_reduced, data_columns = reduced["cdc"]
    create_table(spark, spec, target.table_uri, table_rows(cdc_reduced, data_columns))
    source = cdc_reduced.select(*data_columns, SEQ_COL, TS_COL, "_op", "_full")
    version = txn_version(plan.batch, STEP_CDC_SCHEMA)
    schema_meta = {**meta, "step": "schema"}
    result.added_columns += add_columns(
        spark, target.path, source.drop("_op", "_full"), target.app_id, version, schema_meta
    )
    with stage(f"{plan.apply_plan} {spec.name}") as counts:
        counts["why"] = repr(result.apply_plan["why"]) if result.apply_plan else "''"
        confs = txn_confs(target.app_id, txn_version(plan.batch, STEP_CDC), {**meta, "step": "cdc"})
        columns = [*data_columns, SEQ_COL, TS_COL]
        if plan.apply_plan == "split":
            apply_split(spark, target, plan, source, columns, meta, confs, result)
        elif plan.apply_plan == "rebuild":
            target_rows = read_table(spark, target.path)
            rows = rebuilt_rows(target_rows, source, list(spec.key), data_columns, spec.partial_updates)
            version, step_meta = txn_version(plan.batch, STEP_CDC), {**meta, "step": "cdc"}
            overwrite(spark, spec, target.path, rows, target.app_id, version, step_meta)
        else:
            with session_confs(spark, confs):
                merge_changes(spark, target.path, source, list(spec.key), columns, spec.partial_updates)
        if not plan.resumed and plan.apply_plan != "split":
            result.merge = last_metrics(spark, target.path)
        counts.update(batch=plan.batch, **result.merge)


def publish_history(spark, target: Target, plan: Plan, valid, data_columns: List[str], kind: str, meta: dict) -> None:
    """Write the batch's SCD2 rows to `<schema>_<table>_history`, idempotently (docs/dms.md §6)."""
    spec = target.spec
    app_id = target.app_id + ":history"
    key = list(spec.key)
    step, schema_step = (STEP_LOAD, STEP_LOAD_SCHEMA) if kind == "load" else (STEP_CDC, STEP_CDC_SCHEMA)
    rows = history_rows(valid, key, data_columns, load=True) if kind == "load" else None
    ranked = ranked_history_rows(valid, key, data_columns) if kind == "cdc" else None
    shape = rows if rows is not None else history_rows(valid, key, data_columns, load=False)
    create_table(spark, spec, target.history_uri, shape)
    add_columns(spark, target.hpath, shape, app_id, txn_version(plan.batch, schema_step), {**meta, "step": "schema"})
    with stage(f"history {spec.name} {kind}") as counts:
        confs = txn_confs(app_id, txn_version(plan.batch, step), {**meta, "step": f"history-{kind}"})
        with session_confs(spark, confs):
            if rows is not None:
                close_and_append_history(spark, target.hpath, rows, key)
            else:
                rebuild_history_keys(spark, target.hpath, ranked, key)
        counts["batch"] = plan.batch


def choose_apply_plan(
    spark, settings: IngestDmsSettings, target: Target, plan: Plan, ledger: dict, result: TableResult
) -> None:
    """Decide how the CDC batch is applied (kept in the pending ledger, so a resumed batch keeps it)."""
    resumed = (plan.apply_plan or "merge") if plan.resumed else None  # a batch pending from before plans: merge
    batch_rows = result.rows_in - result.rows_rejected
    table_rows_ = rows_without_batch(spark, target, ledger) if resumed is None else 0
    plan.apply_plan, why = choose_plan(settings.apply_plan, batch_rows, table_rows_, resumed)
    result.apply_plan = {"plan": plan.apply_plan, "why": why}
    logger.info("table %s: apply plan %s (%s)", target.spec.name, plan.apply_plan, why)


def publish(
    spark,
    context: RunContext,
    settings: IngestDmsSettings,
    target: Target,
    plan: Plan,
    parts: List[Part],
    ledger: dict,
    result: TableResult,
) -> None:
    """Apply the gated batch: pending ledger, table, history, then the committed ledger with the table's count."""
    spec = target.spec
    meta = {"job": JOB, "run_id": context.run_id, "batch": plan.batch}
    if not plan.full:
        choose_apply_plan(spark, settings, target, plan, ledger, result)
    if not plan.resumed:  # recorded before the first data commit, after the gate
        ledgers.write_ledger(spark, target.ledger_uri, with_pending(ledger, plan))
    since = load_time(spec, plan, parts, ledger)
    reduced = reduce_parts(spec, parts, since)
    with one_run_per_table(spec.name):
        if "load" in reduced:
            publish_load(spark, target, plan, reduced, meta, result)
        elif "cdc" in reduced:
            publish_cdc(spark, target, plan, reduced, meta, result)
        if spec.history:
            for kind, (valid, _, data_columns) in reduced.items():
                publish_history(spark, target, plan, valid, data_columns, kind, meta)
    with stage(f"commit {spec.name}") as counts:
        result.rows_in_table = read_table(spark, target.path).count()  # the committed table
        ledger_after = commit_plan(ledger, plan, context.run_id, result.rows_in_table, since)
        ledgers.write_ledger(spark, target.ledger_uri, ledger_after)
        counts.update(batch=plan.batch, rows=result.rows_in_table)


def apply_table(spark, context: RunContext, settings: IngestDmsSettings, spec: TableSpec) -> TableResult:
    """Plan, read, check, apply and record one table's next batch."""
    result = TableResult(spec.name)
    target = Target.of(context.lake, settings.input, spec)
    ledger = ledgers.read_ledger(spark, target.ledger_uri, spec.name)
    plan, loads, cdcs = plan_table(spark, settings, target, ledger, result)
    if plan is None:
        result.rows_in_table = rows_without_batch(spark, target, ledger)
        return result
    check_plan(target, plan, loads, cdcs)
    result.batch, result.full_load, result.inputs = plan.batch, plan.full, plan.files
    parts = read_parts(spark, spec, plan, result.empty_files)
    if not parts:  # only zero-byte files: no rows, and the files are taken
        result.rows_in_table = rows_without_batch(spark, target, ledger)
        ledgers.write_ledger(spark, target.ledger_uri, commit_plan(ledger, plan, context.run_id, result.rows_in_table))
        result.files_applied = len(plan.files)
        return result
    try:
        reasons = count_parts(spec, parts, result)
        with stage(f"gate {spec.name}") as counts:
            changes = union_all([p.changes for p in parts])
            result.rows_rejected = quarantine_and_gate(context, settings, spec, changes, plan, result.rows_in, reasons)
            counts["rejected"] = result.rows_rejected
        publish(spark, context, settings, target, plan, parts, ledger, result)
    finally:
        for part in parts:
            part.changes.unpersist()
    result.files_applied = len(plan.files)
    result.outputs = [target.table_uri] + ([target.history_uri] if spec.history else [])
    return result

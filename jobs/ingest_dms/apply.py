"""How a CDC batch is applied (docs/dms.md §8): the plan chosen from batch and table sizes, and the split plan.

Plans: `merge` (one MERGE with an insert clause), `split` (a matched-only MERGE carrying the batch's key
range, then an append of the keys the table lacks: two idempotent commits), `rebuild` (the table's rows
computed with the batch applied and written over it in one commit).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from jobs.ingest_dms.changes import SEQ_COL, TS_COL, apply_to_rows, table_rows

PLANS = ("merge", "split", "rebuild")
APPLY_PLANS = ("auto", *PLANS)
SPLIT_SHARE = 0.1  # auto: split when the batch's changes are at most this share of the table's rows
# a cached batch up to this size is broadcast to the table's scans (Spark's own threshold is 10 MB, and it
# cannot size a batch computed by windows over raw files: without the hint the table is shuffled)
BROADCAST_BYTES = 64 * 1024 * 1024
# key types whose min/max round-trip through text and order the same way in Spark and in Delta's file stats
RANGE_TYPES = ("tinyint", "smallint", "int", "bigint", "string", "date", "timestamp", "decimal")


def choose_plan(requested: str, batch_rows: int, table_rows_: int, resumed: Optional[str] = None) -> Tuple[str, str]:
    """(plan, why) for a CDC batch; a resumed batch keeps the plan it started with."""
    if resumed is not None:
        return resumed, f"resumed batch started with {resumed}"
    if requested != "auto":
        return requested, "--apply-plan"
    if table_rows_ == 0:
        return "split", "empty table"
    share = batch_rows / table_rows_
    if share <= SPLIT_SHARE:
        return "split", f"batch {batch_rows} rows <= {SPLIT_SHARE:g} x table {table_rows_} rows"
    return "merge", f"batch {batch_rows} rows > {SPLIT_SHARE:g} x table {table_rows_} rows"


def key_bounds(source, key: List[str]) -> Dict[str, Tuple[str, str, str]]:
    """key column -> (type, min as text, max as text) of the batch, for the key columns that can carry a range."""
    from pyspark.sql import functions as F

    types = {k: source.schema[k].dataType.simpleString() for k in key}
    usable = [k for k in key if types[k].split("(")[0] in RANGE_TYPES]
    if not usable:
        return {}
    aggs = [f(F.col(f"`{k}`")).cast("string") for k in usable for f in (F.min, F.max)]
    row = source.agg(*aggs).first()
    out = {}
    for i, k in enumerate(usable):
        low, high = row[2 * i], row[2 * i + 1]
        if low is not None and high is not None:
            out[k] = (types[k], low, high)
    return out


def range_condition(bounds: Dict[str, Tuple[str, str, str]], alias: str = "t"):
    """A predicate on the target's key columns (literals, so Delta skips files outside the range), or None."""
    from pyspark.sql import functions as F

    condition = None
    for k, (type_, low, high) in bounds.items():
        part = F.col(f"{alias}.`{k}`").between(F.lit(low).cast(type_), F.lit(high).cast(type_))
        condition = part if condition is None else condition & part
    return condition


def key_condition(key: List[str], bounds: Dict[str, Tuple[str, str, str]]):
    """The MERGE condition: keys equal, and the target inside the batch's key range."""
    from pyspark.sql import functions as F

    condition = None
    for k in key:
        part = F.col(f"t.`{k}`") == F.col(f"s.`{k}`")
        condition = part if condition is None else condition & part
    in_range = range_condition(bounds)
    return condition if in_range is None else condition & in_range


def cached_batch(source):
    """The batch computed once and cached (each pass of the MERGE and the append reads it), with its size known."""
    source = source.persist()
    source.count()
    return source


def plan_bytes(df) -> int:
    """Spark's estimate of a DataFrame's size (exact for a cached one)."""
    return int(str(df._jdf.queryExecution().optimizedPlan().stats().sizeInBytes()))


def broadcast_if_small(df):
    """The DataFrame with a broadcast hint when it is small, so joins stream the table past it."""
    from pyspark.sql import functions as F

    return F.broadcast(df) if plan_bytes(df) <= BROADCAST_BYTES else df


def new_keys(target, source, key: List[str], bounds: Dict[str, Tuple[str, str, str]]):
    """The batch's rows whose key the table does not have (D dropped), in the table's stored shape."""
    in_range = range_condition(bounds, alias="t")
    stored = target.alias("t")
    if in_range is not None:
        stored = stored.where(in_range)
    candidates = table_rows(source, [c for c in source.columns if c not in ("_op", "_full", SEQ_COL, TS_COL)])
    # keys present among the batch's: a semi join that only the batch's keys need to cross, then anti-join
    present = stored.select(*key).join(broadcast_if_small(candidates.select(*key)), key, "left_semi")
    return candidates.join(present, key, "left_anti")


def aligned(rows, columns: List[str], schema):
    """The rows with the table's columns in its order; a column the batch lacks is a typed null."""
    from pyspark.sql import functions as F

    have = {c.lower(): c for c in rows.columns}
    return rows.select(
        *[
            F.col(f"`{have[c.lower()]}`").alias(c)
            if c.lower() in have
            else F.lit(None).cast(schema[c].dataType).alias(c)
            for c in columns
        ]
    )


def rebuilt_rows(target, source, key: List[str], data_columns: List[str], partial: bool):
    """The table's rows with the batch applied (what MERGE leaves); columns the batch lacks keep stored values."""
    columns = [*data_columns, SEQ_COL, TS_COL]
    keep = [c for c in target.columns if c not in columns]
    return apply_to_rows(target, source, key, [*columns, *keep], partial, stored=keep)

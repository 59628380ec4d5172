"""Pure transforms of DMS changes (DataFrame in, DataFrame out, no actions): typing, order, reduction, apply, SCD2.

The rules they implement (order of changes, stale changes, partial images, history) are in docs/dms.md.
"""

from __future__ import annotations

from typing import Dict, List

from jobs.ingest_dms.conf import TableSpec

OPS = ("I", "U", "D")
SEQ_COL = "_dms_seq"
TS_COL = "_dms_ts"
SEQ_TYPE = "decimal(38,0)"
STALE = f"coalesce(s.{SEQ_COL} < t.{SEQ_COL}, s.{TS_COL} < t.{TS_COL}, false)"
# A time brought to the driver as text in the session's zone (UTC), never as a Python datetime (a naive
# local time: another TZ, or a DST fold, would move it when it goes back into Spark).
UTC_TEXT = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'"


def _raw_record(spec: TableSpec, has_op: bool, fmt: str, extra_columns: List[str]):
    """(the row as text for the quarantine, the column-count-mismatch flag) of a raw DMS row."""
    from pyspark.sql import functions as F

    declared = spec.column_names
    if fmt == "csv":
        parts = ([F.col("Op")] if has_op else []) + [F.col(c).cast("string") for c in declared]
        joined = F.concat_ws(spec.csv_delimiter, *[F.coalesce(p, F.lit("")) for p in parts])
        return F.coalesce(F.col("_corrupt"), joined), F.col("_corrupt").isNotNull()
    names = (["Op"] if has_op else []) + declared + extra_columns
    return F.to_json(F.struct(*[F.col(c) for c in names])), F.lit(False)


def reject_reason(spec: TableSpec, op, typed: Dict[str, object], count_bad):
    """The first reason a change is rejected (column count, Op, key, a value that does not cast), or null."""
    from pyspark.sql import functions as F

    reason = F.when(count_bad, F.lit("column_count"))
    reason = reason.when(op.isNull() | ~op.isin(*OPS), F.lit("unknown_op"))
    for k in spec.key:
        reason = reason.when(F.col(k).isNull() | typed[k].isNull(), F.lit("null_key"))
    for name in spec.column_names:
        bad = F.col(name).isNotNull() & typed[name].isNull()
        if name not in spec.key:
            bad = bad & (op != "D")
        reason = reason.when(bad, F.lit(f"bad_value:{name}"))
    return reason


def normalize_changes(df, spec: TableSpec, has_op: bool, fmt: str, extra_columns: List[str]):
    """Raw rows to typed changes: _op, declared columns cast, _dms_seq, _dms_ts, _raw and _reason (null = valid)."""
    from pyspark.sql import functions as F

    declared = spec.column_names
    op = F.upper(F.trim(F.col("Op"))) if has_op else F.lit("I")
    raw, count_bad = _raw_record(spec, has_op, fmt, extra_columns)
    typed = {c.name: F.col(c.name).cast(c.type) for c in spec.columns}
    reason = reject_reason(spec, op, typed, count_bad)
    seq = typed[spec.change_seq_column].cast(SEQ_TYPE) if spec.change_seq_column else F.lit(None).cast(SEQ_TYPE)
    ts = F.col(spec.timestamp_column).cast("timestamp") if spec.timestamp_column else F.lit(None).cast("timestamp")
    return df.select(
        op.alias("_op"),
        *[typed[name].alias(name) for name in declared],
        *[F.col(c) for c in extra_columns],
        seq.alias(SEQ_COL),
        ts.alias(TS_COL),
        "_file",
        "_fname",
        "_pos",
        F.when(reason.isNotNull(), raw).alias("_raw"),  # built only for rejected rows
        reason.alias("_reason"),
    )


def order_columns(descending: bool = False):
    """The apply order: change sequence, commit timestamp, file name, file path, position in file."""
    from pyspark.sql import functions as F

    names = [SEQ_COL, TS_COL, "_fname", "_file", "_pos"]
    return [F.col(n).desc_nulls_last() if descending else F.col(n).asc_nulls_first() for n in names]


def _last_row(changes, key: List[str]):
    """The last change of each key in apply order."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    window = Window.partitionBy(*key).orderBy(*order_columns(descending=True))
    return changes.withColumn("_rn", F.row_number().over(window)).where("_rn = 1").drop("_rn")


def coalesce_partial_images(changes, key: List[str], data_columns: List[str]):
    """Partial images: each change's columns filled from the earlier changes since the key's last I or D."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    non_key = [c for c in data_columns if c not in key]
    cleared = changes.select(
        *[
            F.when(F.col("_op") == "D", F.lit(None)).otherwise(F.col(c)).alias(c) if c in non_key else F.col(c)
            for c in changes.columns
        ]
    )
    asc = Window.partitionBy(*key).orderBy(*order_columns()).rowsBetween(Window.unboundedPreceding, Window.currentRow)
    segmented = cleared.withColumn("_seg", F.sum(F.col("_op").isin("I", "D").cast("int")).over(asc))
    running = (
        Window.partitionBy(*key, "_seg")
        .orderBy(*order_columns())
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    return segmented.select(
        *[F.last(c, ignorenulls=True).over(running).alias(c) if c in non_key else F.col(c) for c in cleared.columns],
        F.first("_op").over(running).isin("I", "D").alias("_full"),
    )


def last_change_per_key(changes, key: List[str], data_columns: List[str], partial: bool):
    """One row per key: the last change, with _full (False when a partial update must coalesce with the table)."""
    from pyspark.sql import functions as F

    if not partial:
        return _last_row(changes, key).withColumn("_full", F.lit(True))
    return _last_row(coalesce_partial_images(changes, key, data_columns), key)


def repeated_keys(changes, key: List[str]):
    """The keys that have more than one change (one row per key: empty)."""
    return changes.groupBy(*key).count().where("count > 1").select(*key)


def one_change_per_key(changes, partial: bool):
    """Changes known to hold one row per key, in the shape of last_change_per_key (no window needed)."""
    from pyspark.sql import functions as F

    return changes.withColumn("_full", F.col("_op").isin("I", "D") if partial else F.lit(True))


def table_rows(reduced, data_columns: List[str]):
    """The stored shape of reduced changes that end as a row (D dropped)."""
    return reduced.where("_op <> 'D'").select(*data_columns, SEQ_COL, TS_COL)


def _align(target, reduced, columns: List[str]):
    """Both sides with every column (a column one side lacks added as typed nulls)."""
    from pyspark.sql import functions as F

    for c in columns:
        if c not in target.columns:
            target = target.withColumn(c, F.lit(None).cast(reduced.schema[c].dataType))
        if c not in reduced.columns:
            reduced = reduced.withColumn(c, F.lit(None).cast(target.schema[c].dataType))
    return target, reduced


def apply_to_rows(target, reduced, key: List[str], columns: List[str], partial: bool, stored=()):
    """The rows MERGE would leave, as a join (full load, rebuild plan); `stored` columns keep the table's values."""
    from pyspark.sql import functions as F

    target, reduced = _align(target, reduced, columns)
    t = target.select(*columns, F.lit(True).alias("_in_t")).alias("t")
    s = reduced.select(*columns, "_op", "_full", F.lit(True).alias("_in_s")).alias("s")
    joined = t.join(s, [F.col(f"t.`{k}`") == F.col(f"s.`{k}`") for k in key], "full_outer")
    in_t, in_s = F.col("t._in_t").isNotNull(), F.col("s._in_s").isNotNull()
    stale = F.coalesce(F.col(f"s.{SEQ_COL}") < F.col(f"t.{SEQ_COL}"), F.col(f"s.{TS_COL}") < F.col(f"t.{TS_COL}"))
    applies = in_s & ~(in_t & F.coalesce(stale, F.lit(False)))
    keep = F.when(applies, F.col("s._op") != "D").otherwise(in_t)
    out = []
    for c in columns:
        tc, sc = F.col(f"t.`{c}`"), F.col(f"s.`{c}`")
        if c in key:
            value = F.coalesce(sc, tc)
        elif c in stored:  # not in the batch: MERGE leaves it alone (null for an inserted key)
            value = tc
        elif partial and c not in (SEQ_COL, TS_COL):
            value = F.when(applies, F.when(F.col("s._full"), sc).otherwise(F.coalesce(sc, tc))).otherwise(tc)
        else:
            value = F.when(applies, sc).otherwise(tc)
        out.append(value.alias(c))
    return joined.where(keep).select(*out)


def history_rows(changes, key: List[str], data_columns: List[str], load: bool):
    """SCD2 rows of a batch's changes: valid_from the commit time, valid_to the next change's, is_current, op."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    window = Window.partitionBy(*key).orderBy(*order_columns())
    next_ts = F.lead(TS_COL).over(window)
    op = F.lit("L") if load else F.col("_op")
    return changes.select(
        *data_columns,
        SEQ_COL,
        F.col(TS_COL).alias("valid_from"),
        F.when(F.col("_op") == "D", F.col(TS_COL)).otherwise(next_ts).alias("valid_to"),
        (next_ts.isNull() & (F.col("_op") != "D")).alias("is_current"),
        op.alias("op"),
    )


def not_older_than(changes, load_time):
    """The changes not older than the full load (docs/dms.md §5); all of them when the load's time is unknown.

    `load_time` is text (UTC with `Z`, or a ledger's older zone-less text, read in the session's UTC)."""
    from pyspark.sql import functions as F

    if load_time is None:
        return changes
    return changes.where(F.col(TS_COL).isNull() | (F.col(TS_COL) >= F.lit(load_time).cast("timestamp")))


def ranked_history_rows(changes, key: List[str], data_columns: List[str]):
    """The batch's CDC changes as history rows (valid_from, op) with `_rank`, their order within the batch."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    window = Window.partitionBy(*key).orderBy(*order_columns())
    return changes.select(
        *data_columns,
        SEQ_COL,
        F.col(TS_COL).alias("valid_from"),
        F.col("_op").alias("op"),
        F.row_number().over(window).alias("_rank"),
    )


def rebuild_history(existing, ranked, key: List[str]):
    """All history rows of the batch's keys with intervals rebuilt in change order (docs/dms.md §6).

    Order per key: reload epoch (full-load rows start one), change sequence, valid_from, stored before new,
    then the batch's order. valid_to is the next row's valid_from (never before valid_from), kept when a
    reload closed the row earlier; a D row's is its valid_from; a row is current when it has no valid_to.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    stored_rank = F.when(F.col("is_current"), 2).when(F.col("op") == "D", 1).otherwise(0)
    rows = existing.select("*", F.lit(0).alias("_new"), stored_rank.alias("_rank")).unionByName(
        ranked.select("*", F.lit(1).alias("_new")), allowMissingColumns=True
    )
    by_time = Window.partitionBy(*key).orderBy("valid_from").rangeBetween(Window.unboundedPreceding, 0)
    rows = rows.withColumn("_epoch", F.sum((F.col("op") == "L").cast("int")).over(by_time))
    order = [F.col("_epoch"), F.col(SEQ_COL).asc_nulls_first(), F.col("valid_from").asc_nulls_first()]
    window = Window.partitionBy(*key).orderBy(*order, "_new", "_rank")
    closed = F.when((F.col("_new") == 0) & ~F.col("is_current"), F.col("valid_to"))
    to = F.least(F.lead("valid_from").over(window), closed)
    valid_to = F.when(F.col("op") == "D", F.col("valid_from")).when(to.isNotNull(), F.greatest("valid_from", to))
    return (
        rows.withColumn("valid_to", valid_to.cast("timestamp"))
        .withColumn("is_current", F.col("valid_to").isNull())
        .drop("_new", "_rank", "_epoch")
    )


def merge_assignments(columns: List[str], key: List[str], partial: bool) -> Dict[str, str]:
    """SET clause of the upsert: the source value, or (partial images) the source coalesced with the stored row."""
    out = {}
    for c in columns:
        if partial and c not in key and c not in (SEQ_COL, TS_COL):
            out[f"`{c}`"] = f"CASE WHEN s._full THEN s.`{c}` ELSE coalesce(s.`{c}`, t.`{c}`) END"
        else:
            out[f"`{c}`"] = f"s.`{c}`"
    return out


def union_all(frames):
    """The frames stacked by column name (a column one lacks is null)."""
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame, allowMissingColumns=True)
    return out

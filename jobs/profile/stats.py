"""The two passes of a profile over the data, whatever the number of attributes.

Pass 1 (one Spark aggregation, one row back): per attribute the missing and invalid counts;
NUMERIC count, min, max, mean, sample standard deviation and the percentiles p1..p99 by
`percentile_approx` (accuracy ACCURACY: each returned value's rank is within n/ACCURACY of the
exact rank; the median is p50); BINARY the count of 1s; TEXT (and undecided strings) the words
in total and the least and most words in a row.

Pass 2 (one exploded groupBy): every row becomes keys `<slot>\\x01<value>`, one per attribute
(NUMERIC: the pair of its equal-width histogram bin between min and max and its decile bin from
the pass-1 percentiles; BINARY/CATEGORICAL its value; TEXT each distinct word of the row), plus
one key counting the row for the target; all are grouped with the row's target bin. Windows on
the grouped result (small: values, not rows) give each attribute's distinct count, the rank of
each value, and the shortest and longest word; values ranked beyond TOP (TOP_WORDS for words)
are folded into one `other` value per target bin before the single collect.

The wide form keeps the prepared columns between the passes when every type is known before pass 1
(persisted, released after pass 2). No per-attribute loop touches the data: the number of Spark jobs
is the same for 3 attributes or 300 (test_profile_stats counts them). From LONG_FROM attributes both
passes run on the long form (prepare.stacked: one row per data row and attribute): pass 1 is one
aggregation grouped by attribute, pass 2 builds the same keys with one set of expressions (the
attributes' bin edges in literal arrays), so the plans stay small whatever the width; the figures
are the same (test_profile_long compares them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from core.session import session_confs
from jobs.profile.prepare import (
    BINARY,
    CATEGORICAL,
    NUMERIC,
    ROLES,
    STRING,
    TEXT,
    Attr,
    attribute_parts,
    prepare,
    quote,
    resolve,
    stacked,
)

ACCURACY = 10_000
PERCENTILES = [p / 100 for p in range(1, 100)]
HIST_BINS = 20
TOP = 20
TOP_WORDS = 500
NUMERIC_KEYS = (HIST_BINS + 1) * 10  # every (histogram bin, decile bin) pair: never folded
SEP = "\x01"
TARGET_SLOT = "T"
# from this many attributes both passes run on the long form (stacked): the wide plan's planning and code
# generation grow with the attributes, the long form's rows with rows x attributes (1M x 20 stays wide)
LONG_FROM = 100
# pass-1 figures by type (besides missing), the same names in the wide and the long form
FIGURES = {
    NUMERIC: ("invalid", "count", "min", "max", "mean", "std", "pct"),
    BINARY: ("invalid", "true"),
    CATEGORICAL: (),
    TEXT: ("words", "min_words", "max_words"),
    STRING: ("words", "min_words", "max_words"),
}


@dataclass
class Passes:
    """What the two passes return: the pass-1 figures by name, the pass-2 counts by slot."""

    rows: int
    first: Dict[str, object]
    # slot -> {"distinct", "min_len", "max_len", "counts": {value or None (other): {target bin or None: count}}}
    second: Dict[str, dict]
    attrs: List[Attr]


def _sum_flag(flag: str) -> Column:
    return F.sum(F.col(flag).cast("long"))


def first_pass_columns(attrs: Sequence[Attr]) -> List[Column]:
    """The aggregate columns of pass 1, named `<figure>_<index>`."""
    cols: List[Column] = [F.count(F.lit(1)).alias("rows")]
    # one array column shared by every percentile: a Python list would cost 99 JVM calls per attribute
    percentiles = F.array(*[F.lit(p) for p in PERCENTILES])
    for a in attrs:
        i = a.index
        cols.append(_sum_flag(f"m{i}").alias(f"missing_{i}"))
        if a.kind == NUMERIC:
            n = F.col(f"n{i}")
            cols += [
                _sum_flag(f"x{i}").alias(f"invalid_{i}"),
                F.count(n).alias(f"count_{i}"),
                F.min(n).alias(f"min_{i}"),
                F.max(n).alias(f"max_{i}"),
                F.avg(n).alias(f"mean_{i}"),
                F.stddev_samp(n).alias(f"std_{i}"),
                F.percentile_approx(n, percentiles, ACCURACY).alias(f"pct_{i}"),
            ]
        elif a.kind == BINARY:
            cols += [_sum_flag(f"x{i}").alias(f"invalid_{i}"), F.sum(f"b{i}").alias(f"true_{i}")]
        elif a.kind in (TEXT, STRING):
            words = F.when(F.col(f"t{i}").isNotNull(), F.size(_words(F.col(f"t{i}"))))
            cols += [
                F.sum(words).alias(f"words_{i}"),
                F.min(words).alias(f"min_words_{i}"),
                F.max(words).alias(f"max_words_{i}"),
            ]
    return cols


def _words(text: Column) -> Column:
    """The words of a prepared text value (already normalized: one space between words)."""
    return F.array_remove(F.split(text, " "), "")


def prefixed_words(text: Column, prefix: Column) -> Column:
    """The distinct words of a prepared text value, each prefixed (null for null text): plain string replaces
    and one split on a space, no regular expression."""
    spaced = F.concat(F.lit(" "), prefix)
    # an empty word (text of punctuation alone) is the prefix alone: left out, as duplicates are
    return F.array_except(F.split(F.concat(prefix, F.replace(text, F.lit(" "), spaced)), " "), F.array(prefix))


def run_first_pass(prepared: DataFrame, attrs: Sequence[Attr]) -> Dict[str, object]:
    """Pass 1: one aggregation over the prepared frame, returned as a dict of figures."""
    return prepared.agg(*first_pass_columns(attrs)).collect()[0].asDict()


def long_first_pass_columns() -> List[Column]:
    """The aggregate columns of pass 1 on the long form (stacked), grouped by attribute: every figure of any type."""
    n, t = F.col("n"), F.col("t")
    words = F.when(t.isNotNull(), F.size(_words(t)))
    return [
        F.count(F.lit(1)).alias("rows"),
        _sum_flag("m").alias("missing"),
        _sum_flag("x").alias("invalid"),
        F.count(n).alias("count"),
        F.min(n).alias("min"),
        F.max(n).alias("max"),
        F.avg(n).alias("mean"),
        F.stddev_samp(n).alias("std"),
        F.percentile_approx(n, F.array(*[F.lit(p) for p in PERCENTILES]), ACCURACY).alias("pct"),
        F.sum("b").alias("true"),
        F.sum(words).alias("words"),
        F.min(words).alias("min_words"),
        F.max(words).alias("max_words"),
    ]


def run_long_first_pass(df: DataFrame, attrs: Sequence[Attr]) -> Dict[str, object]:
    """Pass 1 on the long form: one aggregation by attribute, returned as run_first_pass returns it."""
    # one hash-aggregation buffer per attribute, in row order as in the wide form: past this many groups
    # a task would fall back to sorting (spark.sql.objectHashAggregate.sortBased.fallbackThreshold)
    fallback = {"spark.sql.objectHashAggregate.sortBased.fallbackThreshold": str(max(128, len(attrs) + 1))}
    with session_confs(df.sparkSession, fallback):
        rows = {row["i"]: row for row in stacked(df, attrs).groupBy("i").agg(*long_first_pass_columns()).collect()}
    first: Dict[str, object] = {"rows": next(iter(rows.values()))["rows"] if rows else 0}
    for a in attrs:
        row = rows.get(a.index)  # none when there are no rows: the wide form's figures of no rows
        for name in ("missing", *FIGURES[a.kind]):
            first[f"{name}_{a.index}"] = row[name] if row is not None else (0 if name == "count" else None)
    return first


def resolve_all(attrs: Sequence[Attr], first: Dict[str, object]) -> List[Attr]:
    """Undecided string attributes become TEXT or CATEGORICAL by their words per present value."""
    out = []
    for a in attrs:
        present = int(first["rows"]) - int(first[f"missing_{a.index}"] or 0)
        words = first.get(f"words_{a.index}")
        out.append(resolve(a, (words or 0) / present if present else None))
    return out


def histogram_edges(lo: Optional[float], hi: Optional[float], bins: int = HIST_BINS) -> List[float]:
    """Equal-width bin edges from min to max (one bin when all values are equal)."""
    if lo is None or hi is None:
        return []
    if hi <= lo:
        return [lo, hi]
    width = (hi - lo) / bins
    return [lo + k * width for k in range(bins)] + [hi]


def decile_edges(percentiles: Optional[Sequence[float]]) -> List[float]:
    """The distinct inner decile edges (p10..p90) of the pass-1 percentiles."""
    if not percentiles:
        return []
    return sorted({float(percentiles[p - 1]) for p in range(10, 100, 10)})


def histogram_bin(value: Column, edges: Sequence[float]) -> Column:
    """The equal-width bin index of a value: 0 .. len(edges)-2, max in the last bin."""
    if len(edges) <= 2:
        return F.when(value.isNotNull(), F.lit(0))
    lo, width, last = edges[0], edges[1] - edges[0], len(edges) - 2
    return F.when(value.isNotNull(), F.least(F.floor((value - F.lit(lo)) / F.lit(width)), F.lit(last)).cast("int"))


def decile_bin(value: Column, edges: Sequence[float]) -> Column:
    """The decile bin of a value: how many decile edges lie below it (bins (e_k-1, e_k])."""
    if not edges:
        return F.when(value.isNotNull(), F.lit(0))
    below = [(value > F.lit(e)).cast("int") for e in edges]
    total = below[0]
    for term in below[1:]:
        total = total + term
    return F.when(value.isNotNull(), total)


def target_bin(target: Optional[Attr], first: Dict[str, object], value: Optional[Column] = None) -> Column:
    """The row's target bin as a string: BINARY 0/1, CATEGORICAL the class, NUMERIC its decile.

    value: the target's prepared value (default: its column in the prepared frame)."""
    if target is None or target.kind == TEXT:
        return F.lit(None).cast("string")
    i = target.index
    value = F.col(f"{ROLES[target.kind][0]}{i}") if value is None else value
    if target.kind == NUMERIC:
        return decile_bin(value, decile_edges(first.get(f"pct_{i}"))).cast("string")
    if target.kind == BINARY:
        return value.cast("string")
    return value


def attribute_keys(a: Attr, first: Dict[str, object]) -> Tuple[List[Column], List[Column]]:
    """The pass-2 keys of one attribute: (scalar key columns, word-array columns)."""
    i = a.index
    if a.kind == NUMERIC:
        n = F.col(f"n{i}")
        hist = histogram_bin(n, histogram_edges(first.get(f"min_{i}"), first.get(f"max_{i}")))
        dec = decile_bin(n, decile_edges(first.get(f"pct_{i}")))
        # one key for both bins: `<histogram bin>:<decile bin>`, split apart after the collect
        return [F.concat(F.lit(f"{i}n{SEP}"), hist.cast("string"), F.lit(":"), dec.cast("string"))], []
    if a.kind == BINARY:
        return [F.concat(F.lit(f"{i}v{SEP}"), F.col(f"b{i}").cast("string"))], []
    if a.kind == CATEGORICAL:
        return [F.concat(F.lit(f"{i}v{SEP}"), F.col(f"c{i}"))], []
    words = prefixed_words(F.col(f"t{i}"), F.lit(f"{i}w{SEP}"))
    return [], [F.coalesce(words, F.array().cast("array<string>"))]


def stacked_keys(
    prepared: DataFrame, attrs: Sequence[Attr], target: Optional[Attr], first: Dict[str, object]
) -> DataFrame:
    """One row per (data row, key) with the row's target bin: the frame pass 2 groups."""
    scalars: List[Column] = [F.lit(f"{TARGET_SLOT}{SEP}")]
    arrays: List[Column] = []
    for a in attrs:
        s, w = attribute_keys(a, first)
        scalars += s
        arrays += w
    keys = F.concat(F.array(*scalars), *arrays) if arrays else F.array(*scalars)
    exploded = prepared.select(F.explode(keys).alias("key"), target_bin(target, first).alias("tbin"))
    return exploded.where(F.col("key").isNotNull())


def _sql_double(x: Optional[float]) -> str:
    """A double as a Spark SQL literal that reads back the same double."""
    if x is None:
        return "cast(null as double)"
    x = float(x)
    return f"{x!r}D" if math.isfinite(x) else f"cast('{x!r}' as double)"


def _sql_array(items: Sequence[str], element: str) -> str:
    return f"array({', '.join(items)})" if items else f"cast(array() as array<{element}>)"


def numeric_bins(attrs: Sequence[Attr], first: Dict[str, object]) -> Tuple[Column, Column]:
    """The histogram bin and the decile bin of the long form's value n, the same as histogram_bin and decile_bin
    with the attribute's edges, which come from arrays indexed by the attribute (one literal each)."""
    size = max(a.index for a in attrs) + 1
    lo, width, last, deciles = ["cast(null as double)"] * size, ["cast(null as double)"] * size, ["null"] * size, {}
    for a in attrs:
        if a.kind != NUMERIC:
            continue
        i = a.index
        edges = histogram_edges(first.get(f"min_{i}"), first.get(f"max_{i}"))
        if len(edges) > 2:  # else every value is in bin 0 (width null)
            lo[i], width[i], last[i] = _sql_double(edges[0]), _sql_double(edges[1] - edges[0]), str(len(edges) - 2)
        deciles[i] = _sql_array([_sql_double(e) for e in decile_edges(first.get(f"pct_{i}"))], "double")
    edges = [deciles.get(k, "cast(null as array<double>)") for k in range(size)]
    at = "element_at({}, i + 1)"
    los, widths = at.format(_sql_array(lo, "double")), at.format(_sql_array(width, "double"))
    lasts, decs = at.format(_sql_array(last, "int")), at.format(_sql_array(edges, "array<double>"))
    hist = F.expr(
        f"case when n is null then null when {widths} is null then 0 "
        f"else cast(least(floor((n - {los}) / {widths}), {lasts}) as int) end"
    )
    dec = F.expr(f"case when n is not null then aggregate({decs}, 0, (k, e) -> k + cast(n > e as int)) end")
    return hist, dec


def long_keys(df: DataFrame, attrs: Sequence[Attr], target: Optional[Attr], first: Dict[str, object]) -> DataFrame:
    """stacked_keys on the long form: the same (key, target bin) rows, built by one set of expressions."""
    tbin = None
    if target is not None:
        value = attribute_parts(target.kind, quote(target.name), df.schema[target.name].dataType)[0]
        tbin = target_bin(target, first, value)
    long = stacked(df, attrs, [(tbin if tbin is not None else F.lit(None).cast("string")).alias("tbin")])
    index = F.col("i").cast("string")
    hist, dec = numeric_bins(attrs, first)
    scalar = F.coalesce(
        F.concat(index, F.lit(f"n{SEP}"), hist.cast("string"), F.lit(":"), dec.cast("string")),
        F.concat(index, F.lit(f"v{SEP}"), F.col("b").cast("string")),
        F.concat(index, F.lit(f"v{SEP}"), F.col("c")),
    )
    words = F.coalesce(prefixed_words(F.col("t"), F.concat(index, F.lit(f"w{SEP}"))), F.array().cast("array<string>"))
    # the target key once per data row: with its first attribute
    row_key = F.when(F.col("i") == attrs[0].index, F.lit(f"{TARGET_SLOT}{SEP}"))
    exploded = long.select(F.explode(F.concat(F.array(row_key, scalar), words)).alias("key"), "tbin")
    return exploded.where(F.col("key").isNotNull())


def second_pass_frame(keys: DataFrame) -> DataFrame:
    """Counts per (slot, value, target bin), values beyond the top folded into `other` (value null)."""
    grouped = keys.groupBy("key", "tbin").count()
    parts = F.split("key", SEP, 2)
    # one shuffle by slot serves both windows and the fold below (Spark adds no exchange for them)
    grouped = grouped.select(parts[0].alias("slot"), parts[1].alias("value"), "tbin", "count").repartition("slot")
    by_value = Window.partitionBy("slot", "value")
    grouped = grouped.withColumn("total", F.sum("count").over(by_value))
    by_slot = Window.partitionBy("slot")
    ranked = grouped.withColumn("rank", F.dense_rank().over(by_slot.orderBy(F.desc("total"), F.asc("value"))))
    ranked = ranked.select(
        "*",
        F.max("rank").over(by_slot).alias("distinct"),
        F.min(F.length("value")).over(by_slot).alias("min_len"),
        F.max(F.length("value")).over(by_slot).alias("max_len"),
    )
    slot = F.col("slot")
    limit = F.when(slot.endswith("w"), F.lit(TOP_WORDS)).when(slot.endswith("n"), F.lit(NUMERIC_KEYS)).otherwise(TOP)
    kept = F.when(F.col("rank") <= limit, F.col("value"))
    return ranked.groupBy("slot", kept.alias("value"), "tbin").agg(
        F.sum("count").alias("count"),
        F.max("distinct").alias("distinct"),
        F.max("min_len").alias("min_len"),
        F.max("max_len").alias("max_len"),
    )


def collect_second(frame: DataFrame) -> Dict[str, dict]:
    """The pass-2 result as slot -> distinct, word lengths and counts by value and target bin."""
    out: Dict[str, dict] = {}
    for row in frame.collect():
        slot = out.setdefault(
            row["slot"],
            {"distinct": int(row["distinct"]), "min_len": row["min_len"], "max_len": row["max_len"], "counts": {}},
        )
        slot["counts"].setdefault(row["value"], {})[row["tbin"]] = int(row["count"])
    return split_numeric(out)


def split_numeric(second: Dict[str, dict]) -> Dict[str, dict]:
    """Each NUMERIC slot `<i>n` (values `h:q`) as a histogram slot `<i>h` and a decile slot `<i>q`."""
    out = {k: v for k, v in second.items() if not k.endswith("n")}
    for key, slot in second.items():
        if not key.endswith("n"):
            continue
        hist: Dict[str, Dict[Optional[str], int]] = {}
        dec: Dict[str, Dict[Optional[str], int]] = {}
        for value, by_bin in slot["counts"].items():
            h, q = value.split(":")
            for table, part in ((hist, h), (dec, q)):
                row = table.setdefault(part, {})
                for tbin, count in by_bin.items():
                    row[tbin] = row.get(tbin, 0) + count
        for suffix, table in (("h", hist), ("q", dec)):
            out[key[:-1] + suffix] = {"distinct": len(table), "min_len": None, "max_len": None, "counts": table}
    return out


def run_passes(df: DataFrame, attrs: Sequence[Attr], target_name: Optional[str], long: Optional[bool] = None) -> Passes:
    """Both passes over a frame for the planned attributes (undecided strings resolved in between).

    long: run them on the long form (default: from LONG_FROM attributes); the figures are the same."""
    long = len(attrs) >= LONG_FROM if long is None else long
    if long:
        first = run_long_first_pass(df, attrs)
        resolved = resolve_all(attrs, first)
        keys = long_keys(df, resolved, find(resolved, target_name), first)
        return Passes(int(first["rows"]), first, collect_second(second_pass_frame(keys)), resolved)
    typed = not any(a.kind == STRING for a in attrs)
    prepared = prepare(df, attrs)
    if typed:  # both passes read the same prepared columns: computed once (the text's regexes are most of them)
        prepared = prepared.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        first = run_first_pass(prepared, attrs)
        resolved = resolve_all(attrs, first)
        if not typed:  # an undecided string becomes TEXT or CATEGORICAL, whose columns differ
            prepared = prepare(df, resolved)
        keys = stacked_keys(prepared, resolved, find(resolved, target_name), first)
        return Passes(int(first["rows"]), first, collect_second(second_pass_frame(keys)), resolved)
    finally:
        if typed:
            prepared.unpersist()


def find(attrs: Sequence[Attr], name: Optional[str]) -> Optional[Attr]:
    """The attribute of a name (None when absent or name is None)."""
    return next((a for a in attrs if a.name == name), None)

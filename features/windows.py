"""Time-window features over readings: per entity, fixed windows summarized per channel.

Readings are rows with entity columns (a device, a user and a recording, ...), an order column
(a sequence number or a time) and numeric channels, optionally a label. The rules:

- Segments (`segment_readings`): the readings of one entity in order, cut wherever the label
  changes (and, with `max_gap`, wherever the order jumps by more than `max_gap`). A window never
  crosses an entity, a label change or such a gap. Segments are numbered 0, 1, ... per entity.
- Windows (`assign_windows`): in a segment, window k covers the offsets [k*step, k*step + size),
  where the offset is the reading's row number in the segment (unit `samples`) or its time since
  the segment's first reading (unit `seconds`). Overlapping windows (step < size) put a reading in
  several windows (one row per window: `explode`). Only complete windows are kept unless asked:
  in samples, k*step + size <= the segment's reading count; in seconds, the window ends at most one
  sample period (1 / rate_hz) after the segment's last reading.
- Labels: `labels` keeps the windows of those labels only, after segmenting (readings of other
  labels still end the segments around them).
- Derived channels: magnitudes (the Euclidean norm of a list of channels, per reading) and the
  gravity/body split of an accelerometer: gravity is a low-pass of each axis within the window (a
  centred moving average whose -3 dB point is `gravity_cutoff_hz`), body is the reading minus it.
  Body axes are channels like the others; of gravity the window keeps its mean vector's angle to
  each axis (radians) and its norm. Magnitudes may name body axes (`acc_x_body`, ...).
- Per channel and window (`window_stats`, Spark built-ins): mean, std (population), min, max,
  mad (mean absolute deviation from the window's mean), energy (mean of the squares); per listed
  channel pair, the Pearson correlation (0 when a channel is constant).
- On the window's array (`features.windows_spectral`, one vectorized pandas function): percentiles
  (exact, linear interpolation as numpy's default; Spark's exact `percentile` and a sorted
  `collect_list` both measured far slower) and spectra: per channel, the FFT of the window minus its mean;
  band energies (mean power in [lo, hi) Hz, summing to the population variance over all bands up
  to Nyquist) and the dominant frequency (the strongest non-zero bin, 0 for a constant).

`window_features(readings, spec)` runs all of it and returns one row per window: the entity
columns, `segment`, `window`, `window_id`, `window_start`/`window_end` (the order values of its
first and last reading), `samples`, the label, then the feature columns (`feature_columns(spec)`).
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from features.window_spec import (
    WindowSpec,
    aggregate_names,
    array_names,
    correlation_pairs,
    feature_columns,
    stat_channels,
    window_keys,
)
from features.windows_spectral import window_spectra

_POS = "_pos"  # the reading's row number in its segment, kept for ordering within a window


# --- windows -------------------------------------------------------------------------------


def _order_number(df: DataFrame, spec: WindowSpec) -> Tuple[Column, float]:
    """The order column as an exact number and its units per second (timestamps in microseconds)."""
    if df.schema[spec.order].dataType.typeName() in ("timestamp", "timestamp_ntz"):
        return F.unix_micros(F.col(spec.order).cast("timestamp")), 1e6
    return F.col(spec.order), 1.0


def segment_readings(df: DataFrame, spec: WindowSpec) -> DataFrame:
    """Readings with `segment` (per entity, a new one at each label change or gap) and `_pos`."""
    by_entity = Window.partitionBy(*spec.entity).orderBy(spec.order)
    value, per_second = _order_number(df, spec)
    starts = F.lag(value).over(by_entity).isNull()
    if spec.label is not None:
        previous = F.lag(F.col(spec.label)).over(by_entity)
        starts = starts | ~previous.eqNullSafe(F.col(spec.label))
    if spec.max_gap is not None:
        gap = (value - F.lag(value).over(by_entity)) / (per_second if spec.unit == "seconds" else 1.0)
        starts = starts | (gap > spec.max_gap)
    flagged = df.withColumn("_start", starts.cast("int"))
    segmented = flagged.withColumn("segment", F.sum("_start").over(by_entity) - 1).drop("_start")
    by_segment = Window.partitionBy(*spec.entity, "segment").orderBy(spec.order)
    return segmented.withColumn(_POS, F.row_number().over(by_segment) - 1)


def assign_windows(segmented: DataFrame, spec: WindowSpec) -> DataFrame:
    """One row per (reading, window it falls in), column `window`; complete windows only unless asked."""
    whole = Window.partitionBy(*spec.entity, "segment")
    if spec.unit == "samples":
        offset = F.col(_POS).cast("double")
        extent = F.count(F.lit(1)).over(whole).cast("double")  # a window may end at the count
    else:
        value, per_second = _order_number(segmented, spec)
        offset = (value - F.min(value).over(whole)) / per_second
        extent = F.max(offset).over(whole) + 1.0 / spec.rate_hz  # ... or one period after the last reading
    df = segmented.withColumn("_offset", offset).withColumn("_extent", extent)
    tiny = 1e-9  # a reading exactly on a window's edge stays on the same side whatever the rounding
    first = F.greatest(F.lit(0), (F.floor((F.col("_offset") - spec.size) / spec.step + tiny) + 1).cast("int"))
    last = F.floor(F.col("_offset") / spec.step + tiny).cast("int")
    windows = F.when(first <= last, F.sequence(first, last)).otherwise(F.array().cast("array<int>"))
    df = df.withColumn("window", F.explode(windows))
    if spec.complete_only:
        df = df.where(F.col("window") * spec.step + spec.size <= F.col("_extent") + 1e-9)
    return df.drop("_offset", "_extent")


def keep_labels(df: DataFrame, spec: WindowSpec) -> DataFrame:
    """Only the readings of the wanted labels (after segmenting, so other labels still cut)."""
    if spec.labels is None or spec.label is None:
        return df
    return df.where(F.col(spec.label).cast("string").isin(list(spec.labels)))


def add_magnitudes(df: DataFrame, magnitudes: Dict[str, Sequence[str]]) -> DataFrame:
    """Per reading, each named magnitude: the Euclidean norm of its channels."""
    for name, parts in magnitudes.items():
        df = df.withColumn(name, F.sqrt(sum((F.col(c) * F.col(c) for c in parts), F.lit(0.0))))
    return df


def gravity_width(rate_hz: float, cutoff_hz: float) -> int:
    """Samples of the moving average whose -3 dB point is the cutoff (0.443 * rate / cutoff)."""
    return max(1, round(0.443 * rate_hz / cutoff_hz))


def split_gravity(df: DataFrame, spec: WindowSpec) -> DataFrame:
    """Adds `<axis>_gravity` (a centred moving average within the window) and `<axis>_body` (the rest)."""
    if not spec.accelerometer:
        return df
    half = gravity_width(spec.rate_hz, spec.gravity_cutoff_hz) // 2
    ordered = Window.partitionBy(*window_keys(spec)).orderBy(_POS)
    running = ordered.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    whole = Window.partitionBy(*window_keys(spec))
    # sums over [i - half, i + half] from running sums and lead/lag: O(n), where a sliding frame
    # of 2 * half + 1 rows re-aggregates every row's frame (measured the slowest step)
    df = df.withColumn("_i", F.row_number().over(ordered) - 1).withColumn("_n", F.count(F.lit(1)).over(whole))
    for axis in spec.accelerometer:
        df = df.withColumn(f"_{axis}_sum", F.sum(axis).over(running))
        df = df.withColumn(f"_{axis}_all", F.sum(axis).over(whole))
    count = F.least(F.col("_i") + half, F.col("_n") - 1) - F.greatest(F.col("_i") - half, F.lit(0)) + 1
    for axis in spec.accelerometer:
        upper = F.coalesce(F.lead(f"_{axis}_sum", half).over(ordered), F.col(f"_{axis}_all"))
        lower = F.coalesce(F.lag(f"_{axis}_sum", half + 1).over(ordered), F.lit(0.0))
        df = df.withColumn(f"{axis}_gravity", (upper - lower) / count)
        df = df.withColumn(f"{axis}_body", F.col(axis) - F.col(f"{axis}_gravity"))
    helpers = ["_i", "_n", *(f"_{a}_{k}" for a in spec.accelerometer for k in ("sum", "all"))]
    return df.drop(*helpers)


def windowed_readings(readings: DataFrame, spec: WindowSpec) -> DataFrame:
    """Segmented, windowed readings with derived channels: one row per reading and window."""
    df = assign_windows(keep_labels(segment_readings(readings, spec), spec), spec)
    return add_magnitudes(split_gravity(df, spec), spec.magnitudes)


# --- features ------------------------------------------------------------------------------


def _channel_aggregates(spec: WindowSpec, channel: str) -> List[Column]:
    """mean, std, min, max, mad, energy of one channel (percentiles: windows_spectral)."""
    x = F.col(channel)
    out = [
        F.avg(x).alias(f"{channel}_mean"),
        F.stddev_pop(x).alias(f"{channel}_std"),
        F.min(x).alias(f"{channel}_min"),
        F.max(x).alias(f"{channel}_max"),
    ]
    # `_<channel>_dev` (|x - the window's mean|) is added per row by window_stats
    return [*out, F.avg(F.col(f"_{channel}_dev")).alias(f"{channel}_mad"), F.avg(x * x).alias(f"{channel}_energy")]


def window_stats(windowed: DataFrame, spec: WindowSpec) -> DataFrame:
    """Time-domain features per window (built-in aggregates), with the window's bookkeeping columns."""
    keys = window_keys(spec)
    whole = Window.partitionBy(*keys)
    channels = stat_channels(spec)
    df = windowed
    for c in channels:
        df = df.withColumn(f"_{c}_dev", F.abs(F.col(c) - F.avg(c).over(whole)))
    aggs = [
        F.min(spec.order).alias("window_start"),
        F.max(spec.order).alias("window_end"),
        F.count(F.lit(1)).alias("samples"),
    ]
    # the label is constant in a window: a grouping key, so every aggregate buffer stays fixed-width
    # and Spark can hash-aggregate (a `first` of a string falls back to sort-based aggregation)
    keys = [*keys, spec.label] if spec.label is not None else keys
    for c in channels:
        aggs += _channel_aggregates(spec, c)
    for a, b in correlation_pairs(spec):
        aggs.append(F.nanvl(F.coalesce(F.corr(a, b), F.lit(0.0)), F.lit(0.0)).alias(f"corr_{a}_{b}"))
    for axis in spec.accelerometer or ():
        aggs.append(F.avg(f"{axis}_gravity").alias(f"_{axis}_g"))
    out = df.groupBy(*keys).agg(*aggs)
    return _unpack(out, spec)


def _unpack(out: DataFrame, spec: WindowSpec) -> DataFrame:
    """Percentile arrays to columns, gravity means to angles and norm, in output order."""
    cols = [F.col(c) for c in out.columns if not c.startswith("_")]
    if spec.accelerometer:
        g = [F.col(f"_{axis}_g") for axis in spec.accelerometer]
        norm = F.sqrt(sum((v * v for v in g), F.lit(0.0)))
        for axis, v in zip(spec.accelerometer, g):
            cosine = F.when(norm > 0, F.least(F.lit(1.0), F.greatest(F.lit(-1.0), v / norm))).otherwise(0.0)
            cols.append(F.acos(cosine).alias(f"{axis}_gravity_angle"))
        cols.append(norm.alias(f"{spec.accelerometer[0]}_gravity_norm"))
    head = [c for c in out.columns if not c.startswith("_") and c not in aggregate_names(spec)]
    return out.select(*cols).select(*head, *aggregate_names(spec))


def window_id(spec: WindowSpec) -> Column:
    """A window's key as one string: entity values, segment and window joined with '/'."""
    return F.concat_ws("/", *[F.col(c).cast("string") for c in window_keys(spec)])


def window_features(readings: DataFrame, spec: WindowSpec) -> DataFrame:
    """One row per window: keys, `window_id`, bookkeeping, label and every feature column."""
    missing = [c for c in [*spec.entity, spec.order, *spec.channels, *([spec.label] if spec.label else [])]]
    missing = [c for c in missing if c not in readings.columns]
    if missing:
        raise ValueError(f"readings have no column(s) {', '.join(missing)}")
    windowed = windowed_readings(readings, spec)
    out = window_stats(windowed, spec)
    if array_names(spec):
        out = out.join(window_spectra(windowed, spec), window_keys(spec), "inner")
    head = [*window_keys(spec), "window_id", "window_start", "window_end", "samples"]
    head += [spec.label] if spec.label else []
    return out.withColumn("window_id", window_id(spec)).select(*head, *feature_columns(spec))


def expected_windows(length: int, size: int, step: int) -> int:
    """Complete windows in a segment of `length` samples (for checks and tests)."""
    return 0 if length < size else (length - size) // step + 1


__all__ = [
    "WindowSpec",
    "add_magnitudes",
    "assign_windows",
    "expected_windows",
    "feature_columns",
    "segment_readings",
    "split_gravity",
    "window_features",
    "window_stats",
    "windowed_readings",
]

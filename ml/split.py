"""Training/evaluation splits as Amazon ML's DataRearrangement (docs/amazon-ml.md, "Splits").

    --split '{"splitting": {"percentBegin": 0, "percentEnd": 70, "strategy": "random", "randomSeed": "7"}}'

The JSON describes the training rows; the evaluation rows are its complement (Amazon ML's pattern:
the evaluation datasource repeats the range with "complement": "true"). "complement": true in
--split swaps the two. Default: sequential 0-70, i.e. the first 70 % of the rows in input order
train and the last 30 % evaluate, as Amazon ML's console did.

- sequential: rows whose position (`_row`, input order) lies between the percentBegin and
  percentEnd quantiles of the positions (approximate within 0.01 % of the rows).
- random: each row gets a number in [0, 100) from a hash of randomSeed and its position, and is
  kept when the number falls in [percentBegin, percentEnd). Amazon ML seeds with the row's byte
  offset; lakeml uses its position, which like the offset is fixed for a given input.
- holdout (a lakeml extension, not Amazon ML's): {"strategy": "holdout", "strategyParams":
  {"column": "subject", "values": [2, 4, 9]}} holds out the rows whose column (compared as text)
  is one of the values: they evaluate, the others train (a split by group: no subject on both
  sides). The split is named after the column (`split_name`); percentBegin/percentEnd do not apply.
- time (a lakeml extension, the way to evaluate recommenders and anything that forecasts): {"strategy":
  "time", "percentBegin": 0, "percentEnd": 80, "strategyParams": {"column": "timestamp", "groupColumn":
  "user"}} orders rows by the column (ties by position) and takes the range of each group's rows (each
  user's earliest 80 % train, its latest 20 % evaluate), or of all rows without groupColumn: a model is
  judged on rows later than every row it learned from (per group).
Both sides come from the same thresholds, so every row lands on exactly one side.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional, Tuple

from core.errors import UsageError

STRATEGIES = ("sequential", "random", "holdout", "time")
_KEYS = ("percentBegin", "percentEnd", "complement", "strategy", "randomSeed", "strategyParams")


@dataclass(frozen=True)
class Split:
    """A DataRearrangement: the training range in percent, its strategy and seed."""

    percent_begin: float = 0.0
    percent_end: float = 70.0
    strategy: str = "sequential"
    random_seed: str = "0"
    complement: bool = False
    column: Optional[str] = None  # holdout: the column whose listed values are held out; time: the time column
    values: Tuple[str, ...] = ()
    group_column: Optional[str] = None  # time: the rows are ordered within each group (a user) of this column

    @property
    def split_name(self) -> str:
        """What the split is called in metrics: the strategy, or a holdout's column."""
        if self.strategy == "holdout" and self.column:
            return self.column
        if self.strategy == "time":
            return f"time by {self.column}" + (f" per {self.group_column}" if self.group_column else "")
        return self.strategy

    def to_dict(self) -> Dict[str, Any]:
        """The split as recorded in metadata."""
        return asdict(self)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise UsageError(f"--split: complement must be true or false, got {value!r}")


def _percent(value: Any, key: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"--split: {key} must be a number from 0 to 100, got {value!r}") from None
    if not 0 <= number <= 100:
        raise UsageError(f"--split: {key} must be from 0 to 100, got {value!r}")
    return number


def parse_split(text: Optional[str]) -> Split:
    """The Split of a --split JSON (with or without the outer "splitting"); None gives the default."""
    if text is None:
        return Split()
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"--split: not valid JSON: {error.msg} at column {error.colno}") from None
    if isinstance(raw, dict) and "splitting" in raw:
        raw = raw["splitting"]
    if not isinstance(raw, dict):
        raise UsageError('--split: expected {"splitting": {"percentBegin": .., "percentEnd": .., ...}}')
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        raise UsageError(f"--split: unknown field(s) {', '.join(unknown)}; known: {', '.join(_KEYS)}")
    begin = _percent(raw.get("percentBegin", 0), "percentBegin")
    # a time split without percentEnd trains on each group's earliest 80 %, as --tune's own split does
    end = _percent(raw.get("percentEnd", 80 if str(raw.get("strategy", "")).lower() == "time" else 100), "percentEnd")
    if begin >= end:
        raise UsageError(f"--split: percentBegin {begin:g} must be below percentEnd {end:g}")
    strategy = str(raw.get("strategy", "sequential")).lower()
    if strategy not in STRATEGIES:
        raise UsageError(f"--split: strategy {strategy!r} is not one of {', '.join(STRATEGIES)}")
    if strategy == "holdout":
        return parse_holdout(raw)
    if strategy == "time":
        return parse_time(raw, begin, end)
    complement = _bool(raw.get("complement", False))
    if not complement and begin == 0 and end == 100:
        raise UsageError("--split: 0-100 leaves no rows for evaluation; train on a smaller range")
    return Split(begin, end, strategy, str(raw.get("randomSeed", "0")), complement)


def parse_holdout(raw: Dict[str, Any]) -> Split:
    """The holdout Split: strategyParams {column, values}; the listed values evaluate."""
    params = raw.get("strategyParams")
    if not isinstance(params, dict) or set(params) != {"column", "values"}:
        raise UsageError('--split: holdout needs "strategyParams": {"column": NAME, "values": [...]}')
    column, values = params["column"], params["values"]
    if not isinstance(column, str) or not column or not isinstance(values, list) or not values:
        raise UsageError("--split: holdout strategyParams.column must be a name and values a non-empty list")
    if "percentBegin" in raw or "percentEnd" in raw:
        raise UsageError("--split: holdout takes no percentBegin/percentEnd (the values decide)")
    return Split(0.0, 100.0, "holdout", "0", _bool(raw.get("complement", False)), column, tuple(map(str, values)))


def parse_time(raw: Dict[str, Any], begin: float, end: float) -> Split:
    """The time Split: strategyParams {column[, groupColumn]}; each group's earliest rows in the range train."""
    params = raw.get("strategyParams")
    if not isinstance(params, dict) or "column" not in params or set(params) - {"column", "groupColumn"}:
        raise UsageError('--split: time needs "strategyParams": {"column": TIME[, "groupColumn": USER]}')
    column, group = params["column"], params.get("groupColumn")
    if not isinstance(column, str) or not column or (group is not None and (not isinstance(group, str) or not group)):
        raise UsageError("--split: time strategyParams.column (and groupColumn) must be column names")
    if begin == 0 and end == 100 and not _bool(raw.get("complement", False)):
        raise UsageError("--split: 0-100 leaves no rows for evaluation; train on a smaller range")
    return Split(begin, end, "time", "0", _bool(raw.get("complement", False)), column, (), group)


def time_fraction(df, split: Split, position: str):
    """Each row's place in time among its group's rows (or all rows), as a fraction in [0, 1)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    for name in filter(None, (split.column, split.group_column)):
        if name not in df.columns:
            raise UsageError(f"--split: time column {name} is not a column of the input")
    group = [F.col(split.group_column)] if split.group_column else []
    order = Window.partitionBy(*group).orderBy(F.col(split.column).asc_nulls_first(), F.col(position))
    size = F.count(F.lit(1)).over(Window.partitionBy(*group))
    return (F.row_number().over(order) - 1) / size


def in_range(df, split: Split, position: str = "_row"):
    """The boolean column: the row lies in the split's percent range (holdout: is not held out)."""
    from pyspark.sql import functions as F

    if split.strategy == "holdout":
        if split.column not in df.columns:
            raise UsageError(f"--split: holdout column {split.column} is not a column of the input")
        return ~F.coalesce(F.col(split.column).cast("string").isin(list(split.values)), F.lit(False))
    if split.strategy == "time":
        fraction = time_fraction(df, split, position)
        return (fraction >= split.percent_begin / 100.0) & (fraction < split.percent_end / 100.0)
    if split.strategy == "random":
        number = F.pmod(F.xxhash64(F.lit(split.random_seed), F.col(position)), F.lit(1_000_000)) / 10_000.0
        return (number >= split.percent_begin) & (number < split.percent_end)
    probs = [split.percent_begin / 100.0, split.percent_end / 100.0]
    low, high = df.approxQuantile(position, probs, 1e-4)
    low_ok = F.lit(True) if split.percent_begin == 0 else F.col(position) >= low
    high_ok = F.lit(True) if split.percent_end == 100 else F.col(position) < high
    return low_ok & high_ok


def apply_split(df, split: Split, position: str = "_row") -> Tuple[Any, Any]:
    """(training rows, evaluation rows): the range and its complement, swapped when complement is set."""
    from pyspark.sql import functions as F

    marked = df.withColumn("__in_range", in_range(df, split, position))  # a column: window functions cannot filter
    chosen = marked.where(F.col("__in_range")).drop("__in_range")
    rest = marked.where(~F.col("__in_range")).drop("__in_range")
    return (rest, chosen) if split.complement else (chosen, rest)

"""Amazon ML categorical and binary values as Spark column functions.

- `parse_binary`: BINARY exactly as Amazon ML reads it: after trimming whitespace and ignoring
  case, `0 n no f false` are 0 and `1 y yes t true` are 1; anything else (including `1.0`,
  `""` and null) is invalid and gives null. Output is an int 0/1.
- `category_tokens`: a CATEGORICAL value is one token, not tokenized (the string as given);
  null and the empty string give no token.
- `cartesian(a, b)`: every token of `a` joined to every token of `b` with `_`, in argument order;
  an empty side gives no tokens.
"""

from __future__ import annotations

from typing import Union

from pyspark.sql import Column
from pyspark.sql import functions as F

ColumnOrName = Union[Column, str]

BINARY_FALSE = ("0", "n", "no", "f", "false")
BINARY_TRUE = ("1", "y", "yes", "t", "true")


def _col(c: ColumnOrName) -> Column:
    return F.col(c) if isinstance(c, str) else c


def parse_binary(value: ColumnOrName) -> Column:
    """0/1 (int) from Amazon ML's binary spellings, case-insensitive and trimmed; null when invalid."""
    v = F.lower(F.regexp_replace(_col(value).cast("string"), r"^\s+|\s+$", ""))
    return (
        F.when(v.isin(*BINARY_TRUE), F.lit(1)).when(v.isin(*BINARY_FALSE), F.lit(0)).otherwise(F.lit(None).cast("int"))
    )


def category_tokens(value: ColumnOrName) -> Column:
    """A categorical value as a one-token array; null or '' gives an empty array."""
    v = _col(value).cast("string")
    return F.when(v.isNull() | (v == ""), F.array().cast("array<string>")).otherwise(F.array(v))


def cartesian(a: ColumnOrName, b: ColumnOrName) -> Column:
    """Every token of a joined to every token of b with '_' (token arrays in, token array out)."""
    left, right = _col(a), _col(b)
    return F.flatten(F.transform(left, lambda x: F.transform(right, lambda y: F.concat(x, F.lit("_"), y))))

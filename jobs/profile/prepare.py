"""Typing the profiled columns: each attribute's value, missing and invalid flags as Spark columns.

An attribute is profiled under its schema type, or, without a schema, under the type lakeml
infers from the Spark column (numeric -> NUMERIC, boolean -> BINARY, string -> CATEGORICAL or
TEXT decided after the first pass, date/timestamp -> CATEGORICAL); other column types (arrays,
vectors, maps, structs, binary) are not profiled and are listed as skipped.

Per attribute i the prepared frame holds (all built-in expressions, no UDF):
  NUMERIC      n{i} double (null when missing or invalid), m{i} missing, x{i} invalid (unparseable,
               NaN or infinite)
  BINARY       b{i} int 0/1 (features.categorical.parse_binary: Amazon ML's spellings), m{i}, x{i}
  CATEGORICAL  c{i} string (null when missing), m{i}
  TEXT         t{i} the words: lowercased whitespace tokens with leading and trailing punctuation
               stripped, joined by one space (null when missing), m{i}
Missing is null or blank text; invalid is a present value that does not parse as the type.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Sequence, Tuple

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from features.categorical import parse_binary
from features.text import lowercase_text, no_punct_text

NUMERIC, CATEGORICAL, BINARY, TEXT = "NUMERIC", "CATEGORICAL", "BINARY", "TEXT"
STRING = "STRING"  # an inferred string column, CATEGORICAL or TEXT once the first pass has counted its words
TEXT_MIN_WORDS = 3.0  # inferred strings with at least this many words per value on average are TEXT


@dataclass(frozen=True)
class Attr:
    """One profiled attribute: its name, type, whether the type was inferred, its column index."""

    name: str
    kind: str
    inferred: bool
    index: int

    @property
    def col(self) -> str:
        """The source column's name in the renamed frame."""
        return f"s{self.index}"


def quote(name: str) -> str:
    """A column name as a Spark SQL identifier."""
    return "`" + name.replace("`", "``") + "`"


def inferred_kind(data_type: T.DataType) -> Optional[str]:
    """The type lakeml infers for a Spark column type, or None when it does not profile it."""
    if isinstance(data_type, T.BooleanType):
        return BINARY
    if isinstance(data_type, T.NumericType):
        return NUMERIC
    if isinstance(data_type, T.StringType):
        return STRING
    if isinstance(data_type, (T.DateType, T.TimestampType, T.TimestampNTZType)):
        return CATEGORICAL
    return None


def plan_attributes(
    df: DataFrame, types: Optional[Dict[str, str]], skip: Sequence[str] = ()
) -> Tuple[List[Attr], Dict[str, str]]:
    """The attributes to profile (schema types, else inferred) and the skipped columns with reasons."""
    fields = {f.name: f.dataType for f in df.schema.fields}
    attrs: List[Attr] = []
    skipped: Dict[str, str] = {name: "not profiled (bookkeeping or excluded)" for name in skip if name in fields}
    if types is not None:
        for name, kind in types.items():
            attrs.append(Attr(name, kind, False, len(attrs)))
        for name in fields:
            if name not in types and name not in skipped:
                skipped[name] = "not in the schema"
        return attrs, skipped
    for name, data_type in fields.items():
        if name in skipped:
            continue
        kind = inferred_kind(data_type)
        if kind is None:
            skipped[name] = f"column type {data_type.simpleString()} is not profiled"
        else:
            attrs.append(Attr(name, kind, True, len(attrs)))
    return attrs, skipped


def resolve(attr: Attr, words_per_value: Optional[float]) -> Attr:
    """An inferred string attribute decided: TEXT when its values average TEXT_MIN_WORDS words or more."""
    if attr.kind != STRING:
        return attr
    return replace(attr, kind=TEXT if (words_per_value or 0.0) >= TEXT_MIN_WORDS else CATEGORICAL)


def _blank(s: Column) -> Column:
    return s.isNull() | (F.trim(s) == "")


def numeric_columns(src: Column, data_type: T.DataType, i: int) -> List[Column]:
    """n{i}, m{i}, x{i} of a NUMERIC attribute."""
    if isinstance(data_type, (T.NumericType, T.BooleanType)):
        raw = src.cast("double")
        missing = src.isNull()
    else:
        text = F.trim(src.cast("string"))
        raw = F.expr(f"try_cast(trim(cast(s{i} as string)) as double)")
        missing = _blank(text)
    bad = (~missing) & (raw.isNull() | F.isnan(raw) | (F.abs(raw) == float("inf")))
    value = F.when(~missing & ~bad, raw)
    return [value.alias(f"n{i}"), missing.alias(f"m{i}"), bad.alias(f"x{i}")]


def binary_columns(src: Column, data_type: T.DataType, i: int) -> List[Column]:
    """b{i}, m{i}, x{i} of a BINARY attribute."""
    if isinstance(data_type, T.BooleanType):
        value, missing = src.cast("int"), src.isNull()
    elif isinstance(data_type, T.NumericType):
        value = F.when(src == 1, F.lit(1)).when(src == 0, F.lit(0))
        missing = src.isNull()
    else:
        value = parse_binary(src)
        missing = _blank(src.cast("string"))
    bad = (~missing) & value.isNull()
    return [value.alias(f"b{i}"), missing.alias(f"m{i}"), bad.alias(f"x{i}")]


def categorical_columns(src: Column, i: int) -> List[Column]:
    """c{i}, m{i} of a CATEGORICAL attribute (the value as given, blank counts as missing)."""
    text = src.cast("string")
    missing = _blank(text)
    return [F.when(~missing, text).alias(f"c{i}"), missing.alias(f"m{i}")]


def text_columns(src: Column, i: int) -> List[Column]:
    """t{i}, m{i} of a TEXT (or not yet decided string) attribute."""
    text = src.cast("string")
    missing = _blank(text)
    words = no_punct_text(lowercase_text(text))
    return [F.when(~missing, words).alias(f"t{i}"), missing.alias(f"m{i}")]


def attribute_columns(attr: Attr, data_type: T.DataType) -> List[Column]:
    """The prepared columns of one attribute."""
    src = F.col(attr.col)
    if attr.kind == NUMERIC:
        return numeric_columns(src, data_type, attr.index)
    if attr.kind == BINARY:
        return binary_columns(src, data_type, attr.index)
    if attr.kind == CATEGORICAL:
        return categorical_columns(src, attr.index)
    return text_columns(src, attr.index)


def renamed(df: DataFrame, attrs: Sequence[Attr]) -> DataFrame:
    """The attribute columns only, renamed s0, s1, ... (names of any spelling are safe after this)."""
    return df.select(*[F.col(quote(a.name)).alias(a.col) for a in attrs])


def prepare(df: DataFrame, attrs: Sequence[Attr]) -> DataFrame:
    """The typed value, missing and invalid columns of every attribute (see the module docstring)."""
    src = renamed(df, attrs)
    types = {f.name: f.dataType for f in src.schema.fields}
    columns: List[Column] = []
    for attr in attrs:
        columns.extend(attribute_columns(attr, types[attr.col]))
    return src.select(*columns)

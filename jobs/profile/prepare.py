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
The long form (stacked) holds the same columns without the index, one row per data row and attribute.
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


def numeric_parts(name: str, data_type: T.DataType) -> List[Column]:
    """The value, missing and invalid columns of a NUMERIC attribute whose source column is `name`."""
    src = F.col(name)
    if isinstance(data_type, (T.NumericType, T.BooleanType)):
        raw = src.cast("double")
        missing = src.isNull()
    else:
        text = F.trim(src.cast("string"))
        raw = F.expr(f"try_cast(trim(cast({name} as string)) as double)")
        missing = _blank(text)
    bad = (~missing) & (raw.isNull() | F.isnan(raw) | (F.abs(raw) == float("inf")))
    return [F.when(~missing & ~bad, raw), missing, bad]


def binary_parts(name: str, data_type: T.DataType) -> List[Column]:
    """The value, missing and invalid columns of a BINARY attribute."""
    src = F.col(name)
    if isinstance(data_type, T.BooleanType):
        value, missing = src.cast("int"), src.isNull()
    elif isinstance(data_type, T.NumericType):
        value = F.when(src == 1, F.lit(1)).when(src == 0, F.lit(0))
        missing = src.isNull()
    else:
        value = parse_binary(src)
        missing = _blank(src.cast("string"))
    return [value, missing, (~missing) & value.isNull()]


def categorical_parts(name: str) -> List[Column]:
    """The value and missing columns of a CATEGORICAL attribute (the value as given, blank counts as missing)."""
    text = F.col(name).cast("string")
    missing = _blank(text)
    return [F.when(~missing, text), missing]


def text_parts(name: str) -> List[Column]:
    """The words and missing columns of a TEXT (or not yet decided string) attribute."""
    text = F.col(name).cast("string")
    missing = _blank(text)
    return [F.when(~missing, no_punct_text(lowercase_text(text))), missing]


# the prepared columns' prefixes by type: value, missing, invalid
ROLES = {NUMERIC: "nmx", BINARY: "bmx", CATEGORICAL: "cm", TEXT: "tm", STRING: "tm"}


def attribute_parts(kind: str, name: str, data_type: T.DataType) -> List[Column]:
    """The prepared columns of one attribute, in the order of ROLES[kind], unnamed."""
    if kind == NUMERIC:
        return numeric_parts(name, data_type)
    if kind == BINARY:
        return binary_parts(name, data_type)
    if kind == CATEGORICAL:
        return categorical_parts(name)
    return text_parts(name)


def attribute_columns(attr: Attr, data_type: T.DataType) -> List[Column]:
    """The prepared columns of one attribute, named `<role><index>`."""
    parts = attribute_parts(attr.kind, attr.col, data_type)
    return [part.alias(f"{role}{attr.index}") for role, part in zip(ROLES[attr.kind], parts)]


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


def stacked(df: DataFrame, attrs: Sequence[Attr], extra: Sequence[Column] = ()) -> DataFrame:
    """The long form of prepare: one row per (data row, attribute) with the extra columns of the data row,
    `i` the attribute's index and the prepared columns n, b, c, t, m, x (null when not of its type).

    One `stack` of the source columns and one set of prepared expressions per (type, column type):
    the plan and the JVM calls building it stay small whatever the number of attributes.
    """
    types = {f.name: f.dataType for f in df.schema.fields}
    groups: Dict[Tuple[str, str], int] = {}
    kinds: List[Tuple[str, T.DataType]] = []
    for a in attrs:
        if groups.setdefault((a.kind, types[a.name].simpleString()), len(groups)) == len(kinds):
            kinds.append((a.kind, types[a.name]))
    rows = []
    for a in attrs:
        g = groups[(a.kind, types[a.name].simpleString())]
        values = ", ".join(quote(a.name) if k == g else "null" for k in range(len(kinds)))
        rows.append(f"{a.index}, {g}, {values}")
    # one string, one JVM call; a column is null in the rows of other groups (stack types nulls as the others)
    names = ", ".join(f"v{k}" for k in range(len(kinds)))
    frame = df.select(*extra, F.expr(f"stack({len(rows)}, {', '.join(rows)}) as (i, g, {names})"))
    # each role's value: the part of the row's group, by a CASE over the groups that have the role
    picked: Dict[str, Column] = {}
    group = F.col("g")
    for g, (kind, data_type) in enumerate(kinds):
        for role, part in zip(ROLES[kind], attribute_parts(kind, f"v{g}", data_type)):
            before = picked.get(role)
            picked[role] = F.when(group == g, part) if before is None else before.when(group == g, part)
    cast = {"n": "double", "b": "int", "c": "string", "t": "string", "m": "boolean", "x": "boolean"}
    columns = [picked.get(role, F.lit(None).cast(cast[role])).alias(role) for role in "nbctmx"]
    return frame.select(*frame.columns[: len(extra)], "i", *columns)

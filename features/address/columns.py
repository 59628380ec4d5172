"""Address column functions: the parts cleaned, the assembled address string, the ZIP text and the place key."""

from __future__ import annotations

from typing import Dict, List, Optional, Union

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from features.address.usps import DIRECTIONS, KEY_TOKENS, STATES, SUFFIXES, UNIT_TYPES

ColumnOrName = Union[Column, str]

# The parts in the order they are written; concat_address and address_key take them as keywords.
PARTS = (
    "number",
    "number_suffix",
    "pre_direction",
    "pre_type",
    "street",
    "suffix",
    "post_direction",
    "unit_type",
    "unit",
    "city",
    "state",
    "zip",
    "zip4",
)
STREET_LINE = ("number", "number_suffix", "pre_direction", "pre_type", "street", "suffix", "post_direction")

SEP = "\u001f"  # joins the pieces while assembling; never left in the output


def _col(value: ColumnOrName) -> Column:
    return F.col(value) if isinstance(value, str) else value


def _text(value: ColumnOrName) -> Column:
    return _col(value).cast("string")


def _sql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _literal_map(table: Dict[str, str]) -> Column:
    """A map<string,string> literal column, built from one SQL expression (one call into the JVM)."""
    pairs = ", ".join(f"{_sql_string(k)}, {_sql_string(table[k])}" for k in sorted(table))
    return F.expr(f"map({pairs})")


def clean_part(value: ColumnOrName) -> Column:
    """Trimmed text with inner whitespace collapsed to one space ('' or null when empty)."""
    return F.trim(F.regexp_replace(_text(value), r"\s+", " "))


def _abbreviation(upper: Column, table: Dict[str, str]) -> Column:
    """The table's abbreviation of an uppercase word (an abbreviation stays itself), or null."""
    full = {**{short: short for short in table.values()}, **table}
    return _literal_map(full)[upper]


def abbreviate_with(value: ColumnOrName, table: Dict[str, str]) -> Column:
    """The USPS abbreviation of a whole part when the table knows it (in any case), else the part."""
    return F.coalesce(_abbreviation(F.upper(clean_part(value)), table), _text(value))


def format_zip(zip_code: ColumnOrName, zip4: Optional[ColumnOrName] = None) -> Column:
    """ZIP or ZIP+4 text: digits only, leading zeros kept or restored; null when no digits."""
    digits = F.regexp_replace(_text(zip_code), r"[^0-9]", "")
    length = F.length(digits)
    nine = F.lpad(digits, 9, "0")
    base = (
        F.when(length.between(1, 5), F.lpad(digits, 5, "0"))
        .when(length.between(6, 9), F.concat(F.substring(nine, 1, 5), F.lit("-"), F.substring(nine, 6, 4)))
        .when(length > 9, digits)
    )
    if zip4 is None:
        return base
    plus = F.regexp_replace(_text(zip4), r"[^0-9]", "")
    with_plus = F.concat(base, F.lit("-"), F.lpad(plus, 4, "0"))
    return F.when((length <= 5) & F.length(plus).between(1, 4), with_plus).otherwise(base)


def _parts(parts: Dict[str, Optional[ColumnOrName]], abbreviate: bool) -> Dict[str, Column]:
    """The given parts as string columns, state uppercased, abbreviated on request."""
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise ValueError(f"unknown address part(s) {unknown}; known: {', '.join(PARTS)}")
    out = {name: _text(value) for name, value in parts.items() if value is not None}
    if "state" in out:
        out["state"] = F.upper(abbreviate_with(out["state"], STATES) if abbreviate else out["state"])
    if abbreviate:
        for name, table in (
            ("pre_direction", DIRECTIONS),
            ("post_direction", DIRECTIONS),
            ("suffix", SUFFIXES),
            ("pre_type", SUFFIXES),
            ("unit_type", UNIT_TYPES),
        ):
            if name in out:
                out[name] = abbreviate_with(out[name], table)
    return out


def _words(columns: List[Column]) -> Column:
    return F.concat_ws(" ", *columns) if columns else F.lit("")


def _finish(joined: Column, separator: str) -> Column:
    """Collapse whitespace, merge runs of SEP (empty pieces), strip them at the ends, then spell SEP."""
    text = F.regexp_replace(joined, r"\s+", " ")
    text = F.regexp_replace(text, f" *{SEP}[ {SEP}]*", SEP)
    text = F.regexp_replace(text, f"^[ {SEP}]+|[ {SEP}]+$", "")
    return F.regexp_replace(text, SEP, separator)


def _when_any_text(joined: Column, value: Column) -> Column:
    """`value`, or null when `joined` has no visible character."""
    return F.when(F.coalesce(joined, F.lit("")).rlike(f"[^\\s{SEP}]"), value)


def street_line(abbreviate: bool = False, **parts: Optional[ColumnOrName]) -> Column:
    """The delivery line: number, directionals, street, suffix and unit; null when all are empty."""
    cols = _parts(parts, abbreviate)
    joined = _words([cols[n] for n in (*STREET_LINE, "unit_type", "unit") if n in cols])
    return _when_any_text(joined, _finish(joined, " "))


def concat_address(abbreviate: bool = False, **parts: Optional[ColumnOrName]) -> Column:
    """One normalized address string from its parts (keywords from PARTS); null when all are empty."""
    cols = _parts(parts, abbreviate)
    line = _words([cols[n] for n in (*STREET_LINE, "unit_type", "unit") if n in cols])
    last = [cols["state"]] if "state" in cols else []
    if parts.get("zip") is not None:  # a +4 without its ZIP means nothing, so zip4 alone is dropped
        last.append(format_zip(parts["zip"], parts.get("zip4")))
    pieces = [line] + ([cols["city"]] if "city" in cols else []) + [_words(last)]
    joined = F.concat_ws(SEP, *pieces)
    return _when_any_text(joined, _finish(joined, ", "))


def normalize_for_key(text: ColumnOrName) -> Column:
    """Uppercase, punctuation dropped, whitespace collapsed, every token USPS-abbreviated."""
    bare = F.trim(F.regexp_replace(F.upper(_text(text)), f"[^A-Z0-9/{SEP}]+", " "))
    tokens = F.split(bare, " ")
    # tokens are uppercase already, so an abbreviation maps to itself without its own entry: half the scan
    table = _literal_map(KEY_TOKENS)
    abbreviated = F.transform(tokens, lambda t: F.coalesce(table[t], t))
    return F.array_join(abbreviated, " ")


def address_key(line: Optional[ColumnOrName] = None, **parts: Optional[ColumnOrName]) -> Column:
    """SHA-256 hex key of a place: street line (or a free-form `line`), unit, and ZIP5 or city+state."""
    cols = _parts({k: v for k, v in parts.items() if k != "unit_type"}, abbreviate=True)
    street = _text(line) if line is not None else _words([cols[n] for n in STREET_LINE if n in cols])
    unit = cols.get("unit", F.lit(""))
    zip5 = F.substring(format_zip(parts["zip"]), 1, 5) if parts.get("zip") is not None else F.lit(None)
    where = F.coalesce(zip5, _words([cols[n] for n in ("city", "state") if n in cols]))
    joined = F.concat_ws(f" {SEP} ", street, unit, where)
    return _when_any_text(joined, F.sha2(normalize_for_key(joined), 256))


def with_address(
    df: DataFrame,
    parts: Dict[str, str],
    output_col: str = "address",
    key_col: Optional[str] = "address_key",
    abbreviate: bool = False,
) -> DataFrame:
    """Add the concatenated address (and its key) from a mapping part -> column name."""
    columns = {name: F.col(column) for name, column in parts.items()}
    out = df.withColumn(output_col, concat_address(abbreviate=abbreviate, **columns))
    if key_col:
        out = out.withColumn(key_col, address_key(**columns))
    return out

"""US addresses: one normalized address string from its components, and a key to match places.

`concat_address(number=..., street=..., city=..., state=..., zip=...)` assembles

    NUMBER [NUMBER_SUFFIX] [PRE_DIR] [PRE_TYPE] STREET [SUFFIX] [POST_DIR] [UNIT_TYPE] [UNIT], CITY, STATE ZIP

Every part is trimmed and its inner whitespace collapsed; empty or null parts are dropped
together with their separator (no ", ," and no trailing comma). The state is uppercased.
ZIP codes keep their leading zeros: digits only, 1 to 5 digits are left-padded to 5
(a ZIP read as a number, 2134, becomes 02134), 6 to 9 digits are left-padded to 9 and written
ZIP+4 (`52402-1234`); a separate `zip4` part is appended the same way. With
`abbreviate=True`, directionals, street suffixes, unit types and state names take their USPS
Publication 28 abbreviations (North → N, Street → ST, Apartment → APT, Iowa → IA); words
not in the tables are kept as written. Only built-in Spark column functions are used.

`address_key(...)` is the matching key of a place: the street line (every token abbreviated
the USPS way, so "123 North Main Street" and "123 N MAIN ST" agree however the parts were
split), the unit identifier without its type (sources spell it APT, UNIT or #), and the
5-digit ZIP, or the city and state when the ZIP is missing; uppercased, punctuation dropped,
then SHA-256 (hex). Two rows get the same key exactly when these normalized texts are equal.

The package: `columns` (the column functions), `usps` (the abbreviation tables), `stage` (ConcatAddress).
Everything is importable from `features.address`, the path saved pipelines record for ConcatAddress.
"""

from __future__ import annotations

from features.address.columns import (
    PARTS,
    SEP,
    STREET_LINE,
    ColumnOrName,
    abbreviate_with,
    address_key,
    clean_part,
    concat_address,
    format_zip,
    normalize_for_key,
    street_line,
    with_address,
)
from features.address.stage import ConcatAddress
from features.address.usps import DIRECTIONS, KEY_TOKENS, STATES, SUFFIXES, UNIT_TYPES

__all__ = [
    "DIRECTIONS",
    "KEY_TOKENS",
    "PARTS",
    "SEP",
    "STATES",
    "STREET_LINE",
    "SUFFIXES",
    "UNIT_TYPES",
    "ColumnOrName",
    "ConcatAddress",
    "abbreviate_with",
    "address_key",
    "clean_part",
    "concat_address",
    "format_zip",
    "normalize_for_key",
    "street_line",
    "with_address",
]

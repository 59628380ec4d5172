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
"""

from __future__ import annotations

import json
from typing import Dict, List, Optional, Union

from pyspark.ml import Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

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

DIRECTIONS = {
    "NORTH": "N",
    "SOUTH": "S",
    "EAST": "E",
    "WEST": "W",
    "NORTHEAST": "NE",
    "NORTHWEST": "NW",
    "SOUTHEAST": "SE",
    "SOUTHWEST": "SW",
    "NORTH EAST": "NE",
    "NORTH WEST": "NW",
    "SOUTH EAST": "SE",
    "SOUTH WEST": "SW",
    "N.": "N",
    "S.": "S",
    "E.": "E",
    "W.": "W",
    "N.E.": "NE",
    "N.W.": "NW",
    "S.E.": "SE",
    "S.W.": "SW",
}

# USPS Publication 28, Appendix C1: common street suffixes and their usual spellings.
SUFFIXES = {
    "ALLEY": "ALY",
    "ALLEE": "ALY",
    "ALLY": "ALY",
    "ANNEX": "ANX",
    "ARCADE": "ARC",
    "AVENUE": "AVE",
    "AV": "AVE",
    "AVEN": "AVE",
    "AVENU": "AVE",
    "AVN": "AVE",
    "AVNUE": "AVE",
    "BAYOU": "BYU",
    "BEACH": "BCH",
    "BEND": "BND",
    "BLUFF": "BLF",
    "BOULEVARD": "BLVD",
    "BOUL": "BLVD",
    "BOULV": "BLVD",
    "BRANCH": "BR",
    "BRIDGE": "BRG",
    "BROOK": "BRK",
    "BYPASS": "BYP",
    "CAMP": "CP",
    "CANYON": "CYN",
    "CAPE": "CPE",
    "CAUSEWAY": "CSWY",
    "CENTER": "CTR",
    "CENTRE": "CTR",
    "CIRCLE": "CIR",
    "CIRC": "CIR",
    "CIRCL": "CIR",
    "CLIFF": "CLF",
    "CLIFFS": "CLFS",
    "CLUB": "CLB",
    "COMMON": "CMN",
    "CORNER": "COR",
    "CORNERS": "CORS",
    "COURSE": "CRSE",
    "COURT": "CT",
    "COURTS": "CTS",
    "COVE": "CV",
    "CREEK": "CRK",
    "CRESCENT": "CRES",
    "CREST": "CRST",
    "CROSSING": "XING",
    "CROSSROAD": "XRD",
    "CURVE": "CURV",
    "DALE": "DL",
    "DAM": "DM",
    "DIVIDE": "DV",
    "DRIVE": "DR",
    "DRIV": "DR",
    "DRV": "DR",
    "DRIVES": "DRS",
    "ESTATE": "EST",
    "ESTATES": "ESTS",
    "EXPRESSWAY": "EXPY",
    "EXTENSION": "EXT",
    "FALLS": "FLS",
    "FERRY": "FRY",
    "FIELD": "FLD",
    "FIELDS": "FLDS",
    "FLAT": "FLT",
    "FLATS": "FLTS",
    "FORD": "FRD",
    "FOREST": "FRST",
    "FORGE": "FRG",
    "FORK": "FRK",
    "FORT": "FT",
    "FREEWAY": "FWY",
    "GARDEN": "GDN",
    "GARDENS": "GDNS",
    "GATEWAY": "GTWY",
    "GLEN": "GLN",
    "GREEN": "GRN",
    "GROVE": "GRV",
    "HARBOR": "HBR",
    "HAVEN": "HVN",
    "HEIGHTS": "HTS",
    "HIGHWAY": "HWY",
    "HIGHWY": "HWY",
    "HIWAY": "HWY",
    "HILL": "HL",
    "HILLS": "HLS",
    "HOLLOW": "HOLW",
    "ISLAND": "IS",
    "JUNCTION": "JCT",
    "KNOLL": "KNL",
    "KNOLLS": "KNLS",
    "LAKE": "LK",
    "LAKES": "LKS",
    "LANDING": "LNDG",
    "LANE": "LN",
    "LIGHT": "LGT",
    "LOCK": "LCK",
    "LODGE": "LDG",
    "MANOR": "MNR",
    "MEADOW": "MDW",
    "MEADOWS": "MDWS",
    "MILL": "ML",
    "MILLS": "MLS",
    "MISSION": "MSN",
    "MOTORWAY": "MTWY",
    "MOUNT": "MT",
    "MOUNTAIN": "MTN",
    "ORCHARD": "ORCH",
    "OVERPASS": "OPAS",
    "PARKWAY": "PKWY",
    "PARKWY": "PKWY",
    "PKY": "PKWY",
    "PASSAGE": "PSGE",
    "PINE": "PNE",
    "PINES": "PNES",
    "PLACE": "PL",
    "PLAIN": "PLN",
    "PLAINS": "PLNS",
    "PLAZA": "PLZ",
    "POINT": "PT",
    "POINTS": "PTS",
    "PORT": "PRT",
    "PRAIRIE": "PR",
    "RANCH": "RNCH",
    "RAPIDS": "RPDS",
    "REST": "RST",
    "RIDGE": "RDG",
    "RIDGES": "RDGS",
    "RIVER": "RIV",
    "ROAD": "RD",
    "ROADS": "RDS",
    "ROUTE": "RTE",
    "SHORE": "SHR",
    "SHORES": "SHRS",
    "SKYWAY": "SKWY",
    "SPRING": "SPG",
    "SPRINGS": "SPGS",
    "SQUARE": "SQ",
    "STATION": "STA",
    "STRAVENUE": "STRA",
    "STREAM": "STRM",
    "STREET": "ST",
    "STR": "ST",
    "STRT": "ST",
    "STREETS": "STS",
    "SUMMIT": "SMT",
    "TERRACE": "TER",
    "TERR": "TER",
    "THROUGHWAY": "TRWY",
    "TRACE": "TRCE",
    "TRACK": "TRAK",
    "TRAFFICWAY": "TRFY",
    "TRAIL": "TRL",
    "TRAILS": "TRL",
    "TRAILER": "TRLR",
    "TUNNEL": "TUNL",
    "TURNPIKE": "TPKE",
    "UNDERPASS": "UPAS",
    "UNION": "UN",
    "VALLEY": "VLY",
    "VIADUCT": "VIA",
    "VIEW": "VW",
    "VILLAGE": "VLG",
    "VILLE": "VL",
    "VISTA": "VIS",
    "WALKS": "WALK",
    "WELL": "WL",
    "WELLS": "WLS",
}

# USPS Publication 28, Appendix C2: secondary unit designators.
UNIT_TYPES = {
    "APARTMENT": "APT",
    "BASEMENT": "BSMT",
    "BUILDING": "BLDG",
    "DEPARTMENT": "DEPT",
    "FLOOR": "FL",
    "FRONT": "FRNT",
    "HANGAR": "HNGR",
    "LOBBY": "LBBY",
    "LOWER": "LOWR",
    "OFFICE": "OFC",
    "PENTHOUSE": "PH",
    "ROOM": "RM",
    "SPACE": "SPC",
    "SUITE": "STE",
    "TRAILER": "TRLR",
    "UPPER": "UPPR",
}

STATES = {
    "ALABAMA": "AL",
    "ALASKA": "AK",
    "ARIZONA": "AZ",
    "ARKANSAS": "AR",
    "CALIFORNIA": "CA",
    "COLORADO": "CO",
    "CONNECTICUT": "CT",
    "DELAWARE": "DE",
    "DISTRICT OF COLUMBIA": "DC",
    "FLORIDA": "FL",
    "GEORGIA": "GA",
    "HAWAII": "HI",
    "IDAHO": "ID",
    "ILLINOIS": "IL",
    "INDIANA": "IN",
    "IOWA": "IA",
    "KANSAS": "KS",
    "KENTUCKY": "KY",
    "LOUISIANA": "LA",
    "MAINE": "ME",
    "MARYLAND": "MD",
    "MASSACHUSETTS": "MA",
    "MICHIGAN": "MI",
    "MINNESOTA": "MN",
    "MISSISSIPPI": "MS",
    "MISSOURI": "MO",
    "MONTANA": "MT",
    "NEBRASKA": "NE",
    "NEVADA": "NV",
    "NEW HAMPSHIRE": "NH",
    "NEW JERSEY": "NJ",
    "NEW MEXICO": "NM",
    "NEW YORK": "NY",
    "NORTH CAROLINA": "NC",
    "NORTH DAKOTA": "ND",
    "OHIO": "OH",
    "OKLAHOMA": "OK",
    "OREGON": "OR",
    "PENNSYLVANIA": "PA",
    "RHODE ISLAND": "RI",
    "SOUTH CAROLINA": "SC",
    "SOUTH DAKOTA": "SD",
    "TENNESSEE": "TN",
    "TEXAS": "TX",
    "UTAH": "UT",
    "VERMONT": "VT",
    "VIRGINIA": "VA",
    "WASHINGTON": "WA",
    "WEST VIRGINIA": "WV",
    "WISCONSIN": "WI",
    "WYOMING": "WY",
    "PUERTO RICO": "PR",
    "GUAM": "GU",
    "VIRGIN ISLANDS": "VI",
    "AMERICAN SAMOA": "AS",
    "NORTHERN MARIANA ISLANDS": "MP",
}

# Token-wise table for the key: one-word directionals, suffixes and unit types.
KEY_TOKENS = {k: v for table in (DIRECTIONS, SUFFIXES, UNIT_TYPES) for k, v in table.items() if " " not in k}


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
    abbreviated = F.transform(tokens, lambda t: F.coalesce(_abbreviation(t, KEY_TOKENS), t))
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


class ConcatAddress(Transformer, DefaultParamsReadable, DefaultParamsWritable):
    """pyspark.ml stage: adds `outputCol` (concat_address) and, if set, `keyCol` (address_key)."""

    parts = Param(Params._dummy(), "parts", "JSON object: address part -> input column", TypeConverters.toString)
    outputCol = Param(Params._dummy(), "outputCol", "output column of the address", TypeConverters.toString)
    keyCol = Param(
        Params._dummy(), "keyCol", "output column of the address key; empty for none", TypeConverters.toString
    )
    abbreviate = Param(Params._dummy(), "abbreviate", "USPS abbreviations", TypeConverters.toBoolean)

    def __init__(
        self,
        parts: Optional[Dict[str, str]] = None,
        outputCol: str = "address",
        keyCol: str = "address_key",
        abbreviate: bool = False,
    ) -> None:
        super().__init__()
        self._setDefault(parts="{}", outputCol="address", keyCol="address_key", abbreviate=False)
        self._set(parts=json.dumps(parts or {}, sort_keys=True), outputCol=outputCol, keyCol=keyCol)
        self._set(abbreviate=abbreviate)

    def getParts(self) -> Dict[str, str]:
        return json.loads(self.getOrDefault(self.parts))

    def _transform(self, dataset: DataFrame) -> DataFrame:
        return with_address(
            dataset,
            self.getParts(),
            output_col=self.getOrDefault(self.outputCol),
            key_col=self.getOrDefault(self.keyCol) or None,
            abbreviate=self.getOrDefault(self.abbreviate),
        )

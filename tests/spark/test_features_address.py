"""concat_address / address_key: unit vectors, the ml stage, and the Linn County real-data check."""

from __future__ import annotations

import collections
import re
import xml.etree.ElementTree as ET

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.sql import functions as F

from features.address import ConcatAddress, address_key, concat_address, format_zip
from tests.datasets import package_file

COLUMNS = ["number", "pre_direction", "street", "suffix", "post_direction", "unit_type", "unit", "city", "state", "zip"]
SCHEMA = ", ".join(f"{name} string" for name in COLUMNS)


def assembled(spark, rows, abbreviate=False, **extra):
    df = spark.createDataFrame(rows, SCHEMA)
    parts = {name: name for name in COLUMNS}
    parts.update(extra)
    return [r[0] for r in df.select(concat_address(abbreviate=abbreviate, **parts)).collect()]


def test_parts_trimmed_collapsed_and_empty_parts_dropped(spark):
    rows = [
        ("  123 ", "", " Main ", "St", None, None, None, "Cedar   Rapids", "ia", "52402"),
        ("123", None, "Main", "St", "", "Apt", "4", "", "IA", "52402"),  # no city: no ", ,"
        ("", "", "", "", "", "", "", "Marion", "IA", ""),  # no street line, no ZIP
        ("9", None, "Elm", None, None, None, None, None, None, None),  # street only: no trailing comma
        (None, None, None, None, None, None, None, None, None, None),
        ("\t", " ", "\n", "", None, None, None, None, "  ", " "),
    ]
    assert assembled(spark, rows) == [
        "123 Main St, Cedar Rapids, IA 52402",
        "123 Main St Apt 4, IA 52402",
        "Marion, IA",
        "9 Elm",
        None,
        None,
    ]


def test_zip_leading_zeros_and_zip_plus_4(spark):
    df = spark.createDataFrame(
        [
            ("02134", None),
            ("2134", None),
            ("524021234", None),
            ("52402-1234", None),
            ("21341234", None),
            ("52402", "12"),
            ("52402", ""),
            ("", "1234"),
            (" n/a ", None),
        ],
        "zip string, zip4 string",
    )
    got = [r[0] for r in df.select(format_zip("zip", "zip4")).collect()]
    assert got == [
        "02134",
        "02134",
        "52402-1234",
        "52402-1234",
        "02134-1234",
        "52402-0012",
        "52402",
        None,
        None,
    ]
    numeric = spark.createDataFrame([(2134,), (501,)], "zip int")
    assert [r[0] for r in numeric.select(concat_address(state=F.lit("ma"), zip="zip")).collect()] == [
        "MA 02134",
        "MA 00501",
    ]


def test_usps_abbreviations(spark):
    rows = [
        ("123", "North", "Main", "Street", None, "Apartment", "4", "Cedar Rapids", "Iowa", "52402"),
        ("7", "southwest", "Oak", "avenue", "northeast", "suite", "B", "Marion", "ia", "52302"),
        ("5", None, "Park", "Boulevard", "SW", "apt", "2", "Marion", "IA", "52302"),
        ("5", None, "Unknownway", "Kloof", None, None, None, None, "IA", None),
    ]
    assert assembled(spark, rows, abbreviate=True) == [
        "123 N Main ST APT 4, Cedar Rapids, IA 52402",
        "7 SW Oak AVE NE STE B, Marion, IA 52302",
        "5 Park BLVD SW APT 2, Marion, IA 52302",
        "5 Unknownway Kloof, IA",
    ]
    # without abbreviate the words stay as written, only the state is uppercased
    assert assembled(spark, rows[:1])[0] == "123 North Main Street Apartment 4, Cedar Rapids, IOWA 52402"


def test_address_key_matches_the_same_place(spark):
    df = spark.createDataFrame(
        [
            (1, "123", "North", "Main", "Street", "Apartment", "4", "Cedar Rapids", "IA", "52402-1234"),
            (2, "123", "N", "MAIN", "ST", "#", "4", "CEDAR RAPIDS", "ia", "52402"),
            (3, " 123 ", "n.", "main", "st.", "Unit", "4", "Cedar  Rapids", "IA", "52402"),
            (4, "125", "N", "Main", "St", None, "4", "Cedar Rapids", "IA", "52402"),  # other number
            (5, "123", "S", "Main", "St", None, "4", "Cedar Rapids", "IA", "52402"),  # other direction
            (6, "123", "N", "Main", "St", None, "5", "Cedar Rapids", "IA", "52402"),  # other unit
            (7, "123", "N", "Main", "St", None, "4", "Cedar Rapids", "IA", "52403"),  # other ZIP
        ],
        "id int, number string, pre string, street string, suffix string, ut string, unit string, "
        "city string, state string, zip string",
    )
    key = address_key(
        number="number", pre_direction="pre", street="street", suffix="suffix", unit_type="ut", unit="unit", zip="zip"
    )
    keys = dict(df.select("id", key.alias("k")).collect())
    assert keys[1] == keys[2] == keys[3]
    assert len({keys[i] for i in (1, 4, 5, 6, 7)}) == 5
    assert re.fullmatch(r"[0-9a-f]{64}", keys[1])
    # a free-form street line gives the same key as the parts, however they were split
    line = df.where("id = 1").select(
        address_key(line=F.lit("123 North Main Street"), unit=F.lit("4"), zip=F.lit("52402")).alias("k")
    )
    assert line.first()["k"] == keys[1]
    # without a ZIP the key uses city and state
    no_zip = spark.createDataFrame(
        [("123 North Main Street", "Cedar Rapids", "Iowa"), ("123 N MAIN ST", "CEDAR RAPIDS", "IA")]
    )
    k = [r[0] for r in no_zip.select(address_key(line="_1", city="_2", state="_3")).collect()]
    assert k[0] == k[1]
    empty = spark.createDataFrame([(None, "  ")], "a string, b string")
    assert empty.select(address_key(line="a", zip="b")).first()[0] is None


def test_concat_address_stage_saves_and_loads(spark, tmp_path):
    df = spark.createDataFrame(
        [("123", "North", "Main", "Street", "52402")], "n string, d string, s string, t string, z string"
    )
    stage = ConcatAddress(
        parts={"number": "n", "pre_direction": "d", "street": "s", "suffix": "t", "zip": "z"},
        outputCol="addr",
        keyCol="akey",
        abbreviate=True,
    )
    model = Pipeline(stages=[stage]).fit(df)
    model.write().overwrite().save(str(tmp_path / "pipe"))
    loaded = PipelineModel.load(str(tmp_path / "pipe"))
    before = model.transform(df).select("addr", "akey").first()
    after = loaded.transform(df).select("addr", "akey").first()
    assert before == after
    assert before["addr"] == "123 N Main ST, 52402"
    with pytest.raises(ValueError, match="unknown address part"):
        concat_address(street_name="s")


# --- real data: 95,156 tagged Linn County, Iowa addresses -----------------------------------

TAG_TO_PART = {
    "AddressNumber": "number",
    "AddressNumberSuffix": "number_suffix",
    "StreetNamePreDirectional": "pre_direction",
    "StreetNamePreType": "pre_type",
    "StreetName": "street",
    "StreetNamePostType": "suffix",
    "StreetNamePostDirectional": "post_direction",
    "OccupancyType": "unit_type",
    "OccupancyIdentifier": "unit",
    "PlaceName": "city",
    "StateName": "state",
    "ZipCode": "zip",
}
PART_ORDER = list(dict.fromkeys(TAG_TO_PART.values()))


def parse_linn(path):
    """Per record: the original string, its parts (repeated tags joined by a space), its tag order."""
    records = []
    for element in ET.parse(path).getroot():
        parts = collections.defaultdict(list)
        for child in element:
            parts[TAG_TO_PART[child.tag]].append(child.text or "")
        original = "".join(element.itertext())
        order = tuple(dict.fromkeys(TAG_TO_PART[child.tag] for child in element))
        records.append((original, {k: " ".join(v) for k, v in parts.items()}, order))
    return records


def normalize(text):
    """Whitespace and punctuation normalization used for the comparison (case is kept)."""
    return " ".join(re.sub(r"[^\w/]+", " ", text or "").split())


def mismatch_kind(original, rebuilt, order):
    """A short label for why a record did not round-trip."""
    canonical = tuple(p for p in PART_ORDER if p in order)
    if order != canonical:
        return "components tagged out of street-line order: " + " ".join(order)
    if rebuilt is None:
        return "no components"
    if normalize(original).upper() == normalize(rebuilt).upper():
        return "case differs"
    return "other"


def test_linn_county_addresses_round_trip(spark, tmp_path):
    path = package_file("usaddress", "0.5.16", "training/openaddress_us_ia_linn.xml", sdist=True)
    records = parse_linn(path)
    assert len(records) == 95_156
    table = {"id": list(range(len(records))), "original": [r[0] for r in records]}
    for part in PART_ORDER:
        table[part] = [r[1].get(part) for r in records]
    pq.write_table(pa.table(table), str(tmp_path / "linn.parquet"))

    df = spark.read.parquet(str(tmp_path / "linn.parquet"))
    parts = {part: part for part in PART_ORDER}
    rebuilt = df.select(
        "id",
        concat_address(**parts).alias("rebuilt"),
        concat_address(abbreviate=True, **parts).alias("usps"),
        address_key(**parts).alias("key"),
    )
    by_id = {row["id"]: row for row in rebuilt.collect()}  # the one Spark job of this test
    rows = [by_id[i] for i in range(len(records))]

    kinds = collections.Counter()
    examples = {}
    for (original, _, order), row in zip(records, rows):
        if normalize(original) != normalize(row["rebuilt"]):
            kind = mismatch_kind(original, row["rebuilt"], order)
            kinds[kind] += 1
            examples.setdefault(kind, (original, row["rebuilt"]))
    rate = 1 - sum(kinds.values()) / len(records)
    print(f"\nLinn County round trip: {len(records) - sum(kinds.values())}/{len(records)} = {rate:.4%}")
    for kind, count in kinds.most_common():
        print(f"  {count:6d}  {kind}   e.g. {examples[kind][0]!r} -> {examples[kind][1]!r}")
    assert rate >= 0.99
    # The file is already in USPS form: abbreviating changes nothing but letter case.
    usps_same = sum(normalize(o).upper() == normalize(r["usps"]).upper() for (o, _, _), r in zip(records, rows))
    print(f"  with abbreviate=True, equal ignoring case: {usps_same}/{len(records)}")
    assert usps_same / len(records) >= 0.99
    # Keys: identical normalized addresses share a key, and distinct ones do not collide.
    by_text = collections.defaultdict(set)
    for (original, _, _), row in zip(records, rows):
        by_text[normalize(original).upper()].add(row["key"])
    assert all(len(keys) == 1 for keys in by_text.values())
    assert len({next(iter(keys)) for keys in by_text.values()}) == len(by_text)

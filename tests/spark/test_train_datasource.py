"""ml.datasource: Amazon ML CSV rules on real files (plain, gzip, a prefix, s3), rejects with reasons."""

from __future__ import annotations

import gzip
import os

import pytest

from core.errors import QualityGateError, UsageError
from ml.datasource import default_schema_uri, read_datasource

SCHEMA = {
    "version": "1.0",
    "rowId": "id",
    "targetAttributeName": "y",
    "dataFileContainsHeader": True,
    "attributes": [
        {"attributeName": "id", "attributeType": "CATEGORICAL"},
        {"attributeName": "note", "attributeType": "TEXT"},
        {"attributeName": "x", "attributeType": "NUMERIC"},
        {"attributeName": "y", "attributeType": "BINARY"},
    ],
}
GOOD = [
    "1,plain words,1.5,yes",
    '2,"with, a comma",2,No',
    '3,"a ""quoted"" word", 3e2 , T ',
    "4,,,0",  # missing note and x
    "5,bad number,abc,FaLSe",  # invalid x: counted, read as missing
]
BAD = [
    ("6,too,many,values,1", "expected 4 values, found 5"),
    ("7,too few", "expected 4 values, found 2"),
    ('8,"unclosed, 1,1', "unclosed double quote (values may not contain line breaks)"),
    ("9,no target,1,", "missing target y"),
    ("10,bad target,1,maybe", "invalid BINARY target y"),
    ("11," + "w" * (100 * 1024) + ",1,1", "observation larger than 100 KB"),
]
HEADER = "id,note,x,y"


def write(path, lines, gz=False):
    text = "\n".join(lines) + "\n"
    if gz:
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        with open(path, "w") as handle:
            handle.write(text)
    return path


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ds") / "in[1]"  # glob characters in the path are literal
    os.makedirs(folder)
    write(folder / "a.csv", [HEADER, *GOOD, ""])
    write(folder / "b.csv.gz", [HEADER, *[line for line, _ in BAD], "12,last,7,1"], gz=True)
    write(folder / "_ignored.csv", ["junk"])
    return folder


@pytest.fixture(scope="module")
def ds(spark, prefix):
    return read_datasource(spark, str(prefix) + "/", SCHEMA, require_target=True)


def test_counts_balance(ds):
    assert ds.rows_in == len(GOOD) + len(BAD) + 1
    assert ds.rows_rejected == len(BAD)
    assert ds.rows.count() == ds.rows_in - ds.rows_rejected
    assert len(ds.files) == 2 and ds.files[0].endswith("/a.csv")
    assert ds.blank_lines == 1
    assert ds.fingerprint.startswith("sha256:")


def test_typed_values_in_file_order(ds):
    rows = ds.rows.orderBy("_row").collect()
    assert [r["id"] for r in rows] == ["1", "2", "3", "4", "5", "12"]
    assert [r["y"] for r in rows] == [1, 0, 1, 0, 0, 1]
    assert rows[1]["note"] == "with, a comma" and rows[2]["note"] == 'a "quoted" word'
    assert rows[2]["x"] == 300.0 and rows[3]["x"] is None and rows[3]["note"] is None
    assert rows[4]["x"] is None and ds.invalid == {"x": 1, "y": 0}
    assert rows[0]["_source_file"].endswith("/a.csv") and rows[5]["_source_file"].endswith("/b.csv.gz")
    assert dict(ds.rows.dtypes) == {
        "id": "string",
        "note": "string",
        "x": "double",
        "y": "int",
        "_source_file": "string",
        "_row": "bigint",
    }


def test_rejects_have_reasons_and_lines(ds):
    rejects = {r["line"]: r for r in ds.rejects.collect()}
    assert sorted(rejects) == list(range(2, 2 + len(BAD)))
    for i, (line, reason) in enumerate(BAD):
        assert rejects[i + 2]["reason"] == reason
        assert rejects[i + 2]["raw"] == line[: 100 * 1024]
        assert rejects[i + 2]["source_file"].endswith("/b.csv.gz")


def test_header_must_match_schema(spark, tmp_path):
    path = write(tmp_path / "h.csv", ["id,x,note,y", "1,2,a,1"])
    with pytest.raises(UsageError, match="column 2 is 'x', the schema says 'note'"):
        read_datasource(spark, str(path), SCHEMA, require_target=True)


def test_missing_path_and_target(spark, tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        read_datasource(spark, str(tmp_path / "typo.csv"), SCHEMA, require_target=True)
    path = write(tmp_path / "t.csv", [HEADER, "1,a,1,1"])
    with pytest.raises(UsageError, match="targetAttributeName"):
        read_datasource(spark, str(path), {**SCHEMA, "targetAttributeName": None}, require_target=True)
    assert default_schema_uri(spark, str(path)).endswith("/t.csv.schema")
    assert default_schema_uri(spark, str(tmp_path)).endswith("/.schema")


def test_over_10000_rejects_trip_the_gate(spark, tmp_path):
    path = write(tmp_path / "many.csv", [HEADER] + ["1,2"] * 10_001 + ["1,a,1,1"])
    with pytest.raises(QualityGateError, match="10001 rows rejected"):
        read_datasource(spark, str(path), SCHEMA, require_target=True)


def test_s3_file_without_header(spark, s3_client, s3_bucket):
    bucket = s3_bucket.split("://")[1]
    s3_client.put_object(Bucket=bucket, Key="raw/d.csv", Body=b"1,a b,2,1\n2,c,3,0\n")
    ds = read_datasource(
        spark, s3_bucket + "/raw/d.csv", {**SCHEMA, "dataFileContainsHeader": False}, require_target=False
    )
    assert ds.rows_in == 2 and [r["x"] for r in ds.rows.orderBy("_row").collect()] == [2.0, 3.0]
    assert ds.files == [s3_bucket + "/raw/d.csv"]

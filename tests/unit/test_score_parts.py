"""score's and models' pure parts: argument checks, column names, CSV layout names, schema checks."""

import pytest

from core.cli import parse_job_args
from core.errors import UsageError
from jobs.main import load_job
from jobs.models import format_table, version_row
from jobs.score.batch_csv import csv_columns, result_names
from jobs.score.inputs import check_columns, raw_strings_schema, tag_column
from jobs.score.predict import output_columns
from ml.outputs import class_columns
from ml.version_record import VersionRecord


@pytest.mark.parametrize(
    "argv",
    [
        ["--name", "a"],  # no input
        ["--name", "a", "--data", "x.csv", "--table", "t"],  # two inputs
        ["--name", "a", "--table", "t", "--schema", "s"],  # --schema without --data
        ["--name", "a", "--table", "t", "--top-k", "0"],
        ["--name", "a", "--table", "t", "--version", "3"],
        ["--name", "../a", "--table", "t"],
    ],
)
def test_score_flags_are_checked_before_any_jvm(argv):
    with pytest.raises(SystemExit) as exit_info:
        parse_job_args("score", load_job("score"), argv)
    assert exit_info.value.code == 2


def test_models_promote_needs_a_name():
    with pytest.raises(SystemExit):
        parse_job_args("models", load_job("models"), ["--promote", "v2"])


def test_class_columns_are_the_labels_made_safe_for_delta():
    assert class_columns(["1_star", "2 stars", "tag", "a,b", "A"]) == ["1_star", "2_stars", "p_tag", "a_b", "A"]
    assert class_columns(["x", "X"]) == ["x", "X_"]
    assert output_columns(VersionRecord(model_type="MULTICLASS", classes=["lo", "hi"])) == [
        "tag",
        "bestAnswer",
        "lo",
        "hi",
    ]


def test_csv_layout_per_type_and_unique_result_names():
    assert csv_columns(VersionRecord(model_type="BINARY"), True) == ["tag", "bestAnswer", "score"]
    assert csv_columns(VersionRecord(model_type="BINARY"), False) == ["bestAnswer", "score"]
    assert csv_columns(VersionRecord(model_type="MULTICLASS", classes=["a", "b"]), True) == ["tag", "a", "b"]
    assert csv_columns(VersionRecord(model_type="REGRESSION"), True) == ["tag", "score"]
    names = result_names(["s3://b/x/part.csv", "s3://b/y/part.csv"], "r1")
    assert names == ["r1-part.csv.gz", "r1-1-part.csv.gz"]


def test_schema_checks():
    needed = {"x": "NUMERIC", "t": "TEXT"}
    check_columns({"x": "NUMERIC", "t": "TEXT", "extra": "TEXT"}, needed, "--schema", "v1")
    with pytest.raises(UsageError, match="t that model v1 needs are missing"):
        check_columns({"x": "NUMERIC"}, needed, "--schema", "v1")
    with pytest.raises(UsageError, match="x is BINARY, the model's is NUMERIC"):
        check_columns({"x": "BINARY", "t": "TEXT"}, needed, "--schema", "v1")
    schema = {
        "rowId": "id",
        "targetAttributeName": "y",
        "attributes": [{"attributeName": "x", "attributeType": "NUMERIC"}],
    }
    assert raw_strings_schema(schema)["attributes"] == [{"attributeName": "x", "attributeType": "CATEGORICAL"}]
    assert tag_column(None, {"rowId": "id"}, ["id", "x"]) == "id" and tag_column(None, {"rowId": "id"}, ["x"]) is None


def test_models_listing_rows():
    meta = VersionRecord(version="v2", model_type="REGRESSION", metrics={"rmse": 1.25}, algorithm="linear")
    row = version_row(meta, "v2")
    assert row["champion"] == "*" and row["metric"] == "rmse" and row["value"] == 1.25
    text = format_table([row])
    assert text.splitlines()[0].startswith("version") and "1.25" in text

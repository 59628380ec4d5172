"""jobs/aml's pure parts: the protocol's names and errors, the record parser, the text twins, murmur3, Describe's
filters and pages, rearranged rows. No JVM, no server."""

from __future__ import annotations

import json

import pytest

from jobs.aml import recipe_eval as rx
from jobs.aml.describe import describe
from jobs.aml.protocol import AmlError, check_request, cli_name, operation_names, operation_of_cli
from jobs.aml.rearrange import chosen


def test_the_service_model_has_its_28_operations_and_cli_names():
    names = operation_names()
    assert len(names) == 28 and "Predict" in names
    assert cli_name("CreateMLModel") == "create-ml-model"
    assert operation_of_cli("create-data-source-from-s3") == "CreateDataSourceFromS3"
    with pytest.raises(ValueError, match="unknown aml command"):
        operation_of_cli("create-model")


def test_requests_are_checked_with_botocores_validator():
    check_request("GetMLModel", {"MLModelId": "m1"})
    with pytest.raises(AmlError) as missing:
        check_request("CreateMLModel", {"MLModelId": "m1"})
    assert missing.value.kind == "InvalidInputException" and "MLModelType" in missing.value.message
    with pytest.raises(AmlError, match="Record"):
        check_request("Predict", {"MLModelId": "m", "Record": {"a": 1}, "PredictEndpoint": "http://x"})
    assert AmlError("ResourceNotFoundException", "gone").body() == {
        "__type": "ResourceNotFoundException",
        "message": "gone",
        "code": 404,
    }


def test_record_values_are_typed_as_score_reads_a_csv_value():
    assert rx.typed("blue\n", "CATEGORICAL") == "blue"
    assert rx.typed("blue\r\n", "CATEGORICAL") == "blue"
    assert rx.typed(" 1e3 \n", "NUMERIC") == 1000.0
    assert rx.typed("   ", "NUMERIC") is None
    assert rx.typed(" Yes", "BINARY") == 1
    for value, kind in [("abc", "NUMERIC"), ("nan", "NUMERIC"), ("Infinity", "NUMERIC"), ("maybe", "BINARY")]:
        with pytest.raises(ValueError):
            rx.typed(value, kind)


def test_the_text_twins_follow_the_recipe_rules():
    assert rx.no_punct(rx.tokenize("  Hello, world! -- seat-belts «ok»\t")) == ["Hello", "world", "seat-belts", "ok"]
    assert rx.ngram(["a", "b", "c"], 2) == ["a", "b", "c", "a b", "b c"]
    assert rx.osb(["The", "quick", "brown", "fox"], 4)[:3] == ["The_quick", "The__brown", "The___fox"]
    assert rx.quantile_token(5.0, [1.0, 5.0, 9.0]) == "q2" and rx.quantile_token(None, [1.0]) == "q_missing"
    assert rx.normalized(3.0, 1.0, 0.0) == 0.0 and rx.normalized(None, 0.0, 1.0) is None


def test_murmur3_is_the_standard_x86_32():
    assert rx.murmur3_32(b"", 0) == 0
    assert rx.murmur3_32(b"hello", 0) == 0x248BFA47
    assert rx.murmur3_32(b"The quick brown fox jumps over the lazy dog", 0) == 0x2E4FF723
    assert rx.hashed_slots(["a", "a", "b"], 16) == sorted({rx.murmur3_32(b"a") % 16, rx.murmur3_32(b"b") % 16})


def docs():
    return [
        {
            "MLModelId": f"m{i}",
            "Name": f"n{i % 2}",
            "Status": "DELETED" if i == 4 else "COMPLETED",
            "CreatedAt": 10.0 + i,
        }
        for i in range(5)
    ]


def test_describe_filters_sorts_and_pages():
    first = describe("MLModel", docs(), {"Limit": 2})
    assert [d["MLModelId"] for d in first["Results"]] == ["m0", "m1"] and first["NextToken"]
    second = describe("MLModel", docs(), {"Limit": 2, "NextToken": first["NextToken"]})
    assert [d["MLModelId"] for d in second["Results"]] == ["m2", "m3"] and "NextToken" not in second
    named = describe("MLModel", docs(), {"FilterVariable": "Name", "EQ": "n1", "SortOrder": "dsc"})
    assert [d["MLModelId"] for d in named["Results"]] == ["m3", "m1"]
    late = describe("MLModel", docs(), {"FilterVariable": "CreatedAt", "GE": "12", "LT": "1970-01-01T00:00:14Z"})
    assert [d["MLModelId"] for d in late["Results"]] == ["m2", "m3"]
    deleted = describe("MLModel", docs(), {"FilterVariable": "Status", "EQ": "DELETED"})
    assert [d["MLModelId"] for d in deleted["Results"]] == ["m4"]
    with pytest.raises(AmlError, match="NextToken"):
        describe("MLModel", docs(), {"NextToken": "not-ours"})


def test_a_sequential_rearrangement_keeps_the_rows_train_would():
    rows = [(i + 1, f"line{i}") for i in range(10)]  # position 0 was a header
    training = chosen(rows, json.dumps({"splitting": {"percentBegin": 0, "percentEnd": 70}}))
    held_out = chosen(rows, json.dumps({"splitting": {"percentBegin": 70, "percentEnd": 100}}))
    complement = chosen(rows, json.dumps({"splitting": {"percentBegin": 0, "percentEnd": 70, "complement": "true"}}))
    assert training == [f"line{i}" for i in range(6)] and held_out == complement == [f"line{i}" for i in range(6, 10)]
    spec = {"percentBegin": 0, "percentEnd": 70, "strategy": "random", "randomSeed": "7"}
    kept = chosen(rows, json.dumps({"splitting": spec}))
    rest = chosen(rows, json.dumps({"splitting": {**spec, "complement": True}}))
    assert sorted(kept + rest) == sorted(raw for _, raw in rows) and not set(kept) & set(rest)


def test_xxh64_is_the_standard_one():
    from jobs.aml.rearrange import xxh64

    for data, expected in [(b"", 0xEF46DB3751D8E999), (b"abc", 0x44BC2CF5AD770999)]:
        assert xxh64(data, 0) & 0xFFFFFFFFFFFFFFFF == expected
    assert xxh64(b"Nobody inspects the spammish repetition", 0) & 0xFFFFFFFFFFFFFFFF == 0xFBCEA83C8A378BF1


def test_jobs_run_locally_or_as_emr_steps_that_are_waited_for():
    from jobs.aml.worker import submit_argv

    run = {"run_id": "m1-abc", "run_date": "2026-12-01"}
    local = submit_argv(["local"], ["train", "--name", "m1"], "file:///l", run)
    assert local[0].endswith("spark-submit.sh") and local[1:] == [
        "local",
        "train",
        "--name",
        "m1",
        "--lake",
        "file:///l",
        "--run-id",
        "m1-abc",
        "--run-date",
        "2026-12-01",
    ]
    emr = submit_argv(["emr", "--cluster-id", "j-1"], ["score"], "s3://b/l", run)
    assert emr[1:3] == ["emr", "score"] and emr[-3:] == ["--cluster-id", "j-1", "--wait"]

"""The ML jobs under hostile and careless input, one test per defect, written from its steps (issue: names,
class labels, schemas, cut-off, empty and broken files, concurrent writers, one-class evaluations,
invalid UTF-8, rating scales, checkpoints, quarantine lines)."""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys

import pytest

from core.lake import Lake, local_path, spark_uri
from ml.lease import LEASE_FILE
from tests.helpers import run_in_process
from tests.spark.test_train_job import ATTRS, rows, schema, write_csv


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile")
    write_csv(path / "train.csv", rows(300, 3))
    json.dump(schema(), open(path / "train.csv.schema", "w"))
    return path


@pytest.fixture(scope="module")
def lake(data):
    return Lake.at(str(data / "lake"))


def train(spark, lake, data_file, *more, name="adult", schema_file=None):
    argv = ["--name", name, "--model-type", "BINARY", "--data", str(data_file), "--lake", lake.root]
    argv += ["--schema", str(schema_file or data_file.parent / "train.csv.schema"), "--run-date", "2026-11-20"]
    return run_in_process(spark, "train", [*argv, *more])


@pytest.fixture(scope="module")
def cut_at_zero(spark, data, lake):
    """A champion trained with --cutoff 0, after a killed run of the same name left checkpoints behind."""
    leftover = local_path(lake.state("checkpoints", "train", "adult", "killed-run"))
    os.makedirs(leftover)
    open(os.path.join(leftover, "rdd-1"), "w").close()
    return train(spark, lake, data / "train.csv", "--cutoff", "0")


def test_a_killed_runs_checkpoints_are_cleaned_by_the_next_train(cut_at_zero, lake):
    code, summary = cut_at_zero
    assert code == 0, summary["message"]
    folder = local_path(lake.state("checkpoints", "train", "adult"))
    assert not os.path.exists(folder) or os.listdir(folder) == []


def test_evaluate_uses_the_versions_cutoff_even_when_it_is_zero(spark, cut_at_zero, data, lake):
    argv = ["--name", "adult", "--data", str(data / "train.csv"), "--lake", lake.root, "--run-date", "2026-11-21"]
    code, summary = run_in_process(spark, "evaluate", argv)
    assert code == 0, summary["message"]
    metrics = summary["counts"]["metrics"]
    assert metrics["cutoff"] == 0 and metrics["share_above_cutoff"] == 1.0 and metrics["recall"] == 1.0


def test_evaluate_with_another_schema_or_without_target_is_exit_2_naming_what_is_missing(
    spark, cut_at_zero, data, lake
):
    other = {"version": "1.0", "targetAttributeName": "y", "dataFormat": "CSV", "dataFileContainsHeader": True}
    other["attributes"] = [{"attributeName": n, "attributeType": "NUMERIC"} for n in ("fnlwgt", "y")]
    json.dump(other, open(data / "other.schema", "w"))
    no_target = schema(targetAttributeName=None)
    no_target["attributes"] = [a for a in no_target["attributes"] if a["attributeName"] != "income"]
    json.dump(no_target, open(data / "predict.schema", "w"))
    base = ["--name", "adult", "--data", str(data / "train.csv"), "--lake", lake.root]
    code, summary = run_in_process(spark, "evaluate", [*base, "--schema", str(data / "other.schema")])
    assert code == 2 and "age" in summary["message"] and "missing" in summary["message"]
    code, summary = run_in_process(spark, "evaluate", [*base, "--schema", str(data / "predict.schema")])
    assert code == 2 and "no target" in summary["message"]


def test_a_second_writer_is_refused_naming_the_running_one_and_a_dead_ones_lease_is_taken_over(spark, data, lake):
    folder = local_path(lake.models("leased"))
    os.makedirs(folder)
    live = {"run_id": "other-run", "job": "train", "host": os.uname().nodename, "pid": os.getpid()}
    live["taken_at"], live["expires_at"] = "2026-11-20T00:00:00+00:00", "2999-01-01T00:00:00+00:00"
    json.dump(live, open(os.path.join(folder, LEASE_FILE), "w"))
    code, summary = train(spark, lake, data / "train.csv", name="leased")
    assert code == 1 and "other-run" in summary["message"] and "One writer per model" in summary["message"]
    assert not os.path.exists(os.path.join(folder, "v1"))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    json.dump({**live, "pid": int(dead.stdout)}, open(os.path.join(folder, LEASE_FILE), "w"))
    code, summary = train(spark, lake, data / "train.csv", name="leased")
    assert code == 0, summary["message"]
    assert summary["counts"]["version"] == "v1" and not os.path.exists(os.path.join(folder, LEASE_FILE))


@pytest.mark.parametrize("content", ["header only", "empty"])
def test_a_datasource_without_observations_is_exit_3_saying_so(spark, data, lake, content):
    path = data / f"{content.replace(' ', '_')}.csv"
    path.write_text(",".join(a for a, _ in ATTRS) + "\n" if content == "header only" else "")
    code, summary = train(spark, lake, path, name="empty")
    assert code == 3 and "no observations" in summary["message"]


def test_a_truncated_gzip_is_exit_2_naming_the_file_in_one_line(spark, data, lake):
    folder = data / "gz"
    folder.mkdir()
    full = gzip.compress(open(data / "train.csv", "rb").read())
    (folder / "part-1.csv.gz").write_bytes(full)
    (folder / "part-2.csv.gz").write_bytes(full[: len(full) // 2])
    code, summary = train(spark, lake, folder, name="gz", schema_file=data / "train.csv.schema")
    assert code == 2 and "part-2.csv.gz" in summary["message"] and "truncated" in summary["message"]
    assert "\n" not in summary["message"] and "part-1" not in summary["message"]


def test_invalid_utf8_lines_are_quarantined_with_their_line_numbers(spark, data, lake):
    path = data / "latin1.csv"
    write_csv(path, rows(100, 4))
    lines = path.read_bytes().split(b"\n")
    lines[5] = lines[5].replace(b"private", b"Priv\xe9ate").replace(b"gov", b"G\xf6v").replace(b"self", b"S\xe9lf")
    path.write_bytes(b"\n".join(lines))
    code, summary = train(spark, lake, path, name="latin")
    assert code == 0, summary["message"]
    assert summary["rows_rejected"] == 1
    quarantine = spark.read.format("delta").load(spark_uri(lake.quarantine("train")))
    got = [(r["line"], r["reason"]) for r in quarantine.where("source_file LIKE '%latin1.csv'").collect()]
    assert got == [(6, "invalid UTF-8 (the line's bytes are not UTF-8 text)")]


def test_evaluation_rows_of_one_class_give_no_auc_and_no_promotion(spark, data, lake):
    path = data / "one_class.csv"
    data_rows = rows(300, 5)
    tail = [r for r in data_rows if r[-1] == "no"][:90]
    write_csv(path, [*data_rows[:210], *tail])
    code, summary = train(spark, lake, path, name="oneclass")
    assert code == 0, summary["message"]
    metrics = summary["counts"]["metrics"]
    assert metrics["auc"] is None and "one class only" in metrics["auc_undefined"]
    assert summary["counts"]["promoted"] is False and "one class only" in summary["counts"]["reason"]


def test_a_multiclass_champion_with_reserved_and_hostile_labels_can_be_scored(spark, data, lake):
    labels = {"hs": "Tag", "bsc": "Run_Id", "msc": "low", "phd": "a.b"}
    multi = [[*r[:-1], labels[r[3]]] for r in rows(240, 6)]
    path = data / "multi.csv"
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows([[a for a, _ in ATTRS], *multi])
    target = schema()
    target["attributes"][-1]["attributeType"] = "CATEGORICAL"
    json.dump(target, open(data / "multi.csv.schema", "w"))
    argv = ["--name", "multi", "--model-type", "MULTICLASS", "--data", str(path), "--lake", lake.root]
    code, summary = run_in_process(spark, "train", [*argv, "--params", '{"maxIter": 5}'])
    assert code == 0, summary["message"]
    code, summary = run_in_process(spark, "score", ["--name", "multi", "--data", str(path), "--lake", lake.root])
    assert code == 0, summary["message"]
    table = spark.read.format("delta").load(spark_uri(lake.scores("multi")))
    assert {"p_Tag", "p_Run_Id", "low", "a_b"} <= set(table.columns) and table.count() == 240
    meta = json.load(open(local_path(lake.models("multi")) + "/v1/metadata.json"))
    assert meta["class_columns"] == [
        {"Tag": "p_Tag", "Run_Id": "p_Run_Id", "low": "low", "a.b": "a_b"}[c] for c in meta["classes"]
    ]


def test_refit_publishes_a_model_of_every_row_with_the_evaluated_fits_metrics(spark, cut_at_zero, data, lake):
    from pyspark.ml import PipelineModel

    code, summary = train(spark, lake, data / "train.csv", "--cutoff", "0", "--refit")
    assert code == 0, summary["message"]
    versions = local_path(lake.models("adult"))
    first, refit = (json.load(open(f"{versions}/{v}/metadata.json")) for v in ("v1", "v2"))
    assert refit["metrics"]["auc"] == first["metrics"]["auc"]  # the same evaluated fit
    assert refit["fitted_on"] == {"refit": True, "rows": 300, "text": "all 300 rows (refit after evaluation; --refit)"}
    assert first["fitted_on"]["refit"] is False and first["fitted_on"]["rows"] == summary["counts"]["train_rows"]
    weights = [PipelineModel.load(f"file://{versions}/{v}/model").stages[-1].coefficients for v in ("v1", "v2")]
    assert weights[0] != weights[1]
    assert "all 300 rows" in open(f"{versions}/v2/report/index.html").read()

"""train and evaluate end to end on a small adult-like datasource: the issue's exact command form,
the registry and champion gate, the report, the bad inputs of the contract."""

from __future__ import annotations

import csv
import json
import os
import random

import pytest
from pyspark.ml import PipelineModel

from core.lake import local_path, spark_uri
from tests.helpers import run_in_process

ATTRS = [
    ("id", "CATEGORICAL"),
    ("age", "NUMERIC"),
    ("workclass", "CATEGORICAL"),
    ("education", "CATEGORICAL"),
    ("hours-per-week", "NUMERIC"),
    ("noise", "CATEGORICAL"),
    ("income", "BINARY"),
]
RECIPE = {
    "groups": {},
    "assignments": {"binned_age": "quantile_bin(age, 10)"},
    "outputs": [
        "binned_age",
        "quantile_bin(hours-per-week, 10)",
        "cartesian(binned_age, education)",
        "ALL_CATEGORICAL",
    ],
}
NOISE_RECIPE = {"outputs": ["noise"]}
EDUCATION = {"hs": -1.0, "bsc": 0.0, "msc": 0.7, "phd": 1.2}


def rows(n, seed):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        age, hours = rng.randint(18, 80), rng.randint(10, 70)
        work, edu = rng.choice(["private", "gov", "self"]), rng.choice(list(EDUCATION))
        z = 0.05 * (age - 45) + 0.06 * (hours - 40) + EDUCATION[edu] + rng.gauss(0, 0.8)
        out.append([i, age, work, edu, hours, rng.choice("abcdefgh"), "yes" if z > 0 else "no"])
    return out


def schema(**changes):
    base = {
        "version": "1.0",
        "rowId": "id",
        "targetAttributeName": "income",
        "dataFormat": "CSV",
        "dataFileContainsHeader": True,
        "attributes": [{"attributeName": a, "attributeType": t} for a, t in ATTRS],
    }
    return {**base, **changes}


def write_csv(path, data, extra_lines=()):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([a for a, _ in ATTRS])
        writer.writerows(data)
        for line in extra_lines:
            handle.write(line + "\n")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("adult")
    write_csv(path / "train.csv", rows(500, 1), extra_lines=["oops,too,few"])
    write_csv(path / "test.csv", rows(200, 2))
    json.dump(schema(), open(path / "train.csv.schema", "w"))
    json.dump(RECIPE, open(path / "recipe.json", "w"))
    json.dump(NOISE_RECIPE, open(path / "noise.json", "w"))
    return path


@pytest.fixture(scope="module")
def first(spark, folder):
    """The issue's exact command line, run from the data's folder with relative paths."""
    before = os.getcwd()
    os.chdir(folder)
    try:
        argv = "--data train.csv --schema train.csv.schema --recipe recipe.json --model-type BINARY --name adult"
        code, summary = run_in_process(spark, "train", [*argv.split(), "--lake", "./lake", "--run-date", "2026-11-20"])
    finally:
        os.chdir(before)
    return code, summary


@pytest.fixture(scope="module")
def lake_uri(folder):
    return "file://" + str(folder / "lake")


def test_exact_form_trains_registers_and_promotes(first, lake_uri):
    code, summary = first
    assert code == 0, summary["message"]
    counts = summary["counts"]
    assert summary["rows_in"] == 501 and summary["rows_rejected"] == 1 and summary["rows_out"] == 500
    assert counts["version"] == "v1" and counts["promoted"] is True
    assert counts["train_rows"] + counts["eval_rows"] == 500 and 340 <= counts["train_rows"] <= 360
    assert counts["metrics"]["auc"] > 0.8 and counts["baseline"] == {"auc": 0.5}
    champion = json.load(open(local_path(lake_uri + "/models/adult/champion.json")))
    assert champion["version"] == "v1" and champion["metric"] == "auc"


def test_version_holds_metadata_report_and_plain_pipeline_model(spark, first, lake_uri, folder):
    version = local_path(lake_uri + "/models/adult/v1")
    meta = json.load(open(os.path.join(version, "metadata.json")))
    assert meta["model_type"] == "BINARY" and meta["algorithm"] == "logistic" and meta["classes"] == ["0", "1"]
    assert meta["cutoff"] == 0.5 and meta["recipe"]["outputs"] == RECIPE["outputs"]
    assert meta["split"]["strategy"] == "sequential" and meta["split"]["percent_end"] == 70
    assert meta["data_fingerprint"].startswith("sha256:") and meta["input"]["form"] == "datasource"
    assert meta["params"]["standardization"] is False and meta["layout"] == "vocabulary"
    for place in (os.path.join(version, "report"), local_path(lake_uri + "/reports/train/2026-11-20/adult")):
        assert {"index.html", "roc.png", "scores.png", "confusion.png", "report.json"} <= set(os.listdir(place))
    model = PipelineModel.load(spark_uri("file://" + os.path.join(version, "model")))
    raw = spark.createDataFrame(
        [("1", 60.0, "gov", "phd", 60.0, "a"), ("2", 20.0, "self", "hs", 15.0, "b")],
        "id string, age double, workclass string, education string, `hours-per-week` double, noise string",
    )
    scored = model.transform(raw).orderBy("id").collect()
    assert scored[0]["probability"][1] > 0.5 > scored[1]["probability"][1]


def test_quarantine_has_the_bad_line(spark, first, lake_uri):
    rows = spark.read.format("delta").load(spark_uri(lake_uri + "/quarantine/train")).collect()
    assert [(r["raw"], r["reason"]) for r in rows] == [("oops,too,few", "expected 7 values, found 3")]


def test_worse_model_is_registered_not_promoted(spark, first, folder, lake_uri):
    code, summary = run_in_process(
        spark,
        "train",
        [
            "--data",
            str(folder / "train.csv"),
            "--recipe",
            str(folder / "noise.json"),
            "--model-type",
            "BINARY",
            "--name",
            "adult",
            "--lake",
            lake_uri,
            "--split",
            '{"percentBegin": 0, "percentEnd": 70, "strategy": "random", "randomSeed": "3"}',
            "--run-date",
            "2026-11-21",
        ],
    )
    assert code == 0, summary["message"]
    assert summary["counts"]["version"] == "v2" and summary["counts"]["promoted"] is False
    assert json.load(open(local_path(lake_uri + "/models/adult/champion.json")))["version"] == "v1"
    page = open(local_path(lake_uri + "/models/adult/v2/report/index.html")).read()
    assert "kept, not promoted" in page


def test_worse_than_baseline_is_never_promoted(spark, first, lake_uri):
    from jobs.train.publish import promotion
    from ml.metrics import Evaluation

    bad = Evaluation("BINARY", {"auc": 0.99}, {"auc": 0.5}, True)
    decision = promotion(spark, lake_uri, "adult", "BINARY", bad, 0.0, None)
    assert decision.promote is False and "baseline" in decision.reason


def test_evaluate_scores_a_dataset_with_the_champion(spark, first, folder, lake_uri):
    code, summary = run_in_process(
        spark,
        "evaluate",
        [
            "--name",
            "adult",
            "--data",
            str(folder / "test.csv"),
            "--schema",
            str(folder / "train.csv.schema"),
            "--lake",
            lake_uri,
            "--run-date",
            "2026-11-22",
        ],
    )
    assert code == 0, summary["message"]
    assert summary["counts"]["version"] == "v1" and summary["rows_in"] == 200
    assert summary["counts"]["metrics"]["auc"] > 0.8
    assert "index.html" in os.listdir(local_path(lake_uri + "/reports/evaluate/2026-11-22/adult-v1"))


@pytest.mark.parametrize(
    "case, argv, schema_changes, words",
    [
        ("no target", ["--model-type", "BINARY"], {"targetAttributeName": None}, ["targetAttributeName"]),
        ("regression on a binary target", ["--model-type", "REGRESSION"], {}, ["target income", "NUMERIC"]),
        (
            "recipe off the schema",
            ["--model-type", "BINARY", "--recipe-text", '{"outputs": ["salary"]}'],
            {},
            ["--recipe", "salary"],
        ),
    ],
)
def test_bad_inputs_exit_2_naming_the_field(spark, folder, tmp_path, case, argv, schema_changes, words):
    json.dump(schema(**schema_changes), open(tmp_path / "s.json", "w"))
    if "--recipe-text" in argv:
        at = argv.index("--recipe-text")
        (tmp_path / "r.json").write_text(argv[at + 1])
        argv = [*argv[:at], "--recipe", str(tmp_path / "r.json")]
    code, summary = run_in_process(
        spark,
        "train",
        [
            "--data",
            str(folder / "train.csv"),
            "--schema",
            str(tmp_path / "s.json"),
            "--name",
            "bad",
            "--lake",
            str(tmp_path / "lake"),
            *argv,
        ],
    )
    assert code == 2, (case, summary["message"])
    assert all(word in summary["message"] for word in words), summary["message"]


def test_one_class_only_exits_2(spark, tmp_path):
    data = [[*r[:-1], "yes"] for r in rows(60, 5)]
    write_csv(tmp_path / "one.csv", data)
    json.dump(schema(), open(tmp_path / "one.csv.schema", "w"))
    code, summary = run_in_process(
        spark,
        "train",
        [
            "--data",
            str(tmp_path / "one.csv"),
            "--model-type",
            "BINARY",
            "--name",
            "one",
            "--lake",
            str(tmp_path / "lake"),
            "--params",
            '{"maxIter": 2}',
        ],
    )
    assert code == 2 and "target income" in summary["message"] and "only 1 class" in summary["message"]


def test_features_form_uses_the_feature_sets_pipeline(spark, tmp_path):
    """A feature set laid out as build_features writes it: the model scores raw rows through its stages."""
    from pyspark.sql import functions as F

    from core.lake import Lake
    from features.recipe import compile_recipe

    lake = Lake.at(str(tmp_path / "lake"))
    names = (
        "id string, age double, workclass string, education string, `hours-per-week` double, noise string, "
        "income string"
    )
    raw = spark.createDataFrame(
        [[str(r[0]), float(r[1]), r[2], r[3], float(r[4]), r[5], r[6]] for r in rows(300, 9)], names
    )
    pipeline = compile_recipe(schema(), RECIPE, 1024, vocabulary=True).fit(raw)
    pipeline.write().overwrite().save(spark_uri(lake.features("people") + "/_pipeline/run_date=2026-11-20"))
    table = pipeline.transform(raw).drop("features").withColumn("run_date", F.lit("2026-11-20").cast("date"))
    table.write.format("delta").partitionBy("run_date").save(spark_uri(lake.features("people")))
    code, summary = run_in_process(
        spark,
        "train",
        [
            "--features",
            "people",
            "--run-date",
            "2026-11-20",
            "--model-type",
            "BINARY",
            "--name",
            "people",
            "--lake",
            lake.root,
            "--params",
            '{"maxIter": 30}',
        ],
    )
    assert code == 0, summary["message"]
    assert summary["rows_in"] == 300 and summary["counts"]["metrics"]["auc"] > 0.75
    model = PipelineModel.load(spark_uri(lake.models("people") + "/v1/model"))
    scored = model.transform(raw.drop("income").limit(5))
    assert scored.select("probability").count() == 5

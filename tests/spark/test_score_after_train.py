"""score after the real train job: the issue's exact command form, the champion gate, `models --promote`."""

from __future__ import annotations

import csv
import json
import os

import pytest

from core.lake import spark_uri
from tests.helpers import run_in_process
from tests.spark.test_train_job import ATTRS, NOISE_RECIPE, RECIPE, rows, schema


@pytest.fixture(scope="module")
def trained(spark, tmp_path_factory):
    """v1 on the signal, v2 on noise (worse, so not promoted), and predict.csv without the target column."""
    folder = tmp_path_factory.mktemp("adult_score")
    with open(folder / "train.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([[a for a, _ in ATTRS], *rows(400, 1)])
    json.dump(schema(), open(folder / "train.csv.schema", "w"))
    json.dump(RECIPE, open(folder / "recipe.json", "w"))
    json.dump(NOISE_RECIPE, open(folder / "noise.json", "w"))
    with open(folder / "predict.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([[a for a, _ in ATTRS[:-1]], *[r[:-1] for r in rows(50, 9)]])
    attributes = [{"attributeName": a, "attributeType": t} for a, t in ATTRS[:-1]]
    json.dump(schema(targetAttributeName=None, attributes=attributes), open(folder / "predict.csv.schema", "w"))
    before = os.getcwd()
    os.chdir(folder)
    try:
        common = ["--data", "train.csv", "--model-type", "BINARY", "--name", "adult", "--lake", "./lake"]
        for recipe, day in (("recipe.json", "2026-11-18"), ("noise.json", "2026-11-19")):
            code, summary = run_in_process(spark, "train", [*common, "--recipe", recipe, "--run-date", day])
            assert code == 0, summary["message"]
        exact = "--name adult --lake ./lake --data predict.csv --schema predict.csv.schema --run-date 2026-11-20"
        first = run_in_process(spark, "score", exact.split())
        promoted = run_in_process(spark, "models", ["--lake", "./lake", "--name", "adult", "--promote", "v2"])
        second = run_in_process(spark, "score", [*exact.split()[:-1], "2026-11-21"])
    finally:
        os.chdir(before)
    return {"lake": "file://" + str(folder / "lake"), "first": first, "promoted": promoted, "second": second}


def test_exact_form_scores_with_the_champion_the_worse_model_did_not_replace(spark, trained):
    code, summary = trained["first"]
    assert code == 0, summary["message"]
    assert summary["counts"]["model_version"] == "v1" and summary["rows_out"] == 50
    table = spark.read.format("delta").load(spark_uri(trained["lake"] + "/scores/adult"))
    day = table.where("run_date = '2026-11-20'")
    assert {r["model_version"] for r in day.collect()} == {"v1"}
    assert sorted(int(r["tag"]) for r in day.collect()) == list(range(50))


def test_models_promote_moves_the_champion_and_the_next_score_uses_it(spark, trained):
    code, summary = trained["promoted"]
    assert code == 0, summary["message"]
    assert summary["counts"]["champion"]["version"] == "v2"
    assert [(v["version"], v["champion"]) for v in summary["counts"]["versions"]] == [("v1", ""), ("v2", "*")]
    code, summary = trained["second"]
    assert code == 0 and summary["counts"]["model_version"] == "v2"
    table = spark.read.format("delta").load(spark_uri(trained["lake"] + "/scores/adult"))
    assert {(str(r["run_date"]), r["model_version"]) for r in table.collect()} == {
        ("2026-11-20", "v1"),
        ("2026-11-21", "v2"),
    }

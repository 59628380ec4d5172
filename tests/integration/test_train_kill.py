"""train killed with SIGKILL while the registry writes its model, then run again: exactly one new
complete version, the champion untouched by the killed run."""

from __future__ import annotations

import json
import os

import pytest

from core.lake import Lake
from ml import registry
from tests.helpers import kill_when, run_in_process
from tests.spark.test_train_job import RECIPE, rows, schema, write_csv


@pytest.mark.slow
def test_killed_publish_then_rerun_gives_one_complete_version(spark, tmp_path):
    write_csv(tmp_path / "train.csv", rows(300, 1))
    json.dump(schema(), open(tmp_path / "train.csv.schema", "w"))
    json.dump(RECIPE, open(tmp_path / "recipe.json", "w"))
    lake = Lake.at(str(tmp_path / "lake"))
    argv = [
        "--data",
        str(tmp_path / "train.csv"),
        "--recipe",
        str(tmp_path / "recipe.json"),
        "--model-type",
        "BINARY",
        "--name",
        "adult",
        "--lake",
        lake.root,
        "--params",
        '{"maxIter": 20}',
    ]
    assert run_in_process(spark, "train", argv)[0] == 0
    champion_before = registry.champion(spark, lake, "adult")

    log = kill_when("train", argv, "registry adult: publishing v2")
    assert "registry adult: publishing v2" in log
    assert [m.version for m in registry.list_versions(spark, lake, "adult")] == ["v1"]
    assert registry.champion(spark, lake, "adult") == champion_before

    code, summary = run_in_process(spark, "train", argv)
    assert code == 0 and summary["counts"]["version"] == "v2"
    assert [m.version for m in registry.list_versions(spark, lake, "adult")] == ["v1", "v2"]
    folders = sorted(os.listdir(os.path.join(lake.root[len("file://") :], "models", "adult")))
    assert folders == ["champion.json", "v1", "v2"]

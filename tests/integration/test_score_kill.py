"""score killed with SIGKILL while it writes its partition, then run again: the table of one clean run."""

from __future__ import annotations

import pytest

from core.lake import Lake, spark_uri
from ml import registry
from tests.helpers import kill_when, run_in_process
from tests.model_factory import fit_model, write_prediction_csv

pytestmark = pytest.mark.slow  # starts job processes

DAY = "2026-11-20"


def partition(spark, lake):
    table = spark.read.format("delta").load(spark_uri(lake.scores("adult")))
    return sorted(
        (r["tag"], r["bestAnswer"], r["score"], r["model_version"], str(r["run_date"])) for r in table.collect()
    )


def test_killed_write_leaves_the_previous_partition_and_the_rerun_equals_a_clean_run(spark, tmp_path):
    lake = Lake.at(str(tmp_path / "lake"))
    model, meta = fit_model(spark, "BINARY", n=80)
    registry.set_champion(spark, lake, "adult", registry.publish_version(spark, lake, "adult", model, meta), reason="t")
    old = write_prediction_csv(tmp_path / "old", "BINARY", 20, seed=1)
    new = write_prediction_csv(tmp_path / "new", "BINARY", 40, seed=2)
    base = ["--name", "adult", "--lake", lake.root, "--run-date", DAY]
    assert run_in_process(spark, "score", [*base, "--data", old])[0] == 0
    previous = partition(spark, lake)

    log = kill_when("score", [*base, "--data", new], "score: writing partition")
    assert "score: writing partition" in log
    after_kill = partition(spark, lake)
    assert len(after_kill) in (20, 40)  # the old partition, or the new one whole: never a mix
    if len(after_kill) == 20:
        assert after_kill == previous

    assert run_in_process(spark, "score", [*base, "--data", new])[0] == 0
    rerun = partition(spark, lake)
    clean = Lake.at(str(tmp_path / "clean"))
    registry.set_champion(
        spark, clean, "adult", registry.publish_version(spark, clean, "adult", model, meta), reason="t"
    )
    assert (
        run_in_process(spark, "score", ["--name", "adult", "--lake", clean.root, "--run-date", DAY, "--data", new])[0]
        == 0
    )
    assert rerun == partition(spark, clean) and len(rerun) == 40

"""SIGKILL the whole demo night while the registry writes a model, then while score writes its
partition, then run it to the end: the lake equals one clean night, and neither kill left a
partial model version or score partition visible.

Every night here is a real `python -m jobs nightly --demo` process (its own JVM, the job's own
settings), the clean one included, so the two lakes' models are fitted under the same settings
and their scores can be compared row for row.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from core.lake import Lake
from ml import registry
from tests.conftest import ROOT
from tests.helpers import job_command, job_env, kill_when
from tests.nightly.test_nightly_days import differing_tables, raw_zone
from tests.nightly.test_nightly_demo import table_rows

pytestmark = pytest.mark.slow  # starts job processes

SCALE = 0.1
RUN_DATE = "2026-11-20"
MODELS = ("purchase_propensity", "product_recs")
OUTPUTS = ("features/purchase_propensity", "scores/purchase_propensity", "scores/product_recs")
PUBLISHING = "registry purchase_propensity: publishing v1"
SCORING = "score: writing partition"


def night(lake_dir: str) -> list:
    return ["--demo", "--scale", str(SCALE), "--lake", lake_dir, "--run-date", RUN_DATE]


def run_night(lake_dir: str) -> None:
    """One whole night in its own process, which must succeed."""
    done = subprocess.run(
        job_command("nightly", night(lake_dir)), cwd=ROOT, env=job_env(), capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]


def versions(spark, lake_dir: str) -> dict:
    lake = Lake.at(lake_dir)
    return {name: [m.version for m in registry.list_versions(spark, lake, name)] for name in MODELS}


def outputs(spark, lake_dir: str) -> dict:
    return {uri: rounded_rows(spark, os.path.join(lake_dir, uri)) for uri in OUTPUTS}


def rounded_rows(spark, path: str):
    """Rows with doubles to 9 decimals: two processes' fits of the same rows agree to ~1e-11, not bit for bit."""
    return table_rows(spark, path, digits=9)


@pytest.fixture(scope="module")
def lakes(spark, tmp_path_factory):
    folder = tmp_path_factory.mktemp("kill_ml")
    killed, clean = str(folder / "killed"), str(folder / "clean")
    seen = {"publishing_log": kill_when("nightly", night(killed), PUBLISHING, timeout=900)}
    seen["after_publishing_kill"] = versions(spark, killed)
    seen["champion_after_publishing_kill"] = registry.champion(spark, Lake.at(killed), "purchase_propensity")
    seen["scoring_log"] = kill_when("nightly", night(killed), SCORING, timeout=900)
    seen["after_scoring_kill"] = versions(spark, killed)
    seen["scores_after_scoring_kill"] = rounded_rows(spark, os.path.join(killed, "scores", "purchase_propensity"))
    run_night(killed)
    run_night(clean)
    return {"killed": killed, "clean": clean, **seen}


def test_the_kills_hit_model_writing_and_scoring(lakes):
    assert PUBLISHING in lakes["publishing_log"]
    assert SCORING in lakes["scoring_log"] and "registry purchase_propensity: v1 complete" in lakes["scoring_log"]


def test_a_model_killed_while_written_is_not_visible(lakes):
    assert lakes["after_publishing_kill"]["purchase_propensity"] == []
    assert lakes["champion_after_publishing_kill"] is None


def test_a_score_partition_killed_while_written_is_absent_or_whole(lakes, spark):
    assert lakes["after_scoring_kill"] == {name: ["v1"] for name in MODELS}
    clean = rounded_rows(spark, os.path.join(lakes["clean"], "scores", "purchase_propensity"))
    assert lakes["scores_after_scoring_kill"] in (None, [], clean)


def test_the_rerun_night_equals_one_clean_night(spark, lakes):
    assert raw_zone(lakes["killed"]) == raw_zone(lakes["clean"])
    assert differing_tables(spark, lakes["killed"], lakes["clean"]) == {}
    assert versions(spark, lakes["killed"]) == versions(spark, lakes["clean"]) == {name: ["v1"] for name in MODELS}
    killed, clean = outputs(spark, lakes["killed"]), outputs(spark, lakes["clean"])
    assert all(clean[uri] for uri in OUTPUTS), [uri for uri in OUTPUTS if not clean[uri]]
    assert {uri for uri in OUTPUTS if killed[uri] != clean[uri]} == set()
    for name in MODELS:
        champion = registry.champion(spark, Lake.at(lakes["killed"]), name)
        assert champion is not None and champion["version"] == "v1", name

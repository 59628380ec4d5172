"""ingest_dms's split plan killed with SIGKILL between its two commits (after the matched-only MERGE, before
the append of new keys), then run again: the table of one clean run, the MERGE not repeated, nothing twice."""

from __future__ import annotations

import json

import pytest

from core.lake import Lake, read_text
from tests.helpers import kill_when
from tests.spark.test_ingest_dms import job, put
from tests.spark.test_ingest_dms_split import CDC, operations, setup, stored

pytestmark = pytest.mark.slow  # starts job processes


def test_sigkill_between_the_split_commits_then_rerun_equals_a_clean_run(spark, tmp_path):
    src, conf = setup(tmp_path)
    clean, killed = Lake.at(str(tmp_path / "clean")), Lake.at(str(tmp_path / "killed"))
    assert job(spark, clean, src, conf)[0] == 0 and job(spark, killed, src, conf)[0] == 0  # the full load
    put(src, "s/t/20240102-0000000001.csv", CDC)
    code, summary = job(spark, clean, src, conf, "--apply-plan", "split")
    assert code == 0, summary["message"]

    argv = ["--input", str(src), "--tables", conf, "--lake", killed.root, "--run-date", "2024-01-02"]
    kill_when("ingest_dms", [*argv, "--apply-plan", "split"], "split plan: matched rows committed")
    assert [op for op, _ in operations(spark, killed)] == ["WRITE", "MERGE"]  # killed between the commits
    ledger = json.loads(read_text(spark, killed.state("ingest_dms", "s", "t", "ledger.json")))
    assert ledger["pending"]["apply_plan"] == "split"

    code, summary = job(spark, killed, src, conf)
    assert code == 0, summary["message"]
    assert summary["counts"]["tables"]["s.t"]["apply_plan"]["plan"] == "split"
    assert stored(spark, killed) == stored(spark, clean)
    assert [r[1] for r in stored(spark, killed)] == ["v1", "v2", "x3", "v5", "v6", "x8", "x9"]
    assert [op for op, _ in operations(spark, killed)] == ["WRITE", "MERGE", "WRITE"]
    ledger = json.loads(read_text(spark, killed.state("ingest_dms", "s", "t", "ledger.json")))
    assert ledger["pending"] is None

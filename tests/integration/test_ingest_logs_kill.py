"""ingest_logs killed midway (SIGKILL of the driver's process group) and re-run gives one clean run's table.

The killed run is the second of a lake: the ledger already holds the first run's files, so the re-run
must skip them (the ledger's rule) and take again only the file the killed run did not record; the
result equals a lake that took all the files in one clean run.
"""

from __future__ import annotations

import os

import pytest
from chispa import assert_df_equality

from core.lake import Lake
from tests.helpers import kill_when, run_in_process
from tests.spark.test_ingest_logs import args_for, build_input, comparable, generated_lines

pytestmark = pytest.mark.slow  # starts job processes


def test_kill_after_the_table_commit_then_rerun_equals_a_clean_run(spark, tmp_path):
    raw = str(tmp_path / "raw")
    expected = build_input(raw)
    killed_lake, clean_lake = Lake.at(str(tmp_path / "killed")), Lake.at(str(tmp_path / "clean"))
    code, first = run_in_process(spark, "ingest_logs", args_for(raw, killed_lake))
    assert code == 0 and first["counts"]["files_taken"] == 4, first["message"]
    with open(os.path.join(raw, "dt=2026-11-20", "access 2.log"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(generated_lines(30, seed=99)) + "\n")

    # killed after the table's Delta commit, before the quarantine and the ledger are written
    log = kill_when("ingest_logs", args_for(raw, killed_lake), "stage publish_table")
    assert "stage parse" in log
    half_done = spark.read.format("delta").load(killed_lake.table("logs_web"))
    assert half_done.count() == expected["rows"] + 30

    code, rerun = run_in_process(spark, "ingest_logs", args_for(raw, killed_lake))
    assert code == 0, rerun["message"]
    # the ledger's skip: the first run's files are not read again, the killed run's file is
    assert (rerun["counts"]["files_taken"], rerun["counts"]["files_skipped"]) == (1, 4)
    assert rerun["rows_in"] == rerun["rows_out"] == 30
    # the clean lake takes the same five files in one run
    code, clean = run_in_process(spark, "ingest_logs", args_for(raw, clean_lake))
    assert code == 0 and clean["counts"]["files_taken"] == 5, clean["message"]

    for name in ("table", "quarantine"):
        killed_df, clean_df = (
            comparable(spark.read.format("delta").load(p).drop("run_date"))
            for p in (
                (lake.table("logs_web") if name == "table" else lake.quarantine("ingest_logs"))
                for lake in (killed_lake, clean_lake)
            )
        )
        assert_df_equality(killed_df, clean_df, ignore_row_order=True)
    assert clean_df.count() == expected["rejected"]

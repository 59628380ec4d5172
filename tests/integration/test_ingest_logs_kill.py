"""ingest_logs killed midway (SIGKILL of the driver's process group) and re-run gives one clean run's table."""

from __future__ import annotations

from jobs.common.lake import Lake
from tests.helpers import kill_when, run_in_process
from tests.spark.test_ingest_logs import args_for, build_input, rows_without_run_id


def test_kill_after_the_table_commit_then_rerun_equals_a_clean_run(spark, tmp_path):
    raw = str(tmp_path / "raw")
    expected = build_input(raw)
    killed_lake, clean_lake = Lake.at(str(tmp_path / "killed")), Lake.at(str(tmp_path / "clean"))

    # killed after the table's Delta commit, before the quarantine and the ledger are written
    log = kill_when("ingest_logs", args_for(raw, killed_lake), "stage publish_table")
    assert "stage parse" in log
    half_done = spark.read.format("delta").load(killed_lake.table("logs_web"))
    assert half_done.count() == expected["rows"]
    assert not (tmp_path / "killed" / "_state" / "ingest_logs" / "web" / "ledger.json").exists()

    code, rerun = run_in_process(spark, "ingest_logs", args_for(raw, killed_lake))
    assert code == 0, rerun["message"]
    assert rerun["counts"]["files_taken"] == 4  # nothing in the ledger: every file taken again
    assert rerun["rows_in"] == rerun["rows_out"] + rerun["rows_rejected"] == expected["lines"]
    code, clean = run_in_process(spark, "ingest_logs", args_for(raw, clean_lake))
    assert code == 0, clean["message"]

    for name in ("table", "quarantine"):
        paths = [
            lake.table("logs_web") if name == "table" else lake.quarantine("ingest_logs")
            for lake in (killed_lake, clean_lake)
        ]
        killed_rows, clean_rows = (
            rows_without_run_id(spark.read.format("delta").load(p).drop("run_date")) for p in paths
        )
        assert killed_rows == clean_rows, name
    assert len(killed_rows) == expected["rejected"]

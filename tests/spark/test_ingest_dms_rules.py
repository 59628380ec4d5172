"""ingest_dms under hostile input: reloads, late files, quarantine, counts, gates, and the order rules.

Each test is written from the steps of one defect or of one rule that no other test pinned (docs/dms.md
says what must happen). The defects' tables share one CONF and three runs of the job (the module fixture
`runs`), the order rules' tables two (`rule_runs`); the reject-gate test runs its own.
"""

from __future__ import annotations

import json
import os

import pytest

from core.errors import LakemlError
from core.lake import read_text, spark_uri
from tests.spark.test_ingest_dms import job, put, rows, write_conf

COLUMNS = [{"name": "id", "type": "int"}, {"name": "val", "type": "string"}, {"name": "ts", "type": "string"}]
SEQ0 = 20240101000000000000000000000000000


def table(name: str = "t", **extra) -> dict:
    return {"schema": "s", "table": name, "key": ["id"], "columns": COLUMNS, "timestamp_column": "ts", **extra}


def history(spark, lake, name: str = "s_t_history"):
    df = spark.read.format("delta").load(spark_uri(lake.table(name)))
    return sorted(
        (r["id"], r["val"], r["op"], r["is_current"], str(r["valid_from"])[:19], str(r["valid_to"])[:19])
        for r in df.collect()
    )


def ledger(spark, lake, name: str = "t") -> dict:
    return json.loads(read_text(spark, lake.state("ingest_dms", "s", name, "ledger.json")))


def set_mtime(path: str, seconds: float) -> None:
    os.utime(path, (seconds, seconds))


# --- the shared runs ------------------------------------------------------------------------------


def seq_table(name: str) -> dict:
    columns = [*COLUMNS[:2], {"name": "seq", "type": "decimal(38,0)"}, COLUMNS[2]]
    return {**table(name), "columns": columns, "change_seq_column": "seq"}


def first_night(src) -> None:
    """The input of run A, one folder per table."""
    # defect 5 with timestamps (t) and without (u)
    put(src, "s/t/LOAD00000001.csv", "1,a,2024-01-01 00:00:00\n2,b,2024-01-01 00:00:00\n")
    put(src, "s/t/20240101-0000000001.csv", "I,3,c,2024-01-01 10:00:00\n")
    set_mtime(put(src, "s/u/LOAD00000001.csv", "1,a\n2,b\n"), 1_700_000_000)
    set_mtime(put(src, "s/u/20240101-0000000001.csv", "I,3,c\n"), 1_700_000_100)
    # defect 6: keys 1-5 loaded, then London and key 6 at 10:00
    put(src, "s/late/LOAD00000001.csv", "".join(f"{k},v{k},2026-11-20 00:00:00\n" for k in range(1, 6)))
    put(src, "s/late/20261120-100000000.csv", "U,1,London,2026-11-20 10:00:00\nI,6,new,2026-11-20 10:00:01\n")
    # defect 7: a column-count change trips the gate on every run
    put(src, "s/q/LOAD00000001.csv", "1,a,2024-01-01 00:00:00\n")
    put(src, "s/q/20240101-0000000001.csv", "U,1,a,2024-01-01 10:00:00,EXTRA\nI,2,b,2024-01-01 10:00:00\n")
    # defect 8: nine rows
    put(src, "s/r/LOAD00000001.csv", "".join(f"{k},v,2024-01-01 00:00:00\n" for k in range(1, 10)))


def second_night(src) -> None:
    """What changes before run B."""
    put(src, "s/t/LOAD00000001.csv", "1,a2,2024-01-02 00:00:00\n")  # the reload: 2 and 3 are gone
    set_mtime(put(src, "s/u/LOAD00000001.csv", "1,a2\n"), 1_700_000_200)
    set_mtime(put(src, "s/u/20240101-0000000002.csv", "U,1,a3\n"), 1_700_000_300)  # after the reload
    put(src, "s/late/20261120-050000000.csv", "U,1,Madrid,2026-11-20 05:00:00\nD,6,new,2026-11-20 05:00:03\n")
    put(src, "s/r/20240101-0000000001.csv", "I,10,v,2024-01-01 10:00:00\n")


@pytest.fixture(scope="module")
def runs(spark, tmp_path_factory):
    """Runs A and B (run dates 2026-11-21 and -22), then run C of s.r resuming a batch made pending again."""
    from core.lake import Lake, write_text
    from jobs.ingest_dms.batch import Plan, with_pending

    root = tmp_path_factory.mktemp("rules")
    src, lake = root / "dms", Lake.at(str(root / "lake"))
    tables = [table(n, history=n in ("t", "late")) for n in ("t", "late", "q", "r")]
    conf = write_conf(root, [*tables, {**table("u"), "columns": COLUMNS[:2], "timestamp_column": None}])
    first_night(src)
    out = {"lake": lake, "A": job(spark, lake, src, conf, "--run-date", "2026-11-21")}
    out["history A"] = history(spark, lake, "s_t_history")
    r_before = ledger(spark, lake, "r")
    second_night(src)
    out["B"] = job(spark, lake, src, conf, "--run-date", "2026-11-22")
    # as if the driver died after s.r's MERGE and before its ledger: the batch is pending again
    r_files = [u for u, batch in ledger(spark, lake, "r")["applied"].items() if batch == 2]
    pending = with_pending(r_before, Plan(2, False, [], r_files, {}))
    write_text(spark, lake.state("ingest_dms", "s", "r", "ledger.json"), json.dumps(pending))
    out["C"] = job(spark, lake, src, conf, "--table", "s.r", "--run-date", "2026-11-22")
    return out


def test_runs_exit_3_only_for_the_table_whose_gate_tripped(runs):
    for name in ("A", "B"):
        code, summary = runs[name]
        assert code == 3 and "table s.q" in summary["message"] and "Update columns" in summary["message"]
    assert runs["C"][0] == 0, runs["C"][1]["message"]


# --- defect 5: a new full load --------------------------------------------------------------------


def test_reload_does_not_replay_older_changes(spark, runs):
    lake = runs["lake"]
    assert [r for r in runs["history A"] if r[0] == 3]  # key 3 was there after run A
    assert rows(spark, lake, "s_t", ["id", "val"]) == [(1, "a2")]


def test_reload_is_recorded_once_in_the_history(spark, runs):
    got = history(spark, runs["lake"], "s_t_history")
    assert [r for r in got if r[3]] == [(1, "a2", "L", True, "2024-01-02 00:00:00", "None")]
    assert [r for r in got if r[0] == 3] == [(3, "c", "I", False, "2024-01-01 10:00:00", "2024-01-02 00:00:00")]
    assert len(got) == 4  # the first load's 2 rows, I 3, the reload's row: nothing replayed


def test_reload_without_timestamps_uses_file_times(spark, runs):
    assert rows(spark, runs["lake"], "s_u", ["id", "val"]) == [(1, "a3")]


# --- defect 6: a late CDC file and the SCD2 history ----------------------------------------------


def test_late_file_leaves_the_current_table_right(spark, runs):
    got = rows(spark, runs["lake"], "s_late", ["id", "val"])
    assert got == [(1, "London"), *[(k, f"v{k}") for k in range(2, 6)], (6, "new")]


def test_late_file_is_slotted_into_the_history_in_change_order(spark, runs):
    got = history(spark, runs["lake"], "s_late_history")
    assert [r for r in got if r[0] == 1] == [
        (1, "London", "U", True, "2026-11-20 10:00:00", "None"),
        (1, "Madrid", "U", False, "2026-11-20 05:00:00", "2026-11-20 10:00:00"),
        (1, "v1", "L", False, "2026-11-20 00:00:00", "2026-11-20 05:00:00"),
    ]
    assert [r for r in got if r[0] == 6] == [
        (6, "new", "D", False, "2026-11-20 05:00:03", "2026-11-20 05:00:03"),
        (6, "new", "I", True, "2026-11-20 10:00:01", "None"),
    ]
    assert sorted(r[0] for r in got if r[3]) == [1, 2, 3, 4, 5, 6]
    assert all(r[5] == "None" or r[4] <= r[5] for r in got)


# --- defect 7: the quarantine is replaced by file --------------------------------------------------


def test_quarantine_is_replaced_by_file_across_run_dates(spark, runs):
    quarantine = spark.read.format("delta").load(spark_uri(runs["lake"].quarantine("ingest_dms")))
    got = [(r["reason"], str(r["run_date"])) for r in quarantine.where("source_file LIKE '%/s/q/%'").collect()]
    assert got == [("column_count", "2026-11-22")]


# --- defect 8: counts after a resumed batch ---------------------------------------------------------


def test_counts_come_from_the_committed_table_after_a_resumed_batch(spark, runs):
    assert runs["B"][1]["counts"]["tables"]["s.r"]["rows_in_table"] == 10
    resumed = runs["C"][1]
    assert resumed["counts"]["tables"]["s.r"]["batch"] == 2 and resumed["counts"]["rows_in_table"] == 10
    assert ledger(spark, runs["lake"], "r")["rows_in_table"] == 10


# --- rules no other test pinned ---------------------------------------------------------------------


@pytest.fixture(scope="module", params=["merge", "split"])
def rule_runs(spark, tmp_path_factory, request):
    """Two runs over the tables of the order rules: sequence vs timestamp, an equal change, stale in one commit;
    under the merge and the split plan (docs/dms.md section 8; the property test runs all three)."""
    from core.lake import Lake

    root = tmp_path_factory.mktemp("order")
    src, lake = root / "dms", Lake.at(str(root / "lake"))
    tables = [seq_table("o"), table("e"), table("l1"), table("l2"), table("names"), table("dup")]
    conf = write_conf(root, tables)
    # hostile file names: glob characters, a zero-byte gzip, a hidden file
    names = ("20240101-a*.csv", "20240101-a1.csv", "20240101-b[1].csv", "20240101-c?.csv", "20240101-cX.csv")
    for key, name in enumerate(names):
        put(src, f"s/names/{name}", f"I,{key},{name},2024-01-01 10:00:00\n")
    put(src, "s/names/20240101-z.csv.gz", "")
    put(src, "s/names/_SUCCESS", "")
    put(src, "s/o/20240101-1.csv", f"U,1,x,{SEQ0 + 2},2024-01-01 10:00:01\nU,1,y,{SEQ0 + 3},2024-01-01 10:00:00\n")
    put(src, "s/e/20240101-0000000001.csv", "I,1,a,2024-01-01 10:00:00\n")
    stale_cdc = "U,1,old,2024-01-01 12:00:00\nD,1,old,2024-01-01 12:00:01\n"
    put(src, "s/l1/LOAD00000001.csv", "1,new,2024-01-02 00:00:00\n")
    put(src, "s/l1/20240101-0000000001.csv", stale_cdc)
    put(src, "s/l2/LOAD00000001.csv", "1,new,2024-01-02 00:00:00\n2,x,2024-01-01 00:00:00\n")  # load time 01-01
    put(src, "s/l2/20240101-0000000001.csv", stale_cdc)
    # a full load holding keys twice: within one file and across two
    put(src, "s/dup/LOAD00000001.csv", "1,a,2024-01-01 00:00:00\n1,b,2024-01-01 00:00:00\n2,c,2024-01-01 00:00:00\n")
    put(src, "s/dup/LOAD00000002.csv", "2,d,2024-01-01 00:00:00\n3,e,2024-01-01 00:00:00\n")
    plan = ["--apply-plan", request.param]
    first = job(spark, lake, src, conf, *plan)
    put(src, "s/e/20240101-0000000002.csv", "U,1,b,2024-01-01 10:00:00\n")
    second = job(spark, lake, src, conf, *plan)
    assert second[1]["counts"]["tables"]["s.e"]["apply_plan"]["plan"] == request.param
    return {"lake": lake, "codes": [first[0], second[0]], "first": first[1]}


def test_sequence_decides_before_the_commit_timestamp(spark, rule_runs):
    assert rule_runs["codes"] == [0, 0]
    assert rows(spark, rule_runs["lake"], "s_o", ["id", "val"]) == [(1, "y")]


def test_an_equal_change_is_applied_again(spark, rule_runs):
    assert rows(spark, rule_runs["lake"], "s_e", ["id", "val"]) == [(1, "b")]


def test_a_key_twice_in_the_full_load_keeps_its_last_row_in_apply_order(spark, rule_runs):
    """File name, then position in the file (docs/dms.md section 3); a load of unique keys skips the reduce."""
    assert rows(spark, rule_runs["lake"], "s_dup", ["id", "val"]) == [(1, "b"), (2, "d"), (3, "e")]


@pytest.mark.parametrize("name", ["l1", "l2"])
def test_changes_older_than_a_loaded_row_are_stale_in_the_same_commit(spark, rule_runs, name):
    """In l2 the load's time is earlier than the CDC, so only the per-row stale rule keeps 'new'."""
    assert rows(spark, rule_runs["lake"], f"s_{name}", ["id", "val"])[0] == (1, "new")


def test_reject_gate_counts_every_reject(spark, lake, tmp_path):
    src = tmp_path / "dms"
    conf = write_conf(tmp_path, [table("g")])
    put(src, "s/g/LOAD00000001.csv", "1,a,2024-01-01 00:00:00\n")
    assert job(spark, lake, src, conf)[0] == 0
    before = ledger(spark, lake, "g")
    put(src, "s/g/20240101-a.csv", "".join(f"X,{k},v,2024-01-01 10:00:00\n" for k in range(10_000)))
    one_more = put(src, "s/g/20240101-b.csv", "X,1,v,2024-01-01 10:00:00\n")
    code, summary = job(spark, lake, src, conf, "--max-reject-fraction", "1")
    assert code == 3 and summary["rows_rejected"] == 10_001, summary["message"]
    assert "10001 rows rejected, over the limit of 10000" in summary["message"]
    assert f"in the quarantine ({lake.quarantine('ingest_dms')})" in summary["message"]
    quarantine = spark.read.format("delta").load(spark_uri(lake.quarantine("ingest_dms")))
    assert quarantine.count() == 10_001
    assert rows(spark, lake, "s_g", ["id", "val"]) == [(1, "a")]
    assert ledger(spark, lake, "g") == before
    os.remove(one_more)
    code, summary = job(spark, lake, src, conf)
    assert code == 3 and "over the allowed fraction 0.1" in summary["message"]  # the default fraction
    code, summary = job(spark, lake, src, conf, "--max-reject-fraction", "1")
    assert code == 0 and summary["rows_rejected"] == 10_000 and summary["rows_out"] == 0
    assert rows(spark, lake, "s_g", ["id", "val"]) == [(1, "a")]


# --- defect 9: messages ---------------------------------------------------------------------------


def test_conf_that_is_not_utf8_is_a_usage_error_naming_the_file(tmp_path, capsys):
    from core.cli import parse_job_args
    from jobs.main import load_job

    conf = tmp_path / "latin1.yaml"
    conf.write_bytes("tables:\n  - schema: caf\xe9\n".encode("latin-1"))
    with pytest.raises(SystemExit) as exit_:
        parse_job_args("ingest_dms", load_job("ingest_dms"), ["--input", "x", "--tables", str(conf)])
    assert exit_.value.code == 2
    assert "latin1.yaml: not UTF-8 text" in capsys.readouterr().err


def test_a_lost_commit_race_is_one_line_exit_1(spark):  # Delta's exceptions need a live session
    from delta.exceptions import ConcurrentAppendException, ConcurrentTransactionException

    from jobs.ingest_dms.delta_io import one_run_per_table

    races = [ConcurrentAppendException("Files were added ...", "trace"), ConcurrentTransactionException("x", "trace")]
    for error in races:
        with pytest.raises(LakemlError) as caught, one_run_per_table("s.t"):
            raise error
        assert caught.value.exit_code == 1 and "\n" not in str(caught.value)
        assert "another run holds the table" in str(caught.value) and "s.t" in str(caught.value)
    with pytest.raises(ValueError), one_run_per_table("s.t"):
        raise ValueError("not a race")


def test_files_are_read_by_their_literal_names(spark, rule_runs):
    names = rule_runs["first"]["counts"]["tables"]["s.names"]
    assert names["rows_in"] == 5 and names["files_applied"] == 6 and names["files_ignored"] == 1
    got = [r[0] for r in rows(spark, rule_runs["lake"], "s_names", ["val"])]
    assert got == ["20240101-a*.csv", "20240101-a1.csv", "20240101-b[1].csv", "20240101-c?.csv", "20240101-cX.csv"]

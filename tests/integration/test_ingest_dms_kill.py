"""ingest_dms killed with SIGKILL after its table commit, then run again: the state of one clean run, nothing twice."""

from __future__ import annotations

import json
import os

import pytest

from core.lake import Lake, read_text, spark_uri
from tests.helpers import kill_when, run_in_process

pytestmark = pytest.mark.slow  # starts job processes

COLUMNS = [{"name": "id", "type": "int"}, {"name": "city", "type": "string"}, {"name": "ts", "type": "string"}]


def table_rows(spark, lake: Lake, name: str):
    df = spark.read.format("delta").load(spark_uri(lake.table(name)))
    return sorted(tuple(str(v) for v in r) for r in df.collect())


def test_killed_after_the_table_commit_resumes_to_one_clean_run(spark, tmp_path):
    src = tmp_path / "dms" / "hr" / "people"
    src.mkdir(parents=True)
    (src / "LOAD00000001.csv").write_text("1,Oslo,2024-01-01 00:00:00\n2,Rome,2024-01-01 00:00:00\n")
    (src / "20240102-000001.csv").write_text(
        "U,1,Bergen,2024-01-02 10:00:00\nD,2,Rome,2024-01-02 11:00:00\nI,3,Pisa,2024-01-02 12:00:00\n"
    )
    conf = tmp_path / "dms.json"
    table = {"schema": "hr", "table": "people", "key": ["id"], "columns": COLUMNS, "timestamp_column": "ts"}
    conf.write_text(json.dumps({"tables": [{**table, "history": True}]}))
    killed = Lake.at(str(tmp_path / "killed"))
    argv = ["--input", str(tmp_path / "dms"), "--tables", str(conf), "--run-date", "2024-01-02"]

    # the table's commit is done when "stage load" is logged; the history and the ledger are not
    log = kill_when("ingest_dms", [*argv, "--lake", killed.root], "stage load hr.people")
    assert "stage load hr.people" in log
    ledger = json.loads(read_text(spark, killed.state("ingest_dms", "hr", "people", "ledger.json")))
    assert ledger["pending"]["batch"] == 1 and ledger["last_batch"] == 0

    code, resumed = run_in_process(spark, "ingest_dms", [*argv, "--lake", killed.root])
    assert code == 0, resumed["message"]

    # what one clean run gives (tests/spark/test_ingest_dms.py checks clean runs of the same shape)
    assert table_rows(spark, killed, "hr_people") == [
        ("1", "Bergen", "2024-01-02 10:00:00", "None", "2024-01-02 10:00:00"),
        ("3", "Pisa", "2024-01-02 12:00:00", "None", "2024-01-02 12:00:00"),
    ]
    history = spark.read.format("delta").load(spark_uri(killed.table("hr_people_history")))
    assert sorted((r["id"], r["city"], r["op"], r["is_current"]) for r in history.collect()) == [
        (1, "Bergen", "U", True),
        (1, "Oslo", "L", False),
        (2, "Rome", "D", False),
        (2, "Rome", "L", False),
        (3, "Pisa", "I", True),
    ]
    assert resumed["counts"]["rows_in_table"] == 2 and resumed["rows_in"] == 5
    from delta.tables import DeltaTable

    history = DeltaTable.forPath(spark, spark_uri(killed.table("hr_people"))).history().collect()
    assert len(history) == 1  # the resumed run did not write the table again
    ledger = json.loads(read_text(spark, killed.state("ingest_dms", "hr", "people", "ledger.json")))
    assert ledger["pending"] is None and ledger["last_batch"] == 1 and len(ledger["applied"]) == 2
    assert os.path.exists(os.path.join(killed.root[len("file://") :], "_state"))

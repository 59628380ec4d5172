"""ingest_dms's split apply plan: a run stopped between its two commits resumes to one clean run, a reader
between them never sees a key twice, the MERGE carries the batch's key range, a small batch is broadcast, and
--optimize z-orders the table."""

from __future__ import annotations

import json

from core.lake import Lake, read_text, spark_uri
from jobs.ingest_dms import split as dms_split
from tests.spark.test_ingest_dms import job, put, write_conf

COLUMNS = [{"name": "id", "type": "int"}, {"name": "val", "type": "string"}, {"name": "ts", "type": "string"}]
LOAD = "".join(f"{k},v{k},2024-01-01 00:00:00\n" for k in range(1, 7))
CDC = (
    "U,3,x3,2024-01-02 10:00:00\n"
    "D,4,v4,2024-01-02 10:00:01\n"
    "I,9,x9,2024-01-02 10:00:02\n"
    "I,8,x8,2024-01-02 10:00:03\n"
    "U,5,old,2023-12-31 00:00:00\n"  # stale: older than the loaded row
)


class Stopped(Exception):
    """Stands in for a kill between the split plan's two commits."""


def stored(spark, lake: Lake):
    df = spark.read.format("delta").load(spark_uri(lake.table("s_t")))
    return sorted(tuple(str(v) for v in r) for r in df.collect())


def operations(spark, lake: Lake):
    from delta.tables import DeltaTable

    history = DeltaTable.forPath(spark, spark_uri(lake.table("s_t"))).history().orderBy("version").collect()
    return [(r["operation"], r["operationParameters"]) for r in history]


def setup(tmp_path):
    src = tmp_path / "dms"
    put(src, "s/t/LOAD00000001.csv", LOAD)
    conf = write_conf(
        tmp_path, [{"schema": "s", "table": "t", "key": ["id"], "columns": COLUMNS, "timestamp_column": "ts"}]
    )
    return src, conf


def test_split_stopped_between_its_commits_resumes_to_one_clean_run(spark, tmp_path, monkeypatch):
    src, conf = setup(tmp_path)
    clean, stopped = Lake.at(str(tmp_path / "clean")), Lake.at(str(tmp_path / "stopped"))
    assert job(spark, clean, src, conf)[0] == 0 and job(spark, stopped, src, conf)[0] == 0  # the full load
    put(src, "s/t/20240102-0000000001.csv", CDC)
    code, summary = job(spark, clean, src, conf, "--apply-plan", "merge")
    assert code == 0, summary["message"]

    seen = {}

    def stop(spark_, target):
        table = spark_.read.format("delta").load(target.path)
        seen["count"], seen["keys"] = table.count(), table.select("id").distinct().count()
        seen["rows"] = {r["id"]: r["val"] for r in table.collect()}
        raise Stopped()

    monkeypatch.setattr(dms_split, "after_matched_merge", stop)
    code, summary = job(spark, stopped, src, conf, "--apply-plan", "split")
    assert code == 1
    # a reader between the commits: the updates and deletes, not yet the inserts, and no key twice
    assert seen["count"] == seen["keys"] == 5
    assert seen["rows"] == {1: "v1", 2: "v2", 3: "x3", 5: "v5", 6: "v6"}
    ledger = json.loads(read_text(spark, stopped.state("ingest_dms", "s", "t", "ledger.json")))
    assert ledger["pending"]["apply_plan"] == "split"

    monkeypatch.undo()
    code, summary = job(spark, stopped, src, conf, "--apply-plan", "merge")  # the pending batch keeps split
    assert code == 0, summary["message"]
    assert summary["counts"]["tables"]["s.t"]["apply_plan"] == {
        "plan": "split",
        "why": "resumed batch started with split",
    }
    assert stored(spark, stopped) == stored(spark, clean)
    assert [r[1] for r in stored(spark, stopped)] == ["v1", "v2", "x3", "v5", "v6", "x8", "x9"]
    ops = [op for op, _ in operations(spark, stopped)]
    assert ops == ["WRITE", "MERGE", "WRITE"]  # load, matched-only MERGE (not repeated), the append of new keys


def test_split_merge_carries_the_key_range_and_optimize_zorders(spark, tmp_path):
    src, conf = setup(tmp_path)
    lake = Lake.at(str(tmp_path / "lake"))
    assert job(spark, lake, src, conf)[0] == 0
    put(src, "s/t/20240102-0000000001.csv", CDC)
    code, summary = job(spark, lake, src, conf, "--optimize")
    assert code == 0, summary["message"]
    counts = summary["counts"]["tables"]["s.t"]
    assert counts["apply_plan"]["plan"] == "merge"  # auto: 5 changes are more than 0.1 of 6 rows
    assert counts["optimize"]["files_added"] >= 1 and counts["optimize"]["seconds_total"] >= 0
    put(src, "s/t/20240102-0000000002.csv", "U,2,y2,2024-01-03 00:00:00\nI,7,y7,2024-01-03 00:00:00\n")
    code, summary = job(spark, lake, src, conf, "--apply-plan", "split")
    assert code == 0, summary["message"]
    assert summary["counts"]["tables"]["s.t"]["merge"] == {
        "numTargetRowsUpdated": 1,
        "numTargetRowsDeleted": 0,
        "numTargetRowsInserted": 1,
    }
    ops = operations(spark, lake)
    assert [op for op, _ in ops] == ["WRITE", "MERGE", "OPTIMIZE", "MERGE", "WRITE"]
    assert "ZORDER" in json.dumps(ops[2][1]).upper() or "zOrderBy" in json.dumps(ops[2][1])
    predicate = ops[3][1]["matchedPredicates"] + ops[3][1].get("predicate", "")
    # the batch's key range (2..7) as literals beside the key equality, so Delta skips files outside it
    assert ">= 2" in predicate and "<= 7" in predicate, predicate
    assert [r[:2] for r in stored(spark, lake)] == [
        ("1", "v1"),
        ("2", "y2"),
        ("3", "x3"),
        ("5", "v5"),
        ("6", "v6"),
        ("7", "y7"),
        ("8", "x8"),
        ("9", "x9"),
    ]


def test_a_small_batch_is_broadcast_so_the_table_is_streamed_not_shuffled(spark):
    """The split plan caches the batch (Spark then knows its size) and hints a small one to every join."""
    from core.session import session_confs
    from jobs.ingest_dms.apply import BROADCAST_BYTES, broadcast_if_small, cached_batch, plan_bytes

    table = spark.range(200_000).withColumnRenamed("id", "key")
    # a batch computed by a window over raw rows, as the job's last change per key is: Spark cannot size it
    raw = spark.range(1_000).selectExpr("id % 300 AS key", "id AS seq")
    batch = cached_batch(raw.selectExpr("key", "max(seq) OVER (PARTITION BY key) AS last").distinct())
    try:
        assert 0 < plan_bytes(batch) <= BROADCAST_BYTES
        with session_confs(spark, {"spark.sql.autoBroadcastJoinThreshold": "-1"}):  # only the hint broadcasts
            joined = table.join(broadcast_if_small(batch), "key")._jdf.queryExecution().executedPlan().toString()
        assert "BroadcastHashJoin" in joined and "SortMergeJoin" not in joined
    finally:
        batch.unpersist()
    large = spark.range(10**7).selectExpr("id AS key", "repeat('x', 100) AS v")
    assert plan_bytes(large) > BROADCAST_BYTES and broadcast_if_small(large) is large

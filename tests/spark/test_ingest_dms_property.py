"""Property tests: ingest_dms against the pure-Python reference model (tests/unit/test_dms_reference.py).

Random I/U/D changes over a few keys and a full load, cut into CDC files and nightly batches; a file may
arrive one batch late (its name sorts before files already applied), files and rows arrive in shuffled
order; with a change-sequence column the timestamps are drawn independently of the sequence (the
sequence decides), without one they tie in pairs and file name plus position decide. Optionally the
table is reloaded at the end (a new full load) and then an old, late CDC file arrives. After every run
the Delta table must equal the reference, and the SCD2 history must be well formed with one current row
per key the reference's change order leaves live.

CI (CI=true) runs the `dms-ci` profile: a fixed seed (derandomize), 4 examples (2 locally; each is up
to four job runs with history), a deadline per example and no shrinking (a failure reports its example
at once instead of shrinking for minutes).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from core.lake import Lake, spark_uri
from tests.helpers import run_in_process
from tests.unit.test_dms_reference import reference_batches, reference_current_history, reference_last_per_key

SEQ0 = 20240101000000000000000000000000000
CHANGE = st.tuples(st.sampled_from("IUD"), st.integers(0, 4), st.integers(0, 999))
DAY = 86_400  # seconds: the first load is at 0 (2024-01-01), CDC on day 1, a reload on day 2
NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate]
# CI: the same two examples per apply plan every run (the three plans' job-level runs cost ~75 s each);
# a developer's run draws two new ones each time, so the space keeps being explored.
settings.register_profile(
    "dms-ci",
    derandomize=True,
    max_examples=2,
    deadline=dt.timedelta(minutes=5),
    phases=NO_SHRINK,
    suppress_health_check=list(HealthCheck),
)
settings.register_profile(
    "dms-dev", max_examples=2, deadline=None, phases=NO_SHRINK, suppress_health_check=list(HealthCheck)
)
JOB_SETTINGS = settings.get_profile("dms-ci" if os.environ.get("CI") else "dms-dev")


def split(items: list, cuts: list) -> list:
    """Cut a list at the given sorted positions."""
    bounds = [0, *cuts, len(items)]
    return [items[a:b] for a, b in zip(bounds, bounds[1:]) if a < b]


@st.composite
def scenarios(draw):
    use_seq = draw(st.booleans())
    raw = draw(st.lists(CHANGE, min_size=1, max_size=14))
    changes = []
    for index, (op, key, value) in enumerate(raw, start=1):
        second = draw(st.integers(1, 3_000)) if use_seq else index // 2
        changes.append({"index": index, "op": op, "key": key, "value": value, "ts": DAY + second})
    file_cuts = sorted(draw(st.sets(st.integers(1, len(changes) - 1), max_size=4))) if len(changes) > 1 else []
    files = split(changes, file_cuts)
    names = draw(st.permutations(range(len(files)))) if use_seq else list(range(len(files)))
    batch_cuts = sorted(draw(st.sets(st.integers(1, len(files) - 1), max_size=1))) if len(files) > 1 else []
    batches = [[] for _ in split(files, batch_cuts)]
    position = 0
    for number, group in enumerate(split(files, batch_cuts)):
        for rows in group:
            late = number + 1 < len(batches) and draw(st.booleans())  # held back: arrives one batch late
            order = draw(st.permutations(range(len(rows)))) if use_seq else list(range(len(rows)))
            batches[number + late].append((f"20240102-{names[position]:010d}.csv", [rows[i] for i in order]))
            position += 1
    for batch in batches:
        batch[:] = draw(st.permutations(batch))  # arrival order
    reload = draw(st.none() | st.dictionaries(st.integers(0, 4), st.integers(0, 999), min_size=1, max_size=4))
    return {
        "initial": draw(st.dictionaries(st.integers(0, 4), st.integers(0, 999), max_size=5)),
        "include_op": draw(st.booleans()),
        "use_seq": use_seq,
        "batches": [b for b in batches if b],
        "reload": reload,
    }


def stamp(seconds: int) -> str:
    return (dt.datetime(2024, 1, 1) + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S.000000")


def line(scenario: dict, op: str, key: int, value, index: int, ts: int) -> str:
    """One DMS CSV row: [Op,]id,val[,seq],ts."""
    fields = [op] if op else []
    fields += [str(key), "NULL" if value is None else f"v{value}"]
    if scenario["use_seq"]:
        fields.append(str(SEQ0 + index))
    return ",".join([*fields, stamp(ts)]) + "\n"


def conf_for(scenario: dict, root: str) -> str:
    columns = [{"name": "id", "type": "int"}, {"name": "val", "type": "string"}]
    if scenario["use_seq"]:
        columns.append({"name": "seq", "type": "decimal(38,0)"})
    columns.append({"name": "ts", "type": "string"})
    table = {
        "schema": "p",
        "table": "t",
        "key": ["id"],
        "columns": columns,
        "timestamp_column": "ts",
        "include_op_for_full_load": scenario["include_op"],
        "history": True,
    }
    if scenario["use_seq"]:
        table["change_seq_column"] = "seq"
    path = os.path.join(root, "conf.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"tables": [table]}, handle)
    return path


def write_load(scenario: dict, folder: str, rows: dict, ts: int) -> None:
    op = "I" if scenario["include_op"] else ""
    with open(os.path.join(folder, "LOAD00000001.csv"), "w", encoding="utf-8") as handle:
        handle.write("".join(line(scenario, op, k, v, 0, ts) for k, v in sorted(rows.items())))


def write_cdc(scenario: dict, folder: str, name: str, rows: list) -> list:
    """One CDC file; its changes in the reference's shape."""
    with open(os.path.join(folder, name), "w", encoding="utf-8") as handle:
        handle.write("".join(line(scenario, c["op"], c["key"], c["value"], c["index"], c["ts"]) for c in rows))
    seq = (lambda c: c["index"]) if scenario["use_seq"] else (lambda c: None)
    return [{**c, "seq": seq(c), "fname": name, "pos": pos} for pos, c in enumerate(rows)]


def check(spark, lake, summary: dict, expected: dict, current: dict, where) -> None:
    """The table equals the reference; the history is well formed and its current rows are the expected ones."""
    table = {r["id"]: r["val"] for r in spark.read.format("delta").load(spark_uri(lake.table("p_t"))).collect()}
    assert table == {k: f"v{v}" for k, v in expected.items()}, where
    assert summary["counts"]["rows_in_table"] == len(expected), where
    history = spark.read.format("delta").load(spark_uri(lake.table("p_t_history"))).collect()
    assert all(r["valid_to"] is None or r["valid_from"] <= r["valid_to"] for r in history), where
    assert all(r["is_current"] == (r["valid_to"] is None) for r in history), where
    live = [r["id"] for r in history if r["is_current"]]
    assert sorted(live) == sorted(set(live)), where  # at most one current row per key
    assert {r["id"]: r["val"] for r in history if r["is_current"]} == {k: f"v{v}" for k, v in current.items()}, where


@pytest.mark.parametrize("plan", ["merge", "split", "rebuild"])
@JOB_SETTINGS
@given(scenarios())
def test_table_and_history_equal_reference_after_every_run(spark, plan, scenario):
    root = tempfile.mkdtemp(prefix="dms-prop-")
    try:
        folder = os.path.join(root, "in", "p", "t")
        os.makedirs(folder)
        if scenario["initial"]:
            write_load(scenario, folder, scenario["initial"], 0)
        conf = conf_for(scenario, root)
        lake = Lake.at(os.path.join(root, "lake"))
        argv = ["--input", os.path.join(root, "in"), "--tables", conf, "--lake", lake.root, "--apply-plan", plan]
        received, reloads = [], {}
        runs = scenario["batches"] + (["reload", "late"] if scenario["reload"] is not None else [])
        for number, batch in enumerate(runs):
            if batch == "reload":  # a new full load on day 2
                write_load(scenario, folder, scenario["reload"], 2 * DAY)
                reloads[number] = (scenario["reload"], 2 * DAY)
                batch = []
            elif batch == "late":  # then an old CDC file that must not apply to the reloaded table
                batch = [("20240101-0000000000.csv", [{"index": 999, "op": "I", "key": 0, "value": 1, "ts": DAY + 1}])]
            received.append([c for name, rows in batch for c in write_cdc(scenario, folder, name, rows)])
            code, summary = run_in_process(spark, "ingest_dms", argv)
            assert code == 0, summary["message"]
            applied = summary["counts"]["tables"]["p.t"]["apply_plan"]
            assert applied is None or applied["plan"] == plan  # None: a full-load batch (one overwrite)
            expected = reference_batches(scenario["initial"], 0, received, reloads)
            current = reference_current_history(scenario["initial"], received, scenario["reload"] if reloads else None)
            check(spark, lake, summary, expected, current, (number, scenario))
    finally:
        shutil.rmtree(root, ignore_errors=True)


@settings(JOB_SETTINGS, max_examples=20 if os.environ.get("CI") else 10)
@given(st.lists(CHANGE, min_size=1, max_size=25), st.randoms(use_true_random=False), st.booleans())
def test_last_change_per_key_matches_reference(spark, raw, rnd, use_seq):
    """The reduction alone: shuffled rows, order by sequence (or timestamp ties broken by file and position)."""
    from pyspark.sql import functions as F

    from jobs.ingest_dms.changes import last_change_per_key

    changes = [(i + 1, op, key, value) for i, (op, key, value) in enumerate(raw)]
    rows = []
    for i, op, key, value in changes:
        seq = Decimal(SEQ0 + i) if use_seq else None
        ts = f"2024-01-02 00:00:{i // 3:02d}"  # ties of three
        fname = f"f{i // 2:03d}.csv"  # two changes per file, in order
        rows.append((op, key, value, seq, ts, fname, "file:///x/" + fname, i % 2))
    rnd.shuffle(rows)
    df = spark.createDataFrame(
        rows,
        "_op string, id int, val int, _dms_seq decimal(38,0), _dms_ts string, _fname string, _file string, _pos long",
    ).withColumn("_dms_ts", F.col("_dms_ts").cast("timestamp"))
    got = {r["id"]: (r["_op"], r["val"]) for r in last_change_per_key(df, ["id"], ["id", "val"], False).collect()}
    assert got == reference_last_per_key(changes)

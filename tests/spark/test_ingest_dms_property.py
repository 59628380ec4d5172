"""Property tests: ingest_dms against the pure-Python reference model (tests/unit/test_dms_reference.py).

Random I/U/D changes over a few keys, an optional full load (with or without Op), cut into
random CDC files and nightly batches, files arriving in shuffled order; with a change-sequence
column the file names and the rows inside each file are shuffled too (the sequence decides),
without one the timestamps tie and file name plus position decide. After every batch the Delta
table must equal the reference. Spark runs cost seconds, so the job-level test runs a few
examples; the reduction alone (one Spark transform, no Delta) runs more.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs.common.lake import Lake, spark_uri
from tests.helpers import run_in_process
from tests.unit.test_dms_reference import reference_apply, reference_last_per_key

SEQ0 = 20240101000000000000000000000000000
CHANGE = st.tuples(st.sampled_from("IUD"), st.integers(0, 4), st.integers(0, 999))


def split(items: list, cuts: list) -> list:
    """Cut a list at the given sorted positions."""
    bounds = [0, *cuts, len(items)]
    return [items[a:b] for a, b in zip(bounds, bounds[1:]) if a < b]


@st.composite
def scenarios(draw):
    initial = draw(st.dictionaries(st.integers(0, 4), st.integers(0, 999), max_size=5))
    raw = draw(st.lists(CHANGE, min_size=1, max_size=16))
    changes = [(index + 1, op, key, value) for index, (op, key, value) in enumerate(raw)]
    file_cuts = sorted(draw(st.sets(st.integers(1, len(changes) - 1), max_size=4))) if len(changes) > 1 else []
    files = split(changes, file_cuts)
    batch_cuts = sorted(draw(st.sets(st.integers(1, len(files) - 1), max_size=1))) if len(files) > 1 else []
    use_seq = draw(st.booleans())
    batches = []
    for batch in split(files, batch_cuts):
        arrival = draw(st.permutations(range(len(batch))))
        names = draw(st.permutations(range(len(batch)))) if use_seq else list(range(len(batch)))
        files_in_batch = []
        for position, rows in enumerate(batch):
            order = draw(st.permutations(range(len(rows)))) if use_seq else list(range(len(rows)))
            files_in_batch.append((names[position], [rows[i] for i in order]))
        batches.append([files_in_batch[i] for i in arrival])
    return {
        "initial": initial,
        "include_op": draw(st.booleans()),
        "use_seq": use_seq,
        "changes": changes,
        "batches": batches,
    }


def line(scenario: dict, op: str, key: int, value, index: int) -> str:
    """One DMS CSV row: [Op,]id,val[,seq],ts — timestamps tie in pairs when there is no sequence."""
    fields = [op] if op else []
    fields += [str(key), "NULL" if value is None else f"v{value}"]
    if scenario["use_seq"]:
        fields.append(str(SEQ0 + index))
    second = index if scenario["use_seq"] else index // 2
    fields.append(
        f"2024-01-02 00:{second // 60:02d}:{second % 60:02d}.000000" if index else "2024-01-01 00:00:00.000000"
    )
    return ",".join(fields) + "\n"


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
    }
    if scenario["use_seq"]:
        table["change_seq_column"] = "seq"
    path = os.path.join(root, "conf.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"tables": [table]}, handle)
    return path


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(scenarios())
def test_table_equals_reference_after_every_batch(spark, scenario):
    root = tempfile.mkdtemp(prefix="dms-prop-")
    try:
        folder = os.path.join(root, "in", "p", "t")
        os.makedirs(folder)
        if scenario["initial"]:
            op = "I" if scenario["include_op"] else ""
            text = "".join(line(scenario, op, k, v, 0) for k, v in sorted(scenario["initial"].items()))
            with open(os.path.join(folder, "LOAD00000001.csv"), "w", encoding="utf-8") as handle:
                handle.write(text)
        conf = conf_for(scenario, root)
        lake = Lake.at(os.path.join(root, "lake"))
        applied = []
        for number, batch in enumerate(scenario["batches"]):
            for name, rows in batch:  # arrival order
                path = os.path.join(folder, f"2024010{number + 2}-{name:010d}.csv")
                with open(path, "w", encoding="utf-8") as handle:
                    handle.write("".join(line(scenario, op, k, v, i) for i, op, k, v in rows))
                applied += rows
            code, summary = run_in_process(
                spark, "ingest_dms", ["--input", os.path.join(root, "in"), "--tables", conf, "--lake", lake.root]
            )
            assert code == 0, summary["message"]
            expected = reference_apply(scenario["initial"], applied)
            df = spark.read.format("delta").load(spark_uri(lake.table("p_t")))
            got = {r["id"]: r["val"] for r in df.collect()}
            assert got == {k: f"v{v}" for k, v in expected.items()}, (number, scenario)
            assert summary["counts"]["rows_in_table"] == len(expected)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(CHANGE, min_size=1, max_size=25), st.randoms(use_true_random=False), st.booleans())
def test_last_change_per_key_matches_reference(spark, raw, rnd, use_seq):
    """The reduction alone: shuffled rows, order by sequence (or timestamp ties broken by file and position)."""
    from pyspark.sql import functions as F

    from jobs.ingest_dms import last_change_per_key

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

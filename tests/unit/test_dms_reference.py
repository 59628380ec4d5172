"""A tiny pure-Python reference model of DMS apply, and the pure parts of ingest_dms: CONF, file order, ledger."""

from __future__ import annotations

import json
from typing import Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import UsageError
from core.lake import FileInfo
from jobs.ingest_dms import batch
from jobs.ingest_dms.batch import Plan, commit_plan, empty_ledger, plan_batch, with_pending
from jobs.ingest_dms.conf import parse_conf, select_tables
from jobs.ingest_dms.files import classify_files, load_sort_key

# --- the reference model: apply changes one by one in sequence order ------------------


def reference_apply(initial: dict, changes: list) -> dict:
    """key -> value after applying (seq, op, key, value) changes in seq order: D removes, I/U set."""
    state = dict(initial)
    for _, op, key, value in sorted(changes, key=lambda c: c[0]):
        if op == "D":
            state.pop(key, None)
        else:
            state[key] = value
    return state


def reference_last_per_key(changes: list) -> dict:
    """key -> (op, value) of the last change by seq."""
    out = {}
    for _, op, key, value in sorted(changes, key=lambda c: c[0]):
        out[key] = (op, value)
    return out


# A change of the batch model: dict(seq, ts, op, key, value, fname, pos, batch); seq None without a sequence
# column, ts in seconds. The rules are docs/dms.md's: §3 order, §4 stale changes, §5 reloads, §6 history.


def change_order(change: dict) -> tuple:
    """The apply order within a batch: sequence, timestamp, file name, position (nulls first)."""
    seq = change["seq"]
    return (seq is not None, seq or 0, change["ts"], change["fname"], change["pos"])


def reference_batches(load: dict, load_ts: int, batches: list, reloads: Optional[dict] = None) -> dict:
    """key -> value after a full load and batches of CDC changes, batch by batch as ingest_dms applies them.

    Per batch: the last change per key wins; a change older than the stored row (by sequence when both
    have one, else by timestamp) is ignored, an equal one applied; D forgets the key (no tombstone).
    `reloads` maps a batch index to (rows, ts): that batch starts from a new full load, and changes older
    than the load's time are not applied then or later."""
    reloads = reloads or {}
    state = {k: (v, 0, load_ts) for k, v in load.items()}
    since = load_ts
    for number, changes in enumerate(batches):
        if number in reloads:
            rows, since = reloads[number]
            state = {k: (v, 0, since) for k, v in rows.items()}
        last = {}
        for change in sorted((c for c in changes if c["ts"] >= since), key=change_order):
            last[change["key"]] = change
        for key, change in last.items():
            if key in state:
                _, seq, ts = state[key]
                older = change["seq"] < seq if change["seq"] is not None and seq is not None else change["ts"] < ts
                if older:
                    continue
            if change["op"] == "D":
                state.pop(key, None)
            else:
                state[key] = (change["value"], change["seq"], change["ts"])
    return {k: v for k, (v, _, _) in state.items()}


def reference_current_history(load: dict, batches: list, reload: Optional[dict] = None) -> dict:
    """key -> value of each key's current history row: its last received change in change order, not a D.

    A reload (rows) ends every key's history that it does not hold and starts the ones it holds."""
    if reload is not None:
        return dict(reload)
    received = {k: [((0, 0, -1, "", 0), "L", v)] for k, v in load.items()}
    for number, changes in enumerate(batches):
        for change in changes:
            seq = change["seq"]
            order = (seq or 0, change["ts"], number, change["fname"], change["pos"])
            received.setdefault(change["key"], []).append((order, change["op"], change["value"]))
    out = {}
    for key, rows in received.items():
        _, op, value = max(rows, key=lambda row: row[0])
        if op != "D":
            out[key] = value
    return out


def test_batches_model_stale_late_changes_reloads_and_no_tombstones():
    def c(op, key, value, ts, seq=None, batch_name="f"):
        return {"seq": seq, "ts": ts, "op": op, "key": key, "value": value, "fname": batch_name, "pos": 0}

    load = {1: "a"}
    late = [[c("U", 1, "new", 20)], [c("U", 1, "late", 10)]]
    assert reference_batches(load, 0, late) == {1: "new"}  # the late change is older: ignored
    equal = [[c("U", 1, "x", 20)], [c("U", 1, "y", 20)]]
    assert reference_batches(load, 0, equal) == {1: "y"}  # an equal change is applied again
    by_seq = [[c("U", 1, "x", 20, seq=5), c("U", 1, "y", 10, seq=6)]]
    assert reference_batches(load, 0, by_seq) == {1: "y"}  # the sequence decides before the timestamp
    resurrected = [[c("D", 1, None, 20)], [c("I", 1, "old", 10)]]
    assert reference_batches(load, 0, resurrected) == {1: "old"}  # no tombstone
    assert reference_current_history(load, resurrected) == {}  # the history's change order says deleted
    reload = [[c("I", 2, "b", 10)], [c("I", 3, "c", 11)]]
    assert reference_batches(load, 0, reload, {1: ({1: "r"}, 100)}) == {1: "r"}  # older changes not replayed


def test_reference_model_aws_example():
    changes = [(1, "I", 101, "New York"), (2, "U", 101, "Los Angeles"), (3, "U", 101, "Dallas"), (4, "D", 101, None)]
    assert reference_apply({102: "Boston"}, changes) == {102: "Boston"}
    assert reference_last_per_key(changes) == {101: ("D", None)}


@given(st.lists(st.tuples(st.sampled_from("IUD"), st.integers(0, 4), st.integers(0, 99)), max_size=30))
def test_reduce_then_apply_equals_sequential_apply(raw):
    """Applying only the last change per key gives the same state as applying every change: why one MERGE suffices."""
    changes = [(seq, op, key, value) for seq, (op, key, value) in enumerate(raw)]
    initial = {0: -1, 1: -2}
    state = dict(initial)
    for key, (op, value) in reference_last_per_key(changes).items():
        if op == "D":
            state.pop(key, None)
        else:
            state[key] = value
    assert state == reference_apply(initial, changes)


# --- CONF -----------------------------------------------------------------------------

GOOD = {
    "tables": [
        {
            "schema": "hr",
            "table": "employee",
            "key": ["id"],
            "columns": [{"name": "id", "type": "int"}, {"name": "city", "type": "string"}],
        }
    ]
}


def conf_with(**fields) -> str:
    table = {**GOOD["tables"][0], **fields}
    return json.dumps({"tables": [table]})


def test_conf_defaults_json_and_yaml():
    (spec,) = parse_conf(json.dumps(GOOD))
    assert spec.format == "csv" and spec.csv_null_value == "NULL" and spec.csv_delimiter == ","
    assert spec.table_name == "hr_employee" and spec.history_name == "hr_employee_history"
    yaml_text = """
defaults: {format: parquet}
tables:
  - schema: HR
    table: EMPLOYEE
    key: id
    columns: [{name: id, type: "decimal(10, 0)"}, {name: ts, type: string}]
    timestamp_column: ts
    history: true
"""
    (spec,) = parse_conf(yaml_text)
    assert spec.format == "parquet" and spec.key == ("id",) and spec.table_name == "hr_employee"
    assert (spec.columns[0].name, spec.columns[0].type) == ("id", "decimal(10, 0)")


@pytest.mark.parametrize(
    "fields, words",
    [
        ({"key": ["nope"]}, ["hr.employee", "key", "nope"]),
        ({"columns": [{"name": "id", "type": "integr"}]}, ["hr.employee", "columns[0].type", "integr"]),
        ({"format": "avro"}, ["hr.employee", "format"]),
        ({"timestamp_column": "ts"}, ["hr.employee", "timestamp_column"]),
        ({"history": True}, ["hr.employee", "history", "timestamp_column"]),
        ({"csv_delimiter": ";;"}, ["hr.employee", "csv_delimiter"]),
        ({"include_op_for_full_load": "yes"}, ["hr.employee", "include_op_for_full_load"]),
        ({"partial_update": True}, ["hr.employee", "unknown field", "partial_update"]),
        ({"columns": [{"name": "Op"}, {"name": "id"}]}, ["hr.employee", "Op"]),
        ({"columns": [{"name": "id"}, {"name": "ID"}]}, ["hr.employee", "more than once"]),
        ({"compression": "gzip"}, ["hr.employee", "unknown field", "compression"]),
    ],
)
def test_conf_errors_name_table_and_field(fields, words):
    with pytest.raises(UsageError) as error:
        parse_conf(conf_with(**fields))
    for word in words:
        assert word in str(error.value)


def test_conf_not_yaml_and_unknown_table():
    with pytest.raises(UsageError, match="tables"):
        parse_conf("[1, 2")
    with pytest.raises(UsageError, match="non-empty list 'tables'"):
        parse_conf("tables: []")
    with pytest.raises(UsageError, match=r"--table 'hr\.nope'"):
        select_tables(parse_conf(json.dumps(GOOD)), "hr.nope")


def test_example_conf_is_valid():
    with open("conf/dms_example.yaml", encoding="utf-8") as handle:
        specs = parse_conf(handle.read())
    assert [s.name for s in specs] == ["hr.employee", "sales.orders"]


# --- file order -------------------------------------------------------------------------


def test_hex_counter_orders_load_files():
    names = [f"LOAD{n:08X}.csv" for n in range(1, 20)]
    assert "LOAD0000000A.csv" in names and "LOAD00000010.csv" in names
    assert sorted(reversed(names), key=load_sort_key) == names
    assert load_sort_key("20141029-1134010000.csv") is None
    assert load_sort_key("SEGMENT2_LOAD00000001.csv") == ("", 2, 1)
    assert load_sort_key("part1/LOAD0000000B.csv.gz") == ("part1", -1, 11)


def info(uri: str, size: int = 10, mtime: int = 1) -> FileInfo:
    return FileInfo(uri, size, mtime)


BASE = "s3://b/dms/hr/employee"


def test_classify_orders_loads_by_counter_and_cdc_by_name_across_date_folders():
    files = [
        info(f"{BASE}/LOAD00000010.csv"),
        info(f"{BASE}/LOAD0000000A.csv"),
        info(f"{BASE}/LOAD00000009.csv"),
        info(f"{BASE}/2024/01/02/20240102-0000000001.csv"),
        info(f"{BASE}/2024/01/01/20240101-2300000000.csv.gz"),
        info(f"{BASE}/notes.txt"),
        info(f"{BASE}/20240101-0000000000.parquet"),
    ]
    loads, cdcs, ignored = classify_files(files, BASE, "csv")
    assert [f.uri.rsplit("/", 1)[1] for f in loads] == ["LOAD00000009.csv", "LOAD0000000A.csv", "LOAD00000010.csv"]
    assert [f.uri.rsplit("/", 1)[1] for f in cdcs] == ["20240101-2300000000.csv.gz", "20240102-0000000001.csv"]
    assert sorted(ignored) == [f"{BASE}/20240101-0000000000.parquet", f"{BASE}/notes.txt"]


@given(st.permutations([f"LOAD{n:08X}.csv" for n in range(1, 40)]))
@settings(max_examples=30)
def test_load_order_is_numeric_whatever_the_listing(names):
    loads, _, _ = classify_files([info(f"{BASE}/{n}") for n in names], BASE, "csv")
    assert [int(f.uri[-12:-4], 16) for f in loads] == list(range(1, 40))


# --- ledger -----------------------------------------------------------------------------


def test_ledger_first_run_then_new_cdc_then_nothing():
    ledger = empty_ledger("hr.employee")
    loads = [info(f"{BASE}/LOAD00000001.csv")]
    cdc1 = [info(f"{BASE}/20240101-1.csv")]
    plan = plan_batch(ledger, loads, cdc1, False, False)
    assert plan.batch == 1 and plan.full and plan.files == [loads[0].uri, cdc1[0].uri]
    ledger = commit_plan(with_pending(ledger, plan), plan, "r1")
    assert ledger["pending"] is None and ledger["last_batch"] == 1
    assert plan_batch(ledger, loads, cdc1, False, True) is None
    cdc2 = [*cdc1, info(f"{BASE}/20240102-1.csv")]
    plan = plan_batch(ledger, loads, cdc2, False, True)
    assert plan.batch == 2 and not plan.full and plan.cdc_files == [cdc2[1].uri]


def test_ledger_pending_is_resumed_before_anything_new():
    ledger = empty_ledger("t")
    plan = Plan(1, False, [], ["a"], {})
    pending = with_pending(ledger, plan)
    resumed = plan_batch(pending, [], [info("a"), info("b")], False, True)
    assert resumed.resumed and resumed.batch == 1 and resumed.cdc_files == ["a"]
    forced = plan_batch(pending, [info("LOAD")], [info("a"), info("b")], True, True)
    assert forced.full and forced.batch == 2


def test_ledger_new_full_load_after_truncate_or_lost_table():
    loads = [info(f"{BASE}/LOAD00000001.csv", 10, 1)]
    plan = plan_batch(empty_ledger("t"), loads, [], False, False)
    ledger = commit_plan(plan_to_pending := with_pending(empty_ledger("t"), plan), plan, "r1")
    assert plan_to_pending["pending"]["batch"] == 1
    assert plan_batch(ledger, loads, [], False, True) is None
    rewritten = [info(f"{BASE}/LOAD00000001.csv", 12, 5)]  # same name, new file
    assert plan_batch(ledger, rewritten, [], False, True).full
    assert plan_batch(ledger, loads, [], False, False).full  # the table was deleted
    with pytest.raises(UsageError, match="full-reload"):
        plan_batch(ledger, [], [], True, True)


def test_txn_versions_increase_in_commit_order_and_across_batches():
    steps = [batch.STEP_LOAD_SCHEMA, batch.STEP_LOAD, batch.STEP_CDC_SCHEMA, batch.STEP_CDC]
    versions = [batch.txn_version(b, s) for b in (1, 2) for s in steps]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)

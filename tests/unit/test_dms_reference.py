"""A tiny pure-Python reference model of DMS apply, and the pure parts of ingest_dms: CONF, file order, ledger."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.common.errors import UsageError
from jobs.common.lake import FileInfo
from jobs.ingest_dms import (
    STEP_CDC,
    STEP_CDC_SCHEMA,
    STEP_LOAD,
    STEP_LOAD_SCHEMA,
    Plan,
    classify_files,
    commit_plan,
    empty_ledger,
    load_sort_key,
    parse_conf,
    plan_batch,
    select_tables,
    txn_version,
    with_pending,
)

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
    steps = [STEP_LOAD_SCHEMA, STEP_LOAD, STEP_CDC_SCHEMA, STEP_CDC]
    versions = [txn_version(b, s) for b in (1, 2) for s in steps]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)

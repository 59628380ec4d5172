"""ingest_dms on real Spark and Delta: the AWS example, CSV/Parquet details, re-runs, drift, quarantine, history, S3."""

from __future__ import annotations

import gzip
import json
import os

import pytest

from core.lake import spark_uri
from tests.helpers import run_in_process

EMPLOYEE_COLUMNS = [
    {"name": "id", "type": "int"},
    {"name": "last_name", "type": "string"},
    {"name": "first_name", "type": "string"},
    {"name": "hired", "type": "string"},
    {"name": "city", "type": "string"},
]


def put(root, relative: str, text: str, gz: bool = False) -> str:
    """Write one DMS file under a local input root."""
    path = os.path.join(str(root), relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = text.encode("utf-8")
    with open(path, "wb") as handle:
        handle.write(gzip.compress(data) if gz else data)
    return path


def write_conf(tmp_path, tables, name: str = "dms.json") -> str:
    path = os.path.join(str(tmp_path), name)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"tables": tables}, handle)
    return path


def rows(spark, lake, name: str, columns):
    df = spark.read.format("delta").load(spark_uri(lake.table(name)))
    return sorted(tuple(r) for r in df.select(*columns).collect())


def delta_version(spark, uri: str) -> int:
    from delta.tables import DeltaTable

    return DeltaTable.forPath(spark, spark_uri(uri)).history(1).collect()[0]["version"]


def job(spark, lake, input_root, conf, *extra):
    return run_in_process(
        spark,
        "ingest_dms",
        ["--input", str(input_root), "--tables", conf, "--lake", lake.root, "--run-date", "2024-01-02", *extra],
    )


AWS_CDC = (
    "I,101,Smith,Bob,4-Jun-14,New York\n"
    "U,101,Smith,Bob,8-Oct-15,Los Angeles\n"
    "U,101,Smith,Bob,13-Mar-17,Dallas\n"
    "D,101,Smith,Bob,13-Mar-17,Dallas\n"
)


def test_aws_example_leaves_no_row_101_with_and_without_op_in_full_load(spark, lake, tmp_path):
    src = tmp_path / "dms"
    put(src, "hr/employee/LOAD00000001.csv", "101,Smith,Bob,4-Jun-14,New York\n102,Jones,Ann,1-Feb-15,Boston\n")
    put(src, "hr/employee_op/LOAD00000001.csv", "I,101,Smith,Bob,4-Jun-14,New York\nI,102,Jones,Ann,1-Feb-15,Boston\n")
    put(src, "hr/employee/20141029-1134010000.csv", AWS_CDC)
    put(src, "hr/employee_op/20141029-1134010000.csv", AWS_CDC)
    base = {"schema": "hr", "key": ["id"], "columns": EMPLOYEE_COLUMNS}
    conf = write_conf(
        tmp_path,
        [{**base, "table": "employee"}, {**base, "table": "employee_op", "include_op_for_full_load": True}],
    )
    code, summary = job(spark, lake, src, conf)
    assert code == 0, summary["message"]
    for name in ("hr_employee", "hr_employee_op"):
        assert rows(spark, lake, name, ["id", "city"]) == [(102, "Boston")]
    assert summary["rows_in"] == 12 and summary["rows_out"] == 12 and summary["rows_rejected"] == 0
    assert summary["counts"]["ops"] == {"L": 4, "I": 2, "U": 4, "D": 2}
    assert summary["counts"]["files_applied"] == 4 and summary["counts"]["rows_in_table"] == 2


SEQ0 = 20240101000000000000000000000000000  # 35 digits like $AR_H_CHANGE_SEQ


def seq(n: int) -> str:
    return str(SEQ0 + n)


def test_csv_details_quoting_nulls_gzip_date_folders_rerun_and_late_changes(spark, lake, tmp_path):
    src = tmp_path / "dms"
    columns = [
        {"name": "id", "type": "int"},
        {"name": "note", "type": "string"},
        {"name": "amount", "type": "decimal(10,2)"},
        {"name": "seq", "type": "decimal(38,0)"},
        {"name": "ts", "type": "string"},
    ]
    conf = write_conf(
        tmp_path,
        [
            {
                "schema": "app",
                "table": "notes",
                "key": ["id"],
                "columns": columns,
                "change_seq_column": "seq",
                "timestamp_column": "ts",
            }
        ],
    )
    # full load in two hex-numbered files and a parallel-load subfolder
    put(src, "app/notes/LOAD00000009.csv", f'1,"a, b",1.50,{seq(0)},2024-01-01 00:00:00.000000\n')
    put(src, "app/notes/LOAD0000000A.csv", f'2,"say ""hi""",NULL,{seq(0)},2024-01-01 00:00:00.000000\n')
    put(src, "app/notes/part2/LOAD00000001.csv", f'3,"two\nlines",3.00,{seq(0)},2024-01-01 00:00:00.000000\n')
    # CDC in date folders; the later file (by name) is gzip and holds rows out of order: seq decides
    put(
        src,
        "app/notes/2024/01/01/20240101-1200000000.csv",
        f'U,1,first,1.00,{seq(1)},2024-01-01 12:00:00.000001\nI,4,"",4.00,{seq(2)},2024-01-01 12:00:00.000002\n',
    )
    put(
        src,
        "app/notes/2024/01/02/20240102-0100000000.csv.gz",
        f"U,1,third,1.03,{seq(5)},2024-01-02 01:00:00.000000\n"
        f"U,1,second,1.02,{seq(4)},2024-01-02 00:59:00.000000\n"
        f"D,3,NULL,NULL,{seq(6)},2024-01-02 01:00:01.000000\n",
        gz=True,
    )
    code, summary = job(spark, lake, src, conf)
    assert code == 0, summary["message"]
    table = lake.table("app_notes")
    got = rows(spark, lake, "app_notes", ["id", "note", "amount", "_dms_seq"])
    from decimal import Decimal

    assert got == [
        (1, "third", Decimal("1.03"), Decimal(seq(5))),
        (2, 'say "hi"', None, Decimal(seq(0))),
        (4, "", Decimal("4.00"), Decimal(seq(2))),
    ]
    assert summary["counts"]["files_applied"] == 5

    # a re-run applies nothing and commits nothing
    version = delta_version(spark, table)
    code, again = job(spark, lake, src, conf)
    assert code == 0 and again["counts"]["files_applied"] == 0 and again["rows_in"] == 0
    assert delta_version(spark, table) == version

    # a late file: an older change for key 1 (ignored) and a newer one for key 2 (applied)
    put(
        src,
        "app/notes/2024/01/02/20240102-0200000000.csv",
        f"U,1,stale,9.99,{seq(3)},2024-01-02 02:00:00.000000\nU,2,newer,2.00,{seq(7)},2024-01-02 02:00:00.000000\n",
    )
    code, late = job(spark, lake, src, conf)
    assert code == 0 and late["counts"]["files_applied"] == 1
    assert rows(spark, lake, "app_notes", ["id", "note"]) == [(1, "third"), (2, "newer"), (4, "")]


def test_parquet_new_column_is_added_and_partial_images_coalesce(spark, lake, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = tmp_path / "dms"
    load = pa.table({"order_id": [1, 2, 3], "status": ["new", "new", "new"], "amount": [10.0, 20.0, 30.0]})
    # partial images: U rows carry only the key and the changed column; a new column "channel" appears
    cdc = pa.table(
        {
            "Op": ["U", "U", "D", "I"],
            "order_id": [1, 1, 2, 4],
            "status": ["paid", None, None, "new"],
            "amount": [None, 11.0, None, 40.0],
            "channel": [None, "web", None, "app"],
        }
    )
    later = pa.table({"Op": ["U"], "order_id": [3], "status": [None], "amount": [33.0], "channel": ["shop"]})
    for table in ("partial", "full"):
        folder = src / "sales" / table
        folder.mkdir(parents=True)
        pq.write_table(load, folder / "LOAD00000001.parquet")
        pq.write_table(cdc, folder / "20240101-0000000001.parquet")
    columns = [{"name": "order_id", "type": "bigint"}, {"name": "status", "type": "string"}]
    columns.append({"name": "amount", "type": "double"})
    base = {"schema": "sales", "format": "parquet", "key": ["order_id"], "columns": columns}
    conf = write_conf(tmp_path, [{**base, "table": "partial", "partial_updates": True}, {**base, "table": "full"}])
    code, summary = job(spark, lake, src, conf)
    assert code == 0, summary["message"]
    assert summary["counts"]["tables"]["sales.partial"]["added_columns"] == ["channel"]
    assert rows(spark, lake, "sales_partial", ["order_id", "status", "amount", "channel"]) == [
        (1, "paid", 11.0, "web"),
        (3, "new", 30.0, None),
        (4, "new", 40.0, "app"),
    ]
    # without partial_updates the last U is a full after-image: its nulls are values
    assert rows(spark, lake, "sales_full", ["order_id", "status", "amount"]) == [
        (1, None, 11.0),
        (3, "new", 30.0),
        (4, "new", 40.0),
    ]
    # a later partial image goes through MERGE: coalesced with the stored row
    pq.write_table(later, src / "sales" / "partial" / "20240102-0000000001.parquet")
    code, summary = job(spark, lake, src, conf, "--table", "sales.partial")
    assert code == 0, summary["message"]
    assert rows(spark, lake, "sales_partial", ["order_id", "status", "amount", "channel"]) == [
        (1, "paid", 11.0, "web"),
        (3, "new", 33.0, "shop"),
        (4, "new", 40.0, "app"),
    ]


def test_column_count_change_fails_with_quarantine_while_other_rejects_pass(spark, lake, tmp_path):
    src = tmp_path / "dms"
    put(src, "hr/employee/LOAD00000001.csv", "1,A,B,x,Oslo\n")
    put(src, "hr/employee/20240101-000001.csv", "U,1,A,B,x,Bergen,EXTRA\nI,2,C,D,y,Rome\n")
    put(src, "hr/dept/LOAD00000001.csv", "10,Sales\n11,Ops\n")
    put(src, "hr/dept/20240101-000001.csv", "X,10,Bad op\nU,NULL,no key\nU,11,Operations\nI,12,Legal\n")
    conf = write_conf(
        tmp_path,
        [
            {"schema": "hr", "table": "employee", "key": ["id"], "columns": EMPLOYEE_COLUMNS},
            {
                "schema": "hr",
                "table": "dept",
                "key": ["id"],
                "columns": [{"name": "id", "type": "int"}, {"name": "name", "type": "string"}],
            },
        ],
    )
    code, summary = job(spark, lake, src, conf, "--max-reject-fraction", "0.5")  # hr.dept: 2 of 6 rows rejected
    assert code == 3
    assert "hr.employee" in summary["message"] and "Update columns" in summary["message"]
    assert not os.path.exists(os.path.join(lake.root[len("file://") :], "tables", "hr_employee"))
    assert rows(spark, lake, "hr_dept", ["id", "name"]) == [(10, "Sales"), (11, "Operations"), (12, "Legal")]
    quarantine = spark.read.format("delta").load(spark_uri(lake.quarantine("ingest_dms")))
    reasons = sorted((r["reason"], r["raw"]) for r in quarantine.collect())
    assert reasons == [
        ("column_count", "U,1,A,B,x,Bergen,EXTRA"),
        ("null_key", "U,,no key"),
        ("unknown_op", "X,10,Bad op"),
    ]
    assert summary["rows_in"] == 3 + 6 and summary["rows_rejected"] == 3
    # the failed table's files stay unapplied: fixing CONF is not possible here, the next run fails again
    code, _ = job(spark, lake, src, conf, "--table", "hr.employee")
    assert code == 3
    assert quarantine.count() == 3  # the quarantine is replaced for the same files, not doubled


def history_conf(tmp_path):
    columns = [{"name": "id", "type": "int"}, {"name": "city", "type": "string"}, {"name": "ts", "type": "string"}]
    return write_conf(
        tmp_path,
        [
            {
                "schema": "hr",
                "table": "people",
                "key": ["id"],
                "columns": columns,
                "timestamp_column": "ts",
                "history": True,
            }
        ],
    )


def history_rows(spark, lake):
    df = spark.read.format("delta").load(spark_uri(lake.table("hr_people_history")))
    cols = ["id", "city", "op", "is_current", "valid_from", "valid_to"]
    return sorted(
        (r["id"], r["city"], r["op"], r["is_current"], str(r["valid_from"])[:19], str(r["valid_to"])[:19])
        for r in df.select(*cols).collect()
    )


def test_history_scd2_resume_after_commit_and_full_reload(spark, lake, tmp_path):
    from core.lake import read_text, write_text
    from jobs.ingest_dms.batch import Plan, with_pending

    src = tmp_path / "dms"
    put(src, "hr/people/LOAD00000001.csv", "1,Oslo,2024-01-01 00:00:00\n2,Rome,2024-01-01 00:00:00\n")
    conf = history_conf(tmp_path)
    assert job(spark, lake, src, conf)[0] == 0
    ledger_uri = lake.state("ingest_dms", "hr", "people", "ledger.json")
    before = read_text(spark, ledger_uri)
    put(
        src,
        "hr/people/20240102-000001.csv",
        "U,1,Bergen,2024-01-02 10:00:00\nD,2,Rome,2024-01-02 11:00:00\nI,3,Pisa,2024-01-02 12:00:00\n"
        "U,1,Tromso,2024-01-02 13:00:00\n",
    )
    code, summary = job(spark, lake, src, conf)
    assert code == 0, summary["message"]
    assert rows(spark, lake, "hr_people", ["id", "city"]) == [(1, "Tromso"), (3, "Pisa")]
    expected = [
        (1, "Bergen", "U", False, "2024-01-02 10:00:00", "2024-01-02 13:00:00"),
        (1, "Oslo", "L", False, "2024-01-01 00:00:00", "2024-01-02 10:00:00"),
        (1, "Tromso", "U", True, "2024-01-02 13:00:00", "None"),
        (2, "Rome", "D", False, "2024-01-02 11:00:00", "2024-01-02 11:00:00"),
        (2, "Rome", "L", False, "2024-01-01 00:00:00", "2024-01-02 11:00:00"),
        (3, "Pisa", "I", True, "2024-01-02 12:00:00", "None"),
    ]
    assert history_rows(spark, lake) == expected

    # as if killed after the Delta commits but before the ledger: batch 2 pending again
    pending = with_pending(json.loads(before), Plan(2, False, [], summary["inputs"], {}))
    write_text(spark, ledger_uri, json.dumps(pending))
    versions = (delta_version(spark, lake.table("hr_people")), delta_version(spark, lake.table("hr_people_history")))
    code, resumed = job(spark, lake, src, conf)
    assert code == 0 and resumed["counts"]["tables"]["hr.people"]["batch"] == 2
    assert (delta_version(spark, lake.table("hr_people")), delta_version(spark, lake.table("hr_people_history"))) == (
        versions
    )
    assert history_rows(spark, lake) == expected
    assert json.loads(read_text(spark, ledger_uri))["pending"] is None

    # a new full load (DMS reload after TRUNCATE) replaces the table and closes the history
    put(src, "hr/people/LOAD00000001.csv", "5,Lima,2024-01-03 00:00:00\n")
    os.remove(src / "hr/people/20240102-000001.csv")
    code, reload = job(spark, lake, src, conf)
    assert code == 0 and reload["counts"]["tables"]["hr.people"]["full_load"]
    assert rows(spark, lake, "hr_people", ["id", "city"]) == [(5, "Lima")]
    current = [r for r in history_rows(spark, lake) if r[3]]
    assert current == [(5, "Lima", "L", True, "2024-01-03 00:00:00", "None")]
    assert len(history_rows(spark, lake)) == len(expected) + 1


def test_runs_against_s3_input_conf_and_lake(spark, s3_bucket, s3_client, tmp_path):
    from core.lake import Lake

    bucket = s3_bucket[len("s3://") :]
    s3_client.put_object(Bucket=bucket, Key="dms/hr/employee/LOAD00000001.csv", Body=b"1,A,B,x,Oslo\n2,C,D,y,Rome\n")
    s3_client.put_object(Bucket=bucket, Key="dms/hr/employee/20240101-000001.csv", Body=AWS_CDC.encode())
    conf = {"tables": [{"schema": "hr", "table": "employee", "key": ["id"], "columns": EMPLOYEE_COLUMNS}]}
    s3_client.put_object(Bucket=bucket, Key="conf/dms.json", Body=json.dumps(conf).encode())
    lake = Lake.at(s3_bucket + "/lake")
    code, summary = job(spark, lake, s3_bucket + "/dms", s3_bucket + "/conf/dms.json")
    assert code == 0, summary["message"]
    assert rows(spark, lake, "hr_employee", ["id", "city"]) == [(1, "Oslo"), (2, "Rome")]
    assert summary["inputs"][0] == s3_bucket + "/dms/hr/employee/LOAD00000001.csv"
    listed = s3_client.list_objects_v2(Bucket=bucket, Prefix="lake/_state/ingest_dms/hr/employee/")
    assert [o["Key"] for o in listed.get("Contents", [])] == ["lake/_state/ingest_dms/hr/employee/ledger.json"]


@pytest.mark.parametrize("argv, words", [(["--table", "hr.nope"], ["hr.nope"]), ([], [])])
def test_validate_names_the_table(tmp_path, argv, words):
    from core.cli import parse_job_args
    from jobs.main import load_job

    conf = write_conf(tmp_path, [{"schema": "hr", "table": "employee", "key": ["id"], "columns": EMPLOYEE_COLUMNS}])
    if words:
        with pytest.raises(SystemExit) as exit_:
            parse_job_args("ingest_dms", load_job("ingest_dms"), ["--input", "x", "--tables", conf, *argv])
        assert exit_.value.code == 2
    else:
        args = parse_job_args("ingest_dms", load_job("ingest_dms"), ["--input", "x", "--tables", conf]).settings
        assert [s.name for s in args.table_specs] == ["hr.employee"]


def test_the_load_time_in_the_ledger_is_utc_whatever_the_drivers_zone(spark, lake, tmp_path):
    """Night 1 under TZ=UTC, night 2 under UTC-8: a change 3 hours after the load still applies (docs/dms.md §5)."""
    import time

    from core.lake import read_text

    columns = [{"name": "id", "type": "int"}, {"name": "city", "type": "string"}, {"name": "ts", "type": "string"}]
    conf = write_conf(
        tmp_path, [{"schema": "hr", "table": "zone", "key": ["id"], "columns": columns, "timestamp_column": "ts"}]
    )
    src = tmp_path / "dms"
    put(src, "hr/zone/LOAD00000001.csv", "1,Oslo,2024-01-01 00:00:00\n")
    assert job(spark, lake, src, conf)[0] == 0
    ledger = json.loads(read_text(spark, lake.state("ingest_dms", "hr", "zone", "ledger.json")))
    assert ledger["load_time"] == "2024-01-01T00:00:00.000000Z"
    put(src, "hr/zone/20240101-030000000.csv", "U,1,Rome,2024-01-01 03:00:00\n")
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/Los_Angeles"
    time.tzset()
    try:
        code, summary = job(spark, lake, src, conf)
    finally:
        os.environ["TZ"] = before or "UTC"
        time.tzset()
    assert code == 0, summary["message"]
    assert rows(spark, lake, "hr_zone", ["id", "city"]) == [(1, "Rome")]

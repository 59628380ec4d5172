"""Canonical digests of everything ingest_dms writes, on scenarios modelled on its tests and on the bench input.

Scenarios (each into a fresh lake, fixed run id and run date, several runs each): the AWS example with and
without Op in the full load; CSV quoting, NULLs, gzip, date folders and a late file; Parquet with a new column
and partial images; a column-count change (exit 3, quarantine) beside a table with unknown-Op/null-key rejects;
SCD2 history over a CDC batch and a full reload; and the generated bench input (bench/ingest_dms.generate:
full load, then a CDC batch). Every Delta table under tables/ and quarantine/ (the _history tables included)
is digested with bench/table_digest.py's canonical rows (all columns, rows sorted, SHA-256), plus the exit
codes and the summaries' counts.

usage: bench/run.sh dms_digest [--out FILE] [--compare FILE] [--bench-rows 20000]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.table_digest import RUN, delta_tables, digest, fresh, publish

SEQ0 = 20240101000000000000000000000000000
EMPLOYEE = [
    {"name": "id", "type": "int"},
    {"name": "last_name", "type": "string"},
    {"name": "first_name", "type": "string"},
    {"name": "hired", "type": "string"},
    {"name": "city", "type": "string"},
]
AWS_CDC = (
    "I,101,Smith,Bob,4-Jun-14,New York\nU,101,Smith,Bob,8-Oct-15,Los Angeles\n"
    "U,101,Smith,Bob,13-Mar-17,Dallas\nD,101,Smith,Bob,13-Mar-17,Dallas\n"
)


def seq(n: int) -> str:
    return str(SEQ0 + n)


def put(root: str, relative: str, text: str, gz: bool = False) -> None:
    """Write one DMS file."""
    path = os.path.join(root, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = text.encode("utf-8")
    with open(path, "wb") as handle:
        handle.write(gzip.compress(data) if gz else data)


def conf(root: str, tables: list) -> str:
    path = os.path.join(root, "conf.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"tables": tables}, handle)
    return path


def run(spark, argv: list) -> dict:
    """ingest_dms in this process; exit code and the summary's counts (no times, no run-specific URIs)."""
    from core.cli import execute, parse_job_args
    from jobs.main import load_job

    module = load_job("ingest_dms")
    args = parse_job_args("ingest_dms", module, [*argv, *RUN])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = execute(module, args, spark)
    s = json.loads(out.getvalue().strip().splitlines()[-1])
    keep = ("status", "rows_in", "rows_out", "rows_rejected")
    return {"code": code, **{k: s[k] for k in keep}, "counts": s["counts"]}


def aws_example(spark, root: str, src: str, lake: str) -> list:
    put(src, "hr/employee/LOAD00000001.csv", "101,Smith,Bob,4-Jun-14,New York\n102,Jones,Ann,1-Feb-15,Boston\n")
    put(src, "hr/employee_op/LOAD00000001.csv", "I,101,Smith,Bob,4-Jun-14,New York\nI,102,Jones,Ann,1-Feb-15,Boston\n")
    put(src, "hr/employee/20141029-1134010000.csv", AWS_CDC)
    put(src, "hr/employee_op/20141029-1134010000.csv", AWS_CDC)
    base = {"schema": "hr", "key": ["id"], "columns": EMPLOYEE}
    c = conf(root, [{**base, "table": "employee"}, {**base, "table": "employee_op", "include_op_for_full_load": True}])
    return [run(spark, ["--input", src, "--tables", c, "--lake", lake])]


def csv_details(spark, root: str, src: str, lake: str) -> list:
    columns = [
        {"name": "id", "type": "int"},
        {"name": "note", "type": "string"},
        {"name": "amount", "type": "decimal(10,2)"},
        {"name": "seq", "type": "decimal(38,0)"},
        {"name": "ts", "type": "string"},
    ]
    table = {"schema": "app", "table": "notes", "key": ["id"], "columns": columns}
    c = conf(root, [{**table, "change_seq_column": "seq", "timestamp_column": "ts", "history": True}])
    put(src, "app/notes/LOAD00000009.csv", f'1,"a, b",1.50,{seq(0)},2024-01-01 00:00:00.000000\n')
    put(src, "app/notes/LOAD0000000A.csv", f'2,"say ""hi""",NULL,{seq(0)},2024-01-01 00:00:00.000000\n')
    put(src, "app/notes/part2/LOAD00000001.csv", f'3,"two\nlines",3.00,{seq(0)},2024-01-01 00:00:00.000000\n')
    put(
        src,
        "app/notes/2024/01/01/20240101-1200000000.csv",
        f'U,1,first,1.00,{seq(1)},2024-01-01 12:00:00.000001\nI,4,"",4.00,{seq(2)},2024-01-01 12:00:00.000002\n',
    )
    put(
        src,
        "app/notes/2024/01/02/20240102-0100000000.csv.gz",
        f"U,1,third,1.03,{seq(5)},2024-01-02 01:00:00.000000\nU,1,second,1.02,{seq(4)},2024-01-02 00:59:00.000000\n"
        f"D,3,NULL,NULL,{seq(6)},2024-01-02 01:00:01.000000\n",
        gz=True,
    )
    argv = ["--input", src, "--tables", c, "--lake", lake]
    out = [run(spark, argv), run(spark, argv)]
    put(
        src,
        "app/notes/2024/01/02/20240102-0200000000.csv",
        f"U,1,stale,9.99,{seq(3)},2024-01-02 02:00:00.000000\nU,2,newer,2.00,{seq(7)},2024-01-02 02:00:00.000000\n",
    )
    return [*out, run(spark, argv)]


def parquet_partial(spark, root: str, src: str, lake: str) -> list:
    import pyarrow as pa
    import pyarrow.parquet as pq

    load = pa.table({"order_id": [1, 2, 3], "status": ["new", "new", "new"], "amount": [10.0, 20.0, 30.0]})
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
    for name in ("partial", "full"):
        folder = os.path.join(src, "sales", name)
        os.makedirs(folder)
        pq.write_table(load, os.path.join(folder, "LOAD00000001.parquet"))
        pq.write_table(cdc, os.path.join(folder, "20240101-0000000001.parquet"))
    columns = [{"name": "order_id", "type": "bigint"}, {"name": "status", "type": "string"}]
    columns.append({"name": "amount", "type": "double"})
    base = {"schema": "sales", "format": "parquet", "key": ["order_id"], "columns": columns}
    c = conf(root, [{**base, "table": "partial", "partial_updates": True}, {**base, "table": "full"}])
    argv = ["--input", src, "--tables", c, "--lake", lake]
    out = [run(spark, argv)]
    pq.write_table(later, os.path.join(src, "sales", "partial", "20240102-0000000001.parquet"))
    return [*out, run(spark, [*argv, "--table", "sales.partial"])]


def rejects(spark, root: str, src: str, lake: str) -> list:
    put(src, "hr/employee/LOAD00000001.csv", "1,A,B,x,Oslo\n")
    put(src, "hr/employee/20240101-000001.csv", "U,1,A,B,x,Bergen,EXTRA\nI,2,C,D,y,Rome\n")
    put(src, "hr/dept/LOAD00000001.csv", "10,Sales\n11,Ops\n")
    put(src, "hr/dept/20240101-000001.csv", "X,10,Bad op\nU,NULL,no key\nU,11,Operations\nI,12,Legal\n")
    dept = [{"name": "id", "type": "int"}, {"name": "name", "type": "string"}]
    c = conf(
        root,
        [
            {"schema": "hr", "table": "employee", "key": ["id"], "columns": EMPLOYEE},
            {"schema": "hr", "table": "dept", "key": ["id"], "columns": dept},
        ],
    )
    argv = ["--input", src, "--tables", c, "--lake", lake]
    return [run(spark, argv), run(spark, [*argv, "--table", "hr.employee"])]


def history(spark, root: str, src: str, lake: str) -> list:
    columns = [{"name": "id", "type": "int"}, {"name": "city", "type": "string"}, {"name": "ts", "type": "string"}]
    table = {"schema": "hr", "table": "people", "key": ["id"], "columns": columns}
    c = conf(root, [{**table, "timestamp_column": "ts", "history": True}])
    argv = ["--input", src, "--tables", c, "--lake", lake]
    put(src, "hr/people/LOAD00000001.csv", "1,Oslo,2024-01-01 00:00:00\n2,Rome,2024-01-01 00:00:00\n")
    out = [run(spark, argv)]
    put(
        src,
        "hr/people/20240102-000001.csv",
        "U,1,Bergen,2024-01-02 10:00:00\nD,2,Rome,2024-01-02 11:00:00\nI,3,Pisa,2024-01-02 12:00:00\n"
        "U,1,Tromso,2024-01-02 13:00:00\n",
    )
    out.append(run(spark, argv))
    put(src, "hr/people/LOAD00000001.csv", "5,Lima,2024-01-03 00:00:00\n")
    os.remove(os.path.join(src, "hr/people/20240102-000001.csv"))
    return [*out, run(spark, argv)]


def bench_input(spark, root: str, src: str, lake: str, rows: int) -> list:
    from bench.ingest_dms import COLUMNS, generate

    generate(src, rows)
    table = {"schema": "bench", "table": "accounts", "format": "parquet", "key": ["id"], "columns": COLUMNS}
    c = conf(root, [{**table, "change_seq_column": "seq", "timestamp_column": "ts"}])
    folder = os.path.join(src, "bench", "accounts")
    hidden = os.path.join(root, "hidden")
    os.makedirs(hidden)
    cdc = sorted(f for f in os.listdir(folder) if not f.startswith("LOAD"))
    for name in cdc:
        os.replace(os.path.join(folder, name), os.path.join(hidden, name))
    argv = ["--input", src, "--tables", c, "--lake", lake]
    out = [run(spark, argv)]
    for name in cdc:
        os.replace(os.path.join(hidden, name), os.path.join(folder, name))
    return [*out, run(spark, argv)]


SCENARIOS = {
    "aws_example": aws_example,
    "csv_details": csv_details,
    "parquet_partial": parquet_partial,
    "rejects": rejects,
    "history": history,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="write the digests as JSON here")
    parser.add_argument("--compare", help="a digest JSON to compare with; exit 1 on any difference")
    parser.add_argument("--bench-rows", type=int, default=20_000)
    opts = parser.parse_args()

    from core.session import TEST_CONF, build_session

    spark = build_session("dms-digest", master="local[2]", extra={**TEST_CONF, "spark.driver.memory": "2g"})
    spark.sparkContext.setLogLevel("ERROR")
    results = {}
    cases = {**SCENARIOS, "bench": lambda s, r, i, lk: bench_input(s, r, i, lk, opts.bench_rows)}
    for name, scenario in cases.items():
        root = fresh("dms_digest", name)
        src, lake = os.path.join(root, "in"), os.path.join(root, "lake")
        results[f"{name}:runs"] = scenario(spark, root, src, lake)
        for table in delta_tables(lake):
            results[f"{name}:{table}"] = digest(spark, os.path.join(lake, table))
    spark.stop()
    publish(results, opts.out, opts.compare)


if __name__ == "__main__":
    main()

"""What Spark cannot go below on the ingest_logs input: reading the lines, the job's one access regex, a raw write.

Same generated combined-format file as bench/ingest_logs.py (default 1M lines), in one run, warm JVM,
each Spark step into the no-op sink unless said, best of two:
- read: `spark.read.text` only;
- read + length: every line touched once;
- read + one regexp_extract: the status field only;
- read + access regex: the job's single `regexp_replace` into separator-joined groups + `split`;
- raw lines to Delta: the lines as one string column written as a Delta table;
- DuckDB: the whole parse + Parquet write of bench/ingest_logs.py (the peer).
The ratios say how much of DuckDB's time each floor already costs; the job has to fit its typed
columns, the reject gate's counts and two commits into what is left.

usage: bench/run.sh ingest_logs_floor [--rows 1000000] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._harness import DATA_DIR, OUT_DIR, ensure_dirs, report, timed
from bench.ingest_logs import duckdb_parse_write, generate


def floor_steps(spark, path: str, delta_out: str) -> dict:
    """The Spark steps, each a function that runs once."""
    from pyspark.sql import functions as F

    from jobs.ingest_logs import ACCESS_PATTERN, ACCESS_REPLACEMENT, SEP

    def lines():
        return spark.read.text(path)

    def noop(df):
        df.write.format("noop").mode("overwrite").save()

    def raw_delta():
        shutil.rmtree(delta_out, ignore_errors=True)
        lines().write.format("delta").save(delta_out)

    regex = F.split(F.regexp_replace("value", ACCESS_PATTERN, ACCESS_REPLACEMENT), SEP)
    return {
        "read": lambda: noop(lines()),
        "read + length": lambda: noop(lines().select(F.length("value"))),
        "read + one regexp_extract (status)": lambda: noop(
            lines().select(F.regexp_extract("value", r'" (\d{3}) ', 1).cast("int"))
        ),
        "read + the job's access regex + split": lambda: noop(lines().select(regex.alias("groups"))),
        "raw lines to Delta (one string column)": raw_delta,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=2)
    opts = parser.parse_args()
    ensure_dirs()
    path = os.path.join(DATA_DIR, f"access_combined_{opts.rows}.log")
    generate(path, opts.rows)

    from jobs.common.session import build_session

    spark = build_session(
        "bench-ingest-logs-floor", master=f"local[{opts.threads}]", extra={"spark.driver.memory": "3g"}
    )
    spark.sparkContext.setLogLevel("ERROR")
    steps = floor_steps(spark, path, os.path.join(OUT_DIR, "ingest_logs_floor_delta"))
    for step in steps.values():  # warm-up: class loading and code generation for every step
        step()
    results = []
    for name, step in steps.items():
        results.append(min((timed(name, opts.rows, step) for _ in range(2)), key=lambda r: r.seconds))
    duck_out = os.path.join(OUT_DIR, "ingest_logs_floor_duckdb.parquet")
    results.append(timed("DuckDB parse + Parquet", opts.rows, lambda: duckdb_parse_write(path, duck_out, opts.threads)))
    spark.stop()
    report(f"ingest_logs floors, {opts.rows:,} lines", results, "DuckDB parse + Parquet")


if __name__ == "__main__":
    main()

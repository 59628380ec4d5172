"""What Spark cannot go below on the ingest_logs input: reading the lines, the job's one access regex, a raw write.

Same generated combined-format file as bench/ingest_logs.py (default 1M lines), in one run, warm JVM,
each Spark step into the no-op sink unless said, the median of --runs (3) after one warm-up run:
- read: `spark.read.text` only;
- read + length: every line touched once;
- read + one regexp_extract: the status field only;
- read + access regex: the job's single `regexp_replace` into separator-joined groups + `split`;
- raw lines to Delta: the lines as one string column written as a Delta table;
- the job's table rows, already parsed and held in memory (built before the timing): read from
  memory only (no-op sink), written as the job writes them (Delta, partitioned by event_date,
  statistics on 4 columns), and as plain partitioned Parquet; DuckDB copying the same rows (read
  from that Parquet) to one Parquet file;
- read + lakeml's compiled access-line parser alone (jvm/lakeml/AccessLineParser.java, the static
  call the job makes first; every line of this file is one it takes);
- the job's transform for this file (`compiled_rows`: the compiled parser's columns, every line being
  one it takes) into the no-op sink and to Delta; the same with `parse_lines` (the plan of a night
  with lines for the regex) and with the regex path only (what the job did before the compiled
  parser); all checked equal on the ten figures of bench/ingest_logs.py's TABLE_FIGURES;
- DuckDB: the whole parse + Parquet write of bench/ingest_logs.py (the peer).
The ratios say how much of DuckDB's time each floor already costs; the job has to fit its typed
columns, the reject gate's counts and two commits into what is left.

usage: bench/run.sh ingest_logs_floor [--rows 1000000] [--threads 2] [--runs 3] [--steps WORD,...]
(each step warmed once, then timed --runs times, the median reported)
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from functools import partial

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._harness import DATA_DIR, OUT_DIR, ensure_dirs, load_averages, report, timed
from bench.ingest_logs import duckdb_parse_write, generate


def floor_steps(spark, path: str, out: str) -> dict:
    """The Spark steps, each a function that runs once; `out` is a scratch folder."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from bench.ingest_logs import lakeml_rows
    from core.session import session_confs
    from jobs.ingest_logs import (
        ACCESS_PATTERN,
        ACCESS_REPLACEMENT,
        SEP,
        STATS_COLUMNS,
        TABLE_WRITE_CONFS,
        compiled_parse,
    )

    names = ("raw", "table", "parquet", "job", "hybrid", "regex")
    delta_out, table_out, parquet_out, job_out, hybrid_out, regex_out = (os.path.join(out, name) for name in names)

    def lines():
        return spark.read.text(path)

    def noop(df):
        df.write.format("noop").mode("overwrite").save()

    def raw_delta():
        shutil.rmtree(delta_out, ignore_errors=True)
        lines().write.format("delta").save(delta_out)

    with session_confs(spark, {"spark.sql.inMemoryColumnarStorage.compressed": "false"}):
        rows = lakeml_rows(spark, path).persist(StorageLevel.MEMORY_AND_DISK)
    rows.count()  # parsed once, outside every timing

    def to_delta(df, folder):
        shutil.rmtree(folder, ignore_errors=True)
        writer = df.write.format("delta").option("delta.dataSkippingStatsColumns", STATS_COLUMNS)
        with session_confs(spark, TABLE_WRITE_CONFS):
            writer.partitionBy("event_date").save(folder)

    def table_parquet():
        shutil.rmtree(parquet_out, ignore_errors=True)
        rows.write.partitionBy("event_date").parquet(parquet_out)

    regex = F.split(F.regexp_replace("value", ACCESS_PATTERN, ACCESS_REPLACEMENT), SEP)
    hybrid_rows, regex_rows = lakeml_rows(spark, path, "hybrid"), lakeml_rows(spark, path, "regex")
    job_figures = figures(lakeml_rows(spark, path))
    assert figures(hybrid_rows) == figures(regex_rows) == job_figures, "the job's plans disagree"
    return {
        "read": lambda: noop(lines()),
        "read + length": lambda: noop(lines().select(F.length("value"))),
        "read + one regexp_extract (status)": lambda: noop(
            lines().select(F.regexp_extract("value", r'" (\d{3}) ', 1).cast("int"))
        ),
        "read + the job's access regex + split": lambda: noop(lines().select(regex.alias("groups"))),
        "read + lakeml's compiled parser alone": lambda: noop(
            lines().select(compiled_parse(spark, F.col("value")).alias("parsed"))
        ),
        "raw lines to Delta (one string column)": raw_delta,
        "the job's transform, no-op sink": lambda: noop(lakeml_rows(spark, path)),
        "the job's transform, to Delta as the job writes": lambda: to_delta(lakeml_rows(spark, path), job_out),
        "the job's transform, parse_lines (compiled + regex), no-op sink": lambda: noop(hybrid_rows),
        "the job's transform, parse_lines (compiled + regex), to Delta": lambda: to_delta(hybrid_rows, hybrid_out),
        "the job's transform, regex path only, no-op sink": lambda: noop(regex_rows),
        "the job's transform, regex path only, to Delta": lambda: to_delta(regex_rows, regex_out),
        "the job's parsed rows, from memory, no-op sink": lambda: noop(rows),
        "the job's parsed rows, from memory, to Delta as the job writes them": lambda: to_delta(rows, table_out),
        "the job's parsed rows, from memory, to partitioned Parquet": table_parquet,
    }


def figures(rows) -> tuple:
    """The ten figures of bench/ingest_logs.py's TABLE_FIGURES over a DataFrame of the table's rows."""
    from bench.ingest_logs import TABLE_FIGURES

    return tuple(rows.selectExpr(*TABLE_FIGURES).first())


def duckdb_copy(scratch: str, out: str) -> None:
    """DuckDB reading the job's rows (the partitioned Parquet step's output) and writing one Parquet file."""
    import duckdb

    source = os.path.join(scratch, "parquet", "**", "*.parquet")
    duckdb.connect().execute(f"COPY (SELECT * FROM read_parquet('{source}')) TO '{out}' (FORMAT parquet)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each step (the median is reported)")
    parser.add_argument("--steps", help="only the steps whose name contains one of these comma-separated words")
    opts = parser.parse_args()
    ensure_dirs()
    path = os.path.join(DATA_DIR, f"access_combined_{opts.rows}.log")
    generate(path, opts.rows)

    from core.session import build_session

    spark = build_session(
        "bench-ingest-logs-floor", master=f"local[{opts.threads}]", extra={"spark.driver.memory": "3g"}
    )
    spark.sparkContext.setLogLevel("ERROR")
    scratch = os.path.join(OUT_DIR, "ingest_logs_floor")
    steps = floor_steps(spark, path, scratch)
    if opts.steps:
        steps = {name: step for name, step in steps.items() if any(w in name for w in opts.steps.split(","))}
    for step in steps.values():  # warm-up: class loading and code generation for every step
        step()
    results = []
    for name, step in steps.items():
        runs = sorted((timed(name, opts.rows, step) for _ in range(opts.runs)), key=lambda r: r.seconds)
        print(f"{name}: {[round(r.seconds, 2) for r in runs]} (load {load_averages()})", flush=True)
        results.append(runs[len(runs) // 2])
    duck_out = os.path.join(OUT_DIR, "ingest_logs_floor_duckdb.parquet")
    results.append(timed("DuckDB parse + Parquet", opts.rows, lambda: duckdb_parse_write(path, duck_out, opts.threads)))
    if any("partitioned Parquet" in name for name in steps):  # the copy reads that step's output
        copied = os.path.join(OUT_DIR, "ingest_logs_floor_duckdb_copy.parquet")
        results.append(
            timed("DuckDB: the same parsed rows, Parquet to Parquet", opts.rows, partial(duckdb_copy, scratch, copied))
        )
    spark.stop()
    report(f"ingest_logs floors, {opts.rows:,} lines", results, "DuckDB parse + Parquet")


if __name__ == "__main__":
    main()

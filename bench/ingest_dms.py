"""ingest_dms: applying a 10% CDC batch to a 1M-row Delta table vs rebuilding it, and vs DuckDB on Parquet.

Input (DMS Parquet layout, generated once into bench/.data/dms/): a full load of N rows (default
1,000,000) in 4 LOAD files, and one CDC batch of N/10 changes (default 100,000) in 10 files
over ~3% of the keys plus new keys (about 3 changes per key), 5% of them deletes, rows shuffled
across files so that the change sequence decides the order.

Contenders, in one run (after a warm-up of the same steps on a 2,000-row table, see --no-warmup):
- lakeml apply: the nightly case, `ingest_dms` on a table that holds the full load; it reads the
  CDC files, reduces to the last change per key and MERGEs (deletion vectors on).
- lakeml rebuild: `ingest_dms --full-reload` on a fresh lake: full load plus the same CDC batch
  written as a new table (what a job without incremental apply does every night).
- DuckDB: the same reduce (row_number over key by sequence) and apply (anti-join + union) on the
  Parquet files, writing the new table as one Parquet file.
All three results are compared (row count and a checksum over id and amount).

usage: bench/run.sh ingest_dms [--rows N] [--no-warmup]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._harness import DATA_DIR, OUT_DIR, Result, ensure_dirs, peak_rss_mb

SEQ0 = 20240101000000000000000000000000000
COLUMNS = [
    {"name": "id", "type": "bigint"},
    {"name": "name", "type": "string"},
    {"name": "amount", "type": "double"},
    {"name": "city", "type": "string"},
    {"name": "seq", "type": "decimal(38,0)"},
    {"name": "ts", "type": "string"},
]


def generate(root: str, rows: int, seed: int = 7) -> dict:
    """Write the full load and one CDC batch as DMS Parquet files; returns their sizes."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    folder = os.path.join(root, "bench", "accounts")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(folder)
    cities = np.array(["Oslo", "Rome", "Lima", "Pune", "Kyiv", "Oran", "Bonn", "Suva"])
    ids = np.arange(rows, dtype=np.int64)
    for part, chunk in enumerate(np.array_split(ids, 4)):
        pq.write_table(
            pa.table(
                {
                    "id": chunk,
                    "name": pa.array(np.char.add("name-", chunk.astype(str))),
                    "amount": (chunk % 10_000) / 100.0,
                    "city": cities[chunk % len(cities)],
                    "seq": pa.array([None] * len(chunk), pa.string()),
                    "ts": pa.array(["2024-01-01 00:00:00.000000"] * len(chunk)),
                }
            ),
            os.path.join(folder, f"LOAD{part + 1:08X}.parquet"),
        )
    changes = rows // 10
    existing = rng.choice(rows, size=max(1, rows * 3 // 100), replace=False)
    fresh = np.arange(rows, rows + max(1, rows // 200), dtype=np.int64)
    pool = np.concatenate([existing, fresh])
    keys = pool[rng.integers(0, len(pool), size=changes)]
    ops = np.where(rng.random(changes) < 0.05, "D", "U")
    order = np.arange(changes)
    seqs = np.array([str(SEQ0 + i + 1) for i in order])
    ts = np.array([f"2024-01-02 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}.000000" for i in order])
    shuffled = rng.permutation(changes)
    for part, chunk in enumerate(np.array_split(shuffled, 10)):
        pq.write_table(
            pa.table(
                {
                    "Op": ops[chunk],
                    "id": keys[chunk],
                    "name": pa.array(np.char.add("changed-", chunk.astype(str))),
                    "amount": (chunk % 777) / 10.0,
                    "city": cities[chunk % len(cities)],
                    "seq": seqs[chunk],
                    "ts": ts[chunk],
                }
            ),
            os.path.join(folder, f"20240102-{part:010d}.parquet"),
        )
    return {"rows": rows, "changes": changes, "keys_changed": len(np.unique(keys)), "deletes": int((ops == "D").sum())}


def run_job(spark, argv):
    from jobs.common.cli import execute, parse_job_args
    from jobs.main import load_job

    module = load_job("ingest_dms")
    args = parse_job_args("ingest_dms", module, argv)
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = execute(module, args, spark)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    if code != 0:
        raise SystemExit(f"ingest_dms failed: {summary['message']}")
    return summary


def spark_checksum(spark, path: str):
    from pyspark.sql import functions as F

    row = spark.read.format("delta").load(path).agg(F.count("*"), F.sum("id"), F.round(F.sum("amount"), 2)).first()
    return int(row[0]), int(row[1]), float(row[2])


def duckdb_apply(root: str, out_file: str):
    """Reduce the CDC batch to the last change per key and apply it to the full load; one Parquet out."""
    import duckdb

    folder = os.path.join(root, "bench", "accounts")
    con = duckdb.connect()
    con.execute(f"""
        COPY (
          WITH changes AS (
            SELECT *, row_number() OVER (PARTITION BY id ORDER BY CAST(seq AS DECIMAL(38,0)) DESC) AS rn
            FROM read_parquet('{folder}/2024*.parquet')
          ), last AS (SELECT * FROM changes WHERE rn = 1)
          SELECT b.id, b.name, b.amount, b.city FROM read_parquet('{folder}/LOAD*.parquet') b
          ANTI JOIN last l ON b.id = l.id
          UNION ALL
          SELECT id, name, amount, city FROM last WHERE Op <> 'D'
        ) TO '{out_file}' (FORMAT parquet)
    """)
    row = con.execute(f"SELECT count(*), sum(id), round(sum(amount), 2) FROM read_parquet('{out_file}')").fetchone()
    return int(row[0]), int(row[1]), float(row[2])


def lakeml_runs(spark, root: str, conf: str, lake_prefix: str):
    """Full load (CDC files hidden), then the apply, then a --full-reload on a fresh lake; seconds of each."""
    incremental, rebuilt = lake_prefix + "_apply", lake_prefix + "_rebuild"
    for path in (incremental, rebuilt):
        shutil.rmtree(path, ignore_errors=True)
    common = ["--input", root, "--tables", conf, "--run-date", "2024-01-02"]
    folder = os.path.join(root, "bench", "accounts")
    cdc = [f for f in os.listdir(folder) if not f.startswith("LOAD")]
    hidden = os.path.join(root, "hidden")
    os.makedirs(hidden, exist_ok=True)
    for name in cdc:
        os.replace(os.path.join(folder, name), os.path.join(hidden, name))
    t0 = time.perf_counter()
    run_job(spark, [*common, "--lake", incremental])
    load_s = time.perf_counter() - t0
    for name in cdc:
        os.replace(os.path.join(hidden, name), os.path.join(folder, name))
    t0 = time.perf_counter()
    applied = run_job(spark, [*common, "--lake", incremental])
    apply_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_job(spark, [*common, "--lake", rebuilt, "--full-reload"])
    rebuild_s = time.perf_counter() - t0
    return (load_s, apply_s, rebuild_s), applied, (incremental, rebuilt)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--no-warmup", dest="warmup", action="store_false", help="skip the small run that loads both code paths first"
    )
    opts = parser.parse_args()
    ensure_dirs()
    root = os.path.join(DATA_DIR, f"dms-{opts.rows}")
    started = time.perf_counter()
    shape = generate(root, opts.rows)
    print(f"input: {shape} generated in {time.perf_counter() - started:.1f}s", flush=True)

    from jobs.common.log import configure_logging
    from jobs.common.session import build_session

    configure_logging("INFO")

    spark = build_session("bench-ingest-dms", extra={"spark.driver.memory": "4g"})  # as spark-submit.sh local
    spark.sparkContext.setLogLevel("ERROR")
    conf = os.path.join(OUT_DIR, "dms_bench.json")
    table = {"schema": "bench", "table": "accounts", "format": "parquet", "key": ["id"], "columns": COLUMNS}
    with open(conf, "w", encoding="utf-8") as handle:
        json.dump({"tables": [{**table, "change_seq_column": "seq", "timestamp_column": "ts"}]}, handle)
    if opts.warmup:
        warm_root = os.path.join(DATA_DIR, "dms-warmup")
        generate(warm_root, 2_000)
        t0 = time.perf_counter()
        lakeml_runs(spark, warm_root, conf, os.path.join(OUT_DIR, "dms_warmup"))
        print(f"warm-up (2,000-row table: load, apply, rebuild) {time.perf_counter() - t0:.1f}s", flush=True)
    (load_s, apply_s, rebuild_s), applied, (incremental, rebuilt) = lakeml_runs(
        spark, root, conf, os.path.join(OUT_DIR, "dms_lake")
    )
    results = [
        Result("lakeml apply (MERGE)", shape["changes"], apply_s),
        Result("lakeml rebuild", shape["changes"], rebuild_s),
    ]
    out_file = os.path.join(OUT_DIR, "dms_duckdb.parquet")
    t0 = time.perf_counter()
    duck = duckdb_apply(root, out_file)
    results.append(Result("duckdb reduce+apply", shape["changes"], time.perf_counter() - t0))

    sums = {
        "apply": spark_checksum(spark, os.path.join(incremental, "tables", "bench_accounts")),
        "rebuild": spark_checksum(spark, os.path.join(rebuilt, "tables", "bench_accounts")),
        "duckdb": duck,
    }
    print("checksums (rows, sum id, sum amount):", sums, flush=True)
    assert sums["apply"] == sums["rebuild"] == duck, "contenders disagree"
    spark.stop()

    apply_s, rebuild_s, duck_s = (r.seconds for r in results)
    lines = [
        f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, local[*], {opts.rows:,}-row table, "
        f"{shape['changes']:,} changes over {shape['keys_changed']:,} keys ({shape['deletes']:,} deletes)",
        "",
        "| step | seconds | changes/s |",
        "|---|---|---|",
        f"| lakeml full load (initial build, {opts.rows:,} rows) | {load_s:.1f} | |",
    ]
    lines += [f"| {r.name} | {r.seconds:.1f} | {r.rows_per_s:,.0f} |" for r in results]
    lines += [
        "",
        f"apply / rebuild = {apply_s / rebuild_s:.2f} (target <= 0.30); "
        f"lakeml apply / DuckDB = {apply_s / duck_s:.1f}x the time; merge metrics {applied['counts']['tables']}",
        f"peak driver RSS {peak_rss_mb():.0f} MB",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()

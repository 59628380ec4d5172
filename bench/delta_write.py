"""Fixed and per-row costs of lakeml's stack: a Delta write of typed rows vs pyarrow writing the same Parquet.

Part 1, start-up: a fresh process that builds lakeml's session and runs its first action,
vs a fresh process that imports pyarrow and writes a one-row Parquet file (the peer's fixed cost).
Part 2, throughput: N rows (default 5M) of typed columns — long, int, double, string,
timestamp, date, boolean — computed by the same formulas on both sides, materialized before
timing, then written as a Delta table (Spark, local[*]), as plain Parquet by Spark (to separate Delta's
own cost) and as a Parquet file (pyarrow, snappy).
Both outputs are read back and compared (count and column sums) so the work is the same.

usage: bench/run.sh delta_write [--rows N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time

from bench._harness import OUT_DIR, Result, ensure_dirs, report, timed

SPARK_STARTUP = """
import time; t0 = time.perf_counter()
from core.session import build_session
spark = build_session("bench-startup")
t1 = time.perf_counter()
spark.range(10).count()
t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f}")
spark.stop()
"""
PEER_STARTUP = """
import time; t0 = time.perf_counter()
import pyarrow as pa, pyarrow.parquet as pq, tempfile, os
pq.write_table(pa.table({"x": [1]}), os.path.join(tempfile.mkdtemp(), "one.parquet"))
print(f"{time.perf_counter() - t0:.3f}")
"""
EPOCH_2026 = 1_767_225_600  # 2026-01-01T00:00:00Z


def run_process(code: str) -> tuple:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return time.perf_counter() - started, out.split()


def spark_rows(spark, n: int):
    """The typed rows, computed in the JVM."""
    from pyspark.sql import functions as F

    i = F.col("id")
    return spark.range(n).select(
        i.alias("id"),
        (i % 1000).cast("int").alias("qty"),
        ((i * 7919) % 100_000 / 100.0).alias("amount"),
        F.concat(F.lit("customer-"), (i % 50_000).cast("string")).alias("name"),
        F.timestamp_seconds(F.lit(EPOCH_2026) + i % 31_536_000).alias("ts"),
        F.date_add(F.lit("2026-01-01").cast("date"), (i % 365).cast("int")).alias("day"),
        (i % 3 == 0).alias("flag"),
    )


def arrow_rows(n: int):
    """The same rows, computed with numpy into an Arrow table."""
    import numpy as np
    import pyarrow as pa

    i = np.arange(n, dtype=np.int64)
    names = np.char.add("customer-", (i % 50_000).astype(str))
    return pa.table(
        {
            "id": i,
            "qty": (i % 1000).astype(np.int32),
            "amount": ((i * 7919) % 100_000) / 100.0,
            "name": pa.array(names),
            "ts": pa.array((EPOCH_2026 + i % 31_536_000) * 1_000_000, pa.timestamp("us", tz="UTC")),
            "day": pa.array((np.datetime64("2026-01-01") + (i % 365)).astype("datetime64[D]")),
            "flag": i % 3 == 0,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    n = parser.parse_args().rows
    ensure_dirs()

    wall, (session_s, first_action_s) = run_process(SPARK_STARTUP)
    peer_wall, _ = run_process(PEER_STARTUP)
    print(
        f"start-up: lakeml session {session_s}s + first action {first_action_s}s "
        f"(process wall {wall:.1f}s) vs pyarrow process {peer_wall:.2f}s"
    )

    import pyarrow.parquet as pq

    from core.session import build_session

    spark = build_session("bench-delta-write", extra={"spark.driver.memory": "6g"})
    delta_path = os.path.join(OUT_DIR, "delta_write")
    parquet_path = os.path.join(OUT_DIR, "delta_write.parquet")
    shutil.rmtree(delta_path, ignore_errors=True)

    # Warm-up: the first Delta commit and the first Parquet write of a JVM pay class loading
    # and JIT; that fixed cost is part 1's business, not the per-row figure.
    warm = spark_rows(spark, 10_000)
    warm.write.format("delta").mode("overwrite").save(os.path.join(OUT_DIR, "warm_delta"))
    warm.write.mode("overwrite").parquet(os.path.join(OUT_DIR, "warm_parquet"))

    rows = spark_rows(spark, n).cache()
    rows.count()
    table = arrow_rows(n)

    results: list[Result] = [
        timed("lakeml Delta write (Spark)", n, lambda: rows.write.format("delta").mode("overwrite").save(delta_path)),
        timed(
            "Spark Parquet write (no Delta log)",
            n,
            lambda: rows.write.mode("overwrite").parquet(os.path.join(OUT_DIR, "spark_parquet")),
        ),
        timed("pyarrow write_table", n, lambda: pq.write_table(table, parquet_path, compression="snappy")),
    ]
    back = spark.read.format("delta").load(delta_path)
    spark_sums = back.selectExpr("count(*)", "sum(id)", "sum(qty)", "round(sum(amount), 2)", "sum(cast(flag as int))")
    arrow_back = pq.read_table(parquet_path)
    peer = (
        arrow_back.num_rows,
        arrow_back["id"].to_numpy().sum(),
        arrow_back["qty"].to_numpy().astype("int64").sum(),
        round(arrow_back["amount"].to_numpy().sum(), 2),
        arrow_back["flag"].to_numpy().sum(),
    )
    assert tuple(spark_sums.first()) == tuple(int(x) if i != 3 else x for i, x in enumerate(peer)), "outputs differ"
    report(f"Delta write vs pyarrow Parquet, {n:,} typed rows", results, baseline="pyarrow write_table")
    spark.stop()


if __name__ == "__main__":
    main()

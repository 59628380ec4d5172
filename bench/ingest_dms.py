"""ingest_dms: applying a CDC batch to a large Delta table vs rebuilding it, and vs DuckDB on Parquet.

Input (DMS Parquet layout, generated into bench/.data/dms/): a full load of N rows (--rows, default
1,000,000) in 4 LOAD files, and one CDC batch in 10 files. Without --changes: N/10 changes over ~3% of the
keys plus new keys (about 3 changes per key). With --changes C: C changes, 5% of them on new keys, the rest on
existing keys drawn uniformly (--skew uniform) or 80% from the newest 10% of the keys (--skew recent). 5% of
the changes are deletes; rows are shuffled across files so that the change sequence decides the order.
--apply-plan picks ingest_dms's plan for the apply (docs/dms.md section 8), --optimize z-orders the loaded
table by key before the apply (its seconds are reported). Several --rows (comma-separated) run one after the
other and the apply time's exponent in the table size is printed (apply seconds ~ rows^k).

Contenders, in one run (after a warm-up of the same steps on a 2,000-row table, see --no-warmup):
- lakeml apply: the nightly case, `ingest_dms` on a table that holds the full load; it reads the
  CDC files, reduces to the last change per key and applies it with the chosen plan (deletion vectors
  only with --deletion-vectors, the CONF's `deletion_vectors: true`).
- lakeml rebuild: `ingest_dms --full-reload` on a fresh lake: full load plus the same CDC batch
  written as a new table (what a job without incremental apply does every night).
- engine floor: the shortest hand-written PySpark doing the same in the same session (issue 30 item 1): the
  LOAD files written as a Delta table (z-ordered too with --optimize, deletion vectors as the CONF), the batch
  reduced with row_number over the key by sequence, and one MERGE (delete, update all, insert) into the table;
  its rebuild: the load anti-joined with the reduced batch, the batch's upserts added, one Delta overwrite.
  No quarantine, ledger, schema checks or bookkeeping columns.
- DuckDB: the same reduce (row_number over key by sequence) and apply (anti-join + union) on the
  Parquet files, writing the new table as one Parquet file.
All results are compared (row count and a checksum over id and amount). With --runs K every contender runs K
times per size, each once the 1-minute load is under 1.5 (the load is printed), and the medians are reported.

usage: bench/run.sh ingest_dms [--rows N[,N...]] [--changes C] [--skew uniform|recent]
       [--apply-plan auto|merge|split|rebuild] [--optimize] [--deletion-vectors] [--runs K] [--no-warmup]
e.g. the issue's sizes: --rows 1000000,4000000,10000000 --changes 100000 --skew recent --apply-plan split --optimize
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._harness import DATA_DIR, OUT_DIR, ensure_dirs, peak_rss_mb, wait_quiet

SEQ0 = 20240101000000000000000000000000000
COLUMNS = [
    {"name": "id", "type": "bigint"},
    {"name": "name", "type": "string"},
    {"name": "amount", "type": "double"},
    {"name": "city", "type": "string"},
    {"name": "seq", "type": "decimal(38,0)"},
    {"name": "ts", "type": "string"},
]


def change_keys(rng, rows: int, changes: int, skew: str):
    """Keys of `changes` changes: 5% new keys, the rest existing ones, uniform or 80% on the newest 10%."""
    import numpy as np

    fresh = rows + rng.integers(0, max(1, changes // 20), size=changes)
    uniform = rng.integers(0, rows, size=changes)
    recent = rng.integers(rows - max(1, rows // 10), rows, size=changes)
    existing = np.where(rng.random(changes) < 0.8, recent, uniform) if skew == "recent" else uniform
    return np.where(rng.random(changes) < 0.05, fresh, existing).astype(np.int64)


def generate(root: str, rows: int, seed: int = 7, changes: int = 0, skew: str = "uniform") -> dict:
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
    if changes:
        keys = change_keys(rng, rows, changes, skew)
    else:
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
    from core.cli import execute, parse_job_args
    from jobs.main import load_job

    module = load_job("ingest_dms")
    args = parse_job_args("ingest_dms", module, argv)
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


def no_wait() -> str:
    return "-"


def lakeml_runs(spark, root: str, conf: str, lake_prefix: str, plan="auto", optimize=False, wait=no_wait):
    """Full load (CDC files hidden), optionally --optimize, then the apply with `plan`, then a --full-reload on a
    fresh lake; seconds of each (optimize: None when not asked) and the load before each step."""
    incremental, rebuilt = lake_prefix + "_apply", lake_prefix + "_rebuild"
    for path in (incremental, rebuilt):
        shutil.rmtree(path, ignore_errors=True)
    common = ["--input", root, "--tables", conf, "--run-date", "2024-01-02"]
    loads = []
    with cdc_hidden(root):
        loads.append(wait())
        t0 = time.perf_counter()
        run_job(spark, [*common, "--lake", incremental])
        load_s = time.perf_counter() - t0
        optimize_s = None
        if optimize:  # nothing new to apply: the run only z-orders the loaded table
            t0 = time.perf_counter()
            run_job(spark, [*common, "--lake", incremental, "--optimize"])
            optimize_s = time.perf_counter() - t0
    loads.append(wait())
    t0 = time.perf_counter()
    applied = run_job(spark, [*common, "--lake", incremental, "--apply-plan", plan])
    apply_s = time.perf_counter() - t0
    loads.append(wait())
    t0 = time.perf_counter()
    run_job(spark, [*common, "--lake", rebuilt, "--full-reload"])
    rebuild_s = time.perf_counter() - t0
    return (load_s, optimize_s, apply_s, rebuild_s), applied, (incremental, rebuilt), loads


@contextlib.contextmanager
def cdc_hidden(root: str):
    """The CDC files moved aside for the duration (so a run sees the full load alone)."""
    folder = os.path.join(root, "bench", "accounts")
    hidden = os.path.join(root, "hidden")
    os.makedirs(hidden, exist_ok=True)
    cdc = [f for f in os.listdir(folder) if not f.startswith("LOAD")]
    for name in cdc:
        os.replace(os.path.join(folder, name), os.path.join(hidden, name))
    try:
        yield
    finally:
        for name in cdc:
            os.replace(os.path.join(hidden, name), os.path.join(folder, name))


def floor_reduced(spark, folder: str):
    """The batch's last change per key, as a hand-written program would compute it."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    changes = spark.read.parquet(os.path.join(folder, "2024*.parquet"))
    by_key = Window.partitionBy("id").orderBy(F.col("seq").cast("decimal(38,0)").desc())
    return changes.withColumn("_rn", F.row_number().over(by_key)).where("_rn = 1").drop("_rn")


def floor_runs(spark, root: str, path_prefix: str, optimize: bool, deletion_vectors: bool, wait=no_wait):
    """The engine floor (see the docstring): load (+ optimize), MERGE, rebuild; seconds and loads like lakeml_runs."""
    from delta.tables import DeltaTable

    folder = os.path.join(root, "bench", "accounts")
    table, rebuilt = path_prefix + "_apply", path_prefix + "_rebuild"
    for path in (table, rebuilt):
        shutil.rmtree(path, ignore_errors=True)
    data = ["id", "name", "amount", "city"]
    loaded = lambda: spark.read.parquet(os.path.join(folder, "LOAD*.parquet")).select(*data)  # noqa: E731
    dv = {"delta.enableDeletionVectors": "true"} if deletion_vectors else {}
    loads = [wait()]
    t0 = time.perf_counter()
    writer = loaded().write.format("delta")
    for name, value in dv.items():
        writer = writer.option(name, value)
    writer.save(table)
    load_s = time.perf_counter() - t0
    optimize_s = None
    if optimize:
        t0 = time.perf_counter()
        DeltaTable.forPath(spark, table).optimize().executeZOrderBy("id")
        optimize_s = time.perf_counter() - t0
    loads.append(wait())
    t0 = time.perf_counter()
    (
        DeltaTable.forPath(spark, table)
        .alias("t")
        .merge(floor_reduced(spark, folder).alias("s"), "t.id = s.id")
        .whenMatchedDelete(condition="s.Op = 'D'")
        .whenMatchedUpdate(set={c: f"s.{c}" for c in data})
        .whenNotMatchedInsert(condition="s.Op <> 'D'", values={c: f"s.{c}" for c in data})
        .execute()
    )
    apply_s = time.perf_counter() - t0
    loads.append(wait())
    t0 = time.perf_counter()
    last = floor_reduced(spark, folder)
    kept = loaded().join(last.select("id"), "id", "left_anti")
    kept.unionByName(last.where("Op <> 'D'").select(*data)).write.format("delta").mode("overwrite").save(rebuilt)
    rebuild_s = time.perf_counter() - t0
    return (load_s, optimize_s, apply_s, rebuild_s), (table, rebuilt), loads


def sizes(text: str):
    """--rows: one size or several, comma-separated."""
    return [int(part) for part in text.split(",") if part.strip()]


def exponent(points):
    """k of apply seconds ~ rows^k, a least-squares fit in log-log space (None with fewer than two sizes)."""
    import math

    if len(points) < 2:
        return None
    xs, ys = [math.log(n) for n, _ in points], [math.log(t) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def options():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=sizes, default=[1_000_000], help="table size(s), comma-separated")
    parser.add_argument("--changes", type=int, default=0, help="changes in the batch (default: rows/10, old shape)")
    parser.add_argument("--skew", choices=("uniform", "recent"), default="uniform")
    parser.add_argument("--apply-plan", choices=("auto", "merge", "split", "rebuild"), default="auto")
    parser.add_argument("--optimize", action="store_true", help="z-order the loaded table by key before the apply")
    parser.add_argument("--deletion-vectors", action="store_true", help="the table's CONF sets deletion_vectors: true")
    parser.add_argument("--runs", type=int, default=1, help="runs per size; medians reported")
    parser.add_argument(
        "--no-warmup", dest="warmup", action="store_false", help="skip the small run that loads both code paths first"
    )
    return parser.parse_args()


def one_size(spark, opts, rows: int, conf: str) -> float:
    """Generate, run the contenders `opts.runs` times on one table size and print their table; the apply's median."""
    root = os.path.join(DATA_DIR, f"dms-{rows}")
    started = time.perf_counter()
    shape = generate(root, rows, changes=opts.changes, skew=opts.skew)
    print(f"input: {shape} generated in {time.perf_counter() - started:.1f}s", flush=True)
    steps = ("load", "optimize", "apply", "rebuild")
    seconds = {side: {step: [] for step in steps} for side in ("lakeml", "floor")}
    seconds["duckdb"] = {"apply": []}
    loads = []
    for run in range(opts.runs):
        times, applied, (incremental, rebuilt), lakeml_loads = lakeml_runs(
            spark, root, conf, os.path.join(OUT_DIR, "dms_lake"), opts.apply_plan, opts.optimize, wait_quiet
        )
        for step, value in zip(steps, times):
            seconds["lakeml"][step].append(value)
        times, (floor_table, floor_rebuilt), floor_loads = floor_runs(
            spark, root, os.path.join(OUT_DIR, "dms_floor"), opts.optimize, opts.deletion_vectors, wait_quiet
        )
        for step, value in zip(steps, times):
            seconds["floor"][step].append(value)
        out_file = os.path.join(OUT_DIR, "dms_duckdb.parquet")
        duck_load = wait_quiet()
        t0 = time.perf_counter()
        duck = duckdb_apply(root, out_file)
        seconds["duckdb"]["apply"].append(time.perf_counter() - t0)
        steps_loads = f"lakeml {' / '.join(lakeml_loads)}; floor {' / '.join(floor_loads)}; duckdb {duck_load}"
        loads.append(f"run {run + 1}: {steps_loads}")
        sums = {
            "apply": spark_checksum(spark, os.path.join(incremental, "tables", "bench_accounts")),
            "rebuild": spark_checksum(spark, os.path.join(rebuilt, "tables", "bench_accounts")),
            "floor apply": spark_checksum(spark, floor_table),
            "floor rebuild": spark_checksum(spark, floor_rebuilt),
            "duckdb": duck,
        }
        print(f"run {run + 1} checksums (rows, sum id, sum amount):", sums, flush=True)
        assert len(set(sums.values())) == 1, "contenders disagree"
    print(table_text(opts, rows, shape, seconds, applied, loads), flush=True)
    return statistics.median(seconds["lakeml"]["apply"])


def table_text(opts, rows: int, shape: dict, seconds: dict, applied: dict, loads: list) -> str:
    """The size's markdown table: each step's median (and runs) for lakeml and the floor, DuckDB, the ratios."""
    timed = lambda steps: {s: statistics.median(v) for s, v in steps.items() if v and v[0] is not None}  # noqa: E731
    med = {side: timed(steps) for side, steps in seconds.items()}
    runs = lambda values: " / ".join(f"{v:.1f}" for v in values)  # noqa: E731
    table = applied["counts"]["tables"]["bench.accounts"]
    plan = (table.get("apply_plan") or {}).get("plan")
    lines = [
        f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, local[*], {rows:,}-row table, "
        f"{shape['changes']:,} changes over {shape['keys_changed']:,} keys ({shape['deletes']:,} deletes), "
        f"skew {opts.skew if opts.changes else 'pool'}, deletion vectors {'on' if opts.deletion_vectors else 'off'}, "
        f"median of {opts.runs} run(s)",
        "",
        "| step | lakeml s (runs) | floor s (runs) | lakeml / floor |",
        "|---|---|---|---|",
    ]
    names = {"load": f"full load ({rows:,} rows)", "optimize": "--optimize (ZORDER BY id)"}
    names.update({"apply": f"apply ({plan}; floor: one MERGE)", "rebuild": "rebuild (--full-reload)"})
    for step, name in names.items():
        if step in med["lakeml"]:
            ours, floor = med["lakeml"][step], med["floor"][step]
            lines.append(
                f"| {name} | {ours:.1f} ({runs(seconds['lakeml'][step])}) | {floor:.1f} "
                f"({runs(seconds['floor'][step])}) | {ours / floor:.2f} |"
            )
    duck = med["duckdb"]["apply"]
    lines += [
        f"| DuckDB reduce + apply (Parquet out) | {duck:.1f} ({runs(seconds['duckdb']['apply'])}) | | |",
        "",
        f"apply / rebuild = {med['lakeml']['apply'] / med['lakeml']['rebuild']:.2f} (floor's "
        f"{med['floor']['apply'] / med['floor']['rebuild']:.2f}); lakeml apply / DuckDB = "
        f"{med['lakeml']['apply'] / duck:.1f}x the time; plan {table.get('apply_plan')}",
        f"merge metrics {table.get('merge')}",
        f"loads before each step (1/5/15 min): {'; '.join(loads)}",
        f"peak driver RSS {peak_rss_mb():.0f} MB",
    ]
    return "\n".join(lines)


def main() -> None:
    opts = options()
    ensure_dirs()

    from core.log import configure_logging
    from core.session import build_session

    configure_logging("INFO")

    spark = build_session("bench-ingest-dms", extra={"spark.driver.memory": "4g"})  # as spark-submit.sh local
    spark.sparkContext.setLogLevel("ERROR")
    conf = os.path.join(OUT_DIR, "dms_bench.json")
    table = {"schema": "bench", "table": "accounts", "format": "parquet", "key": ["id"], "columns": COLUMNS}
    with open(conf, "w", encoding="utf-8") as handle:
        dv = {"deletion_vectors": True} if opts.deletion_vectors else {}
        json.dump({"tables": [{**table, "change_seq_column": "seq", "timestamp_column": "ts", **dv}]}, handle)
    if opts.warmup:
        warm_root = os.path.join(DATA_DIR, "dms-warmup")
        generate(warm_root, 2_000, changes=min(opts.changes, 200), skew=opts.skew)
        t0 = time.perf_counter()
        lakeml_runs(spark, warm_root, conf, os.path.join(OUT_DIR, "dms_warmup"), opts.apply_plan, opts.optimize)
        floor_runs(spark, warm_root, os.path.join(OUT_DIR, "dms_floor_warmup"), opts.optimize, opts.deletion_vectors)
        print(f"warm-up (2,000-row table: load, apply, rebuild) {time.perf_counter() - t0:.1f}s", flush=True)
    points = [(rows, one_size(spark, opts, rows, conf)) for rows in opts.rows]
    spark.stop()
    k = exponent(points)
    if k is not None:
        print(f"apply seconds ~ rows^{k:.2f} over {[n for n, _ in points]} (1.0: grows with the table)", flush=True)


if __name__ == "__main__":
    main()

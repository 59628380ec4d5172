"""Profile 1M rows x 20 mixed columns: lakeml's profile job vs pandas describe() + value_counts().

    bench/run.sh profile [--rows 1000000]
    bench/run.sh profile --wide [--rows 2000]    # 500 attributes + the target (issue 30 item 5)

Input (seeded, cached under bench/.data/): 9 NUMERIC (normal, skewed, integer; 2% missing and
0.5% unparseable in three of them, stored as strings), 5 CATEGORICAL (5 to 100,000 values),
2 BINARY (spelled yes/no), 2 TEXT (4-16 words from a 5,000-word vocabulary, Zipf), 1 id-like
NUMERIC, the BINARY target: 20 columns. Written once as a Delta table `tables/bench_profile` and
as Parquet for pandas. Contenders, in one process on the same data:
- lakeml: the profile job in process (schema types, the HTML report and JSON written), after a
  warm-up profile of a 10,000-row slice in the same JVM; its summary's spark_jobs printed;
- pandas: describe() of the numeric columns (strings parsed first with to_numeric) and
  value_counts() of every column, on the DataFrame already in memory (the read timed apart);
- pandas + words: the same plus the word counts of the two TEXT columns (split, explode,
  value_counts), the closest pandas gets to what the profile computes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# this file is named like the standard library's `profile` (which pyspark imports): take bench/ off the path
sys.path[:] = [os.path.dirname(HERE)] + [p for p in sys.path if os.path.abspath(p or ".") != HERE]

from bench._harness import DATA_DIR, OUT_DIR, ensure_dirs, report, timed  # noqa: E402

NUMERIC = [f"num_{k}" for k in range(9)] + ["id_like"]
CATEGORICAL = ["cat_5", "cat_50", "cat_1k", "cat_10k", "cat_100k"]
BINARY = ["flag_a", "flag_b"]
TEXT = ["text_a", "text_b"]
STRINGY = ["num_0", "num_1", "num_2"]  # numbers stored as text with missing and invalid values
WIDE_COPIES = 26  # x 19 attributes + the target: 495 attributes, 1 target


def make_frame(rows: int, seed: int = 18):
    """The bench input as a pandas DataFrame."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, rows)
    data = {}
    for k in range(9):
        base = (
            rng.normal(0, 1, rows) if k % 3 == 0 else rng.lognormal(0, 1, rows) if k % 3 == 1 else rng.poisson(5, rows)
        )
        data[f"num_{k}"] = base + (0.5 * y if k < 3 else 0)
    data["id_like"] = np.arange(rows, dtype=float)
    for name in STRINGY:
        values = np.char.mod("%.4f", data[name]).astype(object)
        values[rng.random(rows) < 0.02] = ""
        values[rng.random(rows) < 0.005] = "n/a"
        data[name] = values
    for name, card in zip(CATEGORICAL, (5, 50, 1000, 10_000, 100_000)):
        data[name] = np.char.add("c", rng.zipf(1.3, rows).clip(1, card).astype(str))
    for name in BINARY:
        data[name] = np.where(rng.random(rows) < 0.3, "yes", "no")
    vocab = np.array([f"w{k}" for k in range(5000)])
    for name in TEXT:
        lengths = rng.integers(4, 17, rows)
        words = vocab[(rng.zipf(1.2, lengths.sum()) - 1).clip(0, 4999)]
        data[name] = [" ".join(part) for part in np.split(words, np.cumsum(lengths)[:-1])]
    data["target"] = y
    return pd.DataFrame(data)


def column_types() -> dict:
    """Each bench column's Amazon ML type."""
    types = {**{c: "NUMERIC" for c in NUMERIC}, **{c: "CATEGORICAL" for c in CATEGORICAL}}
    types.update({c: "BINARY" for c in [*BINARY, "target"]}, **{c: "TEXT" for c in TEXT})
    return types


def schema(types: dict) -> dict:
    """The Amazon ML schema of columns of these types, `target` the target."""
    attrs = [{"attributeName": n, "attributeType": t} for n, t in types.items()]
    return {"version": "1.0", "targetAttributeName": "target", "attributes": attrs}


def wide_frame(rows: int, copies: int = WIDE_COPIES):
    """`copies` seeded copies of the bench's 19 attributes side by side (`<name>_<k>`), and one target."""
    import pandas as pd

    parts = [make_frame(rows, seed=18 + k).drop(columns="target").add_suffix(f"_{k}") for k in range(copies)]
    return pd.concat([*parts, make_frame(rows)[["target"]]], axis=1)


def wide_types(copies: int = WIDE_COPIES) -> dict:
    """The types of wide_frame's columns."""
    base = {n: t for n, t in column_types().items() if n != "target"}
    return {**{f"{n}_{k}": t for k in range(copies) for n, t in base.items()}, "target": "BINARY"}


def pandas_profile(frame, words: bool) -> None:
    """describe() of the numbers, value_counts() of every column (and the words)."""
    import pandas as pd

    numbers = frame[NUMERIC].apply(pd.to_numeric, errors="coerce")
    numbers.describe()
    for column in frame.columns:
        frame[column].value_counts()
    if words:
        for column in TEXT:
            frame[column].str.split().explode().value_counts()


def run_in_process(spark, job: str, argv):
    """Run a job on this session as `python -m jobs` would; (exit code, summary dict)."""
    import contextlib
    import io

    from core.cli import execute, parse_job_args
    from jobs.main import load_job

    module = load_job(job)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = execute(module, parse_job_args(job, module, list(argv)), spark)
    return code, json.loads(out.getvalue().strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--wide", action="store_true", help="2,000 rows x ~500 attributes: the job alone, warm")
    args = parser.parse_args()
    ensure_dirs()
    if args.wide:
        wide(args.rows or 2000)
        return
    args.rows = args.rows or 1_000_000
    parquet = os.path.join(DATA_DIR, f"profile_{args.rows}.parquet")
    if not os.path.exists(parquet):
        make_frame(args.rows).to_parquet(parquet, index=False)
    import pandas as pd

    read = timed("pandas read_parquet", args.rows, lambda: pd.read_parquet(parquet))
    frame = pd.read_parquet(parquet)

    from core.session import build_session

    spark = build_session("bench-profile", extra={"spark.driver.memory": "2g", "spark.ui.enabled": "false"})
    spark.sparkContext.setLogLevel("ERROR")
    lake = os.path.join(OUT_DIR, "profile_lake")
    shutil.rmtree(lake, ignore_errors=True)
    source = spark.read.parquet(parquet)
    source.write.format("delta").save(os.path.join(lake, "tables", "bench_profile"))
    source.limit(10_000).write.format("delta").save(os.path.join(lake, "tables", "warmup"))
    schema_path = os.path.join(OUT_DIR, "profile.schema")
    with open(schema_path, "w") as handle:
        json.dump(schema(column_types()), handle)
    common = ["--lake", lake, "--schema", schema_path, "--run-date", "2026-12-01"]

    started = time.perf_counter()
    run_in_process(spark, "profile", [*common, "--table", "warmup"])
    warmup = time.perf_counter() - started
    summary = {}

    def lakeml():
        code, out = run_in_process(spark, "profile", [*common, "--table", "bench_profile"])
        assert code == 0, out["message"]
        summary.update(out)

    results = [
        timed("lakeml profile (2 passes, report)", args.rows, lakeml),
        timed("pandas describe + value_counts", args.rows, lambda: pandas_profile(frame, False)),
        timed("pandas describe + value_counts + words", args.rows, lambda: pandas_profile(frame, True)),
    ]
    report(f"profile: {args.rows:,} rows x 20 columns", [*results, read], "pandas describe + value_counts")
    print(f"\nwarm-up profile of 10,000 rows: {warmup:.1f} s; lakeml spark_jobs: {summary['counts']['spark_jobs']}")
    print(f"load average: {os.getloadavg()}")
    spark.stop()


def wide(rows: int) -> None:
    """The profile job on rows x ~500 attributes (a Delta table), in a session warmed by a first run on 200 rows;
    three timed runs, the median with the load before each, and the page's size."""
    import statistics

    from bench._harness import wait_quiet
    from core.session import build_session

    spark = build_session("bench-profile-wide", extra={"spark.ui.enabled": "false"})
    spark.sparkContext.setLogLevel("ERROR")
    lake = os.path.join(OUT_DIR, "profile_wide_lake")
    shutil.rmtree(lake, ignore_errors=True)
    frame = wide_frame(rows)
    source = spark.createDataFrame(frame)
    source.write.format("delta").save(os.path.join(lake, "tables", "wide"))
    source.limit(200).write.format("delta").save(os.path.join(lake, "tables", "wide_warmup"))
    schema_path = os.path.join(OUT_DIR, "profile_wide.schema")
    with open(schema_path, "w") as handle:
        json.dump(schema(wide_types()), handle)
    common = ["--lake", lake, "--schema", schema_path]
    run_in_process(spark, "profile", [*common, "--table", "wide_warmup", "--run-date", "2026-12-01"])
    seconds, loads = [], []
    for day in ("2026-12-02", "2026-12-03", "2026-12-04"):
        loads.append(wait_quiet())
        started = time.perf_counter()
        code, out = run_in_process(spark, "profile", [*common, "--table", "wide", "--run-date", day])
        seconds.append(time.perf_counter() - started)
        assert code == 0, out["message"]
    page = out["counts"]["report"][len("file://") :]
    print(
        f"profile {rows:,} rows x {len(frame.columns) - 1} attributes + target: runs {seconds}, median "
        f"{statistics.median(seconds):.2f} s; loads before {loads}; page {os.path.getsize(page) / 1e6:.1f} MB, "
        f"spark_jobs {out['counts']['spark_jobs']}"
    )
    spark.stop()


if __name__ == "__main__":
    main()

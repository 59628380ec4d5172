"""Profile 1M rows x 20 mixed columns: lakeml's profile job vs pandas describe() + value_counts().

    bench/run.sh profile [--rows 1000000]

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


def schema() -> dict:
    """The Amazon ML schema of the bench input."""
    types = {**{c: "NUMERIC" for c in NUMERIC}, **{c: "CATEGORICAL" for c in CATEGORICAL}}
    types.update({c: "BINARY" for c in [*BINARY, "target"]}, **{c: "TEXT" for c in TEXT})
    attrs = [{"attributeName": n, "attributeType": t} for n, t in types.items()]
    return {"version": "1.0", "targetAttributeName": "target", "attributes": attrs}


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
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    ensure_dirs()
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
        json.dump(schema(), handle)
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


if __name__ == "__main__":
    main()

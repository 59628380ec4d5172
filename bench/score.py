"""score at 1M, 2M and 4M rows with a saved logistic-regression pipeline, beside scikit-learn on the same rows.

    bench/run.sh score [--sizes 1000000,2000000,4000000] [--runs 3]

The input: rows (id, review, x, z) from a seeded generator: a review of 6 words out of 2,000, two
numbers. The model: the recipe `ngram(lowercase(review), 2)`, `quantile_bin(x, 20)`, `quantile_bin(z, 20)`
(2^18 hashed token slots) + LogisticRegression, fitted on 20,000 rows and published to a bench lake.
lakeml: the whole `score` job on a Delta table of the rows (`--table`: read, type checks, transform,
one Delta commit, the stats and report pass). scikit-learn: the same feature space (a HashingVectorizer
of words and word bigrams with 2^18 slots, 20 quantile bins of each number, one-hot) and a
LogisticRegression fitted on the same 20,000 rows; timed as feature transform + predict_proba, and
predict_proba alone, on the same rows in memory. The engine floor: the shortest PySpark program doing the
score job's work, the same saved PipelineModel on the same Delta table, P(1) and the row id written as one
Delta commit. Each contender runs `--runs` times per size, each run once the 1-minute load is under 1.5;
the median is reported with the loads, the score job's stage split (its `stage` log lines, medians) and
a check that the job's scores equal the floor's (same model: within 1e-9). Peak memory: the driver JVM's
VmHWM and this Python process's peak RSS (which holds the scikit-learn side).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import statistics
import sys
import time
from collections import defaultdict
from typing import List

# bench/ itself off the path: bench/profile.py would shadow the standard library's profile module
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [os.path.dirname(_HERE), *(p for p in sys.path if os.path.abspath(p or ".") != _HERE)]

from bench._harness import OUT_DIR, Result, ensure_dirs, peak_rss_mb, report, wait_quiet  # noqa: E402

WORDS = 2000
RECIPE = {"outputs": ["ngram(lowercase(review), 2)", "quantile_bin(x, 20)", "quantile_bin(z, 20)"]}
SCHEMA = {
    "rowId": "id",
    "targetAttributeName": "y",
    "attributes": [
        {"attributeName": "id", "attributeType": "CATEGORICAL"},
        {"attributeName": "review", "attributeType": "TEXT"},
        {"attributeName": "x", "attributeType": "NUMERIC"},
        {"attributeName": "z", "attributeType": "NUMERIC"},
        {"attributeName": "y", "attributeType": "BINARY"},
    ],
}


def make_rows(n: int, seed: int):
    """A pandas DataFrame of n rows; y depends on the first 200 words and x."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i}" for i in range(WORDS)])
    picks = rng.integers(0, WORDS, size=(n, 6))
    words = vocab[picks]
    review = words[:, 0]
    for j in range(1, 6):
        review = np.char.add(np.char.add(review, " "), words[:, j])
    x, z = rng.normal(0, 1, n), rng.uniform(0, 100, n)
    signal = (picks < 200).sum(axis=1) - 0.6 + 0.8 * x + rng.normal(0, 1, n)
    return pd.DataFrame(
        {
            "id": np.char.add("r", np.arange(n).astype(str)),
            "review": review,
            "x": x,
            "z": z,
            "y": (signal > 0).astype(int),
        }
    )


def jvm_peak_mb(spark) -> float:
    """Peak resident memory (VmHWM) of the driver JVM, in MB."""
    pid = int(spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())
    with open(f"/proc/{pid}/status") as handle:
        line = next(line for line in handle if line.startswith("VmHWM"))
    return int(line.split()[1]) / 1024


def fit_lakeml(spark, lake, train_pdf) -> None:
    """Fit the recipe + LR on the training rows and publish it as the champion of `bench`."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression

    from features.recipe import compile_recipe
    from ml import registry
    from ml.version_record import VersionRecord

    train = spark.createDataFrame(train_pdf.assign(y=train_pdf.y.astype(str)))
    stages = compile_recipe(SCHEMA, RECIPE, num_features=2**18).getStages()
    model = Pipeline(stages=[*stages, LogisticRegression(maxIter=20, regParam=0.001)]).fit(train)
    meta = VersionRecord(
        model_type="BINARY",
        algorithm="logistic",
        schema=SCHEMA,
        recipe=RECIPE,
        classes=["0", "1"],
        cutoff=0.5,
        metrics={"auc": 0.0},
    )
    version = registry.publish_version(spark, lake, "bench", model, meta)
    registry.set_champion(spark, lake, "bench", version, reason="bench")


def fit_sklearn(train_pdf):
    """The scikit-learn pipeline over the same feature space, fitted on the same rows."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import KBinsDiscretizer

    features = ColumnTransformer(
        [
            ("text", HashingVectorizer(ngram_range=(1, 2), n_features=2**18, binary=True, norm=None), "review"),
            (
                "bins",
                KBinsDiscretizer(n_bins=20, encode="onehot", strategy="quantile", quantile_method="linear"),
                ["x", "z"],
            ),
        ]
    )
    model = Pipeline([("features", features), ("lr", LogisticRegression(max_iter=200))])
    return model.fit(train_pdf[["review", "x", "z"]], train_pdf.y)


class StageLines(logging.Handler):
    """Collects the seconds of the job's `stage NAME: ... seconds=S` log lines."""

    PATTERN = re.compile(r"^stage (\S+?):.* seconds=([0-9.]+)$")

    def __init__(self):
        super().__init__(logging.INFO)
        self.seconds = {}

    def emit(self, record: logging.LogRecord) -> None:
        found = self.PATTERN.match(record.getMessage())
        if found:
            self.seconds[found.group(1)] = float(found.group(2))


def write_table(spark, lake, pdf, n: int) -> str:
    """The rows as the Delta table `bench_<n>` of the lake; its name."""
    from core.lake import spark_uri

    table = f"bench_{n}"
    spark.createDataFrame(pdf[["id", "review", "x", "z"]]).write.format("delta").mode("overwrite").save(
        spark_uri(lake.table(table))
    )
    return table


def score_lakeml(spark, lake, table: str, n: int):
    """The score job on the table: (Result, {stage: seconds})."""
    from core.cli import execute, parse_job_args
    from core.log import logger
    from jobs.main import load_job

    module = load_job("score")
    args = parse_job_args(
        "score", module, ["--name", "bench", "--lake", lake.root, "--table", table, "--run-id", f"b{n}"]
    )
    stages = StageLines()
    logger.addHandler(stages)
    logger.setLevel(logging.INFO)
    try:
        started = time.perf_counter()
        code = execute(module, args, spark)
        seconds = time.perf_counter() - started
    finally:
        logger.removeHandler(stages)
    if code != 0:
        raise SystemExit(f"score failed with exit {code}")
    return Result("lakeml score job", n, seconds), stages.seconds


def score_floor(spark, lake, table: str, n: int) -> Result:
    """Hand-written PySpark: the same saved PipelineModel over the table, id and P(1) in one Delta commit."""
    from pyspark.ml import PipelineModel
    from pyspark.ml.functions import vector_to_array

    from core.lake import spark_uri
    from ml import registry

    version = registry.load_version(spark, lake, "bench")[1].version
    started = time.perf_counter()
    model = PipelineModel.load(spark_uri(registry.version_uri(lake, "bench", version) + "/model"))
    rows = spark.read.format("delta").load(spark_uri(lake.table(table)))
    scored = model.transform(rows).select("id", vector_to_array("probability")[1].alias("score"))
    scored.write.format("delta").mode("overwrite").save(spark_uri(floor_uri(lake, n)))
    return Result("pyspark floor (same model, one Delta write)", n, time.perf_counter() - started)


def floor_uri(lake, n: int) -> str:
    return os.path.join(lake.root, "floor", str(n))


def largest_score_difference(spark, lake, n: int) -> float:
    """The largest |score| difference between the job's rows and the floor's, joined on the row id."""
    from pyspark.sql import functions as F

    from core.lake import spark_uri

    job = spark.read.format("delta").load(spark_uri(lake.scores("bench"))).select("tag", F.col("score").alias("a"))
    floor = spark.read.format("delta").load(spark_uri(floor_uri(lake, n))).select("id", F.col("score").alias("b"))
    joined = job.join(floor, job.tag == floor.id, "full")
    row = joined.agg(F.count(F.lit(1)).alias("rows"), F.max(F.abs(F.col("a") - F.col("b"))).alias("diff")).first()
    if row["rows"] != n:
        raise SystemExit(f"the job's and the floor's rows differ: {row['rows']} joined rows for {n}")
    return float(row["diff"])


def score_sklearn(model, pdf, n: int):
    """(features + predict_proba, predict_proba alone) on the rows in memory."""
    started = time.perf_counter()
    matrix = model.named_steps["features"].transform(pdf[["review", "x", "z"]])
    featured = time.perf_counter()
    model.named_steps["lr"].predict_proba(matrix)
    done = time.perf_counter()
    return Result("scikit-learn features+predict_proba", n, done - started), Result(
        "scikit-learn predict_proba only", n, done - featured
    )


def median_result(results: List[Result]) -> Result:
    return Result(results[0].name, results[0].rows, statistics.median(r.seconds for r in results))


def print_details(runs, loads, stage_runs, diff: float) -> None:
    """Each run's seconds, the loads, the job's stage medians and its agreement with the floor."""
    print("runs (s): " + "; ".join(f"{k} {[round(r.seconds, 2) for r in v]}" for k, v in runs.items()))
    print("loads before each run: " + " | ".join(loads))
    stages = ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in stage_runs.items())
    print(f"score job stages (median s): {stages}")
    ratio = statistics.median(r.seconds for r in runs["ours"]) / statistics.median(r.seconds for r in runs["floor"])
    print(f"job vs floor: largest score difference {diff:.2e}; job / floor time {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,2000000,4000000")
    parser.add_argument("--runs", type=int, default=3)
    opts = parser.parse_args()
    sizes = [int(s) for s in opts.sizes.split(",")]
    ensure_dirs()
    from core.lake import Lake
    from core.log import configure_logging
    from core.session import build_session

    configure_logging("WARNING")
    folder = os.path.join(OUT_DIR, "score_lake")
    shutil.rmtree(folder, ignore_errors=True)
    lake = Lake.at(folder)
    spark = build_session(
        "lakeml-bench-score", master="local[2]", extra={"spark.driver.memory": "4g", "spark.ui.enabled": "false"}
    )
    train_pdf = make_rows(20_000, 1)
    fit_lakeml(spark, lake, train_pdf)
    sk_model = fit_sklearn(train_pdf)
    for n in sizes:
        pdf = make_rows(n, 100 + n)
        table = write_table(spark, lake, pdf, n)
        runs, loads, stage_runs = defaultdict(list), [], defaultdict(list)
        for _ in range(opts.runs):
            loads.append(wait_quiet())
            ours, stages = score_lakeml(spark, lake, table, n)
            runs["ours"].append(ours)
            for name, seconds in stages.items():
                stage_runs[name].append(seconds)
            loads.append(wait_quiet())
            runs["floor"].append(score_floor(spark, lake, table, n))
            loads.append(wait_quiet())
            theirs, proba = score_sklearn(sk_model, pdf, n)
            runs["sklearn"].append(theirs)
            runs["proba"].append(proba)
        diff = largest_score_difference(spark, lake, n)
        medians = {k: median_result(v) for k, v in runs.items()}
        report(
            f"score, {n:,} rows, median of {opts.runs}",
            [medians["ours"], medians["floor"], medians["sklearn"], medians["proba"]],
            medians["sklearn"].name,
        )
        print_details(runs, loads, stage_runs, diff)
        print(
            f"peak memory after {n:,} rows: driver JVM {jvm_peak_mb(spark):,.0f} MB, Python {peak_rss_mb():,.0f} MB",
            flush=True,
        )
        del pdf
    spark.stop()


if __name__ == "__main__":
    main()

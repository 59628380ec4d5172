"""score at 1M, 2M and 4M rows with a saved logistic-regression pipeline, beside scikit-learn on the same rows.

    bench/run.sh score [--sizes 1000000,2000000,4000000]

The input: rows (id, review, x, z) from a seeded generator: a review of 6 words out of 2,000, two
numbers. The model: the recipe `ngram(lowercase(review), 2)`, `quantile_bin(x, 20)`, `quantile_bin(z, 20)`
(2^18 hashed token slots) + LogisticRegression, fitted on 20,000 rows and published to a bench lake.
lakeml: the whole `score` job on a Delta table of the rows (`--table`: read, type checks, transform,
one Delta commit, the stats and report pass). scikit-learn: the same feature space (a HashingVectorizer
of words and word bigrams with 2^18 slots, 20 quantile bins of each number, one-hot) and a
LogisticRegression fitted on the same 20,000 rows; timed as feature transform + predict_proba, and
predict_proba alone, on the same rows in memory. Peak memory: the driver JVM's VmHWM and this
Python process's peak RSS (which holds the scikit-learn side).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time

# bench/ itself off the path: bench/profile.py would shadow the standard library's profile module
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [os.path.dirname(_HERE), *(p for p in sys.path if os.path.abspath(p or ".") != _HERE)]

from bench._harness import OUT_DIR, Result, ensure_dirs, peak_rss_mb, report  # noqa: E402

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


def score_lakeml(spark, lake, pdf, n: int) -> Result:
    """The score job on a Delta table of the rows; the table is written before the clock starts."""
    from core.cli import execute, parse_job_args
    from core.lake import spark_uri
    from jobs.main import load_job

    table = f"bench_{n}"
    spark.createDataFrame(pdf[["id", "review", "x", "z"]]).write.format("delta").mode("overwrite").save(
        spark_uri(lake.table(table))
    )
    module = load_job("score")
    args = parse_job_args(
        "score", module, ["--name", "bench", "--lake", lake.root, "--table", table, "--run-id", f"b{n}"]
    )
    started = time.perf_counter()
    code = execute(module, args, spark)
    seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"score failed with exit {code}")
    return Result("lakeml score job", n, seconds)


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,2000000,4000000")
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
    lines = []
    for n in sizes:
        pdf = make_rows(n, 100 + n)
        ours = score_lakeml(spark, lake, pdf, n)
        theirs, proba = score_sklearn(sk_model, pdf, n)
        lines.append(report(f"score, {n:,} rows", [ours, theirs, proba], theirs.name))
        print(
            f"peak memory after {n:,} rows: driver JVM {jvm_peak_mb(spark):,.0f} MB, Python {peak_rss_mb():,.0f} MB",
            flush=True,
        )
        del pdf
    spark.stop()


if __name__ == "__main__":
    main()

"""MovieLens-100k: lakeml's ALS (and a factorization machine) vs scikit-surprise's SVD on the same split.

Input: ml-100k's 100,000 ratings as the recbole wheel ships them (fetched into the tests' dataset
cache), split as `train --split` does it: DataRearrangement random 0-80 with randomSeed 42, the
evaluation rows its complement. Timed: the fit only.
- lakeml ALS: `ml.recommend.fit_recommender` (the StringIndexers, ALS and the bias baseline train
  builds), rank 50, regParam 0.12, --iterations iterations; RMSE through the fitted pipeline, so
  cold-start rows are scored by the baseline, never dropped.
- lakeml FM: FMRegressor on one-hot user and item columns, as `train --algorithm fm` builds it for a
  REGRESSION datasource of two CATEGORICAL attributes: lakeml's defaults (adamW), then solver gd.
- scikit-surprise SVD: its defaults (100 factors, 20 epochs, biased), fixed random_state.

usage: bench/run.sh train_movielens [--iterations K] [--fm-iterations K]
"""

from __future__ import annotations

import argparse
import math
import time

from bench._harness import Result, report
from core.session import build_session

SPLIT = '{"splitting": {"percentBegin": 0, "percentEnd": 80, "strategy": "random", "randomSeed": "42"}}'
COLS = {"user_col": "user", "item_col": "item", "rating_col": "rating"}


def ratings():
    """The 100,000 (user, item, rating) rows as strings and a float, in file order."""
    from tests.datasets import package_file

    path = package_file("recbole", "1.2.1", "recbole/dataset_example/ml-100k/ml-100k.inter")
    with open(path) as handle:
        rows = [line.rstrip("\n").split("\t") for line in handle][1:]
    return [(u, i, float(r)) for u, i, r, _ts in rows]


def split_frames(spark, rows):
    """(train, test) Spark DataFrames, split as train's --split does."""
    from ml.split import apply_split, parse_split

    frame = spark.createDataFrame(
        [(*r, n) for n, r in enumerate(rows)], "user string, item string, rating double, _row long"
    )
    train, test = apply_split(frame, parse_split(SPLIT))
    return train.drop("_row").cache(), test.drop("_row").cache()


def rmse(model, test) -> float:
    """RMSE of a fitted pipeline's `prediction` on the test rows."""
    row = model.transform(test).selectExpr("avg(pow(prediction - rating, 2))").first()
    return math.sqrt(row[0])


def fit_als(train, iterations: int):
    from ml.recommend import fit_recommender

    model, _params = fit_recommender(train, COLS, False, {"rank": 50, "regParam": 0.12, "maxIter": iterations})
    return model


def fit_fm(train, params):
    """One-hot user and item columns into FMRegressor, the estimator train builds for --algorithm fm."""
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import OneHotEncoder, StringIndexer, VectorAssembler

    from ml.algorithms import build_estimator

    estimator, _chosen = build_estimator("REGRESSION", "fm", params, has_tokens=False)
    stages = [
        StringIndexer(inputCols=["user", "item"], outputCols=["u_ix", "i_ix"], handleInvalid="keep"),
        OneHotEncoder(inputCols=["u_ix", "i_ix"], outputCols=["u_oh", "i_oh"], handleInvalid="keep"),
        VectorAssembler(inputCols=["u_oh", "i_oh"], outputCol="features"),
    ]
    return Pipeline(stages=[*stages, estimator]).fit(train.withColumnRenamed("rating", "label"))


def surprise_svd(train_rows, test_rows):
    """(fit seconds, RMSE) of scikit-surprise's SVD with its defaults."""
    import pandas as pd
    from surprise import SVD, Dataset, Reader

    frame = pd.DataFrame(train_rows, columns=["user", "item", "rating"])
    trainset = Dataset.load_from_df(frame, Reader(rating_scale=(1, 5))).build_full_trainset()
    algo = SVD(random_state=0)
    started = time.perf_counter()
    algo.fit(trainset)
    seconds = time.perf_counter() - started
    errors = [(algo.predict(u, i).est - r) ** 2 for u, i, r in test_rows]
    return seconds, math.sqrt(sum(errors) / len(errors))


def timed_fit(fit):
    started = time.perf_counter()
    model = fit()
    return model, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--fm-iterations", type=int, default=100)
    args = parser.parse_args()
    spark = build_session("bench-train-movielens", master="local[2]")
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.setCheckpointDir("/tmp/lakeml-bench-checkpoints")
    train, test = split_frames(spark, ratings())
    train_rows = [tuple(r) for r in train.collect()]
    test_rows = [tuple(r) for r in test.collect()]
    fit_als(train, 2)  # warm-up: the JVM's first ALS compiles its code paths
    als, als_s = timed_fit(lambda: fit_als(train, args.iterations))
    als_rmse = rmse(als, test)
    sk_s, sk_rmse = surprise_svd(train_rows, test_rows)
    fm_rmse = {}
    fm_s = {}
    for name, params in {
        "adamW (lakeml's defaults)": {"maxIter": args.fm_iterations},
        "gd, stepSize 0.1": {"maxIter": args.fm_iterations, "solver": "gd", "stepSize": 0.1},
    }.items():
        model, fm_s[name] = timed_fit(lambda p=params: fit_fm(train, p))
        fm_rmse[name] = rmse(model, test)  # the FM pipeline's stages read user and item only
    report(
        f"train_movielens: fit seconds on {len(train_rows):,} ratings (random 80/20, seed 42)",
        [
            Result(f"lakeml ALS rank 50, {args.iterations} iterations", len(train_rows), als_s),
            Result("scikit-surprise SVD (defaults)", len(train_rows), sk_s),
            *[Result(f"lakeml FM {name}", len(train_rows), fm_s[name]) for name in fm_s],
        ],
        "scikit-surprise SVD (defaults)",
    )
    print(
        f"RMSE on {len(test_rows):,} evaluation ratings: lakeml ALS {als_rmse:.4f}, scikit-surprise SVD {sk_rmse:.4f}"
    )
    for name, value in fm_rmse.items():
        print(f"RMSE lakeml FM {name}: {value:.4f}")
    spark.stop()


if __name__ == "__main__":
    main()

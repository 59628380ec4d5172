"""Training on a ~35k-row tabular datasource through a recipe with quantile bins and crosses.

lakeml: the recipe's pipeline (quantile_bin x2, cartesian, categoricals) fitted and a BINARY
LogisticRegression fitted on its vectors at train's defaults (L2 1e-6, tol 1e-7, maxIter 1000,
standardization off), in a warm session (a first fit is run and not timed): fitted in the driver
(ml.driver_fit, what train runs when the rows fit) and by MLlib's distributed L-BFGS, for the token
layouts a vocabulary fitted on the training rows (what `--layout auto` picks for a recipe without
TEXT) and 2^18 hashed slots. scikit-learn: the same tokens one-hot encoded
(OneHotEncoder) and LogisticRegression (lbfgs). AUC on the same 30 % held out. Also the floor: the
seconds of one trivial Spark job on this session, which bounds every L-BFGS iteration from below.

usage: bench/run.sh train_tabular [--rows N]
"""

from __future__ import annotations

import argparse
import time

from bench._harness import Result, report

EDU = {"hs": -1.0, "some": -0.4, "bsc": 0.0, "msc": 0.7, "phd": 1.2}
WORK = ["private", "gov", "self", "none"]
OCC = [f"occ{i}" for i in range(14)]
RECIPE = {
    "groups": {},
    "assignments": {"binned_age": "quantile_bin(age, 10)"},
    "outputs": ["binned_age", "quantile_bin(hours, 10)", "cartesian(binned_age, education)", "ALL_CATEGORICAL"],
}
SCHEMA = {
    "targetAttributeName": "y",
    "attributes": [
        {"attributeName": "age", "attributeType": "NUMERIC"},
        {"attributeName": "hours", "attributeType": "NUMERIC"},
        {"attributeName": "education", "attributeType": "CATEGORICAL"},
        {"attributeName": "workclass", "attributeType": "CATEGORICAL"},
        {"attributeName": "occupation", "attributeType": "CATEGORICAL"},
        {"attributeName": "y", "attributeType": "BINARY"},
    ],
}


def make_rows(n: int):
    """A pandas frame of n adult-like rows with a non-linear label."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(3)
    age = rng.integers(18, 80, n).astype(float)
    hours = rng.integers(5, 80, n).astype(float)
    edu = rng.choice(list(EDU), n)
    occ = rng.choice(OCC, n)
    z = (
        -(((age - 48) / 12) ** 2)
        + 0.05 * (hours - 40)
        + np.vectorize(EDU.get)(edu)
        + (occ == "occ3")
        + rng.normal(0, 1, n)
    )
    return pd.DataFrame(
        {
            "age": age,
            "hours": hours,
            "education": edu,
            "workclass": rng.choice(WORK, n),
            "occupation": occ,
            "y": (z > -0.5).astype(int),
        }
    )


def lakeml_fit(train, test, vocabulary: bool, num_features: int, driver: bool):
    """(seconds, AUC) of recipe pipeline + LR fitted on train, in the driver or by MLlib."""
    from pyspark.ml.classification import LogisticRegression

    from features.recipe import compile_recipe
    from ml.algorithms import defaults
    from ml.driver_fit import fit_in_driver
    from ml.metrics import auc, binary_score

    params = defaults("logistic", has_tokens=True)
    started = time.perf_counter()
    features = compile_recipe(SCHEMA, RECIPE, num_features, vocabulary=vocabulary).fit(train)
    vectors = features.transform(train).select("features", "label").cache()
    estimator = LogisticRegression(**params)
    model = fit_in_driver(vectors.sparkSession, estimator, vectors, params) if driver else estimator.fit(vectors)
    seconds = time.perf_counter() - started
    scored = model.transform(features.transform(test))
    value = auc(scored.select(binary_score(scored).alias("score"), "label"))
    vectors.unpersist()
    return seconds, value


def sklearn_fit(train, test):
    """(seconds, AUC) of the same tokens one-hot encoded + LogisticRegression."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import OneHotEncoder

    def tokens(df, edges):
        out = pd.DataFrame({c: df[c] for c in ("education", "workclass", "occupation")})
        out["age_q"] = pd.cut(df.age, edges["age"], labels=False, include_lowest=True).astype(str)
        out["hours_q"] = pd.cut(df.hours, edges["hours"], labels=False, include_lowest=True).astype(str)
        out["age_x_edu"] = out.age_q + "_" + df.education
        return out

    started = time.perf_counter()
    edges = {
        c: [-1e18, *sorted(set(train[c].quantile([i / 10 for i in range(1, 10)]))), 1e18] for c in ("age", "hours")
    }
    encoder = OneHotEncoder(handle_unknown="ignore").fit(tokens(train, edges))
    model = LogisticRegression(max_iter=1000).fit(encoder.transform(tokens(train, edges)), train.y)
    seconds = time.perf_counter() - started
    probs = model.predict_proba(encoder.transform(tokens(test, edges)))[:, 1]
    return seconds, roc_auc_score(test.y, probs), encoder.transform(tokens(train, edges)).shape[1]


def job_floor(spark, n: int = 20) -> float:
    """Seconds of one trivial Spark job (a count over a cached small frame), median of n."""
    frame = spark.range(35_000).cache()
    frame.count()
    times = []
    for _ in range(n):
        started = time.perf_counter()
        frame.agg({"id": "sum"}).collect()
        times.append(time.perf_counter() - started)
    return sorted(times)[n // 2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=35_000)
    args = parser.parse_args()
    from core.session import build_session

    spark = build_session("bench-train-tabular", master="local[2]", extra={"spark.sql.shuffle.partitions": "2"})
    spark.sparkContext.setLogLevel("ERROR")
    frame = make_rows(args.rows)
    cut = int(0.7 * len(frame))
    train_pd, test_pd = frame.iloc[:cut], frame.iloc[cut:]
    train = spark.createDataFrame(train_pd).cache()
    test = spark.createDataFrame(test_pd).cache()
    train.count(), test.count()
    lakeml_fit(train, test, True, 2**18, driver=True)  # warm-up, not timed
    runs = {
        "lakeml vocabulary, driver fit": lakeml_fit(train, test, True, 2**18, driver=True),
        "lakeml hashed 2^18, driver fit": lakeml_fit(train, test, False, 2**18, driver=True),
        "lakeml vocabulary, MLlib fit": lakeml_fit(train, test, True, 2**18, driver=False),
    }
    sk = sklearn_fit(train_pd, test_pd)
    floor = job_floor(spark)
    results = [Result(name, cut, seconds) for name, (seconds, _) in runs.items()]
    results.append(Result("scikit-learn one-hot", cut, sk[0]))
    report("train_tabular: recipe pipeline + logistic regression fit, warm session", results, "scikit-learn one-hot")
    aucs = ", ".join(f"{name} {value:.4f}" for name, (_, value) in runs.items())
    print(f"AUC: {aucs}, scikit-learn {sk[1]:.4f} ({sk[2]} one-hot columns)")
    print(f"floor of one Spark job on this session {floor:.3f} s")
    spark.stop()


if __name__ == "__main__":
    main()

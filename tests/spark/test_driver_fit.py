"""ml.driver_fit: the driver's L-BFGS reaches MLlib's own optimum (MLlib fitted here to a tight tolerance),
for binomial and multinomial, standardized or not, with row weights; its model saves, loads and scores as
MLlib's does; rows past the driver's limit go to MLlib."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.ml import PipelineModel
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.linalg import Vectors

from ml import driver_fit


def frame(spark, x, y, weights=None, sparse=False):
    rows = []
    for i, (xi, yi) in enumerate(zip(x, y)):
        vector = Vectors.sparse(len(xi), {j: v for j, v in enumerate(xi) if v}) if sparse else Vectors.dense(xi)
        rows.append((vector, float(yi), float(weights[i]) if weights is not None else 1.0))
    return spark.createDataFrame(rows, ["features", "label", "w"])


def probabilities(model, data):
    return np.array([r["probability"].toArray() for r in model.transform(data).select("probability").collect()])


def both_fits(spark, data, **params):
    """(driver model, MLlib model) of the same estimator settings; MLlib run to a tight tolerance."""
    estimator = LogisticRegression(**params)
    chosen = {key.name: value for key, value in estimator.extractParamMap().items() if estimator.isSet(key)}
    ours = driver_fit.fit_in_driver(spark, estimator, data, {**chosen, "tol": 1e-10, "maxIter": 3000})
    theirs = LogisticRegression(**{**params, "tol": 1e-10, "maxIter": 3000}).fit(data)
    return ours, theirs


def test_binomial_standardized_reaches_mllibs_optimum(spark):
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    data = frame(spark, x[:300], y[:300])
    ours, theirs = both_fits(spark, data, regParam=0.01)
    assert not ours.hasSummary and theirs.hasSummary  # built in the driver, not by MLlib
    np.testing.assert_allclose(ours.coefficients.toArray(), theirs.coefficients.toArray(), rtol=5e-3, atol=1e-4)
    assert abs(ours.intercept - theirs.intercept) < 1e-3
    assert np.abs(probabilities(ours, data) - probabilities(theirs, data)).max() < 1e-4


def test_multinomial_weighted_unstandardized_sparse_reaches_mllibs_optimum(spark):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x, y = x[:300] / 16.0, y[:300]
    weights = np.where(y % 2 == 0, 2.0, 0.5)
    data = frame(spark, x, y, weights, sparse=True)
    ours, theirs = both_fits(spark, data, regParam=0.001, family="multinomial", standardization=False, weightCol="w")
    assert ours.numClasses == theirs.numClasses == 10
    assert np.abs(probabilities(ours, data) - probabilities(theirs, data)).max() < 1e-3
    np.testing.assert_allclose(ours.interceptVector.toArray().sum(), 0.0, atol=1e-9)


def test_the_driver_model_saves_loads_and_scores_as_mllibs(spark, tmp_path):
    rng = np.random.RandomState(3)
    x = rng.normal(size=(200, 5))
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0, 3.0]) + rng.normal(size=200) > 0).astype(int)
    data = frame(spark, x, y)
    ours, _ = both_fits(spark, data, regParam=0.1, threshold=0.3)
    PipelineModel(stages=[ours]).write().save(str(tmp_path / "m"))
    loaded = PipelineModel.load(str(tmp_path / "m"))
    assert loaded.stages[-1].getThreshold() == 0.3
    before = [r["prediction"] for r in ours.transform(data).collect()]
    after = [r["prediction"] for r in loaded.transform(data).collect()]
    assert before == after and 0 < sum(after) < len(after)


def test_rows_whose_vector_column_carries_megabytes_of_slot_names_are_collected(spark):
    """Hashed recipes name each of their 2^18 slots in the column's metadata (~11 MB), which Python rows
    would carry, each, in their schema."""
    from pyspark.sql import functions as F

    rng = np.random.RandomState(5)
    x = (rng.rand(300, 2**18 // 1024) < 0.05).astype(float)
    y = (x[:, :10].sum(axis=1) > 0).astype(int)
    names = {
        "ml_attr": {
            "num_attrs": 2**18,
            "attrs": {"numeric": [{"idx": i, "name": f"slot_{i:06d}_" + "t" * 30} for i in range(2**18)]},
        }
    }
    data = frame(spark, x, y, sparse=True).withColumn("features", F.col("features").alias("features", metadata=names))
    assert driver_fit.fit_in_driver(spark, LogisticRegression(regParam=0.01), data, {"regParam": 0.01}) is not None


def test_rows_past_the_drivers_limit_are_left_to_mllib(spark, monkeypatch):
    data = frame(spark, np.eye(4), [0, 1, 0, 1])
    monkeypatch.setattr(driver_fit, "MAX_DRIVER_VALUES", 3)
    assert driver_fit.fit_in_driver(spark, LogisticRegression(), data, {}) is None


@pytest.mark.parametrize(
    "params, eligible",
    [({"regParam": 0.1}, True), ({"elasticNetParam": 1.0}, False), ({"lowerBoundsOnIntercepts": 0}, False)],
)
def test_only_plain_l2_logistic_regression_runs_in_the_driver(params, eligible):
    assert driver_fit.driver_eligible("logistic", params, tune=False, rows=1000) is eligible
    assert driver_fit.driver_eligible("svm", {"regParam": 0.1}, tune=False, rows=1000) is False
    assert driver_fit.driver_eligible("logistic", {"regParam": 0.1}, tune=True, rows=1000) is False


def test_many_rows_are_left_to_mllib_whose_fit_is_then_faster():
    limit = driver_fit.MAX_DRIVER_ROWS
    assert driver_fit.driver_eligible("logistic", {"regParam": 0.1}, tune=False, rows=limit) is True
    assert driver_fit.driver_eligible("logistic", {"regParam": 0.1}, tune=False, rows=limit + 1) is False


def test_the_same_rows_in_another_order_give_bit_identical_coefficients():
    rng = np.random.default_rng(7)
    count, size = 400, 30
    dense = np.where(rng.random((count, size)) < 0.2, rng.normal(size=(count, size)), 0.0)
    labels = (dense[:, :3].sum(axis=1) + rng.normal(size=count) > 0).astype(np.int64)
    dense[::50] = dense[1::50]  # some identical rows
    labels[::50] = labels[1::50]

    def rows_in(order) -> driver_fit.Rows:
        rows, columns = np.nonzero(dense[order])
        return driver_fit.Rows(dense[order][rows, columns], columns, rows, labels[order], np.ones(count), size)

    params = {"regParam": 1e-4, "maxIter": 1000, "tol": 1e-7}
    first = driver_fit.fit_logistic(driver_fit.canonical_order(rows_in(np.arange(count))), 2, False, params)
    shuffled = driver_fit.canonical_order(rows_in(rng.permutation(count)))
    second = driver_fit.fit_logistic(shuffled, 2, False, params)
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])
    unsorted = driver_fit.fit_logistic(rows_in(rng.permutation(count)), 2, False, params)
    assert np.allclose(unsorted[0], first[0], rtol=1e-3, atol=1e-6)  # the same optimum, up to the stopping rule

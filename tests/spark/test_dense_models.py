"""Sparse linear models are scored with dense coefficients: same predictions, and the registry loads them dense."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.ml import PipelineModel
from pyspark.ml.linalg import DenseMatrix, DenseVector, SparseMatrix, SparseVector
from pyspark.ml.regression import LinearRegression

from core.lake import Lake
from ml import registry
from ml.dense_models import dense_stage
from tests.model_factory import fit_model, rows_for

OUTPUTS = {"BINARY": "probability", "MULTICLASS": "probability", "REGRESSION": "prediction"}


def sparse_model(spark, model_type: str):
    """A factory model whose last stage MLlib stored with sparse coefficients (most hashed slots unused)."""
    model, meta = fit_model(spark, model_type, n=120)
    if model_type == "REGRESSION":  # the normal-equation solver keeps dense coefficients; L-BFGS compresses them
        data = spark.createDataFrame(rows_for(model_type, 120), ["id", "review", "x", "color", "y"])
        featurized = PipelineModel(model.stages[:-1]).transform(data)
        model.stages[-1] = LinearRegression(solver="l-bfgs", maxIter=10, regParam=0.01).fit(featurized)
    last = model.stages[-1]
    stored = last.coefficients if model_type == "REGRESSION" else last.coefficientMatrix
    assert isinstance(stored, (SparseMatrix, SparseVector)), type(stored)
    return model, meta


def outputs(model, data, column: str) -> np.ndarray:
    values = [row[0] for row in model.transform(data).select(column).collect()]
    return np.array([v.toArray() if hasattr(v, "toArray") else [v] for v in values])


@pytest.mark.parametrize("model_type", ["BINARY", "MULTICLASS", "REGRESSION"])
def test_a_dense_copy_predicts_the_same_numbers(spark, model_type):
    model, _ = sparse_model(spark, model_type)
    data = spark.createDataFrame(rows_for(model_type, 60, seed=11), ["id", "review", "x", "color", "y"])
    before = outputs(model, data, OUTPUTS[model_type])
    last = model.stages[-1]
    dense = dense_stage(spark, last)
    stored = dense.coefficients if model_type == "REGRESSION" else dense.coefficientMatrix
    assert isinstance(stored, (DenseMatrix, DenseVector)) and dense.uid == last.uid
    model.stages[-1] = dense
    np.testing.assert_allclose(outputs(model, data, OUTPUTS[model_type]), before, rtol=1e-12, atol=1e-15)
    assert dense_stage(spark, dense) is dense  # nothing to do twice


def test_the_registry_loads_a_version_with_dense_coefficients(spark, tmp_path):
    lake = Lake.at(str(tmp_path / "lake"))
    model, meta = sparse_model(spark, "BINARY")
    registry.publish_version(spark, lake, "m", model, meta)
    loaded, _ = registry.load_version(spark, lake, "m", "v1")
    assert isinstance(loaded.stages[-1].coefficientMatrix, DenseMatrix)
    assert loaded.stages[-1].getThreshold() == model.stages[-1].getThreshold()

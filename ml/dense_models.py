"""Linear models in the form that scores fast: dense coefficients, the same numbers.

MLlib stores a fitted linear model's coefficients compressed, sparse when most are zero, which hashed text
features make the rule. A row's score is then a sparse-by-sparse dot product that walks the model's
nonzero coefficients (tens of thousands) for every row; with dense coefficients it touches only the row's
own values (1M hashed-text rows: the model's stage took ~10 s sparse).
"""

from __future__ import annotations

import numpy as np

MAX_DENSE_VALUES = 8_000_000  # 64 MB of doubles: larger models keep MLlib's sparse form


def logistic_model(spark, like, coefficients: np.ndarray, intercepts: np.ndarray, classes: int, multinomial: bool):
    """A LogisticRegressionModel with these weights (row-major dense, as MLlib keeps them), `like`'s uid and
    params (`like`: the estimator or a model of it)."""
    from pyspark.ml.classification import LogisticRegressionModel
    from pyspark.ml.common import _py2java
    from pyspark.ml.linalg import DenseMatrix, DenseVector

    sc = spark.sparkContext
    rows, columns = coefficients.shape
    matrix = DenseMatrix(rows, columns, np.ascontiguousarray(coefficients).ravel().tolist(), isTransposed=True)
    java = sc._jvm.org.apache.spark.ml.classification.LogisticRegressionModel(
        like.uid, _py2java(sc, matrix), _py2java(sc, DenseVector(np.asarray(intercepts).tolist())), classes, multinomial
    )
    model = like._copyValues(LogisticRegressionModel(java))
    model._transfer_params_to_java()
    return model


def linear_model(spark, like, coefficients: np.ndarray):
    """A LinearRegressionModel with dense coefficients and `like`'s uid, intercept, scale and params."""
    from pyspark.ml.common import _py2java
    from pyspark.ml.linalg import DenseVector
    from pyspark.ml.regression import LinearRegressionModel

    sc = spark.sparkContext
    java = sc._jvm.org.apache.spark.ml.regression.LinearRegressionModel(
        like.uid, _py2java(sc, DenseVector(coefficients.tolist())), float(like.intercept), float(like.scale)
    )
    model = like._copyValues(LinearRegressionModel(java))
    model._transfer_params_to_java()
    return model


def dense_stage(spark, stage):
    """The stage with dense coefficients when it is a sparse logistic or linear regression model, else itself."""
    from pyspark.ml.classification import LogisticRegressionModel
    from pyspark.ml.linalg import SparseMatrix, SparseVector
    from pyspark.ml.regression import LinearRegressionModel

    if isinstance(stage, LogisticRegressionModel):
        matrix = stage.coefficientMatrix
        if isinstance(matrix, SparseMatrix) and matrix.numRows * matrix.numCols <= MAX_DENSE_VALUES:
            multinomial = matrix.numRows > 1  # a binomial model keeps one row, a multinomial one per class
            intercepts = stage.interceptVector.toArray()
            return logistic_model(spark, stage, matrix.toArray(), intercepts, stage.numClasses, multinomial)
    if isinstance(stage, LinearRegressionModel):
        vector = stage.coefficients
        if isinstance(vector, SparseVector) and vector.size <= MAX_DENSE_VALUES:
            return linear_model(spark, stage, vector.toArray())
    return stage


def with_dense_linear_stages(spark, pipeline):
    """The PipelineModel with its sparse linear stages made dense, in place (same uid, same predictions)."""
    pipeline.stages[:] = [dense_stage(spark, stage) for stage in pipeline.stages]
    return pipeline

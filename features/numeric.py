"""Amazon ML numeric transforms as pyspark.ml stages: `quantile_bin` and `normalize`.

Both learn from the training data and keep what they learned in Params, so a fitted
PipelineModel saves and loads anywhere (DefaultParamsReadable/Writable, no-argument
constructors, importable from `features.numeric`).

quantile_bin(x, n), n in 5..1000 (project choices where the reference is silent):
- Edges: the n-1 cut points at probabilities 1/n, ..., (n-1)/n of the non-missing training
  values (`approxQuantile`, relativeError 0.001 by default, 0 = exact), sorted and
  de-duplicated. Ties: equal cut points collapse, so a column with few distinct values gets
  fewer bins (a constant column gets one bin, q0). A value equal to an edge goes to the bin
  above it (bins are [lower, upper)).
- Tokens: `q0` ... `qK` (K = number of distinct edges), numbered from the lowest bin.
  The first and last bins are open-ended, so a value beyond the training range at scoring time
  (below the minimum or above the maximum) gets `q0` or `qK`, never an error.
- Missing: null and NaN (and text that does not parse as a number) give the token `q_missing`;
  they are ignored when fitting.

normalize(x): (x - mean) / std with the population standard deviation (ddof 0) of the
non-missing training values. A constant column (std 0) maps every value to 0.0. Missing values
stay null here (the recipe compiler writes them into the feature vector as 0.0, the mean).
"""

from __future__ import annotations

import math
from typing import List

from pyspark import keyword_only
from pyspark.ml import Estimator, Model
from pyspark.ml.feature import Bucketizer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasInputCol, HasOutputCol
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

MIN_BINS, MAX_BINS = 5, 1000
MISSING_TOKEN = "q_missing"


def numeric_value(col: Column) -> Column:
    """The column as a double with NaN turned into null (the one missing marker)."""
    d = col.cast("double")
    return F.when(F.isnan(d), F.lit(None).cast("double")).otherwise(d)


def quantile_edges(df: DataFrame, col: str, n: int, relative_error: float = 0.001) -> List[float]:
    """Sorted distinct cut points at 1/n .. (n-1)/n of the non-missing values of df[col]."""
    values = df.select(numeric_value(F.col(col)).alias("__v")).where(F.col("__v").isNotNull())
    probs = [i / n for i in range(1, n)]
    cuts = values.approxQuantile("__v", probs, relative_error)
    return sorted({float(c) for c in cuts if c is not None and not math.isnan(c)})


def bin_tokens(df: DataFrame, input_col: str, output_col: str, edges: List[float]) -> DataFrame:
    """Add output_col: `q<i>` for the bin [edges[i-1], edges[i]) of input_col, `q_missing` for null/NaN."""
    value = numeric_value(F.col(input_col))
    if not edges:
        return df.withColumn(output_col, F.when(value.isNull(), F.lit(MISSING_TOKEN)).otherwise(F.lit("q0")))
    tmp_in, tmp_out = f"__qb_in_{output_col}", f"__qb_out_{output_col}"
    bucketizer = Bucketizer(
        splits=[-math.inf, *edges, math.inf], inputCol=tmp_in, outputCol=tmp_out, handleInvalid="keep"
    )
    staged = df.withColumn(tmp_in, F.coalesce(value, F.lit(math.nan)))
    out = bucketizer.transform(staged)
    token = F.when(value.isNull(), F.lit(MISSING_TOKEN)).otherwise(
        F.concat(F.lit("q"), F.col(tmp_out).cast("int").cast("string"))
    )
    return out.withColumn(output_col, token).drop(tmp_in, tmp_out)


class QuantileBin(Estimator, HasInputCol, HasOutputCol, DefaultParamsReadable, DefaultParamsWritable):
    """quantile_bin(x, n): learns n-quantile edges of inputCol; the model writes bin tokens to outputCol."""

    numBins = Param(Params._dummy(), "numBins", "number of quantile bins (5..1000)", TypeConverters.toInt)
    relativeError = Param(
        Params._dummy(), "relativeError", "approxQuantile relative error (0 = exact)", TypeConverters.toFloat
    )

    @keyword_only
    def __init__(self, *, inputCol=None, outputCol=None, numBins=10, relativeError=0.001):
        super().__init__()
        self._setDefault(numBins=10, relativeError=0.001)
        self._set(**self._input_kwargs)

    def _fit(self, dataset: DataFrame) -> QuantileBinModel:
        n = self.getOrDefault(self.numBins)
        if not MIN_BINS <= n <= MAX_BINS:
            raise ValueError(f"quantile_bin: n must be from {MIN_BINS} to {MAX_BINS}, got {n}")
        edges = quantile_edges(dataset, self.getInputCol(), n, self.getOrDefault(self.relativeError))
        model = QuantileBinModel(inputCol=self.getInputCol(), outputCol=self.getOutputCol(), edges=edges)
        return model


class QuantileBinModel(Model, HasInputCol, HasOutputCol, DefaultParamsReadable, DefaultParamsWritable):
    """Fitted quantile_bin: the de-duplicated edges are a Param, so the model saves and loads."""

    edges = Param(Params._dummy(), "edges", "sorted distinct interior bin edges", TypeConverters.toListFloat)

    @keyword_only
    def __init__(self, *, inputCol=None, outputCol=None, edges=None):
        super().__init__()
        self._setDefault(edges=[])
        self._set(**self._input_kwargs)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        return bin_tokens(dataset, self.getInputCol(), self.getOutputCol(), list(self.getOrDefault(self.edges)))


class Normalize(Estimator, HasInputCol, HasOutputCol, DefaultParamsReadable, DefaultParamsWritable):
    """normalize(x): learns the mean and population standard deviation of inputCol."""

    @keyword_only
    def __init__(self, *, inputCol=None, outputCol=None):
        super().__init__()
        self._set(**self._input_kwargs)

    def _fit(self, dataset: DataFrame) -> NormalizeModel:
        value = numeric_value(F.col(self.getInputCol()))
        row = dataset.select(F.avg(value).alias("mean"), F.stddev_pop(value).alias("std")).first()
        mean = float(row["mean"]) if row["mean"] is not None else 0.0
        std = float(row["std"]) if row["std"] is not None else 0.0
        return NormalizeModel(inputCol=self.getInputCol(), outputCol=self.getOutputCol(), mean=mean, std=std)


class NormalizeModel(Model, HasInputCol, HasOutputCol, DefaultParamsReadable, DefaultParamsWritable):
    """Fitted normalize: (x - mean) / std, 0.0 when std is 0, null for missing values."""

    mean = Param(Params._dummy(), "mean", "training mean", TypeConverters.toFloat)
    std = Param(Params._dummy(), "std", "training population standard deviation", TypeConverters.toFloat)

    @keyword_only
    def __init__(self, *, inputCol=None, outputCol=None, mean=0.0, std=1.0):
        super().__init__()
        self._setDefault(mean=0.0, std=1.0)
        self._set(**self._input_kwargs)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        return dataset.withColumn(
            self.getOutputCol(),
            normalized(F.col(self.getInputCol()), self.getOrDefault(self.mean), self.getOrDefault(self.std)),
        )


def normalized(col: Column, mean: float, std: float) -> Column:
    """(col - mean) / std as a double; 0.0 when std is 0; null stays null."""
    value = numeric_value(col)
    if std == 0.0:
        return F.when(value.isNull(), F.lit(None).cast("double")).otherwise(F.lit(0.0))
    return (value - F.lit(mean)) / F.lit(std)

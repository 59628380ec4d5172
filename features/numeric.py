"""Amazon ML numeric transforms as pyspark.ml stages: `quantile_bin` and `normalize`.

Both learn from the training data and keep what they learned in Params, so a fitted
PipelineModel saves and loads anywhere (features.stage_io, no-argument
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
from typing import Any, List

from pyspark import keyword_only
from pyspark.ml import Estimator, Model
from pyspark.ml.feature import Bucketizer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasInputCol, HasOutputCol
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from features.stage_io import StageReadable, StageWritable

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


class _QuantileBinParams(HasInputCol, HasOutputCol):
    """Params of QuantileBin and its model: the bin count, approxQuantile's error, the fitted edges."""

    numBins = Param(Params._dummy(), "numBins", "number of quantile bins (5..1000)", TypeConverters.toInt)
    relativeError = Param(
        Params._dummy(), "relativeError", "approxQuantile relative error (0 = exact)", TypeConverters.toFloat
    )
    edges = Param(Params._dummy(), "edges", "sorted distinct interior bin edges", TypeConverters.toListFloat)

    def __init__(self, *args: Any):
        super().__init__(*args)
        self._setDefault(numBins=10, relativeError=0.001, edges=[])

    def getNumBins(self) -> int:
        """The number of quantile bins asked for."""
        return self.getOrDefault(self.numBins)

    def getRelativeError(self) -> float:
        """approxQuantile's relative error (0 = exact)."""
        return self.getOrDefault(self.relativeError)

    def getEdges(self) -> List[float]:
        """The sorted distinct interior bin edges (empty before fitting)."""
        return list(self.getOrDefault(self.edges))


class QuantileBin(Estimator, _QuantileBinParams, StageReadable, StageWritable):
    """quantile_bin(x, n): learns n-quantile edges of inputCol; the model writes bin tokens to outputCol."""

    @keyword_only
    def __init__(self, *, inputCol=None, outputCol=None, numBins=10, relativeError=0.001):
        super().__init__()
        self._set(**self._input_kwargs)

    @keyword_only
    def setParams(self, *, inputCol=None, outputCol=None, numBins=10, relativeError=0.001) -> QuantileBin:
        """Set any of the params by keyword."""
        return self._set(**self._input_kwargs)

    def setNumBins(self, value: int) -> QuantileBin:
        """Set the number of quantile bins."""
        return self._set(numBins=value)

    def setRelativeError(self, value: float) -> QuantileBin:
        """Set approxQuantile's relative error."""
        return self._set(relativeError=value)

    def _fit(self, dataset: DataFrame) -> QuantileBinModel:
        n = self.getNumBins()
        if not MIN_BINS <= n <= MAX_BINS:
            raise ValueError(f"quantile_bin: n must be from {MIN_BINS} to {MAX_BINS}, got {n}")
        edges = quantile_edges(dataset, self.getInputCol(), n, self.getRelativeError())
        return QuantileBinModel(inputCol=self.getInputCol(), outputCol=self.getOutputCol(), edges=edges)


class QuantileBinModel(Model, _QuantileBinParams, StageReadable, StageWritable):
    """Fitted quantile_bin: the de-duplicated edges are a Param, so the model saves and loads."""

    @keyword_only
    def __init__(self, *, inputCol=None, outputCol=None, edges=None):
        super().__init__()
        self._set(**self._input_kwargs)

    @keyword_only
    def setParams(self, *, inputCol=None, outputCol=None, edges=None) -> QuantileBinModel:
        """Set any of the params by keyword."""
        return self._set(**self._input_kwargs)

    def setEdges(self, value: List[float]) -> QuantileBinModel:
        """Set the interior bin edges."""
        return self._set(edges=value)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        return bin_tokens(dataset, self.getInputCol(), self.getOutputCol(), self.getEdges())


class _NormalizeParams(HasInputCol, HasOutputCol):
    """Params of Normalize and its model: the fitted training mean and population standard deviation."""

    mean = Param(Params._dummy(), "mean", "training mean", TypeConverters.toFloat)
    std = Param(Params._dummy(), "std", "training population standard deviation", TypeConverters.toFloat)

    def __init__(self, *args: Any):
        super().__init__(*args)
        self._setDefault(mean=0.0, std=1.0)

    def getMean(self) -> float:
        """The training mean."""
        return self.getOrDefault(self.mean)

    def getStd(self) -> float:
        """The training population standard deviation."""
        return self.getOrDefault(self.std)


class Normalize(Estimator, _NormalizeParams, StageReadable, StageWritable):
    """normalize(x): learns the mean and population standard deviation of inputCol."""

    @keyword_only
    def __init__(self, *, inputCol=None, outputCol=None):
        super().__init__()
        self._set(**self._input_kwargs)

    @keyword_only
    def setParams(self, *, inputCol=None, outputCol=None) -> Normalize:
        """Set any of the params by keyword."""
        return self._set(**self._input_kwargs)

    def _fit(self, dataset: DataFrame) -> NormalizeModel:
        value = numeric_value(F.col(self.getInputCol()))
        row = dataset.select(F.avg(value).alias("mean"), F.stddev_pop(value).alias("std")).first()
        mean = float(row["mean"]) if row["mean"] is not None else 0.0
        std = float(row["std"]) if row["std"] is not None else 0.0
        return NormalizeModel(inputCol=self.getInputCol(), outputCol=self.getOutputCol(), mean=mean, std=std)


class NormalizeModel(Model, _NormalizeParams, StageReadable, StageWritable):
    """Fitted normalize: (x - mean) / std, 0.0 when std is 0, null for missing values."""

    @keyword_only
    def __init__(self, *, inputCol=None, outputCol=None, mean=0.0, std=1.0):
        super().__init__()
        self._set(**self._input_kwargs)

    @keyword_only
    def setParams(self, *, inputCol=None, outputCol=None, mean=0.0, std=1.0) -> NormalizeModel:
        """Set any of the params by keyword."""
        return self._set(**self._input_kwargs)

    def setMean(self, value: float) -> NormalizeModel:
        """Set the training mean."""
        return self._set(mean=value)

    def setStd(self, value: float) -> NormalizeModel:
        """Set the training population standard deviation."""
        return self._set(std=value)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        return dataset.withColumn(
            self.getOutputCol(), normalized(F.col(self.getInputCol()), self.getMean(), self.getStd())
        )


def normalized(col: Column, mean: float, std: float) -> Column:
    """(col - mean) / std as a double; 0.0 when std is 0; null stays null."""
    value = numeric_value(col)
    if std == 0.0:
        return F.when(value.isNull(), F.lit(None).cast("double")).otherwise(F.lit(0.0))
    return (value - F.lit(mean)) / F.lit(std)

"""pyspark.ml stages the recipe compiler puts around the JVM ones.

All state is in JSON-serialisable Params (DefaultParamsReadable/Writable), every class has a
no-argument constructor and lives in this importable module, so a saved PipelineModel loads
on any node that has the `features` package (EMR included).

- `RecipeColumns`: evaluates the compiled recipe plan (a JSON expression tree per output,
  see `features.recipe`) into one token array column and numeric columns.
- `LabelIndexer` / `LabelModel`: the target as a double `label` (BINARY parsed the Amazon ML
  way, NUMERIC cast, CATEGORICAL indexed by the fitted label list). At scoring time the
  target column is absent and the stage passes rows through unchanged.
- `DropColumns`: removes the compiler's `__` intermediates.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Tuple

from pyspark import keyword_only
from pyspark.ml import Estimator, Model, Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasInputCol, HasOutputCol
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from features import categorical, numeric, text

# Forms of a value while the plan is evaluated.
# RAW is a string whose whitespace is not normalized yet (a TEXT attribute as read); TEXT is a
# normalized string (tokens joined by one space); both are word sequences.
RAW, TEXT, TOKENS, VALUE, NUMBER, BINARY = "raw", "text", "tokens", "value", "number", "binary"


def evaluate(node: Dict[str, Any]) -> Tuple[Column, str]:
    """Column and form of one plan node (see features.recipe for the node shapes)."""
    op = node["op"]
    if op == "attr":
        col = F.col(node["name"])
        kind = node["type"]
        if kind == "TEXT":
            return col.cast("string"), RAW
        if kind == "CATEGORICAL":
            return col.cast("string"), VALUE
        if kind == "NUMERIC":
            return numeric.numeric_value(col), NUMBER
        return categorical.parse_binary(col), BINARY
    if op == "col":
        return F.col(node["name"]), node["form"]
    if op in ("lowercase", "no_punct"):
        col, form = evaluate(node["arg"])
        if form in (RAW, TEXT):
            return (text.lowercase_text(col), form) if op == "lowercase" else (text.no_punct_text(col), TEXT)
        tokens = as_tokens(col, form)
        return (text.lowercase(tokens) if op == "lowercase" else text.no_punct(tokens)), TOKENS
    if op in ("ngram", "osb"):
        col, form = evaluate(node["arg"])
        if op == "ngram" and form in (RAW, TEXT):
            return text.ngram_text(col, node["n"], normalized=form == TEXT), TOKENS
        tokens = as_tokens(col, form)
        return (text.ngram(tokens, node["n"]) if op == "ngram" else text.osb(tokens, node["n"])), TOKENS
    if op == "cartesian":
        a, fa = evaluate(node["args"][0])
        b, fb = evaluate(node["args"][1])
        if fa == VALUE and fb == VALUE:
            empty = a.isNull() | (a == "") | b.isNull() | (b == "")
            return F.when(empty, F.array().cast("array<string>")).otherwise(F.array(F.concat(a, F.lit("_"), b))), TOKENS
        return categorical.cartesian(as_tokens(a, fa), as_tokens(b, fb)), TOKENS
    raise ValueError(f"unknown plan op {op!r}")


def as_tokens(col: Column, form: str) -> Column:
    """A value of any non-numeric form as a token array."""
    if form == RAW:
        return text.tokenize(col)
    if form == TEXT:
        return text.split_normalized(col)
    if form == TOKENS:
        return col
    if form in (VALUE, BINARY):
        return categorical.category_tokens(col)
    raise ValueError(f"a {form} value has no tokens")


def prefixed(tokens: Column, prefix: str) -> Column:
    """Every token with a namespace prefix, so equal tokens of different outputs hash apart."""
    return F.transform(tokens, lambda t: F.concat(F.lit(prefix), t))


class RecipeColumns(Transformer, DefaultParamsReadable, DefaultParamsWritable):
    """Evaluates a compiled recipe plan: all output tokens into tokensCol, numeric outputs into their columns."""

    plan = Param(Params._dummy(), "plan", "compiled recipe plan (JSON)", TypeConverters.toString)
    tokensCol = Param(Params._dummy(), "tokensCol", "output column of all tokens", TypeConverters.toString)

    @keyword_only
    def __init__(self, *, plan=None, tokensCol=None):
        super().__init__()
        self._setDefault(plan='{"tokens": [], "numeric": []}', tokensCol="__tokens")
        self._set(**self._input_kwargs)

    def columns(self) -> Dict[str, Column]:
        """The columns this stage adds, by name."""
        plan = json.loads(self.getOrDefault(self.plan))
        parts: List[Column] = []
        for out in plan["tokens"]:
            col, form = evaluate(out["expr"])
            tokens = as_tokens(col, form)
            parts.append(prefixed(tokens, out["prefix"]) if out.get("prefix") else tokens)
        tokens_col = F.concat(*parts) if parts else F.array().cast("array<string>")
        cols = {self.getOrDefault(self.tokensCol): tokens_col}
        for out in plan["numeric"]:
            col, form = evaluate(out["expr"])
            cols[out["col"]] = F.coalesce(col.cast("double"), F.lit(0.0))
        return cols

    def _transform(self, dataset: DataFrame) -> DataFrame:
        return dataset.withColumns(self.columns())


class LabelIndexer(Estimator, HasInputCol, HasOutputCol, DefaultParamsReadable, DefaultParamsWritable):
    """The target as a double label; CATEGORICAL targets are indexed by frequency (ties by value)."""

    targetType = Param(Params._dummy(), "targetType", "NUMERIC, BINARY or CATEGORICAL", TypeConverters.toString)

    @keyword_only
    def __init__(self, *, inputCol=None, outputCol=None, targetType=None):
        super().__init__()
        self._setDefault(outputCol="label", targetType="NUMERIC")
        self._set(**self._input_kwargs)

    def _fit(self, dataset: DataFrame) -> LabelModel:
        kind = self.getOrDefault(self.targetType)
        labels: List[str] = []
        if kind == "CATEGORICAL":
            value = F.col(self.getInputCol()).cast("string")
            counts = dataset.where(value.isNotNull() & (value != "")).groupBy(value.alias("v")).count()
            labels = [r["v"] for r in counts.orderBy(F.desc("count"), F.asc("v")).collect()]
        return LabelModel(inputCol=self.getInputCol(), outputCol=self.getOutputCol(), targetType=kind, labels=labels)


class LabelModel(Model, HasInputCol, HasOutputCol, DefaultParamsReadable, DefaultParamsWritable):
    """Adds the double label when the target column is present; a missing or invalid target gives null."""

    targetType = Param(Params._dummy(), "targetType", "NUMERIC, BINARY or CATEGORICAL", TypeConverters.toString)
    labels = Param(
        Params._dummy(), "labels", "CATEGORICAL target values; label i is labels[i]", TypeConverters.toListString
    )

    @keyword_only
    def __init__(self, *, inputCol=None, outputCol=None, targetType=None, labels=None):
        super().__init__()
        self._setDefault(outputCol="label", targetType="NUMERIC", labels=[])
        self._set(**self._input_kwargs)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        if self.getInputCol() not in dataset.columns:
            return dataset
        col = F.col(self.getInputCol())
        kind = self.getOrDefault(self.targetType)
        if kind == "BINARY":
            label = categorical.parse_binary(col).cast("double")
        elif kind == "CATEGORICAL":
            labels = self.getOrDefault(self.labels)
            pairs = [part for i, v in enumerate(labels) for part in (F.lit(v), F.lit(float(i)))]
            label = F.create_map(*pairs)[col.cast("string")] if labels else F.lit(None).cast("double")
        else:
            label = numeric.numeric_value(col)
        return dataset.withColumn(self.getOutputCol(), label)


class DropColumns(Transformer, DefaultParamsReadable, DefaultParamsWritable):
    """Drops the named columns (the compiler's `__` intermediates)."""

    cols = Param(Params._dummy(), "cols", "columns to drop", TypeConverters.toListString)

    @keyword_only
    def __init__(self, *, cols=None):
        super().__init__()
        self._setDefault(cols=[])
        self._set(**self._input_kwargs)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        return dataset.drop(*self.getOrDefault(self.cols))

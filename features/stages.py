"""pyspark.ml stages the recipe compiler puts around the JVM ones.

All state is in JSON-serialisable Params (saved and loaded by features.stage_io), every class has a
no-argument constructor and lives in this importable module, so a saved PipelineModel loads
on any node that has the `features` package (EMR included).

- `RecipeColumns`: evaluates the compiled recipe plan (a JSON expression tree per output,
  see `features.recipe`) into one token array column and numeric columns.
- `LabelIndexer` / `LabelModel`: the target as a double `label` (BINARY parsed the Amazon ML
  way, NUMERIC cast, CATEGORICAL indexed by the fitted label list). At scoring time the
  target column is absent and the stage passes rows through unchanged.
- `DropColumns`: removes the compiler's `__` intermediates.

Each follows pyspark.ml's own pattern: a `_XParams` mixin holds the typed Params, their defaults and
getters (shared by an estimator and its model), the class adds `setParams` and one setter per Param.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Tuple

from pyspark import keyword_only
from pyspark.ml import Estimator, Model, Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasInputCol, HasOutputCol
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from features import categorical, numeric, text
from features.stage_io import StageReadable, StageWritable

# Forms of a value while the plan is evaluated.
# RAW is a string whose whitespace is not normalized yet (a TEXT attribute as read); TEXT is a
# normalized string (tokens joined by one space); both are word sequences. TOKENS is a token array
# whose tokens hold no whitespace but the space (n-grams, osb pairs, crosses of those); ANY is a
# token array whose tokens may hold any character (crosses with a categorical value).
RAW, TEXT, TOKENS, ANY, VALUE, NUMBER, BINARY = "raw", "text", "tokens", "any", "value", "number", "binary"
SCRATCH = "__recipe_x"  # prefix of the arrays a cross reads, computed in a projection before it


def evaluate(node: Dict[str, Any], scratch: List[Tuple[str, Column]]) -> Tuple[Column, str]:
    """Column and form of one plan node (see features.recipe for the node shapes).

    Word sequences stay strings until ngram, osb or the output split them, so every text rule is a
    code-generated built-in over the string (features.text); scratch collects the arrays a cross reads.
    """
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
    col, form = evaluate(node["arg"], scratch) if "arg" in node else (None, None)
    if op in ("lowercase", "no_punct"):
        if form in (RAW, TEXT):
            return (text.lowercase_text(col), form) if op == "lowercase" else (text.no_punct_text(col), TEXT)
        tokens = as_tokens(col, form)
        return (text.lowercase(tokens) if op == "lowercase" else text.no_punct(tokens)), TOKENS
    if op in ("ngram", "osb"):
        words = col if form in (RAW, TEXT) else F.array_join(as_tokens(col, form), " ")
        fn = text.ngram_text if op == "ngram" else text.osb_text
        return fn(words, node["n"], normalized=form != RAW), TOKENS
    if op == "cartesian":
        return cross(*(evaluate(arg, scratch) for arg in node["args"]), scratch)
    raise ValueError(f"unknown plan op {op!r}")


def cross(a: Tuple[Column, str], b: Tuple[Column, str], scratch: List[Tuple[str, Column]]) -> Tuple[Column, str]:
    """cartesian(a, b): a single value (null: no token) for two single values, else the cross of two token arrays."""
    (ca, fa), (cb, fb) = a, b
    if fa in (VALUE, BINARY) and fb in (VALUE, BINARY):
        va, vb = ca.cast("string"), cb.cast("string")
        empty = va.isNull() | (va == "") | vb.isNull() | (vb == "")
        return F.when(empty, F.lit(None).cast("string")).otherwise(F.concat(va, F.lit("_"), vb)), VALUE
    names = []
    for col, form in (a, b):
        names.append(f"{SCRATCH}{len(scratch)}")
        scratch.append((names[-1], as_tokens(col, form)))
    clean = all(form in (RAW, TEXT, TOKENS, BINARY) for form in (fa, fb))
    return text.cartesian_tokens(F.col(names[0]), F.col(names[1])), TOKENS if clean else ANY


def as_tokens(col: Column, form: str) -> Column:
    """A value of any non-numeric form as a token array."""
    if form == RAW:
        return text.tokenize(col)
    if form == TEXT:
        return text.split_normalized(col)
    if form in (TOKENS, ANY):
        return col
    if form in (VALUE, BINARY):
        return categorical.category_tokens(col)
    raise ValueError(f"a {form} value has no tokens")


def output_tokens(col: Column, form: str, prefix: Optional[str]) -> Column:
    """The tokens of one output, each with the output's prefix when there is one."""
    if not prefix:
        return as_tokens(col, form)
    if form in (VALUE, BINARY):
        v = col.cast("string")
        return F.when(v.isNull() | (v == ""), F.array().cast("array<string>")).otherwise(
            F.array(F.concat(F.lit(prefix), v))
        )
    if form == ANY:
        return text.prefixed_any(col, prefix)
    return text.prefixed(as_tokens(col, form), prefix)


class _RecipeColumnsParams(Params):
    """Params of RecipeColumns: the compiled plan and the token column it writes."""

    plan = Param(Params._dummy(), "plan", "compiled recipe plan (JSON)", TypeConverters.toString)
    tokensCol = Param(Params._dummy(), "tokensCol", "output column of all tokens", TypeConverters.toString)

    def __init__(self, *args: Any):
        super().__init__(*args)
        self._setDefault(plan='{"tokens": [], "numeric": []}', tokensCol="__tokens")

    def getPlan(self) -> str:
        """The compiled recipe plan (JSON)."""
        return self.getOrDefault(self.plan)

    def getTokensCol(self) -> str:
        """The output column of all tokens."""
        return self.getOrDefault(self.tokensCol)


class RecipeColumns(Transformer, _RecipeColumnsParams, StageReadable, StageWritable):
    """Evaluates a compiled recipe plan: all output tokens into tokensCol, numeric outputs into their columns.

    >>> RecipeColumns(plan=json.dumps(plan), tokensCol="__tokens").transform(df)  # doctest: +SKIP
    """

    @keyword_only
    def __init__(self, *, plan: str | None = None, tokensCol: str | None = None):
        super().__init__()
        self._set(**self._input_kwargs)

    @keyword_only
    def setParams(self, *, plan: str | None = None, tokensCol: str | None = None) -> RecipeColumns:
        """Set any of the params by keyword."""
        return self._set(**self._input_kwargs)

    def setPlan(self, value: str) -> RecipeColumns:
        """Set the compiled recipe plan (JSON)."""
        return self._set(plan=value)

    def setTokensCol(self, value: str) -> RecipeColumns:
        """Set the output column of all tokens."""
        return self._set(tokensCol=value)

    def plan_columns(self) -> Tuple[List[Tuple[str, Column]], Dict[str, Column]]:
        """The scratch arrays crosses read (in order) and the columns this stage adds, by name."""
        plan = json.loads(self.getPlan())
        scratch: List[Tuple[str, Column]] = []
        parts = [output_tokens(*evaluate(out["expr"], scratch), out.get("prefix")) for out in plan["tokens"]]
        cols = {self.getTokensCol(): F.concat(*parts) if parts else F.array().cast("array<string>")}
        for out in plan["numeric"]:
            col, _form = evaluate(out["expr"], scratch)
            cols[out["col"]] = F.coalesce(col.cast("double"), F.lit(0.0))
        return scratch, cols

    def _transform(self, dataset: DataFrame) -> DataFrame:
        scratch, cols = self.plan_columns()
        for name, col in scratch:  # one projection each: a cross reads its arrays, never recomputes them
            dataset = dataset.withColumn(name, col)
        return dataset.withColumns(cols).drop(*[name for name, _ in scratch])


class _LabelParams(HasInputCol, HasOutputCol):
    """Params shared by LabelIndexer and LabelModel: the target column, the label column, the target type."""

    targetType = Param(Params._dummy(), "targetType", "NUMERIC, BINARY or CATEGORICAL", TypeConverters.toString)

    def __init__(self, *args: Any):
        super().__init__(*args)
        self._setDefault(outputCol="label", targetType="NUMERIC")

    def getTargetType(self) -> str:
        """NUMERIC, BINARY or CATEGORICAL."""
        return self.getOrDefault(self.targetType)


class LabelIndexer(Estimator, _LabelParams, StageReadable, StageWritable):
    """The target as a double label; CATEGORICAL targets are indexed by frequency (ties by value).

    >>> LabelIndexer(inputCol="y", targetType="CATEGORICAL").fit(df).getLabels()  # doctest: +SKIP
    """

    @keyword_only
    def __init__(self, *, inputCol: str | None = None, outputCol: str | None = None, targetType: str | None = None):
        super().__init__()
        self._set(**self._input_kwargs)

    @keyword_only
    def setParams(
        self, *, inputCol: str | None = None, outputCol: str | None = None, targetType: str | None = None
    ) -> LabelIndexer:
        """Set any of the params by keyword."""
        return self._set(**self._input_kwargs)

    def setInputCol(self, value: str) -> LabelIndexer:
        """Set the target column."""
        return self._set(inputCol=value)

    def setOutputCol(self, value: str) -> LabelIndexer:
        """Set the label column."""
        return self._set(outputCol=value)

    def setTargetType(self, value: str) -> LabelIndexer:
        """Set the target type: NUMERIC, BINARY or CATEGORICAL."""
        return self._set(targetType=value)

    def _fit(self, dataset: DataFrame) -> LabelModel:
        kind = self.getTargetType()
        labels: List[str] = []
        if kind == "CATEGORICAL":
            value = F.col(self.getInputCol()).cast("string")
            counts = dataset.where(value.isNotNull() & (value != "")).groupBy(value.alias("v")).count()
            labels = [r["v"] for r in counts.orderBy(F.desc("count"), F.asc("v")).collect()]
        model = LabelModel(inputCol=self.getInputCol(), outputCol=self.getOutputCol(), targetType=kind, labels=labels)
        return self._copyValues(model)


class LabelModel(Model, _LabelParams, StageReadable, StageWritable):
    """Adds the double label when the target column is present; a missing or invalid target gives null."""

    labels = Param(
        Params._dummy(), "labels", "CATEGORICAL target values; label i is labels[i]", TypeConverters.toListString
    )

    @keyword_only
    def __init__(
        self,
        *,
        inputCol: str | None = None,
        outputCol: str | None = None,
        targetType: str | None = None,
        labels: List[str] | None = None,
    ):
        super().__init__()
        self._setDefault(labels=[])
        self._set(**self._input_kwargs)

    @keyword_only
    def setParams(
        self,
        *,
        inputCol: str | None = None,
        outputCol: str | None = None,
        targetType: str | None = None,
        labels: List[str] | None = None,
    ) -> LabelModel:
        """Set any of the params by keyword."""
        return self._set(**self._input_kwargs)

    def getLabels(self) -> List[str]:
        """The CATEGORICAL target values in index order (label i is labels[i])."""
        return self.getOrDefault(self.labels)

    def setLabels(self, value: List[str]) -> LabelModel:
        """Set the CATEGORICAL target values in index order."""
        return self._set(labels=value)

    def setInputCol(self, value: str) -> LabelModel:
        """Set the target column."""
        return self._set(inputCol=value)

    def setOutputCol(self, value: str) -> LabelModel:
        """Set the label column."""
        return self._set(outputCol=value)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        if self.getInputCol() not in dataset.columns:
            return dataset
        col = F.col(self.getInputCol())
        kind = self.getTargetType()
        if kind == "BINARY":
            label = categorical.parse_binary(col).cast("double")
        elif kind == "CATEGORICAL":
            labels = self.getLabels()
            pairs = [part for i, v in enumerate(labels) for part in (F.lit(v), F.lit(float(i)))]
            label = F.create_map(*pairs)[col.cast("string")] if labels else F.lit(None).cast("double")
        else:
            label = numeric.numeric_value(col)
        return dataset.withColumn(self.getOutputCol(), label)


class _DropColumnsParams(Params):
    """Params of DropColumns: the columns to drop."""

    cols = Param(Params._dummy(), "cols", "columns to drop", TypeConverters.toListString)

    def __init__(self, *args: Any):
        super().__init__(*args)
        self._setDefault(cols=[])

    def getCols(self) -> List[str]:
        """The columns to drop."""
        return self.getOrDefault(self.cols)


class DropColumns(Transformer, _DropColumnsParams, StageReadable, StageWritable):
    """Drops the named columns (the compiler's `__` intermediates)."""

    @keyword_only
    def __init__(self, *, cols: List[str] | None = None):
        super().__init__()
        self._set(**self._input_kwargs)

    @keyword_only
    def setParams(self, *, cols: List[str] | None = None) -> DropColumns:
        """Set any of the params by keyword."""
        return self._set(**self._input_kwargs)

    def setCols(self, value: List[str]) -> DropColumns:
        """Set the columns to drop."""
        return self._set(cols=value)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        return dataset.drop(*self.getCols())

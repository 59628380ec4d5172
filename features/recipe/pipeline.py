"""A recipe compiled to an unfitted pyspark.ml Pipeline that adds `features` and `label`."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Union

from pyspark.ml import Pipeline
from pyspark.ml.feature import IDF, CountVectorizer, HashingTF, Normalizer, VectorAssembler

from features.recipe.parse import RecipeError
from features.recipe.plan import plan_recipe
from features.schema import attribute_types, load_schema
from features.stages import DropColumns, LabelIndexer, RecipeColumns


def compile_recipe(
    schema: Dict[str, Any],
    recipe: Optional[Union[Dict[str, Any], str]] = None,
    num_features: int = 2**18,
    vocabulary: bool = False,
    weighting: str = "binary",
) -> Pipeline:
    """Compile schema + recipe (suggested when None) to an unfitted Pipeline that adds `features` and `label`.

    The recipe may be a dict (as parse_recipe returns) or recipe text. The fitted PipelineModel adds:
    - `features`: a vector of size num_features + (number of numeric outputs), or of the numeric
      outputs alone when the recipe has no token output. The first
      num_features slots hold the tokens of every non-numeric output, each token prefixed with
      its output's canonical expression (`ngram(review,2)=good book`) when there is more than one
      such output, hashed with HashingTF (binary, i.e. a token set), or with `vocabulary=True`
      indexed by a CountVectorizer vocabulary of at most num_features tokens fitted on the
      training data (tokens unseen at fit time are then ignored). The numeric outputs
      (raw NUMERIC attributes and normalize(...)) follow as values, missing values as 0.0.
    - `label` (double), only when the schema has a target and the target column is present
      (at scoring time it is not): BINARY parsed the Amazon ML way (0/1), NUMERIC cast to
      double, CATEGORICAL indexed 0, 1, ... by training frequency; invalid or unseen -> null.
    All intermediate columns start with `__` and are dropped by the last stage; input columns
    are kept. With recipe None the suggested recipe without data statistics is used (10 bins).

    `weighting` (beyond Amazon ML, whose token features are binary): "tfidf" puts each token's count
    times its inverse document frequency (Spark's IDF, ln((n + 1) / (df + 1)), fitted on the training
    rows) in its slot and scales the token part of each row to unit length (l2).
    """
    if not isinstance(num_features, int) or num_features < 1:
        raise RecipeError(f"num_features must be a positive integer, got {num_features!r}")
    if weighting not in WEIGHTINGS:
        raise RecipeError(f"weighting {weighting!r} is not one of {', '.join(WEIGHTINGS)}")
    schema = load_schema(schema)
    planned = plan_recipe(schema, recipe)
    stages: List[Any] = list(planned.estimators)
    stages.append(RecipeColumns(plan=json.dumps(planned.plan), tokensCol="__tokens"))
    numeric_cols = [n["col"] for n in planned.plan["numeric"]]
    token_part = bool(planned.plan["tokens"]) or not numeric_cols
    if token_part:
        stages.extend(token_stages(num_features, vocabulary, weighting))
    if numeric_cols:
        stages.append(VectorAssembler(inputCols=["__hashed"] * token_part + numeric_cols, outputCol="features"))
    else:  # tokens only: the hashed vector is the feature vector (saves a pass over every vector)
        stages[-1].setOutputCol("features")
    target = schema.get("targetAttributeName")
    if target:
        stages.append(LabelIndexer(inputCol=target, outputCol="label", targetType=attribute_types(schema)[target]))
    stages.append(DropColumns(cols=["__tokens", *TOKEN_COLUMNS, *numeric_cols, *planned.estimator_cols]))
    return Pipeline(stages=stages)


WEIGHTINGS = ("binary", "tfidf")
TOKEN_COLUMNS = ("__counts", "__idf", "__hashed")


def token_stages(num_features: int, vocabulary: bool, weighting: str) -> List[Any]:
    """The stages from `__tokens` to the token slots `__hashed`: a binary token set, or l2-normalized TF-IDF."""
    binary = weighting == "binary"
    out = "__hashed" if binary else "__counts"
    if vocabulary:
        slots: Any = CountVectorizer(inputCol="__tokens", outputCol=out, vocabSize=num_features, binary=binary)
    else:
        slots = HashingTF(inputCol="__tokens", outputCol=out, numFeatures=num_features, binary=binary)
    if binary:
        return [slots]
    return [slots, IDF(inputCol="__counts", outputCol="__idf"), Normalizer(inputCol="__idf", outputCol="__hashed")]

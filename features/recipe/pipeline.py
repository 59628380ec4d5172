"""A recipe compiled to an unfitted pyspark.ml Pipeline that adds `features` and `label`."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Union

from pyspark.ml import Pipeline
from pyspark.ml.feature import CountVectorizer, HashingTF, VectorAssembler

from features.recipe.parse import RecipeError
from features.recipe.plan import plan_recipe
from features.schema import attribute_types, load_schema
from features.stages import DropColumns, LabelIndexer, RecipeColumns


def compile_recipe(
    schema: Dict[str, Any],
    recipe: Optional[Union[Dict[str, Any], str]] = None,
    num_features: int = 2**18,
    vocabulary: bool = False,
) -> Pipeline:
    """Compile schema + recipe (suggested when None) to an unfitted Pipeline that adds `features` and `label`.

    The recipe may be a dict (as parse_recipe returns) or recipe text. The fitted PipelineModel adds:
    - `features`: a vector of size num_features + (number of numeric outputs). The first
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
    """
    if not isinstance(num_features, int) or num_features < 1:
        raise RecipeError(f"num_features must be a positive integer, got {num_features!r}")
    schema = load_schema(schema)
    planned = plan_recipe(schema, recipe)
    stages: List[Any] = list(planned.estimators)
    stages.append(RecipeColumns(plan=json.dumps(planned.plan), tokensCol="__tokens"))
    if vocabulary:
        stages.append(CountVectorizer(inputCol="__tokens", outputCol="__hashed", vocabSize=num_features, binary=True))
    else:
        stages.append(HashingTF(inputCol="__tokens", outputCol="__hashed", numFeatures=num_features, binary=True))
    numeric_cols = [n["col"] for n in planned.plan["numeric"]]
    if numeric_cols:
        stages.append(VectorAssembler(inputCols=["__hashed", *numeric_cols], outputCol="features"))
    else:  # tokens only: the hashed vector is the feature vector (saves a pass over every vector)
        stages[-1].setOutputCol("features")
    target = schema.get("targetAttributeName")
    if target:
        stages.append(LabelIndexer(inputCol=target, outputCol="label", targetType=attribute_types(schema)[target]))
    stages.append(DropColumns(cols=["__tokens", "__hashed", *numeric_cols, *planned.estimator_cols]))
    return Pipeline(stages=stages)

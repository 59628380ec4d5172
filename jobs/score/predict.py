"""The scored columns per model type, from a PipelineModel's output (pure column functions, no UDFs).

BINARY      tag, bestAnswer (1 when score >= cutoff), score (P(1) = probability[1])
MULTICLASS  tag, bestAnswer (class label of the model's prediction), one P(class) column per class
REGRESSION  tag, score (the prediction)
and always model_version, run_id, run_date (a date; the table's partition column).
"""

from __future__ import annotations

from typing import Any, List

from ml.outputs import class_columns, version_cutoff
from ml.version_record import VersionRecord


def probability_columns(meta: VersionRecord) -> List[str]:
    """A MULTICLASS version's class columns: as train recorded them, or (older versions) derived from the labels."""
    return list(meta.class_columns or class_columns(meta.classes))


def output_columns(meta: VersionRecord) -> List[str]:
    """The scored columns of a model type, in table order (before model_version, run_id, run_date)."""
    kind = meta.model_type
    if kind == "BINARY":
        return ["tag", "bestAnswer", "score"]
    if kind == "MULTICLASS":
        return ["tag", "bestAnswer", *probability_columns(meta)]
    if kind == "REGRESSION":
        return ["tag", "score"]
    return ["user", "item", "rank", "score"]


def scored_columns(meta: VersionRecord) -> List[Any]:
    """Columns computed from `probability`/`prediction` and `_tag` for a classifier or regressor."""
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    kind = meta.model_type
    tag = F.col("_tag").alias("tag")
    if kind == "REGRESSION":
        return [tag, F.col("prediction").cast("double").alias("score")]
    probs = vector_to_array(F.col("probability"))
    if kind == "BINARY":
        score = probs[1]
        return [tag, (score >= F.lit(version_cutoff(meta))).cast("int").alias("bestAnswer"), score.alias("score")]
    classes = [str(c) for c in meta.classes]
    best = F.element_at(F.array(*[F.lit(c) for c in classes]), F.col("prediction").cast("int") + 1)
    probabilities = [probs[i].alias(name) for i, name in enumerate(probability_columns(meta))]
    return [tag, best.alias("bestAnswer"), *probabilities]


def with_run(df, version: str, run_id: str, run_date: str):
    """The run's columns appended: model_version, run_id, run_date (date)."""
    from pyspark.sql import functions as F

    return df.select(
        "*",
        F.lit(version).alias("model_version"),
        F.lit(run_id).alias("run_id"),
        F.to_date(F.lit(run_date)).alias("run_date"),
    )


def predict(model, rows, meta: VersionRecord, run_id: str, run_date: str, keep=("_source_file", "_row")):
    """Scored rows of a classifier or regressor: the type's columns, the run's, and the `keep` columns."""
    from pyspark.sql import functions as F

    transformed = model.transform(rows)
    scored = transformed.select(*scored_columns(meta), *[F.col(c) for c in keep])
    return with_run(scored, meta.version, run_id, run_date)


def score_of(meta: VersionRecord):
    """The column whose distribution the report shows: score, or the best answer's probability (MULTICLASS)."""
    from pyspark.sql import functions as F

    if meta.model_type == "MULTICLASS":
        return F.greatest(*[F.col(c) for c in probability_columns(meta)])
    return F.col("score")

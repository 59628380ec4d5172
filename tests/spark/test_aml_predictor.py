"""The real-time scorer (jobs/aml/predictor.py) equals the saved PipelineModel's own transform, row by row.

Small models of every supported type and layout are fitted on the test session and saved as the registry
saves them; the pure-Python scorer reads them back and scores the same rows given as the strings a Predict
record carries. A stage it does not evaluate is refused by name.
"""

from __future__ import annotations

import json
import os
import random

import pytest
from pyspark.ml import Pipeline
from pyspark.ml.classification import LinearSVC, LogisticRegression
from pyspark.ml.functions import vector_to_array
from pyspark.ml.regression import LinearRegression
from pyspark.sql import functions as F

from features.recipe import compile_recipe
from jobs.aml.predictor import Unsupported, load_predictor
from tests.model_factory import CLASSES, rows_for, schema_for

RECIPES = {
    "hashed": {
        "outputs": [
            "ngram(lowercase(no_punct(review)), 3)",
            "osb(review, 3)",
            "quantile_bin(x, 5)",
            "normalize(x)",
            "cartesian(color, quantile_bin(x, 5))",
            "color",
        ]
    },
    "vocabulary": {"outputs": ["ngram(lowercase(review), 2)", "x", "color"]},
    "numbers": {"outputs": ["normalize(x)", "x"]},  # no token output: no token slots
}
ODD = [
    ("o1", "¡Good!! «great» -- seat-belts, fine…", None, "a", None),
    ("o2", "", 3.5, "", None),
    ("o3", "  BAD\tbad   Bad ", 1e3, "zz", None),
]


def rows(model_type: str):
    return [*rows_for(model_type, 160), *[(*r[:4], rows_for(model_type, 1)[0][4]) for r in ODD]]


def save(spark, tmp_path, model_type: str, layout: str, estimator) -> str:
    """Fit recipe stages + estimator on the rows and save them as models/m/v1 of a lake; returns the lake root."""
    schema = schema_for(model_type)
    frame = spark.createDataFrame(rows(model_type), "id string, review string, x double, color string, y string")
    stages = compile_recipe(schema, RECIPES[layout], num_features=512, vocabulary=layout == "vocabulary").getStages()
    model = Pipeline(stages=[*stages, estimator]).fit(frame)
    folder = tmp_path / "lake" / "models" / "m" / "v1"
    model.write().overwrite().save(str(folder / "model"))
    classes = ["0", "1"] if model_type == "BINARY" else None
    if model_type == "MULTICLASS":
        classes = next(s for s in model.stages if type(s).__name__ == "LabelModel").getOrDefault("labels")
    meta = {"model_type": model_type, "classes": classes, "schema": schema, "cutoff": 0.5}
    (folder / "metadata.json").write_text(json.dumps(meta))
    return str(tmp_path / "lake"), model, frame


def record(row) -> dict:
    """A Predict record: every value a string, the last with the line's end."""
    rid, review, x, color, _ = row
    return {"id": rid, "review": review, "x": "" if x is None else repr(x), "color": color + "\n"}


@pytest.mark.parametrize(
    "model_type,layout",
    [
        ("BINARY", "hashed"),
        ("BINARY", "vocabulary"),
        ("BINARY", "numbers"),
        ("MULTICLASS", "hashed"),
        ("REGRESSION", "hashed"),
    ],
)
def test_the_scorer_equals_the_pipeline(spark, tmp_path, model_type, layout):
    estimator = (
        LinearRegression(maxIter=20, regParam=0.01)
        if model_type == "REGRESSION"
        else LogisticRegression(maxIter=20, regParam=0.01)
    )
    root, model, frame = save(spark, tmp_path, model_type, layout, estimator)
    predictor = load_predictor("file://" + root, "m", "v1")
    out = model.transform(frame.drop("y"))
    column = "prediction" if model_type == "REGRESSION" else "probability"
    expected = {
        r["id"]: r["p"]
        for r in out.select(
            "id", (vector_to_array(column) if column == "probability" else F.col(column)).alias("p")
        ).collect()
    }
    for row in random.Random(3).sample(rows(model_type), 60) + rows(model_type)[-3:]:
        got = predictor.predict(record(row), 0.5)
        if model_type == "REGRESSION":
            assert got["predictedValue"] == pytest.approx(expected[row[0]], rel=1e-9, abs=1e-9)
        elif model_type == "BINARY":
            p1 = expected[row[0]][1]
            assert got == {
                "predictedLabel": "1" if p1 >= 0.5 else "0",
                "predictedScores": {got["predictedLabel"]: pytest.approx(p1, rel=1e-9, abs=1e-12)},
            }
        else:
            assert list(got["predictedScores"]) == predictor.classes and set(predictor.classes) == set(CLASSES)
            assert list(got["predictedScores"].values()) == pytest.approx(expected[row[0]], rel=1e-9, abs=1e-12)


def test_a_stage_the_scorer_cannot_evaluate_is_refused_by_name(spark, tmp_path):
    root, _, _ = save(spark, tmp_path, "BINARY", "vocabulary", LinearSVC(maxIter=5))
    with pytest.raises(Unsupported, match="LinearSVCModel"):
        load_predictor("file://" + root, "m", "v1")
    assert os.path.isdir(os.path.join(root, "models", "m", "v1", "model"))


def test_random_rearrangement_numbers_are_sparks_xxhash64(spark):
    from jobs.aml.rearrange import xxh64

    frame = spark.range(0, 200).select(F.col("id"), F.xxhash64(F.lit("seed-7"), F.col("id")).alias("h"))
    seed = xxh64(b"seed-7", 42)
    for row in frame.collect():
        assert xxh64(row["id"].to_bytes(8, "little", signed=True), seed) == row["h"]

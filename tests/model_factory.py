"""Small fitted pipelines of every model type (recipe stages + an MLlib estimator), for registry and score tests."""

from __future__ import annotations

import random
from typing import Any, Dict, List, Tuple

from pyspark.ml import Pipeline
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.regression import LinearRegression

from features.recipe import compile_recipe
from features.schema import load_schema
from ml.version_record import VersionRecord

WORDS = ["good", "bad", "great", "awful", "fine", "poor", "nice", "meh"]
CLASSES = ["red", "green", "blue"]


def schema_for(model_type: str) -> Dict[str, Any]:
    """An Amazon ML schema with a rowId, a TEXT, a NUMERIC and a CATEGORICAL attribute and a target."""
    target = {"BINARY": "BINARY", "MULTICLASS": "CATEGORICAL", "REGRESSION": "NUMERIC"}[model_type]
    return load_schema(
        {
            "version": "1.0",
            "rowId": "id",
            "targetAttributeName": "y",
            "dataFormat": "CSV",
            "dataFileContainsHeader": True,
            "attributes": [
                {"attributeName": "id", "attributeType": "CATEGORICAL"},
                {"attributeName": "review", "attributeType": "TEXT"},
                {"attributeName": "x", "attributeType": "NUMERIC"},
                {"attributeName": "color", "attributeType": "CATEGORICAL"},
                {"attributeName": "y", "attributeType": target},
            ],
        }
    )


RECIPE = {"outputs": ["ngram(lowercase(review), 2)", "quantile_bin(x, 5)", "x", "color"]}


def rows_for(model_type: str, n: int, seed: int = 7) -> List[Tuple]:
    """n rows (id, review, x, color, y) whose target depends on the words and x."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        words = [rnd.choice(WORDS) for _ in range(4)]
        x = round(rnd.uniform(0, 10), 3)
        good = sum(w in ("good", "great", "fine", "nice") for w in words)
        color = rnd.choice(["a", "b", "c"])
        if model_type == "BINARY":
            y = "1" if good + x / 5 + rnd.random() > 3 else "0"
        elif model_type == "MULTICLASS":
            y = CLASSES[min(2, int(good + rnd.random() * 1.5) // 2)]
        else:
            y = str(round(good * 2 + x + rnd.gauss(0, 0.5), 3))
        out.append((f"r{i}", " ".join(words), x, color, y))
    return out


def fit_model(spark, model_type: str, n: int = 200, seed: int = 7):
    """(fitted PipelineModel, its VersionRecord for publish_version) of a small model of the given type."""
    schema = schema_for(model_type)
    df = spark.createDataFrame(rows_for(model_type, n, seed), ["id", "review", "x", "color", "y"])
    stages = compile_recipe(schema, RECIPE, num_features=256).getStages()
    estimator = (
        LinearRegression(maxIter=10, regParam=0.01)
        if model_type == "REGRESSION"
        else LogisticRegression(maxIter=10, regParam=0.01)
    )
    model = Pipeline(stages=[*stages, estimator]).fit(df)
    classes = ["0", "1"] if model_type == "BINARY" else None
    if model_type == "MULTICLASS":
        classes = next(s for s in model.stages if type(s).__name__ == "LabelModel").getOrDefault("labels")
    metric = {"BINARY": {"auc": 0.8}, "MULTICLASS": {"macro_f1": 0.6}, "REGRESSION": {"rmse": 1.0}}[model_type]
    meta = VersionRecord(
        model_type=model_type,
        algorithm=type(estimator).__name__,
        params={"maxIter": 10},
        schema=schema,
        recipe=RECIPE,
        classes=classes,
        cutoff=0.5 if model_type == "BINARY" else None,
        metrics=metric,
        run_id="fit-" + str(seed),
        run_date="2026-11-19",
        input={"form": "test"},
    )
    return model, meta


def tiny_model(spark):
    """(fitted 2-stage PipelineModel, its BINARY VersionRecord): the cheapest real model to save and load."""
    from pyspark.ml.feature import VectorAssembler

    df = spark.createDataFrame([(float(i), float(i % 3), float(i > 4)) for i in range(10)], ["x", "z", "label"])
    pipeline = Pipeline(
        stages=[VectorAssembler(inputCols=["x", "z"], outputCol="features"), LogisticRegression(maxIter=3)]
    )
    meta = VersionRecord(
        model_type="BINARY",
        algorithm="LogisticRegression",
        classes=["0", "1"],
        cutoff=0.5,
        metrics={"auc": 0.8},
        schema={"attributes": []},
        run_id="tiny",
    )
    return pipeline.fit(df), meta


def prediction_schema(model_type: str, extra: bool = True) -> Dict[str, Any]:
    """The model's schema without its target (a prediction datasource), with an extra `note` column."""
    schema = schema_for(model_type)
    attributes = [a for a in schema["attributes"] if a["attributeName"] != "y"]
    if extra:
        attributes.append({"attributeName": "note", "attributeType": "TEXT"})
    return {**schema, "targetAttributeName": None, "attributes": attributes}


def write_prediction_csv(folder, model_type: str, n: int, seed: int = 11, bad_lines=(), name="predict.csv"):
    """predict.csv (header, no target, an extra column) and predict.csv.schema in folder; returns the CSV path."""
    import csv
    import json
    import os

    os.makedirs(folder, exist_ok=True)
    path = os.path.join(str(folder), name)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "review", "x", "color", "note"])
        for rid, review, x, color, _ in rows_for(model_type, n, seed):
            writer.writerow([rid, review, x, color, "some, note"])
        for line in bad_lines:
            handle.write(line + "\n")
    with open(path + ".schema", "w", encoding="utf-8") as handle:
        json.dump(prediction_schema(model_type), handle)
    return path

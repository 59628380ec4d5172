"""The real-time endpoint's scorer: a saved lakeml PipelineModel evaluated on one record in pure Python + numpy.

`load_predictor(lake_root, name, version)` reads the version's metadata and every stage's saved Params and
data (JSON and Parquet through pyarrow; no JVM) once; `Predictor.predict(record)` scores one record of string
values as the score job would. Supported stages: lakeml's RecipeColumns, QuantileBinModel, NormalizeModel,
LabelModel and DropColumns, Spark's HashingTF, CountVectorizerModel and VectorAssembler, and the estimators
LogisticRegressionModel (binomial and multinomial) and LinearRegressionModel. Any other stage raises
`Unsupported` naming it, so an endpoint is refused rather than serving a wrong prediction.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from core import lake, objects
from jobs.aml import recipe_eval as rx
from ml.version_record import VersionRecord

Stage = Callable[[Dict[str, Any]], None]


class Unsupported(Exception):
    """The model holds a stage the in-memory scorer does not evaluate."""


class BadRecord(ValueError):
    """A record value that is not of its attribute's type."""


def _json(uri: str) -> Dict[str, Any]:
    data = objects.read_bytes(uri)
    if data is None:
        raise FileNotFoundError(uri)
    return json.loads(data.decode("utf-8").splitlines()[0])


def _parquet(folder: str) -> Dict[str, Any]:
    """The first row of a stage's saved Parquet data, as Python values."""
    import pyarrow.parquet as pq

    parts = [u for u, _ in objects.list_files(folder) if u.endswith(".parquet")]
    for part in parts:
        table = pq.read_table(io.BytesIO(objects.read_bytes(part)))
        if table.num_rows:
            return table.slice(0, 1).to_pylist()[0]
    raise FileNotFoundError(f"no saved data under {folder}")


def _vector(v: Dict[str, Any]) -> np.ndarray:
    """A saved Spark vector (sparse type 0, dense type 1) as a dense array."""
    if v["type"] == 1:
        return np.asarray(v["values"], dtype=float)
    out = np.zeros(v["size"])
    out[np.asarray(v["indices"], dtype=int)] = v["values"]
    return out


def _matrix(m: Dict[str, Any]) -> np.ndarray:
    """A saved Spark matrix (dense or sparse, column-major unless transposed) as rows x cols."""
    rows, cols, values = m["numRows"], m["numCols"], np.asarray(m["values"], dtype=float)
    if m["type"] == 1:
        return values.reshape(rows, cols) if m["isTransposed"] else values.reshape(cols, rows).T
    out = np.zeros((rows, cols))
    ptrs, idx = m["colPtrs"], m["rowIndices"]
    for major in range(len(ptrs) - 1):  # CSC: major is a column; transposed (CSR): a row
        for k in range(ptrs[major], ptrs[major + 1]):
            if m["isTransposed"]:
                out[major, idx[k]] = values[k]
            else:
                out[idx[k], major] = values[k]
    return out


@dataclass
class Linear:
    """The estimator: coefficients (classes x features), intercepts, and which link to apply."""

    weights: np.ndarray
    intercepts: np.ndarray
    kind: str  # binomial, multinomial or linear

    def scores(self, slots: List[int], dense: List[float], offset: int) -> np.ndarray:
        """Margins for a vector of binary slots followed by dense values starting at `offset`."""
        margin = self.intercepts.copy()
        if slots:
            margin += self.weights[:, slots].sum(axis=1)
        if dense:
            margin += self.weights[:, offset : offset + len(dense)] @ np.asarray(dense)
        return margin


def _logistic(params: Dict[str, Any], data: Dict[str, Any]) -> Linear:
    weights, intercepts = _matrix(data["coefficientMatrix"]), _vector(data["interceptVector"])
    return Linear(weights, intercepts, "multinomial" if data["isMultinomial"] else "binomial")


def _linear(params: Dict[str, Any], data: Dict[str, Any]) -> Linear:
    return Linear(_vector(data["coefficients"])[None, :], np.asarray([data["intercept"]]), "linear")


def _param(meta: Dict[str, Any], name: str) -> Any:
    return meta["paramMap"].get(name, meta.get("defaultParamMap", {}).get(name))


def _feature_stage(cls: str, meta: Dict[str, Any], folder: str) -> Optional[Stage]:
    """The row function of a feature stage; None for a stage that changes nothing at prediction time."""

    def p(name: str) -> Any:
        return _param(meta, name)

    if cls == "features.stages.RecipeColumns":
        plan, col = json.loads(p("plan")), p("tokensCol")
        return lambda row: rx.recipe_columns(plan, col, row)
    if cls == "features.numeric.QuantileBinModel":
        src, dst, edges = p("inputCol"), p("outputCol"), [float(e) for e in p("edges")]
        return lambda row: row.__setitem__(dst, rx.quantile_token(row.get(src), edges))
    if cls == "features.numeric.NormalizeModel":
        src, dst, mean, std = p("inputCol"), p("outputCol"), float(p("mean")), float(p("std"))
        return lambda row: row.__setitem__(dst, rx.normalized(row.get(src), mean, std))
    if cls == "org.apache.spark.ml.feature.HashingTF":
        if not p("binary"):
            raise Unsupported("HashingTF with binary=false")
        src, dst, size = p("inputCol"), p("outputCol"), int(p("numFeatures"))
        return lambda row: row.__setitem__(dst, (size, rx.hashed_slots(row.get(src) or [], size)))
    if cls == "org.apache.spark.ml.feature.CountVectorizerModel":
        if not p("binary"):
            raise Unsupported("CountVectorizerModel with binary=false")
        vocab = _parquet(lake.join(folder, "data"))["vocabulary"]
        src, dst, index = p("inputCol"), p("outputCol"), {t: i for i, t in enumerate(vocab)}
        return lambda row: row.__setitem__(dst, (len(vocab), rx.vocabulary_slots(row.get(src) or [], index)))
    if cls == "org.apache.spark.ml.feature.VectorAssembler":
        cols, dst = p("inputCols"), p("outputCol")
        return lambda row: row.__setitem__(dst, _assemble(row, cols))
    if cls in ("features.stages.LabelModel", "features.stages.DropColumns"):
        return None
    raise Unsupported(cls.rsplit(".", 1)[-1])


def _assemble(row: Dict[str, Any], cols: List[str]) -> Tuple[int, List[int], List[float]]:
    """VectorAssembler of a slot vector (none in a recipe of numbers alone) followed by numeric columns:
    (slot count, slots, dense values)."""
    if isinstance(row[cols[0]], tuple):
        (size, slots), numeric = row[cols[0]], cols[1:]
    else:
        size, slots, numeric = 0, [], cols
    return size, slots, [float(row[c]) for c in numeric]


ESTIMATORS = {
    "org.apache.spark.ml.classification.LogisticRegressionModel": _logistic,
    "org.apache.spark.ml.regression.LinearRegressionModel": _linear,
}


@dataclass
class Predictor:
    """One model version ready to score records."""

    model_type: str
    attributes: Dict[str, str]
    classes: List[str]
    stages: List[Stage]
    features_col: str
    estimator: Linear

    def features(self, record: Dict[str, str]) -> Tuple[List[int], List[float], int]:
        """The record through the feature stages: (binary slots, dense values, offset of the dense part)."""
        row: Dict[str, Any] = {}
        for name, kind in self.attributes.items():
            try:
                row[name] = rx.typed(record.get(name), kind)
            except ValueError as error:
                raise BadRecord(f"{error} in {name}: {record.get(name)!r}") from None
        for stage in self.stages:
            stage(row)
        vector = row[self.features_col]
        if len(vector) == 2:  # tokens only: the vectorizer's output is the feature vector
            return vector[1], [], vector[0]
        return vector[1], vector[2], vector[0]

    def predict(self, record: Dict[str, str], threshold: float) -> Dict[str, Any]:
        """Amazon ML's Prediction for one record: label and scores (classifiers) or value (regression)."""
        slots, dense, offset = self.features(record)
        margin = self.estimator.scores(slots, dense, offset)
        if self.model_type == "REGRESSION":
            return {"predictedValue": float(margin[0])}
        if self.estimator.kind == "binomial":
            p1 = 1.0 / (1.0 + math.exp(-float(margin[0])))
            label = "1" if p1 >= threshold else "0"
            return {"predictedLabel": label, "predictedScores": {label: p1}}
        exp = np.exp(margin - margin.max())
        probs = exp / exp.sum()
        best = int(np.argmax(probs))
        return {"predictedLabel": self.classes[best], "predictedScores": dict(zip(self.classes, map(float, probs)))}


def load_predictor(root: str, name: str, version: str) -> Predictor:
    """The Predictor of models/<name>/<version>/ under a lake root; Unsupported naming a stage it cannot run."""
    from features.schema import feature_attributes

    folder = lake.join(root, "models", name, version)
    meta = VersionRecord.from_json(json.loads(objects.read_bytes(lake.join(folder, "metadata.json")) or b"{}"))
    if meta.model_type not in ("BINARY", "MULTICLASS", "REGRESSION"):
        raise Unsupported(f"model type {meta.model_type}")
    model = lake.join(folder, "model")
    uids = _json(lake.join(model, "metadata", "part-00000"))["paramMap"]["stageUids"]
    stages: List[Stage] = []
    estimator, features_col = None, "features"
    for i, uid in enumerate(uids):
        stage_folder = lake.join(model, "stages", f"{i}_{uid}")
        stage_meta = _json(lake.join(stage_folder, "metadata", "part-00000"))
        cls = stage_meta["class"]
        if cls in ESTIMATORS:
            estimator = ESTIMATORS[cls](stage_meta, _parquet(lake.join(stage_folder, "data")))
            features_col = _param(stage_meta, "featuresCol") or "features"
        elif estimator is None:
            stage = _feature_stage(cls, stage_meta, stage_folder)
            if stage is not None:
                stages.append(stage)
    if estimator is None:
        raise Unsupported(f"estimator of {name} {version} ({meta.algorithm})")
    attributes = feature_attributes(meta.schema or {})
    rx.punctuation()  # built once here, not on the first Predict
    return Predictor(meta.model_type, attributes, [str(c) for c in meta.classes or []], stages, features_col, estimator)

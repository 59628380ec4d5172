"""Evaluation per model type beside its baseline (docs/amazon-ml.md, "Metrics and baselines").

`evaluate_predictions(model_type, predictions, baseline_info, cutoff)` takes a scored DataFrame
(`label` plus the model's `prediction` / `probability` / `rawPrediction`) and returns an
Evaluation: flat metrics (what the registry compares), the baseline's metrics, whether the model
is worse than its baseline, and the small tables the plots need (ml.plots draws them).

- BINARY: AUC (exact, every distinct score), baseline 0.5. The score is P(label 1), or for the
  linear SVM the logistic of its margin (same order, so the same AUC; 0.5 is margin 0). At the
  cut-off (scores >= it are 1): precision, recall, accuracy, F1, the confusion matrix.
- MULTICLASS: macro F1 (the unweighted mean of per-class F1) from the confusion matrix; baseline
  always predicts the most frequent training class.
- REGRESSION: RMSE (also MAE, R^2); baseline always predicts the training mean.
- RECOMMEND: see ml.recommend (RMSE, precision@k, NDCG@k).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

SCORE_BINS = 200


@dataclass
class Evaluation:
    """Metrics of one model on one dataset, its baseline, and the tables behind the plots."""

    model_type: str
    metrics: Dict[str, Any]
    baseline: Dict[str, Any]
    worse_than_baseline: bool
    tables: Dict[str, Any] = field(default_factory=dict)


def binary_score(predictions):
    """The column P(label 1): probability[1], or the logistic of the margin for models without probability."""
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    if "probability" in predictions.columns:
        return vector_to_array("probability")[1]
    return 1.0 / (1.0 + F.exp(-vector_to_array("rawPrediction")[1]))


def auc(scored) -> float:
    """Exact area under the ROC curve of (score, label) rows."""
    from pyspark.ml.evaluation import BinaryClassificationEvaluator

    evaluator = BinaryClassificationEvaluator(rawPredictionCol="score", labelCol="label", numBins=0)
    return float(evaluator.evaluate(scored))


def confusion(rows: List[Tuple[float, float, int]], classes: int) -> List[List[int]]:
    """The classes x classes count matrix (row: true label, column: predicted) of (label, prediction, n)."""
    matrix = [[0] * classes for _ in range(classes)]
    for label, predicted, n in rows:
        if 0 <= int(label) < classes and 0 <= int(predicted) < classes:
            matrix[int(label)][int(predicted)] += int(n)
    return matrix


def per_class_f1(matrix: List[List[int]]) -> List[Dict[str, float]]:
    """Precision, recall, F1 and support of each class of a confusion matrix."""
    out = []
    for k in range(len(matrix)):
        tp = matrix[k][k]
        predicted = sum(row[k] for row in matrix)
        actual = sum(matrix[k])
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out.append({"precision": precision, "recall": recall, "f1": f1, "support": actual})
    return out


def macro_f1(matrix: List[List[int]]) -> float:
    """Unweighted mean of per-class F1 over the classes that occur (as true or predicted)."""
    stats = per_class_f1(matrix)
    present = [s["f1"] for k, s in enumerate(stats) if s["support"] or sum(r[k] for r in matrix)]
    return sum(present) / len(present) if present else 0.0


def score_histogram(scored) -> List[Tuple[int, int, int]]:
    """(bin, label, count) of scores in SCORE_BINS equal bins of [0, 1]."""
    from pyspark.sql import functions as F

    bucket = F.least(F.floor(F.col("score") * SCORE_BINS), F.lit(SCORE_BINS - 1)).cast("int")
    rows = scored.groupBy(bucket.alias("b"), F.col("label").cast("int").alias("y")).count().collect()
    return sorted((int(r["b"]), int(r["y"]), int(r["count"])) for r in rows)


def roc_points(histogram: List[Tuple[int, int, int]]) -> List[Tuple[float, float]]:
    """(false positive rate, true positive rate) at every bin edge, from the highest score down."""
    pos = [0] * SCORE_BINS
    neg = [0] * SCORE_BINS
    for b, y, n in histogram:
        (pos if y == 1 else neg)[b] += n
    total_p, total_n = sum(pos) or 1, sum(neg) or 1
    points, tp, fp = [(0.0, 0.0)], 0, 0
    for b in reversed(range(SCORE_BINS)):
        tp, fp = tp + pos[b], fp + neg[b]
        points.append((fp / total_n, tp / total_p))
    return points


def evaluate_binary(predictions, cutoff: float) -> Evaluation:
    """AUC, the cut-off's precision/recall/accuracy/F1 and confusion matrix, beside AUC 0.5."""
    from pyspark.sql import functions as F

    scored = predictions.select(binary_score(predictions).alias("score"), F.col("label").cast("double")).cache()
    predicted = (F.col("score") >= cutoff).cast("double")
    rows = scored.groupBy("label", predicted.alias("p")).count().collect()
    matrix = confusion([(r["label"], r["p"], r["count"]) for r in rows], 2)
    undefined = auc_undefined(matrix)
    value = None if undefined else auc(scored)
    (tn, fp), (fn, tp) = matrix
    n = tn + fp + fn + tp
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    histogram = score_histogram(scored)
    scored.unpersist()
    metrics = {
        "auc": value,
        **({"auc_undefined": undefined} if undefined else {}),
        "cutoff": cutoff,
        "precision": precision,
        "recall": recall,
        "accuracy": (tp + tn) / n if n else 0.0,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "share_above_cutoff": (tp + fp) / n if n else 0.0,
        "rows": n,
    }
    tables = {"confusion": matrix, "histogram": histogram, "roc": roc_points(histogram)}
    return Evaluation("BINARY", metrics, {"auc": 0.5}, value is not None and not value > 0.5, tables)


def auc_undefined(matrix: List[List[int]]) -> Optional[str]:
    """Why AUC is undefined on these rows (they hold one class only), or None when it is defined."""
    negatives, positives = sum(matrix[0]), sum(matrix[1])
    if negatives and positives:
        return None
    present = "1" if positives else "0"
    return f"the evaluation rows hold one class only ({negatives + positives} rows of label {present}): AUC needs both"


def evaluate_multiclass(predictions, classes: List[str], majority: int) -> Evaluation:
    """Macro F1, per-class F1 and the confusion matrix, beside the most frequent training class."""
    from pyspark.sql import functions as F

    rows = predictions.groupBy(F.col("label"), F.col("prediction")).count().collect()
    matrix = confusion([(r["label"], r["prediction"], r["count"]) for r in rows], len(classes))
    base = [[0] * len(classes) for _ in classes]
    for k, row in enumerate(matrix):
        base[k][majority] = sum(row)
    n = sum(map(sum, matrix))
    metrics = {
        "macro_f1": macro_f1(matrix),
        "accuracy": sum(matrix[k][k] for k in range(len(classes))) / n if n else 0.0,
        "rows": n,
    }
    baseline = {
        "macro_f1": macro_f1(base),
        "accuracy": base[majority][majority] / n if n else 0.0,
        "class": classes[majority],
    }
    tables = {"confusion": matrix, "classes": classes, "per_class": per_class_f1(matrix)}
    return Evaluation("MULTICLASS", metrics, baseline, not metrics["macro_f1"] > baseline["macro_f1"], tables)


def evaluate_regression(predictions, train_mean: float, sample: int = 2000) -> Evaluation:
    """RMSE, MAE and R^2, beside always predicting the training mean; a residual sample for the plot."""
    from pyspark.sql import functions as F

    err = F.col("prediction") - F.col("label")
    row = predictions.agg(
        F.count(F.lit(1)).alias("n"),
        F.avg(err * err).alias("mse"),
        F.avg(F.abs(err)).alias("mae"),
        F.avg((F.col("label") - train_mean) ** 2).alias("base_mse"),
        F.variance("label").alias("var"),
    ).first()
    n = int(row["n"])
    mse = float(row["mse"] or 0.0)
    fraction = min(1.0, sample / n) if n else 1.0
    points = predictions.select("prediction", err.alias("residual")).sample(fraction=fraction, seed=7).limit(sample)
    metrics = {
        "rmse": math.sqrt(mse),
        "mae": float(row["mae"] or 0.0),
        "r2": 1.0 - mse / float(row["var"]) if row["var"] else 0.0,
        "rows": n,
    }
    baseline = {"rmse": math.sqrt(float(row["base_mse"] or 0.0)), "mean": train_mean}
    tables = {"residuals": [(float(r["prediction"]), float(r["residual"])) for r in points.collect()]}
    return Evaluation("REGRESSION", metrics, baseline, not metrics["rmse"] < baseline["rmse"], tables)


def training_baseline(model_type: str, train_labels) -> Dict[str, Any]:
    """What the baseline needs from the training rows: the most frequent class or the mean label."""
    from pyspark.sql import functions as F

    if model_type == "MULTICLASS":
        row = train_labels.groupBy("label").count().orderBy(F.desc("count"), F.asc("label")).first()
        return {"majority": int(row["label"])}
    if model_type == "REGRESSION":
        return {"mean": float(train_labels.agg(F.avg("label")).first()[0])}
    return {}


def evaluate_predictions(
    model_type: str, predictions, info: Dict[str, Any], cutoff: float = 0.5, classes: Optional[List[str]] = None
) -> Evaluation:
    """The type's evaluation of scored rows that carry `label` (rows with a null label are left out)."""
    labelled = predictions.where("label IS NOT NULL")
    if model_type == "BINARY":
        return evaluate_binary(labelled, cutoff)
    if model_type == "MULTICLASS":
        return evaluate_multiclass(labelled, classes or [], int(info.get("majority", 0)))
    if model_type == "REGRESSION":
        return evaluate_regression(labelled, float(info["mean"]))
    raise ValueError(f"evaluate_predictions does not take {model_type}; RECOMMEND is ml.recommend.evaluate")

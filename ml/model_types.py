"""The one table of model types: target types, algorithms, the metric that decides promotion, the baseline.

Every part of lakeml that needs to know a model type (train's flags, the registry's promotion gate,
the report plots, the nightly report, the nightly CONF) reads it from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple


@dataclass(frozen=True)
class ModelType:
    """One model type: what its target is, how it is fitted, judged and compared."""

    name: str
    target_types: Tuple[str, ...]  # Amazon ML attribute types the target may have
    algorithms: Tuple[str, ...]  # --algorithm choices, the first is the default
    metric: str  # the evaluation metric that decides promotion
    higher_is_better: bool
    baseline: str  # what the model must beat, in words (docs/amazon-ml.md "Metrics and baselines")
    implicit_metric: Optional[str] = None  # RECOMMEND on implicit feedback: judged by this (higher is better)


MODEL_TYPES: Dict[str, ModelType] = {
    t.name: t
    for t in (
        ModelType("BINARY", ("BINARY",), ("logistic", "svm", "fm"), "auc", True, "AUC 0.5"),
        ModelType(
            "MULTICLASS",
            ("CATEGORICAL", "BINARY"),
            ("logistic", "svm"),
            "macro_f1",
            True,
            "the most frequent training class",
        ),
        ModelType("REGRESSION", ("NUMERIC",), ("linear", "fm"), "rmse", False, "the training mean"),
        ModelType(
            "RECOMMEND",
            ("NUMERIC", "BINARY"),
            ("als",),
            "rmse",
            False,
            "a user and item bias model",
            implicit_metric="ndcg_at_k",
        ),
    )
}
TYPE_NAMES: Tuple[str, ...] = tuple(MODEL_TYPES)


def model_type(name: str) -> ModelType:
    """The table row of a model type; ValueError naming the known types otherwise."""
    if name not in MODEL_TYPES:
        raise ValueError(f"model type {name!r} is not one of {', '.join(TYPE_NAMES)}")
    return MODEL_TYPES[name]


def key_metric(name: str, implicit: Optional[bool] = None) -> Tuple[str, bool]:
    """(metric key, higher is better) that decides promotion for a type (RECOMMEND: by its feedback)."""
    row = model_type(name)
    if implicit and row.implicit_metric:
        return row.implicit_metric, True
    return row.metric, row.higher_is_better

"""Evaluation plots and the report's evaluation section (matplotlib on Agg, through core.report)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ml.metrics import SCORE_BINS, Evaluation, per_class_f1
from ml.model_types import key_metric


def roc_figure(points: List[Any], auc: Optional[float]):
    """The ROC curve with the diagonal of a random model."""
    from core.report import new_figure

    fig = new_figure(5, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    label = "model (AUC undefined)" if auc is None else f"model (AUC {auc:.4f})"
    ax.plot([p[0] for p in points], [p[1] for p in points], label=label)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="baseline (AUC 0.5)")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(loc="lower right")
    return fig


def histogram_figure(histogram: List[Any], cutoff: float):
    """Score distribution of each true label, with the cut-off."""
    from core.report import new_figure

    fig = new_figure(6, 3.5)
    ax = fig.add_subplot(1, 1, 1)
    edges = [b / SCORE_BINS for b in range(SCORE_BINS)]
    for label, color in ((0, "tab:blue"), (1, "tab:orange")):
        counts = [0] * SCORE_BINS
        for b, y, n in histogram:
            if y == label:
                counts[b] += n
        ax.bar(edges, counts, width=1 / SCORE_BINS, align="edge", alpha=0.6, color=color, label=f"label {label}")
    ax.axvline(cutoff, color="black", linestyle="--", label=f"cut-off {cutoff:g}")
    ax.set_xlabel("score")
    ax.set_ylabel("rows")
    ax.legend()
    return fig


def confusion_figure(matrix: List[List[int]], labels: List[str]):
    """The confusion matrix as a heat map with counts."""
    from core.report import new_figure

    size = max(3.5, 0.45 * len(labels) + 2)
    fig = new_figure(size, size)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels=labels, rotation=45 if len(labels) > 4 else 0)
    ax.set_yticks(range(len(labels)), labels=labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    top = max(max(row) for row in matrix) if matrix else 0
    for i, row in enumerate(matrix):
        for j, n in enumerate(row):
            ax.text(j, i, str(n), ha="center", va="center", color="white" if n > top / 2 else "black", fontsize=8)
    return fig


def residual_figure(points: List[Any]):
    """Residual against prediction for a sample of rows."""
    from core.report import new_figure

    fig = new_figure(6, 4)
    ax = fig.add_subplot(1, 1, 1)
    ax.scatter([p[0] for p in points], [p[1] for p in points], s=4, alpha=0.5)
    ax.axhline(0, color="grey", linestyle="--")
    ax.set_xlabel("prediction")
    ax.set_ylabel("prediction - label")
    return fig


def metric_rows(evaluation: Evaluation) -> List[Dict[str, Any]]:
    """The metrics table: each metric beside the baseline's value where there is one."""
    return [
        {"metric": key, "model": value, "baseline": evaluation.baseline.get(key)}
        for key, value in evaluation.metrics.items()
    ]


def add_evaluation(report, evaluation: Evaluation, cutoff: float = 0.5) -> None:
    """The evaluation section: metrics vs baseline, the type's plots, the baseline flag."""
    report.heading("Evaluation")
    key, _ = key_metric(evaluation.model_type)
    if evaluation.worse_than_baseline:
        report.paragraph(
            f"This model is not better than its baseline on {key or 'its metric'}: it is registered but not promoted.",
            flag=True,
        )
    report.table(metric_rows(evaluation), columns=["metric", "model", "baseline"])
    tables = evaluation.tables
    if evaluation.model_type == "BINARY":
        report.figure(roc_figure(tables["roc"], evaluation.metrics["auc"]), "roc", caption="ROC curve")
        report.figure(histogram_figure(tables["histogram"], cutoff), "scores", caption="Score histogram by true label")
        report.figure(
            confusion_figure(tables["confusion"], ["0", "1"]), "confusion", caption=f"Confusion at {cutoff:g}"
        )
    elif evaluation.model_type == "MULTICLASS":
        classes = tables["classes"]
        stats = per_class_f1(tables["confusion"])
        report.table(
            [{"class": c, **s} for c, s in zip(classes, stats)],
            columns=["class", "precision", "recall", "f1", "support"],
        )
        report.figure(confusion_figure(tables["confusion"], classes), "confusion", caption="Confusion matrix")
    elif evaluation.model_type == "REGRESSION":
        report.figure(residual_figure(tables["residuals"]), "residuals", caption="Residuals (a sample of rows)")
    elif "ranking" in tables:
        report.table(tables["ranking"])

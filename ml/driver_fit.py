"""L2 logistic regression fitted in the driver when the training rows fit there: the objective MLlib's
LogisticRegression minimizes, the model class it returns (saved and scored as any PipelineModel stage),
without one Spark job per L-BFGS iteration.

The objective, as MLlib's: the weighted mean log loss plus regParam / 2 times the squared coefficients,
the intercepts unpenalized; with `standardization` the penalty is on each coefficient times its feature's
standard deviation. Like MLlib, the solver works on features scaled by their deviation, gives a feature
of zero deviation the coefficient 0, and centres multinomial intercepts. It runs L-BFGS (history 10, as
MLlib's) with a backtracking line search and MLlib's (Breeze's) stopping rule: `maxIter` iterations, or
an objective that improved by at most `tol` times its starting value over the last 20 iterations.
numpy only: nodes install no SciPy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

from ml.dense_models import logistic_model

MAX_DRIVER_VALUES = 20_000_000  # stored non-zero feature values the driver takes; beyond, MLlib's fit
# rows the driver fit takes: past this, collecting the rows through Python costs more than MLlib's whole
# distributed fit (bench/RESULTS.md, train: 300k rows took 13.7 s in the driver against ~9 s in MLlib)
MAX_DRIVER_ROWS = 150_000
MAX_DRIVER_COEFFICIENTS = 8_000_000
DRIVER_PARAMS = {
    "maxIter",
    "tol",
    "regParam",
    "elasticNetParam",
    "standardization",
    "weightCol",
    "fitIntercept",
    "family",
    "threshold",
    "thresholds",
    "aggregationDepth",
}
HISTORY = 10
VALUE_MEMORY = 20


@dataclass(frozen=True)
class Rows:
    """Training rows as a CSR matrix (data, indices, row of each value), labels and row weights."""

    data: np.ndarray
    indices: np.ndarray
    row_of: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    size: int

    @property
    def count(self) -> int:
        return len(self.labels)


def driver_eligible(algorithm: str, params: Dict[str, Any], tune: bool, rows: int) -> bool:
    """True when the fit may run in the driver: plain L2 logistic regression without a search, on few rows."""
    return (
        algorithm == "logistic"
        and not tune
        and rows <= MAX_DRIVER_ROWS
        and set(params) <= DRIVER_PARAMS
        and float(params.get("elasticNetParam", 0.0)) == 0.0
    )


def collect_rows(featurized, weight_col: Optional[str]) -> Optional[Rows]:
    """The rows as numpy arrays, or None once they pass MAX_DRIVER_VALUES (MLlib's fit takes them then)."""
    from pyspark.sql import functions as F

    # the columns' metadata replaced (an empty dict would keep it): Python rows carry their schema, and the
    # slots' attribute names can make that megabytes per row
    names = ["features", "label", *([weight_col] if weight_col else [])]
    columns = [F.col(name).alias(name, metadata={"collected": True}) for name in names]
    data, indices, row_of, labels, weights = [], [], [], [], []
    size, stored = 0, 0
    for number, row in enumerate(featurized.select(*columns).toLocalIterator()):
        vector = row[0]
        size = vector.size
        if hasattr(vector, "indices"):
            idx, values = vector.indices, vector.values
        else:
            dense = vector.toArray()
            idx = np.flatnonzero(dense)
            values = dense[idx]
        stored += len(idx)
        if stored > MAX_DRIVER_VALUES:
            return None
        data.append(values)
        indices.append(idx)
        row_of.append(np.full(len(idx), number, dtype=np.int64))
        labels.append(row[1])
        weights.append(row[2] if weight_col else 1.0)
    join = lambda parts, kind: np.concatenate(parts).astype(kind) if parts else np.zeros(0, kind)  # noqa: E731
    return Rows(
        join(data, np.float64),
        join(indices, np.int64),
        join(row_of, np.int64),
        np.array(labels, np.int64),
        np.array(weights, np.float64),
        size,
    )


def canonical_order(rows: Rows) -> Rows:
    """The rows sorted by their content, so that the same rows read in another order give the same fit.

    L-BFGS sums gradients row after row: a different order changes the last bits, the path, and where the
    stopping rule ends it (far above the last bit). Rows are ordered by two random projections of (values,
    label, weight); identical rows sort next to each other, where their order cannot matter."""
    rng = np.random.default_rng(20261206)
    keys = []
    for _ in range(2):
        projection = rng.standard_normal(rows.size)
        key = np.bincount(rows.row_of, weights=rows.data * projection[rows.indices], minlength=rows.count)
        keys.append(key + rng.standard_normal() * rows.labels + rng.standard_normal() * rows.weights)
    order = np.lexsort((keys[1], keys[0]))
    position = np.empty_like(order)
    position[order] = np.arange(rows.count)
    new_row_of = position[rows.row_of]
    values = np.argsort(new_row_of, kind="stable")  # values stay in their row's index order
    return Rows(
        rows.data[values],
        rows.indices[values],
        new_row_of[values],
        rows.labels[order],
        rows.weights[order],
        rows.size,
    )


def feature_deviations(rows: Rows) -> np.ndarray:
    """Each feature's weighted, unbiased standard deviation (MLlib's summarizer's)."""
    total = rows.weights.sum()
    value_weights = rows.weights[rows.row_of]
    mean = np.bincount(rows.indices, value_weights * rows.data, rows.size) / total
    square = np.bincount(rows.indices, value_weights * rows.data**2, rows.size) / total
    denominator = total - (rows.weights**2).sum() / total
    variance = np.maximum(square - mean**2, 0.0) * total / denominator if denominator > 0 else np.zeros(rows.size)
    return np.sqrt(variance)


def logistic_objective(
    rows: Rows,
    scaled: np.ndarray,
    classes: int,
    multinomial: bool,
    penalty: np.ndarray,
    reg: float,
    fit_intercept: bool,
) -> Callable[[np.ndarray], Tuple[float, np.ndarray]]:
    """f(theta) -> (objective, gradient); theta holds K x d coefficients then K intercepts (K = 1: binomial)."""
    k = classes if multinomial else 1
    d, n = rows.size, rows.count
    share = rows.weights / rows.weights.sum()
    onehot = np.zeros((n, k))
    if multinomial:
        onehot[np.arange(n), rows.labels] = 1.0
    else:
        onehot[:, 0] = rows.labels

    def evaluate(theta: np.ndarray) -> Tuple[float, np.ndarray]:
        coefficients, intercepts = theta[: k * d].reshape(k, d), theta[k * d :]
        margins = np.stack(
            [np.bincount(rows.row_of, scaled * coefficients[c, rows.indices], n) for c in range(k)], axis=1
        )
        margins += intercepts if fit_intercept else 0.0
        if multinomial:
            top = margins.max(axis=1, keepdims=True)
            log_total = top[:, 0] + np.log(np.exp(margins - top).sum(axis=1))
            loss = log_total - (margins * onehot).sum(axis=1)
            residual = np.exp(margins - log_total[:, None]) - onehot
        else:
            m = margins[:, 0]
            loss = np.logaddexp(0.0, m) - onehot[:, 0] * m
            residual = (1.0 / (1.0 + np.exp(-m)) - onehot[:, 0])[:, None]
        residual *= share[:, None]
        gradient = (
            np.stack([np.bincount(rows.indices, scaled * residual[rows.row_of, c], d) for c in range(k)])
            + reg * penalty * coefficients
        )
        intercept_gradient = residual.sum(axis=0) if fit_intercept else np.zeros(k)
        value = float(share @ loss) + 0.5 * reg * float((penalty * coefficients**2).sum())
        return value, np.concatenate([gradient.ravel(), intercept_gradient])

    return evaluate


def lbfgs(evaluate, start: np.ndarray, max_iter: int, tol: float) -> np.ndarray:
    """Minimize a smooth convex function: L-BFGS directions, backtracking (Armijo) steps."""
    theta, (value, gradient) = start, evaluate(start)
    steps, changes, history = [], [], [value]
    for _ in range(max_iter):
        direction = -two_loop(gradient, steps, changes)
        slope = float(gradient @ direction)
        if slope >= 0:  # not a descent direction: restart from the gradient
            steps, changes, direction = [], [], -gradient
            slope = float(gradient @ direction)
        if slope == 0:
            break
        step = 1.0 if steps else min(1.0, 1.0 / max(np.abs(gradient).sum(), 1e-12))
        while True:
            candidate = theta + step * direction
            new_value, new_gradient = evaluate(candidate)
            if new_value <= value + 1e-4 * step * slope or step < 1e-20:
                break
            step *= 0.5
        s, y = candidate - theta, new_gradient - gradient
        if float(s @ y) > 1e-12:
            steps, changes = [*steps, s][-HISTORY:], [*changes, y][-HISTORY:]
        theta, value, gradient = candidate, new_value, new_gradient
        if max(history[-VALUE_MEMORY:]) - value <= tol * abs(history[0]):
            break
        history.append(value)
    return theta


def two_loop(gradient: np.ndarray, steps, changes) -> np.ndarray:
    """The L-BFGS product of the inverse Hessian estimate and the gradient."""
    q, alphas = gradient.copy(), []
    for s, y in zip(reversed(steps), reversed(changes)):
        alpha = float(s @ q) / float(y @ s)
        alphas.append(alpha)
        q -= alpha * y
    if steps:
        q *= float(steps[-1] @ changes[-1]) / float(changes[-1] @ changes[-1])
    for (s, y), alpha in zip(zip(steps, changes), reversed(alphas)):
        q += (alpha - float(y @ q) / float(y @ s)) * s
    return q


def fit_logistic(rows: Rows, classes: int, multinomial: bool, params: Dict[str, Any]) -> Tuple[np.ndarray, np.ndarray]:
    """(coefficients K x d, intercepts K) on the original feature scale, MLlib's optimum."""
    deviations = feature_deviations(rows)
    used = deviations > 0
    inverse = np.where(used, 1.0 / np.where(used, deviations, 1.0), 0.0)
    scaled = rows.data * inverse[rows.indices]
    standardize = bool(params.get("standardization", True))
    penalty = np.where(used, 1.0 if standardize else inverse**2, 0.0)
    k = classes if multinomial else 1
    fit_intercept = bool(params.get("fitIntercept", True))
    evaluate = logistic_objective(
        rows, scaled, classes, multinomial, penalty, float(params.get("regParam", 0.0)), fit_intercept
    )
    theta = lbfgs(
        evaluate, np.zeros(k * rows.size + k), int(params.get("maxIter", 100)), float(params.get("tol", 1e-6))
    )
    coefficients = theta[: k * rows.size].reshape(k, rows.size) * inverse
    intercepts = theta[k * rows.size :] if fit_intercept else np.zeros(k)
    if multinomial and fit_intercept:
        intercepts = intercepts - intercepts.mean()
    return coefficients, intercepts


def class_count(featurized, rows: Rows) -> int:
    """MLlib's number of classes: the label column's metadata, else the largest label + 1."""
    attribute = featurized.schema["label"].metadata.get("ml_attr", {})
    declared = attribute.get("num_vals") or len(attribute.get("vals", []))
    return max(int(declared or 0), int(rows.labels.max()) + 1 if rows.count else 2)


def fit_in_driver(spark, estimator, featurized, params: Dict[str, Any]):
    """The fitted LogisticRegressionModel, or None when the rows or coefficients are too many for the driver."""
    rows = collect_rows(featurized, params.get("weightCol"))
    if rows is None or rows.count == 0:
        return None
    classes = class_count(featurized, rows)
    family = estimator.getOrDefault("family")
    multinomial = family == "multinomial" or (family == "auto" and classes > 2)
    if rows.size * (classes if multinomial else 1) > MAX_DRIVER_COEFFICIENTS:
        return None
    coefficients, intercepts = fit_logistic(canonical_order(rows), classes, multinomial, params)
    return logistic_model(spark, estimator, coefficients, intercepts, classes if multinomial else 2, multinomial)

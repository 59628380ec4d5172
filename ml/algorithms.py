"""The estimators per model type, Amazon ML's training parameters mapped to MLlib's, and tuning grids.

Algorithms (`--algorithm`; the first of each type is its default):
  BINARY      logistic (LogisticRegression), svm (LinearSVC), fm (FMClassifier)
  MULTICLASS  logistic (multinomial LogisticRegression), svm (OneVsRest over LinearSVC)
  REGRESSION  linear (LinearRegression), fm (FMRegressor)
  RECOMMEND   als (ALS; see ml.recommend)

Amazon ML parameters (`--params JSON`, beside any MLlib param of the estimator by its own name):
  sgd.maxPasses               -> maxIter (each L-BFGS/OWL-QN/gd iteration is one pass over the rows)
  sgd.l2RegularizationAmount  -> regParam, elasticNetParam 0 (pure L2)
  sgd.l1RegularizationAmount  -> regParam, elasticNetParam 1 (pure L1; logistic and linear only)
  sgd.shuffleType             auto|none: accepted and recorded; MLlib's solvers are full-batch (every
                              pass sees every row), so row order cannot change the fit
  sgd.maxMLModelSizeInBytes   caps the hashed token slots: the largest power of two whose
                              coefficients (8 bytes each, times the classes for MULTICLASS) fit
L1 and L2 together are refused, as in Amazon ML. Defaults when not given: L2 1e-6 (Amazon ML's
console default) and a fit that runs to convergence: tol 1e-7 with maxIter 1000 only as a safety cap
(logistic, linear, svm). A cap of 100 stopped L-BFGS on hashed text at 0.5-0.8 % above the optimum the
solver converges to, which moved macro F1 by up to 0.005 either way; tol 1e-6 left 1.7e-4 (docs/amazon-ml.md).
fm keeps maxIter 100 (its gd/adamW solver runs every iteration it is given).
`standardization` defaults to false when the features hold token
slots (hashed or vocabulary indicators: scaling each slot by its deviation re-weights rare tokens
and measured 12 points of accuracy lost on hashed text) and true for numeric-only features.
"""

from __future__ import annotations

import json
import math
from typing import Any, Dict, List, Optional, Tuple

from core.errors import UsageError
from ml.model_types import MODEL_TYPES

ALGORITHMS = {name: row.algorithms for name, row in MODEL_TYPES.items()}
AMAZON_KEYS = (
    "sgd.maxPasses",
    "sgd.shuffleType",
    "sgd.l1RegularizationAmount",
    "sgd.l2RegularizationAmount",
    "sgd.maxMLModelSizeInBytes",
)
DEFAULT_MAX_ITER = 1000
DEFAULT_TOL = 1e-7
FM_MAX_ITER = 100
DEFAULT_L2 = 1e-6
MAPPING_HELP = (
    "Amazon ML --params: sgd.maxPasses -> maxIter; sgd.l2RegularizationAmount -> regParam with "
    "elasticNetParam 0; sgd.l1RegularizationAmount -> regParam with elasticNetParam 1 (not with L2); "
    "sgd.shuffleType auto|none recorded (full-batch solvers); sgd.maxMLModelSizeInBytes caps the hashed "
    "slots so coefficients fit (8 bytes each). Any other key is an MLlib param of the estimator "
    "(e.g. regParam, maxIter, stepSize, factorSize, rank, alpha)."
)


def default_algorithm(model_type: str) -> str:
    """The default algorithm of a model type."""
    return ALGORITHMS[model_type][0]


def check_algorithm(model_type: str, algorithm: Optional[str]) -> str:
    """The algorithm to use; UsageError naming --algorithm when it does not fit the type."""
    chosen = algorithm or default_algorithm(model_type)
    if chosen not in ALGORITHMS[model_type]:
        raise UsageError(
            f"--algorithm {chosen!r} is not available for {model_type}; "
            f"choose one of {', '.join(ALGORITHMS[model_type])}"
        )
    return chosen


def parse_params(text: Optional[str]) -> Dict[str, Any]:
    """The --params JSON object."""
    if not text:
        return {}
    try:
        params = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"--params: not valid JSON: {error.msg} at column {error.colno}") from None
    if not isinstance(params, dict):
        raise UsageError('--params: expected a JSON object such as {"sgd.maxPasses": 20}')
    return params


# MLlib's own bounds of its numeric params (its ParamValidators), checked before any data is read:
# key -> (lowest, highest, integer?, lowest excluded?)
PARAM_BOUNDS = {
    "maxIter": (0, 10**6, True, False),
    "regParam": (0.0, math.inf, False, False),
    "elasticNetParam": (0.0, 1.0, False, False),
    "tol": (0.0, math.inf, False, False),
    "stepSize": (0.0, math.inf, False, True),
    "factorSize": (1, 10**4, True, False),
    "initStd": (0.0, math.inf, False, False),
    "miniBatchFraction": (0.0, 1.0, False, True),
    "threshold": (0.0, 1.0, False, False),
    "aggregationDepth": (2, 1000, True, False),
    "maxBlockSizeInMB": (0.0, math.inf, False, False),
    "rank": (1, 10**4, True, False),
    "alpha": (0.0, math.inf, False, False),
    "numUserBlocks": (1, 10**5, True, False),
    "numItemBlocks": (1, 10**5, True, False),
    "checkpointInterval": (1, 10**6, True, False),
}


def check_param_values(params: Dict[str, Any]) -> None:
    """Exit 2 naming --params and the key for a value MLlib would refuse at fit time (or a non-finite number)."""
    for key, value in params.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"--params: {key} = {value!r} is not a finite number")
        if key not in PARAM_BOUNDS:
            continue
        low, high, integer, open_low = PARAM_BOUNDS[key]
        kind = "an integer" if integer else "a number"
        number_ok = isinstance(value, int if integer else (int, float)) and not isinstance(value, bool)
        if not number_ok or not (low < value if open_low else low <= value) or value > high:
            bound = f"over {low:g}" if open_low else f"from {low:g}"
            raise UsageError(f"--params: {key} = {value!r}: must be {kind} {bound} to {high:g}")


def _positive_number(params: Dict[str, Any], key: str, low: float, high: float) -> float:
    value = params[key]
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise UsageError(f"--params: {key} must be a number from {low:g} to {high:g}, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise UsageError(f"--params: {key} must be a number, got {value!r}") from None
    if not low <= number <= high:
        raise UsageError(f"--params: {key} = {value!r} is out of range ({low:g} to {high:g})")
    return number


def map_amazon_params(params: Dict[str, Any], model_type: str, algorithm: str) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """(MLlib params, layout hints) from --params: Amazon ML keys mapped, MLlib keys passed through."""
    mllib = {k: v for k, v in params.items() if not k.startswith("sgd.")}
    unknown = sorted(k for k in params if k.startswith("sgd.") and k not in AMAZON_KEYS)
    if unknown:
        raise UsageError(
            f"--params: unknown Amazon ML parameter(s) {', '.join(unknown)}; known: {', '.join(AMAZON_KEYS)}"
        )
    hints: Dict[str, Any] = {}
    if "sgd.maxPasses" in params:
        mllib["maxIter"] = int(_positive_number(params, "sgd.maxPasses", 1, 10000))
    l1, l2 = "sgd.l1RegularizationAmount" in params, "sgd.l2RegularizationAmount" in params
    if l1 and l2:
        raise UsageError("--params: sgd.l1RegularizationAmount and sgd.l2RegularizationAmount cannot be combined")
    if l2:
        mllib["regParam"] = _positive_number(params, "sgd.l2RegularizationAmount", 0, float("inf"))
        if algorithm in ("logistic", "linear"):
            mllib["elasticNetParam"] = 0.0
    if l1:
        if algorithm not in ("logistic", "linear"):
            raise UsageError(
                f"--params: sgd.l1RegularizationAmount needs --algorithm logistic or linear, not {algorithm}"
            )
        mllib["regParam"] = _positive_number(params, "sgd.l1RegularizationAmount", 0, float("inf"))
        mllib["elasticNetParam"] = 1.0
    if "sgd.shuffleType" in params:
        if str(params["sgd.shuffleType"]).lower() not in ("auto", "none"):
            raise UsageError(f"--params: sgd.shuffleType must be auto or none, got {params['sgd.shuffleType']!r}")
        hints["shuffleType"] = str(params["sgd.shuffleType"]).lower()
    if "sgd.maxMLModelSizeInBytes" in params:
        hints["maxModelBytes"] = int(_positive_number(params, "sgd.maxMLModelSizeInBytes", 100000, 2147483648))
    check_param_values(mllib)
    return mllib, hints


def token_slots(max_model_bytes: Optional[int], classes: int, wanted: int = 2**18) -> int:
    """Hashed slots within the model-size cap: the largest power of two <= wanted that fits."""
    if not max_model_bytes:
        return wanted
    slots = wanted
    while slots > 1024 and slots * 8 * max(1, classes) > max_model_bytes:
        slots //= 2
    return slots


def _estimator(model_type: str, algorithm: str):
    from pyspark.ml import classification as C
    from pyspark.ml import regression as R

    if model_type == "BINARY":
        return {"logistic": C.LogisticRegression, "svm": C.LinearSVC, "fm": C.FMClassifier}[algorithm]()
    if model_type == "MULTICLASS":
        if algorithm == "svm":
            return C.OneVsRest(classifier=C.LinearSVC(), parallelism=2)
        return C.LogisticRegression(family="multinomial")
    return {"linear": R.LinearRegression, "fm": R.FMRegressor}[algorithm]()


def defaults(algorithm: str, has_tokens: bool) -> Dict[str, Any]:
    """lakeml's defaults for an algorithm before --params (see the module text)."""
    if algorithm == "fm":
        return {"maxIter": FM_MAX_ITER, "stepSize": 0.01, "factorSize": 8, "regParam": 0.0}
    out: Dict[str, Any] = {"maxIter": DEFAULT_MAX_ITER, "tol": DEFAULT_TOL, "regParam": DEFAULT_L2}
    if algorithm in ("logistic", "linear", "svm"):
        out["standardization"] = not has_tokens
    return out


def build_estimator(model_type: str, algorithm: str, params: Dict[str, Any], has_tokens: bool, weight_col=None):
    """(unfitted estimator, the params it got): defaults, then --params; UsageError for an unknown param."""
    estimator = _estimator(model_type, algorithm)
    target = estimator.getClassifier() if model_type == "MULTICLASS" and algorithm == "svm" else estimator
    chosen = {**defaults(algorithm, has_tokens), **params}
    if weight_col:
        if not target.hasParam("weightCol"):
            raise UsageError(f"--class-weight: --algorithm {algorithm} takes no row weights; use logistic or svm")
        chosen["weightCol"] = weight_col
    for key, value in chosen.items():
        if not target.hasParam(key):
            raise UsageError(
                f"--params: {key!r} is not a parameter of {type(target).__name__} (--algorithm {algorithm})"
            )
        try:
            target._set(**{key: value})
        except (TypeError, ValueError) as error:
            raise UsageError(f"--params: {key} = {value!r}: {error}") from None
    estimator.setFeaturesCol("features").setLabelCol("label")
    return estimator, chosen


def grid(estimator, model_type: str, algorithm: str) -> List[Dict[Any, Any]]:
    """The small declared grid --tune searches."""
    from pyspark.ml.tuning import ParamGridBuilder

    target = estimator.getClassifier() if model_type == "MULTICLASS" and algorithm == "svm" else estimator
    builder = ParamGridBuilder()
    if algorithm == "fm":
        builder.addGrid(target.stepSize, [0.01, 0.05]).addGrid(target.factorSize, [4, 8])
    else:
        builder.addGrid(target.regParam, [1e-4, 1e-2, 1e-1])
        if algorithm in ("logistic", "linear"):
            builder.addGrid(target.elasticNetParam, [0.0, 0.5])
    return builder.build()


def tuning_evaluator(model_type: str):
    """The evaluator --tune maximizes or minimizes (MULTICLASS: MLlib's weighted F1, its closest to macro F1)."""
    from pyspark.ml import evaluation as E

    if model_type == "BINARY":
        return E.BinaryClassificationEvaluator(metricName="areaUnderROC")
    if model_type == "MULTICLASS":
        return E.MulticlassClassificationEvaluator(metricName="f1")
    return E.RegressionEvaluator(metricName="rmse")


def tuner(estimator, model_type: str, algorithm: str, folds: Optional[int], seed: int = 7):
    """TrainValidationSplit (75/25 of the training rows), or CrossValidator with --folds K; parallelism 2."""
    from pyspark.ml.tuning import CrossValidator, TrainValidationSplit

    common = dict(
        estimator=estimator,
        estimatorParamMaps=grid(estimator, model_type, algorithm),
        evaluator=tuning_evaluator(model_type),
        parallelism=2,
        seed=seed,
    )
    if folds:
        return CrossValidator(numFolds=folds, **common)
    return TrainValidationSplit(trainRatio=0.75, **common)


def best_params(tuned) -> Dict[str, Any]:
    """The chosen grid point of a fitted tuner, by param name."""
    import numpy as np

    metrics = tuned.avgMetrics if hasattr(tuned, "avgMetrics") else tuned.validationMetrics
    larger = tuned.getEvaluator().isLargerBetter()
    index = int(np.argmax(metrics) if larger else np.argmin(metrics))
    return {param.name: value for param, value in tuned.getEstimatorParamMaps()[index].items()}


def check_finite(model, algorithm: str) -> None:
    """FM's solvers can diverge to NaN silently: fail clearly instead of registering such a model."""
    import numpy as np

    if algorithm != "fm":
        return
    parts = [model.linear.toArray(), model.factors.toArray(), np.array([model.intercept])]
    if not all(np.isfinite(p).all() for p in parts):
        raise UsageError(
            "the factorization machine diverged (NaN or infinite weights); lower stepSize in --params "
            '(e.g. {"stepSize": 0.001}), try {"solver": "gd"}, or scale the numeric inputs (normalize)'
        )

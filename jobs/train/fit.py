"""Fitting a supervised model: feature stages fitted on the training rows only, then the estimator (tuned or not)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from core.errors import UsageError
from core.log import stage
from jobs.train.conf import TrainSettings

WEIGHT_COL = "__weight"


@dataclass
class Fitted:
    """A fitted whole model and what its metadata records."""

    model: Any
    params: Dict[str, Any]
    feature_model: Any = None
    estimator_model: Any = None
    classes: List[str] = field(default_factory=list)
    tuned: Optional[Dict[str, Any]] = None
    num_features: int = 0
    layout: str = ""
    tables: Dict[str, Any] = field(default_factory=dict)  # DataFrames saved in the version (RECOMMEND: seen/)


def check_target(model_type: str, schema: Dict[str, Any]) -> str:
    """The target's name; exit 2 naming it when absent or of a type the model type cannot learn."""
    from features.schema import attribute_types
    from ml.model_types import model_type as type_row

    target = schema.get("targetAttributeName")
    if not target:
        raise UsageError("--schema: targetAttributeName is not set; training needs a target")
    kind = schema.get("targetType") or attribute_types(schema).get(target)
    wanted = type_row(model_type).target_types
    if kind not in wanted:
        want = " or ".join(wanted)
        raise UsageError(
            f"--schema: target {target} is {kind}; a {model_type} model needs a {want} target "
            f"(change --model-type or the attribute's type)"
        )
    return target


def check_classes(model_type: str, target: str, train) -> int:
    """The number of distinct labels in the training rows; exit 2 when there is only one."""
    classes = train.select("label").distinct().count()
    if model_type in ("BINARY", "MULTICLASS") and classes < 2:
        raise UsageError(
            f"target {target}: the training rows hold only {classes} class(es); a classifier needs at least two"
        )
    return classes


def balanced_weights(train):
    """Rows weighted n / (classes * n_class), so each class weighs the same in the loss."""
    from pyspark.sql import functions as F

    counts = {r["label"]: r["count"] for r in train.groupBy("label").count().collect()}
    total, k = sum(counts.values()), len(counts)
    pairs = [part for label, n in counts.items() for part in (F.lit(label), F.lit(total / (k * n)))]
    return train.withColumn(WEIGHT_COL, F.create_map(*pairs)[F.col("label")])


def feature_stages(data, settings: TrainSettings, classes_hint: int):
    """The unfitted recipe pipeline, the hashed size, and whether the features hold token slots."""
    from features.recipe import compile_recipe, plan_recipe
    from ml.algorithms import token_slots

    slots = token_slots(settings.hints.get("maxModelBytes"), classes_hint, settings.num_features)
    planned = plan_recipe(data.schema, data.recipe)
    layout = settings.layout
    if layout == "auto":  # few distinct tokens without text: a fitted vocabulary keeps the vector small
        layout = "hashed" if any(has_text(out["expr"]) for out in planned.plan["tokens"]) else "vocabulary"
    pipeline = compile_recipe(
        data.schema, data.recipe, slots, vocabulary=layout == "vocabulary", weighting=settings.weighting
    )
    return pipeline, slots, bool(planned.token_labels), layout


def has_text(node: Dict[str, Any]) -> bool:
    """True when a recipe plan node reads a TEXT attribute (its tokens are open-ended)."""
    if node.get("op") == "attr":
        return node.get("type") == "TEXT"
    return any(has_text(child) for child in [node.get("arg"), *node.get("args", [])] if isinstance(child, dict))


def classes_of(feature_model) -> List[str]:
    """Class labels in index order from the fitted LabelModel (BINARY: 0, 1)."""
    from features.stages import LabelModel

    for s in feature_model.stages:
        if isinstance(s, LabelModel) and s.getOrDefault("targetType") == "CATEGORICAL":
            return list(s.getOrDefault("labels"))
    return ["0", "1"]


def fit_estimator(train, settings: TrainSettings, has_tokens: bool, rows: int):
    """The fitted estimator, its params, (with --tune) the chosen grid point, and where it was fitted."""
    from ml.algorithms import best_params, build_estimator, check_finite, tuner

    weight = WEIGHT_COL if settings.class_weight == "balanced" else None
    estimator, params = build_estimator(
        settings.model_type, settings.algorithm, settings.mllib_params, has_tokens, weight
    )
    if weight:
        train = balanced_weights(train)
    if not settings.tune:
        model, solver = fit_once(estimator, train, settings, params, rows)
        check_finite(model, settings.algorithm)
        return model, params, None, solver
    search = tuner(estimator, settings.model_type, settings.algorithm, settings.folds).fit(train)
    check_finite(search.bestModel, settings.algorithm)
    chosen = best_params(search)
    return search.bestModel, {**params, **chosen}, {"grid_best": chosen, "folds": settings.folds or 0}, "mllib"


def fit_once(estimator, train, settings: TrainSettings, params: Dict[str, Any], rows: int):
    """(model, "driver" or "mllib"): fitted in the driver when the rows fit there (ml.driver_fit), else by MLlib."""
    from ml.driver_fit import driver_eligible, fit_in_driver

    if driver_eligible(settings.algorithm, params, settings.tune, rows):
        model = fit_in_driver(train.sparkSession, estimator, train, params)
        if model is not None:
            return model, "driver"
    return estimator.fit(train), "mllib"


def featurize(fitted: Fitted, data, rows):
    """Rows as the estimator sees them: through the fitted recipe stages (a feature set's rows already are)."""
    return rows if data.feature_pipeline is not None else fitted.feature_model.transform(rows)


def fit_supervised(data, train_rows, settings: TrainSettings) -> Tuple[Fitted, Any]:
    """(Fitted, featurized training rows): the feature stages and estimator fitted on train_rows only."""
    from pyspark.ml import PipelineModel

    target = check_target(settings.model_type, data.schema)
    with stage("features") as counts:
        if data.feature_pipeline is not None:
            feature_model, slots, layout = data.feature_pipeline, 0, "feature set"
            has_tokens = True
            featurized = train_rows
        else:
            pipeline, slots, has_tokens, layout = feature_stages(data, settings, 1)
            feature_model = pipeline.fit(train_rows)
            featurized = feature_model.transform(train_rows)
        featurized = featurized.where("label IS NOT NULL").select("features", "label").cache()
        rows = counts["rows"] = featurized.count()
    classes = classes_of(feature_model) if settings.model_type != "REGRESSION" else []
    check_classes(settings.model_type, target, featurized)
    with stage("fit") as counts:
        model, params, tuned, solver = fit_estimator(featurized, settings, has_tokens, rows)
        counts.update(algorithm=settings.algorithm, tuned=bool(tuned), solver=solver)
    whole = PipelineModel(stages=[*feature_model.stages, model])
    return Fitted(whole, params, feature_model, model, classes, tuned, slots, layout), featurized

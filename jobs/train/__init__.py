"""train: an MLlib model from an Amazon ML datasource, a lake table or a feature set, evaluated against
its baseline and registered on the lake behind the champion gate.

    ./spark-submit.sh local|emr train --name NAME --model-type BINARY|MULTICLASS|REGRESSION|RECOMMEND
        (--data URI [--schema URI] [--recipe URI] | --table NAME --schema URI [--recipe URI]
         | --features SET [--run-date D | --since D]) [--algorithm A] [--params JSON] [--split JSON]
        [--tune [--folds K]] [--class-weight balanced] [--cutoff C] [--min-gain G]

Steps: read the input (CSV rejects to <lake>/quarantine/train/, over 10,000 fail the run with exit 3);
split it by the DataRearrangement (training rows only ever reach fitting, tuning included); fit the
recipe's feature stages (the suggested recipe without --recipe; a feature set's own fitted stages
with --features) and the estimator; evaluate on the held-out rows beside the type's baseline;
register the whole PipelineModel as models/<name>/v<N>/ with its report; make it the champion only
when it beats the champion by --min-gain and its baseline. The report (HTML, PNGs, JSON) is written
to <lake>/reports/train/<run_date>/<name>/ and into the version.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Dict

from core.cli import fraction, local_file
from core.context import RunContext, settings_from
from core.errors import UsageError
from core.lake import join, normalize_uri
from core.log import stage
from core.session import checkpoint_folder
from core.summary import RunSummary
from jobs.train.conf import TrainSettings
from ml.version_record import VersionRecord

HELP = "train an MLlib model from a datasource, table or feature set; evaluate it, register it, gate the champion"
JOB = "train"


def add_arguments(parser) -> None:
    from ml.algorithms import ALGORITHMS, MAPPING_HELP
    from ml.model_types import TYPE_NAMES

    parser.add_argument("--name", required=True, help="model name: models/<name>/ in the lake")
    parser.add_argument("--model-type", required=True, choices=TYPE_NAMES, type=str.upper)
    src = parser.add_argument_group("input (one form)")
    src.add_argument("--data", type=local_file, help="CSV datasource: one file or a prefix (folder) of files")
    src.add_argument("--schema", type=local_file, help="Amazon ML schema JSON (default <data>.schema)")
    src.add_argument("--recipe", type=local_file, help="Amazon ML recipe (default: the suggested recipe)")
    src.add_argument("--table", help="a lake table (<lake>/tables/NAME) with --schema naming its columns")
    src.add_argument("--features", help="a feature set (<lake>/features/SET) written by build_features")
    src.add_argument("--since", help="with --features: rows of every run date >= this one (default: --run-date)")
    fit = parser.add_argument_group("fitting")
    choices = "; ".join(f"{t}: {', '.join(a)}" for t, a in ALGORITHMS.items())
    fit.add_argument("--algorithm", help=f"default: the first of the type's ({choices})")
    fit.add_argument("--params", help=f"JSON object of parameters. {MAPPING_HELP}")
    fit.add_argument(
        "--split",
        help='DataRearrangement of the training rows, e.g. {"splitting": {"percentBegin": 0, '
        '"percentEnd": 70, "strategy": "random", "randomSeed": "7"}}; evaluation = the complement '
        "(default sequential 0-70)",
    )
    fit.add_argument("--tune", action="store_true", help="search a small grid with TrainValidationSplit (75/25)")
    fit.add_argument("--folds", type=int, help="with --tune: CrossValidator with K folds instead")
    fit.add_argument("--class-weight", choices=("none", "balanced"), default="none")
    fit.add_argument("--num-features", type=int, default=2**18, help="token slots of the feature vector")
    fit.add_argument(
        "--layout",
        choices=("auto", "hashed", "vocabulary"),
        default="auto",
        help="token slots hashed, or a vocabulary fitted on the training rows; auto: vocabulary "
        "unless the recipe reads TEXT",
    )
    fit.add_argument(
        "--weighting",
        choices=("binary", "tfidf"),
        default="binary",
        help="token slots: binary (Amazon ML: a token set) or tfidf (beyond Amazon ML: counts x inverse document "
        "frequency, each row's token part scaled to unit length)",
    )
    ev = parser.add_argument_group("evaluation and registry")
    ev.add_argument("--cutoff", type=fraction, default=0.5, help="BINARY: scores >= cutoff are 1")
    ev.add_argument("--min-gain", type=float, default=0.0, help="promote only when the type metric gains this much")
    ev.add_argument("--k", type=int, default=10, help="RECOMMEND: list length for precision@k and NDCG@k")
    ev.add_argument(
        "--refit",
        action="store_true",
        help="after evaluating the fit on the split's training rows, fit again on every row with the same "
        "settings and publish that model (the version keeps the evaluated fit's metrics)",
    )
    rec = parser.add_argument_group("RECOMMEND")
    rec.add_argument("--implicit", action="store_true", help="events (implicit feedback) instead of ratings")
    rec.add_argument("--user-col", help="default: the first CATEGORICAL attribute")
    rec.add_argument("--item-col", help="default: the second CATEGORICAL attribute")
    rec.add_argument("--rating-col", help="default: the schema's target")


def validate(args) -> TrainSettings:
    """Flag checks that need no Spark; the settings with the algorithm, MLlib parameters, split and URIs resolved."""
    from core.names import check_name
    from ml.algorithms import check_algorithm, map_amazon_params, parse_params
    from ml.split import parse_split

    check_name(args.name, "--name")
    for flag in ("table", "features"):
        if getattr(args, flag) is not None:
            check_name(getattr(args, flag), f"--{flag}")
    forms = [f for f in ("data", "table", "features") if getattr(args, f)]
    if len(forms) != 1:
        raise UsageError("give exactly one input: --data URI, --table NAME (with --schema) or --features SET")
    if args.features and args.model_type == "RECOMMEND":
        raise UsageError("--features: RECOMMEND trains from --data or --table (user, item and rating columns)")
    if args.since and not args.features:
        raise UsageError("--since goes with --features")
    if args.folds is not None and (args.folds < 2 or not args.tune):
        raise UsageError("--folds K needs --tune and K >= 2")
    if not math.isfinite(args.min_gain):
        raise UsageError(f"--min-gain {args.min_gain}: give a finite number (the metric gain a new champion needs)")
    if not 1 <= args.num_features <= 2**26:
        raise UsageError("--num-features must be from 1 to 2^26")
    algorithm = check_algorithm(args.model_type, args.algorithm)
    mllib_params, hints = map_amazon_params(parse_params(args.params), args.model_type, algorithm)
    split_spec = parse_split(args.split)
    given = [flag for flag in ("data", "schema", "recipe") if getattr(args, flag)]
    uris = {flag: normalize_uri(getattr(args, flag), f"--{flag}") for flag in given}
    return settings_from(
        TrainSettings,
        args,
        algorithm=algorithm,
        mllib_params=mllib_params,
        hints=hints,
        split_spec=split_spec,
        **uris,
    )


def quarantine(context: RunContext, data) -> None:
    """Rejected CSV lines to <lake>/quarantine/train/ (a re-run of the run date replaces its own)."""
    from core.quality import publish_read_rejects

    if data.rejects is not None and data.rows_rejected:
        publish_read_rejects(data.rejects, data.files, JOB, context.lake, context.run_id, context.run_date)


def split_rows(data, split_spec):
    """(training rows, evaluation rows, the split's record) by the DataRearrangement."""
    from ml.split import apply_split

    rows = data.rows.cache()
    train, test = apply_split(rows, split_spec)
    n_train, n_test = train.count(), test.count()
    if not n_train or not n_test:
        raise UsageError(f"--split leaves {n_train} training and {n_test} evaluation rows; both need rows")
    record = {**split_spec.to_dict(), "name": split_spec.split_name}
    return train, test, {**record, "train_rows": n_train, "eval_rows": n_test}


def train_supervised(spark, settings: TrainSettings, data, train, test, split: Dict[str, Any]):
    """Fit and evaluate BINARY, MULTICLASS or REGRESSION: (fitted, evaluation, the record's supervised fields)."""
    from features.recipe import suggest_recipe
    from jobs.train.fit import featurize, fit_supervised
    from ml.metrics import evaluate_predictions, training_baseline
    from ml.outputs import class_columns

    if data.recipe_suggested:
        data.recipe = suggest_recipe(data.schema, train)
    fitted, featurized = fit_supervised(data, train, settings)
    with stage("evaluate") as counts:
        info = training_baseline(settings.model_type, featurized)
        predictions = fitted.estimator_model.transform(featurize(fitted, data, test))
        evaluation = evaluate_predictions(settings.model_type, predictions, info, settings.cutoff, fitted.classes)
        counts.update(evaluation.metrics)
    featurized.unpersist()
    if settings.refit:
        fitted = refit_supervised(data, fitted, settings)
    typed = VersionRecord(
        classes=fitted.classes,
        class_columns=class_columns(fitted.classes) if settings.model_type == "MULTICLASS" else [],
        cutoff=settings.cutoff if settings.model_type == "BINARY" else None,
        num_features=fitted.num_features,
        layout=fitted.layout,
        weighting=settings.weighting,
    )
    return fitted, evaluation, typed


def refit_settings(settings: TrainSettings, params: Dict[str, Any]) -> TrainSettings:
    """The settings of the refit: the evaluated fit's parameters as they were chosen, no second search."""
    chosen = {k: v for k, v in params.items() if k != "weightCol"}  # fit_estimator adds it back from the flags
    return settings.model_copy(update={"tune": False, "folds": None, "mllib_params": chosen})


def refit_supervised(data, evaluated, settings: TrainSettings):
    """The published model fitted again on every row (feature stages too), after the evaluated fit."""
    from jobs.train.fit import fit_supervised

    with stage("refit") as counts:
        fitted, featurized = fit_supervised(data, data.rows, refit_settings(settings, evaluated.params))
        counts["rows"] = featurized.count()
        featurized.unpersist()
    fitted.tuned = evaluated.tuned
    return fitted


def train_recommender(spark, settings: TrainSettings, data, train, test, split: Dict[str, Any]):
    """Fit and evaluate RECOMMEND (ALS + bias baseline): (fitted, evaluation, the record's recommend field)."""
    from jobs.train.fit import Fitted
    from ml import recommend as R
    from ml.split import apply_split

    cols = R.recommend_columns(
        data.schema, settings.user_col, settings.item_col, settings.rating_col, settings.implicit
    )
    # ALS's iterations stack on the input's plan: cut it there, so its tasks stay shallow
    train_i = R.interactions(train, cols, settings.implicit).localCheckpoint()
    test_i = R.interactions(test, cols, settings.implicit).localCheckpoint()
    params, tuned = settings.mllib_params, None
    if settings.tune:
        with stage("tune") as counts:
            keyed = train_i if "_row" in train_i.columns else train_i.withColumn("_row", R.pair_key(cols))
            fit_rows, check_rows = (part.localCheckpoint() for part in apply_split(keyed, tuning_split(settings)))
            params, grid = R.tune_recommender(spark, fit_rows, check_rows, cols, settings.implicit, params, settings.k)
            tuned = {"grid_best": {"rank": params["rank"], "regParam": params["regParam"]}, "grid": grid}
            counts.update(tuned["grid_best"])
    with stage("fit") as counts:
        model, params = R.fit_recommender(train_i, cols, settings.implicit, params)
        counts.update(algorithm="als", rank=params["rank"])
    with stage("evaluate") as counts:
        evaluation = R.evaluate(
            spark,
            model,
            train_i,
            R.training_mean(train_i, cols["rating_col"]),
            test_i,
            cols,
            settings.implicit,
            settings.k,
        )
        counts.update(evaluation.metrics)
    rated = train_i.unionByName(test_i)
    if settings.refit:
        with stage("refit") as counts:
            model, params = R.fit_recommender(rated.localCheckpoint(), cols, settings.implicit, params)
            counts["rank"] = params["rank"]
    recommend = {**cols, "implicit": settings.implicit, "rating_range": R.model_rating_range(model)}
    typed = VersionRecord(recommend=recommend)
    # every rated pair, evaluation rows too: score must never recommend what a user already rated
    fitted = Fitted(model, params, tuned=tuned, tables={"seen": R.seen_pairs(rated, cols)})
    return fitted, evaluation, typed


def tuning_split(settings: TrainSettings):
    """The split --tune uses inside the training rows: the evaluation split's own strategy at 80/20 (a time
    split judges on each user's latest training rows), random 80/20 for events, which have no row order."""
    from ml.split import Split

    if settings.implicit or settings.split_spec.strategy in ("holdout", "sequential"):
        return Split(0.0, 80.0, "random", "7")
    return replace(settings.split_spec, percent_begin=0.0, percent_end=80.0, complement=False)


def record_split_and_classes(evaluation, split: Dict[str, Any]) -> None:
    """The metrics name the rows they come from, and MULTICLASS's F1 per class label (metrics.json too)."""
    evaluation.metrics["split"] = split["name"]
    if evaluation.tables.get("per_class") and evaluation.tables.get("classes"):
        pairs = zip(evaluation.tables["classes"], evaluation.tables["per_class"])
        evaluation.metrics["per_class_f1"] = {str(c): stats["f1"] for c, stats in pairs}


def published_rows(settings: TrainSettings, split: Dict[str, Any]) -> Dict[str, Any]:
    """Which rows the published model learned from (the metrics are always the evaluated fit's)."""
    if settings.refit:
        rows = split["train_rows"] + split["eval_rows"]
        return {"refit": True, "rows": rows, "text": f"all {rows} rows (refit after evaluation; --refit)"}
    rows = split["train_rows"]
    return {"refit": False, "rows": rows, "text": f"the {rows} training rows of the split {split['name']}"}


def run_info(settings: TrainSettings, data, fitted, split: Dict[str, Any]) -> Dict[str, Any]:
    """The facts of the run the report shows beside the metrics."""
    return {
        "published_rows": published_rows(settings, split),
        "train_rows": split["train_rows"],
        "eval_rows": split["eval_rows"],
        "split": split,
        "params": fitted.params,
        "tuned": fitted.tuned,
        "recipe": data.recipe,
    }


def version_metadata(
    context: RunContext,
    settings: TrainSettings,
    data,
    fitted,
    evaluation,
    split: Dict[str, Any],
    typed: VersionRecord,
) -> VersionRecord:
    """The version's record: the trainer's type fields (typed) and the run's; the registry adds name, version, ..."""
    return replace(
        typed,
        model_type=settings.model_type,
        algorithm=settings.algorithm,
        params=fitted.params,
        amazon_params=settings.params,
        schema=data.schema,
        recipe=data.recipe,
        recipe_suggested=data.recipe_suggested,
        metrics=evaluation.metrics,
        baseline=evaluation.baseline,
        worse_than_baseline=evaluation.worse_than_baseline,
        split=split,
        fitted_on=published_rows(settings, split),
        tuned=fitted.tuned,
        data_fingerprint=data.fingerprint,
        run_id=context.run_id,
        run_date=context.run_date,
        input=data.form,
    )


def train_summary(
    context: RunContext, settings: TrainSettings, data, split: Dict[str, Any], evaluation, decision, out: Dict[str, Any]
) -> RunSummary:
    """The run summary: the new version, whether it was promoted and why, its metrics and counts."""
    return RunSummary(
        job=JOB,
        run_id=context.run_id,
        run_date=context.run_date,
        inputs=data.files,
        outputs=[context.lake.models(settings.name) + "/" + out["version"], out["report_folder"]],
        rows_in=data.rows_in,
        rows_out=split["train_rows"] + split["eval_rows"],
        rows_rejected=data.rows_rejected,
        counts={
            "name": settings.name,
            "version": out["version"],
            "promoted": decision.promote,
            "reason": decision.reason,
            "metrics": evaluation.metrics,
            "baseline": evaluation.baseline,
            "worse_than_baseline": evaluation.worse_than_baseline,
            "train_rows": split["train_rows"],
            "eval_rows": split["eval_rows"],
            "report": out["report"],
            "invalid_values": data.invalid,
        },
    )


def run(spark, context: RunContext, settings: TrainSettings) -> RunSummary:
    from ml.lease import writer_lease

    with writer_lease(spark, context.lake.models(settings.name), settings.name, context.run_id, JOB):
        return train_and_publish(spark, context, settings)


def train_and_publish(spark, context: RunContext, settings: TrainSettings) -> RunSummary:
    """The run under the model's writer lease: read, split, fit, evaluate, publish."""
    from core.lake import delete
    from core.quality import require_observations
    from jobs.train.inputs import read_input
    from jobs.train.publish import promotion, publish

    checkpoints = context.lake.state("checkpoints", JOB, settings.name)
    delete(spark, checkpoints)  # what killed runs of this name left (the lease makes this run the only one)
    data = read_input(spark, context, settings)
    quarantine(context, data)
    require_observations(data.rows_in, data.rows_rejected, f"--{settings.input_flag}", data.files)
    train, test, split = split_rows(data, settings.split_spec)
    trainer = train_recommender if settings.model_type == "RECOMMEND" else train_supervised
    # the fitted model may read its checkpoints until it is published
    with checkpoint_folder(spark, join(checkpoints, context.run_id)):
        fitted, evaluation, typed = trainer(spark, settings, data, train, test, split)
        record_split_and_classes(evaluation, split)
        implicit = settings.implicit if settings.model_type == "RECOMMEND" else None
        decision = promotion(
            spark, context.lake, settings.name, settings.model_type, evaluation, settings.min_gain, implicit
        )
        metadata = version_metadata(context, settings, data, fitted, evaluation, split, typed)
        info = run_info(settings, data, fitted, split)
        out = publish(spark, context, settings, data, fitted, info, evaluation, decision, metadata)
    data.rows.unpersist()
    return train_summary(context, settings, data, split, evaluation, decision, out)

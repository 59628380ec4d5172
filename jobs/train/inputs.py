"""train's three input forms read into one shape: rows with `_row`, the schema, the recipe, counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from core.context import RunContext
from core.errors import UsageError
from core.lake import exists, join, normalize_uri, read_parsed, spark_uri
from core.log import stage
from core.tables import read_table
from jobs.train.conf import TrainSettings


@dataclass
class TrainingInput:
    """What a training reads: typed rows, where they came from, the schema and recipe, the counts."""

    rows: Any
    schema: Dict[str, Any]
    form: Dict[str, Any]
    rows_in: int
    rows_rejected: int = 0
    rejects: Any = None
    files: List[str] = field(default_factory=list)
    fingerprint: str = ""
    recipe: Optional[Dict[str, Any]] = None
    recipe_suggested: bool = False
    feature_pipeline: Any = None  # --features: the feature set's fitted PipelineModel
    invalid: Dict[str, int] = field(default_factory=dict)
    reasons: Dict[str, int] = field(default_factory=dict)


def read_recipe(spark, uri: Optional[str]) -> Optional[Dict[str, Any]]:
    """The parsed recipe at --recipe, or None (the suggested recipe is used)."""
    from features.recipe import RecipeError, parse_recipe

    return read_parsed(spark, uri, "--recipe", parse_recipe, RecipeError) if uri else None


def check_recipe_fits(schema: Dict[str, Any], recipe: Optional[Dict[str, Any]], flag: str = "--recipe") -> None:
    """The recipe type-checks against the schema (exit 2 naming the expression otherwise)."""
    from features.recipe import RecipeError, plan_recipe

    try:
        plan_recipe(schema, recipe)
    except RecipeError as error:
        raise UsageError(f"{flag}: {error}") from None


def training_input(ds, schema: Dict[str, Any], form: Dict[str, Any]) -> TrainingInput:
    """A datasource read by ml.datasource (CSV files or a lake table) as a TrainingInput."""
    return TrainingInput(
        rows=ds.rows,
        schema=schema,
        form=form,
        rows_in=ds.rows_in,
        rows_rejected=ds.rows_rejected,
        rejects=ds.rejects,
        files=ds.files,
        fingerprint=ds.fingerprint,
        invalid=ds.invalid,
        reasons=ds.reasons,
    )


def from_datasource(spark, settings: TrainSettings) -> TrainingInput:
    """--data (+ --schema, default <data>.schema): the CSV datasource, rejects kept for the quarantine."""
    from ml.datasource import default_schema_uri, read_datasource, read_schema

    schema_uri = (
        normalize_uri(settings.schema_uri, "--schema")
        if settings.schema_uri
        else default_schema_uri(spark, settings.data)
    )
    schema = read_schema(spark, schema_uri)
    with stage("read datasource") as counts:
        ds = read_datasource(spark, settings.data, schema, require_target=True)
        counts.update(rows_in=ds.rows_in, rejected=ds.rows_rejected, files=len(ds.files))
    form = {"form": "datasource", "data": ds.source, "schema": schema_uri, "files": ds.files}
    return training_input(ds, schema, form)


def from_table(spark, context: RunContext, settings: TrainSettings) -> TrainingInput:
    """--table NAME --schema: a lake table's columns named by the schema."""
    from ml.datasource import read_schema, read_table_datasource

    if not settings.schema_uri:
        raise UsageError("--table needs --schema (the Amazon ML schema naming the table's columns)")
    schema_uri = normalize_uri(settings.schema_uri, "--schema")
    schema = read_schema(spark, schema_uri)
    table_uri = context.lake.table(settings.table)
    ds = read_table_datasource(spark, table_uri, schema, require_target=True)
    return training_input(
        ds, schema, {"form": "table", "table": settings.table, "uri": table_uri, "schema": schema_uri}
    )


def feature_run_dates(spark, table_uri: str) -> List[str]:
    """The run dates present in a feature set, ascending."""
    rows = read_table(spark, table_uri).select("run_date").distinct().collect()
    return sorted(str(r["run_date"]) for r in rows)


def from_features(spark, context: RunContext, settings: TrainSettings) -> TrainingInput:
    """--features SET [--run-date D | --since D]: the feature rows and the set's fitted pipeline."""
    from pyspark.ml import PipelineModel
    from pyspark.sql import functions as F

    from features.stages import LabelModel

    table_uri = context.lake.features(settings.features)
    if not exists(spark, join(table_uri, "_delta_log")):
        raise UsageError(f"--features {settings.features}: no feature set at {table_uri}; run build_features first")
    dates = feature_run_dates(spark, table_uri)
    chosen = (
        [d for d in dates if d >= settings.since] if settings.since else [d for d in dates if d == context.run_date]
    )
    if not chosen:
        which = f"since {settings.since}" if settings.since else f"for --run-date {context.run_date}"
        raise UsageError(
            f"--features {settings.features}: no rows {which}; run dates there: {', '.join(dates) or 'none'}"
        )
    pipeline_uri = join(table_uri, "_pipeline", f"run_date={chosen[-1]}")
    pipeline = PipelineModel.load(spark_uri(pipeline_uri))
    labels = [s for s in pipeline.stages if isinstance(s, LabelModel)]
    if not labels:
        raise UsageError(f"--features {settings.features}: the feature set's schema has no target; train needs one")
    rows = read_table(spark, table_uri).where(F.col("run_date").cast("string").isin(chosen))
    rows = rows.drop(*[c for c in ("features", "label") if c in rows.columns])  # the set stores no vector
    rows = pipeline.transform(rows.withColumn("_row", F.monotonically_increasing_id()))
    kept = rows.where(F.col("label").isNotNull())
    counted = rows.agg(F.count(F.lit(1)).alias("total"), F.count("label").alias("labelled")).first()
    total, labelled = int(counted["total"]), int(counted["labelled"])
    schema = {"targetAttributeName": labels[0].getInputCol(), "targetType": labels[0].getOrDefault("targetType")}
    return TrainingInput(
        rows=kept,
        schema=schema,
        form={"form": "features", "feature_set": settings.features, "run_dates": chosen, "pipeline": pipeline_uri},
        rows_in=total,
        rows_rejected=total - labelled,
        files=[table_uri],
        fingerprint=f"features:{settings.features}:{','.join(chosen)}:{total}",
        feature_pipeline=pipeline,
        reasons={"missing or invalid target": total - labelled} if total - labelled else {},
    )


def read_input(spark, context: RunContext, settings: TrainSettings) -> TrainingInput:
    """The rows of whichever input form the flags name, with schema and recipe resolved."""
    if settings.features:
        return from_features(spark, context, settings)
    data = from_table(spark, context, settings) if settings.table else from_datasource(spark, settings)
    if settings.model_type != "RECOMMEND":
        recipe = read_recipe(spark, settings.recipe)
        check_recipe_fits(data.schema, recipe)
        data.recipe = recipe
        data.recipe_suggested = recipe is None
    return data

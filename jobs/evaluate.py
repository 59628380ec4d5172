"""evaluate: score a labelled datasource with a registered model and write the same report as train.

    ./spark-submit.sh local|emr evaluate --name NAME [--version vN] --data URI [--schema URI] [--cutoff C]

The model is the champion unless --version names another complete version. The datasource is
read by the CSV rules (rejects to <lake>/quarantine/evaluate/, over 10,000 fail with exit 3); its
attributes take the training schema's types where both have them (Amazon ML coerced an
evaluation datasource to the training types). Metrics sit beside the baseline the training
recorded (AUC 0.5, the most frequent training class, the training mean). The report (HTML, PNGs,
JSON) goes to <lake>/reports/evaluate/<run_date>/<name>-<version>/.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Optional

from core.cli import local_file
from core.conf import ConfModel, Field
from core.context import RunContext, settings_from
from core.errors import UsageError
from core.lake import join, normalize_uri
from core.log import stage
from core.summary import RunSummary
from ml.version_record import VersionRecord

HELP = "score a labelled datasource with a registered model (champion or --version) and write its evaluation report"
JOB = "evaluate"


def add_arguments(parser) -> None:
    parser.add_argument("--name", required=True, help="model name in the lake's registry")
    parser.add_argument("--version", help="vN (default: the champion)")
    parser.add_argument("--data", required=True, type=local_file, help="labelled CSV datasource: a file or prefix")
    parser.add_argument(
        "--schema", type=local_file, help="its Amazon ML schema (default <data>.schema, else the model's)"
    )
    parser.add_argument("--cutoff", type=float, help="BINARY: scores >= cutoff are 1 (default: the model's)")
    parser.add_argument("--k", type=int, help="RECOMMEND: list length (default: the model's)")


class EvaluateSettings(ConfModel):
    """The flags of evaluate (declared with their help in `add_arguments`), frozen after validate."""

    name: str
    version: Optional[str] = None
    data: str  # URIs normalized (normalize_uri)
    schema_uri: Optional[str] = Field(default=None, alias="schema")  # --schema (BaseModel has .schema)
    cutoff: Optional[float] = None
    k: Optional[int] = None


def validate(args) -> EvaluateSettings:
    """Flag checks that need no Spark; the settings with the URIs normalized."""
    from core.names import check_name
    from ml.registry import version_number

    check_name(args.name, "--name")
    if args.version:
        version_number(args.version)
    data = normalize_uri(args.data, "--data")
    schema = normalize_uri(args.schema, "--schema") if args.schema else None
    if args.cutoff is not None and not 0 <= args.cutoff <= 1:
        raise UsageError("--cutoff must be from 0 to 1")
    return settings_from(EvaluateSettings, args, data=data, schema=schema)


def coerce_schema(schema: Dict[str, Any], training: Dict[str, Any]) -> Dict[str, Any]:
    """The evaluation schema with each attribute's type taken from the training schema where it has one."""
    trained = {a["attributeName"]: a["attributeType"] for a in training.get("attributes", [])}
    attributes = [
        {**a, "attributeType": trained.get(a["attributeName"], a["attributeType"])} for a in schema["attributes"]
    ]
    return {
        **schema,
        "attributes": attributes,
        "targetAttributeName": schema.get("targetAttributeName") or training.get("targetAttributeName"),
    }


def evaluation_schema(spark, settings: EvaluateSettings, meta: VersionRecord) -> Dict[str, Any]:
    """--schema, else <data>.schema when it exists, else the model's training schema; coerced to training types."""
    from core.lake import exists
    from ml.datasource import default_schema_uri, read_schema

    uri = (
        normalize_uri(settings.schema_uri, "--schema")
        if settings.schema_uri
        else default_schema_uri(spark, settings.data)
    )
    if settings.schema_uri or exists(spark, uri):
        schema = coerce_schema(read_schema(spark, uri), meta.schema or {})
    elif not (meta.schema or {}).get("attributes"):
        raise UsageError(f"--schema: the model {settings.name} was trained on a feature set; give the data's schema")
    else:
        schema = meta.schema
    check_input_schema(schema, meta, f"--schema {uri}")
    return schema


def check_input_schema(schema: Dict[str, Any], meta: VersionRecord, where: str) -> None:
    """Exit 2 when the datasource lacks the target or an attribute the model reads (named), before any Spark job."""
    from features.schema import attribute_types
    from ml.model_inputs import check_columns, check_target, model_attributes

    if meta.model_type != "RECOMMEND":  # a recommender's rows are (user, item, rating) pairs
        check_target(schema, where)
    check_columns(attribute_types(schema), model_attributes(meta), where, meta.version)


def evaluate_rows(spark, context: RunContext, settings: EvaluateSettings, model, meta: VersionRecord, rows):
    """The Evaluation of the model on the rows, against the baseline the training recorded."""
    from ml.metrics import evaluate_predictions

    kind = meta.model_type
    if kind == "RECOMMEND":
        from core.lake import spark_uri
        from ml import recommend as R
        from ml.registry import version_uri

        rec = meta.recommend
        seen = spark.read.parquet(spark_uri(join(version_uri(context.lake, settings.name, meta.version), "seen")))
        test = R.interactions(rows, rec, rec["implicit"])
        k = settings.k or int((meta.metrics or {}).get("k", 10))
        return R.evaluate(spark, model, seen, float(meta.baseline["mean"]), test, rec, rec["implicit"], k)
    classes = meta.classes or []
    baseline = meta.baseline or {}
    info = {
        "majority": classes.index(baseline["class"]) if baseline.get("class") in classes else 0,
        "mean": baseline.get("mean", 0.0),
    }
    return evaluate_predictions(kind, model.transform(rows), info, evaluation_cutoff(settings, meta), classes)


def evaluation_cutoff(settings: EvaluateSettings, meta: VersionRecord) -> float:
    """--cutoff, else the version's own (ml.outputs.version_cutoff): the one score uses."""
    from ml.outputs import version_cutoff

    return settings.cutoff if settings.cutoff is not None else version_cutoff(meta)


def read_rows(spark, context: RunContext, settings: EvaluateSettings, schema: Dict[str, Any]):
    """The labelled datasource by the CSV rules; its rejects to <lake>/quarantine/evaluate/."""
    from core.quality import publish_read_rejects, require_observations
    from ml.datasource import read_datasource

    with stage("read datasource") as counts:
        ds = read_datasource(spark, settings.data, schema, require_target=True)
        counts.update(rows_in=ds.rows_in, rejected=ds.rows_rejected)
    if ds.rows_rejected:
        publish_read_rejects(ds.rejects, ds.files, JOB, context.lake, context.run_id, context.run_date)
    require_observations(ds.rows_in, ds.rows_rejected, "--data", ds.files)
    return ds


def report_facts(
    context: RunContext, settings: EvaluateSettings, meta: VersionRecord, ds, evaluation
) -> Dict[str, Any]:
    """The report's JSON: the model, the data, the metrics beside the baseline, the counts."""
    return {
        "name": settings.name,
        "version": meta.version,
        "data": ds.source,
        "metrics": evaluation.metrics,
        "baseline": evaluation.baseline,
        "worse_than_baseline": evaluation.worse_than_baseline,
        "rows_in": ds.rows_in,
        "rows_rejected": ds.rows_rejected,
        "run_id": context.run_id,
    }


def write_report(
    spark, context: RunContext, settings: EvaluateSettings, meta: VersionRecord, ds, evaluation, folder: str
) -> list:
    """index.html with the evaluation's plots and report.json into the folder; returns the URIs written."""
    from core.report import Report, write_json
    from ml.plots import add_evaluation

    report = Report(f"evaluate: {settings.name} {meta.version}")
    report.heading("Run")
    facts = (
        ("model", f"{settings.name} {meta.version}"),
        ("model type", meta.model_type),
        ("data", ds.source),
        ("rows read", ds.rows_in),
        ("rows rejected", ds.rows_rejected),
        ("training metrics", json.dumps(meta.metrics)),
    )
    report.table([{"field": k, "value": v} for k, v in facts])
    add_evaluation(report, evaluation, evaluation_cutoff(settings, meta))
    written = report.write(spark, folder)
    write_json(spark, join(folder, "report.json"), report_facts(context, settings, meta, ds, evaluation))
    return written


def evaluate_summary(
    context: RunContext, settings: EvaluateSettings, meta: VersionRecord, ds, evaluation, folder: str, written: list
) -> RunSummary:
    """The run summary: the model version, its metrics beside the baseline, the report."""
    return RunSummary(
        job=JOB,
        run_id=context.run_id,
        run_date=context.run_date,
        inputs=ds.files,
        outputs=[folder],
        rows_in=ds.rows_in,
        rows_out=ds.rows_in - ds.rows_rejected,
        rows_rejected=ds.rows_rejected,
        counts={
            "name": settings.name,
            "version": meta.version,
            "metrics": evaluation.metrics,
            "baseline": evaluation.baseline,
            "worse_than_baseline": evaluation.worse_than_baseline,
            "report": written[-1],
        },
    )


def run(spark, context: RunContext, settings: EvaluateSettings) -> RunSummary:
    from ml.registry import load_version

    model, meta = load_version(spark, context.lake, settings.name, settings.version)
    ds = read_rows(spark, context, settings, evaluation_schema(spark, settings, meta))
    with stage("evaluate") as counts:
        evaluation = evaluate_rows(spark, context, settings, model, meta, ds.rows)
        counts.update(evaluation.metrics)
    folder = join(context.lake.reports(JOB, context.run_date), f"{settings.name}-{meta.version}")
    written = write_report(spark, context, settings, meta, ds, evaluation, folder)
    return evaluate_summary(context, settings, meta, ds, evaluation, folder, written)

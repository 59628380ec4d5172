"""train's outputs: the report (HTML + PNGs + JSON), the registry version, and the champion gate."""

from __future__ import annotations

import json
from typing import Any, Dict, Optional

from core.context import RunContext
from core.lake import join
from core.log import stage
from jobs.train.conf import TrainSettings
from ml.registry import Promotion
from ml.version_record import VersionRecord


def promotion(
    spark, lake, name: str, model_type: str, evaluation, min_gain: float, implicit: Optional[bool]
) -> Promotion:
    """The champion gate's verdict on the new version (ml.registry.decide_promotion, baseline veto included)."""
    from ml.registry import champion, decide_promotion, load_metadata

    current = champion(spark, lake, name)
    champion_metrics = load_metadata(spark, lake, name, current["version"]).metrics if current else None
    return decide_promotion(
        model_type, evaluation.metrics, champion_metrics, min_gain, implicit, evaluation.worse_than_baseline
    )


def build_report(
    context: RunContext,
    settings: TrainSettings,
    data,
    fitted_info: Dict[str, Any],
    evaluation,
    decision: Promotion,
    version: str,
):
    """The train report: input, recipe, parameters, evaluation vs baseline, the promotion decision."""
    from core.report import Report
    from features.recipe import format_recipe
    from ml.plots import add_evaluation

    report = Report(f"train: {settings.name} {version}")
    report.heading("Run")
    report.table(
        [
            {"field": "model type", "value": settings.model_type},
            {"field": "algorithm", "value": settings.algorithm},
            {"field": "input", "value": json.dumps(data.form, sort_keys=True)},
            {"field": "rows read", "value": data.rows_in},
            {"field": "rows rejected", "value": data.rows_rejected},
            {"field": "training rows", "value": fitted_info["train_rows"]},
            {"field": "evaluation rows", "value": fitted_info["eval_rows"]},
            {"field": "the published model learned from", "value": fitted_info["published_rows"]["text"]},
            {"field": "split", "value": json.dumps(fitted_info["split"], sort_keys=True)},
            {"field": "run id", "value": context.run_id},
        ]
    )
    if data.reasons:
        report.table([{"reject reason": k, "rows": v} for k, v in data.reasons.items()])
    if data.recipe is not None or data.recipe_suggested:
        report.heading("Recipe" + (" (suggested: no --recipe was given)" if data.recipe_suggested else ""))
        report.parts.append("<pre>" + _escape(format_recipe(fitted_info["recipe"])) + "</pre>")
    report.heading("Parameters")
    report.table([{"param": k, "value": v} for k, v in sorted(fitted_info["params"].items())])
    if fitted_info.get("tuned"):
        report.paragraph(f"--tune chose {json.dumps(fitted_info['tuned'], sort_keys=True, default=str)}")
    add_evaluation(report, evaluation, settings.cutoff)
    report.heading("Registry")
    verdict = "promoted to champion" if decision.promote else "kept, not promoted"
    report.paragraph(f"{version}: {verdict} ({decision.reason})", flag=not decision.promote)
    return report


def _escape(text: str) -> str:
    import html

    return html.escape(text)


def report_json(
    context: RunContext,
    settings: TrainSettings,
    data,
    fitted_info: Dict[str, Any],
    evaluation,
    decision: Promotion,
    version: str,
) -> Dict[str, Any]:
    """The report's facts as JSON."""
    return {
        "name": settings.name,
        "version": version,
        "model_type": settings.model_type,
        "algorithm": settings.algorithm,
        "run_id": context.run_id,
        "run_date": context.run_date,
        "input": data.form,
        "rows_in": data.rows_in,
        "rows_rejected": data.rows_rejected,
        **{k: fitted_info[k] for k in ("train_rows", "eval_rows", "split", "params")},
        "metrics": evaluation.metrics,
        "baseline": evaluation.baseline,
        "worse_than_baseline": evaluation.worse_than_baseline,
        "promoted": decision.promote,
        "reason": decision.reason,
    }


def publish(
    spark,
    context: RunContext,
    settings: TrainSettings,
    data,
    fitted,
    fitted_info,
    evaluation,
    decision: Promotion,
    metadata: VersionRecord,
) -> Dict[str, Any]:
    """Build the report for the coming version, register the version with it inside, move the champion,
    and write the report under <lake>/reports/train/."""
    from core.report import to_json, write_json
    from ml.registry import publish_version, set_champion, upcoming_version

    version = upcoming_version(spark, context.lake, settings.name)
    report = build_report(context, settings, data, fitted_info, evaluation, decision, version)
    facts = report_json(context, settings, data, fitted_info, evaluation, decision, version)
    files = {f"report/{name}": content for name, content in report.files().items()}
    files["report/report.json"] = to_json(facts).encode("utf-8")
    with stage("publish") as counts:
        published = publish_version(spark, context.lake, settings.name, fitted.model, metadata, files, fitted.tables)
        counts["version"] = published
        if decision.promote:
            set_champion(
                spark,
                context.lake,
                settings.name,
                published,
                decision.reason,
                decision.metric,
                decision.value,
                context.run_id,
            )
    folder = join(context.lake.reports("train", context.run_date), settings.name)
    written = report.write(spark, folder)
    write_json(spark, join(folder, "report.json"), facts)
    return {"version": published, "report": written[-1], "report_folder": folder}

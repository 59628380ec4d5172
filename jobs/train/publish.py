"""train's outputs: the report (HTML + PNGs + JSON), the registry version, and the champion gate."""

from __future__ import annotations

import json
from typing import Any, Dict, Optional, Tuple

from jobs.common.lake import join
from jobs.common.log import stage


def promotion(spark, lake, name: str, model_type: str, evaluation, min_gain: float, implicit: Optional[bool]):
    """(promote?, reason, champion record or None): never over a worse-than-baseline model."""
    from ml.registry import champion, decide_promotion, load_metadata

    current = champion(spark, lake, name)
    if evaluation.worse_than_baseline:
        return False, "the model is not better than its baseline; registered, not promoted", current
    champion_metrics = load_metadata(spark, lake, name, current["version"]).get("metrics") if current else None
    promote, reason = decide_promotion(model_type, evaluation.metrics, champion_metrics, min_gain, implicit)
    return promote, reason, current


def build_report(args, data, fitted_info: Dict[str, Any], evaluation, decision: Tuple[bool, str], version: str):
    """The train report: input, recipe, parameters, evaluation vs baseline, the promotion decision."""
    from features.recipe import format_recipe
    from jobs.common.report import Report
    from ml.plots import add_evaluation

    report = Report(f"train: {args.name} {version}")
    report.heading("Run")
    report.table(
        [
            {"field": "model type", "value": args.model_type},
            {"field": "algorithm", "value": args.algorithm},
            {"field": "input", "value": json.dumps(data.form, sort_keys=True)},
            {"field": "rows read", "value": data.rows_in},
            {"field": "rows rejected", "value": data.rows_rejected},
            {"field": "training rows", "value": fitted_info["train_rows"]},
            {"field": "evaluation rows", "value": fitted_info["eval_rows"]},
            {"field": "split", "value": json.dumps(fitted_info["split"], sort_keys=True)},
            {"field": "run id", "value": args.run_id},
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
    add_evaluation(report, evaluation, args.cutoff)
    report.heading("Registry")
    promote, reason = decision
    report.paragraph(
        f"{version}: {'promoted to champion' if promote else 'kept, not promoted'} ({reason})", flag=not promote
    )
    return report


def _escape(text: str) -> str:
    import html

    return html.escape(text)


def report_json(args, data, fitted_info: Dict[str, Any], evaluation, decision, version: str) -> Dict[str, Any]:
    """The report's facts as JSON."""
    return {
        "name": args.name,
        "version": version,
        "model_type": args.model_type,
        "algorithm": args.algorithm,
        "run_id": args.run_id,
        "run_date": args.run_date,
        "input": data.form,
        "rows_in": data.rows_in,
        "rows_rejected": data.rows_rejected,
        **{k: fitted_info[k] for k in ("train_rows", "eval_rows", "split", "params")},
        "metrics": evaluation.metrics,
        "baseline": evaluation.baseline,
        "worse_than_baseline": evaluation.worse_than_baseline,
        "promoted": decision[0],
        "reason": decision[1],
    }


def publish(spark, args, data, fitted, fitted_info, evaluation, decision, metadata, extra=None) -> Dict[str, Any]:
    """Register the version (report and extras inside it before it is visible), move the champion, write the report."""
    from jobs.common.report import write_json
    from ml.registry import publish_version, set_champion, type_metric

    built: Dict[str, Any] = {}

    def extra_writer(folder: str) -> None:
        version = folder.rstrip("/").rsplit("/", 1)[-1]
        built["report"] = build_report(args, data, fitted_info, evaluation, decision, version)
        built["json"] = report_json(args, data, fitted_info, evaluation, decision, version)
        built["report"].write(spark, join(folder, "report"))
        write_json(spark, join(folder, "report", "report.json"), built["json"])
        if extra is not None:
            extra(folder)

    with stage("publish") as counts:
        version = publish_version(spark, args.lake, args.name, fitted.model, metadata, extra_writer=extra_writer)
        counts["version"] = version
        if decision[0]:
            key, _ = type_metric(args.model_type, evaluation.metrics, metadata.get("recommend", {}).get("implicit"))
            set_champion(
                spark, args.lake, args.name, version, decision[1], key, evaluation.metrics.get(key), args.run_id
            )
    folder = join(args.lake.reports("train", args.run_date), args.name)
    written = built["report"].write(spark, folder)
    write_json(spark, join(folder, "report.json"), built["json"])
    return {"version": version, "report": written[-1], "report_folder": folder}

"""The nightly's run report: `<lake>/reports/nightly/<run_date>/index.html` (+ PNGs, nightly.json).

Rows per step (in, out, rejected, quarantined by reason), seconds per step, the models trained
(metrics against the baseline and the champion, promoted or not), the score distribution of each
scored model, and links to each step's own report and summary. Built from the steps' stored
summaries and the lake, so it says what the jobs recorded, not what the nightly assumed.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

from core.lake import Lake, exists, join
from core.log import logger
from core.report import Report, new_figure, write_json
from core.summary import RunSummary
from core.tables import read_run_date
from jobs.nightly.runner import StepResult
from ml.model_types import TYPE_NAMES, key_metric

INGEST_STAGES = ("ingest_logs", "ingest_dms")
REASON_KEYS = ("reasons", "rejected", "rejects_by_reason", "quarantined_by_reason", "reject_reasons")


def reasons_of(summary: Dict[str, Any]) -> Dict[str, int]:
    """Quarantined rows by reason, from whichever key the job's summary uses (tables' ones added up)."""
    counts = summary.get("counts") or {}
    found: Dict[str, int] = {}

    def add(mapping: Any) -> None:
        for reason, n in (mapping or {}).items():
            if isinstance(n, (int, float)):
                found[str(reason)] = found.get(str(reason), 0) + int(n)

    for key in REASON_KEYS:
        add(counts.get(key))
    for table in (counts.get("tables") or {}).values() if isinstance(counts.get("tables"), dict) else []:
        if isinstance(table, dict):
            for key in REASON_KEYS:
                add(table.get(key))
    return found


def step_rows(results: List[StepResult]) -> List[Dict[str, Any]]:
    """One row per step for the report's table."""
    rows = []
    for r in results:
        s = r.summary
        rows.append(
            {
                "step": r.name,
                "status": r.status,
                "exit": "" if r.exit_code is None else r.exit_code,
                "seconds": round(r.seconds, 1),
                "rows in": s.get("rows_in", ""),
                "rows out": s.get("rows_out", ""),
                "rejected": s.get("rows_rejected", ""),
                "quarantined by reason": ", ".join(f"{k}: {v}" for k, v in reasons_of(s).items()),
                "message": r.message[:300],
            }
        )
    return rows


def nightly_counts(summary: RunSummary, results: List[StepResult]) -> None:
    """The nightly summary's figures: the ingest stages' row accounting and each step's record."""
    ingest = [r.summary for r in results if r.stage in INGEST_STAGES and r.summary]
    summary.rows_in = sum(int(s.get("rows_in", 0)) for s in ingest)
    summary.rows_out = sum(int(s.get("rows_out", 0)) for s in ingest)
    summary.rows_rejected = sum(int(s.get("rows_rejected", 0)) for s in ingest)
    summary.counts["steps"] = [
        {k: v for k, v in r.to_dict().items() if k not in ("summary", "argv")}
        | {
            "rows_in": r.summary.get("rows_in"),
            "rows_out": r.summary.get("rows_out"),
            "rows_rejected": r.summary.get("rows_rejected"),
        }
        for r in results
    ]


def bar_figure(labels: List[str], series: Dict[str, List[float]], ylabel: str, log: bool = False):
    """Grouped horizontal bars, one group per label."""
    fig = new_figure(8, max(2.5, 0.45 * len(labels) * max(1, len(series)) ** 0.5 + 1))
    ax = fig.add_subplot(111)
    height = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        ax.barh([y + i * height for y in range(len(labels))], values, height=height, label=name)
    ax.set_yticks([y + height * (len(series) - 1) / 2 for y in range(len(labels))])
    ax.set_yticklabels(labels)
    ax.invert_yaxis()
    ax.set_xlabel(ylabel)
    if log:
        ax.set_xscale("symlog")
    if len(series) > 1:
        ax.legend()
    fig.tight_layout()
    return fig


def _number(value: Any) -> Any:
    """A metric for a table cell: rounded when it is a number."""
    return round(value, 4) if isinstance(value, float) else value


def model_rows(spark, lake: Lake, results: List[StepResult]) -> List[Dict[str, Any]]:
    """One row per train step: version, key metric against its baseline, the champion, promoted or not."""
    from ml.registry import champion

    rows = []
    for r in results:
        if r.stage != "train" or not r.summary:
            continue
        c = r.summary.get("counts") or {}
        name, kind = argv_value(r.argv, "--name") or "", argv_value(r.argv, "--model-type") or ""
        key = key_metric(kind, "--implicit" in r.argv)[0] if kind in TYPE_NAMES else ""
        current = champion(spark, lake, name) or {}
        rows.append(
            {
                "model": name,
                "type": kind,
                "version": c.get("version", ""),
                "metric": key,
                "value": _number((c.get("metrics") or {}).get(key, "")),
                "baseline": _number((c.get("baseline") or {}).get(key, "")),
                "champion now": f"{current.get('version', '-')} ({_number(current.get('value', ''))})",
                "promoted": "unchanged input" if c.get("unchanged") else c.get("promoted", ""),
                "reason": c.get("reason", r.message),
            }
        )
    return rows


def argv_value(argv: List[str], flag: str) -> Optional[str]:
    """The value after a flag."""
    from jobs.nightly.runner import argv_value as value

    return value(argv, flag)


def score_histograms(spark, lake: Lake, run_date: str, results: List[StepResult], report: Report) -> None:
    """A histogram of `score` in each scored model's partition of the run date."""
    from pyspark.sql import functions as F

    for r in results:
        if r.stage != "score" or r.exit_code != 0:
            continue
        name = argv_value(r.argv, "--name") or ""
        uri = lake.scores(name)
        if not exists(spark, join(uri, "_delta_log")):
            continue
        part = read_run_date(spark, uri, run_date)
        if "score" not in part.columns:
            continue
        bins = (
            part.select(F.least(F.floor(F.col("score").cast("double") * 20), F.lit(19)).alias("b")).groupBy("b").count()
        )
        counts = {int(row["b"]): int(row["count"]) for row in bins.collect() if row["b"] is not None}
        if not counts:
            continue
        quantiles = part.approxQuantile("score", [0.1, 0.5, 0.9], 0.01)
        fig = new_figure(6, 3)
        ax = fig.add_subplot(111)
        lo, hi = min(counts), max(counts)
        ax.bar(
            [b / 20 for b in range(lo, hi + 1)], [counts.get(b, 0) for b in range(lo, hi + 1)], width=0.05, align="edge"
        )
        ax.set_xlabel("score")
        ax.set_ylabel("rows")
        fig.tight_layout()
        report.figure(fig, f"scores_{name}", caption=f"{name}: scores of {run_date} (p10/p50/p90 {quantiles})")


def stage_links(spark, lake: Lake, run_date: str, results: List[StepResult], report: Report) -> None:
    """Links to each step's own report of the run date (the job's folder, or a folder named after the step)."""
    here = lake.reports("nightly", run_date)
    seen = set()
    for r in results:
        if r.exit_code is None:
            continue
        name = argv_value(r.argv, "--name") or argv_value(r.argv, "--features") or argv_value(r.argv, "--table")
        folder = lake.reports(r.job, run_date)
        for page in ([join(folder, name, "index.html")] if name else []) + [join(folder, "index.html")]:
            if page not in seen and exists(spark, page):
                seen.add(page)
                report.link(f"{r.name}: report", relative(here, page))
                break
        if r.summary.get("run_id"):
            report.link(f"{r.name}: run summary", relative(here, lake.run_summary(r.job, run_date, r.run_id)))


def relative(folder: str, target: str) -> str:
    """target relative to folder when both are under one root, else target."""
    return os.path.relpath(target, folder) if target.split("/")[:3] == folder.split("/")[:3] else target


def write_report(spark, lake: Lake, run_date: str, run_id: str, results: List[StepResult]) -> str:
    """Write the run report and nightly.json; returns the index.html URI."""
    report = Report(f"lakeml nightly {run_date}")
    failed = [r for r in results if r.exit_code not in (None, 0)]
    report.paragraph(
        f"run id {run_id}; "
        + (f"stopped at {failed[0].name}: {failed[0].message}" if failed else "every step succeeded"),
        flag=bool(failed),
    )
    report.heading("Steps")
    report.table(step_rows(results))
    ran = [r for r in results if r.summary]
    if ran:
        labels = [r.name for r in ran]
        report.figure(
            bar_figure([r.name for r in results], {"seconds": [round(r.seconds, 1) for r in results]}, "seconds"),
            "seconds",
            caption="seconds per step",
        )
        rows = {k: [float(r.summary.get(k, 0) or 0) for r in ran] for k in ("rows_in", "rows_out", "rows_rejected")}
        report.figure(
            bar_figure(labels, rows, "rows (symlog)", log=True), "rows", caption="rows in, out and rejected per step"
        )
    reasons = {f"{r.name}: {k}": v for r in ran for k, v in reasons_of(r.summary).items()}
    if reasons:
        report.heading("Quarantined rows by reason")
        report.table([{"step: reason": k, "rows": v} for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])])
        report.figure(
            bar_figure(list(reasons), {"rows": list(reasons.values())}, "rows"),
            "quarantine",
            caption="quarantined rows by reason",
        )
    models = model_rows(spark, lake, results)
    if models:
        report.heading("Models")
        report.table(models)
    report.heading("Scores")
    try:
        score_histograms(spark, lake, run_date, results, report)
    except Exception as error:  # the report must not hide the night's outcome
        logger.warning("nightly report: score histograms failed: %s", error)
    report.heading("Each step's own report and summary")
    stage_links(spark, lake, run_date, results, report)
    folder = lake.reports("nightly", run_date)
    write_json(
        spark,
        join(folder, "nightly.json"),
        {"run_id": run_id, "run_date": run_date, "steps": [r.to_dict() for r in results]},
    )
    report.write(spark, folder)
    return join(folder, "index.html")

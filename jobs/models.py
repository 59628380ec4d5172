"""models: list the model registry's versions and champions, and move a champion by hand.

    ./spark-submit.sh local|emr models --lake URI [--name NAME] [--promote vN [--reason TEXT]]

Without `--name`: every model under <lake>/models/ with its champion and number of versions.
With `--name`: each complete version of that model with its type, algorithm, run date, metrics
and the type metric (auc, macro_f1, rmse, ndcg_at_k), the champion marked. `--promote vN` points
<lake>/models/<name>/champion.json at vN (a promotion or a roll-back; `score` uses it from its
next run). A name or version that does not exist is exit 2 with what exists.
The listing is printed as a table on stdout before the run summary; the summary's counts hold
it as data (`models` or `versions`, `champion`).
"""

from __future__ import annotations

from typing import Any, Dict, List

from core.context import RunContext, flag_settings
from core.errors import UsageError
from core.summary import RunSummary
from ml.version_record import VersionRecord

HELP = "list model versions with metrics and the champion; --promote vN moves the champion by hand"
JOB = "models"


def add_arguments(parser) -> None:
    group = parser.add_argument_group("models")
    group.add_argument("--name", default=None, help="model name (<lake>/models/<name>/); none: list all models")
    group.add_argument("--promote", default=None, metavar="vN", help="make version vN the champion (or roll back)")
    group.add_argument("--reason", default="promoted by hand", help="why, stored in champion.json with --promote")


def validate(args):
    """Flag checks that need no Spark; the flags as settings (nothing is derived from them)."""
    from core.names import check_name
    from ml.registry import version_number

    if args.promote is not None:
        if args.name is None:
            raise UsageError("--promote needs --name")
        version_number(args.promote)
    if args.name is not None:
        check_name(args.name, "--name")
    return flag_settings(args)


def version_row(meta: VersionRecord, champion_version) -> Dict[str, Any]:
    """One listing row of a version: what it is, how it scored, whether it is the champion."""
    from ml.registry import metric_of

    key, value = metric_of(meta.model_type or "", meta.metrics, (meta.recommend or {}).get("implicit"))
    return {
        "version": meta.version,
        "champion": "*" if meta.version == champion_version else "",
        "model_type": meta.model_type,
        "algorithm": meta.algorithm,
        "run_date": meta.run_date,
        "metric": key,
        "value": value,
        "created_at": meta.created_at,
    }


def format_table(rows: List[Dict[str, Any]]) -> str:
    """A plain fixed-width text table of rows (dicts with the same keys)."""
    if not rows:
        return "(none)"
    columns = list(rows[0])
    cells = [
        [("" if r[c] is None else f"{r[c]:.6g}" if isinstance(r[c], float) else str(r[c])) for c in columns]
        for r in rows
    ]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def list_models(spark, lake) -> List[Dict[str, Any]]:
    """Every model with its champion and number of complete versions."""
    from ml import registry

    out = []
    for name in registry.model_names(spark, lake):
        current = registry.champion(spark, lake, name) or {}
        versions = registry.list_versions(spark, lake, name)
        out.append(
            {
                "name": name,
                "versions": len(versions),
                "latest": versions[-1].version if versions else None,
                "champion": current.get("version"),
                "metric": current.get("metric"),
                "value": current.get("value"),
            }
        )
    return out


def run(spark, context: RunContext, settings) -> RunSummary:
    from ml import registry

    summary = RunSummary(job=JOB, run_id=context.run_id, run_date=context.run_date)
    lake = context.lake
    if settings.name is None:
        models = list_models(spark, lake)
        print(format_table(models))
        summary.counts["models"] = models
        return summary
    if settings.promote is not None:
        record = registry.set_champion(
            spark, lake, settings.name, settings.promote, reason=settings.reason, run_id=context.run_id
        )
        summary.outputs.append(registry.model_uri(lake, settings.name, "champion.json"))
        summary.counts["promoted"] = record
    versions = registry.list_versions(spark, lake, settings.name)
    if not versions:
        registry.resolve_version(spark, lake, settings.name)  # raises the exit-2 error naming what exists
    current = registry.champion(spark, lake, settings.name)
    rows = [version_row(meta, (current or {}).get("version")) for meta in versions]
    print(format_table(rows))
    summary.counts.update({"name": settings.name, "champion": current, "versions": rows})
    return summary

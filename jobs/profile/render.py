"""The profile's HTML page: an overview, one section per attribute (report order), the comparison."""

from __future__ import annotations

from typing import List, Optional

from core.report import Report
from core.svg import bars_svg, histogram_svg

SHOWN = 10
CORRELATION = "#8172b2"
CORRELATIONS_SHOWN = 40  # a 500-attribute page keeps a chart that fits a screen; each section gives its rank


def numeric_figure(stat: dict) -> str:
    """Histogram of a numeric attribute with its median and mean marked."""
    marks = {name: stat[name] for name in ("median", "mean") if stat[name] is not None}
    return histogram_svg(stat["histogram"]["edges"], stat["histogram"]["counts"], marks, stat["name"])


def bar_figure(items: List[dict], key: str, xlabel: str, other: int = 0) -> str:
    """Horizontal bars of the most frequent values or words (and the rest)."""
    labels = [str(i[key]) for i in items[:SHOWN]]
    counts = [i["count"] for i in items[:SHOWN]]
    if other:
        labels.append("(other)")
        counts.append(other)
    return bars_svg(labels, counts, xlabel)


def attribute_figure(stat: dict) -> str:
    """The attribute's plot by type."""
    if stat["type"] == "NUMERIC":
        return numeric_figure(stat)
    if stat["type"] == "TEXT":
        return bar_figure(stat["top_words"], "word", "rows containing the word")
    return bar_figure(stat["top_values"], "value", "rows", stat.get("other_count", 0))


def correlation_figure(stats: List[dict]) -> str:
    """Correlation to the target of the CORRELATIONS_SHOWN strongest attributes, strongest first, 0 to 1."""
    ranked = [s for s in stats if s["correlation"] is not None][:CORRELATIONS_SHOWN]
    return bars_svg(
        [s["name"] for s in ranked],
        [s["correlation"] for s in ranked],
        "correlation to target (bias-corrected Cramér's V)",
        color=CORRELATION,
        full=1.0,
    )


def stat_rows(stat: dict) -> List[list]:
    """The statistics of an attribute as (statistic, value) rows."""
    keys = ["rows", "missing", "invalid"]
    if stat["type"] == "NUMERIC":
        keys += ["count", "min", "median", "mean", "max", "std"]
    elif stat["type"] == "TEXT":
        keys += ["total_words", "unique_words"]
    else:
        keys += ["distinct", "other_count"] + (["true_count", "percent_true"] if stat["type"] == "BINARY" else [])
    rows = [[k, stat.get(k)] for k in keys if k != "invalid" or stat.get(k) is not None]
    if stat["type"] == "TEXT":
        for k in ("words_per_row", "word_length"):
            rows.append([k, f"{stat[k]['min']} to {stat[k]['max']}"])
        rows.append(["prominent_words", ", ".join(w["word"] for w in stat["prominent_words"])])
    return rows


def attribute_section(report: Report, stat: dict) -> None:
    """One attribute: heading, correlation, statistics, plot."""
    kind = stat["type"] + (" (inferred)" if stat["type_source"] == "inferred" else "")
    report.heading(f"{stat['name']} — {kind}" + (" — target" if stat["is_target"] else ""), level=3)
    if stat["correlation"] is not None:
        report.paragraph(f"correlation to target {stat['correlation']:.3f} (rank {stat['rank']})")
    report.table(stat_rows(stat), columns=["statistic", "value"])
    if stat["type"] in ("CATEGORICAL", "BINARY") and stat["top_values"]:
        report.table(stat["top_values"][:SHOWN])
    report.inline_figure(attribute_figure(stat), caption=stat["name"])


def comparison_section(report: Report, profile: dict, earlier: dict) -> None:
    """The earlier run beside this one, the most moved attributes first, flagged ones marked."""
    drift = profile["compare"]
    report.heading(f"Compared with {drift['run_date']} (run {drift['run_id']})")
    before = {a["name"]: a for a in earlier.get("attributes", [])}
    now = {a["name"]: a for a in profile["attributes"]}
    rows = []
    for item in drift["attributes"]:
        old, new = before.get(item["name"], {}), now.get(item["name"], {})
        rows.append(
            {
                "attribute": item["name"],
                "psi": item["psi"],
                "verdict": item["verdict"] + (" (flagged)" if item["flagged"] else ""),
                "missing before": old.get("missing"),
                "missing now": new.get("missing"),
                "median before": old.get("median"),
                "median now": new.get("median"),
                "distinct before": old.get("distinct"),
                "distinct now": new.get("distinct"),
            }
        )
    flagged = drift["flagged"]
    text = f"PSI >= {drift['threshold']} flags a shift: " + (", ".join(flagged) if flagged else "none")
    report.paragraph(text, flag=bool(flagged))
    report.table(rows)


def render(profile: dict, earlier: Optional[dict] = None) -> Report:
    """The whole page of a profile (and of its comparison, when there is one)."""
    report = Report(f"profile: {profile['name']} ({profile['run_date']})")
    rows = profile["rows"]
    report.paragraph(
        f"{profile['input']['form']} {', '.join(profile['input']['uris'])}: {rows['read']} rows read, "
        f"{rows['valid']} valid, {rows['rejected']} rejected. Types: {profile['input']['types']}."
    )
    if rows["reasons"]:
        report.table([{"reason": k, "rows": v} for k, v in rows["reasons"].items()])
    if profile.get("compare") and earlier is not None:
        comparison_section(report, profile, earlier)
    stats = profile["attributes"]
    if profile["target"]:
        report.heading(f"Correlation to the target {profile['target']['name']}")
        ranked = sum(s["correlation"] is not None for s in stats)
        shown = f"the {CORRELATIONS_SHOWN} strongest of {ranked} attributes, " if ranked > CORRELATIONS_SHOWN else ""
        report.inline_figure(correlation_figure(stats), caption=f"{shown}bias-corrected Cramér's V, 0 to 1")
    report.heading("Attributes")
    for stat in stats:
        attribute_section(report, stat)
    if profile["skipped"]:
        report.heading("Not profiled")
        report.table([{"column": k, "reason": v} for k, v in profile["skipped"].items()])
    report.heading("Method")
    report.table([{"statistic": k, "how": v} for k, v in profile["method"].items()])
    return report

"""The profile's HTML page: an overview, one section per attribute (report order), the comparison."""

from __future__ import annotations

from typing import List, Optional

from core.report import Report, new_figure

SHOWN = 10


def _label(value: str, width: int = 28) -> str:
    return value if len(value) <= width else value[: width - 1] + "…"


def numeric_figure(stat: dict):
    """Histogram of a numeric attribute with its median and mean marked."""
    fig = new_figure(6, 3)
    ax = fig.add_subplot(1, 1, 1)
    edges, counts = stat["histogram"]["edges"], stat["histogram"]["counts"]
    if counts:
        widths = [b - a or 1.0 for a, b in zip(edges, edges[1:])]
        ax.bar(edges[:-1], counts, width=widths, align="edge", color="#4c72b0", edgecolor="white")
    for value, name, style in ((stat["median"], "median", "--"), (stat["mean"], "mean", ":")):
        if value is not None:
            ax.axvline(value, color="#c44e52", linestyle=style, label=name)
    ax.set_xlabel(stat["name"])
    ax.set_ylabel("rows")
    if stat["median"] is not None:
        ax.legend(loc="best", fontsize=8)
    return fig


def bar_figure(items: List[dict], key: str, xlabel: str, other: int = 0):
    """Horizontal bars of the most frequent values or words (and the rest)."""
    labels = [_label(str(i[key])) for i in items[:SHOWN]]
    counts = [i["count"] for i in items[:SHOWN]]
    if other:
        labels.append("(other)")
        counts.append(other)
    fig = new_figure(6, 0.6 + 0.28 * max(len(labels), 1))
    ax = fig.add_subplot(1, 1, 1)
    ax.barh(range(len(labels)), counts, color="#55a868")
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    return fig


def attribute_figure(stat: dict):
    """The attribute's plot by type."""
    if stat["type"] == "NUMERIC":
        return numeric_figure(stat)
    if stat["type"] == "TEXT":
        return bar_figure(stat["top_words"], "word", "rows containing the word")
    return bar_figure(stat["top_values"], "value", "rows", stat.get("other_count", 0))


def correlation_figure(stats: List[dict]):
    """Correlation to the target of every attribute, strongest first."""
    ranked = [s for s in stats if s["correlation"] is not None]
    fig = new_figure(6, 0.6 + 0.25 * max(len(ranked), 1))
    ax = fig.add_subplot(1, 1, 1)
    ax.barh(range(len(ranked)), [s["correlation"] for s in ranked], color="#8172b2")
    ax.set_yticks(range(len(ranked)), [_label(s["name"]) for s in ranked], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("correlation to target (bias-corrected Cramér's V)")
    return fig


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


def attribute_section(report: Report, stat: dict, number: int) -> None:
    """One attribute: heading, correlation, statistics, plot."""
    kind = stat["type"] + (" (inferred)" if stat["type_source"] == "inferred" else "")
    report.heading(f"{stat['name']} — {kind}" + (" — target" if stat["is_target"] else ""), level=3)
    if stat["correlation"] is not None:
        report.paragraph(f"correlation to target {stat['correlation']:.3f} (rank {stat['rank']})")
    report.table(stat_rows(stat), columns=["statistic", "value"])
    if stat["type"] in ("CATEGORICAL", "BINARY") and stat["top_values"]:
        report.table(stat["top_values"][:SHOWN])
    report.figure(attribute_figure(stat), f"attr_{number:03d}", caption=f"{stat['name']}")


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
        report.figure(correlation_figure(stats), "correlation", caption="bias-corrected Cramér's V, 0 to 1")
    report.heading("Attributes")
    for number, stat in enumerate(stats):
        attribute_section(report, stat, number)
    if profile["skipped"]:
        report.heading("Not profiled")
        report.table([{"column": k, "reason": v} for k, v in profile["skipped"].items()])
    report.heading("Method")
    report.table([{"statistic": k, "how": v} for k, v in profile["method"].items()])
    return report

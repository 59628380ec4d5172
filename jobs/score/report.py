"""What a score run tells its reader: the score distribution of the written partition and a drift hint."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from jobs.score.predict import score_of
from ml.outputs import version_cutoff
from ml.version_record import VersionRecord

PROBABILITY = (0.0, 1.0)  # the range of a BINARY or MULTICLASS score, and so of its histogram
QUANTILES = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)
BINS = 20


def score_stats(df, meta: VersionRecord) -> Dict[str, Any]:
    """Count, quantiles and a 20-bin histogram of the scores; BINARY adds the share at or above the cut-off.

    One pass when the score's range is known (a probability: BINARY, MULTICLASS); two for REGRESSION, whose
    bins span the scores' own min and max."""
    from pyspark.sql import functions as F

    s = score_of(meta).alias("s")
    aggs = [
        F.count(F.lit(1)).alias("n"),
        F.min("s").alias("lo"),
        F.max("s").alias("hi"),
        F.percentile_approx("s", list(QUANTILES), 10000).alias("q"),
    ]
    cols = [s]
    if meta.model_type == "BINARY":
        cols.append(F.col("bestAnswer"))
        aggs.append(F.avg("bestAnswer").alias("share"))
    probability = meta.model_type in ("BINARY", "MULTICLASS")
    if probability:
        bins = bin_of(F.col("s"), *PROBABILITY)
        aggs += [F.count_if(bins == i).alias(f"bin_{i}") for i in range(BINS)]
    row = df.select(*cols).agg(*aggs).collect()[0]
    n = int(row["n"])
    out: Dict[str, Any] = {"rows": n, "quantiles": {}, "histogram": []}
    if n == 0:
        return out
    out["quantiles"] = {f"p{int(q * 100)}": float(v) for q, v in zip(QUANTILES, row["q"])}
    if probability:
        out["histogram"] = histogram_rows(*PROBABILITY, {i: int(row[f"bin_{i}"]) for i in range(BINS)})
    else:
        out["histogram"] = histogram(df.select(s), float(row["lo"]), float(row["hi"]))
    if meta.model_type == "BINARY":
        out["share_above_cutoff"] = float(row["share"])
    return out


def bin_width(lo: float, hi: float) -> float:
    return (hi - lo) / BINS if hi > lo else 1.0


def bin_of(score, lo: float, hi: float):
    """The bin (0 to BINS - 1) of a score column between lo and hi; out-of-range scores in the end bins."""
    from pyspark.sql import functions as F

    return F.least(F.greatest(F.floor((score - lo) / bin_width(lo, hi)), F.lit(0)), F.lit(BINS - 1)).cast("int")


def histogram_rows(lo: float, hi: float, counts: Dict[int, int]) -> List[Dict[str, float]]:
    """The histogram as rows (low, high, count) of the BINS equal bins between lo and hi."""
    width = bin_width(lo, hi)
    return [{"low": lo + i * width, "high": lo + (i + 1) * width, "count": counts.get(i, 0)} for i in range(BINS)]


def histogram(df, lo: float, hi: float) -> List[Dict[str, float]]:
    """Counts of column `s` in BINS equal bins between lo and hi (one pass)."""
    from pyspark.sql import functions as F

    counts = {r["b"]: int(r["count"]) for r in df.groupBy(bin_of(F.col("s"), lo, hi).alias("b")).count().collect()}
    return histogram_rows(lo, hi, counts)


def drift_hint(meta: VersionRecord, share: Optional[float]) -> Optional[Dict[str, Any]]:
    """BINARY: this run's share at or above the cut-off beside the evaluation set's (from the version's metrics)."""
    if meta.model_type != "BINARY" or share is None:
        return None
    metrics = meta.metrics or {}
    evaluation = metrics.get("share_above_cutoff")
    if evaluation is None and isinstance(metrics.get("test"), dict):
        evaluation = metrics["test"].get("share_above_cutoff")
    hint: Dict[str, Any] = {"cutoff": version_cutoff(meta), "share_above_cutoff": share}
    hint["evaluation_share_above_cutoff"] = None if evaluation is None else float(evaluation)
    hint["difference"] = None if evaluation is None else share - float(evaluation)
    return hint


def build_report(meta: VersionRecord, run: Dict[str, Any], stats: Dict[str, Any]):
    """The HTML page: counts, model version, quantiles, histogram plot, drift hint."""
    from core.report import Report, new_figure

    report = Report(f"score: {meta.name} {meta.version} on {run['run_date']}")
    report.table(
        [
            {
                "item": "model",
                "value": f"{meta.name} {meta.version} ({meta.model_type}, {meta.algorithm})",
            },
            {"item": "rows in", "value": run["rows_in"]},
            {"item": "rows scored", "value": run["rows_out"]},
            {"item": "rows rejected", "value": run["rows_rejected"]},
            {"item": "extra columns ignored", "value": ", ".join(run["extra_columns"]) or "none"},
            {"item": "run id", "value": run["run_id"]},
        ]
    )
    what = "probability of the best answer" if meta.model_type == "MULTICLASS" else "score"
    report.heading(f"Distribution of the {what}")
    report.table([stats["quantiles"]])
    if stats["histogram"]:
        fig = new_figure(6, 3.5)
        ax = fig.add_subplot(111)
        bins = stats["histogram"]
        ax.bar(
            [b["low"] for b in bins], [b["count"] for b in bins], width=bins[0]["high"] - bins[0]["low"], align="edge"
        )
        ax.set_xlabel(what)
        ax.set_ylabel("rows")
        report.figure(fig, "score_histogram", caption=f"{what}, {len(bins)} bins")
    hint = run.get("drift")
    if hint:
        report.heading("Drift hint")
        evaluation = hint["evaluation_share_above_cutoff"]
        text = f"{hint['share_above_cutoff']:.1%} of the rows scored at or above the cut-off {hint['cutoff']}"
        if evaluation is None:
            report.paragraph(text + "; the version's metrics do not record the evaluation set's share.")
        else:
            flag = abs(hint["difference"]) > 0.1
            report.paragraph(text + f", against {evaluation:.1%} on the evaluation set.", flag=flag)
    return report

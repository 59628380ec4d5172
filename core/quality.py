"""Quarantine and the reject gate: rejected rows are kept with their reason, never dropped.

Every job that rejects rows builds a DataFrame in the QUARANTINE_COLUMNS shape (see
`to_quarantine`) and calls `publish_quarantine`. `check_reject_gate` decides, before any
data is published, whether the run may go on: over 10,000 rejects (Amazon ML's rule for a
datasource) or over the configured fraction (a lakeml policy) stops it with exit 3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Sequence

from core.errors import QualityGateError
from core.tables import replace_rows

MAX_REJECTS = 10_000
MAX_REJECT_FRACTION = 0.1  # lakeml's default share of rejected rows that fails a run (--max-reject-fraction)
MAX_RAW_BYTES = 100 * 1024  # Amazon ML's observation limit; longer raw records are cut
QUARANTINE_COLUMNS = ("raw", "source_file", "reason", "job", "run_id", "run_date")


@dataclass(frozen=True)
class RejectPolicy:
    """When a run's rejects stop it: more than max_rejects rows or more than max_fraction of rows_in."""

    max_rejects: int = MAX_REJECTS
    max_fraction: Optional[float] = None


def gate_verdict(rows_in: int, rows_rejected: int, policy: RejectPolicy) -> Optional[str]:
    """None when the run may publish, else the reason it may not."""
    if rows_rejected > policy.max_rejects:
        return f"{rows_rejected} rows rejected, over the limit of {policy.max_rejects}"
    if policy.max_fraction is not None and rows_in > 0 and rows_rejected / rows_in > policy.max_fraction:
        return (
            f"{rows_rejected} of {rows_in} rows rejected ({rows_rejected / rows_in:.1%}), "
            f"over the allowed fraction {policy.max_fraction:g}"
        )
    return None


def check_reject_gate(
    rows_in: int,
    rows_rejected: int,
    policy: RejectPolicy,
    top_reasons: Optional[Dict[str, int]] = None,
    quarantine: Optional[str] = None,
) -> None:
    """Raise QualityGateError (exit 3) when the rejects exceed the policy.

    `quarantine` is where the job stored the rejected rows before calling (the message sends the user
    there); without it the message says they were not stored and that the reasons come from the input."""
    verdict = gate_verdict(rows_in, rows_rejected, policy)
    if verdict is None:
        return
    reasons = ", ".join(f"{reason}: {count}" for reason, count in (top_reasons or {}).items())
    if quarantine:
        where = f" The rejected rows are in the quarantine ({quarantine}): inspect them, fix the input"
    else:
        where = " The rejected rows were not stored; the reasons above name what is wrong in the input: fix it"
    raise QualityGateError(
        f"reject gate tripped: {verdict}; nothing was published."
        + (f" Top reasons: {reasons}." if reasons else "")
        + where
        + " or raise the limit, then run again.",
        counts={"rows_in": rows_in, "rows_rejected": rows_rejected, "reasons": dict(top_reasons or {})},
    )


def require_observations(rows_in: int, rows_rejected: int, source: str, files: Sequence[str]) -> None:
    """Exit 3 (nothing published) when an input has no observation left to use: empty, header only, or all rejected."""
    if rows_in - rows_rejected > 0:
        return
    where = f"{source} ({', '.join(files) or 'no files'})"
    detail = f"all {rows_in} observations were rejected" if rows_in else "it holds no observations"
    raise QualityGateError(
        f"{where}: {detail}; nothing was written. Check the input files (a header line or empty file is not data)",
        counts={"rows_in": rows_in, "rows_rejected": rows_rejected},
    )


def to_quarantine(
    df,
    raw_col,
    source_file_col,
    reason_col,
    job: str,
    run_id: str,
    run_date: str,
    raw_bytes_col: Optional[str] = None,
    line_col: Optional[str] = None,
):
    """Shape rejected rows for the quarantine: raw record (cut to 100 KB), source file, reason, run, and
    (`line_col`) the record's line number in its file.

    `raw` is valid UTF-8 whatever the input held (Java's decoder puts U+FFFD for invalid bytes), so that
    every engine reads the table; `raw_bytes_col`, when given, is kept as `raw_bytes` (binary, cut to
    100 KB): the record's original bytes.
    """
    from pyspark.sql import functions as F

    raw = F.decode(F.encode(F.col(raw_col).cast("string"), "UTF-8"), "UTF-8")
    extra = [F.substring(F.col(raw_bytes_col), 1, MAX_RAW_BYTES).alias("raw_bytes")] if raw_bytes_col else []
    extra += [F.col(line_col).cast("long").alias("line")] if line_col else []
    return df.select(
        F.substring(raw, 1, MAX_RAW_BYTES).alias("raw"),
        F.col(source_file_col).cast("string").alias("source_file"),
        F.col(reason_col).cast("string").alias("reason"),
        F.lit(job).alias("job"),
        F.lit(run_id).alias("run_id"),
        F.to_date(F.lit(run_date)).alias("run_date"),
        *extra,
    )


def reason_counts(quarantine_df, limit: int = 5) -> Dict[str, int]:
    """The most frequent reject reasons with their counts."""
    rows = quarantine_df.groupBy("reason").count().orderBy("count", ascending=False).limit(limit).collect()
    return {row["reason"]: int(row["count"]) for row in rows}


def sql_string(value: str) -> str:
    """A Spark SQL string literal (backslash escapes: Spark reads `'a''b'` as two literals, `ab`)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sql_list(values: Sequence[str]) -> str:
    """The items of a SQL IN-list of string literals."""
    return ", ".join(sql_string(v) for v in values)


def publish_quarantine(quarantine_df, uri: str, replace_where: str) -> None:
    """Write rejected rows to the job's quarantine Delta table, replacing what `replace_where` selects.

    The predicate makes a re-run idempotent: a job passes the run date (and, for incremental
    jobs, the source files) it is re-doing, so the same rejects are never stored twice.
    """
    replace_rows(quarantine_df, uri, replace_where)  # a quarantine written before a column (line) takes it


def publish_read_rejects(rejects, files: Sequence[str], job: str, lake, run_id: str, run_date: str) -> None:
    """A read's rejected lines (raw, source_file, line, reason) to <lake>/quarantine/<job>/, replacing the run date's
    rows from the same files, so a re-run never stores them twice."""
    line = "line" if "line" in rejects.columns else None
    shaped = to_quarantine(rejects, "raw", "source_file", "reason", job, run_id, run_date, line_col=line)
    where = f"run_date = '{run_date}' AND source_file IN ({sql_list(files)})"
    publish_quarantine(shaped, lake.quarantine(job), where)

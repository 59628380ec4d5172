"""The counting pass: lines, rows and rejects by file, event date, reason and parser, before anything is published.

It asks the compiled parser only for event times (the same decision, without building the columns)
and runs parse_lines only over the lines the compiled parser does not take, if any.
"""

from __future__ import annotations

import datetime as dt
from typing import Dict, List

from pyspark.sql import functions as F

from core.quality import MAX_RAW_BYTES
from jobs.ingest_logs.compiled import compiled_time
from jobs.ingest_logs.parse import parse_lines
from jobs.ingest_logs.table import in_event_range

EPOCH = dt.datetime(1970, 1, 1)


def compiled_times(lines):
    """The lines with `_micros`: the event time of each access line the compiled parser takes, else null.

    compiled_time makes the compiled parser's decision without building its columns: the counting
    pass of a night whose lines it all takes needs no more. Times outside the table's range are left
    to parse_lines, which rejects them.
    """
    line = F.col("line")
    takeable = ~F.col("is_json") & (F.octet_length(line) <= MAX_RAW_BYTES)
    timed = lines.select("*", F.when(takeable, compiled_time(lines.sparkSession, line)).alias("_t"))
    return timed.select(*lines.columns, F.when(in_event_range(F.col("_t")), F.col("_t")).alias("_micros"))


def not_compiled(lines):
    """The lines the compiled parser does not take: JSON, empty, too long, out-of-range and declined lines."""
    return compiled_times(lines).filter(F.col("_micros").isNull()).drop("_micros")


def line_stats(lines, mapping: Dict[str, List[str]]) -> List[dict]:
    """Lines per file, event day, reject reason, parser and UTF-8 validity, with the event-time range of each
    group: days since the epoch and epoch microseconds, numbers that any event time fits (no Python dates).

    One pass with compiled_time counts the lines the compiled parser takes; the other lines, if any, are
    then read again through parse_lines (the rules and the reasons) and counted the same way.
    """
    micros = F.col("_micros")
    groups = (
        compiled_times(lines)
        .groupBy("source_file", F.unix_date(F.to_date(F.timestamp_micros(micros))).alias("event_day"))
        .agg(F.count("*").alias("n"), F.min(micros).alias("lo"), F.max(micros).alias("hi"))
        .collect()
    )
    taken = {"reason": None, "parsed_by": "compiled", "invalid_utf8": False}
    stats = [{**g.asDict(), **taken} for g in groups if g["event_day"] is not None]
    if len(stats) < len(groups):
        rest = parse_lines(not_compiled(lines), mapping).select(
            "*", F.unix_date("event_date").alias("event_day"), F.unix_micros("event_ts").alias("_micros")
        )
        stats += [
            g.asDict()
            for g in rest.groupBy("source_file", "event_day", "reason", "parsed_by", "invalid_utf8")
            .agg(F.count("*").alias("n"), F.min(micros).alias("lo"), F.max(micros).alias("hi"))
            .collect()
        ]
    return stats


def iso_time(micros: int) -> str:
    """An event time of the table's range (epoch microseconds) as ISO 8601 UTC, `Z` suffixed."""
    return (EPOCH + dt.timedelta(microseconds=micros)).isoformat() + "Z"


def iso_day(day: int) -> str:
    """A day of the table's range (days since the epoch) as YYYY-MM-DD."""
    return (EPOCH.date() + dt.timedelta(days=day)).isoformat()


def facts(stats) -> dict:
    """Counts, reasons, event-time range and per-file dates from the grouped counts (line_stats)."""
    lines = rows = invalid = 0
    reasons: Dict[str, int] = {}
    by_parser: Dict[str, int] = {}
    files: Dict[str, dict] = {}
    lo = hi = None
    dates = set()
    for row in stats:
        n = int(row["n"])
        lines += n
        invalid += n if row["invalid_utf8"] else 0
        if row["parsed_by"] is not None:
            by_parser[row["parsed_by"]] = by_parser.get(row["parsed_by"], 0) + n
        entry = files.setdefault(row["source_file"], {"dates": set(), "lines": 0})
        entry["lines"] += n
        if row["reason"] is None:  # a taken row: its time is in the table's range
            rows += n
            day = iso_day(row["event_day"])
            dates.add(day)
            entry["dates"].add(day)
            lo = row["lo"] if lo is None or row["lo"] < lo else lo
            hi = row["hi"] if hi is None or row["hi"] > hi else hi
        else:
            reasons[row["reason"]] = reasons.get(row["reason"], 0) + n
    for entry in files.values():
        entry["dates"] = sorted(entry["dates"])
    return {
        "lines": lines,
        "rows": rows,
        "rejected_total": lines - rows,
        "invalid_utf8": invalid,
        "reasons": dict(sorted(reasons.items())),
        "by_parser": dict(sorted(by_parser.items())),
        "files": files,
        "dates": sorted(dates),
        "lo": iso_time(lo) if lo is not None else None,
        "hi": iso_time(hi) if hi is not None else None,
    }

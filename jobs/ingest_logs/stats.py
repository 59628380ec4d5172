"""The counting pass: lines, rows and rejects by file, event date, reason and parser, before anything is published.

It asks the compiled parser only for event times (the same decision, without building the columns)
and runs parse_lines only over the lines the compiled parser does not take, if any.
"""

from __future__ import annotations

from typing import Dict, List

from pyspark.sql import functions as F

from jobs.common.quality import MAX_RAW_BYTES
from jobs.ingest_logs.compiled import compiled_time
from jobs.ingest_logs.parse import parse_lines


def compiled_times(lines):
    """The lines with `_micros`: the event time of each access line the compiled parser takes, else null.

    compiled_time makes the compiled parser's decision without building its columns: the counting
    pass of a night whose lines it all takes needs no more.
    """
    line = F.col("line")
    takeable = ~F.col("is_json") & (F.octet_length(line) <= MAX_RAW_BYTES)
    return lines.select("*", F.when(takeable, compiled_time(lines.sparkSession, line)).alias("_micros"))


def not_compiled(lines):
    """The lines the compiled parser does not take: JSON, empty, too long and declined lines."""
    return compiled_times(lines).filter(F.col("_micros").isNull()).drop("_micros")


def line_stats(lines, mapping: Dict[str, List[str]]) -> List[dict]:
    """Lines per file, event date, reject reason and parser, with the event-time range of each group.

    One pass with compiled_time counts the lines the compiled parser takes; the other lines, if any, are
    then read again through parse_lines (the rules and the reasons) and counted the same way.
    """
    ts = F.timestamp_micros("_micros")
    groups = (
        compiled_times(lines)
        .groupBy("source_file", F.to_date(ts).alias("event_date"))
        .agg(F.count("*").alias("n"), F.min(ts).alias("lo"), F.max(ts).alias("hi"))
        .collect()
    )
    stats = [{**g.asDict(), "reason": None, "parsed_by": "compiled"} for g in groups if g["event_date"] is not None]
    if len(stats) < len(groups):
        rest = parse_lines(not_compiled(lines), mapping)
        stats += [
            g.asDict()
            for g in rest.groupBy("source_file", "event_date", "reason", "parsed_by")
            .agg(F.count("*").alias("n"), F.min("event_ts").alias("lo"), F.max("event_ts").alias("hi"))
            .collect()
        ]
    return stats


def facts(stats) -> dict:
    """Counts, reasons, event-time range and per-file dates from the grouped parse result."""
    lines = rows = 0
    reasons: Dict[str, int] = {}
    by_parser: Dict[str, int] = {}
    files: Dict[str, dict] = {}
    lo = hi = None
    dates = set()
    for row in stats:
        n = int(row["n"])
        lines += n
        if row["parsed_by"] is not None:
            by_parser[row["parsed_by"]] = by_parser.get(row["parsed_by"], 0) + n
        entry = files.setdefault(row["source_file"], {"dates": set(), "lines": 0})
        entry["lines"] += n
        if row["reason"] is None:
            rows += n
            day = row["event_date"].isoformat()
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
        "reasons": dict(sorted(reasons.items())),
        "by_parser": dict(sorted(by_parser.items())),
        "files": files,
        "dates": sorted(dates),
        "lo": lo.isoformat() + "Z" if lo else None,
        "hi": hi.isoformat() + "Z" if hi else None,
    }

"""The steps of one ingest_logs run, in order: plan the input, sniff, count (and gate), publish, ledger."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Sequence

from jobs.common.errors import LakemlError
from jobs.common.files import Listing, list_tree
from jobs.common.lake import FileInfo, exists, list_files
from jobs.common.ledger import identity, ledger_uri, plan_files, read_ledger, write_ledger
from jobs.common.log import stage
from jobs.common.quality import RejectPolicy, check_reject_gate, sql_list
from jobs.ingest_logs.parse import parse_lines
from jobs.ingest_logs.reading import file_format, find_unreadable, first_lines, sniff_format
from jobs.ingest_logs.stats import facts as stats_facts
from jobs.ingest_logs.stats import line_stats, not_compiled
from jobs.ingest_logs.table import (
    JOB,
    compiled_rows,
    no_rejects,
    rejected_rows,
    table_rows,
    write_quarantine,
    write_table,
)


@dataclass
class InputPlan:
    """What a run takes: files with lines (`read`), zero-byte files (`empty`), and what it leaves."""

    listing: Listing
    ledger: Dict[str, dict]
    read: List[FileInfo] = field(default_factory=list)
    empty: List[FileInfo] = field(default_factory=list)
    skipped: List[FileInfo] = field(default_factory=list)
    changed: List[str] = field(default_factory=list)

    @property
    def taken(self) -> List[FileInfo]:
        """Every file this run takes (and records in the ledger)."""
        return sorted(self.read + self.empty, key=lambda f: f.uri)


def load_ledger(spark, lake, source: str) -> Dict[str, dict]:
    """uri -> {size, mtime_ms, run_id, dates, lines} of every file taken so far."""
    return read_ledger(spark, ledger_uri(lake, JOB, source)).get("files", {})


def plan_input(spark, args) -> InputPlan:
    """List --input, and decide from the ledger which files to take."""
    with stage("list_files") as counts:
        listing = list_tree(spark, args.input)
        ledger = load_ledger(spark, args.lake, args.source)
        files = plan_files(listing.files, ledger, args.reprocess)
        counts.update(listed=len(listing.files), to_read=len(files.read), skipped=len(files.skipped))
    read = files.read
    if args.reprocess and read:
        read = with_same_date_files(spark, read, ledger, listing.files)
    plan = InputPlan(listing, ledger, skipped=files.skipped, changed=files.changed)
    plan.read = [f for f in read if f.size > 0]
    plan.empty = [f for f in read if f.size == 0]
    return plan


def with_same_date_files(
    spark, read: List[FileInfo], ledger: Dict[str, dict], listed: Sequence[FileInfo]
) -> List[FileInfo]:
    """For --reprocess: add every existing ledger file that shares an event date with the files read."""
    reading = {f.uri for f in read}
    dates = {d for uri in reading for d in ledger.get(uri, {}).get("dates", [])}
    extra = [uri for uri, entry in ledger.items() if uri not in reading and dates & set(entry.get("dates", []))]
    if not extra:
        return read
    present = {f.uri: f for f in listed}
    read = list(read)
    for uri in extra:
        info = present.get(uri)
        if info is None and exists(spark, uri):
            found = list_files(spark, uri)
            info = found[0] if found else None
        if info is not None:
            read.append(info)
    return sorted(read, key=lambda f: f.uri)


def input_counts(plan: InputPlan) -> Dict[str, object]:
    """The summary's counts of a run before any line is read."""
    return {
        "files_listed": len(plan.listing.files),
        "files_taken": len(plan.empty),
        "files_skipped": len(plan.skipped),
        "files_changed": len(plan.changed),
        "files_ignored": len(plan.listing.ignored),
        "files_empty": len(plan.empty),
        "lines_read": 0,
        "rows_written": 0,
        "rejected": {},
    }


def sniff(spark, files: Sequence[FileInfo], fmt: str) -> Dict[str, str]:
    """Each file's kind (`access` or `json`): from its first lines for --format auto, else the flag's."""
    with stage("sniff") as counts:
        formats = {f.uri: sniff_format(first_lines(spark, f.uri)) if fmt == "auto" else file_format(fmt) for f in files}
        counts.update(
            json=sum(v == "json" for v in formats.values()), access=sum(v == "access" for v in formats.values())
        )
    return formats


def count_lines(spark, lines, files: Sequence[FileInfo], mapping: Dict[str, List[str]]) -> dict:
    """The counting pass (stats.line_stats) turned into facts; an unreadable compressed file named."""
    with stage("parse") as counts:
        try:
            stats = line_stats(lines, mapping)
        except Exception as error:
            bad = find_unreadable(spark, files)
            if bad is not None:
                raise LakemlError(
                    f"cannot read {bad[0]}: {bad[1]} (truncated or corrupt compressed file); "
                    "replace or remove it and run again. Nothing was published."
                ) from None
            raise error
        facts = stats_facts(stats)
        counts.update(lines=facts["lines"], rows=facts["rows"], rejected=facts["rejected_total"])
    return facts


def fact_counts(facts: dict, formats: Dict[str, str], plan: InputPlan) -> Dict[str, object]:
    """The summary's counts from the counting pass."""
    return {
        "files_taken": len(plan.taken),
        "files_by_format": {k: sum(v == k for v in formats.values()) for k in ("access", "json")},
        "lines_read": facts["lines"],
        "lines_by_parser": facts["by_parser"],
        "rows_written": facts["rows"],
        "rejected": facts["reasons"],
        "event_time_min": facts["lo"],
        "event_time_max": facts["hi"],
        "event_dates": facts["dates"],
    }


def gate(facts: dict, max_reject_fraction: float) -> None:
    """The reject gate: exit 3 and nothing published when there are too many rejects."""
    top = dict(sorted(facts["reasons"].items(), key=lambda kv: -kv[1])[:5])
    check_reject_gate(facts["lines"], facts["rejected_total"], RejectPolicy(max_fraction=max_reject_fraction), top)


def taken_files_predicate(plan: InputPlan) -> str:
    """The replaceWhere that selects the rows of the taken files."""
    return f"source_file IN ({sql_list([f.uri for f in plan.taken])})"


def publish_table(spark, args, lines, facts: dict, plan: InputPlan, mapping: Dict[str, List[str]]) -> None:
    """Replace the taken files' rows (and for --reprocess their event dates) in the table."""
    where = taken_files_predicate(plan)
    if args.reprocess and facts["dates"]:
        where = f"(event_date IN ({sql_list(facts['dates'])}) OR {where})"
    # the usual night: the compiled parser takes every line, and the table's pass runs its plan alone; else
    # parse_lines, without the regex when no line needs it
    if facts["by_parser"].get("compiled", 0) == facts["lines"]:
        table = compiled_rows(lines, args.run_id)
    else:
        table = table_rows(parse_lines(lines, mapping, regex=bool(facts["by_parser"].get("regex"))), args.run_id)
    with stage("publish_table") as counts:
        write_table(spark, table, args.lake.table(f"logs_{args.source}"), where)
        counts.update(rows=facts["rows"])


def publish_rejects(args, lines, facts: dict, plan: InputPlan, mapping: Dict[str, List[str]]) -> None:
    """Replace the taken files' rejects in the quarantine."""
    with stage("publish_quarantine") as counts:
        # only lines the compiled parser does not take can be rejects
        rejected = (
            rejected_rows(parse_lines(not_compiled(lines), mapping), args.run_id, args.run_date)
            if facts["rejected_total"]
            else no_rejects(lines, args.run_id, args.run_date)
        )
        write_quarantine(rejected, args.lake.quarantine(JOB), taken_files_predicate(plan))
        counts.update(rows=facts["rejected_total"])


def record_ledger(spark, args, plan: InputPlan, per_file: Dict[str, dict]) -> None:
    """Record the files taken (with their dates and line counts) and write the ledger."""
    ledger = plan.ledger
    with stage("ledger") as counts:
        for info in plan.taken:
            found = per_file.get(info.uri, {"dates": [], "lines": 0})
            entry = {"run_id": args.run_id, "dates": found["dates"], "lines": found["lines"]}
            ledger[info.uri] = {**identity(info), **entry}
        write_ledger(spark, ledger_uri(args.lake, JOB, args.source), {"source": args.source, "files": ledger})
        counts.update(files=len(ledger))

"""The steps of one ingest_logs run, in order: plan the input, sniff, count (and gate), publish, ledger."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple

from core.context import RunContext
from core.errors import LakemlError, QualityGateError, UsageError
from core.files import Listing, list_files, list_input
from core.lake import FileInfo, exists
from core.ledger import identity, ledger_uri, missing_files, plan_files, read_ledger, write_ledger
from core.log import logger, stage
from core.quality import RejectPolicy, check_reject_gate, gate_verdict, sql_list
from jobs.ingest_logs.conf import IngestLogsSettings
from jobs.ingest_logs.parse import parse_lines
from jobs.ingest_logs.reading import file_format, find_unreadable, first_lines, sniff_format
from jobs.ingest_logs.stats import facts as stats_facts
from jobs.ingest_logs.stats import line_stats, not_compiled
from jobs.ingest_logs.table import (
    JOB,
    compiled_rows,
    delete_rows,
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
    dropped: List[str] = field(default_factory=list)

    @property
    def taken(self) -> List[FileInfo]:
        """Every file this run takes (and records in the ledger)."""
        return sorted(self.read + self.empty, key=lambda f: f.uri)

    @property
    def new(self) -> List[FileInfo]:
        """The taken files the ledger did not have."""
        return [f for f in self.taken if f.uri not in self.ledger]


def load_ledger(spark, lake, source: str) -> Dict[str, dict]:
    """uri -> {size, mtime_ms, run_id, dates, lines} of every file taken so far."""
    return read_ledger(spark, ledger_uri(lake, JOB, source)).get("files", {})


def plan_input(spark, context: RunContext, settings: IngestLogsSettings) -> InputPlan:
    """List --input, and decide from the ledger which files to take."""
    with stage("list_files") as counts:
        listing = list_input(spark, settings.input)
        ledger = load_ledger(spark, context.lake, settings.source)
        files = plan_files(listing.files, ledger, settings.reprocess)
        counts.update(listed=len(listing.files), to_read=len(files.read), skipped=len(files.skipped))
    read, dropped = files.read, []
    if settings.reprocess and read:
        read, dropped = with_same_date_files(spark, read, ledger, listing.files)
        refuse_vanished(dropped, settings.drop_missing)
    plan = InputPlan(listing, ledger, skipped=files.skipped, changed=files.changed, dropped=dropped)
    plan.read = [f for f in read if f.size > 0]
    plan.empty = [f for f in read if f.size == 0]
    return plan


def refuse_vanished(vanished: List[str], drop_missing: bool) -> None:
    """--reprocess replaces whole event dates: refuse when files holding rows of them are gone (unless asked)."""
    if vanished and not drop_missing:
        raise UsageError(
            f"--reprocess: {len(vanished)} file(s) in the ledger share event dates with this run but are gone: "
            f"{', '.join(vanished[:10])}{' ...' if len(vanished) > 10 else ''}. Restore them, or pass "
            "--drop-missing to remove their rows from the table (nothing was changed)"
        )


def with_same_date_files(
    spark, read: List[FileInfo], ledger: Dict[str, dict], listed: Sequence[FileInfo]
) -> Tuple[List[FileInfo], List[str]]:
    """For --reprocess: add every ledger file that shares an event date with the files read; the ones
    that no longer exist are returned apart (vanished)."""
    reading = {f.uri for f in read}
    dates = {d for uri in reading for d in ledger.get(uri, {}).get("dates", [])}
    extra = [uri for uri, entry in ledger.items() if uri not in reading and dates & set(entry.get("dates", []))]
    present = {f.uri: f for f in listed}
    read = list(read)
    for uri in missing_files(ledger, listed, extra):  # outside the listing: maybe elsewhere, maybe gone
        found = list_files(spark, uri) if exists(spark, uri) else []
        if found:
            present[uri] = found[0]
    read += [present[uri] for uri in extra if uri in present]
    vanished = sorted(uri for uri in extra if uri not in present)
    return sorted(read, key=lambda f: f.uri), vanished


def input_counts(plan: InputPlan) -> Dict[str, object]:
    """The summary's counts of a run before any line is read."""
    return {
        "files_listed": len(plan.listing.files),
        "files_taken": len(plan.empty),
        "files_skipped": len(plan.skipped),
        "files_changed": len(plan.changed),
        "files_new": len(plan.new),
        "files_ignored": len(plan.listing.ignored),
        "files_empty": len(plan.empty),
        "files_dropped": plan.dropped,
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
        "lines_invalid_utf8": facts["invalid_utf8"],
        "rows_written": facts["rows"],
        "rejected": facts["reasons"],
        "event_time_min": facts["lo"],
        "event_time_max": facts["hi"],
        "event_dates": facts["dates"],
    }


def nothing_new(settings: IngestLogsSettings, plan: InputPlan) -> str:
    """The message of a run that takes no file; with --require-new that trips the gate (exit 3)."""
    message = f"no new or changed files under {settings.input} ({len(plan.skipped)} already taken); nothing to do"
    if settings.require_new:
        raise QualityGateError(f"{message}, and --require-new was given: is the night's input missing?")
    logger.info(message)
    return message


def gate(
    context: RunContext,
    settings: IngestLogsSettings,
    lines,
    facts: dict,
    plan: InputPlan,
    mapping: Dict[str, List[str]],
) -> None:
    """The reject gate: exit 3 and nothing published to the table when there are too many rejects; the
    quarantine (diagnostic) still gets the taken files' rejects, and the message says where they are."""
    policy = RejectPolicy(max_fraction=settings.max_reject_fraction)
    if gate_verdict(facts["lines"], facts["rejected_total"], policy) is None:
        return
    publish_rejects(context, lines, facts, plan, mapping)
    top = dict(sorted(facts["reasons"].items(), key=lambda kv: -kv[1])[:5])
    where = f"{context.lake.quarantine(JOB)}, run_id {context.run_id}"
    check_reject_gate(facts["lines"], facts["rejected_total"], policy, top, quarantine=where)


def taken_files_predicate(plan: InputPlan) -> str:
    """The replaceWhere that selects the rows of the taken (and the dropped) files."""
    return f"source_file IN ({sql_list(sorted([f.uri for f in plan.taken] + plan.dropped))})"


def publish_table(
    spark,
    context: RunContext,
    settings: IngestLogsSettings,
    lines,
    facts: dict,
    plan: InputPlan,
    mapping: Dict[str, List[str]],
) -> None:
    """Replace the taken files' rows (and for --reprocess their event dates) in the table."""
    where = taken_files_predicate(plan)
    if settings.reprocess and facts["dates"]:
        where = f"(event_date IN ({sql_list(facts['dates'])}) OR {where})"
    # the usual night: the compiled parser takes every line, and the table's pass runs its plan alone; else
    # parse_lines, without the regex when no line needs it
    if facts["by_parser"].get("compiled", 0) == facts["lines"]:
        table = compiled_rows(lines, context.run_id)
    else:
        table = table_rows(parse_lines(lines, mapping, regex=bool(facts["by_parser"].get("regex"))), context.run_id)
    with stage("publish_table") as counts:
        write_table(spark, table, context.lake.table(f"logs_{settings.source}"), where)
        counts.update(rows=facts["rows"])


def publish_rejects(context: RunContext, lines, facts: dict, plan: InputPlan, mapping: Dict[str, List[str]]) -> None:
    """Replace the taken files' rejects in the quarantine."""
    with stage("publish_quarantine") as counts:
        # only lines the compiled parser does not take can be rejects
        rejected = (
            rejected_rows(parse_lines(not_compiled(lines), mapping), context.run_id, context.run_date)
            if facts["rejected_total"]
            else no_rejects(lines, context.run_id, context.run_date)
        )
        write_quarantine(rejected, context.lake.quarantine(JOB), taken_files_predicate(plan))
        counts.update(rows=facts["rejected_total"])


def publish_empty(spark, context: RunContext, settings: IngestLogsSettings, plan: InputPlan) -> None:
    """A run whose taken files hold no line: their earlier rows leave the table and the quarantine."""
    with stage("publish_empty") as counts:
        for uri in (context.lake.table(f"logs_{settings.source}"), context.lake.quarantine(JOB)):
            delete_rows(spark, uri, taken_files_predicate(plan))
        counts.update(files=len(plan.taken) + len(plan.dropped))


def record_ledger(
    spark, context: RunContext, settings: IngestLogsSettings, plan: InputPlan, per_file: Dict[str, dict]
) -> None:
    """Record the files taken (with their dates and line counts) and write the ledger."""
    ledger = plan.ledger
    with stage("ledger") as counts:
        for uri in plan.dropped:
            ledger.pop(uri, None)
        for info in plan.taken:
            found = per_file.get(info.uri, {"dates": [], "lines": 0})
            entry = {"run_id": context.run_id, "dates": found["dates"], "lines": found["lines"]}
            ledger[info.uri] = {**identity(info), **entry}
        write_ledger(
            spark, ledger_uri(context.lake, JOB, settings.source), {"source": settings.source, "files": ledger}
        )
        counts.update(files=len(ledger))

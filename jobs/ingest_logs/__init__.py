"""ingest_logs: raw web/app logs under a prefix into the typed Delta table `tables/logs_<source>`.

Every file under `--input` (nested folders, plain or gzip) is one of: Apache/Nginx access logs
(common, combined, vhost_combined, with real-world variants) or JSON lines (one event per line,
mapped to columns by `--json-mapping`). Each line becomes a row of the table or a row of the
quarantine, never neither.

A run (steps.py, in this order):
1. plan: list the input files (core.files: hidden and underscore files skipped and counted,
   zero-byte files taken as inputs without lines); the ledger (`_state/ingest_logs/<source>/ledger.json`,
   core.ledger) says which (uri, size, mtime) were already taken; only new or changed files are read;
2. sniff: `auto` decides each file's format from its first lines (reading.py);
3. count: the counting pass (stats.py) over the parse (parse.py: the compiled parser, compiled.py,
   then the regex path, access_regex.py, and JSON lines, json_lines.py), then the reject gate (exit 3,
   nothing published);
4. publish: the table's and the quarantine's Delta commits, replacing the taken files' rows (table.py);
   the table's commit parses the files again rather than caching the first pass (with the compiled
   parser a second parse is cheaper than a cache, and memory stays flat);
5. ledger: the taken files, their event dates and line counts.
`--reprocess` re-reads every file under `--input` (ledger or not) plus every ledger file sharing an
event date with them, and replaces those dates whole.
"""

from __future__ import annotations

import re

from core.cli import fraction
from core.context import RunContext, settings_from
from core.errors import UsageError
from core.lake import normalize_uri
from core.quality import MAX_RAW_BYTES
from core.summary import RunSummary
from jobs.ingest_logs.access_regex import (
    ABSOLUTE_URL_HEAD,
    ACCESS_PATTERN,
    ACCESS_REPLACEMENT,
    BOT_HINTS,
    BOT_PATTERN,
    SEP,
    is_bot,
    query_map,
)
from jobs.ingest_logs.compiled import (
    ACCESS_PARSER_CLASS,
    ACCESS_PARSER_FIELDS,
    ACCESS_PARSER_SCHEMA,
    AccessLineParser,
    access_parser,
    compiled_parse,
    compiled_time,
)
from jobs.ingest_logs.conf import IngestLogsSettings
from jobs.ingest_logs.json_lines import DEFAULT_JSON_MAPPING, JSON_TARGETS, json_schema, parse_json_mapping
from jobs.ingest_logs.parse import parse_lines
from jobs.ingest_logs.reading import read_lines, sniff_format
from jobs.ingest_logs.stats import compiled_times, line_stats, not_compiled
from jobs.ingest_logs.steps import (
    count_lines,
    fact_counts,
    gate,
    input_counts,
    nothing_new,
    plan_input,
    publish_empty,
    publish_rejects,
    publish_table,
    record_ledger,
    sniff,
)
from jobs.ingest_logs.table import (
    DATE_WRITERS_PER_TASK,
    JOB,
    STATS_COLUMNS,
    TABLE_COLUMNS,
    TABLE_WRITE_CONFS,
    compiled_rows,
    rejected_rows,
    table_rows,
)

HELP = "access logs and JSON event lines into the Delta table logs_<source>"
FORMATS = ("auto", "combined", "common", "json")
DEFAULT_MAX_REJECT_FRACTION = 0.1

__all__ = [
    "ABSOLUTE_URL_HEAD",
    "ACCESS_PARSER_CLASS",
    "ACCESS_PARSER_FIELDS",
    "ACCESS_PARSER_SCHEMA",
    "ACCESS_PATTERN",
    "ACCESS_REPLACEMENT",
    "BOT_HINTS",
    "BOT_PATTERN",
    "DATE_WRITERS_PER_TASK",
    "DEFAULT_JSON_MAPPING",
    "HELP",
    "JOB",
    "MAX_RAW_BYTES",
    "SEP",
    "STATS_COLUMNS",
    "TABLE_COLUMNS",
    "TABLE_WRITE_CONFS",
    "AccessLineParser",
    "access_parser",
    "add_arguments",
    "compiled_parse",
    "compiled_rows",
    "compiled_time",
    "compiled_times",
    "is_bot",
    "json_schema",
    "line_stats",
    "not_compiled",
    "parse_json_mapping",
    "parse_lines",
    "query_map",
    "read_lines",
    "rejected_rows",
    "run",
    "sniff_format",
    "table_rows",
    "validate",
]


def add_arguments(parser) -> None:
    """The job's flags."""
    parser.add_argument("--source", required=True, help="source name; the table is <lake>/tables/logs_<source>")
    parser.add_argument("--input", required=True, help="prefix holding the log files: local path, file:// or s3://")
    parser.add_argument(
        "--format",
        default="auto",
        choices=FORMATS,
        help="log format; auto decides per file from its first lines (a JSON object or an access-log line); "
        "common and combined share one pattern (referrer and user agent optional, vhost:port prefix allowed)",
    )
    parser.add_argument(
        "--json-mapping",
        default=DEFAULT_JSON_MAPPING,
        help="for JSON lines: comma-separated column=json.path[|other.path] pairs; columns: " + ", ".join(JSON_TARGETS),
    )
    parser.add_argument(
        "--max-reject-fraction",
        type=fraction,
        default=DEFAULT_MAX_REJECT_FRACTION,
        help="fail (exit 3, nothing published) when more than this fraction of lines is rejected "
        "(a lakeml policy); over 10,000 rejects always fails (Amazon ML's rule)",
    )
    parser.add_argument(
        "--reprocess",
        action="store_true",
        help="re-read every file under --input even if the ledger has it, and rebuild the event dates they touch",
    )
    parser.add_argument(
        "--drop-missing",
        action="store_true",
        help="with --reprocess: remove the rows of ledger files that are gone (without it such a run is refused)",
    )
    parser.add_argument(
        "--require-new",
        action="store_true",
        help="fail (exit 3) when there is no new or changed file under --input (a night without input)",
    )


def validate(args) -> IngestLogsSettings:
    """Check the flags without Spark; the settings with --input normalized and --json-mapping parsed."""
    if not re.match(r"^[a-z][a-z0-9_]*$", args.source or ""):
        raise UsageError(f"--source {args.source!r}: use lower-case letters, digits and _ (it names the table)")
    input_uri = normalize_uri(args.input, "--input")
    return settings_from(IngestLogsSettings, args, input=input_uri, mapping=parse_json_mapping(args.json_mapping))


def run(spark, context: RunContext, settings: IngestLogsSettings) -> RunSummary:
    """Plan the input, read and count it, gate, publish the table and the quarantine, write the ledger."""
    mapping = settings.mapping
    summary = RunSummary(job=JOB, run_id=context.run_id, run_date=context.run_date, inputs=[settings.input])
    summary.outputs = [context.lake.table(f"logs_{settings.source}")]
    plan = plan_input(spark, context, settings)
    summary.counts = input_counts(plan)
    if not plan.read:
        if not plan.taken:
            summary.message = nothing_new(settings, plan)
        if plan.empty or plan.dropped:
            publish_empty(spark, context, settings, plan)
            record_ledger(spark, context, settings, plan, {})
        return summary
    formats = sniff(spark, plan.read, settings.format)
    lines = read_lines(spark, plan.read, formats)
    facts = count_lines(spark, lines, plan.read, mapping)
    summary.rows_in, summary.rows_out, summary.rows_rejected = facts["lines"], facts["rows"], facts["rejected_total"]
    summary.counts.update(fact_counts(facts, formats, plan))
    gate(context, settings, lines, facts, plan, mapping)
    publish_table(spark, context, settings, lines, facts, plan, mapping)
    publish_rejects(context, lines, facts, plan, mapping)
    record_ledger(spark, context, settings, plan, facts["files"])
    summary.outputs.append(context.lake.quarantine(JOB))
    return summary

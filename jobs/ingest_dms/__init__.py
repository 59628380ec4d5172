"""ingest_dms: AWS DMS full-load and CDC files on S3 applied to current-state Delta tables, in order, exactly once.

Input: `<input>/<schema>/<table>/` as DMS writes it (full load `LOAD*.csv|parquet`, CDC files named by
time, optionally under date folders); CONF (`--tables`) declares each table (jobs/ingest_dms/conf.py).
The semantics (file order, change order, stale changes, partial images, full reloads, history, exactly
once) are written down in docs/dms.md. Parts: conf (CONF models), files (listing, order, reading),
changes (pure transforms), batch (plans and the ledger), delta_io (Delta commits), table (one table's run).
"""

from __future__ import annotations

from typing import Dict, List, Optional

from core.cli import fraction, local_file
from core.conf import read_conf
from core.context import RunContext, settings_from
from core.errors import QualityGateError
from core.lake import normalize_uri
from core.quality import MAX_REJECT_FRACTION
from core.summary import RunSummary
from jobs.ingest_dms.apply import APPLY_PLANS, SPLIT_SHARE
from jobs.ingest_dms.conf import EPILOG, IngestDmsSettings, TableSpec, parse_document, select_tables
from jobs.ingest_dms.split import optimize_table
from jobs.ingest_dms.table import apply_table
from jobs.ingest_dms.target import JOB, TableResult

# The parts live in their modules (conf, files, changes, batch, delta_io, table); import them from there.
__all__ = ["HELP", "JOB", "add_arguments", "load_specs", "run", "validate"]

HELP = "apply AWS DMS full-load and CDC files (CSV or Parquet) to current-state Delta tables, in order, exactly once"


def add_arguments(parser) -> None:
    """The job's flags; the epilog lists the CONF fields (generated from TableSpec)."""
    parser.epilog = EPILOG
    parser.add_argument("--input", required=True, help="DMS target folder: <input>/<schema>/<table>/ (s3:// or local)")
    parser.add_argument(
        "--tables", required=True, type=local_file, help="CONF file (JSON or YAML; local path or s3://), see conf/"
    )
    parser.add_argument("--table", default=None, help="apply only this schema.table of the CONF")
    parser.add_argument(
        "--full-reload", action="store_true", help="rebuild the table(s) from the full load, then apply newer CDC files"
    )
    parser.add_argument(
        "--apply-plan",
        choices=APPLY_PLANS,
        default="auto",
        help="how a CDC batch is applied: merge (one MERGE), split (a matched-only MERGE in the batch's key range, "
        f"then an append of new keys), rebuild (the table rewritten); auto: split when the batch is at most "
        f"{SPLIT_SHARE:g} of the table's rows, else merge (docs/dms.md section 8)",
    )
    parser.add_argument(
        "--optimize",
        action="store_true",
        help="after applying, OPTIMIZE each table ZORDER BY its key so batches skip files (cost in the summary)",
    )
    parser.add_argument(
        "--max-reject-fraction",
        type=fraction,
        default=MAX_REJECT_FRACTION,
        help="fail a table (exit 3, nothing applied to it) when more than this fraction of its batch's rows is "
        "rejected (a lakeml policy); over 10,000 rejects always fails (Amazon ML's rule)",
    )


def validate(args) -> IngestDmsSettings:
    """Normalize --input and --tables, and validate a local CONF before any JVM starts."""
    input_uri = normalize_uri(args.input, "--input")
    tables_uri = normalize_uri(args.tables, "--tables")
    specs = read_specs(None, tables_uri, args.table) if tables_uri.startswith("file://") else None
    return settings_from(IngestDmsSettings, args, input=input_uri, tables=tables_uri, table_specs=specs)


def read_specs(spark, tables_uri: str, table: Optional[str]) -> List[TableSpec]:
    """The CONF's tables (read through the lake layer when it is not local), `--table` applied."""
    document = read_conf(spark, tables_uri, "--tables")
    return select_tables(parse_document(document, f"--tables {tables_uri}"), table)


def load_specs(spark, settings: IngestDmsSettings) -> List[TableSpec]:
    """The tables validate read from a local CONF, else the CONF read now."""
    if settings.table_specs is not None:
        return list(settings.table_specs)
    return read_specs(spark, settings.tables, settings.table)


def table_counts(result: TableResult) -> dict:
    """One table's entry in the summary's counts."""
    return {
        "batch": result.batch,
        "full_load": result.full_load,
        "files_applied": result.files_applied,
        "rows_in": result.rows_in,
        "rows_rejected": result.rows_rejected,
        "ops": result.ops,
        "rows_in_table": result.rows_in_table,
        "merge": result.merge,
        "apply_plan": result.apply_plan,
        "optimize": result.optimize,
        "added_columns": result.added_columns,
        "files_ignored": result.files_ignored,
    }


def add_result(summary: RunSummary, ops: Dict[str, int], result: TableResult) -> None:
    """Add one table's rows, files and ops to the run's summary."""
    summary.rows_in += result.rows_in
    summary.rows_rejected += result.rows_rejected
    summary.inputs += result.inputs
    summary.outputs += result.outputs
    for op, n in result.ops.items():
        ops[op] = ops.get(op, 0) + n


def finish(summary: RunSummary, ops: Dict[str, int], tables: Dict[str, dict], gate_errors: list) -> RunSummary:
    """The run's totals; exit 3 (QualityGateError) when any table's gate tripped, after the others were applied."""
    summary.rows_out = summary.rows_in - summary.rows_rejected
    summary.counts = {
        "ops": ops,
        "files_applied": sum(t["files_applied"] for t in tables.values()),
        "rows_in_table": sum(t["rows_in_table"] for t in tables.values()),
        "tables": tables,
    }
    if gate_errors:
        raise QualityGateError(
            " | ".join(str(e) for e in gate_errors),
            counts={"rows_in": summary.rows_in, "rows_rejected": summary.rows_rejected, **summary.counts},
        )
    return summary


def run(spark, context: RunContext, settings: IngestDmsSettings) -> RunSummary:
    """Apply each CONF table's next batch; a table whose gate trips does not stop the others."""
    specs = load_specs(spark, settings)
    summary = RunSummary(job=JOB, run_id=context.run_id, run_date=context.run_date)
    tables: Dict[str, dict] = {}
    ops: Dict[str, int] = {}
    gate_errors: List[QualityGateError] = []
    for spec in specs:
        try:
            result = apply_table(spark, context, settings, spec)
            if settings.optimize:
                result.optimize = optimize_table(spark, context, settings, spec)
        except QualityGateError as error:
            gate_errors.append(error)
            summary.rows_in += int(error.counts.get("rows_in", 0))
            summary.rows_rejected += int(error.counts.get("rows_rejected", 0))
            continue
        add_result(summary, ops, result)
        tables[spec.name] = table_counts(result)
    return finish(summary, ops, tables, gate_errors)

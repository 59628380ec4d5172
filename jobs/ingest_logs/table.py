"""The table `tables/logs_<source>` and the quarantine: their rows, and their Delta commits.

Both commits replace by source file (`replaceWhere source_file IN (taken files)`, plus the event dates
for --reprocess), so re-taking a file replaces exactly its rows.
The table keeps Delta's data-skipping statistics only on the columns logs are filtered by
(STATS_COLUMNS, table property `delta.dataSkippingStatsColumns`, set when the table is created).
"""

from __future__ import annotations

from delta.tables import DeltaTable
from pyspark.sql import functions as F

from core.lake import spark_uri
from core.quality import publish_quarantine, to_quarantine
from core.session import session_confs
from core.tables import replace_rows
from jobs.ingest_logs.compiled import ACCESS_PARSER_FIELDS, NOT_COMPILED_ERROR, compiled_parse

JOB = "ingest_logs"
TABLE_COLUMNS = (
    "event_ts",
    "event_date",
    "client",
    "user",
    "method",
    "url",
    "path",
    "query",
    "protocol",
    "status",
    "bytes",
    "referrer",
    "user_agent",
    "is_bot",
    "extra",
    "vhost",
    "event",
    "user_id",
    "anonymous_id",
    "properties",
    "source_file",
    "run_id",
)
# Delta keeps per-file min/max/null statistics only for the columns people filter logs by, not the first
# 32 columns (their cost: bench/RESULTS.md, ingest_logs); set when the table is created.
STATS_COLUMNS = "event_ts,status,client,path"
# The table's write keeps one Parquet writer open per event date in each task, up to this many, instead of
# sorting the rows by date first (Spark sorts whatever dates a task meets beyond them): a night's files hold
# a few dates, and the write without the sort is faster (bench/RESULTS.md, ingest_logs).
DATE_WRITERS_PER_TASK = 8
# Event times the table takes: from 1900-01-01 (Parquet's limit for timestamps without calendar rebasing)
# to the end of year 9999 (what every engine and Python's datetime hold), UTC, as epoch microseconds
EVENT_TIME_MIN_MICROS = -2_208_988_800_000_000
EVENT_TIME_END_MICROS = 253_402_300_800_000_000
TABLE_WRITE_CONFS = {"spark.sql.maxConcurrentOutputFileWriters": str(DATE_WRITERS_PER_TASK)}


def in_event_range(micros):
    """True for an event time (epoch microseconds) the table takes, null for null."""
    return (micros >= EVENT_TIME_MIN_MICROS) & (micros < EVENT_TIME_END_MICROS)


def table_rows(parsed, run_id: str):
    """The taken rows in the table's column order."""
    return parsed.filter(F.col("reason").isNull()).select(*TABLE_COLUMNS[:-1], F.lit(run_id).alias("run_id"))


def rejected_rows(parsed, run_id: str, run_date: str):
    """The rejected lines in the quarantine's shape."""
    return to_quarantine(
        parsed.filter(F.col("reason").isNotNull()),
        "raw",
        "source_file",
        "reason",
        JOB,
        run_id,
        run_date,
        raw_bytes_col="raw_bytes",
    )


def compiled_rows(lines, run_id: str):
    """The table's rows of input whose lines the compiled parser all takes: its columns as they are, a
    plan much smaller than parse_lines'. A line it does not take fails the query (NOT_COMPILED_ERROR)."""
    # the parse in a projection of its own, so that taking its fields does not run it once per field
    parsed = lines.select("source_file", compiled_parse(lines.sparkSession, F.col("line")).alias("_c"))
    typed = dict(ACCESS_PARSER_FIELDS)
    taken = F.when(in_event_range(F.col("_c.event_micros")), F.col("_c.event_micros"))
    micros = F.coalesce(taken, F.raise_error(F.lit(NOT_COMPILED_ERROR)).cast("bigint"))
    event_ts = F.timestamp_micros(micros)
    derived = {"event_ts": event_ts, "event_date": F.to_date(event_ts), "source_file": F.col("source_file")}
    derived["run_id"] = F.lit(run_id)
    derived["properties"] = F.lit(None).cast("map<string,string>")

    def column(name: str):
        if name in derived:
            return derived[name]
        return F.col("_c")[name] if name in typed else F.lit(None).cast("string")

    return parsed.select(*(column(name).alias(name) for name in TABLE_COLUMNS))


def no_rejects(lines, run_id: str, run_date: str):
    """An empty frame in the quarantine's shape (its commit still clears the files' earlier rejects)."""
    empty = lines.limit(0).select(
        "line", "source_file", F.lit(None).cast("string").alias("reason"), F.col("line").cast("binary").alias("b")
    )
    return to_quarantine(empty, "line", "source_file", "reason", JOB, run_id, run_date, raw_bytes_col="b")


def write_table(spark, table, uri: str, where: str) -> None:
    """Replace what `where` selects in the table with these rows (one Delta commit)."""
    with session_confs(spark, TABLE_WRITE_CONFS):
        options = {"delta.dataSkippingStatsColumns": STATS_COLUMNS}
        replace_rows(table, uri, where, ("event_date",), merge_schema=False, options=options)


def write_quarantine(rejected, uri: str, taken_files: str) -> None:
    """Replace the taken files' earlier rejects in the quarantine with these (one Delta commit); a quarantine
    written before it had `raw_bytes` gains the column."""
    with session_confs(rejected.sparkSession, {"spark.databricks.delta.schema.autoMerge.enabled": "true"}):
        publish_quarantine(rejected, uri, taken_files)


def delete_rows(spark, uri: str, where: str) -> None:
    """Delete the rows `where` selects from a Delta table, if there is one (one Delta commit)."""
    if DeltaTable.isDeltaTable(spark, spark_uri(uri)):
        DeltaTable.forPath(spark, spark_uri(uri)).delete(where)

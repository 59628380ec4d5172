"""execute(): summaries stored and printed, exit codes, the gate, quarantine idempotence."""

import json
import types

from core.cli import execute, parse_job_args
from core.errors import UsageError
from core.lake import read_text, spark_uri
from core.quality import RejectPolicy, check_reject_gate, publish_quarantine, reason_counts, to_quarantine
from core.summary import RunSummary


def fake_job(run):
    return types.SimpleNamespace(HELP="a test job", add_arguments=lambda parser: None, run=run)


def run_fake(spark, lake, run, capsys):
    module = fake_job(run)
    args = parse_job_args("fake", module, ["--lake", lake.root, "--run-date", "2026-11-20", "--run-id", "r1"])
    code = execute(module, args, spark)
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    stored = read_text(spark, lake.run_summary("fake", "2026-11-20", "r1"))
    assert json.loads(stored) == json.loads(last_line)
    return code, json.loads(last_line)


def test_success_prints_and_stores_the_summary(spark, lake, capsys):
    def run(spark_, context, settings):
        return RunSummary(job="fake", run_id=context.run_id, run_date=context.run_date, rows_in=3, rows_out=3)

    code, summary = run_fake(spark, lake, run, capsys)
    assert code == 0 and summary["status"] == "succeeded" and summary["rows_out"] == 3


def test_gate_exits_3_with_counts(spark, lake, capsys):
    def run(spark_, context, settings):
        check_reject_gate(10, 5, RejectPolicy(max_fraction=0.1), {"bad": 5})

    code, summary = run_fake(spark, lake, run, capsys)
    assert code == 3 and summary["status"] == "gate_tripped"
    assert summary["rows_in"] == 10 and summary["rows_rejected"] == 5
    assert summary["counts"]["reasons"] == {"bad": 5}


def test_config_error_exits_2_and_crash_exits_1(spark, lake, capsys):
    def bad_config(spark_, context, settings):
        raise UsageError("--tables: table hr.employee has no key")

    def crash(spark_, context, settings):
        raise RuntimeError("boom")

    code, summary = run_fake(spark, lake, bad_config, capsys)
    assert code == 2 and "hr.employee" in summary["message"]
    code, summary = run_fake(spark, lake, crash, capsys)
    assert code == 1 and summary["message"] == "RuntimeError: boom"


def test_quarantine_rerun_replaces_instead_of_duplicating(spark, lake):
    rejects = spark.createDataFrame(
        [("x" * 200_000, "s3://b/f1.log", "too long"), ("junk", "s3://b/f1.log", "unparseable")],
        "line STRING, file STRING, why STRING",
    )
    shaped = to_quarantine(rejects, "line", "file", "why", "ingest_x", "r1", "2026-11-20")
    uri = lake.quarantine("ingest_x")
    for _ in range(2):
        publish_quarantine(shaped, uri, "run_date = '2026-11-20'")
    stored = spark.read.format("delta").load(spark_uri(uri))
    assert stored.count() == 2
    assert max(len(r.raw) for r in stored.collect()) == 100 * 1024
    assert reason_counts(stored) == {"too long": 1, "unparseable": 1}
    assert set(stored.columns) == {"raw", "source_file", "reason", "job", "run_id", "run_date"}


def test_sql_literals_round_trip_quotes_and_backslashes(spark):
    from core.quality import sql_list, sql_string

    values = ["s3://b/it's.csv", "file:///a\\b/'x'.log", "plain"]
    assert spark.sql(f"SELECT {sql_string(values[0])} AS v").first()["v"] == values[0]
    row = spark.sql(f"SELECT array({sql_list(values)}) AS v").first()
    assert row["v"] == values

import json
import os
import subprocess
import sys

import pytest

from core.cli import new_run_id, parse_job_args
from core.summary import RunSummary, parse_summary
from jobs.main import JOBS, load_job, main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_common_flags_are_parsed_and_checked():
    args = parse_job_args("doctor", load_job("doctor"), ["--lake", "s3://b/p/", "--run-date", "2026-11-20"]).context
    assert args.lake.root == "s3://b/p"
    assert args.run_date == "2026-11-20"
    assert args.run_id and args.job == "doctor"


def test_bad_run_date_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_job_args("doctor", load_job("doctor"), ["--run-date", "2026-13-01"])
    assert exit_.value.code == 2
    assert "--run-date" in capsys.readouterr().err


def test_bad_lake_is_a_usage_error_naming_the_flag(capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_job_args("doctor", load_job("doctor"), ["--lake", "gs://b/x"])
    assert exit_.value.code == 2
    assert "--lake" in capsys.readouterr().err


def test_unknown_job_and_no_job_exit_2(capsys):
    assert main(["nope"]) == 2
    assert "unknown job 'nope'" in capsys.readouterr().err
    assert main([]) == 2


def test_every_registered_job_has_the_contract():
    for name in JOBS:
        module = load_job(name)
        assert callable(module.run) and callable(module.add_arguments) and module.HELP


def test_job_help_needs_no_jvm(tmp_path):
    # No java on PATH at all: --help must still answer, so it cannot start a JVM.
    env = {**os.environ, "PATH": str(tmp_path), "PYTHONPATH": ROOT}
    done = subprocess.run(
        [sys.executable, "-m", "jobs", "doctor", "--help"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "--lake" in done.stdout and "--run-date" in done.stdout


def test_run_ids_sort_by_time_and_are_unique():
    import datetime as dt

    early = new_run_id(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    late = new_run_id(dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc))
    assert early < late and new_run_id() != new_run_id()


def test_summary_round_trips_and_checks_conservation():
    summary = RunSummary(
        job="j", run_id="r", run_date="2026-11-20", rows_in=5, rows_out=3, rows_rejected=2, counts={"files": 2}
    )
    line = summary.to_json()
    assert json.loads(line)["rows_rejected"] == 2
    assert parse_summary(line) == summary and summary.balanced()
    assert not RunSummary(job="j", run_id="r", run_date="d", rows_in=5, rows_out=3).balanced()


def test_help_states_each_default_once():
    from core.cli import HelpFormatter, base_parser

    for job in JOBS:
        module = load_job(job)
        parser = base_parser(job, module.HELP)
        module.add_arguments(parser)
        formatter = HelpFormatter(job)
        for action in parser._actions:
            text = formatter._get_help_string(action) or ""
            stated = text.count("default:") + text.count("default ")
            assert stated <= 1 and "(default: None)" not in text, (job, action.dest, text)

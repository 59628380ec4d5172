"""Careless flags and CONFs of the ML jobs, refused before Spark starts with exit 2, and every exit-2 run
still ends with its JSON summary (printed last, stored under <lake>/_runs/)."""

import contextlib
import io
import json
import os

import pytest

from core.errors import UsageError
from jobs.main import main
from jobs.nightly.conf import parse_conf

DATA = ["--data", "x.csv", "--model-type", "BINARY"]


def run_main(argv):
    """(exit code, stdout lines) of `python -m jobs --check ...` in process (no Spark)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["--check", *argv])
        except SystemExit as stop:
            code = stop.code
    return code, out.getvalue().splitlines(), err.getvalue()


@pytest.mark.parametrize(
    "argv, named",
    [
        (["train", "--name", "m", *DATA, "--params", '{"maxIter": -5}'], "maxIter"),
        (["train", "--name", "m", *DATA, "--params", '{"regParam": NaN}'], "regParam"),
        (["train", "--name", "m", *DATA, "--params", '{"elasticNetParam": 1.5}'], "elasticNetParam"),
        (["train", "--name", "m", *DATA, "--min-gain", "nan"], "--min-gain"),
        (["train", "--name", "adult\n", *DATA], "--name"),
    ],
)
def test_bad_params_and_names_are_exit_2_with_a_summary_naming_them(tmp_path, argv, named):
    lake = tmp_path / "lake"
    code, lines, err = run_main([*argv, "--lake", str(lake), "--run-id", "r1", "--run-date", "2026-11-20"])
    assert code == 2 and named in err
    summary = json.loads(lines[-1])
    assert summary["exit_code"] == 2 and summary["status"] == "failed" and named in summary["message"]
    assert "\n" not in summary["message"]
    stored = json.load(open(lake / "_runs" / argv[0] / "2026-11-20" / "r1.json"))
    assert stored == summary


def test_a_lake_that_is_a_regular_file_is_exit_2_before_spark(tmp_path):
    path = tmp_path / "lake"
    path.write_text("not a folder")
    for argv in (["models"], ["train", "--name", "m", *DATA]):
        code, lines, err = run_main([*argv, "--lake", str(path)])
        assert code == 2 and "is a file, not a folder" in err
        assert json.loads(lines[-1])["exit_code"] == 2
    assert path.read_text() == "not a folder"


def test_a_nightly_conf_names_its_bad_model_name_when_parsed():
    conf = {"train": [{"name": "../evil", "model_type": "BINARY", "features": "f"}]}
    with pytest.raises(UsageError, match=r"train\[0\]\.name"):
        parse_conf(json.dumps(conf))
    with pytest.raises(UsageError, match=r"score\[0\]\.table"):
        parse_conf(json.dumps({"score": [{"name": "m", "table": "a/b"}]}))


def test_the_run_summary_of_an_unknown_flag_is_printed_too(tmp_path):
    code, lines, _ = run_main(["score", "--name", "m", "--data", "x.csv", "--bogus", "--lake", str(tmp_path)])
    assert code == 2 and json.loads(lines[-1])["job"] == "score"
    assert os.listdir(tmp_path / "_runs" / "score")


def test_a_time_split_without_a_range_trains_on_each_groups_earliest_80_percent():
    from ml.split import parse_split

    split = parse_split('{"splitting": {"strategy": "time", "strategyParams": {"column": "ts"}}}')
    assert (split.percent_begin, split.percent_end, split.column) == (0.0, 80.0, "ts")


def test_missing_aws_credentials_are_told_as_what_to_do():
    from core.cli import known_environment_error

    trace = "py4j.protocol.Py4JJavaError: ... NoAuthWithAWSException: No AWS Credentials provided by ..."
    message = known_environment_error(trace, "s3://nobucket/lake")
    assert "s3://nobucket/lake" in message and "LAKEML_S3_ENDPOINT" in message
    assert known_environment_error("ValueError: something else", "s3://b/l") is None

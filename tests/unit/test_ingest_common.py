"""The rules both ingest jobs share, without Spark: URI spelling, glob escaping, hidden files, ledger plans, run ids."""

from __future__ import annotations

import pytest

from core.cli import parse_job_args
from core.files import glob_escape, is_hidden, read_paths
from core.lake import FileInfo, canonical_uri, normalize_uri
from core.ledger import missing_files, plan_files, same_file
from jobs.main import load_job


@pytest.mark.parametrize(
    "spelled, canonical",
    [
        ("s3a://b/k/a b.log", "s3://b/k/a b.log"),
        ("S3N://b/k", "s3://b/k"),
        ("s3://b/k", "s3://b/k"),
        ("file:/tmp/x", "file:///tmp/x"),
        ("file:///tmp/x", "file:///tmp/x"),
        ("hdfs://nn/x", "hdfs://nn/x"),
    ],
)
def test_canonical_uri_has_one_spelling_per_place(spelled, canonical):
    assert canonical_uri(spelled) == canonical


def test_normalize_uri_uses_the_canonical_spelling():
    assert normalize_uri("s3a://bucket/prefix/") == "s3://bucket/prefix"


def test_glob_escape_makes_every_metacharacter_literal():
    assert glob_escape("file:///x/star*.log") == "file:///x/star\\*.log"
    assert glob_escape("br[1]{a,b}?.log") == "br\\[1\\]\\{a,b\\}\\?.log"
    assert glob_escape("back\\slash") == "back\\\\slash"
    assert read_paths(["s3://b/q?.log"]) == ["s3a://b/q\\?.log"]


def test_hidden_and_underscore_entries():
    assert is_hidden("/_SUCCESS") and is_hidden("/.x.log") and is_hidden("/_tmp/a.log")
    assert not is_hidden("/dt=2026-11-20/a_b.log")


def test_plan_takes_new_and_changed_files_and_skips_known_ones():
    listed = [FileInfo("file:///r/a", 10, 1), FileInfo("file:///r/b", 15, 2), FileInfo("file:///r/c", 3, 3)]
    ledger = {"file:///r/a": {"size": 10, "mtime_ms": 1}, "file:///r/b": {"size": 10, "mtime_ms": 1}}
    plan = plan_files(listed, ledger)
    assert [f.uri for f in plan.read] == ["file:///r/b", "file:///r/c"]
    assert [f.uri for f in plan.skipped] == ["file:///r/a"] and plan.changed == ["file:///r/b"]
    assert [f.uri for f in plan_files(listed, ledger, retake_all=True).read] == [f.uri for f in listed]
    assert same_file([10, 1], listed[0]) and not same_file([10, 2], listed[0]) and not same_file(None, listed[0])
    assert missing_files(ledger, listed[:1], ["file:///r/a", "file:///r/b", "file:///r/z"]) == ["file:///r/b"]


@pytest.mark.parametrize("run_id", ["../../x", "a/b", "r 1", "", "x;y"])
def test_run_id_outside_the_safe_alphabet_is_a_usage_error(run_id, capsys):
    with pytest.raises(SystemExit) as stop:
        parse_job_args("doctor", load_job("doctor"), ["--run-id", run_id])
    assert stop.value.code == 2 and "--run-id" in capsys.readouterr().err


def test_run_id_in_the_safe_alphabet_is_kept():
    assert parse_job_args("doctor", load_job("doctor"), ["--run-id", "2026-11-21.nightly_1"]).context.run_id == (
        "2026-11-21.nightly_1"
    )

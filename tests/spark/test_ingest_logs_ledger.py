"""ingest_logs runs over one lake in sequence (the ledger's rules), one behaviour per test.

The sequence runs once (module fixture): a.log (10 lines) and b.log (5 lines); the same input again
(nothing new), with --require-new; a.log rewritten with 15 lines; b.log deleted and --reprocess
(refused), then --reprocess --drop-missing; a missing --input prefix.
"""

from __future__ import annotations

import json
import os

import pytest

from core.lake import Lake
from tests.helpers import run_in_process
from tests.spark.test_ingest_logs import generated_lines


def write(path: str, lines: list) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def history(spark, tmp_path_factory):
    """name -> (exit code, summary, table rows per source file after the run, ledger files)."""
    base = tmp_path_factory.mktemp("ledger")
    raw = base / "raw"
    raw.mkdir()
    lake = Lake.at(str(base / "lake"))
    write(str(raw / "a.log"), generated_lines(10, seed=1))
    write(str(raw / "b.log"), generated_lines(5, seed=2))
    out = {"raw": "file://" + str(raw)}

    def step(name: str, *extra: str, input_uri: str = str(raw)) -> None:
        argv = ["--source", "web", "--input", input_uri, "--lake", lake.root, "--run-date", "2026-11-21", *extra]
        code, summary = run_in_process(spark, "ingest_logs", argv)
        per_file = {}
        if os.path.exists(lake.table("logs_web")[len("file://") :]):
            rows = spark.read.format("delta").load(lake.table("logs_web")).groupBy("source_file").count().collect()
            per_file = {r.source_file: r["count"] for r in rows}
        ledger_path = lake.state("ingest_logs", "web", "ledger.json")[len("file://") :]
        with open(ledger_path, encoding="utf-8") as handle:
            ledger = json.load(handle)["files"]
        out[name] = (code, summary, per_file, ledger)

    step("first")
    step("again")
    step("require_new", "--require-new")
    mtime = os.stat(raw / "a.log").st_mtime
    write(str(raw / "a.log"), generated_lines(15, seed=3))
    os.utime(raw / "a.log", (mtime + 10, mtime + 10))  # a rewrite within the same second still differs
    step("changed")
    os.remove(raw / "b.log")
    step("reprocess_missing", "--reprocess")
    step("drop_missing", "--reprocess", "--drop-missing")
    step("no_prefix", input_uri=str(raw / "nope"))
    return out


def file_uri(history, name: str) -> str:
    return history["raw"] + "/" + name


def test_first_run_takes_both_files(history):
    code, summary, per_file, _ = history["first"]
    assert code == 0 and summary["counts"]["files_new"] == 2
    assert per_file == {file_uri(history, "a.log"): 10, file_uri(history, "b.log"): 5}


def test_no_new_files_succeeds_and_says_so(history):
    code, summary, per_file, _ = history["again"]
    assert code == 0 and summary["counts"]["files_new"] == 0 and summary["counts"]["files_skipped"] == 2
    assert "no new or changed files" in summary["message"]
    assert per_file == history["first"][2]


def test_require_new_makes_no_new_files_exit_3(history):
    code, summary, per_file, _ = history["require_new"]
    assert code == 3 and "--require-new" in summary["message"]
    assert per_file == history["first"][2]


def test_a_changed_file_is_taken_again_and_replaces_its_rows(history):
    code, summary, per_file, ledger = history["changed"]
    assert code == 0 and summary["counts"]["files_changed"] == 1 and summary["rows_in"] == 15
    assert per_file == {file_uri(history, "a.log"): 15, file_uri(history, "b.log"): 5}
    assert ledger[file_uri(history, "a.log")]["lines"] == 15


def test_reprocess_with_a_vanished_input_refuses_naming_it(history):
    code, summary, per_file, ledger = history["reprocess_missing"]
    assert code == 2 and file_uri(history, "b.log") in summary["message"] and "--drop-missing" in summary["message"]
    assert per_file == history["changed"][2] and file_uri(history, "b.log") in ledger


def test_drop_missing_removes_the_vanished_files_rows_and_says_so(history):
    code, summary, per_file, ledger = history["drop_missing"]
    assert code == 0 and summary["counts"]["files_dropped"] == [file_uri(history, "b.log")]
    assert per_file == {file_uri(history, "a.log"): 15}
    assert file_uri(history, "b.log") not in ledger


def test_a_missing_input_prefix_is_a_usage_error_naming_it(history):
    code, summary, _, _ = history["no_prefix"]
    assert code == 2 and "--input" in summary["message"] and "nope" in summary["message"]

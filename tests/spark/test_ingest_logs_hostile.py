"""ingest_logs under hostile input (issue 23): one run over glob-named, hidden, zero-byte, out-of-range
and invalid-UTF-8 files, then one behaviour per test; file names from a hostile alphabet (hypothesis)."""

from __future__ import annotations

import gzip
import json
import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.files import list_tree
from core.lake import Lake
from jobs.ingest_logs import read_lines
from tests.helpers import run_in_process
from tests.spark.test_ingest_logs import generated_lines

GLOB_NAMES = [
    "star1.log",
    "star*.log",
    "qm?.log",
    "qmX.log",
    "br[1].log",
    "br1.log",
    "cur{a,b}.log",
    "cura.log",
    "a b.log",
    "pct%41.log",
    "plus+x.log",
    "hash#x.log",
    "quo\"te's.log",
    "ünï©ødé.log",
]
OUT_OF_RANGE = [
    "[31/Dec/9999:23:59:59 -1200]",  # 10000-01-01 in UTC
    "[01/Jan/0001:00:00:00 +0100]",  # year 0 in UTC
    "[01/Jan/1500:00:00:00 +0000]",
    "[31/Dec/1899:12:00:00 +0000]",
]
JUNK_LINES = 10
BAD_UTF8_UA = b'192.0.2.2 - - [20/Nov/2026:01:00:01 +0000] "GET / HTTP/1.1" 200 5 "-" "Mozilla/5.0 \xff\xfe"'


def junk_lines() -> list:
    """Lines of random bytes (no line breaks), none of them valid UTF-8."""
    rng = random.Random(23)
    return [bytes([0xFF]) + bytes(rng.choice(range(0x80, 0x100)) for _ in range(40)) for _ in range(JUNK_LINES)]


def write_lines(path: str, lines: list) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in lines))


def hostile_input(root: str) -> dict:
    """The raw prefix; returns lines written per literal file name."""
    written = {}
    for i, name in enumerate(GLOB_NAMES):
        written[name] = generated_lines(5, seed=100 + i)
        write_lines(os.path.join(root, name), written[name])
    times = generated_lines(5, seed=7)
    for stamp in OUT_OF_RANGE:
        times.append(times[0].split(" [", 1)[0] + " " + stamp + " " + times[0].split("] ", 1)[1])
    written["times.log"] = times
    written["junk.log"] = [*junk_lines(), BAD_UTF8_UA]
    for name in ("times.log", "junk.log"):
        write_lines(os.path.join(root, name), written[name])
    for hidden in (".hidden.log", "_tmp/part.log"):
        write_lines(os.path.join(root, hidden), generated_lines(3))
    for empty in ("_SUCCESS", "empty.log", "empty.log.gz"):
        open(os.path.join(root, empty), "wb").close()
    return written


@pytest.fixture(scope="module")
def hostile(spark, tmp_path_factory):
    """One run of the job over the hostile prefix: (summary, table rows, quarantine rows, ledger, written, root)."""
    base = tmp_path_factory.mktemp("hostile")
    root = str(base / "raw")
    written = hostile_input(root)
    lake = Lake.at(str(base / "lake"))
    argv = ["--source", "web", "--input", root, "--lake", lake.root, "--run-date", "2026-11-21"]
    code, summary = run_in_process(spark, "ingest_logs", [*argv, "--max-reject-fraction", "0.5"])
    assert code == 0, summary["message"]
    table = spark.read.format("delta").load(lake.table("logs_web")).collect()
    quarantine = spark.read.format("delta").load(lake.quarantine("ingest_logs")).collect()
    with open(os.path.join(lake.state("ingest_logs", "web", "ledger.json")[len("file://") :]), encoding="utf-8") as f:
        ledger = json.load(f)["files"]
    return summary, table, quarantine, ledger, written, lake


def uri(root_lake_written, name: str) -> str:
    return "file://" + os.path.join(os.path.dirname(root_lake_written.root[len("file://") :]), "raw", name)


def test_every_file_is_read_once_by_its_literal_name(hostile):
    summary, table, quarantine, _, written, lake = hostile
    per_file = {}
    for row in table + quarantine:
        per_file[row.source_file] = per_file.get(row.source_file, 0) + 1
    assert per_file == {uri(lake, name): len(lines) for name, lines in written.items()}
    assert summary["rows_in"] == sum(len(lines) for lines in written.values())
    assert summary["rows_in"] == summary["rows_out"] + summary["rows_rejected"]


def test_hidden_and_underscore_files_are_skipped_and_counted(hostile):
    summary, _table, _, ledger, _, _ = hostile
    assert summary["counts"]["files_ignored"] == 3  # .hidden.log, _tmp/part.log, _SUCCESS
    assert not [u for u in ledger if "hidden" in u or "_tmp" in u or "_SUCCESS" in u]


def test_zero_byte_files_are_empty_inputs_recorded_in_the_ledger(hostile):
    summary, _, _, ledger, _, lake = hostile
    assert summary["counts"]["files_empty"] == 2
    for name in ("empty.log", "empty.log.gz"):
        assert ledger[uri(lake, name)]["lines"] == 0 and ledger[uri(lake, name)]["size"] == 0


def test_the_ledger_and_the_table_spell_source_file_alike(hostile):
    _, table, _, ledger, _, lake = hostile
    assert {row.source_file for row in table} <= set(ledger)
    assert uri(lake, "a b.log") in ledger and uri(lake, "pct%41.log") in ledger


def test_out_of_range_event_times_are_quarantined(hostile):
    summary, table, quarantine, _, _, lake = hostile
    times = uri(lake, "times.log")
    rejected = sorted(r.raw for r in quarantine if r.source_file == times)
    assert [r.reason for r in quarantine if r.source_file == times] == ["event_time_out_of_range"] * 4
    assert all(any(stamp in raw for raw in rejected) for stamp in OUT_OF_RANGE)
    assert sum(r.source_file == times for r in table) == 5
    assert summary["counts"]["rejected"]["event_time_out_of_range"] == 4
    assert summary["counts"]["event_time_min"] >= "1900" and summary["counts"]["event_time_max"] < "9999"


def test_the_quarantine_is_valid_utf8_for_every_engine_and_keeps_the_bytes(hostile):
    import duckdb
    from deltalake import DeltaTable

    summary, _, quarantine, _, _written, lake = hostile
    path = lake.quarantine("ingest_logs")[len("file://") :]
    arrow = DeltaTable(path).to_pyarrow_table()  # fails on invalid UTF-8 in a string column
    assert arrow.num_rows == len(quarantine)
    texts = duckdb.sql(f"SELECT raw FROM read_parquet('{path}/**/*.parquet')").fetchall()  # decodes every raw
    assert len(texts) == len(quarantine)
    junk = [r for r in quarantine if r.source_file == uri(lake, "junk.log")]
    assert sorted(bytes(r.raw_bytes) for r in junk) == sorted(junk_lines())
    assert all("\ufffd" in r.raw for r in junk)
    assert summary["counts"]["lines_invalid_utf8"] == JUNK_LINES + 1  # the junk and one user agent


ALPHABET = st.sampled_from([*list("ab Z09_-.'\"*?[]{}#%+,;=&!@$~^()"), "é", "ß", "€", "日", "🙂"])


@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(names=st.lists(st.text(ALPHABET, min_size=1, max_size=12), min_size=1, max_size=4, unique=True))
def test_hostile_file_names_are_each_read_once(spark, tmp_path_factory, names):
    names = [n for n in names if not n.startswith(("_", ".")) and n not in ("..",)]
    if not names:
        return
    root = tmp_path_factory.mktemp("names")
    written = {}
    for i, name in enumerate(names):
        written[name] = generated_lines(i + 1, seed=i)
        write_lines(os.path.join(str(root), name), written[name])
    listing = list_tree(spark, "file://" + str(root))
    lines = read_lines(spark, listing.files, {f.uri: "access" for f in listing.files})
    counts = {r.source_file: r["count"] for r in lines.groupBy("source_file").count().collect()}
    assert counts == {"file://" + os.path.join(str(root), n): len(v) for n, v in written.items()}


def test_a_zero_byte_gzip_alone_is_an_empty_input(spark, lake, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "empty.log.gz").write_bytes(b"")
    (raw / "one.log.gz").write_bytes(gzip.compress((generated_lines(1)[0] + "\n").encode()))
    argv = ["--source", "web", "--input", str(raw), "--lake", lake.root, "--run-date", "2026-11-21"]
    code, summary = run_in_process(spark, "ingest_logs", argv)
    assert code == 0, summary["message"]
    assert (summary["rows_in"], summary["counts"]["files_taken"], summary["counts"]["files_empty"]) == (1, 2, 1)

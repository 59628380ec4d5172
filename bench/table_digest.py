"""Canonical digests of what the ingest jobs write, to prove a refactor leaves the tables byte-identical.

Runs ingest_logs on the test fixtures (tests/spark/test_ingest_logs.build_input) and on a generated
access log (bench/ingest_logs.generate), and ingest_dms on its generated DMS input (full load, then a
CDC batch), each into a fresh lake under a fixed folder with a fixed run id and run date, then digests
every Delta table under the lakes' tables/ and quarantine/: all columns, maps as sorted entries,
timestamps as epoch microseconds, one JSON text per row, rows sorted, SHA-256 over them.

usage: bench/run.sh table_digest [--out FILE] [--compare FILE] [--lines 50000] [--dms-rows 20000]
       [--decode-source-file] [--only logs|dms]
`--decode-source-file` percent-decodes source_file before hashing (to compare across the change that
made source_file one literal spelling).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ROOT = "/tmp/lakeml-digest"
RUN = ["--run-date", "2026-11-21", "--run-id", "digest"]


def run_job(spark, job: str, argv: list) -> dict:
    """One job in this process, as `python -m jobs` runs it; the summary."""
    from core.cli import execute, parse_job_args
    from jobs.main import load_job

    module = load_job(job)
    args = parse_job_args(job, module, [*argv, *RUN])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = execute(module, args, spark)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    if code != 0:
        raise SystemExit(f"{job} failed ({code}): {summary['message']}")
    return summary


def canonical_rows(df, decode_source_file: bool = False):
    """Each row as one JSON text with stable forms of maps, timestamps and dates."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DateType, MapType, TimestampType

    cols = []
    for field in df.schema.fields:
        c = F.col(f"`{field.name}`")
        if isinstance(field.dataType, MapType):
            c = F.array_sort(F.map_entries(c))
        elif isinstance(field.dataType, TimestampType):
            c = F.unix_micros(c)
        elif isinstance(field.dataType, DateType):
            c = F.unix_date(c)
        elif field.name == "source_file" and decode_source_file:
            c = F.url_decode(c)
        cols.append(c.alias(field.name))
    return df.select(F.to_json(F.struct(*cols)).alias("j"))


def digest(spark, path: str, decode_source_file: bool = False) -> dict:
    """{rows, sha256} of one Delta table."""
    df = spark.read.format("delta").load(path)
    texts = sorted(r.j for r in canonical_rows(df, decode_source_file).collect())
    h = hashlib.sha256()
    for text in texts:
        h.update(text.encode("utf-8") + b"\n")
    return {"rows": len(texts), "columns": df.columns, "sha256": h.hexdigest()}


def delta_tables(lake_root: str) -> list:
    """Every Delta table folder under a local lake's tables/ and quarantine/."""
    found = []
    for top in ("tables", "quarantine"):
        base = os.path.join(lake_root, top)
        if not os.path.isdir(base):
            continue
        for name in sorted(os.listdir(base)):
            if os.path.isdir(os.path.join(base, name, "_delta_log")):
                found.append(f"{top}/{name}")
    return found


def fresh(*parts: str) -> str:
    """An empty folder under ROOT."""
    path = os.path.join(ROOT, *parts)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def logs_cases(spark, lines: int) -> dict:
    """ingest_logs on the fixtures and on a generated log; case -> lake root."""
    from bench.ingest_logs import generate
    from tests.spark.test_ingest_logs import build_input

    lakes = {}
    raw = os.path.join(fresh("logs_fixtures"), "raw")
    build_input(raw)
    lake = os.path.join(ROOT, "logs_fixtures", "lake")
    run_job(spark, "ingest_logs", ["--source", "web", "--input", raw, "--lake", lake])
    lakes["logs_fixtures"] = lake
    raw = fresh("logs_generated", "raw")
    generate(os.path.join(raw, "access.log"), lines)
    lake = os.path.join(ROOT, "logs_generated", "lake")
    run_job(spark, "ingest_logs", ["--source", "bench", "--input", raw, "--lake", lake])
    lakes["logs_generated"] = lake
    return lakes


def dms_cases(spark, rows: int) -> dict:
    """ingest_dms on the bench's DMS input: the full load, then the CDC batch; case -> lake root."""
    from bench.ingest_dms import COLUMNS, generate

    root = fresh("dms", "raw")
    generate(root, rows)
    conf = os.path.join(ROOT, "dms", "tables.json")
    table = {"schema": "bench", "table": "accounts", "format": "parquet", "key": ["id"], "columns": COLUMNS}
    with open(conf, "w", encoding="utf-8") as handle:
        json.dump({"tables": [{**table, "change_seq_column": "seq", "timestamp_column": "ts"}]}, handle)
    folder = os.path.join(root, "bench", "accounts")
    hidden = fresh("dms", "hidden")
    cdc = sorted(f for f in os.listdir(folder) if not f.startswith("LOAD"))
    for name in cdc:
        os.replace(os.path.join(folder, name), os.path.join(hidden, name))
    lake = os.path.join(ROOT, "dms", "lake")
    argv = ["--input", root, "--tables", conf, "--lake", lake]
    run_job(spark, "ingest_dms", argv)
    for name in cdc:
        os.replace(os.path.join(hidden, name), os.path.join(folder, name))
    run_job(spark, "ingest_dms", argv)
    return {"dms": lake}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="write the digests as JSON here")
    parser.add_argument("--compare", help="a digest JSON to compare with; exit 1 on any difference")
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--dms-rows", type=int, default=20_000)
    parser.add_argument("--decode-source-file", action="store_true")
    parser.add_argument("--only", choices=("logs", "dms"))
    opts = parser.parse_args()

    from core.session import TEST_CONF, build_session

    spark = build_session("table-digest", master="local[2]", extra={**TEST_CONF, "spark.driver.memory": "2g"})
    spark.sparkContext.setLogLevel("ERROR")
    lakes = {}
    if opts.only in (None, "logs"):
        lakes.update(logs_cases(spark, opts.lines))
    if opts.only in (None, "dms"):
        lakes.update(dms_cases(spark, opts.dms_rows))
    digests = {
        f"{case}:{table}": digest(spark, os.path.join(lake, table), opts.decode_source_file)
        for case, lake in lakes.items()
        for table in delta_tables(lake)
    }
    spark.stop()
    publish(digests, opts.out, opts.compare, whole=opts.only is None)


def publish(results: dict, out, compare, whole: bool = True) -> None:
    """Print the digests, write them to `out`, and compare with `compare` (exit 1 when any differs).

    whole: keys missing from this run count as differences (a partial run compares only its own keys).
    """
    text = json.dumps(results, indent=1, sort_keys=True)
    print(text)
    if out:
        with open(out, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    if compare:
        with open(compare, encoding="utf-8") as handle:
            before = json.load(handle)
        keys = set(results) | (set(before) if whole else set())
        differ = sorted(k for k in keys if before.get(k) != results.get(k))
        print("identical" if not differ else f"DIFFERENT: {', '.join(differ)}")
        raise SystemExit(1 if differ else 0)


if __name__ == "__main__":
    main()

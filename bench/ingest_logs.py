"""Access-log parsing: lakeml's ingest_logs transform + Delta write vs DuckDB and Polars writing Parquet.

Input: N generated combined-format lines (default 1M, ~170 MB) with real browser user agents
(fake-useragent's browsers.jsonl), a realistic mix of paths, query strings, statuses, '-' bytes
and a few crawler agents, spread over 7 days; cached under bench/.data/.
Contenders, all on the same file, in one run:
- lakeml ingest_logs job, the JVM's first large run: the same job before any other contender at this
  size, so it pays the JIT warm-up of its plans (the 2,000-line warm-up is too short to compile them);
- lakeml ingest_logs job (whole run), the headline, steady throughput: the job's `run` as spark-submit runs it, into a
  fresh lake (list, sniff, a counting pass of the parse for the reject gate, the Delta table commit
  (parsing again), the quarantine commit, the ledger); the input folder holds only this file; in the
  bench's JVM, after the first-run line and the transform lines below (at 4M: after the 1M runs);
- the same job through `./spark-submit.sh local ingest_logs` in a fresh JVM, as a nightly run starts
  (JVM start, class loading, code generation and JIT warm-up included; 1M only);
- lakeml transform + Delta write only: the job's table plan for this file (`read_lines` ->
  `compiled_rows`, every line being one the compiled parser takes) written as a Delta table, without
  the job's counting pass and quarantine (1M only); it runs before the job, so the job's table pass
  finds this plan's code compiled (the fresh-JVM line is the run without any warm-up);
- lakeml transform into noop sink: the same plan into Spark's no-op sink, the parse alone (1M only);
- DuckDB: one `regexp_extract` with a names list (a struct) + `strptime`, `COPY TO` Parquet;
- Polars: `str.extract_groups` with named groups + `str.to_datetime`, `sink_parquet` (1M only);
- DuckDB, the job's columns (1M only): the same regex plus what the job's table holds (UTC event_ts,
  path, query map, is_bot, source_file, run_id, ...) written as Parquet partitioned by event_date; not
  the peer of the target, but the same output work (still without gate, quarantine and Delta log).
All outputs must agree on count, sum(status) and sum(bytes). A second size (default 4M) runs the
job and DuckDB again to show rows/s staying flat. Peak memory: the Python process and the Spark
driver JVM (VmHWM).

usage: bench/run.sh ingest_logs [--rows 1000000] [--big 4000000] [--threads 2]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import shutil
import subprocess
from functools import partial

from bench._harness import DATA_DIR, OUT_DIR, ensure_dirs, peak_rss_mb, report, timed

PATHS = [
    "/",
    "/index.html",
    "/products/{n}",
    "/products/{n}?color=red&size=m",
    "/search?q=shoes&page={n}",
    "/api/v1/items?page={n}&limit=50",
    "/static/app.{n}.js",
    "/static/style.css",
    "/login",
    "/cart",
]
BOTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
]
JOB = "lakeml ingest_logs job (whole run)"
JOB_FIRST = "lakeml ingest_logs job, the JVM's first large run (JIT warm-up of its plans included)"
JOB_FRESH = "lakeml ingest_logs job via ./spark-submit.sh, fresh JVM (a nightly run)"
DUCK = "DuckDB regexp_extract + Parquet"
DUCK_SAME = "DuckDB, the job's columns, Parquet partitioned by event_date"
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

DUCKDB_PATTERN = (
    r'^(\S+) \S+ (\S+) \[([^\]]+)\] "(\S+) (\S+) ?(\S*)" (\d{3}) (\S+)(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?'
)
POLARS_PATTERN = (
    r'^(?P<client>\S+) \S+ (?P<user>\S+) \[(?P<ts>[^\]]+)\] "(?P<method>\S+) (?P<url>\S+) ?(?P<protocol>\S*)" '
    r'(?P<status>\d{3}) (?P<bytes>\S+)(?: "(?P<referrer>(?:[^"\\]|\\.)*)" "(?P<ua>(?:[^"\\]|\\.)*)")?'
)


def user_agents() -> list:
    from tests.datasets import package_file

    path = package_file("fake-useragent", "2.2.0", "fake_useragent/data/browsers.jsonl")
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line)["useragent"] for line in handle if line.strip()]


def generate(path: str, n: int, seed: int = 11) -> None:
    """N combined-format lines; written once and cached."""
    if os.path.exists(path):
        return
    rng = random.Random(seed)
    agents = user_agents()
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        for i in range(n):
            ip = f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            day = 14 + (i * 7) // n
            clock = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
            ts = f"{day:02d}/{MONTHS[10]}/2026:{clock}"
            status = rng.choice((200, 200, 200, 200, 200, 301, 304, 404, 500))
            size = "-" if status == 304 else str(rng.randint(200, 120_000))
            agent = rng.choice(BOTS) if rng.random() < 0.03 else rng.choice(agents)
            agent = agent.replace("\\", "\\\\").replace('"', '\\"')  # escaped as Apache logs it
            target = rng.choice(PATHS).format(n=rng.randint(1, 5000))
            referrer = rng.choice(("-", "https://www.example.com/", "https://www.google.com/search?q=shoes"))
            method = "POST" if rng.random() < 0.1 else "GET"
            out.write(f'{ip} - - [{ts} +0000] "{method} {target} HTTP/1.1" {status} {size} "{referrer}" "{agent}"\n')
    os.replace(tmp, path)


def read_through(path: str) -> None:
    """Read the file once, so that it is in the page cache for every contender (none pays the disk)."""
    with open(path, "rb") as handle:
        while handle.read(1 << 24):
            pass


def lakeml_rows(spark, path: str, plan: str = "compiled"):
    """The table's rows of one access-log file (a lazy DataFrame), by one of the job's plans: `compiled`
    (compiled_rows, what the job runs when the compiled parser takes every line, as here), `hybrid`
    (parse_lines: the compiled parser, the regex for the lines it declines) or `regex` (the regex alone)."""
    from core.lake import FileInfo, normalize_uri
    from jobs import ingest_logs as il

    uri = normalize_uri(path, "input")
    lines = il.read_lines(spark, [FileInfo(uri, os.path.getsize(path), 0)], {uri: "access"})
    if plan == "compiled":
        return il.compiled_rows(lines, "bench")
    return il.table_rows(il.parse_lines(lines, compiled=plan == "hybrid"), "bench")


def lakeml_parse_write(spark, path: str, out: str) -> None:
    """The job's pure transform over the file, written as a Delta table partitioned by event_date, as the
    job writes it."""
    from core.session import session_confs
    from jobs import ingest_logs as il

    shutil.rmtree(out, ignore_errors=True)
    rows = lakeml_rows(spark, path).write.format("delta").mode("overwrite")
    with session_confs(spark, il.TABLE_WRITE_CONFS):
        rows.option("delta.dataSkippingStatsColumns", il.STATS_COLUMNS).partitionBy("event_date").save(out)


def job_argv(path: str, lake_root: str) -> list:
    """The job's flags for a fresh lake and an input folder holding only this file (a hard link)."""
    shutil.rmtree(lake_root, ignore_errors=True)
    raw = os.path.join(lake_root + "_input")
    shutil.rmtree(raw, ignore_errors=True)
    os.makedirs(raw)
    os.link(path, os.path.join(raw, os.path.basename(path)))
    return ["--source", "bench", "--input", raw, "--lake", lake_root, "--run-date", "2026-11-21"]


def lakeml_job(spark, path: str, lake_root: str) -> dict:
    """The whole job as a run does it (list, sniff, counting pass + reject gate, Delta table and
    quarantine commits, ledger), in this process's Spark session."""
    from core.cli import execute, parse_job_args
    from jobs import ingest_logs as il

    args = parse_job_args("ingest_logs", il, job_argv(path, lake_root))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = execute(il, args, spark)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert code == 0, summary
    return summary


def lakeml_job_fresh_jvm(path: str, lake_root: str, threads: int) -> dict:
    """The whole job as a nightly run starts it: ./spark-submit.sh local in a new process and JVM."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "LAKEML_DRIVER_MEMORY": "3g"}
    cmd = [os.path.join(root, "spark-submit.sh"), "local", "ingest_logs", *job_argv(path, lake_root)]
    cmd += ["--master", f"local[{threads}]"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def lakeml_parse_only(spark, path: str) -> None:
    """The same transform into Spark's no-op sink: the parse cost without the Delta write."""
    lakeml_rows(spark, path).write.format("noop").mode("overwrite").save()


def duckdb_copy_parsed(path: str, select: str, out: str, options: str, threads: int) -> None:
    """DuckDB: `COPY (SELECT <select> FROM <the regex's groups as struct p per line>) TO out (options)`."""
    import duckdb

    names = "['client','user','ts','method','url','protocol','status','bytes','referrer','ua']"
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute(
        f"""
        COPY (
          SELECT {select}
          FROM (SELECT regexp_extract(line, '{DUCKDB_PATTERN}', {names}) AS p
                FROM read_csv('{path}', columns={{'line': 'VARCHAR'}}, delim='\\x01', quote='', escape='',
                              header=false, auto_detect=false))
        ) TO '{out}' ({options})
        """
    )
    con.close()


def duckdb_parse_write(path: str, out: str, threads: int) -> None:
    """The peer: ten columns, time, status and bytes typed, one Parquet file."""
    select = """p.client, p.user, strptime(p.ts, '%d/%b/%Y:%H:%M:%S %z') AS ts, p.method, p.url, p.protocol,
                 CAST(p.status AS INTEGER) AS status, TRY_CAST(p.bytes AS BIGINT) AS bytes,
                 NULLIF(p.referrer, '-') AS referrer, p.ua"""
    duckdb_copy_parsed(path, select, out, "FORMAT parquet, COMPRESSION snappy", threads)


def duckdb_job_columns(path: str, out: str, threads: int) -> None:
    """DuckDB producing the job's columns (UTC event_ts, path, query map, is_bot, source_file, run_id, ...)
    as Parquet partitioned by event_date: the same output work as lakeml's table, without the reject
    gate, the quarantine and Delta's log. The query map assumes no repeated keys (true of this input)."""
    from jobs.ingest_logs import ABSOLUTE_URL_HEAD, BOT_PATTERN

    select = f"""strptime(p.ts, '%d/%b/%Y:%H:%M:%S %z') AT TIME ZONE 'UTC' AS event_ts,
                 CAST(strptime(p.ts, '%d/%b/%Y:%H:%M:%S %z') AT TIME ZONE 'UTC' AS DATE) AS event_date,
                 p.client, NULLIF(p.user, '-') AS user, p.method, p.url,
                 regexp_replace(split_part(p.url, '?', 1), '{ABSOLUTE_URL_HEAD}', '') AS path,
                 CASE WHEN strpos(p.url, '?') > 0 THEN map_from_entries(list_transform(
                   string_split(substr(p.url, strpos(p.url, '?') + 1), '&'),
                   lambda x: {{'k': split_part(x, '=', 1), 'v': substr(x, length(split_part(x, '=', 1)) + 2)}}))
                 END AS query,
                 NULLIF(p.protocol, '') AS protocol, CAST(p.status AS INTEGER) AS status,
                 TRY_CAST(p.bytes AS BIGINT) AS bytes, NULLIF(p.referrer, '-') AS referrer,
                 NULLIF(p.ua, '-') AS user_agent, regexp_matches(p.ua, '{BOT_PATTERN}') AS is_bot,
                 CAST(NULL AS VARCHAR[]) AS extra, '{path}' AS source_file, 'bench' AS run_id"""
    options = "FORMAT parquet, COMPRESSION snappy, PARTITION_BY (event_date), OVERWRITE_OR_IGNORE"
    duckdb_copy_parsed(path, select, out, options, threads)


def polars_parse_write(path: str, out: str) -> None:
    import polars as pl

    lines = pl.scan_csv(
        path, has_header=False, separator="\x01", quote_char=None, new_columns=["line"], schema={"line": pl.String}
    )
    parsed = lines.select(pl.col("line").str.extract_groups(POLARS_PATTERN).alias("p")).unnest("p")
    parsed.with_columns(
        pl.col("ts").str.to_datetime("%d/%b/%Y:%H:%M:%S %z", strict=False),
        pl.col("status").cast(pl.Int32, strict=False),
        pl.col("bytes").cast(pl.Int64, strict=False),
    ).sink_parquet(out, compression="snappy")


def check_same(spark, delta_outs: list, duck_out: str, polars_out) -> tuple:
    """Count, sum(status), sum(bytes) of every output; they must be equal."""
    import duckdb

    figures = [
        tuple(spark.read.format("delta").load(out).selectExpr("count(*)", "sum(status)", "sum(bytes)").first())
        for out in delta_outs
    ]
    con = duckdb.connect()
    for out in [duck_out] + ([polars_out] if polars_out else []):
        figures.append(tuple(con.execute(f"SELECT count(*), sum(status), sum(bytes) FROM '{out}'").fetchone()))
    assert len(set(figures)) == 1, figures
    return figures[0]


# ten figures two versions of the table's rows must share (SQL that Spark and DuckDB both run)
TABLE_FIGURES = (
    "count(*)",
    "sum(status)",
    "sum(bytes)",
    "count_if(is_bot)",
    "count(query)",
    "sum(cardinality(query))",
    "min(event_ts)",
    "max(event_ts)",
    "count(DISTINCT path)",
    "sum(length(path))",
)


def naive_utc(value):
    """A UTC-aware datetime (how readers see lakeml's INT64 timestamps) as a naive one; else the value."""
    import datetime

    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        return value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return value


def check_job_columns(table: str, duck_dir: str) -> tuple:
    """The job's table and DuckDB's same-columns output agree on counts, sums, is_bot, query maps, times, paths."""
    import duckdb

    con = duckdb.connect()
    globs = [os.path.join(folder, "**", "*.parquet") for folder in (table, duck_dir)]
    query = f"SELECT {', '.join(TABLE_FIGURES)} FROM read_parquet(?, hive_partitioning=true)"
    figures = [tuple(map(naive_utc, con.execute(query, [glob]).fetchone())) for glob in globs]
    assert figures[0] == figures[1], figures
    return figures[0]


def jvm_peak_mb(spark) -> float:
    """Peak resident memory (VmHWM) of the Spark driver JVM."""
    pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big", type=int, default=4_000_000, help="second size for the flatness check (0: skip)")
    parser.add_argument("--threads", type=int, default=2)
    opts = parser.parse_args()
    ensure_dirs()

    from core.log import configure_logging
    from core.session import build_session

    configure_logging()  # the job's stage lines (seconds per stage) on stderr

    spark = build_session("bench-ingest-logs", master=f"local[{opts.threads}]", extra={"spark.driver.memory": "3g"})
    spark.sparkContext.setLogLevel("ERROR")
    warm = os.path.join(DATA_DIR, "access_combined_2000.log")
    generate(warm, 2000)
    lakeml_parse_write(spark, warm, os.path.join(OUT_DIR, "ingest_logs_warmup"))  # class loading, first commit
    lakeml_job(spark, warm, os.path.join(OUT_DIR, "ingest_logs_warmup_lake"))

    sizes = [opts.rows] + ([opts.big] if opts.big else [])
    for n in sizes:
        path = os.path.join(DATA_DIR, f"access_combined_{n}.log")
        generate(path, n)
        read_through(path)
        mb = os.path.getsize(path) / 1e6
        lake_root = os.path.join(OUT_DIR, f"ingest_logs_{n}_lake")
        delta_out = os.path.join(OUT_DIR, f"ingest_logs_{n}_delta")
        duck_out = os.path.join(OUT_DIR, f"ingest_logs_{n}_duckdb.parquet")
        polars_out = os.path.join(OUT_DIR, f"ingest_logs_{n}_polars.parquet")
        results = []
        if n == opts.rows:  # the transforms before the headline job: its JIT is warm (as for every later size)
            first_lake = os.path.join(OUT_DIR, f"ingest_logs_{n}_first_lake")
            results += [
                timed(JOB_FIRST, n, partial(lakeml_job, spark, path, first_lake)),
                timed("lakeml transform into noop sink", n, partial(lakeml_parse_only, spark, path)),
                timed("lakeml transform + Delta write only", n, partial(lakeml_parse_write, spark, path, delta_out)),
            ]
        results.append(timed(JOB, n, partial(lakeml_job, spark, path, lake_root)))
        if n == opts.rows:
            fresh_lake = os.path.join(OUT_DIR, f"ingest_logs_{n}_fresh_lake")
            results.append(timed(JOB_FRESH, n, partial(lakeml_job_fresh_jvm, path, fresh_lake, opts.threads)))
        results.append(timed(DUCK, n, partial(duckdb_parse_write, path, duck_out, opts.threads)))
        table = os.path.join(lake_root, "tables", "logs_bench")
        if n == opts.rows:
            results.append(timed("Polars extract_groups + Parquet", n, partial(polars_parse_write, path, polars_out)))
            same_out = os.path.join(OUT_DIR, f"ingest_logs_{n}_duckdb_job_columns")
            shutil.rmtree(same_out, ignore_errors=True)
            results.append(timed(DUCK_SAME, n, partial(duckdb_job_columns, path, same_out, opts.threads)))
            fresh_table = os.path.join(OUT_DIR, f"ingest_logs_{n}_fresh_lake", "tables", "logs_bench")
            figures = check_same(spark, [table, delta_out, fresh_table], duck_out, polars_out)
            print(f"job table = DuckDB same columns: {check_job_columns(table, same_out)}")
        else:
            figures = check_same(spark, [table], duck_out, None)
        print(f"outputs agree: count, sum(status), sum(bytes) = {figures}")
        report(f"ingest_logs, {n:,} combined lines ({mb:.0f} MB), {opts.threads} threads", results, baseline=DUCK)
        print(f"peak memory so far: Python {peak_rss_mb():.0f} MB, Spark driver JVM {jvm_peak_mb(spark):.0f} MB")
    spark.stop()


if __name__ == "__main__":
    main()

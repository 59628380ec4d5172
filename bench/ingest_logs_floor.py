"""What Spark cannot go below on the ingest_logs input: reading the lines, the job's one access regex, a raw write.

Same generated combined-format file as bench/ingest_logs.py (default 1M lines), in one run, warm JVM,
each Spark step into the no-op sink unless said, best of two:
- read: `spark.read.text` only;
- read + length: every line touched once;
- read + one regexp_extract: the status field only;
- read + access regex: the job's single `regexp_replace` into separator-joined groups + `split`;
- raw lines to Delta: the lines as one string column written as a Delta table;
- the job's table rows, already parsed and held in memory (built before the timing): read from
  memory only (no-op sink), written as the job writes them (Delta, partitioned by event_date,
  statistics on 4 columns), and as plain partitioned Parquet; DuckDB copying the same rows (read
  from that Parquet) to one Parquet file;
- read + a compiled parser: bench/jvm/AccessGroups.java (a hand-written parser for this layout,
  compiled with javac at the start, called as a Java UDF) giving the same groups as the job's regex;
  checked equal to the regex's groups on every line before timing. Bench only: what a parser compiled
  for the access-log layout would cost instead of the general regex;
- the job's transform (`parse_lines` -> `table_rows`) into the no-op sink and to Delta, beside
- a compiled typed parse: bench/jvm/AccessRow.java, the table's typed columns of an access line from
  AccessGroups' groups in compiled code (a Java UDF returning a struct), into the no-op sink and to
  Delta as the job writes; checked against the job's rows on ten figures before timing. Bench only:
  no vhost, no trailing fields, a simplified reject reason;
- DuckDB: the whole parse + Parquet write of bench/ingest_logs.py (the peer).
The ratios say how much of DuckDB's time each floor already costs; the job has to fit its typed
columns, the reject gate's counts and two commits into what is left.

usage: bench/run.sh ingest_logs_floor [--rows 1000000] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from functools import partial

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._harness import DATA_DIR, OUT_DIR, ensure_dirs, report, timed
from bench.ingest_logs import duckdb_parse_write, generate


def floor_steps(spark, path: str, out: str) -> dict:
    """The Spark steps, each a function that runs once; `out` is a scratch folder."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType, StringType

    from bench.ingest_logs import lakeml_rows
    from jobs.common.session import session_confs
    from jobs.ingest_logs import ACCESS_PATTERN, ACCESS_REPLACEMENT, SEP, STATS_COLUMNS

    names = ("raw", "table", "parquet", "job", "typed")
    delta_out, table_out, parquet_out, job_out, typed_out = (os.path.join(out, name) for name in names)

    def lines():
        return spark.read.text(path)

    def noop(df):
        df.write.format("noop").mode("overwrite").save()

    def raw_delta():
        shutil.rmtree(delta_out, ignore_errors=True)
        lines().write.format("delta").save(delta_out)

    with session_confs(spark, {"spark.sql.inMemoryColumnarStorage.compressed": "false"}):
        rows = lakeml_rows(spark, path).persist(StorageLevel.MEMORY_AND_DISK)
    rows.count()  # parsed once, outside every timing

    def to_delta(df, folder):
        shutil.rmtree(folder, ignore_errors=True)
        writer = df.write.format("delta").option("delta.dataSkippingStatsColumns", STATS_COLUMNS)
        writer.partitionBy("event_date").save(folder)

    def table_parquet():
        shutil.rmtree(parquet_out, ignore_errors=True)
        rows.write.partitionBy("event_date").parquet(parquet_out)

    regex = F.split(F.regexp_replace("value", ACCESS_PATTERN, ACCESS_REPLACEMENT), SEP)
    spark.udf.registerJavaFunction("access_groups", "AccessGroups", ArrayType(StringType()))
    spark.udf.registerJavaFunction("access_row", "AccessRow", ACCESS_ROW)
    typed = compiled_rows(spark, lines())
    assert figures(typed) == figures(lakeml_rows(spark, path)), "the compiled typed parse disagrees with the job"
    compiled = F.call_udf("access_groups", "value")
    differ = lines().filter(~F.equal_null(regex, compiled)).count()
    assert differ == 0, f"the compiled parser and the regex disagree on {differ} lines"
    return {
        "read": lambda: noop(lines()),
        "read + length": lambda: noop(lines().select(F.length("value"))),
        "read + one regexp_extract (status)": lambda: noop(
            lines().select(F.regexp_extract("value", r'" (\d{3}) ', 1).cast("int"))
        ),
        "read + the job's access regex + split": lambda: noop(lines().select(regex.alias("groups"))),
        "read + a compiled parser (Java UDF, same groups)": lambda: noop(lines().select(compiled.alias("groups"))),
        "raw lines to Delta (one string column)": raw_delta,
        "the job's transform, no-op sink": lambda: noop(lakeml_rows(spark, path)),
        "the job's transform, to Delta as the job writes": lambda: to_delta(lakeml_rows(spark, path), job_out),
        "read + compiled typed parse (Java UDF struct), no-op sink": lambda: noop(typed),
        "read + compiled typed parse, to Delta as the job writes": lambda: to_delta(typed, typed_out),
        "the job's parsed rows, from memory, no-op sink": lambda: noop(rows),
        "the job's parsed rows, from memory, to Delta as the job writes them": lambda: to_delta(rows, table_out),
        "the job's parsed rows, from memory, to partitioned Parquet": table_parquet,
    }


ACCESS_ROW = (
    "struct<event_ts:timestamp,client:string,user:string,method:string,url:string,path:string,"
    "query:map<string,string>,protocol:string,status:int,bytes:bigint,referrer:string,user_agent:string,"
    "is_bot:boolean,reason:string>"
)


def compiled_rows(spark, lines):
    """The table's rows from the compiled typed parse (AccessRow), in the job's column order."""
    from pyspark.sql import functions as F

    from jobs.ingest_logs import TABLE_COLUMNS

    # non-deterministic (always true) guard: the optimizer then runs the UDF once per line, never per field
    row = F.when(F.spark_partition_id() >= 0, F.call_udf("access_row", "value"))
    parsed = lines.select(row.alias("r"), F.input_file_name().alias("source_file"))
    taken = parsed.select("r.*", "source_file").filter(F.col("reason").isNull())
    nulls = {name: F.lit(None).cast(kind) for name, kind in NULL_COLUMNS.items()}
    derived = {"event_date": F.to_date("event_ts"), "run_id": F.lit("bench"), **nulls}
    return taken.select(*[derived[c].alias(c) if c in derived else F.col(c) for c in TABLE_COLUMNS])


NULL_COLUMNS = {
    "extra": "array<string>",
    "vhost": "string",
    "event": "string",
    "user_id": "string",
    "anonymous_id": "string",
    "properties": "map<string,string>",
}


def figures(rows) -> tuple:
    """The ten figures of bench/ingest_logs.py's TABLE_FIGURES over a DataFrame of the table's rows."""
    from bench.ingest_logs import TABLE_FIGURES

    return tuple(rows.selectExpr(*TABLE_FIGURES).first())


def compiled_parser_jar() -> str:
    """bench/jvm/AccessGroups.java and AccessRow.java compiled against pyspark's jars: bench/.out/access_parsers.jar."""
    import pyspark

    classes = os.path.join(OUT_DIR, "jvm")
    os.makedirs(classes, exist_ok=True)
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jvm")
    spark_jars = os.path.join(os.path.dirname(pyspark.__file__), "jars", "*")
    sources = [os.path.join(source, name) for name in ("AccessGroups.java", "AccessRow.java")]
    subprocess.run(["javac", "-nowarn", "-d", classes, "-cp", spark_jars, *sources], check=True)
    jar = os.path.join(OUT_DIR, "access_parsers.jar")
    subprocess.run(["jar", "cf", jar, "-C", classes, "."], check=True)
    return jar


def duckdb_copy(scratch: str, out: str) -> None:
    """DuckDB reading the job's rows (the partitioned Parquet step's output) and writing one Parquet file."""
    import duckdb

    source = os.path.join(scratch, "parquet", "**", "*.parquet")
    duckdb.connect().execute(f"COPY (SELECT * FROM read_parquet('{source}')) TO '{out}' (FORMAT parquet)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=2)
    opts = parser.parse_args()
    ensure_dirs()
    path = os.path.join(DATA_DIR, f"access_combined_{opts.rows}.log")
    generate(path, opts.rows)

    from jobs.common.session import build_session, session_conf

    master = f"local[{opts.threads}]"
    jars = session_conf(master)["spark.jars"] + "," + compiled_parser_jar()
    spark = build_session(
        "bench-ingest-logs-floor", master=master, extra={"spark.driver.memory": "3g", "spark.jars": jars}
    )
    spark.sparkContext.setLogLevel("ERROR")
    scratch = os.path.join(OUT_DIR, "ingest_logs_floor")
    steps = floor_steps(spark, path, scratch)
    for step in steps.values():  # warm-up: class loading and code generation for every step
        step()
    results = []
    for name, step in steps.items():
        results.append(min((timed(name, opts.rows, step) for _ in range(2)), key=lambda r: r.seconds))
    duck_out = os.path.join(OUT_DIR, "ingest_logs_floor_duckdb.parquet")
    results.append(timed("DuckDB parse + Parquet", opts.rows, lambda: duckdb_parse_write(path, duck_out, opts.threads)))
    copied = os.path.join(OUT_DIR, "ingest_logs_floor_duckdb_copy.parquet")
    results.append(
        timed("DuckDB: the same parsed rows, Parquet to Parquet", opts.rows, partial(duckdb_copy, scratch, copied))
    )
    spark.stop()
    report(f"ingest_logs floors, {opts.rows:,} lines", results, "DuckDB parse + Parquet")


if __name__ == "__main__":
    main()

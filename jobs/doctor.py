"""doctor: what users run when something is off.

Prints the versions (Python, Java, Spark, Delta, Hadoop) and where the Delta, S3A and AWS
SDK classes were loaded from, runs lakeml's compiled access-line parser (jvm/) on one line
inside Spark's generated code (it is a static call built against Spark 3.5's expression
classes: this proves it fits the cluster's Spark), then proves a Delta write, MERGE, read and
time-travel round trip on `--lake` (local or S3). The scratch table lives under
`<lake>/_doctor/<run_id>` and is removed afterwards.
"""

from __future__ import annotations

import platform
from typing import Dict, List, Tuple

from core.errors import LakemlError
from core.lake import delete, join, spark_uri
from core.log import stage
from core.summary import RunSummary
from core.tables import read_table

HELP = "print versions and jars, prove a Delta write/MERGE/read/time-travel on --lake"

# class that must load -> what it proves
PROBE_CLASSES = {
    "delta": "io.delta.tables.DeltaTable",
    "delta-storage": "io.delta.storage.LogStore",
    "s3a": "org.apache.hadoop.fs.s3a.S3AFileSystem",
    "aws-sdk": "com.amazonaws.services.s3.AmazonS3",
    "lakeml-jvm": "lakeml.AccessLineParser",
}

BEFORE = [(1, "alpha", 10), (2, "beta", 20), (3, "gamma", 30)]
CHANGES = [(2, "beta", 21, "U"), (3, "gamma", 30, "D"), (4, "delta", 40, "I")]
AFTER = [(1, "alpha", 10), (2, "beta", 21), (4, "delta", 40)]
PROBE_LINE = '192.0.2.1 - - [10/Oct/2026:13:55:36 +0000] "GET /a?b=1 HTTP/1.1" 200 '  # + the row's id


def add_arguments(parser) -> None:
    parser.add_argument("--keep", action="store_true", help="keep the scratch Delta table under <lake>/_doctor/")


def class_sources(spark) -> Dict[str, str]:
    """For each probe class, the jar (or folder) it was loaded from, or MISSING."""
    jvm = spark.sparkContext._jvm
    loader = jvm.Thread.currentThread().getContextClassLoader()
    found = {}
    for name, cls in PROBE_CLASSES.items():
        try:
            klass = jvm.Class.forName(cls, False, loader)
            source = klass.getProtectionDomain().getCodeSource()
            found[name] = source.getLocation().toString() if source is not None else "(bootstrap)"
        except Exception:
            found[name] = "MISSING"
    return found


def versions(spark) -> Dict[str, str]:
    """Python, Java, Spark, Delta and Hadoop versions of this session."""
    jvm = spark.sparkContext._jvm
    try:
        delta_version = jvm.io.delta.package.VERSION()  # Scala package object io.delta
    except Exception:
        delta_version = "unknown"
    return {
        "python": platform.python_version(),
        "java": jvm.System.getProperty("java.version"),
        "spark": spark.version,
        "delta": str(delta_version),
        "hadoop": jvm.org.apache.hadoop.util.VersionInfo.getVersion(),
    }


def sorted_rows(df) -> List[Tuple]:
    return sorted(tuple(row) for row in df.collect())


def delta_round_trip(spark, table_uri: str) -> Dict[str, bool]:
    """Write, MERGE, read and time-travel a tiny Delta table; which checks passed."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    path = spark_uri(table_uri)
    spark.createDataFrame(BEFORE, "id INT, name STRING, value INT").write.format("delta").mode("overwrite").save(path)
    changes = spark.createDataFrame(CHANGES, "id INT, name STRING, value INT, op STRING")
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(changes.alias("s"), "t.id = s.id")
        .whenMatchedDelete(condition=F.col("s.op") == "D")
        .whenMatchedUpdate(set={"name": "s.name", "value": "s.value"})
        .whenNotMatchedInsert(
            condition=F.col("s.op") != "D", values={"id": "s.id", "name": "s.name", "value": "s.value"}
        )
        .execute()
    )
    history = DeltaTable.forPath(spark, path).history().select("version", "operation").collect()
    operations = {row["version"]: row["operation"] for row in history}
    return {
        "write": operations.get(0) in ("WRITE", "CREATE OR REPLACE TABLE AS SELECT"),
        "merge": operations.get(1) == "MERGE",
        "read": sorted_rows(read_table(spark, path)) == sorted(AFTER),
        "time_travel": sorted_rows(read_table(spark, path, version=0)) == sorted(BEFORE),
    }


def parser_runs(spark) -> bool:
    """lakeml's compiled parser, called from Spark's generated code, types a line as it should."""
    from pyspark.sql import functions as F

    from jobs.ingest_logs import compiled_parse

    # the line is built from the data, so that the call runs in a generated stage, not at planning
    line = F.concat(F.lit(PROBE_LINE), F.col("id").cast("string"))
    row = spark.range(7, 8).select(compiled_parse(spark, line).alias("c")).first()["c"]
    return row is not None and (row["status"], row["bytes"], row["query"]) == (200, 7, {"b": "1"})


def report(
    versions_: Dict[str, str], sources: Dict[str, str], parsed: bool, round_trip: Dict[str, bool], table_uri: str
) -> str:
    """The human-readable report."""
    lines = ["lakeml doctor", "versions:"]
    lines += [f"  {name:<8} {value}" for name, value in versions_.items()]
    lines.append("classes loaded from:")
    lines += [f"  {name:<13} {source}" for name, source in sources.items()]
    lines.append(f"lakeml's access-line parser in Spark's generated code: {'ok' if parsed else 'FAILED'}")
    lines.append(f"delta round trip on {table_uri}:")
    lines += [f"  {name:<11} {'ok' if passed else 'FAILED'}" for name, passed in round_trip.items()]
    return "\n".join(lines)


def run(spark, context, settings) -> RunSummary:
    table_uri = join(context.lake.root, "_doctor", context.run_id)
    with stage("versions") as counts:
        found_versions = versions(spark)
        sources = class_sources(spark)
        counts["missing"] = sum(source == "MISSING" for source in sources.values())
    missing = [name for name, source in sources.items() if source == "MISSING"]
    if missing:
        raise LakemlError(
            f"classes not found: {', '.join(missing)}; the jars are missing from the session. "
            "Locally run bootstrap/local.sh; on EMR enable the delta-defaults classification and pass the "
            "artifact's lakeml-jvm.jar with --jars (lakeml's step does)."
        )
    with stage("parser") as counts:
        try:
            counts["parser"] = parsed = parser_runs(spark)
        except Exception as error:
            first_line = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
            raise LakemlError(
                f"lakeml's JVM parser does not run on this Spark ({spark.version}): {first_line}. "
                "lakeml-jvm.jar is built for Spark 3.5 (EMR 7.x): check the cluster's release label."
            ) from None
    with stage("delta_round_trip") as counts:
        try:
            round_trip = delta_round_trip(spark, table_uri)
        finally:
            if not settings.keep:
                delete(spark, table_uri)
        counts.update(round_trip)
    print(report(found_versions, sources, parsed, round_trip, table_uri), flush=True)
    checks = {"parser": parsed, **round_trip}
    failed = [name for name, passed in checks.items() if not passed]
    if failed:
        raise LakemlError(f"doctor's checks failed at: {', '.join(failed)} (Delta round trip on {table_uri})")
    return RunSummary(
        job="doctor",
        run_id=context.run_id,
        run_date=context.run_date,
        outputs=[table_uri] if settings.keep else [],
        rows_in=len(AFTER),
        rows_out=len(AFTER),
        rows_rejected=0,
        counts={"versions": found_versions, "classes": sources, "checks": checks},
    )

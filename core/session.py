"""The one SparkSession factory. Jobs never build sessions themselves.

Locally (LAKEML_TARGET unset or `local`): `local[*]` (or `--master`), the jars that
bootstrap/local.sh fetched (LAKEML_JARS_DIR) and lakeml's own JVM jar it compiled
(LAKEML_JVM_JAR), Delta's extension and catalog, and s3a
settings when LAKEML_S3_ENDPOINT names an S3 API endpoint. On EMR (LAKEML_TARGET=emr)
the cluster provides master, jars and S3 access (the step passes lakeml's JVM jar); lakeml
adds only Delta's SQL extension and catalog and the UTC session time zone its jobs rely on.
"""

from __future__ import annotations

import ipaddress
import os
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional
from urllib.parse import urlparse

from core.errors import UsageError
from core.lake import delete, spark_uri, target

DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}
ALWAYS_CONF = {
    **DELTA_CONF,
    # Every timestamp lakeml writes is UTC, whatever the machine's zone.
    "spark.sql.session.timeZone": "UTC",
    # HotSpot never JIT-compiles a method over 8,000 bytes of bytecode; Spark's default limit (65,535)
    # lets whole-stage codegen emit such methods, which then run interpreted (ingest_logs' parse took
    # 9-11 s instead of 7-9 s per 1M lines). At 8,000, Spark compiles those plan parts operator by
    # operator instead, in methods the JIT takes (Spark's docs suggest this value on HotSpot).
    "spark.sql.codegen.hugeMethodLimit": "8000",
    # Timestamps as Parquet's standard INT64 microseconds instead of Spark's legacy INT96: every reader
    # of Delta tables takes them (Spark, Trino/Athena, DuckDB, pyarrow), and the writer encodes them
    # faster (ingest_logs' table pass ~5%).
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    # Tables are created without deletion vectors (Delta's reader feature that delta-rs, and so pandas and
    # Polars users, may not read); a CONF that asks for them sets the table property at creation.
    "spark.databricks.delta.properties.defaults.enableDeletionVectors": "false",
}
# The JVM options of every test JVM (the suite's sessions and the jobs tests start): C1 JIT only (on small
# inputs the default tiered JIT spends more CPU compiling than the job spends running), and the code cache
# tiered compilation would have had: C1 alone gets 48 MB, which Spark's generated classes fill within a
# minute; the JVM then flushes and recompiles, or stops compiling and interprets the rest of the run.
TEST_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m"
# The fast settings for tests: few partitions, no UI, UTC, TEST_JAVA_OPTIONS (a Spark test costs a fraction of
# the default).
TEST_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.adaptive.enabled": "false",
    "spark.driver.extraJavaOptions": TEST_JAVA_OPTIONS,
    "spark.databricks.delta.snapshotPartitions": "2",
}
REQUIRED_JARS = ("delta-spark_2.12", "delta-storage", "hadoop-aws", "aws-java-sdk-bundle")


def local_jars(jars_dir: Optional[str]) -> List[str]:
    """The jar files of the local jar cache; a clear error when the folder or a jar is missing."""
    if not jars_dir:
        raise UsageError(
            "LAKEML_JARS_DIR is not set: run jobs through ./spark-submit.sh local (it sets up the jars), "
            "or run bootstrap/local.sh and export LAKEML_JARS_DIR"
        )
    if not os.path.isdir(jars_dir):
        raise UsageError(f"LAKEML_JARS_DIR={jars_dir} does not exist; run bootstrap/local.sh again")
    jars = sorted(os.path.join(jars_dir, name) for name in os.listdir(jars_dir) if name.endswith(".jar"))
    missing = [
        prefix for prefix in REQUIRED_JARS if not any(os.path.basename(j).startswith(prefix + "-") for j in jars)
    ]
    if missing:
        raise UsageError(f"jar(s) {', '.join(missing)} missing from {jars_dir}; run bootstrap/local.sh again")
    return jars


def lakeml_jar(path: Optional[str]) -> str:
    """lakeml's compiled JVM jar (bootstrap/local.sh builds it from jvm/); a clear error when it is missing."""
    if not path or not os.path.isfile(path):
        raise UsageError(
            f"lakeml's JVM jar (LAKEML_JVM_JAR={path or ''}) is missing: run through ./spark-submit.sh local|emr "
            "(it compiles jvm/ once), or run bootstrap/local.sh and export LAKEML_JVM_JAR"
        )
    return path


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def s3a_conf(endpoint: str) -> Dict[str, str]:
    """Hadoop s3a settings for a custom S3 endpoint; plain HTTP only for loopback endpoints."""
    parsed = urlparse(endpoint)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise UsageError(
            f"LAKEML_S3_ENDPOINT={endpoint!r}: give a URL such as https://s3.example.com or http://127.0.0.1:5000"
        )
    if parsed.scheme == "http" and not is_loopback(parsed.hostname):
        raise UsageError(
            f"LAKEML_S3_ENDPOINT={endpoint!r}: plain HTTP is allowed only for a loopback endpoint "
            "(127.0.0.1, localhost); use https"
        )
    prefix = "spark.hadoop.fs.s3a."
    return {
        prefix + "endpoint": endpoint,
        prefix + "path.style.access": "true",
        prefix + "connection.ssl.enabled": str(parsed.scheme == "https").lower(),
        prefix + "endpoint.region": os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1")),
        prefix + "change.detection.mode": "none" if is_loopback(parsed.hostname) else "server",
        prefix + "connection.establish.timeout": "5000",
        prefix + "attempts.maximum": "3",
        prefix + "retry.limit": "2",
    }


def local_conf(
    jars_dir: Optional[str],
    s3_endpoint: Optional[str] = None,
    master: Optional[str] = None,
    jvm_jar: Optional[str] = None,
    java_options: Optional[str] = None,
) -> Dict[str, str]:
    """Everything a local session needs beyond ALWAYS_CONF (jvm_jar: a checked `lakeml_jar` path).

    java_options (LAKEML_DRIVER_JAVA_OPTIONS) become the driver JVM's options, e.g. -XX:TieredStopAtLevel=1:
    small local runs then spend less of their time compiling.
    """
    conf = {
        "spark.master": master or "local[*]",
        "spark.jars": ",".join(local_jars(jars_dir) + ([jvm_jar] if jvm_jar else [])),
        # The standard AWS chain: env vars, ~/.aws profiles, container and instance roles.
        "spark.hadoop.fs.s3a.aws.credentials.provider": "com.amazonaws.auth.DefaultAWSCredentialsProviderChain",
        "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.sql.shuffle.partitions": str(max(2, 2 * (os.cpu_count() or 1))),
        # Delta replays its log in 50 partitions by default, sized for clusters; a laptop pays
        # for each one on every commit.
        "spark.databricks.delta.snapshotPartitions": str(max(2, os.cpu_count() or 1)),
        "spark.ui.showConsoleProgress": "false",
    }
    if s3_endpoint:
        conf.update(s3a_conf(s3_endpoint))
    if java_options:
        conf["spark.driver.extraJavaOptions"] = java_options
    return conf


def session_conf(master: Optional[str] = None, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The whole configuration the factory applies, for the current target and environment."""
    conf = dict(ALWAYS_CONF)
    if target() == "local":
        conf.update(
            local_conf(
                os.environ.get("LAKEML_JARS_DIR"),
                os.environ.get("LAKEML_S3_ENDPOINT"),
                master,
                lakeml_jar(os.environ.get("LAKEML_JVM_JAR")),
                os.environ.get("LAKEML_DRIVER_JAVA_OPTIONS"),
            )
        )
    conf.update(extra or {})
    return conf


def build_session(app_name: str, master: Optional[str] = None, extra: Optional[Dict[str, str]] = None):
    """Get or create the job's SparkSession with lakeml's configuration."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    for key, value in session_conf(master, extra).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


@contextmanager
def session_confs(spark, confs: Dict[str, str]) -> Iterator[None]:
    """Set SQL settings for the duration of a block, then restore the session's values."""
    before = {key: spark.conf.get(key, None) for key in confs}
    for key, value in confs.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


@contextmanager
def checkpoint_folder(spark, uri: str) -> Iterator[None]:
    """RDD checkpoints of the block go under uri, which is removed afterwards.

    Without a checkpoint folder Spark ignores an iterative estimator's checkpointInterval (ALS's), and
    the lineage grows with every iteration until a task's deserialization overflows its thread stack.
    """
    context = spark.sparkContext
    before = context.getCheckpointDir()
    context.setCheckpointDir(spark_uri(uri))
    try:
        yield
    finally:
        delete(spark, uri)
        if before:
            context.setCheckpointDir(before)

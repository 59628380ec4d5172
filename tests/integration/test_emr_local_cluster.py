"""Cluster-shaped runs, and every table read by delta-rs.

One subprocess (tests/cluster_jobs.py) runs doctor, ingest_logs, ingest_dms and build_features on
the test fixtures twice: on Spark's `local-cluster[2,1,1024]` master (a driver and two executor
JVMs, as a cluster has: what a driver-local file, static state or a jar missing from the
executors' classpath breaks, breaks here; lakeml's parser jar reaches them through spark.jars,
as --jars does on EMR) and on `local[2]`. The pip pyspark carries what local-cluster needs
(bin/spark-class, jars/), so nothing is installed for it. The tables must be the same; then
delta-rs (the `deltalake` package: the reader pandas and Polars users have) reads every Delta
table those default-settings runs wrote, the feature set included (no Spark ML vector type in
any schema), and must see the rows Spark read.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import subprocess
import sys

import pytest

from tests.cluster_jobs import RUN_SPECIFIC, normal, table_folders
from tests.conftest import ROOT

CLUSTER = "local-cluster[2,1,1024]"
LOCAL = "local[2]"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("cluster_jobs")
    env = {**os.environ, "PYTHONPATH": ROOT, "LAKEML_TARGET": "local", "SPARK_LOCAL_IP": "127.0.0.1", "TZ": "UTC"}
    env.pop("LAKEML_S3_ENDPOINT", None)
    script = os.path.join(ROOT, "tests", "cluster_jobs.py")
    done = subprocess.run(
        [sys.executable, script, str(out), CLUSTER, LOCAL], env=env, capture_output=True, text=True, timeout=1800
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_the_four_jobs_succeed_on_separate_executor_jvms(report):
    assert report["jvms"][CLUSTER] == 3 and report["jvms"][LOCAL] == 1  # driver + 2 executors; one JVM
    for master in (CLUSTER, LOCAL):
        for job, run in report["jobs"][master].items():
            assert run["code"] == 0, f"{master} {job}: {run['summary'].get('message')}"
    cluster = report["jobs"][CLUSTER]
    assert all(cluster["doctor"]["summary"]["counts"]["checks"].values())  # the parser ran on the executors
    assert cluster["ingest_logs"]["summary"]["rows_out"] > 0 and cluster["ingest_logs"]["summary"]["rows_rejected"] > 0
    assert cluster["build_features"]["summary"]["rows_out"] == 4  # customers 1, 2, 4, 5 (CDC deleted 3, added 5)


@pytest.mark.slow
def test_local_cluster_gives_the_same_tables_as_local(report):
    cluster, local = report["tables"][CLUSTER], report["tables"][LOCAL]
    assert {"tables/logs_web", "tables/crm_customers", "tables/crm_customers_history", "features/churn"} <= set(cluster)
    assert any(name.startswith("quarantine/") for name in cluster)
    assert sorted(cluster) == sorted(local)
    for name in cluster:
        assert cluster[name] == local[name], name


def rust_value(value):
    """A delta-rs (pyarrow) value in the form tests.cluster_jobs.normal gives Spark's."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if isinstance(value, list) and value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
        return {str(k): rust_value(v) for k, v in sorted(value)}  # a map
    if isinstance(value, dict):
        return {k: rust_value(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [rust_value(v) for v in value]
    if isinstance(value, decimal.Decimal):
        return str(value)
    return normal(value)


def ml_vector_columns(path: str):
    """Columns stored as Spark ML vectors (a `udt` in the Delta schema), from the table's latest metaData."""
    log = os.path.join(path, "_delta_log")
    schema = None
    for name in sorted(n for n in os.listdir(log) if n.endswith(".json")):
        for line in open(os.path.join(log, name), encoding="utf-8"):
            action = json.loads(line)
            if "metaData" in action:
                schema = json.loads(action["metaData"]["schemaString"])
    return [
        f["name"]
        for f in (schema or {}).get("fields", [])
        if isinstance(f["type"], dict) and f["type"].get("type") == "udt"
    ]


def delta_rs_rows(path: str):
    """The table's rows as delta-rs reads them, in the form of tests.cluster_jobs.table_rows."""
    from deltalake import DeltaTable

    table = DeltaTable(path)
    assert "deletionVectors" not in (table.protocol().reader_features or []), f"{path} has deletion vectors"
    data = table.to_pyarrow_table()
    columns = [c for c in data.column_names if c not in RUN_SPECIFIC]
    rows = data.select(columns).to_pylist()
    return sorted(json.dumps({c: rust_value(row[c]) for c in columns}, sort_keys=True) for row in rows)


@pytest.mark.slow
def test_every_table_the_jobs_wrote_is_read_by_delta_rs_with_sparks_rows(report):
    tables = dict(table_folders(report["lakes"][CLUSTER]))
    assert {"tables/logs_web", "tables/crm_customers", "tables/crm_customers_history", "features/churn"} <= set(tables)
    assert {name: ml_vector_columns(path) for name, path in tables.items() if ml_vector_columns(path)} == {}
    for name, path in tables.items():
        assert delta_rs_rows(path) == report["tables"][CLUSTER][name], name

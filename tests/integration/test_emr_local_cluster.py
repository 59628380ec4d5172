"""Cluster-shaped runs, and every table read by delta-rs.

One subprocess (tests/cluster_jobs.py) runs doctor, ingest_logs, ingest_dms and build_features on
the test fixtures twice: on Spark's `local-cluster[2,1,1024]` master (a driver and two executor
JVMs, as a cluster has: what a driver-local file, static state or a jar missing from the
executors' classpath breaks, breaks here; lakeml's parser jar reaches them through spark.jars,
as --jars does on EMR) and on `local[2]`. The pip pyspark carries what local-cluster needs
(bin/spark-class, jars/), so nothing is installed for it. The tables must be the same; then
delta-rs (the `deltalake` package: the reader pandas and Polars users have) reads every Delta
table those default-settings runs wrote and must see the rows Spark read.
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
    if isinstance(value, dict) and set(value) == {"type", "size", "indices", "values"}:  # an ML vector
        if value["type"] == 1:
            return [float(x) for x in value["values"]]
        dense = [0.0] * value["size"]
        for index, x in zip(value["indices"], value["values"]):
            dense[index] = float(x)
        return dense
    if isinstance(value, list) and value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
        return {str(k): rust_value(v) for k, v in sorted(value)}  # a map
    if isinstance(value, dict):
        return {k: rust_value(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [rust_value(v) for v in value]
    if isinstance(value, decimal.Decimal):
        return str(value)
    return normal(value)


@pytest.mark.slow
def test_every_table_the_jobs_wrote_is_read_by_delta_rs_with_sparks_rows(report):
    from deltalake import DeltaTable

    lake = report["lakes"][CLUSTER]
    tables = dict(table_folders(lake))
    assert len(tables) >= 5
    for name, path in tables.items():
        table = DeltaTable(path)
        protocol = table.protocol()
        assert "deletionVectors" not in (protocol.reader_features or []), f"{name} has deletion vectors"
        data = table.to_pyarrow_table()
        columns = [c for c in data.column_names if c not in RUN_SPECIFIC]
        rows = data.select(columns).to_pylist()
        seen = sorted(json.dumps({c: rust_value(row[c]) for c in columns}, sort_keys=True) for row in rows)
        assert seen == report["tables"][CLUSTER][name], name

"""Shared fixtures: one local Spark session for the whole run, a real S3 API server on loopback.

The S3 server (moto's) starts before the JVM so the session's s3a settings can point at
it; s3:// paths in tests therefore go through hadoop-aws exactly as they would to AWS.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import uuid

import pytest

from core.session import TEST_JAVA_OPTIONS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# tests/airflow/ runs in the Airflow venv (./test.sh runs it there); lakeml's venv has no Airflow.
collect_ignore = [] if importlib.util.find_spec("airflow") else ["airflow"]

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ["LAKEML_TARGET"] = "local"
os.environ["TZ"] = "UTC"
# Every job JVM a test starts (spark-submit, `python -m jobs`, Airflow's local tasks) has the test JVM options.
os.environ.setdefault("LAKEML_DRIVER_JAVA_OPTIONS", TEST_JAVA_OPTIONS)
# Dummy credentials for the local S3 server; never real ones in tests.
for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(key, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ["AWS_REGION"] = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's S3/EMR API server on 127.0.0.1 and a free port, for the whole run."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ["LAKEML_S3_ENDPOINT"] = endpoint
    yield endpoint
    server.stop()


@pytest.fixture(scope="session")
def s3_client(s3_endpoint):
    import boto3

    return boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")


@pytest.fixture
def s3_bucket(s3_client):
    """A fresh, empty bucket; returns its s3:// URI."""
    name = "lakeml-test-" + uuid.uuid4().hex[:12]
    s3_client.create_bucket(Bucket=name)
    return f"s3://{name}"


@pytest.fixture(scope="session")
def spark(s3_endpoint, tmp_path_factory):
    """One local Spark session with Delta, s3a pointed at the local S3 server, and the fast test settings."""
    from core.session import TEST_CONF, build_session

    warehouse = tmp_path_factory.mktemp("warehouse")
    session = build_session(
        "lakeml-tests",
        master="local[2]",
        extra={
            **TEST_CONF,
            "spark.sql.warehouse.dir": str(warehouse),
            "spark.driver.memory": "2g",
        },
    )
    session.sparkContext.setLogLevel("ERROR")
    session.sparkContext.setCheckpointDir(str(tmp_path_factory.mktemp("checkpoints")))
    yield session
    session.stop()


@pytest.fixture
def lake(tmp_path):
    """A fresh local lake root as a lakeml Lake."""
    from core.lake import Lake

    return Lake.at(str(tmp_path / "lake"))

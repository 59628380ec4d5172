"""The Airflow suite's set-up: run in the Airflow venv (bootstrap/airflow.sh), never in lakeml's own.

AIRFLOW_HOME is a fresh folder per run with a SQLite metadata database, the DAG folder is dags/,
and AWS goes to moto's server on 127.0.0.1 (the `aws_default` connection from the environment).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AIRFLOW_HOME = tempfile.mkdtemp(prefix="lakeml-airflow-")
os.environ.update(
    AIRFLOW_HOME=AIRFLOW_HOME,
    AIRFLOW__CORE__LOAD_EXAMPLES="False",
    AIRFLOW__CORE__DAGS_FOLDER=os.path.join(ROOT, "dags"),
    LAKEML_AIRFLOW_POKE_SECONDS="1",
    AIRFLOW_VAR_LAKEML_RETRIES="0",  # a failure in a test is final: no 5-minute retry waits
)


def airflow_env(**overrides: str) -> dict:
    """The environment for an `airflow` CLI run: this suite's settings plus Variables given as AIRFLOW_VAR_*."""
    env = dict(os.environ)
    env.update(overrides)
    return env


def airflow(*args: str, env=None, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run the `airflow` CLI of this venv."""
    command = [sys.executable, "-m", "airflow", *args]
    return subprocess.run(command, env=env or airflow_env(), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def airflow_db():
    """A migrated metadata database (what `airflow dags test` needs)."""
    done = airflow("db", "migrate")
    assert done.returncode == 0, done.stderr[-3000:]
    return AIRFLOW_HOME


@pytest.fixture(scope="session")
def aws_endpoint():
    """moto's S3/EMR server on 127.0.0.1, and the `aws_default` connection pointing at it."""
    from moto.server import ThreadedMotoServer

    from tests.conftest import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    extra = {"region_name": "us-east-1", "endpoint_url": endpoint}
    os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps({"conn_type": "aws", "extra": extra})
    yield endpoint
    server.stop()

"""The EMR target run by `airflow dags test` against moto's EMR and S3 server on 127.0.0.1.

moto accepts the calls but runs no step; this test plays the cluster: it completes the first step
it sees and fails the second, with the stderr EMR would archive. The DAG's side is real: RunJobFlow
from emr_config, AddJobFlowSteps, the sensors' DescribeStep polling, the log download and
TerminateJobFlows.
"""

from __future__ import annotations

import gzip
import json
import threading
import time

import boto3
import pytest

from tests.airflow.conftest import airflow, airflow_env

FAILED_STDERR = "Traceback (most recent call last):\nlakeml ingest_dms: --tables: field tables[0].key is missing\n"


def emr_backend():
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.emr.models import emr_backends

    return emr_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]


class Cluster(threading.Thread):
    """Ends the first step COMPLETED and every later one FAILED, archiving its stderr as EMR does."""

    def __init__(self, s3, bucket: str):
        super().__init__(daemon=True)
        self.s3, self.bucket, self.stop, self.seen = s3, bucket, False, []

    def run(self) -> None:
        while not self.stop:
            for cluster in list(emr_backend().clusters.values()):
                for step in cluster.steps:
                    if step.id in self.seen:
                        continue
                    self.seen.append(step.id)
                    if len(self.seen) > 1:
                        key = f"emr-logs/{cluster.id}/steps/{step.id}/stderr.gz"
                        self.s3.put_object(Bucket=self.bucket, Key=key, Body=gzip.compress(FAILED_STDERR.encode()))
                    step.state = "COMPLETED" if len(self.seen) == 1 else "FAILED"
                    step.end_date_time = step.start_date_time
            time.sleep(0.2)


@pytest.fixture(scope="module")
def failed_night(airflow_db, aws_endpoint):
    s3 = boto3.client("s3", endpoint_url=aws_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="lakeml-dag-emr")
    cluster = Cluster(s3, "lakeml-dag-emr")
    cluster.start()
    conf = {
        "lake": "s3://lakeml-dag-emr/lake",
        "bucket": "lakeml-dag-emr",
        "artifact_version": "0.1.0-test",
        "emr_params": {"SUBNET_ID": "subnet-0test"},
    }
    env = airflow_env(AIRFLOW_VAR_LAKEML_TARGET="emr", AIRFLOW_CONN_AWS_DEFAULT=_conn(aws_endpoint))
    done = airflow("dags", "test", "lakeml_nightly", "2026-11-20", "--conf", json.dumps(conf), env=env)
    cluster.stop = True
    return done, cluster


def _conn(endpoint: str) -> str:
    return json.dumps({"conn_type": "aws", "extra": {"region_name": "us-east-1", "endpoint_url": endpoint}})


def test_a_failed_step_still_terminates_the_cluster_the_run_created(failed_night):
    _, cluster = failed_night
    clusters = list(emr_backend().clusters.values())
    assert len(clusters) == 1 and clusters[0].state == "TERMINATED"
    assert clusters[0].name.startswith("lakeml")
    assert len(cluster.seen) == 2  # the ingest steps ran, nothing after the failure was submitted


def test_the_run_fails_and_its_log_shows_the_failed_steps_stderr(failed_night):
    done, _ = failed_night
    output = done.stdout + done.stderr
    assert "state=failed" in output
    assert "field tables[0].key is missing" in output

"""dags/lakeml_nightly.py loaded by Airflow's own DagBag, its graph, and its steps against the launcher's.

Runs in the Airflow venv, which has no pyspark: loading the DAG there is the proof that a worker
without Spark parses it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import TriggerRule

from tests.airflow.conftest import ROOT

DAG_FILE = os.path.join(ROOT, "dags", "lakeml_nightly.py")
RUN_DATE = "2026-11-20"
TS_NODASH = "20261120T000000"


def load_dag(target: str, defaults: bool = False):
    """The DAG as the DAG processor sees it with the Variable lakeml_target set (defaults: no other Variable)."""
    saved = dict(os.environ)
    os.environ["AIRFLOW_VAR_LAKEML_TARGET"] = target
    if defaults:
        for key in [k for k in os.environ if k.startswith("AIRFLOW_VAR_") and k != "AIRFLOW_VAR_LAKEML_TARGET"]:
            del os.environ[key]
    try:
        bag = DagBag(dag_folder=DAG_FILE)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert bag.import_errors == {}
    return bag.dags["lakeml_nightly"]


def test_the_schedule_covers_the_nights_the_variables_name(monkeypatch):
    assert load_dag("local", defaults=True).start_date.isoformat() == "2026-11-20T00:00:00+00:00"
    monkeypatch.setenv("AIRFLOW_VAR_LAKEML_START_DATE", "2027-03-01")
    monkeypatch.setenv("AIRFLOW_VAR_LAKEML_END_DATE", "2027-03-31")
    dag = load_dag("local")
    assert dag.start_date.isoformat() == "2027-03-01T00:00:00+00:00"
    assert dag.end_date.isoformat() == "2027-03-31T23:59:59+00:00"  # the end date's night included
    monkeypatch.setenv("AIRFLOW_VAR_LAKEML_START_DATE", "03/01/2027")
    monkeypatch.setenv("AIRFLOW_VAR_LAKEML_TARGET", "local")
    errors = DagBag(dag_folder=DAG_FILE).import_errors
    assert "lakeml_start_date='03/01/2027': give a date as YYYY-MM-DD" in "".join(errors.values())


def dag_module():
    """The DAG file as a module, for its pure functions."""
    spec = importlib.util.spec_from_file_location("lakeml_nightly_under_test", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upstream_ids(dag, task_id: str) -> set:
    return set(dag.get_task(task_id).upstream_task_ids)


def test_the_dag_parses_without_pyspark():
    assert importlib.util.find_spec("pyspark") is None
    dag = load_dag("emr", defaults=True)
    assert dag.max_active_runs == 1 and dag.catchup is True
    assert dag.default_args["retries"] >= 1 and dag.default_args["retry_exponential_backoff"] is True


def test_the_emr_graph_runs_the_jobs_in_order_and_always_tears_down():
    dag = load_dag("emr")
    order = [task.task_id for task in dag.topological_sort()]
    jobs = [t for t in order if t.endswith(".add_step")]
    stages = [t.split(".")[0].split("_")[0] for t in jobs]
    assert stages[:2] in (["ingest", "ingest"],) and stages.index("build") > 1
    for a, b in zip(("build", "profile", "train"), ("profile", "train", "score")):
        if a in stages and b in stages:
            assert max(i for i, s in enumerate(stages) if s == a) < min(i for i, s in enumerate(stages) if s == b)
    # each job is a step and its sensor; the sensor of one stage comes before the next stage's step
    for add in jobs:
        assert upstream_ids(dag, add.replace(".add_step", ".watch_step")) == {add}
    assert {"ingest_logs_web.watch_step", "ingest_dms.watch_step"} <= upstream_ids(
        dag, "build_features_purchase_propensity.add_step"
    )
    assert dag.get_task("terminate_cluster").trigger_rule == TriggerRule.ALL_DONE
    assert dag.get_task("cluster_was_created").trigger_rule == TriggerRule.ALL_DONE
    last_watch = [t for t in order if t.endswith(".watch_step")][-1]
    assert last_watch in upstream_ids(dag, "cluster_was_created")
    assert dag.get_task("night_failed").trigger_rule == TriggerRule.ONE_FAILED
    create = dag.get_task("create_cluster")
    assert create.emr_conn_id is None and create.aws_conn_id == "aws_default"


@pytest.mark.parametrize("target", ["serverless", "local"])
def test_the_other_targets_run_the_same_steps(target):
    emr_jobs = [t.task_id.split(".")[0] for t in load_dag("emr").topological_sort() if t.task_id.endswith(".add_step")]
    other = [t.task_id for t in load_dag(target).topological_sort() if t.task_id != "plan_night"]
    assert other == emr_jobs


def dry_run(job_args, bucket: str) -> dict:
    """What `./spark-submit.sh emr JOB ... --dry-run` prints (lakeml's venv, not this one)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    done = subprocess.run(
        [
            os.path.join(ROOT, "spark-submit.sh"),
            "emr",
            *job_args,
            "--cluster-id",
            "j-DRY",
            "--dry-run",
            "--bucket",
            bucket,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_the_steps_a_run_sends_are_what_the_launcher_dry_run_prints(aws_endpoint):
    import boto3

    module = dag_module()
    s3 = boto3.client("s3", endpoint_url=aws_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="lakeml-dag-lake")
    lake, bucket = "s3://lakeml-dag-lake/lake", "lakeml-artifacts"
    steps, _ = module.plan(module.read_conf("conf/nightly_demo.yaml"), lake, RUN_DATE, module.run_id_of(TS_NODASH))
    for step in steps[:3]:  # ingest_logs, ingest_dms, build_features: one launcher run each
        printed = dry_run([step.job, *step.argv], bucket)
        params = {"lake": lake, "bucket": bucket, "artifact_version": printed["artifact"]["version"], "emr_params": {}}
        planned = module.plan_night("conf/nightly_demo.yaml", "emr", params, RUN_DATE, TS_NODASH)
        assert list(planned) == [s.name for s in steps]
        assert planned[step.name] == printed["AddJobFlowSteps"]["Steps"]
        assert f"--run-date {RUN_DATE}" in " ".join(printed["AddJobFlowSteps"]["Steps"][0]["HadoopJarStep"]["Args"])
    # the CONF's inline documents were written where the steps read them
    tables = steps[1].argv[steps[1].argv.index("--tables") + 1]
    key = tables[len("s3://lakeml-dag-lake/") :]
    assert (
        s3.get_object(Bucket="lakeml-dag-lake", Key=key)["Body"].read().decode()
        == module.plan(module.read_conf("conf/nightly_demo.yaml"), lake, RUN_DATE, "x")[1][key[len("lake/") :]]
    )

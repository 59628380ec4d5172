"""lakeml_nightly: lakeml's nightly pipeline as an Airflow 3 DAG, one task group per job run.

    ingest_logs.* ─┐
    ingest_dms  ───┴─> build_features.* ─> profile.* ─> train.* ─> score.*

The steps and their flags come from the nightly CONF (conf/nightly_demo.yaml by default), through the
same pure functions `./spark-submit.sh local nightly` runs (jobs/nightly/conf.py) and the same EMR step
builder as `./spark-submit.sh emr` (deploy/steps.py), so the three cannot drift. The logical date is
every job's `--run-date`; every job is idempotent per run date, so retries and backfills are safe, and
`max_active_runs=1` with catchup runs backfilled dates in order. The schedule (02:00 UTC nightly) covers the
nights from the Variable `lakeml_start_date` (default 2026-11-20, the demo's first) to `lakeml_end_date`
(that night included; default: none); once unpaused, the scheduler catches up on every night since the
start, one at a time.

Where the jobs run is the Airflow Variable `lakeml_target` (or env AIRFLOW_VAR_LAKEML_TARGET), read when
the DAG file is parsed, since the three targets need different tasks:
- `emr` (default): a cluster made from emr_config/ (or the `cluster_id` param's), one EMR step plus its
  sensor per job, the cluster terminated at the end whatever happened (trigger rule ALL_DONE) when this run
  made it. A failed step's task log ends with the tail of the step's and the driver's stderr.
- `serverless`: one EMR Serverless job run per job on the `application_id` param's application.
- `local`: each job as `./spark-submit.sh local JOB ...` on this machine (`airflow dags test` on one box).

Run settings are DAG params (defaults from Variables `lakeml_lake`, `lakeml_bucket`, `lakeml_artifact_version`,
...); nothing is hard-coded and no credentials are read here: AWS access is the `aws_conn_id` connection
(`aws_default`), and `emr_conn_id=None` keeps the `emr_default` connection's extra out of the cluster.
The file imports neither pyspark nor boto3 at parse time: it needs lakeml's pure modules (deploy/, jobs/ as
installed by `pip install lakeml` without extras, or the source tree beside dags/) and the Amazon provider.
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import sys
from typing import Any, Dict, List, Optional

from airflow.exceptions import AirflowException
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.emr import (
    EmrAddStepsOperator,
    EmrCreateJobFlowOperator,
    EmrServerlessStartJobOperator,
    EmrTerminateJobFlowOperator,
)
from airflow.providers.amazon.aws.sensors.emr import EmrStepSensor
from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.python import BranchPythonOperator, PythonOperator, ShortCircuitOperator
from airflow.sdk import DAG, Param, TaskGroup, TriggerRule, Variable

LAKEML_ROOT = os.environ.get("LAKEML_ROOT") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if LAKEML_ROOT not in sys.path:
    sys.path.insert(0, LAKEML_ROOT)

from deploy import steps as emr_steps  # noqa: E402
from deploy.logs import report_step_failure  # noqa: E402
from jobs.nightly.conf import Step, parse_conf, plan  # noqa: E402

DAG_ID = "lakeml_nightly"
TARGETS = ("emr", "serverless", "local")
AWS_CONN_ID = "aws_default"
PLANNED = "{{ ti.xcom_pull(task_ids='plan_night')"
# The graph is built from the CONF with a stand-in lake and date; plan_night computes the real flags per run.
SHAPE_LAKE, SHAPE_DATE = "s3://lake", "2000-01-01"
CLUSTER_ID = "{{ ti.xcom_pull(task_ids='cluster_id') }}"
# The demo's first night; a deployment sets lakeml_start_date to its own first night (catch-up runs every
# night from there, in order).
DEFAULT_START = "2026-11-20"
POKE_SECONDS = int(os.environ.get("LAKEML_AIRFLOW_POKE_SECONDS", "60"))
DEFAULT_ARGS = {
    "owner": "lakeml",
    "retry_exponential_backoff": True,
    "max_retry_delay": dt.timedelta(minutes=30),
    "execution_timeout": dt.timedelta(hours=3),
}


def setting(name: str, default: str = "") -> str:
    """A parse-time setting: the Airflow Variable `lakeml_<name>`, else its default."""
    return str(Variable.get(f"lakeml_{name}", default=default))


def schedule_date(name: str, default: str, end_of_day: bool = False) -> Optional[dt.datetime]:
    """The Variable `lakeml_<name>` (YYYY-MM-DD) as that day's first (or last) second in UTC; None when unset."""
    text = setting(name, default)
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"Variable lakeml_{name}={text!r}: give a date as YYYY-MM-DD") from None
    moment = dt.time(23, 59, 59) if end_of_day else dt.time(0, 0)
    return dt.datetime.combine(day, moment, tzinfo=dt.timezone.utc)


def read_conf(path: str):
    """The nightly CONF the DAG is built from (a path relative to lakeml's root, or absolute)."""
    full = path if os.path.isabs(path) else os.path.join(LAKEML_ROOT, path)
    with open(full, encoding="utf-8") as handle:
        return parse_conf(handle.read(), full)


def group_id(step: Step) -> str:
    """A task group id from a step name (`train.purchase_propensity` → `train_purchase_propensity`)."""
    return step.name.replace(".", "_")


def write_conf_files(lake: str, files: Dict[str, str], aws_conn_id: str = AWS_CONN_ID) -> List[str]:
    """Write the CONF's inline documents (schemas, recipes, table CONFs) into the lake; their URIs."""
    written = []
    for relative, text in sorted(files.items()):
        uri = lake.rstrip("/") + "/" + relative
        if uri.startswith(("s3://", "s3a://")):
            bucket, _, key = uri.split("://", 1)[1].partition("/")
            S3Hook(aws_conn_id=aws_conn_id).load_string(text, key=key, bucket_name=bucket, replace=True)
        else:
            path = uri[len("file://") :] if uri.startswith("file://") else uri
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
        written.append(uri)
    return written


def run_id_of(ts_nodash: str) -> str:
    """lakeml's run id for a DAG run ([A-Za-z0-9._-]): the logical date's, the same for every try of a date."""
    return f"af{ts_nodash}"


def plan_night(conf_path: str, target: str, params: Dict[str, Any], ds: str, ts_nodash: str) -> Dict[str, Any]:
    """This run's steps: writes the CONF's inline files into the lake and returns each step's request.

    emr: {name: [AddJobFlowSteps step]} (what `./spark-submit.sh emr --dry-run` prints); serverless:
    {name: StartJobRun fields}; local: {name: shell command}.
    """
    steps, files = plan(read_conf(conf_path), params["lake"], ds, run_id_of(ts_nodash))
    write_conf_files(params["lake"], files)
    if target == "local":
        return {
            s.name: shlex.join([os.path.join(LAKEML_ROOT, "spark-submit.sh"), "local", s.job, *s.argv]) for s in steps
        }
    values = artifact_params(params)
    venv = params.get("venv_archive") or None
    if target == "emr":
        return {s.name: [emr_steps.emr_step(s.job, list(s.argv), values, venv_archive=venv)] for s in steps}
    return {s.name: serverless_fields(s, params, values, venv) for s in steps}


def serverless_fields(step: Step, params: Dict[str, Any], values: Dict[str, str], venv: Optional[str]) -> Dict:
    """The StartJobRun fields of one step (the launcher's request, less what the operator adds itself)."""
    values = {**values, "SERVERLESS_EXECUTION_ROLE_ARN": params["execution_role_arn"]}
    request = emr_steps.serverless_job_run_request(
        params["application_id"], step.job, list(step.argv), values, client_token="-", venv_archive=venv
    )
    return {key: request[key] for key in ("name", "jobDriver", "configurationOverrides") if key in request}


def cluster_choice(params: Dict[str, Any]) -> str:
    """Branch: create a cluster unless the run names one."""
    return "use_cluster" if params.get("cluster_id") else "render_cluster"


def pick_cluster_id(params: Dict[str, Any], ti) -> str:
    """The cluster the steps go to: the param's, or the one create_cluster made."""
    return params.get("cluster_id") or ti.xcom_pull(task_ids="create_cluster")


def artifact_params(params: Dict[str, Any]) -> Dict[str, str]:
    """deploy.steps' template parameters for the run's artifact version and bucket."""
    extra = {key: str(value) for key, value in (params.get("emr_params") or {}).items()}
    return emr_steps.artifact_params(params["bucket"], params["artifact_version"], extra=extra)


class LakemlStepSensor(EmrStepSensor):
    """EmrStepSensor whose failure log ends as `./spark-submit.sh emr --wait` does: the reason and the tails of
    the step's and the driver's stderr from the cluster's LogUri (waited for up to `log_wait_seconds`)."""

    def __init__(self, *, log_wait_seconds: float = 300, **kwargs):
        super().__init__(**kwargs)
        self.log_wait_seconds = log_wait_seconds

    def poke(self, context) -> bool:
        try:
            return super().poke(context)
        except Exception:
            emr = self.hook.conn
            step = emr.describe_step(ClusterId=self.job_flow_id, StepId=self.step_id)["Step"]
            if step["Status"]["State"] in self.failed_states:
                s3 = S3Hook(aws_conn_id=self.aws_conn_id).get_conn()
                report_step_failure(s3, emr, self.job_flow_id, self.step_id, step, self.log_wait_seconds, 15)
            raise


def emr_job(step: Step, upstream) -> Any:
    """One EMR step and its sensor, in a task group named after the step."""
    with TaskGroup(group_id(step)) as group:
        add = EmrAddStepsOperator(
            task_id="add_step",
            job_flow_id=CLUSTER_ID,
            aws_conn_id=AWS_CONN_ID,
            steps=PLANNED + "['" + step.name + "'] }}",
            execution_role_arn="{{ params.execution_role_arn }}",
        )
        LakemlStepSensor(
            task_id="watch_step",
            job_flow_id=CLUSTER_ID,
            step_id="{{ ti.xcom_pull(task_ids='" + group_id(step) + ".add_step')[0] }}",
            aws_conn_id=AWS_CONN_ID,
            poke_interval=POKE_SECONDS,
            timeout=dt.timedelta(hours=3).total_seconds(),
            mode="reschedule" if POKE_SECONDS >= 60 else "poke",
            log_wait_seconds=min(300, 5 * POKE_SECONDS),
        ).set_upstream(add)
    upstream >> group
    return group


def serverless_job(step: Step, upstream) -> Any:
    """One EMR Serverless job run of the step's job (fields rendered natively from plan_night)."""
    fields = PLANNED + "['" + step.name + "']"
    task = EmrServerlessStartJobOperator(
        task_id=group_id(step),
        application_id="{{ params.application_id }}",
        execution_role_arn="{{ params.execution_role_arn }}",
        job_driver=fields + "['jobDriver'] }}",
        configuration_overrides=fields + ".get('configurationOverrides') }}",
        name=fields + "['name'] }}",
        aws_conn_id=AWS_CONN_ID,
        wait_for_completion=True,
    )
    upstream >> task
    return task


def local_job(step: Step, upstream) -> Any:
    """One `./spark-submit.sh local JOB ...` run."""
    task = BashOperator(task_id=group_id(step), bash_command=PLANNED + "['" + step.name + "'] }}", cwd=LAKEML_ROOT)
    upstream >> task
    return task


def chain_stages(steps: List[Step], first, make) -> List[Any]:
    """Stage after stage: the runs of one stage side by side, each stage after all of the previous one."""
    previous: List[Any] = [first]
    ends: List[Any] = []
    stages = list(dict.fromkeys(step.stage for step in steps))
    if stages[:2] == ["ingest_logs", "ingest_dms"]:  # the two ingest jobs are independent
        stages = [("ingest_logs", "ingest_dms"), *stages[2:]]
    for stage in stages:
        names = stage if isinstance(stage, tuple) else (stage,)
        ends = [make(step, previous) for step in steps if step.stage in names]
        previous = ends
    return ends


def raise_failed() -> None:
    raise AirflowException("a step of the night failed (see its task log); the cluster was still torn down")


def fail_if_any_failed(dag: DAG) -> None:
    """A leaf that fails the run when any task failed: the teardown's success must not hide a failed step."""
    teardown = ("cluster_was_created", "terminate_cluster")
    upstream = [task for task in dag.tasks if task.task_id not in teardown]
    watcher = PythonOperator(task_id="night_failed", python_callable=raise_failed, trigger_rule=TriggerRule.ONE_FAILED)
    watcher.set_upstream(upstream)


def build_dag(target: str, conf_path: str) -> DAG:
    """The DAG for one target and CONF."""
    if target not in TARGETS:
        raise ValueError(f"lakeml_target {target!r}: choose one of {', '.join(TARGETS)}")
    steps, _ = plan(read_conf(conf_path), SHAPE_LAKE, SHAPE_DATE, run_id_of("shape"))
    with DAG(
        dag_id=DAG_ID,
        description=f"lakeml nightly pipeline ({target}) from {conf_path}",
        schedule="0 2 * * *",
        start_date=schedule_date("start_date", DEFAULT_START),
        end_date=schedule_date("end_date", "", end_of_day=True),
        catchup=True,
        max_active_runs=1,
        default_args={**DEFAULT_ARGS, "retries": int(setting("retries", "2")), "retry_delay": dt.timedelta(minutes=5)},
        dagrun_timeout=dt.timedelta(hours=8),
        tags=["lakeml", target],
        params=dag_params(),
        render_template_as_native_obj=target == "serverless",
    ) as dag:
        prepare = PythonOperator(
            task_id="plan_night", python_callable=plan_night, op_kwargs={"conf_path": conf_path, "target": target}
        )
        if target == "emr":
            emr_graph(steps, prepare)
            fail_if_any_failed(dag)
        elif target == "serverless":
            chain_stages(steps, prepare, serverless_job)
        else:
            chain_stages(steps, prepare, local_job)
    return dag


def emr_graph(steps: List[Step], prepare) -> None:
    """Cluster (given or created) → the steps → terminate (ALL_DONE, only a cluster this run created)."""
    choose = BranchPythonOperator(task_id="use_or_create_cluster", python_callable=cluster_choice)
    create = EmrCreateJobFlowOperator(
        task_id="create_cluster",
        job_flow_overrides="{{ ti.xcom_pull(task_ids='render_cluster') }}",
        emr_conn_id=None,
        aws_conn_id=AWS_CONN_ID,
    )
    render_cluster = PythonOperator(
        task_id="render_cluster",
        python_callable=lambda params: emr_steps.run_job_flow_request(artifact_params(params)),
    )
    use = PythonOperator(task_id="use_cluster", python_callable=lambda params: params["cluster_id"])
    cluster = PythonOperator(
        task_id="cluster_id", python_callable=pick_cluster_id, trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS
    )
    prepare >> choose >> [render_cluster, use]
    render_cluster >> create >> cluster
    use >> cluster
    ends = chain_stages(steps, cluster, emr_job)
    created = ShortCircuitOperator(
        task_id="cluster_was_created",
        python_callable=lambda ti: bool(ti.xcom_pull(task_ids="create_cluster")),
        trigger_rule=TriggerRule.ALL_DONE,
        ignore_downstream_trigger_rules=False,
    )
    created.set_upstream([create, *ends])
    created >> EmrTerminateJobFlowOperator(
        task_id="terminate_cluster",
        job_flow_id="{{ ti.xcom_pull(task_ids='create_cluster') }}",
        aws_conn_id=AWS_CONN_ID,
        trigger_rule=TriggerRule.ALL_DONE,
    )


def dag_params() -> Dict[str, Param]:
    """The run's settings, each overridable when triggering (defaults from `lakeml_*` Variables)."""
    return {
        "lake": Param(setting("lake", "s3://my-lake/lake"), type="string", description="--lake of every job"),
        "bucket": Param(setting("bucket", ""), type="string", description="bucket of artifacts and logs"),
        "artifact_version": Param(
            setting("artifact_version", ""), type="string", description="what `spark-submit.sh emr publish` printed"
        ),
        "cluster_id": Param(setting("cluster_id", ""), type="string", description="empty: create a cluster"),
        "application_id": Param(setting("application_id", ""), type="string", description="EMR Serverless app"),
        "execution_role_arn": Param(setting("execution_role_arn", ""), type="string", description="runtime role"),
        "venv_archive": Param(setting("venv_archive", ""), type="string", description="s3:// packed venv"),
        "emr_params": Param({}, type="object", description="emr_config parameters (SUBNET_ID, ...)"),
    }


def current_target() -> Optional[str]:
    """The parse-time target."""
    return setting("target", "emr")


dag = build_dag(current_target(), setting("conf", "conf/nightly_demo.yaml"))

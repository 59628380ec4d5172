"""The EMR requests as data: pure functions from emr_config/ and parameters to request dicts.

The launcher and the Airflow DAG both build their steps here, so the two cannot drift:
`emr_step` gives the AddJobFlowSteps step for one job, `run_job_flow_request` the cluster,
`serverless_job_run_request` the EMR Serverless StartJobRun request. Nothing here imports
boto3 or pyspark, touches the network or reads anything but emr_config/ (a DAG file that
imports this module parses on an Airflow worker without either).

Templates hold `${NAME}` placeholders for names that differ per account (bucket, subnet,
roles) and per run (artifact location, job); `render` fills them and refuses to leave one
unfilled.
"""

from __future__ import annotations

import copy
import json
import os
import re
from typing import Any, Dict, List, Optional

from core.lake import canonical_uri

CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "emr_config")
PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
# Parameters the user must give (no default in emr_config/params.json); the flag that sets each.
REQUIRED_PARAMS = {
    "BUCKET": "--bucket (bucket for artifacts and logs)",
    "SUBNET_ID": "--subnet-id (subnet for the cluster)",
    "SERVERLESS_EXECUTION_ROLE_ARN": "--execution-role-arn (EMR Serverless job role)",
}
ENV_PREFIX = "LAKEML_EMR_"
DRY_RUN_CLUSTER_ID = "<JobFlowId returned by RunJobFlow>"
TERMINAL_STEP_STATES = ("COMPLETED", "CANCELLED", "FAILED", "INTERRUPTED")
TERMINAL_JOB_RUN_STATES = ("SUCCESS", "FAILED", "CANCELLED")
SECRET_KEY = re.compile(r"(secret|password|passwd|token|credential|access[._-]?key|session[._-]?key)", re.I)
NOT_SECRET = ("clientToken", "ClientToken", "IdempotencyToken")  # idempotency tokens, not credentials
AWS_KEY_ID = re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")


class TemplateError(ValueError):
    """A placeholder has no value; the message names the parameter and how to set it."""


def load_config(name: str, config_dir: Optional[str] = None) -> Dict[str, Any]:
    """One JSON file of emr_config/ (e.g. `cluster.json`), parsed."""
    with open(os.path.join(config_dir or CONFIG_DIR, name), encoding="utf-8") as handle:
        return json.load(handle)


def default_params(config_dir: Optional[str] = None) -> Dict[str, str]:
    """The parameter defaults of emr_config/params.json."""
    return {key: str(value) for key, value in load_config("params.json", config_dir).items()}


def params_from_env(environ: Dict[str, str]) -> Dict[str, str]:
    """Parameters given as LAKEML_EMR_<NAME> environment variables."""
    return {key[len(ENV_PREFIX) :]: value for key, value in environ.items() if key.startswith(ENV_PREFIX) and value}


def placeholders(template: Any) -> List[str]:
    """Every `${NAME}` a template uses, sorted."""
    return sorted(set(PLACEHOLDER.findall(json.dumps(template))))


def _fill(value: str, params: Dict[str, str]) -> str:
    def one(match: re.Match) -> str:
        name = match.group(1)
        if name not in params or params[name] in (None, ""):
            how = REQUIRED_PARAMS.get(name, f"--param {name}=VALUE")
            raise TemplateError(f"parameter {name} has no value: give {how} or set {ENV_PREFIX}{name}")
        return str(params[name])

    return PLACEHOLDER.sub(one, value)


def render(template: Any, params: Dict[str, str]) -> Any:
    """A deep copy of a template with every `${NAME}` in its strings replaced by params[NAME]."""
    if isinstance(template, str):
        return _fill(template, params)
    if isinstance(template, list):
        return [render(item, params) for item in template]
    if isinstance(template, dict):
        return {key: render(value, params) for key, value in template.items()}
    return copy.deepcopy(template)


def artifact_uri(bucket: str, version: str) -> str:
    """Where one artifact version lives: s3://BUCKET/artifacts/VERSION (no trailing slash)."""
    return f"s3://{bucket}/artifacts/{version}"


def artifact_params(
    bucket: str, version: str, extra: Optional[Dict[str, str]] = None, config_dir: Optional[str] = None
) -> Dict[str, str]:
    """Template parameters for one uploaded artifact version: the defaults, BUCKET, ARTIFACT_URI/VERSION, extra.

    The DAG calls `emr_step(job, args, artifact_params(bucket, version))` with the version the launcher uploaded.
    """
    params = {**default_params(config_dir), **(extra or {}), "BUCKET": bucket}
    params.update(ARTIFACT_VERSION=version, ARTIFACT_URI=artifact_uri(bucket, version))
    return params


def spark_submit_args(
    job: str,
    job_args: List[str],
    params: Dict[str, str],
    venv_archive: Optional[str] = None,
    config_dir: Optional[str] = None,
) -> List[str]:
    """The step's command: spark-submit in cluster mode, options first, then the entry script, JOB and its flags."""
    template = load_config("step.json", config_dir)
    params = {**params, "JOB": job}
    args = render(template["SparkSubmit"], params)
    if venv_archive:
        # Later --conf values win: the packed venv's interpreter replaces the cluster's.
        args += render(template["VenvArchive"], {**params, "VENV_ARCHIVE": venv_archive})
    return [*args, render(template["Entry"], params), job, *job_args]


def emr_step(
    job: str,
    job_args: List[str],
    params: Dict[str, str],
    venv_archive: Optional[str] = None,
    action_on_failure: Optional[str] = None,
    config_dir: Optional[str] = None,
) -> Dict[str, Any]:
    """One AddJobFlowSteps step (command-runner.jar running spark-submit) for `JOB job_args`.

    This is the function the launcher and the Airflow DAG share; the DAG may pass templated
    strings such as `{{ ds }}` in job_args.
    """
    template = load_config("step.json", config_dir)
    return {
        "Name": render(template["Name"], {**params, "JOB": job}),
        "ActionOnFailure": action_on_failure or template["ActionOnFailure"],
        "HadoopJarStep": {
            "Jar": template["Jar"],
            "Args": spark_submit_args(job, job_args, params, venv_archive, config_dir),
        },
    }


def add_job_flow_steps_request(
    cluster_id: str, steps: List[Dict[str, Any]], execution_role_arn: Optional[str] = None
) -> Dict[str, Any]:
    """The AddJobFlowSteps request; execution_role_arn: the steps' EMR runtime role (optional)."""
    request: Dict[str, Any] = {"JobFlowId": cluster_id, "Steps": steps}
    if execution_role_arn:
        request["ExecutionRoleArn"] = execution_role_arn
    return request


def run_job_flow_request(
    params: Dict[str, str], config_dir: Optional[str] = None, *, keep_alive: Optional[bool] = None
) -> Dict[str, Any]:
    """The RunJobFlow request: emr_config/cluster.json with the parameters filled in.

    keep_alive=False makes the cluster transient (KeepJobFlowAliveWhenNoSteps false: it ends when its
    last step ends; the launcher's --create); None keeps the template's setting (a cluster that waits
    for steps, as the DAG's, which adds them stage by stage and terminates the cluster itself).
    """
    request = render(load_config("cluster.json", config_dir), params)
    if keep_alive is not None:
        request["Instances"]["KeepJobFlowAliveWhenNoSteps"] = bool(keep_alive)
    return request


def serverless_job_run_request(
    application_id: str,
    job: str,
    job_args: List[str],
    params: Dict[str, str],
    client_token: str,
    venv_archive: Optional[str] = None,
    config_dir: Optional[str] = None,
) -> Dict[str, Any]:
    """The EMR Serverless StartJobRun request running the same artifact (client_token: idempotency token)."""
    template = load_config("serverless.json", config_dir)
    params = {**params, "JOB": job}
    submit = render(template["sparkSubmitParameters"], params)
    if venv_archive:
        submit += render(template["VenvArchive"], {**params, "VENV_ARCHIVE": venv_archive})
    return {
        "applicationId": application_id,
        "clientToken": client_token,
        "name": render(template["name"], params),
        "executionRoleArn": render(template["executionRoleArn"], params),
        "jobDriver": {
            "sparkSubmit": {
                "entryPoint": render(template["entryPoint"], params),
                "entryPointArguments": [job, *job_args],
                "sparkSubmitParameters": " ".join(submit),
            }
        },
        "configurationOverrides": {
            "monitoringConfiguration": {"s3MonitoringConfiguration": {"logUri": render(template["logUri"], params)}}
        },
    }


def s3_join(base: str, *parts: str) -> str:
    """Join S3 URI parts with single slashes; s3n:// and s3a:// as EMR reports them become s3://."""
    base = canonical_uri(base)
    return "/".join([base.rstrip("/"), *(part.strip("/") for part in parts)])


def step_log_uri(log_uri: str, cluster_id: str, step_id: str, name: str = "stderr.gz") -> str:
    """Where EMR archives a step's log file: <LogUri>/<cluster-id>/steps/<step-id>/<name>."""
    return s3_join(log_uri, cluster_id, "steps", step_id, name)


def containers_log_prefix(log_uri: str, cluster_id: str, application_id: str) -> str:
    """Where EMR archives a YARN application's container logs (the driver is the first container)."""
    return s3_join(log_uri, cluster_id, "containers", application_id) + "/"


def serverless_driver_log_uri(log_uri: str, application_id: str, job_run_id: str, name: str = "stderr.gz") -> str:
    """Where EMR Serverless archives the driver's log file of a job run."""
    return s3_join(log_uri, "applications", application_id, "jobs", job_run_id, "SPARK_DRIVER", name)


def exit_code_for_state(state: str) -> int:
    """The launcher's exit code for a final step or job-run state: 0 only when it completed."""
    return 0 if state in ("COMPLETED", "SUCCESS") else 1


def _redact_text(text: str) -> str:
    text = AWS_KEY_ID.sub("***", text)
    key, sep, _ = text.partition("=")
    if sep and SECRET_KEY.search(key):
        return f"{key}=***"
    return text


def redact(value: Any, key: str = "") -> Any:
    """A copy with secret-looking values replaced by *** (keys naming secrets, k=v pairs, AWS key ids)."""
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        out, hide_next = [], False
        for item in value:
            if hide_next:
                out.append("***")
                hide_next = False
                continue
            out.append(redact(item, key))
            hide_next = isinstance(item, str) and item.startswith("--") and bool(SECRET_KEY.search(item))
        return out
    if isinstance(value, str):
        if key and key not in NOT_SECRET and SECRET_KEY.search(key):
            return "***"
        return " ".join(_redact_text(part) for part in value.split(" ")) if " " in value else _redact_text(value)
    return value

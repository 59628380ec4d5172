"""Run one lakeml job on EMR: `./spark-submit.sh emr JOB [job flags] (--cluster-id ID | --create) [--wait]`.

1. checks the job's flags locally (no cluster is touched for a typo),
2. builds the versioned artifact and uploads it to s3://BUCKET/artifacts/<version>/,
3. creates a cluster from emr_config/cluster.json (--create) or uses --cluster-id,
4. adds the step built by deploy.steps.emr_step (the same function the Airflow DAG uses),
5. with --wait, polls the step until it ends; when it did not complete, prints the failure
   details and the tail of the step's stderr (and of the driver's) from the cluster's LogUri.
Exit code: 0 when the step completed (or was only submitted), 1 when it failed, was
cancelled or interrupted, or AWS refused a call, 2 for usage errors.

`--dry-run` builds the artifact and prints the exact requests as JSON; it needs no AWS
credentials and no network. `--target serverless --application-id ID` runs the same
artifact as an EMR Serverless job run instead.

AWS access uses boto3's standard credential chain (environment, profiles, SSO, instance and
container roles); nothing here reads or prints credentials. `--endpoint-url` (or boto3's own
AWS_ENDPOINT_URL) points both S3 and EMR at another endpoint, such as a local test server.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys
import tempfile
import time
import uuid
from typing import Any, Dict, List, Optional, Tuple

from deploy import artifact as artifact_mod
from deploy import steps

LOG_TAIL_LINES = 60
APPLICATION_ID = re.compile(r"application_\d+_\d+")


class LaunchError(Exception):
    """A failure the user can act on; the message says what to do."""


def parser() -> argparse.ArgumentParser:
    """Launcher flags; every other argument after JOB is passed to the job."""
    p = argparse.ArgumentParser(
        prog="spark-submit.sh emr",
        usage="./spark-submit.sh emr JOB [job flags] (--cluster-id ID | --create) [--wait] [--dry-run]\n"
        "       ./spark-submit.sh emr JOB [job flags] --target serverless --application-id ID [--wait]",
        description="Run a lakeml job as an EMR step (or an EMR Serverless job run). "
        "Flags not listed here go to the job; put them after `--` if a name collides.",
        allow_abbrev=False,
    )
    p.add_argument("job", help="the lakeml job to run (see ./spark-submit.sh --help)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--cluster-id", help="run on this running cluster (j-...)")
    where.add_argument("--create", action="store_true", help="create a cluster from emr_config/cluster.json first")
    p.add_argument("--target", choices=("emr", "serverless"), default="emr", help="EMR on EC2 (default) or Serverless")
    p.add_argument("--application-id", help="EMR Serverless application id (with --target serverless)")
    p.add_argument("--wait", action="store_true", help="wait for the step to end; exit code follows its state")
    p.add_argument("--dry-run", action="store_true", help="print the requests as JSON; no AWS calls, no credentials")
    p.add_argument("--bucket", help="bucket for artifacts and logs (param BUCKET, env LAKEML_EMR_BUCKET)")
    p.add_argument("--subnet-id", help="subnet for --create (param SUBNET_ID, env LAKEML_EMR_SUBNET_ID)")
    p.add_argument(
        "--execution-role-arn", help="EMR Serverless job role (env LAKEML_EMR_SERVERLESS_EXECUTION_ROLE_ARN)"
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set any emr_config ${NAME} parameter (also env LAKEML_EMR_NAME)",
    )
    p.add_argument("--venv-archive", help="s3:// URI of a venv-pack archive built on Amazon Linux 2023 (optional)")
    p.add_argument("--region", help="AWS region (default: the standard AWS configuration)")
    p.add_argument("--endpoint-url", help="S3 and EMR API endpoint (default: AWS; boto3 also honours AWS_ENDPOINT_URL)")
    p.add_argument("--poll-seconds", type=float, default=30.0, help="seconds between state polls with --wait")
    p.add_argument(
        "--log-wait-seconds",
        type=float,
        default=600.0,
        help="how long to wait for EMR to archive a failed step's log (it uploads about every 5 minutes)",
    )
    return p


def split_argv(argv: List[str]) -> Tuple[argparse.Namespace, List[str]]:
    """Launcher options and the job's own flags (unknown options, and everything after `--`)."""
    tail: List[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, tail = argv[:cut], argv[cut + 1 :]
    options, job_args = parser().parse_known_args(argv)
    return options, job_args + tail


def check_job_args(job: str, job_args: List[str], environ: Dict[str, str]) -> List[str]:
    """The job's flags, checked as `./spark-submit.sh local` checks them (exit 2 if bad), with --lake made explicit.

    The cluster does not see this machine's LAKEML_LAKE, so a lake taken from it is passed as --lake.
    """
    from jobs.main import main as jobs_main

    try:
        code = jobs_main(["--check", job, *job_args])
    except SystemExit as stop:  # argparse reports a bad flag by exiting 2
        code = int(stop.code or 0)
    if code != 0:
        raise SystemExit(code)
    lake = next((job_args[i + 1] for i, a in enumerate(job_args[:-1]) if a == "--lake"), None)
    lake = lake or next((a.split("=", 1)[1] for a in job_args if a.startswith("--lake=")), None)
    if not lake and environ.get("LAKEML_LAKE"):
        lake = environ["LAKEML_LAKE"]
        job_args = [*job_args, "--lake", lake]
    if not lake or not re.match(r"^s3[an]?://", lake):
        raise LaunchError(
            f"--lake {lake or '(not given)'}: on EMR the lake must be on S3; give --lake s3://bucket/prefix"
        )
    return job_args


def collect_params(options: argparse.Namespace, environ: Dict[str, str]) -> Dict[str, str]:
    """Template parameters: emr_config/params.json < LAKEML_EMR_* env < --param < the named flags."""
    params = steps.default_params()
    params.update(steps.params_from_env(environ))
    for item in options.param:
        name, sep, value = item.partition("=")
        if not sep or not steps.PLACEHOLDER.fullmatch("${" + name + "}"):
            raise LaunchError(f"--param {item!r}: give NAME=VALUE with an upper-case NAME such as BUCKET")
        params[name] = value
    named = {"BUCKET": options.bucket, "SUBNET_ID": options.subnet_id}
    named["SERVERLESS_EXECUTION_ROLE_ARN"] = options.execution_role_arn
    params.update({key: value for key, value in named.items() if value})
    if not params.get("BUCKET"):
        raise LaunchError("no bucket for the artifact and logs: give --bucket NAME or set LAKEML_EMR_BUCKET")
    if params["BUCKET"].startswith("s3://"):
        params["BUCKET"] = params["BUCKET"][5:].strip("/")
    return params


def plan(options: argparse.Namespace, job_args: List[str], params: Dict[str, str], version: str) -> Dict[str, Any]:
    """The requests this run sends, keyed by API operation (placeholder cluster id until RunJobFlow returns)."""
    params = steps.artifact_params(params["BUCKET"], version, extra=params)
    requests: Dict[str, Any] = {}
    if options.target == "serverless":
        requests["StartJobRun"] = steps.serverless_job_run_request(
            options.application_id, options.job, job_args, params, str(uuid.uuid4()), options.venv_archive
        )
        return requests
    if options.create:
        requests["RunJobFlow"] = steps.run_job_flow_request(params)
    step = steps.emr_step(options.job, job_args, params, options.venv_archive)
    cluster_id = options.cluster_id or steps.DRY_RUN_CLUSTER_ID
    requests["AddJobFlowSteps"] = steps.add_job_flow_steps_request(cluster_id, [step])
    return requests


def show_tail(what: str, tail: str) -> None:
    """Print a log's tail between markers, on stderr."""
    print(f"----- tail of {what} -----\n{tail}\n----- end -----", file=sys.stderr, flush=True)


def say(message: str) -> None:
    print(f"lakeml emr: {message}", file=sys.stderr, flush=True)


def clients(options: argparse.Namespace, session=None):
    """boto3 clients on the standard credential chain (imported here: --dry-run never loads boto3)."""
    import boto3

    session = session or boto3.session.Session(region_name=options.region)
    kwargs = {"endpoint_url": options.endpoint_url} if options.endpoint_url else {}
    emr_name = "emr-serverless" if options.target == "serverless" else "emr"
    return session.client("s3", **kwargs), session.client(emr_name, **kwargs)


def split_s3(uri: str) -> Tuple[str, str]:
    bucket, _, key = re.sub(r"^s3[an]?://", "", uri).partition("/")
    return bucket, key


def upload(s3, built: artifact_mod.Artifact, base_uri: str) -> None:
    """Upload every file of the artifact under base_uri/."""
    for name, path in sorted(built.files.items()):
        bucket, key = split_s3(steps.s3_join(base_uri, name))
        s3.upload_file(path, bucket, key)
    say(f"artifact {built.version} uploaded to {base_uri}/")


def read_gz_tail(s3, uri: str, lines: int = LOG_TAIL_LINES) -> Optional[str]:
    """The last lines of a gzipped S3 object, or None when it does not exist."""
    from botocore.exceptions import ClientError

    bucket, key = split_s3(uri)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return None
        raise
    try:
        text = gzip.decompress(body).decode("utf-8", errors="replace")
    except OSError:
        text = body.decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def wait_for_log(s3, uri: str, wait_seconds: float, poll: float) -> Optional[str]:
    """The log's tail once EMR has archived it, or None after wait_seconds."""
    deadline = time.monotonic() + wait_seconds
    announced = False
    while True:
        tail = read_gz_tail(s3, uri)
        if tail is not None or time.monotonic() >= deadline:
            return tail
        if not announced:
            say(f"waiting up to {wait_seconds:.0f}s for EMR to archive {uri}")
            announced = True
        time.sleep(max(0.2, min(poll, 10.0)))


def driver_log_tail(s3, log_uri: str, cluster_id: str, step_stderr: str) -> Optional[Tuple[str, str]]:
    """(uri, tail) of the driver container's stderr for the YARN application the step stderr names."""
    found = APPLICATION_ID.findall(step_stderr)
    if not found:
        return None
    prefix = steps.containers_log_prefix(log_uri, cluster_id, found[-1])
    bucket, key_prefix = split_s3(prefix)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key_prefix).get("Contents", [])
    keys = sorted(obj["Key"] for obj in listed if obj["Key"].endswith("/stderr.gz"))
    first = [key for key in keys if re.search(r"_0*1/stderr\.gz$", key)] or keys
    if not first:
        return None
    uri = f"s3://{bucket}/{first[0]}"
    tail = read_gz_tail(s3, uri)
    return (uri, tail) if tail is not None else None


def report_step_failure(s3, emr, options, cluster_id: str, step_id: str, step: Dict[str, Any]) -> None:
    """Print why the step did not complete: failure details, cluster state, and the logs' tails."""
    status = step["Status"]
    details = status.get("FailureDetails") or {}
    say(f"step {step_id} ended {status['State']}")
    for label, value in (("reason", details.get("Reason")), ("message", details.get("Message"))):
        if value:
            say(f"  {label}: {value}")
    cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
    cluster_state = cluster["Status"]["State"]
    if cluster_state.startswith("TERMINAT"):
        reason = cluster["Status"].get("StateChangeReason", {})
        say(f"  cluster {cluster_id} is {cluster_state}: {reason.get('Code', '')} {reason.get('Message', '')}".rstrip())
        if cluster.get("LogUri"):
            node_logs = steps.s3_join(cluster["LogUri"], cluster_id, "node")
            say(f"  if it never started, bootstrap logs: {node_logs}/<instance-id>/bootstrap-actions/")
    log_uri = cluster.get("LogUri")
    if not log_uri:
        say(f"  cluster {cluster_id} has no LogUri, so EMR archived no logs; see the step in the EMR console")
        return
    stderr_uri = details.get("LogFile") or steps.step_log_uri(log_uri, cluster_id, step_id)
    if not stderr_uri.endswith(".gz"):
        stderr_uri = steps.s3_join(stderr_uri, "stderr.gz")
    tail = wait_for_log(s3, stderr_uri, options.log_wait_seconds, options.poll_seconds)
    if tail is None:
        say(f"  the step's stderr is not archived yet; look later at {stderr_uri}")
        return
    show_tail(stderr_uri, tail)
    driver = driver_log_tail(s3, log_uri, cluster_id, tail)
    if driver:
        show_tail(f"the driver's {driver[0]}", driver[1])
    else:
        say(f"  the driver's own log (cluster mode) is under {steps.s3_join(log_uri, cluster_id, 'containers')}/")


def wait_for_step(emr, cluster_id: str, step_id: str, poll: float) -> Dict[str, Any]:
    """Poll describe_step until the step reaches a final state; returns the last description."""
    last = None
    while True:
        step = emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]
        state = step["Status"]["State"]
        if state != last:
            say(f"step {step_id}: {state}")
            last = state
        if state in steps.TERMINAL_STEP_STATES:
            return step
        time.sleep(poll)


def run_emr(
    options, requests: Dict[str, Any], built, params: Dict[str, str], session=None
) -> Tuple[int, Dict[str, Any]]:
    s3, emr = clients(options, session)
    base_uri = steps.artifact_uri(params["BUCKET"], built.version)
    upload(s3, built, base_uri)
    if "RunJobFlow" in requests:
        cluster_id = emr.run_job_flow(**requests["RunJobFlow"])["JobFlowId"]
        say(f"cluster {cluster_id} created ({idle_timeout(requests)}); end it sooner with:")
        say(f"  aws emr terminate-clusters --cluster-ids {cluster_id}")
    else:
        cluster_id = options.cluster_id
    add = dict(requests["AddJobFlowSteps"], JobFlowId=cluster_id)
    step_id = emr.add_job_flow_steps(**add)["StepIds"][0]
    cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
    log_uri = cluster.get("LogUri")
    where = steps.s3_join(log_uri, cluster_id, "steps", step_id) + "/" if log_uri else "(no LogUri on this cluster)"
    say(f"step {step_id} added to cluster {cluster_id}; step logs: {where}")
    result = {"target": "emr", "cluster_id": cluster_id, "step_id": step_id, "artifact": base_uri, "logs": where}
    if not options.wait:
        result["state"] = "SUBMITTED"
        return 0, result
    step = wait_for_step(emr, cluster_id, step_id, options.poll_seconds)
    state = step["Status"]["State"]
    result["state"] = state
    if state != "COMPLETED":
        report_step_failure(s3, emr, options, cluster_id, step_id, step)
    return steps.exit_code_for_state(state), result


def idle_timeout(requests: Dict[str, Any]) -> str:
    seconds = requests["RunJobFlow"].get("AutoTerminationPolicy", {}).get("IdleTimeout")
    return f"it terminates itself after {seconds}s idle" if seconds else "no idle timeout: terminate it yourself"


def run_serverless(
    options, requests: Dict[str, Any], built, params: Dict[str, str], session=None
) -> Tuple[int, Dict[str, Any]]:
    s3, client = clients(options, session)
    base_uri = steps.artifact_uri(params["BUCKET"], built.version)
    upload(s3, built, base_uri)
    request = requests["StartJobRun"]
    run_id = client.start_job_run(**request)["jobRunId"]
    app = options.application_id
    log_uri = request["configurationOverrides"]["monitoringConfiguration"]["s3MonitoringConfiguration"]["logUri"]
    driver_logs = steps.serverless_driver_log_uri(log_uri, app, run_id, "")
    say(f"job run {run_id} started on application {app}; driver logs: {driver_logs}")
    result = {"target": "serverless", "application_id": app, "job_run_id": run_id, "artifact": base_uri}
    if not options.wait:
        result["state"] = "SUBMITTED"
        return 0, result
    last = None
    while True:
        job_run = client.get_job_run(applicationId=app, jobRunId=run_id)["jobRun"]
        state = job_run["state"]
        if state != last:
            say(f"job run {run_id}: {state}")
            last = state
        if state in steps.TERMINAL_JOB_RUN_STATES:
            break
        time.sleep(options.poll_seconds)
    result["state"] = state
    if state != "SUCCESS":
        if job_run.get("stateDetails"):
            say(f"  {job_run['stateDetails']}")
        uri = steps.serverless_driver_log_uri(log_uri, app, run_id)
        tail = wait_for_log(s3, uri, options.log_wait_seconds, options.poll_seconds)
        if tail is None:
            say(f"  the driver's stderr is not archived yet; look later at {uri}")
        else:
            show_tail(uri, tail)
    return steps.exit_code_for_state(state), result


def main(argv: Optional[List[str]] = None, environ: Optional[Dict[str, str]] = None, session=None) -> int:
    """The launcher; `session` is an optional boto3 Session to use instead of a default one."""
    argv = list(sys.argv[1:] if argv is None else argv)
    environ = dict(os.environ if environ is None else environ)
    options, job_args = split_argv(argv)
    try:
        if options.target == "serverless":
            if not options.application_id:
                raise LaunchError("--target serverless needs --application-id ID")
            if options.cluster_id or options.create:
                raise LaunchError("--cluster-id/--create are for --target emr, not serverless")
        elif not (options.cluster_id or options.create or options.dry_run):
            raise LaunchError("say where to run: --cluster-id j-... (a running cluster) or --create (a new one)")
        job_args = check_job_args(options.job, job_args, environ)
        params = collect_params(options, environ)
        with tempfile.TemporaryDirectory(prefix="lakeml-artifact-") as out_dir:
            built = artifact_mod.build(out_dir)
            requests = plan(options, job_args, params, built.version)
            if options.dry_run:
                upload_to = steps.artifact_uri(params["BUCKET"], built.version)
                shipped = {"version": built.version, "upload_to": upload_to, "files": sorted(built.files)}
                document = {"artifact": shipped}
                print(json.dumps(steps.redact({**document, **requests}), indent=2, sort_keys=True))
                return 0
            runner = run_serverless if options.target == "serverless" else run_emr
            code, result = runner(options, requests, built, params, session)
    except (LaunchError, steps.TemplateError) as error:
        print(f"lakeml emr: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        return aws_failure(error)
    print(json.dumps(steps.redact(result), sort_keys=True), flush=True)
    return code


def aws_failure(error: Exception) -> int:
    """A refused or failed AWS call: say what AWS said and what to check; exit 1."""
    try:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
    except ImportError:  # pragma: no cover - boto3 is part of the venv
        raise error from None
    if isinstance(error, NoCredentialsError):
        say("no AWS credentials found: configure the standard chain (aws configure / AWS_PROFILE / SSO / a role)")
    elif isinstance(error, ClientError):
        err = error.response.get("Error", {})
        say(f"AWS refused {error.operation_name}: {err.get('Code')}: {err.get('Message')}")
        say("check the region, the bucket and role names, and your IAM permissions (emr_config/iam/launcher.json)")
    elif isinstance(error, BotoCoreError):
        say(f"AWS call failed: {error}")
    else:
        raise error
    return 1


if __name__ == "__main__":
    sys.exit(main())

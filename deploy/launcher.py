"""Run one lakeml job on EMR: `./spark-submit.sh emr JOB [job flags] (--cluster-id ID | --create) [--wait]`.

1. checks the job's flags locally (no cluster is touched for a typo) and pins --run-date and
   --run-id, so the run's summary has a known place in the lake,
2. ships every local file a job flag names (deploy.files) and builds the versioned artifact,
   uploading both to s3://BUCKET/artifacts/,
3. creates a transient cluster from emr_config/cluster.json (--create: it ends when its steps
   end, unless --keep-alive) or uses --cluster-id (--terminate-after: it ends after this step),
4. adds the step built by deploy.steps.emr_step (the same function the Airflow DAG uses),
5. with --wait, polls until the step ends (--timeout bounds every wait; on timeout or Ctrl-C the
   step is cancelled), then reads the job's run summary from the lake, prints it and exits with
   the job's own code: 0 done, 2 config error, 3 quality gate tripped, 1 anything else; a failed
   step's stderr tail (and the driver's) is shown; --show-stdout prints the driver's stdout.

`./spark-submit.sh emr publish --bucket B` only builds and uploads the artifact and prints its
version and URIs. `--dry-run` prints the exact requests as JSON; it needs no AWS credentials
and no network. `--target serverless --application-id ID` runs the same artifact as an EMR
Serverless job run instead.

AWS access uses boto3's standard credential chain; nothing here reads or prints credentials.
`--endpoint-url` (or boto3's own AWS_ENDPOINT_URL) points S3 and EMR at another endpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import uuid
from typing import Any, Dict, List, Optional, Tuple

from core.errors import UsageError
from deploy import artifact as artifact_mod
from deploy import files, logs, steps, venv_archive, watch
from deploy.logs import say


class LaunchError(Exception):
    """A failure the user can act on; the message says what to do (exit 2)."""


def parser() -> argparse.ArgumentParser:
    """Launcher flags; every other argument after JOB is passed to the job."""
    p = argparse.ArgumentParser(
        prog="spark-submit.sh emr",
        usage="./spark-submit.sh emr JOB [job flags] (--cluster-id ID | --create) [--wait] [--dry-run]\n"
        "       ./spark-submit.sh emr JOB [job flags] --target serverless --application-id ID [--wait]\n"
        "       ./spark-submit.sh emr publish --bucket NAME",
        description="Run a lakeml job as an EMR step (or an EMR Serverless job run). "
        "Flags not listed here go to the job; put them after `--` if a name collides.",
        allow_abbrev=False,
    )
    p.add_argument("job", help="the lakeml job to run (see ./spark-submit.sh --help), or `publish`")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--cluster-id", help="run on this running cluster (j-...)")
    where.add_argument("--create", action="store_true", help="create a cluster that ends when its steps end")
    p.add_argument("--keep-alive", action="store_true", help="with --create: keep the cluster (idle timeout 1 h)")
    p.add_argument("--terminate-after", action="store_true", help="with --cluster-id: end it once no step is left")
    p.add_argument("--target", choices=("emr", "serverless"), default="emr", help="EMR on EC2 (default) or Serverless")
    p.add_argument("--application-id", help="EMR Serverless application id (with --target serverless)")
    p.add_argument("--wait", action="store_true", help="wait for the run; exit with the job's own code")
    p.add_argument("--timeout", type=float, help="seconds any wait may take; then the run is cancelled (exit 1)")
    p.add_argument("--show-stdout", action="store_true", help="print the driver's stdout after a successful run")
    p.add_argument("--dry-run", action="store_true", help="print the requests as JSON; no AWS calls, no credentials")
    p.add_argument("--bucket", help="bucket for artifacts and logs (param BUCKET, env LAKEML_EMR_BUCKET)")
    p.add_argument("--subnet-id", help="subnet for --create (param SUBNET_ID, env LAKEML_EMR_SUBNET_ID)")
    p.add_argument(
        "--execution-role-arn",
        help="EMR: the step's runtime role (the cluster needs a security configuration for runtime roles); "
        "Serverless: the job role (env LAKEML_EMR_SERVERLESS_EXECUTION_ROLE_ARN)",
    )
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="set an emr_config ${NAME}")
    p.add_argument("--venv-archive", help="venv archive from bootstrap/build_venv.sh: a local file or s3:// URI")
    p.add_argument("--region", help="AWS region (default: the standard AWS configuration)")
    p.add_argument("--endpoint-url", help="S3 and EMR API endpoint (default: AWS; boto3 also honours AWS_ENDPOINT_URL)")
    p.add_argument("--poll-seconds", type=float, default=30.0, help="seconds between state polls with --wait")
    p.add_argument(
        "--log-wait-seconds", type=float, default=600.0, help="how long to wait for EMR to archive a log (~5 min)"
    )
    return p


def split_argv(argv: List[str]) -> Tuple[argparse.Namespace, List[str]]:
    """Launcher options and the job's own flags (unknown options, and everything after `--`)."""
    tail: List[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, tail = argv[:cut], argv[cut + 1 :]
    options, job_args = parser().parse_known_args(argv)
    options.wait = options.wait or options.show_stdout or options.timeout is not None
    return options, job_args + tail


def check_job_args(job: str, job_args: List[str], environ: Dict[str, str]) -> Tuple[List[str], str, str, str]:
    """(job_args, lake, run_date, run_id): the flags checked as `local` checks them, lake/date/id made explicit.

    The cluster sees neither this machine's LAKEML_LAKE nor its clock, and the launcher must know where the
    run's summary will be, so --lake, --run-date and --run-id are passed explicitly.
    """
    from core.cli import parse_job_args
    from jobs.main import JOBS, load_job

    if job not in JOBS:
        raise LaunchError(f"unknown job {job!r}; jobs: {', '.join(JOBS)}, or publish")
    if environ.get("LAKEML_LAKE") and not any(a == "--lake" or a.startswith("--lake=") for a in job_args):
        job_args = [*job_args, "--lake", environ["LAKEML_LAKE"]]
    try:
        context = parse_job_args(job, load_job(job), job_args).context
    except SystemExit as stop:  # argparse reports a bad flag by exiting 2
        raise SystemExit(int(stop.code or 0)) from None
    lake = context.lake.root
    if not re.match(r"^s3[an]?://", lake):
        raise LaunchError(f"--lake {lake}: on EMR the lake must be on S3; give --lake s3://bucket/prefix")
    given = {a.split("=", 1)[0] for a in job_args if a.startswith("--")}
    job_args = [*job_args] + ([] if "--run-date" in given else ["--run-date", context.run_date])
    job_args += [] if "--run-id" in given else ["--run-id", context.run_id]
    return job_args, lake, context.run_date, context.run_id


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
    if options.target == "serverless":
        named["SERVERLESS_EXECUTION_ROLE_ARN"] = options.execution_role_arn
    params.update({key: value for key, value in named.items() if value})
    if not params.get("BUCKET"):
        raise LaunchError("no bucket for the artifact and logs: give --bucket NAME or set LAKEML_EMR_BUCKET")
    if params["BUCKET"].startswith("s3://"):
        params["BUCKET"] = params["BUCKET"][5:].strip("/")
    return params


def check_options(options: argparse.Namespace) -> None:
    """Flag combinations that cannot work, refused before anything is built."""
    if options.target == "serverless":
        if not options.application_id:
            raise LaunchError("--target serverless needs --application-id ID")
        if not options.venv_archive:
            raise LaunchError(
                "--target serverless needs --venv-archive: EMR Serverless has no bootstrap actions, so lakeml's "
                "Python dependencies come in the environment archive; build it with bootstrap/build_venv.sh"
            )
        if options.cluster_id or options.create or options.keep_alive or options.terminate_after:
            raise LaunchError("--cluster-id/--create/--keep-alive/--terminate-after are for --target emr")
        return
    if not (options.cluster_id or options.create or options.dry_run):
        raise LaunchError("say where to run: --cluster-id j-... (a running cluster) or --create (a new one)")
    if options.keep_alive and not options.create:
        raise LaunchError("--keep-alive is for --create; an existing cluster stays up unless --terminate-after")
    if options.terminate_after and not options.cluster_id:
        raise LaunchError("--terminate-after is for --cluster-id; a --create cluster ends after its steps anyway")


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
        requests["RunJobFlow"] = steps.run_job_flow_request(params, keep_alive=bool(options.keep_alive))
    cluster_id = options.cluster_id or steps.DRY_RUN_CLUSTER_ID
    if options.terminate_after:
        requests["SetKeepJobFlowAliveWhenNoSteps"] = {"JobFlowIds": [cluster_id], "KeepJobFlowAliveWhenNoSteps": False}
    step = steps.emr_step(options.job, job_args, params, options.venv_archive)
    requests["AddJobFlowSteps"] = steps.add_job_flow_steps_request(cluster_id, [step], options.execution_role_arn)
    return requests


def clients(options: argparse.Namespace, session=None):
    """boto3 clients on the standard credential chain (imported here: --dry-run never loads boto3)."""
    import boto3

    session = session or boto3.session.Session(region_name=options.region)
    kwargs = {"endpoint_url": options.endpoint_url} if options.endpoint_url else {}
    emr_name = "emr-serverless" if options.target == "serverless" else "emr"
    return session.client("s3", **kwargs), session.client(emr_name, **kwargs)


def upload(s3, built: artifact_mod.Artifact, base_uri: str) -> Dict[str, str]:
    """Upload every file of the artifact under base_uri/; returns name -> URI."""
    uris = {}
    for name, path in sorted(built.files.items()):
        uris[name] = steps.s3_join(base_uri, name)
        bucket, key = logs.split_s3(uris[name])
        s3.upload_file(path, bucket, key)
    say(f"artifact {built.version} uploaded to {base_uri}/")
    return uris


def finish(s3, run: Dict[str, Any], state: str) -> int:
    """Read and print the job's summary; the launcher's exit code."""
    summary = watch.read_summary(s3, run["summary_uri"], run["run_id"])
    run["state"] = state
    return watch.report_outcome(summary, run["summary_uri"], state)


def announce_step(emr, requests: Dict[str, Any], cluster_id: str, step_id: str, run: Dict[str, Any]) -> None:
    """After the step is added: end the cluster with its steps when asked, and say where the step's logs go."""
    if "SetKeepJobFlowAliveWhenNoSteps" in requests:
        emr.set_keep_job_flow_alive_when_no_steps(JobFlowIds=[cluster_id], KeepJobFlowAliveWhenNoSteps=False)
        say(f"cluster {cluster_id} ends once no step is left (--terminate-after)")
    log_uri = emr.describe_cluster(ClusterId=cluster_id)["Cluster"].get("LogUri")
    where = steps.s3_join(log_uri, cluster_id, "steps", step_id) + "/" if log_uri else "(no LogUri on this cluster)"
    say(f"step {step_id} added to cluster {cluster_id}; step logs: {where}")
    run["logs"] = where


def run_emr(options, requests: Dict[str, Any], run: Dict[str, Any], s3, emr) -> int:
    """Create the cluster if asked, add the step, and with --wait follow it to the job's exit code."""
    deadline = watch.Deadline(options.timeout)
    if "RunJobFlow" in requests:
        cluster_id = emr.run_job_flow(**requests["RunJobFlow"])["JobFlowId"]
        alive = "stays up until its idle timeout" if options.keep_alive else "ends when its steps end"
        say(f"cluster {cluster_id} created; it {alive}; to end it sooner:")
        say(f"  aws emr terminate-clusters --cluster-ids {cluster_id}")
    else:
        cluster_id = options.cluster_id
    step_id = emr.add_job_flow_steps(**dict(requests["AddJobFlowSteps"], JobFlowId=cluster_id))["StepIds"][0]
    run.update(target="emr", cluster_id=cluster_id, step_id=step_id, state="SUBMITTED")

    def describe():
        step = emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]
        return step["Status"]["State"], step

    try:  # from here on a Ctrl-C cancels the submitted step, whether or not the polling has begun
        announce_step(emr, requests, cluster_id, step_id, run)
        if not options.wait:
            return 0
        step = watch.poll(describe, steps.TERMINAL_STEP_STATES, f"step {step_id}", options.poll_seconds, deadline)
    except (watch.Stopped, KeyboardInterrupt) as stopped:
        stop = stopped if isinstance(stopped, watch.Stopped) else watch.Stopped("interrupt")
        run["state"] = "CANCEL_REQUESTED"
        return watch.stopped_code(stop, f"step {step_id}", deadline, watch.cancel_step(emr, cluster_id, step_id))
    state = step["Status"]["State"]
    code = finish(s3, run, state)
    log_wait = deadline.remaining(options.log_wait_seconds)
    if state != "COMPLETED" and code not in (2, 3):
        logs.report_step_failure(s3, emr, cluster_id, step_id, step, log_wait, options.poll_seconds)
    elif code == 0 and options.show_stdout:
        logs.show_driver_stdout(s3, emr, cluster_id, step_id, log_wait, options.poll_seconds)
    return code


def run_serverless(options, requests: Dict[str, Any], run: Dict[str, Any], s3, client) -> int:
    """Start the job run, and with --wait follow it to the job's exit code."""
    deadline = watch.Deadline(options.timeout)
    request = requests["StartJobRun"]
    run_id = client.start_job_run(**request)["jobRunId"]
    app = options.application_id
    log_uri = request["configurationOverrides"]["monitoringConfiguration"]["s3MonitoringConfiguration"]["logUri"]
    driver_logs = steps.serverless_driver_log_uri(log_uri, app, run_id, "")
    say(f"job run {run_id} started on application {app}; driver logs: {driver_logs}")
    run.update(target="serverless", application_id=app, job_run_id=run_id, state="SUBMITTED")
    if not options.wait:
        return 0

    def describe():
        job_run = client.get_job_run(applicationId=app, jobRunId=run_id)["jobRun"]
        return job_run["state"], job_run

    try:
        final = steps.TERMINAL_JOB_RUN_STATES
        job_run = watch.poll(describe, final, f"job run {run_id}", options.poll_seconds, deadline)
    except watch.Stopped as stop:
        run["state"] = "CANCEL_REQUESTED"
        return watch.stopped_code(stop, f"job run {run_id}", deadline, watch.cancel_job_run(client, app, run_id))
    state = job_run["state"]
    code = finish(s3, run, state)
    wait = deadline.remaining(options.log_wait_seconds)
    if state != "SUCCESS" and code not in (2, 3):
        if job_run.get("stateDetails"):
            say(f"  {job_run['stateDetails']}")
        logs.show_serverless_log(s3, log_uri, app, run_id, "stderr.gz", wait, options.poll_seconds)
    elif code == 0 and options.show_stdout:
        logs.show_serverless_log(s3, log_uri, app, run_id, "stdout.gz", wait, options.poll_seconds)
    return code


def publish(options: argparse.Namespace, environ: Dict[str, str], session=None) -> int:
    """Build and upload the artifact; print its version and URIs (what a DAG or CI needs) as JSON."""
    params = collect_params(options, environ)
    with tempfile.TemporaryDirectory(prefix="lakeml-artifact-") as out_dir:
        built = artifact_mod.build(out_dir)
        base_uri = steps.artifact_uri(params["BUCKET"], built.version)
        uris = {name: steps.s3_join(base_uri, name) for name in sorted(built.files)}
        if not options.dry_run:
            s3, _ = clients(options, session)
            uris = upload(s3, built, base_uri)
    document = {
        "version": built.version,
        "artifact_uri": base_uri,
        "entry": uris[artifact_mod.ENTRY],
        "py_files": uris[artifact_mod.ZIP_NAME],
        "jars": uris[artifact_mod.JVM_JAR],
        "bootstrap": uris[artifact_mod.BOOTSTRAP],
        "lock": f"{base_uri}/{artifact_mod.LOCK_DIR}",
        "manifest": uris[artifact_mod.MANIFEST],
        "files": uris,
    }
    print(json.dumps(document, indent=2, sort_keys=True), flush=True)
    return 0


def launch(options, job_args: List[str], environ: Dict[str, str], session=None) -> int:
    """Everything after the argument split: check, ship, build, plan, then dry-run or run."""
    check_options(options)
    job_args, lake, run_date, run_id = check_job_args(options.job, job_args, environ)
    params = collect_params(options, environ)
    job_args, shipped = files.ship_plan(options.job, job_args, params["BUCKET"])
    files.refuse_local_paths(job_args)
    archive = venv_archive.plan(options.venv_archive, params["BUCKET"]) if options.venv_archive else None
    if archive:
        options.venv_archive = archive.uri
    from core.lake import Lake

    run = {"job": options.job, "run_id": run_id, "run_date": run_date}
    run["summary_uri"] = Lake.at(lake).run_summary(options.job, run_date, run_id)
    with tempfile.TemporaryDirectory(prefix="lakeml-artifact-") as out_dir:
        built = artifact_mod.build(out_dir)
        requests = plan(options, job_args, params, built.version)
        base_uri = steps.artifact_uri(params["BUCKET"], built.version)
        run["artifact"] = base_uri
        if options.dry_run:
            ship = {one.flag: {"from": one.local, "to": one.uri} for one in shipped}
            shipped_doc = {"version": built.version, "upload_to": base_uri, "files": sorted(built.files)}
            document = {"artifact": shipped_doc, "local_files": ship, "run": run, **requests}
            print(json.dumps(steps.redact(document), indent=2, sort_keys=True))
            return 0
        s3, emr = clients(options, session)
        if archive:
            venv_archive.check_and_upload(s3, archive)
        files.upload(s3, shipped)
        for one in shipped:
            say(f"{one.flag} {one.local} shipped as {one.uri}")
        upload(s3, built, base_uri)
        runner = run_serverless if options.target == "serverless" else run_emr
        code = runner(options, requests, run, s3, emr)
    print(json.dumps(steps.redact({"launcher": run}), sort_keys=True), flush=True)
    return code


def main(argv: Optional[List[str]] = None, environ: Optional[Dict[str, str]] = None, session=None) -> int:
    """The launcher; `session` is an optional boto3 Session to use instead of a default one."""
    argv = list(sys.argv[1:] if argv is None else argv)
    environ = dict(os.environ if environ is None else environ)
    options, job_args = split_argv(argv)
    try:
        if options.job == "publish":
            if job_args:
                raise LaunchError(f"publish takes no job flags, got {' '.join(job_args)}")
            return publish(options, environ, session)
        return launch(options, job_args, environ, session)
    except (LaunchError, steps.TemplateError, files.ShipError, venv_archive.ArchiveError, UsageError) as error:
        print(f"lakeml emr: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        say("interrupted before the run was submitted; nothing is running")
        return watch.EXIT_INTERRUPTED
    except Exception as error:
        return aws_failure(error)


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

"""The EMR launcher against moto's S3, EMR and EMR Serverless server on 127.0.0.1.

moto accepts the calls (with botocore's parameter validation on, as in every real client
call) but its steps never run: they stay RUNNING or PENDING. The tests play the cluster's
part through moto's in-process backend (the server runs in this test process): once the
launcher has added its step, they set the step's state to what EMR would report, put a
gzipped stderr where EMR archives it, and write the job's run summary where the job would.
moto 5.2 lacks CancelSteps and SetKeepJobFlowAliveWhenNoSteps; the `emr_extras` fixture adds
both to the server, doing what EMR does (the step becomes CANCELLED; the flag is stored).
Everything on the launcher's side is real: the artifact build and upload, the shipped files,
RunJobFlow, AddJobFlowSteps, the polling, the cancel, the summary and the log download.
The boto3 operations the in-process runs call are recorded and checked against
emr_config/iam/launcher.json at the end of the module.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import signal
import subprocess
import tarfile
import threading
import time
import uuid
import zipfile

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID

from deploy import launcher, steps
from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # starts job processes

REGION = "us-east-1"
SECRET = "lakemlTestSecretValue0042"
CALLED = set()  # (service, operation) of every boto3 call the in-process launcher runs made


def emr_backend():
    from moto.emr.models import emr_backends

    return emr_backends[DEFAULT_ACCOUNT_ID][REGION]


@pytest.fixture(scope="module")
def emr_extras():
    """CancelSteps and SetKeepJobFlowAliveWhenNoSteps on moto's EMR server, as EMR answers them."""
    from moto.core.responses import ActionResult, EmptyResult
    from moto.emr.responses import ElasticMapReduceResponse

    def cancel_steps(self):
        cluster = self.backend.clusters[self._get_param("ClusterId")]
        wanted = self._get_param("StepIds", [])
        infos = []
        for step in cluster.steps:
            if step.id in wanted:
                step.state = "CANCELLED"
                infos.append({"StepId": step.id, "Status": "SUBMITTED"})
        return ActionResult({"CancelStepsInfoList": infos})

    def set_keep_job_flow_alive_when_no_steps(self):
        for cluster_id in self._get_param("JobFlowIds", []):
            self.backend.clusters[cluster_id].keep_job_flow_alive_when_no_steps = self._get_bool_param(
                "KeepJobFlowAliveWhenNoSteps"
            )
        return EmptyResult()

    patched = {
        "cancel_steps": cancel_steps,
        "set_keep_job_flow_alive_when_no_steps": set_keep_job_flow_alive_when_no_steps,
    }
    for name, method in patched.items():
        setattr(ElasticMapReduceResponse, name, method)
    yield
    for name in patched:
        delattr(ElasticMapReduceResponse, name)


def recording_session():
    """A boto3 Session that records every operation its clients call (for the IAM check)."""
    session = boto3.session.Session(region_name=REGION)

    def record(model, **_):
        CALLED.add((model.service_model.service_name, model.name))

    session.events.register("before-call.*.*", record)
    return session


def wait_for_steps(cluster_id: str, count: int = 1, timeout: float = 60.0):
    """moto's record of the cluster's steps once it has `count` of them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cluster = emr_backend().clusters.get(cluster_id)
        if cluster is not None and len(cluster.steps) >= count:
            return cluster.steps
        time.sleep(0.05)
    raise AssertionError(f"cluster {cluster_id} did not get {count} step(s)")


def cluster_named(name: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for cluster in list(emr_backend().clusters.values()):
            if cluster.name == name and cluster.steps:
                return cluster
        time.sleep(0.05)
    raise AssertionError(f"no cluster named {name} with a step")


def collect_lines(stream, lines: list) -> None:
    """Append each line of a process's stream to `lines` as it arrives."""
    for line in iter(stream.readline, ""):
        lines.append(line)


def wait_for_line(lines: list, text: str, timeout: float = 60.0) -> None:
    """Wait until a collected line contains `text`."""
    deadline = time.monotonic() + timeout
    while not any(text in line for line in list(lines)):
        if time.monotonic() > deadline:
            raise AssertionError(f"no line with {text!r} in: {''.join(lines)}")
        time.sleep(0.05)


def put_gz(s3_client, uri: str, text: str) -> None:
    bucket, key = launcher.logs.split_s3(uri)
    s3_client.put_object(Bucket=bucket, Key=key, Body=gzip.compress(text.encode()))


def finish_step(step, state: str) -> None:
    """What EMR does when the step's spark-submit exits: the final state and end time."""
    step.state = state
    step.end_date_time = step.start_date_time


def run_in_thread(target, *args, **kwargs):
    box = {}
    thread = threading.Thread(target=lambda: box.update(code=target(*args, **kwargs)), daemon=True)
    thread.start()
    return thread, box


def last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


APP = "application_1763900000000_0007"
STEP_STDERR = f"""26/11/23 12:00:01 INFO Client: Submitting application {APP} to ResourceManager
Exception in thread "main" org.apache.spark.SparkException: Application {APP} finished with failed status
"""
DRIVER_STDERR = """Traceback (most recent call last):
lakeml doctor: classes not found: delta; the jars are missing from the session.
"""


@pytest.fixture
def bucket(s3_bucket):
    return s3_bucket[len("s3://") :]


@pytest.fixture
def cluster_id(s3_endpoint, bucket, emr_extras):
    """A running (WAITING) cluster with a LogUri, as `--cluster-id` users have."""
    emr = boto3.client("emr", endpoint_url=s3_endpoint, region_name=REGION)
    instances = {"MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True}
    return emr.run_job_flow(
        Name="lakeml-existing",
        ReleaseLabel="emr-7.13.0",
        Instances=instances,
        LogUri=f"s3://{bucket}/emr-logs/",
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
    )["JobFlowId"]


def common(bucket: str, endpoint: str) -> list:
    return ["--bucket", bucket, "--endpoint-url", endpoint, "--poll-seconds", "0.1", "--log-wait-seconds", "2"]


def test_create_is_transient_uploads_the_artifact_and_a_failed_steps_stderr_is_shown(
    s3_endpoint, s3_client, bucket, tmp_path
):
    name = "lakeml-it-" + uuid.uuid4().hex[:8]
    env = {**os.environ, "AWS_ENDPOINT_URL": s3_endpoint, "AWS_SECRET_ACCESS_KEY": SECRET}
    env.pop("PYTHONPATH", None)
    argv = [os.path.join(ROOT, "spark-submit.sh"), "emr", "doctor", "--lake", f"s3://{bucket}/lake"]
    argv += ["--run-date", "2026-11-21", "--create", "--wait", "--bucket", bucket, "--subnet-id", "subnet-0abc"]
    argv += ["--param", f"CLUSTER_NAME={name}", "--poll-seconds", "0.2", "--log-wait-seconds", "3"]
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        cluster = cluster_named(name)
        step = cluster.steps[0]
        time.sleep(0.5)  # the launcher is polling describe_step
        put_gz(s3_client, steps.step_log_uri(cluster.log_uri, cluster.id, step.id), STEP_STDERR)
        driver = steps.containers_log_prefix(cluster.log_uri, cluster.id, APP)
        put_gz(s3_client, driver + "container_1763900000000_0007_01_000001/stderr.gz", DRIVER_STDERR)
        finish_step(step, "FAILED")
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert f"step {step.id}: FAILED" in err and "ends when its steps end" in err
    assert "finished with failed status" in err and "the jars are missing from the session" in err
    assert "no run summary at s3://" in err  # the job never got as far as writing one
    result = last_json(out)["launcher"]
    assert result["state"] == "FAILED" and result["cluster_id"] == cluster.id and result["step_id"] == step.id
    assert SECRET not in out + err

    emr = boto3.client("emr", endpoint_url=s3_endpoint, region_name=REGION)
    described = emr.describe_cluster(ClusterId=cluster.id)["Cluster"]
    assert described["ReleaseLabel"] == "emr-7.13.0" and described["LogUri"] == f"s3://{bucket}/emr-logs/"
    assert cluster.keep_job_flow_alive_when_no_steps is False  # transient: ends after its last step
    version = {t["Key"]: t["Value"] for t in described["Tags"]}["lakeml:artifact"]
    base = f"s3://{bucket}/artifacts/{version}"
    action = emr.list_bootstrap_actions(ClusterId=cluster.id)["BootstrapActions"][0]
    assert action["ScriptPath"] == f"{base}/emr_install_deps.sh" and action["Args"][:2] == ["--lock", f"{base}/lock"]
    run_id = result["run_id"]
    params = {**steps.default_params(), "BUCKET": bucket, "ARTIFACT_URI": base, "CLUSTER_NAME": name}
    job_args = ["--lake", f"s3://{bucket}/lake", "--run-date", "2026-11-21", "--run-id", run_id]
    described_step = emr.describe_step(ClusterId=cluster.id, StepId=step.id)["Step"]
    assert described_step["Config"]["Args"] == steps.emr_step("doctor", job_args, params)["HadoopJarStep"]["Args"]
    listed = s3_client.list_objects_v2(Bucket=bucket, Prefix=f"artifacts/{version}/")["Contents"]
    names = sorted(o["Key"][len(f"artifacts/{version}/") :] for o in listed)
    assert {"lakeml.zip", "lakeml_main.py", "lakeml-jvm.jar", "emr_install_deps.sh", "manifest.json"} <= set(names)
    assert {"lock/py3.11-x86_64.txt", "lock/py3.9-aarch64.txt"} <= set(names)
    manifest = json.loads(s3_client.get_object(Bucket=bucket, Key=f"artifacts/{version}/manifest.json")["Body"].read())
    shipped = s3_client.get_object(Bucket=bucket, Key=f"artifacts/{version}/lakeml.zip")["Body"].read()
    assert manifest["version"] == version and manifest["sha256"]["lakeml.zip"] == hashlib.sha256(shipped).hexdigest()
    assert "jobs/doctor.py" in zipfile.ZipFile(io.BytesIO(shipped)).namelist()


def test_local_confs_travel_to_s3_and_a_tripped_gate_exits_3_with_the_jobs_summary(
    s3_endpoint, s3_client, bucket, cluster_id, tmp_path, capsys
):
    conf = os.path.join(ROOT, "conf", "dms_example.yaml")
    lake = f"s3://{bucket}/lake"
    argv = ["ingest_dms", "--lake", lake, "--input", f"s3://{bucket}/raw/dms", "--tables", "conf/dms_example.yaml"]
    argv += ["--run-date", "2026-11-21", "--run-id", "gate1", "--cluster-id", cluster_id, "--wait"]
    old_cwd = os.getcwd()
    os.chdir(ROOT)  # the CONF's path is relative, as users type it
    try:
        thread, box = run_in_thread(launcher.main, [*argv, *common(bucket, s3_endpoint)], session=recording_session())
        step = wait_for_steps(cluster_id)[0]
    finally:
        os.chdir(old_cwd)
    args = step.args
    uri = args[args.index("--tables") + 1]
    digest = hashlib.sha256(open(conf, "rb").read()).hexdigest()
    assert uri == f"s3://{bucket}/artifacts/files/{digest}/dms_example.yaml"
    assert (
        s3_client.get_object(Bucket=bucket, Key=uri[len(f"s3://{bucket}/") :])["Body"].read() == open(conf, "rb").read()
    )
    summary = {"job": "ingest_dms", "run_id": "gate1", "run_date": "2026-11-21", "status": "gate_tripped"}
    summary.update(rows_in=20000, rows_rejected=12000, message="12000 rows rejected (limit 10000)", exit_code=3)
    key = "lake/_runs/ingest_dms/2026-11-21/gate1.json"
    s3_client.put_object(Bucket=bucket, Key=key, Body=json.dumps(summary).encode())
    finish_step(step, "FAILED")  # spark-submit exits non-zero with the job
    thread.join(60)
    captured = capsys.readouterr()
    assert box["code"] == 3, captured.err
    assert "quality gate tripped (exit 3)" in captured.err and "12000 rows rejected" in captured.err
    printed = [json.loads(line) for line in captured.out.strip().splitlines()]
    assert printed[0]["status"] == "gate_tripped" and printed[-1]["launcher"]["state"] == "FAILED"
    assert "tail of" not in captured.err  # the summary says why; no log hunting


def test_conf_with_file_references_ships_them_and_a_folder_is_refused_before_any_aws_call(
    s3_endpoint, s3_client, bucket, cluster_id, tmp_path, capsys
):
    folder = tmp_path / "features"
    (folder / "parts").mkdir(parents=True)
    (folder / "parts" / "schema.json").write_text('{"attributes": []}\n')
    (folder / "recipe.txt").write_text("outputs: ALL_INPUTS\n")
    conf = folder / "churn.yaml"
    conf.write_text("feature_set: churn\nschema_file: parts/schema.json\nrecipe_file: recipe.txt\n")
    lake = f"s3://{bucket}/lake"
    from deploy import files

    argv, shipped = files.ship_plan("build_features", ["--lake", lake, f"--config={conf}"], bucket)
    assert argv[-1].startswith("--config=s3://") and argv[-1].endswith("/churn.yaml")
    folder_uri = argv[-1][len("--config=") : -len("/churn.yaml")]
    files.upload(s3_client, shipped)
    for rel in ("churn.yaml", "parts/schema.json", "recipe.txt"):
        key = f"{folder_uri}/{rel}"[len(f"s3://{bucket}/") :]
        assert s3_client.get_object(Bucket=bucket, Key=key)["Body"].read() == (folder / rel).read_bytes()
    (folder / "recipe.txt").write_text("outputs: ALL_NUMERIC\n")  # another recipe: another content key
    assert files.ship_plan("build_features", ["--lake", lake, "--config", str(conf)], bucket)[0][-1] != argv[-1][9:]

    with pytest.raises(files.ShipError, match=r"a local folder cannot travel with the step.*aws s3 sync"):
        files.ship_plan("build_features", ["--lake", lake, "--config", str(folder)], bucket)
    before = len(emr_backend().clusters[cluster_id].steps)
    argv = ["ingest_dms", "--lake", lake, "--input", f"s3://{bucket}/raw", "--tables", str(folder)]
    with pytest.raises(SystemExit) as stop:  # the job's own check of its flags, as `local` runs it
        launcher.main([*argv, "--cluster-id", cluster_id, *common(bucket, s3_endpoint)])
    assert stop.value.code == 2 and "no such file" in capsys.readouterr().err
    assert len(emr_backend().clusters[cluster_id].steps) == before


def test_timeout_cancels_the_step_and_terminate_after_ends_an_existing_cluster(s3_endpoint, bucket, cluster_id, capsys):
    argv = ["doctor", "--lake", f"s3://{bucket}/lake", "--cluster-id", cluster_id, "--terminate-after"]
    argv += ["--timeout", "1", *common(bucket, s3_endpoint)]
    code = launcher.main(argv, session=recording_session())
    err = capsys.readouterr().err
    step = emr_backend().clusters[cluster_id].steps[-1]
    assert code == 1 and "--timeout 1s passed: cancelling step" in err and "SUBMITTED" in err
    assert step.state == "CANCELLED"
    assert emr_backend().clusters[cluster_id].keep_job_flow_alive_when_no_steps is False


def test_ctrl_c_right_after_the_step_is_added_still_cancels_it(s3_endpoint, bucket, cluster_id, capsys):
    session = recording_session()

    def interrupt(**_):
        raise KeyboardInterrupt

    session.events.register("before-call.emr.DescribeCluster", interrupt)  # between AddJobFlowSteps and polling
    argv = ["doctor", "--lake", f"s3://{bucket}/lake", "--cluster-id", cluster_id, "--wait"]
    code = launcher.main([*argv, *common(bucket, s3_endpoint)], session=session)
    err = capsys.readouterr().err
    step = emr_backend().clusters[cluster_id].steps[-1]
    assert code == 130 and f"interrupted (Ctrl-C): cancelling step {step.id}" in err
    assert "nothing is running" not in err
    assert step.state == "CANCELLED"


def test_ctrl_c_cancels_the_step_and_says_so(s3_endpoint, bucket, cluster_id, tmp_path):
    env = {**os.environ, "AWS_ENDPOINT_URL": s3_endpoint}
    env.pop("PYTHONPATH", None)
    argv = [os.path.join(ROOT, "spark-submit.sh"), "emr", "doctor", "--lake", f"s3://{bucket}/lake"]
    argv += ["--cluster-id", cluster_id, "--wait", "--bucket", bucket, "--poll-seconds", "0.2"]
    # as from a terminal: SIGINT at its default, also when the suite runs as a background job (whose
    # shell ignores SIGINT, which the launcher would inherit and never see the Ctrl-C)
    proc = subprocess.Popen(
        argv,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines = []
    reader = threading.Thread(target=collect_lines, args=(proc.stderr, lines), daemon=True)
    reader.start()
    try:
        step = wait_for_steps(cluster_id)[0]
        wait_for_line(lines, f"step {step.id}: ")  # the first state polled: Ctrl-C now
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise AssertionError("the launcher did not exit 60 s after Ctrl-C; it said:\n" + "".join(lines)) from None
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(timeout=10)
    err = "".join(lines)
    assert proc.returncode == 130, err
    assert f"interrupted (Ctrl-C): cancelling step {step.id}: SUBMITTED" in err
    assert step.state == "CANCELLED"


def test_create_keep_alive_and_runtime_role_and_completed_step_shows_summary_and_stdout(
    s3_endpoint, s3_client, bucket, capsys
):
    session = recording_session()
    sent = {}
    session.events.register("provide-client-params.emr.RunJobFlow", lambda params, **_: sent.update(RunJobFlow=params))
    session.events.register("provide-client-params.emr.AddJobFlowSteps", lambda params, **_: sent.update(Add=params))
    name = "lakeml-it-" + uuid.uuid4().hex[:8]
    role = "arn:aws:iam::123456789012:role/lakeml-step"
    argv = ["doctor", "--lake", f"s3://{bucket}/lake", "--run-date", "2026-11-21", "--run-id", "ok1", "--create"]
    argv += ["--keep-alive", "--subnet-id", "subnet-1", "--param", f"CLUSTER_NAME={name}"]
    argv += ["--execution-role-arn", role, "--show-stdout", *common(bucket, s3_endpoint)]
    thread, box = run_in_thread(launcher.main, argv, session=session)
    cluster = cluster_named(name)
    step = cluster.steps[0]
    put_gz(s3_client, steps.step_log_uri(cluster.log_uri, cluster.id, step.id), STEP_STDERR)
    stdout_key = steps.containers_log_prefix(cluster.log_uri, cluster.id, APP) + "container_1_01_000001/stdout.gz"
    put_gz(s3_client, stdout_key, "doctor: all checks passed\n")
    summary = {"job": "doctor", "run_id": "ok1", "run_date": "2026-11-21", "status": "succeeded", "exit_code": 0}
    s3_client.put_object(Bucket=bucket, Key="lake/_runs/doctor/2026-11-21/ok1.json", Body=json.dumps(summary).encode())
    finish_step(step, "COMPLETED")
    thread.join(60)
    captured = capsys.readouterr()
    assert box["code"] == 0, captured.err
    assert sent["RunJobFlow"]["Instances"]["KeepJobFlowAliveWhenNoSteps"] is True
    assert sent["RunJobFlow"]["AutoTerminationPolicy"]["IdleTimeout"] == 3600  # the kept cluster still ends when idle
    fleets = {f["InstanceFleetType"]: f for f in sent["RunJobFlow"]["Instances"]["InstanceFleets"]}
    assert fleets["TASK"]["LaunchSpecifications"]["SpotSpecification"]["TimeoutAction"] == "SWITCH_TO_ON_DEMAND"
    assert sent["Add"]["ExecutionRoleArn"] == role
    assert "doctor: all checks passed" in captured.err  # --show-stdout
    assert json.loads(captured.out.strip().splitlines()[0])["status"] == "succeeded"


def test_serverless_failed_run_shows_the_drivers_stderr_and_a_timeout_cancels_the_job_run(
    s3_endpoint, s3_client, bucket, capsys, monkeypatch
):
    import moto.emrserverless.models as serverless_models

    monkeypatch.setattr(serverless_models, "JOB_STATUS", "RUNNING")  # moto would mark runs SUCCESS at once
    client = boto3.client("emr-serverless", endpoint_url=s3_endpoint, region_name=REGION)
    app = client.create_application(name="lakeml-it", releaseLabel="emr-7.13.0", type="SPARK")["applicationId"]
    role = "arn:aws:iam::123456789012:role/lakeml-serverless-job"
    argv = ["doctor", "--lake", f"s3://{bucket}/lake", "--target", "serverless", "--application-id", app, "--wait"]
    archive = io.BytesIO()  # a self-contained environment archive, as bootstrap/build_venv.sh makes
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("bin/python3.11")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"\x7fELF"))
        link = tarfile.TarInfo("bin/python")
        link.type, link.linkname = tarfile.SYMTYPE, "python3.11"
        tar.addfile(link)
    s3_client.put_object(Bucket=bucket, Key="envs/lakeml-env.tar.gz", Body=archive.getvalue())
    argv += ["--execution-role-arn", role, "--venv-archive", f"s3://{bucket}/envs/lakeml-env.tar.gz"]
    argv += common(bucket, s3_endpoint)
    thread, box = run_in_thread(launcher.main, argv, session=recording_session())
    backend = serverless_models.emrserverless_backends[DEFAULT_ACCOUNT_ID][REGION]
    deadline = time.monotonic() + 60
    while not backend.job_runs.get(app) and time.monotonic() < deadline:
        time.sleep(0.05)
    job_run = backend.job_runs[app][0]
    run = client.get_job_run(applicationId=app, jobRunId=job_run.id)["jobRun"]
    assert run["jobDriver"]["sparkSubmit"]["entryPoint"].endswith("/lakeml_main.py")
    assert f"spark.archives=s3://{bucket}/envs/lakeml-env.tar.gz#environment" in str(run["jobDriver"])
    assert run["jobDriver"]["sparkSubmit"]["entryPointArguments"][:3] == ["doctor", "--lake", f"s3://{bucket}/lake"]
    log_uri = f"s3://{bucket}/emr-serverless-logs/"
    put_gz(s3_client, steps.serverless_driver_log_uri(log_uri, app, job_run.id), DRIVER_STDERR)
    time.sleep(0.3)
    job_run.state = "FAILED"
    thread.join(60)
    err = capsys.readouterr().err
    assert box["code"] == 1 and f"job run {job_run.id}: FAILED" in err
    assert "the jars are missing from the session" in err

    code = launcher.main([*argv, "--timeout", "1"], session=recording_session())
    err = capsys.readouterr().err
    second = backend.job_runs[app][-1]
    assert code == 1 and f"--timeout 1s passed: cancelling job run {second.id}: requested" in err
    assert client.get_job_run(applicationId=app, jobRunId=second.id)["jobRun"]["state"] in ("CANCELLING", "CANCELLED")


def test_publish_prints_a_version_whose_artifact_and_lock_are_in_the_bucket(s3_endpoint, s3_client, bucket, capsys):
    code = launcher.main(["publish", "--bucket", bucket, "--endpoint-url", s3_endpoint], session=recording_session())
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    version = printed["version"]
    assert printed["artifact_uri"] == f"s3://{bucket}/artifacts/{version}"
    assert printed["lock"] == f"s3://{bucket}/artifacts/{version}/lock"
    for uri in [
        printed["entry"],
        printed["py_files"],
        printed["jars"],
        printed["bootstrap"],
        *printed["files"].values(),
    ]:
        s3_client.head_object(Bucket=bucket, Key=uri[len(f"s3://{bucket}/") :])
    lock_key = f"artifacts/{version}/lock/py3.11-x86_64.txt"
    shipped = s3_client.get_object(Bucket=bucket, Key=lock_key)["Body"].read()
    assert shipped == open(os.path.join(ROOT, "bootstrap", "lock", "py3.11-x86_64.txt"), "rb").read()


def iam_action(service: str, operation: str) -> str:
    """The IAM action an API operation needs."""
    if service == "s3":
        return {
            "HeadObject": "s3:GetObject",
            "ListObjectsV2": "s3:ListBucket",
            "CreateMultipartUpload": "s3:PutObject",
        }.get(operation, f"s3:{operation}")
    return {"emr": "elasticmapreduce", "emr-serverless": "emr-serverless"}[service] + ":" + operation


def test_iam_policy_lists_every_operation_the_launcher_called():
    needed = {iam_action(service, op) for service, op in CALLED}
    if not {"elasticmapreduce:CancelSteps", "emr-serverless:CancelJobRun", "elasticmapreduce:RunJobFlow"} <= needed:
        pytest.skip("checks the calls of this module's earlier tests; run the whole module")
    policy = json.load(open(os.path.join(ROOT, "emr_config", "iam", "launcher.json")))
    granted = set()
    for statement in policy["Statement"]:
        actions = statement["Action"]
        granted |= set(actions if isinstance(actions, list) else [actions])
    assert needed <= granted, f"called but not in launcher.json: {sorted(needed - granted)}"

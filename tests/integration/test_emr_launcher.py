"""The EMR launcher against moto's S3 and EMR server on 127.0.0.1, and the artifact run alone.

moto accepts the calls (with botocore's parameter validation on, as in every real client
call) but its steps never run: they stay RUNNING or PENDING. The tests play the cluster's
part through moto's in-process backend (the server runs in this test process): once the
launcher has added its step, they set the step's state to what EMR would report and put a
gzipped stderr where EMR archives it (<LogUri>/<cluster-id>/steps/<step-id>/stderr.gz).
Everything on the launcher's side is real: the artifact build and upload, RunJobFlow,
AddJobFlowSteps, the describe_step polling and the log download.
moto 5.2 does not keep instance fleets, managed scaling or auto-termination (ListInstanceFleets
is not implemented), so those are checked in the RunJobFlow request as sent, captured from
the real client's event hooks, and against the cluster moto does keep for the rest.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import threading
import time
import uuid
import zipfile

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID

from deploy import artifact, launcher, steps
from tests.conftest import ROOT

REGION = "us-east-1"
SECRET = "lakemlTestSecretValue0042"


def emr_backend():
    from moto.emr.models import emr_backends

    return emr_backends[DEFAULT_ACCOUNT_ID][REGION]


def wait_for_step(cluster_name: str, timeout: float = 60.0):
    """moto's record of the first step added to the cluster named cluster_name."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for cluster in list(emr_backend().clusters.values()):
            if cluster.name == cluster_name and cluster.steps:
                return cluster, cluster.steps[0]
        time.sleep(0.1)
    raise AssertionError(f"no step appeared on a cluster named {cluster_name}")


def put_gz(s3_client, uri: str, text: str) -> None:
    bucket, key = launcher.split_s3(uri)
    s3_client.put_object(Bucket=bucket, Key=key, Body=gzip.compress(text.encode()))


def finish_step(step, state: str) -> None:
    """What EMR does when the step's spark-submit exits: the final state and end time."""
    step.state = state
    step.end_date_time = step.start_date_time


APP = "application_1763900000000_0007"
STEP_STDERR = f"""26/11/23 12:00:01 INFO Client: Submitting application {APP} to ResourceManager
26/11/23 12:03:09 INFO Client: Application report for {APP} (state: FINISHED)
Exception in thread "main" org.apache.spark.SparkException: Application {APP} finished with failed status
"""
DRIVER_STDERR = """Traceback (most recent call last):
  File "lakeml_main.py", line 12, in <module>
lakeml doctor: classes not found: delta; the jars are missing from the session.
"""


@pytest.fixture
def bucket(s3_bucket):
    return s3_bucket[len("s3://") :]


def test_create_uploads_artifact_makes_cluster_adds_step_and_shows_a_failed_steps_stderr(
    s3_endpoint, s3_client, bucket, tmp_path
):
    name = "lakeml-it-" + uuid.uuid4().hex[:8]
    env = {**os.environ, "AWS_ENDPOINT_URL": s3_endpoint, "AWS_SECRET_ACCESS_KEY": SECRET}
    env.pop("PYTHONPATH", None)
    argv = [os.path.join(ROOT, "spark-submit.sh"), "emr", "doctor", "--lake", f"s3://{bucket}/lake"]
    argv += ["--run-date", "2026-11-21", "--create", "--wait", "--bucket", bucket, "--subnet-id", "subnet-0abc"]
    argv += ["--param", f"CLUSTER_NAME={name}", "--poll-seconds", "0.2", "--log-wait-seconds", "20"]
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        cluster, step = wait_for_step(name)
        time.sleep(0.5)  # the launcher is polling describe_step (RUNNING)
        log_uri = cluster.log_uri
        put_gz(s3_client, steps.step_log_uri(log_uri, cluster.id, step.id), STEP_STDERR)
        driver = steps.containers_log_prefix(log_uri, cluster.id, APP)
        put_gz(s3_client, driver + "container_1763900000000_0007_01_000001/stderr.gz", DRIVER_STDERR)
        finish_step(step, "FAILED")
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert f"step {step.id}: RUNNING" in err and f"step {step.id}: FAILED" in err
    assert "finished with failed status" in err  # the step's stderr tail
    assert "the jars are missing from the session" in err  # the driver container's stderr tail
    result = json.loads(out.strip().splitlines()[-1])
    assert result["state"] == "FAILED" and result["cluster_id"] == cluster.id and result["step_id"] == step.id
    assert SECRET not in out + err

    emr = boto3.client("emr", endpoint_url=s3_endpoint, region_name=REGION)
    described = emr.describe_cluster(ClusterId=cluster.id)["Cluster"]
    assert described["ReleaseLabel"] == "emr-7.13.0" and described["Applications"][0]["Name"] == "Spark"
    assert described["LogUri"] == f"s3://{bucket}/emr-logs/"
    assert (described["ServiceRole"], described["Ec2InstanceAttributes"]["IamInstanceProfile"]) == (
        "EMR_DefaultRole",
        "EMR_EC2_DefaultRole",
    )
    classes = {c["Classification"]: c for c in described["Configurations"]}
    assert classes["delta-defaults"]["Properties"] == {"delta.enabled": "true"}
    assert classes["spark-env"]["Configurations"][0]["Properties"] == {"PYSPARK_PYTHON": "/usr/bin/python3.11"}
    version = {t["Key"]: t["Value"] for t in described["Tags"]}["lakeml:artifact"]
    base = f"s3://{bucket}/artifacts/{version}"
    actions = emr.list_bootstrap_actions(ClusterId=cluster.id)["BootstrapActions"]
    assert actions[0]["ScriptPath"] == f"{base}/emr_install_deps.sh"

    params = {**steps.default_params(), "BUCKET": bucket, "ARTIFACT_URI": base, "CLUSTER_NAME": name}
    expected = steps.emr_step("doctor", ["--lake", f"s3://{bucket}/lake", "--run-date", "2026-11-21"], params)
    described_step = emr.describe_step(ClusterId=cluster.id, StepId=step.id)["Step"]
    assert described_step["Config"]["Args"] == expected["HadoopJarStep"]["Args"]
    assert described_step["Config"]["Jar"] == "command-runner.jar" and described_step["Status"]["State"] == "FAILED"

    listed = s3_client.list_objects_v2(Bucket=bucket, Prefix=f"artifacts/{version}/")["Contents"]
    assert sorted(o["Key"].rsplit("/", 1)[1] for o in listed) == sorted(
        ["lakeml.zip", "lakeml_main.py", "lakeml-jvm.jar", "requirements.txt", "emr_install_deps.sh", "manifest.json"]
    )
    manifest = json.loads(s3_client.get_object(Bucket=bucket, Key=f"artifacts/{version}/manifest.json")["Body"].read())
    shipped = s3_client.get_object(Bucket=bucket, Key=f"artifacts/{version}/lakeml.zip")["Body"].read()
    assert manifest["version"] == version and manifest["sha256"]["lakeml.zip"] == hashlib.sha256(shipped).hexdigest()
    assert "jobs/doctor.py" in zipfile.ZipFile(io.BytesIO(shipped)).namelist()


def run_in_thread(target, *args, **kwargs):
    box = {}
    thread = threading.Thread(target=lambda: box.update(code=target(*args, **kwargs)), daemon=True)
    thread.start()
    return thread, box


def test_existing_cluster_step_that_completes_exits_0_and_run_job_flow_sent_fleets_scaling_termination(
    s3_endpoint, bucket, capsys
):
    session = boto3.session.Session(region_name=REGION)
    sent = {}
    session.events.register("provide-client-params.emr.RunJobFlow", lambda params, **_: sent.update(params))
    name = "lakeml-it-" + uuid.uuid4().hex[:8]
    common = ["--bucket", bucket, "--param", f"CLUSTER_NAME={name}", "--endpoint-url", s3_endpoint]
    common += ["--poll-seconds", "0.1", "--log-wait-seconds", "1"]
    # 1. --create without --wait: the cluster and a submitted step; exit 0 once submitted.
    create = ["doctor", "--lake", f"s3://{bucket}/lake", "--create", "--subnet-id", "subnet-1", *common]
    code = launcher.main(create, session=session)
    assert code == 0
    submitted = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert submitted["state"] == "SUBMITTED"
    fleets = {f["InstanceFleetType"]: f for f in sent["Instances"]["InstanceFleets"]}
    assert fleets["TASK"]["LaunchSpecifications"]["SpotSpecification"]["TimeoutAction"] == "SWITCH_TO_ON_DEMAND"
    assert sent["ManagedScalingPolicy"]["ComputeLimits"]["UnitType"] == "InstanceFleetUnits"
    assert sent["AutoTerminationPolicy"]["IdleTimeout"] == 3600
    assert sent["Instances"]["Ec2SubnetIds"] == ["subnet-1"]
    cluster_id = submitted["cluster_id"]
    first_step = emr_backend().clusters[cluster_id].steps[0]
    finish_step(first_step, "COMPLETED")
    # 2. --cluster-id with --wait: a second step on the same cluster, completed -> exit 0.
    thread, box = run_in_thread(
        launcher.main, ["doctor", "--lake", f"s3://{bucket}/lake", "--cluster-id", cluster_id, "--wait", *common]
    )
    deadline = time.monotonic() + 60
    while len(emr_backend().clusters[cluster_id].steps) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    second = emr_backend().clusters[cluster_id].steps[1]
    second.state = "RUNNING"  # moto queues it behind the first; EMR starts it once the first ended
    time.sleep(0.3)
    finish_step(second, "COMPLETED")
    thread.join(60)
    assert box["code"] == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out.strip().splitlines()[-1])["state"] == "COMPLETED"
    assert f"step {second.id}: COMPLETED" in captured.err and "tail of" not in captured.err
    # 3. A cancelled step also ends the wait with exit 1 (no log yet: the launcher says where to look).
    thread, box = run_in_thread(
        launcher.main, ["doctor", "--lake", f"s3://{bucket}/lake", "--cluster-id", cluster_id, "--wait", *common]
    )
    while len(emr_backend().clusters[cluster_id].steps) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    finish_step(emr_backend().clusters[cluster_id].steps[2], "CANCELLED")
    thread.join(60)
    assert box["code"] == 1
    assert "not archived yet; look later at s3://" in capsys.readouterr().err


def test_serverless_job_run_uses_the_same_artifact_and_shows_the_failed_drivers_stderr(
    s3_endpoint, s3_client, bucket, capsys, monkeypatch
):
    import moto.emrserverless.models as serverless_models

    # moto marks a job run SUCCESS at once; a real one is RUNNING first. Start runs RUNNING.
    monkeypatch.setattr(serverless_models, "JOB_STATUS", "RUNNING")
    client = boto3.client("emr-serverless", endpoint_url=s3_endpoint, region_name=REGION)
    app = client.create_application(name="lakeml-it", releaseLabel="emr-7.13.0", type="SPARK")["applicationId"]
    role = "arn:aws:iam::123456789012:role/lakeml-serverless-job"
    argv = ["doctor", "--lake", f"s3://{bucket}/lake", "--target", "serverless", "--application-id", app, "--wait"]
    argv += ["--bucket", bucket, "--execution-role-arn", role, "--endpoint-url", s3_endpoint]
    argv += ["--poll-seconds", "0.1", "--log-wait-seconds", "20"]
    thread, box = run_in_thread(launcher.main, argv)
    backend = serverless_models.emrserverless_backends[DEFAULT_ACCOUNT_ID][REGION]
    deadline = time.monotonic() + 60
    while not backend.job_runs.get(app) and time.monotonic() < deadline:
        time.sleep(0.05)
    job_run = backend.job_runs[app][0]
    run = client.get_job_run(applicationId=app, jobRunId=job_run.id)["jobRun"]
    entry = run["jobDriver"]["sparkSubmit"]["entryPoint"]
    assert entry.startswith(f"s3://{bucket}/artifacts/") and entry.endswith("/lakeml_main.py")
    assert run["jobDriver"]["sparkSubmit"]["entryPointArguments"] == ["doctor", "--lake", f"s3://{bucket}/lake"]
    log_uri = f"s3://{bucket}/emr-serverless-logs/"
    put_gz(s3_client, steps.serverless_driver_log_uri(log_uri, app, job_run.id), DRIVER_STDERR)
    time.sleep(0.3)  # the launcher is polling get_job_run (RUNNING)
    job_run.state = "FAILED"
    thread.join(60)
    assert box["code"] == 1
    err = capsys.readouterr().err
    assert f"job run {job_run.id}: RUNNING" in err and f"job run {job_run.id}: FAILED" in err
    assert "the jars are missing from the session" in err
    key = entry[len(f"s3://{bucket}/") :].replace("lakeml_main.py", "lakeml.zip")
    assert s3_client.head_object(Bucket=bucket, Key=key)["ContentLength"] > 0


@pytest.mark.slow
def test_the_artifact_alone_runs_doctor_with_spark_submit_as_emr_does(tmp_path):
    """Only the artifact, the pinned pyspark's spark-submit and the jars: no repo on any path.

    The interpreter is a bare Python 3.11 without pyspark or delta installed, as on an EMR
    node: pyspark comes from the Spark distribution, `delta` from the delta-spark jar on
    --py-files (the step does the same with /usr/share/aws/delta/lib/delta-spark.jar).
    """
    built = artifact.build(str(tmp_path / "build"))
    work = tmp_path / "clean"
    work.mkdir()
    for name in ("lakeml.zip", "lakeml_main.py", "lakeml-jvm.jar"):
        shutil.copy(built.files[name], work / name)
    jars_dir = os.environ["LAKEML_JARS_DIR"]
    jars = sorted(os.path.join(jars_dir, j) for j in os.listdir(jars_dir) if j.endswith(".jar"))
    delta_jar = next(j for j in jars if os.path.basename(j).startswith("delta-spark_2.12-"))
    bare = shutil.which("python3.11")
    bare = subprocess.run([bare, "-c", "import sys; print(sys.executable)"], capture_output=True, text=True).stdout
    bare = bare.strip()
    probe = subprocess.run([bare, "-c", "import pyspark"], capture_output=True, text=True, env={"PATH": "/usr/bin"})
    assert probe.returncode != 0, "the bare interpreter must not have pyspark installed"
    spark_home = os.environ["SPARK_HOME"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYSPARK_DRIVER_PYTHON")}
    env.update(LAKEML_TARGET="emr", PYSPARK_PYTHON=bare, SPARK_LOCAL_IP="127.0.0.1")
    conf = {
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "2",
        "spark.databricks.delta.snapshotPartitions": "2",
        "spark.sql.adaptive.enabled": "false",
        "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -Dlog4j2.level=warn",
    }
    cmd = [os.path.join(spark_home, "bin", "spark-submit"), "--master", "local[2]"]
    cmd += ["--jars", ",".join([*jars, "lakeml-jvm.jar"])]  # the step's --jars names the artifact's jar
    for key, value in conf.items():
        cmd += ["--conf", f"{key}={value}"]
    cmd += ["--py-files", f"lakeml.zip,{delta_jar}", "lakeml_main.py", "doctor", "--lake", str(tmp_path / "lake")]
    done = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["status"] == "succeeded"
    assert summary["counts"]["checks"] == {
        "parser": True,
        "write": True,
        "merge": True,
        "read": True,
        "time_travel": True,
    }
    assert summary["counts"]["versions"]["spark"] == "3.5.6" and summary["counts"]["versions"]["delta"] == "3.3.2"
    assert summary["counts"]["classes"]["lakeml-jvm"].endswith("lakeml-jvm.jar")
    assert sorted(os.listdir(work)) == ["lakeml-jvm.jar", "lakeml.zip", "lakeml_main.py"]  # nothing else was needed

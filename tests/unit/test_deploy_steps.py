"""The EMR requests as data: step shape, cluster template, IAM scope, artifact, dry-run, redaction.

Every request is checked against botocore's own service model (botocore.validate), the
same validation a real client call runs before it sends anything.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import zipfile

import botocore.session
import pytest
from botocore.validate import validate_parameters

from deploy import artifact, steps
from tests.conftest import ROOT, free_port

PARAMS = {
    **steps.default_params(),
    "BUCKET": "example-bucket",
    "SUBNET_ID": "subnet-0abc",
    "ARTIFACT_URI": "s3://example-bucket/artifacts/0.1.0-abc",
    "ARTIFACT_VERSION": "0.1.0-abc",
}
BOTOCORE = botocore.session.get_session()


def validate(service: str, operation: str, request: dict) -> None:
    """Raise botocore's ParamValidationError unless request fits the operation's input shape."""
    model = BOTOCORE.get_service_model(service).operation_model(operation)
    validate_parameters(request, model.input_shape)


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def test_step_is_command_runner_spark_submit_in_cluster_mode_with_entry_after_options():
    step = steps.emr_step("doctor", ["--lake", "s3://lake/x", "--run-date", "{{ ds }}"], PARAMS)
    validate("emr", "AddJobFlowSteps", steps.add_job_flow_steps_request("j-1", [step]))
    args = step["HadoopJarStep"]["Args"]
    assert step["HadoopJarStep"]["Jar"] == "command-runner.jar" and step["ActionOnFailure"] == "CONTINUE"
    assert args[:3] == ["spark-submit", "--deploy-mode", "cluster"]
    confs = [args[i + 1] for i, a in enumerate(args) if a == "--conf"]
    assert "spark.yarn.appMasterEnv.LAKEML_TARGET=emr" in confs and "spark.executorEnv.LAKEML_TARGET=emr" in confs
    assert "spark.yarn.appMasterEnv.PYSPARK_PYTHON=/usr/bin/python3.11" in confs
    py_files = args[args.index("--py-files") + 1].split(",")
    assert py_files[0] == "s3://example-bucket/artifacts/0.1.0-abc/lakeml.zip"
    assert args[args.index("--jars") + 1] == "s3://example-bucket/artifacts/0.1.0-abc/lakeml-jvm.jar"
    entry = args.index("s3://example-bucket/artifacts/0.1.0-abc/lakeml_main.py")
    assert all(not a.startswith("--") for a in args[entry - 1 : entry])  # every spark-submit option precedes it
    assert args[entry + 1 :] == ["doctor", "--lake", "s3://lake/x", "--run-date", "{{ ds }}"]  # templates pass through
    assert "${" not in json.dumps(step)


def test_venv_archive_adds_archives_and_overrides_the_python():
    args = steps.spark_submit_args("doctor", [], PARAMS, venv_archive="s3://b/venv.tar.gz")
    assert "spark.archives=s3://b/venv.tar.gz#environment" in args
    entry = args.index("s3://example-bucket/artifacts/0.1.0-abc/lakeml_main.py")
    python_confs = [a for a in args[:entry] if "appMasterEnv.PYSPARK_PYTHON" in a]
    assert python_confs[-1].endswith("=./environment/bin/python")  # the later --conf wins


def test_cluster_request_is_pinned_emr7_with_fleets_spot_scaling_termination_logs_and_classifications():
    request = steps.run_job_flow_request(PARAMS)
    validate("emr", "RunJobFlow", request)
    assert request["ReleaseLabel"] == "emr-7.13.0"  # Spark 3.5.6 / Delta 3.3.2, the local pins
    assert request["Applications"] == [{"Name": "Spark"}]
    assert request["LogUri"] == "s3://example-bucket/emr-logs/"
    fleets = {f["InstanceFleetType"]: f for f in request["Instances"]["InstanceFleets"]}
    assert set(fleets) == {"MASTER", "CORE", "TASK"}
    spot = fleets["TASK"]["LaunchSpecifications"]["SpotSpecification"]
    assert fleets["TASK"]["TargetSpotCapacity"] > 0 and spot["TimeoutAction"] == "SWITCH_TO_ON_DEMAND"
    assert fleets["CORE"]["TargetOnDemandCapacity"] > 0 and "TargetSpotCapacity" not in fleets["CORE"]
    limits = request["ManagedScalingPolicy"]["ComputeLimits"]
    assert limits["UnitType"] == "InstanceFleetUnits"
    assert limits["MinimumCapacityUnits"] <= limits["MaximumOnDemandCapacityUnits"] <= limits["MaximumCapacityUnits"]
    assert 60 <= request["AutoTerminationPolicy"]["IdleTimeout"] <= 604800
    assert request["Instances"]["KeepJobFlowAliveWhenNoSteps"] is True  # the template waits for steps (the DAG)
    transient = steps.run_job_flow_request(PARAMS, keep_alive=False)  # the launcher's --create
    assert transient["Instances"]["KeepJobFlowAliveWhenNoSteps"] is False
    action = request["BootstrapActions"][0]["ScriptBootstrapAction"]
    assert action["Path"] == "s3://example-bucket/artifacts/0.1.0-abc/emr_install_deps.sh"
    assert action["Args"] == [
        "--lock",
        PARAMS["ARTIFACT_URI"] + "/lock",
        "--python",
        "/usr/bin/python3.11",
    ]
    classes = {c["Classification"]: c for c in request["Configurations"]}
    assert classes["delta-defaults"]["Properties"] == {"delta.enabled": "true"}
    assert classes["spark-defaults"]["Properties"]["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    export = classes["spark-env"]["Configurations"][0]
    assert export == {"Classification": "export", "Properties": {"PYSPARK_PYTHON": "/usr/bin/python3.11"}}
    assert not any("${" in s for s in strings(request))


def test_names_of_buckets_roles_and_subnets_are_parameters_not_literals():
    template = steps.load_config("cluster.json")
    assert template["LogUri"].startswith("s3://${BUCKET}/")
    assert template["Instances"]["Ec2SubnetIds"] == ["${SUBNET_ID}"]
    assert (template["ServiceRole"], template["JobFlowRole"]) == ("${SERVICE_ROLE}", "${INSTANCE_PROFILE}")
    for name in ("cluster.json", "step.json", "serverless.json"):
        text = json.dumps(steps.load_config(name))
        assert not re.search(r"s3://(?!\$\{)[a-z0-9]", text), name  # no literal bucket
        assert not re.search(r"subnet-[0-9a-f]", text) and not re.search(r"arn:aws:iam::\d", text), name


def test_a_missing_parameter_is_named_with_the_flag_that_sets_it():
    with pytest.raises(steps.TemplateError, match=r"SUBNET_ID.*--subnet-id.*LAKEML_EMR_SUBNET_ID"):
        steps.run_job_flow_request({k: v for k, v in PARAMS.items() if k != "SUBNET_ID"})


def test_serverless_request_runs_the_same_artifact_and_validates():
    request = steps.serverless_job_run_request(
        "00app",
        "doctor",
        ["--lake", "s3://lake/x"],
        {**PARAMS, "SERVERLESS_EXECUTION_ROLE_ARN": "arn:aws:iam::123456789012:role/lakeml-job"},
        "tok-1",
    )
    validate("emr-serverless", "StartJobRun", request)
    submit = request["jobDriver"]["sparkSubmit"]
    assert submit["entryPoint"] == "s3://example-bucket/artifacts/0.1.0-abc/lakeml_main.py"
    assert submit["entryPointArguments"] == ["doctor", "--lake", "s3://lake/x"]
    assert "spark.submit.pyFiles=s3://example-bucket/artifacts/0.1.0-abc/lakeml.zip" in submit["sparkSubmitParameters"]
    jars = re.search(r"spark\.jars=(\S+)", submit["sparkSubmitParameters"]).group(1).split(",")
    assert "s3://example-bucket/artifacts/0.1.0-abc/lakeml-jvm.jar" in jars
    assert "LAKEML_TARGET=emr" in submit["sparkSubmitParameters"]


def iam_statements():
    folder = os.path.join(steps.CONFIG_DIR, "iam")
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name)) as handle:
            for statement in json.load(handle)["Statement"]:
                yield name, statement


def test_iam_policies_grant_s3_only_on_the_lake_and_lakeml_prefixes():
    allowed = re.compile(
        r"^arn:aws:s3:::(\$\{LAKE_BUCKET\}(/\$\{LAKE_PREFIX\}/.*)?"
        r"|\$\{BUCKET\}(/(artifacts|emr-logs|emr-serverless-logs)/\*)?)$"
    )
    seen = 0
    for name, statement in iam_statements():
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if not any(a.startswith("s3:") for a in actions):
            continue
        seen += 1
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for resource in resources:
            assert allowed.match(resource), f"{name} {statement['Sid']}: {resource}"
        if actions == ["s3:ListBucket"] and statement["Effect"] == "Allow":
            assert statement["Condition"]["StringLike"]["s3:prefix"], f"{name}: ListBucket without a prefix condition"
    assert seen >= 10


def test_artifact_zip_has_only_the_packages_is_reproducible_and_ships_the_hashed_locks(tmp_path):
    first = artifact.build(str(tmp_path / "a"))
    second = artifact.build(str(tmp_path / "b"))
    assert first.version == second.version and re.fullmatch(r"\d+\.\d+\.\d+-[0-9a-f]{12}", first.version)
    assert open(first.zip_path, "rb").read() == open(second.zip_path, "rb").read()
    names = zipfile.ZipFile(first.zip_path).namelist()
    assert {"jobs/__init__.py", "jobs/main.py", "core/session.py", "features/__init__.py"} <= set(names)
    assert all(n.split("/")[0] in ("core", "jobs", "features", "ml") and "__pycache__" not in n for n in names)
    assert sorted(os.listdir(first.directory)) == sorted(
        ["lakeml.zip", "lakeml_main.py", "lakeml-jvm.jar", "lock", "emr_install_deps.sh", "manifest.json"]
    )
    locks = sorted(os.listdir(os.path.join(first.directory, "lock")))
    assert locks == [f"py{v}-{a}.txt" for v in ("3.11", "3.9") for a in ("aarch64", "x86_64")]
    for name in locks:
        text = open(os.path.join(first.directory, "lock", name)).read()
        pins = re.findall(r"^([a-z0-9._-]+)==\S+ \\\n((?:\s+--hash=sha256:[0-9a-f]{64}(?: \\)?\n)+)", text, re.M)
        assert len(pins) == text.count("==") and {"pyyaml", "pydantic", "pydantic-core", "numpy"} <= {
            p for p, _ in pins
        }
        assert not {"pyspark", "py4j", "delta-spark", "boto3"} & {p for p, _ in pins}
    assert json.load(open(first.files["manifest.json"]))["sha256"]["lock/py3.11-x86_64.txt"]


def test_dry_run_needs_no_credentials_or_network_and_prints_requests_botocore_accepts(tmp_path):
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAKEML_EMR_")) and k != "LAKEML_S3_ENDPOINT"
    }
    env.update(
        HOME=str(tmp_path),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}",  # nothing listens: any call would fail
        PYTHONPATH=ROOT,
    )
    argv = ["doctor", "--lake", "s3://lake-bucket/lake", "--create", "--dry-run"]
    argv += ["--bucket", "example-bucket", "--subnet-id", "subnet-0abc", "--run-date", "2026-11-21"]
    done = subprocess.run(
        [sys.executable, "-m", "deploy.launcher", *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    validate("emr", "RunJobFlow", printed["RunJobFlow"])
    validate("emr", "AddJobFlowSteps", printed["AddJobFlowSteps"])
    version = printed["artifact"]["version"]
    assert printed["artifact"]["upload_to"] == f"s3://example-bucket/artifacts/{version}"
    args = printed["AddJobFlowSteps"]["Steps"][0]["HadoopJarStep"]["Args"]
    assert args[-7:-1] == ["doctor", "--lake", "s3://lake-bucket/lake", "--run-date", "2026-11-21", "--run-id"]
    assert printed["run"]["summary_uri"] == f"s3://lake-bucket/lake/_runs/doctor/2026-11-21/{args[-1]}.json"


def test_launcher_usage_errors_exit_2_before_any_aws_call(capsys):
    from deploy import launcher

    assert launcher.main(["doctor", "--lake", "s3://l/x", "--bucket", "b"], environ={}) == 2
    assert "--cluster-id" in capsys.readouterr().err
    assert launcher.main(["doctor", "--lake", "./lake", "--create", "--bucket", "b"], environ={}) == 2
    assert "lake must be on S3" in capsys.readouterr().err
    assert launcher.main(["doctor", "--lake", "s3://l/x", "--create"], environ={}) == 2
    assert "--bucket" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        launcher.main(["doctor", "--run-date", "yesterday", "--create", "--bucket", "b"], environ={})
    assert stop.value.code == 2
    assert launcher.main(["doctor", "--target", "serverless", "--bucket", "b", "--lake", "s3://l/x"], environ={}) == 2
    assert "--application-id" in capsys.readouterr().err


def test_lake_from_the_environment_is_passed_to_the_cluster_explicitly(capsys):
    from deploy import launcher

    argv = ["doctor", "--cluster-id", "j-1", "--dry-run", "--bucket", "b"]
    assert launcher.main(argv, environ={"LAKEML_LAKE": "s3://env-lake/x"}) == 0
    args = json.loads(capsys.readouterr().out)["AddJobFlowSteps"]["Steps"][0]["HadoopJarStep"]["Args"]
    assert args[-7:-4] == ["doctor", "--lake", "s3://env-lake/x"] and args[-4] == "--run-date"


def test_exit_code_follows_the_final_state():
    assert steps.exit_code_for_state("COMPLETED") == 0 and steps.exit_code_for_state("SUCCESS") == 0
    assert {steps.exit_code_for_state(s) for s in ("FAILED", "CANCELLED", "INTERRUPTED")} == {1}


def test_redact_hides_secret_values_keys_and_access_key_ids():
    config = {
        "Properties": {"fs.s3a.secret.key": "abc", "spark.app.name": "x"},
        "Args": ["--conf", "spark.hadoop.fs.s3a.access.key=AKIAABCDEFGHIJKLMNOP", "--password", "hunter2", "--lake"],
        "note": "id AKIAABCDEFGHIJKLMNOP here",
    }
    out = json.dumps(steps.redact(config))
    assert "abc" not in out and "AKIAABCDEFGHIJKLMNOP" not in out and "hunter2" not in out
    assert steps.redact(config)["Properties"]["spark.app.name"] == "x" and "--lake" in out
    assert steps.redact({"clientToken": "tok-1"}) == {"clientToken": "tok-1"}  # an idempotency token, not a secret


def test_no_credentials_in_deploy_code_or_config():
    pattern = re.compile(r"(AKIA|ASIA)[0-9A-Z]{16}|aws_secret_access_key\s*=|SecretAccessKey\"?\s*[:=]", re.I)
    paths = [os.path.join(ROOT, "bootstrap", "emr_install_deps.sh")]
    for folder in ("deploy", "emr_config"):
        for base, _, files in os.walk(os.path.join(ROOT, folder)):
            paths += [os.path.join(base, f) for f in files if f.endswith((".py", ".json", ".sh"))]
    assert len(paths) >= 10
    for path in paths:
        assert not pattern.search(open(path).read()), path


def test_log_locations_follow_emr_layout():
    assert (
        steps.step_log_uri("s3n://b/emr-logs/", "j-1", "s-2") == "s3://b/emr-logs/j-1/steps/s-2/stderr.gz"
    )  # EMR reports s3n://
    assert steps.serverless_driver_log_uri("s3://b/l/", "app", "run") == (
        "s3://b/l/applications/app/jobs/run/SPARK_DRIVER/stderr.gz"
    )


def lock_folder(tmp_path, text: str):
    """A lock folder as the artifact ships it, holding `text` as this interpreter's lock."""
    folder = tmp_path / "lock"
    folder.mkdir(exist_ok=True)
    name = f"py{sys.version_info[0]}.{sys.version_info[1]}-{os.uname().machine}.txt"
    (folder / name).write_text(text)
    return folder


def test_bootstrap_action_fails_loudly_and_is_idempotent(tmp_path):
    script = os.path.join(ROOT, "bootstrap", "emr_install_deps.sh")
    env = {**os.environ, "LAKEML_DEPS_STAMP_DIR": str(tmp_path / "stamps")}
    done = subprocess.run(["bash", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "--lock is required" in done.stderr
    empty = lock_folder(tmp_path, "# nothing to install\n")
    first = subprocess.run(
        ["bash", script, "--lock", str(empty), "--python", sys.executable],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert first.returncode == 0 and "done" in first.stdout, first.stderr
    second = subprocess.run(
        ["bash", script, "--lock", str(empty), "--python", sys.executable],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 0 and "already installed" in second.stdout
    missing = subprocess.run(
        ["bash", script, "--lock", str(tmp_path / "nowhere"), "--python", sys.executable],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode != 0 and "no lock" in missing.stderr


def test_lock_input_names_what_setup_py_installs_and_covers_what_the_jobs_import():
    lock_in = open(os.path.join(ROOT, "bootstrap", "lock", "requirements-emr.in")).read()
    wanted = {artifact.requirement_name(line) for line in lock_in.splitlines() if line.split("#")[0].strip()}
    declared = {artifact.requirement_name(s) for s in artifact.setup_metadata()["install_requires"]}
    assert wanted == declared == {"pyyaml", "pydantic", "numpy", "matplotlib", "pandas", "pyarrow"}
    imported = set()
    for package in ("core", "jobs", "features", "ml"):
        for folder, _, names in os.walk(os.path.join(ROOT, package)):
            for name in (n for n in names if n.endswith(".py")):
                tree = ast.parse(open(os.path.join(folder, name), encoding="utf-8").read())
                for node in ast.walk(tree):
                    if isinstance(node, ast.Import):
                        imported |= {alias.name.split(".")[0] for alias in node.names}
                    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                        imported.add(node.module.split(".")[0])
    provided = {
        "pyspark",
        "delta",
        "py4j",
        "core",
        "jobs",
        "features",
        "ml",
        "__future__",
    }  # the cluster, or lakeml itself
    # only `aml serve` (jobs/aml, core/objects) imports them, lazily: it runs beside the lake in the local
    # venv, whose boto3 launches EMR steps; no EMR step runs it
    provided |= {"boto3", "botocore"}
    modules = {"yaml": "pyyaml", "pydantic": "pydantic", "numpy": "numpy", "matplotlib": "matplotlib"}
    modules.update(pandas="pandas", pyarrow="pyarrow")
    third_party = {m for m in imported - provided - set(sys.stdlib_module_names)}
    assert third_party <= set(modules), f"imported by the jobs but not in the lock: {third_party - set(modules)}"


def test_serverless_dry_run_prints_a_start_job_run_request_botocore_accepts(capsys):
    from deploy import launcher

    role = "arn:aws:iam::123456789012:role/lakeml-job"
    argv = ["doctor", "--lake", "s3://l/x", "--target", "serverless", "--application-id", "00fabc123"]
    argv += ["--bucket", "b", "--execution-role-arn", role, "--dry-run"]
    assert launcher.main(argv, environ={}) == 2  # no bootstrap actions on Serverless: the archive is required
    assert "build it with bootstrap/build_venv.sh" in capsys.readouterr().err
    assert launcher.main([*argv, "--venv-archive", "s3://b/envs/env.tar.gz"], environ={}) == 0
    request = json.loads(capsys.readouterr().out)["StartJobRun"]
    assert (
        "spark.archives=s3://b/envs/env.tar.gz#environment"
        in request["jobDriver"]["sparkSubmit"]["sparkSubmitParameters"]
    )
    validate("emr-serverless", "StartJobRun", request)
    assert request["clientToken"] != "***" and request["executionRoleArn"] == role


def test_step_builder_imports_neither_boto3_nor_pyspark_so_a_dag_file_parses_without_them():
    code = "import sys, deploy.steps; print(sorted(m for m in ('boto3', 'botocore', 'pyspark') if m in sys.modules))"
    env = {**os.environ, "PYTHONPATH": ROOT}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr
    params = steps.artifact_params("b", "0.1.0-abc")
    assert params["ARTIFACT_URI"] == "s3://b/artifacts/0.1.0-abc" and params["PYTHON"] == "/usr/bin/python3.11"


def test_the_distribution_ships_deploy_and_emr_config_and_installs_only_what_the_nodes_import(tmp_path):
    done = subprocess.run(
        [sys.executable, "setup.py", "-q", "egg_info", "--egg-base", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    info = tmp_path / "lakeml.egg-info"
    sources = set((info / "SOURCES.txt").read_text().split())
    assert {
        "deploy/launcher.py",
        "deploy/steps.py",
        "emr_config/cluster.json",
        "emr_config/iam/launcher.json",
    } <= sources
    assert {"core/cli.py", "features/recipe/__init__.py", "lakeml_main.py"} <= sources
    base = (info / "requires.txt").read_text().split("\n\n")[0].split()
    assert [artifact.requirement_name(r) for r in base] == [
        "pyyaml",
        "pydantic",
        "numpy",
        "matplotlib",
        "pandas",
        "pyarrow",
    ]
    assert "boto3" in (info / "requires.txt").read_text().split("[deploy]")[1]  # only the launcher's extra

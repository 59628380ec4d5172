"""The artifact alone, as EMR unpacks it, under spark-submit with a bare Python and only the lock's packages.

The interpreter is a venv of this machine's Python 3.11 into which the artifact's own bootstrap
action (emr_install_deps.sh, --require-hashes, wheels only) installed the lock for this Python
and architecture: no pyspark, no delta, no repo on any path, as on an EMR node. pyspark comes
from the Spark distribution, `delta` from the delta-spark jar on --py-files (the step does the
same with /usr/share/aws/delta/lib/delta-spark.jar). The venv is cached under LAKEML_CACHE,
keyed by the lock's hash (the first build downloads the lock's wheels from PyPI).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest

from core.session import TEST_JAVA_OPTIONS, s3a_conf
from deploy import artifact, files

LOCK = f"py{sys.version_info[0]}.{sys.version_info[1]}-{os.uname().machine}.txt"


def lock_venv(built, tmp_path) -> str:
    """A venv with exactly the lock's packages, installed by the artifact's bootstrap action; its python."""
    lock_dir = os.path.join(built.directory, artifact.LOCK_DIR)
    with open(os.path.join(lock_dir, LOCK), "rb") as handle:
        key = hashlib.sha256(handle.read()).hexdigest()[:12]
    cache = os.environ.get("LAKEML_CACHE", os.path.expanduser("~/.cache/lakeml"))
    venv = os.path.join(cache, f"emr-lock-venv-{key}")
    python = os.path.join(venv, "bin", "python")
    if os.path.isfile(os.path.join(venv, ".ready")):
        return python
    shutil.rmtree(venv, ignore_errors=True)
    base = subprocess.run(["python3.11", "-c", "import sys; print(sys.executable)"], capture_output=True, text=True)
    subprocess.run([base.stdout.strip(), "-m", "venv", venv], check=True, timeout=300)
    env = {**os.environ, "LAKEML_DEPS_STAMP_DIR": str(tmp_path / "stamps")}
    script = built.files[artifact.BOOTSTRAP]
    try:
        done = subprocess.run(
            ["bash", script, "--lock", lock_dir, "--python", python],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("installing the lock from PyPI took over 15 minutes")
    if done.returncode != 0 and "no route to PyPI" in done.stderr:
        shutil.rmtree(venv, ignore_errors=True)
        pytest.skip(f"PyPI unreachable, cannot build the lock's venv: {done.stderr[-500:]}")
    assert done.returncode == 0, done.stderr[-3000:]
    open(os.path.join(venv, ".ready"), "w").close()
    return python


@pytest.fixture(scope="module")
def clean_artifact(tmp_path_factory):
    """(folder holding only lakeml.zip, lakeml_main.py, lakeml-jvm.jar; the lock venv's python)."""
    tmp = tmp_path_factory.mktemp("artifact")
    built = artifact.build(str(tmp / "build"))
    work = tmp / "clean"
    work.mkdir()
    for name in ("lakeml.zip", "lakeml_main.py", "lakeml-jvm.jar"):
        shutil.copy(built.files[name], work / name)
    return work, lock_venv(built, tmp)


def spark_submit(work, python: str, job_args, extra_conf=None):
    """spark-submit of the artifact's entry script as the step runs it (LAKEML_TARGET=emr)."""
    jars_dir = os.environ["LAKEML_JARS_DIR"]
    jars = sorted(os.path.join(jars_dir, j) for j in os.listdir(jars_dir) if j.endswith(".jar"))
    delta_jar = next(j for j in jars if os.path.basename(j).startswith("delta-spark_2.12-"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYSPARK_DRIVER_PYTHON")}
    env.update(LAKEML_TARGET="emr", PYSPARK_PYTHON=python, SPARK_LOCAL_IP="127.0.0.1")
    conf = {
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "2",
        "spark.databricks.delta.snapshotPartitions": "2",
        "spark.sql.adaptive.enabled": "false",
        "spark.driver.extraJavaOptions": f"{TEST_JAVA_OPTIONS} -Dlog4j2.level=warn",
        **(extra_conf or {}),
    }
    cmd = [os.path.join(os.environ["SPARK_HOME"], "bin", "spark-submit"), "--master", "local[2]"]
    cmd += ["--jars", ",".join([*jars, "lakeml-jvm.jar"])]  # the step's --jars names the artifact's jar
    for key, value in conf.items():
        cmd += ["--conf", f"{key}={value}"]
    cmd += ["--py-files", f"lakeml.zip,{delta_jar}", "lakeml_main.py", *job_args]
    return subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_the_lock_venv_is_bare_and_the_artifact_alone_runs_doctor(clean_artifact, tmp_path):
    work, python = clean_artifact
    probe = subprocess.run([python, "-c", "import pyspark"], capture_output=True, text=True)
    assert probe.returncode != 0, "the node's interpreter must not have pyspark installed"
    imports = "import yaml, pydantic, numpy, matplotlib, pandas, pyarrow"
    assert subprocess.run([python, "-c", imports], capture_output=True).returncode == 0
    done = spark_submit(work, python, ["doctor", "--lake", str(tmp_path / "lake")])
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["status"] == "succeeded" and all(summary["counts"]["checks"].values())
    assert summary["counts"]["versions"]["spark"] == "3.5.6" and summary["counts"]["versions"]["delta"] == "3.3.2"
    assert summary["counts"]["classes"]["lakeml-jvm"].endswith("lakeml-jvm.jar")
    assert sorted(os.listdir(work)) == ["lakeml-jvm.jar", "lakeml.zip", "lakeml_main.py"]  # nothing else was needed


@pytest.mark.slow
def test_the_artifact_alone_runs_ingest_dms_with_its_conf_shipped_to_s3(
    clean_artifact, tmp_path, s3_endpoint, s3_client, s3_bucket
):
    work, python = clean_artifact
    dms = tmp_path / "dms" / "hr" / "employee"
    dms.mkdir(parents=True)
    (dms / "LOAD00000001.csv").write_text("101,Smith,Bob\n102,Jones,Ann\n")
    (dms / "20261121-0900000000.csv").write_text("U,101,Smith,Robert\nD,102,Jones,Ann\nI,103,Lee,Kim\n")
    columns = [{"name": "id", "type": "int"}, {"name": "last", "type": "string"}, {"name": "first", "type": "string"}]
    conf = tmp_path / "dms.json"
    conf.write_text(json.dumps({"tables": [{"schema": "hr", "table": "employee", "key": ["id"], "columns": columns}]}))
    bucket = s3_bucket[len("s3://") :]
    lake = tmp_path / "lake"
    argv, shipped = files.ship_plan("ingest_dms", ["--tables", str(conf)], bucket)
    files.upload(s3_client, shipped)  # what the launcher does before it adds the step
    assert argv[1].startswith(f"s3://{bucket}/artifacts/files/")
    s3 = {k: v for k, v in s3a_conf(s3_endpoint).items()}
    s3["spark.hadoop.fs.s3.impl"] = "org.apache.hadoop.fs.s3a.S3AFileSystem"  # EMR 7.10+: s3:// is S3A
    s3["spark.hadoop.fs.s3a.aws.credentials.provider"] = "com.amazonaws.auth.EnvironmentVariableCredentialsProvider"
    job = ["ingest_dms", "--input", str(tmp_path / "dms"), *argv, "--lake", str(lake), "--run-date", "2026-11-21"]
    done = spark_submit(work, python, job, s3)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["status"] == "succeeded" and summary["inputs"], summary
    from deltalake import DeltaTable

    table = DeltaTable(str(lake / "tables" / "hr_employee")).to_pyarrow_table()
    assert sorted(zip(table.column("id").to_pylist(), table.column("first").to_pylist())) == [
        (101, "Robert"),
        (103, "Kim"),
    ]

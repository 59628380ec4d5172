"""The README's first command and its set-up, run as a user would: subprocesses of the real scripts."""

import json
import os
import shutil
import subprocess
import time

import pytest

from tests.conftest import ROOT, free_port

SUBMIT = os.path.join(ROOT, "spark-submit.sh")
SETUP = os.path.join(ROOT, "bootstrap", "local.sh")


def run(cmd, env=None, timeout=600):
    return subprocess.run(cmd, cwd=ROOT, env=env or dict(os.environ), capture_output=True, text=True, timeout=timeout)


def path_without_java(tmp_path, leave_out=("java",)):
    """A PATH with every usual tool but those whose names start with one of `leave_out`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for folder in ("/usr/local/bin", "/usr/bin", os.path.dirname(shutil.which("python3.11") or "/usr/bin/python3")):
        for name in os.listdir(folder):
            target = bin_dir / name
            if not name.startswith(leave_out) and not target.exists():
                target.symlink_to(os.path.join(folder, name))
    return str(bin_dir)


def setup_jvm(cache, path=None):
    """bootstrap/local.sh's lakeml_setup_jvm with the ready venv and another cache; prints the jar's path."""
    script = f'source "{SETUP}" && LAKEML_CACHE="{cache}" && mkdir -p "{cache}" && lakeml_setup_jvm'
    script += ' && echo "$LAKEML_JVM_JAR"'
    env = {**os.environ, **({"PATH": path} if path else {})}
    return run(["bash", "-c", script], env=env, timeout=120)


def test_jvm_jar_is_compiled_once_reproducibly_and_needs_a_jdk(tmp_path):
    first = setup_jvm(tmp_path / "a")
    assert first.returncode == 0, first.stderr
    jar = first.stdout.strip()
    assert "compiling lakeml's JVM classes" in first.stderr and os.path.basename(jar) == "lakeml-jvm.jar"
    again = setup_jvm(tmp_path / "a")
    assert again.stdout.strip() == jar and "compiling" not in again.stderr  # cached
    other = setup_jvm(tmp_path / "b")
    assert open(other.stdout.strip(), "rb").read() == open(jar, "rb").read()  # same bytes from another build
    no_jdk = setup_jvm(tmp_path / "c", path_without_java(tmp_path, ("javac", "jar")))
    assert no_jdk.returncode != 0 and "openjdk-17-jdk-headless" in no_jdk.stderr
    assert not list((tmp_path / "c").glob("jvm-*"))  # nothing half-built is left to be trusted


@pytest.mark.slow
def test_doctor_through_spark_submit_reports_and_exits_0(tmp_path):
    lake = tmp_path / "lake"
    done = run([SUBMIT, "local", "doctor", "--lake", str(lake), "--run-id", "it1"])
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert summary["status"] == "succeeded" and summary["job"] == "doctor"
    checks = {"parser": True, "write": True, "merge": True, "read": True, "time_travel": True}
    assert summary["counts"]["checks"] == checks
    assert "lakeml's access-line parser in Spark's generated code: ok" in done.stdout
    assert (
        "spark    3.5.6" in done.stdout
        and "delta    3.3.2" in done.stdout
        and "delta-spark_2.12-3.3.2.jar" in done.stdout
    )
    stored = lake / "_runs" / "doctor" / summary["run_date"] / "it1.json"
    assert json.loads(stored.read_text()) == summary
    assert not (lake / "_doctor" / "it1").exists()  # scratch table cleaned up


def test_usage_and_unknown_job_exit_2():
    assert run([SUBMIT, "--help"]).returncode == 2
    done = run([SUBMIT, "local", "no_such_job"])
    assert done.returncode == 2 and "unknown job 'no_such_job'" in done.stderr
    done = run([SUBMIT, "emr", "doctor"])
    assert done.returncode == 2 and "--cluster-id" in done.stderr and "--create" in done.stderr


def test_job_help_exits_0_and_bad_flags_exit_2_before_any_jvm():
    done = run([SUBMIT, "local", "doctor", "--help"])
    assert done.returncode == 0 and "--lake" in done.stdout
    started = time.monotonic()
    done = run([SUBMIT, "local", "doctor", "--run-date", "yesterday"])
    assert done.returncode == 2 and "--run-date" in done.stderr
    assert "SparkContext" not in done.stderr and time.monotonic() - started < 60


def test_missing_java_stops_setup_with_a_clear_message(tmp_path):
    env = {**os.environ, "PATH": path_without_java(tmp_path), "LAKEML_CACHE": str(tmp_path / "cache")}
    done = run(["bash", SETUP], env=env, timeout=60)
    assert done.returncode != 0
    assert "no 'java' on PATH" in done.stderr and "Java 17" in done.stderr


def test_wrong_java_version_is_named(tmp_path):
    fake = tmp_path / "fakebin"
    fake.mkdir()
    (fake / "java").write_text("#!/bin/sh\necho 'openjdk version \"11.0.22\" 2024-01-16' >&2\n")
    (fake / "java").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}", "LAKEML_CACHE": str(tmp_path / "cache")}
    done = run(["bash", SETUP], env=env, timeout=60)
    assert done.returncode != 0 and "found Java '11.0.22'" in done.stderr


def closed_port_mirror():
    return f"http://127.0.0.1:{free_port()}/maven2"


def test_unreachable_maven_stops_setup_within_seconds(tmp_path):
    env = {**os.environ, "LAKEML_CACHE": str(tmp_path / "cache"), "LAKEML_MAVEN_MIRROR": closed_port_mirror()}
    started = time.monotonic()
    done = run(["bash", SETUP], env=env, timeout=120)
    elapsed = time.monotonic() - started
    assert done.returncode != 0
    assert "Maven could not fetch the jars" in done.stderr and "LAKEML_MAVEN_MIRROR" in done.stderr
    assert elapsed < 60, f"took {elapsed:.0f}s"  # a refusal, not a hang
    assert not list((tmp_path / "cache").glob("venv-*"))  # stopped before the slow venv build


def test_corrupt_cached_jar_is_detected_and_refetched(tmp_path):
    ready = os.environ["LAKEML_JARS_DIR"]
    cache = tmp_path / "cache"
    copy = cache / os.path.basename(ready)
    shutil.copytree(ready, copy, symlinks=True, ignore=shutil.ignore_patterns("aws-java-sdk-bundle*"))
    (copy / "delta-storage-3.3.2.jar").write_bytes(b"not a jar")
    env = {**os.environ, "LAKEML_CACHE": str(cache), "LAKEML_MAVEN_MIRROR": closed_port_mirror()}
    done = run(["bash", SETUP], env=env, timeout=120)
    assert "missing or corrupt" in done.stderr  # detected, and a fresh fetch was attempted
    assert done.returncode != 0 and "Maven could not fetch" in done.stderr
    assert not copy.exists()  # the bad cache entry is gone, never trusted again

"""Running jobs from tests: in-process on the shared session, or as a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import List, Optional, Tuple

from core.cli import execute, parse_job_args
from jobs.main import load_job
from tests.conftest import ROOT


def run_in_process(spark, job: str, argv: List[str]) -> Tuple[int, dict]:
    """Run a job on the test session as `python -m jobs` would; returns (exit code, summary dict)."""
    module = load_job(job)
    args = parse_job_args(job, module, argv)
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = execute(module, args, spark)
    return code, json.loads(out.getvalue().strip().splitlines()[-1])


def job_env(extra: Optional[dict] = None) -> dict:
    """The environment of a job subprocess: this run's venv, jars and local S3 endpoint."""
    env = {**os.environ, "PYTHONPATH": ROOT, "LAKEML_TARGET": "local", "SPARK_LOCAL_IP": "127.0.0.1"}
    env.update(extra or {})
    return env


def job_command(job: str, argv: List[str]) -> List[str]:
    """`python -m jobs JOB ...` with the test venv's interpreter (the same code spark-submit runs)."""
    return [sys.executable, "-m", "jobs", job, *argv, "--master", "local[2]"]


def kill_when(job: str, argv: List[str], marker: str, env: Optional[dict] = None, timeout: int = 300) -> str:
    """Start a job, SIGKILL its whole process group (driver JVM included) once `marker` appears in
    its stderr log, and return the stderr seen so far. Fails if the job ends before the marker."""
    proc = subprocess.Popen(
        job_command(job, argv),
        cwd=ROOT,
        env=job_env(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    seen = []
    deadline = time.monotonic() + timeout
    try:
        for line in proc.stderr:
            seen.append(line)
            if marker in line:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
                return "".join(seen)
            if time.monotonic() > deadline:
                break
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    raise AssertionError(f"{job} ended before {marker!r}:\n" + "".join(seen)[-3000:])

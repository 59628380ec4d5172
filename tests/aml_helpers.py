"""Shared by the aml API tests: the walkthrough-shaped BINARY data, `aml serve` as a process, a boto3 client."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys

import boto3

from tests.conftest import ROOT
from tests.helpers import job_env
from tests.model_factory import rows_for

NAMES = ["Var001", "Var002", "Var003", "Var004", "Var005"]
TYPES = ["CATEGORICAL", "TEXT", "NUMERIC", "CATEGORICAL", "BINARY"]
RECIPE = {"outputs": ["ngram(lowercase(Var002), 2)", "quantile_bin(Var003, 5)", "Var003", "Var004"]}
WAIT = {"Delay": 1, "MaxAttempts": 400}
TRAIN_RANGE = {"splitting": {"percentBegin": 0, "percentEnd": 70}}
EVAL_RANGE = {"splitting": {"percentBegin": 70, "percentEnd": 100}}


def schema(target: bool) -> dict:
    attributes = [{"attributeName": n, "attributeType": t} for n, t in zip(NAMES, TYPES)]
    return {
        "version": "1.0",
        "rowId": "Var001",
        "targetAttributeName": "Var005" if target else None,
        "dataFormat": "CSV",
        "dataFileContainsHeader": False,
        "attributes": attributes if target else attributes[:-1],
    }


def write_data(folder) -> dict:
    """train.csv (300 labelled rows) and predict.csv (its last 30 %, no target), each with its schema."""
    rows = rows_for("BINARY", 300)
    paths = {"train": os.path.join(folder, "train.csv"), "predict": os.path.join(folder, "predict.csv")}
    with open(paths["train"], "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    with open(paths["predict"], "w", newline="") as handle:
        csv.writer(handle).writerows(r[:-1] for r in rows[210:])
    with open(paths["train"] + ".schema", "w") as handle:
        json.dump(schema(True), handle)
    with open(paths["predict"] + ".schema", "w") as handle:
        json.dump(schema(False), handle)
    return paths


class Server:
    """`python -m jobs aml serve` as its own process (session), on a fixed port so it can be restarted."""

    def __init__(self, lake: str, port: int, *flags: str, env=None):
        self.lake, self.port, self.flags, self.env, self.proc = lake, port, flags, env or {}, None
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> Server:
        argv = [sys.executable, "-m", "jobs", "aml", "serve", "--lake", self.lake, "--port", str(self.port)]
        env = job_env({"LAKEML_DRIVER_MEMORY": "1g", **self.env})
        self.proc = subprocess.Popen(
            [*argv, *self.flags], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, start_new_session=True
        )
        line = self.proc.stdout.readline()
        assert "serving Amazon ML's API" in line, line
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)


def client(url: str, **extra):
    return boto3.client(
        "machinelearning",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=extra.pop("key", "testing"),
        aws_secret_access_key=extra.pop("secret", "testing"),
        **extra,
    )


AWSCLI_VERSION = "1.46.3"


def aws_cli() -> str:
    """`aws` of AWS CLI v1 from PyPI, installed once into its own cached venv; skip when PyPI is out of reach."""
    import fcntl

    import pytest

    from tests.datasets import CACHE, UNREACHABLE

    root = os.path.join(os.path.dirname(CACHE), f"awscli-{AWSCLI_VERSION}")
    ready = os.path.join(root, ".ready")
    if not os.path.exists(ready):
        os.makedirs(os.path.dirname(root), exist_ok=True)
        with open(root + ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not os.path.exists(ready):
                subprocess.run([sys.executable, "-m", "venv", "--clear", root], check=True, timeout=300)
                pip = [os.path.join(root, "bin", "pip"), "install", "--quiet", f"awscli=={AWSCLI_VERSION}"]
                done = subprocess.run(pip, capture_output=True, text=True, timeout=600)
                if done.returncode != 0:
                    if any(word in done.stderr for word in UNREACHABLE):
                        pytest.skip(f"PyPI unreachable, cannot install awscli: {done.stderr.strip()[-300:]}")
                    raise RuntimeError(f"pip install awscli failed:\n{done.stderr[-2000:]}")
                open(ready, "w").close()
    return os.path.join(root, "bin", "aws")

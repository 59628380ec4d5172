"""aml without the long walk: a restart settling dead work from run summaries, SigV4, the no-server form with the
CLI's request files (through `python -m jobs` and `spark-submit.sh`), entity documents on an S3 lake."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from botocore.config import Config

from tests.aml_helpers import EVAL_RANGE, Server, aws_cli, client, schema, write_data
from tests.conftest import ROOT, free_port
from tests.helpers import job_env


def settled_after_restart(tmp_path, summary) -> dict:
    """An evaluation left INPROGRESS by a worker that is gone, with this run summary (None: none), reconciled."""
    from jobs.aml.entities import Store
    from jobs.aml.runner import reconcile

    store = Store(str(tmp_path / "lake"))
    run = {"job": "evaluate", "run_id": "ev9-abc123", "run_date": "2026-12-01"}
    store.put("MLModel", {"MLModelId": "m9", "MLModelType": "BINARY", "Status": "COMPLETED"})
    dead = {"pid": 999999999, "start": "1"}
    doc = {"EvaluationId": "ev9", "MLModelId": "m9", "Status": "INPROGRESS", "_run": run, "_worker": dead, "_job": dead}
    store.put("Evaluation", doc)
    if summary is not None:
        folder = tmp_path / "lake" / "_runs" / "evaluate" / "2026-12-01"
        folder.mkdir(parents=True)
        (folder / "ev9-abc123.json").write_text(json.dumps(summary))
    assert reconcile(store) == ["Evaluation ev9: settled"]
    return store.get("Evaluation", "ev9")


def test_a_restart_settles_work_whose_worker_is_gone_from_its_run_summary(tmp_path):
    done = settled_after_restart(tmp_path / "a", {"status": "succeeded", "counts": {"metrics": {"auc": 0.75}}})
    assert done["Status"] == "COMPLETED" and done["PerformanceMetrics"] == {"Properties": {"BinaryAUC": "0.75"}}
    failed = settled_after_restart(tmp_path / "b", {"status": "failed", "job": "evaluate", "message": "no rows"})
    assert (failed["Status"], failed["Message"]) == ("FAILED", "evaluate failed: no rows")
    missing = settled_after_restart(tmp_path / "c", None)
    assert missing["Status"] == "FAILED" and "without writing its run summary" in missing["Message"]


def test_sigv4_is_verified_with_botocores_signer(tmp_path):
    creds = {"LAKEML_AML_ACCESS_KEY_ID": "AKIDLAKEML", "LAKEML_AML_SECRET_ACCESS_KEY": "s3cret"}
    server = Server(str(tmp_path / "lake"), free_port(), "--require-signature", env=creds).start()
    try:
        assert client(server.url, key="AKIDLAKEML", secret="s3cret").describe_ml_models()["Results"] == []
        wrong = client(server.url, key="AKIDLAKEML", secret="other", config=Config(retries={"max_attempts": 0}))
        with pytest.raises(wrong.exceptions.ClientError, match="InvalidSignatureException"):
            wrong.describe_ml_models()
    finally:
        server.kill()
    refused = subprocess.run(
        [sys.executable, "-m", "jobs", "aml", "serve", "--lake", str(tmp_path / "lake"), "--host", "0.0.0.0"],
        cwd=ROOT,
        env={k: v for k, v in job_env().items() if not k.startswith("LAKEML_AML_")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "requires SigV4" in refused.stderr


def cli(lake, command: str, request=None, tmp_path=None, entry=(sys.executable, "-m", "jobs"), flags=()):
    argv = [*entry, "aml", command, "--lake", lake, *flags]
    if request is not None:
        path = tmp_path / f"{command}.json"
        path.write_text(json.dumps(request))
        argv += ["--cli-input-json", f"file://{path}"]
    return subprocess.run(argv, cwd=ROOT, env=job_env(), capture_output=True, text=True, timeout=300)


def test_the_no_server_form_takes_the_clis_request_files(tmp_path):
    paths = write_data(str(tmp_path))
    lake = str(tmp_path / "lake")
    request = {"DataSourceId": "ds1", "DataSpec": {"DataLocationS3": paths["predict"]}, "ComputeStatistics": False}
    created = cli(lake, "create-data-source-from-s3", request, tmp_path)
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout) == {"DataSourceId": "ds1"}
    got = cli(lake, "get-data-source", {"DataSourceId": "ds1", "Verbose": True}, tmp_path)
    assert json.loads(got.stdout)["Status"] == "COMPLETED"
    assert json.loads(json.loads(got.stdout)["DataSourceSchema"]) == schema(False)
    again = cli(lake, "create-data-source-from-s3", request, tmp_path)
    assert again.returncode == 0 and json.loads(again.stdout) == {"DataSourceId": "ds1"}
    other = {**request, "DataSpec": {"DataLocationS3": paths["train"], "DataSchema": json.dumps(schema(True))}}
    clash = cli(lake, "create-data-source-from-s3", other, tmp_path)
    assert clash.returncode == 2 and "(IdempotentParameterMismatchException)" in clash.stderr
    assert not (tmp_path / "lake" / "aml" / "schemas").exists()  # refused before writing anything
    missing = cli(lake, "get-ml-model", {"MLModelId": "nope"}, tmp_path)
    assert missing.returncode == 2 and "(ResourceNotFoundException)" in missing.stderr
    emr = cli(lake, "describe-data-sources", {}, tmp_path, flags=("--target", "emr"))
    assert emr.returncode == 2 and "needs an s3:// --lake" in emr.stderr
    bad = cli(lake, "create-ml-model", {"MLModelId": "m"}, tmp_path)
    assert bad.returncode == 2 and "(InvalidInputException)" in bad.stderr and "MLModelType" in bad.stderr


@pytest.mark.slow
def test_spark_submit_runs_aml_without_a_spark_session(tmp_path):
    done = cli(
        str(tmp_path / "lake"),
        "describe-data-sources",
        {},
        tmp_path,
        entry=(os.path.join(ROOT, "spark-submit.sh"), "local"),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout[done.stdout.index("{\n") :]) == {"Results": []}  # after the JVM launcher's lines
    assert "SparkContext" not in done.stderr


def test_entity_documents_live_on_an_s3_lake(s3_bucket):
    from core import objects
    from jobs.aml.entities import Store

    store = Store(s3_bucket + "/lake")
    store.put("DataSource", {"DataSourceId": "ds1", "Status": "PENDING", "Name": "a"})
    store.set_status("DataSource", "ds1", "COMPLETED")
    assert [d["Status"] for d in store.all("DataSource")] == ["COMPLETED"]
    uri = store.uri("DataSource", "ds1")
    assert objects.list_files(store.path("datasources")) == [(uri, len(objects.read_bytes(uri)))]
    assert store.find("MLModel", "nope") is None


@pytest.mark.slow
def test_the_aws_cli_works_against_the_server(tmp_path):
    aws = aws_cli()
    paths = write_data(str(tmp_path))
    server = Server(str(tmp_path / "lake"), free_port()).start()
    env = {
        **job_env(),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    request = tmp_path / "ds.json"
    request.write_text(json.dumps({"DataSourceId": "ds1", "DataSpec": {"DataLocationS3": paths["predict"]}}))

    def run(*argv):
        done = subprocess.run(
            [aws, "machinelearning", *argv, "--endpoint-url", server.url, "--output", "json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return done

    try:
        created = run("create-data-source-from-s3", "--cli-input-json", f"file://{request}")
        assert created.returncode == 0, created.stderr
        assert json.loads(created.stdout) == {"DataSourceId": "ds1"}
        listed = run("describe-data-sources", "--filter-variable", "Status", "--eq", "COMPLETED")
        assert [d["DataSourceId"] for d in json.loads(listed.stdout)["Results"]] == ["ds1"]
        missing = run("get-ml-model", "--ml-model-id", "nope")
        assert missing.returncode != 0 and "ResourceNotFoundException" in missing.stderr
    finally:
        server.kill()


def test_an_s3_datasource_is_listed_and_its_evaluation_rows_cut_on_s3(s3_bucket, s3_client, tmp_path):
    from core import objects
    from jobs.aml import tasks
    from jobs.aml.entities import Store
    from jobs.aml.operations import Context, call

    paths = write_data(str(tmp_path))
    bucket = s3_bucket.split("//")[1]
    for name in ("train.csv", "train.csv.schema"):
        s3_client.upload_file(os.path.join(str(tmp_path), name), bucket, f"raw/{name}")
    store = Store(s3_bucket + "/lake")
    ctx = Context(store, "http://127.0.0.1:1", lambda *args: None)
    spec = {"DataLocationS3": f"{s3_bucket}/raw/train.csv", "DataRearrangement": json.dumps(EVAL_RANGE)}
    assert call(ctx, "CreateDataSourceFromS3", {"DataSourceId": "ds", "DataSpec": spec}) == {"DataSourceId": "ds"}
    ds = call(ctx, "GetDataSource", {"DataSourceId": "ds", "Verbose": True})
    assert (ds["Status"], ds["NumberOfFiles"]) == ("COMPLETED", 1) and json.loads(ds["DataSourceSchema"]) == schema(
        True
    )
    data, _ = tasks.input_of(store, "Evaluation", {"EvaluationId": "ev"}, store.get("DataSource", "ds"))
    assert data == f"{s3_bucket}/lake/aml/data/ev/rows.csv"
    with open(paths["train"]) as handle:
        # Spark's cut: the row of rank ceil(0.7 x 300) = 210, position 209, starts the evaluation side
        assert objects.read_bytes(data).decode().splitlines() == handle.read().splitlines()[209:]

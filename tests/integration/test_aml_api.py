"""Amazon ML's API on the lake (jobs/aml): boto3 code written for the service, run against `aml serve` on loopback.

One module fixture does the service's whole walk once (datasources, a model killed mid-training with its server
and worker and finished after a restart, an evaluation and a batch prediction, a real-time endpoint); the tests
read what it left. The data is the tests' small BINARY set with the walkthrough's column names (Var001...).
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config

from tests.conftest import ROOT, free_port
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


def entity(lake: str, folder: str, entity_id: str) -> dict:
    with open(os.path.join(lake, "aml", folder, f"{entity_id}.json")) as handle:
        return json.load(handle)


def wait_status(ml, model_id: str, status: str, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while ml.get_ml_model(MLModelId=model_id)["Status"] != status:
        assert time.monotonic() < deadline, f"{model_id} never reached {status}"
        time.sleep(0.5)


def create_datasources(ml, paths: dict) -> None:
    ml.create_data_source_from_s3(
        DataSourceId="ds-train",
        DataSourceName="adult-train",
        DataSpec={"DataLocationS3": paths["train"], "DataRearrangement": json.dumps(TRAIN_RANGE)},
        ComputeStatistics=False,
    )
    ml.create_data_source_from_s3(
        DataSourceId="ds-eval",
        DataSourceName="adult-eval",
        DataSpec={"DataLocationS3": paths["train"], "DataRearrangement": json.dumps(EVAL_RANGE)},
    )
    ml.create_data_source_from_s3(
        DataSourceId="ds-predict",
        DataSourceName="adult-predict",
        DataSpec={"DataLocationS3": paths["predict"], "DataSchema": json.dumps(schema(False))},
    )
    # a datasource whose files are missing fails at once: the failed entities make every Describe page twice
    ml.create_data_source_from_s3(DataSourceId="ds-missing", DataSpec={"DataLocationS3": paths["train"] + ".gone"})
    ml.get_waiter("data_source_available").wait(FilterVariable="Name", Prefix="adult-", WaiterConfig=WAIT)


def train_through_a_kill(ml, server: Server, lake: str) -> None:
    """CreateMLModel; kill the server and the model's worker while train runs; restart; wait."""
    ml.create_ml_model(
        MLModelId="m1",
        MLModelName="adult-model",
        MLModelType="BINARY",
        TrainingDataSourceId="ds-train",
        Recipe=json.dumps(RECIPE),
        Parameters={"sgd.maxPasses": "10", "sgd.l2RegularizationAmount": "1e-4"},
    )
    wait_status(ml, "m1", "INPROGRESS")
    server.kill()
    os.kill(entity(lake, "mlmodels", "m1")["_worker"]["pid"], signal.SIGKILL)
    server.start()
    ml.get_waiter("ml_model_available").wait(FilterVariable="Name", EQ="adult-model", WaiterConfig=WAIT)


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    """The service's walk, done once: what every test below reads."""
    folder = tmp_path_factory.mktemp("aml")
    lake = str(folder / "lake")
    paths = write_data(str(folder))
    server = Server(lake, free_port()).start()
    ml = client(server.url)
    try:
        create_datasources(ml, paths)
        train_through_a_kill(ml, server, lake)
        out = str(folder / "out")
        ml.create_evaluation(
            EvaluationId="ev1", EvaluationName="adult-eval", MLModelId="m1", EvaluationDataSourceId="ds-eval"
        )
        ml.create_batch_prediction(
            BatchPredictionId="bp1",
            BatchPredictionName="adult-bp",
            MLModelId="m1",
            BatchPredictionDataSourceId="ds-predict",
            OutputUri=out,
        )
        ml.create_ml_model(MLModelId="m-bad", MLModelType="BINARY", TrainingDataSourceId="ds-missing")
        ml.create_evaluation(EvaluationId="ev-bad", MLModelId="m-bad", EvaluationDataSourceId="ds-eval")
        ml.create_batch_prediction(
            BatchPredictionId="bp-bad", MLModelId="m-bad", BatchPredictionDataSourceId="ds-predict", OutputUri=out
        )
        ml.get_waiter("evaluation_available").wait(FilterVariable="Name", EQ="adult-eval", WaiterConfig=WAIT)
        ml.get_waiter("batch_prediction_available").wait(FilterVariable="Name", EQ="adult-bp", WaiterConfig=WAIT)
        yield {"ml": ml, "lake": lake, "out": out, "paths": paths, "server": server}
    finally:
        server.kill()


@pytest.mark.slow
def test_a_model_killed_with_its_server_mid_training_completes_after_a_restart(walk):
    model = walk["ml"].get_ml_model(MLModelId="m1")
    assert model["Status"] == "COMPLETED", model.get("Message")
    assert model["MLModelType"] == "BINARY" and model["SizeInBytes"] > 0
    assert model["TrainingParameters"] == {"sgd.maxPasses": "10", "sgd.l2RegularizationAmount": "1e-4"}


@pytest.mark.slow
def test_the_evaluation_auc_is_the_train_jobs_metric_on_the_same_split(walk):
    evaluation = walk["ml"].get_evaluation(EvaluationId="ev1")
    assert evaluation["Status"] == "COMPLETED", evaluation.get("Message")
    with open(os.path.join(walk["lake"], "models", "m1", "v1", "metrics.json")) as handle:
        trained = json.load(handle)
    assert float(evaluation["PerformanceMetrics"]["Properties"]["BinaryAUC"]) == trained["auc"]


def batch_results(walk) -> dict:
    with open(os.path.join(walk["out"], "batch-prediction", "bp1.manifest")) as handle:
        manifest = json.load(handle)
    assert list(manifest) == ["file://" + walk["paths"]["predict"]]
    with gzip.open(manifest["file://" + walk["paths"]["predict"]].replace("file://", ""), "rt") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["tag", "bestAnswer", "score"]
    return {tag: (best, float(score)) for tag, best, score in rows[1:]}


@pytest.mark.slow
def test_the_batch_prediction_manifest_and_csv_are_where_output_uri_says(walk):
    prediction = walk["ml"].get_batch_prediction(BatchPredictionId="bp1")
    assert prediction["Status"] == "COMPLETED", prediction.get("Message")
    assert prediction["OutputUri"] == "file://" + walk["out"]
    assert prediction["TotalRecordCount"] == 90 and prediction["InvalidRecordCount"] == 0
    assert len(batch_results(walk)) == 90


@pytest.mark.slow
def test_the_walkthroughs_predict_code_equals_the_batch_prediction(walk):
    ml = walk["ml"]
    ml.create_realtime_endpoint(MLModelId="m1")
    # the walkthrough's code, unchanged but for endpoint_url
    model = ml.get_ml_model(MLModelId="m1")
    endpoint = model["EndpointInfo"]["EndpointUrl"]
    expected = batch_results(walk)
    with open(walk["paths"]["predict"]) as handle:
        for line in handle:
            values = line.split(",")
            record = {"Var%03d" % (i + 1): value for i, value in enumerate(values)}  # noqa: UP031 (as written)
            assert record["Var004"].endswith("\n")
            response = ml.predict(MLModelId="m1", Record=record, PredictEndpoint=endpoint)
            label, scores = response["Prediction"]["predictedLabel"], response["Prediction"]["predictedScores"]
            best, score = expected[record["Var001"]]
            assert (label, list(scores)) == (best, [best])
            assert scores[label] == pytest.approx(score, rel=1e-12, abs=1e-15)
            assert response["Prediction"]["details"] == {"PredictiveModelType": "BINARY", "Algorithm": "SGD"}


@pytest.mark.slow
def test_the_four_paginators_page_one_entity_at_a_time(walk):
    ml = walk["ml"]
    for operation, key, at_least in [
        ("describe_data_sources", "DataSourceId", 4),
        ("describe_ml_models", "MLModelId", 2),
        ("describe_evaluations", "EvaluationId", 2),
        ("describe_batch_predictions", "BatchPredictionId", 2),
    ]:
        pages = list(ml.get_paginator(operation).paginate(PaginationConfig={"PageSize": 1}))
        assert len(pages) >= at_least and all(len(p["Results"]) == 1 for p in pages)
        ids = [p["Results"][0][key] for p in pages]
        assert len(set(ids)) == len(ids)
    failed = ml.describe_ml_models(FilterVariable="Status", EQ="FAILED")["Results"]
    assert [m["MLModelId"] for m in failed] == ["m-bad"] and "ds-missing" in failed[0]["Message"]
    newest = ml.describe_data_sources(FilterVariable="CreatedAt", SortOrder="dsc", Limit=1)["Results"]
    assert newest[0]["DataSourceId"] == "ds-missing"


@pytest.mark.slow
def test_errors_are_the_services_exception_classes(walk):
    ml = walk["ml"]
    with pytest.raises(ml.exceptions.ResourceNotFoundException):
        ml.get_ml_model(MLModelId="no-such-model")
    unchecked = client(walk["server"].url, config=Config(parameter_validation=False))
    with pytest.raises(unchecked.exceptions.InvalidInputException, match="MLModelType"):
        unchecked.create_ml_model(MLModelId="m2", TrainingDataSourceId="ds-train")
    with pytest.raises(ml.exceptions.InvalidInputException, match="S3"):
        ml.create_data_source_from_redshift(
            DataSourceId="rs",
            DataSpec={
                "DatabaseInformation": {"DatabaseName": "d", "ClusterIdentifier": "c"},
                "SelectSqlQuery": "select 1",
                "DatabaseCredentials": {"Username": "u", "Password": "p"},
                "S3StagingLocation": "s3://b/x",
            },
            RoleARN="arn:aws:iam::1:role/r",
        )
    with pytest.raises(ml.exceptions.InvalidInputException, match="Var003"):
        ml.create_realtime_endpoint(MLModelId="m1")
        ml.predict(MLModelId="m1", Record={"Var002": "good", "Var003": "abc"}, PredictEndpoint=walk["server"].url)
    with pytest.raises(ml.exceptions.PredictorNotMountedException):
        ml.delete_realtime_endpoint(MLModelId="m1")
        ml.predict(MLModelId="m1", Record={"Var002": "good"}, PredictEndpoint=walk["server"].url)
    with pytest.raises(ml.exceptions.IdempotentParameterMismatchException):
        ml.create_evaluation(EvaluationId="ev1", MLModelId="m1", EvaluationDataSourceId="ds-predict")
    with pytest.raises(ml.exceptions.InvalidInputException, match="Recipe"):
        ml.create_ml_model(
            MLModelId="m3", MLModelType="BINARY", TrainingDataSourceId="ds-train", Recipe='{"outputs": ["nope"]}'
        )


@pytest.mark.slow
def test_updates_tags_and_deletes(walk):
    ml = walk["ml"]
    ml.update_ml_model(MLModelId="m1", MLModelName="adult-model", ScoreThreshold=0.75)
    assert ml.get_ml_model(MLModelId="m1")["ScoreThreshold"] == 0.75
    ml.update_data_source(DataSourceId="ds-missing", DataSourceName="gone")
    ml.update_evaluation(EvaluationId="ev-bad", EvaluationName="bad")
    ml.update_batch_prediction(BatchPredictionId="bp-bad", BatchPredictionName="bad")
    ml.add_tags(ResourceId="m1", ResourceType="MLModel", Tags=[{"Key": "team", "Value": "ml"}, {"Key": "x"}])
    ml.delete_tags(ResourceId="m1", ResourceType="MLModel", TagKeys=["x"])
    assert ml.describe_tags(ResourceId="m1", ResourceType="MLModel")["Tags"] == [{"Key": "team", "Value": "ml"}]
    for op, key, value in [
        ("delete_batch_prediction", "BatchPredictionId", "bp-bad"),
        ("delete_evaluation", "EvaluationId", "ev-bad"),
        ("delete_ml_model", "MLModelId", "m-bad"),
        ("delete_data_source", "DataSourceId", "ds-missing"),
    ]:
        getattr(ml, op)(**{key: value})
    assert ml.get_ml_model(MLModelId="m-bad")["Status"] == "DELETED"
    assert "m-bad" not in [m["MLModelId"] for m in ml.describe_ml_models()["Results"]]
    assert ml.describe_ml_models(FilterVariable="Status", EQ="DELETED")["Results"][0]["MLModelId"] == "m-bad"
    verbose = ml.get_ml_model(MLModelId="m1", Verbose=True)
    assert json.loads(verbose["Recipe"]) == RECIPE and json.loads(verbose["Schema"])["rowId"] == "Var001"
    assert json.loads(ml.get_data_source(DataSourceId="ds-predict", Verbose=True)["DataSourceSchema"]) == schema(False)


@pytest.mark.slow
def test_a_body_over_the_limit_is_refused_unread(walk):
    request = urllib.request.Request(
        walk["server"].url + "/",
        data=b"{" + b" " * (1024 * 1024 + 10) + b"}",
        headers={"X-Amz-Target": "AmazonML_20141212.DescribeMLModels", "Content-Type": "application/x-amz-json-1.1"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 413


# --- without the walk: restart reconcile, signatures, the no-server form --------------------------------------


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


def cli(lake, command: str, request=None, tmp_path=None, entry=(sys.executable, "-m", "jobs")):
    argv = [*entry, "aml", command, "--lake", lake]
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
    missing = cli(lake, "get-ml-model", {"MLModelId": "nope"}, tmp_path)
    assert missing.returncode == 2 and "(ResourceNotFoundException)" in missing.stderr
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

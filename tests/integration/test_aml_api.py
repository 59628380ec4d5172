"""Amazon ML's API on the lake (jobs/aml): boto3 code written for the service, run against `aml serve` on loopback.

One module fixture does the service's whole walk once (datasources, a model killed mid-training with its server
and worker and finished after a restart, an evaluation and a batch prediction, a real-time endpoint); the tests
read what it left. The data is the tests' small BINARY set with the walkthrough's column names (Var001...).
"""

from __future__ import annotations

import csv
import gzip
import http.client
import json
import os
import signal
import time
import urllib.parse

import pytest
from botocore.config import Config

from tests.aml_helpers import EVAL_RANGE, RECIPE, TRAIN_RANGE, WAIT, Server, client, schema, write_data
from tests.conftest import free_port


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
    killed = entity(lake, "mlmodels", "m1")["_worker"]["pid"]
    os.kill(killed, signal.SIGKILL)
    server.start()
    assert entity(lake, "mlmodels", "m1")["_worker"]["pid"] != killed  # the restart adopted the running train job
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
                "DatabaseCredentials": {"Username": "user", "Password": "password1"},
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
    """Only the headers are sent: the server answers 413 without waiting for the body."""
    host, port = urllib.parse.urlsplit(walk["server"].url).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.putrequest("POST", "/")
    for name, value in {
        "X-Amz-Target": "AmazonML_20141212.DescribeMLModels",
        "Content-Type": "application/x-amz-json-1.1",
        "Content-Length": str(1024 * 1024 + 10),
    }.items():
        connection.putheader(name, value)
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413
    assert "request body over" in json.loads(response.read())["message"]
    connection.close()

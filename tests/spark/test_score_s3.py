"""score against an S3 lake on the local S3 server: model, input, table, CSV layout and report all on s3://."""

import json

from core.lake import Lake, join, read_text, spark_uri
from ml import registry
from tests.helpers import run_in_process
from tests.model_factory import fit_model, prediction_schema, write_prediction_csv


def test_score_on_an_s3_lake(spark, s3_bucket, s3_client, tmp_path):
    lake = Lake.at(join(s3_bucket, "lake"))
    model, meta = fit_model(spark, "BINARY", n=80)
    registry.set_champion(spark, lake, "adult", registry.publish_version(spark, lake, "adult", model, meta), reason="t")
    local = write_prediction_csv(tmp_path, "BINARY", 30)
    bucket = s3_bucket[len("s3://") :]
    s3_client.upload_file(local, bucket, "raw/predict.csv")
    s3_client.put_object(Bucket=bucket, Key="raw/predict.csv.schema", Body=json.dumps(prediction_schema("BINARY")))
    argv = [
        "--name",
        "adult",
        "--lake",
        lake.root,
        "--data",
        f"{s3_bucket}/raw/predict.csv",
        "--run-date",
        "2026-11-20",
    ]
    code, summary = run_in_process(spark, "score", [*argv, "--csv", f"{s3_bucket}/out"])
    assert code == 0, summary["message"]
    table = spark.read.format("delta").load(spark_uri(lake.scores("adult")))
    assert table.count() == 30 and summary["rows_out"] == 30
    manifest = json.loads(read_text(spark, f"{s3_bucket}/out/batch-prediction/{summary['run_id']}.manifest"))
    assert list(manifest) == [f"{s3_bucket}/raw/predict.csv"]
    assert read_text(spark, lake.reports("score", "2026-11-20") + "/adult/index.html").startswith("<!DOCTYPE html>")

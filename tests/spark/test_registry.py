"""ml.registry on a real lake: PipelineModel versions saved and loaded, completeness, champion, S3."""

import json
from dataclasses import replace

import pytest
from pyspark.ml import PipelineModel

from core.errors import UsageError
from core.lake import Lake, exists, join, read_text, spark_uri
from ml import registry
from tests.model_factory import tiny_model


@pytest.fixture(scope="module")
def binary(spark):
    return tiny_model(spark)


def _same_scores(spark, a, b, meta):
    df = spark.createDataFrame([(1.0, 2.0), (7.0, 0.0)], ["x", "z"])
    left = [r["probability"][1] for r in a.transform(df).select("probability").collect()]
    right = [r["probability"][1] for r in b.transform(df).select("probability").collect()]
    assert left == right


def test_publish_list_load_and_champion(spark, lake, binary):
    model, meta = binary
    assert registry.publish_version(spark, lake, "m", model, meta) == "v1"
    assert registry.upcoming_version(spark, lake, "m") == "v2"
    files = {"report/index.html": b"<p>v2</p>"}
    assert registry.publish_version(spark, lake, "m", model, replace(meta, metrics={"auc": 0.9}), files) == "v2"
    assert read_text(spark, registry.model_uri(lake, "m", "v2", "report", "index.html")) == "<p>v2</p>"
    versions = registry.list_versions(spark, lake, "m")
    assert [v.version for v in versions] == ["v1", "v2"]
    assert versions[1].metrics == {"auc": 0.9} and versions[1].name == "m" and versions[1].schema == meta.schema
    assert json.loads(read_text(spark, registry.model_uri(lake, "m", "v2", "metrics.json"))) == {"auc": 0.9}
    # plain PipelineModel.load reads the saved folder
    plain = PipelineModel.load(spark_uri(registry.model_uri(lake, "m", "v1", "model")))
    _same_scores(spark, model, plain, meta)
    with pytest.raises(UsageError, match="no champion"):
        registry.load_version(spark, lake, "m")
    record = registry.set_champion(spark, lake, "m", "v2", reason="test")
    assert record["metric"] == "auc" and record["value"] == 0.9
    loaded, loaded_meta = registry.load_version(spark, lake, "m")
    assert loaded_meta.version == "v2"
    _same_scores(spark, model, loaded, meta)


def test_missing_name_or_version_is_a_usage_error_listing_what_exists(spark, lake, binary):
    model, meta = binary
    registry.publish_version(spark, lake, "adult", model, meta)
    registry.set_champion(spark, lake, "adult", "v1", reason="first")
    with pytest.raises(UsageError, match=r"v7 does not exist.*versions v1 \(champion v1\)"):
        registry.load_version(spark, lake, "adult", "v7")
    with pytest.raises(UsageError, match=r"no model of that name.*models there: adult"):
        registry.load_version(spark, lake, "adlt")
    with pytest.raises(UsageError):
        registry.set_champion(spark, lake, "adult", "v3", reason="x")


def test_killed_publish_stays_invisible_and_the_rerun_makes_one_version(spark, lake, binary):
    model, meta = binary
    registry.publish_version(spark, lake, "k", model, meta)
    registry.set_champion(spark, lake, "k", "v1", reason="first")
    before = read_text(spark, registry.model_uri(lake, "k", "champion.json"))

    from pyspark.sql import functions as F

    # the process dies after the model is saved, before the marker: an artifact's write fails
    dies = spark.range(1).select(F.raise_error(F.lit("killed")).alias("x"))
    with pytest.raises(Exception):  # noqa: B017 (Spark wraps the raised error in its own exception classes)
        registry.publish_version(spark, lake, "k", model, meta, tables={"seen": dies})
    assert exists(spark, registry.model_uri(lake, "k", "v2", "model"))
    assert [v.version for v in registry.list_versions(spark, lake, "k")] == ["v1"]
    with pytest.raises(UsageError):
        registry.load_version(spark, lake, "k", "v2")
    assert read_text(spark, registry.model_uri(lake, "k", "champion.json")) == before
    assert registry.publish_version(spark, lake, "k", model, meta) == "v2"
    assert [v.version for v in registry.list_versions(spark, lake, "k")] == ["v1", "v2"]
    assert registry.champion(spark, lake, "k")["version"] == "v1"


def test_registry_on_s3(spark, s3_bucket, binary):
    model, meta = binary
    lake = Lake.at(join(s3_bucket, "lake"))
    assert registry.publish_version(spark, lake, "s", model, meta) == "v1"
    registry.set_champion(spark, lake, "s", "v1", reason="first")
    loaded, loaded_meta = registry.load_version(spark, lake, "s")
    assert loaded_meta.model_type == "BINARY" and loaded_meta.version == "v1"
    _same_scores(spark, model, loaded, meta)
    assert registry.model_names(spark, lake) == ["s"]

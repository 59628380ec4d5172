"""lakeml's stages save and load their metadata from the driver (features.stage_io): the layout Spark's own
DefaultParamsWriter leaves, read by Spark's own reader and the other way round, locally and on s3a, and no
Spark job per stage."""

from __future__ import annotations

import json
import os
import uuid

from pyspark.ml import PipelineModel
from pyspark.ml.util import DefaultParamsReader, DefaultParamsWriter

from core.lake import spark_uri
from features.numeric import QuantileBinModel
from features.stages import DropColumns, LabelModel


def stage() -> QuantileBinModel:
    return QuantileBinModel(inputCol="x", outputCol="x_bin", edges=[1.0, 2.5, 7.0])


def comparable(metadata: dict) -> dict:
    return {k: v for k, v in metadata.items() if k != "timestamp"}


def jobs_started(spark, action) -> int:
    """How many Spark jobs an action started."""
    sc, group = spark.sparkContext, f"stage-io-{uuid.uuid4().hex}"
    sc.setJobGroup(group, "counted")
    try:
        action()
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    return len(sc.statusTracker().getJobIdsForGroup(group))


def test_a_stage_is_saved_as_sparks_writer_saves_it_and_sparks_reader_reads_it(spark, tmp_path):
    path, original = str(tmp_path / "stage"), stage()
    original.write().save(path)
    assert sorted(n for n in os.listdir(os.path.join(path, "metadata")) if not n.startswith(".")) == [
        "_SUCCESS",
        "part-00000",
    ]
    read_by_spark = DefaultParamsReader.loadMetadata(path, spark.sparkContext)  # textFile(...).first()
    written_by_spark = DefaultParamsWriter._get_metadata_to_save(original, spark.sparkContext)
    assert comparable(read_by_spark) == comparable(json.loads(written_by_spark))


def test_a_stage_saved_by_sparks_writer_loads(spark, tmp_path):
    path = str(tmp_path / "stage")
    original = stage()
    DefaultParamsWriter(original).save(path)
    loaded = QuantileBinModel.load(path)
    assert loaded.uid == original.uid
    assert loaded.getEdges() == [1.0, 2.5, 7.0] and loaded.getOutputCol() == "x_bin"


def test_a_pipeline_of_lakeml_stages_saves_and_loads_on_s3_with_no_job_per_stage(spark, s3_bucket):
    """Saving: one job (the pipeline's own metadata) instead of one more per stage; loading: one per stage
    (pyspark's pipeline reader finds each stage's class with a job) instead of two."""
    model = PipelineModel(
        [
            LabelModel(inputCol="y", outputCol="label", targetType="CATEGORICAL", labels=["a", "b"]),
            stage(),
            DropColumns(cols=["x"]),
        ]
    )
    uri = spark_uri(f"{s3_bucket}/models/m")
    assert jobs_started(spark, lambda: model.write().overwrite().save(uri)) == 1
    loaded = []
    assert jobs_started(spark, lambda: loaded.append(PipelineModel.load(uri))) == 1 + len(model.stages)
    rows = spark.createDataFrame([("a", 0.5), ("b", 3.0), (None, 9.0)], "y string, x double")
    assert loaded[0].transform(rows).collect() == model.transform(rows).collect()

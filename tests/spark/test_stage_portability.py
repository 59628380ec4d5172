"""A saved recipe pipeline loads with plain `PipelineModel.load` in a fresh Spark session and gives the same output.

The fresh session is another process (its own JVM) with only `features` importable: what a cluster
that scores a saved model has. Also: the stages' Params pattern (getters, setters, setParams).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from pyspark.ml import PipelineModel

from features.recipe import compile_recipe, parse_recipe
from features.stages import DropColumns, LabelIndexer, LabelModel, RecipeColumns
from tests.conftest import ROOT
from tests.spark.test_recipe_pipeline import COLUMNS, N, census_rows
from tests.unit.test_recipe import DOC_RECIPE, SCHEMA

FRESH = textwrap.dedent(
    """
    import json, sys
    from pyspark.ml import PipelineModel
    from pyspark.sql import SparkSession

    model_path, rows_path, out_path = sys.argv[1:4]
    spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", "1").getOrCreate())
    model = PipelineModel.load(model_path)
    out = model.transform(spark.read.parquet(rows_path)).orderBy("id")
    rows = [[r["id"], r["features"].toArray().tolist(), r["label"]] for r in out.collect()]
    with open(out_path, "w") as handle:
        json.dump({"stages": [type(s).__module__ + "." + type(s).__name__ for s in model.stages], "rows": rows}, handle)
    spark.stop()
    """
)


def test_saved_pipeline_gives_identical_output_in_a_fresh_session(spark, tmp_path):
    train = spark.createDataFrame(census_rows(60), COLUMNS)
    model = compile_recipe(SCHEMA, parse_recipe(DOC_RECIPE), num_features=N).fit(train)
    model.write().overwrite().save(str(tmp_path / "model"))
    train.write.parquet(str(tmp_path / "rows"))
    out = model.transform(train).orderBy("id").collect()
    here = [[r["id"], r["features"].toArray().tolist(), r["label"]] for r in out]

    env = {k: v for k, v in os.environ.items() if k in ("JAVA_HOME", "HOME", "PATH")}
    env.update(PYTHONPATH=ROOT, SPARK_LOCAL_IP="127.0.0.1")
    args = [str(tmp_path / "model"), str(tmp_path / "rows"), str(tmp_path / "out.json")]
    done = subprocess.run([sys.executable, "-c", FRESH, *args], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(tmp_path / "out.json", encoding="utf-8") as handle:
        fresh = json.load(handle)
    assert fresh["rows"] == here
    assert "features.stages.RecipeColumns" in fresh["stages"] and "features.stages.LabelModel" in fresh["stages"]
    plans = [
        [s.getPlan() for s in m.stages if isinstance(s, RecipeColumns)]
        for m in (model, PipelineModel.load(str(tmp_path / "model")))
    ]
    assert plans[0] == plans[1] and len(plans[0]) == 1


def test_stages_follow_the_params_pattern():
    columns = RecipeColumns().setParams(plan='{"tokens": [], "numeric": []}', tokensCol="t")
    assert columns.getTokensCol() == "t" and columns.setTokensCol("u").getTokensCol() == "u"
    indexer = LabelIndexer(inputCol="y").setTargetType("CATEGORICAL").setOutputCol("lab")
    assert (indexer.getInputCol(), indexer.getOutputCol(), indexer.getTargetType()) == ("y", "lab", "CATEGORICAL")
    assert LabelIndexer().getOutputCol() == "label" and LabelIndexer().getTargetType() == "NUMERIC"
    model = LabelModel(inputCol="y", labels=["a", "b"]).setParams(targetType="BINARY")
    assert model.getLabels() == ["a", "b"] and model.getTargetType() == "BINARY" and LabelModel().getLabels() == []
    assert DropColumns(cols=["a"]).setCols(["b"]).getCols() == ["b"] and DropColumns().getCols() == []
    # the shared mixin: estimator and model have the same Param names
    assert {p.name for p in LabelIndexer().params} <= {p.name for p in LabelModel().params}

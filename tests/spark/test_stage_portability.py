"""Saved pipelines load with plain `PipelineModel.load` in a fresh Spark session and give the same output.

The fresh session is another process (its own JVM), started once for the module: what a cluster that
scores a saved model has. Two pipelines load there: one saved by this code, and tests/data/pipeline_0.1.0,
saved by lakeml 0.1.0 before features.address and features.recipe became packages, whose stages name
their classes by the module paths of that time. Also: the stages' Params pattern (getters, setters, setParams).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pyspark.ml import PipelineModel

from features.address import ConcatAddress
from features.recipe import compile_recipe, parse_recipe
from features.stages import DropColumns, LabelIndexer, LabelModel, RecipeColumns
from tests.conftest import ROOT
from tests.spark.test_recipe_pipeline import COLUMNS, N, census_rows
from tests.unit.test_recipe import DOC_RECIPE, SCHEMA

pytestmark = pytest.mark.slow  # starts a fresh Spark process

OLD = Path(ROOT) / "tests" / "data" / "pipeline_0.1.0"

FRESH = textwrap.dedent(
    """
    import json, sys
    from pyspark.ml import PipelineModel
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", "1").getOrCreate())
    out = {}
    for name, model_path, rows_path in json.loads(sys.argv[1]):
        model = PipelineModel.load(model_path)
        done = model.transform(spark.read.parquet(rows_path)).orderBy("id")
        rows = [{k: (v.toArray().tolist() if hasattr(v, "toArray") else v) for k, v in r.asDict().items()}
                for r in done.collect()]
        out[name] = {"stages": [type(s).__module__ + "." + type(s).__name__ for s in model.stages], "rows": rows}
    with open(sys.argv[2], "w") as handle:
        json.dump(out, handle)
    spark.stop()
    """
)


def plain_rows(df, columns):
    """The rows ordered by id, the given columns only, vectors as lists (as FRESH writes them)."""
    return [
        {c: (r[c].toArray().tolist() if hasattr(r[c], "toArray") else r[c]) for c in columns}
        for r in df.orderBy("id").collect()
    ]


@pytest.fixture(scope="module")
def saved(spark, tmp_path_factory):
    """Fit and save the doc's recipe, write both pipelines' input rows, and load both in one fresh session."""
    tmp = tmp_path_factory.mktemp("portability")
    train = spark.createDataFrame(census_rows(60), COLUMNS)
    model = compile_recipe(SCHEMA, parse_recipe(DOC_RECIPE), num_features=N).fit(train)
    model.write().overwrite().save(str(tmp / "model"))
    train.write.parquet(str(tmp / "rows"))
    old = json.loads((OLD / "rows.json").read_text())
    spark.createDataFrame([tuple(r) for r in old["rows"]], old["ddl"]).write.parquet(str(tmp / "old_rows"))

    jobs = [["new", str(tmp / "model"), str(tmp / "rows")], ["old", str(OLD / "model"), str(tmp / "old_rows")]]
    env = {k: v for k, v in os.environ.items() if k in ("JAVA_HOME", "HOME", "PATH")}
    env.update(PYTHONPATH=ROOT, SPARK_LOCAL_IP="127.0.0.1")
    args = [json.dumps(jobs), str(tmp / "out.json")]
    done = subprocess.run([sys.executable, "-c", FRESH, *args], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    fresh = json.loads((tmp / "out.json").read_text())
    return {"model": model, "train": train, "tmp": tmp, "old_rows": tmp / "old_rows", "fresh": fresh}


def test_saved_pipeline_gives_identical_output_in_a_fresh_session(saved):
    here = plain_rows(saved["model"].transform(saved["train"]), ["id", "features", "label"])
    fresh = saved["fresh"]["new"]
    assert [{k: r[k] for k in ("id", "features", "label")} for r in fresh["rows"]] == here
    assert "features.stages.RecipeColumns" in fresh["stages"] and "features.stages.LabelModel" in fresh["stages"]
    plans = [
        [s.getPlan() for s in m.stages if isinstance(s, RecipeColumns)]
        for m in (saved["model"], PipelineModel.load(str(saved["tmp"] / "model")))
    ]
    assert plans[0] == plans[1] and len(plans[0]) == 1


def saved_classes(model_dir):
    """The class each stage of a saved PipelineModel records, in stage order."""
    metadata = sorted(
        Path(model_dir, "stages").glob("*/metadata/part-00000"), key=lambda p: int(p.parts[-3].split("_")[0])
    )
    return [json.loads(p.read_text().splitlines()[0])["class"] for p in metadata]


def test_pipeline_saved_by_lakeml_0_1_0_loads_and_gives_its_saved_output(saved):
    assert saved_classes(OLD / "model") == [
        "features.address.ConcatAddress",
        "features.numeric.QuantileBinModel",
        "features.numeric.NormalizeModel",
        "features.stages.RecipeColumns",
        "org.apache.spark.ml.feature.HashingTF",
        "org.apache.spark.ml.feature.VectorAssembler",
        "features.stages.LabelModel",
        "features.stages.DropColumns",
    ]
    expected = json.loads((OLD / "expected.json").read_text())
    assert [{c: r[c] for c in expected[0]} for r in saved["fresh"]["old"]["rows"]] == expected


def test_pipeline_saved_by_lakeml_0_1_0_loads_in_this_session(spark, saved):
    model = PipelineModel.load(str(OLD / "model"))
    expected = json.loads((OLD / "expected.json").read_text())
    assert plain_rows(model.transform(spark.read.parquet(str(saved["old_rows"]))), list(expected[0])) == expected


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
    address = ConcatAddress().setParams(parts={"street": "s"}, keyCol="")
    assert address.getParts() == {"street": "s"} and address.getKeyCol() == "" and address.getOutputCol() == "address"
    assert address.setOutputCol("a").getOutputCol() == "a" and address.setAbbreviate(True).getAbbreviate() is True
    assert ConcatAddress().getAbbreviate() is False and ConcatAddress().setParts({"zip": "z"}).getParts() == {
        "zip": "z"
    }

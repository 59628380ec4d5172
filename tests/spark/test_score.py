"""score end to end on a local lake: per-type columns equal PipelineModel.transform row by row, checks, CSV, report."""

import csv
import gzip
import json
import os

import pytest

from jobs.common.lake import local_path, read_text, spark_uri
from ml import registry
from ml.datasource import read_datasource
from tests.helpers import run_in_process
from tests.model_factory import fit_model, prediction_schema, write_prediction_csv

RUN_DATE = "2026-11-20"
BAD_LINES = ("r900,good good,abc,a,n", "r901,only,two")


def publish(spark, lake, name, model_type, n=120):
    model, meta = fit_model(spark, model_type, n=n)
    version = registry.publish_version(spark, lake, name, model, meta)
    registry.set_champion(spark, lake, name, version, reason="test")
    return model


def expected(spark, model, csv_path, model_type):
    """PipelineModel.transform of the same CSV rows, read with the model's types: tag -> output row."""
    schema = {**prediction_schema(model_type), "rowId": "id"}
    rows = read_datasource(spark, csv_path, schema, require_target=False, gate=False).rows
    return {r["id"]: r for r in model.transform(rows).collect()}


def scores(spark, lake, name):
    table = spark.read.format("delta").load(spark_uri(lake.scores(name)))
    return table, {r["tag"]: r for r in table.collect()}


@pytest.fixture(scope="module")
def binary(spark, tmp_path_factory):
    from jobs.common.lake import Lake

    root = tmp_path_factory.mktemp("score_binary")
    lake = Lake.at(str(root / "lake"))
    model = publish(spark, lake, "adult", "BINARY")
    data = write_prediction_csv(root / "in", "BINARY", 60, bad_lines=BAD_LINES)
    argv = ["--name", "adult", "--lake", lake.root, "--data", data, "--schema", data + ".schema"]
    argv += ["--run-date", RUN_DATE, "--csv", str(root / "out")]
    code, summary = run_in_process(spark, "score", argv)
    assert code == 0, summary
    return {"lake": lake, "model": model, "data": data, "summary": summary, "argv": argv, "out": root / "out"}


def test_binary_scores_equal_the_pipeline_row_by_row(spark, binary):
    table, got = scores(spark, binary["lake"], "adult")
    assert table.columns == ["tag", "bestAnswer", "score", "model_version", "run_id", "run_date"]
    want = expected(spark, binary["model"], binary["data"], "BINARY")
    assert set(want) - set(got) == {"r900"} and len(got) == 60  # r900 has an invalid NUMERIC: quarantined
    for tag, row in got.items():
        p1 = float(want[tag]["probability"][1])
        assert row["score"] == pytest.approx(p1, abs=1e-12)
        assert row["bestAnswer"] == int(p1 >= 0.5)
        assert row["model_version"] == "v1" and str(row["run_date"]) == RUN_DATE


def test_rejects_extra_columns_and_counts(spark, binary):
    s = binary["summary"]
    assert (s["rows_in"], s["rows_out"], s["rows_rejected"]) == (62, 60, 2)
    assert s["counts"]["extra_columns"] == ["note"]
    assert s["counts"]["reject_reasons"] == {"invalid NUMERIC value in x": 1, "expected 5 values, found 3": 1}
    quarantine = spark.read.format("delta").load(spark_uri(binary["lake"].quarantine("score") + "/adult"))
    raws = {r["raw"] for r in quarantine.collect()}
    assert raws == {'{"id":"r900","review":"good good","x":"abc","color":"a"}', BAD_LINES[1]}


def test_batch_csv_matches_the_table_and_the_manifest_names_every_input(spark, binary):
    _, got = scores(spark, binary["lake"], "adult")
    manifest_uri = next(u for u in binary["summary"]["outputs"] if u.endswith(".manifest"))
    manifest = json.loads(read_text(spark, manifest_uri))
    assert list(manifest) == ["file://" + binary["data"]]
    with gzip.open(local_path(manifest["file://" + binary["data"]]), "rt", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["tag", "bestAnswer", "score"]
    assert [r[0] for r in rows[1:]] == [f"r{i}" for i in range(60)]
    for tag, best, score in rows[1:]:
        assert int(best) == got[tag]["bestAnswer"] and float(score) == got[tag]["score"]


def test_report_and_drift_hint(spark, binary):
    s = binary["summary"]
    assert 0.0 <= s["counts"]["drift"]["share_above_cutoff"] <= 1.0
    assert set(s["counts"]["score_quantiles"]) >= {"p0", "p50", "p100"}
    folder = local_path(binary["lake"].reports("score", RUN_DATE)) + "/adult"
    assert {"index.html", "score_histogram.png", "summary.json"} <= set(os.listdir(folder))


def test_rerun_leaves_one_identical_partition(spark, binary):
    before = sorted(scores(spark, binary["lake"], "adult")[1].items())
    code, _summary = run_in_process(spark, "score", binary["argv"])
    assert code == 0
    table, after = scores(spark, binary["lake"], "adult")
    assert table.count() == 60
    strip = lambda rows: [(k, {**v.asDict(), "run_id": None}) for k, v in rows]  # noqa: E731
    assert strip(sorted(after.items())) == strip(before)


@pytest.mark.parametrize("model_type", ["MULTICLASS", "REGRESSION"])
def test_other_types_equal_the_pipeline(spark, lake, tmp_path, model_type):
    model = publish(spark, lake, "m", model_type)
    data = write_prediction_csv(tmp_path / "in", model_type, 40)
    code, summary = run_in_process(
        spark, "score", ["--name", "m", "--lake", lake.root, "--data", data, "--run-date", RUN_DATE]
    )
    assert code == 0, summary
    table, got = scores(spark, lake, "m")
    want = expected(spark, model, data, model_type)
    assert set(got) == set(want)
    if model_type == "REGRESSION":
        assert table.columns == ["tag", "score", "model_version", "run_id", "run_date"]
        for tag, row in got.items():
            assert row["score"] == pytest.approx(want[tag]["prediction"], abs=1e-12)
        return
    classes = registry.load_metadata(spark, lake, "m")["classes"]
    assert table.columns == ["tag", "bestAnswer", *classes, "model_version", "run_id", "run_date"]
    for tag, row in got.items():
        probs = [row[c] for c in classes]
        assert abs(sum(probs) - 1.0) < 1e-9
        assert probs == pytest.approx(list(want[tag]["probability"]), abs=1e-12)
        assert row["bestAnswer"] == classes[int(want[tag]["prediction"])]

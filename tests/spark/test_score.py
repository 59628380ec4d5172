"""score end to end on a local lake: per-type columns equal PipelineModel.transform row by row, checks, CSV, report."""

import csv
import gzip
import json
import os

import pytest

from core.lake import local_path, read_text, spark_uri
from ml import registry
from ml.datasource import read_datasource
from ml.version_record import VersionRecord
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
    from core.lake import Lake

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
    classes = registry.load_metadata(spark, lake, "m").classes
    assert table.columns == ["tag", "bestAnswer", *classes, "model_version", "run_id", "run_date"]
    for tag, row in got.items():
        probs = [row[c] for c in classes]
        assert abs(sum(probs) - 1.0) < 1e-9
        assert probs == pytest.approx(list(want[tag]["probability"]), abs=1e-12)
        assert row["bestAnswer"] == classes[int(want[tag]["prediction"])]


def _csv_with_schema(folder, schema, lines):
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(str(folder), "p.csv")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    with open(path + ".schema", "w", encoding="utf-8") as handle:
        json.dump({**schema, "dataFileContainsHeader": False}, handle)
    return path


def _partitions(spark, lake):
    table = spark.read.format("delta").load(spark_uri(lake.scores("adult")))
    return sorted({str(r["run_date"]) for r in table.select("run_date").collect()})


def test_missing_or_retyped_column_is_exit_2_and_writes_nothing(spark, binary, tmp_path):
    lake = binary["lake"]
    schema = prediction_schema("BINARY", extra=False)
    no_color = {**schema, "attributes": [a for a in schema["attributes"] if a["attributeName"] != "color"]}
    retyped = {
        **schema,
        "attributes": [
            {**a, "attributeType": "CATEGORICAL"} if a["attributeName"] == "x" else a for a in schema["attributes"]
        ],
    }
    for folder, sch, line, needle in (
        ("a", no_color, "r1,good,1.0", "color"),
        ("b", retyped, "r1,good,1.0,a", "x is CATEGORICAL, the model's is NUMERIC"),
    ):
        data = _csv_with_schema(tmp_path / folder, sch, [line])
        argv = ["--name", "adult", "--lake", lake.root, "--data", data, "--run-date", "2026-11-21"]
        code, summary = run_in_process(spark, "score", argv)
        assert code == 2 and needle in summary["message"]
    code, summary = run_in_process(
        spark, "score", ["--name", "adult", "--lake", lake.root, "--data", data, "--version", "v9"]
    )
    assert code == 2 and "versions v1 (champion v1)" in summary["message"]
    assert _partitions(spark, lake) == [RUN_DATE]


def test_over_10000_rejects_exit_3_and_publish_nothing(spark, binary, tmp_path):
    lake = binary["lake"]
    lines = [f"r{i},good,abc,a" for i in range(10_001)] + ["r-ok,good,1.0,a"]
    data = _csv_with_schema(tmp_path, prediction_schema("BINARY", extra=False), lines)
    code, summary = run_in_process(
        spark, "score", ["--name", "adult", "--lake", lake.root, "--data", data, "--run-date", "2026-11-22"]
    )
    assert code == 3 and summary["rows_rejected"] == 10_001 and "nothing was published" in summary["message"]
    assert _partitions(spark, lake) == [RUN_DATE]
    quarantine = spark.read.format("delta").load(spark_uri(lake.quarantine("score") + "/adult"))
    assert {str(r["run_date"]) for r in quarantine.select("run_date").collect()} == {RUN_DATE}


def test_recommendations_k_per_user_never_a_seen_item(spark, lake, tmp_path):
    from features.schema import load_schema
    from ml.recommend import fit_recommender, seen_pairs

    pairs = [(f"u{u}", f"i{(u * 3 + j) % 15}", float((u + j) % 5 + 1)) for u in range(8) for j in range(5)]
    train = spark.createDataFrame(pairs, ["user", "item", "rating"])
    cols = {"user_col": "user", "item_col": "item", "rating_col": "rating"}
    model, _params = fit_recommender(train, cols, False, {"rank": 3, "maxIter": 3})
    schema = load_schema(
        {
            "targetAttributeName": "rating",
            "attributes": [
                {"attributeName": "user", "attributeType": "CATEGORICAL"},
                {"attributeName": "item", "attributeType": "CATEGORICAL"},
                {"attributeName": "rating", "attributeType": "NUMERIC"},
            ],
        }
    )
    meta = VersionRecord(
        model_type="RECOMMEND", schema=schema, metrics={"rmse": 1.0}, recommend={**cols, "implicit": False}
    )
    # u50's ratings are all evaluation rows: unknown to the model, yet its 11 rated items must not come back
    evaluation = spark.createDataFrame([("u50", f"i{i}", 3.0) for i in range(11)], ["user", "item", "rating"])
    rated = train.unionByName(evaluation)
    version = registry.publish_version(spark, lake, "rec", model, meta, tables={"seen": seen_pairs(rated, cols)})
    registry.set_champion(spark, lake, "rec", version, reason="test")
    data = _csv_with_schema(
        tmp_path,
        {"attributes": [{"attributeName": "user", "attributeType": "CATEGORICAL"}]},
        ["u0", "u3", "u7", "u99", "u3", "u50"],
    )
    code, summary = run_in_process(
        spark,
        "score",
        [
            "--name",
            "rec",
            "--lake",
            lake.root,
            "--data",
            data,
            "--top-k",
            "4",
            "--run-date",
            RUN_DATE,
            "--csv",
            str(tmp_path / "out"),
        ],
    )
    assert code == 0, summary
    table = spark.read.format("delta").load(spark_uri(lake.scores("rec")))
    assert table.columns == ["user", "item", "rank", "score", "model_version", "run_id", "run_date"]
    rows = table.collect()
    seen = set((u, i) for u, i, _ in pairs) | {(r["user"], r["item"]) for r in evaluation.collect()}
    by_user = {}
    for r in rows:
        by_user.setdefault(r["user"], []).append(r)
    assert sorted(by_user) == ["u0", "u3", "u50", "u7", "u99"]
    assert {r["item"] for r in by_user["u50"]} == {"i11", "i12", "i13", "i14"}
    for user, recs in by_user.items():
        assert sorted(r["rank"] for r in recs) == [1, 2, 3, 4]
        assert not any((user, r["item"]) in seen for r in recs)
    (result,) = set(summary["counts"]["csv_results"].values())
    with gzip.open(local_path(result), "rt", newline="") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == ["user", "item", "rank", "score"] and len(lines) == 1 + 20
    known = spark.createDataFrame([(r["user"], r["item"]) for r in rows if r["user"] != "u99"], ["user", "item"])
    want = {(r["user"], r["item"]): r["prediction"] for r in model.transform(known).collect()}
    for r in rows:
        if r["user"] != "u99":
            assert r["score"] == pytest.approx(want[(r["user"], r["item"])], rel=1e-5)


def test_recommender_predictions_stay_on_the_training_rating_scale(spark):
    from pyspark.sql import functions as F

    from ml.recommend import fit_recommender, model_rating_range, recommend

    pairs = [(f"u{u}", f"i{(u * 7 + j) % 40}", float(5 if (u + j) % 3 else 1)) for u in range(30) for j in range(12)]
    train = spark.createDataFrame(pairs, ["user", "item", "rating"])
    cols = {"user_col": "user", "item_col": "item", "rating_col": "rating"}
    model, _ = fit_recommender(train, cols, False, {"rank": 12, "maxIter": 15, "regParam": 0.0001})
    assert model_rating_range(model) == (1.0, 5.0)
    everything = train.select("user").distinct().crossJoin(train.select("item").distinct())
    predicted = model.transform(everything).agg(F.min("prediction"), F.max("prediction")).first()
    assert 1.0 <= predicted[0] and predicted[1] <= 5.0
    listed = recommend(spark, model, train, train.limit(0), 10, "user", "item").agg(F.max("score")).first()[0]
    assert listed <= 5.0


def test_feature_set_scores_the_run_dates_partition_and_ignores_extra_columns(spark, binary):
    from pyspark.sql import functions as F

    from tests.model_factory import rows_for

    lake = binary["lake"]
    rows = rows_for("BINARY", 30, seed=5)
    df = spark.createDataFrame(rows, ["id", "review", "x", "color", "y"]).withColumn("label", F.lit(1.0))
    dated = df.withColumn("run_date", F.when(F.col("id") < "r2", F.lit("2026-11-23")).otherwise(F.lit("2026-11-24")))
    dated = dated.withColumn("run_date", F.to_date("run_date"))
    dated.write.format("delta").partitionBy("run_date").save(spark_uri(lake.features("fs")))
    want_rows = dated.where("run_date = '2026-11-24'").count()
    argv = ["--name", "adult", "--lake", lake.root, "--features", "fs", "--run-date", "2026-11-24"]
    code, summary = run_in_process(spark, "score", argv)
    assert code == 0, summary["message"]
    assert summary["rows_in"] == summary["rows_out"] == want_rows
    assert set(summary["counts"]["extra_columns"]) == {"y", "label", "run_date"}
    got = {r["tag"]: r["score"] for r in scores(spark, lake, "adult")[0].where("run_date = '2026-11-24'").collect()}
    table_rows = dated.where("run_date = '2026-11-24'").drop("y", "label")
    want = {r["id"]: float(r["probability"][1]) for r in binary["model"].transform(table_rows).collect()}
    assert got == pytest.approx(want, abs=1e-12)


def test_a_model_trained_on_a_feature_set_scores_the_sets_rows(spark, binary):
    from pyspark.sql import functions as F

    from core.feature_sets import write_set_key
    from tests.model_factory import rows_for

    lake, model = binary["lake"], binary["model"]
    meta = VersionRecord(model_type="BINARY", schema={"targetAttributeName": "y", "targetType": "BINARY"}, cutoff=0.5)
    registry.set_champion(spark, lake, "fsm", registry.publish_version(spark, lake, "fsm", model, meta), reason="t")
    raw = spark.createDataFrame(rows_for("BINARY", 12, seed=8), ["id", "review", "x", "color", "y"])
    written = model.transform(raw).select("id", "review", "x", "color", "y", "features", "label")
    written.withColumn("run_date", F.to_date(F.lit("2026-11-25"))).write.format("delta").partitionBy("run_date").save(
        spark_uri(lake.features("fs2"))
    )
    write_set_key(spark, lake.features("fs2"), "fs2", "id")
    argv = ["--name", "fsm", "--lake", lake.root, "--features", "fs2", "--run-date", "2026-11-25"]
    code, summary = run_in_process(spark, "score", argv)
    assert code == 0, summary["message"]
    got = {r["tag"]: r["score"] for r in scores(spark, lake, "fsm")[0].collect()}
    want = {r["id"]: float(r["probability"][1]) for r in model.transform(raw).collect()}
    assert summary["counts"]["tag_column"] == "id" and got == pytest.approx(want, abs=1e-12)  # each row's own key

"""Compiled recipes end to end: the doc's full example, train/serve consistency through save/load, unseen values."""

from __future__ import annotations

import pytest
from pyspark.ml import PipelineModel

from features.recipe import compile_recipe, parse_recipe, suggest_recipe
from tests.unit.test_recipe import DOC_RECIPE, SCHEMA

COLUMNS = (
    "id string, title string, subject string, body string, notes string, age double, "
    "`hours-per-week` string, country string, gender string, member string, income string"
)
N = 1024


def census_rows(count, offset=0):
    rows = []
    for i in range(offset, offset + count):
        rows.append(
            (
                f"r{i}",
                f"Title {i % 7}: The Sequel!",
                f"Re: subject-{i % 5}",
                f"The BODY, of row {i % 11}... (really)",
                "ignored notes",
                float(18 + i % 60),
                str(10 + i % 50),
                ["US", "DE", "FR", "IN"][i % 4],
                ["Male", "Female"][(i // 4) % 2],
                ["yes", " No", "t", "F"][i % 4],
                ["true", "false"][i % 3 == 0],
            )
        )
    return rows


def vectors(df):
    return [(r["id"], r["features"]) for r in df.orderBy("id").select("id", "features").collect()]


def test_doc_full_recipe_compiles_fits_and_round_trips_through_save_and_load(spark, tmp_path):
    train = spark.createDataFrame(census_rows(240), COLUMNS)
    model = compile_recipe(SCHEMA, parse_recipe(DOC_RECIPE), num_features=N).fit(train)
    fitted = model.transform(train).cache()

    assert fitted.columns == [*train.columns, "features", "label"]  # intermediates are dropped
    first = fitted.orderBy("id").first()
    assert first["features"].size == N + 1  # hashed tokens + hours-per-week as a value
    assert first["features"][N] == 10.0  # hours-per-week, the raw numeric output ("10" parsed)
    # body: 6 unigrams; title: 4 words -> 4+3+2 n-grams; subject: 2 words -> 2+1; 1 bin;
    # 1 cross of bins; 1 country x gender; country, gender, member -> 24 tokens (fewer on hash collisions).
    assert 21 <= first["features"].numNonzeros() - 1 <= 24
    labels = {r["id"]: r["label"] for r in fitted.select("id", "label").collect()}
    assert labels["r0"] == 0.0 and labels["r1"] == 1.0

    path = str(tmp_path / "model")
    model.write().overwrite().save(path)
    loaded = PipelineModel.load(path)
    assert vectors(loaded.transform(train)) == vectors(fitted)


def test_unseen_values_at_scoring_time_get_defined_features(spark, tmp_path):
    schema = {
        "targetAttributeName": "y",
        "attributes": [
            {"attributeName": "country", "attributeType": "CATEGORICAL"},
            {"attributeName": "age", "attributeType": "NUMERIC"},
            {"attributeName": "y", "attributeType": "BINARY"},
        ],
    }
    recipe = {"outputs": ["country", "quantile_bin(age, 5)", "normalize(age)"]}
    train = spark.createDataFrame(
        [(f"{i}", ["US", "DE"][i % 2], float(20 + i), str(i % 2)) for i in range(50)],
        "id string, country string, age double, y string",
    )
    path = str(tmp_path / "model")
    compile_recipe(schema, recipe, num_features=N).fit(train).write().overwrite().save(path)
    model = PipelineModel.load(path)

    # Scoring rows have no target column, a new category, ages beyond the training range, and gaps.
    serve = spark.createDataFrame(
        [
            ("a", "US", 69.0),
            ("b", "BR", 69.0),
            ("c", "US", 1000.0),
            ("d", "US", -5.0),
            ("e", None, None),
            ("f", "US", 20.0),
        ],
        "id string, country string, age double",
    )
    out = {r["id"]: r["features"] for r in model.transform(serve).collect()}
    assert "label" not in model.transform(serve).columns
    assert all(v is not None and v.size == N + 1 for v in out.values())
    hashed = {k: set(v.indices[v.indices < N]) for k, v in out.items()}
    # A new category is a token of its own (one more hashed slot), not an error and not the US slot.
    assert len(hashed["b"]) == 2 and hashed["b"] != hashed["a"]
    # Above the largest edge -> the top bin, like the training maximum; below -> the bottom bin.
    assert hashed["c"] == hashed["a"]
    assert hashed["d"] == hashed["f"]
    # normalize keeps the scale beyond the training range: (1000 - 44.5) / std
    assert out["c"][N] > out["a"][N] > 0 > out["d"][N]
    # Missing category -> no token; missing age -> q_missing token and 0.0 (the mean) as the value.
    assert len(hashed["e"]) == 1 and out["e"][N] == 0.0


def test_vocabulary_mode_and_categorical_target(spark, tmp_path):
    schema = {
        "targetAttributeName": "kind",
        "attributes": [
            {"attributeName": "text", "attributeType": "TEXT"},
            {"attributeName": "kind", "attributeType": "CATEGORICAL"},
        ],
    }
    train = spark.createDataFrame(
        [("0", "Red apple", "fruit"), ("1", "green APPLE!", "fruit"), ("2", "red car", "vehicle"), ("3", "x", None)],
        "id string, text string, kind string",
    )
    pipeline = compile_recipe(schema, {"outputs": ["lowercase(no_punct(text))"]}, num_features=100, vocabulary=True)
    model = pipeline.fit(train)
    vocab = model.stages[1].vocabulary
    assert sorted(vocab) == ["apple", "car", "green", "red", "x"]
    path = str(tmp_path / "vocab")
    model.write().overwrite().save(path)
    serve = spark.createDataFrame([("9", "RED bicycle", "boat")], "id string, text string, kind string")
    row = PipelineModel.load(path).transform(serve).first()
    assert row["features"].size == 5 and list(row["features"].indices) == [vocab.index("red")]
    assert row["label"] is None  # an unseen target class has no label
    labels = {r["id"]: r["label"] for r in model.transform(train).collect()}
    assert labels == {"0": 0.0, "1": 0.0, "2": 1.0, "3": None}  # fruit is the most frequent class


def test_suggested_recipe_from_data_compiles_and_runs(spark):
    df = spark.createDataFrame(census_rows(200), COLUMNS)
    recipe = suggest_recipe(SCHEMA, df)
    assert recipe["groups"] == {"NUMERIC_VARS_QB_10": "group(age, hours-per-week)"}  # 200 rows: 20 per bin
    out = compile_recipe(SCHEMA, recipe, num_features=N).fit(df).transform(df)
    assert out.where("features is null").count() == 0


def test_a_recipe_of_numbers_alone_has_no_token_slots(spark):
    df = spark.createDataFrame(census_rows(40), COLUMNS)
    model = compile_recipe(SCHEMA, {"outputs": ["normalize(age)", "hours-per-week"]}, num_features=N).fit(df)
    assert not [s for s in model.stages if type(s).__name__ in ("HashingTF", "CountVectorizerModel")]
    first = model.transform(df).orderBy("id").first()
    mean = sum(18 + i % 60 for i in range(40)) / 40
    std = (sum((18 + i % 60 - mean) ** 2 for i in range(40)) / 40) ** 0.5
    assert first["features"].size == 2  # the two numbers, in recipe order
    assert list(first["features"].toArray()) == pytest.approx([(18 - mean) / std, 10.0], rel=1e-12)

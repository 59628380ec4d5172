"""BINARY parsing as Amazon ML, cartesian crosses, and the XOR case a cross makes learnable."""

from __future__ import annotations

import random

from pyspark.ml.classification import LogisticRegression
from pyspark.ml.evaluation import MulticlassClassificationEvaluator

from features.categorical import cartesian, category_tokens, parse_binary
from features.recipe import compile_recipe


def test_parse_binary_spellings_case_and_whitespace(spark):
    cases = [
        ("0", 0), ("n", 0), ("no", 0), ("f", 0), ("false", 0), (" FaLSe ", 0), ("\tNO\n", 0), ("N", 0),
        ("1", 1), ("y", 1), ("yes", 1), ("t", 1), ("true", 1), (" TRUE", 1), ("Yes ", 1), ("T", 1),
        ("1.0", None), ("", None), ("maybe", None), ("ye", None), ("2", None), (None, None), ("-1", None),
    ]  # fmt: skip
    df = spark.createDataFrame([(v,) for v, _ in cases], "v string")
    got = [r[0] for r in df.select(parse_binary("v")).collect()]
    assert got == [expected for _, expected in cases]
    assert df.select(parse_binary("v")).schema.fields[0].dataType.simpleString() == "int"


def test_cartesian_joins_every_token_pair_in_argument_order(spark):
    df = spark.createDataFrame(
        [(["A", "B", "C"], ["Z"], ["x", "y"], [])], "a array<string>, z array<string>, b array<string>, e array<string>"
    )
    row = df.select(
        cartesian("a", "z").alias("az"),
        cartesian("z", "a").alias("za"),
        cartesian("a", "b").alias("ab"),
        cartesian("a", "e").alias("ae"),
    ).first()
    assert row["az"] == ["A_Z", "B_Z", "C_Z"]
    assert row["za"] == ["Z_A", "Z_B", "Z_C"]
    assert row["ab"] == ["A_x", "A_y", "B_x", "B_y", "C_x", "C_y"]
    assert row["ae"] == []


def test_reference_cross_examples_through_the_compiler_plan(spark):
    from features.stages import RecipeColumns

    schema = {
        "attributes": [
            {"attributeName": "education", "attributeType": "CATEGORICAL"},
            {"attributeName": "job", "attributeType": "CATEGORICAL"},
            {"attributeName": "Title", "attributeType": "TEXT"},
            {"attributeName": "Binding", "attributeType": "CATEGORICAL"},
        ]
    }
    recipe = {"outputs": ["cartesian(education, job)", "cartesian(no_punct(Title), Binding)"]}
    stage = next(s for s in compile_recipe(schema, recipe).getStages() if isinstance(s, RecipeColumns))
    df = spark.createDataFrame(
        [
            ("university.degree", "technician", "Economics: Principles, Problems, Policies", "Hardcover"),
            (None, "x", "", "y"),
        ],
        "education string, job string, Title string, Binding string",
    )
    tokens = [r["__tokens"] for r in stage.transform(df).collect()]
    assert tokens[0] == [
        "cartesian(education,job)=university.degree_technician",
        "cartesian(no_punct(Title),Binding)=Economics_Hardcover",
        "cartesian(no_punct(Title),Binding)=Principles_Hardcover",
        "cartesian(no_punct(Title),Binding)=Problems_Hardcover",
        "cartesian(no_punct(Title),Binding)=Policies_Hardcover",
    ]
    assert tokens[1] == []  # a missing category or an empty text gives no cross tokens


def test_category_tokens(spark):
    df = spark.createDataFrame([("New York",), ("",), (None,)], "c string")
    assert [r[0] for r in df.select(category_tokens("c")).collect()] == [["New York"], [], []]


def test_xor_is_learnable_only_through_the_cross(spark):
    rng = random.Random(6)
    rows = []
    for _ in range(400):
        x, y = rng.choice("ab"), rng.choice("uv")
        rows.append((x, y, "1" if (x == "a") != (y == "u") else "0"))
    df = spark.createDataFrame(rows, "x string, y string, label_in string")
    schema = {
        "targetAttributeName": "label_in",
        "attributes": [
            {"attributeName": "x", "attributeType": "CATEGORICAL"},
            {"attributeName": "y", "attributeType": "CATEGORICAL"},
            {"attributeName": "label_in", "attributeType": "BINARY"},
        ],
    }
    evaluator = MulticlassClassificationEvaluator(metricName="accuracy")

    def accuracy(recipe):
        features = compile_recipe(schema, recipe, num_features=1024).fit(df).transform(df).cache()
        model = LogisticRegression(maxIter=30, regParam=0.0).fit(features)
        return evaluator.evaluate(model.transform(features))

    crossed = accuracy({"outputs": ["cartesian(x, y)"]})
    alone = accuracy({"outputs": ["x", "y"]})
    assert crossed >= 0.99
    assert 0.4 <= alone <= 0.65

"""Every recipe transformation and composition compiles to a plan Spark code-generates, without Python.

What is asserted, on the physical plan of the fitted pipeline's transform:
- no Python UDF of any kind (BatchEvalPython, ArrowEvalPython, PythonUDF);
- no higher-order function (lambda) at all for text rules, assignments, groups, bins, normalize and
  crosses of single values: each is a chain of built-ins over the string, and every projection is
  whole-stage code-generated (`*(n) Project`);
- a cross of token arrays (and the prefix of its tokens, which may hold any character) is the one
  place with lambdas, as Spark 3.5 has no built-in that joins two arrays element by element. There,
  every lambda reads only its own variables and literals (no column, no computed expression, no
  nested lambda), so Spark interprets one concat per token and never evaluates an array again per
  element (the cause of issue 30's 76x), and the arrays it reads hold no regular expression: they
  were computed in an earlier, code-generated projection.
"""

from __future__ import annotations

import re

import pytest

from features.recipe import compile_recipe

SCHEMA = {
    "targetAttributeName": "y",
    "attributes": [
        {"attributeName": "t", "attributeType": "TEXT"},
        {"attributeName": "u", "attributeType": "TEXT"},
        {"attributeName": "c", "attributeType": "CATEGORICAL"},
        {"attributeName": "b", "attributeType": "BINARY"},
        {"attributeName": "x", "attributeType": "NUMERIC"},
        {"attributeName": "z", "attributeType": "NUMERIC"},
        {"attributeName": "y", "attributeType": "BINARY"},
    ],
}
ROWS = [
    ("The quick, brown fox!", "Hello «world»", "US", "yes", 1.0, 5.0, "1"),
    ("a b c d e f g h i j k", "", "DE", "no", 2.0, None, "0"),
    (None, "x", None, None, None, 7.0, "1"),
]
COLUMNS = "t string, u string, c string, b string, x double, z double, y string"
WORDS = ["lowercase(t)", "no_punct(t)", "lowercase(no_punct(t))", "no_punct(lowercase(t))"]

LAMBDA_FREE = [
    ["t", "c", "b", "x", "ALL_INPUTS"],
    WORDS,
    *[[f"{fn}({w}, {n})" for n in range(2, 11)] for fn in ("ngram", "osb") for w in ("t", WORDS[2], WORDS[3])],
    ["lowercase(ngram(t, 3))", "no_punct(osb(t, 4))", "no_punct(lowercase(osb(u, 2)))"],
    ["quantile_bin(x, 5)", "normalize(x)", "normalize(ALL_NUMERIC)", "quantile_bin(normalize(z), 5)"],
    ["cartesian(c, b)", "cartesian(quantile_bin(x, 5), quantile_bin(z, 5))", "cartesian(cartesian(c, b), c)"],
    ["ngram(clean, 2)", "osb(clean, 3)"],  # the recipe (with its assignment, below)
    ["ngram(lowercase(TEXTS), 3)", "osb(no_punct(TEXTS), 5)", "TEXTS", "cartesian(quantile_bin(x, 5), c)"],
]
ARRAY_CROSSES = [
    ["cartesian(t, c)"],
    ["cartesian(no_punct(t), lowercase(u))", "c"],
    ["cartesian(ngram(clean, 2), osb(u, 3))", "cartesian(b, t)"],
    ["cartesian(cartesian(t, c), ngram(u, 2))", "cartesian(quantile_bin(x, 5), clean)"],
]
PYTHON = ("BatchEvalPython", "ArrowEvalPython", "PythonUDF", "pythonUDF")


def recipe(outputs):
    return {
        "groups": {"TEXTS": "group(t, u)"},
        "assignments": {"clean": "lowercase(no_punct(t))"},
        "outputs": outputs,
    }


def calls(plan: str, name: str):
    """The text of every `name(...)` call in the plan, parentheses matched."""
    for m in re.finditer(re.escape(name) + r"\(", plan):
        depth, i = 0, m.end() - 1
        for i in range(m.end() - 1, len(plan)):
            depth += {"(": 1, ")": -1}.get(plan[i], 0)
            if depth == 0:
                break
        yield plan[m.start() : i + 1]


def physical_plan(spark, outputs) -> str:
    df = spark.createDataFrame(ROWS, COLUMNS)
    out = compile_recipe(SCHEMA, recipe(outputs), num_features=64).fit(df).transform(df)
    assert out.count() == len(ROWS)  # it runs
    return out._jdf.queryExecution().executedPlan().toString()


@pytest.fixture(scope="module")
def plans(spark):
    return {tuple(o): physical_plan(spark, o) for o in LAMBDA_FREE + ARRAY_CROSSES}


@pytest.mark.parametrize("outputs", LAMBDA_FREE, ids=lambda o: " ".join(o)[:60])
def test_text_values_bins_and_value_crosses_have_no_lambda_and_no_python(plans, outputs):
    plan = plans[tuple(outputs)]
    assert not [p for p in PYTHON if p in plan]
    assert "lambdafunction" not in plan
    projects = [line for line in plan.splitlines() if "Project [" in line]
    assert projects and all(line.lstrip(" +-:").startswith("*(") for line in projects), plan  # whole-stage codegen


@pytest.mark.parametrize("outputs", ARRAY_CROSSES, ids=lambda o: " ".join(o)[:60])
def test_array_crosses_use_lambdas_that_read_only_their_variables(plans, outputs):
    plan = plans[tuple(outputs)]
    assert not [p for p in PYTHON if p in plan]
    lambdas = list(calls(plan, "lambdafunction"))
    assert lambdas
    for fn in lambdas:
        body = re.sub(r"lambda \w+#\d+", "", fn[len("lambdafunction(") :])
        assert not re.search(r"#\d+", body), fn  # no column or computed array inside the lambda
        assert "lambdafunction" not in body, fn
    for zipped in calls(plan, "zip_with"):
        assert "regexp" not in zipped and "split(" not in zipped, zipped  # its arrays were computed before

"""Recipe language and schema: parsing, positions in errors, groups, type checks (no JVM needed)."""

from __future__ import annotations

import json

import pytest

from features.recipe import (
    RecipeError,
    format_recipe,
    parse_expr,
    parse_recipe,
    plan_recipe,
    suggest_recipe,
    suggested_bins,
)
from features.schema import SchemaError, feature_attributes, load_schema

SCHEMA = {
    "version": "1.0",
    "rowId": "id",
    "targetAttributeName": "income",
    "excludedAttributeNames": ["notes"],
    "attributes": [
        {"attributeName": "id", "attributeType": "CATEGORICAL"},
        {"attributeName": "title", "attributeType": "TEXT"},
        {"attributeName": "subject", "attributeType": "TEXT"},
        {"attributeName": "body", "attributeType": "TEXT"},
        {"attributeName": "notes", "attributeType": "TEXT"},
        {"attributeName": "age", "attributeType": "NUMERIC"},
        {"attributeName": "hours-per-week", "attributeType": "NUMERIC"},
        {"attributeName": "country", "attributeType": "CATEGORICAL"},
        {"attributeName": "gender", "attributeType": "CATEGORICAL"},
        {"attributeName": "member", "attributeType": "BINARY"},
        {"attributeName": "income", "attributeType": "BINARY"},
    ],
}

# The complete example of the recipe format reference, verbatim (comments inside strings included).
DOC_RECIPE = """{
  "groups": {
    "LONGTEXT": "group_remove(ALL_TEXT, title, subject)",
    "SPECIALTEXT": "group(title, subject)",
    "BINCAT": "group(ALL_CATEGORICAL, ALL_BINARY)"
  },
  "assignments": {
    "binned_age" : "quantile_bin(age,30)",
    "country_gender_interaction" : "cartesian(country, gender)"
  },
  "outputs": [
    "lowercase(no_punct(LONGTEXT))",
    "ngram(lowercase(no_punct(SPECIALTEXT)),3)",
    "quantile_bin(hours-per-week, 10)",
    "hours-per-week // explicitly include the original numeric variable along with the binned version",
    "cartesian(binned_age, quantile_bin(hours-per-week,10)) // this one is critical",
    "country_gender_interaction",
    "BINCAT"
  ]
}"""


def error_of(recipe, schema=SCHEMA) -> str:
    with pytest.raises(RecipeError) as info:
        plan_recipe(schema, recipe)
    return str(info.value)


def test_doc_example_resolves_groups_assignments_and_outputs():
    planned = plan_recipe(SCHEMA, parse_recipe(DOC_RECIPE))
    assert planned.token_labels == [
        "lowercase(no_punct(body))",  # LONGTEXT = ALL_TEXT - title - subject; notes is excluded
        "ngram(lowercase(no_punct(title)),3)",
        "ngram(lowercase(no_punct(subject)),3)",
        "quantile_bin(hours-per-week,10)",
        "cartesian(quantile_bin(age,30),quantile_bin(hours-per-week,10))",
        "cartesian(country,gender)",
        "country",  # BINCAT: ALL_CATEGORICAL (id is the rowId) + ALL_BINARY (income is the target)
        "gender",
        "member",
    ]
    assert planned.numeric_labels == ["hours-per-week"]
    # quantile_bin(hours-per-week, 10) appears twice but is fitted once; binned_age once.
    assert [(e.getInputCol(), e.getOrDefault("numBins")) for e in planned.estimators] == [
        ("age", 30),
        ("hours-per-week", 10),
    ]


def test_comments_outside_strings_and_in_expressions():
    text = """// a recipe
    {"outputs": [ // the outputs
        "title // unigrams", "age"  // numeric
    ]}"""
    recipe = parse_recipe(text)
    assert recipe["outputs"] == ["title // unigrams", "age"]
    assert plan_recipe(SCHEMA, recipe).token_labels == ["title"]
    assert recipe.positions[("outputs", 0)] == (3, 10)  # the first character of the expression


def test_quoted_names_single_and_double():
    schema = {"attributes": [{"attributeName": "a b(c)", "attributeType": "TEXT"}, *SCHEMA["attributes"][5:7]]}
    recipe = {
        "groups": {"NUMS": "group('age', \"hours-per-week\")"},
        "outputs": ["ngram('a b(c)', 2)", "quantile_bin(NUMS, 5)"],
    }
    planned = plan_recipe(schema, recipe)
    assert planned.token_labels == ["ngram('a b(c)',2)", "quantile_bin(age,5)", "quantile_bin(hours-per-week,5)"]


def test_chained_calls_and_osb_and_normalize():
    recipe = {"outputs": ["osb(lowercase(title), 4)", "normalize(ALL_NUMERIC)", "quantile_bin(normalize(age), 5)"]}
    planned = plan_recipe(SCHEMA, recipe)
    assert planned.token_labels == ["osb(lowercase(title),4)", "quantile_bin(normalize(age),5)"]
    assert planned.numeric_labels == ["normalize(age)", "normalize(hours-per-week)"]
    assert len(planned.estimators) == 3  # normalize(age) is fitted once and binned


def test_all_inputs_in_outputs_lists_every_feature_attribute():
    planned = plan_recipe(SCHEMA, {"outputs": ["ALL_INPUTS"]})
    assert planned.token_labels == ["title", "subject", "body", "country", "gender", "member"]
    assert planned.numeric_labels == ["age", "hours-per-week"]


@pytest.mark.parametrize(
    "recipe, expected",
    [
        ({"outputs": []}, "outputs is empty or missing"),
        ({"groups": {"G": "group(title)"}}, "outputs is empty or missing"),
        ({"outputs": ["nope"]}, "outputs[0] 'nope' (column 1): unknown variable 'nope'"),
        ({"outputs": ["ngram(title, 11)"]}, "outputs[0] 'ngram(title, 11)' (column 14): ngram: n = 11 is out of range"),
        ({"outputs": ["osb(title, 1)"]}, "osb: n = 1 is out of range (allowed 2 to 10)"),
        ({"outputs": ["quantile_bin(age, 4)"]}, "quantile_bin: n = 4 is out of range (allowed 5 to 1000)"),
        ({"outputs": ["quantile_bin(age, 1001)"]}, "n = 1001 is out of range"),
        (
            {"groups": {"G": "group(ALL_INPUTS)"}, "outputs": ["G"]},
            "groups.G 'group(ALL_INPUTS)' (column 7): you cannot",
        ),
        ({"outputs": ["quantile_bin(title, 10)"]}, "quantile_bin needs NUMERIC, but title is TEXT"),
        ({"outputs": ["lowercase(age)"]}, "lowercase needs TEXT, but age is NUMERIC"),
        ({"outputs": ["ngram(country, 2)"]}, "ngram needs TEXT, but country is CATEGORICAL"),
        ({"outputs": ["cartesian(age, country)"]}, "cartesian needs TEXT, CATEGORICAL or BINARY, but age is NUMERIC"),
        ({"outputs": ["ngram(ngram(title, 2), 3)"]}, "is already a set of n-grams"),
        ({"outputs": ["income"]}, "'income' is the target and cannot be used as a feature"),
        ({"outputs": ["id"]}, "'id' is the rowId"),
        ({"outputs": ["notes"]}, "'notes' is excluded"),
        ({"outputs": ["frobnicate(title)"]}, "unknown function 'frobnicate'"),
        ({"outputs": ["ngram(title)"]}, "ngram(variable, n) takes a variable and a number"),
        ({"groups": {"title": "group(body)"}, "outputs": ["title"]}, "the group name 'title' is already taken"),
        ({"groups": {"G": "lowercase(body)"}, "outputs": ["G"]}, "a group is defined with group(...)"),
        ({"outputs": ["G"], "groups": {"G": "group(body)"}}, "order groups, assignments, outputs"),
        ({"outputs": ["title"], "extra": {}}, "unknown section 'extra'"),
    ],
)
def test_invalid_recipes_name_position_and_problem(recipe, expected):
    assert expected in error_of(recipe)


def test_syntax_errors_give_line_and_column():
    text = '{\n  "outputs": [\n    "title",\n    "ngram(title 2)"\n  ]\n}'
    with pytest.raises(
        RecipeError, match=r"outputs\[1\] 'ngram\(title 2\)' \(line 4, column 18\): expected ',' or '\)'"
    ):
        parse_recipe(text)
    with pytest.raises(RecipeError, match=r"line 4, column 20\): missing '\)'"):
        parse_recipe('{\n  "outputs": [\n    "title",\n    "ngram(title, 2"\n  ]\n}')
    with pytest.raises(RecipeError, match="invalid JSON at line 2"):
        parse_recipe('{"outputs":\n ["title",]}')
    with pytest.raises(RecipeError, match="unterminated quoted name"):
        parse_recipe('{"outputs": ["\'title"]}')


def test_unknown_variable_in_parsed_text_names_line_and_column():
    text = '{"groups": {"G": "group(title, subjct)"},\n "outputs": ["G"]}'
    assert "groups.G 'group(title, subjct)' (line 1, column 32): unknown variable 'subjct'" in error_of(
        parse_recipe(text)
    )
    assert "outputs[1] 'nope' (line 2, column 3): unknown variable" in error_of(
        parse_recipe('{"outputs": ["title",\n "nope"]}')
    )


def test_parse_expr_tree():
    tree = parse_expr("cartesian(binned_age, quantile_bin('hours per week', 10)) // critical")
    assert tree.fn == "cartesian"
    assert tree.args[0].name == "binned_age"
    assert tree.args[1].fn == "quantile_bin"
    assert tree.args[1].args[0].name == "hours per week"
    assert tree.args[1].args[1].value == 10


def test_suggested_recipe_round_trips_through_text():
    suggested = suggest_recipe(SCHEMA)
    assert suggested["groups"] == {"NUMERIC_VARS_QB_10": "group(age, hours-per-week)"}
    assert suggested["outputs"] == [
        "quantile_bin(NUMERIC_VARS_QB_10, 10)",
        "ngram(lowercase(no_punct(ALL_TEXT)), 2)",
        "ALL_CATEGORICAL",
        "ALL_BINARY",
    ]
    assert parse_recipe(format_recipe(suggested)) == suggested
    planned = plan_recipe(SCHEMA, None)
    assert "ngram(lowercase(no_punct(title)),2)" in planned.token_labels


@pytest.mark.parametrize(
    "distinct, rows, n",
    [(2, 10, 5), (40, 100_000, 20), (100_000, 1_000, 50), (1_000_000, 1_000_000, 500), (11, 1_000, 5)],
)
def test_suggested_bins(distinct, rows, n):
    assert suggested_bins(distinct, rows) == n


def test_schema_load_forms_and_feature_attributes(tmp_path):
    path = tmp_path / "data.csv.schema"
    path.write_text(json.dumps(SCHEMA))
    schema = load_schema(str(path))
    assert schema == load_schema(json.dumps(SCHEMA)) == load_schema(SCHEMA)
    assert list(feature_attributes(schema)) == [
        "title",
        "subject",
        "body",
        "age",
        "hours-per-week",
        "country",
        "gender",
        "member",
    ]
    old = load_schema(
        {
            "targetFieldName": "y",
            "variables": [{"fieldName": "x", "fieldType": "numeric"}, {"fieldName": "y", "fieldType": "BINARY"}],
        }
    )
    assert old["targetAttributeName"] == "y"
    assert old["attributes"][0] == {"attributeName": "x", "attributeType": "NUMERIC"}


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"attributes": []}, "'attributes' must be a non-empty list"),
        ({"attributes": [{"attributeName": "x", "attributeType": "DATE"}]}, "attributeType 'DATE' is not one of"),
        ({"attributes": [{"attributeName": "x", "attributeType": "TEXT"}] * 2}, "duplicate attributeName 'x'"),
        (
            {"attributes": [{"attributeName": n, "attributeType": "NUMERIC"} for n in ("x", "X")]},
            "duplicate attributeName 'X'",
        ),
        (
            {"targetAttributeName": "y", "attributes": [{"attributeName": "x", "attributeType": "TEXT"}]},
            "targetAttributeName 'y' is not an attribute",
        ),
    ],
)
def test_schema_errors_name_the_field(raw, message):
    with pytest.raises(SchemaError, match=message):
        load_schema(raw)

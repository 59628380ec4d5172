"""Random recipes over random texts: RecipeColumns' tokens equal the pure-Python reference (tests/recipe_reference.py).

Each example is a batch: several random recipes (compositions of lowercase / no_punct / ngram n / osb n,
assignments, a group, crosses with a categorical and a binary attribute) evaluated over one DataFrame of
random texts (Unicode punctuation, tabs, newlines, empty, null, single tokens) in one Spark job.
Tokens are compared as lists: same tokens, same order.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from features.recipe import plan_recipe
from features.stages import RecipeColumns
from tests.recipe_reference import plan_tokens

SCHEMA = {
    "attributes": [
        {"attributeName": "t1", "attributeType": "TEXT"},
        {"attributeName": "t2", "attributeType": "TEXT"},
        {"attributeName": "c", "attributeType": "CATEGORICAL"},
        {"attributeName": "b", "attributeType": "BINARY"},
    ]
}
COLUMNS = "t1 string, t2 string, c string, b string"
ALPHABET = "aAbBzZ09éÄß$\\_" + ".,!?-'\"()" + "«»“”…—¿¡『』・" + " \t\n\r\x0b\f" + "\u00a0\u2028"
EDGE_TEXTS = [None, "", "x", " \t\n ", "!!!", "a b", "\u00a0a\u00a0 ,b,"]
CATEGORIES = [None, "", "US", "new york", "a\nb", "x_y", "$1\\"]
BINARIES = [None, "", "yes", " No", "t", "F", "1", "maybe"]


@st.composite
def recipes(draw):
    """A random recipe and the names it may use: groups, assignments (word sequences or n-grams), outputs."""
    words, grams = ["t1", "t2"], []
    groups = {"G": "group(t1, t2)"} if draw(st.booleans()) else {}
    words += list(groups)

    def word():
        expr = draw(st.sampled_from(words))
        for fn in draw(st.lists(st.sampled_from(["lowercase", "no_punct"]), max_size=3)):
            expr = f"{fn}({expr})"
        return expr

    def gram():
        if grams and draw(st.booleans()):
            return draw(st.sampled_from(grams))
        fn, n = draw(st.sampled_from(["ngram", "osb"])), draw(st.integers(2, 10))
        expr = f"{fn}({word()}, {n})"
        return f"{draw(st.sampled_from(['lowercase', 'no_punct']))}({expr})" if draw(st.booleans()) else expr

    def side():
        return draw(st.sampled_from([word, gram, lambda: "c", lambda: "b"]))()

    assignments = {}
    for i in range(draw(st.integers(0, 2))):
        as_words = draw(st.booleans())
        assignments[f"a{i}"] = word() if as_words else gram()
        (words if as_words else grams).append(f"a{i}")
    makers = [word, gram, side, lambda: f"cartesian({side()}, {side()})"]
    outputs = [draw(st.sampled_from(makers))() for _ in range(draw(st.integers(1, 3)))]
    return {"groups": groups, "assignments": assignments, "outputs": outputs}


TEXTS = st.one_of(st.none(), st.text(ALPHABET, max_size=40), st.sampled_from(EDGE_TEXTS))
ROWS = st.lists(
    st.tuples(TEXTS, TEXTS, st.sampled_from(CATEGORIES), st.sampled_from(BINARIES)), min_size=10, max_size=25
)


# no shrinking: each example is one Spark job; the message names the recipe and the row
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.generate])
@given(st.lists(recipes(), min_size=4, max_size=6), ROWS)
def test_recipe_tokens_equal_the_reference(spark, batch, rows):
    rows = [*rows, *[(t, t, c, b) for t, c, b in zip(EDGE_TEXTS, CATEGORIES, BINARIES)]]
    df = spark.createDataFrame(rows, COLUMNS)
    plans = [plan_recipe(SCHEMA, recipe).plan for recipe in batch]
    for i, plan in enumerate(plans):
        df = RecipeColumns(plan=json.dumps(plan), tokensCol=f"tok{i}").transform(df)
    got = df.select("t1", "t2", "c", "b", *[f"tok{i}" for i in range(len(plans))]).collect()
    for row in got:
        values = row.asDict()
        for i, (recipe, plan) in enumerate(zip(batch, plans)):
            assert values[f"tok{i}"] == plan_tokens(plan, values), (recipe, values)

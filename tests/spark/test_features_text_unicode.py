"""no_punct on Unicode punctuation, against fixed expected values (not only one code path against another)."""

from __future__ import annotations

from features import text as T

UNICODE_PUNCTUATION = "«quoted» “curly” ¿qué? … \u2039x\u203a „low“ — ¡sí! 『括弧』"  # single guillemets
EXPECTED = ["quoted", "curly", "qué", "x", "low", "sí", "括弧"]


def test_no_punct_strips_unicode_punctuation_around_tokens(spark):
    df = spark.createDataFrame([(UNICODE_PUNCTUATION,)], "t string")
    row = df.select(
        T.no_punct(T.tokenize("t")).alias("tokens"),
        T.no_punct_text("t").alias("text"),
        T.split_normalized(T.no_punct_text("t")).alias("split"),
    ).first()
    assert row.tokens == EXPECTED
    assert row.text == "quoted curly qué x low sí 括弧"
    assert row.split == EXPECTED


def test_no_punct_of_the_issue_example(spark):
    df = spark.createDataFrame([("«quoted» “curly” ¿qué? …",)], "t string")
    assert df.select(T.no_punct_text("t")).first()[0] == "quoted curly qué"

"""Text transforms against the documented rules and vectors (docs/amazon-ml.md, "Recipes and transformations")."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from features import text as T

FOX = "The quick brown fox jumps over the lazy dog"
BOOK = "I really enjoyed reading this book"
WELCOME = "Welcome to AML - please fasten your seat-belts!"

OSB_FOX_4 = [
    "The_quick", "The__brown", "The___fox",
    "quick_brown", "quick__fox", "quick___jumps",
    "brown_fox", "brown__jumps", "brown___over",
    "fox_jumps", "fox__over", "fox___the",
    "jumps_over", "jumps__the", "jumps___lazy",
    "over_the", "over__lazy", "over___dog",
    "the_lazy", "the__dog",
    "lazy_dog",
]  # fmt: skip
BOOK_1 = ["I", "really", "enjoyed", "reading", "this", "book"]
BOOK_2 = ["I really", "really enjoyed", "enjoyed reading", "reading this", "this book"]
BOOK_3 = ["I really enjoyed", "really enjoyed reading", "enjoyed reading this", "reading this book"]

# Strings where whitespace, punctuation and emptiness are tricky; every fast (string) path must
# agree with the token-array path on them.
TRICKY = [
    FOX,
    BOOK,
    WELCOME,
    "red, green, blue",
    "  leading\tand\ntrailing   whitespace  ",
    "- -- !!! ...",
    "",
    None,
    "...Hello, World!!! (again) «quoted» “curly” ¿qué? e-mail's end.",
    "x",
    "a.b.c a--b --a-- 'q' \"dq\"",
]


def one(spark, text, column):
    return spark.createDataFrame([(text,)], "t string").select(column.alias("out")).first()["out"]


def many(spark, texts, *columns):
    df = spark.createDataFrame([(t,) for t in texts], "t string")
    rows = df.select(*[c.alias(f"c{i}") for i, c in enumerate(columns)]).collect()
    return [tuple(r) for r in rows]


def test_osb_window_4_gives_the_21_reference_tokens(spark):
    assert one(spark, FOX, T.osb(T.tokenize("t"), 4)) == OSB_FOX_4


def test_osb_shorter_than_window_and_window_2(spark):
    assert one(spark, "a b", T.osb(T.tokenize("t"), 5)) == ["a_b"]
    assert one(spark, "a", T.osb(T.tokenize("t"), 3)) == []
    assert one(spark, "a b c", T.osb(T.tokenize("t"), 2)) == ["a_b", "b_c"]
    assert one(spark, None, T.osb(T.tokenize("t"), 4)) == []


def test_ngram_vectors_for_the_book_sentence(spark):
    unigrams, bigrams, trigrams = many(
        spark, [BOOK], T.tokenize("t"), T.ngram(T.tokenize("t"), 2), T.ngram(T.tokenize("t"), 3)
    )[0]
    assert unigrams == BOOK_1
    assert bigrams == BOOK_1 + BOOK_2
    assert trigrams == BOOK_1 + BOOK_2 + BOOK_3
    assert one(spark, BOOK, T.ngram_text("t", 3)) == BOOK_1 + BOOK_2 + BOOK_3


def test_ngram_follows_the_rule_not_the_docs_red_green_blue_example(spark):
    # The doc shows {"red,", "green,", "blue,", ...}; whitespace tokenizing keeps "blue" bare.
    expected = ["red,", "green,", "blue", "red, green,", "green, blue"]
    assert one(spark, "red, green, blue", T.ngram(T.tokenize("t"), 2)) == expected
    assert one(spark, "red, green, blue", T.ngram_text("t", 2)) == expected


def test_ngram_n_larger_than_the_text_and_the_n_range(spark):
    assert one(spark, "a b", T.ngram(T.tokenize("t"), 10)) == ["a", "b", "a b"]
    assert one(spark, "a b", T.ngram_text("t", 10)) == ["a", "b", "a b"]
    for bad in (1, 11):
        with pytest.raises(ValueError, match="n must be an integer from 2 to 10"):
            T.ngram("t", bad)
        with pytest.raises(ValueError, match="n must be an integer from 2 to 10"):
            T.osb("t", bad)


def test_no_punct_strips_only_leading_and_trailing_punctuation(spark):
    # The rule applied to the doc's input (the doc's output has a typo: AML became Amazon,ML).
    expected = ["Welcome", "to", "AML", "please", "fasten", "your", "seat-belts"]
    assert one(spark, WELCOME, T.no_punct(T.tokenize("t"))) == expected
    assert one(spark, WELCOME, T.split_normalized(T.no_punct_text("t"))) == expected
    assert one(spark, "--a-b-- (x) !!! 'it's'", T.no_punct(T.tokenize("t"))) == ["a-b", "x", "it's"]


def test_lowercase(spark):
    assert one(spark, FOX, T.lowercase(T.tokenize("t"))) == FOX.lower().split()
    assert one(spark, "ÀÉ Straße", T.split_normalized(T.lowercase_text("t"))) == ["àé", "straße"]


def test_tokenize_on_whitespace_only(spark):
    assert one(spark, "email-subject here", T.tokenize("t")) == ["email-subject", "here"]
    assert one(spark, " a\t\tb\nc  ", T.tokenize("t")) == ["a", "b", "c"]
    assert one(spark, "   ", T.tokenize("t")) == []
    assert one(spark, None, T.tokenize("t")) == []


def test_string_fast_paths_agree_with_the_token_array_paths(spark):
    tokens = T.tokenize("t")
    rows = many(
        spark,
        TRICKY,
        T.no_punct(tokens),
        T.split_normalized(T.no_punct_text("t")),
        T.ngram(T.lowercase(T.no_punct(tokens)), 3),
        T.ngram_text(T.lowercase_text(T.no_punct_text("t")), 3),
        T.osb(T.no_punct(tokens), 3),
    )
    for text, (np_arr, np_str, ng_arr, ng_str, osb_arr) in zip(TRICKY, rows):
        assert np_arr == np_str, text
        assert ng_arr == ng_str, text
        words = [w for w in (text or "").split()]
        assert len(osb_arr) == sum(min(2, len(np_arr) - i - 1) for i in range(len(np_arr))), text
        assert len(np_arr) <= len(words)


def test_osb_text_and_the_array_forms_on_n_grams(spark):
    assert one(spark, FOX, T.osb_text("t", 4)) == OSB_FOX_4
    assert one(spark, "  a\tb  ", T.osb_text("t", 3)) == ["a_b"]
    grams = T.ngram(T.tokenize("t"), 2)
    assert one(spark, "(A) B!", T.no_punct(grams)) == ["A", "B", "A) B"]
    assert one(spark, "(A) B!", T.lowercase(grams)) == ["(a)", "b!", "(a) b!"]
    assert one(spark, "", T.no_punct(grams)) == []


def test_prefixes_and_crosses_of_token_arrays(spark):
    assert one(spark, "a b", T.prefixed(T.tokenize("t"), "p=")) == ["p=a", "p=b"]
    assert one(spark, "", T.prefixed(T.tokenize("t"), "p=")) == []
    assert one(spark, "a b", T.prefixed(T.tokenize("t"), "x\ny=")) == ["x\ny=a", "x\ny=b"]  # another separator
    assert one(spark, "a\nb", T.prefixed_any(T.split_normalized("t"), "p=")) == ["p=a\nb"]
    rows = many(spark, ["a b c"], T.cartesian_tokens(T.tokenize("t"), F.array(F.lit("x"), F.lit("y\nz"))))
    assert rows == [(["a_x", "a_y\nz", "b_x", "b_y\nz", "c_x", "c_y\nz"],)]
    assert one(spark, "a b", T.cartesian_tokens(T.tokenize("t"), F.array().cast("array<string>"))) == []

"""The profile's passes on the long form (wide inputs) give the same figures as on the wide plan."""

from __future__ import annotations

import datetime as dt

import pytest

from jobs.profile.attributes import all_attribute_stats
from jobs.profile.prepare import plan_attributes
from jobs.profile.stats import run_passes

# every prepared path: numbers as text and as doubles / ints, binaries as text, ints and booleans, categories
# as text and dates, text, an inferred string; missing, blank and invalid values
ROWS = [
    ("0", 0.5, 3, "yes", 1, True, "red", dt.date(2026, 1, 1), "The cat sat.", "a b", 1.5, "p"),
    ("1.3", None, 1, "No", 0, False, "red", None, "the dog", "a", 2.5, "n"),
    ("2.2", float("nan"), 4, " TRUE ", 2, None, "blue", dt.date(2026, 1, 2), "Cat, cat, CAT!", "b c d e", 0.5, "p"),
    ("2.4", 1e6, 1, "f", None, True, "", dt.date(2026, 1, 1), "", "", None, "n"),
    ("5.1", -2.0, 5, "1", 1, True, "green", None, None, None, 9.0, "p"),
    ("7.7", 3.25, 9, "0", 0, False, "blue", dt.date(2026, 1, 3), "a b c d e", "x y z", 4.0, "n"),
    ("9.6", 0.5, 2, "maybe", 1, True, "", None, "dog --- dog", "x", 4.0, "p"),
    ("10", float("inf"), 6, None, 0, False, "red", dt.date(2026, 1, 1), "sat", "y", 7.25, "n"),
    ("abc", 7.0, 5, "yes", 1, None, None, None, "The end", "z z", -1.0, "p"),
    ("", 7.0, 3, "no", 0, True, "red", dt.date(2026, 1, 5), "end.", "", 3.0, "n"),
    (None, 0.5, 5, "t", 1, False, "blue", None, "!!!", "q", 2.0, "p"),
]
SCHEMA = (
    "num string, dbl double, cnt int, flag string, bit int, yes boolean, color string, day date, txt string, "
    "guess string, y double, label string"
)
TYPES = {
    "num": "NUMERIC",
    "dbl": "NUMERIC",
    "cnt": "NUMERIC",
    "flag": "BINARY",
    "bit": "BINARY",
    "yes": "BINARY",
    "color": "CATEGORICAL",
    "day": "CATEGORICAL",
    "txt": "TEXT",
    "guess": "TEXT",
    "y": "NUMERIC",
    "label": "CATEGORICAL",
}


@pytest.fixture(scope="module")
def frame(spark):
    return spark.createDataFrame(ROWS, SCHEMA)


def both(df, types, target):
    attrs, _ = plan_attributes(df, types)
    return run_passes(df, attrs, target, long=False), run_passes(df, attrs, target, long=True)


@pytest.mark.parametrize("target", ["y", "label", "yes", "txt", None])
def test_long_form_gives_the_wide_figures(frame, target):
    wide, long = both(frame, TYPES, target)
    assert long.rows == wide.rows == len(ROWS)
    assert long.first == wide.first
    assert long.second == wide.second
    assert long.attrs == wide.attrs
    assert all_attribute_stats(long, target) == all_attribute_stats(wide, target)


def test_long_form_of_inferred_types(frame):
    wide, long = both(frame, None, None)
    assert {a.kind for a in wide.attrs} >= {"NUMERIC", "BINARY", "CATEGORICAL"}
    assert (long.first, long.second, long.attrs) == (wide.first, wide.second, wide.attrs)


def test_long_form_of_no_rows(frame):
    wide, long = both(frame.limit(0), TYPES, "y")
    assert long.rows == wide.rows == 0
    assert long.first == wide.first

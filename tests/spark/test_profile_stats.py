"""profile statistics on a small table with hand-computed answers, and the cost in Spark jobs."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from jobs.profile import count_jobs
from jobs.profile.attributes import all_attribute_stats, prominent_without_target
from jobs.profile.correlation import cramers_v
from jobs.profile.prepare import plan_attributes
from jobs.profile.stats import ACCURACY, run_passes

# num, color, flag, txt, same (the target spelled as a category), y (target)
ROWS = [
    ("0", "red", "yes", "The cat sat.", "p", 1),
    ("1.3", "red", "No", "the dog", "n", 0),
    ("2.2", "blue", " TRUE ", "Cat, cat, CAT!", "p", 1),
    ("2.4", "red", "f", "", "n", 0),
    ("5.1", "green", "1", None, "p", 1),
    ("7.7", "blue", "0", "a b c d e", "n", 0),
    ("9.6", "", "maybe", "dog --- dog", "p", 1),
    ("10", "red", None, "sat", "n", 0),
    ("abc", None, "yes", "The end", "p", 1),
    ("", "red", "no", "end.", "n", 0),
    (None, "blue", "t", "!!!", "p", 1),
]
TYPES = {
    "num": "NUMERIC",
    "color": "CATEGORICAL",
    "flag": "BINARY",
    "txt": "TEXT",
    "same": "CATEGORICAL",
    "y": "BINARY",
}
NUMBERS = [0, 1.3, 2.2, 2.4, 5.1, 7.7, 9.6, 10]


@pytest.fixture(scope="module")
def frame(spark):
    return spark.createDataFrame(ROWS, "num string, color string, flag string, txt string, same string, y int")


def passes_in_group(spark, df, types, group):
    """The two passes under a job group; returns (passes, the number of Spark jobs they ran)."""
    attrs, _ = plan_attributes(df, types)
    spark.sparkContext.setJobGroup(group, "test")
    try:
        passes = run_passes(df, attrs, "y" if "y" in df.columns else None)
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
    return passes, count_jobs(spark, group)


@pytest.fixture(scope="module")
def counted(spark, frame):
    return passes_in_group(spark, frame, TYPES, "profile-stats-6")


@pytest.fixture(scope="module")
def profiled(counted):
    return {s["name"]: s for s in all_attribute_stats(counted[0], "y")}


def test_numeric(profiled):
    num = profiled["num"]
    assert (num["rows"], num["count"], num["missing"], num["invalid"]) == (11, 8, 2, 1)
    assert (num["min"], num["max"]) == (0.0, 10.0)
    assert num["mean"] == pytest.approx(sum(NUMBERS) / 8)
    assert num["std"] == pytest.approx(statistics.stdev(NUMBERS))
    # approximate: a value of the data whose rank is within n/ACCURACY of n/2 (here: the lower median, 2.4)
    rank = sorted(NUMBERS).index(num["median"]) + 1
    assert abs(rank - 8 / 2) <= max(1, 8 / ACCURACY)
    assert num["median"] == 2.4
    # 20 bins of width 0.5 from 0 to 10: 0 -> 0, 1.3 -> 2, 2.2 and 2.4 -> 4, 5.1 -> 10, 7.7 -> 15, 9.6 and 10 -> 19
    expected = [0] * 20
    for b in (0, 2, 4, 4, 10, 15, 19, 19):
        expected[b] += 1
    assert num["histogram"]["counts"] == expected
    assert num["histogram"]["edges"][0] == 0.0 and num["histogram"]["edges"][-1] == 10.0
    assert sum(num["deciles"]["counts"]) == 8


def test_categorical_and_binary(profiled):
    color = profiled["color"]
    assert (color["distinct"], color["missing"], color["invalid"]) == (3, 2, None)
    assert color["top_values"] == [
        {"value": "red", "count": 5},
        {"value": "blue", "count": 3},
        {"value": "green", "count": 1},
    ]
    flag = profiled["flag"]
    assert (flag["missing"], flag["invalid"], flag["true_count"], flag["distinct"]) == (1, 1, 5, 2)
    assert flag["percent_true"] == pytest.approx(100 * 5 / 9)
    assert flag["top_values"] == [{"value": "1", "count": 5}, {"value": "0", "count": 4}]


def test_text(profiled):
    txt = profiled["txt"]
    assert (txt["missing"], txt["total_words"], txt["unique_words"]) == (2, 19, 10)
    assert txt["words_per_row"] == {"min": 0, "max": 5}  # "!!!" is present text without a word
    assert txt["word_length"] == {"min": 1, "max": 3}
    assert txt["top_words"][:5] == [
        {"word": "the", "count": 3},
        {"word": "cat", "count": 2},
        {"word": "dog", "count": 2},
        {"word": "end", "count": 2},
        {"word": "sat", "count": 2},
    ]
    assert txt["prominent_words"] == []  # no word is in the 5 rows needed to be judged against the target


def test_correlation_ranks_the_target_copy_first(profiled):
    assert profiled["y"]["is_target"] and profiled["y"]["correlation"] is None
    # `same` spells the target as p/n; `flag` equals it wherever it is valid: both 1, ties ranked by name
    assert profiled["same"]["correlation"] == pytest.approx(1.0)
    assert profiled["flag"]["correlation"] == pytest.approx(1.0)
    assert (profiled["flag"]["rank"], profiled["same"]["rank"]) == (1, 2)
    assert max(profiled[n]["correlation"] for n in ("num", "color")) < 1.0
    ranked = [s for s in profiled.values() if s["correlation"] is not None]
    assert all(0.0 <= s["correlation"] <= 1.0 for s in ranked)


def test_cramers_v_against_its_formula():
    from scipy.stats import chi2_contingency

    assert cramers_v([[5, 5], [5, 5]]) == 0.0
    assert cramers_v([[7, 0], [0, 4]]) == pytest.approx(1.0)
    table = np.array([[30, 10, 5], [10, 25, 20]])
    n = table.sum()
    chi2 = chi2_contingency(table, correction=False)[0]
    phi2 = max(0.0, chi2 / n - (3 - 1) * (2 - 1) / (n - 1))
    r_corr, k_corr = 2 - 1 / (n - 1), 3 - 4 / (n - 1)
    assert cramers_v(table.tolist()) == pytest.approx(math.sqrt(phi2 / min(r_corr - 1, k_corr - 1)))


def test_inferred_types(frame):
    inferred = frame.drop("num", "flag")
    attrs, skipped = plan_attributes(inferred, None)
    stats = {s["name"]: s for s in all_attribute_stats(run_passes(inferred, attrs, None), None)}
    assert {n: (s["type"], s["type_source"]) for n, s in stats.items()} == {
        "color": ("CATEGORICAL", "inferred"),
        "txt": ("CATEGORICAL", "inferred"),  # 19 words over 9 values: under 3 a value, not TEXT
        "same": ("CATEGORICAL", "inferred"),
        "y": ("NUMERIC", "inferred"),
    }
    assert skipped == {}
    assert stats["y"]["correlation"] is None and stats["y"]["mean"] == pytest.approx(6 / 11)


def test_prominent_words_without_target(profiled):
    top = [{"word": w["word"], "count": w["count"]} for w in profiled["txt"]["top_words"]]
    prominent = prominent_without_target(top, 11)
    # rows x ln(N / rows): the 3 x ln(11/3) = 3.90, then the 2-row words 2 x ln(11/2) = 3.41
    assert [w["word"] for w in prominent[:5]] == ["the", "cat", "dog", "end", "sat"]
    assert prominent[0]["score"] == pytest.approx(3 * math.log(11 / 3))


def test_spark_jobs_do_not_grow_with_the_attributes(spark, frame, counted):
    wide = frame
    for k in range(2):  # 6 attributes -> 18
        wide = wide.select("*", *[wide[c].alias(f"{c}_{k}") for c in TYPES])
    wide_types = {c: TYPES[c.split("_")[0]] for c in wide.columns}
    _, many = passes_in_group(spark, wide, wide_types, "profile-stats-18")
    assert counted[1] == many
    assert many <= 4

"""quantile_bin and normalize: fitted edges and moments, ties, missing values, unseen values, save/load."""

from __future__ import annotations

import math

import pytest

from features.numeric import Normalize, NormalizeModel, QuantileBin, QuantileBinModel


def frame(spark, values):
    return spark.createDataFrame([(i, v) for i, v in enumerate(values)], "id int, x double")


def column(df, name):
    return [r[name] for r in df.orderBy("id").collect()]


def test_quantile_bin_edges_and_tokens(spark):
    df = frame(spark, [float(v) for v in range(1, 101)])
    model = QuantileBin(inputCol="x", outputCol="b", numBins=5, relativeError=0.0).fit(df)
    assert model.getOrDefault("edges") == [20.0, 40.0, 60.0, 80.0]
    tokens = column(model.transform(df), "b")
    # bins are [lower, upper): 1..19 -> q0, 20..39 -> q1, ..., 80..100 -> q4
    assert tokens[0] == "q0" and tokens[18] == "q0" and tokens[19] == "q1"
    assert tokens[79] == "q4" and tokens[99] == "q4"
    assert sorted(set(tokens)) == ["q0", "q1", "q2", "q3", "q4"]


def test_quantile_bin_ties_collapse_edges_and_missing_values_get_their_token(spark):
    values = [1.0] * 60 + [2.0] * 30 + [3.0] * 10 + [None, math.nan]
    df = frame(spark, values)
    model = QuantileBin(inputCol="x", outputCol="b", numBins=10, relativeError=0.0).fit(df)
    # The nine cut points are 1.0 (0.1..0.6) and 2.0 (0.7..0.9): two distinct edges, three bins,
    # and the bottom bin (below 1.0) stays empty because bins are [lower, upper).
    assert model.getOrDefault("edges") == [1.0, 2.0]
    tokens = column(model.transform(df), "b")
    assert tokens[0] == "q1" and tokens[60] == "q2" and tokens[90] == "q2"
    assert tokens[100:] == ["q_missing", "q_missing"]


def test_quantile_bin_unseen_values_beyond_the_edges_and_save_load(spark, tmp_path):
    train = frame(spark, [float(v) for v in range(10, 20)])
    model = QuantileBin(inputCol="x", outputCol="b", numBins=5, relativeError=0.0).fit(train)
    path = str(tmp_path / "qb")
    model.save(path)
    loaded = QuantileBinModel.load(path)
    assert loaded.getOrDefault("edges") == model.getOrDefault("edges")
    serve = frame(spark, [-1e9, 9.0, 1e12, math.inf, -math.inf, None])
    top = f"q{len(model.getOrDefault('edges'))}"
    assert column(loaded.transform(serve), "b") == ["q0", "q0", top, top, "q0", "q_missing"]
    assert column(loaded.transform(train), "b") == column(model.transform(train), "b")


def test_quantile_bin_n_range_and_constant_or_empty_columns(spark):
    with pytest.raises(ValueError, match="from 5 to 1000"):
        QuantileBin(inputCol="x", outputCol="b", numBins=4).fit(frame(spark, [1.0, 2.0]))
    const = QuantileBin(inputCol="x", outputCol="b", numBins=5).fit(frame(spark, [7.0] * 5))
    assert const.getOrDefault("edges") == [7.0]
    empty = QuantileBin(inputCol="x", outputCol="b", numBins=5).fit(frame(spark, [None, None]))
    assert empty.getOrDefault("edges") == []
    assert column(empty.transform(frame(spark, [3.0, None])), "b") == ["q0", "q_missing"]


def test_normalize_mean_zero_population_variance_one_and_save_load(spark, tmp_path):
    df = frame(spark, [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0, None])
    model = Normalize(inputCol="x", outputCol="z").fit(df)
    assert model.getOrDefault("mean") == pytest.approx(5.0)
    assert model.getOrDefault("std") == pytest.approx(2.0)  # population standard deviation
    z = column(model.transform(df), "z")
    assert z[:8] == pytest.approx([-1.5, -0.5, -0.5, -0.5, 0.0, 0.0, 1.0, 2.0])
    assert z[8] is None
    path = str(tmp_path / "norm")
    model.save(path)
    assert column(NormalizeModel.load(path).transform(frame(spark, [105.0])), "z") == pytest.approx([50.0])


def test_normalize_constant_column_gives_zero(spark):
    model = Normalize(inputCol="x", outputCol="z").fit(frame(spark, [3.0, 3.0]))
    assert column(model.transform(frame(spark, [3.0, 10.0, None])), "z") == [0.0, 0.0, None]

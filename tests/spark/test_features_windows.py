"""features.windows on small synthetic signals with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from features.window_spec import WindowSpec, feature_columns
from features.windows import expected_windows, segment_readings, window_features, windowed_readings

RATE = 50.0
SINE_HZ = 50.0 * 8 / 128  # 3.125 Hz: whole cycles in a 128-sample window
AMPLITUDE = 2.0
BANDS = ((0.0, 1.0), (1.0, 3.0), (3.0, 6.0), (6.0, 25.0))


def sine_rows(n=256):
    """Entity `s`: a pure sine on `wave`, a constant on `flat`, gravity on `az` plus a sine on `ax`."""
    rows = []
    for i in range(n):
        wave = AMPLITUDE * math.sin(2 * math.pi * SINE_HZ * i / RATE)
        rows.append(("s", 0, i, "walk", wave, 3.0, 0.5 * wave, 0.0, 1.0))
    return rows


def boundary_rows():
    """Entity `b`: labels x (100) y (150) x (100); entity `c`: x (60) then a gap of 10 then x (60)."""
    rows = []
    labels = ["x"] * 100 + ["y"] * 150 + ["x"] * 100
    for i, label in enumerate(labels):
        rows.append(("b", 0, i, label, float(i), 1.0, 0.0, 0.0, 1.0))
    for i in [*range(60), *range(70, 130)]:
        rows.append(("c", 0, i, "x", float(i), 1.0, 0.0, 0.0, 1.0))
    return rows


SCHEMA = "device string, run int, seq long, activity string, wave double, flat double, ax double, ay double, az double"


def spec(**changes):
    base = dict(
        entity=("device", "run"),
        order="seq",
        label="activity",
        channels=("wave", "flat", "ax", "ay", "az"),
        size=128,
        step=64,
        rate_hz=RATE,
        bands=BANDS,
        percentiles=(0.25, 0.5, 0.9),
        magnitudes={"acc_mag": ("ax", "ay", "az")},
        accelerometer=("ax", "ay", "az"),
        correlations=(("wave", "flat", "ax"),),
    )
    base.update(changes)
    return WindowSpec(**base)


@pytest.fixture(scope="module")
def sine_windows(spark):
    df = spark.createDataFrame(sine_rows(), SCHEMA)
    rows = window_features(df, spec()).orderBy("window").collect()
    return [r.asDict() for r in rows]


def test_sine_windows_count_and_bookkeeping(sine_windows):
    assert len(sine_windows) == expected_windows(256, 128, 64) == 3
    assert [(w["window"], w["window_start"], w["window_end"], w["samples"]) for w in sine_windows] == [
        (0, 0, 127, 128),
        (1, 64, 191, 128),
        (2, 128, 255, 128),
    ]
    assert [w["window_id"] for w in sine_windows] == ["s/0/0/0", "s/0/0/1", "s/0/0/2"]
    assert all(w["activity"] == "walk" for w in sine_windows)
    assert list(sine_windows[0])[-len(feature_columns(spec())) :] == feature_columns(spec())


def test_pure_sine_dominant_frequency_and_band_energy(sine_windows):
    for w in sine_windows:
        assert w["wave_dom_freq"] == pytest.approx(SINE_HZ)
        assert w["wave_band_3_6"] == pytest.approx(AMPLITUDE**2 / 2)  # all the power in the band holding 3.125 Hz
        for band in ("wave_band_0_1", "wave_band_1_3", "wave_band_6_25"):
            assert w[band] == pytest.approx(0.0, abs=1e-9)
        assert w["wave_energy"] == pytest.approx(AMPLITUDE**2 / 2)
        assert w["wave_std"] == pytest.approx(AMPLITUDE / math.sqrt(2))
        assert w["wave_mean"] == pytest.approx(0.0, abs=1e-9)
        assert w["wave_max"] == pytest.approx(AMPLITUDE, rel=1e-3)
        assert w["wave_mad"] == pytest.approx(2 * AMPLITUDE / math.pi, rel=0.02)  # mean |sin| = 2/pi, sampled


def test_constant_has_no_spread_no_spectrum_no_correlation(sine_windows):
    w = sine_windows[0]
    assert (w["flat_std"], w["flat_mad"], w["flat_min"], w["flat_max"], w["flat_p50"]) == (0.0, 0.0, 3.0, 3.0, 3.0)
    assert w["flat_energy"] == pytest.approx(9.0)
    assert w["flat_dom_freq"] == 0.0
    assert all(w[f"flat_band_{b}"] == pytest.approx(0.0, abs=1e-12) for b in ("0_1", "1_3", "3_6", "6_25"))
    assert w["corr_wave_flat"] == 0.0
    assert w["corr_wave_ax"] == pytest.approx(1.0)


def test_percentiles_and_mad_match_numpy(sine_windows):
    values = np.array([r[4] for r in sine_rows()][64:192])
    w = sine_windows[1]
    assert w["wave_p25"] == pytest.approx(np.percentile(values, 25))
    assert w["wave_p90"] == pytest.approx(np.percentile(values, 90))
    assert w["wave_mad"] == pytest.approx(np.mean(np.abs(values - values.mean())))


def test_gravity_split(sine_windows):
    w = sine_windows[0]
    # gravity is all on z: angle 0 to z, a right angle to x and y; its norm is 1 g
    assert w["az_gravity_angle"] == pytest.approx(0.0, abs=0.01)
    assert w["ax_gravity_angle"] == pytest.approx(math.pi / 2, abs=0.05)
    assert w["ay_gravity_angle"] == pytest.approx(math.pi / 2)
    assert w["ax_gravity_norm"] == pytest.approx(1.0, abs=0.01)
    # the body keeps the 3 Hz motion (a 0.3 Hz low-pass barely touches it), z's body is 0
    assert w["ax_body_dom_freq"] == pytest.approx(SINE_HZ)
    assert w["ax_body_std"] == pytest.approx(w["ax_std"], rel=0.1)
    assert w["az_body_std"] == pytest.approx(0.0, abs=1e-9)
    assert w["acc_mag_min"] >= 1.0 - 1e-9


@pytest.fixture(scope="module")
def boundary_windows(spark):
    df = spark.createDataFrame(boundary_rows(), SCHEMA)
    small = spec(size=50, step=25, spectral=False, accelerometer=None, magnitudes={}, correlations=())
    return df, small, [r.asDict() for r in window_features(df, small).collect()]


def test_windows_stop_at_label_changes_and_entities(boundary_windows):
    _, _, windows = boundary_windows
    per_segment = {}
    for w in windows:
        per_segment.setdefault((w["device"], w["segment"], w["activity"]), []).append(w)
    counts = {k: len(v) for k, v in per_segment.items()}
    # b: x 100 -> 3, y 150 -> 5, x 100 -> 3 (the second x run is a new segment); c: one segment of 120 -> 3
    assert counts == {("b", 0, "x"): 3, ("b", 1, "y"): 5, ("b", 2, "x"): 3, ("c", 0, "x"): 3}
    spans = {("b", 0): (0, 99), ("b", 1): (100, 249), ("b", 2): (250, 349), ("c", 0): (0, 129)}
    for w in windows:
        lo, hi = spans[(w["device"], w["segment"])]
        assert lo <= w["window_start"] and w["window_end"] <= hi and w["samples"] == 50
        # the channel is the sequence number itself: min/max are the window's first/last reading
        assert (w["wave_min"], w["wave_max"]) == (w["window_start"], w["window_end"])


def test_a_gap_cuts_and_label_filter_after_segmenting(boundary_windows):
    df, _, _ = boundary_windows
    plain = dict(size=50, step=25, spectral=False, accelerometer=None, magnitudes={}, correlations=())
    both = spec(**plain, max_gap=1, labels=("x",))
    starts = sorted((w["device"], w["segment"], w["window_start"]) for w in window_features(df, both).collect())
    # c: 60 readings each side of the gap, one window each; b: the y run still separates the two x runs
    assert [s for s in starts if s[0] == "c"] == [("c", 0, 0), ("c", 1, 70)]
    assert sorted({s[:2] for s in starts if s[0] == "b"}) == [("b", 0), ("b", 2)]


def test_overlap_puts_inner_readings_in_two_windows(boundary_windows, spark):
    df, small, _ = boundary_windows
    windowed = windowed_readings(df.where("device = 'b' AND activity = 'y'"), small)
    per_reading = {r["seq"]: r["count"] for r in windowed.groupBy("seq").count().collect()}
    # 150 readings, windows at 0, 25, ..., 100 (size 50): the first and last 25 are in one window
    assert len(per_reading) == 150
    assert sorted(set(per_reading.values())) == [1, 2]
    assert sorted(s for s, c in per_reading.items() if c == 1) == [*range(100, 125), *range(225, 250)]
    assert sum(per_reading.values()) == 5 * 50


def test_windows_in_seconds(spark):
    import datetime as dt

    t0 = dt.datetime(2026, 1, 1)
    rows = [("t", 0, t0 + dt.timedelta(seconds=i / 10), "x", float(i)) for i in range(100)]  # 10 s at 10 Hz
    df = spark.createDataFrame(rows, "device string, run int, ts timestamp, activity string, wave double")
    timed = WindowSpec(
        entity=("device",), order="ts", label="activity", channels=("wave",), size=2.0, step=1.0,
        unit="seconds", rate_hz=10.0, bands=((0.0, 5.0),), percentiles=(),
    )  # fmt: skip
    windows = sorted(window_features(df, timed).collect(), key=lambda w: w["window"])
    assert len(windows) == 9  # [0,2), [1,3), ..., [8,10): the last ends one period after the last reading
    assert all(w["samples"] == 20 for w in windows)
    assert windows[3]["wave_min"] == 30.0 and windows[3]["wave_max"] == 49.0


def test_segments_are_numbered_per_entity(boundary_windows):
    df, small, _ = boundary_windows
    seg = segment_readings(df, small)
    firsts = {(r["device"], r["segment"]): r["min(seq)"] for r in seg.groupBy("device", "segment").min("seq").collect()}
    assert firsts == {("b", 0): 0, ("b", 1): 100, ("b", 2): 250, ("c", 0): 0}


def test_spec_problems_are_named():
    with pytest.raises(ValueError, match="rate_hz"):
        WindowSpec(entity=("d",), order="t", channels=("x",), size=4, step=2)
    with pytest.raises(ValueError, match="magnitude m"):
        WindowSpec(
            entity=("d",), order="t", channels=("x",), size=4, step=2, spectral=False, magnitudes={"m": ("x", "q")}
        )

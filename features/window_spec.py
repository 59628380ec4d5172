"""What a time-window feature set computes: its spec (`WindowSpec`) and the names of its columns.

The rules are in features/windows.py; this module holds what both the windows and their spectra
(features/windows_spectral.py) need, so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

UNITS = ("samples", "seconds")
DEFAULT_PERCENTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
DEFAULT_BANDS = ((0.0, 1.0), (1.0, 3.0), (3.0, 6.0), (6.0, 12.0), (12.0, 25.0))
KEYS = ("segment", "window")


@dataclass(frozen=True)
class WindowSpec:
    """What to cut and what to compute; see the module docstring for the rules."""

    entity: Tuple[str, ...]
    order: str
    channels: Tuple[str, ...]
    size: float
    step: float
    unit: str = "samples"
    label: Optional[str] = None
    labels: Optional[Tuple[str, ...]] = None
    max_gap: Optional[float] = None
    complete_only: bool = True
    rate_hz: Optional[float] = None
    magnitudes: Dict[str, Tuple[str, ...]] = field(default_factory=dict)
    accelerometer: Optional[Tuple[str, ...]] = None
    gravity_cutoff_hz: float = 0.3
    percentiles: Tuple[float, ...] = DEFAULT_PERCENTILES
    bands: Tuple[Tuple[float, float], ...] = DEFAULT_BANDS
    spectral: bool = True
    correlations: Tuple[Tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        for problem in spec_problems(self):
            raise ValueError(problem)


def spec_problems(spec: WindowSpec) -> List[str]:
    """What is inconsistent in a spec (empty when it is usable)."""
    problems = []
    if spec.unit not in UNITS:
        problems.append(f"unit must be one of {', '.join(UNITS)}, got {spec.unit!r}")
    if not spec.size > 0 or not spec.step > 0:
        problems.append("size and step must be positive")
    if spec.unit == "samples" and (spec.size != int(spec.size) or spec.step != int(spec.step)):
        problems.append("size and step in samples must be whole numbers")
    if (spec.unit == "seconds" or spec.spectral or spec.accelerometer) and not spec.rate_hz:
        problems.append("rate_hz is needed for windows in seconds, spectra and the gravity split")
    if spec.accelerometer is not None and len(spec.accelerometer) != 3:
        problems.append("accelerometer must name three channels (x, y, z)")
    if any(not 0 <= p <= 1 for p in spec.percentiles):
        problems.append("percentiles must be between 0 and 1")
    if any(not 0 <= lo < hi for lo, hi in spec.bands):
        problems.append("every band must be [lo, hi) with 0 <= lo < hi")
    known = set(stat_channels(spec))
    for name, parts in spec.magnitudes.items():
        missing = [c for c in parts if c not in known or c in spec.magnitudes]
        if missing or len(parts) < 2:
            problems.append(f"magnitude {name} needs two or more channels, unknown: {', '.join(missing)}")
    for group in spec.correlations:
        missing = [c for c in group if c not in known]
        if missing or len(group) < 2:
            problems.append(f"correlation group needs two or more channels, unknown: {', '.join(missing)}")
    return problems


# --- names ---------------------------------------------------------------------------------


def body_channels(spec: WindowSpec) -> List[str]:
    """The body axes of the gravity split, `<axis>_body`."""
    return [f"{c}_body" for c in spec.accelerometer or ()]


def stat_channels(spec: WindowSpec) -> List[str]:
    """Every channel summarized per window: raw, body axes, magnitudes."""
    return [*spec.channels, *body_channels(spec), *spec.magnitudes]


def _number(value: float) -> str:
    """A number as a column-name piece: 0.25 -> 0p25, 3.0 -> 3."""
    text = f"{value:g}"
    return text.replace(".", "p").replace("-", "m")


def percentile_names(spec: WindowSpec, channel: str) -> List[str]:
    """`<channel>_p10` style names of the percentiles."""
    return [f"{channel}_p{_number(p * 100)}" for p in spec.percentiles]


def band_names(spec: WindowSpec, channel: str) -> List[str]:
    """`<channel>_band_<lo>_<hi>` names of the band energies (Hz)."""
    return [f"{channel}_band_{_number(lo)}_{_number(hi)}" for lo, hi in spec.bands]


def correlation_pairs(spec: WindowSpec) -> List[Tuple[str, str]]:
    """Every pair of channels within each correlation group, in order, once."""
    pairs: List[Tuple[str, str]] = []
    for group in spec.correlations:
        for i, a in enumerate(group):
            pairs += [(a, b) for b in group[i + 1 :] if (a, b) not in pairs]
    return pairs


def gravity_names(spec: WindowSpec) -> List[str]:
    """The gravity columns: angle to each axis and the norm of the mean gravity vector."""
    if not spec.accelerometer:
        return []
    return [*(f"{c}_gravity_angle" for c in spec.accelerometer), f"{spec.accelerometer[0]}_gravity_norm"]


def stat_names(spec: WindowSpec) -> List[str]:
    """The time-domain feature columns (percentiles included), in output order."""
    names = []
    for c in stat_channels(spec):
        names += [f"{c}_{s}" for s in ("mean", "std", "min", "max")]
        names += [*percentile_names(spec, c), f"{c}_mad", f"{c}_energy"]
    names += [f"corr_{a}_{b}" for a, b in correlation_pairs(spec)]
    return names + gravity_names(spec)


def spectral_names(spec: WindowSpec) -> List[str]:
    """The frequency-domain feature columns, in output order."""
    if not spec.spectral:
        return []
    return [n for c in stat_channels(spec) for n in [*band_names(spec, c), f"{c}_dom_freq"]]


def array_names(spec: WindowSpec) -> List[str]:
    """The columns computed on the window's array (windows_spectral): percentiles and spectra, per channel."""
    names = []
    for c in stat_channels(spec):
        names += percentile_names(spec, c)
        names += [*band_names(spec, c), f"{c}_dom_freq"] if spec.spectral else []
    return names


def aggregate_names(spec: WindowSpec) -> List[str]:
    """The columns computed with Spark's aggregates (window_stats)."""
    computed = set(array_names(spec))
    return [n for n in stat_names(spec) if n not in computed]


def feature_columns(spec: WindowSpec) -> List[str]:
    """Every feature column `window_features` adds, in order."""
    return stat_names(spec) + spectral_names(spec)


def window_keys(spec: WindowSpec) -> List[str]:
    """The columns that identify a window: the entity columns, `segment`, `window`."""
    return [*spec.entity, *KEYS]

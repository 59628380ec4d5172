"""Correlation to the target on one scale for every type pair: bias-corrected Cramér's V (a lakeml decision).

Amazon ML published a "correlation to target" per attribute without saying how it was
computed. lakeml puts every attribute and the target into categories and measures the
association of the two with Cramér's V, bias-corrected (Bergsma 2013), which lies in [0, 1]
whatever the types, so attributes of any type can be ranked against each other:

- NUMERIC attribute: its decile bins (from the approximate percentiles of pass 1);
- CATEGORICAL / BINARY attribute: its values, the TOP most frequent kept, the rest as one `other`;
- TEXT attribute: for each of its TOP_WORDS most frequent words present in at least
  max(MIN_WORD_ROWS, 1% of rows) rows, the 2 x k table of rows with / without the word; the
  attribute's value is the strongest word's (the best one-word split of the target);
- target: BINARY 0/1, CATEGORICAL its TOP classes plus `other`, NUMERIC its decile bins.
Rows missing the attribute or the target are left out. The bias correction takes the
expected chi-square of unrelated variables off, so a noise column scores near 0 even with
many bins on few rows, where the plain V would not.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence

Table = Dict[Optional[str], Dict[Optional[str], int]]  # attribute category -> target bin -> count

MIN_WORD_ROWS = 5
MIN_WORD_FRACTION = 0.01
TOP_TARGET_CLASSES = 20


def cramers_v(table: Sequence[Sequence[float]]) -> Optional[float]:
    """Bias-corrected Cramér's V of a contingency table (rows x columns); None without data."""
    rows = [list(r) for r in table if sum(r) > 0]
    if not rows:
        return None
    col_sums = [sum(c) for c in zip(*rows)]
    keep = [j for j, s in enumerate(col_sums) if s > 0]
    rows = [[r[j] for j in keep] for r in rows]
    col_sums = [col_sums[j] for j in keep]
    row_sums = [sum(r) for r in rows]
    n = float(sum(row_sums))
    r, k = len(rows), len(col_sums)
    if r < 2 or k < 2 or n < 2:
        return 0.0
    chi2 = 0.0
    for i, row in enumerate(rows):
        for j, observed in enumerate(row):
            expected = row_sums[i] * col_sums[j] / n
            chi2 += (observed - expected) ** 2 / expected
    phi2 = max(0.0, chi2 / n - (k - 1) * (r - 1) / (n - 1))
    r_corr = r - (r - 1) ** 2 / (n - 1)
    k_corr = k - (k - 1) ** 2 / (n - 1)
    denom = min(r_corr - 1, k_corr - 1)
    if denom <= 0:
        return 0.0
    return min(1.0, math.sqrt(phi2 / denom))


def fold_target(table: Table, keep: Sequence[str]) -> Table:
    """Target bins outside `keep` merged into one `other` bin; rows with no target dropped."""
    out: Table = {}
    for value, by_bin in table.items():
        row = out.setdefault(value, {})
        for tbin, count in by_bin.items():
            if tbin is None:
                continue
            key = tbin if tbin in keep else None
            row[key] = row.get(key, 0) + count
    return out


def top_target_bins(totals: Dict[Optional[str], int], limit: int = TOP_TARGET_CLASSES) -> List[str]:
    """The most frequent target bins (all of them for BINARY and NUMERIC targets)."""
    present = [(b, c) for b, c in totals.items() if b is not None]
    return [b for b, _ in sorted(present, key=lambda bc: (-bc[1], bc[0]))[:limit]]


def as_matrix(table: Table) -> List[List[int]]:
    """A Table as a list of rows over the union of target bins."""
    bins = sorted({b for row in table.values() for b in row}, key=lambda b: (b is None, str(b)))
    return [[row.get(b, 0) for b in bins] for row in table.values()]


def table_v(table: Table, keep: Sequence[str]) -> Optional[float]:
    """Cramér's V of an attribute's value table against the (folded) target."""
    return cramers_v(as_matrix(fold_target(table, keep)))


def word_v(present: Dict[Optional[str], int], totals: Dict[Optional[str], int], keep: Sequence[str]) -> Optional[float]:
    """Cramér's V of a word's presence (rows with / without it) against the target."""
    absent = {b: totals.get(b, 0) - present.get(b, 0) for b in totals}
    return table_v({"with": present, "without": absent}, keep)


def word_scores(words: Table, totals: Dict[Optional[str], int], keep: Sequence[str], rows: int) -> Dict[str, float]:
    """Cramér's V of every word frequent enough to be judged (see MIN_WORD_ROWS, MIN_WORD_FRACTION)."""
    floor = max(MIN_WORD_ROWS, MIN_WORD_FRACTION * rows)
    scores: Dict[str, float] = {}
    for word, by_bin in words.items():
        if word is None or sum(by_bin.values()) < floor:
            continue
        v = word_v(by_bin, totals, keep)
        if v is not None:
            scores[word] = v
    return scores

"""How far each attribute's distribution moved since an earlier profile: the population stability index.

PSI = sum over bins of (cur - prev) * ln(cur / prev), bin shares floored at EPSILON. The bins
(a lakeml decision), computed from the two stored JSONs without touching the data again:
- NUMERIC: the earlier run's decile edges; each run's share below an edge is read off its own
  stored percentiles p1..p99 (a step function, so shares are exact to about 1%); plus one bin
  for missing or invalid values.
- CATEGORICAL / BINARY: the union of both runs' most frequent values, one bin for the rest and
  one for missing values.
- TEXT: the most frequent words of both runs by their share of the words listed, and the
  share of rows with no text.
Thresholds (the usual reading of PSI): below 0.1 stable, 0.1 to 0.25 moderate, from
FLAG_PSI = 0.25 a shift worth looking at: those attributes are flagged.
"""

from __future__ import annotations

import bisect
import math
from typing import Dict, List, Optional, Sequence

EPSILON = 1e-4
FLAG_PSI = 0.25
MODERATE_PSI = 0.1


def psi(prev: Sequence[float], cur: Sequence[float]) -> float:
    """Population stability index of two share vectors over the same bins."""
    total = 0.0
    for p, c in zip(prev, cur):
        p, c = max(p, EPSILON), max(c, EPSILON)
        total += (c - p) * math.log(c / p)
    return total


def share_below(stat: dict, edge: float) -> float:
    """The share of a numeric attribute's present values <= edge, from its stored percentiles."""
    if stat.get("min") is None:
        return 0.0
    if edge < stat["min"]:
        return 0.0
    if edge >= stat["max"]:
        return 1.0
    values = stat["percentiles"]
    return bisect.bisect_right(values, edge) / (len(values) + 1)


def _absent(stat: dict) -> float:
    rows = stat.get("rows") or 0
    return ((stat.get("missing") or 0) + (stat.get("invalid") or 0)) / rows if rows else 0.0


def numeric_shares(stat: dict, edges: Sequence[float]) -> List[float]:
    """Shares of the bins split at `edges`, then the missing/invalid share."""
    absent = _absent(stat)
    below = [0.0] + [share_below(stat, e) for e in edges] + [1.0]
    return [(b - a) * (1 - absent) for a, b in zip(below, below[1:])] + [absent]


def category_shares(stat: dict, values: Sequence[str], key: str = "value") -> List[float]:
    """Shares of the listed values, the rest and the missing rows."""
    rows = stat.get("rows") or 0
    if not rows:
        return [0.0] * (len(values) + 2)
    counts = {item[key]: item["count"] for item in stat.get("top_values") or []}
    listed = [counts.get(v, 0) / rows for v in values]
    missing = (stat.get("missing") or 0) / rows
    return [*listed, max(0.0, 1 - sum(listed) - missing), missing]


def word_shares(stat: dict, words: Sequence[str]) -> List[float]:
    """Shares of each listed word among the listed words' row counts, then the rows without text."""
    counts = {item["word"]: item["count"] for item in stat.get("top_words") or []}
    total = sum(counts.get(w, 0) for w in words) or 1
    rows = stat.get("rows") or 1
    return [counts.get(w, 0) / total for w in words] + [(stat.get("missing") or 0) / rows]


def attribute_psi(prev: dict, cur: dict) -> Optional[float]:
    """PSI of one attribute between two profiles (None when the types differ)."""
    if prev["type"] != cur["type"]:
        return None
    if cur["type"] == "NUMERIC":
        edges = prev["deciles"]["edges"]
        return psi(numeric_shares(prev, edges), numeric_shares(cur, edges))
    if cur["type"] == "TEXT":
        words = sorted({w["word"] for w in (prev.get("top_words") or []) + (cur.get("top_words") or [])})
        return psi(word_shares(prev, words), word_shares(cur, words))
    values = sorted({v["value"] for v in (prev.get("top_values") or []) + (cur.get("top_values") or [])})
    return psi(category_shares(prev, values), category_shares(cur, values))


def verdict(value: Optional[float]) -> str:
    """stable / moderate / shifted / type changed."""
    if value is None:
        return "type changed"
    if value >= FLAG_PSI:
        return "shifted"
    return "moderate" if value >= MODERATE_PSI else "stable"


def compare(prev: dict, cur: dict) -> Dict[str, object]:
    """Every attribute of the current profile against the earlier one, the most moved first."""
    before = {a["name"]: a for a in prev.get("attributes", [])}
    rows = []
    for stat in cur["attributes"]:
        old = before.get(stat["name"])
        value = attribute_psi(old, stat) if old else None
        rows.append(
            {
                "name": stat["name"],
                "psi": value,
                "verdict": verdict(value) if old else "new attribute",
                "flagged": old is None or value is None or value >= FLAG_PSI,
            }
        )
    gone = sorted(set(before) - {s["name"] for s in cur["attributes"]})
    rows += [{"name": n, "psi": None, "verdict": "attribute gone", "flagged": True} for n in gone]
    rows.sort(key=lambda r: (r["psi"] is not None, -(r["psi"] or 0.0), r["name"]))
    return {
        "run_date": prev.get("run_date"),
        "run_id": prev.get("run_id"),
        "threshold": FLAG_PSI,
        "attributes": rows,
        "flagged": [r["name"] for r in rows if r["flagged"]],
    }

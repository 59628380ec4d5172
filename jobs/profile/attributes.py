"""The statistics of each attribute, assembled from the two passes (pure Python, no Spark).

Most frequent words count the rows a word occurs in (a word repeated in one row counts
once). Prominent words (a lakeml decision; Amazon ML did not define them): with a target,
the words whose presence is most associated with it (Cramér's V, see correlation.py); without
one, the words with the highest rows x ln(N / rows), frequent but not in every row.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional

from jobs.profile.correlation import table_v, top_target_bins, word_scores
from jobs.profile.prepare import BINARY, CATEGORICAL, NUMERIC, TEXT, Attr
from jobs.profile.stats import TARGET_SLOT, Passes, decile_edges, find, histogram_edges

SHOWN = 10  # values and words listed per attribute


def _int(value) -> int:
    return int(value or 0)


def _round(value: Optional[float]) -> Optional[float]:
    return None if value is None else float(value)


def value_counts(table: Dict[Optional[str], Dict[Optional[str], int]]) -> Dict[Optional[str], int]:
    """Counts by value over all target bins."""
    return {value: sum(by_bin.values()) for value, by_bin in table.items()}


def binned_counts(slot: Optional[dict], bins: int) -> List[int]:
    """Counts of bins 0..bins-1 from a numeric slot."""
    counts = value_counts(slot["counts"]) if slot else {}
    return [counts.get(str(k), 0) for k in range(bins)]


def numeric_stats(a: Attr, p: Passes) -> dict:
    """NUMERIC: count, min, median, mean, max, std, percentiles, histogram and decile counts."""
    f, i = p.first, a.index
    pct = [float(v) for v in (f.get(f"pct_{i}") or [])]
    edges = histogram_edges(f.get(f"min_{i}"), f.get(f"max_{i}"))
    deciles = decile_edges(pct)
    return {
        "count": _int(f.get(f"count_{i}")),
        "min": _round(f.get(f"min_{i}")),
        "median": pct[49] if pct else None,
        "mean": _round(f.get(f"mean_{i}")),
        "max": _round(f.get(f"max_{i}")),
        "std": _round(f.get(f"std_{i}")),
        "percentiles": pct,  # p1 .. p99
        "histogram": {"edges": edges, "counts": binned_counts(p.second.get(f"{i}h"), max(len(edges) - 1, 0))},
        "deciles": {"edges": deciles, "counts": binned_counts(p.second.get(f"{i}q"), len(deciles) + 1 if pct else 0)},
    }


def top_list(slot: Optional[dict], key: str) -> List[dict]:
    """The ranked values of a slot (other excluded), most frequent first, ties by value."""
    counts = value_counts(slot["counts"]) if slot else {}
    ranked = sorted(((v, c) for v, c in counts.items() if v is not None), key=lambda vc: (-vc[1], vc[0]))
    return [{key: v, "count": c} for v, c in ranked]


def categorical_stats(a: Attr, p: Passes) -> dict:
    """CATEGORICAL / BINARY: distinct count, most frequent values, the rest; BINARY % true."""
    slot = p.second.get(f"{a.index}v")
    top = top_list(slot, "value")
    out = {
        "distinct": slot["distinct"] if slot else 0,
        "top_values": top,
        "other_count": value_counts(slot["counts"]).get(None, 0) if slot else 0,
    }
    if a.kind == BINARY:
        trues = _int(p.first.get(f"true_{a.index}"))
        present = p.rows - _int(p.first.get(f"missing_{a.index}")) - _int(p.first.get(f"invalid_{a.index}"))
        out["true_count"] = trues
        out["percent_true"] = 100.0 * trues / present if present else None
    return out


def prominent_without_target(top: List[dict], rows: int) -> List[dict]:
    """Words by rows x ln(N / rows): frequent, but not in every row."""
    scored = [(w["word"], w["count"] * math.log(rows / w["count"])) for w in top if 0 < w["count"] < rows]
    scored.sort(key=lambda ws: (-ws[1], ws[0]))
    return [{"word": w, "score": s} for w, s in scored[:SHOWN]]


def text_stats(a: Attr, p: Passes, keep: Optional[List[str]]) -> dict:
    """TEXT: words in total and unique, words per row and word length ranges, frequent and prominent words."""
    f, i = p.first, a.index
    slot = p.second.get(f"{i}w")
    top = top_list(slot, "word")
    out = {
        "total_words": _int(f.get(f"words_{i}")),
        "unique_words": slot["distinct"] if slot else 0,
        "words_per_row": {"min": f.get(f"min_words_{i}"), "max": f.get(f"max_words_{i}")},
        "word_length": {"min": slot["min_len"] if slot else None, "max": slot["max_len"] if slot else None},
        "top_words": top[:SHOWN],
    }
    if keep is None or slot is None:
        out["prominent_words"] = prominent_without_target(top, p.rows)
        out["prominent_by"] = "rows x ln(N / rows)"
        out["_word_v"] = None
        return out
    scores = word_scores(slot["counts"], p.second[TARGET_SLOT]["counts"][""], keep, p.rows)
    ranked = sorted(scores.items(), key=lambda ws: (-ws[1], ws[0]))
    out["prominent_words"] = [{"word": w, "score": s} for w, s in ranked[:SHOWN]]
    out["prominent_by"] = "Cramér's V of the word's presence with the target"
    out["_word_v"] = ranked[0][1] if ranked else None
    return out


def correlation(a: Attr, p: Passes, keep: Optional[List[str]], stats: dict) -> Optional[float]:
    """The attribute's bias-corrected Cramér's V with the target (None without a target)."""
    if keep is None:
        return None
    if a.kind == TEXT:
        return stats.pop("_word_v")
    slot = p.second.get(f"{a.index}q" if a.kind == NUMERIC else f"{a.index}v")
    return table_v(slot["counts"], keep) if slot else None


def attribute_stats(a: Attr, p: Passes, target: Optional[str], keep: Optional[List[str]]) -> dict:
    """Every statistic of one attribute, with its type and where the type came from."""
    i = a.index
    base = {
        "name": a.name,
        "type": a.kind,
        "type_source": "inferred" if a.inferred else "schema",
        "is_target": a.name == target,
        "rows": p.rows,
        "missing": _int(p.first.get(f"missing_{i}")),
        "invalid": _int(p.first.get(f"invalid_{i}")) if a.kind in (NUMERIC, BINARY) else None,
    }
    if a.kind == NUMERIC:
        stats = numeric_stats(a, p)
    elif a.kind in (CATEGORICAL, BINARY):
        stats = categorical_stats(a, p)
    else:
        stats = text_stats(a, p, None if a.name == target else keep)
    corr = None if a.name == target else correlation(a, p, keep, stats)
    stats.pop("_word_v", None)
    return {**base, **stats, "correlation": corr}


def target_keep(p: Passes, target: Optional[Attr]) -> Optional[List[str]]:
    """The target bins correlations use (None when there is no usable target)."""
    if target is None or target.kind == TEXT or TARGET_SLOT not in p.second:
        return None
    return top_target_bins(p.second[TARGET_SLOT]["counts"].get("", {}))


def rank_key(stat: dict):
    """Target first, then by correlation (highest first, none last), then by name."""
    corr = stat["correlation"]
    return (not stat["is_target"], corr is None, -(corr or 0.0), stat["name"])


def all_attribute_stats(p: Passes, target_name: Optional[str]) -> List[dict]:
    """The statistics of every attribute, in report order."""
    target = find(p.attrs, target_name)
    keep = target_keep(p, target)
    stats = [attribute_stats(a, p, target_name, keep) for a in p.attrs]
    stats.sort(key=rank_key)
    for rank, stat in enumerate(s for s in stats if s["correlation"] is not None):
        stat["rank"] = rank + 1
    for stat in stats:
        stat.setdefault("rank", None)
    return stats

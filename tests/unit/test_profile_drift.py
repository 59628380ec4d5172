"""profile --compare-to: the population stability index over stored profiles (pure, no Spark)."""

from __future__ import annotations

import math

import pytest

from jobs.profile.drift import FLAG_PSI, compare, numeric_shares, psi, share_below


def numeric(values, missing=0, name="x"):
    """A NUMERIC attribute's stored statistics from its values (percentiles by the nearest rank)."""
    ordered = sorted(values)
    n = len(ordered)
    pct = [ordered[max(0, math.ceil(p / 100 * n) - 1)] for p in range(1, 100)]
    return {
        "name": name,
        "type": "NUMERIC",
        "rows": n + missing,
        "missing": missing,
        "invalid": 0,
        "min": ordered[0],
        "max": ordered[-1],
        "percentiles": pct,
        "deciles": {"edges": sorted({pct[p - 1] for p in range(10, 100, 10)})},
    }


def categorical(counts, missing=0, name="c"):
    rows = sum(counts.values()) + missing
    top = [{"value": v, "count": c} for v, c in sorted(counts.items(), key=lambda vc: -vc[1])]
    return {"name": name, "type": "CATEGORICAL", "rows": rows, "missing": missing, "top_values": top}


def test_psi_of_equal_shares_is_zero_and_grows_with_the_shift():
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert psi([0.5, 0.5], [0.6, 0.4]) == pytest.approx(0.1 * math.log(1.2) + 0.1 * math.log(1.25))
    assert psi([0.5, 0.5], [0.9, 0.1]) > psi([0.5, 0.5], [0.6, 0.4])


def test_numeric_shares_follow_the_percentiles():
    stat = numeric(list(range(1, 101)))
    assert share_below(stat, 50) == pytest.approx(0.5)
    assert share_below(stat, 0) == 0.0 and share_below(stat, 100) == 1.0
    shares = numeric_shares(stat, stat["deciles"]["edges"])
    assert sum(shares) == pytest.approx(1.0)
    assert all(s == pytest.approx(0.1) for s in shares[:-1]) and shares[-1] == 0.0


def test_compare_flags_shifts_missing_values_and_new_categories():
    before = {
        "run_date": "2026-01-01",
        "run_id": "r1",
        "attributes": [numeric(list(range(100))), numeric(list(range(100)), name="y"), categorical({"a": 50, "b": 50})],
    }
    after = {
        "attributes": [
            numeric([v + 30 for v in range(100)]),  # shifted
            numeric(list(range(100)), missing=40, name="y"),  # the same values, 40 % more missing
            categorical({"a": 48, "b": 52}),  # the same within noise
            categorical({"z": 1}, name="new"),
        ]
    }
    result = compare(before, after)
    by_name = {a["name"]: a for a in result["attributes"]}
    assert by_name["x"]["psi"] >= FLAG_PSI and by_name["y"]["psi"] >= FLAG_PSI
    assert by_name["c"]["psi"] < 0.1 and not by_name["c"]["flagged"]
    assert by_name["new"]["verdict"] == "new attribute"
    assert result["attributes"][0]["name"] == "new" and set(result["flagged"]) == {"new", "x", "y"}

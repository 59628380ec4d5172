"""The suggested recipe (numerics binned by the data, text as bigrams, the rest as-is) and recipe printing."""

from __future__ import annotations

import json
from typing import Any, Dict, List

from pyspark.sql import functions as F

from features import numeric as num
from features.recipe.expressions import quote_name
from features.recipe.parse import SECTIONS
from features.schema import feature_attributes, load_schema

SUGGESTED_BINS = (5, 10, 20, 50, 100, 200, 500)


def suggest_recipe(schema: Dict[str, Any], df: Any = None) -> Dict[str, Any]:
    """A starting recipe: numerics binned (n from the data), text as ngram 2 of lowercase(no_punct), the rest as-is."""
    schema = load_schema(schema)
    attrs = feature_attributes(schema)
    numerics = [a for a, t in attrs.items() if t == "NUMERIC"]
    bins = {a: 10 for a in numerics}
    if df is not None and numerics:
        aggs = [F.count(F.lit(1)).alias("__rows")]
        aggs += [F.approx_count_distinct(num.numeric_value(F.col(a))).alias(f"__d{i}") for i, a in enumerate(numerics)]
        row = df.agg(*aggs).first()
        for i, a in enumerate(numerics):
            bins[a] = suggested_bins(row[f"__d{i}"], row["__rows"])
    groups: Dict[str, str] = {}
    outputs: List[str] = []
    for n in sorted(set(bins.values())):
        members = [a for a in numerics if bins[a] == n]
        groups[f"NUMERIC_VARS_QB_{n}"] = "group(" + ", ".join(quote_name(a) for a in members) + ")"
        outputs.append(f"quantile_bin(NUMERIC_VARS_QB_{n}, {n})")
    kinds = set(attrs.values())
    if "TEXT" in kinds:
        outputs.append("ngram(lowercase(no_punct(ALL_TEXT)), 2)")
    if "CATEGORICAL" in kinds:
        outputs.append("ALL_CATEGORICAL")
    if "BINARY" in kinds:
        outputs.append("ALL_BINARY")
    return {"groups": groups, "assignments": {}, "outputs": outputs}


def suggested_bins(distinct: int, rows: int) -> int:
    """The largest of 5..500 (Amazon ML's steps) with >= 2 distinct values and >= 20 rows per bin; at least 5."""
    limit = min(distinct // 2, rows // 20)
    fitting = [n for n in SUGGESTED_BINS if n <= limit]
    return fitting[-1] if fitting else SUGGESTED_BINS[0]


def format_recipe(recipe: Dict[str, Any]) -> str:
    """The recipe as indented JSON, ready to print, edit and pass back to parse_recipe."""
    return json.dumps({k: recipe.get(k, {} if k != "outputs" else []) for k in SECTIONS}, indent=2)

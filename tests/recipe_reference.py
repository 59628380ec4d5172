"""A pure-Python reference of the recipe token rules (docs/amazon-ml.md, "Recipes and transformations").

It evaluates a compiled recipe plan (features.recipe.plan_recipe(...).plan) on one row, token by token,
as the rules are written: whitespace is Java's `\\s`, punctuation is ASCII punctuation plus every
Unicode punctuation character, lowercase is str.lower (Spark's lower agrees on the characters the tests
use). Text and categorical outputs only: quantile_bin and normalize need fitted stages.
"""

from __future__ import annotations

import re
import string
import unicodedata
from typing import Any, Dict, List, Optional, Tuple

JAVA_SPACE = " \t\n\x0b\f\r"
BINARY = {"0": "0", "n": "0", "no": "0", "f": "0", "false": "0", "1": "1", "y": "1", "yes": "1", "t": "1", "true": "1"}


def is_punct(ch: str) -> bool:
    """Java's [\\p{Punct}\\p{IsPunctuation}]."""
    return ch in string.punctuation or unicodedata.category(ch).startswith("P")


def tokenize(text: Optional[str]) -> List[str]:
    """Whitespace tokens; None gives none."""
    return [t for t in re.split(f"[{re.escape(JAVA_SPACE)}]+", text or "") if t]


def strip_punct(token: str) -> str:
    """The token without its leading and trailing punctuation."""
    start, end = 0, len(token)
    while start < end and is_punct(token[start]):
        start += 1
    while end > start and is_punct(token[end - 1]):
        end -= 1
    return token[start:end]


def ngram(tokens: List[str], n: int) -> List[str]:
    """Every k-gram for 1 <= k <= n, unigrams first."""
    return [" ".join(tokens[i : i + k]) for k in range(1, n + 1) for i in range(len(tokens) - k + 1)]


def osb(tokens: List[str], n: int) -> List[str]:
    """For each word, its pairs with each of the next n-1 words."""
    return [tokens[i] + "_" * d + tokens[i + d] for i in range(len(tokens)) for d in range(1, n) if i + d < len(tokens)]


def parse_binary(value: Optional[str]) -> Optional[str]:
    """Amazon ML's binary spellings as the token 0 or 1; None when invalid."""
    return None if value is None else BINARY.get(value.strip(JAVA_SPACE).lower())


def evaluate(node: Dict[str, Any], row: Dict[str, Any]) -> Tuple[str, Any]:
    """('tokens', list) or ('value', str or None) of one plan node on one row."""
    op = node["op"]
    if op == "attr":
        raw = row[node["name"]]
        if node["type"] == "TEXT":
            return "tokens", tokenize(raw)
        return "value", parse_binary(raw) if node["type"] == "BINARY" else raw
    if op == "cartesian":
        (ka, a), (kb, b) = (evaluate(arg, row) for arg in node["args"])
        if ka == kb == "value":
            return "value", None if not a or not b else f"{a}_{b}"
        return "tokens", [f"{x}_{y}" for x in as_list(ka, a) for y in as_list(kb, b)]
    _kind, tokens = evaluate(node["arg"], row)
    if op == "lowercase":
        return "tokens", [t.lower() for t in tokens]
    if op == "no_punct":
        return "tokens", [s for s in map(strip_punct, tokens) if s]
    return "tokens", (ngram if op == "ngram" else osb)(tokens, node["n"])


def as_list(kind: str, data: Any) -> List[str]:
    """A value as its tokens: a single value is one token, none when missing or empty."""
    return data if kind == "tokens" else ([data] if data else [])


def plan_tokens(plan: Dict[str, Any], row: Dict[str, Any]) -> List[str]:
    """All output tokens of the plan for one row, prefixed as RecipeColumns writes them."""
    out: List[str] = []
    for output in plan["tokens"]:
        prefix = output.get("prefix") or ""
        out += [prefix + t for t in as_list(*evaluate(output["expr"], row))]
    return out

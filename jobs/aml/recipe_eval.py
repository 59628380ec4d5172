"""lakeml's recipe stages evaluated on one record in pure Python, token for token as the Spark stages compute them.

The twins of features.stages.RecipeColumns (the plan's `attr`, `col`, `lowercase`, `no_punct`, `ngram`, `osb`,
`cartesian` nodes), features.numeric's fitted quantile_bin / normalize, Spark's HashingTF (murmur3_x86_32 of the
UTF-8 token, seed 42, non-negative modulo) and CountVectorizer: what the real-time endpoint needs to score one
record without a JVM. Token order does not matter downstream (both vectorizers are binary: a token set).
"""

from __future__ import annotations

import bisect
import functools
import math
import re
import string
import sys
import unicodedata
from typing import Any, Dict, List, Optional, Tuple

RAW, TEXT, TOKENS, VALUE, NUMBER, BINARY = "raw", "text", "tokens", "value", "number", "binary"
MISSING_TOKEN = "q_missing"
_JAVA_SPACE = re.compile(r"[ \t\n\x0b\f\r]+")  # Java regex \s, what Spark's split and regexp_replace use
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[dDfF]?")
BINARY_FALSE = ("0", "n", "no", "f", "false")
BINARY_TRUE = ("1", "y", "yes", "t", "true")


@functools.lru_cache(maxsize=1)
def punctuation() -> frozenset:
    """Java's \\p{Punct} (ASCII) plus every Unicode punctuation character (\\p{IsPunctuation})."""
    chars = set(string.punctuation)
    chars.update(chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)).startswith("P"))
    return frozenset(chars)


# --- values as the datasource reader types them ------------------------------------------------


def typed(value: Optional[str], kind: str) -> Any:
    """A record's string value typed as ml.datasource reads a CSV value; ValueError when invalid."""
    if value is None:
        return None
    value = value[:-2] if value.endswith("\r\n") else value[:-1] if value.endswith(("\n", "\r")) else value
    if value.strip(" ") == "":  # Spark's trim: spaces only
        return None
    if kind == "NUMERIC":
        text = value.strip()
        number = float(text.rstrip("dDfF")) if _NUMBER.fullmatch(text) else math.nan
        if not math.isfinite(number):
            raise ValueError("invalid NUMERIC value")
        return number
    if kind == "BINARY":
        parsed = parse_binary(value)
        if parsed is None:
            raise ValueError("invalid BINARY value")
        return parsed
    return value


def parse_binary(value: Any) -> Optional[int]:
    """Amazon ML's binary spellings, trimmed and case-insensitive; None when invalid."""
    if value is None:
        return None
    text = str(value).strip().lower()
    return 1 if text in BINARY_TRUE else 0 if text in BINARY_FALSE else None


# --- text ---------------------------------------------------------------------------------------


def tokenize(text: Optional[str]) -> List[str]:
    """Whitespace tokens (Java \\s), empty ones dropped."""
    return [t for t in _JAVA_SPACE.split(text or "") if t]


def strip_punct(token: str) -> str:
    """Leading and trailing punctuation removed."""
    punct = punctuation()
    start, end = 0, len(token)
    while start < end and token[start] in punct:
        start += 1
    while end > start and token[end - 1] in punct:
        end -= 1
    return token[start:end]


def no_punct(tokens: List[str]) -> List[str]:
    """Every token stripped of edge punctuation; all-punctuation tokens dropped."""
    return [s for s in (strip_punct(t) for t in tokens) if s]


def ngram(tokens: List[str], n: int) -> List[str]:
    """Every k-gram, 1 <= k <= n, words joined by one space."""
    return [" ".join(tokens[i : i + k]) for k in range(1, n + 1) for i in range(len(tokens) - k + 1)]


def osb(tokens: List[str], n: int) -> List[str]:
    """Orthogonal sparse bigrams: w_i + '_' * d + w_(i+d), 1 <= d < n."""
    return [tokens[i] + "_" * d + tokens[i + d] for i in range(len(tokens)) for d in range(1, n) if i + d < len(tokens)]


def category_tokens(value: Any) -> List[str]:
    """A categorical or binary value as one token; missing or '' gives none."""
    return [] if value is None or str(value) == "" else [str(value)]


def as_tokens(value: Any, form: str) -> List[str]:
    """A value of any non-numeric form as its tokens."""
    if form in (RAW, TEXT):
        return tokenize(value)
    if form == TOKENS:
        return value
    return category_tokens(value)


def evaluate(node: Dict[str, Any], row: Dict[str, Any]) -> Tuple[Any, str]:
    """(value, form) of one plan node over a row of typed values and earlier stages' columns."""
    op = node["op"]
    if op == "attr":
        value, kind = row.get(node["name"]), node["type"]
        forms = {"TEXT": RAW, "CATEGORICAL": VALUE, "NUMERIC": NUMBER}
        if kind == "BINARY":
            return parse_binary(value), BINARY
        return (None if value is None else str(value) if kind != "NUMERIC" else value), forms[kind]
    if op == "col":
        return row.get(node["name"]), node["form"]
    if op in ("lowercase", "no_punct"):
        value, form = evaluate(node["arg"], row)
        tokens = as_tokens(value, form)
        return ([t.lower() for t in tokens] if op == "lowercase" else no_punct(tokens)), TOKENS
    if op in ("ngram", "osb"):
        value, form = evaluate(node["arg"], row)
        tokens = as_tokens(value, form)
        return (ngram(tokens, node["n"]) if op == "ngram" else osb(tokens, node["n"])), TOKENS
    if op == "cartesian":
        (a, fa), (b, fb) = evaluate(node["args"][0], row), evaluate(node["args"][1], row)
        return [x + "_" + y for x in as_tokens(a, fa) for y in as_tokens(b, fb)], TOKENS
    raise ValueError(f"unknown plan op {op!r}")


def recipe_columns(plan: Dict[str, Any], tokens_col: str, row: Dict[str, Any]) -> None:
    """RecipeColumns: every output's tokens (prefixed) into tokens_col, numeric outputs into their columns."""
    tokens: List[str] = []
    for out in plan["tokens"]:
        value, form = evaluate(out["expr"], row)
        prefix = out.get("prefix") or ""
        tokens.extend(prefix + t for t in as_tokens(value, form))
    row[tokens_col] = tokens
    for out in plan["numeric"]:
        value, _ = evaluate(out["expr"], row)
        row[out["col"]] = 0.0 if value is None else float(value)


# --- fitted numeric stages ----------------------------------------------------------------------


def quantile_token(value: Optional[float], edges: List[float]) -> str:
    """quantile_bin's token: q<i> for the bin [edges[i-1], edges[i]), q_missing for a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING_TOKEN
    return "q" + str(bisect.bisect_right(edges, float(value)) if edges else 0)


def normalized(value: Optional[float], mean: float, std: float) -> Optional[float]:
    """normalize's value: (x - mean) / std, 0.0 when std is 0, None stays None."""
    if value is None:
        return None
    return 0.0 if std == 0.0 else (float(value) - mean) / std


# --- vectorizers --------------------------------------------------------------------------------

_M32 = 0xFFFFFFFF


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _M32


@functools.lru_cache(maxsize=200_000)
def murmur3_32(data: bytes, seed: int = 42) -> int:
    """MurmurHash3 x86_32 as a signed int (Spark's Murmur3_x86_32.hashUnsafeBytes2)."""
    c1, c2, h = 0xCC9E2D51, 0x1B873593, seed & _M32
    whole = len(data) // 4 * 4
    for i in range(0, whole, 4):
        k = _rotl((int.from_bytes(data[i : i + 4], "little") * c1) & _M32, 15) * c2 & _M32
        h = (_rotl(h ^ k, 13) * 5 + 0xE6546B64) & _M32
    k = 0
    for shift, byte in enumerate(data[whole:]):
        k ^= byte << (8 * shift)
    if len(data) > whole:
        h ^= _rotl((k * c1) & _M32, 15) * c2 & _M32
    h ^= len(data)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _M32
    h ^= h >> 16
    return h - (1 << 32) if h & 0x80000000 else h


def hashed_slots(tokens: List[str], num_features: int) -> List[int]:
    """HashingTF (binary): the sorted distinct slots of the tokens."""
    return sorted({murmur3_32(t.encode("utf-8")) % num_features for t in tokens})


def vocabulary_slots(tokens: List[str], index: Dict[str, int]) -> List[int]:
    """CountVectorizer (binary, minTF 1): the sorted distinct slots of known tokens."""
    return sorted({index[t] for t in tokens if t in index})

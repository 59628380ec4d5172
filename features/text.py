"""Amazon ML text transforms as Spark column functions (built-ins and SQL higher-order functions, no UDFs).

Two representations of a text value:

- a token array (`array<string>`): `tokenize(text)` splits on whitespace (Java `\\s`: space, tab,
  newline, CR, FF, VT) and drops empty tokens; null text gives an empty array. `lowercase`,
  `no_punct`, `ngram` and `osb` take and return token arrays.
- a normalized string (tokens joined by one space, no leading or trailing space):
  `normalize_space`, `lowercase_text`, `no_punct_text` and `ngram_text` work on it with
  code-generated built-ins only (regexp_replace, regexp_extract_all, split, array_join, lower);
  this is the fast path the recipe compiler uses while a value is still a word sequence
  (Spark 3.5 interprets higher-order functions row by row, which measured 30x slower).
  Each `*_text` function gives the same tokens as its array twin (tests check both against the
  reference vectors).

Rules (docs/amazon-ml.md, "Recipes and transformations"):
- `ngram(tokens, n)`: every k-gram for 1 <= k <= n, words joined by one space, unigrams first.
- `osb(tokens, n)`: for every word, the pairs with each of the next n-1 words; the pair is joined
  by `_` plus one more `_` per skipped word (`The_quick`, `The__brown`, `The___fox`); windows
  shrink at the end of the text.
- `no_punct`: strips leading and trailing punctuation of each token; a token made only of
  punctuation disappears; inner punctuation stays (`seat-belts`). Punctuation (the reference
  leaves the set open; project choice) is Java's `\\p{Punct}` (ASCII !"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~)
  plus every Unicode punctuation character (`\\p{IsPunctuation}`: curly quotes, guillemets,
  dashes, ellipsis, inverted marks).
- `lowercase`: Spark's `lower` (locale-independent Unicode lowercasing).
"""

from __future__ import annotations

from typing import Union

from pyspark.sql import Column
from pyspark.sql import functions as F

ColumnOrName = Union[Column, str]

PUNCT = r"[\p{Punct}\p{IsPunctuation}]"
_STRIP_TOKEN = rf"^{PUNCT}+|{PUNCT}+$"
# One whitespace token, its leading and trailing punctuation outside the group, its core inside;
# an all-punctuation token does not match.
_WORD = r"[^\s\p{Punct}\p{IsPunctuation}]"
_TOKEN_CORE = rf"(?<!\S){PUNCT}*({_WORD}(?:\S*{_WORD})?){PUNCT}*(?!\S)"
MIN_N, MAX_N = 2, 10


def _col(c: ColumnOrName) -> Column:
    return F.col(c) if isinstance(c, str) else c


def _empty() -> Column:
    return F.array().cast("array<string>")


def _check_n(n: int, name: str) -> None:
    if not isinstance(n, int) or not MIN_N <= n <= MAX_N:
        raise ValueError(f"{name}: n must be an integer from {MIN_N} to {MAX_N}, got {n!r}")


def normalize_space(text: ColumnOrName) -> Column:
    """Whitespace runs collapsed to one space, ends trimmed; null becomes the empty string."""
    collapsed = F.regexp_replace(F.coalesce(_col(text).cast("string"), F.lit("")), r"\s+", " ")
    return F.trim(collapsed)  # after collapsing, the ends hold at most one space each


def split_normalized(text: ColumnOrName) -> Column:
    """Tokens of an already normalized string (see normalize_space); '' gives an empty array."""
    t = _col(text)
    return F.when(t == "", _empty()).otherwise(F.split(t, " "))


def tokenize(text: ColumnOrName) -> Column:
    """Whitespace tokens of a string column; null or blank text gives an empty array."""
    return split_normalized(normalize_space(text))


def lowercase(tokens: ColumnOrName) -> Column:
    """Every token lowercased."""
    return F.transform(_col(tokens), F.lower)


def lowercase_text(text: ColumnOrName) -> Column:
    """The string lowercased (same tokens as lowercase(tokenize(text)))."""
    return F.lower(_col(text))


def no_punct(tokens: ColumnOrName) -> Column:
    """Leading and trailing punctuation stripped from every token; all-punctuation tokens dropped."""
    stripped = F.transform(_col(tokens), lambda t: F.regexp_replace(t, _STRIP_TOKEN, ""))
    return F.filter(stripped, lambda t: t != "")


def no_punct_text(text: ColumnOrName) -> Column:
    """no_punct on a string; returns a normalized string (same tokens as no_punct(tokenize(text)))."""
    cores = F.regexp_extract_all(_col(text).cast("string"), F.lit(_TOKEN_CORE), 1)
    return F.coalesce(F.array_join(cores, " "), F.lit(""))


def ngram(tokens: ColumnOrName, n: int) -> Column:
    """Every k-gram (1 <= k <= n) of a token array, words joined by one space, unigrams first."""
    _check_n(n, "ngram")
    t = _col(tokens)
    sizes = F.filter(F.sequence(F.lit(1), F.lit(n)), lambda k: k <= F.size(t))
    grams = F.transform(
        sizes,
        lambda k: F.transform(F.sequence(F.lit(1), F.size(t) - k + 1), lambda i: F.array_join(F.slice(t, i, k), " ")),
    )
    return F.flatten(grams)


def ngram_text(text: ColumnOrName, n: int, normalized: bool = False) -> Column:
    """ngram(tokenize(text), n) computed with regular expressions (normalized=True: text is already normalized)."""
    _check_n(n, "ngram")
    s = _col(text) if normalized else normalize_space(text)
    parts = [split_normalized(s)]
    for k in range(2, n + 1):
        pattern = r"(?<=^| )(?=(\S+(?: \S+){" + str(k - 1) + "}))"
        parts.append(F.regexp_extract_all(s, F.lit(pattern), 1))
    return F.concat(*parts)


def osb(tokens: ColumnOrName, n: int) -> Column:
    """Orthogonal sparse bigrams over a window of n words: w_i + '_' * d + w_{i+d} for 1 <= d < n."""
    _check_n(n, "osb")
    t = _col(tokens)
    bars = F.lit("_" * (n - 1))

    def pairs(i: Column) -> Column:
        dists = F.filter(F.sequence(F.lit(1), F.lit(n - 1)), lambda d: i + d <= F.size(t))
        return F.transform(
            dists, lambda d: F.concat(F.element_at(t, i), bars.substr(F.lit(1), d), F.element_at(t, i + d))
        )

    return F.when(F.size(t) > 0, F.flatten(F.transform(F.sequence(F.lit(1), F.size(t)), pairs))).otherwise(_empty())

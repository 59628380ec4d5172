"""Amazon ML text transforms as Spark column functions: code-generated built-ins only, no lambdas, no UDFs.

Two representations of a word sequence and one of a token list:

- a normalized string (tokens joined by one space, no leading or trailing space): `normalize_space`
  makes one, `lowercase_text`, `no_punct_text`, `ngram_text` and `osb_text` take one. This is how
  the recipe compiler keeps a value while it is still a word sequence.
- a token array (`array<string>`): `tokenize(text)` splits on whitespace (Java `\\s`: space, tab,
  newline, CR, FF, VT) and drops empty tokens; null text gives an empty array. `lowercase`,
  `no_punct`, `ngram` and `osb` take and return token arrays whose tokens hold no whitespace other
  than the space (what tokenize, ngram and osb give), and agree with their `*_text` twins.

How they evaluate: every function here is a composition of Spark built-ins that take part in
whole-stage code generation (regexp_replace, regexp_extract_all, split, array_join, array_remove,
lower, concat). n-grams of each size are one `regexp_extract_all` with a look-ahead pattern; all the
orthogonal sparse bigrams are one `regexp_replace` whose look-ahead captures the next n-1 words.
A token list is joined with newlines (which no token holds) where a rule applies to each token.
SQL higher-order functions (`transform`, `filter` and their lambdas) are not used: Spark 3.5
interprets them row by row, and a lambda that refers to a computed array evaluates it again for
every element (issue 30 measured 76x plain pyspark for an assignment and osb). `prefixed_any` and
`cartesian_tokens` are the two exceptions: for tokens that may hold any character, they use a
lambda whose body is only its own variables and literals, over arrays computed before it.

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
- `lowercase`: Spark's `lower`.
- `cartesian_tokens(a, b)`: every token of a joined to every token of b with `_`, a's order outside.
"""

from __future__ import annotations

from typing import Union

from pyspark.sql import Column
from pyspark.sql import functions as F

ColumnOrName = Union[Column, str]

PUNCT = r"[\p{Punct}\p{IsPunctuation}]"
# One whitespace token, its leading and trailing punctuation outside the group, its core inside;
# an all-punctuation token does not match.
_WORD = r"[^\s\p{Punct}\p{IsPunctuation}]"
_TOKEN_CORE = rf"(?<!\S){PUNCT}*({_WORD}(?:\S*{_WORD})?){PUNCT}*(?!\S)"
# Leading and trailing punctuation of each line of a newline-joined token list.
_STRIP_LINE = rf"(?<![^\n]){PUNCT}+|{PUNCT}+(?![^\n])"
# Whitespace that no token of a word sequence holds (normalize_space turns it into spaces).
LIST_SEPARATORS = "\n\t\r\f\x0b"
MIN_N, MAX_N = 2, 10


def _col(c: ColumnOrName) -> Column:
    return F.col(c) if isinstance(c, str) else c


def _empty() -> Column:
    return F.array().cast("array<string>")


def _check_n(n: int, name: str) -> None:
    if not isinstance(n, int) or not MIN_N <= n <= MAX_N:
        raise ValueError(f"{name}: n must be an integer from {MIN_N} to {MAX_N}, got {n!r}")


def _split_nonempty(s: Column, sep: str) -> Column:
    """The non-empty parts of s between separators (sep: one character that is not a regex metacharacter)."""
    return F.array_remove(F.split(s, sep), "")  # Java splits on one plain character without a regex


def normalize_space(text: ColumnOrName) -> Column:
    """Whitespace runs collapsed to one space, ends trimmed; null becomes the empty string."""
    collapsed = F.regexp_replace(F.coalesce(_col(text).cast("string"), F.lit("")), r"\s+", " ")
    return F.trim(collapsed)  # after collapsing, the ends hold at most one space each


def split_normalized(text: ColumnOrName) -> Column:
    """Tokens of an already normalized string (see normalize_space); '' gives an empty array."""
    return _split_nonempty(_col(text), " ")


def tokenize(text: ColumnOrName) -> Column:
    """Whitespace tokens of a string column; null or blank text gives an empty array."""
    return split_normalized(normalize_space(text))


def lowercase_text(text: ColumnOrName) -> Column:
    """The string lowercased (same tokens as lowercase(tokenize(text)))."""
    return F.lower(_col(text))


def no_punct_text(text: ColumnOrName) -> Column:
    """no_punct on a string; returns a normalized string (same tokens as no_punct(tokenize(text)))."""
    cores = F.regexp_extract_all(_col(text).cast("string"), F.lit(_TOKEN_CORE), 1)
    return F.coalesce(F.array_join(cores, " "), F.lit(""))


def ngram_text(text: ColumnOrName, n: int, normalized: bool = False) -> Column:
    """ngram(tokenize(text), n) computed with regular expressions (normalized=True: text is already normalized)."""
    _check_n(n, "ngram")
    s = _col(text) if normalized else normalize_space(text)
    parts = [split_normalized(s)]
    for k in range(2, n + 1):
        pattern = r"(?<=^| )(?=(\S+(?: \S+){" + str(k - 1) + "}))"
        parts.append(F.regexp_extract_all(s, F.lit(pattern), 1))
    return F.concat(*parts)


def osb_text(text: ColumnOrName, n: int, normalized: bool = False) -> Column:
    """osb(tokenize(text), n) in one regexp_replace (normalized=True: text is already normalized).

    Each word becomes its n-1 pairs `w_<TAB>x`, `w__<TAB>y`, ... (the look-ahead captures the next
    words; a missing one leaves the pair ending in its tab), then such pairs and the tabs are removed.
    The removal matches a pair only from its start (`(?<!\\S)`): unanchored, the engine would scan the
    rest of the pair again from every character of it.
    """
    _check_n(n, "osb")
    s = _col(text) if normalized else normalize_space(text)
    ahead = "".join(r"(?: (\S+))?" for _ in range(n - 1))
    pairs = " ".join("$1" + "_" * d + "\t$" + str(d + 1) for d in range(1, n))
    marked = F.regexp_replace(s, r"(\S+)(?=" + ahead + ")", pairs)
    return split_normalized(F.regexp_replace(marked, r"(?<!\S)\S*\t(?!\S)|\t", ""))


def _joined(tokens: ColumnOrName) -> Column:
    return F.array_join(_col(tokens), "\n")


def lowercase(tokens: ColumnOrName) -> Column:
    """Every token lowercased (tokens without newlines)."""
    return _split_nonempty(F.lower(_joined(tokens)), "\n")


def no_punct(tokens: ColumnOrName) -> Column:
    """Leading and trailing punctuation stripped from every token; all-punctuation tokens dropped."""
    return _split_nonempty(F.regexp_replace(_joined(tokens), _STRIP_LINE, ""), "\n")


def ngram(tokens: ColumnOrName, n: int) -> Column:
    """Every k-gram (1 <= k <= n) of a token array, words joined by one space, unigrams first."""
    return ngram_text(F.array_join(_col(tokens), " "), n, normalized=True)


def osb(tokens: ColumnOrName, n: int) -> Column:
    """Orthogonal sparse bigrams over a window of n words: w_i + '_' * d + w_{i+d} for 1 <= d < n."""
    return osb_text(F.array_join(_col(tokens), " "), n, normalized=True)


def separator_for(prefix: str) -> str:
    """A whitespace character that neither the prefix nor any word-sequence token holds."""
    for sep in LIST_SEPARATORS:
        if sep not in prefix:
            return sep
    raise ValueError(f"the output label {prefix!r} holds every whitespace character; rename its attribute")


def prefixed(tokens: ColumnOrName, prefix: str) -> Column:
    """Every token with the prefix in front (tokens of a word sequence: no whitespace but the space)."""
    sep = separator_for(prefix)
    joined = F.concat(F.lit(prefix), F.array_join(_col(tokens), sep + prefix))
    return F.array_remove(F.split(joined, sep), prefix)  # an empty array gives [prefix]


def prefixed_any(tokens: ColumnOrName, prefix: str) -> Column:
    """Every token with the prefix in front, for tokens that may hold any character."""
    return F.transform(_col(tokens), lambda t: F.concat(F.lit(prefix), t))


def cartesian_tokens(a: ColumnOrName, b: ColumnOrName) -> Column:
    """Every token of a joined to every token of b with '_' (a1_b1, a1_b2, ..., a2_b1, ...).

    a is repeated element by element (each token size(b) times: sorting (position, token) pairs),
    b as a whole (size(a) times); one zip_with then joins the pairs. a and b should be columns
    already computed, as each is read more than once.
    """
    left, right = _col(a), _col(b)
    positions = F.arrays_zip(F.sequence(F.lit(1), F.size(left)).alias("i"), left.alias("t"))
    each = F.sort_array(F.flatten(F.array_repeat(positions, F.size(right))))["t"]
    whole = F.flatten(F.array_repeat(right, F.size(left)))
    pairs = F.zip_with(each, whole, lambda x, y: F.concat(x, F.lit("_"), y))
    return F.when((F.size(left) == 0) | (F.size(right) == 0), _empty()).otherwise(pairs)

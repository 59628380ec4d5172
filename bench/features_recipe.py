"""Recipe transformations and compositions: lakeml's fitted recipe vs the same features in plain pyspark.

For each case (one transformation, or a composition with assignments, groups, crosses), at each size:
- lakeml: `compile_recipe(schema, recipe, num_features=2**18)` fitted once (untimed), then its
  transform of the Parquet input with every row's `features` vector computed (the `noop` sink);
- plain: the hand-written pyspark equivalent, fitted once (untimed): RegexTokenizer (whitespace,
  or whitespace plus the punctuation around it for no_punct; toLowercase for lowercase), NGram for
  each k, QuantileDiscretizer, a mean/stddev_pop aggregate for normalize, SQL higher-order
  functions where pyspark has no stage (osb, crosses of token arrays), one HashingTF per output
  and a VectorAssembler, written to the same sink.
Three runs each (lakeml and plain alternating), the median, the ratio lakeml / plain (2.0 = twice
as slow), and `uptime`'s load before each case. Before timing, the tokens of both sides are
compared on the first --check-rows rows (lakeml's token column against the plain token columns,
prefixed as lakeml prefixes them; normalize's values within 1e-9): a case whose tokens differ
is reported as MISMATCH.

Input: N rows (text: 4-16 words from a Zipf vocabulary with capitals and punctuation; title:
2-5 words; cat: one of 200 values, some missing; num, num2: doubles), generated once with a fixed
seed into bench/.data/features_recipe_<N>/ as 4 Parquet files.

usage: bench/run.sh features_recipe [--sizes 100000,1000000] [--runs 3] [--cases osb3,issue] [--check-rows 2000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any, Callable, Dict, List, Tuple

from bench._harness import DATA_DIR, ensure_dirs, wait_quiet

NUM_FEATURES = 2**18
SCHEMA = {
    "attributes": [
        {"attributeName": "id", "attributeType": "CATEGORICAL"},
        {"attributeName": "text", "attributeType": "TEXT"},
        {"attributeName": "title", "attributeType": "TEXT"},
        {"attributeName": "cat", "attributeType": "CATEGORICAL"},
        {"attributeName": "num", "attributeType": "NUMERIC"},
        {"attributeName": "num2", "attributeType": "NUMERIC"},
    ],
    "rowId": "id",
}
PUNCT = r"[\p{Punct}\p{IsPunctuation}]"
PUNCT_GAPS = rf"{PUNCT}*(?:\s+|$){PUNCT}*|^{PUNCT}+"  # whitespace with the punctuation around it


def make_input(n: int) -> str:
    """Generate (once) the N rows as 4 Parquet files; returns the folder."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = os.path.join(DATA_DIR, f"features_recipe_{n}")
    if os.path.exists(os.path.join(folder, "_done")):
        return folder
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(30)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocab = np.array(["".join(rng.choice(letters, size=int(k))) for k in rng.integers(2, 10, size=30_000)], object)

    def texts(low: int, high: int) -> List[str]:
        lengths = rng.integers(low, high + 1, size=n)
        words = vocab[np.minimum(rng.zipf(1.3, size=int(lengths.sum())) - 1, len(vocab) - 1)]
        kind = rng.random(len(words))
        words = np.where(kind < 0.10, np.char.capitalize(words.astype(str)).astype(object), words)
        words = np.where((kind >= 0.10) & (kind < 0.18), words + ",", words)
        words = np.where((kind >= 0.18) & (kind < 0.22), words + "!", words)
        words = np.where((kind >= 0.22) & (kind < 0.24), "(" + words + ")", words)
        words = np.where((kind >= 0.24) & (kind < 0.25), "-", words)
        ends = np.cumsum(lengths)
        return [" ".join(words[s:e]) for s, e in zip(ends - lengths, ends)]

    cats = np.array([f"c{i}" for i in range(200)] + [None, ""], dtype=object)
    table = {
        "id": [f"r{i}" for i in range(n)],
        "text": texts(4, 16),
        "title": texts(2, 5),
        "cat": list(cats[rng.integers(0, len(cats), size=n)]),
        "num": rng.normal(40, 12, size=n),
        "num2": rng.exponential(3.0, size=n),
    }
    for part in range(4):
        pq.write_table(
            pa.table({k: v[part::4] for k, v in table.items()}), os.path.join(folder, f"part-{part}.parquet")
        )
    open(os.path.join(folder, "_done"), "w").close()
    return folder


# --- plain pyspark pieces ----------------------------------------------------------------------


def words(df, col: str, out: str, lower: bool = False, punct: bool = False):
    """Whitespace tokens (RegexTokenizer); punct: also the punctuation around them; lower: lowercased."""
    from pyspark.ml.feature import RegexTokenizer

    pattern = PUNCT_GAPS if punct else r"\s+"
    return RegexTokenizer(inputCol=col, outputCol=out, pattern=pattern, toLowercase=lower).transform(df)


def grams(df, col: str, out: str, n: int):
    """Every k-gram for 1 <= k <= n (NGram per k, unigrams first)."""
    from pyspark.ml.feature import NGram
    from pyspark.sql import functions as F

    for k in range(2, n + 1):
        df = NGram(n=k, inputCol=col, outputCol=f"{out}_{k}").transform(df)
    return df.withColumn(out, F.concat(col, *[f"{out}_{k}" for k in range(2, n + 1)]))


def osb(df, col: str, out: str, n: int):
    """Orthogonal sparse bigrams of a token column (SQL higher-order functions: pyspark has no stage)."""
    from pyspark.sql import functions as F

    t = F.col(col)

    def pairs(i):
        dists = F.filter(F.sequence(F.lit(1), F.lit(n - 1)), lambda d: i + d <= F.size(t))
        bars = F.lit("_" * (n - 1))
        return F.transform(dists, lambda d: F.concat(t[i - 1], bars.substr(F.lit(1), d), t[i + d - 1]))

    seq = F.flatten(F.transform(F.sequence(F.lit(1), F.size(t)), pairs))
    return df.withColumn(out, F.when(F.size(t) > 0, seq).otherwise(F.array().cast("array<string>")))


def cross(df, a: str, b: str, out: str, b_is_value: bool = False):
    """Every token of a joined to every token of b (or to the value b) with '_'."""
    from pyspark.sql import functions as F

    if b_is_value:
        v = F.col(b)
        pairs = F.transform(F.col(a), lambda x: F.concat(x, F.lit("_"), v))
        return df.withColumn(out, F.when(v.isNull() | (v == ""), F.array().cast("array<string>")).otherwise(pairs))
    pairs = F.flatten(F.transform(F.col(a), lambda x: F.transform(F.col(b), lambda y: F.concat(x, F.lit("_"), y))))
    return df.withColumn(out, pairs)


def bins(df, col: str, out: str, n: int):
    """quantile bin tokens `q<i>` (QuantileDiscretizer)."""
    from pyspark.ml.feature import QuantileDiscretizer
    from pyspark.sql import functions as F

    fitted = QuantileDiscretizer(numBuckets=n, inputCol=col, outputCol=f"{out}_b", handleInvalid="keep").fit(df)
    return fitted.transform(df).withColumn(out, F.concat(F.lit("q"), F.col(f"{out}_b").cast("int").cast("string")))


def normalized(df, col: str, out: str):
    """(x - mean) / population std, from one aggregate."""
    from pyspark.sql import functions as F

    mean, std = df.select(F.avg(col), F.stddev_pop(col)).first()
    return df.withColumn(out, (F.col(col) - F.lit(mean)) / F.lit(std))


def as_array(df, col: str):
    """A single value as a one-token array (none when missing or empty)."""
    from pyspark.sql import functions as F

    v = F.col(col)
    return df.withColumn(
        col + "_t", F.when(v.isNull() | (v == ""), F.array().cast("array<string>")).otherwise(F.array(v))
    )


def vectors(df, token_cols: List[str], numeric_cols: List[str]):
    """One binary HashingTF per token column and a VectorAssembler: the `features` column."""
    from pyspark.ml.feature import HashingTF, VectorAssembler

    for c in token_cols:
        df = HashingTF(inputCol=c, outputCol=f"{c}_h", numFeatures=NUM_FEATURES, binary=True).transform(df)
    hashed = [f"{c}_h" for c in token_cols]
    return VectorAssembler(inputCols=hashed + numeric_cols, outputCol="features").transform(df)


# --- cases: (recipe, plain builder returning (df, token columns in plan order, numeric columns)) ----


def _w(lower=False, punct=False):
    return lambda df: (words(df, "text", "w", lower, punct), ["w"], [])


def _ngram(n, lower=False, punct=False):
    return lambda df: (grams(words(df, "text", "w", lower, punct), "w", "g", n), ["g"], [])


def _osb(n):
    return lambda df: (osb(words(df, "text", "w"), "w", "o", n), ["o"], [])


def _issue(df):
    df = words(df, "text", "w", lower=True, punct=True)
    return osb(grams(df, "w", "g", 2), "w", "o", 3), ["g", "o"], []


def _groups(df):
    df = words(words(df, "text", "w1", lower=True), "title", "w2", lower=True)
    return grams(grams(df, "w1", "g1", 2), "w2", "g2", 2), ["g1", "g2"], []


def _quantile_bin(df):
    return as_array(bins(df, "num", "q", 10), "q"), ["q_t"], []


def _normalize(df):
    return normalized(df, "num", "z"), [], ["z"]


def _cross_tokens_value(df):
    return cross(words(df, "text", "w", punct=True), "w", "cat", "x", b_is_value=True), ["x"], []


def _cross_tokens(df):
    df = words(words(df, "title", "a", punct=True), "text", "b", lower=True)
    return cross(df, "a", "b", "x"), ["x"], []


def _cross_bins(df):
    from pyspark.sql import functions as F

    df = bins(bins(df, "num", "q1", 10), "num2", "q2", 10)
    return df.withColumn("x", F.array(F.concat("q1", F.lit("_"), "q2"))), ["x"], []


CASES: Dict[str, Tuple[Dict[str, Any], Callable]] = {
    "tokens": ({"outputs": ["text"]}, _w()),
    "lowercase": ({"outputs": ["lowercase(text)"]}, _w(lower=True)),
    "no_punct": ({"outputs": ["no_punct(text)"]}, _w(punct=True)),
    "lowercase_no_punct": ({"outputs": ["lowercase(no_punct(text))"]}, _w(lower=True, punct=True)),
    "no_punct_lowercase": ({"outputs": ["no_punct(lowercase(text))"]}, _w(lower=True, punct=True)),
    "ngram2": ({"outputs": ["ngram(text, 2)"]}, _ngram(2)),
    "ngram2_clean": ({"outputs": ["ngram(lowercase(no_punct(text)), 2)"]}, _ngram(2, True, True)),
    "ngram10": ({"outputs": ["ngram(text, 10)"]}, _ngram(10)),
    "osb3": ({"outputs": ["osb(text, 3)"]}, _osb(3)),
    "osb10": ({"outputs": ["osb(text, 10)"]}, _osb(10)),
    "issue": (
        {"assignments": {"clean": "lowercase(no_punct(text))"}, "outputs": ["ngram(clean, 2)", "osb(clean, 3)"]},
        _issue,
    ),
    "groups": ({"groups": {"T": "group(text, title)"}, "outputs": ["ngram(lowercase(T), 2)"]}, _groups),
    "quantile_bin": ({"outputs": ["quantile_bin(num, 10)"]}, _quantile_bin),
    "normalize": ({"outputs": ["normalize(num)"]}, _normalize),
    "cross_tokens_value": ({"outputs": ["cartesian(no_punct(text), cat)"]}, _cross_tokens_value),
    "cross_tokens": ({"outputs": ["cartesian(no_punct(title), lowercase(text))"]}, _cross_tokens),
    "cross_bins": ({"outputs": ["cartesian(quantile_bin(num, 10), quantile_bin(num2, 10))"]}, _cross_bins),
}


def plain_frame(case: str, df):
    """The plain side of a case: (DataFrame with `features`, token columns, numeric columns)."""
    frame, token_cols, numeric_cols = CASES[case][1](df)
    return vectors(frame, token_cols, numeric_cols), token_cols, numeric_cols


def lakeml_model(case: str, df):
    """The fitted recipe pipeline of a case."""
    from features.recipe import compile_recipe

    recipe = {"groups": {}, "assignments": {}, **CASES[case][0]}
    return compile_recipe(SCHEMA, recipe, num_features=NUM_FEATURES).fit(df)


def check(case: str, model, df, rows: int) -> str:
    """OK when lakeml's tokens (and normalize values) equal the plain side's on the first rows, else MISMATCH."""
    from features.recipe import plan_recipe
    from features.stages import RecipeColumns

    stages = model.stages[: 1 + next(i for i, s in enumerate(model.stages) if isinstance(s, RecipeColumns))]
    mine = df
    for stage in stages:
        mine = stage.transform(mine)
    plan = plan_recipe(SCHEMA, {"groups": {}, "assignments": {}, **CASES[case][0]}).plan
    ours = {r["id"]: r for r in mine.orderBy("id").limit(rows).collect()}
    frame, token_cols, numeric_cols = CASES[case][1](df)  # fitted on all rows, as the model is
    bad = 0
    for r in frame.orderBy("id").limit(rows).collect():
        got = ours[r["id"]]
        want = [(out.get("prefix") or "") + t for out, c in zip(plan["tokens"], token_cols) for t in r[c]]
        bad += got["__tokens"] != want
        for out, c in zip(plan["numeric"], numeric_cols):
            bad += abs(got[out["col"]] - r[c]) > 1e-9
    return "OK" if bad == 0 else f"MISMATCH ({bad} of {rows} rows)"


def sink(frame) -> None:
    """Every row's features vector computed, nothing written."""
    frame.select("features").write.format("noop").mode("overwrite").save()


def run_case(spark, case: str, folder: str, n: int, runs: int, check_rows: int) -> str:
    """One case at one size: the check, then `runs` alternating timed runs; one report line."""
    df = spark.read.parquet(folder)
    model = lakeml_model(case, df)
    verdict = check(case, model, df, check_rows)
    ours, plain = model.transform(df), plain_frame(case, df)[0]
    sink(ours), sink(plain)  # warm: code generation, JIT
    times: Dict[str, List[float]] = {"lakeml": [], "plain": []}
    before = wait_quiet()
    for _ in range(runs):
        for name, frame in (("lakeml", ours), ("plain", plain)):
            started = time.perf_counter()
            sink(frame)
            times[name].append(time.perf_counter() - started)
    lk, pl = statistics.median(times["lakeml"]), statistics.median(times["plain"])
    return f"| {case} | {n:,} | {lk:.2f} | {pl:.2f} | {lk / pl:.2f} | {verdict} | {before} |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated row counts")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES))
    parser.add_argument("--check-rows", type=int, default=2000)
    args = parser.parse_args()
    cases = args.cases.split(",")
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    ensure_dirs()

    from core.session import build_session

    spark = build_session("bench-features-recipe", extra={"spark.driver.memory": "3g"})
    spark.sparkContext.setLogLevel("ERROR")
    print(f"{os.cpu_count()} cores; lakeml / plain: median seconds of {args.runs} runs, ratio 2.0 = twice as slow")
    print("| case | rows | lakeml s | plain s | lakeml / plain | tokens | load before (1, 5, 15 min) |")
    print("|---|---|---|---|---|---|---|", flush=True)
    for n in [int(s) for s in args.sizes.split(",")]:
        folder = make_input(n)
        for case in cases:
            print(run_case(spark, case, folder, n, args.runs, args.check_rows), flush=True)
    spark.stop()


if __name__ == "__main__":
    main()

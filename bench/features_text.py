"""Hashed text features: lakeml's recipe `ngram(lowercase(no_punct(text)), 2)` vs scikit-learn's HashingVectorizer.

Input: N short texts (default 1M, 4-16 words from a Zipf-distributed 30k-word vocabulary,
some capitalized, some with leading/trailing punctuation, some all-punctuation tokens),
generated once with a fixed seed into bench/.data/features_text/ as 4 Parquet files.

- lakeml: `compile_recipe(schema, recipe, num_features=2**18)` fitted and applied to the
  Parquet input (Spark, local[*]); the vector column is materialized with the `noop` sink
  (every row's vector is computed, nothing is written). Session start-up is not timed;
  the read of the Parquet input is.
- scikit-learn: `HashingVectorizer(ngram_range=(1, 2), n_features=2**18).transform(texts)`
  (its default tokenizer, lowercasing, l2 norm), timed together with reading the same Parquet
  files into a Python list.
- With --variants, what was tried first: the token-array path with SQL higher-order functions
  (`ngram(lowercase(no_punct(tokenize(text))))` from features.text), which the compiler no
  longer uses for word sequences (Spark 3.5 interprets higher-order functions, no codegen).

usage: bench/run.sh features_text [--rows N] [--variants]
"""

from __future__ import annotations

import argparse
import os
import time

from bench._harness import DATA_DIR, ensure_dirs, peak_rss_mb, report, timed

NUM_FEATURES = 2**18
RECIPE = {"outputs": ["ngram(lowercase(no_punct(text)), 2)"]}
SCHEMA = {"attributes": [{"attributeName": "text", "attributeType": "TEXT"}]}


def make_input(n: int) -> str:
    """Generate (once) the N texts as 4 Parquet files; returns the folder."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = os.path.join(DATA_DIR, f"features_text_{n}")
    if os.path.exists(os.path.join(folder, "_done")):
        return folder
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(6)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocab = ["".join(rng.choice(letters, size=int(k))) for k in rng.integers(2, 10, size=30_000)]
    vocab = np.array(vocab, dtype=object)
    lengths = rng.integers(4, 17, size=n)
    total = int(lengths.sum())
    ranks = np.minimum(rng.zipf(1.3, size=total) - 1, len(vocab) - 1)
    words = vocab[ranks]
    kind = rng.random(total)
    words = np.where(kind < 0.10, np.char.capitalize(words.astype(str)).astype(object), words)
    words = np.where((kind >= 0.10) & (kind < 0.18), words + ",", words)
    words = np.where((kind >= 0.18) & (kind < 0.22), words + "!", words)
    words = np.where((kind >= 0.22) & (kind < 0.24), "(" + words + ")", words)
    words = np.where((kind >= 0.24) & (kind < 0.25), "-", words)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    texts = [" ".join(words[s:e]) for s, e in zip(starts, ends)]
    for part in range(4):
        chunk = texts[part::4]
        pq.write_table(pa.table({"text": chunk}), os.path.join(folder, f"part-{part}.parquet"))
    open(os.path.join(folder, "_done"), "w").close()
    return folder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--variants", action="store_true", help="also time the token-array variant (slow)")
    args = parser.parse_args()
    n = args.rows
    ensure_dirs()
    folder = make_input(n)

    import pyarrow.parquet as pq
    from sklearn.feature_extraction.text import HashingVectorizer

    from core.session import build_session
    from features import text as T
    from features.recipe import compile_recipe

    spark = build_session("bench-features-text", extra={"spark.driver.memory": "3g"})
    spark.sparkContext.setLogLevel("ERROR")
    started = time.perf_counter()
    spark.read.parquet(folder).count()  # warm-up: JVM, file listing, JIT
    print(f"warm-up action {time.perf_counter() - started:.1f}s", flush=True)

    def lakeml() -> None:
        df = spark.read.parquet(folder)
        model = compile_recipe(SCHEMA, RECIPE, num_features=NUM_FEATURES).fit(df)
        model.transform(df).select("features").write.format("noop").mode("overwrite").save()

    def hof_variant() -> None:
        from pyspark.ml.feature import HashingTF

        df = spark.read.parquet(folder)
        tokens = T.ngram(T.lowercase(T.no_punct(T.tokenize("text"))), 2).alias("tokens")
        hashed = HashingTF(inputCol="tokens", outputCol="features", numFeatures=NUM_FEATURES, binary=True)
        hashed.transform(df.select(tokens)).select("features").write.format("noop").mode("overwrite").save()

    def sklearn() -> None:
        texts = pq.read_table(folder).column("text").to_pylist()
        matrix = HashingVectorizer(ngram_range=(1, 2), n_features=NUM_FEATURES).transform(texts)
        assert matrix.shape == (n, NUM_FEATURES)

    results = [timed("scikit-learn HashingVectorizer (1 core)", n, sklearn)]
    results.append(timed("lakeml compile_recipe (Spark local[*])", n, lakeml))
    if args.variants:
        results.append(timed("variant: token arrays + SQL higher-order functions", n, hof_variant))
    report(
        f"ngram(lowercase(no_punct(text)), 2) hashed to 2^18, {n:,} short texts",
        results,
        baseline="scikit-learn HashingVectorizer (1 core)",
    )
    print(f"driver peak RSS {peak_rss_mb():.0f} MB")
    spark.stop()


if __name__ == "__main__":
    main()

"""BINARY logistic regression on hashed text: lakeml's training vs scikit-learn's SGDClassifier (log loss).

Input: the features benchmark's texts (bench/features_text.py, default 1M rows) with a label the
words decide (a word counts +1 or -1 by its CRC32; label 1 when the sum is positive), 80/20 split
in file order. lakeml: the recipe `ngram(lowercase(no_punct(text)), 2)` into 2^18 hashed slots
(vectors cached, featurizing not timed), then LogisticRegression as train fits it for token
features (standardization off, L2 1e-6) with --iterations L-BFGS iterations, timed twice: the JVM's first
fit (its JIT compiling MLlib's aggregation code on the way) and the same fit again. scikit-learn:
HashingVectorizer(ngram_range=(1, 2), 2^18) (not timed) and SGDClassifier(log_loss, 5 epochs),
timed. Accuracy on the same 20 %.

usage: bench/run.sh train_text [--rows N] [--iterations K]
"""

from __future__ import annotations

import argparse
import time
import zlib

from bench._harness import Result, report
from bench.features_text import NUM_FEATURES, RECIPE, make_input


def label_of(text: str) -> int:
    """1 when the words' CRC32 votes are positive overall."""
    votes = sum(1 if zlib.crc32(w.lower().strip(".,!?;:").encode()) % 3 == 0 else -1 for w in text.split())
    return int(votes > -len(text.split()) // 3)


def labelled_input(folder: str, texts, labels) -> str:
    """The texts with their labels and positions as one Parquet file (Spark reads it; no driver-side rows)."""
    import os

    import pyarrow as pa
    import pyarrow.parquet as pq

    path = os.path.join(folder + "_labelled", "part-0.parquet")
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        table = pa.table({"text": texts, "y": labels, "i": list(range(len(texts)))})
        pq.write_table(table, path)
    return os.path.dirname(path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--iterations", type=int, default=20)
    args = parser.parse_args()
    import pyarrow.parquet as pq
    from pyspark.ml.classification import LogisticRegression
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.linear_model import SGDClassifier

    from core.session import build_session
    from features.recipe import compile_recipe

    folder = make_input(args.rows)
    texts = pq.read_table(folder).column("text").to_pylist()
    labels = [label_of(t) for t in texts]
    cut = int(0.8 * len(texts))
    spark = build_session("bench-train-text", master="local[2]", extra={"spark.driver.memory": "4g"})
    spark.sparkContext.setLogLevel("ERROR")
    schema = {
        "targetAttributeName": "y",
        "attributes": [
            {"attributeName": "text", "attributeType": "TEXT"},
            {"attributeName": "y", "attributeType": "BINARY"},
        ],
    }
    with_row = spark.read.parquet(labelled_input(folder, texts, labels))
    train, test = with_row.where(f"i < {cut}"), with_row.where(f"i >= {cut}")
    features = compile_recipe(schema, RECIPE, NUM_FEATURES).fit(train)
    vectors = features.transform(train).select("features", "label").cache()
    vectors.count()
    lr = LogisticRegression(maxIter=args.iterations, regParam=1e-6, standardization=False)
    started = time.perf_counter()
    model = lr.fit(vectors)
    first_s = time.perf_counter() - started
    started = time.perf_counter()
    model = lr.fit(vectors)  # the same fit again: the JVM has compiled MLlib's aggregation code once
    lakeml_s = time.perf_counter() - started
    scored = model.transform(features.transform(test))
    lakeml_acc = scored.where("prediction = label").count() / (len(texts) - cut)

    hashing = HashingVectorizer(ngram_range=(1, 2), n_features=NUM_FEATURES)
    x_train, x_test = hashing.transform(texts[:cut]), hashing.transform(texts[cut:])
    started = time.perf_counter()
    sgd = SGDClassifier(loss="log_loss", max_iter=5, tol=None, random_state=0).fit(x_train, labels[:cut])
    sk_s = time.perf_counter() - started
    sk_acc = float((sgd.predict(x_test) == labels[cut:]).mean())
    report(
        "train_text: logistic regression on 2^18 hashed uni+bigrams (fit only)",
        [
            Result(f"lakeml LR ({args.iterations} L-BFGS iterations), the JVM's first fit", cut, first_s),
            Result(f"lakeml LR ({args.iterations} L-BFGS iterations), the same fit again", cut, lakeml_s),
            Result("scikit-learn SGDClassifier (5 epochs)", cut, sk_s),
        ],
        "scikit-learn SGDClassifier (5 epochs)",
    )
    print(f"accuracy: lakeml {lakeml_acc:.4f}, scikit-learn {sk_acc:.4f}")
    spark.stop()


if __name__ == "__main__":
    main()

"""Predict on `aml serve` over loopback: p50/p99 latency and throughput, beside scikit-learn's predict_proba on one row.

    python bench/aml_predict.py [--requests 10000] [--lake DIR --model-id ID]

The model: a BINARY model of the tests' rows (id, review, x, color -> y; the recipe `ngram(lowercase(review), 2)`,
`quantile_bin(x, 5)`, `x`, `color`), trained through the API itself (CreateDataSourceFromS3 + CreateMLModel: one
train job) on 2,000 rows in a bench lake, unless --lake/--model-id name one already trained there. lakeml: boto3's
`predict` on one keep-alive connection, one record at a time (the record's string values as the walkthrough
sends them), so each figure is a whole round trip: botocore's serialisation and parsing, HTTP, validation of the
request and answer, and the in-memory scorer. scikit-learn: the same features (HashingVectorizer of words and
bigrams, 2^18 slots, one-hot bins and color, x) and a LogisticRegression fitted on the same rows; one row's
transform + predict_proba per call, in process (no transport). Target: lakeml's p99 under 10 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Optional

_HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(_HERE)
sys.path[:] = [ROOT, *(p for p in sys.path if os.path.abspath(p or ".") != _HERE)]

from bench._harness import OUT_DIR, ensure_dirs  # noqa: E402

RECIPE = {"outputs": ["ngram(lowercase(review), 2)", "quantile_bin(x, 5)", "x", "color"]}


def write_data(folder: str, n: int) -> str:
    """The training CSV and its schema; returns the CSV path."""
    import csv

    from tests.model_factory import rows_for, schema_for

    path = os.path.join(folder, "train.csv")
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "review", "x", "color", "y"])
        writer.writerows(rows_for("BINARY", n))
    with open(path + ".schema", "w") as handle:
        json.dump(schema_for("BINARY"), handle)
    return path


def start_server(lake: str, port: int) -> subprocess.Popen:
    argv = [sys.executable, "-m", "jobs", "aml", "serve", "--lake", lake, "--port", str(port), "--log-level", "WARNING"]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True)
    print(proc.stdout.readline().strip(), flush=True)
    return proc


def train(ml, data: str, model_id: str, recipe: dict, parameters: Optional[dict] = None) -> str:
    """A BINARY model of the CSV trained through the API (datasource `<model_id>-ds`), waited for; its id."""
    ml.create_data_source_from_s3(DataSourceId=f"{model_id}-ds", DataSpec={"DataLocationS3": data})
    ml.create_ml_model(
        MLModelId=model_id,
        MLModelName=model_id,
        MLModelType="BINARY",
        TrainingDataSourceId=f"{model_id}-ds",
        Recipe=json.dumps(recipe),
        Parameters=parameters or {},
    )
    ml.get_waiter("ml_model_available").wait(
        FilterVariable="Name", EQ=model_id, WaiterConfig={"Delay": 2, "MaxAttempts": 900}
    )
    return model_id


def records(n: int):
    from tests.model_factory import rows_for

    return [{"id": r[0], "review": r[1], "x": str(r[2]), "color": r[3] + "\n"} for r in rows_for("BINARY", n, 99)]


def p99(seconds) -> float:
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def percentiles(seconds) -> str:
    ordered = sorted(seconds)
    p50, p99 = ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {p50 * 1000:.3f} ms, p99 {p99 * 1000:.3f} ms, {len(ordered) / sum(ordered):,.0f} calls/s"


def time_calls(fn, items):
    out = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        out.append(time.perf_counter() - started)
    return out


def sklearn_peer(data: str, items):
    """A fitted scikit-learn pipeline of the same features, and its one-row predict_proba."""
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import KBinsDiscretizer, OneHotEncoder

    frame = pd.read_csv(data)
    features = ColumnTransformer(
        [
            ("text", HashingVectorizer(n_features=2**18, ngram_range=(1, 2), binary=True, norm=None), "review"),
            (
                "bins",
                KBinsDiscretizer(
                    n_bins=5, encode="onehot", strategy="quantile", quantile_method="averaged_inverted_cdf"
                ),
                ["x"],
            ),
            ("color", OneHotEncoder(handle_unknown="ignore"), ["color"]),
            ("x", "passthrough", ["x"]),
        ]
    )
    model = make_pipeline(features, LogisticRegression(max_iter=100)).fit(frame.drop(columns=["y", "id"]), frame["y"])
    rows = [pd.DataFrame([{"review": r["review"], "x": float(r["x"]), "color": r["color"].strip()}]) for r in items]
    return lambda row: np.asarray(model.predict_proba(row)), rows


def main() -> None:
    import boto3

    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--rows", type=int, default=2000, help="training rows")
    parser.add_argument("--lake", default=None)
    parser.add_argument("--model-id", default=None)
    parser.add_argument("--port", type=int, default=8093)
    args = parser.parse_args()
    ensure_dirs()
    folder = os.path.join(OUT_DIR, "aml_predict")
    os.makedirs(folder, exist_ok=True)
    data = write_data(folder, args.rows)
    lake = args.lake or os.path.join(folder, "lake")
    server = start_server(lake, args.port)
    try:
        url = f"http://127.0.0.1:{args.port}"
        ml = boto3.client(
            "machinelearning",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        model_id = args.model_id or train(ml, data, "bench-model", RECIPE)
        ml.create_realtime_endpoint(MLModelId=model_id)
        items = records(args.requests)
        ml.predict(MLModelId=model_id, Record=items[0], PredictEndpoint=url)  # connection and scorer warm
        lakeml = time_calls(lambda r: ml.predict(MLModelId=model_id, Record=r, PredictEndpoint=url), items)
        proba, rows = sklearn_peer(data, items)
        peer = time_calls(proba, rows)
        print(f"### aml Predict, {args.requests:,} requests on loopback, {os.cpu_count()} cores")
        print(f"| lakeml aml Predict (boto3 round trip) | {percentiles(lakeml)} |")
        print(f"| scikit-learn predict_proba, one row in process | {percentiles(peer)} |")
        print(f"p99 ratio lakeml / scikit-learn: {p99(lakeml) / p99(peer):.2f}x")
    finally:
        server.kill()


if __name__ == "__main__":
    main()

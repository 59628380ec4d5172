"""CreateBatchPrediction through `aml serve` against the score job alone: the API's overhead on N rows.

    bench/run.sh aml_batch [--rows 1000000] [--runs 3]

Input: bench/score.py's seeded rows (id, review, x, z, y) as one CSV of N rows with its schema, and a BINARY
model of the same recipe trained through the API (CreateDataSourceFromS3 + CreateMLModel) on 20,000 rows.
- API: boto3's `create_batch_prediction` on a datasource of the N rows (no statistics), then boto3's own
  `batch_prediction_available` waiter polling every second, until COMPLETED; the server starts a worker
  process, which runs `spark-submit.sh local score ...` and settles the entity from the job's summary.
- score alone: the same `spark-submit.sh local score ...` command line the worker runs (same model version,
  data, schema and a fresh `--csv` output), as a process.
Both write Amazon ML's CSV layout and manifest; the bench checks that their prediction files hold the same
rows. Runs alternate (API, then score alone), each after the 1-minute load is under 1.5; the median of
`--runs`, and the overhead (API / score alone - 1). Target: under 10 %.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(_HERE)
sys.path[:] = [ROOT, *(p for p in sys.path if os.path.abspath(p or ".") != _HERE)]

from bench._harness import OUT_DIR, ensure_dirs, wait_quiet  # noqa: E402
from bench.aml_predict import start_server, train  # noqa: E402
from bench.score import RECIPE, SCHEMA, make_rows  # noqa: E402

AML_SCHEMA = {**SCHEMA, "version": "1.0", "dataFormat": "CSV", "dataFileContainsHeader": True}


def write_csv(folder: str, name: str, n: int, seed: int) -> str:
    """N seeded rows as `<name>.csv` with its `.schema`; returns the CSV path (kept between runs)."""
    path = os.path.join(folder, f"{name}.csv")
    if not os.path.exists(path + ".schema"):
        make_rows(n, seed).to_csv(path, index=False)
        with open(path + ".schema", "w") as handle:
            json.dump(AML_SCHEMA, handle)
    return path


def api_run(ml, run: int, out: str) -> float:
    """Seconds from create_batch_prediction until the waiter sees it COMPLETED."""
    bp_id = f"bp-{run}"
    started = time.perf_counter()
    ml.create_batch_prediction(
        BatchPredictionId=bp_id,
        BatchPredictionName=bp_id,
        MLModelId="batch-model",
        BatchPredictionDataSourceId="rows-ds",
        OutputUri=out,
    )
    ml.get_waiter("batch_prediction_available").wait(
        FilterVariable="Name", EQ=bp_id, WaiterConfig={"Delay": 1, "MaxAttempts": 3600}
    )
    seconds = time.perf_counter() - started
    status = ml.get_batch_prediction(BatchPredictionId=bp_id)
    if status["Status"] != "COMPLETED":
        raise SystemExit(f"batch prediction {bp_id}: {status['Status']} {status.get('Message', '')}")
    return seconds


def score_argv(lake: str, data: str, run: int, out: str) -> list:
    """The worker's own `spark-submit.sh local score ...` for the same model version and rows."""
    from jobs.aml.entities import Store

    version = Store(lake).get("MLModel", "batch-model")["_version"]
    return [
        os.path.join(ROOT, "spark-submit.sh"),
        "local",
        "score",
        *("--name", "batch-model", "--version", version, "--data", data, "--schema", data + ".schema"),
        *("--csv", out, "--lake", lake, "--run-id", f"alone-{run}"),
    ]


def score_run(argv: list) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def predictions(out: str) -> list:
    """The sorted prediction rows under an OutputUri (Amazon ML's gzipped CSV parts, header dropped)."""
    rows = []
    for path in sorted(glob.glob(os.path.join(out, "batch-prediction", "result", "*.gz"))):
        with gzip.open(path, "rt") as handle:
            rows += handle.read().splitlines()[1:]
    return sorted(rows)


def main() -> None:
    import boto3

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port", type=int, default=8094)
    args = parser.parse_args()
    ensure_dirs()
    folder = os.path.join(OUT_DIR, "aml_batch")
    lake = os.path.join(folder, "lake")
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
        if name == "lake" or name.startswith(("api-", "alone-")):
            shutil.rmtree(os.path.join(folder, name))  # an earlier run's outputs would join this run's rows
    os.makedirs(folder, exist_ok=True)
    train_csv = write_csv(folder, "train", 20_000, 1)
    rows_csv = write_csv(folder, f"rows_{args.rows}", args.rows, 100 + args.rows)
    server = start_server(lake, args.port)
    try:
        url = f"http://127.0.0.1:{args.port}"
        keys = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
        ml = boto3.client("machinelearning", endpoint_url=url, region_name="us-east-1", **keys)
        train(ml, train_csv, "batch-model", RECIPE, {"sgd.maxPasses": "20"})
        ml.create_data_source_from_s3(DataSourceId="rows-ds", DataSpec={"DataLocationS3": rows_csv})
        api, alone, loads = [], [], []
        for run in range(args.runs):
            loads.append(wait_quiet())
            api_out = os.path.join(folder, f"api-{run}")
            api.append(api_run(ml, run, api_out))
            wait_quiet()
            alone_out = os.path.join(folder, f"alone-{run}")
            alone.append(score_run(score_argv(lake, rows_csv, run, alone_out)))
            same = predictions(api_out) == predictions(alone_out) and len(predictions(api_out)) == args.rows
            print(
                f"run {run + 1}: API {api[-1]:.1f} s, score alone {alone[-1]:.1f} s, same rows {same}, "
                f"load before {loads[-1]}",
                flush=True,
            )
            if not same:
                raise SystemExit("the API's predictions differ from score's")
    finally:
        server.kill()
    a, s = statistics.median(api), statistics.median(alone)
    print(f"### aml CreateBatchPrediction, {args.rows:,} rows, {os.cpu_count()} cores, median of {args.runs}")
    print("| path | seconds | rows/s | overhead |")
    print("|---|---|---|---|")
    print(f"| score job alone (`spark-submit.sh local score`) | {s:.1f} | {args.rows / s:,.0f} | - |")
    overhead = f"{100 * (a / s - 1):+.1f} %"
    print(f"| CreateBatchPrediction + waiter (Delay 1 s) | {a:.1f} | {args.rows / a:,.0f} | {overhead} |")


if __name__ == "__main__":
    main()

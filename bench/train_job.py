"""The whole train job (issue 30 items 1 and 4) beside its engine floor and scikit-learn, each a fresh process.

    bench/run.sh train_job [--sizes 34000,300000,1000000] [--runs 3]

Input: bench/train_tabular's adult-like rows (two numbers, three categoricals, a non-linear label) as an
Amazon ML CSV datasource with a header, and its recipe (quantile bins of both numbers, a cross of the age
bins with education, every categorical). Each contender starts from the CSV on disk in its own process,
as a nightly run does, and ends with a saved model and its AUC on the same last 30 % of the rows
(sequential split, Amazon ML's default):
- lakeml: `./spark-submit.sh local train --data CSV --recipe R --model-type BINARY` (the JVM's start, the
  read, the recipe's pipeline, the fit at train's defaults, the evaluation, the report, the publish);
- floor: the shortest PySpark program doing the same work in a fresh `python` (a SparkSession with
  lakeml's own settings): CSV read with the schema's types, QuantileDiscretizer x2, the cross,
  StringIndexer + OneHotEncoder, VectorAssembler, MLlib's LogisticRegression at the same L2 / tol /
  maxIter, AUC on the held-out rows, PipelineModel saved;
- scikit-learn: pandas read_csv, the same bins (quantiles of the training rows), cross and one-hot,
  LogisticRegression (lbfgs) at C = 1 / (n L2), AUC, the model pickled.
Each contender runs `--runs` times per size, each once the 1-minute load is under 1.5; the medians are
reported with the loads, the job's stage split (its `stage` log lines, medians), and the three AUCs
(they must agree within 0.01).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from functools import partial
from typing import Dict, List, Tuple

_HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(_HERE)
sys.path[:] = [ROOT, *(p for p in sys.path if os.path.abspath(p or ".") != _HERE)]

from bench._harness import DATA_DIR, OUT_DIR, ensure_dirs, wait_quiet  # noqa: E402
from bench.train_tabular import RECIPE, SCHEMA, make_rows  # noqa: E402

L2, TOL, MAX_ITER = 1e-6, 1e-7, 1000
DRIVER_MEMORY = os.environ.get("LAKEML_DRIVER_MEMORY", "4g")  # what spark-submit.sh gives the job's driver
TRAIN_SHARE = 0.7
CSV_TYPES = "age DOUBLE, hours DOUBLE, education STRING, workclass STRING, occupation STRING, y INT"
STAGE = re.compile(r"lakeml INFO stage (\w+): .*seconds=([0-9.]+)")


def write_input(n: int) -> Tuple[str, str]:
    """The CSV datasource (with its .schema) and the recipe for n rows, written once under bench/.data."""
    folder = os.path.join(DATA_DIR, "train_job", str(n))
    csv_path, recipe_path = os.path.join(folder, "data.csv"), os.path.join(folder, "recipe.json")
    if not os.path.exists(recipe_path):
        os.makedirs(folder, exist_ok=True)
        make_rows(n).to_csv(csv_path, index=False)
        schema = {**SCHEMA, "version": "1.0", "dataFormat": "CSV", "dataFileContainsHeader": True}
        with open(csv_path + ".schema", "w") as handle:
            json.dump(schema, handle)
        with open(recipe_path, "w") as handle:
            json.dump(RECIPE, handle)
    return csv_path, recipe_path


def run_submitted(job: str, args: List[str], rest: str) -> Tuple[float, float, Dict[str, float]]:
    """(seconds, AUC, stage seconds) of one lakeml job as a spark-submit; `rest` names the time outside its stages."""
    argv = [os.path.join(ROOT, "spark-submit.sh"), "local", job, *args]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{job} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    summary = json.loads([line for line in done.stdout.splitlines() if line.startswith(f'{{"job": "{job}"')][-1])
    stages = {m.group(1): float(m.group(2)) for m in STAGE.finditer(done.stdout + done.stderr)}
    stages[rest] = seconds - sum(stages.values())
    return seconds, float(summary["counts"]["metrics"]["auc"]), stages


def run_lakeml(csv_path: str, recipe_path: str, lake: str) -> Tuple[float, float, Dict[str, float]]:
    """(seconds, AUC, stage seconds) of the whole train job as a spark-submit."""
    shutil.rmtree(lake, ignore_errors=True)
    args = ["--data", csv_path, "--recipe", recipe_path, "--model-type", "BINARY", "--name", "adult"]
    args += ["--lake", lake, "--run-date", "2026-12-01"]
    return run_submitted("train", args, "rest (JVM start, read, session)")


def run_process(kind: str, csv_path: str, path: str, module: str = "bench.train_job", flag: str = "out"):
    """(seconds, AUC) of the floor or scikit-learn in a fresh process: `python -m module --kind CSV --flag PATH`."""
    env = {**os.environ, "PYTHONPATH": ROOT}
    argv = [sys.executable, "-m", module, f"--{kind}", csv_path, f"--{flag}", path]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds, float(done.stdout.strip().splitlines()[-1])


def floor(csv_path: str, out: str) -> float:
    """The engine floor: plain pyspark.ml doing train's work on the CSV; prints and returns the AUC."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.feature import OneHotEncoder, QuantileDiscretizer, SQLTransformer, StringIndexer, VectorAssembler
    from pyspark.sql import functions as F

    from core.session import build_session

    spark = build_session("train floor", extra={"spark.driver.memory": DRIVER_MEMORY})
    rows = spark.read.csv(csv_path, header=True, schema=CSV_TYPES).withColumn("_row", F.monotonically_increasing_id())
    cut = rows.approxQuantile("_row", [TRAIN_SHARE], 1e-4)[0]  # the first 70 % in input order, as train's split
    ranked = rows.withColumn("label", F.col("y").cast("double"))
    train, test = ranked.where(F.col("_row") < cut), ranked.where(F.col("_row") >= cut)
    categorical = ["age_bin", "hours_bin", "age_x_education", "education", "workclass", "occupation"]
    stages = [
        QuantileDiscretizer(inputCols=["age", "hours"], outputCols=["age_q", "hours_q"], numBuckets=10),
        SQLTransformer(
            statement="SELECT *, CAST(age_q AS STRING) AS age_bin, CAST(hours_q AS STRING) AS hours_bin, "
            "CONCAT(CAST(age_q AS STRING), '_', education) AS age_x_education FROM __THIS__"
        ),
        StringIndexer(inputCols=categorical, outputCols=[c + "_i" for c in categorical], handleInvalid="keep"),
        OneHotEncoder(inputCols=[c + "_i" for c in categorical], outputCols=[c + "_v" for c in categorical]),
        VectorAssembler(inputCols=[c + "_v" for c in categorical], outputCol="features"),
        LogisticRegression(regParam=L2, tol=TOL, maxIter=MAX_ITER, standardization=False),
    ]
    model = Pipeline(stages=stages).fit(train)
    auc = BinaryClassificationEvaluator().evaluate(model.transform(test))
    model.write().overwrite().save(out)
    spark.stop()
    return auc


def peer_tokens(df, edges):
    """scikit-learn's side of the recipe: the bins (training rows' quantile edges), the cross, the categoricals."""
    import numpy as np
    import pandas as pd

    bins = {c: np.searchsorted(edges[c], df[c].to_numpy(), side="right").astype(str) for c in edges}
    return pd.DataFrame(
        {
            "age_bin": bins["age"],
            "hours_bin": bins["hours"],
            "age_x_education": np.char.add(np.char.add(bins["age"], "_"), df["education"].to_numpy().astype(str)),
            "education": df["education"],
            "workclass": df["workclass"],
            "occupation": df["occupation"],
        }
    )


def peer(csv_path: str, out: str) -> float:
    """scikit-learn doing the same work; returns the AUC."""
    import pickle

    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.read_csv(csv_path)
    cut = int(len(frame) * TRAIN_SHARE)
    train = frame.iloc[:cut]
    edges = {c: np.unique(np.quantile(train[c], np.linspace(0, 1, 11)[1:-1])) for c in ("age", "hours")}
    encoder = OneHotEncoder(handle_unknown="ignore").fit(peer_tokens(train, edges))
    model = LogisticRegression(C=1.0 / (cut * L2), tol=TOL, max_iter=MAX_ITER)
    model.fit(encoder.transform(peer_tokens(train, edges)), train["y"])
    test = frame.iloc[cut:]
    auc = roc_auc_score(test["y"], model.predict_proba(encoder.transform(peer_tokens(test, edges)))[:, 1])
    with open(out, "wb") as handle:
        pickle.dump((edges, encoder, model), handle)
    return auc


TABLE_HEAD = [
    "| rows | lakeml job s | floor s | scikit-learn s | job / floor | lakeml vs scikit-learn | AUC lakeml / floor "
    "/ scikit-learn | loads before the lakeml runs |",
    "|---|---|---|---|---|---|---|---|",
]


def size_lines(n: int, seen, aucs, loads, stage_seen) -> List[str]:
    """One size's table row (medians, the lakeml runs, AUCs, loads) and the job's stage split; AUCs must agree."""
    job, low, sk = (statistics.median(seen[k]) for k in ("lakeml", "floor", "peer"))
    if max(aucs.values()) - min(aucs.values()) > 0.01:
        raise SystemExit(f"AUCs disagree at {n} rows: {aucs}")
    split = ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in stage_seen.items())
    return [
        f"| {n:,} | {job:.2f} ({' / '.join(f'{v:.1f}' for v in seen['lakeml'])}) | {low:.2f} | {sk:.2f} | "
        f"{job / low:.2f} | {sk / job:.2f}x | {aucs['lakeml']:.4f} / {aucs['floor']:.4f} / {aucs['peer']:.4f} | "
        f"{', '.join(loads)} |",
        f"| | stages (median s): {split} | | | | | | |",
    ]


def measure_size(n: int, runs: int, lakeml, floor_run, peer_run) -> List[str]:
    """Run the three contenders `runs` times at one size, alternating, each once the machine is quiet.

    lakeml() -> (seconds, AUC, stage seconds); floor_run() and peer_run() -> (seconds, AUC)."""
    seen: Dict[str, List[float]] = defaultdict(list)
    stage_seen: Dict[str, List[float]] = defaultdict(list)
    aucs: Dict[str, float] = {}
    loads = []
    for _ in range(runs):
        loads.append(wait_quiet().split(",")[0])
        seconds, aucs["lakeml"], stages = lakeml()
        seen["lakeml"].append(seconds)
        for name, value in stages.items():
            stage_seen[name].append(value)
        for kind, run in (("floor", floor_run), ("peer", peer_run)):
            wait_quiet()
            seconds, aucs[kind] = run()
            seen[kind].append(seconds)
        print(n, {k: round(v[-1], 2) for k, v in seen.items()}, aucs, flush=True)
    return size_lines(n, seen, aucs, loads, stage_seen)


def bench(sizes: List[int], runs: int) -> None:
    ensure_dirs()
    lines = list(TABLE_HEAD)
    for n in sizes:
        csv_path, recipe_path = write_input(n)
        lines += measure_size(
            n,
            runs,
            partial(run_lakeml, csv_path, recipe_path, os.path.join(OUT_DIR, "train_lake")),
            partial(run_process, "floor", csv_path, os.path.join(OUT_DIR, "train_floor_model")),
            partial(run_process, "peer", csv_path, os.path.join(OUT_DIR, "train_peer_model.pkl")),
        )
    print("\n".join(lines), flush=True)


def contender_main(doc: str, floor_run, peer_run, bench_run, path_flag: str) -> None:
    """The command line of a whole-job bench: the bench itself, or (hidden flags) one contender in this process.

    `--floor CSV` / `--peer CSV` with `--<path_flag> PATH` print what floor_run / peer_run return."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--sizes", default="34000,300000,1000000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--floor", help=argparse.SUPPRESS)
    parser.add_argument("--peer", help=argparse.SUPPRESS)
    parser.add_argument(f"--{path_flag}", dest="path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        print(floor_run(args.floor, args.path))
    elif args.peer:
        print(peer_run(args.peer, args.path))
    else:
        bench_run([int(s) for s in args.sizes.split(",")], args.runs)


def main() -> None:
    contender_main(__doc__, floor, peer, bench, "out")


if __name__ == "__main__":
    main()

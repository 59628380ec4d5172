"""The whole evaluate job (issue 30 item 1) beside its engine floor and scikit-learn, each a fresh process.

    bench/run.sh evaluate_job [--sizes 34000,300000,1000000] [--runs 3]

Input: bench/train_job's adult-like CSV datasource (with its .schema) at each size. Set-up, not timed: each
contender's model trained once on the first 70 % by bench/train_job (lakeml's train job into a lake, the
floor's saved PipelineModel, scikit-learn's pickle). Timed, each contender in its own process from the CSV on
disk to the metrics over every row of the datasource:
- lakeml: `./spark-submit.sh local evaluate --name adult --data CSV` (the JVM's start, the model's load, the
  read by the datasource rules, the metrics beside the training baseline, the report);
- floor: the shortest PySpark program doing the same work in a fresh `python` (a SparkSession with lakeml's
  own settings): CSV read with the schema's types, the saved PipelineModel loaded and applied, AUC and the
  confusion counts at the 0.5 cutoff; no report;
- scikit-learn: pandas read_csv, the pickled bins / encoder / model, predict_proba, AUC and the confusion
  counts.
Each contender runs `--runs` times per size, each once the 1-minute load is under 1.5; medians with the
loads, the job's stage split (its `stage` log lines) and the three AUCs (they must agree within 0.01).
"""

from __future__ import annotations

import os
import shutil
import sys
from functools import partial
from typing import Dict, List, Tuple

_HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(_HERE)
sys.path[:] = [ROOT, *(p for p in sys.path if os.path.abspath(p or ".") != _HERE)]

from bench._harness import OUT_DIR, ensure_dirs  # noqa: E402
from bench.train_job import (  # noqa: E402
    CSV_TYPES,
    DRIVER_MEMORY,
    TABLE_HEAD,
    contender_main,
    measure_size,
    peer_tokens,
    run_lakeml,
    run_process,
    run_submitted,
    write_input,
)

CUTOFF = 0.5
MODULE = "bench.evaluate_job"


def models(n: int, csv_path: str, recipe_path: str) -> Dict[str, str]:
    """The three contenders' trained models for n rows (lake, PipelineModel folder, pickle), made once."""
    folder = os.path.join(OUT_DIR, "evaluate_job", str(n))
    paths = {k: os.path.join(folder, k) for k in ("lake", "floor_model", "peer_model.pkl")}
    if not os.path.exists(os.path.join(folder, "done")):
        os.makedirs(folder, exist_ok=True)
        run_lakeml(csv_path, recipe_path, paths["lake"])
        run_process("floor", csv_path, paths["floor_model"])
        run_process("peer", csv_path, paths["peer_model.pkl"])
        open(os.path.join(folder, "done"), "w").close()
    return paths


def run_job(csv_path: str, lake: str) -> Tuple[float, float, Dict[str, float]]:
    """(seconds, AUC, stage seconds) of the whole evaluate job as a spark-submit."""
    shutil.rmtree(os.path.join(lake, "reports", "evaluate"), ignore_errors=True)
    args = ["--name", "adult", "--data", csv_path, "--lake", lake, "--run-date", "2026-12-02"]
    return run_submitted("evaluate", args, "rest (JVM start, session, model load)")


def floor(csv_path: str, model_path: str) -> float:
    """The engine floor: the saved PipelineModel over the typed CSV, AUC and confusion counts; returns the AUC."""
    from pyspark.ml import PipelineModel
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    from core.session import build_session

    spark = build_session("evaluate floor", extra={"spark.driver.memory": DRIVER_MEMORY})
    rows = spark.read.csv(csv_path, header=True, schema=CSV_TYPES).withColumn("label", F.col("y").cast("double"))
    scored = PipelineModel.load(model_path).transform(rows).cache()
    auc = BinaryClassificationEvaluator().evaluate(scored)
    predicted = (vector_to_array("probability")[1] >= CUTOFF).cast("int").alias("predicted")
    scored.groupBy("y", predicted).count().collect()
    spark.stop()
    return auc


def peer(csv_path: str, model_path: str) -> float:
    """scikit-learn doing the same work; returns the AUC."""
    import pickle

    import pandas as pd
    from sklearn.metrics import confusion_matrix, roc_auc_score

    with open(model_path, "rb") as handle:
        edges, encoder, model = pickle.load(handle)
    frame = pd.read_csv(csv_path)
    scores = model.predict_proba(encoder.transform(peer_tokens(frame, edges)))[:, 1]
    confusion_matrix(frame["y"], scores >= CUTOFF)
    return roc_auc_score(frame["y"], scores)


def bench(sizes: List[int], runs: int) -> None:
    ensure_dirs()
    lines = list(TABLE_HEAD)
    for n in sizes:
        csv_path, recipe_path = write_input(n)
        paths = models(n, csv_path, recipe_path)
        lines += measure_size(
            n,
            runs,
            partial(run_job, csv_path, paths["lake"]),
            partial(run_process, "floor", csv_path, paths["floor_model"], MODULE, "model"),
            partial(run_process, "peer", csv_path, paths["peer_model.pkl"], MODULE, "model"),
        )
    print("\n".join(lines), flush=True)


def main() -> None:
    contender_main(__doc__, floor, peer, bench, "model")


if __name__ == "__main__":
    main()

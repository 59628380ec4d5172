"""scikit-learn's figure on lakeml's own window features: the peer the example's README compares to.

    python examples/har/sklearn_check.py LAKE [--run-date D] [--reg-param 1e-3]

Reads <lake>/features/har/ (the run date's partition; its files from the Delta log), no Spark, takes the window
feature columns of examples/har/har.yaml, standardizes them and fits multinomial logistic
regression on the two splits the example reports: by subject (UCI's held-out subjects evaluate)
and random 70/30 (seeded). The L2 strength is the one given to lakeml's training (`--reg-param`,
Spark's regParam), as scikit-learn's C = 1 / (regParam * training rows), so both fit the same loss.
Prints one JSON object: per split, macro F1, per-class F1, accuracy and the row counts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, List, Optional
from urllib.parse import unquote

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, HERE)


def window_columns(conf_path: str) -> List[str]:
    """The feature columns the example's CONF produces."""
    import yaml

    from features.window_spec import feature_columns
    from jobs.build_features.windows_conf import Windows

    with open(conf_path) as handle:
        conf = yaml.safe_load(handle)
    return feature_columns(Windows.model_validate(conf["windows"]).spec())


def delta_files(table: str) -> List[str]:
    """The Parquet files of a Delta table's current version, from its commit log (delta-rs cannot
    open a table with Spark ML's vector column, so its files are read as plain Parquet)."""
    log = os.path.join(table, "_delta_log")
    active: Dict[str, bool] = {}
    for name in sorted(n for n in os.listdir(log) if n.endswith(".json")):
        with open(os.path.join(log, name)) as handle:
            for line in handle:
                action = json.loads(line)
                if "add" in action:
                    active[action["add"]["path"]] = True
                elif "remove" in action:
                    active.pop(action["remove"]["path"], None)
    return [os.path.join(table, unquote(path)) for path in active]


def read_table(table: str, columns: List[str]):
    """Columns of a (partitioned) Delta table's current version as pandas, run_date included."""
    import pandas as pd
    import pyarrow.parquet as pq

    frames = []
    for path in delta_files(table):
        frame = pq.read_table(path, columns=[c for c in columns if c != "run_date"]).to_pandas()
        frame["run_date"] = path.split("run_date=")[1].split("/")[0] if "run_date=" in path else None
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def read_windows(lake: str, run_date: Optional[str], columns: List[str]):
    """The feature set's rows of one run date (the latest when none is given) as pandas."""
    frame = read_table(os.path.join(lake, "features", "har"), ["subject", "activity", "run_date", *columns])
    day = run_date or str(max(frame["run_date"]))
    return frame[frame["run_date"].astype(str) == day]


def fit_and_score(train, test, columns: List[str], reg_param: float) -> Dict[str, Any]:
    """Standardize, fit multinomial LR on train, score test: macro and per-class F1."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    c = 1.0 / (reg_param * len(train))
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    model.fit(train[columns].to_numpy(), train["activity"].to_numpy())
    predicted = model.predict(test[columns].to_numpy())
    labels = sorted(set(train["activity"]))
    per_class = f1_score(test["activity"], predicted, labels=labels, average=None)
    return {
        "macro_f1": float(f1_score(test["activity"], predicted, labels=labels, average="macro")),
        "accuracy": float(accuracy_score(test["activity"], predicted)),
        "per_class_f1": {label: float(v) for label, v in zip(labels, per_class)},
        "train_rows": len(train),
        "eval_rows": len(test),
        "C": c,
    }


def check(lake: str, run_date: Optional[str] = None, reg_param: float = 1e-3, seed: int = 7) -> Dict[str, Any]:
    """scikit-learn's results on both splits of the example."""
    from loader import TEST_SUBJECTS

    columns = window_columns(os.path.join(HERE, "har.yaml"))
    frame = read_windows(lake, run_date, columns)
    held_out = frame["subject"].astype(int).isin(TEST_SUBJECTS)
    shuffled = frame.sample(frac=1.0, random_state=seed)
    cut = int(len(shuffled) * 0.7)
    return {
        "features": len(columns),
        "windows": len(frame),
        "subject": fit_and_score(frame[~held_out], frame[held_out], columns, reg_param),
        "random": fit_and_score(shuffled.iloc[:cut], shuffled.iloc[cut:], columns, reg_param),
    }


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lake")
    parser.add_argument("--run-date")
    parser.add_argument("--reg-param", type=float, default=1e-3)
    args = parser.parse_args(argv)
    print(json.dumps(check(args.lake, args.run_date, args.reg_param), indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())

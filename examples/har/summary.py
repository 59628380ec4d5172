"""The HAR example's summary: both splits from the registry, scikit-learn beside them, window counts.

    python examples/har/summary.py LAKE --run-date D [--sklearn sklearn.json] [--seconds S]

Reads the newest complete version of models/har_subject and models/har_random (metrics.json:
macro F1, per-class F1, the split's name), the window counts per activity of features/har (its
Parquet files by the Delta log), and the rows of scores/har_subject; writes
LAKE/reports/har/<run date>/summary.json and prints a table. No Spark.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# windows per activity of UCI's own 128-sample, 50%-overlap cut of the same recordings
REFERENCE_WINDOWS = {
    "WALKING": 1722,
    "WALKING_UPSTAIRS": 1544,
    "WALKING_DOWNSTAIRS": 1407,
    "SITTING": 1801,
    "STANDING": 1979,
    "LAYING": 1958,
}


def newest_version(lake: str, name: str) -> Optional[Dict[str, Any]]:
    """metadata.json of the newest complete version of a model, or None."""
    folder = os.path.join(lake, "models", name)
    if not os.path.isdir(folder):
        return None
    done = [d for d in os.listdir(folder) if d.startswith("v") and os.path.exists(os.path.join(folder, d, "_COMPLETE"))]
    if not done:
        return None
    newest = max(done, key=lambda d: int(d[1:]))
    with open(os.path.join(folder, newest, "metadata.json")) as handle:
        return json.load(handle)


def window_counts(lake: str, run_date: str) -> Dict[str, int]:
    """Windows per activity in the feature set's run date."""
    from sklearn_check import read_table

    frame = read_table(os.path.join(lake, "features", "har"), ["activity", "run_date"])
    frame = frame[frame["run_date"].astype(str) == run_date]
    return {str(k): int(v) for k, v in frame["activity"].value_counts().items()}


def scored_rows(lake: str, run_date: str) -> Dict[str, Any]:
    """How many windows the batch prediction scored and its columns."""
    import pyarrow.parquet as pq
    from sklearn_check import delta_files

    table = os.path.join(lake, "scores", "har_subject")
    if not os.path.isdir(os.path.join(table, "_delta_log")):
        return {"rows": 0, "columns": []}
    files = [f for f in delta_files(table) if f"run_date={run_date}" in f]
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    columns = pq.ParquetFile(files[0]).schema_arrow.names if files else []
    return {"rows": rows, "columns": columns}


def split_result(meta: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """A version's split, sizes and metrics."""
    if meta is None:
        return {}
    metrics = meta.get("metrics", {})
    keys = ("macro_f1", "accuracy", "per_class_f1", "split")
    out = {k: metrics.get(k) for k in keys}
    out.update(version=meta.get("version"), train_rows=meta["split"].get("train_rows"))
    out["eval_rows"] = meta["split"].get("eval_rows")
    return out


def table(summary: Dict[str, Any]) -> List[str]:
    """The printed lines: per split lakeml vs scikit-learn, per class F1, window counts."""
    lines = [f"{'':22} {'lakeml':>8} {'sklearn':>8}"]
    for split in ("subject", "random"):
        ours, peer = summary["lakeml"].get(split, {}), summary.get("sklearn", {}).get(split, {})
        lines.append(f"macro F1 ({split:7})     {ours.get('macro_f1', 0):8.4f} {peer.get('macro_f1', 0):8.4f}")
    ours, peer = summary["lakeml"].get("subject", {}), summary.get("sklearn", {}).get("subject", {})
    for label in REFERENCE_WINDOWS:
        a = (ours.get("per_class_f1") or {}).get(label, 0.0)
        b = (peer.get("per_class_f1") or {}).get(label, 0.0)
        lines.append(f"  F1 {label:18} {a:8.4f} {b:8.4f}")
    lines.append(f"{'windows':22} {'lakeml':>8} {'UCI ref':>8}")
    for label, ref in REFERENCE_WINDOWS.items():
        lines.append(f"  {label:20} {summary['windows'].get(label, 0):8d} {ref:8d}")
    return lines


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lake")
    parser.add_argument("--run-date", required=True)
    parser.add_argument("--sklearn")
    parser.add_argument("--seconds", type=int)
    args = parser.parse_args(argv)
    summary: Dict[str, Any] = {
        "run_date": args.run_date,
        "seconds": args.seconds,
        "windows": window_counts(args.lake, args.run_date),
        "reference_windows": REFERENCE_WINDOWS,
        "lakeml": {
            "subject": split_result(newest_version(args.lake, "har_subject")),
            "random": split_result(newest_version(args.lake, "har_random")),
        },
        "scores": scored_rows(args.lake, args.run_date),
    }
    if args.sklearn:
        with open(args.sklearn) as handle:
            summary["sklearn"] = json.load(handle)
    out = os.path.join(args.lake, "reports", "har", args.run_date)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "summary.json"), "w") as handle:
        json.dump(summary, handle, indent=2, sort_keys=True)
    print("\n".join(table(summary)))
    print(json.dumps({"summary": os.path.join(out, "summary.json"), "seconds": args.seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

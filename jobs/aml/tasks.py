"""What each entity runs as a lakeml job, and what a finished job's run summary makes of the entity.

DataSource (ComputeStatistics)  profile  --data --schema --name <id>
MLModel                         train    --name <id> --model-type --data --schema [--recipe] [--split] [--params]
Evaluation                      evaluate --name <model> --version vN --data --schema --cutoff <ScoreThreshold>
BatchPrediction                 score    --name <model> --version vN --data --schema --csv <OutputUri>
                                         (run id = the batch prediction's id, so the manifest is
                                         <OutputUri>/batch-prediction/<id>.manifest, as Amazon ML wrote it)
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Dict, List, Optional, Tuple

from core import objects
from core.lake import join
from jobs.aml.entities import Store

METRIC_KEYS = {
    "BINARY": ("auc", "BinaryAUC"),
    "MULTICLASS": ("macro_f1", "MulticlassAvgFScore"),
    "REGRESSION": ("rmse", "RegressionRMSE"),
}
DEPENDENCIES = {
    "DataSource": (),
    "MLModel": (("DataSource", "TrainingDataSourceId"),),
    "Evaluation": (("MLModel", "MLModelId"), ("DataSource", "EvaluationDataSourceId")),
    "BatchPrediction": (("MLModel", "MLModelId"), ("DataSource", "BatchPredictionDataSourceId")),
}


def run_id_for(kind: str, doc: Dict[str, Any]) -> str:
    """The job's run id: the batch prediction's own id, else the entity id plus a random suffix."""
    entity_id = doc[f"{kind}Id"]
    return entity_id if kind == "BatchPrediction" else f"{entity_id}-{uuid.uuid4().hex[:6]}"


def input_of(store: Store, kind: str, doc: Dict[str, Any], ds: Dict[str, Any]) -> Tuple[str, str]:
    """(data, schema) URIs the job reads: the datasource's, or its rearranged rows written out first."""
    if kind in ("Evaluation", "BatchPrediction") and ds.get("DataRearrangement"):
        from features.schema import load_schema
        from jobs.aml.rearrange import materialize

        schema = load_schema((objects.read_bytes(ds["_schema_uri"]) or b"{}").decode("utf-8"))
        return materialize(
            store.root,
            doc[f"{kind}Id"],
            ds["_data_uri"],
            schema,
            ds["DataRearrangement"],
            require_target=kind == "Evaluation",
        )
    return ds["_data_uri"], ds["_schema_uri"]


def job_args(store: Store, kind: str, doc: Dict[str, Any]) -> List[str]:
    """The lakeml job and flags (without --lake, --run-id, --run-date) that do an entity's work."""
    if kind == "DataSource":
        return ["profile", "--data", doc["_data_uri"], "--schema", doc["_schema_uri"], "--name", doc["DataSourceId"]]
    if kind == "MLModel":
        ds = store.get("DataSource", doc["TrainingDataSourceId"])
        args = [
            "train",
            "--name",
            doc["MLModelId"],
            "--model-type",
            doc["MLModelType"],
            "--data",
            ds["_data_uri"],
            "--schema",
            ds["_schema_uri"],
        ]
        if doc.get("_recipe_uri"):
            args += ["--recipe", doc["_recipe_uri"]]
        if ds.get("DataRearrangement"):
            args += ["--split", ds["DataRearrangement"]]
        if doc.get("_params"):
            args += ["--params", json.dumps(doc["_params"])]
        return args
    model = store.get("MLModel", doc["MLModelId"])
    ds = store.get("DataSource", doc[f"{kind}DataSourceId"])
    data, schema = input_of(store, kind, doc, ds)
    common = ["--name", doc["MLModelId"], "--version", model["_version"], "--data", data, "--schema", schema]
    if kind == "Evaluation":
        return ["evaluate", *common, "--cutoff", str(model.get("ScoreThreshold", 0.5))]
    return ["score", *common, "--csv", doc["OutputUri"]]


def read_summary(store: Store, run: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The job's run summary from <lake>/_runs/, or None when it wrote none."""
    uri = join(store.root, "_runs", run["job"], run["run_date"], f"{run['run_id']}.json")
    data = objects.read_bytes(uri)
    return None if data is None else json.loads(data)


def outcome(store: Store, kind: str, doc: Dict[str, Any], summary: Optional[Dict[str, Any]]) -> Tuple[str, str, Dict]:
    """(status, message, fields) of an entity whose job ended with this summary (None: it wrote none)."""
    if summary is None:
        return "FAILED", f"{doc['_run']['job']} stopped without writing its run summary; create the entity again", {}
    if summary.get("status") != "succeeded":
        reason = summary.get("message") or f"exit code {summary.get('exit_code')}"
        return "FAILED", f"{summary.get('job')} failed: {reason}", {}
    counts = summary.get("counts") or {}
    if kind == "MLModel":
        if not counts.get("version"):
            return "FAILED", "train registered no version", {}
        return "COMPLETED", "", {"_version": counts["version"], "SizeInBytes": model_size(store, doc, counts)}
    if kind == "Evaluation":
        model = store.get("MLModel", doc["MLModelId"])
        key, name = METRIC_KEYS[model["MLModelType"]]
        metrics = counts.get("metrics") or {}
        if metrics.get(key) is None:
            return "FAILED", f"evaluate reported no {key}", {}
        return "COMPLETED", "", {"PerformanceMetrics": {"Properties": {name: repr(float(metrics[key]))}}}
    if kind == "BatchPrediction":
        return (
            "COMPLETED",
            "",
            {
                "TotalRecordCount": int(summary.get("rows_in", 0)),
                "InvalidRecordCount": int(summary.get("rows_rejected", 0)),
            },
        )
    return "COMPLETED", "", {}


def model_size(store: Store, doc: Dict[str, Any], counts: Dict[str, Any]) -> int:
    """Bytes of the registered model's files."""
    folder = join(store.root, "models", doc["MLModelId"], str(counts["version"]), "model")
    return sum(size for _, size in objects.list_files(folder))

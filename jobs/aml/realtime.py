"""Real-time endpoints and Predict: the model's registered version scored in memory (jobs/aml/predictor.py).

CreateRealtimeEndpoint loads the scorer once (refusing a model with a stage it cannot evaluate) and records
EndpointInfo with this server's URL; Predict answers from it with the service's Prediction document.
"""

from __future__ import annotations

import time
from typing import Any, Dict

from jobs.aml import predictor as scorer
from jobs.aml.entities import now
from jobs.aml.protocol import AmlError, invalid


def load_scorer(ctx, doc: Dict[str, Any]):
    """The model version's in-memory scorer, loaded once; InvalidInputException naming an unsupported stage."""
    key = (doc["MLModelId"], doc["_version"])
    with ctx.lock:
        if key not in ctx.predictors:
            try:
                ctx.predictors[key] = scorer.load_predictor(ctx.store.root, *key)
            except scorer.Unsupported as error:
                raise invalid(
                    f"the real-time scorer does not support {error} (model {doc['MLModelId']}); "
                    "use CreateBatchPrediction"
                ) from None
        return ctx.predictors[key]


def create_realtime_endpoint(ctx, p: Dict[str, Any]) -> Dict[str, Any]:
    doc = ctx.store.get("MLModel", p["MLModelId"])
    if doc.get("Status") != "COMPLETED":
        raise invalid(f"MLModel {p['MLModelId']} is {doc.get('Status')}; an endpoint needs a COMPLETED model")
    load_scorer(ctx, doc)
    info = {"PeakRequestsPerSecond": 200, "CreatedAt": now(), "EndpointUrl": ctx.url, "EndpointStatus": "READY"}
    ctx.store.update("MLModel", p["MLModelId"], lambda d: d.update(EndpointInfo=info))
    ctx.models.pop(p["MLModelId"], None)
    return {"MLModelId": p["MLModelId"], "RealtimeEndpointInfo": info}


def delete_realtime_endpoint(ctx, p: Dict[str, Any]) -> Dict[str, Any]:
    info = {"PeakRequestsPerSecond": 0, "EndpointStatus": "NONE"}
    ctx.store.update("MLModel", p["MLModelId"], lambda d: d.update(EndpointInfo=info))
    ctx.models.pop(p["MLModelId"], None)
    return {"MLModelId": p["MLModelId"], "RealtimeEndpointInfo": info}


def model_for_predict(ctx, model_id: str) -> Dict[str, Any]:
    """The model's document, re-read at most once a second (Predict's hot path)."""
    cached = ctx.models.get(model_id)
    if cached is None or time.monotonic() - cached[0] > 1.0:
        cached = (time.monotonic(), ctx.store.get("MLModel", model_id))
        ctx.models[model_id] = cached
    return cached[1]


def predict(ctx, p: Dict[str, Any]) -> Dict[str, Any]:
    doc = model_for_predict(ctx, p["MLModelId"])
    if doc.get("Status") == "DELETED":
        raise AmlError("ResourceNotFoundException", f"MLModel {p['MLModelId']} is deleted")
    if (doc.get("EndpointInfo") or {}).get("EndpointStatus") != "READY":
        raise AmlError(
            "PredictorNotMountedException",
            f"MLModel {p['MLModelId']} has no real-time endpoint; call CreateRealtimeEndpoint",
        )
    try:
        prediction = load_scorer(ctx, doc).predict(p["Record"], float(doc.get("ScoreThreshold") or 0.5))
    except scorer.BadRecord as error:
        raise invalid(f"Record: {error}") from None
    prediction["details"] = {"PredictiveModelType": doc["MLModelType"], "Algorithm": "SGD"}
    return {"Prediction": prediction}

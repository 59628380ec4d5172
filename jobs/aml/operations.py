"""One function per Amazon ML operation: request dict in (already validated against botocore's model), answer out.

Create* write the entity document and start its worker at once (PENDING); the work runs as lakeml jobs
(jobs/aml/tasks.py). Get/Update/Delete/Describe/tags read and change the documents; Predict answers from the
in-memory scorer of the model's registered version (jobs/aml/predictor.py).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Tuple

from core import objects
from core.errors import UsageError
from core.lake import join, normalize_uri
from core.names import NAME_RULE, is_name
from jobs.aml import realtime, tags
from jobs.aml.describe import describe
from jobs.aml.entities import KINDS, Store, now, public
from jobs.aml.protocol import AmlError, invalid, output_members

SGD_KEYS = (
    "sgd.maxMLModelSizeInBytes",
    "sgd.maxPasses",
    "sgd.shuffleType",
    "sgd.l1RegularizationAmount",
    "sgd.l2RegularizationAmount",
)


@dataclass
class Context:
    """What operations work with: the entity store, the server's URL, the scorers, how to start a worker."""

    store: Store
    url: str
    start_worker: Callable[[Store, str, str], None]
    target: Tuple[str, ...] = ("local",)  # where jobs run: ("local",) or ("emr", <launcher flags>...)
    predictors: Dict[Tuple[str, str], Any] = field(default_factory=dict)
    models: Dict[str, Tuple[float, Dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def uri(value: str, what: str) -> str:
    """A lake URI from a request field; InvalidInputException naming the field."""
    try:
        return normalize_uri(value, what)
    except UsageError as error:
        raise invalid(str(error)) from None


def lake_name(entity_id: str, what: str) -> str:
    """An id that also names a lake folder or run (model names, run ids)."""
    if not is_name(entity_id):
        raise invalid(f"{what} {entity_id!r}: lakeml needs {NAME_RULE} here (it names the model or run)")
    return entity_id


def already(ctx: Context, kind: str, entity_id: str, same: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The answer when the id exists and the request repeats it (idempotent); a different request is refused."""
    old = ctx.store.find(kind, entity_id)
    if old is None:
        return None
    if all(old.get(k) == v for k, v in same.items()):
        return {KINDS[kind][1]: entity_id}
    raise AmlError("IdempotentParameterMismatchException", f"{kind} {entity_id} exists with other parameters")


def created(ctx: Context, kind: str, doc: Dict[str, Any]) -> Dict[str, Any]:
    """Store a new entity and start its worker when it has work to do."""
    id_field = KINDS[kind][1]
    stamp = now()
    doc.update(CreatedAt=stamp, LastUpdatedAt=stamp, CreatedByIamUser="lakeml", _target=list(ctx.target))
    doc.setdefault("Status", "PENDING")
    ctx.store.put(kind, doc)
    if doc["Status"] == "PENDING":
        ctx.start_worker(ctx.store, kind, doc[id_field])
    return {id_field: doc[id_field]}


def answer(name: str, doc: Dict[str, Any], **extra: Any) -> Dict[str, Any]:
    """A Get answer: the document's public fields that the operation's output shape has."""
    members = set(output_members(name))
    return {k: v for k, v in {**public(doc), **extra}.items() if k in members and v is not None}


# --- datasources ----------------------------------------------------------------------------


def read_schema_text(location: str) -> str:
    """A schema file's text; InvalidInputException when it is absent or not an Amazon ML schema."""
    from features.schema import SchemaError, load_schema

    data = objects.read_bytes(location)
    if data is None:
        raise invalid(f"no data schema at {location}; give DataSchema or DataSchemaLocationS3")
    try:
        load_schema(data.decode("utf-8"))
    except (SchemaError, ValueError) as error:
        raise invalid(f"data schema {location}: {error}") from None
    return data.decode("utf-8")


def schema_location(ctx: Context, spec: Dict[str, Any], ds_id: str, data: str, files) -> str:
    """Where the datasource's schema is: written from DataSchema, DataSchemaLocationS3, or Amazon ML's default."""
    if spec.get("DataSchema"):
        location = ctx.store.path("schemas", f"{ds_id}.schema")
        objects.write_bytes(location, spec["DataSchema"].encode("utf-8"))
    elif spec.get("DataSchemaLocationS3"):
        location = uri(spec["DataSchemaLocationS3"], "DataSchemaLocationS3")
    else:
        single = len(files) == 1 and files[0] == data
        location = data + ".schema" if single else join(data, ".schema")
    read_schema_text(location)
    return location


def create_data_source_from_s3(ctx: Context, p: Dict[str, Any]) -> Dict[str, Any]:
    from jobs.aml.rearrange import data_files
    from ml.split import parse_split

    spec, ds_id = p["DataSpec"], p["DataSourceId"]
    same = {k: spec.get(k) for k in ("DataLocationS3", "DataRearrangement")}
    repeated = already(ctx, "DataSource", ds_id, {**same, "ComputeStatistics": bool(p.get("ComputeStatistics"))})
    if repeated:
        return repeated
    data = uri(spec["DataLocationS3"], "DataLocationS3")
    if spec.get("DataRearrangement"):
        try:
            parse_split(spec["DataRearrangement"])
        except UsageError as error:
            raise invalid(str(error).replace("--split", "DataRearrangement")) from None
    files = data_files(data)
    doc: Dict[str, Any] = {
        "DataSourceId": ds_id,
        "Name": p.get("DataSourceName"),
        "DataLocationS3": spec["DataLocationS3"],
        "DataRearrangement": spec.get("DataRearrangement"),
        "ComputeStatistics": bool(p.get("ComputeStatistics")),
        "NumberOfFiles": len(files),
        "DataSizeInBytes": sum(s for u, s in objects.list_files(data) if u in files),
        "_data_uri": data,
    }
    if not files:
        doc.update(Status="FAILED", Message=f"no data files at {spec['DataLocationS3']}")
    else:
        doc["_schema_uri"] = schema_location(ctx, spec, ds_id, data, files)
        doc["Status"] = "PENDING" if doc["ComputeStatistics"] else "COMPLETED"
        if doc["Status"] == "PENDING":
            lake_name(ds_id, "DataSourceId")
    return created(ctx, "DataSource", doc)


def create_data_source_from_rds(ctx: Context, p: Dict[str, Any]) -> Dict[str, Any]:
    raise invalid(
        "lakeml reads datasources from S3 or the lake only: export the RDS table to S3 as CSV "
        "(an AWS DMS task to S3, or a SELECT ... INTO OUTFILE / aws_s3.query_export_to_s3) and call "
        "CreateDataSourceFromS3 on it"
    )


def create_data_source_from_redshift(ctx: Context, p: Dict[str, Any]) -> Dict[str, Any]:
    raise invalid(
        "lakeml reads datasources from S3 or the lake only: UNLOAD the Redshift query to S3 as CSV "
        "(FORMAT CSV) and call CreateDataSourceFromS3 on it"
    )


# --- models, evaluations, batch predictions -----------------------------------------------------


def _needed(ctx: Context, kind: str, entity_id: str, what: str) -> Dict[str, Any]:
    doc = ctx.store.find(kind, entity_id)
    if doc is None or doc.get("Status") == "DELETED":
        raise invalid(f"{what} {entity_id!r}: no such {kind}")
    return doc


def recipe_location(ctx: Context, p: Dict[str, Any], ds: Dict[str, Any]) -> Optional[str]:
    """Where the model's recipe is (written from Recipe), checked against the datasource's schema; None: suggested."""
    from features.recipe import RecipeError
    from features.recipe.plan import plan_recipe
    from features.schema import load_schema

    if p.get("Recipe"):
        location, text = ctx.store.path("recipes", f"{p['MLModelId']}.recipe"), p["Recipe"]
        objects.write_bytes(location, text.encode("utf-8"))
    elif p.get("RecipeUri"):
        location = uri(p["RecipeUri"], "RecipeUri")
        text = (objects.read_bytes(location) or b"").decode("utf-8")
        if not text:
            raise invalid(f"RecipeUri {p['RecipeUri']}: no such file")
    else:
        return None
    if ds.get("_schema_uri"):
        try:
            plan_recipe(load_schema(read_schema_text(ds["_schema_uri"])), text)
        except (RecipeError, ValueError) as error:
            raise invalid(f"Recipe: {error}") from None
    return location


def create_ml_model(ctx: Context, p: Dict[str, Any]) -> Dict[str, Any]:
    model_id = lake_name(p["MLModelId"], "MLModelId")
    params = p.get("Parameters") or {}
    same = {"MLModelType": p["MLModelType"], "TrainingDataSourceId": p["TrainingDataSourceId"]}
    repeated = already(ctx, "MLModel", model_id, {**same, "TrainingParameters": params, "Recipe": p.get("Recipe")})
    if repeated:
        return repeated
    ds = _needed(ctx, "DataSource", p["TrainingDataSourceId"], "TrainingDataSourceId")
    unknown = sorted(set(params) - set(SGD_KEYS))
    if unknown:
        raise invalid(f"Parameters: unknown key(s) {', '.join(unknown)}; known: {', '.join(SGD_KEYS)}")
    doc = {
        "MLModelId": model_id,
        "Name": p.get("MLModelName"),
        "MLModelType": p["MLModelType"],
        "TrainingDataSourceId": p["TrainingDataSourceId"],
        "InputDataLocationS3": ds.get("DataLocationS3"),
        "TrainingParameters": params,
        "Algorithm": "sgd",
        "ScoreThreshold": 0.5 if p["MLModelType"] == "BINARY" else None,
        "EndpointInfo": {"PeakRequestsPerSecond": 0, "EndpointStatus": "NONE"},
        "Recipe": p.get("Recipe"),
        "_params": params,
        "_recipe_uri": recipe_location(ctx, p, ds),
    }
    return created(ctx, "MLModel", doc)


def create_evaluation(ctx: Context, p: Dict[str, Any]) -> Dict[str, Any]:
    lake_name(p["EvaluationId"], "EvaluationId")
    same = {"MLModelId": p["MLModelId"], "EvaluationDataSourceId": p["EvaluationDataSourceId"]}
    repeated = already(ctx, "Evaluation", p["EvaluationId"], same)
    if repeated:
        return repeated
    _needed(ctx, "MLModel", p["MLModelId"], "MLModelId")
    ds = _needed(ctx, "DataSource", p["EvaluationDataSourceId"], "EvaluationDataSourceId")
    doc = {
        "EvaluationId": p["EvaluationId"],
        "Name": p.get("EvaluationName"),
        "MLModelId": p["MLModelId"],
        "EvaluationDataSourceId": p["EvaluationDataSourceId"],
        "InputDataLocationS3": ds.get("DataLocationS3"),
    }
    return created(ctx, "Evaluation", doc)


def create_batch_prediction(ctx: Context, p: Dict[str, Any]) -> Dict[str, Any]:
    lake_name(p["BatchPredictionId"], "BatchPredictionId")
    same = {k: p[k] for k in ("MLModelId", "BatchPredictionDataSourceId")}
    repeated = already(
        ctx, "BatchPrediction", p["BatchPredictionId"], {**same, "OutputUri": uri(p["OutputUri"], "OutputUri")}
    )
    if repeated:
        return repeated
    _needed(ctx, "MLModel", p["MLModelId"], "MLModelId")
    ds = _needed(ctx, "DataSource", p["BatchPredictionDataSourceId"], "BatchPredictionDataSourceId")
    doc = {
        "BatchPredictionId": p["BatchPredictionId"],
        "Name": p.get("BatchPredictionName"),
        "MLModelId": p["MLModelId"],
        "BatchPredictionDataSourceId": p["BatchPredictionDataSourceId"],
        "InputDataLocationS3": ds.get("DataLocationS3"),
        "OutputUri": uri(p["OutputUri"], "OutputUri"),
    }
    return created(ctx, "BatchPrediction", doc)


# --- get, describe, update, delete --------------------------------------------------------------


def get_data_source(ctx: Context, p: Dict[str, Any]) -> Dict[str, Any]:
    doc = ctx.store.get("DataSource", p["DataSourceId"])
    schema = None
    if p.get("Verbose") and doc.get("_schema_uri"):
        schema = (objects.read_bytes(doc["_schema_uri"]) or b"").decode("utf-8") or None
    return answer("GetDataSource", doc, DataSourceSchema=schema)


def get_ml_model(ctx: Context, p: Dict[str, Any]) -> Dict[str, Any]:
    doc = ctx.store.get("MLModel", p["MLModelId"])
    verbose = {}
    if p.get("Verbose"):
        ds = ctx.store.find("DataSource", doc["TrainingDataSourceId"]) or {}
        schema = (objects.read_bytes(ds["_schema_uri"]) or b"").decode() if ds.get("_schema_uri") else None
        verbose = {"Schema": schema or None}
    else:
        verbose = {"Recipe": None}
    return answer("GetMLModel", {k: v for k, v in doc.items() if k != "Recipe" or p.get("Verbose")}, **verbose)


def _getter(kind: str) -> Callable[[Context, Dict[str, Any]], Dict[str, Any]]:
    def get(ctx: Context, p: Dict[str, Any]) -> Dict[str, Any]:
        return answer(f"Get{kind}", ctx.store.get(kind, p[KINDS[kind][1]]))

    return get


def _describer(kind: str) -> Callable[[Context, Dict[str, Any]], Dict[str, Any]]:
    def describe_all(ctx: Context, p: Dict[str, Any]) -> Dict[str, Any]:
        if not 1 <= int(p.get("Limit", 100)) <= 100:
            raise invalid("Limit must be from 1 to 100")
        return describe(kind, ctx.store.all(kind), p)

    return describe_all


def _updater(kind: str, name_field: str) -> Callable[[Context, Dict[str, Any]], Dict[str, Any]]:
    def update(ctx: Context, p: Dict[str, Any]) -> Dict[str, Any]:
        id_field = KINDS[kind][1]

        def change(doc: Dict[str, Any]) -> None:
            if p.get(name_field) is not None:
                doc["Name"] = p[name_field]
            if p.get("ScoreThreshold") is not None:
                if doc.get("MLModelType") != "BINARY":
                    raise invalid("ScoreThreshold applies to BINARY models only")
                doc.update(ScoreThreshold=float(p["ScoreThreshold"]), ScoreThresholdLastUpdatedAt=now())

        ctx.store.update(kind, p[id_field], change)
        ctx.models.pop(p[id_field], None)  # Predict sees a new ScoreThreshold at once
        return {id_field: p[id_field]}

    return update


def _deleter(kind: str) -> Callable[[Context, Dict[str, Any]], Dict[str, Any]]:
    def delete(ctx: Context, p: Dict[str, Any]) -> Dict[str, Any]:
        id_field = KINDS[kind][1]
        ctx.store.update(kind, p[id_field], lambda doc: doc.update(Status="DELETED"))
        ctx.models.pop(p[id_field], None)
        return {id_field: p[id_field]}

    return delete


OPERATIONS: Dict[str, Callable[[Context, Dict[str, Any]], Dict[str, Any]]] = {
    "CreateDataSourceFromS3": create_data_source_from_s3,
    "CreateDataSourceFromRDS": create_data_source_from_rds,
    "CreateDataSourceFromRedshift": create_data_source_from_redshift,
    "CreateMLModel": create_ml_model,
    "CreateEvaluation": create_evaluation,
    "CreateBatchPrediction": create_batch_prediction,
    "GetDataSource": get_data_source,
    "GetMLModel": get_ml_model,
    "GetEvaluation": _getter("Evaluation"),
    "GetBatchPrediction": _getter("BatchPrediction"),
    "UpdateDataSource": _updater("DataSource", "DataSourceName"),
    "UpdateMLModel": _updater("MLModel", "MLModelName"),
    "UpdateEvaluation": _updater("Evaluation", "EvaluationName"),
    "UpdateBatchPrediction": _updater("BatchPrediction", "BatchPredictionName"),
    "AddTags": tags.add_tags,
    "DeleteTags": tags.delete_tags,
    "DescribeTags": tags.describe_tags,
    "CreateRealtimeEndpoint": realtime.create_realtime_endpoint,
    "DeleteRealtimeEndpoint": realtime.delete_realtime_endpoint,
    "Predict": realtime.predict,
}
for _kind in KINDS:
    OPERATIONS[f"Describe{_kind}s"] = _describer(_kind)
    OPERATIONS[f"Delete{_kind}"] = _deleter(_kind)


def call(ctx: Context, name: str, params: Dict[str, Any]) -> Dict[str, Any]:
    """Validate a request with botocore's model, run the operation, validate its answer."""
    from jobs.aml.protocol import check_request, check_response

    check_request(name, params)
    body = OPERATIONS[name](ctx, params)
    check_response(name, body)
    return body


def dumps(body: Dict[str, Any]) -> bytes:
    """An answer as the JSON bytes sent."""
    return json.dumps(body, separators=(",", ":")).encode("utf-8")

"""Amazon ML entities as JSON documents on the lake: `<lake>/aml/<kind folder>/<id>.json`.

A document holds the service's fields under their API names (`Status`, `Name`, `CreatedAt` as epoch
seconds, ...) and lakeml's own under names starting with `_` (the worker, the job's run, the registry
version, the tags), which answers never show. Ids are the caller's. A local lake serialises updates of
one document with a lock file beside it; on S3 the last write wins.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from typing import Any, Callable, Dict, Iterator, List, Optional

from core import lake, objects
from jobs.aml.protocol import not_found

# kind -> (folder under <lake>/aml/, id field, TagResourceType)
KINDS = {
    "DataSource": ("datasources", "DataSourceId"),
    "MLModel": ("mlmodels", "MLModelId"),
    "Evaluation": ("evaluations", "EvaluationId"),
    "BatchPrediction": ("batchpredictions", "BatchPredictionId"),
}
ACTIVE = ("PENDING", "INPROGRESS")


def now() -> float:
    """Epoch seconds, as the JSON protocol carries timestamps."""
    return round(time.time(), 3)


def public(doc: Dict[str, Any]) -> Dict[str, Any]:
    """The document without lakeml's own `_` fields and unset (None) ones."""
    return {k: v for k, v in doc.items() if not k.startswith("_") and v is not None}


class Store:
    """The entity documents under one lake root."""

    def __init__(self, root: str):
        self.root = lake.normalize_uri(root)

    def path(self, *parts: str) -> str:
        """A URI under <lake>/aml/."""
        return lake.join(self.root, "aml", *parts)

    def uri(self, kind: str, entity_id: str) -> str:
        return self.path(KINDS[kind][0], f"{entity_id}.json")

    def find(self, kind: str, entity_id: str) -> Optional[Dict[str, Any]]:
        """The document, or None."""
        data = objects.read_bytes(self.uri(kind, entity_id))
        return None if data is None else json.loads(data)

    def get(self, kind: str, entity_id: str) -> Dict[str, Any]:
        """The document; ResourceNotFoundException when there is none."""
        doc = self.find(kind, entity_id)
        if doc is None:
            raise not_found(kind, entity_id)
        return doc

    def put(self, kind: str, doc: Dict[str, Any]) -> None:
        """Write a whole document."""
        objects.write_bytes(self.uri(kind, doc[KINDS[kind][1]]), json.dumps(doc, indent=1, sort_keys=True).encode())

    def all(self, kind: str) -> List[Dict[str, Any]]:
        """Every document of a kind."""
        docs = []
        for uri, _ in objects.list_files(self.path(KINDS[kind][0])):
            if uri.endswith(".json"):
                data = objects.read_bytes(uri)
                if data is not None:
                    docs.append(json.loads(data))
        return docs

    @contextlib.contextmanager
    def locked(self, kind: str, entity_id: str) -> Iterator[None]:
        """An exclusive lock on one document (local lakes; a no-op on S3)."""
        if not lake.is_local(self.root):
            yield
            return
        target = lake.local_path(self.uri(kind, entity_id)) + ".lock"
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def update(self, kind: str, entity_id: str, change: Callable[[Dict[str, Any]], None]) -> Dict[str, Any]:
        """Read, change in place, stamp LastUpdatedAt and write back, under the document's lock."""
        with self.locked(kind, entity_id):
            doc = self.get(kind, entity_id)
            change(doc)
            doc["LastUpdatedAt"] = now()
            self.put(kind, doc)
            return doc

    def set_status(self, kind: str, entity_id: str, status: str, message: str = "", **fields: Any) -> Dict[str, Any]:
        """Move an entity to a status with its message and any other fields."""

        def change(doc: Dict[str, Any]) -> None:
            if doc.get("Status") == "DELETED":  # deleted while its work ran: it stays deleted
                return
            doc["Status"] = status
            if message:
                doc["Message"] = message
            if status == "INPROGRESS":
                doc.setdefault("StartedAt", now())
            if status in ("COMPLETED", "FAILED"):
                doc["FinishedAt"] = now()
                if doc.get("StartedAt"):
                    doc["ComputeTime"] = int((doc["FinishedAt"] - doc["StartedAt"]) * 1000)
            doc.update(fields)

        return self.update(kind, entity_id, change)

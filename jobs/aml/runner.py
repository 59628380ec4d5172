"""Background work: one worker process per entity, and the reconcile a (re)started server runs.

`start_worker` launches `python -m jobs.aml.worker KIND ID --lake ROOT` in its own session (so it outlives a
killed server) and records its pid and start time in the entity. `reconcile` looks at every PENDING or
INPROGRESS entity: a live worker is left alone; a dead worker whose job process still runs gets an adopting
worker that waits for it; otherwise the job's run summary decides (COMPLETED, or FAILED with the job's
message); an entity whose job never started gets a new worker. Nothing stays INPROGRESS without a process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from typing import Any, Dict, List, Optional

from core import lake
from jobs.aml import tasks
from jobs.aml.entities import ACTIVE, KINDS, Store

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def process_start(pid: int) -> Optional[str]:
    """The kernel's start time of a live, non-zombie process, or None when there is none."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def alive(proc: Optional[Dict[str, Any]]) -> bool:
    """Whether a recorded process {pid, start} still runs (the same process, not a reused pid)."""
    return bool(proc) and process_start(int(proc["pid"])) == proc.get("start")


def record(pid: int) -> Dict[str, Any]:
    """{pid, start} of a process, to recognise it later."""
    return {"pid": pid, "start": process_start(pid)}


def log_path(store: Store, entity_id: str) -> str:
    """The local log file of an entity's worker and job."""
    if lake.is_local(store.root):
        folder = lake.local_path(store.path("logs"))
    else:
        folder = os.path.join(os.environ.get("LAKEML_CACHE", os.path.expanduser("~/.cache/lakeml")), "aml-logs")
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, f"{entity_id}.log")


def _reap(child: subprocess.Popen) -> None:
    threading.Thread(target=child.wait, daemon=True).start()


def start_worker(store: Store, kind: str, entity_id: str, adopt: bool = False) -> None:
    """Launch the entity's worker in its own session and record it."""
    argv = [sys.executable, "-m", "jobs.aml.worker", kind, entity_id, "--lake", store.root]
    with open(log_path(store, entity_id), "ab") as log:
        child = subprocess.Popen(
            [*argv, *(["--adopt"] if adopt else [])],
            cwd=PACKAGE_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _reap(child)
    log_uri = "file://" + log_path(store, entity_id)
    store.update(kind, entity_id, lambda doc: doc.update(_worker=record(child.pid), LogUri=log_uri))


def finish(store: Store, kind: str, entity_id: str) -> Dict[str, Any]:
    """Settle an entity from its job's run summary."""
    doc = store.get(kind, entity_id)
    status, message, fields = tasks.outcome(store, kind, doc, tasks.read_summary(store, doc["_run"]))
    return store.set_status(kind, entity_id, status, message, **fields)


def reconcile_one(store: Store, kind: str, doc: Dict[str, Any]) -> str:
    """Settle or resume one PENDING/INPROGRESS entity; returns what was done."""
    entity_id = doc[KINDS[kind][1]]
    if alive(doc.get("_worker")):
        return "running"
    if alive(doc.get("_job")):
        start_worker(store, kind, entity_id, adopt=True)
        return "adopted"
    if doc.get("_run"):
        finish(store, kind, entity_id)
        return "settled"
    start_worker(store, kind, entity_id)
    return "restarted"


def reconcile(store: Store) -> List[str]:
    """Reconcile every active entity; returns `<kind> <id>: <action>` lines."""
    done = []
    for kind in KINDS:
        for doc in store.all(kind):
            if doc.get("Status") in ACTIVE:
                done.append(f"{kind} {doc[KINDS[kind][1]]}: {reconcile_one(store, kind, doc)}")
    return done

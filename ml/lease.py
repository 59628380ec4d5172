"""One writer per model name: a lease file `models/<name>/_writer.json` held while a run publishes.

A train of a name takes the lease before it reads anything and gives it back when it ends; a second
train of the same name while the lease is live is refused (exit 1) with a message naming the run that
holds it. The lease records run id, job, host, process id and an expiry that a background thread renews
every RENEW_SECONDS while the run lives, so a killed run blocks the name for at most LEASE_SECONDS,
and on its own host not at all (its process id is gone, so its lease is stale at once).

Taking the lease is one exclusive create on a local lake (O_EXCL: two takers cannot both win). S3 has no
exclusive create through Hadoop's s3a 3.3, so there the taker writes, waits SETTLE_SECONDS and reads the
lease back: it holds the name only when the lease is still its own (last writer wins; a writer that lost
sees the other's run id). docs/architecture.md, "One writer per model".
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import threading
import time
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Optional

from core.errors import LakemlError
from core.lake import delete, is_local, join, local_path, read_text, write_text
from core.log import logger

LEASE_FILE = "_writer.json"
LEASE_SECONDS = 600
RENEW_SECONDS = 60
SETTLE_SECONDS = 1.0


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def lease_record(run_id: str, job: str, now: Optional[dt.datetime] = None) -> Dict[str, Any]:
    """The lease of this process for a run."""
    now = now or _now()
    return {
        "run_id": run_id,
        "job": job,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "taken_at": now.isoformat(timespec="seconds"),
        "expires_at": (now + dt.timedelta(seconds=LEASE_SECONDS)).isoformat(timespec="seconds"),
    }


def process_alive(pid: int) -> bool:
    """Whether a process of this host is running."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_live(lease: Optional[Dict[str, Any]], now: Optional[dt.datetime] = None) -> bool:
    """A lease still holds its name: not expired, and (on this host) its process still runs."""
    if not lease:
        return False
    try:
        expires = dt.datetime.fromisoformat(lease["expires_at"])
    except (KeyError, TypeError, ValueError):
        return False
    if expires <= (now or _now()):
        return False
    if lease.get("host") == socket.gethostname() and isinstance(lease.get("pid"), int):
        return process_alive(lease["pid"])
    return True


def refusal(name: str, lease: Dict[str, Any], uri: str) -> LakemlError:
    """The error of a second writer: who holds the name and until when."""
    return LakemlError(
        f"model {name}: another {lease.get('job', 'run')} is writing it (run {lease.get('run_id')} on "
        f"{lease.get('host')}, pid {lease.get('pid')}, since {lease.get('taken_at')}; its lease runs until "
        f"{lease.get('expires_at')}). One writer per model name: wait for it to end and run again; if that run "
        f"was killed on another host, its lease expires by itself (or delete {uri})"
    )


def _read(spark, uri: str) -> Optional[Dict[str, Any]]:
    text = read_text(spark, uri)
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _create_local(uri: str, record: Dict[str, Any]) -> bool:
    """Create the lease file only when it does not exist (one winner among concurrent takers)."""
    path = local_path(uri)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(handle, "w") as out:
        out.write(json.dumps(record) + "\n")
    return True


def take(spark, folder: str, name: str, run_id: str, job: str) -> Dict[str, Any]:
    """Take the lease of the model folder for this run, or raise the refusal naming the holder."""
    uri = join(folder, LEASE_FILE)
    current = _read(spark, uri)
    if current and current.get("run_id") != run_id and is_live(current):
        raise refusal(name, current, uri)
    if current:
        logger.warning("model %s: taking over the stale lease of run %s", name, current.get("run_id"))
        delete(spark, uri)
    record = lease_record(run_id, job)
    if is_local(uri):
        if not _create_local(uri, record):
            raise refusal(name, _read(spark, uri) or {}, uri)
        return record
    write_text(spark, uri, json.dumps(record) + "\n")
    time.sleep(SETTLE_SECONDS)
    held = _read(spark, uri) or {}
    if held.get("run_id") != run_id:
        raise refusal(name, held, uri)
    return record


@contextmanager
def writer_lease(spark, folder: str, name: str, run_id: str, job: str) -> Iterator[None]:
    """Hold the model's lease for the block: renewed in the background, given back at the end."""
    uri = join(folder, LEASE_FILE)
    take(spark, folder, name, run_id, job)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(RENEW_SECONDS):
            write_text(spark, uri, json.dumps(lease_record(run_id, job)) + "\n")

    renewer = threading.Thread(target=renew, name=f"lease-{name}", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join(timeout=5)
        if (_read(spark, uri) or {}).get("run_id") == run_id:
            delete(spark, uri)

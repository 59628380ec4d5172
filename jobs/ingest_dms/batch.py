"""Batches and the ledger: which files the next run applies, recorded before and after its Delta commits.

The ledger `<lake>/_state/ingest_dms/<schema>/<table>/ledger.json` lists the applied files and the
full load's identity; a batch is recorded as `pending` before its first data commit, and every
commit of the batch carries Delta's idempotent-write version from `txn_version` (docs/dms.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from core import ledger as common_ledger
from core.errors import UsageError
from core.lake import FileInfo
from core.ledger import same_file

LEDGER_NAME = "ledger.json"
STEP_LOAD_SCHEMA, STEP_LOAD, STEP_CDC_SCHEMA, STEP_CDC = 0, 1, 2, 3


def empty_ledger(name: str) -> dict:
    """A ledger with nothing applied."""
    return {"table": name, "last_batch": 0, "load": {}, "applied": {}, "batches": [], "pending": None}


def _identity(info: FileInfo) -> List[int]:
    return [int(info.size), int(info.mtime_ms)]


@dataclass
class Plan:
    """What one run applies to one table: batch number, whether it reloads, and the files."""

    batch: int
    full: bool
    load_files: List[str] = field(default_factory=list)
    cdc_files: List[str] = field(default_factory=list)
    load_identity: Dict[str, List[int]] = field(default_factory=dict)
    resumed: bool = False
    superseded: List[str] = field(default_factory=list)
    apply_plan: Optional[str] = None  # how a CDC batch is applied (jobs/ingest_dms/apply.py), kept for a resume

    @property
    def files(self) -> List[str]:
        return self.load_files + self.cdc_files

    def to_dict(self) -> dict:
        return {
            "batch": self.batch,
            "full": self.full,
            "load_files": self.load_files,
            "cdc_files": self.cdc_files,
            "load_identity": self.load_identity,
            "superseded": self.superseded,
            "apply_plan": self.apply_plan,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Plan:
        return cls(
            batch=int(data["batch"]),
            full=bool(data["full"]),
            load_files=list(data["load_files"]),
            cdc_files=list(data["cdc_files"]),
            load_identity=dict(data.get("load_identity") or {}),
            resumed=True,
            superseded=list(data.get("superseded") or []),
            apply_plan=data.get("apply_plan"),
        )


def older_than_load(loads: List[FileInfo], cdcs: List[FileInfo]) -> List[str]:
    """The CDC files written before the full load's first LOAD file (by modification time): superseded by it."""
    if not loads:
        return []
    load_time = min(info.mtime_ms for info in loads)
    return [info.uri for info in cdcs if info.mtime_ms < load_time]


def plan_batch(
    ledger: dict,
    loads: List[FileInfo],
    cdcs: List[FileInfo],
    full_reload: bool,
    table_exists: bool,
    by_file_time: bool = False,
) -> Optional[Plan]:
    """The next batch: a pending one first; else a full load when one is new (or forced); else new CDC files.

    `by_file_time` (tables without a timestamp column): a full load supersedes the CDC files older than it."""
    pending = ledger.get("pending")
    if pending and not full_reload:
        return Plan.from_dict(pending)
    batch = max(int(ledger.get("last_batch", 0)), int(pending["batch"]) if pending else 0) + 1
    known_load = ledger.get("load") or {}
    new_load = any(not same_file(known_load.get(info.uri), info) for info in loads)
    lost_table = not table_exists and bool(ledger.get("applied"))
    if loads and (full_reload or new_load or lost_table):
        superseded = older_than_load(loads, cdcs) if by_file_time else []
        return Plan(
            batch,
            True,
            [info.uri for info in loads],
            [info.uri for info in cdcs if info.uri not in superseded],
            {info.uri: _identity(info) for info in loads},
            superseded=superseded,
        )
    if full_reload and not loads:
        raise UsageError(f"--full-reload: no full-load (LOAD...) files for {ledger.get('table')}")
    applied = ledger.get("applied") or {}
    fresh = [info.uri for info in cdcs if info.uri not in applied]
    if not fresh:
        return None
    return Plan(batch, False, [], fresh, {})


def with_pending(ledger: dict, plan: Plan) -> dict:
    """The ledger with the batch recorded as pending (written before any data commit)."""
    return {**ledger, "pending": plan.to_dict()}


def commit_plan(
    ledger: dict, plan: Plan, run_id: str, rows_in_table: Optional[int] = None, load_time: Optional[str] = None
) -> dict:
    """The ledger after the batch's commits: its files applied (superseded ones too), nothing pending.

    `load_time` (a full batch of a table with timestamps) is kept so later batches skip older changes."""
    applied = {} if plan.full else dict(ledger.get("applied") or {})
    for uri in plan.files + plan.superseded:
        applied[uri] = plan.batch
    batches = list(ledger.get("batches") or [])
    batches.append({"batch": plan.batch, "full": plan.full, "files": len(plan.files), "run_id": run_id})
    return {
        **ledger,
        "last_batch": plan.batch,
        "load": dict(plan.load_identity) if plan.full else dict(ledger.get("load") or {}),
        "applied": applied,
        "batches": batches[-1000:],
        "pending": None,
        "rows_in_table": rows_in_table,
        "load_time": load_time if plan.full else ledger.get("load_time"),
    }


def txn_version(batch: int, step: int) -> int:
    """Delta idempotent-write version of one commit of a batch, from its step (STEP_*).

    Delta skips a commit whose version is not above the last one recorded for the app id, so the
    steps of a batch must commit in this order."""
    return batch * 4 + step


def read_ledger(spark, uri: str, name: str) -> dict:
    """The table's ledger, or an empty one."""
    return common_ledger.read_ledger(spark, uri, empty_ledger(name))


def write_ledger(spark, uri: str, ledger: dict) -> None:
    """Replace the ledger (readers see the old or the new one, never half)."""
    common_ledger.write_ledger(spark, uri, ledger)

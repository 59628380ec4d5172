"""Ledgers: which input files a job has taken, in `<lake>/_state/<job>/.../ledger.json`.

A ledger is one small JSON document written atomically after a job's data commits (see
lake.write_text); a run killed before it re-takes its files, and publishing by source file makes that
harmless. Files are keyed by their canonical literal URI (core.files) and known by their
identity, size and modification time: a listed file whose identity differs from its entry was
changed and is taken again. An entry is a dict holding `size` and `mtime_ms` (plus what the job
records), or a `[size, mtime_ms]` pair.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Union

from core.lake import FileInfo, read_text, write_text

LEDGER_NAME = "ledger.json"
Entry = Union[Mapping[str, object], Sequence[int]]


def ledger_uri(lake, job: str, *parts: str) -> str:
    """Where a job keeps the ledger of one of its sources or tables."""
    return lake.state(job, *parts, LEDGER_NAME)


def read_ledger(spark, uri: str, empty: Optional[dict] = None) -> dict:
    """The ledger at a URI, or `empty` (default {}) when there is none yet."""
    text = read_text(spark, uri)
    return json.loads(text) if text else dict(empty or {})


def write_ledger(spark, uri: str, ledger: dict) -> None:
    """Write the whole ledger atomically, keys sorted."""
    write_text(spark, uri, json.dumps(ledger, indent=1, sort_keys=True) + "\n")


def identity(info: FileInfo) -> Dict[str, int]:
    """What a ledger records of a file to recognise it: size and modification time."""
    return {"size": info.size, "mtime_ms": info.mtime_ms}


def same_file(entry: Optional[Entry], info: FileInfo) -> bool:
    """True when a ledger entry records this very file (same size and modification time)."""
    if entry is None:
        return False
    if isinstance(entry, Mapping):
        return entry.get("size") == info.size and entry.get("mtime_ms") == info.mtime_ms
    return list(entry)[:2] == [info.size, info.mtime_ms]


@dataclass
class FilePlan:
    """Which listed files a run takes: new and changed ones (`read`), the rest `skipped`."""

    read: List[FileInfo] = field(default_factory=list)
    skipped: List[FileInfo] = field(default_factory=list)
    changed: List[str] = field(default_factory=list)


def plan_files(listed: Sequence[FileInfo], taken: Mapping[str, Entry], retake_all: bool = False) -> FilePlan:
    """New or changed files are read; files the ledger has with the same identity are skipped."""
    plan = FilePlan()
    for info in listed:
        known = taken.get(info.uri)
        same = same_file(known, info)
        if same and not retake_all:
            plan.skipped.append(info)
            continue
        if known is not None and not same:
            plan.changed.append(info.uri)
        plan.read.append(info)
    return plan


def missing_files(taken: Mapping[str, Entry], listed: Sequence[FileInfo], wanted: Sequence[str]) -> List[str]:
    """The ledger files among `wanted` that the listing no longer has (inputs that vanished)."""
    present = {f.uri for f in listed}
    return sorted(uri for uri in wanted if uri in taken and uri not in present)

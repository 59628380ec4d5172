"""The demo shop's raw zone: web access logs and AWS DMS files for three nights, seeded and deterministic.

    from jobs.nightly.demo import DemoSpec, day_files
    for path, data in day_files(DemoSpec(scale=1.0, seed=7), day=1): ...   # paths relative to the lake

`python -m jobs.nightly.demo --out DIR [--scale S] [--seed N] [--days 1-3]` writes them under DIR.
Day 1 (DemoSpec.start_date, 2026-11-20 by default) holds 28 days of logs, the DMS full load and
day 1's CDC files; days 2 and 3 add a log file and CDC files each, day 3 also a late orders file.
`raw/_demo/day=<N>.json` is written after a day's files, so a day whose marker exists is complete; it
holds the day's `digest` (`day_digest`), so a lake whose days came from two versions of the generator
(whose days do not follow on from each other) can be recognised.
"""

from __future__ import annotations

import hashlib
import json
from typing import List, Optional, Tuple

from jobs.nightly.demo.dms import dms_files, final_state
from jobs.nightly.demo.logs import log_files
from jobs.nightly.demo.world import START_DATE, DemoSpec, build_world, manifest

__all__ = [
    "START_DATE",
    "DemoSpec",
    "day_digest",
    "day_files",
    "final_state",
    "manifest_of",
    "marker_digest",
    "marker_path",
]


def marker_path(day: int) -> str:
    """The marker written last for a complete demo day (relative to the lake)."""
    return f"raw/_demo/day={day}.json"


def manifest_of(spec: DemoSpec) -> dict:
    """The generator's settings and the design figures (label rate, the best reachable AUC)."""
    return manifest(build_world(spec))


def day_digest(files: List[Tuple[str, bytes]]) -> str:
    """sha256 over a day's data files (paths and bytes, in path order): what identifies the day's content."""
    digest = hashlib.sha256()
    for path, data in sorted(files):
        digest.update(f"{path}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def marker_digest(marker: bytes) -> Optional[str]:
    """The digest a day's marker records (None for markers written before lakeml recorded one)."""
    return json.loads(marker.decode("utf-8")).get("digest")


def day_files(spec: DemoSpec, day: int) -> List[Tuple[str, bytes]]:
    """Every file demo day `day` adds, its marker last: (path relative to the lake, bytes)."""
    if not 1 <= day <= spec.days:
        raise ValueError(f"demo day {day} is outside 1..{spec.days}")
    world = build_world(spec)
    files = log_files(world, day) + dms_files(spec, day)
    info = dict(manifest(world), day=day, date=spec.day_date(day).isoformat(), files=[p for p, _ in files])
    info["digest"] = day_digest(files)
    return [*files, (marker_path(day), (json.dumps(info, indent=2, sort_keys=True) + "\n").encode())]

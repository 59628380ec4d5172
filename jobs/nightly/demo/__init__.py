"""The demo shop's raw zone: web access logs and AWS DMS files for three nights, seeded and deterministic.

    from jobs.nightly.demo import DemoSpec, day_files
    for path, data in day_files(DemoSpec(scale=1.0, seed=7), day=1): ...   # paths relative to the lake

`python -m jobs.nightly.demo --out DIR [--scale S] [--seed N] [--days 1-3]` writes them under DIR.
Day 1 (DemoSpec.start_date, 2026-11-20 by default) holds 28 days of logs, the DMS full load and
day 1's CDC files; days 2 and 3 add a log file and CDC files each, day 3 also a late orders file.
`raw/_demo/day=<N>.json` is written after a day's files, so a day whose marker exists is complete.
"""

from __future__ import annotations

import json
from typing import List, Tuple

from jobs.nightly.demo.dms import dms_files, final_state
from jobs.nightly.demo.logs import log_files
from jobs.nightly.demo.world import START_DATE, DemoSpec, build_world, manifest

__all__ = ["START_DATE", "DemoSpec", "day_files", "final_state", "manifest_of", "marker_path"]


def marker_path(day: int) -> str:
    """The marker written last for a complete demo day (relative to the lake)."""
    return f"raw/_demo/day={day}.json"


def manifest_of(spec: DemoSpec) -> dict:
    """The generator's settings and the design figures (label rate, the best reachable AUC)."""
    return manifest(build_world(spec))


def day_files(spec: DemoSpec, day: int) -> List[Tuple[str, bytes]]:
    """Every file demo day `day` adds, its marker last: (path relative to the lake, bytes)."""
    if not 1 <= day <= spec.days:
        raise ValueError(f"demo day {day} is outside 1..{spec.days}")
    world = build_world(spec)
    files = log_files(world, day) + dms_files(spec, day)
    info = dict(manifest(world), day=day, date=spec.day_date(day).isoformat(), files=[p for p, _ in files])
    return [*files, (marker_path(day), (json.dumps(info, indent=2, sort_keys=True) + "\n").encode())]

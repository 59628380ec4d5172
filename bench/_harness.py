"""Benchmark harness: run lakeml and a peer on the same input in one process run, print rows/s and the ratio.

Each bench/<name>.py builds or loads one input (cached under bench/.data/, never committed),
times every contender with `timed`, and calls `report`. Copy the printed table into
bench/RESULTS.md with the date and the machine's core count.
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import time
from dataclasses import dataclass
from typing import Callable, List

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(BENCH_DIR, ".data")
OUT_DIR = os.path.join(BENCH_DIR, ".out")


@dataclass
class Result:
    name: str
    rows: int
    seconds: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else float("inf")


def timed(name: str, rows: int, fn: Callable[[], object]) -> Result:
    """Run fn once and time it (wall clock)."""
    started = time.perf_counter()
    fn()
    return Result(name, rows, time.perf_counter() - started)


def peak_rss_mb() -> float:
    """Peak resident memory of this process (the Python driver side), in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(title: str, results: List[Result], baseline: str) -> str:
    """A markdown table: rows/s of each contender and its ratio to the baseline (the peer)."""
    base = next(r for r in results if r.name == baseline)
    lines = [
        f"### {title}",
        f"{dt.date.today().isoformat()}, {os.cpu_count()} cores",
        "",
        "| contender | rows | seconds | rows/s | ratio to " + baseline + " |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        ratio = r.rows_per_s / base.rows_per_s
        lines.append(f"| {r.name} | {r.rows:,} | {r.seconds:.2f} | {r.rows_per_s:,.0f} | {ratio:.2f}x |")
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def load_averages() -> str:
    """`uptime`'s load averages (1, 5, 15 min)."""
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def wait_quiet(limit: float = 1.5, most_seconds: float = 300) -> str:
    """Wait until the 1-minute load is under `limit` (the bench's own previous run decays in ~1 min),
    at most `most_seconds`; returns the load averages then, to print beside the figure."""
    deadline = time.monotonic() + most_seconds
    while os.getloadavg()[0] >= limit and time.monotonic() < deadline:
        time.sleep(5)
    return load_averages()


def ensure_dirs() -> None:
    os.makedirs(DATA_DIR, exist_ok=True)
    os.makedirs(OUT_DIR, exist_ok=True)

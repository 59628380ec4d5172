"""Benchmark: the whole nightly on the demo shop at several scales, one fresh lake and process each.

    .venv/bin/python bench/nightly.py [--scales 0.05,1,4,16] [--out /tmp/lakeml-bench-nightly]

Each scale runs `./spark-submit.sh local nightly --demo --scale S --lake <fresh dir>` (the README's
command, the demo's last night with all three days' files) and records the wall time, the seconds
of each step from the nightly's summary, the raw rows read (log lines + DMS rows), rows/s, and the
peak resident memory of the driver JVM (sampled every 0.2 s from /proc). A least-squares line
seconds = fixed + per_scale * scale over the scales gives the fixed cost and the slope; the tiny
scale (0.05) is the measured floor. Prints a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from typing import Dict, List

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tree_rss_kib(pid: int) -> Dict[int, int]:
    """Resident KiB of a process and its descendants, by pid."""
    out: Dict[int, int] = {}
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as handle:
                rss = next((int(line.split()[1]) for line in handle if line.startswith("VmRSS:")), 0)
            with open(f"/proc/{p}/task/{p}/children") as handle:
                stack += [int(c) for c in handle.read().split()]
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            continue
        out[p] = rss
    return out


def java_pids(pids) -> List[int]:
    """The JVMs among pids (the driver of a local run)."""
    found = []
    for p in pids:
        try:
            with open(f"/proc/{p}/comm") as handle:
                if handle.read().strip() == "java":
                    found.append(p)
        except FileNotFoundError:
            continue
    return found


def run_scale(scale: float, out: str) -> dict:
    """One nightly run at a scale: seconds, step seconds, rows, peak driver RSS."""
    lake = os.path.join(out, f"lake-{scale:g}")
    shutil.rmtree(lake, ignore_errors=True)
    cmd = [os.path.join(ROOT, "spark-submit.sh"), "local", "nightly", "--demo", "--scale", str(scale), "--lake", lake]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peak = 0
    lines: List[str] = []
    import threading

    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    while proc.poll() is None:
        sizes = tree_rss_kib(proc.pid)
        peak = max([peak] + [sizes[p] for p in java_pids(sizes)])
        time.sleep(0.2)
    reader.join(timeout=10)
    seconds = time.monotonic() - started
    summary = json.loads(lines[-1])
    steps = {s["name"]: round(s["seconds"], 1) for s in summary["counts"]["steps"]}
    return {
        "scale": scale,
        "exit": proc.returncode,
        "seconds": round(seconds, 1),
        "job_seconds": round(summary["seconds"], 1),
        "rows_in": summary["rows_in"],
        "rows_per_s": round(summary["rows_in"] / summary["seconds"]) if summary["seconds"] else 0,
        "peak_driver_mib": round(peak / 1024),
        "steps": steps,
    }


def fit(points: List[dict]) -> Dict[str, float]:
    """Least squares seconds = fixed + per_scale * scale."""
    xs = [p["scale"] for p in points]
    ys = [p["job_seconds"] for p in points]
    n, mx, my = len(xs), sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var if var else 0.0
    return {"fixed_seconds": round(my - slope * mx, 1), "seconds_per_scale": round(slope, 1), "points": n}


def markdown(points: List[dict]) -> str:
    """The results as a Markdown table (one row per scale, step seconds as columns)."""
    names = list(points[0]["steps"])
    head = ["scale", "exit", "wall s", "job s", "raw rows", "rows/s", "peak driver MiB", *names]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for p in points:
        cells = [
            p["scale"],
            p["exit"],
            p["seconds"],
            p["job_seconds"],
            p["rows_in"],
            p["rows_per_s"],
            p["peak_driver_mib"],
        ]
        cells += [p["steps"].get(n, "") for n in names]
        rows.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="0.05,1,4,16")
    parser.add_argument("--out", default="/tmp/lakeml-bench-nightly")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    points = []
    for scale in [float(s) for s in args.scales.split(",")]:
        point = run_scale(scale, args.out)
        points.append(point)
        print(json.dumps(point), flush=True)
    print(markdown(points))
    print(json.dumps(fit(points)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

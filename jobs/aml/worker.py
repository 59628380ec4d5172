"""One entity's background work: `python -m jobs.aml.worker KIND ID --lake ROOT [--adopt]`.

Waits until the entities it needs are COMPLETED (any FAILED or DELETED fails it with their name), marks it
INPROGRESS with the job's run id, runs the lakeml job as a process (`spark-submit.sh local JOB ...`), and
settles the entity from the job's run summary. `--adopt` only waits for an already running job process
(recorded in the entity) and settles it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from typing import Optional

from jobs.aml import runner, tasks
from jobs.aml.entities import Store
from jobs.aml.protocol import AmlError

POLL_SECONDS = 1.0


def blocker(store: Store, kind: str, doc) -> Optional[str]:
    """None when every needed entity is COMPLETED, 'wait' while one is still active, else the failure message."""
    for dep_kind, field in tasks.DEPENDENCIES[kind]:
        try:
            dep = store.get(dep_kind, doc[field])
        except AmlError:
            return f"{dep_kind} {doc[field]} does not exist"
        if dep.get("Status") in ("FAILED", "DELETED"):
            return f"{dep_kind} {doc[field]} is {dep['Status']}: {dep.get('Message', '')}".rstrip(": ")
        if dep.get("Status") != "COMPLETED":
            return "wait"
    return None


def wait_for_dependencies(store: Store, kind: str, entity_id: str) -> bool:
    """Poll until the entity may start; False after marking it FAILED."""
    while True:
        doc = store.get(kind, entity_id)
        if doc.get("Status") not in ("PENDING", "INPROGRESS"):
            return False
        why = blocker(store, kind, doc)
        if why is None:
            return True
        if why != "wait":
            store.set_status(kind, entity_id, "FAILED", why)
            return False
        time.sleep(POLL_SECONDS)


def submit_argv(target, args, lake_root: str, the_run) -> list:
    """`spark-submit.sh local JOB ...`, or `spark-submit.sh emr JOB ... <launcher flags> --wait` (an EMR step)."""
    name, flags = target[0], list(target[1:])
    common = ["--lake", lake_root, "--run-id", the_run["run_id"], "--run-date", the_run["run_date"]]
    if name == "emr" and "--wait" not in flags:
        flags.append("--wait")
    return [os.path.join(runner.PACKAGE_ROOT, "spark-submit.sh"), name, *args, *common, *flags]


def run(store: Store, kind: str, entity_id: str) -> None:
    """Run the entity's job and settle the entity."""
    if not wait_for_dependencies(store, kind, entity_id):
        return
    doc = store.get(kind, entity_id)
    try:
        args = tasks.job_args(store, kind, doc)
    except (ValueError, AmlError) as error:
        store.set_status(kind, entity_id, "FAILED", str(error))
        return
    run_date = dt.datetime.now(dt.timezone.utc).date().isoformat()
    the_run = {"job": args[0], "run_id": tasks.run_id_for(kind, doc), "run_date": run_date}
    store.set_status(kind, entity_id, "INPROGRESS", _run=the_run)
    argv = submit_argv(doc.get("_target") or ["local"], args, store.root, the_run)
    child = subprocess.Popen(argv, cwd=runner.PACKAGE_ROOT, stdin=subprocess.DEVNULL)
    store.update(kind, entity_id, lambda d: d.update(_job=runner.record(child.pid)))
    child.wait()
    runner.finish(store, kind, entity_id)


def adopt(store: Store, kind: str, entity_id: str) -> None:
    """Wait for the recorded job process to end, then settle the entity."""
    while runner.alive(store.get(kind, entity_id).get("_job")):
        time.sleep(POLL_SECONDS)
    runner.finish(store, kind, entity_id)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.aml.worker")
    parser.add_argument("kind")
    parser.add_argument("entity_id")
    parser.add_argument("--lake", required=True)
    parser.add_argument("--adopt", action="store_true")
    args = parser.parse_args(argv)
    store = Store(args.lake)
    print(f"aml worker {os.getpid()}: {args.kind} {args.entity_id}", flush=True)
    try:
        (adopt if args.adopt else run)(store, args.kind, args.entity_id)
    except Exception as error:  # a worker never leaves its entity INPROGRESS
        store.set_status(args.kind, args.entity_id, "FAILED", f"{type(error).__name__}: {error}")
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The one entry point: `python -m jobs JOB [flags]`, also what spark-submit runs.

Job modules are imported only when chosen, so `--help`, `--list` and argument checks
need no Spark and start no JVM.
"""

from __future__ import annotations

import importlib
import sys
from typing import List, Optional

from core.errors import EXIT_OK, EXIT_USAGE

# name -> (module, one line for the usage text)
JOBS = {
    "doctor": ("jobs.doctor", "print versions and jars, prove a Delta write/MERGE/read/time-travel on --lake"),
    "ingest_logs": ("jobs.ingest_logs", "access logs and JSON event lines into the Delta table logs_<source>"),
    "ingest_dms": ("jobs.ingest_dms", "apply AWS DMS full-load and CDC files to Delta tables, exactly once"),
    "build_features": ("jobs.build_features", "join lake tables, add addresses and clickstream, apply a recipe"),
    "score": ("jobs.score", "batch predictions or recommendations from the champion model into scores/<name>/"),
    "models": ("jobs.models", "list model versions with metrics and the champion; --promote vN by hand"),
    "nightly": ("jobs.nightly", "the whole pipeline for a date: ingest, features, profile, train, score; run report"),
    "profile": ("jobs.profile", "Amazon ML data insights of a datasource, table or feature set, with plots and drift"),
    "train": ("jobs.train", "train an MLlib model from a datasource/table/feature set; evaluate, register, gate"),
    "evaluate": ("jobs.evaluate", "score a labelled dataset with a registered model and write its evaluation report"),
    "aml": ("jobs.aml", "Amazon ML's API (boto3, aws machinelearning) on the lake: serve, or one operation"),
}

USAGE = """usage: python -m jobs JOB [flags]      (or ./spark-submit.sh local|emr JOB [flags])
       python -m jobs JOB --help       flags of one job
       python -m jobs --check JOB ...  check the arguments only, no Spark

jobs:
{jobs}
"""


def usage() -> str:
    """The top-level usage text with every job."""
    width = max(len(name) for name in JOBS)
    lines = "\n".join(f"  {name.ljust(width)}  {text}" for name, (_, text) in JOBS.items())
    return USAGE.format(jobs=lines)


def load_job(name: str):
    """The module of a registered job."""
    return importlib.import_module(JOBS[name][0])


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    check_only = bool(argv) and argv[0] == "--check"
    if check_only:
        argv = argv[1:]
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), file=sys.stderr if not argv else sys.stdout)
        return EXIT_USAGE
    if argv[0] == "--list":
        print("\n".join(JOBS))
        return EXIT_OK
    name, rest = argv[0], argv[1:]
    if name not in JOBS:
        print(f"unknown job {name!r}\n\n{usage()}", file=sys.stderr)
        return EXIT_USAGE
    from core.cli import parse_or_summarize, run_job

    module = load_job(name)
    if check_only:
        parse_or_summarize(name, module, rest)
        return EXIT_OK
    return run_job(name, module, rest)

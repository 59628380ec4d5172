"""Running the night's steps in one Spark session: each through its job's own contract, in order.

A step is parsed by its job's own parser (so a bad flag in the CONF is the job's exit 2), run by
`core.cli.execute` (its summary stored under `_runs/<job>/` and printed), and read back
from the lake as the record of the step. The first step that does not end with exit 0 stops the
night. Steps whose job is not part of this lakeml build are recorded as skipped.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

from core.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from core.lake import Lake, exists, join, read_bytes, read_text, write_text
from core.log import logger
from jobs.nightly.conf import Step
from jobs.nightly.unchanged import input_fingerprint, remember, unchanged_version

STATUS_SKIPPED = "skipped"
STATUS_NOT_RUN = "not_run"
STATUS_UNCHANGED = "unchanged"


@dataclass
class StepResult:
    """What one step did: its exit code, seconds and the job's own summary (a dict)."""

    stage: str
    name: str
    job: str
    run_id: str
    argv: List[str]
    exit_code: Optional[int] = None
    status: str = STATUS_NOT_RUN
    seconds: float = 0.0
    message: str = ""
    summary: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        """Plain data for the nightly's summary and report."""
        return asdict(self)


def argv_value(argv: List[str], flag: str) -> Optional[str]:
    """The value after `flag` in an argv."""
    for i, item in enumerate(argv[:-1]):
        if item == flag:
            return argv[i + 1]
    return None


def write_inline_files(spark, lake: Lake, files: Dict[str, str]) -> None:
    """Write the CONF's inline documents where the steps read them (skipped when already there, same content)."""
    for path, text in files.items():
        uri = join(lake.root, path)
        if read_text(spark, uri) != text:
            write_text(spark, uri, text)


def parse_step(module, step: Step):
    """The step's ParsedJob from its job's parser; (None, message) when the job refuses the flags."""
    from core.cli import parse_job_args

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return parse_job_args(step.job, module, list(step.argv)), ""
    except SystemExit as stop:
        message = err.getvalue().strip().splitlines()
        return None, (message[-1] if message else f"argument error (exit {stop.code})")


def without_missing_baseline(spark, lake: Lake, step: Step) -> Step:
    """A profile step keeps --compare-to only when that date's profile exists (the first night has none)."""
    import dataclasses

    argv = list(step.argv)
    date = argv_value(argv, "--compare-to")
    if step.stage != "profile" or date is None:
        return step
    name = argv_value(argv, "--name") or argv_value(argv, "--features") or argv_value(argv, "--table") or ""
    if exists(spark, join(lake.reports("profile", date), f"{name}.json")):
        return step
    logger.info("nightly: step %s: no profile of %s for %s yet, so nothing to compare with", step.name, name, date)
    i = argv.index("--compare-to")
    return dataclasses.replace(step, argv=tuple(argv[:i] + argv[i + 2 :]))


def missing_input(spark, step: Step) -> Optional[str]:
    """An ingest step's --input prefix that does not exist (a DMS table folder may be absent, the root may not)."""
    uri = argv_value(list(step.argv), "--input") if step.stage in ("ingest_logs", "ingest_dms") else None
    if uri is None or exists(spark, uri):
        return None
    return f"--input {uri}: no such folder; check the CONF's input (nothing was read)"


def stored_summary(spark, lake: Lake, job: str, run_date: str, run_id: str) -> Dict[str, Any]:
    """The run summary a step stored, as a dict ({} when it stored none)."""
    data = read_bytes(spark, lake.run_summary(job, run_date, run_id))
    return json.loads(data.decode("utf-8")) if data else {}


def run_step(spark, lake: Lake, run_date: str, step: Step) -> StepResult:
    """Run one step through its job's contract; never raises for the step's own failures."""
    from core.cli import execute
    from jobs.main import JOBS, load_job

    step = without_missing_baseline(spark, lake, step)
    run_id = argv_value(list(step.argv), "--run-id") or ""
    result = StepResult(step.stage, step.name, step.job, run_id, list(step.argv))
    if step.job not in JOBS:
        result.status, result.message = STATUS_SKIPPED, f"job {step.job} is not part of this lakeml build"
        logger.warning("nightly: step %s skipped: %s", step.name, result.message)
        return result
    started = time.monotonic()
    module = load_job(step.job)
    parsed, refusal = parse_step(module, step)
    missing = missing_input(spark, step) if parsed is not None else None
    if missing:
        parsed, refusal = None, missing
    fingerprint = train_fingerprint(spark, lake, step) if parsed is not None and step.stage == "train" else None
    kept = unchanged_version(spark, lake, argv_value(list(step.argv), "--name") or "", fingerprint)
    if kept:
        result.exit_code, result.status = EXIT_OK, STATUS_UNCHANGED
        result.message = f"input and flags unchanged since {kept}: no new version"
        result.summary = {"counts": {"version": kept, "unchanged": True}}
        logger.info("nightly: step %s: %s", step.name, result.message)
    elif parsed is None:
        result.exit_code, result.status, result.message = EXIT_USAGE, "failed", refusal
    else:
        logger.info("nightly: step %s (%s) starts", step.name, step.job)
        try:
            result.exit_code = execute(module, parsed, spark)
        except Exception as error:  # execute handles the job's errors; this is the session itself failing
            result.exit_code, result.message = EXIT_FAILED, f"{type(error).__name__}: {error}"
        result.summary = stored_summary(spark, lake, step.job, run_date, run_id)
        result.status = result.summary.get("status", "failed" if result.exit_code else "succeeded")
        result.message = result.message or str(result.summary.get("message", ""))
        if step.stage == "train" and result.exit_code == EXIT_OK:
            version = (result.summary.get("counts") or {}).get("version")
            remember(spark, lake, argv_value(list(step.argv), "--name") or "", fingerprint, version)
    result.seconds = time.monotonic() - started
    logger.info("nightly: step %s exit %s in %.1f s", step.name, result.exit_code, result.seconds)
    return result


def train_fingerprint(spark, lake: Lake, step: Step) -> Optional[str]:
    """The train step's input fingerprint (None when it cannot be taken: the step then always trains)."""
    try:
        return input_fingerprint(spark, lake, list(step.argv), argv_value)
    except Exception as error:  # the fingerprint is an optimisation: never the reason a night fails
        logger.warning("nightly: no input fingerprint for %s: %s", step.name, error)
        return None


def run_steps(spark, lake: Lake, run_date: str, steps: List[Step]) -> List[StepResult]:
    """Every step in order until the first that does not exit 0; the rest are recorded as not run."""
    results: List[StepResult] = []
    stopped = False
    for step in steps:
        if stopped:
            run_id = argv_value(list(step.argv), "--run-id") or ""
            results.append(StepResult(step.stage, step.name, step.job, run_id, list(step.argv)))
            continue
        result = run_step(spark, lake, run_date, step)
        results.append(result)
        stopped = result.exit_code not in (None, EXIT_OK)
    return results


def first_failure(results: List[StepResult]) -> Optional[StepResult]:
    """The step that stopped the night, if any."""
    return next((r for r in results if r.exit_code not in (None, EXIT_OK)), None)

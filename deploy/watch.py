"""Waiting for a step or job run with a deadline, cancelling it on timeout or Ctrl-C, and its outcome.

The outcome of a run is the job's own: its run summary, which the job writes to
<lake>/_runs/<job>/<run_date>/<run_id>.json (the launcher pins --run-date and --run-id so it
knows where), gives the exit code (0 done, 2 config error, 3 quality gate tripped, 1 other).
EMR's step state only says whether spark-submit exited 0, so it is the fallback when the job
left no summary (it never started, or died before writing one).
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable, Dict, Optional, Tuple

from deploy.logs import read_s3, say
from deploy.steps import exit_code_for_state

EXIT_TIMEOUT = 1
EXIT_INTERRUPTED = 130  # the shell's code for a process ended by SIGINT


class Deadline:
    """The end of the run's waiting (None: no limit)."""

    def __init__(self, seconds: Optional[float]):
        self.seconds = seconds
        self.end = None if seconds is None else time.monotonic() + seconds

    def remaining(self, cap: Optional[float] = None) -> float:
        """Seconds left (capped at `cap`), never below 0; `cap` (or inf) when there is no deadline."""
        if self.end is None:
            return float("inf") if cap is None else cap
        left = max(0.0, self.end - time.monotonic())
        return left if cap is None else min(left, cap)

    def expired(self) -> bool:
        return self.end is not None and time.monotonic() >= self.end


class Stopped(Exception):
    """The wait ended before the run did: `why` is 'timeout' or 'interrupt'."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


def poll(describe: Callable[[], Tuple[str, Any]], final: Tuple[str, ...], label: str, every: float, deadline: Deadline):
    """Call describe() -> (state, description) until the state is final; Stopped on timeout or Ctrl-C."""
    last = None
    try:
        while True:
            state, description = describe()
            if state != last:
                say(f"{label}: {state}")
                last = state
            if state in final:
                return description
            if deadline.expired():
                raise Stopped("timeout")
            time.sleep(max(0.05, deadline.remaining(every)))
    except KeyboardInterrupt:
        raise Stopped("interrupt") from None


def stopped_code(stop: Stopped, what: str, deadline: Deadline, cancel: Callable[[], str]) -> int:
    """Cancel the run after a timeout or Ctrl-C, say so, and give the launcher's exit code."""
    cause = f"--timeout {deadline.seconds:g}s passed" if stop.why == "timeout" else "interrupted (Ctrl-C)"
    try:
        outcome = cancel()
    except KeyboardInterrupt:
        outcome = "not confirmed (interrupted again)"
    except Exception as error:  # say what AWS answered; the user cancels by hand
        outcome = f"FAILED ({type(error).__name__}: {error}); cancel it yourself"
    say(f"{cause}: cancelling {what}: {outcome}")
    return EXIT_TIMEOUT if stop.why == "timeout" else EXIT_INTERRUPTED


def fresh_connections(client) -> None:
    """Drop the client's pooled connections: a Ctrl-C that cut a call short can leave one mid-response, and a
    cancel sent on it would wait out botocore's 60 s read timeout."""
    client.close()


def cancel_step(emr, cluster_id: str, step_id: str) -> Callable[[], str]:
    """CancelSteps for one step (a running step gets SIGINT, as EMR's SEND_INTERRUPT does)."""

    def cancel() -> str:
        fresh_connections(emr)
        answer = emr.cancel_steps(ClusterId=cluster_id, StepIds=[step_id], StepCancellationOption="SEND_INTERRUPT")
        info = (answer.get("CancelStepsInfoList") or [{}])[0]
        reason = f" ({info['Reason']})" if info.get("Reason") else ""
        return f"{info.get('Status', 'SUBMITTED')}{reason}"

    return cancel


def cancel_job_run(client, application_id: str, job_run_id: str) -> Callable[[], str]:
    """CancelJobRun for an EMR Serverless job run."""

    def cancel() -> str:
        fresh_connections(client)
        client.cancel_job_run(applicationId=application_id, jobRunId=job_run_id)
        return "requested"

    return cancel


def read_summary(s3, uri: str, run_id: str) -> Optional[Dict[str, Any]]:
    """The job's run summary at uri, or None when there is none (or it is another run's)."""
    body = read_s3(s3, uri)
    if body is None:
        return None
    try:
        summary = json.loads(body.decode("utf-8"))
    except ValueError:
        return None
    return summary if isinstance(summary, dict) and summary.get("run_id") == run_id else None


def outcome_code(summary: Optional[Dict[str, Any]], state: str) -> int:
    """The job's own exit code from its summary; without one, 0 only when the step completed."""
    if summary is None:
        return exit_code_for_state(state)
    if isinstance(summary.get("exit_code"), int):
        return summary["exit_code"]
    return {"succeeded": 0, "gate_tripped": 3}.get(summary.get("status"), 1)


def report_outcome(summary: Optional[Dict[str, Any]], uri: str, state: str) -> int:
    """Print the job's summary (or say there is none) and return the launcher's exit code."""
    code = outcome_code(summary, state)
    if summary is None:
        say(f"no run summary at {uri}: the job did not get as far as writing one")
        return code
    print(json.dumps(summary, sort_keys=True), flush=True)
    status = summary.get("status")
    if status == "gate_tripped":
        say(f"the job's quality gate tripped (exit 3): nothing was published. {summary.get('message', '')}".rstrip())
    elif code != 0:
        say(f"the job ended {status} (exit {code}): {summary.get('message', '')}".rstrip())
    return code

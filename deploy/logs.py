"""What the launcher tells the user, and the logs it fetches from where EMR archives them.

EMR uploads a cluster's logs to its LogUri about every five minutes, so a log is waited for
(within the run's deadline) and, when it does not come, the launcher says where to look later.
"""

from __future__ import annotations

import gzip
import re
import sys
import time
from typing import Any, Dict, Optional, Tuple

from core.lake import canonical_uri
from deploy import steps

LOG_TAIL_LINES = 60
APPLICATION_ID = re.compile(r"application_\d+_\d+")


def say(message: str) -> None:
    """One line for the user, on stderr."""
    print(f"lakeml emr: {message}", file=sys.stderr, flush=True)


def show_tail(what: str, tail: str) -> None:
    """Print a log's tail between markers, on stderr."""
    print(f"----- tail of {what} -----\n{tail}\n----- end -----", file=sys.stderr, flush=True)


def split_s3(uri: str) -> Tuple[str, str]:
    """(bucket, key) of an s3:// (or s3a://, s3n://) URI."""
    bucket, _, key = canonical_uri(uri).replace("s3://", "", 1).partition("/")
    return bucket, key


def read_s3(s3, uri: str) -> Optional[bytes]:
    """The bytes of an S3 object, or None when it does not exist."""
    from botocore.exceptions import ClientError

    bucket, key = split_s3(uri)
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return None
        raise


def read_gz_text(s3, uri: str) -> Optional[str]:
    """The text of a (usually gzipped) S3 log object, or None when it does not exist."""
    body = read_s3(s3, uri)
    if body is None:
        return None
    try:
        body = gzip.decompress(body)
    except OSError:
        pass
    return body.decode("utf-8", errors="replace")


def tail_of(text: str, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a text."""
    return "\n".join(text.splitlines()[-lines:])


def wait_for_log(s3, uri: str, wait_seconds: float, poll: float) -> Optional[str]:
    """The log's text once EMR has archived it, or None after wait_seconds."""
    deadline = time.monotonic() + max(0.0, wait_seconds)
    announced = False
    while True:
        text = read_gz_text(s3, uri)
        if text is not None or time.monotonic() >= deadline:
            return text
        if not announced:
            say(f"waiting up to {wait_seconds:.0f}s for EMR to archive {uri}")
            announced = True
        time.sleep(max(0.2, min(poll, 10.0, max(0.0, deadline - time.monotonic()))))


def driver_log_uri(s3, log_uri: str, cluster_id: str, step_stderr: str, name: str = "stderr.gz") -> Optional[str]:
    """The driver container's log file (cluster mode: the first container) of the YARN application the step names."""
    found = APPLICATION_ID.findall(step_stderr)
    if not found:
        return None
    prefix = steps.containers_log_prefix(log_uri, cluster_id, found[-1])
    bucket, key_prefix = split_s3(prefix)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key_prefix).get("Contents", [])
    keys = sorted(obj["Key"] for obj in listed if obj["Key"].endswith("/" + name))
    first = [key for key in keys if re.search(r"_0*1/" + re.escape(name) + "$", key)] or keys
    return f"s3://{bucket}/{first[0]}" if first else None


def step_stderr_uri(log_uri: str, cluster_id: str, step_id: str, details: Dict[str, Any]) -> str:
    """Where the step's stderr is archived (FailureDetails.LogFile when EMR names it)."""
    uri = details.get("LogFile") or steps.step_log_uri(log_uri, cluster_id, step_id)
    return uri if uri.endswith(".gz") else steps.s3_join(uri, "stderr.gz")


def report_step_failure(s3, emr, cluster_id: str, step_id: str, step: Dict[str, Any], wait: float, poll: float) -> None:
    """Print why the step did not complete: failure details, cluster state, and the logs' tails."""
    status = step["Status"]
    details = status.get("FailureDetails") or {}
    say(f"step {step_id} ended {status['State']}")
    for label, value in (("reason", details.get("Reason")), ("message", details.get("Message"))):
        if value:
            say(f"  {label}: {value}")
    cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
    cluster_state = cluster["Status"]["State"]
    log_uri = cluster.get("LogUri")
    if cluster_state.startswith("TERMINAT") and cluster["Status"].get("StateChangeReason", {}).get("Code") not in (
        None,
        "ALL_STEPS_COMPLETED",
    ):
        reason = cluster["Status"].get("StateChangeReason", {})
        say(f"  cluster {cluster_id} is {cluster_state}: {reason.get('Code', '')} {reason.get('Message', '')}".rstrip())
        if log_uri:
            node_logs = steps.s3_join(log_uri, cluster_id, "node")
            say(f"  if it never started, bootstrap logs: {node_logs}/<instance-id>/bootstrap-actions/")
    if not log_uri:
        say(f"  cluster {cluster_id} has no LogUri, so EMR archived no logs; see the step in the EMR console")
        return
    stderr_uri = step_stderr_uri(log_uri, cluster_id, step_id, details)
    text = wait_for_log(s3, stderr_uri, wait, poll)
    if text is None:
        say(f"  the step's stderr is not archived yet; look later at {stderr_uri}")
        return
    show_tail(stderr_uri, tail_of(text))
    driver = driver_log_uri(s3, log_uri, cluster_id, text)
    driver_text = read_gz_text(s3, driver) if driver else None
    if driver_text is not None:
        show_tail(f"the driver's {driver}", tail_of(driver_text))
    else:
        say(f"  the driver's own log (cluster mode) is under {steps.s3_join(log_uri, cluster_id, 'containers')}/")


def show_driver_stdout(s3, emr, cluster_id: str, step_id: str, wait: float, poll: float) -> None:
    """Print the driver's stdout (cluster mode: the first container's) once EMR has archived it."""
    log_uri = emr.describe_cluster(ClusterId=cluster_id)["Cluster"].get("LogUri")
    if not log_uri:
        say(f"cluster {cluster_id} has no LogUri: no driver stdout to show")
        return
    stderr_uri = steps.step_log_uri(log_uri, cluster_id, step_id)
    started = time.monotonic()
    text = wait_for_log(s3, stderr_uri, wait, poll)
    driver = driver_log_uri(s3, log_uri, cluster_id, text or "", "stdout.gz")
    if driver is None:
        say(f"the driver's stdout is not archived yet; look later under {steps.s3_join(log_uri, cluster_id)}/")
        return
    out = wait_for_log(s3, driver, wait - (time.monotonic() - started), poll)
    if out is None:
        say(f"the driver's stdout is not archived yet; look later at {driver}")
        return
    print(f"----- the driver's stdout ({driver}) -----\n{out.rstrip()}\n----- end -----", file=sys.stderr, flush=True)


def show_serverless_log(s3, log_uri: str, app: str, run_id: str, name: str, wait: float, poll: float) -> None:
    """Print an EMR Serverless driver log (stderr tail, or the whole stdout)."""
    uri = steps.serverless_driver_log_uri(log_uri, app, run_id, name)
    text = wait_for_log(s3, uri, wait, poll)
    if text is None:
        say(f"  the driver's {name} is not archived yet; look later at {uri}")
    elif name.startswith("stderr"):
        show_tail(uri, tail_of(text))
    else:
        print(f"----- the driver's stdout ({uri}) -----\n{text.rstrip()}\n----- end -----", file=sys.stderr, flush=True)

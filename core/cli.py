"""The command line of every job: common flags, argument checks before any JVM, exit codes.

A job module provides `HELP` (one line), `add_arguments(parser)` (the one declaration of its
flags), optionally `validate(args) -> settings` (checks that need no Spark; the frozen settings the
run reads) and `run(spark, context, settings) -> RunSummary`. `parse_job_args` makes the frozen
`RunContext` and the settings once; `run_job` builds the session, runs, stores and prints the
summary, and turns the outcome into the job contract's exit code.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
import traceback
import uuid
from dataclasses import dataclass
from typing import Any, List, Optional

from core.context import RunContext, flag_settings
from core.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, LakemlError, QualityGateError, UsageError
from core.lake import Lake, is_local, local_path
from core.log import configure_logging, logger
from core.names import NAME_RULE, is_name
from core.summary import STATUS_FAILED, STATUS_GATE_TRIPPED, RunSummary

MAX_MESSAGE = 500  # a summary's message is one readable line; the log keeps the whole trace


def parse_run_date(value: str) -> str:
    """A YYYY-MM-DD date, as a string."""
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"--run-date {value!r} is not a date in YYYY-MM-DD form") from None


def fraction(value: str) -> float:
    """A number between 0 and 1."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"{value!r} is not between 0 and 1")
    return number


def local_file(value: str) -> str:
    """argparse `type` of every flag naming a file the job reads (CONF, schema, recipe, data): path or URI.

    The value is returned as given; the marker is the point: `./spark-submit.sh emr` finds the flags
    declared with it (`local_file_flags`) and ships a local file to S3 with the step.
    """
    return value


def local_file_flags(parser: argparse.ArgumentParser) -> List[argparse.Action]:
    """The parser's actions declared with `type=local_file`."""
    return [action for action in parser._actions if action.type is local_file]


def run_id_arg(value: str) -> str:
    """A run id by the lake's name rule (core.names: it names a file under _runs/)."""
    if not is_name(value):
        raise argparse.ArgumentTypeError(f"--run-id {value!r}: a run id is {NAME_RULE}")
    return value


def new_run_id(now: Optional[dt.datetime] = None) -> str:
    """A sortable, unique run id: UTC start time plus a random suffix."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each flag's default once: added only when its help does not state one and there is one to state."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


def base_parser(job: str, description: str) -> argparse.ArgumentParser:
    """The parser with the flags every job takes."""
    parser = argparse.ArgumentParser(
        prog=f"spark-submit.sh local|emr {job}",
        description=description,
        formatter_class=HelpFormatter,
    )
    common = parser.add_argument_group("common flags")
    common.add_argument(
        "--lake",
        default=os.environ.get("LAKEML_LAKE", "./lake"),
        help="lake root: a local path, file:///path or s3://bucket/prefix (env LAKEML_LAKE)",
    )
    common.add_argument(
        "--run-date",
        type=parse_run_date,
        default=dt.datetime.now(dt.timezone.utc).date().isoformat(),
        help="the date this run processes, YYYY-MM-DD (default: today, UTC)",
    )
    common.add_argument(
        "--run-id", type=run_id_arg, default=None, help="id of this run (default: UTC time plus a random suffix)"
    )
    common.add_argument("--master", default=None, help="Spark master for local runs (default local[*])")
    common.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


@dataclass(frozen=True)
class ParsedJob:
    """A job's parsed command line: the run's context, the job's settings, and the process flags."""

    context: RunContext
    settings: Any
    master: Optional[str] = None
    log_level: str = "INFO"


def parse_job_args(job: str, module, argv: List[str]) -> ParsedJob:
    """Parse and check a job's arguments without Spark; usage errors exit 2 with argparse's message."""
    parser = base_parser(job, module.HELP)
    module.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        lake = Lake.at(args.lake)
        check_lake_folder(lake)
        settings = module.validate(args) if hasattr(module, "validate") else flag_settings(args)
        # a job may default the run date from its settings (nightly --demo: the demo's last day)
        run_date = args.run_date or module.default_run_date(settings)
    except UsageError as error:
        parser.error(str(error))
    context = RunContext(job=job, run_id=args.run_id or new_run_id(), run_date=run_date, lake=lake)
    return ParsedJob(context, settings, args.master, args.log_level)


def check_lake_folder(lake: Lake) -> None:
    """A local --lake is a folder or does not exist yet; a regular file there is exit 2."""
    if is_local(lake.root) and os.path.isfile(local_path(lake.root)):
        raise UsageError(f"--lake {lake.root}: that is a file, not a folder; give the lake's folder")


def one_line(text: str) -> str:
    """A message as one line of at most MAX_MESSAGE characters (the first line of a long trace)."""
    first = next((line.strip() for line in str(text).splitlines() if line.strip()), "")
    return first if len(first) <= MAX_MESSAGE else first[: MAX_MESSAGE - 3] + "..."


# Failures of the machine's set-up, not of lakeml or the data, told as what to do (exit 2)
ENVIRONMENT_ERRORS = (
    (
        ("NoAuthWithAWSException", "No AWS Credentials provided"),
        "no AWS credentials reach Spark for {lake}: set them (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
        "AWS_PROFILE, or an instance role), or LAKEML_S3_ENDPOINT for a local S3 API server",
    ),
    (
        ("UnknownHostException", "Unable to execute HTTP request"),
        "the S3 endpoint for {lake} cannot be reached: check the network, the bucket's region, or LAKEML_S3_ENDPOINT",
    ),
)


def known_environment_error(text: str, lake: str) -> Optional[str]:
    """The what-to-do message of a failure caused by the machine's set-up (credentials, network), or None."""
    for marks, message in ENVIRONMENT_ERRORS:
        if any(mark in text for mark in marks):
            return message.format(lake=lake)
    return None


def common_flags(argv: List[str]) -> argparse.Namespace:
    """--lake, --run-date and --run-id as far as they can be read from an argv that failed to parse."""
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    parser.add_argument("--lake", default=os.environ.get("LAKEML_LAKE", "./lake"))
    parser.add_argument("--run-date", default=dt.datetime.now(dt.timezone.utc).date().isoformat())
    parser.add_argument("--run-id", default=None)
    try:
        known, _ = parser.parse_known_args(argv)
    except (argparse.ArgumentError, SystemExit):
        known = parser.parse_known_args([])[0]
    return known


def usage_summary(job: str, argv: List[str], message: str) -> RunSummary:
    """The summary of a run refused before Spark (exit 2): printed last, stored when the lake is local."""
    flags = common_flags(argv)
    run_id = flags.run_id if is_name(flags.run_id) else new_run_id()
    try:
        run_date = dt.date.fromisoformat(flags.run_date).isoformat()
    except (TypeError, ValueError):
        run_date = dt.datetime.now(dt.timezone.utc).date().isoformat()
    summary = RunSummary(job=job, run_id=run_id, run_date=run_date, status=STATUS_FAILED, exit_code=EXIT_USAGE)
    summary.message = one_line(message)
    try:
        lake = Lake.at(flags.lake)
        if is_local(lake.root) and not os.path.isfile(local_path(lake.root)):
            _store_summary(None, lake, summary)
    except LakemlError:
        pass  # an unusable --lake: the summary is printed only
    return summary


def parse_or_summarize(job: str, module, argv: List[str]) -> ParsedJob:
    """parse_job_args; on a usage error (exit 2) the summary JSON is the last stdout line, as for every exit."""
    import contextlib
    import io

    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            return parse_job_args(job, module, argv)
    except SystemExit as stop:
        sys.stderr.write(captured.getvalue())
        if stop.code not in (0, None):
            lines = [line for line in captured.getvalue().splitlines() if line.strip()]
            message = lines[-1].split(": error: ", 1)[-1] if lines else "usage error"
            print(usage_summary(job, argv, message).to_json(), flush=True)
        raise


def _store_summary(spark, lake: Lake, summary: RunSummary) -> None:
    from core.lake import write_text

    uri = lake.run_summary(summary.job, summary.run_date, summary.run_id)
    try:
        write_text(spark, uri, summary.to_json() + "\n")
    except Exception as error:  # the summary is still printed; storing it must not hide the outcome
        logger.warning("could not store the run summary at %s: %s", uri, error)


def execute(module, parsed: ParsedJob, spark) -> int:
    """Run a parsed job on a session: summary stored and printed last, exit code returned."""
    started = time.monotonic()
    context = parsed.context
    summary = RunSummary(job=context.job, run_id=context.run_id, run_date=context.run_date)
    code = EXIT_OK
    try:
        summary = module.run(spark, context, parsed.settings)
    except QualityGateError as error:
        code = error.exit_code
        summary.status, summary.message = STATUS_GATE_TRIPPED, str(error)
        summary.counts.update(error.counts)
        summary.rows_in = int(error.counts.get("rows_in", 0))
        summary.rows_rejected = int(error.counts.get("rows_rejected", 0))
    except LakemlError as error:
        code = error.exit_code
        summary.status, summary.message = STATUS_FAILED, one_line(str(error))
    except Exception as error:  # anything unexpected: exit 1 with the cause
        known = known_environment_error(str(error), context.lake.root)
        code = EXIT_USAGE if known else EXIT_FAILED
        summary.status = STATUS_FAILED
        summary.message = known or one_line(f"{type(error).__name__}: {error}")
        logger.error("%s failed:\n%s", context.job, traceback.format_exc())
    summary.seconds = time.monotonic() - started
    summary.exit_code = code
    if code == EXIT_OK and not summary.balanced():
        logger.warning(
            "%s: rows_in %d != rows_out %d + rows_rejected %d",
            context.job,
            summary.rows_in,
            summary.rows_out,
            summary.rows_rejected,
        )
    if code != EXIT_OK:
        print(f"lakeml {context.job}: {summary.message}", file=sys.stderr)
    _store_summary(spark, context.lake, summary)
    print(summary.to_json(), flush=True)
    return code


def run_job(job: str, module, argv: List[str]) -> int:
    """Parse, build the session, execute; the whole life of one job process."""
    if getattr(module, "WITHOUT_SPARK", False):  # a job that builds no session parses and runs itself (aml)
        return module.main(argv)
    parsed = parse_or_summarize(job, module, argv)
    configure_logging(parsed.log_level)
    from core.session import build_session

    try:
        spark = build_session(f"lakeml-{job}", master=parsed.master)
    except UsageError as error:
        print(f"lakeml {job}: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return execute(module, parsed, spark)
    finally:
        spark.stop()

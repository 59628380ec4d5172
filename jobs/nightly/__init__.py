"""nightly: the whole pipeline for one run date, in one Spark session, under one run id.

    ./spark-submit.sh local nightly --demo --lake ./lake --run-date 2026-11-20
    ./spark-submit.sh local|emr nightly --config conf/nightly_demo.yaml --lake s3://bucket/lake [--run-date D]

Runs the CONF's steps in order: ingest_logs, ingest_dms, build_features, profile, train, score
(jobs/nightly/conf.py: the CONF and each step's argv, a pure function the Airflow DAG shares).
Each step is its job's own run (flags checked by its parser, summary stored under `_runs/<job>/`)
with a run id derived from the nightly's (`<run_id>-<nn>-<step>`). The first step that fails stops
the night: the nightly exits with that step's code (2 usage/config, 3 quality gate, 1 other) and
its message names the step. The run report lands in `<lake>/reports/nightly/<run_date>/index.html`
(also written when a step failed) and the nightly's summary lists every step's record.

`--demo` writes the demo shop's raw zone (jobs/nightly/demo) under `<lake>/raw/` for every demo day
up to the run date that is not there yet (a day is there when its marker `raw/_demo/day=<N>.json`
is), and uses conf/nightly_demo.yaml unless --config is given.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import List

from core.cli import local_file
from core.context import RunContext
from core.errors import LakemlError, UsageError
from core.lake import exists, join, normalize_uri, read_bytes, read_local_file, read_text, write_bytes
from core.log import logger
from core.summary import RunSummary
from jobs.nightly.conf import NightlyConf, NightlySettings

HELP = "the whole pipeline for a run date: ingest, features, profile, train, score, with a run report"
JOB = "nightly"
DEMO_CONF = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "conf", "nightly_demo.yaml"
)


class StepFailed(LakemlError):
    """A step of the night failed; the nightly exits with the step's own code."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def add_arguments(parser) -> None:
    parser.add_argument("--config", type=local_file, default=None, help="the nightly CONF (YAML/JSON; local or s3://)")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="write the demo shop's raw zone into the lake where missing; CONF defaults to conf/nightly_demo.yaml",
    )
    parser.add_argument("--scale", type=float, default=None, help="with --demo: the demo's size (CONF demo.scale)")
    # without --run-date: today (UTC), or with --demo the demo's last day, so the demo is the same everywhere
    parser.set_defaults(run_date=None)


def validate(args) -> NightlySettings:
    """Read and check a local CONF before any JVM starts."""
    from jobs.nightly.conf import parse_conf

    if args.config is None and not args.demo:
        raise UsageError("--config is required (or --demo for the demo shop)")
    config_uri = normalize_uri(args.config or DEMO_CONF, "--config")
    conf = None
    if config_uri.startswith("file://"):
        conf = parse_conf(read_local_file(config_uri, "--config"), f"--config {config_uri}")
    if args.scale is not None and not 0 < args.scale <= 64:
        raise UsageError(f"--scale {args.scale}: give a number in (0, 64]")
    return NightlySettings(config=config_uri, conf=conf, demo=args.demo, scale=args.scale)


def default_run_date(settings: NightlySettings) -> str:
    """The run date without --run-date (core.cli asks): today (UTC); with --demo the demo's last day."""
    if not settings.demo:
        return dt.datetime.now(dt.timezone.utc).date().isoformat()
    spec = demo_spec(settings.conf, settings.scale) if settings.conf is not None else None
    from jobs.nightly.demo import DemoSpec

    spec = spec or DemoSpec()
    return spec.day_date(spec.days).isoformat()


def demo_spec(conf, scale):
    """The DemoSpec of the CONF's demo section (defaults without one), --scale overriding its scale."""
    from jobs.nightly.demo import DemoSpec

    settings = conf.demo if conf is not None else None
    start = dt.date.fromisoformat(settings.start_date) if settings else DemoSpec().start_date
    return DemoSpec(
        scale=scale if scale is not None else (settings.scale if settings else 1.0),
        seed=settings.seed if settings else 7,
        start_date=start,
    )


def write_demo(spark, lake, spec, run_date: str) -> List[int]:
    """Write every missing demo day up to the run date (its marker last); the days written.

    The days already there must be the ones this generator writes (check_demo_days): days from two versions
    of the generator do not follow on from each other (another full load, other changes)."""
    from jobs.nightly.demo import day_files, marker_path

    last = (dt.date.fromisoformat(run_date) - spec.start_date).days + 1
    if last < 1:
        raise UsageError(f"--run-date {run_date}: the demo starts on {spec.start_date}; give that date or a later one")
    days = range(1, min(last, spec.days) + 1)
    missing = [day for day in days if not exists(spark, join(lake.root, marker_path(day)))]
    if missing:
        check_demo_days(spark, lake, spec, [day for day in days if day not in missing])
    for day in missing:
        for path, data in day_files(spec, day):
            write_bytes(spark, join(lake.root, path), data)
        logger.info("nightly: demo day %d (%s) written under %s", day, spec.day_date(day), lake.raw())
    return missing


def check_demo_days(spark, lake, spec, days: List[int]) -> None:
    """Refuse (exit 2) to add a day to a lake whose earlier demo days another generator or spec wrote."""
    from jobs.nightly.demo import day_digest, day_files, marker_digest, marker_path

    for day in days:
        uri = join(lake.root, marker_path(day))
        recorded = marker_digest(read_bytes(spark, uri))
        if recorded is None:
            logger.warning(
                "nightly: demo day %d under %s records no digest (an older lakeml wrote it)", day, lake.raw()
            )
        elif recorded != day_digest(day_files(spec, day)[:-1]):
            raise UsageError(
                f"--demo: demo day {day} under {lake.raw()} was written by another version of the demo generator "
                f"or another demo spec (its marker {uri} records digest {recorded[:12]}); the next day's files would "
                "not follow on from it. Use a fresh --lake (or the same lakeml and demo settings as before)"
            )


def load_conf(spark, settings: NightlySettings) -> NightlyConf:
    """The parsed CONF (read through the session when it is on S3)."""
    from jobs.nightly.conf import parse_conf

    if settings.conf is not None:
        return settings.conf
    text = read_text(spark, settings.config)
    if text is None:
        raise UsageError(f"--config {settings.config}: no such file")
    return parse_conf(text, f"--config {settings.config}")


def run(spark, context: RunContext, settings: NightlySettings) -> RunSummary:
    from jobs.nightly.conf import plan
    from jobs.nightly.report import nightly_counts, write_report
    from jobs.nightly.runner import first_failure, run_steps, write_inline_files

    lake = context.lake
    conf = load_conf(spark, settings)
    demo_days = write_demo(spark, lake, demo_spec(conf, settings.scale), context.run_date) if settings.demo else []
    steps, files = plan(conf, lake.root, context.run_date, context.run_id)
    write_inline_files(spark, lake, files)
    results = run_steps(spark, lake, context.run_date, steps)
    report_uri = write_report(spark, lake, context.run_date, context.run_id, results)
    print(f"lakeml nightly: the run report is {report_uri}", flush=True)
    summary = RunSummary(job=JOB, run_id=context.run_id, run_date=context.run_date, outputs=[report_uri])
    summary.inputs = [settings.config]
    nightly_counts(summary, results)
    summary.counts["demo_days_written"] = demo_days
    failed = first_failure(results)
    if failed is not None:
        raise StepFailed(
            f"step {failed.name} ({failed.job}) failed with exit {failed.exit_code}: {failed.message}",
            failed.exit_code or 1,
        )
    return summary

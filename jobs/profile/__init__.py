"""profile: Amazon ML's data insights on Spark for a datasource, a lake table or a feature set.

    ./spark-submit.sh local|emr profile --lake URI (--data URI [--schema URI] | --table NAME [--schema URI]
        | --features SET [--schema URI]) [--target COL] [--name NAME] [--run-date D] [--compare-to D]

Per attribute, by its schema type (or the inferred one, shown as such): NUMERIC histogram,
missing and invalid counts, min, median (approximate, see stats.py), mean, max, standard
deviation; CATEGORICAL / BINARY distinct count and most frequent values (BINARY % true); TEXT
words in total and unique, the ranges of words per row and of word lengths, most frequent and
prominent words; every attribute's correlation to the target when there is one (bias-corrected
Cramér's V, correlation.py). docs/profile.md gives every rule and the lakeml decisions.

Cost: two passes over the rows whatever the number of attributes (stats.py): one wide
aggregation and one exploded groupBy (from 100 attributes both on the rows stacked by attribute,
a small plan however wide the input). `--data` adds ml.datasource's own reading passes. The
summary's `spark_jobs` counts the Spark jobs of the two passes.

Output: <lake>/reports/profile/<run_date>/<name>.json (sorted keys) and the page
<lake>/reports/profile/<run_date>/<name>/index.html with its PNG plots, one section per
attribute ordered by correlation to the target. `--compare-to D` reads the profile of the same
name for D and flags the attributes whose distribution moved (drift.py). Rejected lines of
`--data` go to <lake>/quarantine/profile/; over 10,000 of them stop the run (exit 3). An empty
input also exits 3, with nothing written.
"""

from __future__ import annotations

from typing import Optional

from core.cli import local_file
from core.context import RunContext, flag_settings
from core.errors import QualityGateError, UsageError
from core.lake import join, read_text
from core.log import stage
from core.summary import RunSummary

HELP = "Amazon ML data insights for a datasource, table or feature set: <lake>/reports/profile/<date>/"
JOB = "profile"

METHOD = {
    "median": "approximate: percentile_approx with accuracy 10000, the value whose rank is within n/10000 of n/2 "
    "(a value of the data: the lower middle value for an even count)",
    "std": "sample standard deviation (n - 1)",
    "histogram": "20 equal-width bins from min to max",
    "invalid": "present values that do not parse as the type (NUMERIC: not a finite number; BINARY: not one of "
    "Amazon ML's spellings)",
    "words": "whitespace tokens, lowercased, leading and trailing punctuation stripped; most frequent words count "
    "the rows they occur in",
    "prominent_words": "with a target: the words whose presence is most associated with it (Cramér's V); "
    "without: rows x ln(N / rows)",
    "correlation": "bias-corrected Cramér's V in [0, 1]: NUMERIC by deciles, CATEGORICAL/BINARY by value (top 20 + "
    "other), TEXT by its strongest word; the target binned the same way",
    "passes": "2: one aggregation (counts, moments, percentiles), one exploded groupBy (bins, values, words)",
}


def add_arguments(parser) -> None:
    group = parser.add_argument_group("profile")
    group.add_argument(
        "--data", type=local_file, help="an Amazon ML CSV datasource: a file or a prefix (local or s3://)"
    )
    group.add_argument("--table", help="a lake table: <lake>/tables/NAME")
    group.add_argument("--features", help="a feature set: <lake>/features/SET, partition --run-date")
    group.add_argument(
        "--schema", type=local_file, help="Amazon ML schema JSON (default for --data: <data>.schema; else inferred)"
    )
    group.add_argument("--target", help="without a schema: the column to correlate with")
    group.add_argument("--name", help="report name (default: the table, feature set or data file name)")
    from core.cli import parse_run_date

    group.add_argument("--compare-to", type=parse_run_date, help="an earlier run date to compare with (YYYY-MM-DD)")


def validate(args):
    """Exactly one input; --target only without a schema; names fit a file name. The flags are the settings."""
    given = [flag for flag in ("data", "table", "features") if getattr(args, flag)]
    if len(given) != 1:
        raise UsageError("give exactly one of --data, --table and --features")
    if args.target and args.schema:
        raise UsageError("--target: with --schema the target is the schema's targetAttributeName")
    if args.compare_to and args.compare_to == args.run_date:
        raise UsageError(f"--compare-to {args.compare_to} is the run date itself; give an earlier run's date")
    from core.names import check_name

    for flag in ("table", "features", "name"):
        if getattr(args, flag) is not None:
            check_name(getattr(args, flag), f"--{flag}")
    return flag_settings(args)


def read_source(spark, context: RunContext, settings):
    """The input named by the flags, with its types, target and reader counts."""
    from jobs.profile.inputs import from_data, from_features, from_table

    if settings.data:
        source = from_data(spark, settings.data, settings.schema)
    elif settings.table:
        source = from_table(spark, context.lake, settings.table, settings.schema)
    else:
        source = from_features(spark, context.lake, settings.features, context.run_date, settings.schema)
    if settings.target:
        if settings.target not in source.frame.columns:
            raise UsageError(f"--target {settings.target}: not a column ({', '.join(source.frame.columns)})")
        source.target = settings.target
    source.name = settings.name or source.name
    return source


def count_jobs(spark, group: str) -> int:
    """The Spark jobs run under a job group (after the listener bus has caught up)."""
    sc = spark.sparkContext
    try:
        sc._jsc.sc().listenerBus().waitUntilEmpty()
    except Exception:  # the bus is internal to Spark; without it the count may lag by a job
        pass
    return len(sc.statusTracker().getJobIdsForGroup(group))


def compute(spark, source, run_id: str):
    """The two passes and the statistics; raises exit 3 on an input without rows."""
    from jobs.profile.attributes import all_attribute_stats
    from jobs.profile.prepare import plan_attributes
    from jobs.profile.stats import run_passes

    attrs, skipped = plan_attributes(source.frame, source.types, source.skip)
    if not attrs:
        raise UsageError(f"{source.form} {source.name}: no column to profile ({skipped})")
    group = f"lakeml-profile-{run_id}"
    spark.sparkContext.setJobGroup(group, "profile passes")
    try:
        passes = run_passes(source.frame, attrs, source.target)
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
    if passes.rows == 0:
        raise QualityGateError(
            f"{source.form} {source.name} ({', '.join(source.inputs)}) has no rows to profile; nothing was written. "
            "Check the input (and --run-date for a feature set)",
            counts={"rows_in": source.rows_in or 0, "rows_rejected": source.rows_rejected},
        )
    stats = all_attribute_stats(passes, source.target)
    apply_reader_invalid(stats, source.invalid)
    return stats, {**source.skipped, **skipped}, passes.rows, count_jobs(spark, group)


def apply_reader_invalid(stats, invalid: Optional[dict]) -> None:
    """A reader that typed the values read invalid ones as missing: move its counts back to invalid."""
    for stat in stats:
        if invalid and stat["name"] in invalid and stat["invalid"] is not None:
            stat["invalid"] = int(invalid[stat["name"]])
            stat["missing"] -= stat["invalid"]


def document(context: RunContext, source, stats, skipped, rows: int, jobs: int) -> dict:
    """The profile JSON."""
    target = next((s for s in stats if s["is_target"]), None)
    return {
        "job": JOB,
        "name": source.name,
        "run_date": context.run_date,
        "run_id": context.run_id,
        "input": {
            "form": source.form,
            "uris": source.inputs,
            "schema": source.schema_uri,
            "types": "schema" if source.types is not None else "inferred",
        },
        "rows": {
            "read": source.rows_in if source.rows_in is not None else rows,
            "valid": rows,
            "rejected": source.rows_rejected,
            "reasons": source.reasons,
        },
        "target": {"name": target["name"], "type": target["type"]} if target else None,
        "attributes": stats,
        "skipped": skipped,
        "method": METHOD,
        "spark_jobs": jobs,
    }


def read_earlier(spark, context: RunContext, settings, name: str) -> Optional[dict]:
    """The profile of the same name for --compare-to (exit 2 when there is none)."""
    import json

    if not settings.compare_to:
        return None
    uri = join(context.lake.reports(JOB, settings.compare_to), f"{name}.json")
    text = read_text(spark, uri)
    if text is None:
        raise UsageError(
            f"--compare-to {settings.compare_to}: no profile of {name} at {uri}; run profile for that date"
        )
    return json.loads(text)


def publish_rejects(context: RunContext, source) -> None:
    """The datasource's rejected lines to <lake>/quarantine/profile/ (replacing this run date's, per file)."""
    from core.quality import publish_read_rejects

    if source.rejects is not None:
        publish_read_rejects(source.rejects, source.inputs, JOB, context.lake, context.run_id, context.run_date)


def publish(spark, context: RunContext, profile: dict, earlier: Optional[dict]):
    """The page with its PNGs, then the JSON; returns (json URI, page URI)."""
    from core.report import write_json
    from jobs.profile.render import render

    folder = context.lake.reports(JOB, context.run_date)
    page = render(profile, earlier).write(spark, join(folder, profile["name"]))[-1]
    json_uri = join(folder, f"{profile['name']}.json")
    write_json(spark, json_uri, profile)
    return json_uri, page


def run(spark, context: RunContext, settings) -> RunSummary:
    from core.quality import RejectPolicy, check_reject_gate
    from jobs.profile.drift import compare

    with stage("read") as counts:
        source = read_source(spark, context, settings)
        earlier = read_earlier(spark, context, settings, source.name)
        counts.update(form=source.form, name=source.name)
    if source.rows_in is not None:
        check_reject_gate(source.rows_in, source.rows_rejected, RejectPolicy(), source.reasons)
    with stage("passes") as counts:
        stats, skipped, rows, jobs = compute(spark, source, context.run_id)
        counts.update(rows=rows, attributes=len(stats), spark_jobs=jobs)
    profile = document(context, source, stats, skipped, rows, jobs)
    if earlier is not None:
        profile["compare"] = compare(earlier, profile)
    with stage("publish") as counts:
        publish_rejects(context, source)
        json_uri, page = publish(spark, context, profile, earlier)
        counts.update(json=json_uri, page=page)
    return RunSummary(
        job=JOB,
        run_id=context.run_id,
        run_date=context.run_date,
        inputs=source.inputs,
        outputs=[json_uri, page],
        rows_in=profile["rows"]["read"],
        rows_out=rows,
        rows_rejected=source.rows_rejected,
        counts={
            "name": source.name,
            "json": json_uri,
            "report": page,
            "attributes": len(stats),
            "spark_jobs": jobs,
            "passes": 2,
            "flagged": profile.get("compare", {}).get("flagged", []),
            "reasons": source.reasons,
        },
    )

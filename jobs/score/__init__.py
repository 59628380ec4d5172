"""score: batch predictions and recommendations from the champion model, as a partitioned Delta table.

    ./spark-submit.sh local|emr score --name NAME --lake URI
        (--data URI [--schema URI] | --features SET | --table NAME)
        [--version vN] [--run-date D] [--top-k K] [--csv URI]

Model: the champion of <lake>/models/<name>/ (or --version vN); a name or version that does not exist
is exit 2 naming what exists.
Input: --data, an Amazon ML CSV datasource (a file or a prefix; --schema defaults to `<file>.schema`
or `<prefix>/.schema`), with or without the target; --features SET, the run date's partition of
<lake>/features/<SET>/; --table NAME, the Delta table <lake>/tables/<NAME>/.
Checks before scoring (jobs/score/inputs.py, docs/scoring.md): a feature attribute of the model missing from the input,
or declared with another type, is exit 2; a value that is not of its attribute's type (a NUMERIC that
is not a number, a BINARY that is not one of Amazon ML's spellings) quarantines its row with the
reason `invalid <TYPE> value in <attribute>`; an empty value is missing and scored as in training;
lines that break the CSV rules are quarantined with their reason; extra columns are ignored and named
in the summary (`extra_columns`). All rejects go to <lake>/quarantine/score/<name>/; over 10,000 of
them stop the run with exit 3 before anything is written.
Output: the Delta table <lake>/scores/<name>/ partitioned by run_date, written with replaceWhere on
the run date (one atomic commit: a re-run replaces that partition only, a killed run leaves the
previous one as it was):
  BINARY      tag, bestAnswer (1 when score >= the model's cut-off), score (P(1))
  MULTICLASS  tag, bestAnswer (class label), one probability column per class, named after the class
  REGRESSION  tag, score
  RECOMMEND   user, item, rank, score: the top --top-k items per user never seen in training
  always      model_version, run_id, run_date
`tag` is the input's rowId value (the model schema's rowId when the input schema names none); without a
rowId it is the row's position in the input, from 1.
--csv URI also writes Amazon ML's batch prediction layout (jobs/score/batch_csv.py). The report
(<lake>/reports/score/<run_date>/<name>/index.html + summary.json): rows scored and rejected, score
quantiles and histogram, the model version, and (BINARY) the share of rows at or above the cut-off
beside the evaluation set's, a drift hint.
"""

from __future__ import annotations

from core.cli import local_file
from core.context import RunContext, settings_from
from core.errors import UsageError
from core.lake import join, normalize_uri
from core.log import logger, stage
from core.quality import RejectPolicy, check_reject_gate, publish_quarantine, reason_counts, to_quarantine
from core.summary import RunSummary
from core.tables import read_run_date, replace_rows
from jobs.score.conf import ScoreSettings

HELP = "batch predictions or recommendations from the champion model into <lake>/scores/<name>/ by run date"
JOB = "score"


def add_arguments(parser) -> None:
    group = parser.add_argument_group("score")
    group.add_argument("--name", required=True, help="model name: <lake>/models/<name>/")
    group.add_argument("--version", default=None, metavar="vN", help="score with this version (default: the champion)")
    group.add_argument("--data", type=local_file, default=None, help="Amazon ML CSV datasource: a file or a prefix")
    group.add_argument("--schema", type=local_file, default=None, help="its schema (default <data>.schema)")
    group.add_argument("--features", default=None, metavar="SET", help="score <lake>/features/<SET>/ for the run date")
    group.add_argument("--table", default=None, metavar="NAME", help="score the Delta table <lake>/tables/<NAME>/")
    group.add_argument("--top-k", type=int, default=10, help="RECOMMEND: items per user")
    group.add_argument(
        "--csv", default=None, metavar="URI", help="also write Amazon ML's batch prediction CSV layout here"
    )


def validate(args) -> ScoreSettings:
    """Flag checks that need no Spark; the settings with the URIs normalized."""
    from core.names import check_name
    from ml.registry import version_number

    check_name(args.name, "--name")
    for flag in ("table", "features"):
        if getattr(args, flag) is not None:
            check_name(getattr(args, flag), f"--{flag}")
    if args.version is not None:
        version_number(args.version)
    given = [
        flag for flag, value in (("--data", args.data), ("--features", args.features), ("--table", args.table)) if value
    ]
    if len(given) != 1:
        raise UsageError("give exactly one input: --data URI [--schema URI], --features SET or --table NAME")
    if args.schema and not args.data:
        raise UsageError("--schema goes with --data")
    if args.top_k < 1:
        raise UsageError(f"--top-k {args.top_k}: give a positive number of items per user")
    given = [flag for flag in ("data", "schema", "csv") if getattr(args, flag)]
    return settings_from(
        ScoreSettings, args, **{flag: normalize_uri(getattr(args, flag), f"--{flag}") for flag in given}
    )


def read_input(spark, context: RunContext, settings: ScoreSettings, meta):
    """The rows to score from whichever input flag was given."""
    from jobs.score.inputs import read_csv_input, read_table_input

    if settings.data:
        return read_csv_input(spark, settings.data, settings.schema_uri, meta)
    if settings.features:
        return read_table_input(spark, context.lake.features(settings.features), meta, context.run_date, "--features")
    return read_table_input(spark, context.lake.table(settings.table), meta, None, "--table")


def gate(inp) -> int:
    """Count the rejects (unless the read counted them) and stop (exit 3, nothing written) when there are over
    10,000."""
    if inp.rows_rejected == 0:
        return 0
    rejects = inp.rejects.cache()
    count = rejects.count() if inp.rows_rejected is None else inp.rows_rejected
    if count:
        check_reject_gate(inp.rows_in, count, RejectPolicy(), reason_counts(rejects))
    return count


def score_rows(spark, context: RunContext, settings: ScoreSettings, model, meta, inp):
    """The scored DataFrame of the model's type (recommendations for RECOMMEND)."""
    from jobs.score.predict import predict, with_run

    if meta.model_type != "RECOMMEND":
        return predict(model, inp.rows, meta, context.run_id, context.run_date)
    from ml.recommend import top_k
    from ml.registry import version_uri

    user = meta.recommend["user_col"]
    users = inp.rows.select(user).where(f"`{user}` IS NOT NULL").distinct()
    recs = top_k(spark, model, meta, version_uri(context.lake, settings.name, meta.version), users, settings.top_k)
    return with_run(recs.select("user", "item", "rank", "score"), meta.version, context.run_id, context.run_date)


def publish_scores(context: RunContext, name: str, scored, meta) -> str:
    """One Delta commit replacing the run date's partition of <lake>/scores/<name>/."""
    from jobs.score.predict import output_columns

    uri = context.lake.scores(name)
    columns = [*output_columns(meta), "model_version", "run_id", "run_date"]
    logger.info("score: writing partition run_date=%s of %s", context.run_date, uri)
    replace_rows(scored.select(*columns), uri, f"run_date = '{context.run_date}'")
    return uri


def publish_rejects(context: RunContext, name: str, inp) -> str:
    """The run's rejects into <lake>/quarantine/score/<name>/ (its run date replaced, so re-runs never double)."""
    uri = join(context.lake.quarantine(JOB), name)
    shaped = to_quarantine(inp.rejects, "raw", "source_file", "reason", JOB, context.run_id, context.run_date)
    publish_quarantine(shaped, uri, f"run_date = '{context.run_date}'")
    return uri


def written_partition(spark, context: RunContext, name: str):
    """The partition just written, read back from the table."""
    return read_run_date(spark, context.lake.scores(name), context.run_date)


def duplicate_tags(written) -> int:
    """Scored rows whose tag (the input's row key) another row of the run also has: counted, never dropped."""
    from pyspark.sql import functions as F

    row = written.agg(F.count(F.lit(1)).alias("n"), F.countDistinct("tag").alias("d")).first()
    return int(row["n"] - row["d"])


def write_report(spark, context: RunContext, name: str, meta, summary, stats) -> list:
    """The HTML page and summary.json under <lake>/reports/score/<run_date>/<name>/."""
    from core.report import write_json
    from jobs.score.report import build_report

    folder = join(context.lake.reports(JOB, context.run_date), name)
    run = {**summary.counts, "run_id": context.run_id, "run_date": context.run_date}
    run.update(rows_in=summary.rows_in, rows_out=summary.rows_out, rows_rejected=summary.rows_rejected)
    uris = build_report(meta, run, stats).write(spark, folder)
    write_json(spark, join(folder, "summary.json"), {**run, "score_distribution": stats})
    return [*uris, join(folder, "summary.json")]


def run(spark, context: RunContext, settings: ScoreSettings) -> RunSummary:
    from pyspark import StorageLevel

    from jobs.score.report import drift_hint, score_stats
    from ml.registry import load_version

    summary = RunSummary(job=JOB, run_id=context.run_id, run_date=context.run_date)
    with stage("load_model") as counts:
        model, meta = load_version(spark, context.lake, settings.name, settings.version)
        counts.update(version=meta.version, model_type=meta.model_type)
    with stage("read_input") as counts:
        inp = read_input(spark, context, settings, meta)
        summary.rows_in, summary.inputs = inp.rows_in, list(inp.files)
        summary.rows_rejected = gate(inp)
        counts.update(rows_in=inp.rows_in, rejected=summary.rows_rejected, extra=inp.extra_columns)
    with stage("score_and_publish") as counts:
        scored = score_rows(spark, context, settings, model, meta, inp)
        if settings.csv:  # the CSV layout comes from the rows scored for the table: the model runs once
            scored = scored.persist(StorageLevel.MEMORY_AND_DISK)
        summary.outputs.append(publish_scores(context, settings.name, scored, meta))
        summary.outputs.append(publish_rejects(context, settings.name, inp))
    with stage("summarize") as counts:
        written = written_partition(spark, context, settings.name)
        stats = score_stats(written, meta)
        summary.rows_out = stats["rows"] if meta.model_type != "RECOMMEND" else summary.rows_in - summary.rows_rejected
        summary.counts.update(
            model_version=meta.version,
            model_type=meta.model_type,
            rows_scored=stats["rows"],
            extra_columns=inp.extra_columns,
            ignored_columns=inp.ignored_columns,
            tag_column=inp.tag_column,
            duplicate_tags=duplicate_tags(written) if meta.model_type != "RECOMMEND" else 0,
            reject_reasons=reason_counts(inp.rejects) if summary.rows_rejected else {},
            score_quantiles=stats["quantiles"],
            drift=drift_hint(meta, stats.get("share_above_cutoff")),
        )
        counts.update(rows=stats["rows"])
    if settings.csv:
        with stage("batch_csv") as counts:
            from jobs.score.batch_csv import write_batch_csv

            manifest_uri, manifest = write_batch_csv(
                spark,
                scored,
                meta,
                inp.files,
                settings.csv,
                context.run_id,
                inp.tag_column is not None,
            )
            summary.outputs.append(manifest_uri)
            summary.counts["csv_results"] = manifest
            counts.update(files=len(manifest))
        scored.unpersist()
    summary.outputs.extend(write_report(spark, context, settings.name, meta, summary, stats))
    inp.rejects.unpersist()
    return summary

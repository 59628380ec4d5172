"""build_features: lake tables joined, addresses and clickstream added, an Amazon ML recipe applied.

    ./spark-submit.sh local|emr build_features --lake URI --config CONF [--run-date D]

CONF (JSON or YAML, a local path or s3://; see conf/build_features_example.yaml; every field
with its help: `build_features --help`):
  feature_set   name of the output: <lake>/features/<feature_set>/
  base          {table, key}: the lake table (<lake>/tables/<table>) with one row per key
  joins         optional list of {table, on, columns?}: more lake tables left-joined to the base;
                `on` is a column name, a list of names, or a mapping base column -> table column;
                a joined table must have at most one row per join key
  address       optional {parts: {part: column}, output?, key?, abbreviate?}: adds the
                concatenated address (features.address.concat_address) and its address_key
  clickstream   optional {source, join_on, user_column?, client_column?, session_gap_minutes?,
                lookback_days?, ngram?, prefix?}: per-user activity from <lake>/tables/logs_<source>
                (features.clickstream.user_activity, up to the run date) left-joined on
                base[join_on] = logs[user_column]; columns are prefixed (`click_` by default);
                users without activity get 0 counts, a null recency and empty path n-grams
  schema        the Amazon ML data schema (inline mapping), or schema_file (path or URI)
  recipe        the recipe (inline mapping or text), or recipe_file; none: the suggested recipe
  num_features  hashed token dimension (default 2^18; a recipe without token outputs, as the
                generated one of windows, has no token slots); vocabulary: true for a fitted vocabulary
  windows       instead of base: readings (a lake table or CSV files) cut into time windows per
                entity, one row per window with its statistics and spectra (features.windows;
                jobs/build_features/windows_conf.py); schema and recipe may then be left out
                (generated: every window feature NUMERIC, the label the target, ALL_NUMERIC)

The job validates CONF before any JVM starts (exit 2 naming the field); schema, recipe and
columns are checked against the tables at run time, also with exit 2. Base rows with a null
or duplicated key are rejected to <lake>/quarantine/build_features/ (all copies of a
duplicated key: which one is right is not ours to guess), under the reject gate.

With windows: rows_in counts the readings read, rows_rejected the CSV lines rejected (quarantined
with their file and line), rows_out the readings taken; `windows` in the summary's counts is the
number of windows written (readings outside any window: other labels, a segment's short tail).

Fitting: the recipe's pipeline is fitted on this run's rows and the fitted PipelineModel is
saved to <lake>/features/<set>/_pipeline/run_date=<D>/
(overwritten by a re-run; Delta ignores folders starting with `_`). Scoring jobs load that
model so that training and scoring features are the same. Output: the Delta table
<lake>/features/<set>/ partitioned by run_date, one row per base key with the input columns,
address, clickstream columns and `label` when the schema has a target (plain Delta types only:
the `features` vector is not stored, because Spark ML's vector type makes a table unreadable by
delta-rs, pandas and Polars; train and score recompute it through `_pipeline`, which gives the
same vectors, see docs/architecture.md "Feature sets");
written with replaceWhere run_date = D, so a re-run replaces its partition and nothing else.
A CONF change that adds output columns adds them to the table (mergeSchema; earlier partitions
read them as null); a column whose type changes fails the run with Delta's merge error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from core.cli import local_file
from core.context import RunContext
from core.errors import LakemlError, UsageError
from core.feature_sets import write_set_key
from core.lake import join, normalize_uri, read_local_file, read_text, spark_uri
from core.log import stage
from core.quality import RejectPolicy, check_reject_gate, publish_quarantine, sql_list, sql_string, to_quarantine
from core.summary import RunSummary
from core.tables import replace_rows
from jobs.build_features.assemble import assemble, check_columns, read_base
from jobs.build_features.conf import BuildFeaturesSettings, Config, conf_help, load_references, parse_conf
from jobs.build_features.readings import load_table, read_readings, window_base

HELP = "join lake tables or cut readings into time windows, add addresses and clickstream, apply an Amazon ML recipe"
JOB = "build_features"

__all__ = ["HELP", "JOB", "Config", "add_arguments", "load_references", "parse_conf", "pipeline_uri", "run", "validate"]


# --- CLI ---------------------------------------------------------------------------------


def add_arguments(parser) -> None:
    parser.add_argument(
        "--config", required=True, type=local_file, help="CONF file (JSON or YAML; local path or s3://), see conf/"
    )
    parser.epilog = "CONF fields:\n" + conf_help()


def validate(args) -> BuildFeaturesSettings:
    """Parse and check a local CONF (and its local schema/recipe files) before any JVM starts."""
    config_uri = normalize_uri(args.config, "--config")
    config = None
    if config_uri.startswith("file://"):
        config = parse_conf(read_local_file(config_uri, "--config"), config_uri)
        refs = [r for r in (config.schema_ref, config.recipe_ref) if r]
        if all(r.startswith("file://") for r in refs):
            load_references(config, lambda uri: read_local_file(uri, "--config"))
    return BuildFeaturesSettings(config=config_uri, conf=config)


# --- run -------------------------------------------------------------------------------


def vector_size(df, column: str) -> int:
    """The size of a vector column, from its ML metadata when present, else from the first row."""
    attrs = df.schema[column].metadata.get("ml_attr", {})
    if "num_attrs" in attrs:
        return int(attrs["num_attrs"])
    first = df.select(column).first()
    return len(first[column]) if first is not None else 0


def pipeline_uri(lake, feature_set: str, run_date: str) -> str:
    """Where the fitted PipelineModel of a run date is saved."""
    return join(lake.features(feature_set), "_pipeline", f"run_date={run_date}")


@dataclass
class BaseRows:
    """The assembled rows (cached) with the run's counts and what goes to the quarantine."""

    joined: Any
    rows_in: int
    rows_out: int
    rows_rejected: int
    reasons: Dict[str, int]
    quarantine: Any
    quarantine_where: str
    windows: Optional[int] = None


def resolved_config(spark, settings: BuildFeaturesSettings) -> Config:
    """The CONF checked by validate, or read and checked now when it (or a reference) is on S3."""
    import copy

    config = settings.conf
    if config is None:
        config = parse_conf(read_text(spark, settings.config), settings.config)
    if not config.checked:  # a copy: the settings' CONF stays as validate left it
        config = load_references(copy.copy(config), lambda uri: read_text(spark, uri))
    return config


def table_base(spark, config: Config, context: RunContext, read_table) -> BaseRows:
    """The base table's accepted rows assembled; null and duplicated keys rejected under the gate."""
    from pyspark.sql import functions as F

    with stage("assemble") as counts:
        marked = read_base(config, read_table).cache()
        by_reason = {row["_reason"]: int(row["count"]) for row in marked.groupBy("_reason").count().collect()}
        rows_kept = by_reason.pop(None, 0)
        rows_rejected = sum(by_reason.values())
        rows_in = rows_kept + rows_rejected
        joined = assemble(marked.where("_reason IS NULL").drop("_reason"), config, context.run_date, read_table)
        check_columns(joined, config.schema)
        joined = joined.cache()
        rows_joined = joined.count()
        counts.update(rows_in=rows_in, rows=rows_joined, rejected=rows_rejected)
    if rows_joined != rows_kept:
        raise LakemlError(
            f"the joins turned {rows_kept} base rows into {rows_joined}: a joined table has more than one row "
            "for some join key; make it unique or aggregate it first"
        )
    reasons = dict(sorted(by_reason.items(), key=lambda item: -item[1])[:5])
    check_reject_gate(rows_in, rows_rejected, RejectPolicy(), reasons)
    rejected = marked.where("_reason IS NOT NULL")
    record = F.to_json(F.struct(*[c for c in rejected.columns if c != "_reason"]))
    base_uri = context.lake.table(config.base_table)  # the base table stands in for the source file
    quarantine = to_quarantine(
        rejected.withColumn("_raw", record).withColumn("_source", F.lit(base_uri)),
        "_raw",
        "_source",
        "_reason",
        JOB,
        context.run_id,
        context.run_date,
    )
    where = f"run_date = '{context.run_date}' AND source_file = {sql_string(base_uri)}"
    return BaseRows(joined, rows_in, rows_kept, rows_rejected, reasons, quarantine, where)


def window_rows(spark, config: Config, context: RunContext, read_table) -> BaseRows:
    """Readings cut into windows (one row per window) and assembled; CSV rejects quarantined."""
    with stage("windows") as counts:
        readings = read_readings(spark, config, context.lake, read_table)
        joined = assemble(window_base(readings, config).drop("_reason"), config, context.run_date, read_table)
        check_columns(joined, config.schema)
        joined = joined.cache()
        windows = joined.count()
        counts.update(readings=readings.rows_in, rejected=readings.rows_rejected, windows=windows)
    if readings.rejects is not None:
        shaped = to_quarantine(readings.rejects, "raw", "source_file", "reason", JOB, context.run_id, context.run_date)
    else:
        shaped = None
    where = f"run_date = '{context.run_date}' AND source_file IN ({sql_list(readings.files)})"
    rows_out = readings.rows_in - readings.rows_rejected
    return BaseRows(
        joined, readings.rows_in, rows_out, readings.rows_rejected, readings.reasons, shaped, where, windows
    )


def fit_features(spark, config: Config, context: RunContext, joined):
    """The recipe's pipeline fitted on this run's rows and saved beside the set: (its URI, features)."""
    from features.recipe import RecipeError, compile_recipe

    model_uri = pipeline_uri(context.lake, config.feature_set, context.run_date)
    with stage("pipeline") as counts:
        try:
            pipeline = compile_recipe(config.schema, config.recipe, config.num_features, config.vocabulary)
        except RecipeError as error:
            raise UsageError(f"--config: field recipe: {error}") from None
        model = pipeline.fit(joined)
        model.write().overwrite().save(spark_uri(model_uri))
        counts["saved"] = model_uri
    return model_uri, model.transform(joined)


def stored_columns(df):
    """The columns without Spark ML vectors (user-defined types other engines cannot read)."""
    from pyspark.sql.types import UserDefinedType

    return df.drop(*[f.name for f in df.schema.fields if isinstance(f.dataType, UserDefinedType)])


def publish(spark, config: Config, context: RunContext, features, base: BaseRows) -> str:
    """The run date's partition replaced in one Delta commit, then the quarantine's."""
    from pyspark.sql import functions as F

    out_uri = context.lake.features(config.feature_set)
    dated = stored_columns(features).withColumn("run_date", F.lit(context.run_date).cast("date"))
    with stage("publish") as counts:
        replace_rows(dated, out_uri, f"run_date = '{context.run_date}'")
        if base.quarantine is not None:
            publish_quarantine(base.quarantine, context.lake.quarantine(JOB), base.quarantine_where)
        write_set_key(spark, out_uri, config.feature_set, config.base_key)
        counts.update(rows=base.rows_out, rejected=base.rows_rejected)
    return out_uri


def run(spark, context: RunContext, settings: BuildFeaturesSettings) -> RunSummary:
    config = resolved_config(spark, settings)
    inputs: List[str] = []

    def read_table(name: str):
        return load_table(spark, context.lake.table(name), name, inputs)

    base = (window_rows if config.windows else table_base)(spark, config, context, read_table)
    model_uri, features = fit_features(spark, config, context, base.joined)
    out_uri = publish(spark, config, context, features, base)
    width = vector_size(features, "features")
    base.joined.unpersist()
    counts = {
        "feature_set": config.feature_set,
        "features_size": width,
        "pipeline": model_uri,
        "joins": len(config.joins),
        "address": bool(config.address),
        "clickstream": bool(config.clickstream),
        "reasons": base.reasons,
    }
    if base.windows is not None:
        counts["windows"] = base.windows
    return RunSummary(
        job=JOB,
        run_id=context.run_id,
        run_date=context.run_date,
        inputs=inputs,
        outputs=[out_uri, model_uri],
        rows_in=base.rows_in,
        rows_out=base.rows_out,
        rows_rejected=base.rows_rejected,
        counts=counts,
    )

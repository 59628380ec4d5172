"""build_features: lake tables joined, addresses and clickstream added, an Amazon ML recipe applied.

    ./spark-submit.sh local|emr build_features --lake URI --config CONF [--run-date D]

CONF (JSON or YAML, a local path or s3://; see conf/build_features_example.yaml):
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
  num_features  hashed token dimension (default 2^18); vocabulary: true for a fitted vocabulary

The job validates CONF before any JVM starts (exit 2 naming the field); schema, recipe and
columns are checked against the tables at run time, also with exit 2. Base rows with a null
or duplicated key are rejected to <lake>/quarantine/build_features/ (all copies of a
duplicated key: which one is right is not ours to guess), under the reject gate.

Fitting: the recipe's pipeline is fitted on this run's rows and the fitted PipelineModel is
saved to <lake>/features/<set>/_pipeline/run_date=<D>/
(overwritten by a re-run; Delta ignores folders starting with `_`). Scoring jobs load that
model so that training and scoring features are the same. Output: the Delta table
<lake>/features/<set>/ partitioned by run_date, one row per base key with the input columns,
address, clickstream columns, `features` (vector) and `label` when the schema has a target;
written with replaceWhere run_date = D, so a re-run replaces its partition and nothing else.
A CONF change that adds output columns adds them to the table (mergeSchema; earlier partitions
read them as null); a column whose type changes fails the run with Delta's merge error.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from jobs.common.cli import local_file
from jobs.common.errors import LakemlError, UsageError
from jobs.common.lake import exists, join, normalize_uri, read_local_file, read_text, spark_uri
from jobs.common.log import stage
from jobs.common.quality import RejectPolicy, check_reject_gate, publish_quarantine, sql_string, to_quarantine
from jobs.common.summary import RunSummary

HELP = "join lake tables, add addresses and clickstream, apply an Amazon ML recipe: <lake>/features/<set>"
JOB = "build_features"

TOP_FIELDS = (
    "feature_set",
    "base",
    "joins",
    "address",
    "clickstream",
    "schema",
    "schema_file",
    "recipe",
    "recipe_file",
    "num_features",
    "vocabulary",
)
CLICK_FIELDS = (
    "source",
    "join_on",
    "user_column",
    "client_column",
    "session_gap_minutes",
    "lookback_days",
    "ngram",
    "prefix",
    "include_bots",
)
CLICK_COUNTS = ("events", "pages", "errors", "bytes", "sessions", "active_days")
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


@dataclass
class Join:
    table: str
    on: Dict[str, str]  # base column -> joined table column
    columns: Optional[List[str]] = None


@dataclass
class Config:
    feature_set: str
    base_table: str
    base_key: str
    joins: List[Join] = field(default_factory=list)
    address: Optional[Dict[str, Any]] = None
    clickstream: Optional[Dict[str, Any]] = None
    schema: Optional[Dict[str, Any]] = None
    schema_ref: Optional[str] = None
    recipe: Any = None
    recipe_ref: Optional[str] = None
    num_features: int = 2**18
    vocabulary: bool = False
    checked: bool = False  # schema and recipe read and checked together


# --- CONF (pure) ---------------------------------------------------------------------------


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value or not set(value) <= NAME_CHARS:
        raise UsageError(f"--config: field {where} must be a table or column name, got {value!r}")
    return value


def _mapping(value: Any, where: str) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise UsageError(f"--config: field {where} must be a mapping")
    return value


def _resolve(ref: Any, where: str, base_uri: str) -> str:
    """A file reference of CONF as a URI; relative paths are relative to the CONF's folder."""
    if not isinstance(ref, str) or not ref.strip():
        raise UsageError(f"--config: field {where} must be a path or URI")
    if "://" in ref or ref.startswith("/"):
        return normalize_uri(ref, f"--config field {where}")
    return normalize_uri(posixpath.join(posixpath.dirname(base_uri), ref), f"--config field {where}")


def parse_join(entry: Any, i: int) -> Join:
    where = f"joins[{i}]"
    entry = dict(_mapping(entry, where))
    if True in entry:  # YAML 1.1 reads a bare `on:` key as true
        entry["on"] = entry.pop(True)
    unknown = sorted(str(k) for k in set(entry) - {"table", "on", "columns"})
    if unknown:
        raise UsageError(
            f"--config: field {where} has unknown field(s) {', '.join(unknown)}; known: table, on, columns"
        )
    table = _name(entry.get("table"), f"{where}.table")
    on = entry.get("on")
    if isinstance(on, str):
        pairs = {on: on}
    elif isinstance(on, list) and on:
        pairs = {c: c for c in on}
    elif isinstance(on, dict) and on:
        pairs = dict(on)
    else:
        raise UsageError(f"--config: field {where}.on must be a column, a list of columns or a mapping")
    for left, right in pairs.items():
        _name(left, f"{where}.on")
        _name(right, f"{where}.on")
    columns = entry.get("columns")
    if columns is not None and (not isinstance(columns, list) or not columns):
        raise UsageError(f"--config: field {where}.columns must be a non-empty list of columns")
    return Join(table, pairs, [_name(c, f"{where}.columns") for c in columns] if columns else None)


def parse_address(value: Any) -> Dict[str, Any]:
    from features.address import PARTS

    value = _mapping(value, "address")
    unknown = sorted(set(value) - {"parts", "output", "key", "abbreviate"})
    if unknown:
        raise UsageError(f"--config: field address has unknown field(s) {', '.join(unknown)}")
    parts = _mapping(value.get("parts"), "address.parts")
    if not parts:
        raise UsageError("--config: field address.parts must map address parts to columns")
    for part, column in parts.items():
        if part not in PARTS:
            raise UsageError(f"--config: field address.parts.{part} is not an address part; known: {', '.join(PARTS)}")
        _name(column, f"address.parts.{part}")
    abbreviate = value.get("abbreviate", True)
    if not isinstance(abbreviate, bool):
        raise UsageError("--config: field address.abbreviate must be true or false")
    key = value.get("key", "address_key")
    return {
        "parts": dict(parts),
        "output": _name(value.get("output", "address"), "address.output"),
        "key": _name(key, "address.key") if key else None,
        "abbreviate": abbreviate,
    }


def parse_clickstream(value: Any) -> Dict[str, Any]:
    value = _mapping(value, "clickstream")
    unknown = sorted(set(value) - set(CLICK_FIELDS))
    if unknown:
        raise UsageError(
            f"--config: field clickstream has unknown field(s) {', '.join(unknown)}; known: {', '.join(CLICK_FIELDS)}"
        )
    out = {
        "source": _name(value.get("source"), "clickstream.source"),
        "join_on": _name(value.get("join_on"), "clickstream.join_on"),
        "user_column": _name(value.get("user_column", "user"), "clickstream.user_column"),
        "client_column": _name(value.get("client_column", "client"), "clickstream.client_column"),
        "session_gap_minutes": value.get("session_gap_minutes", 30),
        "lookback_days": value.get("lookback_days"),
        "ngram": value.get("ngram", 2),
        "prefix": value.get("prefix", "click_"),
        "include_bots": value.get("include_bots", False),
    }
    gap = out["session_gap_minutes"]
    if isinstance(gap, bool) or not isinstance(gap, (int, float)) or gap <= 0:
        raise UsageError(f"--config: field clickstream.session_gap_minutes must be a positive number, got {gap!r}")
    days = out["lookback_days"]
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 1):
        raise UsageError(f"--config: field clickstream.lookback_days must be a positive integer, got {days!r}")
    n = out["ngram"]
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10:
        raise UsageError(f"--config: field clickstream.ngram must be an integer 1..10, got {n!r}")
    if not isinstance(out["prefix"], str) or not set(out["prefix"]) <= NAME_CHARS:
        raise UsageError(f"--config: field clickstream.prefix must be a column-name prefix, got {out['prefix']!r}")
    if not isinstance(out["include_bots"], bool):
        raise UsageError("--config: field clickstream.include_bots must be true or false")
    return out


def parse_conf(text: str, conf_uri: str) -> Config:
    """The Config of a CONF text (JSON or YAML); file references are resolved, not read."""
    import yaml

    try:
        data = yaml.safe_load(text)  # JSON is YAML
    except yaml.YAMLError as error:
        raise UsageError(f"--config {conf_uri}: not valid JSON or YAML: {error}") from None
    if not isinstance(data, dict):
        raise UsageError(f"--config {conf_uri}: expected a mapping with feature_set, base, schema and recipe")
    unknown = sorted(set(data) - set(TOP_FIELDS))
    if unknown:
        raise UsageError(f"--config: unknown field(s) {', '.join(unknown)}; known: {', '.join(TOP_FIELDS)}")
    feature_set = _name(data.get("feature_set"), "feature_set")
    base = _mapping(data.get("base"), "base")
    if sorted(set(base) - {"table", "key"}):
        raise UsageError("--config: field base takes only table and key")
    config = Config(
        feature_set=feature_set,
        base_table=_name(base.get("table"), "base.table"),
        base_key=_name(base.get("key"), "base.key"),
    )
    joins = data.get("joins") or []
    if not isinstance(joins, list):
        raise UsageError("--config: field joins must be a list")
    config.joins = [parse_join(entry, i) for i, entry in enumerate(joins)]
    if data.get("address") is not None:
        config.address = parse_address(data["address"])
    if data.get("clickstream") is not None:
        config.clickstream = parse_clickstream(data["clickstream"])
    if ("schema" in data) == ("schema_file" in data):
        raise UsageError("--config: give exactly one of the fields schema (inline) and schema_file")
    if "schema" in data:
        config.schema = _mapping(data["schema"], "schema")
    else:
        config.schema_ref = _resolve(data["schema_file"], "schema_file", conf_uri)
    if "recipe" in data and "recipe_file" in data:
        raise UsageError("--config: give at most one of the fields recipe (inline) and recipe_file")
    if "recipe_file" in data:
        config.recipe_ref = _resolve(data["recipe_file"], "recipe_file", conf_uri)
    elif data.get("recipe") is not None:
        if not isinstance(data["recipe"], (dict, str)):
            raise UsageError("--config: field recipe must be a mapping or recipe text")
        config.recipe = data["recipe"]
    num_features = data.get("num_features", 2**18)
    if isinstance(num_features, bool) or not isinstance(num_features, int) or not 1 <= num_features <= 2**30:
        raise UsageError(f"--config: field num_features must be an integer 1..2^30, got {num_features!r}")
    config.num_features = num_features
    vocabulary = data.get("vocabulary", False)
    if not isinstance(vocabulary, bool):
        raise UsageError("--config: field vocabulary must be true or false")
    config.vocabulary = vocabulary
    return config


def load_references(config: Config, read: Callable[[str], str]) -> Config:
    """Read schema_file / recipe_file with `read`, then check schema and recipe together (no Spark)."""
    from features.recipe import RecipeError, parse_recipe, plan_recipe
    from features.schema import SchemaError, load_schema

    try:
        if config.schema_ref is not None:
            config.schema = load_schema(read(config.schema_ref))
        else:
            config.schema = load_schema(config.schema)
    except SchemaError as error:
        raise UsageError(f"--config: field {'schema_file' if config.schema_ref else 'schema'}: {error}") from None
    field_name = "recipe_file" if config.recipe_ref else "recipe"
    try:
        if config.recipe_ref is not None:
            config.recipe = parse_recipe(read(config.recipe_ref))
        elif isinstance(config.recipe, str):
            config.recipe = parse_recipe(config.recipe)
        plan_recipe(config.schema, config.recipe)
    except RecipeError as error:
        raise UsageError(f"--config: field {field_name}: {error}") from None
    config.checked = True
    return config


# --- CLI ---------------------------------------------------------------------------------


def add_arguments(parser) -> None:
    parser.add_argument(
        "--config", required=True, type=local_file, help="CONF file (JSON or YAML; local path or s3://), see conf/"
    )


def validate(args) -> None:
    """Parse and check a local CONF (and its local schema/recipe files) before any JVM starts."""
    args.config_uri = normalize_uri(args.config, "--config")
    args.conf = None
    if args.config_uri.startswith("file://"):
        config = parse_conf(read_local_file(args.config_uri, "--config"), args.config_uri)
        refs = [r for r in (config.schema_ref, config.recipe_ref) if r]
        if all(r.startswith("file://") for r in refs):
            load_references(config, lambda uri: read_local_file(uri, "--config"))
        args.conf = config


# --- transforms (pure) ---------------------------------------------------------------------


def without_bookkeeping(df):
    """Drop the ingest bookkeeping columns (`_dms...`)."""
    return df.drop(*[c for c in df.columns if c.lower().startswith("_dms")])


def mark_rejects(base, key: str):
    """Base rows with `_reason`: null keys and every copy of a duplicated key are rejected, else null."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    copies = F.count(F.lit(1)).over(Window.partitionBy(key))
    return base.withColumn(
        "_reason",
        F.when(F.col(key).isNull(), F.lit(f"null key {key}")).when(copies > 1, F.lit(f"duplicate key {key}")),
    )


def join_table(df, other, spec: Join, index: int):
    """Left-join one more table on its key; its columns must not collide with what is there."""
    from pyspark.sql import functions as F

    columns = spec.columns or [c for c in other.columns if c not in spec.on.values()]
    missing = [c for c in [*spec.on.values(), *columns] if c not in other.columns]
    if missing:
        raise UsageError(f"--config: field joins[{index}]: table {spec.table} has no column(s) {', '.join(missing)}")
    absent = [c for c in spec.on if c not in df.columns]
    if absent:
        raise UsageError(f"--config: field joins[{index}].on: no column(s) {', '.join(absent)} before this join")
    clash = [c for c in columns if c in df.columns]
    if clash:
        raise UsageError(
            f"--config: field joins[{index}]: column(s) {', '.join(clash)} of {spec.table} already exist; "
            "list the wanted ones in columns"
        )
    right = other.select(*[F.col(right_col).alias(f"_j_{left}") for left, right_col in spec.on.items()], *columns)
    condition = [df[left] == right[f"_j_{left}"] for left in spec.on]
    return df.join(right, condition, "left").drop(*[f"_j_{left}" for left in spec.on])


def add_clickstream(df, logs, click: Dict[str, Any], run_date: str):
    """Left-join per-user activity on base[join_on] = logs[user_column], prefixed; absent users get 0 counts."""
    from pyspark.sql import functions as F

    from features.clickstream import user_activity

    if click["join_on"] not in df.columns:
        raise UsageError(f"--config: field clickstream.join_on: no column {click['join_on']} in the joined table")
    needed = [click["user_column"], click["client_column"], "event_ts", "path", "status", "bytes"]
    missing = [c for c in needed if c not in logs.columns]
    if missing:
        raise UsageError(f"--config: field clickstream: the logs table has no column(s) {', '.join(missing)}")
    activity = user_activity(
        logs,
        run_date,
        gap_minutes=float(click["session_gap_minutes"]),
        lookback_days=click["lookback_days"],
        ngram_n=click["ngram"],
        user_col=click["user_column"],
        client_col=click["client_column"],
        include_bots=click["include_bots"],
    )
    prefix = click["prefix"]
    renamed = activity.select(
        F.col(click["user_column"]).alias("_click_user"),
        *[F.col(c).alias(prefix + c) for c in activity.columns if c != click["user_column"]],
    )
    clash = [c for c in renamed.columns if c in df.columns]
    if clash:
        raise UsageError(f"--config: field clickstream.prefix: column(s) {', '.join(clash)} already exist")
    out = df.join(renamed, df[click["join_on"]].cast("string") == renamed["_click_user"], "left").drop("_click_user")
    fills = {prefix + c: 0 for c in CLICK_COUNTS}
    return out.fillna(fills).fillna({prefix + "path_ngrams": ""})


def read_base(config: Config, read_table: Callable[[str], Any]):
    """The base table without bookkeeping columns, rows marked with their reject `_reason`."""
    base = without_bookkeeping(read_table(config.base_table))
    if config.base_key not in base.columns:
        raise UsageError(f"--config: field base.key: table {config.base_table} has no column {config.base_key}")
    return mark_rejects(base, config.base_key)


def assemble(good, config: Config, run_date: str, read_table: Callable[[str], Any]):
    """The accepted base rows + joins + address + clickstream."""
    from features.address import with_address

    df = good
    for i, spec in enumerate(config.joins):
        df = join_table(df, without_bookkeeping(read_table(spec.table)), spec, i)
    if config.address:
        missing = [c for c in config.address["parts"].values() if c not in df.columns]
        if missing:
            raise UsageError(f"--config: field address.parts: no column(s) {', '.join(missing)} in the joined table")
        df = with_address(
            df,
            config.address["parts"],
            output_col=config.address["output"],
            key_col=config.address["key"],
            abbreviate=config.address["abbreviate"],
        )
    if config.clickstream:
        logs = read_table("logs_" + config.clickstream["source"])
        df = add_clickstream(df, logs, config.clickstream, run_date)
    return df


def check_columns(df, schema: Dict[str, Any]) -> None:
    """Every schema attribute that the recipe may use must be a column (exit 2 otherwise)."""
    from features.schema import attribute_types

    target = schema.get("targetAttributeName")
    missing = [name for name in attribute_types(schema) if name not in df.columns and name != target]
    if missing:
        raise UsageError(
            f"--config: field schema: attribute(s) {', '.join(missing)} are not columns of the joined table; "
            f"columns: {', '.join(df.columns)}"
        )


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


def run(spark, args) -> RunSummary:
    from pyspark.sql import functions as F

    from features.recipe import RecipeError, compile_recipe

    lake = args.lake
    config = args.conf
    if config is None:  # CONF on S3, or references on S3: read and check them now
        config = parse_conf(read_text(spark, args.config_uri), args.config_uri)
    if not config.checked:
        config = load_references(config, lambda uri: read_text(spark, uri))

    inputs: List[str] = []

    def read_table(name: str):
        uri = lake.table(name)
        if not exists(spark, join(uri, "_delta_log")):
            raise LakemlError(f"table {name} not found at {uri}; run its ingest job first, or fix --config")
        inputs.append(uri)
        return spark.read.format("delta").load(spark_uri(uri))

    with stage("assemble") as counts:
        marked = read_base(config, read_table).cache()
        by_reason = {row["_reason"]: int(row["count"]) for row in marked.groupBy("_reason").count().collect()}
        rows_kept = by_reason.pop(None, 0)
        rows_rejected = sum(by_reason.values())
        rows_in = rows_kept + rows_rejected
        joined = assemble(marked.where("_reason IS NULL").drop("_reason"), config, args.run_date, read_table)
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
    base_uri = lake.table(config.base_table)  # the base table stands in for the source file
    quarantine = to_quarantine(
        rejected.withColumn("_raw", record).withColumn("_source", F.lit(base_uri)),
        "_raw",
        "_source",
        "_reason",
        JOB,
        args.run_id,
        args.run_date,
    )

    model_uri = pipeline_uri(lake, config.feature_set, args.run_date)
    with stage("pipeline") as counts:
        try:
            pipeline = compile_recipe(config.schema, config.recipe, config.num_features, config.vocabulary)
        except RecipeError as error:
            raise UsageError(f"--config: field recipe: {error}") from None
        model = pipeline.fit(joined)
        model.write().overwrite().save(spark_uri(model_uri))
        counts["saved"] = model_uri
        features = model.transform(joined)

    out_uri = lake.features(config.feature_set)
    dated = features.withColumn("run_date", F.lit(args.run_date).cast("date"))
    with stage("publish") as counts:
        (
            dated.write.format("delta")
            .mode("overwrite")
            .option("replaceWhere", f"run_date = '{args.run_date}'")
            .option("mergeSchema", "true")
            .partitionBy("run_date")
            .save(spark_uri(out_uri))
        )
        publish_quarantine(
            quarantine, lake.quarantine(JOB), f"run_date = '{args.run_date}' AND source_file = {sql_string(base_uri)}"
        )
        counts.update(rows=rows_kept, rejected=rows_rejected)
    width = vector_size(features, "features")
    joined.unpersist()
    marked.unpersist()
    return RunSummary(
        job=JOB,
        run_id=args.run_id,
        run_date=args.run_date,
        inputs=inputs,
        outputs=[out_uri, model_uri],
        rows_in=rows_in,
        rows_out=rows_kept,
        rows_rejected=rows_rejected,
        counts={
            "feature_set": config.feature_set,
            "features_size": width,
            "pipeline": model_uri,
            "joins": len(config.joins),
            "address": bool(config.address),
            "clickstream": bool(config.clickstream),
            "reasons": reasons,
        },
    )

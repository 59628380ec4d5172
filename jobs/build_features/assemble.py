"""build_features' transforms: the base with its rejects marked, joins, address and clickstream."""

from __future__ import annotations

from typing import Any, Callable, Dict

from core.errors import UsageError
from jobs.build_features.conf import Clickstream, Config, Join

CLICK_COUNTS = ("events", "pages", "errors", "bytes", "sessions", "active_days")


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


def add_clickstream(df, logs, click: Clickstream, run_date: str):
    """Left-join per-user activity on base[join_on] = logs[user_column], prefixed; absent users get 0 counts."""
    from pyspark.sql import functions as F

    from features.clickstream import user_activity

    if click.join_on not in df.columns:
        raise UsageError(f"--config: field clickstream.join_on: no column {click.join_on} in the joined table")
    needed = [click.user_column, click.client_column, "event_ts", "path", "status", "bytes"]
    missing = [c for c in needed if c not in logs.columns]
    if missing:
        raise UsageError(f"--config: field clickstream: the logs table has no column(s) {', '.join(missing)}")
    activity = user_activity(
        logs,
        run_date,
        gap_minutes=float(click.session_gap_minutes),
        lookback_days=click.lookback_days,
        ngram_n=click.ngram,
        user_col=click.user_column,
        client_col=click.client_column,
        include_bots=click.include_bots,
    )
    prefix = click.prefix
    renamed = activity.select(
        F.col(click.user_column).alias("_click_user"),
        *[F.col(c).alias(prefix + c) for c in activity.columns if c != click.user_column],
    )
    clash = [c for c in renamed.columns if c in df.columns]
    if clash:
        raise UsageError(f"--config: field clickstream.prefix: column(s) {', '.join(clash)} already exist")
    out = df.join(renamed, df[click.join_on].cast("string") == renamed["_click_user"], "left").drop("_click_user")
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
        missing = [c for c in config.address.parts.values() if c not in df.columns]
        if missing:
            raise UsageError(f"--config: field address.parts: no column(s) {', '.join(missing)} in the joined table")
        df = with_address(
            df,
            config.address.parts,
            output_col=config.address.output,
            key_col=config.address.key,
            abbreviate=config.address.abbreviate,
        )
    if config.clickstream:
        logs = read_table("logs_" + config.clickstream.source)
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

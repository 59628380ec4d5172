"""Clickstream features from a logs table: sessions, per-user counts and recency, path n-grams.

Sessions (`sessionize`): events of one client (the `client` column by default) ordered by
`event_ts`; a new session starts at a client's first event and whenever the time since the
client's previous event is at least the gap (30 minutes by default): an event exactly 30:00
after the previous one opens a new session, one at 29:59.999999 does not. Computed with
`lag` and a running `sum` over a window, no UDF. `session_id` is `<client>@<first event, UTC
microseconds>`, stable across re-runs. Ties on `event_ts` are ordered by path and url.

Per-user activity (`user_activity`), for events up to the end of the run date (and, with
`lookback_days`, not before run date - lookback + 1), bots excluded unless asked:
  events          requests of the user
  pages           page views: requests whose path does not end in a static-asset extension
  errors          requests with status >= 400
  bytes           sum of `bytes` (null counts as 0)
  sessions        sessions the user had events in (a visit = a session)
  active_days     distinct event dates
  first_seen, last_seen
  days_since_last_visit  run date minus the date of the last event (0 = seen on the run date)
  path_ngrams     path n-grams of the user's requests in each session (see below), sorted, as one
                  text: words joined by '/', n-grams by ' '
Users are the `user` column (web logs; `user_id` for JSON events); null, '' and '-' are anonymous
and get no row.

Path tokens (`path_tokens`): the path split on '/', empty pieces dropped, lowercased, numbers
(all digits) replaced by `<num>`. `session_path_ngrams`: every k-gram (1 <= k <= n) over the
session's token sequence (all its requests' tokens in time order), words joined with '/'.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

STATIC_ASSET = r"(?i)\.(css|js|mjs|map|png|jpe?g|gif|ico|svg|webp|woff2?|ttf|eot|otf|mp4|webm|mp3|pdf|zip|gz)$"
ANONYMOUS = ("", "-")


def path_tokens(path: Column, mask_numbers: bool = True) -> Column:
    """Lowercased non-empty '/'-separated tokens of a path; all-digit tokens become `<num>`."""
    tokens = F.filter(F.split(F.lower(F.coalesce(path, F.lit(""))), "/"), lambda t: t != "")
    if mask_numbers:
        tokens = F.transform(tokens, lambda t: F.when(t.rlike("^[0-9]+$"), F.lit("<num>")).otherwise(t))
    return tokens


def ngrams(tokens: Column, n: int, joiner: str = "/") -> Column:
    """Every k-gram for 1 <= k <= n of an array of tokens, in order, words joined by `joiner`."""
    if not 1 <= n <= 10:
        raise ValueError(f"n-gram size {n} out of range 1..10")
    sizes = F.filter(F.sequence(F.lit(1), F.lit(n)), lambda k: k <= F.size(tokens))
    return F.flatten(
        F.transform(
            sizes,
            lambda k: F.transform(
                F.sequence(F.lit(1), F.size(tokens) - k + 1),
                lambda i: F.array_join(F.slice(tokens, i, k), joiner),
            ),
        )
    )


def sessionize(
    events: DataFrame,
    gap_minutes: float = 30.0,
    client_col: str = "client",
    ts_col: str = "event_ts",
) -> DataFrame:
    """Add session_id, session_start and session_seq (1-based per client) to every event."""
    if gap_minutes <= 0:
        raise ValueError(f"session gap must be positive, got {gap_minutes} minutes")
    gap_us = round(gap_minutes * 60 * 1_000_000)
    order = [F.col(ts_col), F.col("path"), F.col("url")] if {"path", "url"} <= set(events.columns) else [ts_col]
    by_client = Window.partitionBy(client_col).orderBy(*order)
    micros = F.expr(f"unix_micros(`{ts_col}`)")
    previous = F.lag(micros).over(by_client)
    starts = F.when(previous.isNull() | (micros - previous >= gap_us), 1).otherwise(0)
    running = by_client.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    out = (
        events.withColumn("_micros", micros)
        .withColumn("_starts", starts)
        .withColumn("session_seq", F.sum("_starts").over(running).cast("int"))
    )
    by_session = Window.partitionBy(client_col, "session_seq")
    out = out.withColumn("_session_micros", F.min("_micros").over(by_session))
    return (
        out.withColumn("session_start", F.expr("timestamp_micros(_session_micros)"))
        .withColumn("session_id", F.concat_ws("@", F.col(client_col), F.col("_session_micros").cast("string")))
        .drop("_micros", "_starts", "_session_micros")
    )


def session_path_ngrams(sessions: DataFrame, n: int = 2, ts_col: str = "event_ts") -> DataFrame:
    """One row per session: session_id, the user seen in it (if any), its token sequence and n-grams."""
    ordered = F.array_sort(F.collect_list(F.struct(F.col(ts_col).alias("ts"), F.col("path").alias("path"))))
    per_session = sessions.groupBy("session_id").agg(ordered.alias("_events"))
    tokens = F.flatten(F.transform(F.col("_events"), lambda e: path_tokens(e["path"])))
    return per_session.select("session_id", tokens.alias("path_tokens")).withColumn(
        "path_ngrams", ngrams(F.col("path_tokens"), n)
    )


def known_user(user: Column) -> Column:
    """The user id, or null for anonymous traffic (null, '' or '-')."""
    trimmed = F.trim(user)
    return F.when(~trimmed.isin(*ANONYMOUS), trimmed)


def events_in_window(
    events: DataFrame, run_date: str, lookback_days: Optional[int] = None, ts_col: str = "event_ts"
) -> DataFrame:
    """Events up to the end of `run_date` (UTC), and within `lookback_days` of it when given."""
    end = dt.date.fromisoformat(run_date) + dt.timedelta(days=1)
    out = events.where(F.col(ts_col) < F.lit(end.isoformat()).cast("timestamp"))
    if lookback_days is not None:
        start = end - dt.timedelta(days=lookback_days)
        out = out.where(F.col(ts_col) >= F.lit(start.isoformat()).cast("timestamp"))
    return out


def user_activity(
    events: DataFrame,
    run_date: str,
    gap_minutes: float = 30.0,
    lookback_days: Optional[int] = None,
    ngram_n: int = 2,
    user_col: str = "user",
    client_col: str = "client",
    include_bots: bool = False,
    ts_col: str = "event_ts",
) -> DataFrame:
    """Per-user counts and recency relative to `run_date` (see the module docstring)."""
    scoped = events_in_window(events, run_date, lookback_days, ts_col)
    if not include_bots and "is_bot" in scoped.columns:
        scoped = scoped.where(~F.coalesce(F.col("is_bot"), F.lit(False)))
    sessions = sessionize(scoped, gap_minutes, client_col, ts_col).withColumn("_user", known_user(F.col(user_col)))
    is_page = ~F.coalesce(F.col("path"), F.lit("")).rlike(STATIC_ASSET)
    # one aggregation per (user, session), then one per user: no distinct counts, no joins
    per_session = (
        sessions.where(F.col("_user").isNotNull())
        .groupBy("_user", "session_id")
        .agg(
            F.count(F.lit(1)).alias("events"),
            F.sum(is_page.cast("long")).alias("pages"),
            F.sum((F.col("status") >= 400).cast("long")).alias("errors"),
            F.sum(F.coalesce(F.col("bytes").cast("long"), F.lit(0))).alias("bytes"),
            F.collect_set(F.to_date(ts_col)).alias("_days"),
            F.min(ts_col).alias("first_seen"),
            F.max(ts_col).alias("last_seen"),
            F.array_sort(F.collect_list(F.struct(F.col(ts_col).alias("ts"), F.col("path").alias("path")))).alias(
                "_events"
            ),
        )
    )
    tokens = F.flatten(F.transform(F.col("_events"), lambda e: path_tokens(e["path"])))
    per_session = per_session.withColumn("_grams", ngrams(tokens, ngram_n))
    return (
        per_session.groupBy("_user")
        .agg(
            F.sum("events").alias("events"),
            F.sum("pages").alias("pages"),
            F.sum("errors").alias("errors"),
            F.sum("bytes").alias("bytes"),
            F.count(F.lit(1)).alias("sessions"),
            F.size(F.array_distinct(F.flatten(F.collect_list("_days")))).alias("active_days"),
            F.min("first_seen").alias("first_seen"),
            F.max("last_seen").alias("last_seen"),
            F.array_join(F.array_sort(F.flatten(F.collect_list("_grams"))), " ").alias("path_ngrams"),
        )
        .withColumn("days_since_last_visit", F.datediff(F.lit(run_date).cast("date"), F.to_date("last_seen")))
        .withColumnRenamed("_user", user_col)
    )

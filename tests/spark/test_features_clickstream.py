"""Clickstream: sessions split exactly at the gap, per-user counts and recency, path n-grams."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F

from features.clickstream import ngrams, path_tokens, session_path_ngrams, sessionize, user_activity
from tests.logs_table import LOGS_SCHEMA, log_event

T0 = dt.datetime(2026, 11, 20, 10, 0, 0)


def logs(spark, rows):
    return spark.createDataFrame([log_event(*r) for r in rows], LOGS_SCHEMA)


def test_sessions_split_exactly_at_the_gap(spark):
    minute = dt.timedelta(minutes=1)
    rows = [
        (T0, "10.0.0.1", "-", "/a"),
        (T0 + 29 * minute + dt.timedelta(seconds=59, microseconds=999999), "10.0.0.1", "-", "/b"),  # same
        (T0 + 59 * minute + dt.timedelta(seconds=59, microseconds=999999), "10.0.0.1", "-", "/c"),  # 30:00 later
        (T0 + 90 * minute, "10.0.0.1", "-", "/d"),  # 30:00.000001 later: new
        (T0 + 10 * minute, "10.0.0.2", "-", "/x"),  # another client: own sessions
        (T0 + 10 * minute, "10.0.0.2", "-", "/y"),  # same instant: same session
    ]
    out = sessionize(logs(spark, rows)).select("client", "path", "session_seq", "session_id", "session_start")
    got = {r["path"].strip("/"): r for r in out.collect()}
    assert [got[p]["session_seq"] for p in "abcd"] == [1, 1, 2, 3]
    assert got["x"]["session_seq"] == got["y"]["session_seq"] == 1
    assert got["x"]["session_id"] == got["y"]["session_id"] != got["a"]["session_id"]
    assert got["b"]["session_start"] == T0 and got["b"]["session_id"] == got["a"]["session_id"]
    micros = int(T0.replace(tzinfo=dt.timezone.utc).timestamp()) * 1_000_000
    assert got["a"]["session_id"] == f"10.0.0.1@{micros}"
    # one row per session: its requests' path tokens in time order (ties by path), and their n-grams
    grams = {r["session_id"]: r for r in session_path_ngrams(sessionize(logs(spark, rows)), 2).collect()}
    assert grams[got["x"]["session_id"]]["path_tokens"] == ["x", "y"]
    assert grams[got["x"]["session_id"]]["path_ngrams"] == ["x", "y", "x/y"]
    assert grams[got["a"]["session_id"]]["path_ngrams"] == ["a", "b", "a/b"]
    assert len(grams) == 4
    # a 60-minute gap keeps a, b, c together and d (30:00.000001 after c) too
    wide = {r["path"].strip("/"): r["session_seq"] for r in sessionize(logs(spark, rows), gap_minutes=60).collect()}
    assert [wide[p] for p in "abcd"] == [1, 1, 1, 1]
    with pytest.raises(ValueError):
        sessionize(logs(spark, rows), gap_minutes=0)


def test_path_tokens_and_ngrams(spark):
    df = spark.createDataFrame([("/Products//42/reviews/",), ("/",), (None,)], "path string")
    got = [r[0] for r in df.select(path_tokens(F.col("path"))).collect()]
    assert got == [["products", "<num>", "reviews"], [], []]
    tokens = spark.createDataFrame([(["a", "b", "c"],), (["a"],), ([],)], "t array<string>")
    grams = [r[0] for r in tokens.select(ngrams(F.col("t"), 3)).collect()]
    assert grams == [["a", "b", "c", "a/b", "b/c", "a/b/c"], ["a"], []]
    spaced = tokens.select(ngrams(F.col("t"), 2, " ")).first()[0]
    assert spaced == ["a", "b", "c", "a b", "b c"]


def test_user_counts_recency_and_path_ngrams(spark):
    hour = dt.timedelta(hours=1)
    day = dt.timedelta(days=1)
    rows = [
        # alice: two sessions on 11-20 from one client, one request on 11-18 from another
        (T0, "10.0.0.1", "alice", "/home"),
        (T0 + dt.timedelta(minutes=5), "10.0.0.1", "alice", "/products/7", 404, None),
        (T0 + dt.timedelta(minutes=6), "10.0.0.1", "alice", "/static/app.js", 200, 5000),
        (T0 + 2 * hour, "10.0.0.1", "alice", "/cart", 500, 50),
        (T0 - 2 * day, "10.0.0.9", "alice", "/home"),
        # bob: last seen 3 days before the run date
        (T0 - 3 * day, "10.0.0.2", "bob", "/home", 200, 10),
        # anonymous and bot traffic get no user row; a bot request of bob is not counted
        (T0, "10.0.0.3", "-", "/home"),
        (T0, "10.0.0.4", "", "/home"),
        (T0, "10.0.0.5", None, "/home"),
        (T0, "10.0.0.2", "bob", "/admin", 403, 1, True),
        # after the run date: ignored
        (T0 + 2 * day, "10.0.0.1", "alice", "/future", 500, 999),
    ]
    out = user_activity(logs(spark, rows), run_date="2026-11-20")
    got = {r["user"]: r.asDict() for r in out.collect()}
    assert set(got) == {"alice", "bob"}
    alice, bob = got["alice"], got["bob"]
    assert (alice["events"], alice["pages"], alice["errors"], alice["bytes"]) == (5, 4, 2, 100 + 5000 + 50 + 100)
    assert (alice["sessions"], alice["active_days"], alice["days_since_last_visit"]) == (3, 2, 0)
    assert alice["last_seen"] == T0 + 2 * hour and alice["first_seen"] == T0 - 2 * day
    assert (bob["events"], bob["errors"], bob["bytes"], bob["sessions"], bob["days_since_last_visit"]) == (
        1,
        0,
        10,
        1,
        3,
    )
    # alice's sessions: [home, products/7, static/app.js], [cart], [home]; n-grams sorted per user
    assert alice["path_ngrams"].split(" ") == sorted(
        [
            *("home", "products", "<num>", "static", "app.js"),
            *("home/products", "products/<num>", "<num>/static", "static/app.js"),
            *("cart", "home"),
        ]
    )
    assert bob["path_ngrams"] == "home"
    # lookback: only the last 2 days (11-19 and 11-20) count; bob falls out, alice loses 11-18
    recent = {r["user"]: r for r in user_activity(logs(spark, rows), "2026-11-20", lookback_days=2).collect()}
    assert set(recent) == {"alice"} and recent["alice"]["events"] == 4
    # recency is relative to the run date
    later = {r["user"]: r for r in user_activity(logs(spark, rows), "2026-11-25").collect()}
    assert later["alice"]["days_since_last_visit"] == 3  # the 11-22 request now counts
    assert later["bob"]["days_since_last_visit"] == 8

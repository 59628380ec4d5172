"""Rows shaped like ingest_logs' table (`tables/logs_<source>`), for tests of what reads it."""

from __future__ import annotations

LOGS_SCHEMA = (
    "event_ts timestamp, client string, user string, method string, url string, path string, "
    "query map<string,string>, protocol string, status int, bytes long, referrer string, user_agent string, "
    "is_bot boolean, extra array<string>, source_file string, run_id string, event_date date"
)


def log_event(ts, client, user, path, status=200, size=100, bot=False, source_file="s3://raw/logs/web/f1.log"):
    """One GET request as a row of the logs table."""
    return (
        ts,
        client,
        user,
        "GET",
        path,
        path,
        {},
        "HTTP/1.1",
        status,
        size,
        "-",
        "Mozilla/5.0",
        bot,
        [],
        source_file,
        "r0",
        ts.date(),
    )

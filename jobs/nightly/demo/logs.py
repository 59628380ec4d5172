"""The demo shop's web access logs: one gzip file per day in combined format.

Customers browse in sessions (at most one session starting per hour, so sessions are always
more than 30 minutes apart), logged in under their user name from a stable IP and one or two
browsers drawn from the fake-useragent package's data file by its market shares. Anonymous
visitors, crawlers (Googlebot, bingbot, ...), 404s, static assets and a few malformed lines
(truncated, a bad timestamp, binary garbage) are mixed in. The first night's files cover the
28 days up to day 1; every later day adds one file.
"""

from __future__ import annotations

import datetime as dt
import gzip
import importlib.resources
import json
from functools import lru_cache
from typing import List, Tuple

import numpy as np

from jobs.nightly.demo.world import CATEGORIES, HISTORY_DAYS, World, rng

LOGS_PREFIX = "raw/logs/web"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
BOT_AGENTS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
)
FALLBACK_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/135.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_3_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.3.1 Mobile/15E148 Safari/604.1",
)
SEARCH_TERMS = ("red+shoes", "rain+jacket", "wool", "gift", "sale", "leather+bag")
Line = Tuple[float, str]  # (epoch seconds, text)


@lru_cache(maxsize=1)
def browser_agents() -> Tuple[Tuple[str, ...], np.ndarray]:
    """Browser user agents and their shares, from fake-useragent's data file (a built-in pair if absent)."""
    try:
        path = importlib.resources.files("fake_useragent") / "data" / "browsers.jsonl"
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (ModuleNotFoundError, FileNotFoundError):
        rows = [{"useragent": ua, "percent": 1.0} for ua in FALLBACK_AGENTS]
    rows.sort(key=lambda row: row["useragent"])  # the file's order is not part of the seed
    weights = np.array([max(float(row.get("percent") or 0.0), 1e-6) for row in rows])
    return tuple(row["useragent"] for row in rows), weights / weights.sum()


def customer_ip(customer: int) -> str:
    """A stable IP per customer (0-based index)."""
    n = customer + 1
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def clf_time(epoch: float) -> str:
    """The combined-format timestamp of an epoch second, UTC."""
    t = dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc)
    return f"{t.day:02d}/{MONTHS[t.month - 1]}/{t.year}:{t.hour:02d}:{t.minute:02d}:{t.second:02d} +0000"


def access_line(epoch: float, ip: str, user: str, path: str, status: int, size: int, referrer: str, agent: str) -> str:
    """One line in Apache's combined format."""
    shown = "-" if size == 0 and status == 304 else str(size)
    return f'{ip} - {user} [{clf_time(epoch)}] "GET {path} HTTP/1.1" {status} {shown} "{referrer}" "{agent}"'


def session_paths(world: World, r: np.random.Generator) -> List[Tuple[str, int]]:
    """The (path, status) requests of one browsing session."""
    paths: List[Tuple[str, int]] = [("/", 200), ("/static/site.css", 200)]
    for _ in range(int(r.integers(1, 7))):
        kind = r.random()
        if kind < 0.55:
            product = int(r.choice(world.n_products, p=world.popularity)) + 1
            paths.append((f"/products/{product}", 200))
        elif kind < 0.62:
            paths.append((f"/products/{world.n_products + int(r.integers(1, 500))}", 404))  # a dead link
        elif kind < 0.8:
            paths.append((f"/category/{CATEGORIES[int(r.integers(0, len(CATEGORIES)))]}", 200))
        elif kind < 0.9:
            paths.append((f"/search?q={SEARCH_TERMS[int(r.integers(0, len(SEARCH_TERMS)))]}", 200))
        else:
            paths.append(("/cart", 200))
    return paths


def session_lines(world: World, r, start: float, ip: str, user: str, agent: str) -> List[Line]:
    """The lines of one session starting at `start` (lasting under 20 minutes)."""
    lines: List[Line] = []
    t, referrer = start, "https://www.google.com/"
    for path, status in session_paths(world, r):
        status = 304 if status == 200 and path.startswith("/static") and r.random() < 0.3 else status
        size = 0 if status == 304 else int(r.integers(300, 40000))
        lines.append((t, access_line(t, ip, user, path, status, size, referrer, agent)))
        referrer = "https://shop.example.com" + path.split("?")[0]
        t += float(r.integers(5, 150))
    return lines


def customer_sessions(world: World, customer: int, day1: dt.date) -> List[Tuple[dt.date, int]]:
    """(date, hour) of each history-window session of a day-1 customer; the latest on `last_seen`."""
    k = int(world.sessions[customer])
    if k == 0:
        return []
    r = rng(world.spec, "sessions", customer)
    last = int(world.last_seen[customer])
    slots = np.arange(last * 24, HISTORY_DAYS * 24)
    first = int(r.integers(last * 24, last * 24 + 24))
    others = r.choice(slots[slots != first], size=min(k - 1, len(slots) - 1), replace=False)
    chosen = [first] + [int(s) for s in others]
    return [(day1 - dt.timedelta(days=s // 24), s % 24) for s in chosen]


def epoch_at(day: dt.date, hour: int, r: np.random.Generator) -> float:
    """A second within the given hour of a day, UTC."""
    base = dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.timezone.utc).timestamp()
    return base + float(r.integers(0, 40 * 60))  # sessions start in the hour's first 40 minutes


def visits_on(world: World, day: int) -> List[Tuple[int, dt.date, int]]:
    """(customer, date, hour) of every logged-in session in the files of demo day `day`."""
    spec = world.spec
    date = spec.day_date(day)
    if day == 1:
        return [(c, d, h) for c in range(world.n_customers) for d, h in customer_sessions(world, c, date)]
    r = rng(spec, "visits", day)
    rate = np.minimum(0.6, world.sessions[: world.n_customers] / HISTORY_DAYS)
    returning = np.flatnonzero(r.random(world.n_customers) < rate)
    per_day = (len(world.label) - world.n_customers) // (spec.days - 1) if spec.days > 1 else 0
    start = world.n_customers + (day - 2) * per_day
    newcomers = range(start, start + per_day)
    return [(int(c), date, int(r.integers(0, 24))) for c in [*returning, *newcomers]]


def background_lines(world: World, date: dt.date, r: np.random.Generator) -> List[Line]:
    """Anonymous visitors and crawlers on one date."""
    agents, weights = browser_agents()
    lines: List[Line] = []
    anonymous = max(3, world.n_customers // 40)
    for _ in range(anonymous):
        ip = f"172.{16 + int(r.integers(0, 16))}.{int(r.integers(0, 256))}.{int(r.integers(1, 255))}"
        agent = agents[int(r.choice(len(agents), p=weights))]
        lines += session_lines(world, r, epoch_at(date, int(r.integers(0, 24)), r), ip, "-", agent)
    for i in range(max(2, world.n_customers // 200)):
        agent = BOT_AGENTS[i % len(BOT_AGENTS)]
        t = epoch_at(date, int(r.integers(0, 24)), r)
        ip = f"66.249.{int(r.integers(0, 256))}.{int(r.integers(1, 255))}"
        lines.append((t, access_line(t, ip, "-", "/robots.txt", 200, 120, "-", agent)))
        for j in range(int(r.integers(3, 12))):
            product = int(r.integers(1, world.n_products + 40))
            status = 200 if product <= world.n_products else 404
            lines.append((t + j + 1, access_line(t + j + 1, ip, "-", f"/products/{product}", status, 900, "-", agent)))
    return lines


def malformed_lines(date: dt.date, count: int, r: np.random.Generator) -> List[Line]:
    """Lines a parser must reject: truncated, a bad timestamp, a bad status, garbage."""
    base = dt.datetime(date.year, date.month, date.day, 12, tzinfo=dt.timezone.utc).timestamp()
    good = access_line(base, "10.9.9.9", "-", "/", 200, 512, "-", "curl/8.5.0")
    kinds = (
        good[: len(good) // 2],
        good.replace(clf_time(base), "32/Nov/2026:25:61:00 +0000"),
        good.replace(" 200 ", " OK "),
        "\\x16\\x03\\x01\\x02\\x00 garbage from a TLS handshake",
    )
    return [(base + i, kinds[int(r.integers(0, len(kinds)))]) for i in range(count)]


def customer_agents(world: World) -> np.ndarray:
    """Each customer's two browsers (indexes into browser_agents())."""
    agents, weights = browser_agents()
    return rng(world.spec, "agents").choice(len(agents), size=(len(world.label), 2), p=weights)


def log_files(world: World, day: int) -> List[Tuple[str, bytes]]:
    """The gzip access-log files demo day `day` adds: (path under the lake, bytes)."""
    agents, _ = browser_agents()
    owned = customer_agents(world)
    spec = world.spec
    dates = (
        [spec.day_date(1) - dt.timedelta(days=n) for n in range(HISTORY_DAYS - 1, -1, -1)]
        if day == 1
        else [spec.day_date(day)]
    )
    by_date = {d: [] for d in dates}
    for customer, date, hour in visits_on(world, day):
        r = rng(spec, "session", customer, date.isoformat(), hour)
        agent = agents[int(owned[customer][int(r.random() < 0.2)])]
        user = f"user{customer + 1:05d}"
        by_date[date] += session_lines(world, r, epoch_at(date, hour, r), customer_ip(customer), user, agent)
    files = []
    for date in dates:
        r = rng(spec, "background", date.isoformat())
        lines = by_date[date] + background_lines(world, date, r)
        lines += malformed_lines(date, max(1, len(lines) // 800), r)
        lines.sort(key=lambda pair: pair[0])
        text = "".join(line + "\n" for _, line in lines).encode("utf-8")
        files.append((f"{LOGS_PREFIX}/access.log-{date:%Y%m%d}.gz", gzip.compress(text, mtime=0)))
    return files

"""The local target: `airflow dags test lakeml_nightly DATE` runs each job as `./spark-submit.sh local JOB ...`.

The night is the demo CONF's ingest_dms step at a small scale: each job of the local target is its own
spark-submit (a JVM start, ~30 s on 2 cores), so the suite runs one job per night; the demo CONF's whole
night is the nightly suite's, in one Spark session. The demo's raw zone arrives day by day, as DMS would
deliver it: each day's files are written just before that date's run. Day 1's night runs twice (the
second changes nothing), then days 2 and 3 in date order, as a backfill runs them. Each date's state is
compared with one night over the same files: day 1's is the first night itself, day 2's a fresh lake given
days 1-2 and one night of date 2, day 3's the scheduler's catch-up below (a fresh lake given days 1-3,
whose first night takes every file). Five spark-submits here, three in the catch-up.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from tests.airflow.conftest import ROOT, airflow, airflow_env
from tests.conftest import free_port

DATES = ("2026-11-20", "2026-11-21", "2026-11-22")
SCALE = 0.05
LAKEML_PY = os.path.join(ROOT, ".venv", "bin", "python")
TABLES = ("shop_customers", "shop_orders", "shop_reviews")


def small_conf(folder) -> str:
    """The demo CONF's ingest_dms stage at SCALE, as a file."""
    with open(os.path.join(ROOT, "conf", "nightly_demo.yaml"), encoding="utf-8") as handle:
        conf = yaml.safe_load(handle)
    small = {"demo": {**conf.get("demo", {}), "scale": SCALE}, "ingest_dms": conf["ingest_dms"]}
    path = os.path.join(folder, "nightly_ingest.yaml")
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(small, handle, sort_keys=False)
    return path


def lakeml(code: str, *args: str) -> str:
    """Run Python in lakeml's own venv (numpy, pyarrow, deltalake: this venv has none of them)."""
    done = subprocess.run([LAKEML_PY, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


# Writes the demo days given; prints how many DMS files each day brought.
WRITE_DAYS = """
import json, os, sys
from jobs.nightly.demo import DemoSpec, day_files
lake, scale, days = sys.argv[1], float(sys.argv[2]), [int(d) for d in sys.argv[3:]]
counts = {}
for day in days:
    files = day_files(DemoSpec(scale=scale), day)
    for path, data in files:
        target = os.path.join(lake, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "wb").write(data)
    counts[day] = sum(path.startswith("raw/dms/") for path, _ in files)
print(json.dumps(counts))
"""

# Every row of every table (delta-rs), sorted, and the raw zone's files (sha256): what nights are compared by.
DIGEST = """
import hashlib, json, sys, os
from deltalake import DeltaTable
lake = sys.argv[1]
out = {}
for name in sys.argv[2:]:
    table = DeltaTable(os.path.join(lake, "tables", name)).to_pandas()
    table = table[sorted(table.columns)].astype(str)
    out[name] = sorted(map(tuple, table.values.tolist()))
raw = {}
for folder, _, names in os.walk(os.path.join(lake, "raw")):
    for name in names:
        path = os.path.join(folder, name)
        raw[os.path.relpath(path, lake)] = hashlib.sha256(open(path, "rb").read()).hexdigest()
out["raw"] = raw
print(json.dumps(out))
"""


def write_days(lake: str, *days: int) -> dict:
    """Write demo days into the lake; {day: its DMS file count}."""
    return {int(day): n for day, n in json.loads(lakeml(WRITE_DAYS, lake, str(SCALE), *map(str, days))).items()}


def digest(lake: str) -> dict:
    return json.loads(lakeml(DIGEST, lake, *TABLES))


def night(lake: str, date: str, conf: str) -> subprocess.CompletedProcess:
    env = airflow_env(AIRFLOW_VAR_LAKEML_TARGET="local", AIRFLOW_VAR_LAKEML_CONF=conf)
    return airflow("dags", "test", "lakeml_nightly", date, "--conf", json.dumps({"lake": lake}), env=env)


def table_versions(lake: str) -> dict:
    return {name: sorted(os.listdir(os.path.join(lake, "tables", name, "_delta_log"))) for name in TABLES}


def files_applied(lake: str, date: str) -> int:
    """files_applied of the date's ingest_dms summary (one run id per date: the last run's)."""
    folder = os.path.join(lake, "_runs", "ingest_dms", date)
    (name,) = os.listdir(folder)
    with open(os.path.join(folder, name), encoding="utf-8") as handle:
        return json.load(handle)["counts"]["files_applied"]


@pytest.fixture(scope="module")
def nights(airflow_db, tmp_path_factory):
    """Day 1's night twice on one lake, then days 2 and 3 in date order; for date 2, a fresh lake with days
    1-2 and one night of it."""
    folder = tmp_path_factory.mktemp("local-target")
    conf, lake = small_conf(str(folder)), str(folder / "lake")
    runs, digests = [], []
    brought = write_days(lake, 1)
    runs.append(night(lake, DATES[0], conf))
    digests.append(digest(lake))
    versions = table_versions(lake)
    runs.append(night(lake, DATES[0], conf))
    digests.append(digest(lake))
    unchanged = versions == table_versions(lake)
    backfilled = {}  # by day
    for day, date in enumerate(DATES[1:], start=2):
        brought.update(write_days(lake, day))
        runs.append(night(lake, date, conf))
        backfilled[day] = digest(lake)
    alone = str(folder / f"single-{DATES[1]}")
    write_days(alone, 1, 2)
    runs.append(night(alone, DATES[1], conf))
    single = digest(alone)
    applied = {day: files_applied(lake, date) for day, date in enumerate(DATES, start=1)}
    return {
        "conf": conf,
        "runs": runs,
        "first": digests[0],
        "again": digests[1],
        "unchanged": unchanged,
        "backfilled": backfilled,
        "single": single,
        "brought": brought,
        "applied": applied,
    }


def test_every_night_succeeds(nights):
    assert len(nights["runs"]) == 5
    for done in nights["runs"]:
        assert "state=success" in done.stdout + done.stderr, (done.stdout + done.stderr)[-4000:]


def test_the_first_night_fills_every_table(nights):
    assert all(nights["first"][name] for name in TABLES)


def test_a_second_run_of_the_same_date_leaves_the_lake_unchanged(nights):
    assert nights["again"] == nights["first"]
    assert nights["unchanged"], "the second run committed new table versions"


def test_backfilled_dates_take_only_their_days_files(nights):
    """Day 1's second run took nothing (its summary is the last run's); days 2 and 3 took exactly their files."""
    assert nights["applied"] == {1: 0, 2: nights["brought"][2], 3: nights["brought"][3]}
    assert nights["brought"][2] > 0 and nights["brought"][3] > 0


def differing(daily: dict, once: dict) -> dict:
    """The tables whose rows differ between two digests (with their row counts); the raw zones must match."""
    assert daily["raw"] == once["raw"]  # the same input, so a table difference is the nights'
    return {name: (len(daily[name]), len(once[name])) for name in TABLES if daily[name] != once[name]}


def test_a_backfilled_date_equals_a_single_run_of_that_date(nights):
    assert differing(nights["backfilled"][2], nights["single"]) == {}


def standalone_env(home: str, conf: str, lake: str) -> dict:
    """`airflow standalone` in its own home and port, the DAG unpaused, its schedule the three DATES."""
    port = free_port()
    return airflow_env(
        PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"],  # standalone starts `airflow ...`
        AIRFLOW_HOME=home,
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://localhost:{port}/execution/",
        AIRFLOW_VAR_LAKEML_TARGET="local",
        AIRFLOW_VAR_LAKEML_CONF=conf,
        AIRFLOW_VAR_LAKEML_LAKE=lake,
        AIRFLOW_VAR_LAKEML_START_DATE=DATES[0],
        AIRFLOW_VAR_LAKEML_END_DATE=DATES[-1],
    )


def finished_runs(server: subprocess.Popen, env: dict, count: int, timeout: float) -> list:
    """The DAG's runs once `count` of them have ended (or one failed), oldest logical date first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(10)
        assert server.poll() is None, f"airflow standalone exited with {server.returncode}"
        done = airflow("dags", "list-runs", "lakeml_nightly", "-o", "json", env=env, timeout=120)
        # the CLI prints the runs as one JSON line after its warnings
        listed = [line for line in done.stdout.splitlines() if line.startswith("[")]
        runs = json.loads(listed[-1]) if done.returncode == 0 and listed else []
        ended = [r for r in runs if r["state"] in ("success", "failed")]
        if len(ended) >= count or any(r["state"] == "failed" for r in runs):
            return sorted(runs, key=lambda r: r["logical_date"])
    raise AssertionError(f"fewer than {count} runs ended within {timeout} s")


@pytest.fixture(scope="module")
def caught_up(nights, tmp_path_factory):
    """Airflow's own scheduler (`airflow standalone`: scheduler, DAG processor, API server, LocalExecutor)
    catching up on the three nights from lakeml_start_date to lakeml_end_date, all three days' files
    already in the raw zone, as after an outage."""
    folder = tmp_path_factory.mktemp("catch-up")
    lake = str(folder / "lake")
    brought = write_days(lake, 1, 2, 3)
    env = standalone_env(str(folder / "home"), nights["conf"], lake)
    with open(folder / "standalone.log", "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "airflow", "standalone"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            runs = finished_runs(server, env, len(DATES), timeout=900)
        finally:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=60)
    applied = {date: files_applied(lake, date) for date in DATES}
    return {"runs": runs, "digest": digest(lake), "applied": applied, "brought": brought}


def test_the_scheduler_runs_the_nights_one_at_a_time_in_date_order(caught_up):
    runs = caught_up["runs"]
    assert [r["logical_date"][:10] for r in runs] == list(DATES)
    assert [r["state"] for r in runs] == ["success"] * len(DATES)
    for earlier, later in zip(runs, runs[1:]):
        assert later["start_date"] >= earlier["end_date"]  # max_active_runs=1: no overlap


def test_a_catch_up_takes_every_waiting_file_once_and_ends_where_the_backfill_does(nights, caught_up):
    """The first night finds all three days' files and takes them; the later ones find nothing new. The lake
    then equals the backfill's after date 3: one night over every file ends where three nights do."""
    assert caught_up["applied"] == {DATES[0]: sum(caught_up["brought"].values()), DATES[1]: 0, DATES[2]: 0}
    assert differing(nights["backfilled"][3], caught_up["digest"]) == {}

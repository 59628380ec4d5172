"""The local target: `airflow dags test lakeml_nightly DATE` runs each job as `./spark-submit.sh local JOB ...`.

The night is the demo CONF's ingest_dms step at a small scale: each job of the local target is its own
spark-submit (a JVM start, ~30 s on 2 cores), so the suite runs one job per night; the demo CONF's whole
night is the nightly suite's, in one Spark session. The demo's raw zone arrives day by day, as DMS would
deliver it: each day's files are written just before that date's run. Nights over consecutive dates are
the nightly suite's (tests/nightly), which runs them in one Spark session each.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml

from tests.airflow.conftest import ROOT, airflow, airflow_env

DATES = ("2026-11-20",)
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


WRITE_DAY = """
import os, sys
from jobs.nightly.demo import DemoSpec, day_files
lake, day, scale = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
for path, data in day_files(DemoSpec(scale=scale), day):
    target = os.path.join(lake, path)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    open(target, "wb").write(data)
"""

# Every row of every table (delta-rs), sorted, and the ledgers: what "the lake is unchanged" compares.
DIGEST = """
import json, sys, os
from deltalake import DeltaTable
lake = sys.argv[1]
out = {}
for name in sys.argv[2:]:
    table = DeltaTable(os.path.join(lake, "tables", name)).to_pandas()
    table = table[sorted(table.columns)].astype(str)
    out[name] = sorted(map(tuple, table.values.tolist()))
print(json.dumps(out))
"""


def write_day(lake: str, day: int) -> None:
    lakeml(WRITE_DAY, lake, str(day), str(SCALE))


def digest(lake: str) -> dict:
    return json.loads(lakeml(DIGEST, lake, *TABLES))


def night(lake: str, date: str, conf: str) -> subprocess.CompletedProcess:
    env = airflow_env(AIRFLOW_VAR_LAKEML_TARGET="local", AIRFLOW_VAR_LAKEML_CONF=conf)
    return airflow("dags", "test", "lakeml_nightly", date, "--conf", json.dumps({"lake": lake}), env=env)


def table_versions(lake: str) -> dict:
    return {name: sorted(os.listdir(os.path.join(lake, "tables", name, "_delta_log"))) for name in TABLES}


@pytest.fixture(scope="module")
def nights(airflow_db, tmp_path_factory):
    """Day 1's night twice on one lake."""
    folder = tmp_path_factory.mktemp("local-target")
    conf, lake = small_conf(str(folder)), str(folder / "lake")
    runs, digests = [], []
    write_day(lake, 1)
    runs.append(night(lake, DATES[0], conf))
    digests.append(digest(lake))
    versions = table_versions(lake)
    runs.append(night(lake, DATES[0], conf))
    digests.append(digest(lake))
    unchanged = versions == table_versions(lake)
    return {"runs": runs, "first": digests[0], "again": digests[1], "unchanged": unchanged}


def test_every_night_succeeds(nights):
    for done in nights["runs"]:
        assert "state=success" in done.stdout + done.stderr, (done.stdout + done.stderr)[-4000:]


def test_the_first_night_fills_every_table(nights):
    assert all(nights["first"][name] for name in TABLES)


def test_a_second_run_of_the_same_date_leaves_the_lake_unchanged(nights):
    assert nights["again"] == nights["first"]
    assert nights["unchanged"], "the second run committed new table versions"

"""Three consecutive nights (day 2 with new CDC files and logs, day 3 with a late file) equal one
night over all the files, take only new files each night, and end where the source database is.

Only the ingest stages run here (the demo CONF cut to them), at a tiny scale: what is checked is
which files each night takes and the tables they leave.

The first two nights are also SIGKILLed mid-write on another lake and run again: night 1 while
ingest_logs writes its table, night 2 while ingest_dms applies shop.orders (after customers were
applied: a partly applied night). The nightly runs as a real process (`python -m jobs nightly`, its own
JVM), killed with its whole process group once its log shows the point; each night is then run again in
the test session, and the tables must equal the clean nights' after night 2. Both lakes must hold the same
raw zone (byte for byte): the killed nights write their demo days in another process, so a table
difference only means an ingest defect when the inputs are equal.
"""

from __future__ import annotations

import os

import pytest
import yaml

from jobs.nightly.demo import DemoSpec, day_files, final_state
from tests.conftest import ROOT
from tests.helpers import kill_when, run_in_process

SCALE = 0.05
DATES = ("2026-11-20", "2026-11-21", "2026-11-22")
TABLES = ("logs_web", "shop_customers", "shop_orders", "shop_reviews")
KILLS = {"2026-11-20": "stage parse:", "2026-11-21": "stage gate shop.orders"}


def ingest_conf(folder) -> str:
    """conf/nightly_demo.yaml with only its demo and ingest sections."""
    with open(os.path.join(ROOT, "conf", "nightly_demo.yaml"), encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    path = os.path.join(str(folder), "nightly_ingest.yaml")
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump({k: doc[k] for k in ("demo", "ingest_logs", "ingest_dms")}, handle, sort_keys=False)
    return path


def raw_zone(lake_dir: str) -> dict:
    """Every file under the lake's raw/ (path relative to the lake -> sha256): what two compared lakes must share."""
    import hashlib

    root, out = os.path.join(lake_dir, "raw"), {}
    for folder, _, names in os.walk(root):
        for name in names:
            if not name.startswith("."):  # Hadoop's .crc side files
                path = os.path.join(folder, name)
                with open(path, "rb") as handle:
                    out[os.path.relpath(path, lake_dir)] = hashlib.sha256(handle.read()).hexdigest()
    return out


def differing_tables(spark, lake_a, lake_b, tables=TABLES) -> dict:
    """table -> (a few rows only in lake a, a few only in lake b), for the tables whose rows differ;
    a lake is its folder or the {table: rows} it held when `lake_tables` read it."""
    out = {}
    for table in tables:
        a, b = (lake[table] if isinstance(lake, dict) else rows(spark, lake, table) for lake in (lake_a, lake_b))
        if a != b:
            out[table] = (sorted(set(a) - set(b))[:3], sorted(set(b) - set(a))[:3])
    return out


def lake_tables(spark, lake_dir: str, tables=TABLES) -> dict:
    """{table: its rows as `rows` reads them}: a lake's tables at one moment."""
    return {table: rows(spark, lake_dir, table) for table in tables}


def rows(spark, lake_dir: str, table: str):
    """A table's rows without run ids, with source files relative to the lake, sorted."""
    from pyspark.sql import functions as F

    df = spark.read.format("delta").load(os.path.join(lake_dir, "tables", table)).drop("run_id")
    if "source_file" in df.columns:
        df = df.withColumn("source_file", F.regexp_extract("source_file", r"(raw/.*)$", 1))
    return sorted(tuple(str(v) for v in r) for r in df.select(*sorted(df.columns)).collect())


@pytest.fixture(scope="module")
def nights(spark, tmp_path_factory):
    folder = tmp_path_factory.mktemp("days")
    conf = ingest_conf(folder)
    daily, once = str(folder / "daily"), str(folder / "once")
    common = ["--demo", "--scale", str(SCALE), "--config", conf]
    summaries, after_two = [], {}
    for date in DATES:
        summaries.append(run_in_process(spark, "nightly", [*common, "--lake", daily, "--run-date", date]))
        if date == DATES[1]:
            after_two = {"raw": raw_zone(daily), "tables": lake_tables(spark, daily)}
    single = run_in_process(spark, "nightly", [*common, "--lake", once, "--run-date", DATES[-1]])
    return {"daily": daily, "once": once, "summaries": summaries, "single": single, "after_two": after_two}


@pytest.fixture(scope="module")
def killed(spark, tmp_path_factory):
    """Nights 1 and 2 each killed at its point, then run again in the test session."""
    folder = tmp_path_factory.mktemp("kill")
    conf, lake = ingest_conf(folder), str(folder / "killed")
    common = ["--demo", "--scale", str(SCALE), "--config", conf, "--lake", lake]
    logs, codes = [], []
    for date in DATES[:2]:
        logs.append(kill_when("nightly", [*common, "--run-date", date], KILLS[date]))
        codes.append(run_in_process(spark, "nightly", [*common, "--run-date", date])[0])
    return {"lake": lake, "codes": codes, "logs": logs}


def test_every_night_succeeds(nights):
    assert [code for code, _ in nights["summaries"]] == [0, 0, 0]
    assert nights["single"][0] == 0


def test_each_night_takes_only_the_files_of_its_day(spark, nights):
    spec = DemoSpec(scale=SCALE)
    for day, (_, summary) in enumerate(nights["summaries"], start=1):
        files = [p for p, _ in day_files(spec, day)]
        steps = {s["name"]: s for s in summary["counts"]["steps"]}
        logs = run_summary(nights["daily"], "ingest_logs", DATES[day - 1], steps["ingest_logs.web"]["run_id"])
        dms = run_summary(nights["daily"], "ingest_dms", DATES[day - 1], steps["ingest_dms"]["run_id"])
        assert logs["counts"]["files_taken"] == sum(p.startswith("raw/logs/") for p in files)
        assert dms["counts"]["files_applied"] == sum(p.startswith("raw/dms/") for p in files)
        assert summary["counts"]["demo_days_written"] == [day]


def run_summary(lake_dir: str, job: str, run_date: str, run_id: str) -> dict:
    import json

    with open(os.path.join(lake_dir, "_runs", job, run_date, f"{run_id}.json")) as handle:
        return json.load(handle)


def test_three_nights_equal_one_night_over_all_files(spark, nights):
    assert raw_zone(nights["daily"]) == raw_zone(nights["once"])  # the same input, so table differences are ours
    assert differing_tables(spark, nights["daily"], nights["once"]) == {}


def test_tables_end_where_the_source_database_is(spark, nights):
    """The late file's older changes lost to newer ones already applied; deletes and updates landed."""
    truth = final_state(DemoSpec(scale=SCALE))
    for table, key, column in (("orders", "order_id", "status"), ("customers", "customer_id", "email")):
        got = spark.read.format("delta").load(os.path.join(nights["daily"], "tables", f"shop_{table}"))
        lake = {int(r[key]): str(r[column]) for r in got.select(key, column).collect()}
        assert lake == {k: str(v[column]) for k, v in truth[table].items()}, table


@pytest.mark.slow  # starts job processes
def test_reruns_after_the_kills_succeed(killed):
    assert killed["codes"] == [0, 0]
    applied = ("stage merge shop.customers", "stage split shop.customers")  # the apply plan names the stage
    assert "stage parse:" in killed["logs"][0] and any(a in killed["logs"][1] for a in applied)


@pytest.mark.slow  # starts job processes
def test_killed_and_rerun_nights_equal_clean_nights(spark, nights, killed):
    assert raw_zone(killed["lake"]) == nights["after_two"]["raw"]  # the same input, so differences are ours
    assert differing_tables(spark, killed["lake"], nights["after_two"]["tables"]) == {}

"""SIGKILL the nightly's driver mid-write, run the night again: the lake equals clean nights.

The nightly runs as a real process (`python -m jobs nightly`, its own JVM) and is killed with its
whole process group once its log shows the point: night 1 while ingest_logs writes its table,
night 2 while ingest_dms MERGEs shop.orders (after customers were merged: a partly applied night).
Each night is then run again in the test session; the tables must equal two clean nights run on
another lake, and no step may have taken a file twice. Both lakes must first hold the same raw zone
(byte for byte): the killed nights write their demo days in another process, so a table difference
only means an ingest defect when the inputs are equal. Ingest stages only, at a tiny scale.
"""

from __future__ import annotations

import pytest

from tests.helpers import kill_when, run_in_process
from tests.nightly.test_nightly_days import differing_tables, ingest_conf, raw_zone

pytestmark = pytest.mark.slow  # starts job processes

SCALE = 0.05
NIGHTS = ("2026-11-20", "2026-11-21")
KILLS = {"2026-11-20": "stage parse:", "2026-11-21": "stage gate shop.orders"}


@pytest.fixture(scope="module")
def lakes(spark, tmp_path_factory):
    folder = tmp_path_factory.mktemp("kill")
    conf = ingest_conf(folder)
    killed, clean = str(folder / "killed"), str(folder / "clean")
    common = ["--demo", "--scale", str(SCALE), "--config", conf]
    logs, codes = [], []
    for night in NIGHTS:
        logs.append(kill_when("nightly", [*common, "--lake", killed, "--run-date", night], KILLS[night]))
        codes.append(run_in_process(spark, "nightly", [*common, "--lake", killed, "--run-date", night])[0])
        codes.append(run_in_process(spark, "nightly", [*common, "--lake", clean, "--run-date", night])[0])
    return {"killed": killed, "clean": clean, "codes": codes, "logs": logs}


def test_reruns_after_the_kills_succeed(lakes):
    assert lakes["codes"] == [0, 0, 0, 0]
    applied = ("stage merge shop.customers", "stage split shop.customers")  # the apply plan names the stage
    assert "stage parse:" in lakes["logs"][0] and any(a in lakes["logs"][1] for a in applied)


def test_killed_and_rerun_nights_equal_clean_nights(spark, lakes):
    assert raw_zone(lakes["killed"]) == raw_zone(lakes["clean"])  # the same input, so table differences are ours
    assert differing_tables(spark, lakes["killed"], lakes["clean"]) == {}

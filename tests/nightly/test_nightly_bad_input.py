"""Bad input to the nightly: each case ends in quarantine with the reason, or in a clear error naming
the file or prefix, and the previous night's tables stay as they were.

Night 1 (ingest stages, tiny scale) runs once; each case copies that lake, breaks night 2's raw
files in one way and runs night 2.
"""

from __future__ import annotations

import os
import shutil

import pytest

from jobs.nightly.demo import DemoSpec, day_files
from tests.helpers import run_in_process
from tests.nightly.test_nightly_days import TABLES, ingest_conf, rows

SCALE = 0.05
NIGHT1, NIGHT2 = "2026-11-20", "2026-11-21"
LOG2 = "raw/logs/web/access.log-20261121.gz"
ORDERS2 = "raw/dms/shop/orders/2026/11/21/20261121-0600000000.csv"
CUSTOMERS2 = "raw/dms/shop/customers/2026/11/21/20261121-0600000000.csv"


@pytest.fixture(scope="module")
def base(spark, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    conf = ingest_conf(folder)
    lake = str(folder / "night1")
    code, _ = run_in_process(
        spark, "nightly", ["--demo", "--scale", str(SCALE), "--config", conf, "--lake", lake, "--run-date", NIGHT1]
    )
    assert code == 0
    return {"folder": folder, "conf": conf, "lake": lake, "tables": {t: rows(spark, lake, t) for t in TABLES}}


def night2(spark, base, name: str, files: dict):
    """Copy night 1's lake, write night 2's raw files (`files` replaces or adds some), run night 2."""
    lake = str(base["folder"] / name)
    shutil.copytree(base["lake"], lake)
    day2 = dict(day_files(DemoSpec(scale=SCALE), 2))
    day2.update(files)
    for path, data in day2.items():
        if data is None or path.startswith("raw/_demo"):
            continue
        os.makedirs(os.path.dirname(os.path.join(lake, path)), exist_ok=True)
        with open(os.path.join(lake, path), "wb") as handle:
            handle.write(data)
    code, summary = run_in_process(spark, "nightly", ["--config", base["conf"], "--lake", lake, "--run-date", NIGHT2])
    return lake, code, summary


def quarantined(spark, lake: str, job: str, file_part: str):
    """Reasons of the quarantined rows of one source file."""
    uri = os.path.join(lake, "quarantine", job)
    if not os.path.isdir(uri):
        return set()
    df = spark.read.format("delta").load(uri).where(f"source_file LIKE '%{file_part}%'")
    return {r["reason"] for r in df.select("reason").distinct().collect()}


def test_truncated_gzip_and_binary_log_files(spark, base):
    data = dict(day_files(DemoSpec(scale=SCALE), 2))[LOG2]
    blob = bytes(range(256)) * 64
    lake, code, summary = night2(spark, base, "logs", {LOG2: data[: len(data) // 2], "raw/logs/web/upload.bin": blob})
    if code == 0:
        assert quarantined(spark, lake, "ingest_logs", "access.log-20261121.gz")
        assert quarantined(spark, lake, "ingest_logs", "upload.bin")
    else:
        assert "ingest_logs.web" in summary["message"]
        assert "access.log-20261121.gz" in summary["message"] or "upload.bin" in summary["message"]
        for table in TABLES:
            assert rows(spark, lake, table) == base["tables"][table], table


def test_changed_column_count_and_wrong_date_format_in_dms_files(spark, base):
    day2 = dict(day_files(DemoSpec(scale=SCALE), 2))
    extra_column = b"".join(line + b",extra\n" for line in day2[ORDERS2].splitlines())
    lines = day2[CUSTOMERS2].decode().splitlines()
    fields = lines[0].split(",")
    fields[-3] = "21/11/2026 06:00"  # updated_at in the wrong format
    bad_date = "\n".join([",".join(fields), *lines[1:]]).encode() + b"\n"
    lake, code, summary = night2(spark, base, "dms", {ORDERS2: extra_column, CUSTOMERS2: bad_date})
    assert code == 3, summary["message"]
    assert "ingest_dms" in summary["message"] and "shop.orders" in summary["message"]
    assert rows(spark, lake, "shop_orders") == base["tables"]["shop_orders"]
    assert quarantined(spark, lake, "ingest_dms", "20261121-0600000000.csv")


def test_empty_raw_zone_is_a_clear_error(spark, base):
    lake = str(base["folder"] / "empty")
    os.makedirs(os.path.join(lake, "raw"))
    code, summary = run_in_process(spark, "nightly", ["--config", base["conf"], "--lake", lake, "--run-date", NIGHT1])
    assert code == 2, summary["message"]
    assert "ingest_logs.web" in summary["message"] and "raw/logs/web" in summary["message"]


def test_missing_dms_prefix_is_a_clear_error_and_tables_are_kept(spark, base):
    lake = str(base["folder"] / "nodms")
    shutil.copytree(base["lake"], lake)
    shutil.rmtree(os.path.join(lake, "raw", "dms"))
    code, summary = run_in_process(spark, "nightly", ["--config", base["conf"], "--lake", lake, "--run-date", NIGHT2])
    assert code == 2, summary["message"]
    assert "ingest_dms" in summary["message"] and "raw/dms" in summary["message"]
    for table in ("shop_customers", "shop_orders", "shop_reviews"):
        assert rows(spark, lake, table) == base["tables"][table], table

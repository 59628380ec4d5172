"""The demo generator (no JVM): deterministic, DMS-shaped, and with the planted signal it promises."""

from __future__ import annotations

import csv
import gzip
import io

import numpy as np
import pytest

from jobs.nightly.demo import DemoSpec, day_files, final_state, manifest_of
from jobs.nightly.demo.dms import CUSTOMER_COLUMNS, ORDER_COLUMNS
from jobs.nightly.demo.world import PLACES, build_world

SPEC = DemoSpec(scale=0.25, seed=3)


@pytest.fixture(scope="module")
def days():
    return {day: dict(day_files(SPEC, day)) for day in (1, 2, 3)}


def test_same_seed_same_bytes_and_other_seed_differs(days):
    assert dict(day_files(DemoSpec(scale=0.25, seed=3), 2)) == days[2]
    assert dict(day_files(DemoSpec(scale=0.25, seed=4), 2)) != days[2]


def test_each_day_adds_new_files_only(days):
    paths = [set(files) for files in days.values()]
    assert not (paths[0] & paths[1]) and not (paths[1] & paths[2]) and not (paths[0] & paths[2])
    assert any(p.endswith("LOAD00000001.csv") for p in paths[0])
    assert not any("LOAD" in p for p in paths[1] | paths[2])


def test_late_file_arrives_on_day_3_filed_under_day_2(days):
    late = [p for p in days[3] if "/orders/2026/11/21/" in p]
    assert late == ["raw/dms/shop/orders/2026/11/21/20261121-1000000000.csv"]


def test_dms_csv_rows_have_op_and_the_declared_fields(days):
    rows = list(csv.reader(io.StringIO(days[2]["raw/dms/shop/orders/2026/11/21/20261121-1800000000.csv"].decode())))
    assert {r[0] for r in rows} <= {"I", "U", "D"} and len({r[0] for r in rows}) >= 2
    assert all(len(r) == 1 + len(ORDER_COLUMNS) + 2 for r in rows)
    load = list(csv.reader(io.StringIO(days[1]["raw/dms/shop/customers/LOAD00000001.csv"].decode())))
    assert all(len(r) == len(CUSTOMER_COLUMNS) + 2 for r in load)
    assert any(r[CUSTOMER_COLUMNS.index("zip")] == "NULL" for r in load)  # some address parts are missing
    cdc = [r for p, data in days[2].items() if "/orders/" in p for r in csv.reader(io.StringIO(data.decode()))]
    keys = [r[1] for r in cdc]
    assert len(keys) > len(set(keys))  # several changes per key in a night


def test_logs_are_combined_format_with_bots_404s_and_malformed_lines(days):
    text = gzip.decompress(days[2]["raw/logs/web/access.log-20261121.gz"]).decode()
    lines = text.splitlines()
    assert sum('" 404 ' in line for line in lines) > 0
    assert any("Googlebot" in line for line in lines)
    assert any("garbage" in line or "32/Nov/2026" in line or '" OK ' in line for line in lines)
    assert sum(" user0" in line for line in lines) > len(lines) // 4


def test_final_state_has_deleted_and_updated_orders():
    orders = final_state(SPEC)["orders"]
    ids = sorted(orders)
    assert len(ids) < ids[-1]  # some were deleted
    assert {row["status"] for row in orders.values()} >= {"placed", "paid", "delivered"}


def test_planted_signal_is_learnable_by_logistic_regression():
    """scikit-learn on the planted features reaches close to the generator's design AUC."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    spec = DemoSpec(scale=1.0, seed=7)
    world = build_world(spec)
    states = sorted({p[1] for p in PLACES})
    state = np.array([-1 if m else states.index(PLACES[p][1]) for p, m in zip(world.place, world.state_missing)])
    recency = np.where(world.sessions > 0, world.last_seen, 60)
    x = np.column_stack([np.log1p(world.sessions), recency] + [state == i for i in range(len(states))])
    y = world.label
    half = len(y) // 2
    model = LogisticRegression(max_iter=1000).fit(x[:half], y[:half])
    auc = roc_auc_score(y[half:], model.predict_proba(x[half:])[:, 1])
    design = manifest_of(spec)["design_auc"]
    assert design >= 0.8
    assert auc >= 0.78 and auc >= design - 0.05


def test_a_day_is_not_added_to_days_another_generator_wrote(tmp_path):
    """Days from two versions of the generator (a seed stands in for another version) are refused, exit 2."""
    from core.errors import UsageError
    from core.lake import Lake
    from jobs.nightly import write_demo

    lake, spec = Lake.at(str(tmp_path / "lake")), DemoSpec(scale=0.05)
    assert write_demo(None, lake, spec, "2026-11-20") == [1]
    with pytest.raises(UsageError, match=r"demo day 1 under .* another version of the demo generator"):
        write_demo(None, lake, DemoSpec(scale=0.05, seed=8), "2026-11-21")
    assert not (tmp_path / "lake" / "raw" / "_demo" / "day=2.json").exists()
    assert write_demo(None, lake, spec, "2026-11-21") == [2]
    assert write_demo(None, lake, spec, "2026-11-21") == []

"""ingest_dms's choice of apply plan (docs/dms.md section 8): pure, no Spark."""

from __future__ import annotations

from jobs.ingest_dms.apply import SPLIT_SHARE, choose_plan


def test_auto_splits_a_small_batch_or_an_empty_table_and_merges_a_large_one():
    assert choose_plan("auto", 100_000, 10_000_000)[0] == "split"
    assert choose_plan("auto", int(SPLIT_SHARE * 1000), 1000)[0] == "split"
    assert choose_plan("auto", 5, 0) == ("split", "empty table")
    plan, why = choose_plan("auto", 200, 1000)
    assert plan == "merge" and "200" in why and "1000" in why


def test_a_forced_plan_and_a_resumed_batch_win():
    assert choose_plan("rebuild", 1, 10**9) == ("rebuild", "--apply-plan")
    assert choose_plan("merge", 1, 10**9, resumed="split") == ("split", "resumed batch started with split")

"""Recommenders judged on the future: MovieLens-100k split by time per user (each user's latest 20 % of
ratings evaluate), ALS tuned over rank and regularization on the training rows' own time split, and the
champion gate against the user/item bias model, whose RMSE this test computes itself with pandas."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from tests.helpers import run_in_process
from tests.spark.test_train_acceptance import MOVIELENS_COLUMNS, write_movielens

DAMPING = 10.0  # the bias model's damping (docs/amazon-ml.md, RECOMMEND)


@pytest.fixture(scope="module")
def ratings(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ml100k_time")
    rows = write_movielens(folder)
    frame = pd.DataFrame(rows, columns=MOVIELENS_COLUMNS).astype({"rating": float, "ts": int})
    return folder, frame.assign(position=range(len(frame)))


def time_split(frame: pd.DataFrame, share: float = 0.8):
    """(train, test): each user's earliest share of ratings by (ts, position), as the split rule says."""
    ordered = frame.sort_values(["user", "ts", "position"])
    place = ordered.groupby("user").cumcount() / ordered.groupby("user")["user"].transform("size")
    return ordered[place < share], ordered[place >= share]


def bias_model_rmse(train: pd.DataFrame, test: pd.DataFrame) -> float:
    """RMSE of mean + damped item bias + damped user bias, clipped to the training scale."""
    mean = train["rating"].mean()
    item = (train["rating"] - mean).groupby(train["item"]).sum() / (train.groupby("item").size() + DAMPING)
    rest = train["rating"] - mean - train["item"].map(item)
    user = rest.groupby(train["user"]).sum() / (train.groupby("user").size() + DAMPING)
    guess = mean + test["item"].map(item).fillna(0.0) + test["user"].map(user).fillna(0.0)
    guess = guess.clip(train["rating"].min(), train["rating"].max())
    return math.sqrt(((guess - test["rating"]) ** 2).mean())


def test_tuned_als_beats_the_bias_model_on_each_users_latest_ratings(spark, ratings):
    folder, frame = ratings
    train_rows, test_rows = time_split(frame)
    bias = bias_model_rmse(train_rows, test_rows)
    split = {"splitting": {"percentEnd": 80, "strategy": "time"}}
    split["splitting"]["strategyParams"] = {"column": "ts", "groupColumn": "user"}
    argv = ["--data", str(folder / "data.csv"), "--model-type", "RECOMMEND", "--name", "recs", "--tune"]
    argv += ["--lake", str(folder / "lake"), "--split", json.dumps(split), "--params", '{"maxIter": 10}']
    code, summary = run_in_process(spark, "train", argv)
    assert code == 0, summary["message"]
    counts = summary["counts"]
    assert (counts["train_rows"], counts["eval_rows"]) == (len(train_rows), len(test_rows))
    assert counts["baseline"]["rmse"] == pytest.approx(bias, abs=1e-6)
    print(f"MovieLens-100k, latest 20 % per user: ALS {counts['metrics']['rmse']:.4f}, bias model {bias:.4f}")
    assert counts["metrics"]["rmse"] < bias and counts["promoted"] is True
    meta = json.load(open(folder / "lake" / "models" / "recs" / "v1" / "metadata.json"))
    assert meta["tuned"]["grid_best"]["rank"] in (5, 20) and len(meta["tuned"]["grid"]) == 4
    assert meta["recommend"]["rating_range"] == [1.0, 5.0]

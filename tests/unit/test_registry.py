"""ml.registry's pure parts: the promotion rule per model type, names, versions."""

import math

import pytest

from core.errors import UsageError
from core.names import check_name
from ml.registry import decide_promotion, metric_of, next_version, type_metric, version_number


@pytest.mark.parametrize(
    "model_type, new, old, gain, promoted",
    [
        ("BINARY", {"auc": 0.80}, {"auc": 0.78}, 0.01, True),
        ("BINARY", {"auc": 0.785}, {"auc": 0.78}, 0.01, False),
        ("BINARY", {"auc": 0.78}, {"auc": 0.78}, 0.0, False),
        ("MULTICLASS", {"macro_f1": 0.7}, {"macro_f1": 0.6}, 0.05, True),
        ("REGRESSION", {"rmse": 1.0}, {"rmse": 1.2}, 0.1, True),
        ("REGRESSION", {"rmse": 1.3}, {"rmse": 1.2}, 0.0, False),
        ("RECOMMEND", {"rmse": 0.9}, {"rmse": 1.0}, 0.0, True),
        ("RECOMMEND", {"ndcg_at_k": 0.3}, {"ndcg_at_k": 0.2}, 0.0, True),
        ("RECOMMEND", {"ndcg_at_k": 0.1}, {"ndcg_at_k": 0.2}, 0.0, False),
    ],
)
def test_promotion_follows_the_type_metric_and_min_gain(model_type, new, old, gain, promoted):
    decision = decide_promotion(model_type, new, old, gain)
    assert decision.promote is promoted
    assert next(iter(new)) in decision.reason


def test_first_version_is_promoted_and_a_missing_metric_is_not():
    assert decide_promotion("BINARY", {"auc": 0.6}, None, 0.5).promote is True
    decision = decide_promotion("BINARY", {"accuracy": 0.9}, {"auc": 0.5}, 0.0)
    assert decision.promote is False and "auc" in decision.reason
    assert decide_promotion("REGRESSION", {"rmse": math.nan}, {"rmse": 1.0}, 0.0).promote is False


def test_a_model_no_better_than_its_baseline_or_with_an_undefined_metric_is_never_promoted():
    vetoed = decide_promotion("BINARY", {"auc": 0.9}, None, 0.0, worse_than_baseline=True)
    assert vetoed.promote is False and "baseline" in vetoed.reason
    one_class = {"auc": None, "auc_undefined": "the evaluation rows hold one class only"}
    undefined = decide_promotion("BINARY", one_class, None, 0.0)
    assert undefined.promote is False and "one class only" in undefined.reason


def test_metrics_nested_by_split_and_recommend_feedback():
    assert metric_of("BINARY", {"test": {"auc": 0.7}}) == ("auc", 0.7)
    assert type_metric("RECOMMEND", {"rmse": 1.0}) == ("rmse", False)
    assert type_metric("RECOMMEND", {}, implicit=True) == ("ndcg_at_k", True)


def test_names_and_versions():
    assert check_name("adult-2.v", "--name") == "adult-2.v"
    for bad in ("", "../x", "a b", "x/y"):
        with pytest.raises(UsageError):
            check_name(bad, "--name")
    assert version_number("v12") == 12
    for bad in ("12", "v0", "V1", "v1.0"):
        with pytest.raises(UsageError):
            version_number(bad)
    assert next_version([]) == "v1" and next_version([1, 3]) == "v4"

"""build_features' windows CONF section and the holdout split, without a JVM."""

from __future__ import annotations

import os

import pytest
import yaml

from core.errors import UsageError
from jobs.build_features.conf import conf_help, load_references, parse_conf
from ml.split import parse_split
from tests.conftest import ROOT

WINDOWS = {
    "readings": {"data": "raw/har/readings/"},
    "entity": ["subject", "experiment"],
    "order": "sequence",
    "label": "activity",
    "channels": ["acc_x", "acc_y", "acc_z"],
    "size": 128,
    "step": 64,
    "rate_hz": 50,
}


def parsed(**changes):
    windows = {**WINDOWS, **changes}
    windows = {k: v for k, v in windows.items() if v is not None}
    return parse_conf(yaml.safe_dump({"feature_set": "har", "windows": windows}), "file:///tmp/har.yaml")


def test_the_example_conf_is_valid_and_generates_schema_and_recipe():
    with open(os.path.join(ROOT, "examples", "har", "har.yaml")) as handle:
        config = parse_conf(handle.read(), "file:///x/har.yaml")
    load_references(config, lambda uri: "")
    spec = config.windows.spec()
    assert (spec.size, spec.step, spec.rate_hz, spec.labels[0]) == (128, 64, 50, "WALKING")
    attrs = {a["attributeName"]: a["attributeType"] for a in config.schema["attributes"]}
    assert config.schema["targetAttributeName"] == "activity" and attrs["activity"] == "CATEGORICAL"
    assert config.schema["rowId"] == "window_id" and attrs["acc_x_body_band_3_6"] == "NUMERIC"
    assert 200 <= sum(v == "NUMERIC" for v in attrs.values()) <= 230
    assert config.recipe["outputs"] == ["ALL_NUMERIC"] and config.base_key == "window_id"


@pytest.mark.parametrize(
    "changes,words",
    [
        ({"rate_hz": None}, "rate_hz"),
        ({"unit": "hours"}, "windows.unit"),
        ({"size": 0}, "windows.size"),
        ({"magnitudes": {"m": ["acc_x", "nope"]}}, "magnitude m"),
        ({"accelerometer": ["acc_x", "acc_y"]}, "three channels"),
        ({"readings": {"table": "t", "data": "raw/x"}}, "windows.readings.table"),
        ({"label": None, "labels": ["WALKING"]}, "windows.labels"),
        ({"colour": 1}, "windows.colour"),
    ],
)
def test_bad_windows_name_the_field(changes, words):
    with pytest.raises(UsageError) as error:
        parsed(**changes)
    assert words in str(error.value)


def test_base_and_windows_are_exclusive():
    text = yaml.safe_dump({"feature_set": "x", "base": {"table": "t", "key": "k"}, "windows": WINDOWS})
    with pytest.raises(UsageError, match="exactly one of base"):
        parse_conf(text, "file:///c.yaml")


def test_help_lists_the_windows_fields():
    text = conf_help()
    assert "windows: readings" in text and "step (distance between window starts" in text


def test_holdout_split_is_named_after_its_column():
    split = parse_split(
        '{"splitting": {"strategy": "holdout", "strategyParams": {"column": "subject", "values": [2, 4]}}}'
    )
    assert (split.strategy, split.column, split.values, split.split_name) == (
        "holdout",
        "subject",
        ("2", "4"),
        "subject",
    )
    assert parse_split('{"strategy": "random", "percentEnd": 70}').split_name == "random"
    with pytest.raises(UsageError, match="strategyParams"):
        parse_split('{"strategy": "holdout"}')
    with pytest.raises(UsageError, match="percentBegin"):
        parse_split('{"strategy": "holdout", "percentEnd": 50, "strategyParams": {"column": "s", "values": [1]}}')

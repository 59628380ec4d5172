"""ml.version_record: every metadata.json lakeml wrote reads into a VersionRecord and writes back with its keys."""

import json

from jobs.models import version_row
from jobs.score.predict import probability_columns
from ml.outputs import version_cutoff
from ml.version_record import VersionRecord

SCHEMA = {
    "targetAttributeName": "y",
    "attributes": [
        {"attributeName": "x", "attributeType": "NUMERIC"},
        {"attributeName": "y", "attributeType": "BINARY"},
    ],
}

# a BINARY version as train and the registry write it today
CURRENT = {
    "lakeml_version": "0.1.0",
    "created_at": "2026-11-20T03:04:05+00:00",
    "name": "adult",
    "version": "v3",
    "model_type": "BINARY",
    "algorithm": "logistic",
    "params": {"maxIter": 100, "regParam": 0.01},
    "amazon_params": {"sgd.maxPasses": "10"},
    "schema": SCHEMA,
    "recipe": {"groups": {}, "assignments": {}, "outputs": ["x"]},
    "recipe_suggested": False,
    "metrics": {"auc": 0.91, "share_above_cutoff": 0.25, "split": "default"},
    "baseline": {"auc": 0.5, "class": "0"},
    "worse_than_baseline": False,
    "split": {"strategy": "random", "percent_begin": 0, "percent_end": 70, "train_rows": 70, "eval_rows": 30},
    "fitted_on": {"refit": False, "rows": 70, "text": "the 70 training rows of the split default"},
    "tuned": None,
    "data_fingerprint": "sha256:abc",
    "run_id": "r1",
    "run_date": "2026-11-20",
    "input": {"form": "datasource", "data": "s3://b/adult.csv"},
    "classes": ["0", "1"],
    "class_columns": [],
    "cutoff": 0.6,
    "num_features": 12,
    "layout": "vocabulary",
    "weighting": "binary",
}

# a MULTICLASS version of the first train job: no class_columns, weighting or fitted_on yet
OLDER = {
    "lakeml_version": "0.1.0",
    "created_at": "2026-10-01T00:00:00+00:00",
    "name": "stars",
    "version": "v1",
    "model_type": "MULTICLASS",
    "algorithm": "logistic",
    "params": {"maxIter": 100},
    "schema": SCHEMA,
    "recipe": None,
    "metrics": {"macro_f1": 0.5},
    "baseline": {"macro_f1": 0.2, "class": "a b"},
    "run_id": "r0",
    "run_date": "2026-10-01",
    "classes": ["a b", "tag"],
    "cutoff": None,
    "num_features": 8,
    "layout": "hashed",
}

RECOMMENDER = {
    "name": "recs",
    "version": "v2",
    "model_type": "RECOMMEND",
    "metrics": {"ndcg_at_10": 0.3},
    "recommend": {"user_col": "u", "item_col": "i", "rating_col": "__events", "implicit": True, "rating_range": None},
}


def test_current_metadata_round_trips_key_for_key():
    record = VersionRecord.from_json(CURRENT)
    assert record.to_json() == CURRENT and record.other == {}
    assert json.dumps(record.to_json(), sort_keys=True) == json.dumps(CURRENT, sort_keys=True)


def test_older_metadata_reads_with_defaults_and_keeps_its_values():
    record = VersionRecord.from_json(OLDER)
    assert record.class_columns is None and record.weighting is None and record.fitted_on is None
    written = record.to_json()
    assert {k: written[k] for k in OLDER} == OLDER
    assert set(written) - set(OLDER) == set(CURRENT) - set(OLDER)
    assert all(written[k] is None for k in set(written) - set(OLDER))
    assert VersionRecord.from_json(written) == record


def test_a_recommender_writes_no_supervised_keys_and_a_classifier_no_recommend_key():
    written = VersionRecord.from_json(RECOMMENDER).to_json()
    assert written["recommend"] == RECOMMENDER["recommend"] and "classes" not in written and "cutoff" not in written
    assert "recommend" not in VersionRecord.from_json(CURRENT).to_json()


def test_unknown_keys_are_kept_on_a_round_trip():
    raw = {**CURRENT, "owner": "team-a", "other": {"x": 1}}
    record = VersionRecord.from_json(raw)
    assert record.other == {"owner": "team-a", "other": {"x": 1}}
    assert record.to_json() == raw


def test_readers_see_the_files_values_as_attributes():
    current, older = VersionRecord.from_json(CURRENT), VersionRecord.from_json(OLDER)
    assert current.version == "v3" and current.model_type == "BINARY" and current.metrics["auc"] == 0.91
    assert version_cutoff(current) == 0.6 and version_cutoff(older) == 0.5
    assert probability_columns(older) == ["a_b", "p_tag"]  # derived: the version predates class_columns
    row = version_row(current, "v3")
    assert (row["version"], row["champion"], row["metric"], row["value"]) == ("v3", "*", "auc", 0.91)

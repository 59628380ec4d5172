"""A model version's record: what train wrote to `models/<name>/v<N>/metadata.json`, typed and frozen.

`from_json` reads every metadata.json lakeml has written: a key a version predates is None, a key this
class does not know is kept in `other`. `to_json` writes the file's layout: the keys every version has,
the supervised keys (classes ... weighting) on BINARY/MULTICLASS/REGRESSION versions and `recommend` on
RECOMMEND ones (either also wherever it holds a value), and `other` as it was read.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Dict, List, Mapping, Optional, Tuple

SUPERVISED = ("classes", "class_columns", "cutoff", "num_features", "layout", "weighting")
RECOMMEND = ("recommend",)


@dataclass(frozen=True)
class VersionRecord:
    """The metadata of one model version; None where the version predates a field or its type has none."""

    lakeml_version: Optional[str] = None  # the lakeml release that published it (the registry sets it)
    created_at: Optional[str] = None  # when it was published, ISO 8601 UTC (the registry sets it)
    name: Optional[str] = None  # the model's name, <lake>/models/<name>/ (the registry sets it)
    version: Optional[str] = None  # vN; on reading, the version folder's name
    model_type: Optional[str] = None  # BINARY, MULTICLASS, REGRESSION or RECOMMEND (ml.model_types)
    algorithm: Optional[str] = None  # the estimator train chose (--algorithm)
    params: Optional[Dict[str, Any]] = None  # the estimator's Spark ML parameters as fitted
    amazon_params: Optional[Dict[str, Any]] = None  # the Amazon ML parameters given (--params)
    schema: Optional[Dict[str, Any]] = None  # the datasource schema the model was trained on
    recipe: Optional[Dict[str, Any]] = None  # the recipe its feature stages were compiled from
    recipe_suggested: Optional[bool] = None  # True when no --recipe was given and train suggested it
    metrics: Optional[Dict[str, Any]] = None  # the evaluation metrics (metrics.json holds them too)
    baseline: Optional[Dict[str, Any]] = None  # the baseline's metrics and its constant answer (class, mean)
    worse_than_baseline: Optional[bool] = None  # True when the model did not beat its baseline
    split: Optional[Dict[str, Any]] = None  # the DataRearrangement and its training and evaluation rows
    fitted_on: Optional[Dict[str, Any]] = None  # the rows the published model learned from (refit or not)
    tuned: Optional[Dict[str, Any]] = None  # what --tune chose, None without --tune
    data_fingerprint: Optional[str] = None  # hash of the input data the version was trained on
    run_id: Optional[str] = None  # the train run that published it
    run_date: Optional[str] = None  # that run's date, YYYY-MM-DD
    input: Optional[Dict[str, Any]] = None  # the input's form: datasource, table or feature set
    classes: Optional[List[str]] = None  # class labels in the model's order (BINARY, MULTICLASS)
    class_columns: Optional[List[str]] = None  # score's probability column per class (MULTICLASS, ml.outputs)
    cutoff: Optional[float] = None  # bestAnswer is 1 when score >= it (BINARY)
    num_features: Optional[int] = None  # the feature vector's size
    layout: Optional[str] = None  # the token layout: hashed, vocabulary or feature set
    weighting: Optional[str] = None  # the token weighting (--weighting)
    recommend: Optional[Dict[str, Any]] = None  # RECOMMEND: user_col, item_col, rating_col, implicit, rating_range
    other: Dict[str, Any] = field(default_factory=dict)  # keys of metadata.json this class does not know

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> VersionRecord:
        """The record of a metadata.json object, whichever lakeml release wrote it."""
        known = _keys()
        return cls(
            **{k: v for k, v in raw.items() if k in known}, other={k: v for k, v in raw.items() if k not in known}
        )

    def to_json(self) -> Dict[str, Any]:
        """The metadata.json object of the record."""
        optional = _optional_keys(self.model_type)
        out = {k: getattr(self, k) for k in _keys() if k not in optional or getattr(self, k) is not None}
        return {**out, **self.other}


def _optional_keys(model_type: Optional[str]) -> Tuple[str, ...]:
    """The keys written only when they hold a value: those of the other model types."""
    if model_type == "RECOMMEND":
        return SUPERVISED
    if model_type in ("BINARY", "MULTICLASS", "REGRESSION"):
        return RECOMMEND
    return SUPERVISED + RECOMMEND


def _keys() -> List[str]:
    """The metadata.json keys the record has a field for."""
    return [f.name for f in fields(VersionRecord) if f.name != "other"]

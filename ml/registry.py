"""The model registry on the lake: versions of a fitted PipelineModel, and the champion score uses.

Layout under `<lake>/models/<name>/`:

    v<N>/model/          the whole fitted PipelineModel (plain `PipelineModel.load` reads it)
    v<N>/metadata.json   name, version, model_type, algorithm, params, schema, recipe, classes,
                         cutoff, metrics, ... (the train job's record of the version: a
                         VersionRecord of ml.version_record, which reads and writes the file)
    v<N>/metrics.json    the metrics alone
    v<N>/...             artifacts given to `publish_version`: files (report/) and tables (seen/)
    v<N>/_COMPLETE       the completion marker, written last
    champion.json        {version, metric, value, promoted_at, run_id, reason}

A version is visible (listed, loadable, promotable) only once its `_COMPLETE` marker exists, and the
marker is one small write made after everything else: a killed publish leaves a folder without
marker, which readers ignore and the next publish deletes before it takes the same number. So a
re-run after a kill yields exactly one new complete version, and champion.json (written atomically
by `core.lake.write_text`) is never touched by a publish. One writer per model name at a time
(the nightly pipeline trains a name once per run).

Type metrics (for `decide_promotion`): BINARY auc and MULTICLASS macro_f1 (higher is better),
REGRESSION rmse (lower), RECOMMEND rmse (explicit ratings; lower) or ndcg_at_k (implicit; higher).
A metric is read from `metrics[key]` (or `metrics["test"][key]` when metrics are nested by split).
For score's drift hint, BINARY metrics may carry `share_above_cutoff`: the evaluation set's share of
rows with score >= cutoff.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass, replace
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from core.errors import UsageError
from core.lake import Lake, delete, exists, hadoop_path, join, read_text, spark_uri, write_bytes, write_text
from core.log import logger
from core.names import check_name, is_name
from ml import model_types
from ml.version_record import VersionRecord

MARKER = "_COMPLETE"
LAKEML_VERSION = "0.1.0"
_VERSION = re.compile(r"v([1-9][0-9]*)")


# --- pure parts ----------------------------------------------------------------------------


def version_number(version: str) -> int:
    """N of a version string `vN`; UsageError for anything else."""
    match = _VERSION.fullmatch(str(version))
    if not match:
        raise UsageError(f"--version {version!r}: a version looks like v1, v2, ...")
    return int(match.group(1))


def type_metric(
    model_type: str, metrics: Optional[Dict[str, Any]], implicit: Optional[bool] = None
) -> Tuple[str, bool]:
    """(metric key, higher is better) that decides promotion (ml.model_types); RECOMMEND by its feedback,
    guessed from the metrics present when `implicit` is not known."""
    row = model_types.model_type(model_type)
    if implicit is None and row.implicit_metric:
        implicit = (
            _metric_value(metrics, row.metric) is None and _metric_value(metrics, row.implicit_metric) is not None
        )
    return model_types.key_metric(model_type, implicit)


def _metric_value(metrics: Optional[Dict[str, Any]], key: str) -> Optional[float]:
    """The finite value of a metric (top level or under `test`), or None."""
    if not metrics:
        return None
    value = metrics.get(key)
    if value is None and isinstance(metrics.get("test"), dict):
        value = metrics["test"].get(key)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def metric_of(
    model_type: str, metrics: Optional[Dict[str, Any]], implicit: Optional[bool] = None
) -> Tuple[str, Optional[float]]:
    """(metric key, value or None) of a version's metrics for its type."""
    key, _ = type_metric(model_type, metrics, implicit)
    return key, _metric_value(metrics, key)


@dataclass(frozen=True)
class Promotion:
    """The champion gate's verdict on a new version: promote or not, why, and on which metric."""

    promote: bool
    reason: str
    metric: str
    value: Optional[float]


def decide_promotion(
    model_type: str,
    new_metrics: Dict[str, Any],
    champion_metrics: Optional[Dict[str, Any]],
    min_gain: float = 0.0,
    implicit: Optional[bool] = None,
    worse_than_baseline: bool = False,
) -> Promotion:
    """The one promotion rule: never over a model no better than its baseline or without a finite metric;
    otherwise it must beat the champion on the type metric by > 0 and >= min_gain."""
    key, higher = type_metric(model_type, new_metrics, implicit)
    new = _metric_value(new_metrics, key)

    def verdict(promote: bool, reason: str) -> Promotion:
        return Promotion(promote, reason, key, new)

    if new is None:
        reason = (new_metrics or {}).get(f"{key}_undefined") or "it is not a finite number"
        return verdict(False, f"the new version has no {key} ({reason}); the champion stays")
    if worse_than_baseline:
        return verdict(False, "the model is not better than its baseline; registered, not promoted")
    if champion_metrics is None:
        return verdict(True, f"no champion yet; {key} {new:.6g}")
    old = _metric_value(champion_metrics, key)
    if old is None:
        return verdict(True, f"the champion has no finite {key}; new {key} {new:.6g}")
    gain = new - old if higher else old - new
    better = "higher" if higher else "lower"
    compared = f"{key} {new:.6g} vs champion {old:.6g}: gain {gain:.6g}"
    if gain > 0 and gain >= min_gain:
        return verdict(True, f"{compared} >= min gain {min_gain:g} ({better} is better)")
    return verdict(False, f"{compared} is under min gain {min_gain:g} ({better} is better)")


def next_version(complete: List[int]) -> str:
    """The version a publish takes: one past the highest complete version."""
    return f"v{max(complete, default=0) + 1}"


# --- lake I/O ------------------------------------------------------------------------------


def _root(lake: Union[Lake, str]) -> Lake:
    return lake if isinstance(lake, Lake) else Lake.at(lake)


def model_uri(lake: Union[Lake, str], name: str, *parts: str) -> str:
    """URI of a model's folder (or a path under it)."""
    return join(_root(lake).models(check_name(name, "--name")), *parts)


def _child_dirs(spark, uri: str) -> List[str]:
    """Names of the folders directly under a URI (none when it does not exist)."""
    fs, path = hadoop_path(spark, uri)
    if not fs.exists(path):
        return []
    return sorted(s.getPath().getName() for s in fs.listStatus(path) if s.isDirectory())


def _version_folders(spark, lake, name: str) -> Dict[int, bool]:
    """Every v<N> folder of a model mapped to whether it is complete."""
    found = {}
    for child in _child_dirs(spark, model_uri(lake, name)):
        match = _VERSION.fullmatch(child)
        if match:
            found[int(match.group(1))] = exists(spark, model_uri(lake, name, child, MARKER))
    return found


def model_names(spark, lake: Union[Lake, str]) -> List[str]:
    """Names of the models that have at least one complete version."""
    names = _child_dirs(spark, join(_root(lake).root, "models"))
    return [n for n in names if is_name(n) and any(_version_folders(spark, lake, n).values())]


def _read_json(spark, uri: str) -> Optional[Dict[str, Any]]:
    text = read_text(spark, uri)
    return None if text is None else json.loads(text)


def _write_json(spark, uri: str, obj: Any) -> None:
    write_text(spark, uri, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def _clean_leftovers(spark, lake, name: str) -> List[str]:
    """Delete the folders of killed publishes (no marker); returns their names."""
    removed = []
    for number, complete in sorted(_version_folders(spark, lake, name).items()):
        if not complete:
            delete(spark, model_uri(lake, name, f"v{number}"))
            removed.append(f"v{number}")
    if removed:
        logger.warning(
            "registry %s: removed incomplete version folder(s) %s of an earlier killed publish", name, removed
        )
    return removed


def upcoming_version(spark, lake: Union[Lake, str], name: str) -> str:
    """The version the next publish of a model takes (folders of killed publishes are removed first)."""
    check_name(name, "--name")
    _clean_leftovers(spark, lake, name)
    return next_version([n for n, done in _version_folders(spark, lake, name).items() if done])


def publish_version(
    spark,
    lake: Union[Lake, str],
    name: str,
    model,
    metadata: VersionRecord,
    files: Optional[Mapping[str, bytes]] = None,
    tables: Optional[Mapping[str, Any]] = None,
) -> str:
    """Save a fitted PipelineModel, its artifacts and metadata as the next version, visible only when complete.

    `metadata` is the version's record; the registry adds name, version,
    lakeml_version and created_at. `files` are small files by path under the version (the report),
    `tables` DataFrames saved as Parquet folders (a recommender's seen items); all are written before
    the completion marker.
    """
    model_types.model_type(metadata.model_type)
    version = upcoming_version(spark, lake, name)
    folder = model_uri(lake, name, version)
    logger.info("registry %s: publishing %s to %s", name, version, folder)
    model.write().overwrite().save(spark_uri(join(folder, "model")))
    for path, data in (files or {}).items():
        write_bytes(spark, join(folder, path), data)
    for path, frame in (tables or {}).items():
        frame.coalesce(1).write.mode("overwrite").parquet(spark_uri(join(folder, path)))
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    record = stamped(metadata, name, version, now)
    _write_json(spark, join(folder, "metrics.json"), record.metrics or {})
    _write_json(spark, join(folder, "metadata.json"), record.to_json())
    _write_json(spark, join(folder, MARKER), {"version": version, "completed_at": now, "run_id": record.run_id})
    logger.info("registry %s: %s complete", name, version)
    return version


def stamped(record: VersionRecord, name: str, version: str, now: str) -> VersionRecord:
    """The record as published: its name and version, and the release and time unless it carries them."""
    return replace(
        record,
        lakeml_version=record.lakeml_version or LAKEML_VERSION,
        created_at=record.created_at or now,
        name=name,
        version=version,
    )


def _read_record(spark, lake, name: str, version: str) -> VersionRecord:
    """The record of a version from its metadata.json; the folder's name is its version."""
    raw = _read_json(spark, model_uri(lake, name, version, "metadata.json")) or {}
    return replace(VersionRecord.from_json(raw), version=version)


def list_versions(spark, lake: Union[Lake, str], name: str) -> List[VersionRecord]:
    """The records of the complete versions of a model, ascending N."""
    folders = sorted(_version_folders(spark, lake, name).items())
    return [_read_record(spark, lake, name, f"v{number}") for number, complete in folders if complete]


def champion(spark, lake: Union[Lake, str], name: str) -> Optional[Dict[str, Any]]:
    """The champion record of a model, or None when none was set."""
    return _read_json(spark, model_uri(lake, name, "champion.json"))


def _missing(spark, lake, name: str, what: str) -> UsageError:
    """The exit-2 error for a model or version that does not exist, listing what does."""
    versions = [record.version for record in list_versions(spark, lake, name)]
    if not versions:
        names = model_names(spark, lake)
        known = ", ".join(names) if names else "none"
        return UsageError(
            f"--name {name!r}: no model of that name under {_root(lake).root}/models (models there: {known}); "
            "train one first or check --name and --lake"
        )
    current = champion(spark, lake, name)
    return UsageError(
        f"{what}: model {name!r} has versions {', '.join(versions)}"
        + (f" (champion {current['version']})" if current else " and no champion")
        + f"; list them with: models --lake {_root(lake).root} --name {name}"
    )


def resolve_version(spark, lake: Union[Lake, str], name: str, version: Optional[str] = None) -> str:
    """The complete version to use: the given one or the champion; UsageError (exit 2) when it does not exist."""
    check_name(name, "--name")
    if version is None:
        current = champion(spark, lake, name)
        if current is None:
            raise _missing(spark, lake, name, "no champion set (promote one with models --promote vN)")
        version = current["version"]
    version_number(version)
    if not exists(spark, model_uri(lake, name, version, MARKER)):
        raise _missing(spark, lake, name, f"--version {version} does not exist")
    return version


def load_metadata(spark, lake: Union[Lake, str], name: str, version: Optional[str] = None) -> VersionRecord:
    """The record of a complete version (champion when version is None)."""
    return _read_record(spark, lake, name, resolve_version(spark, lake, name, version))


def load_version(spark, lake: Union[Lake, str], name: str, version: Optional[str] = None):
    """(PipelineModel, VersionRecord) of a complete version; the champion when version is None."""
    from pyspark.ml import PipelineModel

    from ml.dense_models import with_dense_linear_stages

    record = load_metadata(spark, lake, name, version)
    model = PipelineModel.load(spark_uri(model_uri(lake, name, record.version, "model")))
    return with_dense_linear_stages(spark, model), record


def version_uri(lake: Union[Lake, str], name: str, version: str) -> str:
    """URI of a version's folder (where extra artifacts live)."""
    return model_uri(lake, name, version)


def set_champion(
    spark,
    lake: Union[Lake, str],
    name: str,
    version: str,
    reason: str,
    metric: Optional[str] = None,
    value: Optional[float] = None,
    run_id: Optional[str] = None,
) -> Dict[str, Any]:
    """Point champion.json at a complete version (one atomic small write); returns the record."""
    meta = load_metadata(spark, lake, name, version)
    if metric is None:
        metric, value = metric_of(meta.model_type, meta.metrics, (meta.recommend or {}).get("implicit"))
    record = {
        "version": meta.version,
        "metric": metric,
        "value": value,
        "promoted_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "run_id": run_id if run_id is not None else meta.run_id,
        "reason": reason,
    }
    _write_json(spark, model_uri(lake, name, "champion.json"), record)
    logger.info("registry %s: champion is now %s (%s)", name, meta.version, reason)
    return record

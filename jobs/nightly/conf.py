"""The nightly CONF (conf/nightly_demo.yaml) and the argument lists of its steps; no pyspark here.

One CONF names every stage's inputs and settings, in the order the nightly runs them:
ingest_logs (one entry per log source), ingest_dms (the input folder and the ingest_dms
table CONF inline), build_features (build_features CONFs inline, one per feature set),
profile, train, score (one entry per dataset or model). Paths without a scheme are relative
to the lake (`raw/logs/web/` is `<lake>/raw/logs/web/`).

Inline CONF documents (the DMS tables, feature sets, schemas, recipes) become small files
under `<lake>/_state/nightly/conf/<content hash>/` (`conf_files`), so the jobs read them as they
read any CONF and the same content always has the same path. `steps(conf, lake, run_date,
run_id)` gives each step's job and argv: a pure function that the Airflow DAG and deploy/
use too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Dict, List, Literal, Optional, Tuple

from pydantic import field_validator

from core.conf import (
    ConfModel,
    Field,
    FieldError,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    load_document,
    validate_model,
)
from core.lake import join
from core.names import NAME_RULE, is_name
from ml.model_types import TYPE_NAMES

STAGES = ("ingest_logs", "ingest_dms", "build_features", "profile", "train", "score")
MODEL_TYPES = Literal[TYPE_NAMES]  # type: ignore[valid-type]


def lake_name(value: Optional[str]) -> Optional[str]:
    """A CONF name that becomes a lake folder (core.names), checked when the CONF is parsed."""
    if value is not None and not is_name(value):
        raise FieldError("", f"{value!r} is not a name of {NAME_RULE}")
    return value


class DemoSettings(ConfModel):
    """The demo raw zone written by --demo."""

    scale: float = Field(1.0, gt=0, le=64, description="1 = 2,000 customers and ~75k log lines")
    seed: StrictInt = 7
    start_date: StrictStr = Field("2026-11-20", description="demo day 1 (days 2 and 3 follow)")


class LogSource(ConfModel):
    """One ingest_logs run."""

    source: StrictStr = Field(description="the table is tables/logs_<source>")
    input: StrictStr = Field(description="prefix of the log files (relative to the lake, or a URI)")
    format: Literal["auto", "combined", "common", "json"] = "auto"
    max_reject_fraction: Optional[StrictFloat] = None
    extra_args: List[StrictStr] = Field(default_factory=list, description="more ingest_logs flags, as given")

    _names = field_validator("source")(lake_name)


class DmsStage(ConfModel):
    """The ingest_dms run: the DMS target folder and its table CONF inline."""

    input: StrictStr = Field(description="DMS target folder <input>/<schema>/<table>/")
    tables: Dict[str, Any] = Field(description="the ingest_dms CONF (defaults, tables), see conf/dms_example.yaml")
    extra_args: List[StrictStr] = Field(default_factory=list)


class FeatureSet(ConfModel):
    """One build_features run: its CONF inline (feature_set, base, joins, address, clickstream, schema, recipe)."""

    config: Dict[str, Any]
    extra_args: List[StrictStr] = Field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.config.get("feature_set", "features"))


class Input(ConfModel):
    """What a profile, train or score step reads: a feature set, or a lake table with a schema."""

    features: Optional[StrictStr] = None
    table: Optional[StrictStr] = None
    schema_: Optional[Dict[str, Any]] = Field(None, alias="schema", description="Amazon ML schema (inline)")

    def check_input(self) -> None:
        """Exactly one of features and table."""
        if (self.features is None) == (self.table is None):
            raise FieldError("features", "give exactly one of features or table")

    _names = field_validator("features", "table")(lake_name)


class ProfileStep(Input):
    """One profile run."""

    name: Optional[StrictStr] = None
    compare_to_previous: StrictBool = Field(True, description="--compare-to the day before the run date")
    extra_args: List[StrictStr] = Field(default_factory=list)

    _step_name = field_validator("name")(lake_name)


class TrainStep(Input):
    """One train run (a model name in the registry)."""

    name: StrictStr
    model_type: MODEL_TYPES
    recipe: Optional[Dict[str, Any]] = None
    algorithm: Optional[StrictStr] = None
    params: Optional[Dict[str, Any]] = None
    min_gain: Optional[StrictFloat] = None
    refit: StrictBool = Field(False, description="publish the model refitted on every row after evaluation")
    extra_args: List[StrictStr] = Field(default_factory=list)

    _step_name = field_validator("name")(lake_name)


class ScoreStep(Input):
    """One score run of a registered model's champion."""

    name: StrictStr
    top_k: Optional[StrictInt] = None
    extra_args: List[StrictStr] = Field(default_factory=list)

    _step_name = field_validator("name")(lake_name)


class NightlyConf(ConfModel):
    """The whole nightly CONF."""

    demo: Optional[DemoSettings] = None
    ingest_logs: List[LogSource] = Field(default_factory=list)
    ingest_dms: Optional[DmsStage] = None
    build_features: List[FeatureSet] = Field(default_factory=list)
    profile: List[ProfileStep] = Field(default_factory=list)
    train: List[TrainStep] = Field(default_factory=list)
    score: List[ScoreStep] = Field(default_factory=list)


class NightlySettings(ConfModel):
    """The flags of nightly (declared with their help in `add_arguments`), frozen after validate."""

    config: str  # the CONF's URI, normalized (the demo CONF with --demo and no --config)
    conf: Optional[NightlyConf] = None  # the CONF parsed by validate when it is local
    demo: bool = False
    scale: Optional[float] = None


def parse_conf(text: str, source: str = "--config") -> NightlyConf:
    """The nightly CONF of a YAML/JSON text; UsageError naming the file and field otherwise."""
    conf = validate_model(NightlyConf, load_document(text, source), source)
    for stage in ("profile", "train", "score"):
        for i, step in enumerate(getattr(conf, stage)):
            try:
                step.check_input()
            except FieldError as error:
                from core.errors import UsageError

                raise UsageError(f"{source}: field {stage}[{i}].{error.field} {error.message}") from None
    return conf


# --- steps (pure) -------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One job run of the nightly: stage, a name unique in the run, the job and its argv."""

    stage: str
    name: str
    job: str
    argv: Tuple[str, ...]


def content_path(kind: str, document: Any) -> str:
    """The lake-relative path of an inline document: `_state/nightly/conf/<sha256[:12]>/<kind>.json`."""
    digest = hashlib.sha256(canonical_json(document).encode()).hexdigest()[:12]
    return f"_state/nightly/conf/{digest}/{kind}.json"


def canonical_json(document: Any) -> str:
    """JSON in the CONF's own key order (a recipe's sections are ordered): the same document, the same path."""
    return json.dumps(document, indent=1, default=str) + "\n"


def resolve(lake: str, path: str) -> str:
    """A CONF path: a URI or absolute path as given, else relative to the lake."""
    return path if "://" in path or path.startswith("/") else join(lake, path)


def _input_args(step: Input, lake: str, files: Dict[str, str], kind: str) -> List[str]:
    """--features SET, or --table NAME [--schema FILE]."""
    if step.features is not None:
        args = ["--features", step.features]
    else:
        args = ["--table", str(step.table)]
    if step.schema_ is not None:
        path = content_path(kind, step.schema_)
        files[path] = canonical_json(step.schema_)
        args += ["--schema", join(lake, path)]
    return args


def _optional(flag: str, value: Any) -> List[str]:
    """[flag, value] when value is set (dicts as JSON)."""
    if value is None:
        return []
    return [flag, json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else str(value)]


def step_run_id(run_id: str, index: int, name: str) -> str:
    """A stage's run id, derived from the nightly's: `<run_id>-<nn>-<step name>`."""
    return f"{run_id}-{index:02d}-{name.replace('.', '-')}"


def _job_args(stage: str, entry: Any, lake: str, run_date: str, files: Dict[str, str]) -> Tuple[str, List[str]]:
    """(step name, job flags) of one CONF entry of a stage."""
    if stage == "ingest_logs":
        args = ["--source", entry.source, "--input", resolve(lake, entry.input)]
        args += ["--format", entry.format, *_optional("--max-reject-fraction", entry.max_reject_fraction)]
        return f"ingest_logs.{entry.source}", args
    if stage == "ingest_dms":
        path = content_path("ingest_dms", entry.tables)
        files[path] = canonical_json(entry.tables)
        return "ingest_dms", ["--input", resolve(lake, entry.input), "--tables", join(lake, path)]
    if stage == "build_features":
        path = content_path(f"build_features_{entry.name}", entry.config)
        files[path] = canonical_json(entry.config)
        return f"build_features.{entry.name}", ["--config", join(lake, path)]
    name = getattr(entry, "name", None) or entry.features or entry.table
    args = _input_args(entry, lake, files, f"{stage}_{name}_schema")
    if stage == "profile":
        if entry.compare_to_previous:
            args += ["--compare-to", previous_day(run_date)]
        return f"profile.{name}", args
    if stage == "train":
        args = ["--name", entry.name, "--model-type", entry.model_type, *args]
        if entry.recipe is not None:
            path = content_path(f"train_{entry.name}_recipe", entry.recipe)
            files[path] = canonical_json(entry.recipe)
            args += ["--recipe", join(lake, path)]
        args += _optional("--algorithm", entry.algorithm) + _optional("--params", entry.params)
        return f"train.{name}", args + _optional("--min-gain", entry.min_gain) + (["--refit"] if entry.refit else [])
    return f"score.{name}", ["--name", entry.name, *args, *_optional("--top-k", entry.top_k)]


def previous_day(run_date: str) -> str:
    """The date before a YYYY-MM-DD date."""
    import datetime as dt

    return (dt.date.fromisoformat(run_date) - dt.timedelta(days=1)).isoformat()


def entries(conf: NightlyConf, stage: str) -> List[Any]:
    """The CONF entries of one stage, in order."""
    value = getattr(conf, stage)
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def plan(conf: NightlyConf, lake: str, run_date: str, run_id: str) -> Tuple[List[Step], Dict[str, str]]:
    """Every step of a night in order, and the inline CONF files they read (lake-relative path -> text)."""
    steps: List[Step] = []
    files: Dict[str, str] = {}
    for stage in STAGES:
        for entry in entries(conf, stage):
            name, args = _job_args(stage, entry, lake, run_date, files)
            common = ["--lake", lake, "--run-date", run_date, "--run-id", step_run_id(run_id, len(steps) + 1, name)]
            steps.append(Step(stage, name, stage, tuple(common + args + list(entry.extra_args))))
    return steps, files


def stage_args(conf: NightlyConf, stage: str, lake: str, run_date: str, run_id: str) -> List[List[str]]:
    """The argv of each step of one stage (what the Airflow DAG passes to `spark-submit.sh emr <stage>`)."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    return [list(step.argv) for step in plan(conf, lake, run_date, run_id)[0] if step.stage == stage]

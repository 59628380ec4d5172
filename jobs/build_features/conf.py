"""build_features' CONF as frozen pydantic models: each field written once, with its help text.

`parse_conf(text, uri)` validates a CONF text into a `Config`; `load_references` reads the schema
and recipe files it names and checks them together, still without Spark. Errors are UsageErrors
(exit 2) naming the field: `--config: field clickstream.ngram 11: must be 1..10`.
"""

from __future__ import annotations

import posixpath
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from pydantic import ConfigDict, field_validator, model_validator

from core.conf import (
    ConfModel,
    Field,
    FieldError,
    Number,
    StrictBool,
    StrictInt,
    StrictStr,
    describe_fields,
    load_document,
    validate_model,
)
from core.errors import UsageError
from core.lake import normalize_uri
from core.names import NAME_RULE, is_name
from jobs.build_features.windows_conf import Readings, Windows, window_recipe, window_schema

NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


def check_name(value: str) -> str:
    """A column name: letters, digits, `_`, `-`, `.`."""
    if not value or not set(value) <= NAME_CHARS:
        raise FieldError("", "must be a column name")
    return value


def check_lake_name(value: str) -> str:
    """A table or feature set name by the lake's name rule (core.names)."""
    if not is_name(value):
        raise FieldError("", f"must be a name of {NAME_RULE}")
    return value


class Base(ConfModel):
    """The lake table with one row per key."""

    table: StrictStr = Field(description="<lake>/tables/<table>")
    key: StrictStr = Field(description="its key column; null or duplicated keys are rejected")

    @field_validator("table")
    @classmethod
    def _table(cls, value: str) -> str:
        return check_lake_name(value)

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        return check_name(value)


class Join(ConfModel):
    """One more lake table left-joined to the base (at most one row per join key)."""

    table: StrictStr = Field(description="<lake>/tables/<table>")
    on: Dict[StrictStr, StrictStr] = Field(description="a column, a list of columns, or base column -> table column")
    columns: Optional[Tuple[StrictStr, ...]] = Field(None, description="the columns to take (default: all but `on`)")

    @model_validator(mode="before")
    @classmethod
    def _on_forms(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if True in data:  # YAML 1.1 reads a bare `on:` key as true
            data["on"] = data.pop(True)
        on = data.get("on")
        if isinstance(on, str):
            data["on"] = {on: on}
        elif isinstance(on, list) and on and all(isinstance(c, str) for c in on):
            data["on"] = {c: c for c in on}
        elif not isinstance(on, dict) or not on:
            raise FieldError("on", "must be a column, a list of columns or a mapping")
        return data

    @model_validator(mode="after")
    def _names(self) -> Join:
        check_lake_name(self.table)
        for left, right in self.on.items():
            if not set(left) <= NAME_CHARS or not set(right) <= NAME_CHARS or not left or not right:
                raise FieldError("on", f"{left!r}: {right!r} must name columns")
        if self.columns is not None and (not self.columns or not all(set(c) <= NAME_CHARS for c in self.columns)):
            raise FieldError("columns", "must be a non-empty list of columns")
        return self


class Address(ConfModel):
    """The concatenated address (features.address.concat_address) and its address_key."""

    parts: Dict[StrictStr, StrictStr] = Field(description="address part -> column")
    output: StrictStr = Field("address", description="the address column")
    key: Optional[StrictStr] = Field("address_key", description="its hash key column (null: none)")
    abbreviate: StrictBool = Field(True, description="USPS abbreviations")

    @model_validator(mode="after")
    def _parts(self) -> Address:
        from features.address import PARTS

        if not self.parts:
            raise FieldError("parts", "must map address parts to columns")
        for part, column in self.parts.items():
            if part not in PARTS:
                raise FieldError(f"parts.{part}", f"is not an address part; known: {', '.join(PARTS)}")
            if not set(column) <= NAME_CHARS:
                raise FieldError(f"parts.{part}", "must be a column name")
        check_name(self.output)
        if self.key:
            check_name(self.key)
        return self


class Clickstream(ConfModel):
    """Per-user activity from <lake>/tables/logs_<source>, left-joined on base[join_on] = logs[user_column]."""

    source: StrictStr = Field(description="the logs table is tables/logs_<source>")
    join_on: StrictStr = Field(description="the base column holding the user")
    user_column: StrictStr = "user"
    client_column: StrictStr = "client"
    session_gap_minutes: Number = Field(30, gt=0, description="a pause this long starts a new session")
    lookback_days: Optional[StrictInt] = Field(None, ge=1, description="only events of the last N days")
    ngram: StrictInt = Field(2, ge=1, le=10, description="path n-grams up to n")
    prefix: StrictStr = Field("click_", description="prefix of the added columns")
    include_bots: StrictBool = False

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        return check_lake_name(value)

    @field_validator("join_on", "user_column", "client_column")
    @classmethod
    def _column(cls, value: str) -> str:
        return check_name(value)

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not set(value) <= NAME_CHARS:
            raise FieldError("", "must be a column-name prefix")
        return value


class FeatureConf(ConfModel):
    """The whole CONF (JSON or YAML)."""

    feature_set: StrictStr = Field(description="the output is <lake>/features/<feature_set>/")
    base: Optional[Base] = Field(None, description="{table, key}; not with windows (the windows are the base)")
    windows: Optional[Windows] = Field(None, description="time windows over readings: see the windows fields")
    joins: Tuple[Join, ...] = Field((), description="more lake tables left-joined to the base")
    address: Optional[Address] = None
    clickstream: Optional[Clickstream] = None
    schema_: Optional[Dict[str, Any]] = Field(None, alias="schema", description="the Amazon ML schema, inline")
    schema_file: Optional[StrictStr] = Field(None, description="or its file (relative to the CONF)")
    recipe: Optional[Union[Dict[str, Any], StrictStr]] = Field(None, description="the recipe (mapping or text)")
    recipe_file: Optional[StrictStr] = Field(None, description="or its file; none: the suggested recipe")
    num_features: StrictInt = Field(2**18, ge=1, le=2**30, description="hashed token dimension")
    vocabulary: StrictBool = Field(False, description="a fitted vocabulary instead of hashing")

    @field_validator("feature_set")
    @classmethod
    def _set_name(cls, value: str) -> str:
        return check_lake_name(value)

    @model_validator(mode="after")
    def _choices(self) -> FeatureConf:
        if (self.base is None) == (self.windows is None):
            raise FieldError("base", "give exactly one of base (a lake table) and windows (readings cut into windows)")
        if self.schema_ is not None and self.schema_file is not None:
            raise FieldError("schema", "give at most one of the fields schema (inline) and schema_file")
        if self.schema_ is None and self.schema_file is None and self.windows is None:
            raise FieldError("schema", "give exactly one of the fields schema (inline) and schema_file")
        if self.recipe is not None and self.recipe_file is not None:
            raise FieldError("recipe", "give at most one of the fields recipe (inline) and recipe_file")
        return self


class Config:
    """A validated CONF with its file references resolved; schema and recipe filled by load_references."""

    def __init__(self, conf: FeatureConf, conf_uri: str):
        self.conf = conf
        self.feature_set = conf.feature_set
        self.windows = conf.windows
        self.base_table = conf.base.table if conf.base else None
        self.base_key = conf.base.key if conf.base else "window_id"
        self.joins: List[Join] = list(conf.joins)
        self.address = conf.address
        self.clickstream = conf.clickstream
        self.schema: Optional[Dict[str, Any]] = conf.schema_
        self.schema_ref = resolve(conf.schema_file, "schema_file", conf_uri) if conf.schema_file else None
        self.recipe: Any = conf.recipe
        self.recipe_ref = resolve(conf.recipe_file, "recipe_file", conf_uri) if conf.recipe_file else None
        self.num_features = conf.num_features
        self.vocabulary = conf.vocabulary
        self.checked = False  # schema and recipe read and checked together
        self.conf_uri = conf_uri


def resolve(ref: str, where: str, base_uri: str) -> str:
    """A file reference of CONF as a URI; relative paths are relative to the CONF's folder."""
    if not ref.strip():
        raise UsageError(f"--config: field {where} must be a path or URI")
    if "://" in ref or ref.startswith("/"):
        return normalize_uri(ref, f"--config field {where}")
    return normalize_uri(posixpath.join(posixpath.dirname(base_uri), ref), f"--config field {where}")


def parse_conf(text: str, conf_uri: str) -> Config:
    """The Config of a CONF text (JSON or YAML); file references are resolved, not read."""
    data = load_document(text, f"--config {conf_uri}")
    if not isinstance(data, dict):
        raise UsageError(f"--config {conf_uri}: expected a mapping with feature_set, base, schema and recipe")
    return Config(validate_model(FeatureConf, data, "--config"), conf_uri)


def load_references(config: Config, read: Callable[[str], str]) -> Config:
    """Read schema_file / recipe_file with `read`, then check schema and recipe together (no Spark)."""
    from features.recipe import RecipeError, parse_recipe, plan_recipe
    from features.schema import SchemaError, load_schema

    where = "schema_file" if config.schema_ref else "schema"
    try:
        if config.schema_ref is not None:
            config.schema = load_schema(read(config.schema_ref))
        elif config.schema is not None:
            config.schema = load_schema(config.schema)
        else:
            config.schema = window_schema(config.windows.spec())
    except SchemaError as error:
        raise UsageError(f"--config: field {where}: {error}") from None
    field_name = "recipe_file" if config.recipe_ref else "recipe"
    try:
        if config.recipe_ref is not None:
            config.recipe = parse_recipe(read(config.recipe_ref))
        elif isinstance(config.recipe, str):
            config.recipe = parse_recipe(config.recipe)
        elif config.recipe is None and config.windows is not None:
            config.recipe = window_recipe()
        plan_recipe(config.schema, config.recipe)
    except RecipeError as error:
        raise UsageError(f"--config: field {field_name}: {error}") from None
    config.checked = True
    return config


def conf_help() -> str:
    """The CONF's fields for --help, generated from the models."""
    sections = [("CONF", FeatureConf), ("base", Base), ("joins[]", Join), ("address", Address)]
    sections += [("clickstream", Clickstream), ("windows", Windows), ("windows.readings", Readings)]
    return "\n".join(f"{name}: {describe_fields(model)}" for name, model in sections)


class BuildFeaturesSettings(ConfModel):
    """The flags of build_features (declared with their help in `add_arguments`), frozen after validate."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    config: str  # the CONF's URI, normalized
    conf: Optional[Config] = None  # the CONF parsed by validate when it is local (references read when local too)

"""The ingest_dms CONF (`--tables`): one TableSpec per source table, validated by pydantic models.

The field list is written once, in TableSpec; the `--help` epilog is generated from it. The DMS
meaning of each field is in docs/dms.md.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Literal, Optional, Tuple

from pydantic import field_validator, model_validator

from core.conf import ConfModel, Field, FieldError, StrictBool, StrictStr, describe_fields, validate_model
from core.errors import UsageError

SIMPLE_TYPES = (
    "string",
    "int",
    "integer",
    "bigint",
    "long",
    "smallint",
    "short",
    "tinyint",
    "byte",
    "double",
    "float",
    "boolean",
    "date",
    "timestamp",
    "binary",
)
DECIMAL_RE = re.compile(r"^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$")
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
TOP_FIELDS = ("tables", "defaults")


class Column(ConfModel):
    """One field of a DMS row after Op: its name and Spark SQL type."""

    name: StrictStr
    type: StrictStr = "string"

    @field_validator("name")
    @classmethod
    def _usable_name(cls, name: str) -> str:
        if not NAME_RE.match(name) or name.lower().startswith("_dms_"):
            raise FieldError("", f"{name!r} is not a usable column name")
        if name.lower() == "op":
            raise FieldError("", "do not list Op; it is read by itself")
        return name

    @field_validator("type")
    @classmethod
    def _known_type(cls, type_: str) -> str:
        text = type_.strip().lower()
        if text not in SIMPLE_TYPES and not DECIMAL_RE.match(text):
            raise FieldError("", f"{type_!r} is not one of {', '.join(SIMPLE_TYPES)} or decimal(p,s)")
        return text


class TableSpec(ConfModel):
    """One source table of the CONF, validated."""

    source_schema: StrictStr = Field(alias="schema")
    table: StrictStr
    key: Tuple[StrictStr, ...]
    columns: Tuple[Column, ...] = Field(description="every field after Op, in file order, with a Spark SQL type")
    format: Literal["csv", "parquet"] = "csv"
    include_op_for_full_load: StrictBool = False
    timestamp_column: Optional[StrictStr] = Field(None, description="TimestampColumnName")
    change_seq_column: Optional[StrictStr] = Field(None, description="$AR_H_CHANGE_SEQ")
    csv_delimiter: StrictStr = ","
    csv_null_value: StrictStr = Field("NULL", description="default NULL")
    partial_updates: StrictBool = False
    history: StrictBool = False
    deletion_vectors: StrictBool = False  # delta-rs (pandas, Polars) cannot read tables with them

    @field_validator("source_schema", "table")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not value.strip() or "/" in value:
            raise FieldError("", "must be a non-empty name without '/'")
        return value

    @field_validator("key", mode="before")
    @classmethod
    def _key_list(cls, key: Any) -> Any:
        key = [key] if isinstance(key, str) else key
        if not isinstance(key, list) or not key or not all(isinstance(k, str) for k in key):
            raise FieldError("", "must name the primary key column(s)")
        return key

    @field_validator("columns", mode="before")
    @classmethod
    def _column_list(cls, columns: Any) -> Any:
        if not isinstance(columns, list) or not columns:
            raise FieldError("", "must list every field after Op, in file order")
        return columns

    @field_validator("csv_delimiter")
    @classmethod
    def _one_character(cls, value: str) -> str:
        if len(value) != 1:
            raise FieldError("", "must be one character")
        return value

    @model_validator(mode="after")
    def _references(self) -> TableSpec:
        names = [name.lower() for name in self.column_names]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise FieldError("columns", f"names {', '.join(duplicates)} more than once")
        for k in self.key:
            if k.lower() not in names:
                raise FieldError("key", f"names {k!r}, which is not in columns")
        for name in ("timestamp_column", "change_seq_column"):
            value = getattr(self, name)
            if value is not None and value.lower() not in names:
                raise FieldError(name, f"{value!r} must be one of the columns")
        if self.history and not self.timestamp_column:
            raise FieldError(
                "history",
                "needs timestamp_column (valid_from is the source commit time); "
                "enable TimestampColumnName in the DMS endpoint",
            )
        return self

    @property
    def schema(self) -> str:  # type: ignore[override]
        return self.source_schema

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def table_name(self) -> str:
        return f"{self.schema}_{self.table}".lower()

    @property
    def history_name(self) -> str:
        return self.table_name + "_history"

    @property
    def column_names(self) -> List[str]:
        return [c.name for c in self.columns]

    def column_type(self, name: str) -> str:
        """The declared Spark SQL type of a column."""
        return next(c.type for c in self.columns if c.name == name)


def _where(entry: Dict[str, Any], index: int) -> str:
    """How messages name a table: `table schema.table`, or its position when those are not names."""
    if isinstance(entry.get("schema"), str) and isinstance(entry.get("table"), str):
        return f"table {entry['schema']}.{entry['table']}"
    return f"tables[{index}]"


def parse_table(entry: object, index: int, source: str = "--tables") -> TableSpec:
    """One CONF entry as a TableSpec; UsageError naming the file, table and field otherwise."""
    if not isinstance(entry, dict):
        raise UsageError(f"{source} tables[{index}]: expected a mapping with schema, table, key, columns")
    return validate_model(TableSpec, entry, f"{source} {_where(entry, index)}")


def parse_document(data: Any, source: str = "--tables") -> List[TableSpec]:
    """The table specs of a CONF document (a mapping with `tables` and optional `defaults`)."""
    if not isinstance(data, dict) or not isinstance(data.get("tables"), list) or not data["tables"]:
        raise UsageError(f"{source}: expected a mapping with a non-empty list 'tables'")
    unknown = sorted(set(data) - set(TOP_FIELDS))
    if unknown:
        raise UsageError(f"{source}: unknown top-level field(s) {', '.join(unknown)}; known: {', '.join(TOP_FIELDS)}")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise UsageError(f"{source}: defaults must be a mapping of table fields")
    specs = [
        parse_table({**defaults, **entry} if isinstance(entry, dict) else entry, i, source)
        for i, entry in enumerate(data["tables"])
    ]
    names = [spec.table_name for spec in specs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise UsageError(f"{source}: table(s) {', '.join(duplicates)} listed more than once")
    return specs


def parse_conf(text: str, source: str = "--tables") -> List[TableSpec]:
    """The table specs of a CONF text (JSON or YAML)."""
    from core.conf import load_document

    return parse_document(load_document(text, source), source)


def select_tables(specs: List[TableSpec], wanted: Optional[str]) -> List[TableSpec]:
    """All tables, or the one `--table schema.table` names."""
    if not wanted:
        return specs
    chosen = [spec for spec in specs if spec.name.lower() == wanted.lower()]
    if not chosen:
        raise UsageError(f"--table {wanted!r} is not in --tables; known: {', '.join(s.name for s in specs)}")
    return chosen


EPILOG = (
    f"CONF per table: {describe_fields(TableSpec)}; see conf/dms_example.yaml and docs/dms.md. "
    "Order of changes: sequence, timestamp, file name, position in file; a change older than the stored row "
    "is ignored. A new full load replaces the table. Exit 3 when a CSV row has the wrong number of fields: "
    "update columns in CONF. State: <lake>/_state/ingest_dms/<schema>/<table>/ledger.json."
)


class IngestDmsSettings(ConfModel):
    """The flags of ingest_dms (declared with their help in `add_arguments`), frozen after validate."""

    input: str  # normalized (normalize_uri)
    tables: str  # the CONF's URI, normalized
    table: Optional[str] = None
    table_specs: Optional[Tuple[TableSpec, ...]] = None  # the CONF's tables (--table applied) when it is local
    full_reload: bool = False
    apply_plan: str = "auto"
    optimize: bool = False
    max_reject_fraction: float

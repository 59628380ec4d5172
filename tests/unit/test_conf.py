"""core.conf: frozen models, lakeml's error messages, the CONF reader and generated help."""

from __future__ import annotations

from typing import Literal, Optional, Tuple

import pytest
from pydantic import ValidationError, model_validator

from core.conf import (
    ConfModel,
    Field,
    FieldError,
    StrictBool,
    StrictStr,
    describe_fields,
    format_validation_error,
    load_document,
    read_conf,
    require_known,
    validate_model,
)
from core.errors import UsageError


class Column(ConfModel):
    name: StrictStr
    type: Literal["string", "int"] = "string"


class Table(ConfModel):
    schema_: StrictStr = Field(alias="schema", description="source schema")
    key: Tuple[StrictStr, ...] = Field(description="primary key columns")
    columns: Tuple[Column, ...]
    format: Literal["csv", "parquet"] = "csv"
    history: StrictBool = False
    note: Optional[StrictStr] = None

    @model_validator(mode="after")
    def _key_in_columns(self) -> Table:
        require_known(self.key, [c.name for c in self.columns], "key")
        return self


GOOD = {"schema": "hr", "key": ["id"], "columns": [{"name": "id", "type": "int"}]}
WHERE = "--tables table hr.employee"


def message(data: dict) -> str:
    with pytest.raises(UsageError) as error:
        validate_model(Table, data, WHERE)
    return str(error.value)


def test_a_valid_model_is_frozen():
    table = validate_model(Table, GOOD, WHERE)
    assert table.key == ("id",) and table.columns[0].type == "int"
    with pytest.raises(ValidationError):
        table.format = "parquet"


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"format": "avro"}, "--tables table hr.employee: field format 'avro' must be one of csv, parquet"),
        ({"history": "yes"}, "--tables table hr.employee: field history 'yes' must be true or false"),
        ({"key": ["nope"]}, "--tables table hr.employee: field key names 'nope', which is not in columns"),
        (
            {"columns": [{"name": "id", "type": "integr"}]},
            "--tables table hr.employee: field columns[0].type 'integr' must be one of string, int",
        ),
        (
            {"histroy": True},
            WHERE + ": unknown field(s) histroy; known: schema, key, columns, format, history, note",
        ),
        ({"columns": [{"name": "id", "kind": "x"}]}, "unknown field(s) columns[0].kind; known: name, type"),
    ],
)
def test_errors_name_where_and_field(change, expected):
    assert expected in message({**GOOD, **change})


def test_missing_field_and_several_errors_in_one_message():
    text = message({"schema": "hr", "format": "x"})
    assert text.startswith(WHERE + ": ")
    assert "field key is required" in text and "field columns is required" in text and "field format" in text


def test_format_validation_error_without_a_model():
    with pytest.raises(ValidationError) as error:
        Column.model_validate({"name": 3})
    assert format_validation_error(error.value, "--config") == "--config: field name 3 must be a string"


def test_field_error_with_nested_path():
    class Ref(ConfModel):
        columns: Tuple[Column, ...]

        @model_validator(mode="after")
        def _check(self) -> Ref:
            raise FieldError("columns.0.name", "is taken")

    with pytest.raises(UsageError, match=r"--x: field columns\.0\.name is taken"):
        validate_model(Ref, {"columns": [{"name": "a"}]}, "--x")


def test_load_document_yaml_json_and_errors():
    assert load_document('{"a": 1}', "--tables t.json") == {"a": 1}
    assert load_document(b"\xef\xbb\xbfa: [1, 2]\n", "--tables t.yaml") == {"a": [1, 2]}  # BOM dropped
    with pytest.raises(UsageError, match=r"^--tables t\.yaml: not valid JSON or YAML"):
        load_document("[1, 2", "--tables t.yaml")
    with pytest.raises(UsageError, match=r"^--tables t\.yaml: not UTF-8 text \(byte 0xff at offset 3\)"):
        load_document(b"a: \xff\n", "--tables t.yaml")


def test_read_conf_local_file(tmp_path):
    (tmp_path / "c.yaml").write_bytes(b"tables: [1]\n")
    (tmp_path / "latin1.yaml").write_bytes("name: Jos\xe9\n".encode("latin-1"))
    assert read_conf(None, "file://" + str(tmp_path / "c.yaml"), "--tables") == {"tables": [1]}
    with pytest.raises(UsageError) as error:
        read_conf(None, str(tmp_path / "latin1.yaml"), "--tables")
    assert error.value.exit_code == 2 and "latin1.yaml: not UTF-8 text" in str(error.value)
    with pytest.raises(UsageError, match=r"missing\.yaml: no such file"):
        read_conf(None, str(tmp_path / "missing.yaml"), "--tables")


def test_describe_fields_lists_each_field_once_with_choices_and_descriptions():
    assert describe_fields(Table) == (
        "schema (source schema), key (primary key columns), columns, format csv|parquet, history, note"
    )

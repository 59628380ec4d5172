"""CONF files and job settings as frozen pydantic models, with lakeml's error messages.

A job declares its CONF as `ConfModel` subclasses (frozen, unknown fields rejected), reads
the file with `read_conf` (bytes → UTF-8 text → YAML/JSON document; exit 2 naming the file
otherwise), validates with `validate_model`, and lists the fields in its `--help` with
`describe_fields`, so each field is written once:

    class Column(ConfModel):
        name: StrictStr = Field(description="column name")
        type: Literal["string", "int"] = "string"

    doc = read_conf(spark, "conf/x.yaml", "--tables")
    column = validate_model(Column, doc["columns"][0], "--tables table hr.employee")
    # bad input: UsageError("--tables table hr.employee: field type 'text' must be one of string, int")

A validator that checks a reference between fields (a key naming a column) raises
`FieldError(field, message)`, so the message names the field it is about, not the model.
"""

from __future__ import annotations

import os
from typing import (
    Any,
    Dict,
    Iterable,
    List,
    Literal,
    Optional,
    Sequence,
    Tuple,
    Type,
    TypeVar,
    Union,
    get_args,
    get_origin,
)

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, ValidationError

from core.errors import UsageError

__all__ = [
    "ConfModel",
    "Field",
    "FieldError",
    "Literal",
    "Number",
    "StrictBool",
    "StrictFloat",
    "StrictInt",
    "StrictStr",
    "decode_text",
    "describe_fields",
    "format_validation_error",
    "load_document",
    "read_conf",
    "require_known",
    "validate_model",
]

M = TypeVar("M", bound=BaseModel)
Number = Union[StrictInt, StrictFloat]  # an int or a float in a CONF, never a string or a bool


class ConfModel(BaseModel):
    """Base of every CONF and settings model: immutable, and an unknown field is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class FieldError(ValueError):
    """A validator's complaint about one field (dotted path), e.g. FieldError("key", "names 'x', ...")."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def require_known(names: Iterable[str], known: Iterable[str], field: str, what: str = "columns") -> None:
    """Raise FieldError unless every name is in `known` (case-insensitive), e.g. a key naming columns."""
    lowered = {k.lower() for k in known}
    for name in names:
        if name.lower() not in lowered:
            raise FieldError(field, f"names {name!r}, which is not in {what}")


# --- reading ---------------------------------------------------------------------------


def decode_text(data: bytes, source: str) -> str:
    """UTF-8 text of a CONF file (a leading BOM dropped); UsageError naming the file otherwise."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UsageError(
            f"{source}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}); save the file as UTF-8"
        ) from None


def load_document(text: Union[str, bytes], source: str) -> Any:
    """The YAML or JSON document of a CONF text (JSON is YAML); UsageError naming the file otherwise."""
    import yaml

    if isinstance(text, bytes):
        text = decode_text(text, source)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise UsageError(f"{source}: not valid JSON or YAML: {error}") from None


def read_conf(spark, uri: str, flag: str) -> Any:
    """The document of the CONF file `flag` names: a local path or file:// URI without Spark, else via the lake."""
    from core.lake import is_local, local_path, read_bytes

    source = f"{flag} {uri}"
    if "://" not in uri or is_local(uri):
        path = local_path(uri) if "://" in uri else uri
        if not os.path.isfile(path):
            raise UsageError(f"{source}: no such file")
        with open(path, "rb") as handle:
            data: Optional[bytes] = handle.read()
    else:
        data = read_bytes(spark, uri)
        if data is None:
            raise UsageError(f"{source}: no such file")
    return load_document(data, source)


# --- errors ----------------------------------------------------------------------------


def _path(loc: Sequence[Union[str, int]]) -> str:
    """A pydantic location as lakeml writes it: ("columns", 0, "type") → columns[0].type."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _fields(model: Type[BaseModel]) -> Dict[str, Any]:
    """The model's fields by the name a CONF file uses (the alias where one is set)."""
    return {info.alias or name: info for name, info in model.model_fields.items()}


def _model_at(model: Type[BaseModel], loc: Sequence[Union[str, int]]) -> Optional[Type[BaseModel]]:
    """The model class that holds the field at `loc` (following nested models and lists of them)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = _fields(current) if isinstance(current, type) and issubclass(current, BaseModel) else {}
        if part not in fields:
            return None
        current = _inner_model(fields[part].annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    """The model inside Optional[...], List[...], Tuple[..., ...] or the annotation itself."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        inner = _inner_model(arg)
        if inner is not None:
            return inner
    return None


PLAIN = {
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "float_type": "must be a number",
    "model_type": "must be a mapping",
    "dict_type": "must be a mapping",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
}


def _one_error(error: Dict[str, Any], model: Type[BaseModel]) -> str:
    """One pydantic error as `field X ...`."""
    loc = tuple(error.get("loc") or ())
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, FieldError):
        return f"field {_path(loc + tuple(cause.field.split('.')) if cause.field else loc)} {cause.message}"
    kind, value = error.get("type"), error.get("input")
    if kind == "extra_forbidden":
        owner = _model_at(model, loc[:-1])
        known = f"; known: {', '.join(_fields(owner))}" if owner else ""
        return f"unknown field(s) {_path(loc)}{known}"
    where = f"field {_path(loc)}" if loc else "field"
    if kind == "missing":
        return f"{where} is required"
    if kind == "literal_error":
        owner = _model_at(model, loc[:-1])
        info = _fields(owner).get(loc[-1]) if owner and loc else None
        choices = ", ".join(_choices(info.annotation)) if info else str(ctx.get("expected", "")).replace("'", "")
        return f"{where} {value!r} must be one of {choices}"
    if kind in PLAIN:
        return f"{where} {value!r} {PLAIN[kind]}"
    message = str(error.get("msg", "")).replace("Value error, ", "")
    return f"{where} {value!r}: {message}" if not isinstance(value, (dict, list)) else f"{where}: {message}"


def format_validation_error(error: ValidationError, where: str, model: Optional[Type[BaseModel]] = None) -> str:
    """A ValidationError as lakeml's message: `<where>: field columns[0].type 'x' must be one of ...; ...`."""
    model = model or BaseModel
    parts: List[str] = []
    for item in error.errors():
        text = _one_error(item, model)
        if text not in parts:
            parts.append(text)
    return f"{where}: " + "; ".join(parts)


def validate_model(model: Type[M], data: Any, where: str) -> M:
    """`model` built from `data`; a UsageError in lakeml's words (naming file, table and field) otherwise."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise UsageError(format_validation_error(error, where, model)) from None


# --- help ------------------------------------------------------------------------------


def _choices(annotation: Any) -> Tuple[str, ...]:
    """The allowed values of a Literal (also inside Optional), else ()."""
    if get_origin(annotation) is Literal:
        return tuple(str(a) for a in get_args(annotation))
    for arg in get_args(annotation):
        found = _choices(arg)
        if found:
            return found
    return ()


def describe_fields(model: Type[BaseModel]) -> str:
    """The model's fields for a help epilog: `name a|b (description), ...`, in declaration order."""
    parts = []
    for name, info in _fields(model).items():
        text = name
        choices = _choices(info.annotation)
        if choices:
            text += " " + "|".join(choices)
        if info.description:
            text += f" ({info.description})"
        parts.append(text)
    return ", ".join(parts)

"""Amazon ML data schemas: load, validate and ask which attributes are features.

A schema is the JSON Amazon ML used (`version`, `rowId`, `targetAttributeName`, `dataFormat`,
`dataFileContainsHeader`, `attributes: [{attributeName, attributeType}]`,
`excludedAttributeNames`). The old API's spelling (`targetFieldName`, `variables[{fieldName,
fieldType}]`, `excludedVariableNames`, `recordWeightFieldName`) is accepted and renamed.
`load_schema` returns a normalized dict with every key present; the feature attributes are
all attributes except the target, the rowId and the excluded ones.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional, Union

TYPES = ("NUMERIC", "CATEGORICAL", "TEXT", "BINARY")
TYPE_GROUPS = {"ALL_TEXT": "TEXT", "ALL_NUMERIC": "NUMERIC", "ALL_CATEGORICAL": "CATEGORICAL", "ALL_BINARY": "BINARY"}


class SchemaError(ValueError):
    """An invalid data schema; the message names the field."""


def load_schema(source: Union[str, Dict[str, Any]]) -> Dict[str, Any]:
    """Load a schema from a dict, a JSON string or a local file path and return it normalized."""
    if isinstance(source, dict):
        raw = source
    else:
        text = str(source)
        if not text.lstrip().startswith("{"):
            path = text[len("file://") :] if text.startswith("file://") else text
            if not os.path.exists(path):
                raise SchemaError(f"schema: no such file {text!r} (give a dict, JSON text or a local path)")
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SchemaError(f"schema: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if not isinstance(raw, dict):
        raise SchemaError("schema: expected a JSON object")
    return normalize_schema(raw)


def normalize_schema(raw: Dict[str, Any]) -> Dict[str, Any]:
    """Rename the old API's keys, uppercase types, and check names, types and references."""
    attrs_in = raw.get("attributes", raw.get("variables"))
    if not isinstance(attrs_in, list) or not attrs_in:
        raise SchemaError("schema: 'attributes' must be a non-empty list")
    attributes: List[Dict[str, str]] = []
    seen = set()
    folded = set()
    for i, attr in enumerate(attrs_in):
        if not isinstance(attr, dict):
            raise SchemaError(f"schema: attributes[{i}] must be an object")
        name = attr.get("attributeName", attr.get("fieldName"))
        kind = attr.get("attributeType", attr.get("fieldType"))
        if not isinstance(name, str) or not name:
            raise SchemaError(f"schema: attributes[{i}].attributeName is missing")
        if not isinstance(kind, str) or kind.upper() not in TYPES:
            raise SchemaError(
                f"schema: attributes[{i}] ({name}): attributeType {kind!r} is not one of {', '.join(TYPES)}"
            )
        if name.lower() in folded:  # Spark resolves column names case-insensitively
            raise SchemaError(
                f"schema: attributes[{i}]: duplicate attributeName {name!r} (names are compared "
                "case-insensitively, as Spark resolves columns); rename one of them"
            )
        seen.add(name)
        folded.add(name.lower())
        attributes.append({"attributeName": name, "attributeType": kind.upper()})
    target = raw.get("targetAttributeName", raw.get("targetFieldName"))
    row_id = raw.get("rowId")
    excluded = list(raw.get("excludedAttributeNames", raw.get("excludedVariableNames")) or [])
    for field, value in (("targetAttributeName", target), ("rowId", row_id)):
        if value is not None and value not in seen:
            raise SchemaError(f"schema: {field} {value!r} is not an attribute")
    for name in excluded:
        if name not in seen:
            raise SchemaError(f"schema: excludedAttributeNames: {name!r} is not an attribute")
    return {
        "version": str(raw.get("version", "1.0")),
        "rowId": row_id,
        "targetAttributeName": target,
        "rowWeight": raw.get("rowWeight", raw.get("recordWeightFieldName")),
        "dataFormat": raw.get("dataFormat", "CSV"),
        "dataFileContainsHeader": bool(raw.get("dataFileContainsHeader", False)),
        "attributes": attributes,
        "excludedAttributeNames": excluded,
    }


def attribute_types(schema: Dict[str, Any]) -> Dict[str, str]:
    """Every attribute's name mapped to its type, in schema order."""
    return {a["attributeName"]: a["attributeType"] for a in schema["attributes"]}


def feature_attributes(schema: Dict[str, Any]) -> Dict[str, str]:
    """The attributes that may become features: all but the target, the rowId and the excluded ones."""
    drop = set(schema.get("excludedAttributeNames") or [])
    for key in ("targetAttributeName", "rowId"):
        if schema.get(key):
            drop.add(schema[key])
    return {name: kind for name, kind in attribute_types(schema).items() if name not in drop}


def target_type(schema: Dict[str, Any]) -> Optional[str]:
    """The target attribute's type, or None for a prediction schema without a target."""
    target = schema.get("targetAttributeName")
    return attribute_types(schema)[target] if target else None

"""JSON lines: `--json-mapping` (table column -> JSON path) and the from_json schema that reads them."""

from __future__ import annotations

import re
from typing import Dict, List

from pyspark.sql import functions as F
from pyspark.sql.types import MapType, StringType, StructField, StructType

from core.errors import UsageError

# JSON lines: target column -> JSON path(s); `a|b` takes the first present. Segment-style defaults.
JSON_TARGETS = {
    "event_ts": "string",
    "event": "string",
    "user_id": "string",
    "anonymous_id": "string",
    "properties": "map",
    "client": "string",
    "user": "string",
    "method": "string",
    "url": "string",
    "referrer": "string",
    "user_agent": "string",
    "status": "string",
    "bytes": "string",
}
DEFAULT_JSON_MAPPING = (
    "event_ts=timestamp,event=event|type,user_id=userId,anonymous_id=anonymousId,properties=properties,"
    "client=context.ip,user_agent=context.userAgent,url=context.page.url|properties.url,"
    "referrer=context.page.referrer|properties.referrer"
)
JSON_PATH = re.compile(r"^[A-Za-z0-9_$@-]+(\.[A-Za-z0-9_$@-]+)*$")


def parse_json_mapping(text: str) -> Dict[str, List[str]]:
    """`col=a.b|c,col2=d` -> {col: [a.b, c], col2: [d]}; defaults fill columns not named."""
    mapping = _parse_pairs(DEFAULT_JSON_MAPPING)
    if text and text != DEFAULT_JSON_MAPPING:
        mapping.update(_parse_pairs(text))
    if "event_ts" not in mapping:
        raise UsageError("--json-mapping: event_ts must be mapped (every row needs an event time)")
    for target, paths in mapping.items():
        for path in paths:
            head = path.split(".")[0]
            if JSON_TARGETS[target] == "map" and "." in path:
                raise UsageError(f"--json-mapping {target}={path}: a map column takes a top-level JSON object")
            for other, other_paths in mapping.items():
                if JSON_TARGETS[other] != "map" and head in other_paths and path != head:
                    raise UsageError(f"--json-mapping: {other}={head} is a string but {target}={path} reads inside it")
    return mapping


def _parse_pairs(text: str) -> Dict[str, List[str]]:
    pairs: Dict[str, List[str]] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        target, sep, paths = item.partition("=")
        target = target.strip()
        if not sep or target not in JSON_TARGETS:
            raise UsageError(
                f"--json-mapping {item!r}: give column=json.path with a column among {', '.join(JSON_TARGETS)}"
            )
        alternatives = [p.strip() for p in paths.split("|") if p.strip()]
        if not alternatives or not all(JSON_PATH.match(p) for p in alternatives):
            raise UsageError(f"--json-mapping {item!r}: the JSON path must be names joined by dots")
        pairs[target] = alternatives
    return pairs


def json_schema(mapping: Dict[str, List[str]]):
    """The from_json schema holding every mapped path: nested structs of strings, maps for map columns."""
    map_heads = {paths[0] for target, paths in mapping.items() if JSON_TARGETS[target] == "map"}
    map_heads |= {p for target, paths in mapping.items() if JSON_TARGETS[target] == "map" for p in paths}
    tree: dict = {}
    for paths in mapping.values():
        for path in paths:
            parts = path.split(".")
            if parts[0] in map_heads:
                tree[parts[0]] = "map"
                continue
            node = tree
            for part in parts[:-1]:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
            node.setdefault(parts[-1], "string")

    def build(node: dict) -> StructType:
        fields = []
        for name, child in sorted(node.items()):
            if child == "map":
                kind = MapType(StringType(), StringType())
            elif child == "string":
                kind = StringType()
            else:
                kind = build(child)
            fields.append(StructField(name, kind))
        return StructType(fields)

    schema = build(tree)
    return schema.add("_corrupt", StringType()), map_heads


def json_value(js, path: str, map_heads):
    """The column reading one JSON path out of the parsed struct `js`."""
    parts = path.split(".")
    if parts[0] in map_heads and len(parts) > 1:
        return F.try_element_at(js[parts[0]], F.lit(".".join(parts[1:])))
    column = js
    for part in parts:
        column = column[part]
    return column

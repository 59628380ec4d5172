"""A datasource's DataRearrangement applied in pure Python, as train's split cuts the same rows.

An evaluation or batch prediction datasource with a DataRearrangement is written out as the chosen rows
(`<lake>/aml/data/<entity id>/rows.csv` and its schema) before evaluate or score runs on it. The rules are
ml.datasource's and ml.split's: a row's position counts every line of the files in name order (headers and
blank lines included); lines that break the CSV rules, and with a target rows whose target is missing or
invalid, are not rows; sequential ranges cut at the rows whose rank is ceil(percent x rows) (what Spark's
approxQuantile returns exactly up to 10,000 rows: beyond that its boundary may move by 0.01 % of the rows).
A random rearrangement is refused here (its hash is Spark's xxhash64): train honours it on a training
datasource, and an evaluation datasource should repeat it with "complement" on the same file instead.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import posixpath
from typing import Any, Dict, List, Optional, Tuple

from jobs.aml import recipe_eval as rx
from jobs.common import lake, objects

MAX_OBSERVATION_BYTES = 100 * 1024


def data_files(uri: str) -> List[str]:
    """The datasource's files: the file itself, or every visible non-schema file under the prefix."""
    listed = objects.list_files(uri)
    if len(listed) == 1 and listed[0][0] == lake.normalize_uri(uri):
        return [listed[0][0]]
    base = lake.normalize_uri(uri)
    out = []
    for found, _ in listed:
        parts = found[len(base) :].strip("/").split("/")
        if not any(p.startswith(("_", ".")) for p in parts) and not found.endswith(".schema"):
            out.append(found)
    return out


def file_lines(uri: str) -> List[str]:
    """The lines of one file (plain or gzip), split as Spark's text reader splits them."""
    import re

    data = objects.read_bytes(uri) or b""
    if uri.endswith(".gz"):
        data = gzip.decompress(data)
    lines = re.split(r"\r\n|\r|\n", data.decode("utf-8", errors="replace"))
    return lines[:-1] if lines and lines[-1] == "" else lines


def good_row(raw: str, attributes: Dict[str, str], target: Optional[str]) -> bool:
    """Whether a line is an observation that reading keeps (CSV rules; the target present and valid)."""
    if len(raw.encode("utf-8")) > MAX_OBSERVATION_BYTES or raw.count('"') % 2 == 1:
        return False
    values = next(csv.reader([raw]), [])
    if len(values) != len(attributes):
        return False
    if target is None:
        return True
    value = dict(zip(attributes, values)).get(target)
    try:
        return rx.typed(value, attributes[target]) is not None
    except ValueError:
        return False


def positioned_rows(files: List[str], schema: Dict[str, Any], require_target: bool) -> List[Tuple[int, str]]:
    """(position, line) of every kept observation, in input order."""
    from features.schema import attribute_types

    attributes = attribute_types(schema)
    target = schema.get("targetAttributeName") if require_target else None
    rows, position = [], 0
    for uri in files:
        for number, raw in enumerate(file_lines(uri)):
            header = number == 0 and schema.get("dataFileContainsHeader")
            if not header and raw.strip(" ") != "" and good_row(raw, attributes, target):
                rows.append((position, raw))
            position += 1
    return rows


def chosen(rows: List[Tuple[int, str]], rearrangement: str) -> List[str]:
    """The lines a DataRearrangement keeps (ml.split rules; complement swaps)."""
    from ml.split import parse_split

    split = parse_split(rearrangement)
    if split.strategy != "sequential":
        raise ValueError(
            f"a {split.strategy} DataRearrangement is applied by train only; "
            "for evaluation or prediction use a sequential range"
        )
    positions = [p for p, _ in rows]

    def cut(percent: float) -> float:
        q = percent / 100.0
        if not positions or q <= 1e-4:
            return positions[0] if positions else 0
        if q >= 1 - 1e-4:
            return positions[-1]
        return positions[max(0, math.ceil(q * len(positions)) - 1)]

    low, high = cut(split.percent_begin), cut(split.percent_end)
    inside = [(split.percent_begin == 0 or p >= low) and (split.percent_end == 100 or p < high) for p, _ in rows]
    return [raw for (_, raw), keep in zip(rows, inside) if keep != split.complement]


def materialize(
    store_root: str, entity_id: str, data_uri: str, schema: Dict[str, Any], rearrangement: str, require_target: bool
) -> Tuple[str, str]:
    """Write the rearranged rows and their schema under <lake>/aml/data/<entity id>/; returns (data, schema) URIs."""
    lines = chosen(positioned_rows(data_files(data_uri), schema, require_target), rearrangement)
    folder = lake.join(store_root, "aml", "data", entity_id)
    data = lake.join(folder, posixpath.basename("rows.csv"))
    objects.write_bytes(data, ("\n".join(lines) + "\n").encode("utf-8"))
    schema_uri = data + ".schema"
    objects.write_bytes(schema_uri, json.dumps({**schema, "dataFileContainsHeader": False}).encode("utf-8"))
    return data, schema_uri

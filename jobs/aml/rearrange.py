"""A datasource's DataRearrangement applied in pure Python, as train's split cuts the same rows.

An evaluation or batch prediction datasource with a DataRearrangement is written out as the chosen rows
(`<lake>/aml/data/<entity id>/rows.csv` and its schema) before evaluate or score runs on it. The rules are
ml.datasource's and ml.split's: a row's position counts every line of the files in name order (headers and
blank lines included); lines that break the CSV rules, and with a target rows whose target is missing or
invalid, are not rows; sequential ranges cut at the rows whose rank is ceil(percent x rows) (what Spark's
approxQuantile returns exactly below 5,000 rows: beyond that its boundary may move by 0.01 % of the rows).
A random range keeps the rows whose number pmod(xxhash64(randomSeed, position), 1e6) / 1e4 falls in it,
Spark's xxhash64 (seed 42, the string's UTF-8 bytes, then the position as a long) computed here, so it is exact.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import posixpath
from typing import Any, Dict, List, Optional, Tuple

from core import lake, objects
from jobs.aml import recipe_eval as rx

MAX_OBSERVATION_BYTES = 100 * 1024


_P1, _P2, _P3, _P4, _P5 = (
    0x9E3779B185EBCA87,
    0xC2B2AE3D27D4EB4F,
    0x165667B19E3779F9,
    0x85EBCA77C2B2AE63,
    0x27D4EB2F165667C5,
)
_M64 = 0xFFFFFFFFFFFFFFFF


def _rotl64(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _M64


def _round(acc: int, lane: int) -> int:
    return (_rotl64((acc + lane * _P2) & _M64, 31) * _P1) & _M64


def xxh64(data: bytes, seed: int) -> int:
    """XXH64 of bytes as a signed long (Spark's XXH64.hashUnsafeBytes; hashLong is the 8-byte case)."""
    seed &= _M64
    n, i = len(data), 0
    if n >= 32:
        v = [(seed + _P1 + _P2) & _M64, (seed + _P2) & _M64, seed, (seed - _P1) & _M64]
        while i + 32 <= n:
            v = [_round(v[k], int.from_bytes(data[i + 8 * k : i + 8 * k + 8], "little")) for k in range(4)]
            i += 32
        h = (_rotl64(v[0], 1) + _rotl64(v[1], 7) + _rotl64(v[2], 12) + _rotl64(v[3], 18)) & _M64
        for lane in v:
            h = (((h ^ _round(0, lane)) * _P1) + _P4) & _M64
    else:
        h = (seed + _P5) & _M64
    h = (h + n) & _M64
    while i + 8 <= n:
        h = (_rotl64(h ^ _round(0, int.from_bytes(data[i : i + 8], "little")), 27) * _P1 + _P4) & _M64
        i += 8
    if i + 4 <= n:
        h = (_rotl64(h ^ (int.from_bytes(data[i : i + 4], "little") * _P1 & _M64), 23) * _P2 + _P3) & _M64
        i += 4
    while i < n:
        h = (_rotl64(h ^ (data[i] * _P5 & _M64), 11) * _P1) & _M64
        i += 1
    h = ((h ^ (h >> 33)) * _P2) & _M64
    h = ((h ^ (h >> 29)) * _P3) & _M64
    h ^= h >> 32
    return h - (1 << 64) if h >> 63 else h


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
    if split.strategy == "random":
        seed = xxh64(split.random_seed.encode("utf-8"), 42)
        numbers = [(xxh64(p.to_bytes(8, "little", signed=True), seed) % 1_000_000) / 10_000.0 for p, _ in rows]
        inside = [split.percent_begin <= n < split.percent_end for n in numbers]
        return [raw for (_, raw), keep in zip(rows, inside) if keep != split.complement]
    if split.strategy != "sequential":
        raise ValueError(f"a {split.strategy} DataRearrangement is applied by train only")
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

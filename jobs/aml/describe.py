"""Describe* as the API defines it: one FilterVariable compared with EQ/GT/LT/GE/LE/NE/Prefix, sorted by that
variable (then id) in SortOrder, Limit per page (1-100, default 100) and an opaque NextToken.

Deleted entities are listed only when asked for (FilterVariable Status, EQ DELETED), so a waiter over every
entity of a kind is not failed or held by what was deleted (lakeml's choice).
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any, Dict, List, Optional, Tuple

from jobs.aml.entities import KINDS, public
from jobs.aml.protocol import invalid, shape_members

FIELDS = {
    "IAMUser": "CreatedByIamUser",
    "TrainingDataURI": "InputDataLocationS3",
    "DataURI": "InputDataLocationS3",
}
KIND_DATASOURCE_FIELD = {"Evaluation": "EvaluationDataSourceId", "BatchPrediction": "BatchPredictionDataSourceId"}
OPERATORS = ("EQ", "GT", "LT", "GE", "LE", "NE", "Prefix")


def field_value(kind: str, doc: Dict[str, Any], variable: str) -> Any:
    """The document's value of a FilterVariable."""
    if variable == "RealtimeEndpointStatus":
        return (doc.get("EndpointInfo") or {}).get("EndpointStatus")
    if variable == "DataSourceId" and kind in KIND_DATASOURCE_FIELD:
        return doc.get(KIND_DATASOURCE_FIELD[kind])
    return doc.get(FIELDS.get(variable, variable))


def _comparable(value: Any, timestamp: bool) -> Any:
    if value is None:
        return 0.0 if timestamp else ""
    if not timestamp:
        return str(value)
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        pass
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise invalid(f"{value!r} is not a timestamp (epoch seconds or ISO 8601)") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)).timestamp()


def matches(value: Any, params: Dict[str, Any], timestamp: bool) -> bool:
    """Whether a value passes every comparison the request gives."""
    mine = _comparable(value, timestamp)
    for op in OPERATORS:
        if op not in params:
            continue
        if op == "Prefix":
            if not str(value or "").startswith(params[op]):
                return False
            continue
        other = _comparable(params[op], timestamp)
        ok = {
            "EQ": mine == other,
            "NE": mine != other,
            "GT": mine > other,
            "LT": mine < other,
            "GE": mine >= other,
            "LE": mine <= other,
        }[op]
        if not ok:
            return False
    return True


def page(docs: List[Dict[str, Any]], token: Optional[str], limit: int) -> Tuple[List[Dict[str, Any]], Optional[str]]:
    """One page from an offset token; the next token when more remain."""
    try:
        start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
    except (ValueError, UnicodeDecodeError):
        raise invalid(f"NextToken {token!r} was not given by this API") from None
    chunk = docs[start : start + limit]
    more = start + limit < len(docs)
    return chunk, base64.urlsafe_b64encode(str(start + limit).encode()).decode() if more else None


def describe(kind: str, docs: List[Dict[str, Any]], params: Dict[str, Any]) -> Dict[str, Any]:
    """The Describe<kind>s answer over every document of the kind."""
    variable = params.get("FilterVariable")
    if any(op in params for op in OPERATORS) and not variable:
        raise invalid("a comparison (EQ, GT, ...) needs a FilterVariable")
    timestamp = variable in ("CreatedAt", "LastUpdatedAt")
    wants_deleted = variable == "Status" and params.get("EQ") == "DELETED"
    kept = [d for d in docs if d.get("Status") != "DELETED" or wants_deleted]
    if variable:
        kept = [d for d in kept if matches(field_value(kind, d, variable), params, timestamp)]
    id_field = KINDS[kind][1]
    sort_by = variable or "CreatedAt"
    kept.sort(
        key=lambda d: (
            _comparable(field_value(kind, d, sort_by), sort_by in ("CreatedAt", "LastUpdatedAt")),
            d[id_field],
        ),
        reverse=params.get("SortOrder") == "dsc",
    )
    chunk, token = page(kept, params.get("NextToken"), int(params.get("Limit", 100)))
    members = set(shape_members(kind))
    answer: Dict[str, Any] = {"Results": [{k: v for k, v in public(d).items() if k in members} for d in chunk]}
    if token:
        answer["NextToken"] = token
    return answer

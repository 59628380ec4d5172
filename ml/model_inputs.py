"""What a registered model reads: its attributes and their types, checked against an input before any Spark work.

score and evaluate share these rules: a feature attribute of the model missing from the input, or declared
with another type, is exit 2 naming it; evaluate also needs the target (docs/scoring.md).
"""

from __future__ import annotations

from typing import Any, Dict

from core.errors import UsageError
from ml.version_record import VersionRecord


def model_attributes(meta: VersionRecord) -> Dict[str, str]:
    """The attributes the model reads, with their types (its schema's feature attributes; RECOMMEND: the user)."""
    from features.schema import attribute_types, feature_attributes, load_schema

    schema = load_schema(meta.schema)
    if meta.model_type == "RECOMMEND":
        user = meta.recommend["user_col"]
        return {user: attribute_types(schema).get(user, "CATEGORICAL")}
    return feature_attributes(schema)


def check_columns(available: Dict[str, str], needed: Dict[str, str], where: str, version: str) -> None:
    """Exit 2 when a needed attribute is missing or declared with another type."""
    missing = [n for n in needed if n not in available]
    if missing:
        raise UsageError(
            f"{where}: attribute(s) {', '.join(missing)} that model {version} needs are missing "
            f"(it reads {', '.join(f'{n} {k}' for n, k in needed.items())}); add them to the input"
        )
    wrong = [f"{n} is {available[n]}, the model's is {k}" for n, k in needed.items() if available[n] not in (k, None)]
    if wrong:
        raise UsageError(f"{where}: attribute type(s) differ from model {version}'s schema: {'; '.join(wrong)}")


def check_target(schema: Dict[str, Any], where: str) -> str:
    """The target an evaluation datasource must carry; exit 2 when its schema has none among its attributes."""
    from features.schema import attribute_types

    target = schema.get("targetAttributeName")
    if not target or target not in attribute_types(schema):
        raise UsageError(
            f"{where}: the datasource has no target"
            + (f" ({target} is not one of its attributes)" if target else "")
            + "; evaluate needs labelled rows (use score for unlabelled ones)"
        )
    return target

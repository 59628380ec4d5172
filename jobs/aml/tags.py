"""AddTags, DeleteTags and DescribeTags: key/value tags kept in the entity document (at most 100 per resource)."""

from __future__ import annotations

from typing import Any, Callable, Dict

from jobs.aml.protocol import AmlError

MAX_TAGS = 100


def _tagged(ctx, p: Dict[str, Any], change: Callable[[Dict[str, Any]], None]) -> Dict[str, Any]:
    ctx.store.update(p["ResourceType"], p["ResourceId"], change)
    return {"ResourceId": p["ResourceId"], "ResourceType": p["ResourceType"]}


def add_tags(ctx, p: Dict[str, Any]) -> Dict[str, Any]:
    def change(doc: Dict[str, Any]) -> None:
        tags = {t["Key"]: t.get("Value", "") for t in doc.get("_tags", [])}
        tags.update({t["Key"]: t.get("Value", "") for t in p["Tags"]})
        if len(tags) > MAX_TAGS:
            raise AmlError("TagLimitExceededException", f"at most {MAX_TAGS} tags per resource")
        doc["_tags"] = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]

    return _tagged(ctx, p, change)


def delete_tags(ctx, p: Dict[str, Any]) -> Dict[str, Any]:
    def change(doc: Dict[str, Any]) -> None:
        doc["_tags"] = [t for t in doc.get("_tags", []) if t["Key"] not in set(p["TagKeys"])]

    return _tagged(ctx, p, change)


def describe_tags(ctx, p: Dict[str, Any]) -> Dict[str, Any]:
    doc = ctx.store.get(p["ResourceType"], p["ResourceId"])
    return {"ResourceId": p["ResourceId"], "ResourceType": p["ResourceType"], "Tags": doc.get("_tags", [])}

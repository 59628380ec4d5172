"""score's settings: its flags as `validate` checked them, URIs normalized."""

from __future__ import annotations

from typing import Optional

from core.conf import ConfModel, Field


class ScoreSettings(ConfModel):
    """The flags of score (declared with their help in `add_arguments`), frozen after validate."""

    name: str
    version: Optional[str] = None
    data: Optional[str] = None  # URIs normalized (normalize_uri)
    schema_uri: Optional[str] = Field(default=None, alias="schema")  # --schema (BaseModel has .schema)
    features: Optional[str] = None
    table: Optional[str] = None
    top_k: int = 10
    csv: Optional[str] = None

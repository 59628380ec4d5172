"""ingest_logs's settings: its flags as `validate` checked them, with the JSON mapping parsed."""

from __future__ import annotations

from typing import Dict, List

from core.conf import ConfModel


class IngestLogsSettings(ConfModel):
    """The flags of ingest_logs (declared with their help in `add_arguments`), frozen after validate."""

    source: str
    input: str  # normalized (normalize_uri)
    format: str = "auto"
    json_mapping: str  # --json-mapping as given
    mapping: Dict[str, List[str]]  # --json-mapping parsed: column -> JSON paths
    max_reject_fraction: float
    reprocess: bool = False
    drop_missing: bool = False
    require_new: bool = False

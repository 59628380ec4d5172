"""What a feature set says about itself beside its rows: `<lake>/features/<set>/_set.json`.

build_features writes the set's row key (the base table's key column, or `window_id` for time
windows) there on every publish; score makes it the `tag` of every row it scores from the set, so a
prediction can be joined back to the row it predicts (docs/scoring.md, "Row keys").
"""

from __future__ import annotations

import json
from typing import List, Optional

from core.lake import join, read_text, write_text

SET_FILE = "_set.json"


def write_set_key(spark, set_uri: str, feature_set: str, key: str) -> None:
    """Record the set's row key."""
    write_text(spark, join(set_uri, SET_FILE), json.dumps({"feature_set": feature_set, "key": key}) + "\n")


def set_key(spark, set_uri: str, columns: List[str]) -> Optional[str]:
    """The set's row key column: as recorded, else `window_id` for a window set written before the record."""
    text = read_text(spark, join(set_uri, SET_FILE))
    key = json.loads(text).get("key") if text else ("window_id" if "window_id" in columns else None)
    return key if key in columns else None

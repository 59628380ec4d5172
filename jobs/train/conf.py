"""train's settings: its flags as `validate` checked them, with what it derived from them."""

from __future__ import annotations

from typing import Any, Dict, Optional

from core.conf import ConfModel, Field
from ml.split import Split


class TrainSettings(ConfModel):
    """The flags of train (declared with their help in `add_arguments`), frozen after validate."""

    name: str
    model_type: str
    data: Optional[str] = None  # URIs normalized (normalize_uri)
    schema_uri: Optional[str] = Field(default=None, alias="schema")  # --schema (BaseModel has .schema)
    recipe: Optional[str] = None
    table: Optional[str] = None
    features: Optional[str] = None
    since: Optional[str] = None
    algorithm: str  # --algorithm, or the type's default (ml.algorithms.check_algorithm)
    params: Optional[str] = None  # --params as given (the version records it as amazon_params)
    mllib_params: Dict[str, Any]  # --params mapped to MLlib's names
    hints: Dict[str, Any]  # the Amazon ML parameters that are not MLlib's (maxModelBytes, ...)
    split: Optional[str] = None
    split_spec: Split  # --split parsed
    tune: bool = False
    folds: Optional[int] = None
    class_weight: str = "none"
    num_features: int = 2**18
    layout: str = "auto"
    weighting: str = "binary"
    cutoff: float = 0.5
    min_gain: float = 0.0
    k: int = 10
    refit: bool = False
    implicit: bool = False
    user_col: Optional[str] = None
    item_col: Optional[str] = None
    rating_col: Optional[str] = None

    @property
    def input_flag(self) -> str:
        """The input form's flag: data, table or features."""
        return next(flag for flag in ("data", "table", "features") if getattr(self, flag))

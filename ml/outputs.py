"""The columns a scored row has, decided once at train time so every champion can be scored.

A MULTICLASS version stores one probability column per class, named after the class label. Spark
resolves column names case-insensitively, so a label is made into a column name that differs, after
case folding, from every reserved output column and from every other class column: characters Delta
or Spark SQL treat specially (space , ; { } ( ) newline tab = . and backtick) become `_`, a name that
is reserved in any case or starts with `_` is prefixed `p_`, the empty label is `p__`, and a name
equal to an earlier one (in any case) gets `_` appended until it is unique. train records the names
in the version's metadata (`class_columns`); score reads them from there.
"""

from __future__ import annotations

import re
from typing import List

from ml.version_record import VersionRecord

RESERVED = ("tag", "bestAnswer", "score", "model_version", "run_id", "run_date", "user", "item", "rank")
_RESERVED_FOLDED = {name.lower() for name in RESERVED}
_BAD_CHARS = re.compile(r"[ ,;{}()\n\t=.`]")


def class_columns(classes: List[str]) -> List[str]:
    """Probability column names of the class labels, unique and not reserved whatever the case."""
    out: List[str] = []
    taken = set(_RESERVED_FOLDED)
    for label in classes:
        name = _BAD_CHARS.sub("_", str(label)) or "_"
        if name.lower() in _RESERVED_FOLDED or name.startswith("_"):
            name = "p_" + name
        while name.lower() in taken:
            name = name + "_"
        taken.add(name.lower())
        out.append(name)
    return out


def version_cutoff(meta: VersionRecord) -> float:
    """A BINARY version's cut-off (bestAnswer is 1 when score >= it): the one train recorded, 0.5 when none was."""
    cutoff = meta.cutoff
    return 0.5 if cutoff is None else float(cutoff)

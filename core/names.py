"""The one rule for every name that becomes a folder of the lake or a file under it.

Model names (`--name`, a CONF's `train[].name`), tables (`--table`), feature sets (`--features`),
report names and run ids all become one path segment: `models/<name>/`, `tables/<name>/`,
`_runs/<job>/<date>/<run_id>.json`. A name is 1-200 characters, letters, digits, `_`, `.` and `-`,
starting with a letter or digit, matched whole (a trailing newline is not part of a name), so it
can never be `..`, hold a slash, or differ from the folder it names.
"""

from __future__ import annotations

import re

from core.errors import UsageError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")
NAME_RULE = "1-200 letters, digits, '_', '.' or '-', starting with a letter or digit"


def is_name(value: object) -> bool:
    """Whether a value is a valid lake name (a whole match, nothing before or after)."""
    return isinstance(value, str) and NAME.fullmatch(value) is not None


def check_name(value: object, what: str) -> str:
    """The value when it is a valid lake name; UsageError naming `what` (a flag or CONF field) otherwise."""
    if not is_name(value):
        raise UsageError(f"{what} {value!r}: a name is {NAME_RULE}")
    return value  # type: ignore[return-value]

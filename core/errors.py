"""The errors a job raises on purpose, each mapped to an exit code of the job contract."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_GATE = 3


class LakemlError(Exception):
    """Base class: a failure whose message tells the user what to do next."""

    exit_code = EXIT_FAILED


class UsageError(LakemlError):
    """A bad flag or config value; the message names the flag or field (exit 2)."""

    exit_code = EXIT_USAGE


class QualityGateError(LakemlError):
    """Too many rejected rows: nothing was published (exit 3)."""

    exit_code = EXIT_GATE

    def __init__(self, message: str, counts: dict | None = None):
        super().__init__(message)
        self.counts = counts or {}

"""Logging through the `lakeml` logger: one line per stage with counts and seconds."""

from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager
from typing import Iterator

logger = logging.getLogger("lakeml")


def configure_logging(level: str = "INFO") -> None:
    """Send `lakeml` log lines to stderr, so stdout stays for the report and the summary."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s lakeml %(levelname)s %(message)s"))
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False


@contextmanager
def stage(name: str) -> Iterator[dict]:
    """Time a stage; counts put in the yielded dict are logged with the seconds."""
    counts: dict = {}
    started = time.monotonic()
    yield counts
    seconds = time.monotonic() - started
    detail = " ".join(f"{k}={v}" for k, v in counts.items())
    logger.info("stage %s: %s seconds=%.2f", name, detail, seconds)

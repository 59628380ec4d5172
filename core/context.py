"""What a run is and what it was asked to do, both frozen once the flags are parsed.

`RunContext` is the same for every job: which job, its run id, its run date and its lake. A job's
settings are what `validate(args)` returns: a frozen `ConfModel` of the job's own flags with the
values derived from them (parsed JSON, normalized URIs, a parsed CONF). A job that derives nothing
takes `flag_settings(args)`, its own flags as a frozen dataclass. `run(spark, context, settings)`
reads both and changes neither.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, make_dataclass
from typing import Any, Dict, Type, TypeVar

from core.lake import Lake

# flags of core.cli.base_parser: they make the RunContext or steer the process, never a job's settings
COMMON_FLAGS = ("lake", "run_date", "run_id", "master", "log_level")

S = TypeVar("S")


@dataclass(frozen=True)
class RunContext:
    """The run: job name, run id, run date (YYYY-MM-DD) and lake."""

    job: str
    run_id: str
    run_date: str
    lake: Lake


def job_flags(args: argparse.Namespace) -> Dict[str, Any]:
    """The job's own flags of a parsed Namespace (the common ones left out)."""
    return {name: value for name, value in vars(args).items() if name not in COMMON_FLAGS}


def flag_settings(args: argparse.Namespace) -> Any:
    """The settings of a job that derives nothing from its flags: its own flags, frozen."""
    flags = job_flags(args)
    return make_dataclass("Flags", list(flags), frozen=True)(**flags)


def settings_from(model: Type[S], args: argparse.Namespace, **derived: Any) -> S:
    """A job's settings model from its own flags, with derived values added or replacing flags."""
    return model(**{**job_flags(args), **derived})

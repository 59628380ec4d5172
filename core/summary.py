"""The run summary of the job contract: one JSON per run, stored in the lake and printed last."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Dict, List

STATUS_SUCCEEDED = "succeeded"
STATUS_FAILED = "failed"
STATUS_GATE_TRIPPED = "gate_tripped"


@dataclass
class RunSummary:
    """What a run read, wrote and rejected. `counts` holds the job-specific figures."""

    job: str
    run_id: str
    run_date: str
    status: str = STATUS_SUCCEEDED
    inputs: List[str] = field(default_factory=list)
    outputs: List[str] = field(default_factory=list)
    rows_in: int = 0
    rows_out: int = 0
    rows_rejected: int = 0
    seconds: float = 0.0
    counts: Dict[str, object] = field(default_factory=dict)
    message: str = ""
    exit_code: int = 0  # the process's exit code (0/1/2/3), so a launcher reading the lake gives the same

    def balanced(self) -> bool:
        """The conservation rule: every row read was written or rejected."""
        return self.rows_in == self.rows_out + self.rows_rejected

    def to_json(self) -> str:
        """One line of JSON, keys in a stable order."""
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        return json.dumps(data, sort_keys=False, default=str)


def parse_summary(line: str) -> RunSummary:
    """Read back a summary printed or stored by a run."""
    return RunSummary(**json.loads(line))

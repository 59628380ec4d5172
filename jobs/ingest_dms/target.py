"""Where one table's input, outputs and ledger are (`Target`), and what one table's run did (`TableResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from core.lake import Lake, join, spark_uri
from jobs.ingest_dms.batch import LEDGER_NAME
from jobs.ingest_dms.conf import TableSpec

JOB = "ingest_dms"


@dataclass
class TableResult:
    """What one table's run did."""

    name: str
    rows_in: int = 0
    rows_rejected: int = 0
    ops: Dict[str, int] = field(default_factory=dict)
    files_applied: int = 0
    batch: int = 0
    full_load: bool = False
    rows_in_table: int = 0
    added_columns: List[str] = field(default_factory=list)
    merge: Dict[str, int] = field(default_factory=dict)
    apply_plan: Optional[Dict[str, str]] = None  # {"plan", "why"} of a CDC batch
    optimize: Optional[Dict[str, float]] = None
    outputs: List[str] = field(default_factory=list)
    inputs: List[str] = field(default_factory=list)
    files_ignored: int = 0
    empty_files: List[str] = field(default_factory=list)


@dataclass
class Target:
    """Where one table's input, outputs and ledger are, and the ids its Delta commits carry."""

    spec: TableSpec
    base: str
    table_uri: str
    history_uri: str
    ledger_uri: str
    app_id: str

    @classmethod
    def of(cls, lake: Lake, input_uri: str, spec: TableSpec) -> Target:
        """The table's places: its DMS folder under --input, its tables and ledger in the lake."""
        return cls(
            spec,
            join(input_uri, spec.schema, spec.table),
            lake.table(spec.table_name),
            lake.table(spec.history_name),
            lake.state(JOB, spec.schema, spec.table, LEDGER_NAME),
            f"lakeml.{JOB}:{spec.table_name}",
        )

    @property
    def path(self) -> str:
        return spark_uri(self.table_uri)

    @property
    def hpath(self) -> str:
        return spark_uri(self.history_uri)

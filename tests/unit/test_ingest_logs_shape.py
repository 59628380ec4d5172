"""The ingest_logs package: every public name importable from its home and from the package; sizes kept small."""

from __future__ import annotations

import ast
import importlib
import os

import jobs.ingest_logs as il

PACKAGE = os.path.dirname(il.__file__)
MODULES = sorted(name[:-3] for name in os.listdir(PACKAGE) if name.endswith(".py") and name != "__init__.py")


def test_every_name_the_package_exports_is_there():
    assert [name for name in il.__all__ if not hasattr(il, name)] == []
    assert callable(il.run) and callable(il.add_arguments) and callable(il.validate) and il.HELP


def test_public_transforms_live_in_their_modules():
    homes = {
        "parse": ["parse_lines"],
        "compiled": ["AccessLineParser", "compiled_parse", "compiled_time", "access_parser"],
        "access_regex": ["access_event_micros", "is_bot", "query_map"],
        "conf": ["IngestLogsSettings"],
        "json_lines": ["parse_json_mapping", "json_schema"],
        "reading": ["read_lines", "sniff_format", "first_lines"],
        "stats": ["line_stats", "compiled_times", "not_compiled", "facts"],
        "table": ["table_rows", "rejected_rows", "compiled_rows", "write_table", "write_quarantine"],
        "steps": ["plan_input", "count_lines", "gate", "publish_table", "publish_rejects", "record_ledger"],
    }
    for module, names in homes.items():
        loaded = importlib.import_module(f"jobs.ingest_logs.{module}")
        assert [n for n in names if not callable(getattr(loaded, n, None))] == [], module
    assert sorted(homes) == MODULES


def test_no_module_over_400_lines_and_no_function_over_60():
    for name in ["__init__", *MODULES]:
        with open(os.path.join(PACKAGE, f"{name}.py"), encoding="utf-8") as handle:
            text = handle.read()
        assert len(text.splitlines()) <= 400, name
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef):
                assert node.end_lineno - node.lineno + 1 <= 60, f"{name}.{node.name}"

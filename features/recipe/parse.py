"""Recipe text to a checked recipe: `//` comments dropped, sections checked, expressions parsed, errors located."""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Optional, Tuple, Union

from features.recipe.expressions import ExpressionSyntaxError, parse_expr

SECTIONS = ("groups", "assignments", "outputs")
_NAME_OK = re.compile(r"^[A-Za-z][^,'\"\s()\\]{0,63}$")


class RecipeError(ValueError):
    """An invalid recipe; the message names where (section, key, line/column) and what is wrong."""


class Recipe(dict):
    """A parsed recipe: a plain dict plus `.positions` ((section, key) -> (line, column) in the text)."""

    positions: Dict[Tuple[str, Union[str, int]], Tuple[int, int]]


def _blank_comments(text: str) -> str:
    """`//` line comments outside JSON strings replaced by spaces (positions are kept)."""
    out = list(text)
    in_str = False
    i = 0
    while i < len(text):
        ch = text[i]
        if in_str:
            if ch == "\\":
                i += 2
                continue
            if ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = len(text) if j < 0 else j
            for k in range(i, j):
                out[k] = " "
            i = j
            continue
        i += 1
    return "".join(out)


def _line_col(text: str, offset: int) -> Tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def parse_recipe(text: str) -> Recipe:
    """Parse recipe text (JSON with `//` comments); syntax errors name the line and column."""
    clean = _blank_comments(text)
    try:
        raw = json.loads(clean)
    except json.JSONDecodeError as exc:
        raise RecipeError(f"recipe: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    positions: Dict[Tuple[str, Union[str, int]], Tuple[int, int]] = {}
    if isinstance(raw, dict):
        cursor = 0
        for section in SECTIONS:
            value = raw.get(section)
            items = list(value.items()) if isinstance(value, dict) else list(enumerate(value or []))
            for key, expr in items:
                if not isinstance(expr, str):
                    continue
                found = clean.find(json.dumps(expr, ensure_ascii=False), cursor)
                if found < 0:
                    found = clean.find(json.dumps(expr), cursor)
                if found >= 0:
                    positions[(section, key)] = _line_col(clean, found + 1)
                    cursor = found + 1
    recipe = Recipe(check_recipe(raw, positions))
    recipe.positions = positions
    return recipe


def location(section: str, key: Union[str, int], expr: str, column: Optional[int], positions: Dict) -> str:
    """Where an expression is, for messages: `section.key 'expr' (line L, column C)` as far as known."""
    label = f"{section}[{key}]" if isinstance(key, int) else f"{section}.{key}"
    place = f"{label} {expr.strip()!r}"
    if (section, key) in positions:
        line, col = positions[(section, key)]
        if column is not None:
            return f"{place} (line {line}, column {col + column - 1})"
        return f"{place} (line {line})"
    return f"{place} (column {column})" if column is not None else place


def check_recipe(raw: Any, positions: Optional[Dict] = None) -> Dict[str, Any]:
    """Check the sections and parse every expression; returns the recipe as a plain dict."""
    positions = positions or {}
    if not isinstance(raw, dict):
        raise RecipeError("recipe: expected a JSON object with groups, assignments and outputs")
    unknown = [k for k in raw if k not in SECTIONS]
    if unknown:
        raise RecipeError(f"recipe: unknown section {unknown[0]!r} (sections are groups, assignments, outputs)")
    order = [k for k in raw if k in SECTIONS]
    if order != sorted(order, key=SECTIONS.index):
        raise RecipeError("recipe: sections must appear in the order groups, assignments, outputs")
    outputs = raw.get("outputs")
    if not outputs:
        raise RecipeError(
            "recipe: outputs is empty or missing; list at least one output (Amazon ML rejects such recipes)"
        )
    if not isinstance(outputs, list):
        raise RecipeError("recipe: outputs must be a list of expressions")
    for section in ("groups", "assignments"):
        if not isinstance(raw.get(section, {}), dict):
            raise RecipeError(f"recipe: {section} must be an object of name: expression")
    for section in SECTIONS:
        value = raw.get(section) or ({} if section != "outputs" else [])
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, expr in items:
            if not isinstance(expr, str):
                raise RecipeError(
                    f"{location(section, key, str(expr), None, positions)}: expected an expression string"
                )
            if section != "outputs" and not _NAME_OK.match(key):
                raise RecipeError(
                    f"{location(section, key, expr, None, positions)}: invalid name {key!r} "
                    "(1-64 characters, starting with a letter, no , ' \" ( ) \\ or whitespace)"
                )
            try:
                parse_expr(expr)
            except ExpressionSyntaxError as exc:
                raise RecipeError(f"{location(section, key, expr, exc.column, positions)}: {exc.problem}") from None
    return {
        "groups": dict(raw.get("groups") or {}),
        "assignments": dict(raw.get("assignments") or {}),
        "outputs": list(outputs),
    }

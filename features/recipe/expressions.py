"""Recipe expressions: the tokenizer, the parser to Name / Int / Call trees, and name quoting."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

_SPECIAL = set(",'\"()\\")


@dataclass
class Name:
    name: str
    pos: int


@dataclass
class Int:
    value: int
    pos: int


@dataclass
class Call:
    fn: str
    args: List[Any]
    pos: int


def strip_comment(expr: str) -> str:
    """The expression without its `//` comment (a `//` inside quotes is kept)."""
    quote = None
    for i, ch in enumerate(expr):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif expr.startswith("//", i):
            return expr[:i]
    return expr


def tokenize_expr(expr: str) -> List[Tuple[str, str, int]]:
    """(kind, text, column) tokens of an expression: name, qname, int, '(', ')', ','."""
    body = strip_comment(expr)
    tokens: List[Tuple[str, str, int]] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch.isspace():
            i += 1
        elif ch in "(),":
            tokens.append((ch, ch, i + 1))
            i += 1
        elif ch in "'\"":
            end = body.find(ch, i + 1)
            if end < 0:
                raise ExpressionSyntaxError(i + 1, f"unterminated quoted name starting with {ch}")
            tokens.append(("qname", body[i + 1 : end], i + 1))
            i = end + 1
        else:
            j = i
            while j < len(body) and not body[j].isspace() and body[j] not in _SPECIAL:
                j += 1
            word = body[i:j]
            if word[0].isdigit() or word[0] in "+-":
                if not re.fullmatch(r"[+-]?\d+", word):
                    raise ExpressionSyntaxError(
                        i + 1, f"{word!r} is neither a number nor a name (names start with a letter)"
                    )
                tokens.append(("int", word, i + 1))
            else:
                tokens.append(("name", word, i + 1))
            i = j
    return tokens


class ExpressionSyntaxError(Exception):
    """A syntax error in one expression, at a 1-based column."""

    def __init__(self, column: int, problem: str):
        super().__init__(problem)
        self.column = column
        self.problem = problem


def parse_expr(expr: str) -> Any:
    """The syntax tree of one expression (Name, Int or Call); raises ExpressionSyntaxError with a column."""
    tokens = tokenize_expr(expr)
    if not tokens:
        raise ExpressionSyntaxError(1, "empty expression")
    pos = 0

    def peek() -> Optional[Tuple[str, str, int]]:
        return tokens[pos] if pos < len(tokens) else None

    def parse() -> Any:
        nonlocal pos
        tok = peek()
        if tok is None:
            raise ExpressionSyntaxError(len(expr) + 1, "expression ends where a name was expected")
        kind, value, col = tok
        if kind == "int":
            pos += 1
            return Int(int(value), col)
        if kind not in ("name", "qname"):
            raise ExpressionSyntaxError(col, f"unexpected {value!r} where a name was expected")
        pos += 1
        nxt = peek()
        if kind == "name" and nxt is not None and nxt[0] == "(":
            pos += 1
            args = []
            if peek() is not None and peek()[0] == ")":
                raise ExpressionSyntaxError(peek()[2], f"{value}() needs arguments")
            while True:
                args.append(parse())
                sep = peek()
                if sep is None:
                    raise ExpressionSyntaxError(len(expr) + 1, f"missing ')' to close {value}(")
                pos += 1
                if sep[0] == ")":
                    return Call(value, args, col)
                if sep[0] != ",":
                    raise ExpressionSyntaxError(sep[2], f"expected ',' or ')' but found {sep[1]!r}")
        return Name(value, col)

    tree = parse()
    if pos < len(tokens):
        raise ExpressionSyntaxError(tokens[pos][2], f"unexpected {tokens[pos][1]!r} after the end of the expression")
    return tree


def quote_name(name: str) -> str:
    """The name as written in a recipe: quoted when it contains special characters or whitespace."""
    if any(c in _SPECIAL or c.isspace() for c in name) or not name or not name[0].isalpha():
        return "'" + name + "'" if "'" not in name else '"' + name + '"'
    return name

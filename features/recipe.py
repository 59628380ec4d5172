"""The Amazon ML recipe language compiled to a pyspark.ml Pipeline.

A recipe (docs/amazon-ml.md, "Recipes and transformations") has `groups`, `assignments` and `outputs`:

    {"groups": {"LONGTEXT": "group_remove(ALL_TEXT, title, subject)"},
     "assignments": {"binned_age": "quantile_bin(age, 30)"},
     "outputs": ["ngram(lowercase(no_punct(LONGTEXT)), 2)", "binned_age", "ALL_CATEGORICAL"]}

- `parse_recipe(text)` reads the JSON-like text: `//` comments (outside and inside the
  expression strings) are dropped, sections are checked, every expression is parsed, and
  errors give the line and column. It returns a `Recipe` (a plain dict with `.positions`).
- `compile_recipe(schema, recipe)` type-checks the recipe against the schema and returns an
  unfitted Pipeline (see its docstring for the columns it adds).
- `suggest_recipe(schema, df)` proposes a recipe users can print (`format_recipe`) and edit.

Expressions: a name (attribute, built-in group ALL_TEXT / ALL_NUMERIC / ALL_CATEGORICAL /
ALL_BINARY / ALL_INPUTS, custom group or assignment) or a call `f(arg, ...)`. Names that
contain `, ' " ( ) \\` or whitespace are written in single or double quotes. A transform
applied to a group applies to each member. Types: lowercase/no_punct take TEXT; ngram/osb take
TEXT that is still a word sequence (n 2..10); quantile_bin (n 5..1000) and normalize take
NUMERIC; cartesian takes TEXT, CATEGORICAL or BINARY (binary as the token 0 or 1) and gives
CATEGORICAL tokens. Raw outputs: TEXT gives its whitespace tokens (unigrams), CATEGORICAL
its value as one token, BINARY the token 0 or 1, NUMERIC its value in the vector.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, Union

from pyspark.ml import Pipeline
from pyspark.ml.feature import CountVectorizer, HashingTF, VectorAssembler

from features import numeric as num
from features.schema import TYPE_GROUPS, attribute_types, feature_attributes, load_schema
from features.stages import DropColumns, LabelIndexer, RecipeColumns

SECTIONS = ("groups", "assignments", "outputs")
TRANSFORMS = ("lowercase", "no_punct", "ngram", "osb", "quantile_bin", "normalize", "cartesian")
GROUP_FUNCTIONS = ("group", "group_remove")
N_RANGE = {"ngram": (2, 10), "osb": (2, 10), "quantile_bin": (num.MIN_BINS, num.MAX_BINS)}
SUGGESTED_BINS = (5, 10, 20, 50, 100, 200, 500)
_NAME_OK = re.compile(r"^[A-Za-z][^,'\"\s()\\]{0,63}$")
_SPECIAL = set(",'\"()\\")


class RecipeError(ValueError):
    """An invalid recipe; the message names where (section, key, line/column) and what is wrong."""


class Recipe(dict):
    """A parsed recipe: a plain dict plus `.positions` ((section, key) -> (line, column) in the text)."""

    positions: Dict[Tuple[str, Union[str, int]], Tuple[int, int]]


# ---------------------------------------------------------------- expressions


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
                raise _SyntaxError(i + 1, f"unterminated quoted name starting with {ch}")
            tokens.append(("qname", body[i + 1 : end], i + 1))
            i = end + 1
        else:
            j = i
            while j < len(body) and not body[j].isspace() and body[j] not in _SPECIAL:
                j += 1
            word = body[i:j]
            if word[0].isdigit() or word[0] in "+-":
                if not re.fullmatch(r"[+-]?\d+", word):
                    raise _SyntaxError(i + 1, f"{word!r} is neither a number nor a name (names start with a letter)")
                tokens.append(("int", word, i + 1))
            else:
                tokens.append(("name", word, i + 1))
            i = j
    return tokens


class _SyntaxError(Exception):
    def __init__(self, column: int, problem: str):
        super().__init__(problem)
        self.column = column
        self.problem = problem


def parse_expr(expr: str) -> Any:
    """The syntax tree of one expression (Name, Int or Call); raises _SyntaxError with a column."""
    tokens = tokenize_expr(expr)
    if not tokens:
        raise _SyntaxError(1, "empty expression")
    pos = 0

    def peek() -> Optional[Tuple[str, str, int]]:
        return tokens[pos] if pos < len(tokens) else None

    def parse() -> Any:
        nonlocal pos
        tok = peek()
        if tok is None:
            raise _SyntaxError(len(expr) + 1, "expression ends where a name was expected")
        kind, value, col = tok
        if kind == "int":
            pos += 1
            return Int(int(value), col)
        if kind not in ("name", "qname"):
            raise _SyntaxError(col, f"unexpected {value!r} where a name was expected")
        pos += 1
        nxt = peek()
        if kind == "name" and nxt is not None and nxt[0] == "(":
            pos += 1
            args = []
            if peek() is not None and peek()[0] == ")":
                raise _SyntaxError(peek()[2], f"{value}() needs arguments")
            while True:
                args.append(parse())
                sep = peek()
                if sep is None:
                    raise _SyntaxError(len(expr) + 1, f"missing ')' to close {value}(")
                pos += 1
                if sep[0] == ")":
                    return Call(value, args, col)
                if sep[0] != ",":
                    raise _SyntaxError(sep[2], f"expected ',' or ')' but found {sep[1]!r}")
        return Name(value, col)

    tree = parse()
    if pos < len(tokens):
        raise _SyntaxError(tokens[pos][2], f"unexpected {tokens[pos][1]!r} after the end of the expression")
    return tree


def quote_name(name: str) -> str:
    """The name as written in a recipe: quoted when it contains special characters or whitespace."""
    if any(c in _SPECIAL or c.isspace() for c in name) or not name or not name[0].isalpha():
        return "'" + name + "'" if "'" not in name else '"' + name + '"'
    return name


# ---------------------------------------------------------------- parsing


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


def _where(section: str, key: Union[str, int], expr: str, column: Optional[int], positions: Dict) -> str:
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
                raise RecipeError(f"{_where(section, key, str(expr), None, positions)}: expected an expression string")
            if section != "outputs" and not _NAME_OK.match(key):
                raise RecipeError(
                    f"{_where(section, key, expr, None, positions)}: invalid name {key!r} "
                    "(1-64 characters, starting with a letter, no , ' \" ( ) \\ or whitespace)"
                )
            try:
                parse_expr(expr)
            except _SyntaxError as exc:
                raise RecipeError(f"{_where(section, key, expr, exc.column, positions)}: {exc.problem}") from None
    return {
        "groups": dict(raw.get("groups") or {}),
        "assignments": dict(raw.get("assignments") or {}),
        "outputs": list(outputs),
    }


# ---------------------------------------------------------------- compiling


@dataclass
class Value:
    """One compiled value: its plan node, Amazon ML type, whether it is still a word sequence, and its label."""

    node: Dict[str, Any]
    type: str
    label: str
    words: bool = False


@dataclass
class _Compiler:
    attrs: Dict[str, str]
    all_attrs: Dict[str, str]
    schema: Dict[str, Any]
    positions: Dict
    groups: Dict[str, List[str]] = field(default_factory=dict)
    assignments: Dict[str, List[Value]] = field(default_factory=dict)
    estimators: Dict[str, Tuple[Any, str]] = field(default_factory=dict)
    where: Tuple[str, Union[str, int], str] = ("", "", "")

    def fail(self, pos: Optional[int], problem: str) -> None:
        section, key, expr = self.where
        raise RecipeError(f"{_where(section, key, expr, pos, self.positions)}: {problem}")

    def check_attr(self, name: str, pos: int) -> None:
        if name in self.attrs:
            return
        if name in self.all_attrs:
            why = (
                "the target"
                if name == self.schema.get("targetAttributeName")
                else "the rowId"
                if name == self.schema.get("rowId")
                else "excluded (excludedAttributeNames)"
            )
            self.fail(pos, f"{name!r} is {why} and cannot be used as a feature")
        self.fail(pos, f"unknown variable {name!r} (not an attribute of the schema, a group or an assignment)")

    # groups -----------------------------------------------------------
    def group_members(self, tree: Any) -> List[str]:
        if isinstance(tree, Int):
            self.fail(tree.pos, "a number where a variable or group was expected")
        if isinstance(tree, Call):
            if tree.fn not in GROUP_FUNCTIONS:
                self.fail(tree.pos, f"{tree.fn}() is not a group; use group(...) or group_remove(...)")
            return self.group_call(tree)
        name = tree.name
        if name == "ALL_INPUTS":
            self.fail(tree.pos, "you cannot create a group with ALL_INPUTS (use ALL_INPUTS directly in outputs)")
        if name in TYPE_GROUPS:
            return [a for a, t in self.attrs.items() if t == TYPE_GROUPS[name]]
        if name in self.groups:
            return list(self.groups[name])
        if name in self.assignments:
            self.fail(tree.pos, f"{name!r} is an assignment; groups hold variables and groups only")
        self.check_attr(name, tree.pos)
        return [name]

    def group_call(self, tree: Call) -> List[str]:
        if tree.fn == "group":
            members: List[str] = []
            for arg in tree.args:
                members += [m for m in self.group_members(arg) if m not in members]
            return members
        if len(tree.args) < 2:
            self.fail(tree.pos, "group_remove(group, var, ...) needs a group and at least one variable to remove")
        members = self.group_members(tree.args[0])
        removed = set()
        for arg in tree.args[1:]:
            removed.update(self.group_members(arg))
        return [m for m in members if m not in removed]

    # values -----------------------------------------------------------
    def raw(self, name: str) -> Value:
        kind = self.attrs[name]
        return Value({"op": "attr", "name": name, "type": kind}, kind, quote_name(name), words=kind == "TEXT")

    def values(self, tree: Any) -> List[Value]:
        if isinstance(tree, Int):
            self.fail(tree.pos, f"a number ({tree.value}) where a variable was expected")
        if isinstance(tree, Name):
            name = tree.name
            if name == "ALL_INPUTS":
                return [self.raw(a) for a in self.attrs]
            if name in self.assignments:
                return list(self.assignments[name])
            if name in TYPE_GROUPS or name in self.groups:
                return [self.raw(a) for a in self.group_members(tree)]
            self.check_attr(name, tree.pos)
            return [self.raw(name)]
        if tree.fn in GROUP_FUNCTIONS:
            return [self.raw(a) for a in self.group_call(tree)]
        if tree.fn not in TRANSFORMS:
            self.fail(tree.pos, f"unknown function {tree.fn!r} (known: {', '.join(TRANSFORMS + GROUP_FUNCTIONS)})")
        return self.transform(tree)

    def n_arg(self, tree: Call) -> int:
        low, high = N_RANGE[tree.fn]
        if len(tree.args) != 2 or not isinstance(tree.args[1], Int):
            self.fail(tree.pos, f"{tree.fn}(variable, n) takes a variable and a number n from {low} to {high}")
        n = tree.args[1].value
        if not low <= n <= high:
            self.fail(tree.args[1].pos, f"{tree.fn}: n = {n} is out of range (allowed {low} to {high})")
        return n

    def transform(self, tree: Call) -> List[Value]:
        fn = tree.fn
        if fn == "cartesian":
            if len(tree.args) != 2:
                self.fail(tree.pos, "cartesian(a, b) takes exactly two arguments")
            lefts, rights = self.values(tree.args[0]), self.values(tree.args[1])
            for side in lefts + rights:
                if side.type == "NUMERIC":
                    self.fail(
                        tree.pos,
                        f"cartesian needs TEXT, CATEGORICAL or BINARY, but {side.label} is NUMERIC (bin it first)",
                    )
            return [
                Value({"op": "cartesian", "args": [a.node, b.node]}, "CATEGORICAL", f"cartesian({a.label},{b.label})")
                for a in lefts
                for b in rights
            ]
        n = self.n_arg(tree) if fn in N_RANGE else None
        if n is None and len(tree.args) != 1:
            self.fail(tree.pos, f"{fn}(variable) takes exactly one argument")
        out = []
        for v in self.values(tree.args[0]):
            label = f"{fn}({v.label}" + (f",{n})" if n is not None else ")")
            if fn in ("lowercase", "no_punct", "ngram", "osb"):
                if v.type != "TEXT":
                    self.fail(tree.pos, f"{fn} needs TEXT, but {v.label} is {v.type}")
                if fn in ("ngram", "osb") and not v.words:
                    self.fail(tree.pos, f"{fn} needs a word sequence, but {v.label} is already a set of n-grams")
                node: Dict[str, Any] = {"op": fn, "arg": v.node}
                if n is not None:
                    node["n"] = n
                out.append(Value(node, "TEXT", label, words=v.words and fn not in ("ngram", "osb")))
            else:
                if v.type != "NUMERIC":
                    self.fail(tree.pos, f"{fn} needs NUMERIC, but {v.label} is {v.type}")
                out.append(self.estimator(fn, v, n, label))
        return out

    def estimator(self, fn: str, v: Value, n: Optional[int], label: str) -> Value:
        if label not in self.estimators:
            source = v.node["name"]  # the attribute, or the output column of an earlier estimator
            col = f"__{'qb' if fn == 'quantile_bin' else 'norm'}{len(self.estimators)}"
            stage = (
                num.QuantileBin(inputCol=source, outputCol=col, numBins=n)
                if fn == "quantile_bin"
                else num.Normalize(inputCol=source, outputCol=col)
            )
            self.estimators[label] = (stage, col)
        col = self.estimators[label][1]
        if fn == "quantile_bin":
            return Value({"op": "col", "name": col, "form": "value"}, "CATEGORICAL", label)
        return Value({"op": "col", "name": col, "form": "number"}, "NUMERIC", label)


@dataclass
class RecipePlan:
    """What a recipe compiles to before any Spark object exists: estimators, the RecipeColumns plan, output labels."""

    estimators: List[Any]
    estimator_cols: List[str]
    plan: Dict[str, Any]
    token_labels: List[str]
    numeric_labels: List[str]


def plan_recipe(schema: Dict[str, Any], recipe: Optional[Union[Dict[str, Any], str]] = None) -> RecipePlan:
    """Check the recipe against the schema and resolve groups, assignments and outputs (no Spark needed)."""
    schema = load_schema(schema)
    if recipe is None:
        recipe = suggest_recipe(schema)
    positions = getattr(recipe, "positions", {})
    if isinstance(recipe, str):
        recipe = parse_recipe(recipe)
        positions = recipe.positions
    else:
        recipe = check_recipe(recipe, positions)
    attrs = feature_attributes(schema)
    comp = _Compiler(attrs, attribute_types(schema), schema, positions)
    reserved = set(attribute_types(schema)) | set(TYPE_GROUPS) | {"ALL_INPUTS"} | set(TRANSFORMS) | set(GROUP_FUNCTIONS)
    for name, expr in recipe["groups"].items():
        comp.where = ("groups", name, expr)
        if name in reserved or name in comp.groups:
            comp.fail(None, f"the group name {name!r} is already taken by an attribute, a built-in or another group")
        tree = parse_expr(expr)
        if not isinstance(tree, Call) or tree.fn not in GROUP_FUNCTIONS:
            comp.fail(1, "a group is defined with group(...) or group_remove(...)")
        comp.groups[name] = comp.group_call(tree)
    for name, expr in recipe["assignments"].items():
        comp.where = ("assignments", name, expr)
        if name in reserved or name in comp.groups or name in comp.assignments:
            comp.fail(None, f"the assignment name {name!r} is already taken by an attribute, a group or a built-in")
        comp.assignments[name] = comp.values(parse_expr(expr))
    outputs: Dict[str, Value] = {}
    for i, expr in enumerate(recipe["outputs"]):
        comp.where = ("outputs", i, expr)
        for value in comp.values(parse_expr(expr)):
            outputs.setdefault(value.label, value)
    token_outs = [v for v in outputs.values() if v.type != "NUMERIC"]
    numeric_outs = [v for v in outputs.values() if v.type == "NUMERIC"]
    many = len(token_outs) > 1
    plan = {
        "tokens": [{"prefix": (v.label + "=") if many else None, "expr": v.node} for v in token_outs],
        "numeric": [{"col": f"__num{i}", "expr": v.node} for i, v in enumerate(numeric_outs)],
    }
    return RecipePlan(
        estimators=[stage for stage, _ in comp.estimators.values()],
        estimator_cols=[col for _, col in comp.estimators.values()],
        plan=plan,
        token_labels=[v.label for v in token_outs],
        numeric_labels=[v.label for v in numeric_outs],
    )


def compile_recipe(
    schema: Dict[str, Any],
    recipe: Optional[Union[Dict[str, Any], str]] = None,
    num_features: int = 2**18,
    vocabulary: bool = False,
) -> Pipeline:
    """Compile schema + recipe (suggested when None) to an unfitted Pipeline that adds `features` and `label`.

    The recipe may be a dict (as parse_recipe returns) or recipe text. The fitted PipelineModel adds:
    - `features`: a vector of size num_features + (number of numeric outputs). The first
      num_features slots hold the tokens of every non-numeric output, each token prefixed with
      its output's canonical expression (`ngram(review,2)=good book`) when there is more than one
      such output, hashed with HashingTF (binary, i.e. a token set), or with `vocabulary=True`
      indexed by a CountVectorizer vocabulary of at most num_features tokens fitted on the
      training data (tokens unseen at fit time are then ignored). The numeric outputs
      (raw NUMERIC attributes and normalize(...)) follow as values, missing values as 0.0.
    - `label` (double), only when the schema has a target and the target column is present
      (at scoring time it is not): BINARY parsed the Amazon ML way (0/1), NUMERIC cast to
      double, CATEGORICAL indexed 0, 1, ... by training frequency; invalid or unseen -> null.
    All intermediate columns start with `__` and are dropped by the last stage; input columns
    are kept. With recipe None the suggested recipe without data statistics is used (10 bins).
    """
    if not isinstance(num_features, int) or num_features < 1:
        raise RecipeError(f"num_features must be a positive integer, got {num_features!r}")
    schema = load_schema(schema)
    planned = plan_recipe(schema, recipe)
    stages: List[Any] = list(planned.estimators)
    stages.append(RecipeColumns(plan=json.dumps(planned.plan), tokensCol="__tokens"))
    if vocabulary:
        stages.append(CountVectorizer(inputCol="__tokens", outputCol="__hashed", vocabSize=num_features, binary=True))
    else:
        stages.append(HashingTF(inputCol="__tokens", outputCol="__hashed", numFeatures=num_features, binary=True))
    numeric_cols = [n["col"] for n in planned.plan["numeric"]]
    if numeric_cols:
        stages.append(VectorAssembler(inputCols=["__hashed", *numeric_cols], outputCol="features"))
    else:  # tokens only: the hashed vector is the feature vector (saves a pass over every vector)
        stages[-1].setOutputCol("features")
    target = schema.get("targetAttributeName")
    if target:
        stages.append(LabelIndexer(inputCol=target, outputCol="label", targetType=attribute_types(schema)[target]))
    stages.append(DropColumns(cols=["__tokens", "__hashed", *numeric_cols, *planned.estimator_cols]))
    return Pipeline(stages=stages)


def suggest_recipe(schema: Dict[str, Any], df: Any = None) -> Dict[str, Any]:
    """A starting recipe: numerics binned (n from the data), text as ngram 2 of lowercase(no_punct), the rest as-is."""
    schema = load_schema(schema)
    attrs = feature_attributes(schema)
    numerics = [a for a, t in attrs.items() if t == "NUMERIC"]
    bins = {a: 10 for a in numerics}
    if df is not None and numerics:
        from pyspark.sql import functions as F

        aggs = [F.count(F.lit(1)).alias("__rows")]
        aggs += [F.approx_count_distinct(num.numeric_value(F.col(a))).alias(f"__d{i}") for i, a in enumerate(numerics)]
        row = df.agg(*aggs).first()
        for i, a in enumerate(numerics):
            bins[a] = suggested_bins(row[f"__d{i}"], row["__rows"])
    groups: Dict[str, str] = {}
    outputs: List[str] = []
    for n in sorted(set(bins.values())):
        members = [a for a in numerics if bins[a] == n]
        groups[f"NUMERIC_VARS_QB_{n}"] = "group(" + ", ".join(quote_name(a) for a in members) + ")"
        outputs.append(f"quantile_bin(NUMERIC_VARS_QB_{n}, {n})")
    kinds = set(attrs.values())
    if "TEXT" in kinds:
        outputs.append("ngram(lowercase(no_punct(ALL_TEXT)), 2)")
    if "CATEGORICAL" in kinds:
        outputs.append("ALL_CATEGORICAL")
    if "BINARY" in kinds:
        outputs.append("ALL_BINARY")
    return {"groups": groups, "assignments": {}, "outputs": outputs}


def suggested_bins(distinct: int, rows: int) -> int:
    """The largest of 5..500 (Amazon ML's steps) with >= 2 distinct values and >= 20 rows per bin; at least 5."""
    limit = min(distinct // 2, rows // 20)
    fitting = [n for n in SUGGESTED_BINS if n <= limit]
    return fitting[-1] if fitting else SUGGESTED_BINS[0]


def format_recipe(recipe: Dict[str, Any]) -> str:
    """The recipe as indented JSON, ready to print, edit and pass back to parse_recipe."""
    return json.dumps({k: recipe.get(k, {} if k != "outputs" else []) for k in SECTIONS}, indent=2)

"""A checked recipe resolved against a schema: groups, assignments and typed outputs, before any Spark object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, Union

from features import numeric as num
from features.recipe.expressions import Call, Int, Name, parse_expr, quote_name
from features.recipe.parse import RecipeError, check_recipe, location, parse_recipe
from features.recipe.suggest import suggest_recipe
from features.schema import TYPE_GROUPS, attribute_types, feature_attributes, load_schema

TRANSFORMS = ("lowercase", "no_punct", "ngram", "osb", "quantile_bin", "normalize", "cartesian")
GROUP_FUNCTIONS = ("group", "group_remove")
N_RANGE = {"ngram": (2, 10), "osb": (2, 10), "quantile_bin": (num.MIN_BINS, num.MAX_BINS)}


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
        raise RecipeError(f"{location(section, key, expr, pos, self.positions)}: {problem}")

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

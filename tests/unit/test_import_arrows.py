"""The imports point one way, dags -> deploy -> jobs -> ml -> features -> core, and no module imports itself
back through others (docs/architecture.md, "Packages"). Every import counts, also the ones inside functions."""

from __future__ import annotations

import ast
import os
from typing import Dict, List, Set

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# lowest first: a package may import its own layer and the ones before it
LAYERS = ("core", "features", "ml", "jobs", "deploy", "dags")
# the upward arrows allowed, as (importing layer, imported module): deploy reads the job registry for job names
ALLOWED_UP = {("deploy", "jobs.main")}


def module_files() -> Dict[str, str]:
    """Dotted module name -> file, for every .py file of the layers."""
    found = {}
    for layer in LAYERS:
        for folder, _, files in os.walk(os.path.join(ROOT, layer)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    dotted = os.path.relpath(path, ROOT)[: -len(".py")].replace(os.sep, ".")
                    found[dotted.removesuffix(".__init__")] = path
    return found


def resolve(name: str, modules: Dict[str, str]) -> str:
    """The longest known module that `name` (a module or a name inside one) is or lives in; '' if none."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name


def imports_of(module: str, path: str, modules: Dict[str, str]) -> Set[str]:
    """The lakeml modules a file imports, wherever in the file the import statement is."""
    is_package = path.endswith("__init__.py")
    package = module if is_package else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            names = [f"{base}.{alias.name}" for alias in node.names] or [base]
        else:
            continue
        out.update(found for found in (resolve(n, modules) for n in names) if found and found != module)
    return out


def graph() -> Dict[str, Set[str]]:
    modules = module_files()
    return {module: imports_of(module, path, modules) for module, path in modules.items()}


def layer_of(module: str) -> int:
    return LAYERS.index(module.split(".")[0])


def cycles(edges: Dict[str, Set[str]]) -> List[List[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[List[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_a_higher_layer():
    upward = [
        f"{module} -> {target}"
        for module, targets in graph().items()
        for target in sorted(targets)
        if layer_of(target) > layer_of(module) and (module.split(".")[0], target) not in ALLOWED_UP
    ]
    assert upward == []


def test_no_import_cycle():
    assert cycles(graph()) == []


def test_the_walk_sees_real_arrows():
    edges = graph()
    assert "core.lake" in edges["ml.registry"]
    assert "features.recipe" in edges["jobs.train.fit"] or "features.recipe.pipeline" in edges["jobs.train.fit"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]

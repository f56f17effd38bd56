"""The package's shape, as tests that fail when it breaks: no import cycle (deferred imports inside functions
count: they only hide one), and the layering rule — the core (core/: monitor, state, rates, canary, load progress,
memory split, the Fleet; config/), the collectors and the transports never import Textual, the UI or the actions."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "gb10dash"
CORE = (
    "gb10dash.core",  # the monitor, state, rates, histories, canary, load progress, memory split, the Fleet
    "gb10dash.config",
    "gb10dash.format",
    "gb10dash.locations",
    "gb10dash.collectors",
    "gb10dash.transport",
)
FORBIDDEN_FOR_CORE = ("textual", "gb10dash.ui", "gb10dash.actions")


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """Every module `path` imports, anywhere but under `if TYPE_CHECKING:` (a name imported from a package
    that is a module of its own counts as that module)."""
    found: set[str] = set()
    stack: list[ast.AST] = [ast.parse(path.read_text())]
    while stack:
        node = stack.pop()
        if _type_checking_only(node):
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        stack.extend(ast.iter_child_nodes(node))
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root] & edges.keys())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child] & edges.keys()))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle() -> None:
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_one() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_core_collectors_and_transports_never_import_the_ui_or_the_actions() -> None:
    broken = {
        name: sorted(d for d in deps if d.startswith(FORBIDDEN_FOR_CORE))
        for name, deps in graph().items()
        if name.startswith(CORE)
    }
    assert {name: deps for name, deps in broken.items() if deps} == {}


def test_the_import_reader_sees_deferred_imports_and_skips_type_checking_ones(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from gb10dash.ui import app\n"
        "def f():\n    from gb10dash.actions import executor\n"
    )
    assert imports(source, modules()) == {"typing", "gb10dash.actions.executor"}

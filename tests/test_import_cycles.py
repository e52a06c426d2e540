"""No two of our modules import each other in a circle, at run time.

A circle says two modules share one responsibility: each half needs the other to mean
anything, and the import only works in one order (a function-level import hides it, it
does not untangle it). So every import counts here, at module level or inside a
function, except those under ``if TYPE_CHECKING:`` — a type checker's view of a shape,
which nothing runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("config", "telephony", "routing", "crm_lookup", "agent_console", "switchboard")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imported(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        parts = module.split(".")
        keep = len(parts) - node.level + (1 if path.name == "__init__.py" else 0)
        base = ".".join(parts[:keep] + ([node.module] if node.module else []))
    return [f"{base}.{alias.name}" for alias in node.names] + [base]


class _Imports(ast.NodeVisitor):
    def __init__(self) -> None:
        self.nodes: list[ast.Import | ast.ImportFrom] = []

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        ):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.nodes.append(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self.nodes.append(node)


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        visitor = _Imports()
        visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
        for node in visitor.nodes:
            for target in _imported(name, path, node):
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                # a package and its own submodules importing each other is how packages work
                inside = name.startswith(target + ".") or target.startswith(name + ".")
                if target and target != name and not inside:
                    graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_another_in_a_circle() -> None:
    # In a fresh interpreter: CPython 3.11's ast.parse can fail with "AST constructor
    # recursion depth mismatch" when an earlier test in this process left the recursion
    # bookkeeping off (gh-106905), which says nothing about our imports.
    import json
    import subprocess
    import sys

    code = (
        "import json; from tests.test_import_cycles import _cycles, _graph; "
        "print(json.dumps(_cycles(_graph())))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == []


def test_the_check_sees_a_circle_hidden_in_a_function() -> None:
    graph = {"a": {"b"}, "b": {"a"}, "c": {"a"}}
    assert _cycles(graph) == [["a", "b"]]
    source = "def f():\n    from agent_console.api import x\n"
    visitor = _Imports()
    visitor.visit(ast.parse(source))
    assert [n.module for n in visitor.nodes if isinstance(n, ast.ImportFrom)] == [
        "agent_console.api"
    ]
    guarded = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import routing.center\n"
    visitor = _Imports()
    visitor.visit(ast.parse(guarded))
    assert [n for n in visitor.nodes if isinstance(n, ast.Import)] == []

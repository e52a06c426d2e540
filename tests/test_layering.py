"""The import layers of docs/ARCHITECTURE.md: a package may import only the layers below it."""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"config", "telephony", "crm_lookup", "routing", "agent_console", "switchboard"}
ALLOWED = {
    "config": set(),
    "telephony": {"config"},
    "crm_lookup": {"config"},
    "routing": {"config", "telephony", "crm_lookup"},
    "agent_console": {"config", "telephony", "crm_lookup", "routing"},
    "switchboard": OURS,
}
PURE_CORES = [
    "telephony/ami",
    "routing/acd",
    "routing/ivr",
    "routing/takeover.py",
    "switchboard/cluster/frames.py",
    "switchboard/cluster/replica.py",
    "switchboard/cluster/rpc.py",
]
SHELL_MODULES = {"telephony/ami/client.py", "routing/ivr/runner.py", "routing/acd/shell.py"}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_lower_layers(package: str) -> None:
    files = python_files(package)
    assert files, f"{package} has no modules"
    offenders = []
    for path in files:
        bad = (imported_packages(path) & OURS) - ALLOWED[package] - {package}
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, "layer violations:\n" + "\n".join(offenders)


def test_pure_cores_do_no_io() -> None:
    io_modules = {"asyncio", "socket", "aiohttp", "aiosqlite", "asyncpg", "sqlite3", "selectors"}
    offenders = []
    for core in PURE_CORES:
        base = ROOT / core
        for path in [base] if base.is_file() else sorted(base.rglob("*.py")):
            rel = str(path.relative_to(ROOT))
            if rel in SHELL_MODULES:
                continue
            bad = imported_packages(path) & io_modules
            if bad:
                offenders.append(f"{rel} imports {sorted(bad)}")
    assert not offenders, "pure cores must not do I/O:\n" + "\n".join(offenders)


def test_layering_check_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from agent_console import app\nimport routing.acd\n")
    assert imported_packages(bad) == {"agent_console", "routing"}


def module_imports(root: Path, packages: Sequence[str]) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (also under TYPE_CHECKING)."""
    modules = {}
    for package in packages:
        for path in (root / package).rglob("*.py"):
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    found.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that import each other in a circle (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_no_module_of_the_lower_layers_and_routing_imports_itself_back() -> None:
    # routing.center once imported waiting.py and ivr_ports.py, which imported it back.
    graph = module_imports(ROOT, ["config", "telephony", "routing"])
    assert import_cycles(graph) == []


def test_the_cycle_check_finds_a_circle(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.b import x\n")
    (pkg / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import y\n"
    )
    assert import_cycles(module_imports(tmp_path, ["pkg"])) == [["pkg.a", "pkg.b"]]


def test_only_the_database_backends_import_a_database_driver() -> None:
    """Repositories are written once for both engines (crm_lookup/database.py)."""
    drivers = {"aiosqlite", "sqlite3", "asyncpg"}
    backends = {"crm_lookup/sqlite_backend.py", "crm_lookup/postgres_backend.py"}
    offenders = []
    for path in python_files("crm_lookup"):
        rel = str(path.relative_to(ROOT))
        bad = imported_packages(path) & drivers
        if bad and rel not in backends:
            offenders.append(f"{rel} imports {sorted(bad)}")
    assert not offenders, "\n".join(offenders)

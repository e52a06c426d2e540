"""The import layers of docs/ARCHITECTURE.md: a package may import only the layers below it."""

from __future__ import annotations

import ast
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
PURE_CORES = ["telephony/ami", "routing/acd", "routing/ivr"]
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
    io_modules = {"asyncio", "socket", "aiohttp", "aiosqlite", "sqlite3", "selectors"}
    offenders = []
    for core in PURE_CORES:
        for path in sorted((ROOT / core).rglob("*.py")):
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

"""``python -m bench --quick`` runs every benchmark at tiny sizes and each hands over
numbers for the summary table (how fast does not matter here: that is bench/'s job)."""

from __future__ import annotations

import ast
import json
import math
import subprocess
import sys
from pathlib import Path

from bench.__main__ import BENCHMARKS

ROOT = Path(__file__).resolve().parent.parent


def test_every_benchmark_module_is_registered() -> None:
    # A benchmark is a bench/ module with a main(argv) taking --quick: the runner runs them all.
    modules = set()
    for path in (ROOT / "bench").glob("*.py"):
        tree = ast.parse(path.read_text())
        mains = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main"]
        if path.stem != "__main__" and mains and "--quick" in path.read_text():
            modules.add(path.stem)
    assert modules == {b.name for b in BENCHMARKS}


def test_quick_run_runs_each_benchmark_and_reports_numbers(tmp_path: Path) -> None:
    summary = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(summary)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    outcomes = {o["name"]: o for o in json.loads(summary.read_text())}
    assert set(outcomes) == {b.name for b in BENCHMARKS}
    for name, outcome in outcomes.items():
        assert outcome["exit_code"] == 0, name
        values = [f["value"] for f in outcome["figures"]]
        assert values and any(math.isfinite(v) and v > 0 for v in values), (name, values)
        assert f"=== bench.{name}:" in done.stdout  # its own table went through
    assert "=== summary" in done.stdout and "met" in done.stdout

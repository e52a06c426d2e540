"""``python -m bench``: every benchmark, one after the other, then one table of figures.

Each benchmark runs in a process of its own (``python -m bench.<name> [--quick]``, its
``main(argv)``): they set resource limits, fork servers, freeze the collector, and one
must not measure another's leftovers. Their own tables pass through as they print; the
headline figures each hands over with :func:`bench.figures.report` are gathered into
one table at the end, each beside its target and the peers measured in the same run.

``--quick`` runs each at tiny sizes (seconds), to check they all still run: its figures
say nothing about speed. Adding a benchmark is one line in ``BENCHMARKS``: a module
whose ``main(argv)`` takes ``--quick`` and calls ``bench.figures.report``.

Exit status: 0 when every benchmark ran to the end (missing a target is a finding, not
a failure: see the table), 1 when one failed or reported no figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.figures import ENV, Figure, read

ROOT = Path(__file__).resolve().parent.parent


def _fuzz_figures(output: str) -> list[Figure]:
    """Figures from bench.fuzz_ami's printed report, until it hands over its own."""
    figures = []
    rate = re.search(r"\(([\d,]+) frames/s fed\), peak memory ([\d.]+) MiB", output)
    if rate:
        figures.append(Figure("frames fed per second", float(rate[1].replace(",", "")), "/s"))
        figures.append(Figure("peak memory (max RSS)", float(rate[2]), "MiB"))
    for label, pattern in (
        ("undocumented exceptions", r"undocumented exceptions: (\d+)"),
        ("whole vs re-chunked mismatches", r"whole vs re-chunked mismatches: (\d+)"),
    ):
        found = re.search(pattern, output)
        if found:
            figures.append(Figure(label, float(found[1]), "", "0", int(found[1]) == 0))
    return figures


def _json_line_figures(output: str, limit: int = 14) -> list[Figure]:
    """Numbers from the last ``{"bench": ...}`` JSON line a benchmark prints (its own
    fields, one level of nesting), for one that does not call bench.figures.report."""
    lines = [line for line in output.splitlines() if line.startswith('{"bench"')]
    if not lines:
        return []
    data = json.loads(lines[-1])
    figures = []
    for key, value in data.items():
        if key in ("bench", "options"):
            continue
        leaves = value.items() if isinstance(value, dict) else [("", value)]
        for sub, leaf in leaves:
            if isinstance(leaf, int | float) and not isinstance(leaf, bool):
                figures.append(Figure(f"{key}.{sub}" if sub else key, float(leaf), ""))
    return figures[:limit]


@dataclass(frozen=True, slots=True)
class Benchmark:
    name: str  # the module bench.<name>
    measures: str
    # For a benchmark that prints but does not call bench.figures.report.
    parse_output: Callable[[str], list[Figure]] | None = None


BENCHMARKS = (
    Benchmark("ami_ingest", "AMI events/s into typed events over loopback"),
    Benchmark("routing_decision", "one ACD routing decision, up to 10,000 agents"),
    Benchmark("live_call_memory", "memory per live call: ACD, call tracking, LiveCall, recorder"),
    Benchmark("crm_store", "1,000,000 customers: import, lookup by phone, milestones"),
    Benchmark("reports", "1,000,000 contacts: a month by interval and by agent, vs plain SQL"),
    Benchmark("recorder", "contact milestones through ContactRecorder, SQLite vs PostgreSQL"),
    Benchmark("screen_pop", "the websocket hub alone, 1,000 agents, 100 pops/s"),
    Benchmark("screen_pop_e2e", "AMI DialBegin to the agent's websocket frame, 1,000 agents"),
    Benchmark("chat_delivery", "chat message visitor -> agent, 500 visitors, 100 agents x 3"),
    Benchmark("fuzz_ami", "AMI protocol and AGI parser, mutated real frames", _fuzz_figures),
    Benchmark("takeover_soak", "restart soak: SIGKILL under traffic, takeover", _json_line_figures),
    Benchmark("capacity", "end to end: calls/s, screen pop, CPU and memory per call and agent"),
    Benchmark("knowledge", "knowledge-base search over 100,000 articles, SQLite vs PostgreSQL"),
)


@dataclass(slots=True)
class Outcome:
    benchmark: Benchmark
    exit_code: int
    seconds: float
    figures: list[Figure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and bool(self.figures)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.benchmark.name,
            "exit_code": self.exit_code,
            "seconds": round(self.seconds, 3),
            "figures": [asdict(f) for f in self.figures],
        }


def run_one(benchmark: Benchmark, quick: bool) -> Outcome:
    """Run one benchmark in its own process; its output streams through."""
    print(f"\n=== bench.{benchmark.name}: {benchmark.measures}", flush=True)
    argv = [sys.executable, "-m", f"bench.{benchmark.name}", *(["--quick"] if quick else [])]
    with tempfile.TemporaryDirectory(prefix="bench-figures-") as tmp:
        figures_file = Path(tmp) / "figures.jsonl"
        env = {**os.environ, ENV: str(figures_file)}
        started = time.monotonic()
        if benchmark.parse_output is None:
            code = subprocess.run(argv, cwd=ROOT, env=env, check=False).returncode
            output = ""
        else:
            done = subprocess.run(
                argv, cwd=ROOT, env=env, check=False, stdout=subprocess.PIPE, text=True
            )
            code, output = done.returncode, done.stdout
            print(output, end="", flush=True)
        seconds = time.monotonic() - started
        figures = read(figures_file)
    if not figures and benchmark.parse_output is not None:
        figures = benchmark.parse_output(output)
    return Outcome(benchmark, code, seconds, figures)


def _number(value: float) -> str:
    if value != value:  # NaN: nothing measured (a quick run too short for a warm-up)
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}".rstrip("0").rstrip(".")


def _verdict(figure: Figure) -> str:
    if figure.peer:
        return "peer"
    if figure.met is None:
        return ""
    return "met" if figure.met else "NOT met"


def table_rows(outcomes: Sequence[Outcome]) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for outcome in outcomes:
        name = outcome.benchmark.name
        if outcome.exit_code != 0:
            rows.append((name, f"FAILED (exit {outcome.exit_code})", "", "", ""))
        elif not outcome.figures:
            rows.append((name, "no figures reported", "", "", ""))
        for figure in outcome.figures:
            measured = f"{_number(figure.value)} {figure.unit}".strip()
            rows.append((name, figure.name, measured, figure.target, _verdict(figure)))
            name = ""
        rows.append(("", "(run time)", f"{outcome.seconds:.1f} s", "", ""))
    return rows


HEADER = ("benchmark", "figure", "measured", "target", "")


def render_text(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in (HEADER, *rows)) for i in range(len(HEADER))]
    lines = []
    for row in (HEADER, *rows):
        cells = [
            cell.rjust(w) if i == 2 else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if row is HEADER:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_markdown(rows: Sequence[tuple[str, ...]]) -> str:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    head = ("benchmark", "figure", "measured", "target", "verdict")
    return "\n".join([line(head), line(["---"] * len(head)), *(line(r) for r in rows)])


def machine() -> str:
    cores = os.cpu_count()
    try:
        kb = int(Path("/proc/meminfo").read_text().split("\n", 1)[0].split()[1])
        memory = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        memory = "unknown memory"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{platform.node()}: {cores} cores, {memory}, {platform.system()} {platform.release()},"
        f" Python {platform.python_version()}; 1-min load {load:.2f} at the start"
    )


def main(argv: Sequence[str] | None = None) -> int:
    names = [b.name for b in BENCHMARKS]
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.split("\n\n", 1)[0]
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: does each still run?")
    parser.add_argument("--only", nargs="+", choices=names, metavar="NAME", help=", ".join(names))
    parser.add_argument(
        "--markdown", action="store_true", help="the final table as Markdown (for BENCHMARKS.md)"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the outcomes as JSON")
    args = parser.parse_args(argv)
    chosen = [b for b in BENCHMARKS if not args.only or b.name in args.only]
    header = machine()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(header, flush=True)
    outcomes = [run_one(b, args.quick) for b in chosen]
    rows = table_rows(outcomes)
    print(f"\n=== summary{' (--quick: tiny sizes, not speed)' if args.quick else ''}")
    print(f"{started}; {header}")
    print(render_markdown(rows) if args.markdown else render_text(rows))
    if args.json:
        Path(args.json).write_text(json.dumps([o.to_json() for o in outcomes], indent=1))
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())

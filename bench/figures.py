"""The headline figures a benchmark hands to ``python -m bench`` for its one table.

A benchmark prints its own detailed table, then calls :func:`report` with the few
figures that answer its targets (and its peers' figures beside them). Run alone, that
call does nothing; under ``python -m bench`` (which sets ``BENCH_FIGURES`` to a file per
benchmark) the figures are appended there as JSON lines for the runner to read back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

ENV = "BENCH_FIGURES"


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured number, with the target it answers (if any) and whether it met it.

    ``peer`` marks a figure of a comparison peer measured in the same run (panoramisk, a
    naive router...): shown beside ours, never judged against the target.
    """

    name: str
    value: float
    unit: str
    target: str = ""
    met: bool | None = None
    peer: bool = False


def report(figures: Iterable[Figure]) -> None:
    """Hand the figures to the runner (a no-op when the benchmark runs alone)."""
    path = os.environ.get(ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as fh:
        for figure in figures:
            fh.write(json.dumps(asdict(figure)) + "\n")


def read(path: Path) -> list[Figure]:
    """The figures a benchmark process wrote (none if it wrote nothing)."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Figure(**json.loads(line)) for line in lines if line.strip()]

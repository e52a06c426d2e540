"""The repository names no machine's own paths: the captures are ``../shared/...`` beside
the checkout, wherever that is."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A path that only exists on one machine: an absolute home, user or work-tree directory.
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|home|Users|root)/[\w.-]+")
TEXT_SUFFIXES = {".md", ".py", ".toml", ".yaml", ".yml", ".conf", ".txt", ".cfg", ""}


def test_no_tracked_file_names_a_machine_path() -> None:
    listed = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    offenders = []
    for name in listed:
        path = ROOT / name
        if path.suffix not in TEXT_SUFFIXES or name.startswith("tests/artifacts/"):
            continue
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        offenders += [
            f"{name}:{text.count(chr(10), 0, m.start()) + 1}: {m[0]}"
            for m in MACHINE_PATH.finditer(text)
        ]
    assert not offenders, "\n".join(offenders)

"""``switchboard ivr check``: one ``file:line: message`` per problem, exit 1 on any."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from switchboard.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_scripts_pass_through_a_real_process() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "switchboard", "ivr", "check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == ""
    assert "0 problem(s)" in proc.stderr


def test_problems_are_printed_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("nodes:\n  h: {kind: hangup}\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        'nodes:\n  m: {kind: menu, prompts: p, options: {"1": h, "1": x}}\n  h: {kind: hangup}\n'
    )
    (tmp_path / "prompts" / "en").mkdir(parents=True)
    (tmp_path / "prompts" / "en" / "p.wav").write_bytes(b"RIFF")
    code = main(["ivr", "check", str(good), str(bad), "--prompts", str(tmp_path / "prompts")])
    out, err = capsys.readouterr()
    assert code == 1
    assert out.splitlines() == [f"{bad}:2: duplicate digit '1' in menu 'm' (first at line 2)"]
    assert "2 script(s) checked, 1 problem(s) in 1 file(s)" in err

    assert main(["ivr", "check", str(good), "--prompts", str(tmp_path / "prompts")]) == 0


def test_no_scripts_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHBOARD_IVR__SCRIPTS_DIR", str(tmp_path))
    assert main(["ivr", "check"]) == 1
    assert f"no IVR scripts (*.yaml) in {tmp_path}" in capsys.readouterr().err


def test_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ivr", "check", str(tmp_path / "missing.yaml")]) == 1
    assert capsys.readouterr().out.startswith(f"{tmp_path / 'missing.yaml'}:1: cannot read:")


def test_hostile_files_get_one_line_each_never_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("nodes: " + "[" * 5000 + "]" * 5000 + "\n")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        + "".join(
            f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n"
            for p, n in zip("abcdefgh", "bcdefghi", strict=True)
        )
    )
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(b"#" * (2 * 1024 * 1024))
    code = main(["ivr", "check", str(deep), str(bomb), str(huge), "--prompts", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 1
    assert out.splitlines() == [
        f"{deep}:1: nested more than 50 levels deep",
        f"{bomb}:6: more than 300000 values once aliases are expanded",
        f"{huge}:1: file is larger than 1048576 bytes",
    ]
    assert "Traceback" not in err and "3 problem(s) in 3 file(s)" in err

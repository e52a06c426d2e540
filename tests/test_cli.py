"""The command line: help on every command, version, exit codes, logging format."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from switchboard import __version__
from switchboard.cli import build_parser, hoist_global_options, main
from switchboard.logs import KeyValueFormatter, scrub


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "switchboard", *args], capture_output=True, text=True, check=False
    )


def test_version() -> None:
    proc = run("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"switchboard {__version__}"


def subcommand_paths(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    paths = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                paths.append((*prefix, name))
                paths.extend(subcommand_paths(sub, (*prefix, name)))
    return paths


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    paths = subcommand_paths(build_parser())
    assert ("config", "show") in paths
    for path in paths:
        with pytest.raises(SystemExit) as info:
            main([*path, "--help"])
        assert info.value.code == 0
        assert "usage: switchboard " + " ".join(path) in capsys.readouterr().out


def test_top_level_help_lists_commands() -> None:
    proc = run("--help")
    assert proc.returncode == 0
    for name in ("config",):
        assert name in proc.stdout


def test_usage_error_exits_2() -> None:
    proc = run("no-such-command")
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr


def test_key_value_log_lines_scrub_secrets() -> None:
    record = logging.LogRecord(
        "telephony.ami", logging.INFO, __file__, 1, "login secret: hunter2", None, None
    )
    record.fields = {"host": "127.0.0.1", "secret": "hunter2", "note": "card 4111 1111 1111 1234"}
    line = KeyValueFormatter().format(record)
    assert "\n" not in line
    assert "hunter2" not in line
    assert "level=info logger=telephony.ami" in line
    assert "host=127.0.0.1" in line
    assert "secret=***" in line
    assert "****1234" in line and "4111" not in line


def test_scrub_keeps_ordinary_numbers() -> None:
    assert scrub("caller +15550001111 waited 42s") == "caller +15550001111 waited 42s"


def test_global_options_may_follow_the_command(tmp_path: Path) -> None:
    settings = tmp_path / "s.toml"
    settings.write_text("[http]\nport = 9123\n")
    proc = run("config", "show", "--config", str(settings), "--log-level", "DEBUG")
    assert proc.returncode == 0, proc.stderr
    assert '"port": 9123' in proc.stdout


def test_hoisting_keeps_other_arguments_in_order() -> None:
    argv = ["report", "--from", "a", "--config=x.toml", "--by", "queue"]
    assert hoist_global_options(argv) == [
        "--config=x.toml",
        "report",
        "--from",
        "a",
        "--by",
        "queue",
    ]


def test_output_into_a_closed_pipe_is_not_a_traceback() -> None:
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head` that has already gone away
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "switchboard", "config", "show"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        os.close(write_end)
    assert proc.returncode == 0
    assert "Traceback" not in proc.stderr


def test_every_command_help_lists_the_global_options(capsys: pytest.CaptureFixture[str]) -> None:
    # They may stand after the command (switchboard run --config FILE), so its help says so.
    for path in subcommand_paths(build_parser()):
        with pytest.raises(SystemExit):
            main([*path, "--help"])
        out = capsys.readouterr().out
        assert "--config FILE" in out and "--log-level" in out, path


def test_a_missing_settings_file_is_named_plainly(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "show", "--config", "/nonexistent.toml"]) == 1
    err = capsys.readouterr().err
    assert err == "switchboard: error: --config /nonexistent.toml: file not found\n"


def test_a_broken_settings_file_is_named_plainly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[http\n")
    monkeypatch.setenv("SWITCHBOARD_CONFIG", str(broken))
    assert main(["config", "show"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"switchboard: error: SWITCHBOARD_CONFIG={broken}: not valid TOML")
    assert ": -:" not in err

"""``switchboard sim``: argument checks and a real standalone run on 127.0.0.1."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import pytest

from config.errors import InvalidInput
from switchboard.cli import main
from switchboard.commands.sim import _banner, parse_listen


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:5038") == ("127.0.0.1", 5038)
    for bad in ("5038", "127.0.0.1:", "127.0.0.1:99999", ":5038", "host:port"):
        with pytest.raises(InvalidInput):
            parse_listen(bad)


def test_a_chosen_secret_is_never_printed() -> None:
    # Only a generated secret is shown (tests/test_cli_sim.py runs that case).
    assert "secret" not in _banner("127.0.0.1", 5038, None)
    assert "secret s3" in _banner("127.0.0.1", 5038, ("switchboard", "s3"))


def test_negative_agents_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--listen", "127.0.0.1:0", "--agents", "-1"]) == 1
    assert "must not be negative" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_standalone_simulator_accepts_ami_logins() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "switchboard",
            "sim",
            "--listen",
            f"127.0.0.1:{port}",
            "--secret",
            "pw",
            "--agents",
            "2",
            "--rate",
            "30",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert f"127.0.0.1:{port}" in proc.stdout.readline().decode()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.settimeout(5)
            assert conn.recv(100) == b"Asterisk Call Manager/11.0.0\r\n"
            conn.sendall(b"Action: Login\r\nActionID: 1\r\nUsername: switchboard\r\n"
                         b"Secret: pw\r\n\r\n")  # fmt: skip
            data = b""
            deadline = time.monotonic() + 5
            while b"FullyBooted" not in data and time.monotonic() < deadline:
                data += conn.recv(4096)
            assert data.startswith(b"Response: Success\r\nActionID: 1\r\n")
            assert b"Event: FullyBooted" in data
        proc.send_signal(signal.SIGINT)  # Ctrl-C stops it cleanly
        assert proc.wait(10) == 0
        assert b"stopped" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)

"""``switchboard sim --listen 127.0.0.1:PORT`` exactly as the README writes it: with no
secret configured it makes one up, prints it, and accepts a login with it."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ami_login(port: int, username: str, secret: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.settimeout(5)
        conn.recv(100)  # the banner
        conn.sendall(
            f"Action: Login\r\nActionID: 1\r\nUsername: {username}\r\nSecret: {secret}\r\n\r\n".encode()
        )
        data = b""
        deadline = time.monotonic() + 5
        while b"\r\n\r\n" not in data and time.monotonic() < deadline:
            data += conn.recv(4096)
        return data


def test_readme_sim_command_works_without_a_secret() -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "switchboard", "sim", "--listen", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner = [proc.stdout.readline() for _ in range(3)]
        assert f"AMI on 127.0.0.1:{port}" in banner[0], (banner, proc.stderr)
        found = re.search(r"username (\S+), secret (\S+) \(generated", banner[1])
        assert found, banner
        username, secret = found.groups()
        assert f"SWITCHBOARD_AMI__SECRET={secret}" in banner[2]
        assert ami_login(port, username, secret + "x").startswith(b"Response: Error")
        assert ami_login(port, username, secret).startswith(b"Response: Success")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_sim_write_classes_are_checked() -> None:
    """``--write`` sets the AMI user's write classes; a misspelt class is refused at once."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    command = [sys.executable, "-m", "switchboard", "sim", "--listen", "127.0.0.1:0"]
    done = subprocess.run(
        [*command, "--write", "call,sytem"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0
    assert "unknown AMI write class(es): sytem" in done.stderr + done.stdout

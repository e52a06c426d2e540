"""The service commands as a user runs them: real processes, real sockets on 127.0.0.1.

`switchboard run` against a standalone `switchboard sim`, and `switchboard demo` — each
must come up, report healthy, serve the console, and stop cleanly on SIGTERM / SIGINT.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

PYTHON = [sys.executable, "-m", "switchboard"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return json.loads(resp.read())


def wait_healthy(url: str, proc: subprocess.Popen[str], seconds: float = 30.0) -> Any:
    deadline = time.monotonic() + seconds
    last: Any = None
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"process exited early: {proc.communicate()[1][-2000:]}"
        try:
            last = get_json(url + "/healthz")
            if last.get("ami", {}).get("connected"):
                return last
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"not healthy within {seconds}s: {last}")


def stop(proc: subprocess.Popen[str], sig: int) -> tuple[int, str, str]:
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"did not stop on {sig}: {err[-2000:]}") from None
    return proc.returncode, out, err


def test_run_connects_to_a_standalone_simulator(tmp_path: Path) -> None:
    ami_port, http_port = free_port(), free_port()
    env = {
        **os.environ,
        "SWITCHBOARD_AMI__PORT": str(ami_port),
        "SWITCHBOARD_AMI__SECRET": "cli-secret",
        "SWITCHBOARD_HTTP__PORT": str(http_port),
        "SWITCHBOARD_HTTP__PUBLIC_ORIGIN": f"http://127.0.0.1:{http_port}",
        "SWITCHBOARD_SECURITY__SESSION_SECRET": "x" * 32,
        "SWITCHBOARD_DATABASE__PATH": str(tmp_path / "run.sqlite3"),
    }
    sim = subprocess.Popen(
        [*PYTHON, "sim", "--listen", f"127.0.0.1:{ami_port}", "--agents", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    run = subprocess.Popen(
        [*PYTHON, "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        health = wait_healthy(f"http://127.0.0.1:{http_port}", run)
        assert health["database"]["ok"] is True
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/login", timeout=2) as resp:
            assert resp.status == 200
            assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
        code, _out, err = stop(run, signal.SIGTERM)
        assert code == 0, err[-2000:]
        assert "Traceback" not in err
        assert "cli-secret" not in err  # secrets never reach the log
        assert 'msg="AMI connected"' in err
    finally:
        for proc in (run, sim):
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


def test_run_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    proc = subprocess.run([*PYTHON, "run"], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("switchboard: error: settings: ami.secret: required")
    assert "Traceback" not in proc.stderr


def test_demo_starts_prints_logins_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    http_port = free_port()
    proc = subprocess.Popen(
        [*PYTHON, "demo", "--port", str(http_port), "--rate", "30", "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{http_port}"
        wait_healthy(url, proc)
        login = urllib.request.Request(
            url + "/api/login",
            data=json.dumps({"username": "sam", "password": "switchboard-demo"}).encode(),
            headers={"Content-Type": "application/json", "Origin": url},
        )
        with urllib.request.urlopen(login, timeout=5) as resp:
            assert json.loads(resp.read())["user"]["role"] == "supervisor"
        code, out, err = stop(proc, signal.SIGINT)
        assert code == 0, err[-2000:]
        assert "Traceback" not in err
        assert f"{url}/login" in out
        assert "switchboard-demo" in out and "alice" in out and "sam" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert (tmp_path / "demo.sqlite3").exists()

"""The real service as its own process (``python -m switchboard run``), to kill and restart.

The PBX simulator runs in the test's process on 127.0.0.1; the service connects to it
like to an Asterisk. ``ServiceProcess`` writes a settings file for a data directory, starts
the process, waits for ``/healthz``, and sends it signals. The soak benchmark
(``bench/takeover_soak.py``) uses it too, with its own queue file and extra settings.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from config.settings import PROJECT_ROOT

SECRET = "process-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServiceProcess:
    """Args:
    data: the data directory (settings file, database, one log file per start).
    ami_port: where the simulator listens on 127.0.0.1.
    queues_file: a queue file instead of config/queues.yaml.
    extra_settings: TOML appended to the settings file; only sections not written
        here ([ami], [http], [database], [ivr], [ivr.entries], and [routing] with
        ``queues_file``), e.g. ``[logging]`` or ``[security]``.
    health_poll: seconds between two /healthz probes while starting.
    database_url: ``database.url`` (a shared PostgreSQL); empty: the SQLite file.
    """

    def __init__(
        self,
        data: Path,
        ami_port: int,
        *,
        queues_file: Path | None = None,
        extra_settings: str = "",
        health_poll: float = 0.1,
        database_url: str = "",
    ) -> None:
        self.data = data
        self.health_poll = health_poll
        self.http_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.config = data / "switchboard.toml"
        self.config.write_text(
            f"""
[ami]
port = {ami_port}
reconnect_min = 0.05
reconnect_max = 0.5
ping_interval = 0
[http]
port = {self.http_port}
public_origin = "{self.url}"
[database]
path = "{data / "sb.sqlite3"}"
url = "{database_url}"
[ivr]
reload_interval = 0.5
[ivr.entries]
"5550100" = "demo_line"
default = "main"
"""
            + (f'[routing]\nqueues_file = "{queues_file}"\n' if queues_file else "")
            + extra_settings
        )
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.healthy_at = 0.0  # time.time() of the last start's first healthy answer

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def db_path(self) -> Path:
        return self.data / "sb.sqlite3"

    def log_path(self, n: int) -> Path:
        return self.data / f"service-{n}.log"

    async def start(self, within: float = 30.0) -> None:
        self.starts += 1
        env = {
            **os.environ,
            "SWITCHBOARD_AMI__SECRET": SECRET,
            "SWITCHBOARD_SECURITY__SESSION_SECRET": "t" * 32,
        }
        log = self.log_path(self.starts).open("wb")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "switchboard",
            "run",
            "--config",
            str(self.config),
            cwd=str(PROJECT_ROOT),
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        log.close()
        deadline = time.monotonic() + within
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.proc.returncode is not None:
                    raise AssertionError(f"service exited: {self.output()}")
                try:
                    async with http.get(self.url + "/healthz") as resp:
                        if resp.status == 200:
                            self.healthy_at = time.time()
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(self.health_poll)
        raise AssertionError(f"service not healthy within {within}s: {self.output()}")

    def output(self, n: int | None = None) -> str:
        path = self.log_path(n or self.starts)
        return path.read_text(errors="replace") if path.exists() else ""

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def wait(self, within: float = 15.0) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), within)

    async def kill(self) -> None:
        self.signal(signal.SIGKILL)
        await self.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


class Console:
    """A logged-in console user over HTTP (the supervisor drives agents' states)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def login(self, username: str, password: str) -> None:
        resp = await self.http.post(
            self.url + "/api/login",
            json={"username": username, "password": password},
            headers={"Origin": self.url},
        )
        assert resp.status == 200, await resp.text()
        self.csrf = (await resp.json())["csrf_token"]

    async def put(self, path: str, body: dict[str, Any]) -> Any:
        resp = await self.http.put(
            self.url + path, json=body, headers={"Origin": self.url, "X-CSRF-Token": self.csrf}
        )
        assert resp.status < 300, f"{path}: {resp.status} {await resp.text()}"
        return await resp.json()

    async def set_state(self, agent_id: str, state: str, reason: str = "") -> None:
        await self.put(
            f"/api/supervisor/agents/{agent_id}/state", {"state": state, "reason": reason}
        )

    async def agents(self) -> dict[str, dict[str, Any]]:
        resp = await self.http.get(self.url + "/api/agents", headers={"Origin": self.url})
        assert resp.status == 200, await resp.text()
        data = await resp.json()
        return {a["agent_id"]: a for a in data["agents"]}

    async def close(self) -> None:
        await self.http.close()

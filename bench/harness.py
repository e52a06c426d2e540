"""What the end-to-end benchmarks share: the real service seen from outside (RSS, CPU,
``/metrics``), a generated queue file and console users, polling, child-process lines.

``bench.takeover_soak`` and ``bench.capacity`` run the service as its own process
(``tests.service_process.ServiceProcess``) beside the PBX simulator; these helpers read
that process through ``/proc`` and its HTTP endpoints only, so a second service process
(another node) is read the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DID = "5550100"  # demo_line: welcome, lookup, menu (1 = sales)


def emit(payload: dict[str, Any]) -> None:
    """One JSON line to the parent process."""
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


async def stdin_reader() -> asyncio.StreamReader:
    """The parent's commands, read without a thread (EOF when the parent goes away)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


# -- setup --------------------------------------------------------------------------------------


def write_queue_file(
    path: Path, agent_ids: Sequence[str], wrap_up: float, name: str = "Bench Agent"
) -> None:
    """config/queues.yaml's queues, unlimited (no length or wait limit, callers join an
    empty queue), with the given agents serving all of them."""
    import yaml

    data = yaml.safe_load((ROOT / "config" / "queues.yaml").read_text())
    for queue in data["queues"].values():
        queue.update(wrap_up=wrap_up, max_length=0, max_wait=0, join_empty=True)
    names = list(data["queues"])
    data["agents"] = [
        {
            "id": aid,
            "name": f"{name} {i}",
            "endpoint": f"PJSIP/{aid}",
            "skills": {"sales": 3, "support": 3, "billing": 3, "vip": 3},
            "queues": names,
        }
        for i, aid in enumerate(agent_ids)
    ]
    path.write_text(yaml.safe_dump(data, sort_keys=False))


async def seed_users(
    db: Path | str, password: str, agents: Sequence[tuple[str, str]], admin: str | None = None
) -> None:
    """Console users ``(username, agent id)`` (and an admin) in the store at ``db``, hashed
    with cheap argon2 parameters: a thousand logins take seconds, not minutes, and the
    hash parameters are on no path the benchmarks measure."""
    import argon2

    from agent_console.auth import Passwords
    from crm_lookup.store import open_store

    cheap = Passwords(argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    hashed = cheap.hash(password)  # one hash for all: same password
    store = await open_store(db)
    try:
        if admin:
            await store.users.add(admin, hashed, "admin")
        for username, aid in agents:
            await store.users.add(username, hashed, "agent", aid)
    finally:
        await store.close()


# -- the service, seen from outside --------------------------------------------------------------


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (/proc/<pid>/stat, fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text -> {'name{labels}': value}, comments dropped."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            with contextlib.suppress(ValueError):
                out[name] = float(value)
    return out


@dataclass
class Sample:
    label: str
    rss_kb: int
    tasks: float
    websockets: float
    agents: dict[str, int]
    cpu: float = 0.0  # the service process's CPU seconds so far
    at: float = field(default_factory=time.time)


async def sample(http: Any, service: Any, label: str) -> Sample:
    async with http.get(service.url + "/metrics") as resp:
        figures = parse_metrics(await resp.text())
    agents = {
        key.split('"')[1]: int(v)
        for key, v in figures.items()
        if key.startswith("switchboard_agents{")
    }
    return Sample(
        label,
        rss_kb(service.pid),
        figures.get("switchboard_asyncio_tasks", -1.0),
        figures.get("switchboard_console_websockets", -1.0),
        agents,
        cpu_seconds(service.pid),
    )


async def until(check: Callable[[], Any], within: float, step: float = 0.1) -> bool:
    """Poll ``check`` (a function, or one returning an awaitable) until it holds."""

    async def holds() -> bool:
        value = check()
        return bool(await value if inspect.isawaitable(value) else value)

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await holds():
            return True
        await asyncio.sleep(step)
    return await holds()


async def stop_child(proc: asyncio.subprocess.Process | None, within: float) -> None:
    """End a child that reads commands on stdin: close its stdin (its cue to finish) and
    wait ``within`` seconds, then kill it."""
    if proc is None or proc.returncode is not None:
        return
    with contextlib.suppress(Exception):
        assert proc.stdin is not None
        proc.stdin.close()
    try:
        await asyncio.wait_for(proc.wait(), within)
    except TimeoutError:
        proc.kill()
        await proc.wait()


def error_lines(text: str) -> list[str]:
    bad = ("level=ERROR", "level=CRITICAL", "Traceback", "never retrieved", "Task was destroyed")
    return [line for line in text.splitlines() if any(b in line for b in bad)]


class Tasks(list[asyncio.Future[Any]]):
    """The run's background tasks, cancelled together when it ends early."""

    def ensure(self, coro: Any) -> asyncio.Future[Any]:
        task = asyncio.ensure_future(coro)
        self.append(task)
        return task


class LoopLag:
    """The worst lateness of a 50 ms ticker in this process (the simulator's loop)."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task = asyncio.ensure_future(self._tick())

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + 0.05
            await asyncio.sleep(0.05)
            self.worst = max(self.worst, loop.time() - due)

    def stop(self) -> None:
        self._task.cancel()


# -- the calls ----------------------------------------------------------------------------------


class Traffic:
    """``rate`` calls a second for ``seconds``, each from a number of its own."""

    def __init__(self, sim: Any, rate: float, seconds: float, talk: tuple[float, float],
                 patience: float, did: str = DID) -> None:  # fmt: skip
        self.sim, self.rate, self.total = sim, rate, max(1, int(rate * seconds))
        self.did = did
        self.talk, self.patience = talk, patience
        self.placed: list[tuple[float, str]] = []  # (time.time(), uniqueid)
        self.behind = 0.0  # the worst delay of a call behind its schedule

    async def run(self, first: int = 0) -> None:
        """Place the calls on schedule, numbered from ``first`` (a caller number each)."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        for n in range(self.total):
            due = start + n / self.rate
            if (delay := due - loop.time()) > 0:
                await asyncio.sleep(delay)
            else:
                self.behind = max(self.behind, -delay)
            self.place(f"+1555{(first + n) % 10_000_000:07d}")

    async def burst(self, count: int, spread: float) -> list[str]:
        """A peak: ``count`` callers within ``spread`` seconds, on top of the steady
        calls (from numbers the steady calls never use)."""
        keys = []
        for k in range(count):
            keys.append(self.place(f"+1556{k % 10_000_000:07d}"))
            if spread > 0:
                await asyncio.sleep(spread / count)
        return keys

    def place(self, caller: str) -> str:
        uniqueid: str = self.sim.place_call(
            caller, did=self.did, dtmf=["1", "1"], patience=self.patience, talk_seconds=self.talk
        )
        self.placed.append((time.time(), uniqueid))
        return uniqueid

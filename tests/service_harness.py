"""A real service (AMI client, call center, console app) against the PBX simulator on 127.0.0.1."""

from __future__ import annotations

import asyncio
import calendar
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

from aiohttp import web

from config.settings import Settings, load_settings
from switchboard.service import Service, build_service
from telephony.simulator import PbxSimulator, PhoneBehaviour

SECRET = "harness-secret"


def harness_settings(
    tmp: Path,
    ami_port: int,
    http_port: int = 0,
    queues_file: Path | None = None,
    database_url: str = "",
) -> Settings:
    base = load_settings(environ={})
    routing = base.routing
    if queues_file is not None:
        routing = dataclasses.replace(routing, queues_file=str(queues_file))
    return dataclasses.replace(
        base,
        routing=routing,
        ami=dataclasses.replace(
            base.ami,
            port=ami_port,
            secret=SECRET,
            reconnect_min=0.05,
            reconnect_max=0.5,
            ping_interval=0,
        ),
        http=dataclasses.replace(
            base.http, port=http_port, public_origin=f"http://127.0.0.1:{http_port}"
        ),
        database=dataclasses.replace(base.database, url=database_url, path=str(tmp / "sb.sqlite3")),
        security=dataclasses.replace(base.security, session_secret="s" * 32),
        ivr=dataclasses.replace(
            base.ivr, entries={"5550100": "demo_line", "default": "main"}, reload_interval=0.5
        ),
        # the shipped queue file records sales and support: their files stay in the test's
        recording=dataclasses.replace(base.recording, dir=str(tmp / "recordings")),
    )


class Recorder:
    """Collects what the center publishes, and waits for a message."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self._changed = asyncio.Event()

    def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        self._changed.set()

    async def wait_for(
        self, match: Callable[[dict[str, Any]], bool], within: float = 15.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + within
        seen = 0
        while True:
            for message in self.messages[seen:]:
                if match(message):
                    return message
            seen = len(self.messages)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                types = [m.get("type") for m in self.messages[-20:]]
                raise AssertionError(f"no matching message within {within}s; last: {types}")
            self._changed.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)


@asynccontextmanager
async def running_service(
    tmp: Path,
    *,
    time_scale: float = 0.05,
    phones: dict[str, PhoneBehaviour] | None = None,
    web_port: int | None = None,
    queues_file: Path | None = None,
    clock: Callable[[], float] = time.time,
    database_url: str = "",
    tweak: Callable[[Settings], Settings] | None = None,
) -> AsyncIterator[tuple[Service, PbxSimulator, Recorder, str]]:
    sim = PbxSimulator("switchboard", SECRET, time_scale=time_scale, seed=7)
    port = await sim.start("127.0.0.1", 0)
    for endpoint, behaviour in (phones or {}).items():
        sim.add_phone(endpoint, behaviour)
    http_port = web_port or _free_port()
    settings = harness_settings(tmp, port, http_port, queues_file, database_url)
    if tweak is not None:  # a test's own IVR scripts, say
        settings = tweak(settings)
    service = await build_service(settings, clock=clock)
    recorder = Recorder()
    service.center.subscribe(recorder)
    runner = web.AppRunner(service.app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", http_port)
    await site.start()
    try:
        for _ in range(200):
            if service.ami.connected:
                break
            await asyncio.sleep(0.05)
        assert service.ami.connected, "service did not connect to the simulator"
        yield service, sim, recorder, f"http://127.0.0.1:{http_port}"
    finally:
        await runner.cleanup()
        await sim.stop()


async def started_service(
    settings: Settings, *, connect_within: float = 20.0
) -> tuple[Service, web.AppRunner, Recorder]:
    """The service built on ``settings``, its cleanup contexts started (no HTTP site) and
    connected to the simulator within ``connect_within`` seconds, with a Recorder on its
    messages: what a restart test starts, stops (``runner.cleanup()``) and starts again."""
    service = await build_service(settings)
    recorder = Recorder()
    service.center.subscribe(recorder)
    runner = web.AppRunner(service.app, access_log=None)
    await runner.setup()
    for _ in range(int(connect_within / 0.05)):
        if service.ami.connected:
            break
        await asyncio.sleep(0.05)
    assert service.ami.connected, "service did not connect to the simulator"
    return service, runner, recorder


def clock_at(utc: tuple[int, int, int, int, int]) -> Callable[[], float]:
    """A clock that runs at real speed from the given UTC time (year, month, day, h, m)."""
    offset = calendar.timegm((*utc, 0, 0, 0, 0)) - time.time()
    return lambda: time.time() + offset


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

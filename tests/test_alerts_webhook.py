"""The alerts webhook against a local aiohttp server that is slow (the attempt times out
and is retried), failing (500), then recovering: every notification delivered once, in
order, signed; a full queue drops the oldest."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from typing import Any

import pytest
from aiohttp import web

from routing import webhook as webhook_module
from routing.webhook import SIGNATURE_HEADER, Webhook

SECRET = "s3cret"


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhook_module, "BACKOFF_FIRST", 0.02)
    monkeypatch.setattr(webhook_module, "BACKOFF_LONGEST", 0.05)


class Server:
    def __init__(self) -> None:
        self.script: list[str] = []  # per request: "slow", "fail" or "ok" (then "ok")
        self.received: list[tuple[bytes, str]] = []
        self.delivered: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append((body, request.headers.get(SIGNATURE_HEADER, "")))
        step = self.script.pop(0) if self.script else "ok"
        if step == "slow":
            await asyncio.sleep(1.0)
        if step == "fail":
            return web.Response(status=500)
        self.delivered.append(json.loads(body))
        return web.Response(status=204)


@pytest.fixture
async def server() -> Any:
    s = Server()
    app = web.Application()
    app.router.add_post("/hook", s.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    s.url = f"http://127.0.0.1:{port}/hook"  # type: ignore[attr-defined]
    yield s
    await runner.cleanup()


async def until(predicate: Any, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def test_slow_then_failing_then_recovering_delivers_each_once_in_order(server: Any) -> None:
    hook = Webhook(server.url, SECRET, timeout=0.2, retries=5)
    hook.start()
    try:
        server.script = ["slow", "fail", "fail"]
        hook.notify("alert.raised", {"id": "a1", "rule": "no_agent_ready"})
        hook.notify("alert.acknowledged", {"id": "a1", "acked_by": "sue"})
        hook.notify("alert.cleared", {"id": "a1"})
        # notify never waits: all three are queued while the first is still being tried
        assert hook.pending == 3
        await until(lambda: hook.pending == 0)
        assert [d["event"] for d in server.delivered] == [
            "alert.raised",
            "alert.acknowledged",
            "alert.cleared",
        ]
        assert server.delivered[1]["alert"] == {"id": "a1", "acked_by": "sue"}
        assert len(server.received) == 6  # 3 failed attempts of the first, then one each
        for body, header in server.received:
            expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert header == f"sha256={expected}"
        await asyncio.sleep(0.2)
        assert len(server.received) == 6  # nothing sent twice after a success
        assert (hook.delivered, hook.failed) == (3, 0)
    finally:
        await hook.close()


async def test_given_up_after_the_retries_and_the_next_goes(server: Any) -> None:
    hook = Webhook(server.url, "", timeout=0.5, retries=2)
    hook.start()
    try:
        server.script = ["fail", "fail", "fail"]
        hook.notify("alert.raised", {"id": "x"})
        hook.notify("alert.raised", {"id": "y"})
        await until(lambda: hook.pending == 0)
        assert [d["alert"]["id"] for d in server.delivered] == ["y"]
        assert hook.failed == 1
        assert all(header == "" for _, header in server.received)  # no secret: unsigned
    finally:
        await hook.close()


async def test_a_full_queue_drops_the_oldest(caplog: pytest.LogCaptureFixture) -> None:
    hook = Webhook("http://127.0.0.1:9/none", SECRET, max_queue=2)  # not started
    for n in range(3):
        hook.notify("alert.raised", {"id": str(n)})
    assert (hook.pending, hook.dropped) == (2, 1)
    assert "oldest notification dropped" in caplog.text
    assert SECRET not in caplog.text

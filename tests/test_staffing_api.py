"""``GET /api/staffing`` and the wallboard's "needs +N agents" through the real console
server over the FakeCenter (tests/console_fakes.py) and a real store."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from agent_console.keys import STAFFING
from crm_lookup.staffing import agents_needed
from tests.console_fakes import UserClient

GOOD = {"calls": "100", "aht": "180", "interval": "1800", "target": "0.8", "within": "20"}


def _query(**changes: str | None) -> str:
    params = {k: v for k, v in (GOOD | changes).items() if v is not None}
    return "/api/staffing?" + "&".join(f"{k}={v}" for k, v in params.items())


async def _user(world: Any, name: str | None) -> UserClient:
    client = UserClient(world)
    world.clients.append(client)
    if name is not None:
        assert (await client.login(name)).status == 200
    return client


async def test_roles(world: Any) -> None:
    anonymous = await _user(world, None)
    assert (await anonymous.request("GET", _query())).status == 401
    assert (await anonymous.request("GET", "/api/staffing/now")).status == 401
    alice = await _user(world, "alice")  # an agent
    assert (await alice.request("GET", _query())).status == 403
    assert (await alice.request("GET", "/api/staffing/now")).status == 403
    for name in ("sue", "root"):
        user = await _user(world, name)
        resp = await user.request("GET", _query())
        assert resp.status == 200
        body = await resp.json()
        assert body == agents_needed(100, 180, 1800, 0.8, 20).to_json()
        assert body["agents"] == 14
        assert set(body) == {"agents", "service_level", "occupancy", "asa"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"calls": None}, "calls"),
        ({"aht": None}, "aht"),
        ({"interval": None}, "interval"),
        ({"target": None}, "target"),
        ({"within": None}, "within"),
        ({"calls": "abc"}, "calls"),
        ({"calls": "-1"}, "calls"),
        ({"calls": "nan"}, "calls"),
        ({"calls": "inf"}, "calls"),
        ({"calls": "1" * 40}, "calls"),
        ({"calls": "100001"}, "calls"),
        ({"aht": "0"}, "aht"),
        ({"aht": "86401"}, "aht"),
        ({"interval": "59"}, "interval"),
        ({"target": "0"}, "target"),
        ({"target": "1"}, "target"),
        ({"target": "80"}, "target"),
        ({"within": "-5"}, "within"),
        ({"within": "3601"}, "within"),
        # each within its bounds, but 100,000 calls of a day each in one minute
        ({"calls": "100000", "aht": "86400", "interval": "60"}, "calls"),
    ],
)
async def test_bad_values_are_400s_naming_the_field(
    world: Any, changes: dict[str, str | None], field: str
) -> None:
    sue = await _user(world, "sue")
    resp = await sue.request("GET", _query(**changes))
    assert resp.status == 400
    body = await resp.json()
    assert body["error"] == "invalid_input"
    assert body["field"] == field
    assert body["message"]


async def test_zero_calls_need_no_agents(world: Any) -> None:
    sue = await _user(world, "sue")
    body = await (await sue.request("GET", _query(calls="0"))).json()
    assert body == {"agents": 0, "service_level": 1.0, "occupancy": 0.0, "asa": 0.0}


async def test_a_500_agent_load(world: Any) -> None:
    sue = await _user(world, "sue")
    body = await (await sue.request("GET", _query(calls="4800"))).json()
    assert body == agents_needed(4800, 180, 1800, 0.8, 20).to_json()
    assert 480 < body["agents"] < 520


# -- the wallboard figure --------------------------------------------------------------


async def _next_staffing(ws: Any, queue: str, wait: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + wait
    while True:
        msg = await ws.receive(timeout=max(0.01, deadline - time.monotonic()))
        data = json.loads(msg.data)
        if data["type"] == "staffing" and data["queue"] == queue:
            return data


async def seed_last_week(world: Any) -> tuple[float, float]:
    """A history for the interval an hour from now (so the board's start-up refresh, in
    real time, was another interval): 40 sales calls of 180 s in that interval a week ago
    and 4 support calls abandoned. Returns (interval start, a moment inside it)."""
    size = 900
    now = time.time() + 3600
    start = now - now % size
    store = world.store
    for i in range(40):
        key = f"h{i}"
        t = start - 7 * 86400 + i * 5
        await store.contacts.arrived(key, "+15550001111", "100", at=t - 10)
        await store.contacts.queued(key, "sales", at=t)
        await store.contacts.answered(key, "1001", at=t + 5)
        await store.contacts.ended(key, at=t + 185, outcome="answered")
    for i in range(4):  # support (sue does not supervise it)
        key = f"p{i}"
        t = start - 7 * 86400 + i * 5
        await store.contacts.arrived(key, "+15550001112", "100", at=t - 10)
        await store.contacts.queued(key, "support", at=t)
        await store.contacts.ended(key, at=t + 30, outcome="abandoned_queue")
    return start, start + 100


async def test_wallboard_needs_agents_against_those_logged_in(world: Any) -> None:
    start, fixed = await seed_last_week(world)
    board = world.app[STAFFING]
    board.clock = lambda: fixed
    sue = await _user(world, "sue")
    ws = await sue.ws()
    assert json.loads((await ws.receive(timeout=5)).data)["type"] == "snapshot"
    await board.refresh()
    # config/queues.yaml: sales answers 80% (its service_level warn) within 20 s
    expected = agents_needed(40, 180, 900, 0.8, 20).agents
    msg = await _next_staffing(ws, "sales")
    fig = msg["staffing"]
    assert fig["interval_start"] == start
    assert fig["forecast_calls"] == 40
    assert fig["aht"] == 180
    assert fig["agents_needed"] == expected == 11
    assert fig["logged_in"] == 0
    assert fig["needs_agents"] == expected

    # two sales agents sign in (one ready, one not ready: both logged in)
    await world.center.set_agent_state("1001", "ready")
    await world.center.set_agent_state("1003", "not_ready", "break")
    await board.refresh()
    fig = (await _next_staffing(ws, "sales"))["staffing"]
    assert fig["logged_in"] == 2 and fig["needs_agents"] == expected - 2

    # the supervisor sees only their queues, on the socket and in the API
    body = await (await sue.request("GET", "/api/staffing/now")).json()
    names = [q["queue"] for q in body["queues"]]
    assert "support" not in names and "sales" in names
    assert body["interval_minutes"] == 15
    root = await _user(world, "root")
    body = await (await root.request("GET", "/api/staffing/now")).json()
    by_queue = {q["queue"]: q for q in body["queues"]}
    assert by_queue["support"]["forecast_calls"] == 4
    assert by_queue["support"]["aht"] == 360  # no answered call: support's default_handle_time
    with pytest.raises(asyncio.TimeoutError):
        await _next_staffing(ws, "support", wait=0.3)
    await ws.close()


async def test_nothing_is_published_when_nothing_changed(world: Any) -> None:
    board = world.app[STAFFING]
    sue = await _user(world, "sue")
    ws = await sue.ws()
    assert json.loads((await ws.receive(timeout=5)).data)["type"] == "snapshot"
    await board.refresh()
    await board.refresh()
    with pytest.raises(asyncio.TimeoutError):
        await _next_staffing(ws, "sales", wait=0.3)
    await ws.close()


async def test_the_calculator_answers_off_the_event_loop(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The largest load the API takes is hundreds of agents to try: the search runs in a
    thread while the loop goes on serving (a request meanwhile is answered)."""
    import threading

    import agent_console.staffing as staffing

    started, release = threading.Event(), threading.Event()
    waited_out: list[bool] = []

    def slow(*args: float) -> Any:
        started.set()
        # on the loop itself nothing could set this: it would wait the whole 2 s out
        waited_out.append(not release.wait(2))
        return agents_needed(*args)

    monkeypatch.setattr(staffing, "agents_needed", slow)
    sue = await _user(world, "sue")
    pending = asyncio.ensure_future(sue.request("GET", _query()))
    await asyncio.to_thread(started.wait, 5)
    assert (await sue.request("GET", "/api/me")).status == 200  # the loop is free
    release.set()
    assert (await pending).status == 200
    assert waited_out == [False]


async def test_agents_signing_in_are_counted_without_waiting_for_the_minute(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Right after a shift starts the tile must not say 0 logged in while agents take
    calls: an agent_state change has the counts taken again from the forecast read."""
    import agent_console.staffing as staffing

    monkeypatch.setattr(staffing, "RECOUNT_SECONDS", 0.05)
    start, fixed = await seed_last_week(world)
    board = world.app[STAFFING]
    board.clock = lambda: fixed
    sue = await _user(world, "sue")
    ws = await sue.ws()
    assert json.loads((await ws.receive(timeout=5)).data)["type"] == "snapshot"
    await board.refresh()
    assert (await _next_staffing(ws, "sales"))["staffing"]["logged_in"] == 0
    await world.center.set_agent_state("1001", "ready")  # no refresh called
    fig = (await _next_staffing(ws, "sales", wait=3))["staffing"]
    assert fig["logged_in"] == 1 and fig["interval_start"] == start
    await ws.close()


# -- the queue file's targets: read once, again only when it changed --------------------


async def test_the_queue_file_is_read_once_not_per_request_and_off_the_loop(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every wallboard refresh and every one-queue interval report used to re-read and
    re-parse the queue file; now the file is parsed once (in a worker thread) and the
    figures stay the same."""
    import threading

    import agent_console.staffing as staffing

    start, fixed = await seed_last_week(world)
    board = world.app[STAFFING]
    board.clock = lambda: fixed
    loop_thread = threading.get_ident()  # the test runs on the event loop's thread
    parsed: list[int] = []  # the thread of each parse
    real = staffing.load_queue_file

    def counting(path: Any) -> Any:
        parsed.append(threading.get_ident())
        return real(path)

    monkeypatch.setattr(staffing, "load_queue_file", counting)
    # targets not read yet (as at start-up), so the parse happens here, where it is seen
    board.targets = staffing.QueueTargets(board.targets.path)
    for _ in range(3):
        figures = await board.refresh()
    assert figures["sales"]["agents_needed"] == agents_needed(40, 180, 900, 0.8, 20).agents
    sue = await _user(world, "sue")
    day = time.strftime("%Y-%m-%d", time.gmtime(start - 7 * 86400))  # the history's day
    for _ in range(3):
        resp = await sue.request(
            "GET", f"/api/reports?from={day}&to={day}&tz=UTC&by=interval&queue=sales"
        )
        assert resp.status == 200, await resp.text()
        assert any(row["staffing"] for row in (await resp.json())["rows"])
    assert len(parsed) == 1, parsed  # once, for three refreshes and three reports
    assert parsed[0] != loop_thread  # in a worker thread, off the event loop


async def test_queue_targets_are_read_again_only_when_the_file_changes(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import shutil
    from pathlib import Path

    import agent_console.staffing as staffing

    path = tmp_path / "queues.yaml"
    shutil.copy(Path(__file__).parents[1] / "config" / "queues.yaml", path)
    parsed: list[Path] = []
    real = staffing.load_queue_file
    monkeypatch.setattr(staffing, "load_queue_file", lambda p: parsed.append(p) or real(p))
    targets = staffing.QueueTargets(path)
    first = await targets.get()
    assert first["sales"].target == 0.8 and first["sales"].within == 20
    assert await targets.get() == first and await targets.refresh() == first
    assert len(parsed) == 1
    text = path.read_text()
    sales = "\n      service_level: {warn: 0.8, bad: 0.6}"  # the first queue, sales
    assert text.count(sales) == 1
    path.write_text(text.replace(sales, "\n      service_level: {warn: 0.9, bad: 0.6}"))
    os.utime(path, ns=(1, 1))  # a different modification time, whatever the clock
    changed = await targets.refresh()
    assert changed["sales"].target == 0.9 and len(parsed) == 2
    await targets.refresh()
    assert len(parsed) == 2
    # a broken version is refused once; the last good targets keep serving
    path.write_text("queues: [")
    os.utime(path, ns=(2, 2))
    assert (await targets.refresh())["sales"].target == 0.9
    await targets.refresh()
    assert len(parsed) == 3

"""Pausing and resuming a call's recording through the console (real server on 127.0.0.1
over the FakeCenter): only the agent on the call, HTTP and websocket alike, the error
answers, and the call update every console of the agent gets."""

from __future__ import annotations

from typing import Any

import pytest

from tests.console_fakes import World, seed
from tests.test_console_ws import recv


@pytest.fixture
async def world(tmp_path: Any) -> Any:
    w = await World().start(tmp_path)
    await seed(w)
    # r1: a recorded sales call alice (1001) is talking on
    w.center.arrive("r1", "sales", "+15551230009", recorded=True)
    w.center.calls["r1"].update(
        state="talking", agent_id="1001", recording={"on": True, "paused": False}
    )
    yield w
    await w.close()


@pytest.mark.parametrize("user", ["bob", "sue", "root"])
async def test_nobody_but_the_agent_on_the_call_may_pause(world: Any, user: str) -> None:
    client = await world.client(user)
    for op in ("pause_recording", "resume_recording"):
        resp = await client.request("POST", f"/api/calls/r1/{op}")
        assert resp.status == 403, (user, op, await resp.text())
        assert (await resp.json())["error"] == "permission_denied"
    assert world.center.actions == []


async def test_anonymous_is_401(world: Any) -> None:
    anon = await world.client()
    resp = await anon.request("POST", "/api/calls/r1/pause_recording", csrf=False)
    assert resp.status == 401


async def test_the_agent_pauses_and_resumes_and_the_console_hears_of_it(world: Any) -> None:
    alice = await world.client("alice")
    ws = await alice.ws()
    await recv(ws, "snapshot")
    resp = await alice.request("POST", "/api/calls/r1/pause_recording")
    assert resp.status == 200, await resp.text()
    assert await resp.json() == {"call_id": "r1", "op": "pause_recording"}
    update = await recv(ws, "call_update")
    assert update["call"]["recording"] == {"on": True, "paused": True}
    # again: already paused, nothing reaches the PBX
    assert (await alice.request("POST", "/api/calls/r1/pause_recording")).status == 200
    await ws.send_json({"type": "resume_recording", "call_id": "r1", "id": 7})
    ack = await recv(ws, "ack")
    assert ack["id"] == 7 and ack["result"]["op"] == "resume_recording"
    assert world.center.actions == [
        ("recording_pause", "1001", "r1", True),
        ("recording_pause", "1001", "r1", False),
    ]


async def test_error_answers(world: Any) -> None:
    alice = await world.client("alice")
    # c1: alice's call, not recorded -> 409
    resp = await alice.request("POST", "/api/calls/c1/pause_recording")
    assert resp.status == 409 and (await resp.json())["error"] == "conflict"
    assert (await alice.request("POST", "/api/calls/nope/pause_recording")).status == 404
    assert (await alice.request("POST", "/api/calls/a%0Db/pause_recording")).status == 400
    assert (await alice.request("POST", "/api/calls/r1/mute_recording")).status == 404
    world.center.fail_next = "recording_pause"
    resp = await alice.request("POST", "/api/calls/r1/pause_recording")
    assert resp.status == 502 and (await resp.json())["error"] == "remote_error"
    assert world.center.calls["r1"]["recording"]["paused"] is False
    world.center.calls["r1"]["state"] = "ringing"
    resp = await alice.request("POST", "/api/calls/r1/pause_recording")
    assert resp.status == 409 and (await resp.json())["error"] == "illegal_transition"


async def test_over_the_socket_another_agent_is_refused(world: Any) -> None:
    bob = await world.client("bob")
    ws = await bob.ws()
    await recv(ws, "snapshot")
    await ws.send_json({"type": "pause_recording", "call_id": "r1", "id": 1})
    err = await recv(ws, "error")
    assert (err["id"], err["error"]) == (1, "permission_denied")
    assert world.center.actions == []

"""``GET /ws`` through the real server: snapshot, deltas, screen pop content and routing,
validation of inbound messages, Origin check, reconnect, slow clients, shutdown."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from agent_console.keys import HUB
from agent_console.ws import MAX_PENDING
from tests.console_fakes import World, seed

TIMEOUT = 5.0


@pytest.fixture
async def world(tmp_path: Any) -> Any:
    w = await World().start(tmp_path)
    yield w
    await w.close()


async def recv(ws: Any, kind: str | None = None) -> dict[str, Any]:
    """The next message (of ``kind`` when given, skipping others)."""
    while True:
        msg = await asyncio.wait_for(ws.receive(), TIMEOUT)
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        data = json.loads(msg.data)
        if kind is None or data["type"] == kind:
            return data


async def drain(ws: Any, wait: float = 0.05) -> list[dict[str, Any]]:
    out = []
    while True:
        try:
            msg = await asyncio.wait_for(ws.receive(), wait)
        except TimeoutError:
            return out
        if msg.type is not aiohttp.WSMsgType.TEXT:
            return out
        out.append(json.loads(msg.data))


async def test_snapshot_first_then_deltas(world: Any) -> None:
    bob = await world.client("bob")
    ws = await bob.ws()
    snap = await recv(ws)
    assert snap["type"] == "snapshot"
    assert snap["me"]["agent_id"] == "1002"
    assert [q["name"] for q in snap["queues"]] == ["support"]
    assert [a["agent_id"] for a in snap["agents"]] == ["1002"]  # agents see only themselves
    assert snap["agents"][0]["state"] == "logged_out"
    assert snap["config"]["not_ready_reasons"] == world.settings.routing.not_ready_reasons
    resp = await bob.request("PUT", "/api/agents/me/state", {"state": "ready"})
    assert resp.status == 200
    delta = await recv(ws, "agent_state")
    assert delta["agent"]["agent_id"] == "1002"
    assert delta["agent"]["state"] == "ready"
    world.center.agents["1003"]["state"] = "ready"
    await world.center.set_agent_state("1003", "not_ready", "break")
    others = await drain(ws)
    assert others == []  # an agent's console gets only its own agent's deltas


async def test_screen_pop_goes_to_the_ringing_agent_only(world: Any) -> None:
    ids = await seed(world)
    alice, bob, sue = [await world.client(n) for n in ("alice", "bob", "sue")]
    ws_a, ws_b, ws_s = await alice.ws(), await bob.ws(), await sue.ws()
    for ws in (ws_a, ws_b, ws_s):
        await recv(ws, "snapshot")
    world.center.end("c1")
    await alice.request(
        "POST", "/api/contacts/{contact}/wrapup".format(**ids), {"disposition": "resolved"}
    )
    path = [
        {"node": "menu", "kind": "menu", "digits": "1", "result": "sales"},
        {"node": "account", "kind": "collect", "digits": "", "result": "verified"},
    ]
    world.center.arrive(
        "c9",
        "sales",
        "+15551230001",
        contact_id=ids["contact"],
        path=path,
        verified=True,
        waited=42,
    )
    world.center.offer("c9", "1001", ids["card"])
    pop = await recv(ws_a, "screen_pop")
    assert pop["agent_id"] == "1001"
    assert pop["call"]["call_id"] == "c9"
    assert pop["call"]["caller"] == "+15551230001"
    assert pop["call"]["ivr"] == {"path": path, "verified": True, "waited": 42}
    assert pop["card"] == json.loads(json.dumps(ids["card"], default=str))
    assert "Ada Lovelace" in json.dumps(pop["card"])
    for ws in (ws_b, ws_s):
        assert "screen_pop" not in {m["type"] for m in await drain(ws)}


async def test_supervisor_gets_only_their_queues(world: Any) -> None:
    sue = await world.client("sue")
    ws = await sue.ws()
    snap = await recv(ws)
    assert sorted(q["name"] for q in snap["queues"]) == ["billing", "sales"]
    assert "1002" not in {a["agent_id"] for a in snap["agents"]}
    world.center.arrive("w2", "support", "+15550000002")
    world.center.arrive("w1", "sales", "+15550000001")
    got = await drain(ws, 0.2)
    queues = {m["queue"] for m in got if m["type"] in ("queue_stats", "call_update")}
    assert queues == {"sales"}
    world.center.set_intervals([{"start": 0, "offered": 3, "answered": 2, "abandoned": 1}])
    wall = await recv(ws, "wallboard")
    assert wall["intervals"][0]["offered"] == 3


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("not json", None),
        ("[1, 2]", None),
        ('{"id": 1}', "type"),
        ('{"type": "teleport", "id": 2}', "type"),
        ('{"type": "set_state", "id": 3}', "state"),
        ('{"type": "set_state", "state": "not_ready", "reason": "nap", "id": 4}', "reason"),
        ('{"type": "hold", "id": 5}', "call_id"),
        ('{"type": "transfer", "call_id": "c1", "kind": "number", "target": "1\\r\\n2"}', "target"),
        ('{"type": "dial", "number": "abc"}', "number"),
        ('{"type": "ping", "id": {"x": 1}}', "id"),
    ],
)
async def test_bad_messages_get_an_error_and_the_socket_stays(
    world: Any, raw: str, field: str | None
) -> None:
    bob = await world.client("bob")
    ws = await bob.ws()
    await recv(ws, "snapshot")
    await ws.send_str(raw)
    err = await recv(ws, "error")
    assert err["error"] == "invalid_input"
    assert err["message"]
    if field:
        assert err.get("field") == field
    await ws.send_str('{"type": "ping", "id": "p"}')
    assert await recv(ws, "pong") == {"type": "pong", "id": "p"}
    assert world.center.actions == []


async def test_binary_frames_are_refused_without_closing(world: Any) -> None:
    bob = await world.client("bob")
    ws = await bob.ws()
    await recv(ws, "snapshot")
    await ws.send_bytes(b"\x00\x01")
    assert (await recv(ws, "error"))["error"] == "invalid_input"
    await ws.send_str('{"type": "ping"}')
    await recv(ws, "pong")


async def test_every_message_is_role_checked(world: Any) -> None:
    await seed(world)
    bob = await world.client("bob")
    ws = await bob.ws()
    await recv(ws, "snapshot")
    await ws.send_json({"type": "force_state", "agent_id": "1003", "state": "ready", "id": 1})
    err = await recv(ws, "error")
    assert (err["id"], err["error"]) == (1, "permission_denied")
    await ws.send_json({"type": "hangup", "call_id": "c1", "id": 2})  # alice's call
    assert (await recv(ws, "error"))["error"] == "permission_denied"
    await ws.send_json({"type": "set_state", "state": "ready", "id": 3})
    ack = await recv(ws, "ack")
    assert ack["id"] == 3 and ack["result"]["state"] == "ready"
    assert world.center.actions == [("state", "1002", "ready", "", None)]


async def test_a_wrap_up_draft_is_saved_over_the_socket(world: Any) -> None:
    ids = await seed(world)
    alice = await world.client("alice")
    ws = await alice.ws()
    await recv(ws, "snapshot")
    typed = {"disposition": "", "notes": "router replaced", "case": {"mode": "none"}}
    # calls carry contact_id as a number: the socket takes it so, or as its digits
    contact = int(ids["contact"])
    await ws.send_json({"type": "save_draft", "contact_id": contact, "id": 1, **typed})
    ack = await recv(ws, "ack")
    assert ack["id"] == 1 and ack["result"]["saved_at"] > 0
    assert world.center.actions[-1] == ("wrapup_draft", "1001", True)
    stored = await world.store.drafts.get(contact)
    assert stored is not None and stored.data["notes"] == "router replaced"
    await ws.send_json({"type": "save_draft", "contact_id": ids["contact"], "notes": "a\rb"})
    assert (await recv(ws, "error"))["field"] == "notes"
    await ws.send_json({"type": "save_draft", "contact_id": True, "notes": "x"})
    assert (await recv(ws, "error"))["field"] == "contact_id"
    bob = await world.client("bob")
    ws_bob = await bob.ws()
    await recv(ws_bob, "snapshot")
    await ws_bob.send_json({"type": "save_draft", "contact_id": contact, "notes": "mine now"})
    assert (await recv(ws_bob, "error"))["error"] == "permission_denied"  # alice's contact
    kept = await world.store.drafts.get(contact)
    assert kept is not None and kept.data["notes"] == "router replaced"


async def test_supervisor_actions_over_the_socket(world: Any) -> None:
    await seed(world)
    sue = await world.client("sue")
    ws = await sue.ws()
    await recv(ws, "snapshot")
    await ws.send_json({"type": "spy", "agent_id": "1001", "mode": "whisper", "id": "s"})
    assert (await recv(ws, "ack"))["result"] == {"agent_id": "1001", "mode": "whisper"}
    await ws.send_json({"type": "move_call", "call_id": "w2", "queue": "sales", "id": "m"})
    assert (await recv(ws, "error"))["error"] == "permission_denied"  # support is not hers
    assert ("spy", "1001", "whisper", "2001") in world.center.actions


async def test_session_logout_closes_the_socket(world: Any) -> None:
    bob = await world.client("bob")
    ws = await bob.ws()
    await recv(ws, "snapshot")
    assert (await bob.request("POST", "/api/logout")).status == 200
    msg = await asyncio.wait_for(ws.receive(), TIMEOUT)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION


async def test_origin_is_checked(world: Any) -> None:
    bob = await world.client("bob")
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await bob.ws(origin="https://evil.test")
    assert info.value.status == 403
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await bob.http.ws_connect(world.url + "/ws")  # no Origin at all
    assert info.value.status == 403
    anon = await world.client()
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await anon.ws()
    assert info.value.status == 401


async def test_reconnect_gets_a_fresh_snapshot(world: Any) -> None:
    bob = await world.client("bob")
    ws = await bob.ws()
    assert next(a for a in (await recv(ws))["agents"] if a["agent_id"] == "1002")["state"] == (
        "logged_out"
    )
    await ws.close()
    await bob.request("PUT", "/api/agents/me/state", {"state": "not_ready", "reason": "lunch"})
    ws = await bob.ws()
    snap = await recv(ws)
    me = next(a for a in snap["agents"] if a["agent_id"] == "1002")
    assert (me["state"], me["reason"]) == ("not_ready", "lunch")
    await ws.send_json({"type": "resync"})
    assert (await recv(ws))["type"] == "snapshot"


async def test_current_call_in_snapshot_after_reconnect(world: Any) -> None:
    await seed(world)
    alice = await world.client("alice")
    ws = await alice.ws()
    snap = await recv(ws)
    assert snap["current_call"]["call_id"] == "c1"
    assert snap["current_call"]["state"] == "talking"


async def test_a_slow_client_is_dropped_not_waited_for(world: Any) -> None:
    hub = world.app[HUB]
    bob = await world.client("bob")
    sue = await world.client("sue")
    slow = await bob.ws()
    fast = await sue.ws()
    await recv(slow)
    await recv(fast)
    client = next(c for c in hub.clients if c.session.user.username == "bob")
    client.sender.cancel()  # simulate a console that stopped reading
    await asyncio.sleep(0)
    total = MAX_PENDING + 50
    for i in range(total):
        hub.publish({"type": "agent_state", "agent_id": "1002", "queues": ["sales"], "n": i})
        if i % 50 == 49:
            await asyncio.sleep(0.02)  # the healthy console keeps reading
    assert client not in hub.clients
    got = await drain(fast, 0.2)
    assert [m["n"] for m in got if m["type"] == "agent_state"] == list(range(total))
    msg = await asyncio.wait_for(slow.receive(), TIMEOUT)
    assert msg.type is aiohttp.WSMsgType.CLOSE
    assert msg.data == 1013


async def test_shutdown_closes_sockets_with_going_away(tmp_path: Any) -> None:
    w = await World().start(tmp_path)
    bob = await w.client("bob")
    ws = await bob.ws()
    await recv(ws)
    await w.runner.cleanup()
    msg = await asyncio.wait_for(ws.receive(), TIMEOUT)
    assert msg.type is aiohttp.WSMsgType.CLOSE
    assert msg.data == aiohttp.WSCloseCode.GOING_AWAY
    assert w.center.listeners == []
    for client in w.clients:
        await client.close()
    await w.store.close()


async def test_a_supervisor_who_takes_calls_gets_each_message_once(world: Any) -> None:
    ids = await seed(world)
    sue = await world.client("sue")  # supervisor with agent id 2001 in sales
    ws = await sue.ws()
    await recv(ws, "snapshot")
    await world.center.set_agent_state("2001", "not_ready", "meeting")
    await world.center.set_agent_state("2001", "ready")
    world.center.arrive("c7", "sales", "+15551230001", contact_id=ids["contact"])
    world.center.offer("c7", "2001", ids["card"])
    got = await drain(ws, 0.2)
    own = [
        m["agent"]["state"] for m in got if m["type"] == "agent_state" and m["agent_id"] == "2001"
    ]
    assert own == ["not_ready", "ready", "ringing"]
    assert [m["call"]["call_id"] for m in got if m["type"] == "screen_pop"] == ["c7"]


async def test_a_slow_action_does_not_block_the_socket(world: Any) -> None:
    bob = await world.client("bob")
    ws = await bob.ws()
    await recv(ws, "snapshot")
    world.center.dial_gate = asyncio.Event()
    await ws.send_json({"type": "dial", "number": "+15557654321", "id": "d"})
    await ws.send_json({"type": "ping", "id": "p"})
    first = await recv(ws)
    assert first == {"type": "pong", "id": "p"}
    world.center.dial_gate.set()
    ack = await recv(ws, "ack")
    assert ack["id"] == "d" and ack["result"]["number"] == "+15557654321"


async def test_resync_all_sends_a_fresh_snapshot_with_a_fresh_scope(world: Any) -> None:
    """A cluster node replaced its picture (it had none yet, or a new leader): every open
    console gets a new snapshot, and a supervisor's queue scope is worked out again (a
    standby with no picture yet gave an empty one)."""
    sue = await world.client("sue")
    world.center.supervisors["sue"] = set()  # the picture behind the node is empty
    ws = await sue.ws()
    snap = await recv(ws)
    assert snap["queues"] == [] and snap["agents"] == []
    world.center.supervisors["sue"] = {"sales", "billing"}  # now it is the leader's
    world.app[HUB].resync_all()
    again = await recv(ws, "snapshot")
    assert sorted(q["name"] for q in again["queues"]) == ["billing", "sales"]
    assert again["agents"]
    world.center.arrive("w1", "sales", "+15550000001")
    got = await drain(ws, 0.2)
    assert "sales" in {m.get("queue") for m in got if m["type"] == "call_update"}


async def test_conversation_messages_reach_the_agent_and_the_queues_supervisors(
    world: Any,
) -> None:
    """conversation_* go where call messages go: the assigned agent's console and the
    supervisors of the conversation's queue; a chat visitor's frames go to no console."""
    alice, bob, sue, root = [await world.client(n) for n in ("alice", "bob", "sue", "root")]
    sockets = {
        name: await c.ws()
        for name, c in zip(("alice", "bob", "sue", "root"), (alice, bob, sue, root), strict=True)
    }
    for ws in sockets.values():
        await recv(ws, "snapshot")
    center = world.center
    opened = await center.visitor_open(
        "chat", "sales", {"name": "Ada", "email": "ada@example.com"}, "Billing", "en", "Hello"
    )
    key = opened["key"]
    center.assign_conversation(key, "1001")
    await center.conversation_reply("1001", key, "Hi Ada")
    # the visitor side rides the same listeners; the hub must drop it for everyone
    center._publish(
        {"type": "visitor_event", "conversation_key": key, "event": {"type": "typing", "on": True}}
    )
    center._publish(
        {
            "type": "visitor_event",
            "agent_id": "1001",
            "queue": "sales",
            "conversation_key": key,
            "event": {},
        }
    )
    got = {name: await drain(ws, 0.3) for name, ws in sockets.items()}
    kinds = {name: [m["type"] for m in msgs] for name, msgs in got.items()}
    for name in ("alice", "sue", "root"):
        assert "conversation_assigned" in kinds[name], name
        assert "conversation_message" in kinds[name], name
        assert "visitor_event" not in kinds[name], name
    assert not any(k.startswith("conversation") or k == "visitor_event" for k in kinds["bob"])
    assigned = next(m for m in got["alice"] if m["type"] == "conversation_assigned")
    assert assigned["conversation"]["key"] == key

    def texts(name: str) -> list[str]:
        return [m["message"]["text"] for m in got[name] if m["type"] == "conversation_message"]

    # the first message came while it waited (no agent yet): the queue's supervisors only
    assert texts("alice") == ["Hi Ada"]
    assert texts("sue") == ["Hello", "Hi Ada"]


async def test_a_supervisor_does_not_get_another_queues_conversations(world: Any) -> None:
    sue = await world.client("sue")
    ws = await sue.ws()
    await recv(ws, "snapshot")
    opened = await world.center.visitor_open("chat", "support", {"name": "Bo"}, "", "", "Hi")
    world.center.assign_conversation(opened["key"], "1002")
    got = await drain(ws, 0.3)
    assert not any(m["type"].startswith("conversation") for m in got)


async def test_the_snapshot_carries_the_agents_own_conversations(world: Any) -> None:
    center = world.center
    mine = await center.visitor_open("chat", "sales", {"name": "Ada"}, "", "", "Hi")
    other = await center.visitor_open("chat", "support", {"name": "Bo"}, "", "", "Hi")
    center.assign_conversation(mine["key"], "1001")
    center.assign_conversation(other["key"], "1002")
    alice, sue = await world.client("alice"), await world.client("sue")
    snap = await recv(await alice.ws(), "snapshot")
    assert [c["key"] for c in snap["conversations"]] == [mine["key"]]
    snap = await recv(await sue.ws(), "snapshot")
    assert [c["key"] for c in snap["conversations"]] == [mine["key"]]  # sales, not support

"""Chats and emails on the console's API and websocket, through the real aiohttp server
on 127.0.0.1 with real sessions: who reads which conversation, who may act on it, what
reaches the desk (the port), and which live messages reach which socket."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.console_fakes import World, add_attachment, seed, seed_conversations


@pytest.fixture
async def world(tmp_path: Any) -> Any:
    w = await World().start(tmp_path)
    w.ids = await seed(w)
    w.ids.update(await seed_conversations(w))
    yield w
    await w.close()


async def test_an_agent_lists_and_reads_only_their_own(world: Any) -> None:
    CHAT_KEY, EMAIL_KEY = world.ids["chat"], world.ids["email"]
    bos = await world.center.visitor_open("chat", "support", {"name": "Bo"})
    world.center.assign_conversation(bos["key"], "1002")
    alice, bob, sue = [await world.client(u) for u in ("alice", "bob", "sue")]
    mine = (await (await alice.request("GET", "/api/conversations")).json())["conversations"]
    assert {c["key"] for c in mine} == {CHAT_KEY, EMAIL_KEY}
    theirs = (await (await bob.request("GET", "/api/conversations")).json())["conversations"]
    assert [c["key"] for c in theirs] == [bos["key"]]
    # sue supervises sales and billing: alice's, not bob's (support)
    seen = (await (await sue.request("GET", "/api/conversations")).json())["conversations"]
    assert {c["key"] for c in seen} == {CHAT_KEY, EMAIL_KEY}
    resp = await sue.request("GET", "/api/conversations/" + bos["key"])
    assert resp.status == 403
    detail = await (await alice.request("GET", f"/api/conversations/{CHAT_KEY}")).json()
    assert detail["conversation"]["state"] == "active"
    assert [(m["sender"], m["text"]) for m in detail["messages"]] == [("customer", "Hello?")]
    # the party gave the phone of a known customer: the card is hers
    assert (detail["card"]["name"], detail["card"]["vip"]) == ("Ada Lovelace", True)
    email = await (await alice.request("GET", f"/api/conversations/{EMAIL_KEY}")).json()
    assert email["card"]["new_caller"] is True and email["card"]["email"] == "ada@example.com"


async def test_the_assigned_agent_replies_types_ends_and_closes(world: Any) -> None:
    CHAT_KEY = world.ids["chat"]
    alice = await world.client("alice")
    resp = await alice.request(
        "POST", f"/api/conversations/{CHAT_KEY}/messages", {"text": "Hi Ada,\nhow can I help?"}
    )
    assert resp.status == 201, await resp.text()
    message = await resp.json()
    assert (message["seq"], message["sender"], message["name"]) == (2, "agent", "Alice Agent")
    resp = await alice.request("POST", f"/api/conversations/{CHAT_KEY}/typing", {"on": True})
    assert resp.status == 200
    assert (await alice.request("POST", f"/api/conversations/{CHAT_KEY}/end")).status == 200
    resp = await alice.request("POST", f"/api/conversations/{CHAT_KEY}/messages", {"text": "x"})
    assert resp.status == 409
    assert (await alice.request("POST", f"/api/conversations/{CHAT_KEY}/close")).status == 200
    assert [a[0] for a in world.center.actions if a[0].startswith("conversation")] == [
        "conversation_reply",
        "conversation_typing",
        "conversation_end",
        "conversation_close",
    ]
    after = await (await alice.request("GET", f"/api/conversations/{CHAT_KEY}?after_seq=1")).json()
    assert [m["text"] for m in after["messages"]] == ["Hi Ada,\nhow can I help?"]


async def test_a_long_thread_opens_on_its_newest_page_with_the_earlier_ones_on_request(
    world: Any,
) -> None:
    """More than 500 messages: the tab shows the newest 500 (it used to show the oldest),
    says there are earlier ones, and pages back through them with before_seq."""
    CHAT_KEY = world.ids["chat"]  # message 1 is "Hello?"
    for i in range(2, 1203):
        await world.center.visitor_message(CHAT_KEY, f"m{i}")
    alice = await world.client("alice")
    url = f"/api/conversations/{CHAT_KEY}"
    newest = await (await alice.request("GET", url)).json()
    assert [m["seq"] for m in newest["messages"]] == list(range(703, 1203))
    assert newest["more_before"] is True
    earlier = await (await alice.request("GET", url + "?before_seq=703")).json()
    assert [m["seq"] for m in earlier["messages"]] == list(range(203, 703))
    assert earlier["more_before"] is True
    first = await (await alice.request("GET", url + "?before_seq=203")).json()
    assert [m["seq"] for m in first["messages"]] == list(range(1, 203))
    assert first["more_before"] is False
    # after_seq still reads forward (a reconnect's catch-up)
    after = await (await alice.request("GET", url + "?after_seq=1200")).json()
    assert [m["seq"] for m in after["messages"]] == [1201, 1202]
    resp = await alice.request("GET", url + "?before_seq=-1")
    assert resp.status == 400 and (await resp.json())["field"] == "before_seq"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/conversations/{chat}/messages", {"text": ""}, "text"),
        ("/api/conversations/{chat}/messages", {"text": "   \n "}, "text"),
        ("/api/conversations/{chat}/messages", {"text": "a\r\nb"}, "text"),
        ("/api/conversations/{chat}/messages", {"text": "x" * 16_001}, "text"),
        ("/api/conversations/{chat}/messages", {"text": 5}, "text"),
        ("/api/conversations/{chat}/typing", {"on": "yes"}, "on"),
        ("/api/conversations/chat:ABC/end", None, "key"),
        ("/api/conversations/call:" + "a1" * 16 + "/end", None, "key"),
    ],
)
async def test_bad_input_is_400_and_reaches_nothing(
    world: Any, path: str, body: Any, field: str
) -> None:
    alice = await world.client("alice")
    resp = await alice.request("POST", path.format(chat=world.ids["chat"]), body)
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["field"] == field
    assert not [a for a in world.center.actions if a[0].startswith("conversation")]


async def test_the_websocket_does_the_same_actions(world: Any) -> None:
    CHAT_KEY = world.ids["chat"]
    alice = await world.client("alice")
    ws = await alice.ws()
    assert json.loads((await ws.receive(timeout=5)).data)["type"] == "snapshot"
    await ws.send_str(
        json.dumps({"type": "conversation_reply", "id": 7, "conversation": CHAT_KEY, "text": "Hi"})
    )
    seen = [json.loads((await ws.receive(timeout=5)).data) for _ in range(2)]
    ack = next(m for m in seen if m["type"] == "ack")
    assert ack["id"] == 7 and ack["result"]["text"] == "Hi"
    # its own message comes back as a delta too: the page keys the thread by seq
    delta = next(m for m in seen if m["type"] == "conversation_message")
    assert delta["message"]["seq"] == ack["result"]["seq"]
    await ws.send_str(json.dumps({"type": "conversation_end", "id": 8, "conversation": "nope"}))
    error = json.loads((await ws.receive(timeout=5)).data)
    assert (error["type"], error["field"]) == ("error", "conversation")
    bob = await world.client("bob")
    ws_bob = await bob.ws()
    await ws_bob.receive(timeout=5)
    await ws_bob.send_str(
        json.dumps({"type": "conversation_end", "id": 1, "conversation": CHAT_KEY})
    )
    assert json.loads((await ws_bob.receive(timeout=5)).data)["error"] == "permission_denied"
    await ws.close()
    await ws_bob.close()


async def test_canned_responses_are_served(world: Any) -> None:
    bob = await world.client("bob")
    data = await (await bob.request("GET", "/api/canned-responses")).json()
    greeting = next(r for r in data["responses"] if r["id"] == "greeting")
    assert "{customer.first_name}" in greeting["text"]
    assert greeting["channels"] == ["chat", "email"]


async def test_a_chat_in_the_history_shows_its_thread(world: Any) -> None:
    """The contact page's JSON and the customer's history carry a chat's messages, as
    stored (plain text: the pages put them in with textContent)."""
    store = world.store
    key = "chat:" + "d4" * 16
    at = world.clock() - 600
    customer = int(world.ids["customer"])
    await store.contacts.arrived(
        key, "+15551230001", "", at=at, customer_id=customer, channel="chat"
    )
    await store.conversations.create(
        key, "chat", queue="sales", party={"name": "Ada", "phone": "+15551230001"}, at=at
    )
    await store.contacts.queued(key, "sales", at=at + 1)
    await store.contacts.offered(key, "1001", at=at + 2)
    await store.contacts.answered(key, "1001", at=at + 2)
    await store.conversations.add_message(key, 1, "customer", "<script>x</script> hi", name="Ada")
    await store.conversations.add_message(
        key, 2, "agent", "Hello Ada", agent_id="1001", name="Alice Agent"
    )
    contact_id = (await store.contacts.get_by_key(key)).id
    bob = await world.client("bob")
    body = await (await bob.request("GET", f"/api/contacts/{contact_id}")).json()
    assert body["channel"] == "chat"
    assert body["transcript"]["conversation"]["channel"] == "chat"
    assert [m["text"] for m in body["transcript"]["messages"]] == [
        "<script>x</script> hi",
        "Hello Ada",
    ]
    assert "visitor_token_hash" not in body["transcript"]["conversation"]
    page = await (await bob.request("GET", f"/api/customers/{customer}/contacts")).json()
    chat = next(c for c in page["contacts"] if c["id"] == contact_id)
    assert [m["sender"] for m in chat["transcript"]["messages"]] == ["customer", "agent"]
    assert chat["transcript"]["more"] is False
    voice = [c for c in page["contacts"] if c["id"] != contact_id]
    assert voice and all("transcript" not in c for c in voice)


async def test_a_chats_wrap_up_does_not_end_a_calls_wrap_up(world: Any) -> None:
    """Saving the wrap-up of a chat (by its contact id, the call's route) leaves the
    agent's voice state alone: Alice is wrapping up a call meanwhile."""
    store = world.store
    key = world.ids["chat"]
    at = world.clock() - 300
    await store.contacts.arrived(key, "+15551230001", "", at=at, channel="chat")
    await store.contacts.queued(key, "sales", at=at + 1)
    await store.contacts.offered(key, "1001", at=at + 2)
    await store.contacts.answered(key, "1001", at=at + 2)
    chat_contact = (await store.contacts.get_by_key(key)).id
    world.center.end("c1")  # alice's call ends: she is in its wrap-up
    assert world.center.agents["1001"]["state"] == "wrap_up"
    alice = await world.client("alice")
    resp = await alice.request(
        "POST", f"/api/contacts/{chat_contact}/wrapup", {"disposition": "resolved"}
    )
    assert resp.status == 200, await resp.text()
    assert world.center.agents["1001"]["state"] == "wrap_up"
    assert not [a for a in world.center.actions if a[0] == "wrapup_done"]
    resp = await alice.request(
        "POST", f"/api/contacts/{world.ids['contact']}/wrapup", {"disposition": "sale"}
    )
    assert resp.status == 200
    assert ("wrapup_done", "1001") in world.center.actions


async def test_an_email_attachment_downloads_as_a_file_never_as_a_page(world: Any) -> None:
    """The bytes as stored, always as an attachment (RFC 6266 filename*), nosniff, and a
    type the browser will not run: an HTML or SVG attachment is served as
    application/octet-stream."""
    EMAIL_KEY = world.ids["email"]
    alice = await world.client("alice")
    base = f"/api/conversations/{EMAIL_KEY}/attachments/"
    resp = await alice.request("GET", base + world.ids["attachment"])
    assert resp.status == 200
    assert await resp.read() == b"%PDF-1.4 x"
    assert resp.headers["Content-Type"] == "application/pdf"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Disposition"] == (
        "attachment; filename=\"invoice.pdf\"; filename*=UTF-8''invoice.pdf"
    )
    assert "no-store" in resp.headers["Cache-Control"]
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]  # the console's
    page = await add_attachment(
        world, EMAIL_KEY, 'сч"ёт <1>.html', "text/html", b"<script>alert(1)</script>"
    )
    resp = await alice.request("GET", base + str(page))
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/octet-stream"
    assert resp.headers["Content-Disposition"] == (
        'attachment; filename="_____ _1_.html";'
        " filename*=UTF-8''%D1%81%D1%87%22%D1%91%D1%82%20%3C1%3E.html"
    )
    svg = await add_attachment(world, EMAIL_KEY, "logo.svg", "image/svg+xml", b"<svg/>")
    resp = await alice.request("GET", base + str(svg))
    assert resp.headers["Content-Type"] == "application/octet-stream"
    # another conversation's attachment is not reachable through this one
    other = await add_attachment(world, world.ids["chat"], "x.txt", "text/plain", b"x")
    resp = await alice.request("GET", base + str(other))
    assert resp.status == 404
    for bad in ("0", "x", "99999999999999999999999"):
        resp = await alice.request("GET", base + bad)
        assert resp.status in (400, 404), bad
    # a file lost from the disk: a clear 404, not a 500
    lost = await add_attachment(world, EMAIL_KEY, "lost.txt", "text/plain", b"gone soon")
    [row] = [a for a in await world.store.mail.attachments_of(EMAIL_KEY) if a.id == lost]
    (world.settings.path(world.settings.email.attachments_dir) / row.path).unlink()
    resp = await alice.request("GET", base + str(lost))
    assert resp.status == 404 and (await resp.json())["error"] == "not_found"


async def test_an_attachment_of_a_closed_conversation_follows_the_same_scope(world: Any) -> None:
    """A conversation the desk no longer holds is read from the store, with the same
    rule: the agent who had it, a supervisor of its queue, an admin."""
    key = "email:" + "f" * 32
    await world.store.contacts.arrived(key, "", "", "inbound", 10.0, channel="email")
    await world.store.conversations.create(
        key, "email", queue="sales", party={"email": "ada@example.com"}, at=10.0
    )
    await world.store.conversations.update(key, state="closed", agent_id="1001")
    att = await add_attachment(world, key, "old.txt", "text/plain", b"old")
    path = f"/api/conversations/{key}/attachments/{att}"
    for role, status in (("alice", 200), ("bob", 403), ("sue", 200), ("root", 200)):
        resp = await (await world.client(role)).request("GET", path)
        assert resp.status == status, (role, await resp.text())
    resp = await (await world.client("alice")).request("GET", path)
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert await resp.read() == b"old"

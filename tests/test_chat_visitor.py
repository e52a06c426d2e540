"""The chat visitor's websocket through the real service (aiohttp server, desk, ACD,
store) against the PBX simulator on 127.0.0.1: origins, limits, the chat both ways, a
resume that loses nothing, and the offline answer outside opening hours."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from agent_console.chat_visitor import ChatVisitors, _schedule
from agent_console.keys import CHAT
from config.errors import ConfigError
from config.settings import Settings
from routing.ivr.hours import Schedule
from tests.service_harness import harness_settings, running_service

QUEUES = """
queues:
  web:
    channels: [chat]
    wrap_up: 30
agents:
  - {id: "1001", name: Alice Moreau, endpoint: PJSIP/1001, queues: [web],
     capacity: {voice: 1, chat: 2, email: 0}}
"""
SITE = "http://127.0.0.1:1"  # the company's site that embeds the widget
START = {"type": "start", "name": "Ada", "phone": "+14155550100", "topic": "web"}


def chat_tweak(**chat: Any) -> Any:
    def tweak(settings: Settings) -> Settings:
        values = {"allowed_origins": [SITE], "topics": {"web": "web"}, **chat}
        return dataclasses.replace(settings, chat=dataclasses.replace(settings.chat, **values))

    return tweak


def queue_file(tmp: Path) -> Path:
    path = tmp / "queues.yaml"
    path.write_text(QUEUES)
    return path


async def frames_until(
    ws: aiohttp.ClientWebSocketResponse, kind: str, **match: Any
) -> list[dict[str, Any]]:
    """Every frame up to and including the first of ``kind`` (with ``match``)."""
    got = []
    while True:
        msg = await ws.receive(timeout=5)
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        data = json.loads(msg.data)
        got.append(data)
        if data["type"] == kind and all(data.get(k) == v for k, v in match.items()):
            return got


async def test_a_visitor_chats_with_an_agent_and_it_is_in_the_history(tmp_path: Path) -> None:
    async with running_service(tmp_path, queues_file=queue_file(tmp_path), tweak=chat_tweak()) as (
        service,
        _sim,
        _published,
        url,
    ):
        ada = await service.store.customers.add("Ada Lovelace", ["+14155550100"])
        await service.center.set_agent_state("1001", "ready")
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(url + "/chat/ws", origin=SITE) as ws,
        ):
            await ws.send_json(START)
            got = await frames_until(ws, "joined")
            started = next(f for f in got if f["type"] == "started")
            key = started["conversation"]
            assert key.startswith("chat:") and len(started["token"]) >= 32
            assert got[-1]["agent_name"] == "Alice Moreau"
            await ws.send_json(
                {"type": "message", "text": "My bill <b>is</b> wrong", "client_id": "c1"}
            )
            got = await frames_until(ws, "sent", client_id="c1")
            seq = got[-1]["seq"]
            await service.center.conversation_reply("1001", key, "Let me look, Ada")
            got = await frames_until(ws, "message", sender="agent")
            assert got[-1]["text"] == "Let me look, Ada" and got[-1]["seq"] == seq + 1
            await ws.send_json({"type": "leave"})
            await frames_until(ws, "ended")
        await service.center.recorder.flush()
        messages = await service.store.conversations.messages(key, 0, 10)
        assert [(m["sender"], m["text"]) for m in messages] == [
            ("customer", "My bill <b>is</b> wrong"),
            ("agent", "Let me look, Ada"),
        ]
        contact = await service.store.contacts.get_by_key(key)
        assert contact.customer_id == ada.id and contact.channel == "chat"


async def test_a_reconnect_resumes_and_loses_nothing(tmp_path: Path) -> None:
    async with running_service(tmp_path, queues_file=queue_file(tmp_path), tweak=chat_tweak()) as (
        service,
        _sim,
        _published,
        url,
    ):
        await service.center.set_agent_state("1001", "ready")
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(url + "/chat/ws", origin=SITE) as ws:
                await ws.send_json(START)
                got = await frames_until(ws, "joined")
                started = next(f for f in got if f["type"] == "started")
                key, token = started["conversation"], started["token"]
                await service.center.conversation_reply("1001", key, "first")
                seen = (await frames_until(ws, "message"))[-1]["seq"]
            # the visitor's network drops; the agent goes on writing
            await service.center.conversation_reply("1001", key, "second")
            await service.center.conversation_reply("1001", key, "third")
            async with http.ws_connect(url + "/chat/ws", origin=SITE) as ws:
                await ws.send_json(
                    {"type": "resume", "conversation": key, "token": "x" * 43, "after_seq": 0}
                )
                assert (await frames_until(ws, "error"))[-1]["code"] == "bad_token"
                await ws.send_json(
                    {"type": "resume", "conversation": key, "token": token, "after_seq": seen}
                )
                got = await frames_until(ws, "message", text="third")
                assert got[0]["type"] == "resumed"
                assert [f["text"] for f in got if f["type"] == "message"] == ["second", "third"]
                # and what comes next arrives live on the resumed socket
                await service.center.conversation_reply("1001", key, "fourth")
                assert (await frames_until(ws, "message"))[-1]["text"] == "fourth"


async def test_origins_sizes_floods_and_addresses_are_limited(tmp_path: Path) -> None:
    tweak = chat_tweak(messages_per_minute=6, message_burst=2, visitors_per_ip=2)
    async with running_service(tmp_path, queues_file=queue_file(tmp_path), tweak=tweak) as (
        service,
        _sim,
        _published,
        url,
    ):
        async with aiohttp.ClientSession() as http:
            for origin in ("http://evil.example", "null"):
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await http.ws_connect(url + "/chat/ws", origin=origin)
                assert refused.value.status == 403
            with pytest.raises(aiohttp.WSServerHandshakeError):
                await http.ws_connect(url + "/chat/ws")  # no Origin at all
            async with http.ws_connect(url + "/chat/ws", origin=SITE) as ws:
                await ws.send_json({"type": "message", "text": "hi"})
                assert (await frames_until(ws, "error"))[-1]["code"] == "not_started"
                await ws.send_json({"type": "start", "name": "Ada", "phone": "1", "topic": "nope"})
                assert (await frames_until(ws, "error"))[-1]["field"] == "topic"
                await ws.send_json(START)
                key = (await frames_until(ws, "started"))[-1]["conversation"]
                for i in range(5):
                    await ws.send_json({"type": "message", "text": f"m{i}", "client_id": f"c{i}"})
                answers = []
                while len(answers) < 5:
                    frame = json.loads((await ws.receive(timeout=5)).data)
                    if frame["type"] in ("sent", "error"):
                        answers.append((frame["type"], frame.get("client_id"), frame.get("code")))
                assert answers[:2] == [("sent", "c0", None), ("sent", "c1", None)]
                assert answers[2:] == [("error", f"c{i}", "rate_limited") for i in (2, 3, 4)]
                # a second socket from this address is fine, a third is not
                async with http.ws_connect(url + "/chat/ws", origin=SITE):
                    with pytest.raises(aiohttp.WSServerHandshakeError) as busy:
                        await http.ws_connect(url + "/chat/ws", origin=SITE)
                    assert busy.value.status == 429
                await ws.send_str(json.dumps({"type": "message", "text": "x" * 20_000}))
                got = await frames_until(ws, "error")
                assert got[-1]["code"] == "too_large"
                closing = await ws.receive(timeout=5)
                assert closing.type is aiohttp.WSMsgType.CLOSE
            async with http.ws_connect(url + "/chat/ws", origin=SITE) as ws:
                # far past any frame's size: aiohttp's own cap closes at once (1009)
                await ws.send_str("x" * 100_000)
                closing = await ws.receive(timeout=5)
                assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, 1009)
        await service.center.recorder.flush()
        kept = await service.store.conversations.messages(key, 0, 10)
        assert [m["text"] for m in kept] == ["m0", "m1"]  # what was accepted, nothing else


async def test_outside_opening_hours_the_widget_says_offline(tmp_path: Path) -> None:
    async with running_service(
        tmp_path, queues_file=queue_file(tmp_path), tweak=chat_tweak(offline_message="")
    ) as (service, _sim, _published, url):
        visitors: ChatVisitors = service.app[CHAT]
        visitors.schedule = Schedule("UTC", ((),) * 7)  # never open
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(url + "/chat/ws", origin=SITE) as ws,
        ):
            await ws.send_json({**START, "language": "ru"})
            frame = (await frames_until(ws, "offline"))[-1]
            assert "не работаем" in frame["message"]
        assert await service.store.conversations.open_ones() == []


def test_the_hours_come_from_an_ivr_schedule(tmp_path: Path) -> None:
    base = harness_settings(tmp_path, 1)
    chat = dataclasses.replace(
        base.chat, hours_script="ivr_scripts/main.yaml", hours_schedule="office"
    )
    schedule = _schedule(dataclasses.replace(base, chat=chat))
    assert schedule is not None and schedule.timezone == "Europe/London"
    wrong = dataclasses.replace(chat, hours_schedule="night")
    with pytest.raises(ConfigError, match="has no schedule 'night'"):
        _schedule(dataclasses.replace(base, chat=wrong))


async def test_the_widget_script_carries_its_configuration(tmp_path: Path) -> None:
    async with running_service(tmp_path, queues_file=queue_file(tmp_path), tweak=chat_tweak()) as (
        _service,
        _sim,
        _published,
        url,
    ):
        async with (
            aiohttp.ClientSession() as http,
            http.get(url + "/chat/widget.js") as resp,
        ):
            assert resp.status == 200
            assert resp.content_type == "application/javascript"
            assert resp.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
            body = await resp.text()
        assert "__SB_CHAT_CONFIG__" not in body
        config = json.loads(body.split("const CONFIG = ", 1)[1].split(";\n", 1)[0])
        assert config["topics"] == ["web"] and config["maxChars"] == 2000
        assert config["strings"]["ru"]["open"] == "Напишите нам"
        assert config["strings"]["en"]["send"] == "Send"


async def test_the_transcript_by_email_on_request(tmp_path: Path) -> None:
    """After the chat the visitor asks for its transcript: it goes out through the email
    channel's relay (a real SMTP server on 127.0.0.1) with the whole thread; without an
    email channel the answer says so."""
    import asyncio
    from email import message_from_bytes, policy

    from aiosmtpd.controller import Controller

    from tests.test_mail_transport import Relay, free_port

    relay = Relay()
    relay_port = free_port()
    controller = Controller(relay, hostname="127.0.0.1", port=relay_port)
    controller.start()

    def tweak(settings: Settings) -> Settings:
        email = dataclasses.replace(
            settings.email,
            enabled=True,
            from_address="support@shop.test",
            mailboxes={"support@shop.test": "web"},
            smtp_host="127.0.0.1",
            smtp_port=relay_port,
            smtp_tls="none",
            attachments_dir=str(tmp_path / "attachments"),
        )
        return chat_tweak()(dataclasses.replace(settings, email=email))

    try:
        async with (
            running_service(tmp_path, queues_file=queue_file(tmp_path), tweak=tweak) as (
                service,
                _sim,
                _published,
                url,
            ),
            aiohttp.ClientSession() as http,
            http.ws_connect(url + "/chat/ws", origin=SITE) as ws,
        ):
            await service.center.set_agent_state("1001", "ready")
            await ws.send_json(START)
            key = next(f for f in await frames_until(ws, "joined") if f["type"] == "started")[
                "conversation"
            ]
            await ws.send_json({"type": "message", "text": "Where is my parcel?", "client_id": "c"})
            await frames_until(ws, "sent")
            await service.center.conversation_reply("1001", key, "It leaves today.")
            await service.center.conversation_end("1001", key)
            await frames_until(ws, "ended")
            await ws.send_json({"type": "transcript", "email": "not an address"})
            assert (await frames_until(ws, "error"))[-1]["field"] == "email"
            await ws.send_json({"type": "transcript", "email": "ada@example.com"})
            sent = (await frames_until(ws, "transcript_sent"))[-1]
            assert sent["email"] == "ada@example.com"
        for _ in range(100):
            if relay.received:
                break
            await asyncio.sleep(0.05)
        [(_from, to, raw)] = relay.received
        assert to == ["ada@example.com"]
        mail = message_from_bytes(raw, policy=policy.default)
        body = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "Where is my parcel?" in body and "It leaves today." in body
        assert mail["Auto-Submitted"] == "auto-generated"
    finally:
        controller.stop()

    async with (
        running_service(tmp_path / "b", queues_file=queue_file(tmp_path), tweak=chat_tweak()) as (
            service,
            _sim,
            _published,
            url,
        ),
        aiohttp.ClientSession() as http,
        http.ws_connect(url + "/chat/ws", origin=SITE) as ws,
    ):
        await ws.send_json(START)
        await frames_until(ws, "started")
        await ws.send_json({"type": "transcript", "email": "ada@example.com"})
        assert (await frames_until(ws, "error"))[-1]["code"] == "no_transcript"


async def test_starts_are_limited_and_a_left_waiting_chat_is_abandoned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found in review: connecting and leaving in a loop filled the queue with chats no
    one would ever read. Starts are limited per address, and a waiting chat whose visitor
    has had no socket for ORPHAN_SECONDS is abandoned (one with an agent stays)."""
    import asyncio

    import agent_console.chat_visitor as chat_visitor

    monkeypatch.setattr(chat_visitor, "ORPHAN_SECONDS", 0.2)
    async with (
        running_service(tmp_path, queues_file=queue_file(tmp_path), tweak=chat_tweak()) as (
            service,
            _sim,
            _published,
            url,
        ),
        aiohttp.ClientSession() as http,
    ):
        keys = []
        for _ in range(5):  # nobody is ready: each waits
            async with http.ws_connect(url + "/chat/ws", origin=SITE) as ws:
                await ws.send_json(START)
                keys.append((await frames_until(ws, "started"))[-1]["conversation"])
        async with http.ws_connect(url + "/chat/ws", origin=SITE) as ws:
            await ws.send_json(START)
            assert (await frames_until(ws, "error"))[-1]["code"] == "rate_limited"
        for _ in range(100):
            states = [(await service.store.conversations.get(k) or {}).get("state") for k in keys]
            if all(s == "closed" for s in states):
                break
            await asyncio.sleep(0.05)
        assert states == ["closed"] * 5
        assert service.center.acd.queue_stats("web")["waiting"] == 0


async def test_a_message_resent_after_its_ack_was_lost_is_stored_and_delivered_once(
    tmp_path: Path,
) -> None:
    """The socket drops after the message went in but before its ``sent`` came back; the
    widget resends it with the same client_id on the resumed socket. The second send is
    acknowledged with the first one's number and nothing new is stored or delivered."""
    async with running_service(tmp_path, queues_file=queue_file(tmp_path), tweak=chat_tweak()) as (
        service,
        _sim,
        published,
        url,
    ):
        await service.center.set_agent_state("1001", "ready")
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(url + "/chat/ws", origin=SITE) as ws:
                await ws.send_json(START)
                got = await frames_until(ws, "joined")
                started = next(f for f in got if f["type"] == "started")
                key, token = started["conversation"], started["token"]
                await ws.send_json({"type": "message", "text": "Where is it?", "client_id": "c9"})
                first = (await frames_until(ws, "sent", client_id="c9"))[-1]["seq"]
            async with http.ws_connect(url + "/chat/ws", origin=SITE) as ws:
                await ws.send_json(
                    {"type": "resume", "conversation": key, "token": token, "after_seq": 0}
                )
                await frames_until(ws, "resumed")
                await ws.send_json({"type": "message", "text": "Where is it?", "client_id": "c9"})
                again = (await frames_until(ws, "sent", client_id="c9"))[-1]
                assert again["seq"] == first
                # a new client_id is a new message, numbered after it
                await ws.send_json({"type": "message", "text": "Hello?", "client_id": "c10"})
                assert (await frames_until(ws, "sent", client_id="c10"))[-1]["seq"] == first + 1
        messages = await service.store.conversations.messages(key, 0, 10)
        assert [(m["seq"], m["text"]) for m in messages] == [
            (first, "Where is it?"),
            (first + 1, "Hello?"),
        ]
        assert messages[0]["meta"] == {"client_id": "c9"}
        to_agent = [
            m
            for m in published.messages
            if m["type"] == "conversation_message" and m["message"]["text"] == "Where is it?"
        ]
        assert len(to_agent) == 1


async def test_a_resume_replays_everything_missed_past_one_page(tmp_path: Path) -> None:
    """More than one page (500) of messages missed: the replay goes on page after page
    until it is caught up, and what was said last arrives (not the oldest 500 only)."""
    async with running_service(tmp_path, queues_file=queue_file(tmp_path), tweak=chat_tweak()) as (
        service,
        _sim,
        _published,
        url,
    ):
        await service.center.set_agent_state("1001", "ready")
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(url + "/chat/ws", origin=SITE) as ws:
                await ws.send_json(START)
                got = await frames_until(ws, "joined")
                started = next(f for f in got if f["type"] == "started")
                key, token = started["conversation"], started["token"]
            for i in range(1, 1203):
                await service.center.conversation_reply("1001", key, f"line {i}")
            async with http.ws_connect(url + "/chat/ws", origin=SITE) as ws:
                await ws.send_json(
                    {"type": "resume", "conversation": key, "token": token, "after_seq": 0}
                )
                got = await frames_until(ws, "message", text="line 1202")
                texts = [f["text"] for f in got if f["type"] == "message"]
                assert texts == [f"line {i}" for i in range(1, 1203)]
        # the agent's view reads the newest page (and the one before) through the port;
        # the cluster forwards the numbers as text
        newest = await service.center.conversation_messages(key, 0, 2**31 - 1)
        assert [m["text"] for m in newest] == [f"line {i}" for i in range(703, 1203)]
        earlier = await service.center.conversation_messages(key, "0", "703")
        assert [m["seq"] for m in earlier] == list(range(203, 703))


async def test_behind_a_trusted_proxy_the_limits_key_on_the_forwarded_client(
    tmp_path: Path,
) -> None:
    """Found in the last closing note: behind nginx every visitor was 127.0.0.1, so one
    busy office (or one attacker) used up the sockets and the starts of everybody. With
    ``trusted_proxies`` the proxy's X-Forwarded-For names the client; from anyone else
    the header is ignored."""
    tweak = chat_tweak(visitors_per_ip=1, starts_per_minute=1, trusted_proxies=["127.0.0.0/8"])
    async with (
        running_service(tmp_path, queues_file=queue_file(tmp_path), tweak=tweak) as (
            _service,
            _sim,
            _published,
            url,
        ),
        aiohttp.ClientSession() as http,
    ):

        def via(client: str) -> dict[str, str]:  # what nginx appends: the client's address
            return {"X-Forwarded-For": f"6.6.6.6, {client}"}

        async with (
            http.ws_connect(url + "/chat/ws", origin=SITE, headers=via("203.0.113.1")) as a,
            http.ws_connect(url + "/chat/ws", origin=SITE, headers=via("2001:db8::1")) as b,
        ):
            with pytest.raises(aiohttp.WSServerHandshakeError) as busy:
                await http.ws_connect(url + "/chat/ws", origin=SITE, headers=via("203.0.113.1"))
            assert busy.value.status == 429  # one socket per client, not per proxy
            await a.send_json(START)
            await frames_until(a, "started")
            await b.send_json(START)  # another client: a start of its own
            await frames_until(b, "started")
        async with http.ws_connect(url + "/chat/ws", origin=SITE, headers=via("203.0.113.1")) as a:
            await a.send_json(START)
            assert (await frames_until(a, "error"))[-1]["code"] == "rate_limited"


async def test_the_forwarded_header_is_ignored_unless_the_peer_is_a_trusted_proxy(
    tmp_path: Path,
) -> None:
    tweak = chat_tweak(visitors_per_ip=1, trusted_proxies=["192.0.2.0/24"])  # not us
    async with (
        running_service(tmp_path, queues_file=queue_file(tmp_path), tweak=tweak) as (
            _service,
            _sim,
            _published,
            url,
        ),
        aiohttp.ClientSession() as http,
    ):
        first = {"X-Forwarded-For": "203.0.113.1", "Forwarded": "for=203.0.113.1"}
        other = {"X-Forwarded-For": "203.0.113.2", "Forwarded": "for=203.0.113.2"}
        async with http.ws_connect(url + "/chat/ws", origin=SITE, headers=first):
            with pytest.raises(aiohttp.WSServerHandshakeError) as busy:
                await http.ws_connect(url + "/chat/ws", origin=SITE, headers=other)
            assert busy.value.status == 429  # one peer, whatever it claims to forward

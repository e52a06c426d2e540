"""The digital desk through a real service (ACD, contact recorder, store, listeners)
against the PBX simulator on 127.0.0.1: a chat or an email is queued in the same ACD as
calls, assigned without a ring up to the agent's capacity, its messages stored and
published, its end and close written to the same history a call's are, and a restart
brings every open conversation back."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from config.errors import Conflict, InvalidInput, NotFound
from routing.digital import DigitalDesk, Party
from telephony.simulator import PbxSimulator
from tests.service_harness import Recorder, harness_settings, running_service, started_service

QUEUES = """
queues:
  web:
    channels: [chat, email]
    wrap_up: 30
    max_wait: 0
  phones:
    wrap_up: 5
  quick:
    channels: [chat]
    wrap_up: 1
  slow:
    channels: [chat]
    max_wait: 1
    max_wait_action: overflow
    max_wait_target: web
agents:
  - {id: "1001", name: Alice Moreau, endpoint: PJSIP/1001, queues: [web, phones, quick, slow],
     capacity: {voice: 1, chat: 2, email: 1}}
  - {id: "1002", name: Bruno Keller, endpoint: PJSIP/1002, queues: [phones]}
"""

ADA_PHONE = "+14155550100"


def queue_file(tmp: Path) -> Path:
    path = tmp / "queues.yaml"
    path.write_text(QUEUES)
    return path


async def settle(service: Any) -> None:
    await service.center.recorder.flush()


class Outbox:
    """A transport that keeps what it was asked to deliver (the email's SMTP stand-in)."""

    def __init__(self) -> None:
        self.sent: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self.fail = False

    async def deliver(
        self, conversation: dict[str, Any], message: dict[str, Any]
    ) -> Mapping[str, Any]:
        if self.fail:
            from config.errors import RemoteError

            raise RemoteError("the relay refused it")
        self.sent.append((conversation, message))
        return {"message_id": f"<{message['seq']}@switchboard.test>"}


async def test_a_chat_is_assigned_answered_ended_and_closed_into_the_history(
    tmp_path: Path, store_url: str
) -> None:
    """On both engines: the history a report reads is the same as a call's."""
    async with running_service(
        tmp_path, queues_file=queue_file(tmp_path), database_url=store_url
    ) as (
        service,
        _sim,
        published,
        _url,
    ):
        desk: DigitalDesk = service.center.digital
        ada = await service.store.customers.add("Ada Lovelace", [ADA_PHONE])
        await service.center.set_agent_state("1001", "ready")
        opened = await desk.open_conversation(
            "chat",
            queue="web",
            party=Party(name="Ada", phone=ADA_PHONE),
            subject="Billing",
            language="en",
            first_message="Hello, my bill is wrong",
        )
        key = opened["key"]
        assert key.startswith("chat:") and len(key) == 5 + 32
        # an agent with room gets it at once, without a ring; their voice state stays
        assert opened["state"] == "active" and opened["agent_id"] == "1001"
        assert opened["customer_id"] == ada.id
        pop = await published.wait_for(
            lambda m: m["type"] == "conversation_assigned" and m["conversation"]["key"] == key
        )
        assert pop["agent_id"] == "1001" and pop["queue"] == "web"
        assert pop["card"]["customer_id"] == ada.id and pop["card"]["name"] == "Ada Lovelace"
        assert (service.center.agent("1001") or {})["state"] == "ready"
        assert [c["key"] for c in service.center.conversations_of("1001")] == [key]

        with pytest.raises(Conflict):
            await desk.agent_message(key, "1002", "not mine")
        with pytest.raises(InvalidInput):
            await desk.agent_message(key, "1001", "   ")
        reply = await desk.agent_message(key, "1001", "Hi Ada, let me look")
        assert (reply["seq"], reply["sender"], reply["name"]) == (2, "agent", "Alice Moreau")
        said = await desk.customer_message(key, "Thanks", meta={"client_id": "c-7"})
        assert said["seq"] == 3
        shown = await published.wait_for(
            lambda m: m["type"] == "conversation_message" and m["message"]["seq"] == 3
        )
        assert shown["agent_id"] == "1001" and shown["conversation_key"] == key
        frame = await published.wait_for(
            lambda m: m["type"] == "visitor_event" and m["event"].get("seq") == 2
        )
        assert frame["event"] == {
            "type": "message",
            "seq": 2,
            "sender": "agent",
            "name": "Alice Moreau",
            "text": "Hi Ada, let me look",
            "at": reply["at"],
        }
        echoed = await published.wait_for(
            lambda m: m["type"] == "visitor_event" and m["event"].get("seq") == 3
        )
        assert echoed["event"]["client_id"] == "c-7"

        ended = await desk.end(key, "1001")
        assert ended["state"] == "ended" and ended["ended_at"] is not None
        with pytest.raises(Conflict):
            await desk.customer_message(key, "are you there?")
        closed = await desk.close(key, "1001")
        assert closed["state"] == "closed"
        assert service.center.conversations_of("1001") == []
        assert await desk.close(key, "1001") == closed  # again: nothing changes

        await settle(service)
        contact = await service.store.contacts.get_by_key(key)
        assert contact.channel == "chat" and contact.customer_id == ada.id
        assert (contact.queue, contact.agent_id, contact.outcome) == ("web", "1001", "answered")
        assert contact.answered_at is not None and contact.first_response_at == reply["at"]
        assert contact.ended_at == ended["ended_at"]
        stored = await service.store.conversations.get(key)
        assert stored is not None and stored["state"] == "closed" and stored["last_seq"] == 3
        texts = [m["text"] for m in await desk.messages(key)]
        assert texts == ["Hello, my bill is wrong", "Hi Ada, let me look", "Thanks"]
        history = await service.store.contacts.history(ada.id)
        assert [c.key for c in history.items] == [key]


async def test_capacity_holds_the_next_chat_until_a_slot_is_closed(tmp_path: Path) -> None:
    async with running_service(tmp_path, queues_file=queue_file(tmp_path)) as (
        service,
        _sim,
        _published,
        _url,
    ):
        desk: DigitalDesk = service.center.digital
        await service.center.set_agent_state("1001", "ready")
        first, second, third = [
            await desk.open_conversation("chat", queue="web", party={"name": f"V{n}"})
            for n in range(3)
        ]
        assert [c["state"] for c in (first, second, third)] == ["active", "active", "waiting"]
        # an ended chat still holds its slot (the wrap-up); closing it frees the slot
        await desk.end(first["key"], "customer")
        assert (desk.conversation(third["key"]) or {})["state"] == "waiting"
        await desk.close(first["key"], "1001")
        now = desk.conversation(third["key"]) or {}
        assert now["state"] == "active" and now["agent_id"] == "1001"
        await settle(service)
        contact = await service.store.contacts.get_by_key(third["key"])
        assert contact.wait_seconds is not None and contact.answered_at is not None


async def test_a_visitor_who_leaves_while_waiting_is_abandoned(tmp_path: Path) -> None:
    async with running_service(tmp_path, queues_file=queue_file(tmp_path)) as (
        service,
        _sim,
        published,
        _url,
    ):
        desk: DigitalDesk = service.center.digital
        opened = await desk.open_conversation(
            "chat", queue="web", party={"name": "Vi", "email": "vi@example.com"}
        )
        assert opened["state"] == "waiting" and opened["agent_id"] is None
        left = await desk.end(opened["key"], "customer")
        assert left["state"] == "closed"
        await published.wait_for(
            lambda m: m["type"] == "visitor_event" and m["event"]["type"] == "ended"
        )
        # an agent becoming ready later gets nothing
        await service.center.set_agent_state("1001", "ready")
        assert service.center.conversations_of("1001") == []
        await settle(service)
        contact = await service.store.contacts.get_by_key(opened["key"])
        assert contact.outcome == "abandoned_queue" and contact.answered_at is None
        with pytest.raises(Conflict):
            await desk.customer_message(opened["key"], "hello?")


async def test_an_email_reply_is_stored_before_the_transport_and_kept_when_it_fails(
    tmp_path: Path,
) -> None:
    async with running_service(tmp_path, queues_file=queue_file(tmp_path)) as (
        service,
        _sim,
        published,
        _url,
    ):
        desk: DigitalDesk = service.center.digital
        outbox = Outbox()
        desk.transports["email"] = outbox
        ada = await service.store.customers.add("Ada Lovelace", email="ada@example.com")
        await service.center.set_agent_state("1001", "ready")
        opened = await desk.open_conversation(
            "email",
            queue="web",
            party={"name": "Ada", "email": "ADA@example.com"},
            subject="Invoice 42",
            first_message="Please resend invoice 42",
            meta={"message_id": "<in-1@example.com>"},
        )
        key = opened["key"]
        assert opened["customer_id"] == ada.id  # found by e-mail, ignoring case
        outbox.fail = True
        failed = await desk.agent_message(key, "1001", "Attached?")
        # kept, not lost: stored first, then marked with why it did not go out
        assert failed["seq"] == 2 and failed["meta"] == {
            "delivery": "failed",
            "delivery_error": "the relay refused it",
        }
        [kept] = await desk.messages(key, after_seq=1)
        assert (kept["text"], kept["meta"]) == ("Attached?", failed["meta"])
        assert (desk.conversation(key) or {})["first_response_at"] is None  # nothing reached her
        outbox.fail = False
        reply = await desk.agent_message(key, "1001", "Attached")
        assert reply["seq"] == 3 and reply["meta"] == {
            "message_id": "<3@switchboard.test>",
            "delivery": "sent",
        }
        assert (await desk.messages(key, after_seq=2))[0]["meta"] == reply["meta"]
        # the transport was handed the message as stored (queued), not a draft
        assert outbox.sent[0][1]["meta"] == {"delivery": "queued"}
        conversation, message = outbox.sent[0]
        assert conversation["subject"] == "Invoice 42" and message["text"] == "Attached"
        first = (await desk.messages(key))[0]
        assert first["meta"] == {"message_id": "<in-1@example.com>"}
        # email has no visitor socket: nothing for the visitor side
        assert not [m for m in published.messages if m["type"] == "visitor_event"]


async def test_bad_input_and_unknown_conversations_are_refused(tmp_path: Path) -> None:
    async with running_service(tmp_path, queues_file=queue_file(tmp_path)) as (
        service,
        _sim,
        _published,
        _url,
    ):
        desk: DigitalDesk = service.center.digital
        with pytest.raises(InvalidInput):
            await desk.open_conversation("fax", queue="web")
        with pytest.raises(NotFound):
            await desk.open_conversation("chat", queue="nowhere")
        with pytest.raises(InvalidInput):  # the queue takes no chats
            await desk.open_conversation("chat", queue="phones")
        with pytest.raises(InvalidInput):
            await desk.open_conversation("chat", queue="web", party={"name": "x" * 500})
        with pytest.raises(InvalidInput):
            await desk.open_conversation("chat", queue="web", first_message="a\x00b")
        missing = "chat:" + "0" * 32
        with pytest.raises(NotFound):
            await desk.customer_message(missing, "hi")
        with pytest.raises(NotFound):
            await desk.agent_message(missing, "1001", "hi")
        with pytest.raises(NotFound):
            desk.typing(missing, "customer", True)
        with pytest.raises(NotFound):
            await desk.messages(missing)
        assert desk.conversation(missing) is None
        # nothing half-made was left behind by the refusals
        assert await service.store.conversations.open_ones() == []


async def test_typing_is_published_not_stored(tmp_path: Path) -> None:
    async with running_service(tmp_path, queues_file=queue_file(tmp_path)) as (
        service,
        _sim,
        published,
        _url,
    ):
        desk: DigitalDesk = service.center.digital
        await service.center.set_agent_state("1001", "ready")
        key = (await desk.open_conversation("chat", queue="web", party={"name": "Vi"}))["key"]
        await service.center.visitor_typing(key, True)
        typing = await published.wait_for(lambda m: m["type"] == "conversation_typing")
        assert (typing["agent_id"], typing["who"], typing["on"]) == ("1001", "customer", True)
        await service.center.conversation_typing("1001", key, "true")
        agent_typing = await published.wait_for(
            lambda m: m["type"] == "visitor_event" and m["event"]["type"] == "typing"
        )
        assert agent_typing["event"] == {"type": "typing", "on": True}
        with pytest.raises(Conflict):
            await service.center.conversation_typing("1002", key, True)
        assert await desk.messages(key) == []


async def test_the_console_port_opens_a_visitor_chat_with_a_resume_token(tmp_path: Path) -> None:
    async with running_service(tmp_path, queues_file=queue_file(tmp_path)) as (
        service,
        _sim,
        _published,
        _url,
    ):
        center = service.center
        await center.set_agent_state("1001", "ready")
        opened = await center.visitor_open(
            "chat", "web", {"name": "Vi", "email": "vi@example.com"}, "Hi", "en", "Hello"
        )
        key, token = opened["key"], opened["token"]
        assert await service.store.conversations.token_matches(key, token)
        assert (center.conversation(key) or {})["state"] == "active"
        assert "token" not in (center.conversation(key) or {})
        await center.visitor_message(key, "More")
        await center.conversation_reply("1001", key, "Hello Vi")
        assert [m["seq"] for m in await center.conversation_messages(key, "1")] == [2, 3]
        assert (await center.conversation_end("1001", key))["state"] == "ended"
        assert (await center.conversation_close("1001", key))["state"] == "closed"
        left = await center.visitor_open("chat", "web", {"name": "Wo"}, "", "", None)
        assert (await center.visitor_leave(left["key"]))["state"] in ("ended", "closed")


async def test_a_restart_brings_back_waiting_and_assigned_conversations(tmp_path: Path) -> None:
    sim = PbxSimulator("switchboard", "harness-secret", time_scale=0.05, seed=7)
    port = await sim.start("127.0.0.1", 0)
    settings = harness_settings(tmp_path, port, queues_file=queue_file(tmp_path))
    try:
        service, runner, _published = await started_service(settings)
        desk: DigitalDesk = service.center.digital
        await service.center.set_agent_state("1001", "ready")
        held = [
            await desk.open_conversation("chat", queue="web", party={"name": f"V{n}"})
            for n in range(2)
        ]
        await desk.agent_message(held[0]["key"], "1001", "Hello V0")
        said = await desk.customer_message(held[0]["key"], "Hi", client_id="w-1")
        await desk.end(held[1]["key"], "customer")  # ended: its wrap-up goes on
        waiting = await desk.open_conversation(
            "chat", queue="web", party={"name": "W"}, first_message="anyone?"
        )
        assert waiting["state"] == "waiting"
        await runner.cleanup()

        service, runner, published = await started_service(settings)
        try:
            desk = service.center.digital
            back = desk.conversation(waiting["key"]) or {}
            assert back["state"] == "waiting" and back["queued_at"] == waiting["queued_at"]
            assert back["last_seq"] == 1
            mine = {c["key"]: c for c in service.center.conversations_of("1001")}
            assert set(mine) == {held[0]["key"], held[1]["key"]}
            assert mine[held[0]["key"]]["state"] == "active"
            assert mine[held[1]["key"]]["state"] == "ended"
            # the widget's resend after the restart is recognised from the store
            again = await desk.customer_message(held[0]["key"], "Hi", client_id="w-1")
            assert again["seq"] == said["seq"] == 2 and again["duplicate"] is True
            # the conversation goes on where it was: numbering, first response, agent
            reply = await desk.agent_message(held[0]["key"], "1001", "Still here")
            assert reply["seq"] == 3
            # closing the ended one frees its slot for the one that waited
            await desk.close(held[1]["key"], "1001")
            await asyncio.sleep(0)
            for _ in range(100):
                if (desk.conversation(waiting["key"]) or {}).get("state") == "active":
                    break
                await asyncio.sleep(0.05)
            now = desk.conversation(waiting["key"]) or {}
            assert now["state"] == "active" and now["agent_id"] == "1001"
            await service.center.recorder.flush()
            contact = await service.store.contacts.get_by_key(waiting["key"])
            assert contact.queued_at == waiting["queued_at"]  # one queue time, not two
            assert published is not None and isinstance(published, Recorder)
        finally:
            await runner.cleanup()
    finally:
        await sim.stop()


async def test_logging_out_puts_a_chat_back_in_line_and_releases_an_ended_one(
    tmp_path: Path,
) -> None:
    async with running_service(tmp_path, queues_file=queue_file(tmp_path)) as (
        service,
        _sim,
        published,
        _url,
    ):
        center = service.center
        desk: DigitalDesk = center.digital
        await center.set_agent_state("1001", "ready")
        going = await desk.open_conversation("chat", queue="web", party={"name": "Go"})
        done = await desk.open_conversation("chat", queue="web", party={"name": "Do"})
        agent = center.agent("1001") or {}
        assert agent["load"].get("chat") == 2 and agent["capacity"]["chat"] == 2
        assert set(agent["contacts"]) == {going["key"], done["key"]}
        await desk.end(done["key"], "customer")
        await center.set_agent_state("1001", "logged_out")
        back = desk.conversation(going["key"]) or {}
        assert back["state"] == "waiting" and back["agent_id"] is None
        told = await published.wait_for(
            lambda m: (
                m["type"] == "conversation_update"
                and m["conversation"]["key"] == going["key"]
                and m["conversation"]["state"] == "waiting"
                and m["agent_id"] == "1001"
            )
        )
        assert told["queue"] == "web"
        assert (desk.conversation(done["key"]) or {})["state"] == "closed"
        assert center.conversations_of("1001") == []
        with pytest.raises(Conflict):
            await desk.agent_message(going["key"], "1001", "still there?")
        await center.set_agent_state("1001", "ready")
        again = desk.conversation(going["key"]) or {}
        assert again["state"] == "active" and again["agent_id"] == "1001"
        await settle(service)
        stored = await service.store.conversations.get(done["key"])
        assert stored is not None and stored["state"] == "closed"
        timeline = await service.store.contacts.timeline(going["contact_id"])
        assert "note:unassigned" in [e.kind for e in timeline]


async def test_the_wrap_up_limit_closes_an_ended_chat(tmp_path: Path) -> None:
    async with running_service(tmp_path, queues_file=queue_file(tmp_path)) as (
        service,
        _sim,
        published,
        _url,
    ):
        center = service.center
        desk: DigitalDesk = center.digital
        await center.set_agent_state("1001", "ready")
        opened = await desk.open_conversation("chat", queue="quick", party={"name": "Qu"})
        await desk.end(opened["key"], "1001")
        closed = await published.wait_for(
            lambda m: (
                m["type"] == "conversation_update"
                and m["conversation"]["key"] == opened["key"]
                and m["conversation"]["state"] == "closed"
            ),
            within=5.0,
        )
        assert closed["agent_id"] == "1001"
        assert (center.agent("1001") or {})["load"].get("chat", 0) == 0
        # the wrap-up saved afterwards still closes nothing twice
        assert (await desk.close(opened["key"], "1001"))["state"] == "closed"


async def test_a_chat_waiting_too_long_overflows_to_the_next_queue(tmp_path: Path) -> None:
    async with running_service(tmp_path, queues_file=queue_file(tmp_path)) as (
        service,
        _sim,
        published,
        _url,
    ):
        desk: DigitalDesk = service.center.digital
        opened = await desk.open_conversation("chat", queue="slow", party={"name": "Sl"})
        moved = await published.wait_for(
            lambda m: (
                m["type"] == "conversation_update"
                and m["conversation"]["key"] == opened["key"]
                and m["queue"] == "web"
            ),
            within=5.0,
        )
        assert moved["conversation"]["state"] == "waiting"
        await service.center.set_agent_state("1001", "ready")
        now = desk.conversation(opened["key"]) or {}
        assert (now["state"], now["queue"]) == ("active", "web")
        await settle(service)
        timeline = await service.store.contacts.timeline(now["contact_id"])
        assert "note:overflow" in [e.kind for e in timeline]
        stored = await service.store.conversations.get(opened["key"])
        assert stored is not None and stored["queue"] == "web"


async def test_a_conversation_whose_agent_is_gone_after_a_restart_waits_again(
    tmp_path: Path,
) -> None:
    sim = PbxSimulator("switchboard", "harness-secret", time_scale=0.05, seed=7)
    port = await sim.start("127.0.0.1", 0)
    queues = queue_file(tmp_path)
    settings = harness_settings(tmp_path, port, queues_file=queues)
    try:
        service, runner, _published = await started_service(settings)
        await service.center.set_agent_state("1001", "ready")
        opened = await service.center.digital.open_conversation(
            "chat", queue="web", party={"name": "Or"}, first_message="hi"
        )
        assert opened["agent_id"] == "1001"
        await runner.cleanup()
        # the queue file changed meanwhile: 1001 is gone, 1002 serves the web queue
        lines = [line for line in QUEUES.splitlines() if '"1001"' not in line]
        lines = [line for line in lines if "capacity: {voice: 1, chat: 2" not in line]
        queues.write_text(
            "\n".join(lines).replace(
                "queues: [phones]}", "queues: [web, phones], capacity: {chat: 1}}"
            )
        )
        service, runner, _published = await started_service(settings)
        try:
            desk: DigitalDesk = service.center.digital
            back = desk.conversation(opened["key"]) or {}
            assert back["state"] == "waiting" and back["agent_id"] is None
            await service.center.set_agent_state("1002", "ready")
            now = desk.conversation(opened["key"]) or {}
            assert (now["state"], now["agent_id"]) == ("active", "1002")
            assert [m["text"] for m in await desk.messages(opened["key"])] == ["hi"]
        finally:
            await runner.cleanup()
    finally:
        await sim.stop()


async def test_consoles_get_the_chat_over_the_real_websocket_and_never_the_visitor_side(
    tmp_path: Path,
) -> None:
    """The real hub on the real center: the assigned agent and the supervisors get the
    conversation_* messages; the agent who does not have it gets none; no console ever
    gets a visitor_event, though the center publishes one for every frame."""
    import aiohttp

    from switchboard.demo import seed_users
    from tests.test_e2e_supervisor_scope import login

    async with running_service(tmp_path, queues_file=queue_file(tmp_path)) as (
        service,
        _sim,
        published,
        url,
    ):
        await seed_users(service.store)  # alice 1001, bruno 1002, sam (supervisor), admin
        await service.center.set_agent_state("1001", "ready")
        got: dict[str, list[dict[str, Any]]] = {}
        async with contextlib.AsyncExitStack() as stack:
            sockets = {}
            for name in ("alice", "bruno", "sam", "admin"):
                http = await stack.enter_async_context(
                    aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
                )
                await login(http, url, name)
                ws = await stack.enter_async_context(
                    http.ws_connect(url + "/ws", headers={"Origin": url})
                )
                assert (await ws.receive_json(timeout=5))["type"] == "snapshot"
                sockets[name] = ws
            desk: DigitalDesk = service.center.digital
            opened = await desk.open_conversation(
                "chat", queue="web", party={"name": "Ada"}, first_message="Hello"
            )
            key = opened["key"]
            await published.wait_for(lambda m: m["type"] == "conversation_assigned")
            await desk.agent_message(key, "1001", "Hi <b>Ada</b>")
            await desk.customer_message(key, "Thanks")
            await desk.end(key, "customer")
            assert [m for m in published.messages if m["type"] == "visitor_event"]
            for name, ws in sockets.items():
                got[name] = []
                while True:
                    try:
                        got[name].append(await ws.receive_json(timeout=0.5))
                    except TimeoutError:
                        break
        kinds = {name: {m["type"] for m in msgs} for name, msgs in got.items()}
        for name in ("alice", "sam", "admin"):
            assert {"conversation_assigned", "conversation_message"} <= kinds[name], name
        assert not any(k.startswith("conversation") for k in kinds["bruno"])
        assert not any("visitor_event" in k for k in kinds.values())
        texts = [m["message"]["text"] for m in got["alice"] if m["type"] == "conversation_message"]
        assert texts == ["Hi <b>Ada</b>", "Thanks"]  # as typed: the page shows it as text


async def test_a_bounce_while_the_relay_call_runs_is_not_overwritten_by_sent(
    tmp_path: Path,
) -> None:
    """Found in review: sending copied the reply's meta before the relay call and wrote
    it back with "sent" after, so a report that arrived in between (a fast bounce) was
    overwritten and the agent was told the customer had the answer."""
    from routing.mail_message import DeliveryStatus

    async with running_service(tmp_path, queues_file=queue_file(tmp_path)) as (
        service,
        _sim,
        _published,
        _url,
    ):
        desk: DigitalDesk = service.center.digital

        class FastBounce:
            async def prepare(
                self, conversation: dict[str, Any], message: dict[str, Any]
            ) -> Mapping[str, Any]:
                return {"message_id": "<r-1@shop.test>"}

            async def deliver(
                self, conversation: dict[str, Any], message: dict[str, Any]
            ) -> Mapping[str, Any]:
                line = await desk.delivery_report(
                    conversation["key"],
                    report_id="<dsn-1@mx>",
                    reported_ids=("<r-1@shop.test>",),
                    recipient="ada@example.com",
                    delivery=(DeliveryStatus("ADA@example.com", "failed", "5.1.1", "gone"),),
                )
                assert line is not None
                return {"message_id": "<r-1@shop.test>", "relay": "mx"}

        desk.transports["email"] = FastBounce()
        await service.center.set_agent_state("1001", "ready")
        opened = await desk.open_conversation(
            "email",
            queue="web",
            party={"name": "Ada", "email": "ada@example.com"},
            subject="Invoice 42",
            first_message="Please resend invoice 42",
        )
        key = opened["key"]
        reply = await desk.agent_message(key, "1001", "Attached")
        assert reply["meta"]["delivery"] == "bounced"
        [stored] = [m for m in await desk.messages(key) if m["seq"] == reply["seq"]]
        assert stored["meta"] == {
            "message_id": "<r-1@shop.test>",
            "relay": "mx",  # the transport's answer is still kept
            "delivery": "bounced",
            "delivery_error": "5.1.1 gone",
        }
        assert (desk.conversation(key) or {})["first_response_at"] is None

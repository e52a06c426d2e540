"""The demo's chats and emails (switchboard.demo_channels): a visitor's script against the
frames of docs/chat.md, the simulated agents' replies through the console port (and
only for their own conversations), and the demo's emails as a mail client sends them."""

from __future__ import annotations

import asyncio
import email.parser as email_parser
import email.policy as email_policy
import json
import random
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from switchboard.demo_channels import (
    AGENT_LINES,
    SHOWCASE,
    DemoAgentReplies,
    compose,
    visit,
)

SHOWCASE_ID = 1  # the first demo customer seeded (crm_lookup.demo): Alice Morgan


def replied(contact: dict[str, Any]) -> bool:
    """A history entry whose thread has an agent's message."""
    messages = (contact.get("transcript") or {}).get("messages") or []
    return any(m.get("sender") == "agent" for m in messages)


class ScriptedSite:
    """The service's side of one chat, as frames: it starts the chat and has an agent
    answer every visitor message (the link the visitor holds)."""

    def __init__(self, end_after: int | None = None) -> None:
        self.sent: list[dict[str, Any]] = []
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.end_after = end_after
        self.closed = False

    async def send(self, frame: dict[str, Any]) -> None:
        self.sent.append(frame)
        if frame["type"] == "start":
            self.inbox.put_nowait({"type": "started", "conversation": "chat:" + "1" * 32})
            self.inbox.put_nowait({"type": "queued", "position": 1, "estimate": 10})
        elif frame["type"] == "message":
            said = sum(1 for f in self.sent if f["type"] == "message")
            if self.end_after is not None and said >= self.end_after:
                self.inbox.put_nowait({"type": "ended"})
                return
            self.inbox.put_nowait({"type": "joined", "agent_name": "Carol"})
            self.inbox.put_nowait(
                {"type": "message", "sender": "agent", "name": "Carol", "text": f"reply {said}"}
            )

    async def receive(self, within: float) -> dict[str, Any] | None:
        try:
            return await asyncio.wait_for(self.inbox.get(), within)
        except TimeoutError:
            return None

    async def close(self) -> None:
        self.closed = True


async def test_a_visitor_says_each_line_after_an_agent_reply_then_leaves() -> None:
    site = ScriptedSite()
    key = await visit(
        site, SHOWCASE, "support", ["one", "two"], rng=random.Random(1), pause=(0, 0.01)
    )
    assert key == "chat:" + "1" * 32
    kinds = [f["type"] for f in site.sent]
    assert kinds == ["start", "message", "message", "leave"]
    start = site.sent[0]
    assert (start["name"], start["phone"], start["email"], start["topic"]) == (
        SHOWCASE.name,
        SHOWCASE.phone,
        SHOWCASE.email,
        "support",
    )
    assert [f["text"] for f in site.sent if f["type"] == "message"] == ["one", "two"]
    assert len({f["client_id"] for f in site.sent if f["type"] == "message"}) == 2
    assert site.closed


async def test_a_visitor_stops_when_the_agent_ends_the_chat() -> None:
    site = ScriptedSite(end_after=1)
    await visit(site, None, "sales", ["one", "two", "three"], rng=random.Random(2), pause=(0, 0))
    assert [f["type"] for f in site.sent] == ["start", "message"]  # no leave: it ended
    assert site.sent[0]["name"] == "Website visitor"


class FakePort:
    def __init__(self) -> None:
        self.listeners: list[Any] = []
        self.calls: list[tuple[Any, ...]] = []
        self.conversations: dict[str, dict[str, Any]] = {}

    def subscribe(self, listener: Any) -> Any:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def publish(self, message: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            listener(message)

    def conversation(self, key: str) -> dict[str, Any] | None:
        return self.conversations.get(key)

    async def conversation_reply(self, agent_id: str, key: str, text: str) -> dict[str, Any]:
        self.calls.append(("reply", agent_id, key, text))
        return {}

    async def conversation_end(self, agent_id: str, key: str) -> None:
        self.calls.append(("end", agent_id, key))

    async def conversation_close(self, agent_id: str, key: str) -> None:
        self.calls.append(("close", agent_id, key))


def assigned(agent_id: str, key: str, channel: str, last_seq: int = 0) -> dict[str, Any]:
    conv = {
        "key": key,
        "channel": channel,
        "contact_id": 7,
        "party": {"name": "Ivan Petrov"},
        "last_seq": last_seq,
    }
    return {"type": "conversation_assigned", "agent_id": agent_id, "conversation": conv}


async def settle(port: FakePort, count: int) -> None:
    for _ in range(400):
        if len(port.calls) >= count:
            return
        await asyncio.sleep(0.005)


async def test_simulated_agents_answer_their_chats_end_wrap_up_and_close() -> None:
    port = FakePort()
    wrapups: list[tuple[int, str, str]] = []

    async def wrapup(contact_id: int, disposition: str, notes: str) -> None:
        wrapups.append((contact_id, disposition, notes))

    bots = DemoAgentReplies(
        port, frozenset({"1003"}), random.Random(3), wrapup, think=(0, 0.001), time_scale=1
    )
    bots.start()
    try:
        key = "chat:" + "2" * 32
        port.conversations[key] = assigned("1003", key, "chat")["conversation"]
        port.publish(assigned("1001", "chat:" + "3" * 32, "chat"))  # alice's: a person's
        port.publish(assigned("1003", key, "chat"))
        await asyncio.sleep(0.05)
        assert port.calls == []  # nothing said yet: nothing to answer
        said = {
            "type": "conversation_message",
            "agent_id": "1003",
            "conversation_key": key,
            "message": {"sender": "customer", "text": "hello"},
        }
        port.publish(said)
        port.publish(said)  # two lines typed quickly: one answer
        await settle(port, 1)
        await asyncio.sleep(0.05)
        assert port.calls == [("reply", "1003", key, AGENT_LINES["chat"][0].format(name="Ivan"))]
        for n in (2, 3):
            port.publish(said)
            await settle(port, n)
        await settle(port, 5)
        assert [c[0] for c in port.calls] == ["reply", "reply", "reply", "end", "close"]
        assert all(c[1] == "1003" for c in port.calls)  # nothing for alice
        assert wrapups == [(7, "resolved", "Answered by the demo's agent.")]
    finally:
        bots.stop()


async def test_an_email_gets_one_reply_and_a_customer_who_left_is_wrapped_up() -> None:
    port = FakePort()
    wrapups: list[int] = []

    async def wrapup(contact_id: int, disposition: str, notes: str) -> None:
        wrapups.append(contact_id)

    bots = DemoAgentReplies(
        port, frozenset({"1004"}), random.Random(4), wrapup, think=(0, 0.001), names={}
    )
    bots.start()
    try:
        mail = "email:" + "4" * 32
        port.publish(assigned("1004", mail, "email", last_seq=1))  # the mail itself
        await settle(port, 3)
        assert [c[0] for c in port.calls] == ["reply", "end", "close"]
        assert port.calls[0][3].startswith("Dear Ivan,")
        port.calls.clear()
        chat = "chat:" + "5" * 32
        port.publish(assigned("1004", chat, "chat", last_seq=2))
        await settle(port, 1)
        gone = {"key": chat, "state": "ended", "contact_id": 7}
        port.publish({"type": "conversation_update", "agent_id": "1004", "conversation": gone})
        await settle(port, 2)
        assert [c[0] for c in port.calls] == ["reply", "close"]
        assert wrapups == [7, 7]
    finally:
        bots.stop()


def test_the_demo_email_is_a_proper_message() -> None:
    msg = compose(SHOWCASE, "support@switchboard.example", "Invoice", "Hello")
    assert msg["From"] == f"{SHOWCASE.name} <{SHOWCASE.email}>"
    assert msg["To"] == "support@switchboard.example"
    assert msg["Message-ID"].endswith("@morgan-logistics.example>")
    assert msg.get_content().strip() == "Hello"
    stranger = compose(None, "support@switchboard.example", "Hi", "Hi")
    assert "new.customer@example.net" in stranger["From"]


def test_a_short_demo_run_puts_a_chat_and_an_email_in_the_showcase_history(
    tmp_path: Path,
) -> None:
    """``switchboard demo`` as a newcomer runs it: within seconds the showcase customer
    (Alice Morgan) has chatted and emailed, and her history, read through the console's
    API as the supervisor, shows a call, a chat and an email; a simulated agent answered."""
    from tests.test_cli_service import PYTHON, free_port, stop, wait_healthy

    http_port = free_port()
    proc = subprocess.Popen(
        [*PYTHON, "demo", "--port", str(http_port), "--rate", "6", "--data-dir",
         str(tmp_path), "--seed", "16"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{http_port}"
        wait_healthy(url, proc)
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        login = urllib.request.Request(
            url + "/api/login",
            data=json.dumps({"username": "sam", "password": "switchboard-demo"}).encode(),
            headers={"Content-Type": "application/json", "Origin": url},
        )
        opener.open(login, timeout=5).read()
        customer = SHOWCASE_ID
        seen: dict[str, list[dict[str, Any]]] = {}
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            with opener.open(f"{url}/api/customers/{customer}/contacts?limit=50", timeout=5) as r:
                contacts = json.loads(r.read())["contacts"]
            seen = {}
            for c in contacts:
                seen.setdefault(c.get("channel", "voice"), []).append(c)
            answered = [c for c in seen.get("chat", []) if replied(c)]
            mailed = [c for c in seen.get("email", []) if replied(c)]
            if seen.keys() >= {"voice", "chat", "email"} and answered and mailed:
                break
            time.sleep(1.0)
        assert seen.keys() >= {"voice", "chat", "email"}, seen.keys()
        chat = next(c for c in seen["chat"] if replied(c))
        # the contact's own page has the whole thread: the visitor first, then the agent
        with opener.open(f"{url}/api/contacts/{chat['id']}", timeout=5) as r:
            messages = json.loads(r.read())["transcript"]["messages"]
        assert messages[0]["sender"] == "customer"
        assert any(m["sender"] == "agent" and m["agent_id"] == chat["agent_id"] for m in messages)
        # the email came in by SMTP and its reply went out through the demo's relay,
        # threaded on hers: kept in the outbox
        email = next(c for c in seen["email"] if replied(c))
        theirs = email["transcript"]["messages"][0]["meta"]["message_id"]
        kept = [
            email_parser.BytesParser(policy=email_policy.default).parsebytes(p.read_bytes())
            for p in (tmp_path / "outbox").glob("*.eml")
        ]
        assert theirs in {str(m["In-Reply-To"]).strip() for m in kept}, [
            m["In-Reply-To"] for m in kept
        ]
        # her case (issue 17): opened on her call, the chat and the email linked to it as
        # the simulated agents wrapped them up, the article used on the call, the SLA
        # clock in business hours; another customer's urgent case is past its target
        # and the cases report counts the breach
        case: dict[str, Any] = {}
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            with opener.open(f"{url}/api/cases?customer_id={customer}", timeout=5) as r:
                [mine] = json.loads(r.read())["cases"]
            with opener.open(f"{url}/api/cases/{mine['number']}", timeout=5) as r:
                case = json.loads(r.read())
            with opener.open(f"{url}/api/reports/cases?by=queue", timeout=5) as r:
                report = {row["queue"]: row for row in json.loads(r.read())["rows"]}
            channels = {c["channel"] for c in case["contacts"]}
            breaches = report.get("support", {}).get("resolution_breaches", 0)
            if channels >= {"voice", "chat", "email"} and breaches:
                break
            time.sleep(1.0)
        assert {c["channel"] for c in case["contacts"]} >= {"voice", "chat", "email"}, case
        assert [a["title"] for a in case["articles"]] == ["Reading an invoice"]
        clock = case["case"]["clock"]
        assert clock["first_response"]["state"] == "met"
        assert clock["resolution"]["state"] == "running" and clock["resolution"]["target"] > 0
        assert case["case"]["business_hours"]["timezone"] == "Europe/London"
        assert report["support"]["resolution_breaches"] >= 1, report
        code, _out, err = stop(proc, signal.SIGINT)
        assert code == 0, err[-2000:]
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

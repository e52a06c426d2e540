"""The demo's chats and emails (issue 16): simulated visitors and senders, and the
simulated agents' replies, so a fresh demo shows all three channels flowing.

Theory of operation. Everything goes through the product's own doors, never behind them:

* **Chat visitors** open the real visitor websocket (``/chat/ws``, the frames of
  docs/chat.md: ``start``, ``message``, ``leave`` in; ``started``, ``message``,
  ``joined``, ``ended`` out) with the site's own Origin, say their first line, answer
  each agent reply with their next line, and leave when they have no more to say (or the
  agent ends the chat). Where the chat channel is off, :class:`PortLink` drives the desk
  through the console port's visitor methods instead, with the same frames.
* **Emails** are sent to the service's SMTP listener (``[email]``) with ``smtplib``: real
  SMTP, each with a ``Message-ID``; where no listener runs, through the port.
* **Simulated agents** (not alice or bruno: those are for people) answer the chats and
  emails the ACD assigns them through the console port — ``conversation_reply``, then
  ``conversation_end``, the wrap-up (saved like the console's, by contact id) and
  ``conversation_close`` — so their slots free up. A chat the ACD gives a human agent is
  left to the human.

The showcase customer (:data:`SHOWCASE`, Alice Morgan, with past calls in the demo's
history) calls, chats and emails first thing, so her customer page shows all three.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import smtplib
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Protocol

from crm_lookup.demo import DEMO_CUSTOMERS, DemoCustomer
from crm_lookup.models import CaseChange

log = logging.getLogger(__name__)

#: the demo customer whose history shows a call, a chat and an email
SHOWCASE = DEMO_CUSTOMERS[0]
VISIT_TIMEOUT = 600.0  # seconds a visitor waits before giving up on the chat

# (topic, lines the visitor says one after another)
CHAT_SCRIPTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "sales",
        (
            "Hello! What does the fleet plan cost for 12 vans?",
            "Does that include the tracking app?",
            "Great, thank you.",
        ),
    ),
    (
        "support",
        (
            "Hi, the driver app keeps logging me out.",
            "Version 4.2, on Android.",
            "That fixed it, thanks!",
        ),
    ),
    (
        "billing",
        (
            "Hello, I was charged twice this month.",
            "The invoice number is INV-2291.",
            "Thanks for sorting it out.",
        ),
    ),
)
EMAILS: tuple[tuple[str, str], ...] = (
    (
        "Invoice copy, please",
        "Hello,\n\nCould you send me a copy of last month's invoice?\n\nThanks",
    ),
    (
        "Change of delivery address",
        "Hi,\n\nWe moved to 14 Harbour Road. Please update our account.\n\nRegards",
    ),
    (
        "Question about the fleet plan",
        "Hello,\n\nDoes the fleet plan cover trailers as well as vans?\n\nBest",
    ),
)
AGENT_LINES = {
    "chat": (
        "Hello {name}, thanks for getting in touch. Let me look at that for you.",
        "I have checked: it is all in order now.",
        "Is there anything else I can help with?",
    ),
    "email": (
        "Dear {name},\n\nThank you for your message. We have taken care of it.\n\n"
        "Kind regards,\n{agent}",
    ),
}


class Port(Protocol):
    """The part of the console port (agent_console.ports.ContactCenter) the demo uses."""

    def subscribe(self, listener: Callable[[dict[str, Any]], None]) -> Callable[[], None]: ...


# ------------------------------------------------------------------ the visitor's link


class Link(Protocol):
    """A visitor's side of one chat: frames out, frames in (docs/chat.md)."""

    async def send(self, frame: dict[str, Any]) -> None: ...

    async def receive(self, within: float) -> dict[str, Any] | None: ...

    async def close(self) -> None: ...


class SocketLink:
    """The real visitor websocket (``GET /chat/ws``), opened with the site's Origin."""

    def __init__(self, session: Any, url: str, origin: str) -> None:
        self._session = session
        self._url = url
        self._origin = origin
        self._ws: Any = None

    async def open(self) -> SocketLink:
        self._ws = await self._session.ws_connect(
            self._url, origin=self._origin, heartbeat=30, autoping=True
        )
        return self

    async def send(self, frame: dict[str, Any]) -> None:
        await self._ws.send_str(json.dumps(frame))

    async def receive(self, within: float) -> dict[str, Any] | None:
        import aiohttp

        while True:
            msg = await self._ws.receive(timeout=within)
            if msg.type == aiohttp.WSMsgType.TEXT:
                data = json.loads(msg.data)
                return data if isinstance(data, dict) else None
            if msg.type in (aiohttp.WSMsgType.PING, aiohttp.WSMsgType.PONG):
                continue
            return None  # closed

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()


class PortLink:
    """The same chat without the websocket: the console port's visitor methods
    (``visitor_open``, ``visitor_message``, ``visitor_leave``) and the ``visitor_event``
    frames the desk publishes for this conversation. Frames published while
    ``visitor_open`` runs (an agent free at once: ``joined``) are kept until the key is
    known, as the websocket's own subscription would have them."""

    EARLY = 64  # frames of other conversations kept while this one opens

    def __init__(self, port: Any, queue: str) -> None:
        self._port = port
        self._queue = queue
        self._key = ""
        self._early: list[tuple[str, dict[str, Any]]] = []
        self._frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._unsubscribe = port.subscribe(self._on_message)

    def _on_message(self, message: dict[str, Any]) -> None:
        if message.get("type") != "visitor_event":
            return
        key, event = message.get("conversation_key"), message.get("event")
        if not isinstance(event, dict):
            return
        if not self._key:
            self._early = [*self._early[-self.EARLY :], (str(key), event)]
        elif key == self._key:
            self._frames.put_nowait(event)

    async def send(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "start":
            party = {k: frame.get(k, "") for k in ("name", "phone", "email")}
            opened = await self._port.visitor_open(
                "chat", self._queue, party, "", frame.get("language", ""), None
            )
            self._key = str(opened["key"])
            self._frames.put_nowait({"type": "started", "conversation": self._key})
            for key, event in self._early:
                if key == self._key:
                    self._frames.put_nowait(event)
            self._early = []
        elif kind == "message":
            await self._port.visitor_message(
                self._key, str(frame["text"]), str(frame.get("client_id") or "")
            )
        elif kind == "leave":
            await self._port.visitor_leave(self._key)

    async def receive(self, within: float) -> dict[str, Any] | None:
        try:
            return await asyncio.wait_for(self._frames.get(), within)
        except TimeoutError:
            return None

    async def close(self) -> None:
        self._unsubscribe()


async def visit(
    link: Link,
    customer: DemoCustomer | None,
    topic: str,
    lines: Sequence[str],
    *,
    rng: random.Random,
    pause: tuple[float, float] = (2.0, 6.0),
    time_scale: float = 1.0,
    patience: float = VISIT_TIMEOUT,
) -> str:
    """One visitor's chat: start, the first line, then a line after each agent reply;
    leaves after the last line (the agent's answer to it read) or when the agent ends
    the chat. Returns the conversation key ('' when the chat never started)."""
    name = customer.name if customer else "Website visitor"
    start = {
        "type": "start",
        "name": name,
        "phone": customer.phone if customer else "",
        "email": customer.email if customer else "",
        "topic": topic,
        "language": customer.language if customer else "en",
    }
    key = ""
    said = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience * time_scale

    async def say() -> None:
        nonlocal said
        await asyncio.sleep(rng.uniform(*pause) * time_scale)
        await link.send(
            {"type": "message", "text": lines[said], "client_id": uuid.uuid4().hex[:12]}
        )
        said += 1

    try:
        await link.send(start)
        while loop.time() < deadline:
            frame = await link.receive(max(0.1, deadline - loop.time()))
            if frame is None:
                break
            kind = frame.get("type")
            if kind == "started":
                key = str(frame.get("conversation", ""))
                await say()
            elif kind == "message" and frame.get("sender") == "agent":
                if said >= len(lines):
                    await asyncio.sleep(rng.uniform(*pause) * time_scale)
                    await link.send({"type": "leave"})
                    break
                await say()
            elif kind in ("ended", "offline", "error"):
                break
    finally:
        await link.close()
    return key


# ------------------------------------------------------------------------- emails


@dataclass(frozen=True, slots=True)
class Mailbox:
    """Where the demo's emails go: the service's SMTP listener and the address of the
    mailbox it routes to a queue."""

    host: str
    port: int
    address: str


def compose(customer: DemoCustomer | None, mailbox: str, subject: str, body: str) -> EmailMessage:
    sender = customer.email if customer and customer.email else "new.customer@example.net"
    name = customer.name if customer else "New Customer"
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>"
    msg["To"] = mailbox
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "example.net")
    msg.set_content(body)
    return msg


async def send_email(box: Mailbox, msg: EmailMessage) -> None:
    """One email to the listener over SMTP (a thread: smtplib blocks)."""

    def work() -> None:
        with smtplib.SMTP(box.host, box.port, timeout=10) as smtp:
            smtp.send_message(msg)

    await asyncio.to_thread(work)


class DemoOutbox:
    """The demo's mail relay: an SMTP server on loopback that keeps what the service
    sends (the agents' replies, chat transcripts) as ``.eml`` files in ``directory``, the
    newest ``keep``, so a newcomer can read them. Nothing leaves the machine."""

    def __init__(self, directory: Any, keep: int = 200) -> None:
        from pathlib import Path

        self.directory = Path(directory)
        self.keep = keep
        self.count = 0
        self._server: asyncio.Server | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        from aiosmtpd.smtp import SMTP

        self.directory.mkdir(parents=True, exist_ok=True)
        outbox = self

        class Keep:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                outbox.count += 1
                name = f"{int(time.time() * 1000)}-{outbox.count:05d}.eml"
                data = envelope.original_content or envelope.content
                await asyncio.to_thread((outbox.directory / name).write_bytes, data)
                outbox._prune()
                return "250 2.0.0 kept"

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(Keep(), hostname="demo-outbox", data_size_limit=2**22), host, port
        )
        return int(self._server.sockets[0].getsockname()[1])

    def _prune(self) -> None:
        files = sorted(self.directory.glob("*.eml"))
        for old in files[: max(0, len(files) - self.keep)]:
            with contextlib.suppress(OSError):
                old.unlink()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None


# ------------------------------------------------------------ the simulated agents


@dataclass(slots=True)
class _Handled:
    channel: str
    contact_id: Any = None
    name: str = "there"
    replies: int = 0
    #: a reply is on its way (it answers every customer message before it is sent)
    replying: bool = False
    ending: bool = False


def wrapup_on_open_case(
    store: Any, names: Mapping[str, str] | None = None
) -> Callable[[int, str, str], Any]:
    """The simulated agents' wrap-up: a known customer's chat or email is linked to their
    open case (most pressing first), as an agent answering about it would, so the case's
    timeline gathers the call, the chat and the email; ``names`` (agent id -> name) say
    who did it on the timeline."""

    async def wrapup(contact_id: int, disposition: str, notes: str) -> None:
        contact = await store.contacts.get(contact_id)
        case = None
        if contact.customer_id is not None:
            open_cases = await store.cases.open_for_customer(contact.customer_id, limit=1)
            if open_cases:
                case = CaseChange(case_id=open_cases[0].id, status=open_cases[0].status)
        agent = contact.agent_id or ""
        actor = (names or {}).get(agent, agent)
        await store.contacts.wrapup(contact_id, disposition, notes, case=case, actor=actor)

    return wrapup


@dataclass(slots=True)
class DemoAgentReplies:
    """The simulated agents' side of their chats and emails, through the console port
    (see the module docstring). ``wrapup`` saves a conversation's wrap-up by contact id
    (the console's wrap-up route does the same for a person)."""

    port: Any
    agent_ids: frozenset[str]
    rng: random.Random
    wrapup: Callable[[int, str, str], Any]
    names: dict[str, str] = field(default_factory=dict)
    time_scale: float = 1.0
    think: tuple[float, float] = (3.0, 8.0)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _handled: dict[str, _Handled] = field(default_factory=dict)
    _unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        self._unsubscribe = self.port.subscribe(self._on_message)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        for task in self.tasks:
            task.cancel()

    def _later(self, action: Callable[[], Any], factor: float = 1.0) -> None:
        async def run() -> None:
            await asyncio.sleep(self.rng.uniform(*self.think) * factor * self.time_scale)
            try:
                await action()
            except Exception as exc:  # the conversation may have moved on
                log.debug("simulated agent reply skipped: %s", exc)

        task = asyncio.get_running_loop().create_task(run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _on_message(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        agent_id = message.get("agent_id")
        if agent_id not in self.agent_ids:
            return
        if kind == "conversation_assigned":
            conv = message.get("conversation") or {}
            key, channel = str(conv.get("key", "")), str(conv.get("channel", "chat"))
            if not key or key in self._handled:
                return
            name = ((conv.get("party") or {}).get("name") or "").split(" ")[0] or "there"
            self._handled[key] = _Handled(channel, conv.get("contact_id"), name)
            if int(conv.get("last_seq") or 0) > 0:  # the customer wrote before we came
                self._answer(str(agent_id), key)
        elif kind == "conversation_message":
            key = str(message.get("conversation_key", ""))
            if (message.get("message") or {}).get("sender") == "customer":
                self._answer(str(agent_id), key)
        elif kind == "conversation_update":
            conv = message.get("conversation") or {}
            key = str(conv.get("key", ""))
            handled = self._handled.get(key)
            if handled and conv.get("state") == "ended" and not handled.ending:
                handled.ending = True  # the customer left: wrap up
                self._later(lambda: self._close(str(agent_id), key))

    def _answer(self, agent_id: str, key: str) -> None:
        """One reply to what the customer has written so far, after a moment's thought
        (several lines typed meanwhile get one answer, as a person gives)."""
        handled = self._handled.get(key)
        if handled is None or handled.ending or handled.replying:
            return
        handled.replying = True
        self._later(lambda: self._reply(agent_id, key))

    async def _reply(self, agent_id: str, key: str) -> None:
        handled = self._handled.get(key)
        if handled is None or handled.ending:
            return
        handled.replying = False
        lines = AGENT_LINES.get(handled.channel, AGENT_LINES["chat"])
        text = lines[min(handled.replies, len(lines) - 1)].format(
            name=handled.name, agent=self.names.get(agent_id, "Switchboard demo")
        )
        await self.port.conversation_reply(agent_id, key, text)
        handled.replies += 1
        if handled.channel == "email" or handled.replies >= len(lines):
            handled.ending = True
            self._later(lambda: self._end(agent_id, key))

    async def _end(self, agent_id: str, key: str) -> None:
        with contextlib.suppress(Exception):  # the customer may have left first
            await self.port.conversation_end(agent_id, key)
        self._later(lambda: self._close(agent_id, key))

    async def _close(self, agent_id: str, key: str) -> None:
        handled = self._handled.get(key)
        contact_id = (self.port.conversation(key) or {}).get("contact_id")
        if contact_id is None and handled is not None:
            contact_id = handled.contact_id
        if contact_id is not None:
            await self.wrapup(int(contact_id), "resolved", "Answered by the demo's agent.")
        await self.port.conversation_close(agent_id, key)
        self._handled.pop(key, None)


# --------------------------------------------------------------------- the traffic


@dataclass(slots=True)
class DemoChannels:
    """The chat visitors and email senders of the demo, at a gentle rate.

    Args:
        port: the console port (the CallCenter).
        chat_url: the visitor websocket (``ws://host:port/chat/ws``), or '' to drive
            the desk through ``port`` (the chat channel is off).
        origin: the Origin the visitors' browser would send (a site allowed to embed).
        mailbox: the SMTP listener and its address, or None to use ``port``.
        chats_per_minute, emails_per_minute: Poisson rates.
        chat_queues: topic -> queue of :class:`PortLink` chats (others: ``chat_queue``).
        chat_queue, email_queue: the queue of :class:`PortLink` chats and port emails.
    """

    port: Any
    rng: random.Random
    chat_url: str = ""
    origin: str = ""
    mailbox: Mailbox | None = None
    chats_per_minute: float = 0.5
    emails_per_minute: float = 0.3
    chat_queue: str = "sales"
    chat_queues: dict[str, str] = field(default_factory=dict)
    email_queue: str = "support"
    time_scale: float = 1.0
    customers: Sequence[DemoCustomer] = DEMO_CUSTOMERS
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    chats: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    _session: Any = None

    def start(self, *, showcase: bool = True) -> None:
        """The showcase customer's chat and email first, then the traffic loops."""
        if showcase:
            self._spawn(self._showcase())
        self._spawn(self._loop(self.chats_per_minute, self.chat))
        self._spawn(self._loop(self.emails_per_minute, self.email))

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._session is not None:
            await self._session.close()

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _showcase(self) -> None:
        await asyncio.sleep(3 * self.time_scale)
        self._spawn(self.chat(SHOWCASE, "support"))
        await asyncio.sleep(4 * self.time_scale)
        await self.email(SHOWCASE, EMAILS[0])

    async def _loop(self, per_minute: float, one: Callable[[], Any]) -> None:
        if per_minute <= 0:
            return
        while True:
            await asyncio.sleep(self.rng.expovariate(per_minute / 60.0) * self.time_scale)
            self._spawn(self._safely(one))

    async def _safely(self, one: Callable[[], Any]) -> None:
        try:
            await one()
        except (TimeoutError, OSError) as exc:
            log.info("demo contact not sent: %s", exc)
        except Exception as exc:  # a refused chat/email (a limit, a queue full) is fine
            log.info("demo contact refused: %s", exc)

    def _pick(self) -> DemoCustomer | None:
        """Mostly demo customers (their cards pop), now and then someone new."""
        if self.rng.random() < 0.2:
            return None
        return self.rng.choice(list(self.customers))

    async def _link(self, topic: str) -> Link:
        if not self.chat_url:
            return PortLink(self.port, self.chat_queues.get(topic, self.chat_queue))
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession()
        return await SocketLink(self._session, self.chat_url, self.origin).open()

    async def chat(self, customer: Any = "pick", topic: str | None = None) -> str:
        """One visitor's chat to its end; its conversation key."""
        who = self._pick() if customer == "pick" else customer
        scripts = [s for s in CHAT_SCRIPTS if s[0] == topic] or list(CHAT_SCRIPTS)
        topic, lines = self.rng.choice(scripts)
        link = await self._link(topic)
        key = await visit(link, who, topic, lines, rng=self.rng, time_scale=self.time_scale)
        if key:
            self.chats.append(key)
        return key

    async def email(self, customer: Any = "pick", mail: tuple[str, str] | None = None) -> str:
        """One email from ``customer``; its Message-ID (through the port: the key)."""
        who = self._pick() if customer == "pick" else customer
        subject, body = mail or self.rng.choice(EMAILS)
        if self.mailbox is None:
            party = {
                "name": who.name if who else "New Customer",
                "phone": "",
                "email": who.email if who else "new.customer@example.net",
            }
            opened = await self.port.visitor_open(
                "email", self.email_queue, party, subject, who.language if who else "", body
            )
            ident = str(opened["key"])
        else:
            msg = compose(who, self.mailbox.address, subject, body)
            await send_email(self.mailbox, msg)
            ident = str(msg["Message-ID"])
        self.emails.append(ident)
        return ident

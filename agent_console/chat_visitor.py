"""The web chat's visitor side: the embeddable widget and its websocket (docs/chat.md).

* ``GET /chat/widget.js``: ``static/chat/widget.js`` with its configuration (topics,
  limits, the strings in English and Russian from ``agent_console.catalogue``) written
  in, so the company's page needs one ``<script>`` tag and no second request.
* ``GET /chat/ws``: one anonymous visitor. The ``Origin`` must be the service's own
  public origin or one of ``[chat] allowed_origins`` (else 403 before the upgrade); an
  address (the client's behind a trusted proxy: ``agent_console.client_address``) holds
  at most ``visitors_per_ip`` sockets (else 429); frames are parsed and
  bounded by ``routing.chat_protocol``; messages are rate-limited per socket. What the
  visitor does goes to the contact center through the console port (``visitor_open``,
  ``visitor_message``, ...), so a cluster standby forwards it to the leader like any
  console action; what the agent does comes back as ``visitor_event`` messages through
  the port's listeners, which :class:`ChatVisitors` routes to the visitor's socket(s) by
  conversation key (a reconnect may leave two for a moment).

Nothing is lost across a reconnect: the widget resumes with the conversation's token
(stored hashed) and the last message number it saw, and the socket replays every
message after it from the store, a page at a time until caught up; a message the widget
sends again with its ``client_id`` (its ``sent`` was lost) is stored once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from agent_console import catalogue
from agent_console.client_address import client_address
from agent_console.keys import CENTER, CHAT, CHAT_WIDGET, STORE
from agent_console.ports import ContactCenter
from config.errors import ConfigError, Conflict, NotFound, SwitchboardError
from config.settings import ChatSettings, Settings
from routing.chat_protocol import (
    ClientFrame,
    ClientLeave,
    ClientMessage,
    ClientPing,
    ClientResume,
    ClientStart,
    ClientTranscript,
    ClientTyping,
    ConnectionCounter,
    FrameError,
    Limits,
    TokenBucket,
    error_frame,
    message_frame,
    parse_frame,
    serialize,
)
from routing.ivr.hours import Schedule
from routing.ivr.script import ScriptError, load_script
from routing.tasks import TaskSet

log = logging.getLogger(__name__)

WIDGET = Path(__file__).resolve().parent / "static" / "chat" / "widget.js"
CONFIG_MARK = '"__SB_CHAT_CONFIG__"'
SEND_QUEUE = 256  # frames waiting for one visitor; a socket that falls further behind is closed
REPLAY_PAGE = 500  # messages the port answers at most (conversation_messages)
TYPING_PER_SECOND = 2.0
#: a waiting chat whose visitor has had no socket this long is abandoned (a page closed
#: before an agent came); a chat with an agent stays for the agent to end
ORPHAN_SECONDS = 120.0


@dataclass(eq=False)
class Visitor:
    """One visitor socket."""

    ws: web.WebSocketResponse
    bucket: TokenBucket
    typing: TokenBucket
    key: str = ""
    opening: bool = False
    early: list[dict[str, Any]] = field(default_factory=list)
    outbox: asyncio.Queue[str | None] = field(
        default_factory=lambda: asyncio.Queue(maxsize=SEND_QUEUE)
    )

    async def put(self, frame: dict[str, Any]) -> bool:
        """Queue ``frame`` waiting for room (a replay: as fast as the visitor reads, never
        overflowing the queue); False once the socket is closed."""
        text = serialize(frame)
        while not self.ws.closed:
            try:
                await asyncio.wait_for(self.outbox.put(text), 1.0)
                return True
            except TimeoutError:
                continue
        return False

    def push(self, frame: dict[str, Any]) -> None:
        try:
            self.outbox.put_nowait(serialize(frame))
        except asyncio.QueueFull:  # too far behind: it resumes from the store instead
            with contextlib.suppress(asyncio.QueueFull):
                self.outbox.get_nowait()
                self.outbox.put_nowait(None)


class ChatVisitors:
    """The open visitor sockets, and the routing of ``visitor_event`` messages to them."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        chat = settings.chat
        self.chat = chat
        self.clock = clock
        self.limits = Limits(text_chars=chat.max_message_chars)
        self.counter = ConnectionCounter(chat.visitors_per_ip)
        self.origins = frozenset({settings.http.public_origin, *chat.allowed_origins})
        self.by_key: dict[str, set[Visitor]] = {}
        self.opening: set[Visitor] = set()
        self.sockets: set[Visitor] = set()  # every open one, closed at shutdown
        self.starts: dict[str, TokenBucket] = {}  # address -> chats it may start
        self.center: ContactCenter | None = None  # set when the app starts
        self.store: Any = None
        self.tasks = TaskSet(log, "chat visitor task failed")
        self.schedule = _schedule(settings)

    def on_center_message(self, message: dict[str, Any]) -> None:
        if message.get("type") != "visitor_event":
            return
        key = str(message.get("conversation_key") or "")
        event = message.get("event")
        if not isinstance(event, dict):
            return
        for visitor in self.by_key.get(key, ()):
            visitor.push(event)
        # a chat given an agent while visitor_open is still answering: kept until the
        # socket knows its key (then the ones of its key are sent, in order)
        for visitor in self.opening:
            visitor.early.append({"key": key, "event": event})

    def attach(self, visitor: Visitor, key: str) -> None:
        visitor.key = key
        self.by_key.setdefault(key, set()).add(visitor)

    def detach(self, visitor: Visitor) -> None:
        self.opening.discard(visitor)
        sockets = self.by_key.get(visitor.key)
        if sockets is not None:
            sockets.discard(visitor)
            if not sockets:
                del self.by_key[visitor.key]
                self.tasks.spawn(self._orphaned(visitor.key), f"chat-orphan-{visitor.key}")

    async def _orphaned(self, key: str) -> None:
        await asyncio.sleep(ORPHAN_SECONDS)
        if key in self.by_key or self.center is None or self.store is None:
            return  # the visitor came back
        conversation = await self.store.conversations.get(key)
        if conversation is not None and conversation.get("state") == "waiting":
            with contextlib.suppress(SwitchboardError):
                await self.center.visitor_leave(key)

    def may_start(self, address: str) -> bool:
        now = self.clock()
        bucket = self.starts.get(address)
        if bucket is None:
            if len(self.starts) >= 10_000:  # bounded: the oldest addresses forgotten
                for old in list(self.starts)[:5_000]:
                    del self.starts[old]
            per_minute = self.chat.starts_per_minute
            bucket = self.starts[address] = TokenBucket(per_minute / 60.0, per_minute, at=now)
        return bucket.allow(now)

    def is_open(self, now: float) -> bool:
        return self.schedule is None or self.schedule.is_open(now)

    def new_visitor(self, ws: web.WebSocketResponse) -> Visitor:
        rate = self.chat.messages_per_minute / 60.0
        return Visitor(
            ws,
            TokenBucket(rate, self.chat.message_burst, at=self.clock()),
            TokenBucket(TYPING_PER_SECOND, 4, at=self.clock()),
        )


def _schedule(settings: Settings) -> Schedule | None:
    chat = settings.chat
    if not chat.hours_script:
        return None
    try:
        script = load_script(
            settings.path(chat.hours_script),
            settings.path(settings.ivr.prompts_dir),
            settings.ivr.default_language,
        )
    except ScriptError as exc:
        raise ConfigError("settings", "chat.hours_script", str(exc)) from None
    found = script.schedules.get(chat.hours_schedule)
    if found is None:
        names = ", ".join(sorted(script.schedules)) or "none"
        raise ConfigError(
            "settings",
            "chat.hours_schedule",
            f"{chat.hours_script} has no schedule {chat.hours_schedule!r} (it has: {names})",
        )
    return found


def check_chat_settings(chat: ChatSettings) -> None:
    """Raises ConfigError on a setting the widget could not work with."""
    for name in (
        "messages_per_minute",
        "message_burst",
        "max_message_chars",
        "visitors_per_ip",
        "starts_per_minute",
    ):
        value = getattr(chat, name)
        if value < 1:
            raise ConfigError("settings", f"chat.{name}", "must be at least 1")
    if chat.max_message_chars > 10_000:
        raise ConfigError("settings", "chat.max_message_chars", "must be at most 10000")
    for origin in chat.allowed_origins:
        if not origin.startswith(("http://", "https://")) or origin.count("/") != 2:
            raise ConfigError(
                "settings",
                "chat.allowed_origins",
                f"{origin!r} is not an origin like https://www.example.com (no path)",
            )
    if chat.enabled and not chat.topics:
        raise ConfigError("settings", "chat.topics", "at least one topic -> queue is needed")


# -- the widget script -------------------------------------------------------------------


def _widget_config(settings: Settings, visitors: ChatVisitors) -> dict[str, Any]:
    strings = {}
    for language in catalogue.LANGUAGES:
        table = catalogue.strings_for(language)
        strings[language] = {
            k.removeprefix("chat.widget."): v
            for k, v in table.items()
            if k.startswith("chat.widget.")
        }
        if settings.chat.offline_message:
            strings[language]["offline"] = settings.chat.offline_message
    return {
        "topics": sorted(settings.chat.topics),
        "maxChars": visitors.limits.text_chars,
        "strings": strings,
    }


async def widget_js(request: web.Request) -> web.Response:
    """``GET /chat/widget.js`` (no session: it is loaded by the company's site)."""
    if not request.app[CHAT].chat.enabled:
        raise web.HTTPNotFound(text="the chat is not enabled")
    body: str = request.app[CHAT_WIDGET]
    response = web.Response(text=body, content_type="application/javascript")
    response.headers["Cache-Control"] = "public, max-age=300"
    # another site's page loads it: let it, whatever that page's own isolation policy
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


# -- the visitor socket --------------------------------------------------------------------


async def visitor_socket(request: web.Request) -> web.StreamResponse:
    """``GET /chat/ws``: one visitor (see the module doc)."""
    visitors: ChatVisitors = request.app[CHAT]
    if not visitors.chat.enabled:
        raise web.HTTPNotFound(text="the chat is not enabled")
    origin = request.headers.get("Origin", "")
    if origin not in visitors.origins:
        raise web.HTTPForbidden(text="this site may not open the chat")
    address = client_address(request)  # behind a trusted proxy: the forwarded client
    if not visitors.counter.acquire(address):
        raise web.HTTPTooManyRequests(text="too many chats from this address")
    try:
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=visitors.limits.frame_bytes * 4)
        await ws.prepare(request)
        visitor = visitors.new_visitor(ws)
        visitors.sockets.add(visitor)
        sender = asyncio.ensure_future(_send_loop(visitor))
        try:
            await _read_loop(request, visitors, visitor)
        finally:
            visitors.sockets.discard(visitor)
            visitors.detach(visitor)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            await ws.close()
        return ws
    finally:
        visitors.counter.release(address)


async def _send_loop(visitor: Visitor) -> None:
    while True:
        text = await visitor.outbox.get()
        if text is None:
            await visitor.ws.close(code=1013, message=b"too far behind: resume")
            return
        try:
            await visitor.ws.send_str(text)
        except (ConnectionError, RuntimeError):
            return


async def _read_loop(request: web.Request, visitors: ChatVisitors, visitor: Visitor) -> None:
    async for msg in visitor.ws:
        if msg.type is not WSMsgType.TEXT:
            if msg.type is WSMsgType.BINARY:
                visitor.push(error_frame("bad_frame", "frames are JSON text"))
            continue
        try:
            frame = parse_frame(msg.data, visitors.limits)
        except FrameError as exc:
            visitor.push(error_frame(exc.code, str(exc), field=exc.field))
            if exc.code == "too_large":
                await asyncio.sleep(0)  # let the error frame out first
                break
            continue
        try:
            await _handle(request, visitors, visitor, frame)
        except FrameError as exc:
            visitor.push(error_frame(exc.code, str(exc), field=exc.field))
        except Conflict as exc:
            visitor.push(error_frame("ended", str(exc)))
        except NotFound as exc:
            visitor.push(error_frame("not_found", str(exc)))
        except SwitchboardError as exc:
            log.warning("chat visitor action failed", extra={"fields": {"error": exc}})
            visitor.push(error_frame("unavailable", "the service could not take that now"))


async def _handle(
    request: web.Request, visitors: ChatVisitors, visitor: Visitor, frame: ClientFrame
) -> None:
    center: ContactCenter = request.app[CENTER]
    if isinstance(frame, ClientPing):
        visitor.push({"type": "pong"})
    elif isinstance(frame, ClientStart):
        await _start(request, visitors, visitor, frame)
    elif isinstance(frame, ClientResume):
        await _resume(request, visitors, visitor, frame)
    elif not visitor.key:
        raise FrameError("not_started", "start or resume a chat first")
    elif isinstance(frame, ClientMessage):
        if not visitor.bucket.allow(visitors.clock()):
            visitor.push(
                error_frame(
                    "rate_limited",
                    "too many messages; this one was not sent",
                    client_id=frame.client_id,
                )
            )
            return
        # the widget's id makes a resend after a lost "sent" idempotent (the first
        # message's number comes back; nothing is stored or delivered twice)
        message = await center.visitor_message(visitor.key, frame.text, frame.client_id)
        visitor.push({"type": "sent", "client_id": frame.client_id, "seq": message["seq"]})
    elif isinstance(frame, ClientTyping):
        if visitor.typing.allow(visitors.clock()):
            await center.visitor_typing(visitor.key, frame.on)
    elif isinstance(frame, ClientTranscript):
        if not visitor.typing.allow(visitors.clock()):  # a mail each time: not a flood
            raise FrameError("rate_limited", "too many requests; wait a moment")
        try:
            sent = await center.visitor_transcript(visitor.key, frame.email)
        except Conflict as exc:
            raise FrameError("no_transcript", str(exc)) from None
        visitor.push(
            {"type": "transcript_sent", "email": frame.email, "message_id": sent["message_id"]}
        )
    elif isinstance(frame, ClientLeave):
        await center.visitor_leave(visitor.key)


async def _start(
    request: web.Request, visitors: ChatVisitors, visitor: Visitor, frame: ClientStart
) -> None:
    if visitor.key or visitor.opening:
        raise FrameError("already_started", "this socket has a chat already")
    chat = visitors.chat
    if not visitors.may_start(client_address(request)):
        raise FrameError("rate_limited", "too many chats started from here; wait a minute")
    if not visitors.is_open(time.time()):
        strings = catalogue.strings_for(_language(request, frame.language))
        visitor.push(
            {"type": "offline", "message": chat.offline_message or strings["chat.widget.offline"]}
        )
        return
    topic = frame.topic or (next(iter(chat.topics)) if len(chat.topics) == 1 else "")
    queue = chat.topics.get(topic)
    if queue is None:
        raise FrameError(
            "bad_field", f"topic must be one of {', '.join(sorted(chat.topics))}", field="topic"
        )
    center: ContactCenter = request.app[CENTER]
    visitor.opening = True
    visitors.opening.add(visitor)
    try:
        opened = await center.visitor_open(
            "chat",
            queue,
            {"name": frame.name, "phone": frame.phone, "email": frame.email},
            topic,
            _language(request, frame.language),
        )
    finally:
        visitors.opening.discard(visitor)
        visitor.opening = False
    key = str(opened["key"])
    visitors.attach(visitor, key)
    visitor.push({"type": "started", "conversation": key, "token": opened["token"]})
    for early in visitor.early:
        if early["key"] == key:
            visitor.push(early["event"])
    visitor.early.clear()


async def _resume(
    request: web.Request, visitors: ChatVisitors, visitor: Visitor, frame: ClientResume
) -> None:
    if visitor.key:
        raise FrameError("already_started", "this socket has a chat already")
    conversations = request.app[STORE].conversations
    if not await conversations.token_matches(frame.conversation, frame.token):
        # one answer for "no such chat" and "wrong token": a guess learns nothing
        raise FrameError("bad_token", "that chat cannot be resumed; start a new one")
    conversation = await conversations.get(frame.conversation)
    if conversation is None or conversation.get("channel") != "chat":
        raise FrameError("bad_token", "that chat cannot be resumed; start a new one")
    # attached first: a message stored while the replay is read comes twice at worst
    # (the widget keeps one per number), never not at all
    visitors.attach(visitor, frame.conversation)
    center: ContactCenter = request.app[CENTER]
    visitor.push(
        {"type": "resumed", "conversation": frame.conversation, "state": conversation.get("state")}
    )
    # page after page until caught up (a long chat missed from 0 is more than one page),
    # each frame waiting for room in the send queue rather than overflowing it
    after = frame.after_seq
    while True:
        missed = await center.conversation_messages(frame.conversation, after)
        for message in missed:
            if not await visitor.put(message_frame(message)):
                return
        if len(missed) < REPLAY_PAGE:
            break
        after = int(missed[-1]["seq"])
    if conversation.get("state") in ("ended", "closed"):
        visitor.push({"type": "ended"})


def _language(request: web.Request, asked: str) -> str:
    return catalogue.negotiate(
        asked[:2].lower() or None, request.headers.get("Accept-Language", "")
    )


# -- wiring ----------------------------------------------------------------------------


async def _visitors_ctx(app: web.Application) -> AsyncIterator[None]:
    visitors: ChatVisitors = app[CHAT]
    visitors.center, visitors.store = app[CENTER], app[STORE]
    unsubscribe = app[CENTER].subscribe(visitors.on_center_message)
    yield
    unsubscribe()
    for task in visitors.tasks:
        task.cancel()


async def _close_visitors(app: web.Application) -> None:
    """Shutdown: every visitor socket closed as going away (the widget resumes on the
    next start), so no handler holds the server's stop."""
    for visitor in list(app[CHAT].sockets):
        with contextlib.suppress(Exception):
            await visitor.ws.close(code=1001, message=b"server shutting down")


def setup(app: web.Application, settings: Settings) -> None:
    """Routes, the visitors' registry and its subscription (one line in the app)."""
    check_chat_settings(settings.chat)
    visitors = ChatVisitors(settings)
    app[CHAT] = visitors
    source = WIDGET.read_text(encoding="utf-8")
    config = json.dumps(_widget_config(settings, visitors), ensure_ascii=True)
    # "<" escaped too: the text sits inside a script a page may inline
    app[CHAT_WIDGET] = source.replace(CONFIG_MARK, config.replace("<", "\\u003c"), 1)
    app.router.add_get("/chat/widget.js", widget_js)
    app.router.add_get("/chat/ws", visitor_socket)
    app.cleanup_ctx.append(_visitors_ctx)
    app.on_shutdown.append(_close_visitors)

"""Chats and emails on the agent console: the conversation routes, their websocket
actions, and the canned responses.

Theory of operation: a conversation is a contact the digital desk (``routing.digital``)
assigned to an agent; the console reaches it only through the
:class:`~agent_console.ports.ContactCenter` port (``conversations_of``, ``conversation``,
``conversation_messages``, ``conversation_reply``, ``conversation_typing``,
``conversation_end``, ``conversation_close``). Reading follows the console's scope: an
agent reads only the conversations assigned to them, a supervisor those of their queues,
an admin all. Acting (reply, typing, end, close) is the assigned agent's alone — the desk
refuses anyone else too, but the console says so first with a 403, as it does for a
call's recording pause. The wrap-up of a conversation is the call's: ``POST
/api/contacts/{id}/wrapup`` by its contact id; the page then closes the conversation.

Every handler is thin; :class:`Conversations` holds the rules so that the JSON API and the
websocket (:data:`WS_ACTIONS`) enforce the same ones.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from aiohttp import web

from agent_console import inputs
from agent_console.actions import Console, Params, text
from agent_console.api import read_json, user_of
from agent_console.auth import ALL_ROLES, Role, User, require
from agent_console.keys import CANNED, CONSOLE, SETTINGS, STORE
from agent_console.transcripts import MESSAGES_LIMIT
from config.errors import ConfigError, InvalidInput, NotFound, PermissionDenied
from config.settings import Settings
from routing.canned_responses import CannedResponse, load_responses

log = logging.getLogger(__name__)

KEY = re.compile(r"^(chat|email):[0-9a-f]{32}$")
NEWEST = 2**31 - 1  # before_seq of a thread's newest page
REPLY_MAX = 16_000  # characters; a message body is stored up to 64 KiB of UTF-8
SUBJECT_MAX = 200
Message = dict[str, Any]


def conversation_key(value: Any, field: str = "key") -> str:
    """A conversation key (``chat:<32 hex>`` / ``email:<32 hex>``).

    Raises:
        InvalidInput: anything else.
    """
    if not isinstance(value, str) or not KEY.match(value):
        raise InvalidInput("not a conversation key (chat:… or email:…)", field=field)
    return value


class Conversations:
    """The conversation use cases over the console's center, CRM and scope."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.center: Any = console.center  # the port's conversation methods (B's desk)

    # -- reading ------------------------------------------------------------------------

    def listed(self, user: User) -> list[Message]:
        """The conversations held by agents the user may see: an agent's own; a
        supervisor's agents' in their queues; all for an admin. Waiting ones are the
        ACD's (the wallboard's counts), not listed here."""
        if user.role is Role.AGENT:
            return list(self.center.conversations_of(user.agent_id)) if user.agent_id else []
        scope = self.console.scope(user)
        out: list[Message] = []
        for agent in self.center.snapshot().get("agents", []):
            if not scope.sees_queues(agent.get("queues", [])):
                continue
            for conv in self.center.conversations_of(agent["agent_id"]):
                if scope.sees_queue(conv.get("queue")):
                    out.append(conv)
        return out

    def visible(self, user: User, key: str) -> Message:
        """The conversation ``key`` if the user may read it.

        Raises:
            InvalidInput: not a key. NotFound: no such live conversation.
            PermissionDenied: another agent's, or outside a supervisor's queues.
        """
        conv = self.center.conversation(conversation_key(key))
        if conv is None:
            raise NotFound(f"no conversation {key}")
        return self._scoped(user, key, conv)

    async def readable(self, user: User, key: str, store: Any) -> Message:
        """As :meth:`visible`, for a conversation the desk may no longer hold (closed
        long ago: read from the store, the same rule on its last agent and queue)."""
        conv = self.center.conversation(conversation_key(key))
        if conv is None and store is not None:
            conv = await store.conversations.get(key)
        if conv is None:
            raise NotFound(f"no conversation {key}")
        return self._scoped(user, key, conv)

    def _scoped(self, user: User, key: str, conv: Message) -> Message:
        if user.role is Role.AGENT:
            if not user.agent_id or conv.get("agent_id") != user.agent_id:
                raise PermissionDenied("agents read only their own conversations")
        elif user.role is Role.SUPERVISOR and not self.console.scope(user).sees_queue(
            conv.get("queue")
        ):
            raise PermissionDenied(f"conversation {key} is not in your queues")
        return dict(conv)

    async def detail(
        self, user: User, key: str, after_seq: int | None = None, before_seq: int | None = None
    ) -> Message:
        """``{"conversation", "messages", "more_before", "card"}``: what a tab needs after
        a reload. With ``after_seq`` the messages after it (oldest first, a catch-up);
        otherwise the newest page, below ``before_seq`` if given (the agent scrolling
        back). ``more_before``: earlier messages than the first one returned exist."""
        conv = self.visible(user, key)
        if after_seq is not None:
            messages = list(await self.center.conversation_messages(key, after_seq))
        else:
            below = before_seq if before_seq is not None else NEWEST
            messages = list(await self.center.conversation_messages(key, 0, below))
        messages = messages[:MESSAGES_LIMIT]
        return {
            "conversation": conv,
            "messages": messages,
            # numbered from 1 without gaps: a first number above 1 has earlier ones
            "more_before": bool(messages) and int(messages[0]["seq"]) > 1,
            "card": await self.card(conv),
        }

    async def card(self, conv: Message) -> Message:
        """The customer card of a conversation: the known customer's, else the one of
        its phone number, else a "new" card naming the party as they gave themselves."""
        crm = self.console.crm
        party = conv.get("party") or {}
        if conv.get("customer_id") is not None:
            try:
                return await crm.card_for_customer(str(conv["customer_id"]))
            except NotFound:
                pass  # merged or deleted meanwhile: the party's own details below
        if party.get("phone"):
            card = await crm.card_for_phone(str(party["phone"]))
            if not card.get("new_caller"):
                return card
        return {
            "customer_id": None,
            "name": party.get("name") or "",
            "phone": party.get("phone") or "",
            "email": party.get("email") or "",
            "company": "",
            "tier": "",
            "vip": False,
            "open_cases": [],
            "recent_contacts": [],
            "new_caller": True,
            "source": "local",
        }

    # -- acting -------------------------------------------------------------------------

    def _own(self, user: User, key: str) -> Message:
        conv = self.visible(user, key)
        if not user.agent_id or conv.get("agent_id") != user.agent_id:
            raise PermissionDenied("only the agent assigned to the conversation may act on it")
        return conv

    async def reply(self, user: User, key: str, params: Params) -> Message:
        """``{"text"}`` -> the stored message (Message JSON)."""
        body = text(params, "text", max_len=REPLY_MAX, multiline=True)
        if not body.strip():
            raise InvalidInput("text is required", field="text")
        self._own(user, key)
        message: Message = await self.center.conversation_reply(user.agent_id, key, body)
        return message

    async def typing(self, user: User, key: str, params: Params) -> Message:
        """``{"on": bool}``: the agent is (or stopped) typing; not stored."""
        on = params.get("on")
        if not isinstance(on, bool):
            raise InvalidInput("on must be true or false", field="on")
        self._own(user, key)
        await self.center.conversation_typing(user.agent_id, key, on)
        return {"conversation": key, "on": on}

    async def end(self, user: User, key: str) -> Message:
        """The agent ends the conversation; its wrap-up (by contact id) follows."""
        conv = self._own(user, key)
        await self.center.conversation_end(user.agent_id, key)
        return {"conversation": key, "state": "ended", "contact_id": conv.get("contact_id")}

    async def close(self, user: User, key: str) -> Message:
        """The wrap-up is saved: the ACD frees the agent's slot."""
        self._own(user, key)
        await self.center.conversation_close(user.agent_id, key)
        return {"conversation": key, "state": "closed"}


# -- canned responses -----------------------------------------------------------------


def load_canned(settings: Settings) -> tuple[CannedResponse, ...]:
    """The responses of ``[console] canned_responses_file``.

    Raises:
        ConfigError: the file is missing or wrong (the message says where and what).
    """
    path = settings.path(settings.console.canned_responses_file)
    try:
        return load_responses(path)
    except InvalidInput as exc:
        raise ConfigError("settings", "console.canned_responses_file", str(exc)) from None


@require()
async def canned_responses(request: web.Request) -> web.Response:
    """``GET /api/canned-responses`` -> ``{"responses": [CannedResponse]}`` (any user)."""
    return web.json_response({"responses": [r.to_json() for r in request.app[CANNED]]})


# -- handlers -------------------------------------------------------------------------


def _conversations(request: web.Request) -> Conversations:
    return Conversations(request.app[CONSOLE])


@require()
async def list_conversations(request: web.Request) -> web.Response:
    """``GET /api/conversations`` -> ``{"conversations": [Conversation]}``."""
    return web.json_response({"conversations": _conversations(request).listed(user_of(request))})


@require()
async def get_conversation(request: web.Request) -> web.Response:
    """``GET /api/conversations/{key}[?after_seq=N | ?before_seq=N]`` -> conversation,
    messages (the newest 500, those below before_seq, or those after after_seq),
    more_before, card."""
    after = request.query.get("after_seq")
    before = request.query.get("before_seq")
    if after is not None and before is not None:
        raise InvalidInput("after_seq or before_seq, not both", field="before_seq")
    result = await _conversations(request).detail(
        user_of(request),
        request.match_info["key"],
        inputs.whole_number(after, "after_seq", maximum=NEWEST) if after is not None else None,
        inputs.whole_number(before, "before_seq", minimum=1, maximum=NEWEST)
        if before is not None
        else None,
    )
    return web.json_response(result)


#: attachment types served as themselves; anything else (HTML, SVG, XML, scripts: what a
#: browser could run on our origin) is application/octet-stream
SAFE_TYPES = frozenset(
    {
        "application/pdf",
        "application/zip",
        "application/gzip",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "audio/mpeg",
        "audio/wav",
        "video/mp4",
        "text/plain",
        "text/csv",
    }
)


def safe_content_type(declared: str) -> str:
    """The type an attachment is served as: the sender's own only if it is one of
    :data:`SAFE_TYPES` (text as UTF-8), else application/octet-stream."""
    kind = declared.split(";", 1)[0].strip().lower()
    if kind not in SAFE_TYPES:
        return "application/octet-stream"
    return f"{kind}; charset=utf-8" if kind.startswith("text/") else kind


def content_disposition(filename: str) -> str:
    """``attachment`` with the name twice (RFC 6266): an ASCII fallback for old clients
    (anything else, quotes and backslashes as ``_``) and the exact name as ``filename*``
    (RFC 5987, UTF-8, percent-encoded)."""
    fallback = (
        "".join(c if 32 <= ord(c) < 127 and c not in '"\\%<>/;' else "_" for c in filename)
        or "attachment"
    )
    exact = quote(filename, safe="!#$&+-.^_`|~") or "attachment"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{exact}"


@require()
async def get_attachment(request: web.Request) -> web.Response:
    """``GET /api/conversations/{key}/attachments/{id}``: one attachment of an email in
    the conversation, under the conversation's read scope (an agent: their own; a
    supervisor: their queues; an admin: all), always downloaded, never rendered."""
    key = conversation_key(request.match_info["key"])
    attachment_id = inputs.int_id(request.match_info["id"], "attachment id")
    store = request.app[STORE]
    await _conversations(request).readable(user_of(request), key, store)
    kept = [a for a in await store.mail.attachments_of(key) if a.id == attachment_id]
    if not kept:
        raise NotFound(f"no attachment {attachment_id} in this conversation")
    settings: Settings = request.app[SETTINGS]
    root = settings.path(settings.email.attachments_dir)
    try:
        meta, data = await store.mail.read_attachment(root, attachment_id)
    except OSError:
        log.error("attachment file missing", extra={"fields": {"id": attachment_id, "key": key}})
        raise NotFound(f"attachment {attachment_id} is not on the disk") from None
    response = web.Response(body=data)
    # set on the headers, not as content_type=: aiohttp would add its own charset
    response.headers["Content-Type"] = safe_content_type(meta.content_type)
    response.headers["Content-Disposition"] = content_disposition(meta.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@require()
async def post_message(request: web.Request) -> web.Response:
    """``POST /api/conversations/{key}/messages`` ``{"text"}`` -> 201 Message."""
    body = await read_json(request)
    result = await _conversations(request).reply(user_of(request), request.match_info["key"], body)
    return web.json_response(result, status=201)


@require()
async def post_typing(request: web.Request) -> web.Response:
    """``POST /api/conversations/{key}/typing`` ``{"on": bool}``."""
    body = await read_json(request)
    result = await _conversations(request).typing(user_of(request), request.match_info["key"], body)
    return web.json_response(result)


@require()
async def post_end(request: web.Request) -> web.Response:
    """``POST /api/conversations/{key}/end``."""
    result = await _conversations(request).end(user_of(request), request.match_info["key"])
    return web.json_response(result)


@require()
async def post_close(request: web.Request) -> web.Response:
    """``POST /api/conversations/{key}/close``."""
    result = await _conversations(request).close(user_of(request), request.match_info["key"])
    return web.json_response(result)


def setup(app: web.Application, settings: Settings) -> None:
    """Load the canned responses (a wrong file stops start-up) and add the routes."""
    app[CANNED] = list(load_canned(settings))
    r = app.router
    r.add_get("/api/canned-responses", canned_responses)
    r.add_get("/api/conversations", list_conversations)
    r.add_get("/api/conversations/{key}", get_conversation)
    r.add_get("/api/conversations/{key}/attachments/{id}", get_attachment)
    r.add_post("/api/conversations/{key}/messages", post_message)
    r.add_post("/api/conversations/{key}/typing", post_typing)
    r.add_post("/api/conversations/{key}/end", post_end)
    r.add_post("/api/conversations/{key}/close", post_close)


# -- the same actions over the console websocket ----------------------------------------

WsAction = Callable[[Console, User, Params], Awaitable[Message]]


def _key(params: Params) -> str:
    return conversation_key(params.get("conversation"), "conversation")


WS_ACTIONS: dict[str, tuple[frozenset[Role], WsAction]] = {
    "conversation_reply": (
        ALL_ROLES,
        lambda c, u, p: Conversations(c).reply(u, _key(p), p),
    ),
    "conversation_typing": (
        ALL_ROLES,
        lambda c, u, p: Conversations(c).typing(u, _key(p), p),
    ),
    "conversation_end": (ALL_ROLES, lambda c, u, p: Conversations(c).end(u, _key(p))),
    "conversation_close": (ALL_ROLES, lambda c, u, p: Conversations(c).close(u, _key(p))),
}

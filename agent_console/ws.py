"""``GET /ws``: the live channel to agent consoles and wallboards.

Theory of operation: the :class:`Hub` subscribes once to the contact center. Each
published message is serialised once and offered to every client whose scope may see it;
a screen pop goes straight to the sockets of its one agent through an index, so its cost
does not grow with the number of connected consoles. Every client has its own bounded
queue drained by its own sender task: a slow or stuck browser only fills its own queue,
and when that overflows the hub closes it (code 1013, "try again later") — the page
reconnects and starts again from a fresh snapshot, so nothing is silently lost. The first
message on every connection is the snapshot; it is queued in the same synchronous step
that registers the client, so no delta can slip in between. Inbound messages are
validated and role-checked one by one; a bad one is answered with ``{"type": "error"}``
and the socket stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections.abc import Coroutine
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from agent_console import inputs
from agent_console.actions import WS_ACTIONS, Console, Scope
from agent_console.api import error_code
from agent_console.auth import Auth, NotAuthenticated, Role, Session
from agent_console.metrics import Metrics
from agent_console.ports import ContactCenter, Message
from config.errors import InvalidInput, PermissionDenied, SwitchboardError

log = logging.getLogger(__name__)

HEARTBEAT = 20.0
MAX_PENDING = 256
MAX_INBOUND = 16 * 1024
MAX_IN_FLIGHT = 8
TRY_AGAIN_LATER = 1013
SESSION_SWEEP = 5.0  # seconds between checks of open sockets' sessions against the store


def _dumps(message: Message) -> str:
    return json.dumps(message, separators=(",", ":"), default=str)


class Client:
    """One connected websocket: its scope, its bounded queue and its sender task."""

    __slots__ = ("__weakref__", "pending", "queue", "scope", "sender", "session", "ws")

    def __init__(self, ws: web.WebSocketResponse, session: Session, scope: Scope) -> None:
        self.ws = ws
        self.session = session
        self.scope = scope
        self.queue: asyncio.Queue[str] = asyncio.Queue(MAX_PENDING)
        self.sender: asyncio.Task[None] | None = None
        self.pending: set[asyncio.Task[Any]] = set()


class Hub:
    """Fan-out of center messages to websockets, and the websocket request handler."""

    def __init__(self, console: Console, auth: Auth, metrics: Metrics, public_origin: str) -> None:
        self.console = console
        self.auth = auth
        self.metrics = metrics
        self.public_origin = public_origin.rstrip("/")
        self.clients: set[Client] = set()
        self.by_agent: dict[str, set[Client]] = {}
        self.watchers: set[Client] = set()  # supervisors and admins
        self.sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
        self._unsubscribe: Any = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.session_sweep = SESSION_SWEEP
        self._sweeper: asyncio.Task[None] | None = None

    # -- center side --------------------------------------------------------------------

    def attach(self, center: ContactCenter) -> None:
        self._unsubscribe = center.subscribe(self.publish)
        if self.auth.persist is not None:
            self._sweeper = self._spawn(self._sweep_sessions())

    def detach(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None

    def publish(self, message: Message) -> None:
        """The center's listener: never raises, never blocks."""
        try:
            kind = message.get("type", "")
            if kind == "visitor_event":
                # A chat visitor's frames (routing.digital) ride the center's listeners
                # to the visitor's socket; no console, not even an admin's, gets them.
                return
            data = _dumps(message)
            agent_id = message.get("agent_id") or ""
            if kind == "screen_pop":
                targets: Any = self.by_agent.get(agent_id, ())
                self.metrics.screen_pops.inc()
            else:
                # Agents see only their own agent's messages, so they are found through
                # the index; only the (few) wallboards are filtered one by one.
                targets = [c for c in self.watchers if self.console.visible(c.scope, message)]
                targets += [
                    c for c in self.by_agent.get(agent_id, ()) if c.session.user.role is Role.AGENT
                ]
            for client in list(targets):
                self._offer(client, data)
        except Exception:  # a bad message must not break the center's event loop
            log.exception("could not publish a console message")

    def _offer(self, client: Client, data: str) -> None:
        try:
            client.queue.put_nowait(data)
        except asyncio.QueueFull:
            self.metrics.ws_dropped.inc()
            log.warning(
                "console too slow; closing it so it resyncs",
                extra={"fields": {"user": client.session.user.username}},
            )
            self._unregister(client)
            self._spawn(client.ws.close(code=TRY_AGAIN_LATER, message=b"too slow; reconnect"))

    def resync_all(self) -> None:
        """Send every console a fresh snapshot: the picture behind it was replaced (a
        cluster node changed role or re-read the leader's state), and deltas alone would
        leave stale rows. Consoles take a ``snapshot`` message at any time."""
        for client in list(self.clients):
            try:
                # The scope too: a supervisor's queues come from the center, and a node
                # that had no picture yet gave an empty one.
                client.scope = self.console.scope(client.session.user)
                self._offer(client, _dumps(self.console.snapshot_for(client.scope)))
            except Exception:
                log.exception("could not resync a console")

    def close_session(self, token: str) -> None:
        """Close every socket of a session that just logged out."""
        for client in [c for c in self.clients if c.session.token == token]:
            self._unregister(client)
            self._spawn(client.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"logged out"))

    def close_user(self, username: str) -> None:
        """Close every socket of a user who was disabled, deleted or given a new password."""
        name = username.lower()
        self._end([c for c in self.clients if c.session.user.username.lower() == name])

    def _end(self, clients: list[Client]) -> None:
        for client in clients:
            self._unregister(client)
            self._spawn(
                client.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"session ended")
            )

    async def _sweep_sessions(self) -> None:
        """Every ``session_sweep`` seconds, close the sockets of sessions the store no
        longer backs: users changed by the CLI (another process), sessions expired."""
        while True:
            await asyncio.sleep(self.session_sweep)
            try:
                tokens = {c.session.token for c in self.clients}
                ended = set(await self.auth.ended_among(tokens))
                self._end([c for c in self.clients if c.session.token in ended])
            except Exception:  # a database hiccup must not end the sweep
                log.exception("could not check the console sessions")

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """A background task the hub keeps a reference to until it ends."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _register(self, client: Client) -> None:
        self.clients.add(client)
        if client.session.user.role is not Role.AGENT:
            self.watchers.add(client)
        agent_id = client.session.user.agent_id
        if agent_id:
            self.by_agent.setdefault(agent_id, set()).add(client)
        self.metrics.ws_clients.set(len(self.clients))

    def _unregister(self, client: Client) -> None:
        self.clients.discard(client)
        self.watchers.discard(client)
        agent_id = client.session.user.agent_id
        if agent_id and agent_id in self.by_agent:
            self.by_agent[agent_id].discard(client)
            if not self.by_agent[agent_id]:
                del self.by_agent[agent_id]
        if client.sender is not None and client.sender is not asyncio.current_task():
            client.sender.cancel()
        self.metrics.ws_clients.set(len(self.clients))

    async def shutdown(self) -> None:
        self.detach()
        for ws in list(self.sockets):
            with contextlib.suppress(Exception):
                await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")

    # -- socket side --------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """``GET /ws``. 401 without a session, 403 from a foreign Origin."""
        session = await self.auth.restore(request)
        if session is None:
            raise NotAuthenticated("log in first")
        origin = request.headers.get("Origin", "").rstrip("/")
        if origin != self.public_origin:
            raise PermissionDenied("websocket Origin not allowed")
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=MAX_INBOUND)
        await ws.prepare(request)
        self.sockets.add(ws)
        client = Client(ws, session, self.console.scope(session.user))
        try:
            client.queue.put_nowait(_dumps(self.console.snapshot_for(client.scope)))
            self._register(client)
            client.sender = asyncio.get_running_loop().create_task(self._send_loop(client))
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    # Actions may wait on Asterisk; run them beside the read loop so
                    # pings, pongs and the next messages keep flowing.
                    if len(client.pending) >= MAX_IN_FLIGHT:
                        self._reply(
                            client, _error(None, InvalidInput("too many requests in flight"))
                        )
                        continue
                    task = self._spawn(self._inbound(client, msg.data))
                    client.pending.add(task)
                    task.add_done_callback(client.pending.discard)
                elif msg.type is WSMsgType.BINARY:
                    self._reply(client, _error(None, InvalidInput("send JSON text frames")))
                elif msg.type is WSMsgType.ERROR:
                    break
        finally:
            self._unregister(client)
            if client.sender is not None:
                client.sender.cancel()
            for task in list(client.pending):
                task.cancel()
            self.sockets.discard(ws)
        return ws

    async def _send_loop(self, client: Client) -> None:
        ws = client.ws
        try:
            while not ws.closed:
                data = await client.queue.get()
                await ws.send_str(data)
        except (ConnectionError, RuntimeError):
            pass  # the socket went away; the read loop's finally cleans up

    def _reply(self, client: Client, message: Message) -> None:
        if client in self.clients:
            self._offer(client, _dumps(message))

    async def _inbound(self, client: Client, raw: str) -> None:
        request_id: Any = None
        try:
            message = inputs.decode_json(raw, max_bytes=MAX_INBOUND, what="message")
            if not isinstance(message, dict):
                raise InvalidInput("a message must be a JSON object")
            request_id = message.get("id")
            if request_id is not None and not isinstance(request_id, str | int):
                request_id = None
                raise InvalidInput("id must be a string or a number", field="id")
            kind = message.get("type")
            if not isinstance(kind, str):
                raise InvalidInput("type is required", field="type")
            session = self.auth.sessions.get(client.session.token)
            if session is None or session.expires <= self.auth.clock():
                self._reply(client, _error(request_id, NotAuthenticated("session ended")))
                await client.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"session ended")
                return
            if kind == "ping":
                self._reply(client, {"type": "pong", "id": request_id})
                return
            if kind == "resync":
                client.scope = self.console.scope(session.user)
                self._reply(client, self.console.snapshot_for(client.scope))
                return
            entry = WS_ACTIONS.get(kind)
            if entry is None:
                raise InvalidInput(f"unknown message type {kind[:40]!r}", field="type")
            roles, action = entry
            if session.user.role not in roles:
                raise PermissionDenied(f"role {session.user.role.value} may not {kind}")
            result = await action(self.console, session.user, message)
            self._reply(client, {"type": "ack", "id": request_id, "action": kind, "result": result})
        except SwitchboardError as exc:
            self._reply(client, _error(request_id, exc))
        except Exception:  # every message gets an answer; a bug must not end in silence
            log.exception("websocket message failed", extra={"fields": {"id": str(request_id)}})
            self._reply(
                client,
                {
                    "type": "error",
                    "id": request_id,
                    "error": "internal_error",
                    "message": "internal error",
                },
            )


def _error(request_id: Any, exc: SwitchboardError) -> Message:
    body: Message = {"type": "error", "id": request_id, "error": error_code(exc)[1]}
    body["message"] = str(exc)
    field = getattr(exc, "field", None)
    if field:
        body["field"] = field
    return body

"""Asyncio AMI client: a socket, timers and reconnection around :class:`AmiProtocol`.

Theory of operation: one reader task owns the socket. It feeds every read to a fresh
:class:`AmiProtocol` per connection and dispatches what comes out: events go to the
subscribers (synchronously, in arrival order), completed actions resolve their futures.
When the connection drops, every pending action fails with :class:`ConnectionLost` and is
forgotten: an ``Originate`` is never sent twice. If ``reconnect`` is on, a supervisor task
reconnects with exponential backoff and jitter, logs in again and awaits the ``on_connect``
hooks (the service resynchronises its channels there). ``FullyBooted`` is tracked as its
own flag because after an Asterisk restart it can arrive well after the login response.
A ping task sends ``Ping`` every ``ping_interval`` and drops the connection when no answer
comes within ``ping_timeout``, so a dead peer is noticed even when no events flow.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Literal

from config.errors import (
    ActionFailed,
    AuthenticationFailed,
    ConnectionLost,
    RemoteProtocolError,
)
from telephony.ami.events import Event, FullyBooted, Shutdown
from telephony.ami.messages import Action
from telephony.ami.protocol import (
    DEFAULT_MAX_MESSAGE_BYTES,
    ActionDone,
    AmiProtocol,
    Banner,
    ListResponse,
    Response,
    UnmatchedResponse,
)

__all__ = ["AmiClient", "backoff_delay"]

log = logging.getLogger(__name__)

EventCallback = Callable[[Event], None]
ConnectHook = Callable[[], Awaitable[None]]
DisconnectHook = Callable[[], None]
_READ_SIZE = 1 << 16


def backoff_delay(attempt: int, low: float, high: float, rand: Callable[[], float]) -> float:
    """Delay before reconnect ``attempt`` (0-based): doubling from ``low`` up to ``high``,
    then scaled into [50 %, 100 %] by ``rand()`` so many clients do not reconnect in step."""
    base = min(high, low * float(2 ** min(attempt, 30)))
    return base * (0.5 + 0.5 * rand())


class AmiClient:
    """Connection to one Asterisk manager interface.

    Args:
        host, port: where AMI listens.
        username, secret: login credentials; ``username=None`` skips the login.
        auth: ``"md5"`` (Challenge/Key, the secret never crosses the wire) or ``"plain"``.
        ping_interval, ping_timeout: keep-alive period and deadline (seconds; 0 disables).
        connect_timeout: for the TCP connect, the banner and the login.
        reconnect: reconnect after a drop; reconnect_min/max bound the backoff (seconds).
        max_message_bytes: larger messages are a protocol error (the connection drops).
        events: the login's ``Events`` value (``"on"``, ``"off"``, or a class mask).
        rand: random source for the jitter (injected by tests).
    """

    def __init__(
        self,
        host: str,
        port: int,
        username: str | None = None,
        secret: str | None = None,
        *,
        auth: Literal["md5", "plain"] = "md5",
        ping_interval: float = 20.0,
        ping_timeout: float = 5.0,
        connect_timeout: float = 5.0,
        reconnect: bool = True,
        reconnect_min: float = 0.5,
        reconnect_max: float = 30.0,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        events: str = "on",
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.host, self.port = host, port
        self.username, self._secret = username, secret
        self.auth = auth
        self.ping_interval, self.ping_timeout = ping_interval, ping_timeout
        self.connect_timeout = connect_timeout
        self.reconnect = reconnect
        self.reconnect_min, self.reconnect_max = reconnect_min, reconnect_max
        self.max_message_bytes = max_message_bytes
        self.events = events
        self._rand = rand
        self._subscribers: list[EventCallback] = []
        self._connect_hooks: list[ConnectHook] = []
        self._disconnect_hooks: list[DisconnectHook] = []
        self._protocol: AmiProtocol | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._ping_task: asyncio.Task[None] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._futures: dict[str, asyncio.Future[Response | ListResponse]] = {}
        self._anonymous: list[asyncio.Future[Response | ListResponse]] = []
        self._lost: asyncio.Event = asyncio.Event()
        self._banner: asyncio.Future[Banner] | None = None
        self._closing = False
        self._logged_in = False
        self.banner: Banner | None = None
        self.fully_booted = False
        self._booted = asyncio.Event()
        self.connections = 0

    # -- public API ------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while a connection is up and logged in (or login was skipped)."""
        return self._logged_in and self._writer is not None and not self._lost.is_set()

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback(event)`` for every event, in arrival order. Returns unsubscribe."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    def on_connect(self, hook: ConnectHook) -> Callable[[], None]:
        """Await ``hook()`` after every (re)connect and login. Returns a remover."""
        self._connect_hooks.append(hook)
        return lambda: self._connect_hooks.remove(hook) if hook in self._connect_hooks else None

    def on_disconnect(self, hook: DisconnectHook) -> Callable[[], None]:
        """Call ``hook()`` when a connection drops (after pending actions failed)."""
        self._disconnect_hooks.append(hook)
        return lambda: (
            self._disconnect_hooks.remove(hook) if hook in self._disconnect_hooks else None
        )

    async def connect(self) -> None:
        """Connect, read the banner, log in, run the on_connect hooks.

        With ``reconnect`` on, later drops are repaired in the background; this first
        connection is not retried, so a wrong address or secret is reported at once.

        Raises:
            ConnectionLost: the TCP connection or the banner failed / timed out.
            AuthenticationFailed: Asterisk refused the login.
        """
        if self._closing:
            raise ConnectionLost("client is closed")
        if self._writer is not None:
            return  # already connected (or connecting): never open a second session
        await self._open()
        if self.reconnect and self._supervisor is None:
            self._supervisor = asyncio.create_task(self._supervise(), name="ami-supervisor")

    async def send(
        self,
        action: Action,
        timeout: float | None = 10.0,  # noqa: ASYNC109 - contract in docs/ARCHITECTURE.md
    ) -> Response | ListResponse:
        """Send ``action`` and wait for its response (or its whole list).

        Raises:
            LocalProtocolError: the action cannot be serialised (CR/LF); nothing was sent.
            ActionFailed: Asterisk answered ``Response: Error``.
            ConnectionLost: not connected, or the connection dropped while waiting;
                the action is not re-sent.
            TimeoutError: no complete answer within ``timeout`` seconds.
        """
        return await self._send(action, timeout, require_login=True)

    async def wait_fully_booted(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Wait until Asterisk reported ``FullyBooted`` on the current connection."""
        await asyncio.wait_for(self._booted.wait(), timeout)

    async def close(self) -> None:
        """Log off (best effort), stop reconnecting, close the socket; idempotent."""
        self._closing = True
        tasks = [t for t in (self._supervisor, self._ping_task) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.connected:
            with contextlib.suppress(Exception):
                await self._send(Action("Logoff"), 1.0, require_login=False)
        self._drop("client closed")
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader_task
            self._reader_task = None

    # -- connection lifecycle --------------------------------------------------------

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        self._lost = asyncio.Event()
        self._logged_in = False
        self.fully_booted = False
        self._booted.clear()
        self._protocol = AmiProtocol(max_message_bytes=self.max_message_bytes)
        self._banner = loop.create_future()
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.connect_timeout
            )
        except (OSError, TimeoutError) as exc:
            raise ConnectionLost(f"AMI connect to {self.host}:{self.port} failed: {exc}") from exc
        self._writer = writer
        self._reader_task = asyncio.create_task(self._read_loop(reader), name="ami-reader")
        try:
            self.banner = await asyncio.wait_for(asyncio.shield(self._banner), self.connect_timeout)
            if self.username is not None:
                await self._login()
        except BaseException:
            self._drop("login failed")
            raise
        self._logged_in = True
        self.connections += 1
        log.info("AMI connected to %s:%s (%s)", self.host, self.port, self.banner.text)
        if self.ping_interval > 0:
            if self._ping_task is not None:
                self._ping_task.cancel()
            self._ping_task = asyncio.create_task(self._ping_loop(), name="ami-ping")
        for hook in list(self._connect_hooks):
            try:
                await hook()
            except Exception:
                log.exception("AMI on_connect hook failed")

    async def _login(self) -> None:
        assert self.username is not None
        secret = self._secret or ""
        fields: dict[str, str] = {"Username": self.username, "Events": self.events}
        timeout = self.connect_timeout
        try:
            if self.auth == "md5":
                challenge = await self._send(
                    Action("Challenge", {"AuthType": "md5"}), timeout, require_login=False
                )
                key = hashlib.md5(
                    (challenge.get("Challenge") + secret).encode(), usedforsecurity=False
                ).hexdigest()
                fields = {"AuthType": "md5", **fields, "Key": key}
            else:
                fields["Secret"] = secret
            # Asterisk answers a bad login about 1 s late: allow for it.
            await self._send(Action("Login", fields), timeout + 2.0, require_login=False)
        except ActionFailed as exc:
            reason = exc.response.get("Message", "") if exc.response else ""
            raise AuthenticationFailed(
                f"AMI login as {self.username!r} refused: {reason or exc}"
            ) from exc
        except (ConnectionLost, TimeoutError) as exc:
            raise AuthenticationFailed(
                f"AMI login as {self.username!r} failed: connection closed or timed out"
            ) from exc

    async def _supervise(self) -> None:
        """Reconnect forever (until close) after each drop."""
        while not self._closing:
            await self._lost.wait()
            if self._closing:
                return
            attempt = 0
            while not self._closing:
                delay = backoff_delay(attempt, self.reconnect_min, self.reconnect_max, self._rand)
                await asyncio.sleep(delay)
                attempt += 1
                try:
                    await self._open()
                    break
                except (ConnectionLost, AuthenticationFailed, RemoteProtocolError) as exc:
                    log.warning("AMI reconnect attempt %d failed: %s", attempt, exc)

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        protocol = self._protocol
        assert protocol is not None
        reason = "connection closed by Asterisk"
        try:
            while True:
                data = await reader.read(_READ_SIZE)
                if not data:
                    break
                protocol.receive_data(data)
                self._dispatch(protocol)
        except RemoteProtocolError as exc:
            reason = str(exc)
            log.error("%s; dropping the connection", exc)
            self._dispatch(protocol)
        except OSError as exc:
            reason = f"connection error: {exc}"
        finally:
            if self._protocol is protocol:
                self._drop(reason)

    def _dispatch(self, protocol: AmiProtocol) -> None:
        for item in protocol.events_received():
            if isinstance(item, Event):
                if isinstance(item, FullyBooted):
                    self.fully_booted = True
                    self._booted.set()
                elif isinstance(item, Shutdown):
                    log.warning("Asterisk is shutting down (restart=%s)", item.restart)
                    self.fully_booted = False
                    self._booted.clear()
                for callback in list(self._subscribers):
                    try:
                        callback(item)
                    except Exception:
                        log.exception("AMI event subscriber failed on %s", item.name)
            elif isinstance(item, ActionDone):
                fut = (
                    self._futures.pop(item.action_id, None)
                    if item.action_id
                    else (self._anonymous.pop(0) if self._anonymous else None)
                )
                if fut is not None and not fut.done():
                    fut.set_result(item.result)
            elif isinstance(item, Banner):
                if self._banner is not None and not self._banner.done():
                    self._banner.set_result(item)
            elif isinstance(item, UnmatchedResponse):
                log.debug("AMI response for no pending action: %s", item.message.as_dict())

    def _drop(self, reason: str) -> None:
        """Tear the current connection down and fail everything that waits on it."""
        writer, self._writer = self._writer, None
        protocol, self._protocol = self._protocol, None
        was_up = self._logged_in
        self._logged_in = False
        if writer is not None:
            writer.close()
        if self._ping_task is not None and self._ping_task is not asyncio.current_task():
            self._ping_task.cancel()
            self._ping_task = None
        if protocol is not None:
            protocol.connection_lost()
        error = ConnectionLost(f"AMI connection lost: {reason}")
        futures = list(self._futures.values()) + self._anonymous
        self._futures.clear()
        self._anonymous = []
        for fut in futures:
            if not fut.done():
                fut.set_exception(error)
        if self._banner is not None and not self._banner.done():
            self._banner.set_exception(error)
        self.fully_booted = False
        self._booted.clear()
        if writer is not None or protocol is not None:
            if was_up and not self._closing:
                log.warning("AMI connection to %s:%s lost: %s", self.host, self.port, reason)
            for hook in list(self._disconnect_hooks):
                try:
                    hook()
                except Exception:
                    log.exception("AMI on_disconnect hook failed")
        self._lost.set()

    # -- actions ---------------------------------------------------------------------

    async def _send(
        self,
        action: Action,
        timeout: float | None,  # noqa: ASYNC109 - one deadline for write + answer
        *,
        require_login: bool,
    ) -> Response | ListResponse:
        protocol, writer = self._protocol, self._writer
        if protocol is None or writer is None or (require_login and not self._logged_in):
            raise ConnectionLost(f"AMI not connected; {action.name} not sent")
        anonymous = action.action_id == ""
        fut: asyncio.Future[Response | ListResponse] = asyncio.get_running_loop().create_future()
        if anonymous:
            protocol.send_action(action, with_action_id=False)
            self._anonymous.append(fut)
            action_id = ""
        else:
            action_id = protocol.send_action(action)  # raises before anything is written
            self._futures[action_id] = fut
        try:
            writer.write(protocol.data_to_send())
        except (OSError, RuntimeError) as exc:
            self._drop(f"write failed: {exc}")
        try:
            result = await asyncio.wait_for(asyncio.shield(fut), timeout)
        except TimeoutError:
            self._futures.pop(action_id, None)
            if self._protocol is protocol and action_id:
                protocol.cancel(action_id)
            raise TimeoutError(f"AMI {action.name} got no answer within {timeout} s") from None
        if not result.success:
            message = result.response if isinstance(result, ListResponse) else result.message
            raise ActionFailed(
                f"AMI {action.name} failed: {message.get('Message') or message.response}",
                message.as_dict(),
            )
        return result

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            try:
                await self._send(Action("Ping"), self.ping_timeout, require_login=True)
            except TimeoutError:
                log.warning("AMI ping unanswered within %s s; reconnecting", self.ping_timeout)
                self._ping_task = None
                self._drop("ping timeout")
                return
            except (ConnectionLost, ActionFailed):
                return

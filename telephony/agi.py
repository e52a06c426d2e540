"""AsyncAGI over the AMI connection: one :class:`AgiSession` per channel in ``AGI(agi:async)``.

Theory of operation: the :class:`AgiDispatcher` subscribes to the client's events. An
``AsyncAGIStart`` opens a session and runs the handler on it as a task. A command is an
``Action: AGI`` with a ``CommandID`` we choose; Asterisk answers the action at once
("Added AGI command to queue") and reports the real outcome later in ``AsyncAGIExec``,
which echoes our id as ``CommandId``. Its ``Result`` is parsed by the pure
:func:`parse_agi_result` (510/511/520 raise). ``HangupRequest``/``SoftHangupRequest`` mark the
session: a ``result=-1`` after that is a hangup (:class:`ChannelHungUp`), while a ``-1``
without one is an ordinary failure (``Dial`` returns -1 after a bridged call ends and the
caller stays in AGI). ``AsyncAGIEnd`` or ``Hangup`` ends the session and fails whatever
still waits with ``ChannelHungUp``; a lost AMI connection fails it with ``ConnectionLost``.
A new ``AsyncAGIStart`` for the same uniqueid (a Redirect back into AGI) opens a new session.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from config.errors import ActionFailed, AgiError, ChannelHungUp, ConnectionLost
from telephony.ami.agi import (
    DTMF_SYMBOLS,
    AgiDeadChannel,
    AgiEnv,
    AgiResult,
    agi_quote,
    check_digits,
    parse_agi_result,
)
from telephony.ami.events import (
    AsyncAGIEnd,
    AsyncAGIExec,
    AsyncAGIStart,
    Event,
    Hangup,
    HangupRequest,
    SoftHangupRequest,
)
from telephony.ami.messages import Action
from telephony.ami.protocol import ListResponse, Response

__all__ = [
    "AgiDeadChannel",
    "AgiDispatcher",
    "AgiEnv",
    "AgiResult",
    "AgiSession",
    "parse_agi_result",
]

log = logging.getLogger(__name__)
_command_ids = itertools.count(1)


class AmiPort(Protocol):
    """What the AGI layer needs from :class:`telephony.ami.AmiClient`."""

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]: ...

    def on_disconnect(self, hook: Callable[[], None]) -> Callable[[], None]: ...

    async def send(
        self,
        action: Action,
        timeout: float | None = 10.0,  # noqa: ASYNC109 - mirrors AmiClient.send
    ) -> Response | ListResponse: ...


Handler = Callable[["AgiSession"], Awaitable[None]]


def _verb(text: str) -> str:
    """The command's name for messages (never its arguments: they may hold caller data)."""
    return " ".join(text.split(" ", 2)[:2])


class AgiSession:
    """One channel running ``AGI(agi:async)``; every command is awaitable.

    Raises (every command): :class:`ChannelHungUp` if the channel hung up or left AGI,
    :class:`AgiError` on 510/511/520, :class:`ConnectionLost` if AMI dropped meanwhile.
    """

    def __init__(self, client: AmiPort, start: AsyncAGIStart) -> None:
        self._client = client
        self.start_event = start
        self.env = AgiEnv.from_env(start.env)
        self.channel = start.channel or self.env.channel
        self.uniqueid = start.uniqueid or self.env.uniqueid
        self.closed = False
        self.hangup_requested = False
        self._waiting: dict[str, asyncio.Future[AgiResult]] = {}

    def __repr__(self) -> str:
        return f"AgiSession({self.channel!r}, uniqueid={self.uniqueid!r}, closed={self.closed})"

    # -- the generic command ----------------------------------------------------------

    async def command(self, text: str) -> AgiResult:
        """Run one raw AGI command (``"GET VARIABLE FOO"``) and return its parsed result."""
        if self.closed:
            raise ChannelHungUp(f"{self.channel}: AGI session has ended")
        command_id = f"agi-{next(_command_ids)}"
        fut: asyncio.Future[AgiResult] = asyncio.get_running_loop().create_future()
        self._waiting[command_id] = fut
        action = Action("AGI", {"Channel": self.channel, "Command": text, "CommandID": command_id})
        try:
            try:
                await self._client.send(action)
            except ActionFailed as exc:
                gone = "does not exist" in str(exc) or "not found" in str(exc).lower()
                if self.closed or self.hangup_requested or gone:
                    self.closed = self.closed or gone
                    raise ChannelHungUp(f"{self.channel}: gone before {_verb(text)}") from exc
                raise
            result = await fut
        finally:
            self._waiting.pop(command_id, None)
        if result.data == "hangup" or (result.result == "-1" and self.hangup_requested):
            raise ChannelHungUp(f"{self.channel}: hung up during {_verb(text)}")
        return result

    def _failed(self, result: AgiResult, text: str) -> AgiError:
        return AgiError(result.code, f"{text} failed on {self.channel} (result={result.result})")

    def _pressed(self, result: AgiResult, text: str) -> str:
        """The DTMF symbol whose character code ``result`` holds.

        Raises:
            AgiError: the code is not one of 0-9 * # A-D (``chr`` alone would raise
                ValueError past U+10FFFF and pass any other character to the IVR).
        """
        value = result.value
        if 0 < value < 128 and chr(value) in DTMF_SYMBOLS:
            return chr(value)
        raise AgiError(
            result.code, f"{text} on {self.channel}: result={result.result[:20]} is no DTMF digit"
        )

    # -- typed commands ---------------------------------------------------------------

    async def answer(self) -> None:
        result = await self.command("ANSWER")
        if result.result == "-1":
            raise self._failed(result, "ANSWER")

    async def stream_file(self, name: str, escape_digits: str = "") -> str | None:
        """Play ``name``; return the escape digit pressed, or ``None`` if it played out."""
        check_digits(escape_digits, "escape digits")
        result = await self.command(f"STREAM FILE {agi_quote(name)} {agi_quote(escape_digits)}")
        if result.value < 0:
            raise self._failed(result, f"STREAM FILE {name}")
        return self._pressed(result, f"STREAM FILE {name}") if result.value > 0 else None

    async def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> tuple[str, bool]:
        """Play ``prompt`` and collect digits; return ``(digits, timed_out)``."""
        result = await self.command(
            f"GET DATA {agi_quote(prompt)} {int(timeout_ms)} {int(max_digits)}"
        )
        if result.result == "-1":
            raise self._failed(result, f"GET DATA {prompt}")
        return result.result, result.data == "timeout"

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        check_digits(digits)
        check_digits(escape_digits, "escape digits")
        result = await self.command(f"SAY DIGITS {digits} {agi_quote(escape_digits)}")
        if result.value < 0:
            raise self._failed(result, "SAY DIGITS")
        return self._pressed(result, "SAY DIGITS") if result.value > 0 else None

    async def set_variable(self, name: str, value: str) -> None:
        await self.command(f"SET VARIABLE {agi_quote(name)} {agi_quote(value)}")

    async def get_variable(self, name: str) -> str | None:
        """The variable's value, or ``None`` when it is not set."""
        result = await self.command(f"GET VARIABLE {agi_quote(name)}")
        return result.data if result.result == "1" else None

    async def exec(self, app: str, args: str = "") -> int:
        """Run a dialplan application; return its result (``-2``: no such application)."""
        if not app or not app.replace("_", "").isalnum():
            raise AgiError(520, f"invalid application name {app!r}")
        text = f"EXEC {app} {agi_quote(args)}" if args else f"EXEC {app}"
        result = await self.command(text)
        if result.result == "-2":
            raise AgiError(result.code, f"no such application {app!r}")
        return result.value

    async def record_file(
        self, path: str, fmt: str = "wav", escape: str = "#", timeout_ms: int = 60000
    ) -> str | None:
        """Record to ``path.fmt``; return the digit that stopped it, or ``None``."""
        check_digits(escape, "escape digits")
        result = await self.command(
            f"RECORD FILE {agi_quote(path)} {agi_quote(fmt)} {agi_quote(escape)} {int(timeout_ms)}"
        )
        if result.value < 0:
            raise self._failed(result, "RECORD FILE")
        if result.value > 0 and result.data == "dtmf":
            return self._pressed(result, "RECORD FILE")
        return None

    async def hangup(self) -> None:
        """Hang the channel up; the session ends."""
        if self.closed:
            return
        with contextlib.suppress(ChannelHungUp):
            await self.command("HANGUP")
        self.hangup_requested = True

    # -- fed by the dispatcher --------------------------------------------------------

    def _exec_result(self, event: AsyncAGIExec) -> None:
        fut = self._waiting.get(event.command_id)
        if fut is None or fut.done():
            return
        try:
            fut.set_result(parse_agi_result(event.result))
        except AgiError as exc:
            fut.set_exception(exc)
        except Exception as exc:  # a command left unresolved would stall the call
            # parse_agi_result raises only AgiError; should that ever break, the command
            # still fails now instead of waiting for a hangup that may never come.
            fut.set_exception(AgiError(0, f"unreadable AGI reply: {type(exc).__name__}"))

    def _end(self, error: Exception) -> None:
        self.closed = True
        self._fail_all(error)

    def _fail_all(self, error: Exception) -> None:
        for fut in list(self._waiting.values()):
            if not fut.done():
                fut.set_exception(error)


class AgiDispatcher:
    """Route AsyncAGI events to sessions and run ``handler(session)`` for each new one.

    Args:
        client: the connected :class:`telephony.ami.AmiClient` (or anything like it).
        handler: ``async (session) -> None``; a ``ChannelHungUp`` escaping it is normal.
    """

    def __init__(self, client: AmiPort, handler: Handler) -> None:
        self._client = client
        self._handler = handler
        self.sessions: dict[str, AgiSession] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsubscribe = client.subscribe(self._on_event)
        self._remove_hook = client.on_disconnect(self._on_disconnect)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, AsyncAGIExec):
            session = self.sessions.get(event.uniqueid)
            if session is not None:
                session._exec_result(event)
        elif isinstance(event, AsyncAGIStart):
            self._start(event)
        elif isinstance(event, HangupRequest | SoftHangupRequest):
            session = self.sessions.get(event.uniqueid)
            if session is not None:
                session.hangup_requested = True
        elif isinstance(event, AsyncAGIEnd | Hangup):
            session = self.sessions.pop(event.uniqueid, None)
            if session is not None:
                session._end(ChannelHungUp(f"{session.channel}: AGI session ended"))

    def _start(self, event: AsyncAGIStart) -> None:
        old = self.sessions.pop(event.uniqueid, None)
        if old is not None:
            old._end(ChannelHungUp(f"{old.channel}: AGI restarted on the channel"))
        session = AgiSession(self._client, event)
        self.sessions[session.uniqueid] = session
        task = asyncio.get_running_loop().create_task(
            self._run(session), name=f"agi-{session.channel}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, session: AgiSession) -> None:
        try:
            await self._handler(session)
        except ChannelHungUp:
            log.debug("AGI handler ended by hangup on %s", session.channel)
        except ConnectionLost as exc:
            log.warning("AGI handler on %s lost AMI: %s", session.channel, exc)
        except Exception:
            log.exception("AGI handler failed on %s", session.channel)

    def _on_disconnect(self) -> None:
        for session in self.sessions.values():
            session._fail_all(ConnectionLost("AMI connection lost during an AGI command"))

    async def close(self) -> None:
        """Stop listening and cancel the running handlers."""
        self._unsubscribe()
        self._remove_hook()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

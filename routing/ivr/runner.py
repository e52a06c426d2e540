"""The asyncio shell that runs an :class:`IvrSession` over a caller's AsyncAGI session.

Theory of operation: the interpreter decides, this module does. ``run_ivr`` answers
the channel, then loops: take the session's command, carry it out over AGI or through
a port, turn the result into the event the session expects, feed it back. Each path
step the session closes is sent to the contact sink as it happens, and ``ivr_done``
always ends the record — also when the caller hangs up (``ChannelHungUp`` from any AGI
call becomes a ``HungUp`` event, outcome ``abandoned_ivr``).

The outside world is reached through small ports (``typing.Protocol``) so the service
can wire in ``crm_lookup``'s directory, the ACD shell and the contact log, and tests
can pass plain objects. A failing lookup counts as "not found" (the call goes on); a
failing sink is logged and ignored (the caller must not notice our database).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from config.errors import AgiError, ChannelHungUp, RemoteError, SwitchboardError
from routing.ivr import commands as cmd
from routing.ivr import events as ev
from routing.ivr.interpreter import CallInfo, IvrSession, Outcome, PathStep
from routing.ivr.script import ScriptLibrary

log = logging.getLogger(__name__)

ALL_KEYS = "0123456789*#"


class AgiChannel(Protocol):
    """The part of ``telephony.agi.AgiSession`` the IVR uses."""

    async def answer(self) -> Any: ...

    async def stream_file(self, name: str, escape_digits: str = "") -> str | None: ...

    async def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> tuple[str, bool]: ...

    async def record_file(
        self, path: str, fmt: str = "wav", escape: str = "#", timeout_ms: int = 60000
    ) -> str | None: ...

    async def hangup(self) -> Any: ...


class CustomerDirectory(Protocol):
    """Finds a customer ``by`` ``"phone"`` or ``"account"``.

    Returns a mapping with ``id, name, tier, language, open_cases, verified`` (missing
    keys are fine) or None.
    """

    async def lookup(self, by: str, value: str) -> Mapping[str, Any] | None: ...


class RoutingPort(Protocol):
    """What the IVR asks of the ACD shell for one call."""

    async def queue_state(self, queue: str) -> ev.QueueState: ...

    async def enqueue(self, call: CallInfo, request: cmd.Enqueue) -> None: ...

    async def request_callback(self, call: CallInfo, request: cmd.OfferCallback) -> None: ...

    async def transfer(self, call: CallInfo, target: str) -> None: ...


class ContactSink(Protocol):
    """Where the IVR path goes (the contact log, keyed by the service from ``call``)."""

    async def ivr_step(self, call: CallInfo, step: PathStep) -> None: ...

    async def ivr_done(self, call: CallInfo, path: Sequence[PathStep], outcome: str) -> None: ...

    async def voicemail(self, call: CallInfo, box: str, path: str) -> None: ...


async def run_ivr(
    session: IvrSession,
    agi: AgiChannel,
    directory: CustomerDirectory,
    acd_port: RoutingPort,
    contact_log: ContactSink,
    *,
    clock: Callable[[], float] = time.time,
    recordings_dir: str = "var/voicemail",
    answer: bool = True,
) -> Outcome | None:
    """Run the session to its end; returns its outcome (None if an AGI error stopped it).

    Args:
        session: a NEW session.
        agi: the caller's AsyncAGI session.
        directory: customer lookups.
        acd_port: queue state, enqueue, callback, transfer.
        contact_log: receives every path step, voicemail links, and the final outcome.
        clock: epoch seconds (tests pass a fake).
        recordings_dir: where Asterisk writes voicemail (``RECORD FILE`` path prefix).
        answer: send ANSWER first (off when the dialplan already answered).
    """
    runner = _Runner(session, agi, directory, acd_port, contact_log, clock, recordings_dir)
    return await runner.run(answer)


async def keep_reloading(library: ScriptLibrary, interval: float) -> None:
    """Reload changed scripts every ``interval`` seconds until cancelled.

    The files are small, so they are read on the event loop; a script that does not
    validate is refused (logged) and the last valid version keeps serving.
    """
    while True:
        await asyncio.sleep(interval)
        library.reload()


class _Runner:
    def __init__(
        self,
        session: IvrSession,
        agi: AgiChannel,
        directory: CustomerDirectory,
        port: RoutingPort,
        sink: ContactSink,
        clock: Callable[[], float],
        recordings_dir: str,
    ) -> None:
        self.session = session
        self.agi = agi
        self.directory = directory
        self.port = port
        self.sink = sink
        self.clock = clock
        self.recordings_dir = recordings_dir.rstrip("/")
        self.sent = 0

    async def run(self, answer: bool) -> Outcome | None:
        session = self.session
        try:
            if answer:
                await self.agi.answer()
            pending = session.start(self.clock())
            while pending:
                await self._flush()
                pending = await self._step(pending[-1])
        except ChannelHungUp:
            session.handle(ev.HungUp(), self.clock())
        except AgiError as exc:
            log.error(
                "IVR stopped by an AGI error",
                extra={"fields": {"channel": session.call.channel, "error": str(exc)}},
            )
            await self._flush()
            await self._safe(self.sink.ivr_done(session.call, list(session.path), "failed"))
            return None
        await self._flush()
        outcome = session.outcome or Outcome.ABANDONED
        await self._safe(self.sink.ivr_done(session.call, list(session.path), outcome.value))
        return outcome

    async def _step(self, command: cmd.Command) -> list[cmd.Command]:
        """Carry out one command; returns the session's next commands ([] at the end)."""
        session = self.session
        if isinstance(command, cmd.Record):
            path = f"{self.recordings_dir}/{command.name}"
            try:
                await self.agi.record_file(path, "wav", "#", command.max_seconds * 1000)
            except ChannelHungUp:
                # Hanging up is how most callers finish a message; Asterisk keeps the file.
                await self._recorded(f"{path}.wav")
                raise
            return await self._recorded(f"{path}.wav")
        if isinstance(command, cmd.Enqueue):
            await self.port.enqueue(session.call, command)
            return []
        if isinstance(command, cmd.OfferCallback):
            await self.port.request_callback(session.call, command)
            await self.agi.hangup()
            return []
        if isinstance(command, cmd.Transfer):
            await self.port.transfer(session.call, command.target)
            return []
        if isinstance(command, cmd.Hangup):
            await self.agi.hangup()
            return []
        event = await self._answer(command)
        return session.handle(event, self.clock())

    async def _recorded(self, path: str) -> list[cmd.Command]:
        out = self.session.handle(ev.RecordDone(path), self.clock())
        box = str(self.session.variables.get("voicemail.box", ""))
        await self._safe(self.sink.voicemail(self.session.call, box, path))
        return out

    async def _answer(
        self, command: cmd.Play | cmd.Collect | cmd.Lookup | cmd.QueryQueue
    ) -> ev.Event:
        if isinstance(command, cmd.Play):
            for prompt in command.prompts:
                digit = await self.agi.stream_file(prompt, command.escape_digits)
                if digit:
                    return ev.PlayDone(digit)
            return ev.PlayDone(None)
        if isinstance(command, cmd.Collect):
            return await self._collect(command)
        if isinstance(command, cmd.Lookup):
            try:
                customer = await self.directory.lookup(command.by, command.value)
            except RemoteError as exc:
                log.warning(
                    "IVR lookup failed; treating the caller as unknown",
                    extra={"fields": {"by": command.by, "error": str(exc)}},
                )
                customer = None
            return ev.LookupDone(customer)
        return await self.port.queue_state(command.queue)

    async def _collect(self, command: cmd.Collect) -> ev.Collected:
        # GET DATA plays one file and listens while it plays. Earlier prompts (the short
        # "sorry, that is not valid" before a re-ask) are streamed without escape digits:
        # a key pressed there would end STREAM FILE and its follow-up keys would have to
        # be stitched onto a second GET DATA, which loses digits on a fast typist.
        *intro, last = command.prompts
        for prompt in intro:
            await self.agi.stream_file(prompt, "")
        digits, timed_out = await self.agi.get_data(last, command.timeout_ms, command.max_digits)
        return ev.Collected(digits, timed_out)

    async def _flush(self) -> None:
        path = self.session.path
        while self.sent < len(path):
            step = path[self.sent]
            self.sent += 1
            await self._safe(self.sink.ivr_step(self.session.call, step))

    async def _safe(self, awaitable: Any) -> None:
        try:
            await awaitable
        except SwitchboardError as exc:
            log.error(
                "contact log write failed",
                extra={"fields": {"channel": self.session.call.channel, "error": str(exc)}},
            )

"""Writes each contact's milestones to the history as they happen, in order.

The ACD shell sees call events on a synchronous path that must never wait for the
database. ``ContactRecorder`` takes each milestone at once, stamps it with the time it
happened, and one writer task applies them in arrival order through
``crm_lookup.contacts.ContactLog`` (each milestone its own transaction, idempotent), so a
crash loses only what was not yet written and a replay writes nothing twice. It also keeps
today's per-interval counts for the wallboard chart.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from config.errors import SwitchboardError
from crm_lookup.agent_states import SavedAgentState
from crm_lookup.store import StoreBusy
from routing.ivr.interpreter import PathStep
from routing.live import LiveCall

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 15 * 60
# Retries of a milestone while the database is busy: 0.5 s doubling to 64 s (~2 min in all,
# on top of the store's own busy timeout per attempt).
BUSY_RETRY_FIRST = 0.5
BUSY_RETRY_LONGEST = 64.0
Write = Callable[[], Awaitable[Any]]


class ContactRecorder:
    """Milestones of live calls, written in order by one background task.

    Args:
        contacts: an open ``crm_lookup.contacts.ContactLog``.
        agent_states: an ``crm_lookup.agent_states.AgentStateRepo`` (None: not kept).
        service_level_seconds: answered within this counts toward the interval's SL.
        short_abandon_seconds: abandons quicker than this are left out of the SL.
    """

    def __init__(
        self,
        contacts: Any,
        *,
        agent_states: Any = None,
        service_level_seconds: float = 20.0,
        short_abandon_seconds: float = 5.0,
    ) -> None:
        self.contacts = contacts
        self.agent_states = agent_states
        self.service_level_seconds = service_level_seconds
        self.short_abandon_seconds = short_abandon_seconds
        self._queue: asyncio.Queue[tuple[str, Write]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._buckets: dict[int, dict[str, int]] = {}
        self.failures = 0

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._writer(), name="contact-writer"
            )

    async def flush(self) -> None:
        """Wait until every milestone taken so far is written (or the writer has stopped:
        a flush racing a close must not wait forever for a writer that is gone)."""
        writer = self._task
        if writer is None or writer.done():
            return
        joined = asyncio.ensure_future(self._queue.join())
        try:
            await asyncio.wait({joined, writer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            joined.cancel()

    async def close(self) -> None:
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _put(self, what: str, write: Write) -> None:
        self._queue.put_nowait((what, write))

    async def _writer(self) -> None:
        while True:
            what, write = await self._queue.get()
            try:
                await self._write_with_retry(what, write)
            except (SwitchboardError, OSError, ValueError) as exc:
                self.failures += 1
                log.error(
                    "contact milestone not written",
                    extra={"fields": {"milestone": what, "error": exc}},
                )
            except Exception:
                self.failures += 1
                log.exception(
                    "contact milestone not written", extra={"fields": {"milestone": what}}
                )
            finally:
                self._queue.task_done()

    async def _write_with_retry(self, what: str, write: Write) -> None:
        """A busy database (another process writing, e.g. a large CSV import) is waited
        out: the milestone is retried, and those behind it wait, so nothing is lost and
        the order holds. Other errors are not retried: the same write would fail again."""
        delay = BUSY_RETRY_FIRST
        while True:
            try:
                await write()
                return
            except StoreBusy:
                if delay > BUSY_RETRY_LONGEST:
                    raise
                log.warning(
                    "database busy; milestone will be retried",
                    extra={"fields": {"milestone": what, "retry_in": delay}},
                )
                await asyncio.sleep(delay)
                delay *= 2

    # ------------------------------------------------------------------ milestones

    def arrived(self, call: LiveCall) -> None:
        key, at = call.call_id, call.arrived_at
        direction = "inbound" if call.direction == "inbound" else "outbound"
        customer = int(call.customer_id) if isinstance(call.customer_id, int) else None

        async def write() -> None:
            await self.contacts.arrived(key, call.caller, call.dialed, direction, at, customer)
            contact = await self.contacts.get_by_key(key)
            call.contact_id = contact.id

        self._put("arrived", write)

    def ivr_step(self, call: LiveCall, step: PathStep) -> None:
        data = step.to_json()
        self._put("ivr_step", lambda: self.contacts.ivr_step(call.call_id, data, step.left_at))

    def ivr_done(self, call: LiveCall, path: Sequence[PathStep], outcome: str) -> None:
        steps = [s.to_json() for s in path]
        at = path[-1].left_at if path else None
        self._put("ivr_done", lambda: self.contacts.ivr_done(call.call_id, steps, outcome, at))

    def queued(self, call: LiveCall, at: float) -> None:
        queue = call.queue or ""
        self._count(at, "offered")
        self._put("queued", lambda: self.contacts.queued(call.call_id, queue, at))

    def offered(self, call: LiveCall, at: float) -> None:
        agent = call.agent_id or ""
        self._put("offered", lambda: self.contacts.offered(call.call_id, agent, at))

    def answered(self, call: LiveCall, at: float) -> None:
        agent = call.agent_id or ""
        if call.queued_at is not None:
            self._count(at, "answered")
            if at - call.queued_at <= self.service_level_seconds:
                self._count(at, "answered_within")
        self._put("answered", lambda: self.contacts.answered(call.call_id, agent, at))

    def ended(self, call: LiveCall, at: float, outcome: str, cause: str = "") -> None:
        if outcome == "abandoned_queue" and call.queued_at is not None:
            short = at - call.queued_at < self.short_abandon_seconds
            self._count(at, "short_abandoned" if short else "abandoned")
        self._put("ended", lambda: self.contacts.ended(call.call_id, at, outcome))

    def held(self, call: LiveCall, at: float) -> None:
        self._put("held", lambda: self.contacts.held(call.call_id, at))

    def unheld(self, call: LiveCall, at: float) -> None:
        self._put("unheld", lambda: self.contacts.unheld(call.call_id, at))

    def recording(self, call: LiveCall, ref: str, at: float) -> None:
        self._put("recording", lambda: self.contacts.recording(call.call_id, ref, at))

    def lost(self, key: str, at: float) -> None:
        """A contact left open by a stopped service whose call was gone when it came back."""
        self._put("ended", lambda: self.contacts.ended(key, at, "lost_during_outage"))

    def agent_state(self, saved: SavedAgentState) -> None:
        """An agent's new state, kept for the next start (in order with the milestones)."""
        if self.agent_states is not None:
            self._put("agent_state", lambda: self.agent_states.save(saved))

    def note(self, call: LiveCall, kind: str, data: dict[str, Any], at: float) -> None:
        """A timeline entry with no column of its own (transfer, move, ring no answer)."""
        self._put(kind, lambda: self.contacts.note(call.call_id, kind, data, at))

    # ------------------------------------------------------------------ wallboard

    def _count(self, at: float, what: str) -> None:
        start = math.floor(at / INTERVAL_SECONDS) * INTERVAL_SECONDS
        bucket = self._buckets.setdefault(start, {})
        bucket[what] = bucket.get(what, 0) + 1
        while len(self._buckets) > 96:  # one day of 15-minute intervals
            del self._buckets[min(self._buckets)]

    def seed_intervals(self, rows: Sequence[Any]) -> None:
        """Start today's chart from the stored history (``crm_lookup.reports`` interval rows,
        keyed ``YYYY-MM-DD HH:MM`` UTC), so a restart does not blank the wallboard."""
        for row in rows:
            if not row.offered:
                continue
            start = calendar.timegm(time.strptime(row.key, "%Y-%m-%d %H:%M"))
            # The report's service level is a percentage of offered less short abandons.
            within = round((row.service_level or 0.0) / 100 * (row.offered - row.short_abandoned))
            self._buckets[start] = {
                "offered": row.offered,
                "answered": row.answered,
                "answered_within": within,
                "abandoned": row.abandoned,
                "short_abandoned": row.short_abandoned,
            }

    def intervals(self) -> list[dict[str, Any]]:
        """Today's intervals for the wallboard chart (console "interval" shape)."""
        out = []
        for start in sorted(self._buckets):
            b = self._buckets[start]
            counted = b.get("answered", 0) + b.get("abandoned", 0)
            out.append(
                {
                    "start": float(start),
                    "offered": b.get("offered", 0),
                    "answered": b.get("answered", 0),
                    "abandoned": b.get("abandoned", 0) + b.get("short_abandoned", 0),
                    "service_level": round(b.get("answered_within", 0) / counted, 3)
                    if counted
                    else None,
                }
            )
        return out

"""Writes each contact's milestones to the history as they happen, each contact's in order.

Theory of operation. The ACD shell sees call events on a synchronous path that must never
wait for the database. ``ContactRecorder`` takes each milestone at once, stamps it with
the time it happened, and puts it in the *lane* of what it is about: the contact (its
call id) or, for a saved agent state, the agent. A lane is a FIFO: only its oldest
milestone is ever being written, so one contact's milestones (and one agent's states)
reach the database strictly in the order they happened. Lanes are independent: up to
``concurrency`` writer tasks each take the oldest milestone at the head of some lane, so
milestones of different contacts are written at the same time (PostgreSQL sends the rows
arriving while a statement is in flight together, one commit for many calls). With
``concurrency=1`` (the default, and what SQLite gets: its writes are serialised
in-process anyway) every milestone is written in arrival order, one at a time.

Each milestone is idempotent (``crm_lookup.contacts.ContactLog``), so a crash loses only
what was not yet written and a replay writes nothing twice; what a crash leaves is, lane
by lane, a prefix of what happened. Given a ``batch`` (the store's, ``batch_size`` from
``store.write_batch``: SQLite), a writer takes up to ``batch_size`` ready heads at once
(each of another lane, so every lane keeps its order) and writes them in one transaction:
one commit per turn instead of one per milestone. A busy database is waited out at the
head of the lane (the milestones behind it wait; other lanes go on), a busy batch is
retried whole; a milestone the database rejects is counted and logged, and its lane goes
on (in a batch its neighbours still commit). The
recorder also keeps today's per-interval counts for the wallboard chart.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import heapq
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from config.errors import Conflict, InvalidInput, SwitchboardError
from crm_lookup.agent_states import SavedAgentState
from crm_lookup.database import StoreUnavailable
from crm_lookup.store import StoreBusy
from routing.ivr.interpreter import PathStep
from routing.live import LiveCall
from routing.takeover import LOST

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 15 * 60
# Retries of a milestone while the database is busy: 0.5 s doubling to 64 s (~2 min in all,
# on top of the store's own busy timeout per attempt).
BUSY_RETRY_FIRST = 0.5
BUSY_RETRY_LONGEST = 64.0
Write = Callable[[], Awaitable[Any]]
#: what a milestone is about: ("contact", call id) or ("agent", agent id)
Lane = tuple[str, str]


@dataclass(slots=True)
class _Milestone:
    seq: int  # arrival order: the oldest ready milestone is written first
    lane: Lane
    what: str
    write: Write


class ContactRecorder:
    """Milestones of live calls, each contact's written in order by background tasks.

    Args:
        contacts: an open ``crm_lookup.contacts.ContactLog``.
        agent_states: an ``crm_lookup.agent_states.AgentStateRepo`` (None: not kept).
        drafts: the ``crm_lookup.drafts.DraftRepo`` a restart reads to tell whether an
            agent saved in wrap-up had typed a wrap-up not saved yet (None: none kept).
        service_level_seconds: answered within this counts toward the interval's SL.
        short_abandon_seconds: abandons quicker than this are left out of the SL.
        concurrency: milestones of different contacts written at the same time
            (``store.concurrent_writes``: 1 on SQLite, more on PostgreSQL).
        batch: opens one transaction for a writer's turn (``store.batch``); None: each
            milestone alone.
        batch_size: at most this many milestones in one batch (``store.write_batch``).

    Raises:
        InvalidInput: ``concurrency`` or ``batch_size`` below 1.
    """

    def __init__(
        self,
        contacts: Any,
        *,
        agent_states: Any = None,
        drafts: Any = None,
        cases: Any = None,
        service_level_seconds: float = 20.0,
        short_abandon_seconds: float = 5.0,
        concurrency: int = 1,
        batch: Callable[[], AbstractAsyncContextManager[Any]] | None = None,
        batch_size: int = 1,
    ) -> None:
        if concurrency < 1:
            raise InvalidInput("concurrency must be at least 1", field="concurrency")
        if batch_size < 1:
            raise InvalidInput("batch_size must be at least 1", field="batch_size")
        self._batch = batch if batch_size > 1 else None
        self.batch_size = batch_size
        self.contacts = contacts
        self.agent_states = agent_states
        self.drafts = drafts
        # store.cases: a new contact of a customer reopens their resolved case
        # (customer_replied); None: no cases
        self.cases = cases
        self.service_level_seconds = service_level_seconds
        self.short_abandon_seconds = short_abandon_seconds
        self.concurrency = concurrency
        # Each lane's milestones not yet written, oldest (being written, or ready) first.
        self._lanes: dict[Lane, deque[_Milestone]] = {}
        # The heads of lanes ready to be written, a heap by arrival (seq is unique, so
        # the milestone itself is never compared); writers with nothing to do wait in
        # _idle_writers.
        self._ready: list[tuple[int, _Milestone]] = []
        self._idle_writers: deque[asyncio.Future[None]] = deque()
        self._seq = 0
        self._unwritten = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._buckets: dict[int, dict[str, int]] = {}
        self.failures = 0
        # since when writes have been failing (busy, unreachable, broken; not a row refused
        # for its data); None once one succeeds again: the alerts' "database failing"
        # figure, cheap to read
        self.failing_since: float | None = None

    @property
    def pending(self) -> int:
        """Milestones taken and not yet written (nor given up)."""
        return self._unwritten

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._writers(), name="contact-writer"
            )

    async def flush(self) -> None:
        """Wait until every milestone taken so far is written (or the writers have
        stopped: a flush racing a close must not wait forever for writers that are gone)."""
        writers = self._task
        if writers is None or writers.done():
            return
        idle = asyncio.ensure_future(self._idle.wait())
        try:
            await asyncio.wait({idle, writers}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            idle.cancel()

    async def close(self) -> None:
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _for_contact(self, key: str, what: str, write: Write) -> None:
        self._put(("contact", key), what, write)

    def _put(self, lane: Lane, what: str, write: Write) -> None:
        self._seq += 1
        milestone = _Milestone(self._seq, lane, what, write)
        self._unwritten += 1
        self._idle.clear()
        queue = self._lanes.get(lane)
        if queue:
            queue.append(milestone)  # behind the lane's earlier milestones
            return
        self._lanes[lane] = deque((milestone,))
        self._make_ready(milestone)

    def _make_ready(self, milestone: _Milestone) -> None:
        heapq.heappush(self._ready, (milestone.seq, milestone))
        while self._idle_writers:
            waiter = self._idle_writers.popleft()
            if not waiter.done():  # not cancelled by a close
                waiter.set_result(None)
                break

    def _written(self, milestone: _Milestone) -> None:
        """``milestone`` is done with (written or given up): its lane's next is ready."""
        queue = self._lanes[milestone.lane]
        queue.popleft()
        if queue:
            self._make_ready(queue[0])
        else:
            del self._lanes[milestone.lane]
        self._unwritten -= 1
        if not self._unwritten:
            self._idle.set()

    async def _writers(self) -> None:
        async with asyncio.TaskGroup() as group:
            for n in range(self.concurrency):
                group.create_task(self._writer(), name=f"contact-writer-{n}")

    async def _writer(self) -> None:
        while True:
            while not self._ready:
                waiter = asyncio.get_running_loop().create_future()
                self._idle_writers.append(waiter)
                await waiter
            if self._batch is not None:
                group = [heapq.heappop(self._ready)[1]]
                while self._ready and len(group) < self.batch_size:
                    group.append(heapq.heappop(self._ready)[1])
                try:
                    await self._write_batch(self._batch, group)
                finally:
                    for milestone in group:
                        self._written(milestone)
                continue
            _, milestone = heapq.heappop(self._ready)
            try:
                await self._write_with_retry(milestone.what, milestone.write)
            except Exception as exc:
                self._given_up(milestone, exc)
            finally:
                self._written(milestone)

    def _failing(self) -> None:
        if self.failing_since is None:
            self.failing_since = time.time()

    def _given_up(self, milestone: _Milestone, exc: Exception) -> None:
        self.failures += 1
        # A write the database refused (bad data, a duplicate) is logged and counted, but
        # the database answered: only a busy, lost or broken one is "failing writes" (the
        # alerts' figure, which would otherwise stay set until the next write).
        if not isinstance(exc, (InvalidInput, Conflict)):
            self._failing()
        what = milestone.what
        if isinstance(exc, (SwitchboardError, OSError, ValueError)):
            log.error(
                "contact milestone not written", extra={"fields": {"milestone": what, "error": exc}}
            )
        else:
            log.error(
                "contact milestone not written",
                extra={"fields": {"milestone": what}},
                exc_info=exc,
            )

    async def _write_batch(
        self, batch: Callable[[], AbstractAsyncContextManager[Any]], group: list[_Milestone]
    ) -> None:
        """``group`` (heads of different lanes) in one transaction. A milestone the
        database rejects is given up alone; a busy or lost database rolls the batch back
        and it is retried whole, like one milestone (every write is idempotent)."""
        todo = list(group)
        delay = BUSY_RETRY_FIRST
        while todo:
            try:
                async with batch():
                    for milestone in list(todo):
                        try:
                            await milestone.write()
                        except (StoreBusy, StoreUnavailable):
                            raise
                        except Exception as exc:
                            self._given_up(milestone, exc)
                            todo.remove(milestone)
                if todo:
                    self.failing_since = None
                return
            except (StoreBusy, StoreUnavailable) as exc:
                self._failing()
                if delay > BUSY_RETRY_LONGEST:
                    for milestone in todo:
                        self._given_up(milestone, exc)
                    return
                log.warning(
                    "database busy or unreachable; batch of milestones will be retried",
                    extra={"fields": {"milestones": len(todo), "retry_in": delay, "error": exc}},
                )
                await asyncio.sleep(delay)
                delay *= 2

    async def _write_with_retry(self, what: str, write: Write) -> None:
        """A busy database (another process writing, e.g. a large CSV import) or one that
        went away (a PostgreSQL restart or failover) is waited out: the milestone is
        retried (every write here is idempotent, so one that did land before the
        connection dropped is not doubled), and those behind it in its lane wait, so
        nothing is lost and the order holds. Other errors are not retried: the same write
        would fail again."""
        delay = BUSY_RETRY_FIRST
        while True:
            try:
                await write()
                self.failing_since = None
                return
            except (StoreBusy, StoreUnavailable) as exc:
                self._failing()
                if delay > BUSY_RETRY_LONGEST:
                    raise
                log.warning(
                    "database busy or unreachable; milestone will be retried",
                    extra={"fields": {"milestone": what, "retry_in": delay, "error": exc}},
                )
                await asyncio.sleep(delay)
                delay *= 2

    # ------------------------------------------------------------------ milestones

    async def settled(self, key: str) -> None:
        """Wait until every milestone of contact ``key`` taken so far is written (or given
        up): a marker at the end of its lane, so the wait keeps the lane's order and costs
        no database round trip. The digital desk persists before it answers this way. At
        once if the writers are not running (a marker would never be reached)."""
        writers = self._task
        if writers is None or writers.done():
            return
        reached = asyncio.get_running_loop().create_future()

        async def mark() -> None:
            if not reached.done():
                reached.set_result(None)

        self._for_contact(key, "settled", mark)
        await asyncio.wait({reached, writers}, return_when=asyncio.FIRST_COMPLETED)

    def contact_write(self, key: str, what: str, write: Write) -> None:
        """Any write about contact ``key`` (the digital desk's conversation row) in the
        contact's lane: after its milestones so far, before those to come. Retried like a
        milestone while the database is busy, so it must be idempotent."""
        self._for_contact(key, what, write)

    def arrived(self, call: LiveCall, *, channel: str = "voice") -> None:
        """The call reached us (or was placed), or a chat or an email conversation opened
        (``channel``: its contact is one like a call's, its channel folded from this)."""
        key, at = call.call_id, call.arrived_at
        direction = "inbound" if call.direction == "inbound" else "outbound"
        customer = int(call.customer_id) if isinstance(call.customer_id, int) else None

        async def write() -> None:
            extra = {"channel": channel} if channel != "voice" else {}
            await self.contacts.arrived(
                key, call.caller, call.dialed, direction, at, customer, **extra
            )
            contact = await self.contacts.get_by_key(key)
            call.contact_id = contact.id
            if self.cases is not None and contact.customer_id is not None:
                # the customer is back: a resolved (or pending_customer) case of theirs
                # opens again with this contact on its timeline; a second run finds it
                # open already and changes nothing
                await self.cases.customer_replied(key)

        self._for_contact(key, "arrived", write)

    def first_response(self, call: LiveCall, at: float) -> None:
        """The agent's first reply in a chat or an email (``contacts.first_response_at``)."""
        key, agent = call.call_id, call.agent_id or ""
        self._for_contact(
            key, "first_response", lambda: self.contacts.first_response(key, agent, at)
        )

    def ivr_step(self, call: LiveCall, step: PathStep) -> None:
        key, data = call.call_id, step.to_json()
        self._for_contact(key, "ivr_step", lambda: self.contacts.ivr_step(key, data, step.left_at))

    def ivr_done(self, call: LiveCall, path: Sequence[PathStep], outcome: str) -> None:
        key, steps = call.call_id, [s.to_json() for s in path]
        at = path[-1].left_at if path else None
        self._for_contact(key, "ivr_done", lambda: self.contacts.ivr_done(key, steps, outcome, at))

    def queued(self, call: LiveCall, at: float) -> None:
        key, queue = call.call_id, call.queue or ""
        self._count(at, "offered")
        self._for_contact(key, "queued", lambda: self.contacts.queued(key, queue, at))

    def offered(self, call: LiveCall, at: float) -> None:
        key, agent = call.call_id, call.agent_id or ""
        self._for_contact(key, "offered", lambda: self.contacts.offered(key, agent, at))

    def answered(self, call: LiveCall, at: float) -> None:
        key, agent = call.call_id, call.agent_id or ""
        if call.queued_at is not None:
            self._count(at, "answered")
            if at - call.queued_at <= self.service_level_seconds:
                self._count(at, "answered_within")
        self._for_contact(key, "answered", lambda: self.contacts.answered(key, agent, at))

    def ended(self, call: LiveCall, at: float, outcome: str, cause: str = "") -> None:
        key = call.call_id
        if outcome == "abandoned_queue" and call.queued_at is not None:
            short = at - call.queued_at < self.short_abandon_seconds
            self._count(at, "short_abandoned" if short else "abandoned")
        self._for_contact(key, "ended", lambda: self.contacts.ended(key, at, outcome))

    def held(self, call: LiveCall, at: float) -> None:
        key = call.call_id
        self._for_contact(key, "held", lambda: self.contacts.held(key, at))

    def unheld(self, call: LiveCall, at: float) -> None:
        key = call.call_id
        self._for_contact(key, "unheld", lambda: self.contacts.unheld(key, at))

    def recording(self, call: LiveCall, ref: str, at: float, agent_id: str = "") -> None:
        """A recording of the call (``agent_id``: the agent whose part it records; none
        for a voicemail)."""
        key = call.call_id
        self._for_contact(key, "recording", lambda: self.contacts.recording(key, ref, at, agent_id))

    def lost(self, key: str, at: float) -> None:
        """A contact left open by a stopped service whose call was gone when it came back."""
        self._for_contact(key, "ended", lambda: self.contacts.ended(key, at, LOST))

    def agent_state(self, saved: SavedAgentState) -> None:
        """An agent's new state, kept for the next start: in order with the agent's other
        states, not with the contacts' milestones (the takeover reads both only after a
        flush, and judges every call by Asterisk's channels, not by the agent's state)."""
        if self.agent_states is not None:
            repo = self.agent_states
            self._put(("agent", saved.agent_id), "agent_state", lambda: repo.save(saved))

    def note(self, call: LiveCall, kind: str, data: dict[str, Any], at: float) -> None:
        """A timeline entry with no column of its own (transfer, move, ring no answer)."""
        key = call.call_id
        self._for_contact(key, kind, lambda: self.contacts.note(key, kind, data, at))

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

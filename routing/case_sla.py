"""The case SLA shell: keeps due times and breach flags, and feeds ``case_sla`` alerts.

Every ``[cases] check_interval`` seconds :class:`CaseSla` reads the open cases
(``store.cases.open_cases``) and the ones resolved or closed since the previous check
(``settled_since``: a case resolved late between two checks still gets its flag), runs
the pure clock (``routing.sla.clocks``) of each at ``now``, writes a case's due times and breach flags when they change (a breach flag, once
set, stays: the reports count it), and hands the clocks that are warnings or breached to
the alerting shell (``Alerting.case_samples``), whose rule ``case_sla`` raises and clears
the alerts shown on the supervisor console and the wallboard like every other alert. A
failing read keeps the last samples (the alert does not flap on a database hiccup).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from routing.alerts.rules import CaseSample
from routing.sla import CaseTimes, Policy, clocks

log = logging.getLogger(__name__)

# the first check after a start (or a failover) reads a week of settled cases (an index,
# migration 20): a service down for days still flags the late ones
SETTLED_LOOKBACK = 7 * 86400.0


def _times(case: Any) -> CaseTimes:
    return CaseTimes(
        case.created_at,
        case.first_response_at,
        case.resolved_at,
        case.paused_seconds,
        case.paused_since,
    )


class CaseSla:
    """Args: store (``cases``), policy, alerting (``case_samples``) or None, interval,
    clock."""

    def __init__(
        self,
        store: Any,
        policy: Policy,
        alerting: Any = None,
        *,
        interval: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.policy = policy
        self.alerting = alerting
        self.interval = interval
        self.clock = clock
        self._task: asyncio.Task[None] | None = None
        #: when the previous check ran; before the first, SETTLED_LOOKBACK back
        self._checked_at: float | None = None

    def start(self) -> None:
        if self._task is None and self.policy.targets:
            self._task = asyncio.ensure_future(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:
                log.exception("case SLA check failed")
            await asyncio.sleep(max(1.0, self.interval))

    def _compute(self, cases: list[Any], now: float) -> list[tuple[Any, dict[str, Any]]]:
        return [(case, clocks(self.policy, case.priority, _times(case), now)) for case in cases]

    async def check(self) -> list[CaseSample]:
        """One check now: due times and breach flags written, the alert samples set."""
        now = self.clock()
        since = now - SETTLED_LOOKBACK if self._checked_at is None else self._checked_at
        cases = await self.store.cases.open_cases()
        # a margin for a resolution stamped just before the previous check read its cases
        cases += await self.store.cases.settled_since(since - self.interval)
        # a case open for months walks its schedule day by day: off the event loop
        computed = await asyncio.to_thread(self._compute, cases, now)
        samples: list[CaseSample] = []
        for case, found in computed:
            first, resolution = found["first_response"], found["resolution"]
            due = (first.due_at, resolution.due_at)
            flags = (first.breached, resolution.breached)
            if (
                due != (case.first_response_due, case.resolution_due)
                or (flags[0] and not case.first_response_breached)
                or (flags[1] and not case.resolution_breached)
            ):
                await self.store.cases.set_sla(
                    case.id,
                    first_response_due=due[0],
                    resolution_due=due[1],
                    first_response_breached=flags[0],
                    resolution_breached=flags[1],
                )
            for name, c in found.items():
                if c.stopped_at is None and not c.paused and (c.warning or c.breached):
                    samples.append(
                        CaseSample(
                            case.number,
                            case.subject,
                            name,
                            c.elapsed,
                            c.target,
                            c.breached,
                            queue=case.queue or None,
                            agent_id=case.agent_id,
                        )
                    )
        if self.alerting is not None:
            self.alerting.case_samples = tuple(samples)
        self._checked_at = now
        return samples

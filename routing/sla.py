"""The case SLA clock: due times and elapsed business time over an IVR schedule (pure).

Theory of operation. A case's targets (first response, resolution) are *business*
seconds: time the schedule (``routing.ivr.hours.Schedule``, the ``schedules:`` of an IVR
script: weekday hours in a zone, holidays) is open. :func:`open_intervals` turns one local
day into epoch intervals with :mod:`zoneinfo`, so a day of a daylight-saving change is
23 or 25 hours long with no special case and a range that wraps past midnight reaches
into the next day. :func:`business_seconds` sums the overlap of ``[start, end)`` with
those intervals; :func:`add_business` walks them forward to the instant a number of
business seconds has passed. No schedule (``None``) means the clock runs all the time.

The resolution clock pauses while the case is ``pending_customer``: the case keeps
``paused_seconds`` (business seconds of finished pauses) and ``paused_since`` (the
current pause's start); :func:`resume` folds a pause in. The first-response clock never
pauses (putting a case to the customer is itself a response). Nothing here reads the
clock or does I/O; the caller passes ``now``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

from routing.ivr.hours import Schedule, TimeRange

PRIORITIES = ("low", "normal", "high", "urgent")
MAX_DAYS = 3660  # ten years of days walked at most: a schedule that never opens ends


@dataclass(frozen=True, slots=True)
class Target:
    """Business seconds to a first response and to resolution (0 = no target)."""

    first_response: float
    resolution: float


@dataclass(frozen=True, slots=True)
class Policy:
    """SLA targets per priority, counted in ``schedule``'s open hours (None: all hours).

    ``warn_at`` is the fraction of a target after which a running clock is a warning.
    """

    targets: Mapping[str, Target]
    schedule: Schedule | None = None
    warn_at: float = 0.8

    def target(self, priority: str) -> Target:
        return self.targets.get(priority) or Target(0.0, 0.0)


@dataclass(frozen=True, slots=True)
class CaseTimes:
    """What the clock reads from a case (epoch seconds)."""

    created_at: float
    first_response_at: float | None = None
    resolved_at: float | None = None
    paused_seconds: float = 0.0
    paused_since: float | None = None


@dataclass(frozen=True, slots=True)
class ClockState:
    """One clock at ``now``: ``state`` is ``running | paused | met | breached | none``."""

    target: float
    elapsed: float
    due_at: float | None
    stopped_at: float | None
    breached: bool
    warning: bool
    paused: bool

    @property
    def state(self) -> str:
        if self.target <= 0:
            return "none"
        if self.breached:
            return "breached"
        if self.stopped_at is not None:
            return "met"
        return "paused" if self.paused else "running"

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "target": self.target,
            "elapsed": round(self.elapsed, 1),
            "remaining": round(max(0.0, self.target - self.elapsed), 1) if self.target else None,
            "due_at": self.due_at,
            "stopped_at": self.stopped_at,
            "breached": self.breached,
            "warning": self.warning,
            "paused": self.paused,
        }


def _ranges(schedule: Schedule, day: date) -> tuple[TimeRange, ...]:
    holiday = schedule.holidays.get(day)
    if holiday is not None:
        return holiday.ranges
    return schedule.weekly[day.weekday()]


def _at(day: date, minute: int, zone: ZoneInfo) -> float:
    day = day + timedelta(days=minute // 1440)
    minute %= 1440
    return datetime.combine(day, dtime(minute // 60, minute % 60), zone).timestamp()


def open_intervals(schedule: Schedule, day: date) -> list[tuple[float, float]]:
    """The epoch intervals during which ``schedule`` is open from ranges starting on ``day``
    (a range wrapping past midnight ends on the next day)."""
    zone = ZoneInfo(schedule.timezone)
    out = []
    for r in _ranges(schedule, day):
        end = r.end + 1440 if r.wraps else r.end
        start_at, end_at = _at(day, r.start, zone), _at(day, end, zone)
        if end_at > start_at:
            out.append((start_at, end_at))
    return sorted(out)


def _intervals_from(schedule: Schedule, start: float) -> Iterator[tuple[float, float]]:
    first = schedule.local(start).date() - timedelta(days=1)  # yesterday's wrapped range
    for i in range(MAX_DAYS):
        yield from open_intervals(schedule, first + timedelta(days=i))


def business_seconds(schedule: Schedule | None, start: float, end: float) -> float:
    """Open seconds of ``schedule`` in ``[start, end)`` (wall seconds with no schedule)."""
    if end <= start:
        return 0.0
    if schedule is None:
        return end - start
    total = 0.0
    for a, b in _intervals_from(schedule, start):
        if a >= end:
            break
        total += max(0.0, min(b, end) - max(a, start))
    return total


def add_business(schedule: Schedule | None, start: float, seconds: float) -> float | None:
    """The instant ``seconds`` open seconds after ``start``; None if the schedule does not
    open enough within :data:`MAX_DAYS`."""
    if schedule is None:
        return start + max(0.0, seconds)
    left = max(0.0, seconds)
    for a, b in _intervals_from(schedule, start):
        if b <= start:
            continue
        a = max(a, start)
        if b - a >= left:
            return a + left
        left -= b - a
    return None


def counting_at(schedule: Schedule | None, now: float) -> tuple[bool, float | None]:
    """Whether business time passes at ``now`` (the schedule is open) and, when it does not,
    the instant it next opens: when the running clocks resume (None: open, or not within
    :data:`MAX_DAYS`)."""
    if schedule is None:
        return True, None
    opens = add_business(schedule, now, 0.0)
    if opens is not None and opens <= now:
        return True, None
    return False, opens


def resume(schedule: Schedule | None, times: CaseTimes, now: float) -> CaseTimes:
    """The case leaves pending_customer at ``now``: its pause counts as paused seconds."""
    if times.paused_since is None:
        return times
    paused = business_seconds(schedule, times.paused_since, now)
    return CaseTimes(
        times.created_at,
        times.first_response_at,
        times.resolved_at,
        times.paused_seconds + paused,
        None,
    )


def first_response_clock(policy: Policy, priority: str, times: CaseTimes, now: float) -> ClockState:
    target = policy.target(priority).first_response
    stop = times.first_response_at
    elapsed = business_seconds(policy.schedule, times.created_at, stop if stop is not None else now)
    due = add_business(policy.schedule, times.created_at, target) if target > 0 else None
    breached = target > 0 and elapsed > target
    warning = target > 0 and stop is None and not breached and elapsed >= policy.warn_at * target
    return ClockState(target, elapsed, due, stop, breached, warning, False)


def resolution_clock(policy: Policy, priority: str, times: CaseTimes, now: float) -> ClockState:
    target = policy.target(priority).resolution
    stop = times.resolved_at
    end = stop if stop is not None else now
    elapsed = business_seconds(policy.schedule, times.created_at, end) - times.paused_seconds
    paused = stop is None and times.paused_since is not None
    if times.paused_since is not None:
        elapsed -= business_seconds(policy.schedule, times.paused_since, end)
    elapsed = max(0.0, elapsed)
    due = None
    if target > 0 and not paused:
        due = add_business(policy.schedule, times.created_at, target + times.paused_seconds)
    breached = target > 0 and elapsed > target
    warning = (
        target > 0
        and stop is None
        and not paused
        and not breached
        and elapsed >= policy.warn_at * target
    )
    return ClockState(target, elapsed, due, stop, breached, warning, paused)


def clocks(policy: Policy, priority: str, times: CaseTimes, now: float) -> dict[str, ClockState]:
    """Both clocks of a case at ``now``."""
    return {
        "first_response": first_response_clock(policy, priority, times, now),
        "resolution": resolution_clock(policy, priority, times, now),
    }

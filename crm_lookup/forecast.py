"""Forecast each queue's calls and handle time per interval of a day, and the agents the
queue's service-level target then needs (Erlang C, :mod:`crm_lookup.staffing`).

Method (docs/STAFFING.md). For a day ``D`` in the site's time zone and an interval of
15, 30 or 60 minutes, the history is the same weekday of each of the past ``weeks``
weeks (``D - 7``, ``D - 14``, ...; 4 by default), each a whole local day. An interval is
known by its local wall-clock start (``09:30``), so a week across a DST change still
lines up by the clock callers live by:

* forecast calls = the mean over those weeks of the contacts that entered the queue in
  that interval (the report's "offered"). Only weeks in which the queue had at least one
  contact that day count: a day with none is taken as no data (closed, or before the
  history began), not as a quiet day. No such week: 0 calls;
* forecast AHT = the mean talk + hold + wrap-up of the answered, ended contacts of that
  interval in all those weeks together; none: the queue's ``default_handle_time``;
* agents = :func:`crm_lookup.staffing.agents_needed` for that volume and AHT over the
  interval's length, with the queue's service-level target (fraction) and time
  (``service_level`` seconds). Zero calls need zero agents.

A local hour that happens twice (autumn) holds two intervals with the same clock start:
each gets the forecast of that clock time, and a history day with the hour twice counts
each occurrence as half. An hour that does not exist on ``D`` (spring) has no interval.

The store is read by :func:`history`: one statement, the ``weeks`` local days as
``queued_at`` ranges (the ``contacts_queued`` index), grouped in SQL by queue and UTC
quarter hour, so the answer is at most ~100 rows per queue and week whatever the volume.
Every time zone in use is offset from UTC by a whole number of quarter hours, so a UTC
quarter hour lies inside one local interval; :func:`fold` (pure) turns those rows into the
forecast.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from config.errors import InvalidInput
from crm_lookup.report_time import zone
from crm_lookup.staffing import Staffing, agents_needed

if TYPE_CHECKING:
    from crm_lookup.store import Store

WEEKS = 4
MAX_WEEKS = 12
BUCKET_SECONDS = 900
INTERVALS = (15, 30, 60)


@dataclass(frozen=True, slots=True)
class QueueTarget:
    """What a queue promises: ``target`` of callers answered within ``within`` seconds,
    and the handle time to assume where the history measured none."""

    target: float = 0.8
    within: float = 20.0
    default_aht: float = 180.0


@dataclass(frozen=True, slots=True)
class IntervalForecast:
    start: float  # epoch seconds
    label: str  # local wall-clock start, "09:30"
    calls: float
    aht: float
    aht_measured: bool  # False: the queue's default handle time
    staffing: Staffing

    def to_json(self) -> dict[str, Any]:
        """``{"start", "label", "forecast_calls", "aht", "agents_needed", ...}``: the
        ``staffing`` field of a report's interval row, and the wallboard's figures."""
        return {
            "start": self.start,
            "label": self.label,
            "forecast_calls": round(self.calls, 2),
            "aht": round(self.aht, 1),
            "aht_measured": self.aht_measured,
            "agents_needed": self.staffing.agents,
            "service_level": round(self.staffing.service_level, 4),
            "occupancy": round(self.staffing.occupancy, 4),
            "asa": round(self.staffing.asa, 2),
        }


@dataclass(slots=True)
class _Week:
    offered: dict[str, int] = field(default_factory=dict)  # label -> contacts


def _check_interval(minutes: int) -> int:
    if isinstance(minutes, bool) or minutes not in INTERVALS:
        raise InvalidInput("interval must be 15, 30 or 60 (minutes)", field="interval")
    return minutes


def _midnight(day: dt.date, tz: ZoneInfo) -> float:
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz).timestamp()


def _label(at: float, tz: ZoneInfo, minutes: int) -> str:
    local = dt.datetime.fromtimestamp(at, tz)
    of_day = (local.hour * 60 + local.minute) // minutes * minutes
    return f"{of_day // 60:02d}:{of_day % 60:02d}"


def day_intervals(day: dt.date, tz: ZoneInfo, minutes: int) -> list[tuple[float, str]]:
    """``(start epoch, local clock start)`` of every interval of the local ``day``: 23 or
    25 hours' worth on a DST change."""
    size = _check_interval(minutes) * 60
    start, end = _midnight(day, tz), _midnight(day + dt.timedelta(days=1), tz)
    out: list[tuple[float, str]] = []
    at = start
    while at < end:
        out.append((at, _label(at, tz, minutes)))
        at += size
    return out


def history_days(day: dt.date, weeks: int = WEEKS) -> list[dt.date]:
    """The same weekday of each of the ``weeks`` weeks before ``day``, newest first."""
    return [day - dt.timedelta(days=7 * k) for k in range(1, weeks + 1)]


def _check_weeks(weeks: int) -> int:
    if isinstance(weeks, bool) or not isinstance(weeks, int) or not 1 <= weeks <= MAX_WEEKS:
        raise InvalidInput(f"weeks must be a whole number from 1 to {MAX_WEEKS}", field="weeks")
    return weeks


def fold(
    rows: Iterable[Sequence[Any]],
    day: dt.date,
    tz: ZoneInfo,
    minutes: int,
    *,
    weeks: int = WEEKS,
    queues: Iterable[str] = (),
    targets: Mapping[str, QueueTarget] | None = None,
    default: QueueTarget = QueueTarget(),
) -> dict[str, list[IntervalForecast]]:
    """The forecast of ``day`` from :func:`history` rows (pure).

    Args:
        rows: ``(queue, UTC quarter-hour number, contacts, handle seconds summed,
            contacts with a handle time)``.
        queues: queues to forecast even with no history (0 calls); every queue found in
            ``rows`` is forecast too.
        targets: queue -> its target; a queue not listed gets ``default``.

    Raises:
        InvalidInput: a bad interval, week count or target.
    """
    _check_interval(minutes)
    _check_weeks(weeks)
    days = history_days(day, weeks)
    ranges = [(_midnight(d, tz), _midnight(d + dt.timedelta(days=1), tz)) for d in days]
    # each history day's clock labels and how often each occurs (2 in a repeated hour)
    occurrences: list[dict[str, int]] = []
    for d in days:
        counts: dict[str, int] = {}
        for _, label in day_intervals(d, tz, minutes):
            counts[label] = counts.get(label, 0) + 1
        occurrences.append(counts)
    offered: dict[str, list[_Week]] = {}
    handle: dict[str, dict[str, list[float]]] = {}  # queue -> label -> [seconds, count]
    for queue, bucket, contacts, handle_sum, handled in rows:
        at = float(bucket) * BUCKET_SECONDS
        week = next((i for i, (lo, hi) in enumerate(ranges) if lo <= at < hi), None)
        if week is None:
            continue
        label = _label(at, tz, minutes)
        per_week = offered.setdefault(str(queue), [_Week() for _ in days])
        per_week[week].offered[label] = per_week[week].offered.get(label, 0) + int(contacts)
        acc = handle.setdefault(str(queue), {}).setdefault(label, [0.0, 0.0])
        acc[0] += float(handle_sum or 0.0)
        acc[1] += int(handled or 0)
    targets = targets or {}
    out: dict[str, list[IntervalForecast]] = {}
    for queue in sorted(set(queues) | set(offered)):
        target = targets.get(queue, default)
        per_week = offered.get(queue, [])
        known = [i for i, w in enumerate(per_week) if w.offered]
        intervals: list[IntervalForecast] = []
        for start, label in day_intervals(day, tz, minutes):
            calls = (
                sum(per_week[i].offered.get(label, 0) / occurrences[i].get(label, 1) for i in known)
                / len(known)
                if known
                else 0.0
            )
            seconds, count = handle.get(queue, {}).get(label, (0.0, 0.0))
            aht = seconds / count if count else target.default_aht
            intervals.append(
                IntervalForecast(
                    start=start,
                    label=label,
                    calls=calls,
                    aht=aht,
                    aht_measured=bool(count),
                    staffing=agents_needed(calls, aht, minutes * 60, target.target, target.within),
                )
            )
        out[queue] = intervals
    return out


async def history(
    store: Store,
    day: dt.date,
    tz: ZoneInfo,
    *,
    weeks: int = WEEKS,
    queue: str | None = None,
) -> list[Any]:
    """The rows :func:`fold` takes, for the ``weeks`` same weekdays before ``day`` (one
    indexed, grouped statement; ``queue`` narrows it to one queue)."""
    _check_weeks(weeks)
    params: list[Any] = []
    ranges: list[str] = []
    for d in history_days(day, weeks):
        ranges.append("(queued_at >= ? AND queued_at < ?)")
        params += [_midnight(d, tz), _midnight(d + dt.timedelta(days=1), tz)]
    where = "(" + " OR ".join(ranges) + ")"
    if queue is not None:
        where += " AND queue = ?"
        params.append(queue)
    bucket = store.dialect.slot("queued_at", BUCKET_SECONDS)
    return await store.fetchall(
        f"SELECT queue, {bucket}, count(*),"
        " sum(CASE WHEN talk_seconds IS NULL THEN NULL"
        " ELSE talk_seconds + hold_seconds + coalesce(wrapup_seconds, 0) END),"
        " count(talk_seconds)"
        f" FROM contacts WHERE {where} GROUP BY 1, 2",
        params,
    )


async def forecast_day(
    store: Store,
    day: dt.date,
    tz: str | ZoneInfo,
    minutes: int,
    *,
    weeks: int = WEEKS,
    queues: Iterable[str] = (),
    targets: Mapping[str, QueueTarget] | None = None,
    only: str | None = None,
) -> dict[str, list[IntervalForecast]]:
    """Every queue's forecast for the local ``day`` (see the module docstring).

    Args:
        tz: an IANA name or zone (the site's: ``settings.site.timezone``).
        minutes: 15, 30 or 60.
        queues: queues to include even without history (the queue file's).
        targets: queue -> :class:`QueueTarget`.
        only: read and forecast this one queue.

    Raises:
        InvalidInput: unknown zone, bad interval or week count.
    """
    zone_info = tz if isinstance(tz, ZoneInfo) else zone(tz)
    _check_interval(minutes)
    rows = await history(store, day, zone_info, weeks=weeks, queue=only)
    wanted = [only] if only is not None else list(queues)
    result = fold(rows, day, zone_info, minutes, weeks=weeks, queues=wanted, targets=targets)
    return {only: result[only]} if only is not None else result


async def forecast_for(
    store: Store,
    queue: str,
    day: dt.date,
    tz: str | ZoneInfo,
    interval: int,
    *,
    target: QueueTarget | None = None,
    weeks: int = WEEKS,
) -> dict[float, dict[str, Any]]:
    """One queue's forecast of ``day`` by interval start (epoch seconds) ->
    :meth:`IntervalForecast.to_json` (``forecast_calls``, ``aht``, ``agents_needed``, ...),
    for the report's interval rows to carry as ``staffing``.

    Raises:
        InvalidInput: unknown zone, bad interval or week count.
    """
    targets = {queue: target} if target is not None else None
    result = await forecast_day(store, day, tz, interval, weeks=weeks, targets=targets, only=queue)
    return {f.start: f.to_json() for f in result[queue]}

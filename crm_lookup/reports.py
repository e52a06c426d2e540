"""Contact-center reports per queue, agent, day, interval, disposition or channel.

Two engines live here. :func:`run_report` is the report of the console, the API and the
CLI: days and intervals in any time zone, the measures of
:mod:`crm_lookup.report_measures` (definitions there), calls in progress apart, the
reader's scope, summed in the database (:mod:`crm_lookup.report_query`) and folded into
local buckets (:mod:`crm_lookup.report_time`). :func:`build_report` below is the older,
plain one — every contact of the period read into Python, UTC only — kept for the
wallboard's seed of today's UTC intervals and as the peer bench/reports.py measures
against.

Theory of operation of :func:`build_report`: the population is every contact that entered a queue in
``[start, end)`` (by the time it was first queued). ``aggregate`` is a pure function of
those contacts' facts, so the arithmetic is tested without a database. Definitions:

* offered — contacts that entered the queue (per agent: distinct contacts that rang the
  agent in the period);
* answered — an agent picked up; ``abandoned`` — the caller hung up in the queue after
  waiting at least ``short_abandon`` seconds; ``short_abandoned`` — before that (counted
  apart, and left out of the service-level denominator); ``other`` — everything else
  (callback, voicemail, overflow, failed, still waiting);
* ASA — mean wait of answered contacts; AHT — mean talk + hold + wrap-up of answered
  contacts that ended; service level — answered within ``sl_threshold`` seconds divided
  by (offered − short abandoned), in percent; longest wait — over every offered contact.

Days and intervals are in UTC; empty buckets between start and end are reported as
zero rows so charts have no gaps.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from config.errors import InvalidInput

if TYPE_CHECKING:
    from crm_lookup.store import Store

GROUPINGS = ("queue", "agent", "day", "interval")
MAX_BUCKETS = 10_000


@dataclass(frozen=True, slots=True)
class ContactFacts:
    """What a report needs from one contact."""

    queue: str
    agent_id: str
    queued_at: float
    answered: bool
    wait_seconds: float | None
    handle_seconds: float | None
    outcome: str


@dataclass(frozen=True, slots=True)
class ReportRow:
    key: str
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    other: int = 0
    #: open when the service stopped, gone when it came back (outcome lost_during_outage)
    lost: int = 0
    asa: float | None = None
    aht: float | None = None
    service_level: float | None = None
    longest_wait: float | None = None

    def to_json(self) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 2)

        return {
            "key": self.key,
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "short_abandoned": self.short_abandoned,
            "other": self.other,
            "lost": self.lost,
            "asa": r(self.asa),
            "aht": r(self.aht),
            "service_level": r(self.service_level),
            "longest_wait": r(self.longest_wait),
        }


FIELDS = tuple(ReportRow.__dataclass_fields__)


def bucket_key(at: float, by: str, interval_minutes: int) -> str:
    if by == "day":
        return time.strftime("%Y-%m-%d", time.gmtime(at))
    size = interval_minutes * 60
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(at - at % size))


def _bucket_keys(start: float, end: float, by: str, interval_minutes: int) -> list[str]:
    size = 86400 if by == "day" else interval_minutes * 60
    first = start - start % size
    if (end - first) / size > MAX_BUCKETS:
        raise InvalidInput(f"more than {MAX_BUCKETS} {by} rows; choose a shorter period")
    keys: list[str] = []
    at = first
    while at < end:
        keys.append(bucket_key(at, by, interval_minutes))
        at += size
    return keys


def _row(
    key: str, facts: list[ContactFacts], offered: int | None, sl: float, short: float
) -> ReportRow:
    answered = [f for f in facts if f.answered]
    lost = sum(1 for f in facts if not f.answered and f.outcome == "lost_during_outage")
    abandoned = short_abandoned = 0
    for f in facts:
        if not f.answered and f.outcome == "abandoned_queue":
            if (f.wait_seconds or 0.0) < short:
                short_abandoned += 1
            else:
                abandoned += 1
    waits = [f.wait_seconds for f in answered if f.wait_seconds is not None]
    handles = [f.handle_seconds for f in answered if f.handle_seconds is not None]
    all_waits = [f.wait_seconds for f in facts if f.wait_seconds is not None]
    count = len(facts) if offered is None else offered
    denominator = len(facts) - short_abandoned
    within = sum(1 for w in waits if w <= sl)
    return ReportRow(
        key=key,
        offered=count,
        answered=len(answered),
        abandoned=abandoned,
        short_abandoned=short_abandoned,
        other=max(0, len(facts) - len(answered) - abandoned - short_abandoned - lost),
        lost=lost,
        asa=sum(waits) / len(waits) if waits else None,
        aht=sum(handles) / len(handles) if handles else None,
        service_level=100.0 * within / denominator if denominator > 0 else None,
        longest_wait=max(all_waits) if all_waits else None,
    )


def aggregate(
    facts: Iterable[ContactFacts],
    by: str,
    *,
    start: float | None = None,
    end: float | None = None,
    interval_minutes: int = 15,
    sl_threshold: float = 20,
    short_abandon: float = 5,
    agent_offers: dict[str, int] | None = None,
) -> list[ReportRow]:
    """Group and compute (see the module docstring). Pure.

    Raises:
        InvalidInput: unknown grouping or interval.
    """
    check_grouping(by, interval_minutes)
    groups: dict[str, list[ContactFacts]] = {}
    for f in facts:
        if by == "queue":
            key = f.queue
        elif by == "agent":
            key = f.agent_id
            if not key:
                continue
        else:
            key = bucket_key(f.queued_at, by, interval_minutes)
        groups.setdefault(key, []).append(f)
    if by in ("day", "interval") and start is not None and end is not None:
        for key in _bucket_keys(start, end, by, interval_minutes):
            groups.setdefault(key, [])
    if by == "agent" and agent_offers:
        for agent in agent_offers:
            groups.setdefault(agent, [])
    rows = []
    for key in sorted(groups):
        offered = None if agent_offers is None else agent_offers.get(key, len(groups[key]))
        rows.append(_row(key, groups[key], offered, sl_threshold, short_abandon))
    return rows


def check_grouping(by: str, interval_minutes: int) -> None:
    if by not in GROUPINGS:
        raise InvalidInput(f"--by must be one of {', '.join(GROUPINGS)}", field="by")
    if interval_minutes not in (15, 30, 60):
        raise InvalidInput("--interval must be 15, 30 or 60 minutes", field="interval")


async def build_report(
    store: Store,
    start: float,
    end: float,
    by: str,
    interval_minutes: int = 15,
    sl_threshold: float = 20,
    short_abandon: float = 5,
) -> list[ReportRow]:
    """Report rows for contacts queued in ``[start, end)`` (epoch seconds).

    Args:
        by: ``queue``, ``agent``, ``day`` or ``interval``.
        interval_minutes: 15, 30 or 60 for ``by="interval"``.
        sl_threshold: answered within this many seconds counts toward service level.
        short_abandon: abandons quicker than this are counted apart.

    Raises:
        InvalidInput: start not before end, unknown grouping or interval, negative
            thresholds.
    """
    check_grouping(by, interval_minutes)
    if start >= end:
        raise InvalidInput("the period must start before it ends", field="from")
    if sl_threshold < 0 or short_abandon < 0:
        raise InvalidInput("thresholds must not be negative", field="sl_threshold")
    rows = await store.fetchall(
        "SELECT queue, agent_id, queued_at, answered_at IS NOT NULL, wait_seconds,"
        " CASE WHEN talk_seconds IS NULL THEN NULL"
        " ELSE talk_seconds + hold_seconds + coalesce(wrapup_seconds, 0) END, outcome"
        " FROM contacts WHERE queued_at >= ? AND queued_at < ?",
        (start, end),
    )
    facts = [ContactFacts(r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6]) for r in rows]
    offers = None
    if by == "agent":
        offer_rows = await store.fetchall(
            f"SELECT {store.dialect.json_text('data', 'agent_id')}, count(DISTINCT contact_key)"
            " FROM contact_events WHERE kind = 'offered' AND at >= ? AND at < ? GROUP BY 1",
            (start, end),
        )
        offers = {r[0]: int(r[1]) for r in offer_rows}
    return aggregate(
        facts,
        by,
        start=start,
        end=end,
        interval_minutes=interval_minutes,
        sl_threshold=sl_threshold,
        short_abandon=short_abandon,
        agent_offers=offers,
    )


# ---------------------------------------------------------------------- run_report


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """What :func:`run_report` reports on.

    Args:
        by: ``queue``, ``agent``, ``day``, ``interval``, ``disposition`` or ``channel``.
        start, end: the period, epoch seconds, ``[start, end)``.
        tz: the zone of days and intervals (and of the ISO times in the answer).
        interval: 15, 30 or 60 minutes, for ``by="interval"``.
        empty: keep days / intervals with no contacts (None: days yes, intervals no).
        scope: whose contacts the reader may count (report_query.Scope).
        agents: the agents whose state time the reader may see (None: all).
        agent_names: agent id -> name, for labels.
    """

    by: str
    start: float
    end: float
    tz: Any = None
    interval: int = 15
    queue: str | None = None
    agent: str | None = None
    #: only this channel's contacts (voice, chat, email)
    channel: str | None = None
    empty: bool | None = None
    sl_threshold: float = 20.0
    short_abandon: float = 5.0
    scope: Any = None
    agents: frozenset[str] | None = None
    agent_names: Any = None
    now: float | None = None


REPORT_GROUPINGS = ("queue", "agent", "day", "interval", "disposition", "channel")


async def run_report(store: Store, q: ReportQuery) -> dict[str, Any]:
    """The report answer (docs/ARCHITECTURE.md "Reports"): rows, totals, in progress.

    Raises:
        InvalidInput: an unknown grouping or interval, start not before end, more than
            10,000 rows of days or intervals, negative thresholds.
    """
    import datetime as dt

    from crm_lookup.report_measures import (
        AGENT_MEASURES,
        MEASURES,
        Sums,
        agent_measures,
        measures,
    )
    from crm_lookup.report_query import (
        Scope,
        check_channel,
        offered_by_agent,
        quality_by_agent,
        state_seconds,
        sums_by,
    )
    from crm_lookup.report_time import Buckets, iso

    if q.by not in REPORT_GROUPINGS:
        raise InvalidInput(f"by must be one of {', '.join(REPORT_GROUPINGS)}", field="by")
    if q.interval not in (15, 30, 60):
        raise InvalidInput("interval must be 15, 30 or 60 (minutes)", field="interval")
    if q.start >= q.end:
        raise InvalidInput("the period must start before it ends", field="from")
    if q.sl_threshold < 0 or q.short_abandon < 0:
        raise InvalidInput("thresholds must not be negative", field="sl_threshold")
    if q.channel:
        check_channel(q.channel)
    tz = q.tz or dt.UTC
    scope = q.scope or Scope()
    names = q.agent_names or {}
    now = time.time() if q.now is None else q.now
    buckets = Buckets(q.by, tz, q.interval) if q.by in ("day", "interval") else None
    if buckets is not None:
        buckets.between(q.start, q.end)  # the 10,000-row bound, before any query
    # by agent: contacts no agent touched are the group '' (in the totals, not a row)
    groups = await sums_by(
        store,
        q.by,
        q.start,
        q.end,
        scope=scope,
        queue=q.queue,
        agent=q.agent,
        channel=q.channel,
        sl_threshold=q.sl_threshold,
        short_abandon=q.short_abandon,
    )
    totals = Sums()
    for sums in groups.values():
        totals.add(sums)

    def base_filter(start: float, end: float) -> dict[str, Any]:
        return {
            "queue": q.queue,
            "agent": q.agent or scope.agent,
            "disposition": None,
            "channel": q.channel,
            "from": iso(start, tz),
            "to": iso(end, tz),
            "start": start,
            "end": end,
        }

    rows: list[dict[str, Any]] = []
    if buckets is not None:
        folded: dict[str, Sums] = {}
        seen: dict[str, Any] = {}
        for slot, sums in groups.items():
            bucket = buckets.of_slot(int(slot))
            seen[bucket.key] = bucket
            folded.setdefault(bucket.key, Sums()).add(sums)
        keep_empty = q.by == "day" if q.empty is None else q.empty
        if keep_empty:
            for bucket in buckets.between(q.start, q.end):
                seen.setdefault(bucket.key, bucket)
        for bucket in sorted(seen.values(), key=lambda b: b.start):
            sums = folded.get(bucket.key, Sums())
            row = {"key": bucket.key, "label": bucket.label, "start": bucket.start}
            row["end"] = bucket.end
            row.update(measures(sums))
            row["filter"] = base_filter(max(bucket.start, q.start), min(bucket.end, q.end))
            rows.append(row)
    elif q.by == "agent":
        visible = q.agents
        if scope.agent:
            visible = frozenset({scope.agent})
        if q.agent:
            visible = frozenset({q.agent}) if visible is None else visible & {q.agent}
        states = await state_seconds(
            store, q.start, q.end, now, None if visible is None else sorted(visible)
        )
        keys = {k for k in groups if k} | set(states)
        offered = await offered_by_agent(
            store, q.start, q.end, scope=scope, queue=q.queue, agent=q.agent, channel=q.channel
        )
        if visible is not None:
            offered = {k: v for k, v in offered.items() if k in visible}
        keys |= set(offered)
        quality = await quality_by_agent(
            store, q.start, q.end, scope=scope, queue=q.queue, agent=q.agent, channel=q.channel
        )
        for key in sorted(keys):
            sums = groups.get(key, Sums())
            row = {"key": key, "label": names.get(key) or key}
            row.update(measures(sums))
            row.update(agent_measures(sums, states.get(key, {})))
            # offered: presented to the agent, and so is its drill-down; every other
            # figure (service level's base too) is of the contacts the agent ended with
            row["offered"] = offered.get(key, 0)
            row["drill"] = {"offered": "presented"}
            row["evaluations"], row["quality_score"] = quality.get(key, (0, None))
            row["filter"] = {**base_filter(q.start, q.end), "agent": key}
            rows.append(row)
    else:
        for key in sorted(groups):
            row = {"key": key, "label": key}
            row.update(measures(groups[key]))
            row["filter"] = {**base_filter(q.start, q.end), q.by: key}
            rows.append(row)
    listed = [*MEASURES, *(AGENT_MEASURES if q.by == "agent" else ())]
    return {
        "by": q.by,
        "from": iso(q.start, tz),
        "to": iso(q.end, tz),
        "start": q.start,
        "end": q.end,
        "tz": getattr(tz, "key", "UTC"),
        "interval": q.interval,
        "measures": listed,
        "rows": rows,
        "totals": measures(totals),
        "in_progress": {
            "contacts": totals.in_progress,
            "waiting": totals.in_waiting,
            "talking": totals.in_progress - totals.in_waiting,
        },
    }

"""The SQL behind reports and their drill-down: sums per group, agents' state time, the
contacts behind a number. Portable SQL (crm_lookup.database), one statement each.

Theory of operation: the contacts of the period are found by ``queued_at`` (index
``contacts_queued``; ``contacts_queue_queued`` / ``contacts_agent_queued`` of migration 14
when one queue or one agent is asked for, ``contacts_channel_queued`` of migration 17 for
one channel) and summed in the database, per group, into
the additive figures of :class:`crm_lookup.report_measures.Sums`: only one row per group
comes back (a queue, an agent, a disposition, a channel, or a 15-minute UTC slot that
:mod:`crm_lookup.report_time` folds into local days and intervals), never a row per
contact. Agents' state time is the overlap of each row of ``agent_state_log`` with the
period, summed per agent, state and reason.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from config.errors import InvalidInput
from crm_lookup.contacts import CHANNELS, contact_from_row, select_contact
from crm_lookup.models import Contact
from crm_lookup.report_measures import Sums
from crm_lookup.report_time import SLOT

if TYPE_CHECKING:
    from crm_lookup.database import Dialect
    from crm_lookup.store import Store

GROUP_COLUMNS = {
    "queue": "queue",
    "agent": "agent_id",
    "disposition": "disposition",
    "channel": "channel",
}

DONE = "ended_at IS NOT NULL"
ANSWERED = f"{DONE} AND answered_at IS NOT NULL"
UNANSWERED = f"{DONE} AND answered_at IS NULL"
HANDLED = f"{ANSWERED} AND talk_seconds IS NOT NULL"
# a chat's or an email's first agent reply (a call's first response is its answer: ASA)
RESPONDED = f"{DONE} AND channel <> 'voice' AND first_response_at IS NOT NULL"


def _count(cond: str) -> str:
    return f"sum(CASE WHEN {cond} THEN 1 ELSE 0 END)"


def _total(cond: str, value: str) -> str:
    return f"sum(CASE WHEN {cond} THEN {value} ELSE 0 END)"


# The columns of Sums, in its field order; ?1 is the short-abandon threshold, ?2 the
# service-level threshold (seconds).
SUM_COLUMNS = (
    _count(DONE),
    _count(ANSWERED),
    _count(f"{UNANSWERED} AND outcome = 'abandoned_queue' AND coalesce(wait_seconds, 0) >= ?1"),
    _count(f"{UNANSWERED} AND outcome = 'abandoned_queue' AND coalesce(wait_seconds, 0) < ?1"),
    _count(f"{UNANSWERED} AND outcome = 'callback'"),
    _count(f"{UNANSWERED} AND outcome NOT IN ('abandoned_queue', 'callback')"),
    _count(f"{ANSWERED} AND coalesce(wait_seconds, 0) <= ?2"),
    _total(ANSWERED, "coalesce(wait_seconds, 0)"),
    _total(f"{DONE} AND wait_seconds IS NOT NULL", "wait_seconds"),
    _count(f"{DONE} AND wait_seconds IS NOT NULL"),
    f"max(CASE WHEN {DONE} THEN wait_seconds END)",
    _total(HANDLED, "talk_seconds + hold_seconds + coalesce(wrapup_seconds, 0)"),
    _count(HANDLED),
    _total(HANDLED, "talk_seconds"),
    _total(HANDLED, "hold_seconds"),
    _total(HANDLED, "coalesce(wrapup_seconds, 0)"),
    _total(DONE, "transfers"),
    _count("ended_at IS NULL"),
    _count("ended_at IS NULL AND answered_at IS NULL"),
    _total(RESPONDED, "first_response_at - queued_at"),
    _count(RESPONDED),
)

#: the contacts behind each measure (drill-down), ?1 as in SUM_COLUMNS; ``presented`` is
#: an agent row's ``offered`` (the row's ``drill`` names it): the ended contacts presented
#: to the agent named, where every other measure counts the contacts the agent ended with
MEASURE_WHERE = {
    "offered": DONE,
    "presented": DONE,
    "answered": ANSWERED,
    "calls": ANSWERED,
    "abandoned": f"{UNANSWERED} AND outcome = 'abandoned_queue' AND coalesce(wait_seconds, 0) >= ?",
    "short_abandoned": (
        f"{UNANSWERED} AND outcome = 'abandoned_queue' AND coalesce(wait_seconds, 0) < ?"
    ),
    "callbacks": f"{UNANSWERED} AND outcome = 'callback'",
    "other": f"{UNANSWERED} AND outcome NOT IN ('abandoned_queue', 'callback')",
    "transfers": f"{DONE} AND transfers > 0",
    "first_response": RESPONDED,
    "in_progress": "ended_at IS NULL",
    "waiting": "ended_at IS NULL AND answered_at IS NULL",
    "talking": "ended_at IS NULL AND answered_at IS NOT NULL",
}
_THRESHOLD_MEASURES = {"abandoned", "short_abandoned"}
# a contact presented to an agent: its phone rang, or the chat or email was assigned
# (both write an ``offered`` milestone; the UNIQUE (contact_key, kind, ident) index finds
# a contact's)
_PRESENTED = (
    "EXISTS (SELECT 1 FROM contact_events e WHERE e.contact_key = contacts.key"
    " AND e.kind = 'offered' AND {agent} = ?)"
)
MAX_ROWS = 100_000  # one export; a page of the list is at most 200 (the API's bound)


@dataclass(frozen=True, slots=True)
class Scope:
    """Which contacts a reader may count: ``queues`` None is every queue; ``agent`` set
    is one agent's own contacts (an agent reading their figures)."""

    queues: frozenset[str] | None = None
    agent: str | None = None


def _where(
    dialect: Dialect,
    start: float,
    end: float,
    scope: Scope,
    queue: str | None,
    agent: str | None,
    channel: str | None = None,
    *,
    presented: bool = False,
) -> tuple[str, list[Any]]:
    """The population's WHERE on ``contacts``. An agent named (the filter's or the
    reader's own) is the agent the contact ended with (``agent_id``); ``presented``
    (only an agent row's offered, measure ``presented``): one it was presented to (rang,
    or was assigned: an ``offered`` milestone), not only the agent who ended with it."""
    parts = ["queued_at >= ?", "queued_at < ?"]
    params: list[Any] = [start, end]
    if queue:
        parts.append("queue = ?")
        params.append(queue)
    if channel:
        check_channel(channel)
        parts.append("channel = ?")
        params.append(channel)
    for who in sorted({a for a in (agent, scope.agent) if a}):
        parts.append(
            _PRESENTED.format(agent=dialect.json_text("e.data", "agent_id"))
            if presented
            else "agent_id = ?"
        )
        params.append(who)
    if scope.queues is not None:
        parts.append(f"queue IN {dialect.json_values()}")
        params.append(json.dumps(sorted(scope.queues)))
    return " AND ".join(parts), params


def check_channel(channel: str) -> str:
    """``channel`` itself when it is one of :data:`CHANNELS`.

    Raises:
        InvalidInput(field="channel"): anything else.
    """
    if channel not in CHANNELS:
        raise InvalidInput(f"channel must be one of {', '.join(CHANNELS)}", field="channel")
    return channel


async def quality_by_agent(
    store: Store,
    start: float,
    end: float,
    *,
    scope: Scope,
    queue: str | None = None,
    agent: str | None = None,
    channel: str | None = None,
) -> dict[str, tuple[int, float | None]]:
    """Per agent: how many of the report's own contacts (the same period, scope and
    filters as :func:`sums_by`) were evaluated, and their mean score (None when none was
    scored). So a supervisor sees only scores of their queues' contacts, and a
    ``queue=`` report only that queue's."""
    where, params = _where(store.dialect, start, end, scope, queue, agent, channel)
    rows = await store.fetchall(
        "SELECT agent_id, count(*), avg(score) FROM evaluations"
        f" WHERE contact_id IN (SELECT id FROM contacts WHERE {where}) GROUP BY agent_id",
        params,
    )
    return {str(r[0]): (int(r[1]), None if r[2] is None else round(float(r[2]), 2)) for r in rows}


async def sums_by(
    store: Store,
    by: str,
    start: float,
    end: float,
    *,
    scope: Scope,
    queue: str | None = None,
    agent: str | None = None,
    channel: str | None = None,
    sl_threshold: float = 20.0,
    short_abandon: float = 5.0,
) -> dict[Any, Sums]:
    """Sums per group of contacts queued in ``[start, end)``: keyed by queue, agent id,
    disposition or channel, or (``day`` / ``interval``) by 15-minute UTC slot number."""
    if by in GROUP_COLUMNS:
        group = GROUP_COLUMNS[by]
    elif by in ("day", "interval"):
        group = store.dialect.slot("queued_at", SLOT)
    else:
        raise InvalidInput(f"unknown grouping {by!r}", field="by")
    where, params = _where(store.dialect, start, end, scope, queue, agent, channel)
    sql = f"SELECT {group} AS g, {', '.join(SUM_COLUMNS)} FROM contacts WHERE {where} GROUP BY 1"
    rows = await store.fetchall(sql, [short_abandon, sl_threshold, *params])
    return {row[0]: Sums.from_row(tuple(row)[1:]) for row in rows}


async def offered_by_agent(
    store: Store,
    start: float,
    end: float,
    *,
    scope: Scope,
    queue: str | None = None,
    agent: str | None = None,
    channel: str | None = None,
) -> dict[str, int]:
    """Per agent, the ended contacts of the population (as :func:`sums_by`'s) presented
    to them: calls that rang their phone, answered there or not, and chats and emails
    assigned to them, each contact once per agent. ``agent`` / ``scope.agent`` keep
    that agent's count only."""
    where, params = _where(
        store.dialect, start, end, dataclasses.replace(scope, agent=None), queue, None, channel
    )
    who = store.dialect.json_text("e.data", "agent_id")
    for name in sorted({a for a in (agent, scope.agent) if a}):
        where += f" AND {who} = ?"
        params.append(name)
    rows = await store.fetchall(
        f"SELECT {who}, count(DISTINCT e.contact_key) FROM contact_events e"
        " JOIN contacts ON contacts.key = e.contact_key"
        f" WHERE e.kind = 'offered' AND {DONE} AND {where} GROUP BY 1",
        params,
    )
    return {str(r[0]): int(r[1]) for r in rows if r[0]}


async def state_seconds(
    store: Store,
    start: float,
    end: float,
    now: float,
    agents: Sequence[str] | None = None,
) -> dict[str, dict[tuple[str, str], float]]:
    """Per agent, seconds in each (state, reason) inside ``[start, end)``; a state still
    running counts up to ``now``. ``agents`` None: every agent."""
    d = store.dialect
    until = min(now, end)
    who = ""
    params: list[Any] = []
    if agents is not None:
        who = f" AND agent_id IN {d.json_values()}"
    overlap = d.greatest("0", f"{d.least('e', '?')} - {d.greatest('started_at', '?')}")
    closed = (
        "SELECT agent_id, state, reason, started_at, ended_at AS e FROM agent_state_log"
        f" WHERE ended_at > ? AND started_at < ?{who}"
    )
    running = (
        "SELECT agent_id, state, reason, started_at, CAST(? AS double precision) AS e"
        f" FROM agent_state_log WHERE ended_at IS NULL AND started_at < ?{who}"
    )
    names = json.dumps(sorted(agents)) if agents is not None else None
    params = [end, start, start, end, *([names] if names else []), until, end]
    params += [names] if names else []
    sql = (
        f"SELECT agent_id, state, reason, sum({overlap}) FROM ({closed} UNION ALL {running}) s"
        " GROUP BY agent_id, state, reason"
    )
    out: dict[str, dict[tuple[str, str], float]] = {}
    for row in await store.fetchall(sql, params):
        seconds = float(row[3] or 0.0)
        if seconds > 0:
            out.setdefault(str(row[0]), {})[(str(row[1]), str(row[2]))] = seconds
    return out


@dataclass(frozen=True, slots=True)
class ContactQuery:
    """The drill-down's filters (``GET /api/reports/contacts``)."""

    start: float
    end: float
    queue: str | None = None
    agent: str | None = None
    channel: str | None = None
    outcome: str | None = None
    disposition: str | None = None
    customer_id: int | None = None
    measure: str | None = None
    short_abandon: float = 5.0


async def find_contacts(
    store: Store, query: ContactQuery, scope: Scope, limit: int = 50, offset: int = 0
) -> tuple[list[Contact], int]:
    """One page of the contacts queued in the period that match, oldest first, and how
    many match in all.

    Raises:
        InvalidInput: an unknown measure, limit outside 1..MAX_ROWS, negative offset;
            (field ``agent``) measure ``presented`` with no agent named nor an agent
            reader.
    """
    if not 1 <= limit <= MAX_ROWS or offset < 0:
        raise InvalidInput(f"limit must be 1..{MAX_ROWS} and offset not negative", field="limit")
    presented = query.measure == "presented"
    if presented and not (query.agent or scope.agent):
        raise InvalidInput("measure presented needs an agent", field="agent")
    where, params = _where(
        store.dialect,
        query.start,
        query.end,
        scope,
        query.queue,
        query.agent,
        query.channel,
        presented=presented,
    )
    if query.outcome:
        where += " AND outcome = ?"
        params.append(query.outcome)
    if query.disposition is not None:
        where += " AND disposition = ?"
        params.append(query.disposition)
    if query.customer_id is not None:
        where += " AND customer_id = ?"
        params.append(query.customer_id)
    if query.measure:
        condition = MEASURE_WHERE.get(query.measure)
        if condition is None:
            raise InvalidInput(
                f"measure must be one of {', '.join(MEASURE_WHERE)}", field="measure"
            )
        where += f" AND {condition}"
        if query.measure in _THRESHOLD_MEASURES:
            params.append(query.short_abandon)
    total = await store.fetchone(f"SELECT count(*) FROM contacts WHERE {where}", params)
    rows = await store.fetchall(
        select_contact(store.dialect) + f" WHERE {where} ORDER BY queued_at, id LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return [contact_from_row(r) for r in rows], int(total[0]) if total else 0

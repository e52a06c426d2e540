"""The demo's past: about five weeks of contacts and agent states before today, so a
fresh demo's report pages ("last week"), drill-down, exports and the wallboard's staffing
forecast (the same weekday of the past four weeks) have something to show.

Theory of operation. For each local day (the site's zone, ``settings.site.timezone``)
of the ``DAYS`` before today, a small simulation of the demo's queues and agents (read
from the queue file): callers arrive as a Poisson stream per queue whose rate follows a
business-hours curve (a morning ramp, a lunch peak, a quiet late afternoon; Mondays
busier, Saturday mornings light, Sundays closed); each waits for the longest-idle free
agent who serves the queue, and hangs up when their patience runs out first (a few at
once: short abandons) or meets the queue's ``max_wait`` action (callback, voicemail,
overflow). Agents work 9-hour shifts with two short breaks and lunch (not ready, by
reason), taken after the call in hand. The bad interval a supervisor can click into:
every Monday 10:00-10:50 all agents but one are in the team meeting (not ready, "meeting")
while the Monday morning peak arrives, so waits grow, callers abandon and the service
level of that hour dips.

The rows are written as the live system writes them: every contact as its milestones in
``contact_events`` (arrived, IVR, queued, offered, answered, held / unheld, a transfer
note, ended, wrap-up), so the triggers of :mod:`crm_lookup.schema` build the contact
rows (waits, talk, hold, wrap-up, transfers, the customer linked by phone) and the
contact page shows a timeline; the agents' states straight into ``agent_state_log``.
Both with ``tx.insert_rows`` in one transaction: a few thousand contacts in well under
a second. Contact keys start with ``demo-hist-``; a database holding any such contact is
left alone (seeding twice adds nothing). Deterministic for a given seed and day.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from config.settings import Settings
from crm_lookup.demo import DEMO_CUSTOMERS
from crm_lookup.report_time import zone
from crm_lookup.store import Store
from routing.acd.config import load_queue_file

KEY_PREFIX = "demo-hist-"
DAYS = 35
MEETING = (10 * 3600, 50 * 60)  # Mondays: the team meeting's local start and length
# calls per business hour by local hour: ramp, lunch peak, quiet end of day
HOUR_CURVE = {
    8: 0.5,
    9: 0.9,
    10: 1.0,
    11: 1.0,
    12: 1.25,
    13: 1.1,
    14: 0.8,
    15: 0.8,
    16: 0.65,
    17: 0.35,
}
WEEKDAY_FACTOR = (1.35, 1.05, 1.0, 1.0, 0.9, 0.3, 0.0)  # Monday .. Sunday
NOTES = {
    "resolved": ("Answered the question.", "Updated the address.", "Explained the invoice."),
    "follow-up": ("Will call back tomorrow.", "Sent the form by email.", "Waiting for logs."),
    "escalated": ("Passed to second line.", "Needs a supervisor's approval."),
    "sale": ("Ordered the annual plan.", "Added two seats."),
    "wrong number": ("Wanted another company.",),
}
EVENT_COLUMNS = ("contact_key", "kind", "ident", "at", "data")
STATE_COLUMNS = ("agent_id", "state", "reason", "started_at", "ended_at")


@dataclass(frozen=True, slots=True)
class HistoryQueue:
    name: str
    max_wait: float = 0.0
    max_wait_action: str = "hangup"
    wrap_up: float = 30.0
    handle_time: float = 240.0
    priority: bool = False


@dataclass(frozen=True, slots=True)
class HistoryAgent:
    agent_id: str
    queues: tuple[str, ...]


@dataclass(slots=True)
class _Shift:
    agent: HistoryAgent
    start: float
    end: float
    breaks: list[tuple[float, float, str]]  # planned start, length, reason
    free_at: float = 0.0
    taken: list[tuple[float, float, str]] = field(default_factory=list)  # start, end, reason
    busy: list[tuple[float, float, str]] = field(default_factory=list)  # start, end, state

    def _walk(self, t: float) -> tuple[float, list[tuple[float, float, str]]]:
        """When the agent can next take a call arriving at ``t`` (inf: not today), and
        the breaks taken before then (each after the call in hand)."""
        at = max(t, self.free_at, self.start)
        cursor = max(self.free_at, self.start)
        taken = []
        for planned, length, reason in self.breaks:
            if planned > at:
                break
            begin = max(planned, cursor)
            cursor = begin + length
            taken.append((begin, cursor, reason))
            at = max(at, cursor)
        return (at if at < self.end else math.inf), taken

    def available(self, t: float) -> float:
        return self._walk(t)[0]

    def take(self, at: float, busy: Sequence[tuple[float, float, str]]) -> None:
        _, taken = self._walk(at)
        self.taken += taken
        del self.breaks[: len(taken)]
        self.busy += busy
        self.free_at = busy[-1][1]

    def close(self) -> list[tuple[str, str, str, float, float]]:
        """The day's state rows: breaks still due, then ready in every gap."""
        self.take_remaining()
        spans = sorted(
            [(s, e, "not_ready", r) for s, e, r in self.taken]
            + [(s, e, state, "") for s, e, state in self.busy]
        )
        rows: list[tuple[str, str, str, float, float]] = []
        at = self.start
        for begin, end, state, reason in spans:
            if begin > at:
                rows.append((self.agent.agent_id, "ready", "", at, begin))
            if end > begin:
                rows.append((self.agent.agent_id, state, reason, begin, end))
            at = max(at, end)
        if at < self.end:
            rows.append((self.agent.agent_id, "ready", "", at, self.end))
        return rows

    def take_remaining(self) -> None:
        cursor = max(self.free_at, self.start)
        for planned, length, reason in self.breaks:
            if planned >= self.end:
                break
            begin = max(planned, cursor)
            cursor = begin + length
            self.taken.append((begin, cursor, reason))
        self.breaks.clear()


def _local(day: dt.date, seconds: float, tz: ZoneInfo) -> float:
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    return (midnight + dt.timedelta(seconds=seconds)).timestamp()


def _shifts(
    day: dt.date, agents: Sequence[HistoryAgent], tz: ZoneInfo, rng: random.Random
) -> list[_Shift]:
    weekday = day.weekday()
    if WEEKDAY_FACTOR[weekday] == 0:
        return []
    shifts = []
    for index, agent in enumerate(agents):
        if weekday == 5:  # Saturday morning: a skeleton crew
            if index % 2:
                continue
            start = 9 * 3600
            shifts.append(
                _Shift(agent, _local(day, start, tz), _local(day, start + 4 * 3600, tz), [])
            )
            continue
        start = (8 if index % 2 == 0 else 9) * 3600
        lunch = 11.75 * 3600 + (index % 3) * 2700 + rng.randrange(0, 600)
        breaks = [
            (start + 2.5 * 3600 + rng.randrange(0, 600), 900.0, "break"),
            (lunch, 2700.0, "lunch"),
            (start + 6.75 * 3600 + rng.randrange(0, 600), 900.0, "break"),
        ]
        # Monday's team meeting: everyone but the last agent
        if weekday == 0 and index < len(agents) - 1:
            breaks.append((float(MEETING[0]), float(MEETING[1]), "meeting"))
        planned = sorted((_local(day, s, tz), length, reason) for s, length, reason in breaks)
        shifts.append(
            _Shift(agent, _local(day, start, tz), _local(day, start + 9 * 3600, tz), planned)
        )
    return shifts


def _arrivals(
    day: dt.date,
    queues: Sequence[HistoryQueue],
    servers: dict[str, int],
    tz: ZoneInfo,
    rng: random.Random,
) -> list[tuple[float, HistoryQueue]]:
    weekday = day.weekday()
    factor = WEEKDAY_FACTOR[weekday]
    out: list[tuple[float, HistoryQueue]] = []
    for queue in queues:
        base = 1.8 * servers.get(queue.name, 0) * (0.5 if queue.priority else 1.0)
        for hour, weight in HOUR_CURVE.items():
            if weekday == 5 and not 9 <= hour < 13:
                continue
            rate = base * weight * factor * (1.4 if weekday == 0 and hour in (9, 10, 11) else 1.0)
            if rate <= 0:
                continue
            at = rng.expovariate(rate / 3600)
            while at < 3600:
                out.append((_local(day, hour * 3600 + at, tz), queue))
                at += rng.expovariate(rate / 3600)
    out.sort(key=lambda item: (item[0], item[1].name))
    return out


def _event(key: str, kind: str, ident: str, at: float, data: dict[str, Any]) -> tuple[Any, ...]:
    return (key, kind, ident, at, json.dumps(data))


def plan_day(
    day: dt.date,
    queues: Sequence[HistoryQueue],
    agents: Sequence[HistoryAgent],
    tz: ZoneInfo,
    rng: random.Random,
    *,
    dispositions: Sequence[str],
    dialed: str,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """One local day's ``contact_events`` rows and ``agent_state_log`` rows (pure)."""
    shifts = _shifts(day, agents, tz, rng)
    if not shifts:
        return [], []
    servers = {q.name: sum(q.name in s.agent.queues for s in shifts) for q in queues}
    known = [c.phone for c in DEMO_CUSTOMERS]
    names = [q.name for q in queues]
    events: list[tuple[Any, ...]] = []
    for n, (queued, queue) in enumerate(_arrivals(day, queues, servers, tz, rng)):
        key = f"{KEY_PREFIX}{day:%Y%m%d}-{n:04d}"
        # 40% are demo customers (linked by their phone), the rest new numbers
        unknown = f"+1555020{rng.randrange(10_000):04d}"
        caller = rng.choice(known) if rng.random() < 0.4 else unknown
        arrived = queued - rng.uniform(8, 25)
        events.append(
            _event(
                key,
                "arrived",
                "",
                arrived,
                {
                    "direction": "inbound",
                    "caller": caller,
                    "dialed": dialed,
                    "party": caller,
                    "customer_id": None,
                },
            )
        )
        path = _ivr_path(queue.name, names, arrived, queued)
        events.append(_event(key, "ivr_done", "", queued - 0.5, {"path": path, "result": "queued"}))
        events.append(_event(key, "queued", queue.name, queued, {"queue": queue.name}))
        patience = rng.uniform(1, 5) if rng.random() < 0.05 else 25 + rng.expovariate(1 / 110)
        candidates = [s for s in shifts if queue.name in s.agent.queues]
        best = min(
            candidates,
            key=lambda s: (s.available(queued), s.free_at, s.agent.agent_id),
            default=None,
        )
        offered = best.available(queued) if best is not None else math.inf
        answered = offered + rng.uniform(2, 6)
        gives_up = queued + patience
        limit = queued + queue.max_wait if queue.max_wait > 0 else math.inf
        if queue.max_wait_action == "callback" and answered - queued > 60 and rng.random() < 0.3:
            limit = min(limit, queued + rng.uniform(45, 60))  # pressed 1 for a callback
        if min(gives_up, limit) < answered:
            if limit < gives_up:
                outcome = {
                    "callback": "callback",
                    "voicemail": "voicemail",
                    "overflow": "overflow",
                }.get(queue.max_wait_action, "abandoned_queue")
                ended = limit
            else:
                outcome, ended = "abandoned_queue", gives_up
            events.append(_event(key, "ended", "", ended, {"outcome": outcome}))
            continue
        assert best is not None
        agent = best.agent.agent_id
        talk = max(30.0, rng.lognormvariate(math.log(queue.handle_time * 0.7), 0.5))
        talk = min(talk, 1800.0)
        ended = answered + talk
        events.append(
            _event(key, "offered", f"{agent}@{offered:.3f}", offered, {"agent_id": agent})
        )
        events.append(_event(key, "answered", "", answered, {"agent_id": agent}))
        if rng.random() < 0.25:
            held = answered + talk * rng.uniform(0.2, 0.6)
            back = held + rng.uniform(20, 90)
            ended = max(ended, back + 15)
            events.append(_event(key, "held", f"{held:.3f}", held, {}))
            events.append(_event(key, "unheld", f"{back:.3f}", back, {}))
        if rng.random() < 0.05 and len(names) > 1:
            at = ended - rng.uniform(5, 15)
            target = rng.choice([q for q in names if q != queue.name])
            events.append(
                _event(key, "note:transfer", f"{at:.3f}", at, {"kind": "blind", "target": target})
            )
        events.append(_event(key, "ended", "", ended, {"outcome": "answered"}))
        wrapped = ended + rng.uniform(5, max(6.0, queue.wrap_up or 30.0))
        disposition = _disposition(rng, dispositions, queue.name)
        notes = rng.choice(NOTES.get(disposition, ("",)))
        ident = hashlib.sha1(f"{key}:{disposition}".encode()).hexdigest()[:20]
        data = {"disposition": disposition, "notes": notes, "case_id": None}
        events.append(_event(key, "wrapup", ident, wrapped, data))
        best.take(
            offered,
            [
                (offered, answered, "ringing"),
                (answered, ended, "on_call"),
                (ended, wrapped, "wrap_up"),
            ],
        )
    states = [row for shift in shifts for row in shift.close()]
    return events, states


def _ivr_path(queue: str, names: Sequence[str], arrived: float, queued: float) -> list[Any]:
    """The steps of the shipped main menu (ivr_scripts/main.yaml) a caller took to ``queue``,
    in the shape of routing's PathStep: welcome, opening hours, the menu option, the queue."""
    option = str(names.index(queue) + 1)
    span = (queued - arrived) / 4
    steps = [
        ("welcome", "play", "", "done"),
        ("check_hours", "hours", "", "open"),
        ("main_menu", "menu", option, f"option {option}"),
        (f"{queue}_queue", "queue", "", "queued"),
    ]
    return [
        {
            "node": node,
            "kind": kind,
            "digits": digits,
            "entered_at": round(arrived + i * span, 3),
            "left_at": round(arrived + (i + 1) * span, 3),
            "seconds": round(span, 3),
            "result": result,
        }
        for i, (node, kind, digits, result) in enumerate(steps)
    ]


def _disposition(rng: random.Random, choices: Sequence[str], queue: str) -> str:
    if not choices:
        return "resolved"
    weights = []
    for choice in choices:
        if choice == "resolved":
            weights.append(6.0)
        elif choice == "sale":
            weights.append(3.0 if queue == "sales" else 0.2)
        elif choice == "wrong number":
            weights.append(0.3)
        else:
            weights.append(1.0)
    return rng.choices(list(choices), weights)[0]


def demo_queues(settings: Settings) -> tuple[list[HistoryQueue], list[HistoryAgent]]:
    """The demo's queues and agents, from its queue file."""
    queue_file = load_queue_file(settings.path(settings.routing.queues_file))
    queues = [
        HistoryQueue(
            name=q.name,
            max_wait=q.max_wait,
            max_wait_action=str(getattr(q.max_wait_action, "value", q.max_wait_action)),
            wrap_up=q.wrap_up,
            handle_time=q.default_handle_time,
            priority=q.weight > 0,
        )
        for q in queue_file.queues
    ]
    agents = [HistoryAgent(a.agent_id, tuple(a.queues)) for a in queue_file.agents]
    return queues, agents


async def has_history(store: Store) -> bool:
    row = await store.fetchone(
        "SELECT 1 FROM contacts WHERE key >= ? AND key < ? LIMIT 1",
        [KEY_PREFIX, KEY_PREFIX[:-1] + "."],
    )
    return row is not None


async def seed_history(
    store: Store,
    settings: Settings,
    *,
    seed: int | None = None,
    today: dt.date | None = None,
    days: int = DAYS,
    dialed: str = "5550100",
) -> int:
    """Write the demo's past (see the module docstring) unless it is there already;
    returns how many contacts were added (0: the database has its history)."""
    if await has_history(store):
        return 0
    tz = zone(settings.site.timezone)
    queues, agents = demo_queues(settings)
    if not queues or not agents:
        return 0
    if today is None:
        today = dt.datetime.now(tz).date()
    rng = random.Random(f"demo-history:{0 if seed is None else seed}")
    events: list[tuple[Any, ...]] = []
    states: list[tuple[Any, ...]] = []
    for back in range(days, 0, -1):
        day_events, day_states = plan_day(
            today - dt.timedelta(days=back),
            queues,
            agents,
            tz,
            rng,
            dispositions=settings.routing.dispositions,
            dialed=dialed,
        )
        events += day_events
        states += day_states
    async with store.transaction() as tx:
        await tx.insert_rows("contact_events", EVENT_COLUMNS, events)
        await tx.insert_rows("agent_state_log", STATE_COLUMNS, states)
    return len({row[0] for row in events})

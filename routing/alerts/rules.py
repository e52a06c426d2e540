"""The alert rules: thresholds, the sample they read, and the conditions they find (pure).

A :class:`Sample` is what the shell reads from the center every check: each queue's
waiting callers, longest wait, ready agents and cumulative counters (today's, as
``routing.acd.stats`` keeps them), each agent's state and since when, each PBX's AMI
link and since when the database has been failing writes. :func:`conditions` turns one
sample into the conditions that hold *now*; the evaluator (``engine``) turns conditions
held over time into alerts. A threshold of 0 switches its rule off.

Rules (``Rule`` values; the unit of each value in brackets):

* ``longest_wait``: a queue's longest waiting caller above N seconds [s].
* ``service_level``: a queue's service level over the last ``service_level_window``
  seconds below X % [%]; computed from the deltas of the cumulative counters with the
  definition of ``routing.acd.stats.QueueCounters.service_level``: answered within the
  queue's service level / (offered - short abandons).
* ``no_agent_ready``: callers waiting in a queue and no agent ready for it, for N
  seconds [callers].
* ``agent_state``: an agent in not_ready (``not_ready_minutes``) or wrap_up
  (``wrap_up_minutes``) longer than N minutes [min].
* ``ami_down``: a PBX's AMI link down for N seconds [s].
* ``database_failing``: the database failing writes for N seconds [s].
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from config.errors import InvalidInput


class Rule(enum.Enum):
    LONGEST_WAIT = "longest_wait"
    SERVICE_LEVEL = "service_level"
    NO_AGENT_READY = "no_agent_ready"
    AGENT_STATE = "agent_state"
    AMI_DOWN = "ami_down"
    DATABASE_FAILING = "database_failing"


#: the unit of each rule's value and threshold
UNITS: dict[Rule, str] = {
    Rule.LONGEST_WAIT: "s",
    Rule.SERVICE_LEVEL: "%",
    Rule.NO_AGENT_READY: "s",
    Rule.AGENT_STATE: "min",
    Rule.AMI_DOWN: "s",
    Rule.DATABASE_FAILING: "s",
}


def _check(value: float, name: str, *, upper: float | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{name} must be a number, got {value!r}", field=name)
    if value < 0 or (upper is not None and value > upper):
        limit = f"between 0 and {upper:g}" if upper is not None else "0 or more"
        raise InvalidInput(f"{name} must be {limit} (0 = off), got {value!r}", field=name)


@dataclass(frozen=True, slots=True)
class QueueRules:
    """One queue's thresholds (0 = off)."""

    longest_wait_seconds: float = 0.0
    service_level_below: float = 0.0  # percent
    no_agent_ready: float = 0.0  # seconds the condition holds before it is raised

    def __post_init__(self) -> None:
        _check(self.longest_wait_seconds, "longest_wait_seconds")
        _check(self.service_level_below, "service_level_below", upper=100)
        _check(self.no_agent_ready, "no_agent_ready")


@dataclass(frozen=True, slots=True)
class AlertRules:
    """Every threshold: the queues' defaults, per-queue overrides and the global rules.

    Raises:
        InvalidInput: a negative or non-numeric threshold (``field`` names it).
    """

    queue: QueueRules = QueueRules()
    queues: Mapping[str, QueueRules] = field(default_factory=dict)
    service_level_window: float = 900.0
    not_ready_minutes: float = 0.0
    wrap_up_minutes: float = 0.0
    ami_down: float = 0.0
    database_failing: float = 0.0
    clear_after: float = 10.0  # a condition must be gone this long before its alert clears

    def __post_init__(self) -> None:
        for name in ("not_ready_minutes", "wrap_up_minutes", "ami_down", "database_failing"):
            _check(getattr(self, name), name)
        _check(self.clear_after, "clear_after")
        _check(self.service_level_window, "service_level_window")
        if self.service_level_window < 1:
            raise InvalidInput(
                "service_level_window must be at least 1 second", field="service_level_window"
            )

    def for_queue(self, name: str) -> QueueRules:
        return self.queues.get(name, self.queue)


@dataclass(frozen=True, slots=True)
class QueueSample:
    name: str
    waiting: int = 0
    longest_wait: float = 0.0
    agents_ready: int = 0
    # cumulative (today's) counters, as routing.acd.stats keeps them
    offered: int = 0
    short_abandoned: int = 0
    answered_within: int = 0


@dataclass(frozen=True, slots=True)
class AgentSample:
    agent_id: str
    name: str
    state: str  # routing.acd.states.AgentState value
    since: float | None
    queues: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Sample:
    """The live statistics at one instant."""

    queues: tuple[QueueSample, ...] = ()
    agents: tuple[AgentSample, ...] = ()
    ami: Mapping[str, bool] = field(default_factory=dict)  # PBX name -> AMI connected
    database_failing_since: float | None = None  # None: the last write succeeded


@dataclass(frozen=True, slots=True)
class Condition:
    """A rule's condition holding now.

    ``key`` names what it is about (one alert per key at a time). ``hold`` is how long it
    must hold before it is raised; a ``value`` of None means "how long it has held",
    filled in by the evaluator.
    """

    key: tuple[str, ...]
    rule: Rule
    subject: str
    value: float | None
    threshold: float
    hold: float = 0.0
    queue: str | None = None
    agent_id: str | None = None
    pbx: str | None = None
    state: str | None = None
    queues: tuple[str, ...] = ()


@dataclass(slots=True)
class _Counts:
    at: float
    offered: int
    short_abandoned: int
    answered_within: int


class ServiceLevelWindow:
    """Per-queue history of the cumulative counters, for the service level over the last
    ``window`` seconds. Counters that go down (the day rolled over) restart the history."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._history: dict[str, list[_Counts]] = {}

    def add(self, queue: QueueSample, now: float) -> float | None:
        """Record ``queue``'s counters at ``now`` and return the service level in percent
        over the window (None when no call counts in it)."""
        history = self._history.setdefault(queue.name, [])
        counts = _Counts(now, queue.offered, queue.short_abandoned, queue.answered_within)
        if history and (
            counts.offered < history[-1].offered
            or counts.answered_within < history[-1].answered_within
            or counts.short_abandoned < history[-1].short_abandoned
        ):
            history.clear()
        history.append(counts)
        # keep one sample at or before the window's start as the base, drop older ones
        start = now - self.window
        while len(history) > 1 and history[1].at <= start:
            history.pop(0)
        base = history[0]
        calls = (counts.offered - base.offered) - (counts.short_abandoned - base.short_abandoned)
        if calls <= 0:
            return None
        within = counts.answered_within - base.answered_within
        return round(100.0 * within / calls, 1)

    def forget(self, names: set[str]) -> None:
        for name in list(self._history):
            if name not in names:
                del self._history[name]


def conditions(
    rules: AlertRules, sample: Sample, now: float, window: ServiceLevelWindow
) -> list[Condition]:
    """The conditions of every rule that hold in ``sample`` at ``now``."""
    found: list[Condition] = []
    for q in sample.queues:
        qr = rules.for_queue(q.name)
        level = window.add(q, now)
        if (
            qr.longest_wait_seconds > 0
            and q.waiting > 0
            and q.longest_wait > qr.longest_wait_seconds
        ):
            found.append(
                Condition(
                    (Rule.LONGEST_WAIT.value, q.name),
                    Rule.LONGEST_WAIT,
                    q.name,
                    round(q.longest_wait, 1),
                    qr.longest_wait_seconds,
                    queue=q.name,
                )
            )
        if qr.service_level_below > 0 and level is not None and level < qr.service_level_below:
            found.append(
                Condition(
                    (Rule.SERVICE_LEVEL.value, q.name),
                    Rule.SERVICE_LEVEL,
                    q.name,
                    level,
                    qr.service_level_below,
                    queue=q.name,
                )
            )
        if qr.no_agent_ready > 0 and q.waiting > 0 and q.agents_ready == 0:
            found.append(
                Condition(
                    (Rule.NO_AGENT_READY.value, q.name),
                    Rule.NO_AGENT_READY,
                    q.name,
                    # None: the engine gives how long it has held, in seconds as the
                    # threshold is (a count of callers beside a threshold in seconds
                    # could not be compared; the tile shows the callers waiting)
                    None,
                    qr.no_agent_ready,
                    hold=qr.no_agent_ready,
                    queue=q.name,
                )
            )
    window.forget({q.name for q in sample.queues})
    limits = {"not_ready": rules.not_ready_minutes, "wrap_up": rules.wrap_up_minutes}
    for a in sample.agents:
        limit = limits.get(a.state, 0.0)
        if limit <= 0 or a.since is None:
            continue
        minutes = (now - a.since) / 60.0
        if minutes > limit:
            found.append(
                Condition(
                    (Rule.AGENT_STATE.value, a.agent_id, a.state),
                    Rule.AGENT_STATE,
                    a.name or a.agent_id,
                    round(minutes, 1),
                    limit,
                    agent_id=a.agent_id,
                    state=a.state,
                    queues=a.queues,
                )
            )
    if rules.ami_down > 0:
        for pbx, connected in sample.ami.items():
            if not connected:
                found.append(
                    Condition(
                        (Rule.AMI_DOWN.value, pbx),
                        Rule.AMI_DOWN,
                        pbx,
                        None,
                        rules.ami_down,
                        hold=rules.ami_down,
                        pbx=pbx,
                    )
                )
    since = sample.database_failing_since
    if rules.database_failing > 0 and since is not None and now - since >= rules.database_failing:
        found.append(
            Condition(
                (Rule.DATABASE_FAILING.value,),
                Rule.DATABASE_FAILING,
                "database",
                round(now - since, 1),
                rules.database_failing,
            )
        )
    return found

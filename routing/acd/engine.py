"""The ACD engine: queues, agents, one global router, callbacks, live statistics.

Theory of operation
-------------------
The engine is a pure state machine: ``handle(event, now)`` and ``tick(now)`` return the
commands the shell must carry out; nothing here waits, sleeps or does I/O, and ``now`` is
always given, so a test replays a day of traffic in milliseconds.

**One order for every caller.** Each waiting call has a *route key* measured in seconds:
``arrived_at − priority × priority_seconds − queue weight``. Smaller is better. Priority
(explicit from the IVR plus the CRM tier's bonus) is a head start worth a bounded number
of seconds, so ordinary callers age past a VIP who arrived long enough after them: no
queue or caller starves. Because the key is in seconds it means the same in every
queue, which is what makes one *global* decision possible: an agent who becomes ready
gets the best-keyed caller among all their queues whose skill requirement they meet.

**The invariant.** After every event no ready agent is eligible for any waiting call.
So a decision is only needed at the moments that can break it — a caller arrives or
returns to line, an agent becomes ready, a requirement widens — and each decision looks
at one call or one agent, never at everyone.

**Indexes instead of scans.** Ready agents sit in sorted lists per queue and per
(queue, skill, level), ordered by the queue's strategy key (idle since, last offer,
calls taken, a seeded random draw, or configured order). Waiting calls sit in sorted
lists per (queue, current requirement); requirements widen with waiting time on timers,
moving a call between lists. The first call of each group is kept in order too (the
group *heads*). A caller needing ``billing ≥ 3`` reads the first entry of at most three
agent lists; an agent walks their queues' heads best first and stops at the first group
they qualify for. Each step is O(log n) plus the (configuration-bounded) number of
groups skipped; ``tests/test_acd_reference.py`` checks every choice against a full scan,
``bench/routing_decision.py`` measures it.

Cost per event (see the benchmark): the search itself is a few microseconds; most of an
event is the state changes and the commands it must emit — an ``AgentStateChanged`` per
agent transition and, unless coalesced (see Statistics), a complete
``QueueStatsChanged`` per queue whose figures moved.

A caller needing several skills starts from the smallest qualifying pool and checks
the others per candidate; only a pool full of agents missing the other skills makes
that walk long.

**Exceptions to plain key order**, each deliberate: a returning customer is offered
first to their last agent (``sticky_agent``) if that agent is ready, or becomes ready,
within ``sticky_offer_seconds``; a call whose ring went unanswered goes back *ahead of*
everyone in its queue (it already reached the front once). A callback is a virtual
caller: it keeps its entry (its place) in line but gets no announcements, no max wait,
and no line under ``max_length``; reaching an agent it becomes ``StartCallback``.

**Several PBXs.** An agent's phone is on one PBX (``AgentConfig.pbx``), a caller on
another maybe (``CallQueued.pbx``). Which PBXs reach which (an inter-PBX trunk is
configured, or not) is data the shell gives in ``AcdSettings.reach``; the engine knows
no sockets or dial strings. With ``reach`` set, each call requires one more "skill", the
reach mark of its PBX, which an agent holds for their own PBX and for every PBX trunked
to it; the mark never widens. So the router stays global and its indexes answer "can
this caller reach this agent" as they answer skills.

**Chats and emails** (issue 16) are contacts in the same lines, ordered by the same
route key, so one global order holds across channels: an agent who can take both gets
an older chat before a newer call. What an agent can take is their capacity per channel
(``AgentConfig.capacity``, as Amazon Connect's routing profiles: voice 1, chat 3, email
2) and ``voice_during_digital``. It is answered as the reach marks are: each channel is
a pseudo-skill, its *channel mark*, that a ready agent holds while they have room on that
channel (voice only while they hold no chat or email, unless ``voice_during_digital``),
and every contact requires its channel's mark. When an agent's load changes their marks
are recomputed and they are indexed again, so the indexes and ``meets`` need no special
case. A voice-only center (no queue taking chat or email, every agent taking calls)
files no marks at all and routes exactly as before. A digital contact is never rung:
``AssignContact`` connects it at once and the agent stays READY, so one decision may
hand an agent several (the agent loop runs until nothing fits; their index entries are
rewritten once, at the end). The agent's "idle since" moves to each assignment, so the
longest-idle strategy spreads chats over the ready agents. Its end (``CallEnded``)
leaves the slot held for its wrap-up, until ``ContactClosed`` or the queue's wrap-up
limit (a timer) releases it (``ContactReleased``) and the agent may take the next. A
logout hands open contacts back to the front of their lines (``ContactUnassigned``).
Only ``overflow`` applies to a digital contact at ``max_wait``; ``max_length`` and
``join_empty`` turn away calls only.

**Statistics** are published as deltas: every change marks its queue dirty; at the end
of an event a dirty queue whose inputs (sizes, agents by state, counter version) differ
from what was last published gets one ``QueueStatsChanged`` with the complete figures.
With ``AcdSettings.stats_interval`` > 0 they are also coalesced: a queue is published
at most once per interval, with its latest figures (complete, not increments, so
nothing is lost), by an event or ``tick`` after its interval passed. An event publishes
at most one queue (the next events take the others due), so no event pays for all the
queues at once; a tick publishes every queue due. ``next_timer()`` includes the first
moment one is due, so a shell ticking by it converges within the interval. At busy
hours this takes the statistics, a third of an event's cost, off nearly every event,
and cuts the websocket traffic to consoles.

**Timers** live in one heap of (due, kind, id, epoch). Anything that makes a timer
moot bumps the owner's epoch, and a stale timer is dropped when it comes due.

**Restart takeover.** A restarted service tells the engine what it finds: a caller still
in line joins with ``CallQueued(since=...)`` and keeps its place by original arrival;
``CallAdopted`` puts a call already ringing or connected at an agent's phone directly
into OFFERED / CONNECTED (no ``RingAgent``: the phone already rings), after which it is an
ordinary call; ``AgentRestored`` brings back a logged-out agent's saved state. These are
not table transitions (nothing happened to the agent, the engine relearns it) but are
allowed only on an agent with no call, so no agent is double-booked. The emitted
``AgentStateChanged.since`` is the state's real start, so a second restart keeps it.

**Errors change nothing.** Each handler validates the event and looks up every state
transition it needs (``routing.acd.states`` raises IllegalTransition) before mutating.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from config.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from routing.acd import commands as cmd
from routing.acd import events as ev
from routing.acd.index import Handles, ReadyAgents, Requirement, WaitingCalls
from routing.acd.model import (
    DIGITAL_CHANNELS,
    VOICE_ONLY,
    AcdSettings,
    AgentConfig,
    Estimate,
    MaxWaitAction,
    QueueConfig,
    Strategy,
    WrapUpTimeoutAction,
    check_channel,
    check_skills,
)
from routing.acd.sortedlist import Entry
from routing.acd.states import (
    AgentInput,
    AgentState,
    CallInput,
    CallState,
    agent_next,
    call_next,
)
from routing.acd.stats import QueueCounters

_STATE_NAMES = tuple(s.value for s in AgentState)
_LOGGED_OUT = AgentState.LOGGED_OUT.value
_NOT_READY = AgentState.NOT_READY.value
_READY = AgentState.READY.value
_RINGING = AgentState.RINGING.value
_ON_CALL = AgentState.ON_CALL.value
_WRAP_UP = AgentState.WRAP_UP.value
_NO_ANSWER = "no answer"
#: the statistics that are not today's counters, in the order the stats dict lists them
_LIVE_STATS = (
    "waiting",
    "callbacks_waiting",
    "longest_wait_since",
    "agents",
    "ewt",
    "waiting_by_channel",
)
_FRONT_STEP = 0.001  # how far ahead of the current front a returned call is put
# Reach marks are skill names no queue file can write (NUL is refused in skill names).
_REACH = "\x00reach:"
# Channel marks likewise: held by a ready agent while they have room on that channel.
_CHANNEL = "\x00channel:"
_VOICE = "voice"
_MARKS = {channel: _CHANNEL + channel for channel in ("voice", *DIGITAL_CHANNELS)}


def _reach_mark(pbx: str) -> str:
    """The pseudo-skill of "a caller on ``pbx`` can be given this agent"."""
    return _REACH + pbx


# timer kinds
_RING, _WRAP, _ANNOUNCE, _MAX_WAIT, _WIDEN, _RETRY, _CLOSE = (
    "ring",
    "wrap",
    "announce",
    "max_wait",
    "widen",
    "retry",
    "close",  # a digital contact's wrap-up limit
)


@dataclass(slots=True)
class _Agent:
    config: AgentConfig
    order: int
    state: AgentState = AgentState.LOGGED_OUT
    reason: str = ""
    since: float = 0.0
    counted_from: float = 0.0  # start of the part of this state already counted today
    idle_since: float = 0.0
    draw: float = 0.0
    call_id: str | None = None
    calls: int = 0
    talk: float = 0.0
    #: today's seconds per state name; replaced on change, never modified in place
    #: (AgentStateChanged shares it)
    state_seconds: dict[str, float] = field(default_factory=dict)
    epoch: int = 0
    entries: Handles = field(default_factory=list)
    wrap_queue: str | None = None
    wrap_talk: float = 0.0
    #: this wrap-up's deadline (None: no limit), the queue's limit and what it does
    wrap_until: float | None = None
    wrap_limit: float = 0.0
    wrap_action: WrapUpTimeoutAction = WrapUpTimeoutAction.HOLD_UNTIL_SAVED
    #: the agent has typed wrap-up input not saved yet (WrapUpDraft)
    wrap_unsaved: bool = False
    wrap_extended: bool = False
    #: held in wrap-up past the limit by unsaved input
    wrap_overdue: bool = False
    #: the configured skills plus one reach mark per PBX whose callers can reach this
    #: agent (see ``_reach_mark``) and, in a center with digital channels, one channel
    #: mark per channel they have room on (``Acd._refresh_skills``); what the indexes
    #: and ``meets`` read
    skills: Mapping[str, int] = field(default_factory=dict)
    #: the configured skills and reach marks (what does not change with the load)
    base_skills: Mapping[str, int] = field(default_factory=dict)
    #: the chats and emails the agent holds (open, or ended in their wrap-up), by id
    contacts: dict[str, _Call] = field(default_factory=dict)
    #: the channels the agent has room on (the marks they hold; voice alone without
    #: channel marks): the waiting calls' heads walked for them
    channels: tuple[str, ...] = (_VOICE,)
    #: ``channels`` and ``base_skills`` when the agent was last indexed (``_reindex``:
    #: the same lists, so only the keys move)
    indexed_channels: tuple[str, ...] = ()
    indexed_base: Mapping[str, int] | None = None
    #: how many of ``contacts`` are of each digital channel
    load: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DIGITAL_CHANNELS, 0))
    #: the agents-by-state counts of each of the agent's queues (set by _reset_indexes)
    queue_counts: list[dict[str, int]] = field(default_factory=list)
    #: ``config.agent_id`` (a reconfiguration keeps it), as a field: read on every event
    agent_id: str = field(init=False)

    def __post_init__(self) -> None:
        self.agent_id = self.config.agent_id

    def meets(self, requirement: Requirement) -> bool:
        skills = self.skills
        # a loop, not all(<generator>): the router asks this several times per event
        for skill, level in requirement:  # noqa: SIM110
            if skills.get(skill, 0) < level:
                return False
        return True


@dataclass(slots=True)
class _Call:
    call_id: str
    queue: str
    seq: int
    priority: int
    tier: str
    caller: str
    customer_id: str | None
    own_skills: Mapping[str, int]
    arrived_at: float
    entered_at: float
    state: CallState = CallState.WAITING
    base: dict[str, int] = field(default_factory=dict)
    requirement: Requirement = ()
    entry: Entry | None = None  # route key entry while WAITING
    front_key: float | None = None  # set when sent back to the front of the line
    since_entry: Entry | None = None
    agent_id: str | None = None
    offered_at: float = 0.0
    answered_at: float = 0.0
    callback_number: str | None = None
    attempts: int = 0
    predicted: float = 0.0
    max_wait_fired: bool = False
    sticky_agent: str | None = None
    sticky_until: float = -math.inf
    epoch: int = 0
    adopted: bool = False  # taken over at a restart: this process predicted no wait
    pbx: str = ""
    channel: str = _VOICE
    ended_at: float | None = None  # a digital contact whose conversation ended


class Acd:
    """The pure ACD engine. See the module docstring for how it decides.

    Args:
        queues: the queue configurations (names unique).
        agents: the agents, all starting logged out; list order is the LINEAR order.
        settings: engine-wide knobs.
        now: the clock at construction (starts the "today" counters).

    Raises:
        InvalidInput: duplicate names, an agent in an unknown queue, an overflow target
            that is not a queue.
    """

    def __init__(
        self,
        queues: Iterable[QueueConfig],
        agents: Iterable[AgentConfig],
        settings: AcdSettings | None = None,
        *,
        now: float = 0.0,
    ) -> None:
        self.settings = settings or AcdSettings()
        queue_list = tuple(queues)
        agent_list = tuple(agents)
        _validate_setup(queue_list, agent_list)
        self._rng = random.Random(self.settings.seed)
        self._queues: dict[str, QueueConfig] = {q.name: q for q in queue_list}
        #: any queue takes chats or emails, or an agent takes no calls: only then do calls
        #: require a channel mark (a voice-only center routes exactly as before)
        self._channels_on = _channels_on(queue_list, agent_list)
        self._agents: dict[str, _Agent] = {
            a.agent_id: _Agent(a, i, since=now, counted_from=now) for i, a in enumerate(agent_list)
        }
        for agent in self._agents.values():
            agent.base_skills = self._skills_of(agent.config)
            self._refresh_skills(agent)
        self._calls: dict[str, _Call] = {}
        #: digital contacts whose conversation ended, in wrap-up: held until released
        self._held: dict[str, _Call] = {}
        self._counters: dict[str, QueueCounters] = {q: QueueCounters() for q in self._queues}
        self._agent_counts: dict[str, dict[str, int]] = {}
        self._published: dict[str, tuple[object, ...]] = {}
        #: queue -> (the figures dict it was made from, a stats dict to copy): _publish
        self._stats_templates: dict[str, tuple[dict[str, object], dict[str, Any]]] = {}
        self._dirty: set[str] = set(self._queues)
        #: coalescing (``stats_interval``): when each queue was last published, and no
        #: dirty queue is due from ``_stats_held_at`` (the last pass) to ``_stats_due``
        #: (a clock set back before the pass does not hold them)
        self._published_at: dict[str, float] = {}
        self._stats_held_at = -math.inf
        self._stats_due = -math.inf
        self._rr: dict[str, dict[str, int]] = {q: {} for q in self._queues}
        self._rr_seq = 0
        self._seq = 0
        self._timers: list[tuple[float, int, str, str, int]] = []
        self._day = self._day_of(now)
        self._roll_check_at = self._next_roll_check()
        self._ready = ReadyAgents(())
        self._waiting = WaitingCalls(())
        self._sticky: dict[str, set[str]] = {}
        self._reset_indexes()
        self._handlers: dict[type, Any] = {
            ev.CallQueued: self._on_call_queued,
            ev.CallAbandoned: self._on_call_abandoned,
            ev.AgentAnswered: self._on_agent_answered,
            ev.RingNoAnswer: self._on_ring_no_answer,
            ev.CallEnded: self._on_call_ended,
            ev.ContactClosed: self._on_contact_closed,
            ev.AgentStateRequest: self._on_agent_state_request,
            ev.WrapUpDone: self._on_wrap_up_done,
            ev.WrapUpDraft: self._on_wrap_up_draft,
            ev.MoveCall: self._on_move_call,
            ev.CallbackRequested: self._on_callback_requested,
            ev.CallbackResult: self._on_callback_result,
            ev.QueuesChanged: self._on_queues_changed,
            ev.AgentRestored: self._on_agent_restored,
            ev.CallAdopted: self._on_call_adopted,
        }

    # ------------------------------------------------------------------ public API

    def handle(self, event: ev.Event, now: float) -> list[cmd.Command]:
        """Apply one event and return the commands it causes.

        Args:
            event: one of ``routing.acd.events``.
            now: the current time (seconds, same clock as every other call).

        Raises:
            NotFound: the event names an unknown call, agent or queue.
            InvalidInput: the event's values are wrong (bad reason code, wrong agent).
            Conflict: a call id that is already in the engine.
            IllegalTransition: the event is not allowed in the current state.
            In every case nothing was changed.
        """
        handler = self._handlers.get(type(event))
        if handler is None:
            raise InvalidInput(f"not an ACD event: {type(event).__name__}", field="event")
        out: list[cmd.Command] = []
        if now >= self._roll_check_at:
            self._roll_day(now)
        handler(event, now, out)
        if self._dirty and not self._stats_held_at <= now < self._stats_due:
            self._publish(out, now, flush=False)
        return out

    def tick(self, now: float) -> list[cmd.Command]:
        """Fire every timer due by ``now``: ring timeouts, wrap-up ends, max waits,
        announcements, skill widening, callback retries.

        Args:
            now: the current time.
        """
        out: list[cmd.Command] = []
        if now >= self._roll_check_at:
            self._roll_day(now)
        timers = self._timers
        while timers and timers[0][0] <= now:
            due, _, kind, target, epoch = heapq.heappop(timers)
            if kind == _WRAP:
                agent = self._agents.get(target)
                if agent is not None and agent.epoch == epoch:
                    self._wrap_up_limit(agent, now, out)
                continue
            if kind == _CLOSE:
                held = self._held.get(target)
                if held is not None and held.epoch == epoch:
                    self._release(held, "wrap_up_limit", now, out)
                continue
            call = self._calls.get(target)
            if call is None or call.epoch != epoch:
                continue
            if kind == _RING:
                self._ring_timeout(call, now, out)
            elif kind == _ANNOUNCE:
                self._announce(call, due, now, out)
            elif kind == _MAX_WAIT:
                self._max_wait(call, now, out)
            elif kind == _WIDEN:
                self._widen(call, now, out)
            elif kind == _RETRY:
                self._retry_callback(call, now, out)
        if self._dirty:  # each queue checked: a tick flushes every queue that is due
            self._publish(out, now, flush=True)
        return out

    def next_timer(self) -> float | None:
        """When ``tick`` next has something to do (stale timers included, and coalesced
        statistics waiting for their interval), or None."""
        due = self._timers[0][0] if self._timers else None
        if self._dirty and self.settings.stats_interval > 0:
            return self._stats_due if due is None else min(due, self._stats_due)
        return due

    def estimate(self, queue: str, now: float) -> Estimate:
        """What a caller joining ``queue`` now can expect.

        Args:
            queue: the queue name.
            now: the current time.

        Raises:
            NotFound: no such queue.
        """
        if queue not in self._queues:
            raise NotFound(f"no queue {queue!r}")
        position = self._waiting.count(queue) + 1
        return Estimate(position, self._ewt(queue, position), self._ready.count(queue))

    def estimate_call(self, call_id: str, now: float) -> Estimate:
        """Where a waiting call stands now (the position counts callbacks in line).

        Raises:
            NotFound: no such call, or it is not waiting.
        """
        call = self._calls.get(call_id)
        if call is None or call.state is not CallState.WAITING or call.entry is None:
            raise NotFound(f"no waiting call {call_id!r}")
        position = self._waiting.position(call.queue, call.entry)
        return Estimate(position, self._ewt(call.queue, position), self._ready.count(call.queue))

    def queue_config(self, queue: str) -> QueueConfig:
        """The current configuration of ``queue`` (MOH class, announce interval, ...).

        Raises:
            NotFound: no such queue.
        """
        return self._queue(queue)

    def queue_configs(self) -> tuple[QueueConfig, ...]:
        """Every queue's current configuration, in the order the queue file lists them."""
        return tuple(self._queues.values())

    def agent_config(self, agent_id: str) -> AgentConfig:
        """The current configuration of an agent (endpoint, skills, queues).

        Raises:
            NotFound: no such agent.
        """
        return self._agent(agent_id).config

    def agent_state(self, agent_id: str) -> AgentState:
        """The agent's current state.

        Raises:
            NotFound: no such agent.
        """
        return self._agent(agent_id).state

    def agent_snapshot(self, agent_id: str, now: float) -> dict[str, Any]:
        """One agent as :meth:`snapshot` shows it, without building the whole snapshot
        (the shell publishes every agent change; a full snapshot each time is O(agents)).

        Raises:
            NotFound: no such agent.
        """
        return self._agent_snapshot(self._agent(agent_id), now)

    def _agent_snapshot(self, agent: _Agent, now: float) -> dict[str, Any]:
        seconds = dict(agent.state_seconds)
        if agent.state is not AgentState.LOGGED_OUT:
            key = agent.state.value
            seconds[key] = round(seconds.get(key, 0.0) + now - agent.counted_from, 1)
        return {
            "name": agent.config.name,
            "endpoint": agent.config.endpoint,
            "queues": list(agent.config.queues),
            "skills": dict(agent.config.skills),
            "state": agent.state.value,
            "reason": agent.reason,
            "since": agent.since,
            "call_id": agent.call_id,
            "calls": agent.calls,
            "talk_seconds": round(agent.talk, 1),
            "state_seconds": seconds,
            "wrap_up_until": agent.wrap_until,
            "wrap_up_limit": agent.wrap_limit if agent.state is AgentState.WRAP_UP else None,
            "wrap_up_overdue": agent.wrap_overdue,
            "capacity": dict(agent.config.capacity),
            "load": dict(agent.load),
            "contacts": list(agent.contacts),
            "voice_during_digital": agent.config.voice_during_digital,
        }

    def agent_ids(self) -> tuple[str, ...]:
        """Every configured agent, in the queue file's order."""
        return tuple(self._agents)

    def snapshot(self, now: float) -> dict[str, Any]:
        """Queues (config, statistics, waiting calls in order), agents and calls, JSON-ready.

        Args:
            now: the current time (live waits and state durations are computed at it).
        """
        queues: dict[str, Any] = {}
        for name, q in self._queues.items():
            stats = self._queue_stats(name)
            oldest = stats["longest_wait_since"]
            stats["longest_wait"] = round(now - oldest, 1) if oldest is not None else 0.0
            waiting = []
            for position, entry in enumerate(self._waiting.entries(name), start=1):
                call = self._calls[entry[3]]
                waiting.append(
                    {
                        "call_id": call.call_id,
                        "position": position,
                        "waited": round(now - call.entered_at, 1),
                        "priority": call.priority,
                        "tier": call.tier,
                        "callback": call.callback_number is not None,
                        "channel": call.channel,
                        "requirement": {
                            skill: level
                            for skill, level in call.requirement
                            if not skill.startswith("\x00")  # reach and channel marks
                        },
                        "estimate": self._ewt(name, position),
                    }
                )
            queues[name] = {
                "name": name,
                "strategy": q.strategy.value,
                "service_level_seconds": q.service_level,
                "moh": q.moh,
                "stats": stats,
                "waiting": waiting,
            }
        agents = {
            agent.agent_id: self._agent_snapshot(agent, now) for agent in self._agents.values()
        }
        calls = {
            c.call_id: {
                "queue": c.queue,
                "state": c.state.value,
                "agent_id": c.agent_id,
                "arrived_at": c.arrived_at,
                "entered_at": c.entered_at,
                "callback": c.callback_number is not None,
                "attempts": c.attempts,
                "customer_id": c.customer_id,
                "channel": c.channel,
            }
            for c in (*self._calls.values(), *self._held.values())
        }
        return {"at": now, "queues": queues, "agents": agents, "calls": calls}

    # ------------------------------------------------------------------ event handlers

    def _on_call_queued(self, e: ev.CallQueued, now: float, out: list[cmd.Command]) -> None:
        _check_id(e.call_id, "call_id")
        if e.call_id in self._calls or e.call_id in self._held:
            raise Conflict(f"call {e.call_id!r} is already in the ACD")
        q = self._queue(e.queue)
        _check_call_fields(e.priority, e.skills, e.tier, e.caller)
        _check_takes(q, e.channel)
        if e.callback_number is not None:
            if e.channel != _VOICE:
                raise InvalidInput("only a call can be a callback", field="callback_number")
            _check_number(e.callback_number)
        since = now if e.since is None else e.since
        if not _is_time(since) or since > now:
            raise InvalidInput("since must be a finite time not after now", field="since")
        call = self._new_call(e, since, callback_number=e.callback_number)
        sticky = self._agents.get(e.sticky_agent) if e.sticky_agent else None
        if sticky is not None and self.settings.sticky_offer_seconds > 0:
            call.sticky_agent = sticky.agent_id
            call.sticky_until = now + self.settings.sticky_offer_seconds
        self._admit(call, now, out, visited=set())

    def _new_call(
        self,
        e: ev.CallQueued | ev.CallAdopted,
        since: float,
        *,
        callback_number: str | None = None,
        adopted: bool = False,
    ) -> _Call:
        """A call of a checked event, in line from ``since`` (its queue time)."""
        return _Call(
            call_id=e.call_id,
            queue=e.queue,
            seq=self._next_seq(),
            priority=e.priority,
            tier=e.tier,
            caller=e.caller,
            customer_id=e.customer_id,
            own_skills=dict(e.skills),
            arrived_at=since,
            entered_at=since,
            callback_number=callback_number,
            adopted=adopted,
            pbx=e.pbx,
            channel=e.channel,
        )

    def _admit(self, call: _Call, now: float, out: list[cmd.Command], visited: set[str]) -> None:
        """Let ``call`` into its queue, or turn it away (full / nobody logged in)."""
        name = call.queue
        q = self._queues[name]
        reason = ""
        if call.channel != _VOICE:
            pass  # a chat or an email always joins: nobody hangs up on it (max_wait aside)
        elif (
            call.callback_number is None
            and q.max_length
            and self._waiting.live(name) - self._digital_waiting(name) >= q.max_length
        ):
            reason = "full"
        elif not q.join_empty and self._logged_in(name) == 0:
            reason = "no_agents"
        if reason:
            self._counters[name].count("rejected")
            self._dirty.add(name)
            out.append(cmd.CallLeftQueue(call.call_id, name, reason))
            visited.add(name)
            target = q.max_wait_target
            if (
                q.max_wait_action is MaxWaitAction.OVERFLOW
                and target in self._queues
                and target not in visited
            ):
                out.append(cmd.MaxWaitReached(call.call_id, "overflow", target, name))
                call.queue = target
                self._admit(call, now, out, visited)
            elif q.max_wait_action is MaxWaitAction.OVERFLOW:
                out.append(cmd.MaxWaitReached(call.call_id, MaxWaitAction.HANGUP.value, "", name))
            else:
                out.append(cmd.MaxWaitReached(call.call_id, q.max_wait_action.value, target, name))
            return
        self._calls[call.call_id] = call
        self._counters[name].count("offered")
        self._enter_line(call, now)
        self._joined(call, out)
        if call.callback_number is not None:
            self._counters[name].count("callbacks_requested")
            out.append(cmd.CallbackLogged(call.call_id, name, "requested", 0, now))
        sticky = self._agents.get(call.sticky_agent) if call.sticky_agent else None
        if sticky is not None and sticky.state is AgentState.READY and self._reaches(call, sticky):
            self._offer(call, sticky, now, out, self.settings.sticky_offer_seconds)
        else:
            self._route_call(call, now, out)

    def _on_call_abandoned(self, e: ev.CallAbandoned, now: float, out: list[cmd.Command]) -> None:
        self._abandon(self._call(e.call_id), CallInput.ABANDON, now, out)

    def _abandon(self, call: _Call, what: CallInput, now: float, out: list[cmd.Command]) -> None:
        call_next(call.state, what)
        agent = None
        if call.state is CallState.OFFERED and call.agent_id is not None:
            agent = self._agents[call.agent_id]
            agent_next(agent.state, AgentInput.CALLER_GONE)
        was = call.state
        self._leave(call)
        counters = self._counters[call.queue]
        counters.record_abandon(now - call.entered_at, self.settings.short_abandon_seconds)
        out.append(cmd.CallLeftQueue(call.call_id, call.queue, "abandoned"))
        if call.callback_number is not None:
            out.append(
                cmd.CallbackLogged(
                    call.call_id, call.queue, "cancelled", call.attempts, now, call.agent_id
                )
            )
        if agent is not None and was is CallState.OFFERED:
            self._make_ready(agent, now, out, keep_idle=True)

    def _on_agent_answered(self, e: ev.AgentAnswered, now: float, out: list[cmd.Command]) -> None:
        call, agent = self._offered_pair(e.call_id, e.agent_id)
        self._answer(call, agent, now, out)

    def _answer(self, call: _Call, agent: _Agent, now: float, out: list[cmd.Command]) -> None:
        call_next(call.state, CallInput.ANSWER)
        agent_next(agent.state, AgentInput.ANSWER)
        call.state = CallState.CONNECTED
        call.epoch += 1
        call.answered_at = now
        q = self._queues[call.queue]
        counters = self._counters[call.queue]
        waited = now - call.entered_at
        # an adopted caller was promised nothing by this process: no estimate error
        predicted = waited if call.adopted else call.predicted
        counters.record_answer(waited, q.service_level, predicted)
        self._dirty.add(call.queue)  # a sticky agent may not be a member of this queue
        agent.calls += 1
        out.append(cmd.CallLeftQueue(call.call_id, call.queue, "answered"))
        if call.callback_number is not None:
            counters.count("callbacks_connected")
            out.append(
                cmd.CallbackLogged(
                    call.call_id, call.queue, "connected", call.attempts, now, agent.agent_id
                )
            )
        self._set_state(agent, AgentState.ON_CALL, "", now, out, call_id=call.call_id)

    def _on_ring_no_answer(self, e: ev.RingNoAnswer, now: float, out: list[cmd.Command]) -> None:
        call, agent = self._offered_pair(e.call_id, e.agent_id)
        self._no_answer(call, agent, now, out)

    def _no_answer(self, call: _Call, agent: _Agent, now: float, out: list[cmd.Command]) -> None:
        call_next(call.state, CallInput.NO_ANSWER)
        agent_next(agent.state, AgentInput.NO_ANSWER)
        self._set_state(agent, AgentState.NOT_READY, _NO_ANSWER, now, out)
        if call.callback_number is not None:
            out.append(
                cmd.CallbackLogged(
                    call.call_id, call.queue, "agent_no_answer", call.attempts, now, agent.agent_id
                )
            )
        self._back_to_front(call, now, out)

    def _back_to_front(self, call: _Call, now: float, out: list[cmd.Command]) -> None:
        """Put an offered call back in line ahead of everyone in its queue, and re-route."""
        call.state = CallState.WAITING
        call.agent_id = None
        call.sticky_until = -math.inf
        first = self._waiting.front(call.queue)
        own = self._route_key(call)
        call.front_key = min(own, first[0] - _FRONT_STEP) if first is not None else own
        self._enter_line(call, now)
        self._route_call(call, now, out)

    def _on_call_ended(self, e: ev.CallEnded, now: float, out: list[cmd.Command]) -> None:
        call = self._call(e.call_id)
        if call.state is not CallState.CONNECTED:
            self._abandon(call, CallInput.END, now, out)
            return
        if call.channel != _VOICE:
            self._end_contact(call, now, out)
            return
        call_next(call.state, CallInput.END)
        agent = self._agents[call.agent_id] if call.agent_id is not None else None
        if agent is not None:
            agent_next(agent.state, AgentInput.CALL_END)
        self._leave(call)
        if agent is None:
            return
        talk = now - call.answered_at
        agent.talk += talk
        agent.wrap_queue = call.queue
        agent.wrap_talk = talk
        self._set_state(agent, AgentState.WRAP_UP, "", now, out, call_id=call.call_id)
        q = self._queues[call.queue]
        wrap = q.wrap_up
        agent.wrap_limit = wrap
        agent.wrap_action = q.wrap_up_timeout_action
        if wrap > 0:
            agent.wrap_until = now + wrap
            self._schedule(now + wrap, _WRAP, agent.agent_id, agent.epoch)
        else:
            self._end_wrap_up(agent, AgentInput.WRAP_DONE, now, out)

    def _on_agent_state_request(
        self, e: ev.AgentStateRequest, now: float, out: list[cmd.Command]
    ) -> None:
        agent = self._agent(e.agent_id)
        forced = e.forced_by is not None
        if forced:
            _check_id(e.forced_by or "", "forced_by")
        inputs = {
            AgentState.READY: (AgentInput.REQUEST_READY, AgentInput.FORCE_READY),
            AgentState.NOT_READY: (AgentInput.REQUEST_NOT_READY, AgentInput.FORCE_NOT_READY),
            AgentState.LOGGED_OUT: (AgentInput.REQUEST_LOGOUT, AgentInput.FORCE_LOGOUT),
        }
        if e.state not in inputs:
            raise InvalidInput(
                f"an agent can ask only for ready, not ready or logged out, not {e.state}",
                field="state",
            )
        reason = e.reason
        if e.state is AgentState.NOT_READY:
            self._check_reason(reason)
        else:
            reason = ""
        what = inputs[e.state][1 if forced else 0]
        new = agent_next(agent.state, what)
        call = None
        if agent.state is AgentState.RINGING and agent.call_id is not None:
            call = self._calls[agent.call_id]
            call_next(call.state, CallInput.WITHDRAW)
        by = e.forced_by
        if agent.state is AgentState.WRAP_UP:
            self._end_wrap_up(agent, what, now, out, reason=reason, forced_by=by)
        elif new is AgentState.READY:
            self._make_ready(agent, now, out, forced_by=by)
        else:
            self._set_state(agent, new, reason, now, out, forced_by=by)
        if call is not None:
            # a supervisor pulled a ringing agent: stop the ring, the caller goes first
            out.append(cmd.CancelRing(call.call_id, agent.agent_id))
            self._back_to_front(call, now, out)
        if new is AgentState.LOGGED_OUT and agent.contacts:
            self._drop_contacts(agent, now, out)

    def _check_reason(self, reason: str) -> None:
        if reason and reason not in self.settings.not_ready_reasons:
            raise InvalidInput(
                f"unknown not-ready reason {reason!r}; expected one of "
                + ", ".join(self.settings.not_ready_reasons),
                field="reason",
            )

    # ------------------------------------------------------------------ restart takeover

    def _on_agent_restored(self, e: ev.AgentRestored, now: float, out: list[cmd.Command]) -> None:
        """A saved state comes back at start-up. The agent did not change state while the
        service was down, so the transition table is not consulted: the engine only learns
        the state again, with its real start (``since``) on the AgentStateChanged."""
        agent = self._agent(e.agent_id)
        if agent.state is not AgentState.LOGGED_OUT or agent.call_id is not None:
            raise IllegalTransition(agent.state.value, "restore a saved state")
        reason = ""
        if e.state is AgentState.NOT_READY:
            reason = e.reason
            self._check_reason(reason)
        elif e.state not in (AgentState.READY, AgentState.WRAP_UP, AgentState.LOGGED_OUT):
            raise InvalidInput(
                "an agent is restored ready, not ready, in wrap-up or logged out, not "
                f"{e.state!r} (a ringing or talking agent comes back through CallAdopted)",
                field="state",
            )
        since = _restored_time(e.since, now, "since")
        until = e.wrap_up_until
        if until is not None and not _is_time(until):
            raise InvalidInput("wrap_up_until must be a finite time", field="wrap_up_until")
        if e.state is AgentState.LOGGED_OUT:
            return
        if e.state is AgentState.READY:
            # ready since ``since`` is idle since then: longest-idle order counts from it
            agent.idle_since = since
            self._make_ready(agent, now, out, keep_idle=True, since=since)
            return
        self._set_state(agent, e.state, reason, now, out, since=since)
        if e.state is AgentState.WRAP_UP:
            # the talk (and the answer) were counted by the process that died: no handle
            # time is recorded for this wrap-up, so today's figures stay self-consistent
            agent.wrap_queue = None
            config = self._queues.get(e.wrap_queue) if e.wrap_queue else None
            if config is not None:
                agent.wrap_limit = config.wrap_up
                agent.wrap_action = config.wrap_up_timeout_action
            agent.wrap_unsaved = bool(e.wrap_up_unsaved)
            if until is None:
                self._end_wrap_up(agent, AgentInput.WRAP_DONE, now, out)
            elif until <= now:
                # the limit ran out while the service was down: what it does is decided
                # as if it had run out here (a stored unsaved draft holds the agent)
                agent.wrap_until = until
                agent.wrap_extended = True  # the downtime used up any extension
                self._wrap_up_limit(agent, now, out)
            else:
                agent.wrap_until = until
                self._schedule(until, _WRAP, agent.agent_id, agent.epoch)

    def _on_call_adopted(self, e: ev.CallAdopted, now: float, out: list[cmd.Command]) -> None:
        """A call already at an agent's phone when the service started: ringing, or
        connected since ``answered_at``. No RingAgent: the phone already rings. From here
        on it is an ordinary offered or connected call."""
        _check_id(e.call_id, "call_id")
        if e.call_id in self._calls or e.call_id in self._held:
            raise Conflict(f"call {e.call_id!r} is already in the ACD")
        q = self._queue(e.queue)
        agent = self._agent(e.agent_id)
        _check_takes(q, e.channel)
        if e.channel != _VOICE:
            self._adopt_contact(e, q, agent, now, out)
            return
        free = (AgentState.LOGGED_OUT, AgentState.READY, AgentState.NOT_READY)
        if agent.state not in free or agent.call_id is not None:
            raise Conflict(f"agent {e.agent_id!r} is {agent.state.value}; cannot adopt a call")
        _check_call_fields(e.priority, e.skills, e.tier, e.caller)
        since = _restored_time(e.since, now, "since")
        answered: float | None = None
        if e.answered_at is not None:
            # a bridge seen a little before the channel's age says: answered at arrival
            answered = max(since, _restored_time(e.answered_at, now, "answered_at"))
        # everything checked; apply
        call = self._new_call(e, since, adopted=True)
        self._calls[call.call_id] = call
        self._counters[q.name].count("offered")
        self._dirty.add(q.name)
        call.state = CallState.OFFERED
        call.agent_id = agent.agent_id
        call.offered_at = now
        if answered is None:
            self._set_state(agent, AgentState.RINGING, "", now, out, call_id=call.call_id)
            give_up = q.ring_timeout + self.settings.ring_grace_seconds
            self._schedule(now + give_up, _RING, call.call_id, call.epoch)
            return
        call.state = CallState.CONNECTED
        call.epoch += 1
        call.answered_at = answered
        waited = answered - since
        self._counters[q.name].record_answer(waited, q.service_level, waited)
        agent.calls += 1
        self._set_state(
            agent, AgentState.ON_CALL, "", now, out, call_id=call.call_id, since=answered
        )

    def _wrap_up_limit(self, agent: _Agent, now: float, out: list[cmd.Command]) -> None:
        """The wrap-up limit ran out. With nothing unsaved (or ``force_ready``) the agent is
        ready, as ever; unsaved input extends the limit once (``extend_once``) or holds the
        agent in wrap-up, overdue, until they save — never ready behind their back."""
        action = agent.wrap_action
        if not agent.wrap_unsaved or action is WrapUpTimeoutAction.FORCE_READY:
            self._end_wrap_up(agent, AgentInput.WRAP_DONE, now, out)
            return
        if action is WrapUpTimeoutAction.EXTEND_ONCE and not agent.wrap_extended:
            agent.wrap_extended = True
            agent.wrap_until = now + agent.wrap_limit
            self._schedule(agent.wrap_until, _WRAP, agent.agent_id, agent.epoch)
        else:
            agent.wrap_overdue = True
        out.append(cmd.AgentWrapUpChanged(agent.agent_id))

    def _on_wrap_up_draft(self, e: ev.WrapUpDraft, now: float, out: list[cmd.Command]) -> None:
        agent = self._agent(e.agent_id)
        if not isinstance(e.unsaved, bool):
            raise InvalidInput("unsaved must be true or false", field="unsaved")
        # Typed on the call, it is for the wrap-up that follows; after the wrap-up ended (a
        # late keystroke) it changes nothing.
        if agent.state is AgentState.WRAP_UP or agent.state is AgentState.ON_CALL:
            agent.wrap_unsaved = e.unsaved

    def _on_wrap_up_done(self, e: ev.WrapUpDone, now: float, out: list[cmd.Command]) -> None:
        agent = self._agent(e.agent_id)
        agent_next(agent.state, AgentInput.WRAP_DONE)
        self._end_wrap_up(agent, AgentInput.WRAP_DONE, now, out)

    def _end_wrap_up(
        self,
        agent: _Agent,
        what: AgentInput,
        now: float,
        out: list[cmd.Command],
        reason: str = "",
        forced_by: str | None = None,
    ) -> None:
        new = agent_next(agent.state, what)
        if agent.wrap_queue is not None and agent.wrap_queue in self._counters:
            self._counters[agent.wrap_queue].record_handled(agent.wrap_talk + now - agent.since)
            self._dirty.add(agent.wrap_queue)
        agent.wrap_queue = None
        if new is AgentState.READY:
            self._make_ready(agent, now, out, forced_by=forced_by)
        else:
            self._set_state(agent, new, reason, now, out, forced_by=forced_by)

    def _on_move_call(self, e: ev.MoveCall, now: float, out: list[cmd.Command]) -> None:
        call = self._call(e.call_id)
        _check_takes(self._queue(e.queue), call.channel)
        call_next(call.state, CallInput.MOVE)
        if e.queue == call.queue:
            raise InvalidInput(f"call {e.call_id!r} is already in {e.queue!r}", field="queue")
        self._counters[call.queue].count("moved_out")
        out.append(cmd.CallLeftQueue(call.call_id, call.queue, "moved"))
        self._transfer(call, e.queue, now, out)

    def _transfer(self, call: _Call, queue: str, now: float, out: list[cmd.Command]) -> None:
        """Move a waiting call into ``queue``; it keeps its arrival time (seniority)."""
        self._leave_line(call)
        self._dirty.add(call.queue)
        call.queue = queue
        call.entered_at = now
        call.front_key = None
        call.max_wait_fired = False
        self._counters[queue].count("offered")
        self._enter_line(call, now)
        self._joined(call, out)
        self._route_call(call, now, out)

    def _on_callback_requested(
        self, e: ev.CallbackRequested, now: float, out: list[cmd.Command]
    ) -> None:
        call = self._call(e.call_id)
        call_next(call.state, CallInput.CALLBACK)
        if call.channel != _VOICE:
            raise InvalidInput(f"{e.call_id!r} is a {call.channel}, not a call", field="call_id")
        if call.callback_number is not None:
            raise InvalidInput(f"call {e.call_id!r} is already a callback", field="call_id")
        _check_number(e.number)
        self._leave_line(call)
        call.callback_number = e.number
        self._enter_line(call, now)
        self._counters[call.queue].count("callbacks_requested")
        out.append(cmd.CallbackLogged(call.call_id, call.queue, "requested", 0, now))
        self._route_call(call, now, out)

    def _on_callback_result(self, e: ev.CallbackResult, now: float, out: list[cmd.Command]) -> None:
        call = self._call(e.call_id)
        if call.callback_number is None:
            raise InvalidInput(f"call {e.call_id!r} is not a callback", field="call_id")
        if e.ok:
            call_next(call.state, CallInput.ANSWER)
            if call.agent_id is None:
                raise InvalidInput(f"call {e.call_id!r} has no agent", field="call_id")
            self._answer(call, self._agents[call.agent_id], now, out)
            return
        call_next(call.state, CallInput.CALLBACK_FAILED)
        agent = self._agents[call.agent_id] if call.agent_id is not None else None
        if agent is not None:
            agent_next(agent.state, AgentInput.CALLBACK_FAILED)
        q = self._queues[call.queue]
        counters = self._counters[call.queue]
        give_up = call.attempts >= q.callback_attempts
        if give_up:
            call_next(call.state, CallInput.LEAVE)
        call.agent_id = None
        if give_up:
            self._leave(call)
            counters.count("callbacks_failed")
            out.append(cmd.CallLeftQueue(call.call_id, call.queue, "callback_failed"))
            out.append(cmd.CallbackLogged(call.call_id, call.queue, "gave_up", call.attempts, now))
        else:
            call.state = CallState.RETRY
            call.epoch += 1
            self._schedule(now + q.callback_retry, _RETRY, call.call_id, call.epoch)
            out.append(
                cmd.CallbackLogged(
                    call.call_id,
                    call.queue,
                    "failed",
                    call.attempts,
                    now,
                    agent.agent_id if agent else None,
                )
            )
        self._dirty.add(call.queue)
        if agent is not None:
            self._make_ready(agent, now, out, keep_idle=True)

    def _on_queues_changed(self, e: ev.QueuesChanged, now: float, out: list[cmd.Command]) -> None:
        queues = tuple(e.queues)
        agents = tuple(e.agents) if e.agents is not None else None
        _validate_setup(queues, agents if agents is not None else self._agent_configs())
        names = {q.name for q in queues}
        busy = sorted({c.queue for c in self._calls.values() if c.queue not in names})
        if busy:
            raise InvalidInput(
                "cannot remove queues that still have calls: " + ", ".join(busy), field="queues"
            )
        if agents is not None:
            keep = {a.agent_id for a in agents}
            active = sorted(
                a.agent_id
                for a in self._agents.values()
                if a.agent_id not in keep and (a.state is not AgentState.LOGGED_OUT or a.contacts)
            )
            if active:
                raise InvalidInput(
                    "cannot remove agents who are logged in or hold chats or emails: "
                    + ", ".join(active),
                    field="agents",
                )
        # everything checked; apply
        self._channels_on = _channels_on(
            queues, agents if agents is not None else self._agent_configs()
        )
        self._queues = {q.name: q for q in queues}
        self._counters = {n: self._counters.get(n, QueueCounters()) for n in self._queues}
        self._rr = {n: self._rr.get(n, {}) for n in self._queues}
        self._published = {n: s for n, s in self._published.items() if n in self._queues}
        self._published_at = {n: t for n, t in self._published_at.items() if n in self._queues}
        if agents is not None:
            old = self._agents
            self._agents = {}
            for i, config in enumerate(agents):
                agent = old.get(config.agent_id) or _Agent(config, i, since=now, counted_from=now)
                agent.config = config
                agent.order = i
                self._agents[config.agent_id] = agent
        for agent in self._agents.values():  # the channel marks may have come or gone
            agent.base_skills = self._skills_of(agent.config)
            self._refresh_skills(agent, index=False)
        self._reset_indexes()
        for call in sorted(self._calls.values(), key=lambda c: c.seq):
            if call.state is CallState.WAITING:
                call.epoch += 1
                self._enter_line(call, now)
        self._dirty.update(self._queues)
        for agent in self._agents.values():
            if agent.state is AgentState.READY:
                self._route_agent(agent, now, out)

    # ------------------------------------------------------------------ timers

    def _ring_timeout(self, call: _Call, now: float, out: list[cmd.Command]) -> None:
        if call.state is not CallState.OFFERED or call.agent_id is None:
            return
        agent = self._agents[call.agent_id]
        out.append(cmd.CancelRing(call.call_id, agent.agent_id))
        self._no_answer(call, agent, now, out)

    def _announce(self, call: _Call, due: float, now: float, out: list[cmd.Command]) -> None:
        q = self._queues[call.queue]
        if call.callback_number is not None or q.announce_interval <= 0:
            return
        estimate = self.estimate_call(call.call_id, now)
        out.append(cmd.Announce(call.call_id, estimate.position, estimate.seconds))
        # after a long stall, announce once rather than replaying every missed slot
        next_at = due + q.announce_interval
        if next_at <= now:
            next_at = now + q.announce_interval
        self._schedule(next_at, _ANNOUNCE, call.call_id, call.epoch)

    def _max_wait(self, call: _Call, now: float, out: list[cmd.Command]) -> None:
        q = self._queues[call.queue]
        if call.callback_number is not None or call.max_wait_fired or q.max_wait <= 0:
            return
        counters = self._counters[call.queue]
        action = q.max_wait_action
        if call.channel != _VOICE:
            # nobody hangs up on a chat or an email: only an overflow into a queue that
            # takes its channel applies
            target = self._queues.get(q.max_wait_target)
            if action is not MaxWaitAction.OVERFLOW or target is None:
                return
            if call.channel not in target.channels:
                return
        if action is MaxWaitAction.CALLBACK:
            call.max_wait_fired = True
            out.append(cmd.MaxWaitReached(call.call_id, action.value, q.max_wait_target, q.name))
            return
        if action is MaxWaitAction.OVERFLOW and q.max_wait_target in self._queues:
            counters.count("overflowed")
            out.append(cmd.CallLeftQueue(call.call_id, q.name, "overflow"))
            out.append(cmd.MaxWaitReached(call.call_id, action.value, q.max_wait_target, q.name))
            self._transfer(call, q.max_wait_target, now, out)
            return
        call_next(call.state, CallInput.LEAVE)
        self._leave(call)
        counters.count("timed_out")
        out.append(cmd.CallLeftQueue(call.call_id, q.name, "max_wait"))
        out.append(cmd.MaxWaitReached(call.call_id, action.value, q.max_wait_target, q.name))

    def _widen(self, call: _Call, now: float, out: list[cmd.Command]) -> None:
        if call.state is not CallState.WAITING or call.entry is None:
            return
        requirement = self._requirement(call, now)
        if requirement != call.requirement:
            self._waiting.regroup(
                call.queue, call.entry, call.requirement, requirement, call.channel
            )
            call.requirement = requirement
        self._schedule_widen(call, now)
        self._route_call(call, now, out)

    def _retry_callback(self, call: _Call, now: float, out: list[cmd.Command]) -> None:
        call_next(call.state, CallInput.RETRY_DUE)
        call.state = CallState.WAITING
        self._enter_line(call, now)
        self._route_call(call, now, out)

    # ------------------------------------------------------------------ routing

    def _route_call(self, call: _Call, now: float, out: list[cmd.Command]) -> None:
        """A call (re)joined its line: give it the best ready agent, if any is eligible."""
        agent = self._best_agent(call)
        if agent is not None:
            self._offer(call, agent, now, out, self._queues[call.queue].ring_timeout)

    def _make_ready(
        self,
        agent: _Agent,
        now: float,
        out: list[cmd.Command],
        *,
        keep_idle: bool = False,
        forced_by: str | None = None,
        since: float | None = None,
    ) -> None:
        """The agent becomes READY; a caller waiting for them is offered at once, without
        the agent passing through the ready indexes (the common case in a busy center)."""
        sticky = self._sticky_call(agent, now)
        call = sticky or self._best_call(agent)
        self._set_state(
            agent,
            AgentState.READY,
            "",
            now,
            out,
            keep_idle=keep_idle,
            index=not call,
            forced_by=forced_by,
            since=since,
        )
        if call is None:
            return
        if call.channel != _VOICE:  # still ready: room for more, maybe (indexed after)
            self._assign(call, agent, now, out, index=False)
            self._route_agent(agent, now, out, stale=True)
            return
        timeout = self.settings.sticky_offer_seconds if sticky else 0.0
        self._offer(call, agent, now, out, timeout)

    def _route_agent(
        self, agent: _Agent, now: float, out: list[cmd.Command], *, stale: bool = False
    ) -> None:
        """An agent became ready (or got room on a channel): give them the best callers
        across all their queues — one call, or chats and emails up to their capacity.

        ``stale``: the agent's ready-index entries predate a change of their marks or key.
        The loop reads no ready index (only the waiting calls), so the agent is indexed
        once, at the end, however many chats they took, and not at all if a call rings.
        """
        while agent.state is AgentState.READY:
            call = self._sticky_call(agent, now)
            sticky = call is not None
            if call is None:
                call = self._best_call(agent)
                if call is None:
                    break
            if call.channel != _VOICE:
                self._assign(call, agent, now, out, index=False)
                stale = True
                continue
            timeout = self.settings.sticky_offer_seconds if sticky else 0.0
            self._offer(call, agent, now, out, timeout or self._queues[call.queue].ring_timeout)
        if stale and agent.state is AgentState.READY:
            self._reindex(agent)

    def _best_agent(self, call: _Call) -> _Agent | None:
        requirement = call.requirement
        agents = self._agents
        agent_id = self._ready.best(
            call.queue, requirement, lambda agent_id: agents[agent_id].meets(requirement)
        )
        return agents[agent_id] if agent_id is not None else None

    def _best_call(self, agent: _Agent) -> _Call | None:
        channels = agent.channels
        if not channels:  # no room on any channel: nothing to look at
            return None
        best = self._waiting.best_for(agent.config.queues, agent.meets, channels)
        return self._calls[best[3]] if best is not None else None

    def _sticky_call(self, agent: _Agent, now: float) -> _Call | None:
        ids = self._sticky.get(agent.agent_id)
        if not ids:
            return None
        best: _Call | None = None
        for call_id in list(ids):
            call = self._calls.get(call_id)
            if call is None or call.state is not CallState.WAITING or call.sticky_until < now:
                ids.discard(call_id)
                continue
            if not self._reaches(call, agent):
                continue  # the last agent is on a PBX this caller cannot reach
            if call.entry is not None and (
                best is None or best.entry is None or call.entry < best.entry
            ):
                best = call
        return best

    def _offer(
        self, call: _Call, agent: _Agent, now: float, out: list[cmd.Command], ring_timeout: float
    ) -> None:
        if call.channel != _VOICE:
            self._assign(call, agent, now, out)
            return
        call_next(call.state, CallInput.OFFER)
        agent_next(agent.state, AgentInput.OFFER)
        self._leave_line(call)
        agent_id = agent.config.agent_id
        call.state = CallState.OFFERED
        call.agent_id = agent_id
        call.offered_at = now
        q = self._queues[call.queue]
        self._rr_seq += 1
        self._rr[q.name][agent_id] = self._rr_seq
        self._set_state(agent, AgentState.RINGING, "", now, out, call_id=call.call_id)
        timeout = ring_timeout if ring_timeout > 0 else q.ring_timeout
        give_up = timeout + self.settings.ring_grace_seconds
        if call.callback_number is not None:
            give_up += self.settings.callback_dial_seconds
        self._seq += 1  # _schedule, inlined: every offer sets a ring timer
        heapq.heappush(self._timers, (now + give_up, self._seq, _RING, call.call_id, call.epoch))
        if call.callback_number is not None:
            call.attempts += 1
            out.append(
                cmd.StartCallback(
                    call.call_id,
                    agent.agent_id,
                    agent.config.endpoint,
                    call.callback_number,
                    call.attempts,
                    timeout,
                    q.name,
                )
            )
            out.append(
                cmd.CallbackLogged(
                    call.call_id, q.name, "started", call.attempts, now, agent.agent_id
                )
            )
        else:
            out.append(
                cmd.RingAgent(
                    call.call_id, agent.agent_id, agent.config.endpoint, timeout, q.name, q.moh
                )
            )

    # ------------------------------------------------------------------ chats and emails

    def _assign(
        self, call: _Call, agent: _Agent, now: float, out: list[cmd.Command], *, index: bool = True
    ) -> None:
        """Give a chat or email to a ready agent with room for it: connected at once,
        nothing rings, the agent stays READY with one slot less on that channel
        (re-indexed now, or by the caller when ``index`` is False)."""
        call_next(call.state, CallInput.OFFER)
        self._leave_line(call)
        agent_id = agent.agent_id
        call.state = CallState.CONNECTED
        call.epoch += 1
        call.agent_id = agent_id
        call.offered_at = call.answered_at = now
        name = call.queue
        q = self._queues[name]
        self._rr_seq += 1
        self._rr[name][agent_id] = self._rr_seq
        waited = now - call.entered_at
        predicted = waited if call.adopted else call.predicted
        self._counters[name].record_answer(waited, q.service_level, predicted)
        agent.calls += 1
        out.append(cmd.CallLeftQueue(call.call_id, name, "answered"))
        # "idle since" is since the last contact given: the longest-idle strategy spreads
        # chats over the ready agents instead of filling the first one up
        agent.idle_since = now
        self._hold(agent, call, index=index)  # re-indexed under the new key and marks
        out.append(cmd.AssignContact(call.call_id, agent_id, call.channel, name))

    def _hold(self, agent: _Agent, call: _Call, *, index: bool = True) -> None:
        agent.contacts[call.call_id] = call
        agent.load[call.channel] += 1
        self._refresh_skills(agent, index=index)

    def _unhold(self, agent: _Agent, call: _Call, *, index: bool = True) -> None:
        if agent.contacts.pop(call.call_id, None) is not None:
            agent.load[call.channel] -= 1
            self._refresh_skills(agent, index=index)

    def _end_contact(self, call: _Call, now: float, out: list[cmd.Command]) -> None:
        """The conversation ended: the contact leaves the live calls but holds its slot
        through its wrap-up, until ContactClosed or the queue's wrap-up limit."""
        call_next(call.state, CallInput.END)
        self._leave(call)  # out of self._calls; epoch bumped
        call.ended_at = now
        self._held[call.call_id] = call
        wrap = self._queues[call.queue].wrap_up
        if wrap > 0:
            self._schedule(now + wrap, _CLOSE, call.call_id, call.epoch)
        else:  # no wrap-up time in this queue: the slot is free at once
            self._release(call, "wrap_up_limit", now, out)

    def _on_contact_closed(self, e: ev.ContactClosed, now: float, out: list[cmd.Command]) -> None:
        _check_id(e.call_id, "call_id")
        call = self._calls.get(e.call_id)
        if call is not None:
            if call.channel == _VOICE:
                raise InvalidInput(f"{e.call_id!r} is a call, not a chat or email", field="call_id")
            if call.state is not CallState.CONNECTED:  # waiting: nothing to close yet
                raise IllegalTransition(call.state.value, "close a contact not assigned")
            call_next(call.state, CallInput.END)
            self._leave(call)
            call.ended_at = now
            self._release(call, "closed", now, out)
            return
        held = self._held.get(e.call_id)
        if held is not None:  # None: released already (limit, logout), nothing to do
            self._release(held, "closed", now, out)

    def _release(self, call: _Call, reason: str, now: float, out: list[cmd.Command]) -> None:
        """The ended contact's slot is free: its handle time counts, the agent may take
        the next contact (at once, if they are ready)."""
        self._held.pop(call.call_id, None)
        call.epoch += 1
        agent = self._agents.get(call.agent_id) if call.agent_id is not None else None
        counters = self._counters.get(call.queue)
        if counters is not None:
            counters.record_handled(now - call.answered_at)
            self._dirty.add(call.queue)
        if agent is None:
            return
        self._unhold(agent, call, index=False)
        out.append(cmd.ContactReleased(call.call_id, agent.agent_id, reason, call.queue))
        self._route_agent(agent, now, out, stale=True)  # re-indexes them

    def _drop_contacts(self, agent: _Agent, now: float, out: list[cmd.Command]) -> None:
        """The agent logged out: ended contacts are released, open ones go back to the
        front of their lines (in their order) and are routed to whoever can take them.

        A contact handed back enters its queue again (offered once more, its wait starts
        again, so max wait and the service level count from here), as a transfer would:
        it was answered once already, and each entry ends answered, abandoned or moved."""
        back: list[_Call] = []
        for call in list(agent.contacts.values()):
            if call.ended_at is not None:
                self._release(call, "logged_out", now, out)
                continue
            self._unhold(agent, call)
            back.append(call)
            out.append(cmd.ContactUnassigned(call.call_id, agent.agent_id, call.queue))
        back.sort(key=self._route_key, reverse=True)  # the best ends up frontmost
        for call in back:
            call.state = CallState.WAITING
            call.agent_id = None
            call.epoch += 1
            call.entered_at = now
            call.max_wait_fired = False
            first = self._waiting.front(call.queue)
            own = self._route_key(call)
            call.front_key = min(own, first[0] - _FRONT_STEP) if first is not None else own
            self._counters[call.queue].count("offered")
            self._enter_line(call, now)
        for call in reversed(back):
            self._joined(call, out)
        for call in reversed(back):
            if call.state is CallState.WAITING:
                self._route_call(call, now, out)

    def _adopt_contact(
        self, e: ev.CallAdopted, q: QueueConfig, agent: _Agent, now: float, out: list[cmd.Command]
    ) -> None:
        """A chat or email assigned before a restart: held again by its agent, whatever
        their voice state, even past capacity (refusing it would not take it from them)."""
        _check_call_fields(e.priority, e.skills, e.tier, e.caller)
        since = _restored_time(e.since, now, "since")
        answered = (
            now if e.answered_at is None else _restored_time(e.answered_at, now, "answered_at")
        )
        answered = max(since, answered)
        call = self._new_call(e, since, adopted=True)
        self._calls[call.call_id] = call
        self._counters[q.name].count("offered")
        self._dirty.add(q.name)
        call.state = CallState.CONNECTED
        call.agent_id = agent.agent_id
        call.offered_at = call.answered_at = answered
        waited = answered - since
        self._counters[q.name].record_answer(waited, q.service_level, waited)
        agent.calls += 1
        self._hold(agent, call)

    def _digital_waiting(self, queue: str) -> int:
        by = self._waiting.by_channel(queue)
        return by["chat"] + by["email"]

    def _refresh_skills(self, agent: _Agent, *, index: bool = True) -> None:
        """Recompute the agent's channel marks from their load; a ready agent is indexed
        again under them (unless ``index`` is False: the indexes are being rebuilt)."""
        skills = agent.base_skills
        channels: tuple[str, ...] = (_VOICE,)
        if self._channels_on:
            skills = dict(skills)
            capacity = agent.config.capacity
            contacts = agent.contacts
            room = []
            if capacity[_VOICE] >= 1 and (not contacts or agent.config.voice_during_digital):
                room.append(_VOICE)
            load = agent.load
            for channel in DIGITAL_CHANNELS:
                if load[channel] < capacity[channel]:
                    room.append(channel)
            for channel in room:
                skills[_MARKS[channel]] = 1
            channels = tuple(room)
        agent.skills = skills
        agent.channels = channels
        if index and agent.state is AgentState.READY:
            self._reindex(agent)

    def _reindex(self, agent: _Agent) -> None:
        """Index a ready agent again after their load (marks) or key changed.

        With the same marks and skills as when indexed the agent is in the same lists:
        each entry is only moved to its new key (and left alone if that did not change),
        which spares re-walking the skills; otherwise out of every list and in again."""
        entries = agent.entries
        queues = agent.config.queues
        per_queue = 1 + len(agent.skills)
        if (
            entries
            and agent.indexed_channels == agent.channels
            and agent.indexed_base is agent.base_skills
            and len(entries) == per_queue * len(queues)
        ):
            configs = self._queues
            keys = [self._agent_key(agent, configs[name]) for name in queues]
            self._ready.rekey(entries, keys, per_queue)
            return
        self._ready.remove(entries)
        self._index_agent(agent)

    # ------------------------------------------------------------------ lines & indexes

    def _reset_indexes(self) -> None:
        self._ready = ReadyAgents(self._queues)
        self._waiting = WaitingCalls(self._queues)
        self._sticky = {}
        self._agent_counts = {n: dict.fromkeys(_STATE_NAMES, 0) for n in self._queues}
        for agent in self._agents.values():
            agent.entries = []
            agent.queue_counts = [self._agent_counts[name] for name in agent.config.queues]
            for counts in agent.queue_counts:
                counts[agent.state.value] += 1
            if agent.state is AgentState.READY:
                self._index_agent(agent)

    def _agent_key(self, agent: _Agent, queue: QueueConfig) -> Entry:
        strategy = queue.strategy
        order = agent.order
        if strategy is Strategy.LONGEST_IDLE:
            return (agent.idle_since, float(order), order, agent.agent_id)
        if strategy is Strategy.ROUND_ROBIN:
            last = self._rr[queue.name].get(agent.agent_id, 0)
            return (float(last), float(order), order, agent.agent_id)
        if strategy is Strategy.FEWEST_CALLS:
            return (float(agent.calls), agent.idle_since, order, agent.agent_id)
        if strategy is Strategy.RANDOM:
            return (agent.draw, float(order), order, agent.agent_id)
        return (float(order), 0.0, order, agent.agent_id)

    def _index_agent(self, agent: _Agent) -> None:
        for name in agent.config.queues:
            key = self._agent_key(agent, self._queues[name])
            self._ready.add(name, key, agent.skills, agent.entries)
        agent.indexed_channels = agent.channels
        agent.indexed_base = agent.base_skills

    def _unindex_agent(self, agent: _Agent) -> None:
        self._ready.remove(agent.entries)

    def _route_key(self, call: _Call) -> float:
        q = self._queues[call.queue]
        priority = call.priority + q.tier_priority.get(call.tier, 0)
        return call.arrived_at - priority * q.priority_seconds - q.weight

    def _requirement(self, call: _Call, now: float) -> Requirement:
        widening = self._queues[call.queue].widening
        if widening.every <= 0:  # no widening: the base levels (all >= 1) as they are
            levels = list(call.base.items())
        else:
            waited = now - call.arrived_at
            levels = []
            for skill, level in call.base.items():
                widened = widening.level_after(level, waited)
                if widened > 0:
                    levels.append((skill, widened))
        if self.settings.reach:
            levels.append((_reach_mark(call.pbx), 1))  # never widens: a trunk is or is not
        if self._channels_on:
            levels.append((_MARKS[call.channel], 1))  # never widens either
        return tuple(sorted(levels))

    def _reaches(self, call: _Call, agent: _Agent) -> bool:
        """Whether ``call``'s PBX can reach ``agent``'s phone and the agent has room on
        its channel (for the sticky offer, which passes by the requirement indexes)."""
        skills = agent.skills
        if self._channels_on and _MARKS[call.channel] not in skills:
            return False
        return not self.settings.reach or _reach_mark(call.pbx) in skills

    def _skills_of(self, config: AgentConfig) -> dict[str, int]:
        """The agent's skills for routing: its own, and a reach mark for its PBX and for
        every PBX trunked to it, so "can this caller's PBX reach the agent" is one more
        requirement the indexes answer like a skill."""
        skills = dict(config.skills)
        if self.settings.reach:
            skills[_reach_mark(config.pbx)] = 1
            for pbx, targets in self.settings.reach.items():
                if config.pbx in targets:
                    skills[_reach_mark(pbx)] = 1
        return skills

    def _enter_line(self, call: _Call, now: float) -> None:
        """Put a WAITING call into its queue's line, groups and timers."""
        q = self._queues[call.queue]
        base = dict(q.skills)
        for skill, level in call.own_skills.items():
            base[skill] = max(level, base.get(skill, 0))
        call.base = base
        call.requirement = self._requirement(call, now)
        key = self._route_key(call)
        if call.front_key is not None:
            key = min(key, call.front_key)
        call.entry = (key, 0.0, call.seq, call.call_id)
        call.since_entry = (call.entered_at, 0.0, call.seq, call.call_id)
        live = call.callback_number is None
        channel = call.channel
        self._waiting.add(q.name, call.entry, call.since_entry, call.requirement, live, channel)
        if call.sticky_agent is not None and call.sticky_until >= now:
            self._sticky.setdefault(call.sticky_agent, set()).add(call.call_id)
        # a chat is told its place like a caller; an email has no one to tell
        if live and q.announce_interval > 0 and channel != "email":
            self._schedule(now + q.announce_interval, _ANNOUNCE, call.call_id, call.epoch)
        if live and q.max_wait > 0 and not call.max_wait_fired:
            self._schedule(call.entered_at + q.max_wait, _MAX_WAIT, call.call_id, call.epoch)
        self._schedule_widen(call, now)
        self._dirty.add(q.name)

    def _joined(self, call: _Call, out: list[cmd.Command]) -> None:
        """Tell the shell where the call now waits, and remember the wait we predict."""
        position = self._position(call)
        call.predicted = self._ewt(call.queue, position)
        q = self._queues[call.queue]
        callback = call.callback_number is not None
        out.append(
            cmd.CallJoinedQueue(call.call_id, q.name, position, call.predicted, q.moh, callback)
        )

    def _leave_line(self, call: _Call) -> None:
        """Take a WAITING call out of its line, groups and timers."""
        name = call.queue
        if call.entry is not None and call.since_entry is not None:
            live = call.callback_number is None
            self._waiting.remove(
                name, call.entry, call.since_entry, call.requirement, live, call.channel
            )
            call.entry = None
            call.since_entry = None
        if call.sticky_agent is not None:
            ids = self._sticky.get(call.sticky_agent)
            if ids is not None:
                ids.discard(call.call_id)
        call.epoch += 1
        self._dirty.add(name)

    def _leave(self, call: _Call) -> None:
        """The call is finished with the ACD."""
        self._leave_line(call)
        call.state = CallState.DONE
        self._calls.pop(call.call_id, None)

    def _schedule_widen(self, call: _Call, now: float) -> None:
        widening = self._queues[call.queue].widening
        if widening.every <= 0:
            return
        waited = now - call.arrived_at
        nexts = [
            at
            for level in call.base.values()
            if (at := widening.next_change(level, waited)) is not None
        ]
        if nexts:
            self._schedule(call.arrived_at + min(nexts), _WIDEN, call.call_id, call.epoch)

    def _schedule(self, due: float, kind: str, target: str, epoch: int) -> None:
        heapq.heappush(self._timers, (due, self._next_seq(), kind, target, epoch))

    def _position(self, call: _Call) -> int:
        return self._waiting.position(call.queue, call.entry) if call.entry is not None else 0

    # ------------------------------------------------------------------ agent state

    def _set_state(
        self,
        agent: _Agent,
        new: AgentState,
        reason: str,
        now: float,
        out: list[cmd.Command],
        *,
        call_id: str | None = None,
        keep_idle: bool = False,
        index: bool = True,
        forced_by: str | None = None,
        since: float | None = None,
    ) -> None:
        """Move the agent to ``new`` (already checked against the table) at ``now``;
        ``since``, when given, is an earlier real start of the state (a restart)."""
        old = agent.state
        # ``_value_``, not the ``value`` property: this runs several times per event
        old_name: str = old._value_
        new_name: str = new._value_
        if old is not AgentState.LOGGED_OUT:
            # copy on write: the dict is replaced, never changed in place, so each
            # AgentStateChanged can carry the agent's own dict with no copy of its own
            seconds = agent.state_seconds.copy()
            spent = now - agent.counted_from
            seconds[old_name] = seconds.get(old_name, 0.0) + (spent if spent > 0.0 else 0.0)
            agent.state_seconds = seconds
        if old is AgentState.READY:
            self._ready.remove(agent.entries)
        for counts in agent.queue_counts:
            counts[old_name] -= 1
            counts[new_name] += 1
        self._dirty.update(agent.config.queues)
        start = now if since is None else since
        agent.state = new
        agent.reason = reason
        agent.since = start
        agent.counted_from = now  # today's state seconds count only what this process saw
        agent.epoch += 1
        agent.call_id = call_id
        # every state change starts afresh: a new wrap-up sets these after this call.
        # What the agent typed while talking is the unsaved input of the wrap-up that
        # follows the call, so only that one change keeps it.
        agent.wrap_until = None
        agent.wrap_unsaved = agent.wrap_unsaved and (
            old is AgentState.ON_CALL and new is AgentState.WRAP_UP
        )
        agent.wrap_extended = agent.wrap_overdue = False
        if new is AgentState.READY:
            if not keep_idle:
                agent.idle_since = now
            agent.draw = self._rng.random()
            if index:
                self._index_agent(agent)
        out.append(
            cmd.AgentStateChanged(
                agent.config.agent_id,
                new,
                reason,
                start,
                call_id,
                agent.calls,
                agent.talk,
                agent.state_seconds,
                forced_by,
            )
        )

    # ------------------------------------------------------------------ statistics

    def _logged_in(self, queue: str) -> int:
        counts = self._agent_counts[queue]
        return sum(counts.values()) - counts[_LOGGED_OUT]

    def _ewt(self, queue: str, position: int) -> float:
        """Expected seconds until the caller at ``position`` is answered.

        With b busy agents and uniformly spread remaining handle times, the k-th agent
        frees up after about k/(b+1) of a handle time; beyond that, b agents serve one
        caller each per handle time.
        """
        ready = self._ready.count(queue)
        k = position - ready
        if k <= 0:
            return 0.0
        aht = self._counters[queue].aht() or self._queues[queue].default_handle_time
        counts = self._agent_counts[queue]
        staffed = counts[_READY] + counts[_RINGING] + counts[_ON_CALL] + counts[_WRAP_UP]
        busy = staffed - ready
        if busy <= 0:
            return round(k * aht, 1)
        if k <= busy:
            return round(k * aht / (busy + 1), 1)
        return round(aht * k / busy, 1)

    def _queue_stats(
        self, name: str, line: tuple[int, int, float | None] | None = None
    ) -> dict[str, Any]:
        """The queue's figures; ``line`` is ``WaitingCalls.summary(name)`` if already read."""
        waiting, live, oldest = line or self._waiting.summary(name)
        stats: dict[str, Any] = {
            "waiting": waiting,
            "callbacks_waiting": waiting - live,
            "longest_wait_since": oldest,
            "agents": dict(self._agent_counts[name]),
            "ewt": self._ewt(name, waiting + 1),
            "waiting_by_channel": dict(self._waiting.by_channel(name)),
        }
        stats.update(self._counters[name].figures())
        return stats

    def queue_stats(self, queue: str) -> dict[str, Any]:
        """The statistics of one queue right now (what QueueStatsChanged carries).

        Raises:
            NotFound: no such queue.
        """
        self._queue(queue)
        return self._queue_stats(queue)

    def _publish(self, out: list[cmd.Command], now: float, *, flush: bool) -> None:
        """One QueueStatsChanged per dirty queue whose figures' inputs changed.

        With ``stats_interval`` > 0 a queue published less than the interval ago stays
        dirty, and unless ``flush`` (a tick) one event publishes at most one queue: the
        others due go out with the next events, within milliseconds at the rates where
        coalescing matters, so no single event pays for every queue's figures (that
        was its p99). This runs after every event for 1-4 queues with the interval 0,
        so ``_queue_stats`` is inlined here.
        """
        queues, published, counters_of = self._queues, self._published, self._counters
        templates = self._stats_templates
        waiting_calls, ready_agents = self._waiting, self._ready
        interval = self.settings.stats_interval
        published_at = self._published_at
        dirty = self._dirty
        held: list[str] = []  # dirty queues left for a later event or tick
        due = math.inf  # when the first of them is due
        published_one = False
        for name in sorted(dirty):
            q = queues.get(name)
            if q is None:
                continue
            if interval > 0:
                last = published_at.get(name, -math.inf)
                if last <= now < last + interval:  # published less than the interval ago
                    held.append(name)
                    due = min(due, last + interval)
                    continue
                if published_one:  # due, but this event has already published a queue
                    held.append(name)
                    due = now
                    continue
            line = waiting_calls.summary(name)
            counts = self._agent_counts[name]
            ready = ready_agents.count(name)
            counters = counters_of[name]
            by_channel = waiting_calls.by_channel(name)
            # everything the published statistics derive from, cheap to compare
            signature = (
                line,
                tuple(counts.values()),
                ready,
                counters.version,
                tuple(by_channel.values()),
            )
            if published.get(name) == signature:
                continue
            published[name] = signature
            # the same keys in the same order as _queue_stats, from a copy of a template
            # that already holds today's figures (copying is cheaper than building)
            figures = counters.figures()
            base = templates.get(name)
            if base is None or base[0] is not figures:
                template: dict[str, Any] = dict.fromkeys(_LIVE_STATS)
                template.update(figures)
                base = templates[name] = (figures, template)
            waiting, live, oldest = line
            stats = base[1].copy()
            stats["waiting"] = waiting
            stats["callbacks_waiting"] = waiting - live
            stats["longest_wait_since"] = oldest
            stats["agents"] = dict(counts)
            stats["ewt"] = self._ewt(name, waiting + 1)
            stats["waiting_by_channel"] = dict(by_channel)
            out.append(cmd.QueueStatsChanged(name, stats))
            if interval > 0:
                published_at[name] = now
                published_one = not flush
        dirty.clear()
        dirty.update(held)
        if dirty:
            self._stats_held_at, self._stats_due = now, due
        else:  # nothing pending: the next change is checked at once
            self._stats_held_at, self._stats_due = -math.inf, -math.inf

    def _day_of(self, now: float) -> int:
        return math.floor((now + self.settings.day_offset_seconds) / 86400.0)

    def _next_roll_check(self) -> float:
        """A second before the next midnight: until then no event can start a new day, so
        ``handle`` skips the day arithmetic (the second absorbs float rounding)."""
        return (self._day + 1) * 86400.0 - self.settings.day_offset_seconds - 1.0

    def _roll_day(self, now: float) -> None:
        """At midnight the "today" figures start again; live state carries over."""
        day = self._day_of(now)
        if day <= self._day:
            return
        self._day = day
        self._roll_check_at = self._next_roll_check()
        midnight = day * 86400.0 - self.settings.day_offset_seconds
        self._counters = {n: QueueCounters() for n in self._queues}
        for agent in self._agents.values():
            agent.calls = 0
            agent.talk = 0.0
            agent.state_seconds = {}
            agent.counted_from = max(agent.since, midnight)
            agent.wrap_queue = None
        self._dirty.update(self._queues)

    # ------------------------------------------------------------------ lookups

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _queue(self, name: str) -> QueueConfig:
        q = self._queues.get(name)
        if q is None:
            raise NotFound(f"no queue {name!r}")
        return q

    def _agent(self, agent_id: str) -> _Agent:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise NotFound(f"no agent {agent_id!r}")
        return agent

    def _call(self, call_id: str) -> _Call:
        call = self._calls.get(call_id)
        if call is None:
            raise NotFound(f"no call {call_id!r} in the ACD")
        return call

    def _offered_pair(self, call_id: str, agent_id: str) -> tuple[_Call, _Agent]:
        call = self._call(call_id)
        agent = self._agent(agent_id)
        if call.agent_id != agent_id:
            raise InvalidInput(
                f"call {call_id!r} is not being offered to agent {agent_id!r}", field="agent_id"
            )
        return call, agent

    def _agent_configs(self) -> tuple[AgentConfig, ...]:
        return tuple(a.config for a in self._agents.values())


def _channels_on(queues: Iterable[QueueConfig], agents: Iterable[AgentConfig]) -> bool:
    """Whether calls must require a channel mark: some queue takes chats or emails, or
    some agent takes no calls."""
    return any(q.channels != VOICE_ONLY for q in queues) or any(
        a.capacity.get(_VOICE, 1) < 1 for a in agents
    )


def _check_takes(queue: QueueConfig, channel: str) -> None:
    check_channel(channel)
    if channel not in queue.channels:
        raise InvalidInput(
            f"queue {queue.name!r} takes {', '.join(sorted(queue.channels))}, not {channel}",
            field="channel",
        )


def _check_id(value: str, name: str) -> None:
    if not isinstance(value, str) or not value or "\r" in value or "\n" in value or "\x00" in value:
        raise InvalidInput(f"{name} must be a non-empty single-line string", field=name)


def _check_call_fields(priority: int, skills: Mapping[str, int], tier: str, caller: str) -> None:
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise InvalidInput(f"priority must be an integer, got {priority!r}", field="priority")
    check_skills(skills)
    for name, value in (("tier", tier), ("caller", caller)):
        if "\r" in value or "\n" in value or "\x00" in value:
            raise InvalidInput(f"{name} must not contain CR, LF or NUL", field=name)


def _is_time(value: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _restored_time(value: float, now: float, name: str) -> float:
    """A time carried over from before a restart. Garbage is refused; a time a little
    after ``now`` (the wall clock stepped back between runs) is taken as ``now`` rather
    than leaving a live call or an agent behind."""
    if not _is_time(value):
        raise InvalidInput(f"{name} must be a finite time", field=name)
    return min(value, now)


def _check_number(number: str) -> None:
    digits = number[1:] if number.startswith("+") else number
    if not digits or not digits.isdigit() or not digits.isascii() or len(digits) > 20:
        raise InvalidInput(f"not a phone number to call back: {number!r}", field="number")


def _validate_setup(queues: tuple[QueueConfig, ...], agents: tuple[AgentConfig, ...]) -> None:
    names = [q.name for q in queues]
    dupes = sorted(n for n, count in Counter(names).items() if count > 1)
    if dupes:
        raise InvalidInput("queue names must be unique: " + ", ".join(dupes), field="queues")
    for q in queues:
        if q.max_wait_action is MaxWaitAction.OVERFLOW and q.max_wait_target not in names:
            raise InvalidInput(
                f"queue {q.name!r} overflows into unknown queue {q.max_wait_target!r}",
                field="max_wait_target",
            )
    dupes = sorted(i for i, count in Counter(a.agent_id for a in agents).items() if count > 1)
    if dupes:
        raise InvalidInput("agent ids must be unique: " + ", ".join(dupes), field="agents")
    known = set(names)
    for a in agents:
        unknown = [q for q in a.queues if q not in known]
        if unknown:
            raise InvalidInput(
                f"agent {a.agent_id!r} is in unknown queue(s): " + ", ".join(unknown),
                field="queues",
            )

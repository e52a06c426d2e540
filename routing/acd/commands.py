"""What the ACD engine asks the shell to do, or tells the console. JSON-ready payloads.

Commands are immutable by contract, but not by a frozen dataclass: a frozen dataclass
sets each field through ``object.__setattr__`` in ``__init__`` (1.35 µs for the nine
fields of AgentStateChanged against 0.55 µs slotted, and an event emits 3-6 commands;
issue 12). The ``@command`` decorator makes a slotted dataclass, hashable by value as a
frozen one is, and tells the type checker it is frozen
(``dataclass_transform(frozen_default=True)``), so ``mypy --strict`` refuses any
assignment to a field; at run time nothing checks. Payload mappings (``state_seconds``,
``stats``) are the engine's snapshots, shared by the commands that carry them: read
them, never modify them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, dataclass_transform

from routing.acd.states import AgentState

_C = TypeVar("_C")


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def command(cls: type[_C]) -> type[_C]:
    """A command class: a slotted dataclass that the type checker holds frozen."""
    return dataclass(slots=True, unsafe_hash=True)(cls)


@command
class RingAgent:
    """Connect the waiting caller to ``endpoint``; give up after ``ring_timeout`` seconds."""

    call_id: str
    agent_id: str
    endpoint: str
    ring_timeout: float
    queue: str = ""
    moh: str = "default"


@command
class CancelRing:
    """The engine gave up on a ring the shell never reported; stop ringing the agent."""

    call_id: str
    agent_id: str


@command
class Announce:
    """Tell the waiting caller their position and estimated wait."""

    call_id: str
    position: int
    seconds: float


@command
class MaxWaitReached:
    """The caller waited too long (or the queue was full / unstaffed): do ``action``.

    ``action`` is a :class:`routing.acd.model.MaxWaitAction` value. For ``overflow`` the
    engine has already moved the call into ``target`` (the target's own ``max_length``
    does not apply to overflows); for ``callback`` a waiting caller is still waiting and
    the shell should offer a callback (CallbackRequested). A caller who was turned away
    (CallLeftQueue full / no_agents) accepts a callback by queueing again with
    ``CallQueued(callback_number=...)``, which a full queue still takes. ``voicemail``:
    ``target`` is the box; ``hangup``: ``target`` is a prompt to play first (may be empty).
    """

    call_id: str
    action: str
    target: str
    queue: str = ""


@command
class StartCallback:
    """Ring the agent (for ``ring_timeout`` seconds), then call the customer back on
    ``number``. Report the agent leg unanswered as RingNoAnswer, the customer leg as
    CallbackResult."""

    call_id: str
    agent_id: str
    endpoint: str
    number: str
    attempt: int = 1
    ring_timeout: float = 15.0
    queue: str = ""


@command
class CallbackLogged:
    """One step of a callback's life, for the contact log: requested, started, connected,
    failed, gave_up, cancelled."""

    call_id: str
    queue: str
    outcome: str
    attempt: int
    at: float
    agent_id: str | None = None


@command
class AgentStateChanged:
    """An agent's new state, and their running figures for today."""

    agent_id: str
    state: AgentState
    reason: str
    since: float
    call_id: str | None = None
    calls: int = 0
    talk_seconds: float = 0.0
    state_seconds: Mapping[str, float] = field(default_factory=dict)
    #: the supervisor who forced this change, for the audit log
    forced_by: str | None = None


@command
class AgentWrapUpChanged:
    """The agent is still in wrap-up, but its deadline moved (``extend_once``) or it is now
    overdue (unsaved input held it there past the limit): consoles show it."""

    agent_id: str


@command
class QueueStatsChanged:
    """A queue's statistics changed; ``stats`` is the complete JSON-ready dict."""

    queue: str
    stats: Mapping[str, Any]


@command
class CallJoinedQueue:
    """The call is now waiting in ``queue`` (arrival, overflow, move): play ``moh`` to it.

    ``position`` and ``seconds`` are its place and estimated wait at that moment; the
    prediction is kept and compared with the real wait for the estimate-accuracy figures.
    """

    call_id: str
    queue: str
    position: int
    seconds: float
    moh: str
    callback: bool = False


@command
class CallLeftQueue:
    """The call is no longer waiting in ``queue``.

    ``reason``: answered, abandoned, max_wait, overflow, moved, full, no_agents,
    callback_failed.
    """

    call_id: str
    queue: str
    reason: str


@command
class AssignContact:
    """A chat or email is the agent's now (connected at once, nothing rings): show it to
    them. The agent's voice state does not change; they may get several in one event."""

    call_id: str
    agent_id: str
    channel: str
    queue: str


@command
class ContactReleased:
    """A chat or email no longer holds a slot of the agent's capacity.

    ``reason``: ``closed`` (its wrap-up was saved, ContactClosed), ``wrap_up_limit`` (the
    queue's wrap-up limit passed after it ended; at once when the limit is 0) or
    ``logged_out`` (the agent logged out after it ended).
    """

    call_id: str
    agent_id: str
    reason: str
    queue: str = ""


@command
class ContactUnassigned:
    """The agent logged out holding this chat or email, not ended: it is back at the
    front of its line (and may already be assigned again by a later command)."""

    call_id: str
    agent_id: str
    queue: str = ""


Command = (
    RingAgent
    | CancelRing
    | Announce
    | MaxWaitReached
    | StartCallback
    | CallbackLogged
    | AgentStateChanged
    | AgentWrapUpChanged
    | QueueStatsChanged
    | CallJoinedQueue
    | CallLeftQueue
    | AssignContact
    | ContactReleased
    | ContactUnassigned
)

"""What the ACD engine is told. The shell builds these from AMI/AGI and the console."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from routing.acd.model import AgentConfig, QueueConfig
from routing.acd.states import AgentState


@dataclass(frozen=True, slots=True)
class CallQueued:
    """A caller enters ``queue`` (from the IVR). ``skills`` add to the queue's requirements."""

    call_id: str
    queue: str
    priority: int = 0
    skills: Mapping[str, int] = field(default_factory=dict)
    customer_id: str | None = None
    tier: str = ""
    caller: str = ""
    #: the agent who last served this customer within the sticky window
    sticky_agent: str | None = None
    #: join directly as a virtual callback (the caller already hung up); such callers do
    #: not count against ``max_length``, so a full queue can still take callbacks
    callback_number: str | None = None
    #: a caller taken over after a restart of the service: its original queue time, so it
    #: keeps its place in line (priority aging, widening and max wait count from there);
    #: None is ``now``, a time after ``now`` is InvalidInput
    since: float | None = None
    #: the PBX the caller is on ("": the first); with ``AcdSettings.reach`` set it is
    #: offered only to agents of the PBXs that one reaches
    pbx: str = ""
    #: "voice", "chat" or "email" (``routing.acd.model.CHANNELS``); the queue must take
    #: it. A chat or an email is never rung: it is assigned (``AssignContact``).
    channel: str = "voice"


@dataclass(frozen=True, slots=True)
class CallAbandoned:
    """The caller hung up (or cancelled a callback) before being connected."""

    call_id: str


@dataclass(frozen=True, slots=True)
class AgentAnswered:
    call_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class RingNoAnswer:
    """The agent did not pick up (NOANSWER / BUSY / CHANUNAVAIL)."""

    call_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class CallEnded:
    """A connected call hung up; on a call not yet connected it counts as abandoned.

    On an assigned chat or email: the conversation ended; the agent's slot stays held
    (the contact's wrap-up) until ``ContactClosed`` or the queue's wrap-up limit.
    """

    call_id: str


@dataclass(frozen=True, slots=True)
class ContactClosed:
    """The wrap-up of a chat or email was saved: its slot is free (``ContactReleased``).

    On a contact still open it ends it too; on one the engine no longer holds (released
    at the wrap-up limit or at logout) it changes nothing.
    """

    call_id: str


@dataclass(frozen=True, slots=True)
class AgentStateRequest:
    """The agent (``forced_by=None``) or a supervisor asks for READY / NOT_READY / LOGGED_OUT."""

    agent_id: str
    state: AgentState
    reason: str = ""
    forced_by: str | None = None


@dataclass(frozen=True, slots=True)
class WrapUpDone:
    agent_id: str


@dataclass(frozen=True, slots=True)
class WrapUpDraft:
    """The agent in wrap-up (or on the call before it) has (``unsaved``) or no longer has
    wrap-up input not yet saved. It decides what the queue's wrap-up limit does
    (``wrap_up_timeout_action``); in any other state it changes nothing."""

    agent_id: str
    unsaved: bool


@dataclass(frozen=True, slots=True)
class MoveCall:
    """Supervisor: move a waiting call to another queue; it keeps its seniority."""

    call_id: str
    queue: str


@dataclass(frozen=True, slots=True)
class CallbackRequested:
    """The caller chose a callback: they hang up, their place in line stays."""

    call_id: str
    number: str


@dataclass(frozen=True, slots=True)
class CallbackResult:
    """Outcome of a StartCallback: the customer was reached (``ok``) or not."""

    call_id: str
    ok: bool


@dataclass(frozen=True, slots=True)
class QueuesChanged:
    """The queue file was reloaded: the complete new set of queues and, when given, agents.

    Both are replaced in one step so a queue and the agents who list it can change
    together. Waiting calls keep their seniority.
    """

    queues: tuple[QueueConfig, ...]
    agents: tuple[AgentConfig, ...] | None = None


@dataclass(frozen=True, slots=True)
class AgentRestored:
    """At start-up: an agent comes back in its saved state, begun at ``since``.

    Only for an agent still logged out with no call (else IllegalTransition). READY is
    routed at once; NOT_READY takes ``reason`` (checked like AgentStateRequest); WRAP_UP
    ends at ``wrap_up_until`` (at once when that is None or past); LOGGED_OUT changes
    nothing. RINGING / ON_CALL are InvalidInput: those come back through CallAdopted.
    The AgentStateChanged carries ``since`` (a ``since`` after ``now`` is taken as now).
    ``wrap_queue`` names the wrapped-up call's queue; no handle time is counted for it.
    """

    agent_id: str
    state: AgentState
    reason: str = ""
    since: float = 0.0
    wrap_up_until: float | None = None
    wrap_queue: str | None = None
    #: the agent had typed a wrap-up not yet saved (a stored draft): a deadline that passed
    #: while the service was down leaves them in wrap-up, overdue, as if it had run out here
    wrap_up_unsaved: bool = False


@dataclass(frozen=True, slots=True)
class CallAdopted:
    """At start-up: a call found already ringing ``agent_id`` (``answered_at`` None) or
    connected to them since ``answered_at``; it joined its queue at ``since``.

    The agent must be logged out, ready or not ready with no call (else Conflict). No
    RingAgent is sent: the call is OFFERED with the agent RINGING (ring timer from now)
    or CONNECTED with the agent ON_CALL; from there every event works as for any call.
    Counted as offered (and answered, when connected) in ``queue``.
    """

    call_id: str
    queue: str
    agent_id: str
    since: float
    answered_at: float | None = None
    priority: int = 0
    skills: Mapping[str, int] = field(default_factory=dict)
    customer_id: str | None = None
    tier: str = ""
    caller: str = ""
    pbx: str = ""
    #: a chat or email is adopted as assigned (connected) whatever the agent's voice
    #: state, at ``answered_at`` (None: now), even past the agent's capacity
    channel: str = "voice"


Event = (
    CallQueued
    | CallAbandoned
    | AgentAnswered
    | RingNoAnswer
    | CallEnded
    | ContactClosed
    | AgentStateRequest
    | WrapUpDone
    | WrapUpDraft
    | MoveCall
    | CallbackRequested
    | CallbackResult
    | QueuesChanged
    | AgentRestored
    | CallAdopted
)

"""Restart takeover, the pure part: what to do with every call and agent the service finds
when it (re)connects to Asterisk.

Theory of operation. A restarted service (deploy, crash, ``kill -9``) knows nothing in
memory; the truth is split between the store (contacts still open, each agent's last
state) and Asterisk (the live channels, ``CoreShowChannels``, and the variables the
service set on them, ``Status``). :func:`plan_takeover` joins the two and returns a
:class:`Plan`; the shell (``routing.resync``) executes it. Nothing here does I/O.

How a caller's phase is read from its channel (a real Asterisk reports a channel whose
AsyncAGI runs an ``EXEC`` under that application's name, not ``AGI``; see
``../shared/ami-transcripts/10-takeover-after-client-loss.txt``):

* bridged with a leg of an agent's endpoint (same ``BridgeId``) -> **talking** to that agent;
* in the hold context with the agent's leg alive -> **held**;
* running ``Dial`` with a leg of an agent's endpoint not yet bridged -> **ringing**: the
  ring goes on, and its ``DialEnd`` decides (answered: talking; not: back in line);
* otherwise, a contact that reached a queue -> **waiting**, in line by its original
  queue time; one that had not -> **IVR**, restarted from the top of its script (the
  steps already taken stay in the history); a channel with no contact at all arrived
  while nobody listened -> a new contact dated by the channel's age, then the IVR.

A contact left open with no live channel is closed as ``lost_during_outage`` at its last
milestone. Agents come back in their saved state; one saved on a call that is gone goes
to wrap-up (so the notes can still be written), one saved ringing for a call that is gone
goes back to ready.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from crm_lookup.agent_states import SavedAgentState

LOST = "lost_during_outage"
PHONE_OFFLINE = "phone offline"
HOLD_CONTEXT = "switchboard-hold"
AGENT_HOLD_CONTEXT = "switchboard-agent-hold"


class Resume(enum.StrEnum):
    TALKING = "talking"
    HELD = "held"
    RINGING = "ringing"
    WAITING = "waiting"
    IVR = "ivr"


@dataclass(frozen=True, slots=True)
class ChannelView:
    """One live channel as ``CoreShowChannel`` (and ``Status`` for variables) reports it."""

    channel: str
    uniqueid: str
    linkedid: str
    context: str = ""
    exten: str = ""
    application: str = ""
    bridge_id: str = ""
    seconds: float = 0.0
    caller_num: str = ""
    caller_name: str = ""
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OpenContact:
    """A contact the store still has open, with the time of its last milestone."""

    key: str
    direction: str = "inbound"
    caller: str = ""
    dialed: str = ""
    arrived_at: float | None = None
    queue: str = ""
    queued_at: float | None = None
    agent_id: str = ""
    answered_at: float | None = None
    customer_id: int | None = None
    contact_id: int | None = None
    last_at: float = 0.0


#: an agent's state as saved by the last process, and as it is to be restored
SavedAgent = SavedAgentState


@dataclass(frozen=True, slots=True)
class Close:
    """Close an open contact whose call is gone."""

    key: str
    at: float
    outcome: str = LOST


@dataclass(frozen=True, slots=True)
class Adopt:
    """Take over a live call: ``contact`` is None for a caller nobody had seen."""

    resume: Resume
    call_id: str
    channel: ChannelView
    contact: OpenContact | None
    arrived_at: float
    dialed: str
    queue: str = ""
    queued_at: float | None = None
    agent_id: str | None = None
    agent_channel: str | None = None
    answered_at: float | None = None
    #: a click-to-dial's or a callback's ``SWITCHBOARD_RECORD`` as the agent's leg has it
    #: (switchboard-outbound's MixMonitor runs there); None: read the caller's ``channel``
    agent_record: str | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    close: tuple[Close, ...] = ()
    #: agents' calls first (talking, held, ringing), then waiting callers by queue time,
    #: then IVR restarts by arrival: the order to execute them in
    adopt: tuple[Adopt, ...] = ()
    #: agents to bring back (ready, not_ready, wrap_up, logged_out)
    restore: tuple[SavedAgent, ...] = ()


_ORDER = {Resume.TALKING: 0, Resume.HELD: 0, Resume.RINGING: 1, Resume.WAITING: 2, Resume.IVR: 3}


def agent_of(channel: str, endpoints: Mapping[str, str]) -> str | None:
    """The agent whose endpoint ``channel`` is a leg of (``PJSIP/1001-0000002a``)."""
    base = channel.rsplit("-", 1)[0]
    return endpoints.get(base)


def plan_takeover(
    channels: Sequence[ChannelView],
    contacts: Sequence[OpenContact],
    *,
    endpoints: Mapping[str, str],
    known: Collection[str] = (),
    saved_agents: Sequence[SavedAgent] = (),
    wrap_up_seconds: Mapping[str, float] | None = None,
    offline: Collection[str] = (),
    agent_legs: Mapping[str, str] | None = None,
    now: float,
) -> Plan:
    """Decide what becomes of every open contact, unseen caller and saved agent.

    Args:
        channels: every live channel.
        contacts: the store's open contacts.
        endpoints: agent endpoint (``PJSIP/1001``) -> agent id.
        known: call ids the shell already tracks (an AMI reconnect, not a restart): left
            to it, neither closed nor adopted.
        saved_agents: agents' saved states; empty after an AMI reconnect (the engine
            still has them).
        wrap_up_seconds: queue -> wrap-up time, for an agent whose call ended unseen.
        offline: agents whose phone is unavailable (not registered) now: those saved
            ready or in wrap-up come back not ready, "phone offline", instead of being
            offered calls they cannot take; those saved not ready keep their reason.
        agent_legs: channel -> agent id for agents' legs no endpoint names: the trunk
            channel of a call given to an agent on another PBX (the shell knows it from
            the caller's ``SWITCHBOARD_AGENT``, the trunk dial string it rang).
        now: the clock.
    """
    legs = agent_legs or {}

    def agent_for(channel: str) -> str | None:
        return legs.get(channel) or agent_of(channel, endpoints)

    by_linkedid: dict[str, list[ChannelView]] = {}
    for view in channels:
        by_linkedid.setdefault(view.linkedid or view.uniqueid, []).append(view)
    by_call_var = {
        view.variables["SWITCHBOARD_CALL"]: view
        for view in channels
        if view.variables.get("SWITCHBOARD_CALL")
    }
    close: list[Close] = []
    adopt: list[Adopt] = []
    claimed: set[str] = set(known)
    for contact in contacts:
        if contact.key in known:
            continue
        if contact.direction == "inbound":
            caller = _caller_channel(by_linkedid.get(contact.key, ()), agent_for)
            found = _inbound(contact, caller, by_linkedid, agent_for, now) if caller else None
        else:
            found = _outbound(contact, by_call_var.get(contact.key), channels, endpoints)
        if found is None:
            close.append(Close(contact.key, max(contact.last_at, contact.arrived_at or 0.0)))
        else:
            adopt.append(found)
        claimed.add(contact.key)
    for linkedid, views in by_linkedid.items():
        if linkedid in claimed:
            continue
        caller = _caller_channel(views, agent_for)
        if caller is not None and caller.application.upper() == "AGI":
            # Arrived while nobody was connected: its AsyncAGIStart reached no one.
            adopt.append(
                Adopt(
                    Resume.IVR,
                    linkedid,
                    caller,
                    None,
                    arrived_at=now - caller.seconds,
                    dialed=caller.variables.get("SWITCHBOARD_DID") or caller.exten,
                )
            )
    adopt.sort(key=lambda a: (_ORDER[a.resume], a.queued_at or a.arrived_at, a.call_id))
    # Agents on an adopted inbound call come back with it; an agent talking on an adopted
    # click-to-dial is restored in its saved state (not ready, "outbound").
    busy = {
        a.agent_id
        for a in adopt
        if a.agent_id is not None and (a.contact is None or a.contact.direction == "inbound")
    }
    restore = _restore(saved_agents, busy, wrap_up_seconds or {}, now)
    # An agent not ready already (lunch, with the soft phone closed) is offered nothing:
    # the pause, its reason and its start stay. Only an agent who would be offered calls
    # (ready, or in a wrap-up that ends in ready) is held back as "phone offline".
    restore = [
        SavedAgent(r.agent_id, "not_ready", PHONE_OFFLINE, now)
        if r.agent_id in offline and r.state in ("ready", "wrap_up")
        else r
        for r in restore
    ]
    return Plan(tuple(close), tuple(adopt), tuple(restore))


AgentOf = Callable[[str], str | None]


def _caller_channel(views: Sequence[ChannelView], agent_for: AgentOf) -> ChannelView | None:
    """The caller's own channel among those of one Linkedid (not an agent's leg)."""
    for view in views:
        if view.uniqueid == view.linkedid and agent_for(view.channel) is None:
            return view
    return None


def _agent_leg(
    caller: ChannelView, views: Sequence[ChannelView], agent_for: AgentOf
) -> tuple[str, ChannelView] | None:
    for view in views:
        agent_id = agent_for(view.channel)
        if view is not caller and agent_id is not None:
            return agent_id, view
    return None


def _inbound(
    contact: OpenContact,
    caller: ChannelView,
    by_linkedid: Mapping[str, Sequence[ChannelView]],
    agent_for: AgentOf,
    now: float,
) -> Adopt:
    arrived = contact.arrived_at if contact.arrived_at is not None else now - caller.seconds
    dialed = contact.dialed or caller.variables.get("SWITCHBOARD_DID") or caller.exten
    in_line = Adopt(
        Resume.WAITING if contact.queue else Resume.IVR,
        contact.key,
        caller,
        contact,
        arrived_at=arrived,
        dialed=dialed,
        queue=contact.queue,
        queued_at=contact.queued_at,
    )
    leg = _agent_leg(caller, by_linkedid.get(caller.linkedid, ()), agent_for)
    if leg is None:
        return in_line
    agent_id, view = leg
    talking = bool(caller.bridge_id) and view.bridge_id == caller.bridge_id
    held = caller.context == HOLD_CONTEXT and view.context == AGENT_HOLD_CONTEXT
    if talking or held:
        return dataclasses.replace(
            in_line,
            resume=Resume.TALKING if talking else Resume.HELD,
            agent_id=agent_id,
            agent_channel=view.channel,
            answered_at=contact.answered_at or now,
        )
    if caller.application.upper() == "DIAL" and not view.bridge_id:
        return dataclasses.replace(
            in_line, resume=Resume.RINGING, agent_id=agent_id, agent_channel=view.channel
        )
    return in_line


def _outbound(
    contact: OpenContact,
    agent_leg: ChannelView | None,
    channels: Sequence[ChannelView],
    endpoints: Mapping[str, str],
) -> Adopt | None:
    """A click-to-dial or callback: adopted only while the agent talks to the customer
    (the agent's leg carries ``SWITCHBOARD_CALL``, set by the Originate)."""
    if agent_leg is None or not agent_leg.bridge_id or not contact.agent_id:
        return None
    far = next(
        (v for v in channels if v.bridge_id == agent_leg.bridge_id and v is not agent_leg), None
    )
    if far is None:
        return None
    return Adopt(
        Resume.TALKING,
        contact.key,
        far,
        contact,
        arrived_at=contact.arrived_at or 0.0,
        dialed=contact.dialed,
        agent_id=contact.agent_id,
        agent_channel=agent_leg.channel,
        answered_at=contact.answered_at or contact.arrived_at,
        agent_record=agent_leg.variables.get("SWITCHBOARD_RECORD", ""),
    )


def _restore(
    saved: Sequence[SavedAgent],
    busy: Collection[str],
    wrap_up_seconds: Mapping[str, float],
    now: float,
) -> list[SavedAgent]:
    out = []
    for agent in saved:
        if agent.agent_id in busy:
            continue  # adopted with its call: on_call / ringing
        if agent.state == "on_call":
            # The call ended while nobody watched: the agent still owes its wrap-up.
            wrap = wrap_up_seconds.get(agent.wrap_queue or "", 0.0)
            out.append(
                SavedAgent(
                    agent.agent_id,
                    "wrap_up",
                    since=now,
                    wrap_up_until=now + wrap,
                    wrap_queue=agent.wrap_queue,
                )
            )
        elif agent.state == "ringing":
            out.append(SavedAgent(agent.agent_id, "ready", since=now))
        else:
            out.append(
                SavedAgent(
                    agent.agent_id,
                    agent.state,
                    agent.reason,
                    agent.since,
                    agent.wrap_up_until,
                    agent.wrap_queue,
                )
            )
    return out

"""What the service knows about one call while it is live, and its JSON shape.

A ``LiveCall`` is the shell's record of a call from its first ``AsyncAGIStart`` (or an
Originate) to the caller's ``Hangup``; the pure engines hold their own state. The JSON
shape is the console's "call" shape (``agent_console.ports``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Phase(enum.StrEnum):
    IVR = "ivr"
    WAITING = "waiting"
    RINGING = "ringing"
    TALKING = "talking"
    HELD = "held"
    TRANSFERRED = "transferred"  # sent on by an agent to a number or another agent
    ENDED = "ended"


@dataclass(slots=True)
class LiveCall:
    call_id: str
    channel: str
    uniqueid: str
    caller: str
    dialed: str
    arrived_at: float
    direction: str = "inbound"
    phase: Phase = Phase.IVR
    language: str = ""
    queue: str | None = None
    agent_id: str | None = None
    agent_channel: str | None = None
    customer_id: int | str | None = None
    contact_id: int | str | None = None
    card: dict[str, Any] | None = None
    queued_at: float | None = None
    ring_endpoint: str = ""  # the endpoint the current ring attempt dials (PJSIP/1001)
    answered_at: float | None = None
    ended_at: float | None = None
    path: list[dict[str, Any]] = field(default_factory=list)
    verified: bool = False
    tier: str = ""
    # What to do with the caller the next time the waiting loop has the channel:
    # a MaxWaitReached action ("voicemail", "hangup", "callback") or None.
    pending: str | None = None
    position: int | None = None
    estimate: float | None = None
    pending_queue: str | None = None  # target of a transfer to a queue
    sticky_agent: str | None = None
    ivr_outcome: str = ""
    adopted: bool = False  # taken over after a restart of the service (routing.resync)
    #: the PBX whose AMI connection carries the call's channels (routing.pbx); for a call
    #: given to an agent on another PBX, the agent's leg here is the trunk's channel
    pbx: str = ""
    #: the caller's own recording choice from the IVR (its ``record`` variable), if any
    record_choice: bool | None = None
    #: the bare file name of the current agent leg's recording ("" = not recorded)
    recording_file: str = ""
    recording_paused: bool = False
    #: the channel that MixMonitor runs on (the one to mute or stop): the caller's for an
    #: inbound call and after a transfer to an agent; for a click-to-dial or a callback
    #: the agent's originated leg, which runs ``switchboard-outbound``
    recording_channel: str = ""
    #: the agent whose part ``recording_file`` records (after a blind transfer to an
    #: agent the call has no ``agent_id`` of the service's, but its part is theirs)
    recording_agent: str = ""
    #: the queue a click-to-dial was placed for (its recording rule; not ``queue``: the
    #: call never waited in it)
    dialed_for: str | None = None

    @property
    def recording_on(self) -> bool:
        """Whether the conversation with the agent is being recorded now."""
        return bool(self.recording_file) and self.phase in (Phase.TALKING, Phase.HELD)

    def waited(self, now: float) -> float | None:
        if self.queued_at is None:
            return None
        end = self.answered_at or self.ended_at or now
        return round(max(0.0, end - self.queued_at), 1)

    def to_json(self, now: float) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "state": self.phase.value,
            "direction": self.direction,
            "queue": self.queue,
            "caller": self.caller,
            "dialed": self.dialed,
            "pbx": self.pbx,
            "agent_id": self.agent_id,
            "customer_id": self.customer_id,
            "contact_id": self.contact_id,
            "arrived_at": self.arrived_at,
            "queued_at": self.queued_at,
            "answered_at": self.answered_at,
            "position": self.position,
            "estimate": self.estimate,
            "ivr": {
                "path": [
                    {k: step.get(k) for k in ("node", "kind", "digits", "result", "seconds")}
                    for step in self.path
                ],
                "verified": self.verified,
                "waited": self.waited(now),
            },
            "recording": {
                "on": self.recording_on,
                "paused": self.recording_on and self.recording_paused,
            },
        }

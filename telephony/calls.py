"""Call tracking: channels grouped into calls by Linkedid, as a pure state machine.

Theory of operation: Asterisk gives every channel of one call the same ``Linkedid``.
:class:`CallTracker` keeps, per call, its live channels and a :class:`CallState`
(RINGING -> UP -> BRIDGED <-> UP -> ENDED), fed by typed AMI events plus ``now``; it returns
a :class:`CallUpdate` for every change so the shell can publish it. Moves are looked up in
one table (``TRANSITIONS``); an event that does not move the current state changes nothing
(Asterisk is a remote peer: odd orders such as a late ``Newstate`` must not crash us).
A Local channel's halves (``...;1`` / ``...;2``) are paired; a half whose Linkedid differs
from its partner's still joins the partner's call, so one customer call stays one record.
A call ends when its last channel hangs up. A channel keeps the call it joined even if
Asterisk later re-links it (``Action: Bridge`` changes the Linkedid of the joined leg). After a (re)connect the shell feeds the
``CoreShowChannels`` list to :meth:`CallTracker.resync`: calls that vanished meanwhile are
ended, channels we missed are added. Ended calls stay readable until :meth:`prune`.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from telephony.ami.events import (
    AsyncAGIStart,
    BridgeEnter,
    BridgeLeave,
    ChannelEvent,
    CoreShowChannel,
    Event,
    Hangup,
    Newchannel,
    Newstate,
    VarSet,
)

__all__ = [
    "TRANSITIONS",
    "Call",
    "CallChannel",
    "CallState",
    "CallTracker",
    "CallUpdate",
    "local_base",
]


class CallState(enum.Enum):
    RINGING = "ringing"
    UP = "up"
    BRIDGED = "bridged"
    ENDED = "ended"


class Trigger(enum.Enum):
    ANSWERED = "answered"
    BRIDGED = "bridged"
    UNBRIDGED = "unbridged"
    ALL_HUNG_UP = "all_hung_up"


S, T = CallState, Trigger
TRANSITIONS: dict[tuple[CallState, Trigger], CallState] = {
    (S.RINGING, T.ANSWERED): S.UP,
    (S.RINGING, T.BRIDGED): S.BRIDGED,
    (S.UP, T.BRIDGED): S.BRIDGED,
    (S.BRIDGED, T.UNBRIDGED): S.UP,
    (S.RINGING, T.ALL_HUNG_UP): S.ENDED,
    (S.UP, T.ALL_HUNG_UP): S.ENDED,
    (S.BRIDGED, T.ALL_HUNG_UP): S.ENDED,
}
_GONE_MEMORY = 10_000
_DID_VARIABLES = frozenset({"SWITCHBOARD_DID", "__SWITCHBOARD_DID", "DID"})


def _known(value: str) -> bool:
    return value not in ("", "<unknown>", "unknown")


def local_base(channel: str) -> str | None:
    """``Local/1001@agent-phone-0000000d`` for either half of a Local channel, else None."""
    if channel.startswith("Local/") and channel[-2:] in (";1", ";2"):
        return channel[:-2]
    return None


@dataclass(frozen=True, slots=True)
class CallChannel:
    """One channel of a call as last seen."""

    name: str
    uniqueid: str
    state_desc: str = ""
    bridge: str = ""
    caller_num: str = ""


@dataclass(frozen=True, slots=True)
class Call:
    """A call: every channel sharing one Linkedid (plus paired Local halves)."""

    linkedid: str
    state: CallState
    channels: tuple[CallChannel, ...] = ()
    caller_num: str = ""
    caller_name: str = ""
    dialed: str = ""
    started_at: float = 0.0
    answered_at: float | None = None
    bridged_at: float | None = None
    ended_at: float | None = None
    all_channels: tuple[str, ...] = field(default=(), repr=False)

    def duration(self, now: float) -> float:
        """Seconds from start to end (or to ``now`` while live)."""
        return (self.ended_at if self.ended_at is not None else now) - self.started_at

    def wait_seconds(self, now: float) -> float:
        """Seconds before the call was first bridged to someone (ringing, IVR, queue)."""
        end = self.bridged_at if self.bridged_at is not None else (self.ended_at or now)
        return max(0.0, end - self.started_at)

    def talk_seconds(self, now: float) -> float:
        """Seconds since first bridged (0 if never bridged)."""
        if self.bridged_at is None:
            return 0.0
        return max(0.0, (self.ended_at if self.ended_at is not None else now) - self.bridged_at)


@dataclass(frozen=True, slots=True)
class CallUpdate:
    """``change`` is ``started``, ``answered``, ``bridged``, ``unbridged``, ``ended``,
    ``channel_added``, ``channel_removed`` or ``updated`` (caller/dialed learnt)."""

    call: Call
    change: str
    previous: CallState | None = None


class CallTracker:
    """Calls keyed by Linkedid, built from AMI events.

    Args:
        clock: gives ``now`` when :meth:`feed` is called without one.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.calls: dict[str, Call] = {}
        self._clock = clock
        self._call_of: dict[str, str] = {}  # channel uniqueid -> call linkedid
        self._local: dict[str, str] = {}  # Local base name -> call linkedid
        # Asterisk can still report a channel just after its Hangup (a late NewCallerid):
        # remember recent hangups so such stragglers do not resurrect a call.
        self._gone: dict[str, None] = {}

    def call_for(self, uniqueid: str) -> Call | None:
        """The call a live channel belongs to."""
        key = self._call_of.get(uniqueid)
        return self.calls.get(key) if key is not None else None

    def local_peer(self, channel: str) -> str | None:
        """The other half's name of a Local channel (``;1`` <-> ``;2``)."""
        base = local_base(channel)
        if base is None:
            return None
        return base + (";2" if channel.endswith(";1") else ";1")

    # -- events -----------------------------------------------------------------------

    def feed(self, event: Event, now: float | None = None) -> list[CallUpdate]:
        """Apply one AMI event; return what changed (often nothing)."""
        if not isinstance(event, ChannelEvent) or isinstance(event, CoreShowChannel):
            return []
        at = self._clock() if now is None else now
        if isinstance(event, Hangup):
            return self._hangup(event.uniqueid, at)
        if not event.uniqueid or event.uniqueid in self._gone:
            return []
        if not (event.linkedid or event.uniqueid in self._call_of):
            return []
        updates: list[CallUpdate] = []
        key = self._attach(event, at, updates)
        if isinstance(event, Newstate | Newchannel) and event.channel_state_desc == "Up":
            self._move(key, Trigger.ANSWERED, at, updates)
        elif isinstance(event, BridgeLeave):
            self._set_channel(key, event.uniqueid, bridge="")
            if self._bridged_count(key) < 2:
                self._move(key, Trigger.UNBRIDGED, at, updates)
        elif isinstance(event, BridgeEnter):
            self._set_channel(key, event.uniqueid, bridge=event.bridge_uniqueid)
            if self._bridged_count(key) >= 2 or event.bridge_num_channels >= 2:
                self._move(key, Trigger.BRIDGED, at, updates)
        elif isinstance(event, VarSet) and event.variable in _DID_VARIABLES and event.value:
            self._learn(key, updates, dialed=event.value)
        elif isinstance(event, AsyncAGIStart):
            dnid = event.env.get("agi_dnid", "")
            if dnid and dnid != "unknown":
                self._learn(key, updates, dialed=dnid)
        self._set_channel(key, event.uniqueid, state_desc=event.channel_state_desc)
        call = self.calls[key]
        if not call.caller_num and event.uniqueid == key and _known(event.caller_id_num):
            self._learn(
                key,
                updates,
                caller_num=event.caller_id_num,
                caller_name=event.caller_id_name if _known(event.caller_id_name) else "",
            )
        return updates

    def _attach(self, event: ChannelEvent, at: float, updates: list[CallUpdate]) -> str:
        """Find or create the call of ``event``'s channel; returns its key."""
        key = self._call_of.get(event.uniqueid)
        if key is not None:
            return key
        base = local_base(event.channel)
        key = self._local.get(base) if base else None
        if key is None or key not in self.calls or self.calls[key].state is CallState.ENDED:
            key = event.linkedid
        if base:
            self._local.setdefault(base, key)
        chan = CallChannel(
            event.channel, event.uniqueid, event.channel_state_desc, "", event.caller_id_num
        )
        call = self.calls.get(key)
        if call is None or call.state is CallState.ENDED:
            dialed = event.exten if event.exten not in ("", "s") else ""
            call = Call(
                linkedid=key,
                state=CallState.RINGING,
                channels=(chan,),
                caller_num=event.caller_id_num if _known(event.caller_id_num) else "",
                caller_name=event.caller_id_name if _known(event.caller_id_name) else "",
                dialed=dialed,
                started_at=at,
                all_channels=(event.channel,),
            )
            self.calls[key] = call
            updates.append(CallUpdate(call, "started"))
        else:
            call = replace(
                call,
                channels=(*call.channels, chan),
                all_channels=(*call.all_channels, event.channel),
            )
            self.calls[key] = call
            updates.append(CallUpdate(call, "channel_added"))
        self._call_of[event.uniqueid] = key
        return key

    def _set_channel(
        self, key: str, uniqueid: str, *, state_desc: str | None = None, bridge: str | None = None
    ) -> None:
        call = self.calls[key]
        channels = tuple(
            replace(
                ch,
                state_desc=ch.state_desc if state_desc is None or not state_desc else state_desc,
                bridge=ch.bridge if bridge is None else bridge,
            )
            if ch.uniqueid == uniqueid
            else ch
            for ch in call.channels
        )
        self.calls[key] = replace(call, channels=channels)

    def _bridged_count(self, key: str) -> int:
        return sum(1 for ch in self.calls[key].channels if ch.bridge)

    def _learn(self, key: str, updates: list[CallUpdate], **facts: str) -> None:
        call = self.calls[key]
        if any(getattr(call, name) != value for name, value in facts.items()):
            call = replace(call, **facts)  # type: ignore[arg-type]
            self.calls[key] = call
            updates.append(CallUpdate(call, "updated"))

    def _move(self, key: str, trigger: Trigger, at: float, updates: list[CallUpdate]) -> None:
        call = self.calls[key]
        new = TRANSITIONS.get((call.state, trigger))
        if new is None:
            return
        changes: dict[str, object] = {"state": new}
        if new is CallState.UP and call.answered_at is None:
            changes["answered_at"] = at
        if new is CallState.BRIDGED:
            if call.answered_at is None:
                changes["answered_at"] = at
            if call.bridged_at is None:
                changes["bridged_at"] = at
        if new is CallState.ENDED:
            changes["ended_at"] = at
        updated = replace(call, **changes)  # type: ignore[arg-type]
        self.calls[key] = updated
        updates.append(
            CallUpdate(updated, trigger.value if new is not S.ENDED else "ended", call.state)
        )

    def _hangup(self, uniqueid: str, at: float) -> list[CallUpdate]:
        self._gone[uniqueid] = None
        if len(self._gone) > _GONE_MEMORY:
            del self._gone[next(iter(self._gone))]
        key = self._call_of.pop(uniqueid, None)
        if key is None or key not in self.calls:
            return []
        call = self.calls[key]
        gone = next((ch for ch in call.channels if ch.uniqueid == uniqueid), None)
        call = replace(call, channels=tuple(ch for ch in call.channels if ch.uniqueid != uniqueid))
        self.calls[key] = call
        updates = [CallUpdate(call, "channel_removed")]
        if gone is not None:
            base = local_base(gone.name)
            if base and not any(local_base(ch.name) == base for ch in call.channels):
                self._local.pop(base, None)
        if not call.channels:
            self._move(key, Trigger.ALL_HUNG_UP, at, updates)
        elif call.state is CallState.BRIDGED and self._bridged_count(key) < 2:
            self._move(key, Trigger.UNBRIDGED, at, updates)
        return updates

    # -- resynchronisation --------------------------------------------------------------

    def resync(self, channels: Iterable[CoreShowChannel], now: float) -> list[CallUpdate]:
        """Align with Asterisk's live channel list (``CoreShowChannels`` after a reconnect).

        Channels we track that are not in the list are hung up (their calls end when
        empty); listed channels we do not know are added with their current state.
        """
        listed = {ch.uniqueid: ch for ch in channels if ch.uniqueid}
        updates: list[CallUpdate] = []
        for uniqueid in [u for u in self._call_of if u not in listed]:
            updates.extend(self._hangup(uniqueid, now))
        for uniqueid, ch in listed.items():
            if uniqueid in self._call_of:
                key = self._call_of[uniqueid]
                self._set_channel(
                    key, uniqueid, state_desc=ch.channel_state_desc, bridge=ch.bridge_id
                )
            else:
                if not ch.linkedid:
                    continue
                key = self._attach(ch, now, updates)
                self._set_channel(key, uniqueid, bridge=ch.bridge_id)
            if ch.channel_state_desc == "Up":
                self._move(key, Trigger.ANSWERED, now, updates)
        for key in {self._call_of[u] for u in listed if u in self._call_of}:
            call = self.calls[key]
            if self._bridged_count(key) >= 2:
                self._move(key, Trigger.BRIDGED, now, updates)
            elif call.state is CallState.BRIDGED:
                self._move(key, Trigger.UNBRIDGED, now, updates)
        return updates

    def prune(self, now: float, keep_seconds: float = 300.0) -> list[str]:
        """Forget calls ended more than ``keep_seconds`` ago; return their Linkedids."""
        old = [
            key
            for key, call in self.calls.items()
            if call.ended_at is not None and now - call.ended_at > keep_seconds
        ]
        for key in old:
            del self.calls[key]
        return old

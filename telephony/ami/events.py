"""Typed AMI events: frozen, slotted dataclasses built from a :class:`Message`.

Theory of operation: the events the service acts on get a class with snake_case fields;
every other event becomes a :class:`GenericEvent` that still carries the whole message.
Asterisk omits headers freely (``HangupRequest`` without ``Cause``, ``DialBegin`` of an
Originate without ``Channel``), so every field defaults to ``""`` (``0`` for counts) and
building an event never raises. Each class gets a constructor generated once at import
that reads its headers straight from the message index: this is the hot path of ingest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import unquote

from telephony.ami.messages import Message

__all__ = [
    "EVENT_TYPES",
    "AsyncAGIEnd",
    "AsyncAGIExec",
    "AsyncAGIStart",
    "BridgeCreate",
    "BridgeDestroy",
    "BridgeEnter",
    "BridgeLeave",
    "ChannelEvent",
    "CoreShowChannel",
    "DTMFBegin",
    "DTMFEnd",
    "DialBegin",
    "DialEnd",
    "DialState",
    "Event",
    "FullyBooted",
    "GenericEvent",
    "Hangup",
    "HangupRequest",
    "NewCallerid",
    "Newchannel",
    "Newexten",
    "Newstate",
    "OriginateResponse",
    "Shutdown",
    "SoftHangupRequest",
    "VarSet",
    "decode_agi_env",
    "parse_event",
]

EMPTY_MESSAGE = Message(())

# snake_case field -> AMI header name, for fields whose name is not derivable.
_WIRE: dict[str, str] = {
    "channel": "Channel",
    "uniqueid": "Uniqueid",
    "linkedid": "Linkedid",
    "caller_id_num": "CallerIDNum",
    "caller_id_name": "CallerIDName",
    "connected_line_num": "ConnectedLineNum",
    "connected_line_name": "ConnectedLineName",
    "exten": "Exten",
    "context": "Context",
    "priority": "Priority",
    "channel_state": "ChannelState",
    "channel_state_desc": "ChannelStateDesc",
    "language": "Language",
    "account_code": "AccountCode",
    "dial_string": "DialString",
    "dial_status": "DialStatus",
    "forward": "Forward",
    "bridge_uniqueid": "BridgeUniqueid",
    "bridge_type": "BridgeType",
    "bridge_technology": "BridgeTechnology",
    "bridge_creator": "BridgeCreator",
    "bridge_name": "BridgeName",
    "bridge_num_channels": "BridgeNumChannels",
    "digit": "Digit",
    "direction": "Direction",
    "duration_ms": "DurationMs",
    "cause": "Cause",
    "cause_txt": "Cause-txt",
    "variable": "Variable",
    "value": "Value",
    "extension": "Extension",
    "application": "Application",
    "app_data": "AppData",
    "command_id": "CommandId",
    "result": "Result",
    "env": "Env",
    "response": "Response",
    "reason": "Reason",
    "action_id": "ActionID",
    "data": "Data",
    "status": "Status",
    "uptime": "Uptime",
    "last_reload": "LastReload",
    "shutdown": "Shutdown",
    "restart": "Restart",
    "application_data": "ApplicationData",
    "duration": "Duration",
    "bridge_id": "BridgeId",
}
for _name in list(_WIRE):
    if _name in {"channel", "uniqueid", "linkedid", "caller_id_num", "caller_id_name"} or (
        _name.startswith(("connected_", "channel_")) or _name in {"context", "exten", "priority"}
    ):
        _WIRE["dest_" + _name] = "Dest" + _WIRE[_name]
# Alternative spellings Asterisk uses for the same header (AGIExecStart vs AsyncAGIExec).
_ALIASES: dict[str, str] = {"CommandId": "CommandID", "BridgeId": "BridgeID"}


def decode_agi_env(raw: str) -> dict[str, str]:
    """Decode the URL-encoded ``Env`` of ``AsyncAGIStart`` into ``{"agi_channel": ...}``."""
    env: dict[str, str] = {}
    for line in unquote(raw, errors="replace").split("\n"):
        key, sep, value = line.partition(":")
        if sep and key:
            env[key.strip()] = value[1:] if value.startswith(" ") else value
    return env


def _to_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def _url_decode(text: str) -> str:
    return unquote(text, errors="replace")


@dataclass(frozen=True, slots=True)
class Event:
    """Base of all events; ``message`` is the raw message the event was built from."""

    EVENT_NAME: ClassVar[str] = ""
    message: Message = field(default=EMPTY_MESSAGE, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.message.event or self.EVENT_NAME

    def get(self, header: str, default: str = "") -> str:
        """Any header of the raw message (case-insensitive)."""
        return self.message.get(header, default)

    @classmethod
    def from_message(cls, message: Message) -> Event:
        """Build this event type from ``message`` (missing headers become defaults)."""
        return _BUILDERS[cls](message)


@dataclass(frozen=True, slots=True)
class GenericEvent(Event):
    """Any event without a dedicated class; read headers with :meth:`Event.get`."""


@dataclass(frozen=True, slots=True)
class ChannelEvent(Event):
    """Fields Asterisk puts on every channel-scoped event."""

    channel: str = ""
    uniqueid: str = ""
    linkedid: str = ""
    caller_id_num: str = ""
    caller_id_name: str = ""
    connected_line_num: str = ""
    connected_line_name: str = ""
    exten: str = ""
    context: str = ""
    priority: str = ""
    channel_state: str = ""
    channel_state_desc: str = ""
    language: str = ""
    account_code: str = ""


@dataclass(frozen=True, slots=True)
class Newchannel(ChannelEvent):
    EVENT_NAME: ClassVar[str] = "Newchannel"


@dataclass(frozen=True, slots=True)
class Newstate(ChannelEvent):
    EVENT_NAME: ClassVar[str] = "Newstate"


@dataclass(frozen=True, slots=True)
class NewCallerid(ChannelEvent):
    """The caller id changed (an Originate sets it after ``Newchannel``)."""

    EVENT_NAME: ClassVar[str] = "NewCallerid"


@dataclass(frozen=True, slots=True)
class Newexten(ChannelEvent):
    EVENT_NAME: ClassVar[str] = "Newexten"
    extension: str = ""
    application: str = ""
    app_data: str = ""


@dataclass(frozen=True, slots=True)
class VarSet(ChannelEvent):
    EVENT_NAME: ClassVar[str] = "VarSet"
    variable: str = ""
    value: str = ""


@dataclass(frozen=True, slots=True)
class Hangup(ChannelEvent):
    EVENT_NAME: ClassVar[str] = "Hangup"
    cause: str = ""
    cause_txt: str = ""


@dataclass(frozen=True, slots=True)
class HangupRequest(ChannelEvent):
    EVENT_NAME: ClassVar[str] = "HangupRequest"
    cause: str = ""


@dataclass(frozen=True, slots=True)
class SoftHangupRequest(ChannelEvent):
    """``cause`` is Asterisk's soft-hangup flag here, not a Q.850 cause."""

    EVENT_NAME: ClassVar[str] = "SoftHangupRequest"
    cause: str = ""


@dataclass(frozen=True, slots=True)
class _DialFields(ChannelEvent):
    dest_channel: str = ""
    dest_uniqueid: str = ""
    dest_linkedid: str = ""
    dest_caller_id_num: str = ""
    dest_caller_id_name: str = ""
    dest_connected_line_num: str = ""
    dest_context: str = ""
    dest_exten: str = ""
    dest_channel_state_desc: str = ""


@dataclass(frozen=True, slots=True)
class DialBegin(_DialFields):
    """``channel`` is ``""`` when the dial comes from an Originate (only ``dest_*`` set)."""

    EVENT_NAME: ClassVar[str] = "DialBegin"
    dial_string: str = ""


@dataclass(frozen=True, slots=True)
class DialState(_DialFields):
    EVENT_NAME: ClassVar[str] = "DialState"
    dial_status: str = ""


@dataclass(frozen=True, slots=True)
class DialEnd(_DialFields):
    EVENT_NAME: ClassVar[str] = "DialEnd"
    dial_status: str = ""
    forward: str = ""


@dataclass(frozen=True, slots=True)
class _BridgeFields(Event):
    bridge_uniqueid: str = ""
    bridge_type: str = ""
    bridge_technology: str = ""
    bridge_creator: str = ""
    bridge_name: str = ""
    bridge_num_channels: int = 0


@dataclass(frozen=True, slots=True)
class BridgeCreate(_BridgeFields):
    EVENT_NAME: ClassVar[str] = "BridgeCreate"


@dataclass(frozen=True, slots=True)
class BridgeDestroy(_BridgeFields):
    EVENT_NAME: ClassVar[str] = "BridgeDestroy"


@dataclass(frozen=True, slots=True)
class _BridgeChannelFields(ChannelEvent):
    bridge_uniqueid: str = ""
    bridge_type: str = ""
    bridge_technology: str = ""
    bridge_creator: str = ""
    bridge_name: str = ""
    bridge_num_channels: int = 0


@dataclass(frozen=True, slots=True)
class BridgeEnter(_BridgeChannelFields):
    EVENT_NAME: ClassVar[str] = "BridgeEnter"


@dataclass(frozen=True, slots=True)
class BridgeLeave(_BridgeChannelFields):
    EVENT_NAME: ClassVar[str] = "BridgeLeave"


@dataclass(frozen=True, slots=True)
class _DTMFFields(ChannelEvent):
    digit: str = ""
    direction: str = ""
    duration_ms: int = 0


@dataclass(frozen=True, slots=True)
class DTMFBegin(_DTMFFields):
    """``DTMFBegin`` has no ``DurationMs``: ``duration_ms`` stays 0."""

    EVENT_NAME: ClassVar[str] = "DTMFBegin"


@dataclass(frozen=True, slots=True)
class DTMFEnd(_DTMFFields):
    EVENT_NAME: ClassVar[str] = "DTMFEnd"


@dataclass(frozen=True, slots=True)
class AsyncAGIStart(ChannelEvent):
    """``env`` is the decoded AGI environment (``agi_channel``, ``agi_dnid``, ...)."""

    EVENT_NAME: ClassVar[str] = "AsyncAGIStart"
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AsyncAGIExec(ChannelEvent):
    """``command_id`` is the client's CommandID; ``result`` the decoded raw AGI reply."""

    EVENT_NAME: ClassVar[str] = "AsyncAGIExec"
    command_id: str = ""
    result: str = ""


@dataclass(frozen=True, slots=True)
class AsyncAGIEnd(ChannelEvent):
    EVENT_NAME: ClassVar[str] = "AsyncAGIEnd"


@dataclass(frozen=True, slots=True)
class OriginateResponse(ChannelEvent):
    """Outcome of an ``Async: true`` Originate; ``action_id`` is the Originate's ActionID."""

    EVENT_NAME: ClassVar[str] = "OriginateResponse"
    response: str = ""
    reason: str = ""
    action_id: str = ""
    application: str = ""
    data: str = ""

    @property
    def success(self) -> bool:
        return self.response.lower() == "success"


@dataclass(frozen=True, slots=True)
class FullyBooted(Event):
    EVENT_NAME: ClassVar[str] = "FullyBooted"
    status: str = ""
    uptime: str = ""
    last_reload: str = ""


@dataclass(frozen=True, slots=True)
class Shutdown(Event):
    """Asterisk is stopping; ``restart`` is ``"True"`` when it will come back by itself."""

    EVENT_NAME: ClassVar[str] = "Shutdown"
    shutdown: str = ""
    restart: str = ""

    @property
    def is_restart(self) -> bool:
        return self.restart.lower() in {"true", "yes", "1"}


@dataclass(frozen=True, slots=True)
class CoreShowChannel(ChannelEvent):
    """One live channel in the answer to ``CoreShowChannels``."""

    EVENT_NAME: ClassVar[str] = "CoreShowChannel"
    action_id: str = ""
    application: str = ""
    application_data: str = ""
    duration: str = ""
    bridge_id: str = ""


_TYPED: tuple[type[Event], ...] = (
    Newchannel,
    Newstate,
    NewCallerid,
    Newexten,
    VarSet,
    Hangup,
    HangupRequest,
    SoftHangupRequest,
    DialBegin,
    DialState,
    DialEnd,
    BridgeCreate,
    BridgeDestroy,
    BridgeEnter,
    BridgeLeave,
    DTMFBegin,
    DTMFEnd,
    AsyncAGIStart,
    AsyncAGIExec,
    AsyncAGIEnd,
    OriginateResponse,
    FullyBooted,
    Shutdown,
    CoreShowChannel,
)
EVENT_TYPES: dict[str, type[Event]] = {cls.EVENT_NAME: cls for cls in _TYPED}
_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "bridge_num_channels": _to_int,
    "duration_ms": _to_int,
    "env": decode_agi_env,
    "result": _url_decode,
}


def _make_builder(cls: type[Event]) -> Callable[[Message], Event]:
    """Generate ``build(message)`` that calls ``cls`` with every header read once.

    Generated code (like ``dataclasses`` itself does) avoids a per-field Python loop.
    """
    args = ["m"]
    env: dict[str, Any] = {"cls": cls}
    for f in dataclasses.fields(cls)[1:]:
        wire = _WIRE[f.name]
        lookup = f"g({wire!r}, '')"
        if wire in _ALIASES:
            lookup = f"(g({wire!r}) or g({_ALIASES[wire]!r}, ''))"
        if f.name in _CONVERTERS:
            env["c_" + f.name] = _CONVERTERS[f.name]
            lookup = f"c_{f.name}({lookup})"
        args.append(lookup)
    source = f"def build(m):\n    g = m._index.get\n    return cls({', '.join(args)})\n"
    exec(source, env)
    builder: Callable[[Message], Event] = env["build"]
    return builder


_BUILDERS: dict[type[Event], Callable[[Message], Event]] = {
    cls: _make_builder(cls) for cls in (*_TYPED, GenericEvent)
}
_BY_NAME: dict[str, Callable[[Message], Event]] = {cls.EVENT_NAME: _BUILDERS[cls] for cls in _TYPED}
_GENERIC = _BUILDERS[GenericEvent]


def parse_event(message: Message) -> Event:
    """Return the typed event for ``message`` (a :class:`GenericEvent` for unknown names)."""
    return _BY_NAME.get(message.event, _GENERIC)(message)

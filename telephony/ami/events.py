"""Typed AMI events: frozen, slotted classes over a :class:`Message`.

Theory of operation: the events the service acts on get a class with snake_case fields;
every other event becomes a :class:`GenericEvent` that still carries the whole message.
Asterisk omits headers freely (``HangupRequest`` without ``Cause``, ``DialBegin`` of an
Originate without ``Channel``), so every field defaults to ``""`` (``0`` for counts) and
reading one never raises. Fields are descriptors that read their header from the message
when asked: building an event costs one small object, and a subscriber that reads two
fields pays for two substring searches, not for splitting the whole message. This keeps
ingest well ahead of parse-everything clients. For tests and fakes, events can also be
built by keyword (``Hangup(channel="PJSIP/a-1", cause="16")``); they are equal when their
messages are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import FrozenInstanceError, dataclass
from typing import ClassVar, Generic, TypeVar, overload
from urllib.parse import quote, unquote

from telephony.ami.messages import Message, find_header

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
    "Header",
    "MixMonitorMute",
    "MixMonitorStart",
    "MixMonitorStop",
    "NewCallerid",
    "Newchannel",
    "Newexten",
    "Newstate",
    "OriginateResponse",
    "Shutdown",
    "SoftHangupRequest",
    "VarSet",
    "decode_agi_env",
    "event_class",
    "parse_event",
]


T = TypeVar("T")


def _to_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def _url_decode(text: str) -> str:
    return unquote(text, errors="replace")


class Header(Generic[T]):
    """A typed event field read from one header of the event's message.

    Args:
        wire: the header name as Asterisk writes it (``CallerIDNum``).
        convert: turns the text into the field's type (``int``, a decoded dict, ...).
        alias: another spelling tried when ``wire`` is absent (``CommandID``).
    """

    __slots__ = ("alias", "convert", "first", "name", "needle", "wire")

    def __init__(
        self, wire: str, convert: Callable[[str], T] | None = None, alias: str = ""
    ) -> None:
        self.wire = wire
        self.first = wire + ": "
        self.needle = "\r\n" + wire + ": "
        self.convert = convert
        self.alias = alias
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Header[T]: ...

    @overload
    def __get__(self, obj: Event, owner: type | None = None) -> T: ...

    def __get__(self, obj: Event | None, owner: type | None = None) -> T | Header[T]:
        if obj is None:
            return self
        message = obj.message
        text = message._text
        if text is not None and message._index is None:
            value = find_header(text, self.first, self.needle)
        else:
            value = message.lookup(self.wire)
        if value is None:
            value = message.lookup(self.alias) if self.alias else None
            if value is None:
                value = ""
        if self.convert is None:
            return value  # type: ignore[return-value]
        return self.convert(value)

    def render(self, value: object) -> str:
        """The header text for ``value`` (the inverse of ``convert``, for keyword events)."""
        if isinstance(value, dict):
            env = "".join(f"{k}: {v}\n" for k, v in value.items()) + "\n"
            return quote(env, safe="")
        if self.convert is _url_decode:
            return quote(str(value), safe="() ")
        return str(value)


def _str(wire: str, alias: str = "") -> Header[str]:
    return Header(wire, None, alias)


@dataclass(slots=True, init=False)
class Event:
    """Base of all events; ``message`` is the raw message the event reads its fields from.

    Args:
        message: the message from Asterisk; omitted when building an event by keyword.
        **fields: field values (snake_case names) to build a message from.

    Raises:
        TypeError: an unknown field name.
    """

    EVENT_NAME: ClassVar[str] = ""
    message: Message

    def __init__(self, message: Message | None = None, **fields: object) -> None:
        if message is None:
            headers = [("Event", self.EVENT_NAME)] if self.EVENT_NAME else []
            for name, value in fields.items():
                header = getattr(type(self), name, None)
                if not isinstance(header, Header):
                    raise TypeError(f"{type(self).__name__} has no field {name!r}")
                headers.append((header.wire, header.render(value)))
            message = Message(headers)
        elif fields:
            raise TypeError("give either a message or fields, not both")
        object.__setattr__(self, "message", message)

    # Frozen by hand: dataclass(frozen=True) cannot be combined with this custom __init__
    # and the __slots__-only subclasses (its generated __setattr__ breaks on them).
    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __hash__(self) -> int:
        return hash((type(self), self.message))

    @property
    def name(self) -> str:
        return self.message.event or self.EVENT_NAME

    def get(self, header: str, default: str = "") -> str:
        """Any header of the raw message (case-insensitive)."""
        return self.message.get(header, default)

    def fields(self) -> dict[str, object]:
        """Every typed field with its value (for logs, JSON and debugging)."""
        out: dict[str, object] = {}
        for klass in reversed(type(self).__mro__):
            for name, attr in vars(klass).items():
                if isinstance(attr, Header):
                    out[name] = getattr(self, name)
        return out

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.fields().items() if v not in ("", 0))
        return f"{type(self).__name__}({shown})"

    @classmethod
    def from_message(cls, message: Message) -> Event:
        """Wrap ``message`` as this event type (no parsing happens here)."""
        event = object.__new__(cls)
        object.__setattr__(event, "message", message)
        return event


class GenericEvent(Event):
    """Any event without a dedicated class; read headers with :meth:`Event.get`."""

    __slots__ = ()


class ChannelEvent(Event):
    """Fields Asterisk puts on every channel-scoped event."""

    __slots__ = ()
    channel = _str("Channel")
    uniqueid = _str("Uniqueid")
    linkedid = _str("Linkedid")
    caller_id_num = _str("CallerIDNum")
    caller_id_name = _str("CallerIDName")
    connected_line_num = _str("ConnectedLineNum")
    connected_line_name = _str("ConnectedLineName")
    exten = _str("Exten")
    context = _str("Context")
    priority = _str("Priority")
    channel_state = _str("ChannelState")
    channel_state_desc = _str("ChannelStateDesc")
    language = _str("Language")
    account_code = _str("AccountCode")


class Newchannel(ChannelEvent):
    __slots__ = ()
    EVENT_NAME = "Newchannel"


class Newstate(ChannelEvent):
    __slots__ = ()
    EVENT_NAME = "Newstate"


class NewCallerid(ChannelEvent):
    """The caller id changed (an Originate sets it after ``Newchannel``)."""

    __slots__ = ()
    EVENT_NAME = "NewCallerid"


class Newexten(ChannelEvent):
    __slots__ = ()
    EVENT_NAME = "Newexten"
    extension = _str("Extension")
    application = _str("Application")
    app_data = _str("AppData")


class VarSet(ChannelEvent):
    __slots__ = ()
    EVENT_NAME = "VarSet"
    variable = _str("Variable")
    value = _str("Value")


class Hangup(ChannelEvent):
    __slots__ = ()
    EVENT_NAME = "Hangup"
    cause = _str("Cause")
    cause_txt = _str("Cause-txt")


class HangupRequest(ChannelEvent):
    __slots__ = ()
    EVENT_NAME = "HangupRequest"
    cause = _str("Cause")


class SoftHangupRequest(ChannelEvent):
    """``cause`` is Asterisk's soft-hangup flag here, not a Q.850 cause."""

    __slots__ = ()
    EVENT_NAME = "SoftHangupRequest"
    cause = _str("Cause")


class _DialFields(ChannelEvent):
    __slots__ = ()
    dest_channel = _str("DestChannel")
    dest_uniqueid = _str("DestUniqueid")
    dest_linkedid = _str("DestLinkedid")
    dest_caller_id_num = _str("DestCallerIDNum")
    dest_caller_id_name = _str("DestCallerIDName")
    dest_connected_line_num = _str("DestConnectedLineNum")
    dest_context = _str("DestContext")
    dest_exten = _str("DestExten")
    dest_channel_state_desc = _str("DestChannelStateDesc")


class DialBegin(_DialFields):
    """``channel`` is ``""`` when the dial comes from an Originate (only ``dest_*`` set)."""

    __slots__ = ()
    EVENT_NAME = "DialBegin"
    dial_string = _str("DialString")


class DialState(_DialFields):
    __slots__ = ()
    EVENT_NAME = "DialState"
    dial_status = _str("DialStatus")


class DialEnd(_DialFields):
    __slots__ = ()
    EVENT_NAME = "DialEnd"
    dial_status = _str("DialStatus")
    forward = _str("Forward")


class _BridgeFields(Event):
    __slots__ = ()
    bridge_uniqueid = _str("BridgeUniqueid")
    bridge_type = _str("BridgeType")
    bridge_technology = _str("BridgeTechnology")
    bridge_creator = _str("BridgeCreator")
    bridge_name = _str("BridgeName")
    bridge_num_channels = Header("BridgeNumChannels", _to_int)


class BridgeCreate(_BridgeFields):
    __slots__ = ()
    EVENT_NAME = "BridgeCreate"


class BridgeDestroy(_BridgeFields):
    __slots__ = ()
    EVENT_NAME = "BridgeDestroy"


class _BridgeChannelFields(ChannelEvent):
    __slots__ = ()
    bridge_uniqueid = _str("BridgeUniqueid")
    bridge_type = _str("BridgeType")
    bridge_technology = _str("BridgeTechnology")
    bridge_creator = _str("BridgeCreator")
    bridge_name = _str("BridgeName")
    bridge_num_channels = Header("BridgeNumChannels", _to_int)


class BridgeEnter(_BridgeChannelFields):
    __slots__ = ()
    EVENT_NAME = "BridgeEnter"


class BridgeLeave(_BridgeChannelFields):
    __slots__ = ()
    EVENT_NAME = "BridgeLeave"


class _DTMFFields(ChannelEvent):
    __slots__ = ()
    digit = _str("Digit")
    direction = _str("Direction")
    duration_ms = Header("DurationMs", _to_int)


class DTMFBegin(_DTMFFields):
    """``DTMFBegin`` has no ``DurationMs``: ``duration_ms`` stays 0."""

    __slots__ = ()
    EVENT_NAME = "DTMFBegin"


class DTMFEnd(_DTMFFields):
    __slots__ = ()
    EVENT_NAME = "DTMFEnd"


class MixMonitorStart(ChannelEvent):
    """A recording started on the channel (after ``VarSet MIXMONITOR_FILENAME``)."""

    __slots__ = ()
    EVENT_NAME = "MixMonitorStart"


class MixMonitorStop(ChannelEvent):
    """A recording was stopped by StopMixMonitor; a hangup ends one without this event."""

    __slots__ = ()
    EVENT_NAME = "MixMonitorStop"


class MixMonitorMute(ChannelEvent):
    """A recording was muted (``state`` ``"1"``) or unmuted (``"0"``); ``direction`` is
    ``read``, ``write`` or ``both`` as the MixMonitorMute action gave it."""

    __slots__ = ()
    EVENT_NAME = "MixMonitorMute"
    direction = _str("Direction")
    state = _str("State")


def decode_agi_env(raw: str) -> dict[str, str]:
    """Decode the URL-encoded ``Env`` of ``AsyncAGIStart`` into ``{"agi_channel": ...}``."""
    env: dict[str, str] = {}
    for line in unquote(raw, errors="replace").split("\n"):
        key, sep, value = line.partition(":")
        if sep and key:
            env[key.strip()] = value[1:] if value.startswith(" ") else value
    return env


class AsyncAGIStart(ChannelEvent):
    """``env`` is the decoded AGI environment (``agi_channel``, ``agi_dnid``, ...)."""

    __slots__ = ()
    EVENT_NAME = "AsyncAGIStart"
    env = Header("Env", decode_agi_env)


class AsyncAGIExec(ChannelEvent):
    """``command_id`` is the client's CommandID; ``result`` the decoded raw AGI reply."""

    __slots__ = ()
    EVENT_NAME = "AsyncAGIExec"
    command_id = _str("CommandId", alias="CommandID")
    result = Header("Result", _url_decode)


class AsyncAGIEnd(ChannelEvent):
    __slots__ = ()
    EVENT_NAME = "AsyncAGIEnd"


class OriginateResponse(ChannelEvent):
    """Outcome of an ``Async: true`` Originate; ``action_id`` is the Originate's ActionID."""

    __slots__ = ()
    EVENT_NAME = "OriginateResponse"
    response = _str("Response")
    reason = _str("Reason")
    action_id = _str("ActionID")
    application = _str("Application")
    data = _str("Data")

    @property
    def success(self) -> bool:
        return self.response.lower() == "success"


class FullyBooted(Event):
    __slots__ = ()
    EVENT_NAME = "FullyBooted"
    status = _str("Status")
    uptime = _str("Uptime")
    last_reload = _str("LastReload")


class Shutdown(Event):
    """Asterisk is stopping; ``restart`` is ``"True"`` when it will come back by itself."""

    __slots__ = ()
    EVENT_NAME = "Shutdown"
    shutdown = _str("Shutdown")
    restart = _str("Restart")

    @property
    def is_restart(self) -> bool:
        return self.restart.lower() in {"true", "yes", "1"}


class CoreShowChannel(ChannelEvent):
    """One live channel in the answer to ``CoreShowChannels``."""

    __slots__ = ()
    EVENT_NAME = "CoreShowChannel"
    action_id = _str("ActionID")
    application = _str("Application")
    application_data = _str("ApplicationData")
    duration = _str("Duration")
    bridge_id = _str("BridgeId", alias="BridgeID")


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
    MixMonitorStart,
    MixMonitorMute,
    MixMonitorStop,
    AsyncAGIStart,
    AsyncAGIExec,
    AsyncAGIEnd,
    OriginateResponse,
    FullyBooted,
    Shutdown,
    CoreShowChannel,
)
EVENT_TYPES: dict[str, type[Event]] = {cls.EVENT_NAME: cls for cls in _TYPED}


def event_class(name: str) -> type[Event]:
    """The class for event ``name`` (:class:`GenericEvent` when it has none)."""
    return EVENT_TYPES.get(name, GenericEvent)


def parse_event(message: Message) -> Event:
    """Return the typed event for ``message`` (a :class:`GenericEvent` for unknown names)."""
    return EVENT_TYPES.get(message.event, GenericEvent).from_message(message)

"""The simulated world's objects: phones, callers, channels, bridges.

Channels carry exactly the fields Asterisk 22 prints in its common channel block, so
:func:`channel_block` can reproduce the header order of the captured events
(``Channel`` … ``Linkedid``), with an optional ``Dest`` prefix for dial events.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from config.errors import InvalidInput

if TYPE_CHECKING:
    from .mixmonitor import MixMonitorTap

PhoneMode = Literal["answer", "noanswer", "busy", "unavailable"]
STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up", 7: "Busy"}


@dataclass(frozen=True, slots=True)
class PhoneBehaviour:
    """How a simulated endpoint (agent phone or trunk customer) reacts to a call.

    ``talk_seconds`` None means the phone stays up until hung up over AMI or by the
    other side; a ``(min, max)`` pair makes it hang up after a uniform random talk time.
    """

    mode: PhoneMode = "answer"
    answer_after: float = 1.0
    talk_seconds: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("answer", "noanswer", "busy", "unavailable"):
            raise InvalidInput(f"unknown phone mode {self.mode!r}", field="mode")
        if self.answer_after < 0:
            raise InvalidInput("answer_after must be >= 0", field="answer_after")
        _check_range(self.talk_seconds)


@dataclass(frozen=True, slots=True)
class CallerProfile:
    """A kind of caller for Poisson traffic; ``weight`` sets how often it is drawn."""

    caller: str
    did: str = "5551000"
    caller_name: str = ""
    dtmf: tuple[str, ...] = ()
    patience: float = 60.0
    talk_seconds: tuple[float, float] | None = (20.0, 90.0)
    weight: float = 1.0

    def __post_init__(self) -> None:
        if self.weight <= 0:
            raise InvalidInput("weight must be > 0", field="weight")
        if self.patience <= 0:
            raise InvalidInput("patience must be > 0", field="patience")
        _check_range(self.talk_seconds)


def _check_range(pair: tuple[float, float] | None) -> None:
    if pair is not None and not (0 <= pair[0] <= pair[1]):
        raise InvalidInput("talk_seconds must be (min, max) with 0 <= min <= max")


@dataclass(eq=False)
class SimBridge:
    """A basic two-party bridge; ``ended`` resolves when it is destroyed."""

    uniqueid: str
    members: list[SimChannel] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    def block(self) -> list[tuple[str, str]]:
        return [
            ("BridgeUniqueid", self.uniqueid),
            ("BridgeType", "basic"),
            ("BridgeTechnology", "simple_bridge"),
            ("BridgeCreator", "<unknown>"),
            ("BridgeName", "<unknown>"),
            ("BridgeNumChannels", str(len(self.members))),
            ("BridgeVideoSourceMode", "none"),
        ]


@dataclass(eq=False)
class SimChannel:
    """One live channel. Mutable: the dialplan moves it between contexts and states."""

    name: str
    uniqueid: str
    linkedid: str
    created: float
    state: int = 0
    caller_num: str = "<unknown>"
    caller_name: str = "<unknown>"
    connected_num: str = "<unknown>"
    connected_name: str = "<unknown>"
    context: str = ""
    exten: str = "s"
    priority: int = 1
    dnid: str = ""
    app: str = ""
    app_data: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    inherited: dict[str, str] = field(default_factory=dict)  # __VAR: copied to dialed legs
    bridge: SimBridge | None = None
    runner: asyncio.Task[None] | None = None
    agi: asyncio.Queue[tuple[str, str]] | None = None
    dtmf: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    dtmf_groups: list[str] = field(default_factory=list)
    talk_seconds: tuple[float, float] | None = None
    is_caller: bool = False
    dial_owner: SimChannel | None = None  # the channel whose Dial created this leg
    talking: bool = False
    patience_timer: asyncio.Task[None] | None = None
    hanging: bool = False
    redirecting: bool = False
    gone: asyncio.Event = field(default_factory=asyncio.Event)
    bridged: asyncio.Event = field(default_factory=asyncio.Event)  # set at its first bridge
    timers: list[asyncio.Task[None]] = field(default_factory=list)
    mixmonitors: list[MixMonitorTap] = field(default_factory=list)  # oldest first

    @property
    def tech(self) -> str:
        return self.name.split("/", 1)[0]

    def block(self, prefix: str = "") -> list[tuple[str, str]]:
        """The common channel headers in Asterisk's order, optionally ``Dest``-prefixed."""
        p = prefix
        return [
            (f"{p}Channel", self.name),
            (f"{p}ChannelState", str(self.state)),
            (f"{p}ChannelStateDesc", STATE_DESC.get(self.state, "Unknown")),
            (f"{p}CallerIDNum", self.caller_num),
            (f"{p}CallerIDName", self.caller_name),
            (f"{p}ConnectedLineNum", self.connected_num),
            (f"{p}ConnectedLineName", self.connected_name),
            (f"{p}Language", "en"),
            (f"{p}AccountCode", ""),
            (f"{p}Context", self.context),
            (f"{p}Exten", self.exten),
            (f"{p}Priority", str(self.priority)),
            (f"{p}Uniqueid", self.uniqueid),
            (f"{p}Linkedid", self.linkedid),
        ]

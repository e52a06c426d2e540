"""Configuration of the ACD: queues, agents, engine settings, and the estimate it returns.

Everything here is a frozen, slotted dataclass validated at construction, so an engine
never holds a queue with a negative ring timeout or an agent with skill level 9. Errors
are :class:`config.errors.InvalidInput` with ``field`` naming the offending key; the YAML
loader (``routing.acd.config``) adds the file and the queue or agent name.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from config.errors import InvalidInput
from config.settings import RoutingSettings

MIN_SKILL = 1
MAX_SKILL = 5
#: not-ready reasons the system itself sets (ring unanswered, agent dialling out, agent
#: given a call by a blind transfer, phone gone during a restart); always accepted, whatever the configured list says
SYSTEM_REASONS = ("no answer", "outbound", "transfer", "phone offline")
#: the kinds of contact the ACD routes; a chat or an email is a *digital* contact
CHANNELS = ("voice", "chat", "email")
DIGITAL_CHANNELS = ("chat", "email")
VOICE_ONLY: frozenset[str] = frozenset({"voice"})
#: an agent's contacts at once per channel unless configured (Amazon Connect's routing
#: profile: one call, a few chats, a couple of emails)
DEFAULT_CAPACITY: Mapping[str, int] = {"voice": 1, "chat": 3, "email": 2}
#: the most contacts of one digital channel an agent may hold (a bound on a typo)
MAX_CAPACITY = 20


class Strategy(enum.Enum):
    """How a queue picks among several ready agents for one caller."""

    LONGEST_IDLE = "longest_idle"
    ROUND_ROBIN = "round_robin"
    FEWEST_CALLS = "fewest_calls"
    RANDOM = "random"
    LINEAR = "linear"


class MaxWaitAction(enum.Enum):
    """What happens to a caller who waited ``max_wait`` seconds (or found the queue full)."""

    OVERFLOW = "overflow"
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"
    HANGUP = "hangup"


class WrapUpTimeoutAction(enum.Enum):
    """What happens when a queue's wrap-up limit runs out while the agent still has unsaved
    wrap-up input (typed notes, a chosen disposition): an agent is never made ready behind
    their back by default, because the next pop would bury what they typed."""

    HOLD_UNTIL_SAVED = "hold_until_saved"  # stays in wrap-up, marked overdue, until saved
    EXTEND_ONCE = "extend_once"  # one more limit; then as HOLD_UNTIL_SAVED
    FORCE_READY = "force_ready"  # ready at the limit, unsaved or not (the old behaviour)


def _check_text(value: str, name: str, *, allow_empty: bool = False) -> None:
    if not isinstance(value, str) or (not value and not allow_empty):
        raise InvalidInput(f"{name} must be a non-empty string, got {value!r}", field=name)
    if "\r" in value or "\n" in value or "\x00" in value:
        raise InvalidInput(f"{name} must not contain CR, LF or NUL", field=name)


def _check_number(value: float, name: str, *, minimum: float = 0.0) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{name} must be a number, got {value!r}", field=name)
    if value < minimum:
        raise InvalidInput(f"{name} must be at least {minimum:g}, got {value!r}", field=name)


def check_channel(channel: str, name: str = "channel") -> None:
    """Check a channel name is one of :data:`CHANNELS`.

    Raises:
        InvalidInput: anything else (``field`` is ``name``).
    """
    if not isinstance(channel, str) or channel not in CHANNELS:
        raise InvalidInput(
            f"{name} must be one of {', '.join(CHANNELS)}, got {channel!r}", field=name
        )


def check_capacity(capacity: Mapping[str, int], name: str = "capacity") -> dict[str, int]:
    """Check a capacity map and fill the channels it leaves out from the defaults.

    Voice is 0 or 1 (a phone carries one call); chat and email 0 to :data:`MAX_CAPACITY`.

    Raises:
        InvalidInput: an unknown channel or a bad count (``field`` is ``name``).
    """
    if not isinstance(capacity, Mapping):
        raise InvalidInput(f"{name} must be a mapping of channel to count", field=name)
    full = dict(DEFAULT_CAPACITY)
    for channel, count in capacity.items():
        check_channel(channel, name)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise InvalidInput(
                f"{name}.{channel} must be an integer >= 0, got {count!r}", field=name
            )
        top = 1 if channel == "voice" else MAX_CAPACITY
        if count > top:
            raise InvalidInput(f"{name}.{channel} must be at most {top}, got {count}", field=name)
        full[channel] = count
    return full


def check_skills(skills: Mapping[str, int], name: str = "skills") -> None:
    """Check a skill map: names non-empty, levels integers 1–5.

    Raises:
        InvalidInput: a bad skill name or level (``field`` is ``name``).
    """
    if type(skills) is not dict and not isinstance(skills, Mapping):
        raise InvalidInput(f"{name} must be a mapping of skill to level", field=name)
    for skill, level in skills.items():
        _check_text(skill, name)
        if isinstance(level, bool) or not isinstance(level, int):
            raise InvalidInput(f"{name}.{skill} must be an integer 1–5, got {level!r}", field=name)
        if not MIN_SKILL <= level <= MAX_SKILL:
            raise InvalidInput(f"{name}.{skill} must be 1–5, got {level}", field=name)


@dataclass(frozen=True, slots=True)
class Widening:
    """Required skill levels drop by ``step`` every ``every`` seconds a caller waits.

    ``floor`` is the lowest level a requirement widens to; 0 means the skill stops being
    required at all. ``every == 0`` turns widening off.
    """

    every: float = 0.0
    step: int = 1
    floor: int = 1

    def __post_init__(self) -> None:
        _check_number(self.every, "widening.every")
        if isinstance(self.step, bool) or not isinstance(self.step, int) or self.step < 1:
            raise InvalidInput("widening.step must be an integer >= 1", field="widening.step")
        if (
            isinstance(self.floor, bool)
            or not isinstance(self.floor, int)
            or not 0 <= self.floor <= MAX_SKILL
        ):
            raise InvalidInput("widening.floor must be an integer 0–5", field="widening.floor")

    def level_after(self, level: int, waited: float) -> int:
        """The required level of a skill asked at ``level`` after ``waited`` seconds."""
        if self.every <= 0 or level <= self.floor:
            return level
        drops = int(max(waited, 0.0) // self.every) * self.step
        return max(self.floor, level - drops)

    def next_change(self, level: int, waited: float) -> float | None:
        """Seconds of waiting at which ``level`` drops next, or None if it never will."""
        if self.every <= 0 or self.level_after(level, waited) <= self.floor:
            return None
        return (int(max(waited, 0.0) // self.every) + 1) * self.every


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """One queue. Times are seconds; 0 turns a limit off (max_wait, max_length, announce)."""

    name: str
    strategy: Strategy = Strategy.LONGEST_IDLE
    skills: Mapping[str, int] = field(default_factory=dict)
    widening: Widening = field(default_factory=Widening)
    #: seconds of waiting one priority level is worth: aging, so no caller starves
    priority_seconds: float = 60.0
    #: CRM tier -> extra priority levels (e.g. {"vip": 3})
    tier_priority: Mapping[str, int] = field(default_factory=dict)
    #: head start (seconds) this queue's callers get in the global order
    weight: float = 0.0
    max_wait: float = 0.0
    max_wait_action: MaxWaitAction = MaxWaitAction.HANGUP
    #: overflow queue, voicemail box, or prompt to play before hanging up
    max_wait_target: str = ""
    max_length: int = 0
    join_empty: bool = True
    service_level: float = 20.0
    ring_timeout: float = 15.0
    wrap_up: float = 0.0
    wrap_up_timeout_action: WrapUpTimeoutAction = WrapUpTimeoutAction.HOLD_UNTIL_SAVED
    announce_interval: float = 0.0
    moh: str = "default"
    callback_attempts: int = 3
    callback_retry: float = 120.0
    #: handle time assumed for wait estimates until real calls have been measured
    default_handle_time: float = 180.0
    #: the channels this queue takes (a CallQueued of another is InvalidInput)
    channels: frozenset[str] = VOICE_ONLY

    def __post_init__(self) -> None:
        _check_text(self.name, "name")
        if not isinstance(self.channels, frozenset) or not self.channels:
            raise InvalidInput("channels must be a non-empty set of channels", field="channels")
        for channel in sorted(self.channels):
            check_channel(channel, "channels")
        if not isinstance(self.strategy, Strategy):
            raise InvalidInput("strategy must be a Strategy", field="strategy")
        if not isinstance(self.max_wait_action, MaxWaitAction):
            raise InvalidInput("max_wait_action must be a MaxWaitAction", field="max_wait_action")
        if not isinstance(self.wrap_up_timeout_action, WrapUpTimeoutAction):
            raise InvalidInput(
                "wrap_up_timeout_action must be a WrapUpTimeoutAction",
                field="wrap_up_timeout_action",
            )
        if not isinstance(self.widening, Widening):
            raise InvalidInput("widening must be a Widening", field="widening")
        check_skills(self.skills, "skills")
        for tier, levels in self.tier_priority.items():
            _check_text(tier, "tier_priority")
            if isinstance(levels, bool) or not isinstance(levels, int):
                raise InvalidInput(
                    f"tier_priority.{tier} must be an integer", field="tier_priority"
                )
        for name in (
            "priority_seconds",
            "max_wait",
            "service_level",
            "announce_interval",
            "wrap_up",
            "callback_retry",
            "default_handle_time",
        ):
            _check_number(getattr(self, name), name)
        _check_number(self.weight, "weight", minimum=-math.inf)
        _check_number(self.ring_timeout, "ring_timeout", minimum=1.0)
        for name in ("max_length", "callback_attempts"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidInput(f"{name} must be an integer >= 0, got {value!r}", field=name)
        if not isinstance(self.join_empty, bool):
            raise InvalidInput("join_empty must be true or false", field="join_empty")
        _check_text(self.moh, "moh")
        _check_text(self.max_wait_target, "max_wait_target", allow_empty=True)
        if self.max_wait_action is MaxWaitAction.OVERFLOW:
            if not self.max_wait_target:
                raise InvalidInput(
                    "max_wait_action overflow needs max_wait_target (a queue)",
                    field="max_wait_target",
                )
            if self.max_wait_target == self.name:
                raise InvalidInput("a queue cannot overflow into itself", field="max_wait_target")


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """One agent: who, where to ring (a dial string such as ``PJSIP/1001``), what they know.

    ``pbx`` names the Asterisk the endpoint is registered on ("": the first PBX).
    ``capacity`` is how many contacts of each channel the agent holds at once (a
    channel left out takes :data:`DEFAULT_CAPACITY`'s count; the map is completed at
    construction); ``voice_during_digital`` whether a call may be offered while they
    hold a chat or an email.
    """

    agent_id: str
    name: str
    endpoint: str
    skills: Mapping[str, int] = field(default_factory=dict)
    queues: tuple[str, ...] = ()
    pbx: str = ""
    capacity: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_CAPACITY))
    voice_during_digital: bool = False

    def __post_init__(self) -> None:
        _check_text(self.agent_id, "id")
        _check_text(self.name, "name")
        _check_text(self.endpoint, "endpoint")
        if "/" not in self.endpoint or "," in self.endpoint:
            raise InvalidInput(
                f"endpoint must be a dial string like PJSIP/1001, got {self.endpoint!r}",
                field="endpoint",
            )
        check_skills(self.skills, "skills")
        if not isinstance(self.queues, tuple):
            raise InvalidInput("queues must be a tuple of queue names", field="queues")
        for queue in self.queues:
            _check_text(queue, "queues")
        if len(set(self.queues)) != len(self.queues):
            raise InvalidInput("queues lists a queue twice", field="queues")
        _check_text(self.pbx, "pbx", allow_empty=True)
        # frozen: completing the map is the one write, here, before anyone reads it
        object.__setattr__(self, "capacity", check_capacity(self.capacity))
        if not isinstance(self.voice_during_digital, bool):
            raise InvalidInput(
                "voice_during_digital must be true or false", field="voice_during_digital"
            )


@dataclass(frozen=True, slots=True)
class AcdSettings:
    """Engine-wide knobs; :meth:`from_routing` fills them from ``config.settings``."""

    not_ready_reasons: tuple[str, ...] = (
        "break",
        "lunch",
        "meeting",
        "training",
        *SYSTEM_REASONS,
    )
    sticky_offer_seconds: float = 10.0
    short_abandon_seconds: float = 5.0
    #: the engine gives up on a ring this long after the ring timeout the shell was told
    ring_grace_seconds: float = 5.0
    #: a callback first rings the agent, then dials the customer: time allowed for the
    #: second leg before the engine stops waiting for CallbackResult
    callback_dial_seconds: float = 60.0
    #: seed of the RANDOM strategy, so a run can be replayed
    seed: int = 0
    #: offset from UTC (seconds) of the day the "today" counters reset on
    day_offset_seconds: float = 0.0
    #: several PBXs: a caller's PBX -> the PBXs whose agents its calls can reach (over an
    #: inter-PBX trunk; its own is always reachable). Empty: every agent reaches every
    #: caller (one PBX, or each trunked to each). A PBX not listed reaches only itself.
    reach: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: a queue's QueueStatsChanged comes at most once per this many seconds: changes in
    #: between are published together at the first event or tick after it (0: after
    #: every event that changed the figures). The service reads ``[routing]``'s.
    stats_interval: float = 0.0

    def __post_init__(self) -> None:
        for name in (
            "sticky_offer_seconds",
            "short_abandon_seconds",
            "ring_grace_seconds",
            "callback_dial_seconds",
            "stats_interval",
        ):
            _check_number(getattr(self, name), name)
        _check_number(self.day_offset_seconds, "day_offset_seconds", minimum=-86400.0)
        for reason in self.not_ready_reasons:
            _check_text(reason, "not_ready_reasons")
        for pbx, targets in self.reach.items():
            _check_text(pbx, "reach", allow_empty=True)
            if not isinstance(targets, frozenset):
                raise InvalidInput("reach values must be frozensets of PBX names", field="reach")

    @classmethod
    def from_routing(cls, routing: RoutingSettings, **overrides: float) -> AcdSettings:
        """Build from the ``[routing]`` settings section.

        Args:
            routing: the loaded settings section.
            overrides: ring_grace_seconds / callback_dial_seconds / seed /
                day_offset_seconds.

        Raises:
            InvalidInput: a value out of range.
        """
        reasons = list(routing.not_ready_reasons)
        reasons += [r for r in SYSTEM_REASONS if r not in reasons]
        return cls(
            not_ready_reasons=tuple(reasons),
            sticky_offer_seconds=routing.sticky_offer_seconds,
            short_abandon_seconds=routing.short_abandon_seconds,
            stats_interval=routing.stats_interval,
            ring_grace_seconds=float(overrides.get("ring_grace_seconds", 5.0)),
            callback_dial_seconds=float(overrides.get("callback_dial_seconds", 60.0)),
            seed=int(overrides.get("seed", 0)),
            day_offset_seconds=float(overrides.get("day_offset_seconds", 0.0)),
        )


@dataclass(frozen=True, slots=True)
class Estimate:
    """Where a caller stands: 1-based position, expected seconds to answer, agents ready."""

    position: int
    seconds: float
    agents_ready: int

"""What the shell tells the IVR interpreter: results of the commands it ran, or a hangup."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class PlayDone:
    """The prompts finished; ``digit`` is the key that interrupted them, if any."""

    digit: str | None = None


@dataclass(frozen=True, slots=True)
class Collected:
    """Digits read (without the terminator); ``timed_out`` when the caller stopped typing."""

    digits: str
    timed_out: bool = False


@dataclass(frozen=True, slots=True)
class LookupDone:
    """The customer found (``name, tier, language, open_cases, verified, id``) or None."""

    customer: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class QueueState:
    """A queue's state for branch conditions; ``estimated_wait`` in seconds."""

    estimated_wait: float
    agents_ready: int
    waiting: int = 0


@dataclass(frozen=True, slots=True)
class RecordDone:
    """The recording's stored path (empty when nothing was recorded)."""

    path: str


@dataclass(frozen=True, slots=True)
class HungUp:
    """The caller hung up."""

    cause: str = field(default="")


Event = PlayDone | Collected | LookupDone | QueueState | RecordDone | HungUp

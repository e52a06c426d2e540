"""What the IVR interpreter asks the shell to do.

``Play``, ``Collect``, ``Lookup``, ``QueryQueue`` and ``Record`` are answered by one
event each (``PlayDone``, ``Collected``, ``LookupDone``, ``QueueState``, ``RecordDone``);
``Enqueue``, ``OfferCallback``, ``Transfer`` and ``Hangup`` end the IVR. Prompts are
paths without extension, ready for AGI ``STREAM FILE``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

Value = str | int | float | bool


@dataclass(frozen=True, slots=True)
class Play:
    prompts: tuple[str, ...]
    escape_digits: str = ""


@dataclass(frozen=True, slots=True)
class Collect:
    prompts: tuple[str, ...]
    max_digits: int
    timeout_ms: int
    terminator: str = "#"


@dataclass(frozen=True, slots=True)
class Lookup:
    """Find a customer ``by`` ``"phone"`` or ``"account"``."""

    by: str
    value: str


@dataclass(frozen=True, slots=True)
class QueryQueue:
    queue: str


@dataclass(frozen=True, slots=True)
class Enqueue:
    queue: str
    priority: int
    skills: Mapping[str, int] = field(default_factory=dict)
    variables: Mapping[str, Value] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OfferCallback:
    """Queue the call and ask for a callback to ``number`` that keeps its place in line."""

    queue: str
    number: str
    priority: int = 0
    skills: Mapping[str, int] = field(default_factory=dict)
    variables: Mapping[str, Value] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Record:
    """Record the caller into ``name`` (a file name without directory or extension)."""

    name: str
    max_seconds: int


@dataclass(frozen=True, slots=True)
class Transfer:
    target: str


@dataclass(frozen=True, slots=True)
class Hangup:
    reason: str


Command = (
    Play | Collect | Lookup | QueryQueue | Enqueue | OfferCallback | Record | Transfer | Hangup
)
WAITING = (Play, Collect, Lookup, QueryQueue, Record)
FINAL = (Enqueue, OfferCallback, Transfer, Hangup)

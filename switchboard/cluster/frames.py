"""The cluster bus's wire format (pure: no I/O, no event loop).

Theory of operation. The leader sends one ordered stream of *items* to every node over
PostgreSQL NOTIFY: console events (``{"e": message}``) and answers to the standbys'
requests (``{"r": reply}``). Items are numbered: a stream belongs to one leadership term
(its ``epoch``, chosen by the leader when it is elected) and each item has the next
sequence number of that term. Items are packed into *frames*, as many as fit in one
NOTIFY payload (PostgreSQL refuses payloads of 8,000 bytes or more; JSON with
``ensure_ascii`` is one byte per character, so lengths are byte counts). A frame with no
item is a heartbeat: it says the term is alive and where its numbering stands.

An item too large for any NOTIFY is never dropped and never split: its frame is *spilled*,
stored whole in a table, and the NOTIFY carries only the row's id (``ref``); the receiver
reads the row before it handles anything after it, so order is kept.

:class:`Ordering` checks each received frame against the last one of its term:
``IN_ORDER``, ``STALE`` (already seen), ``GAP`` (frames were missed: the receiver's copy
of the live state can no longer be trusted) or ``NEW_TERM`` (another leader, or the first
frame after (re)connecting) — the last two mean "read a fresh snapshot".
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from config.errors import RemoteProtocolError

# PostgreSQL's limit is 8,000 bytes; the margin leaves room for the frame's header.
MAX_PAYLOAD = 7_900
# A spilled frame read back from the table: larger is refused (a snapshot of a big floor
# is a few hundred kB).
MAX_SPILLED = 64 * 1024 * 1024

Item = dict[str, Any]


def dumps(value: Any) -> str:
    """Compact JSON, ASCII only so that its length is its size in bytes."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True, default=str)


@dataclass(frozen=True, slots=True)
class Frame:
    """``count`` items numbered from ``seq`` in term ``epoch`` of node ``source``."""

    source: str
    epoch: str
    seq: int
    items: tuple[Item, ...]

    @property
    def count(self) -> int:
        return len(self.items)

    def header(self) -> dict[str, Any]:
        return {"s": self.source, "e": self.epoch, "q": self.seq, "n": self.count}

    def serialize(self) -> str:
        return dumps({**self.header(), "i": list(self.items)})


@dataclass(frozen=True, slots=True)
class Spilled:
    """A NOTIFY that points at a frame stored in the table (row ``ref``)."""

    source: str
    epoch: str
    seq: int
    count: int
    ref: int


@dataclass(frozen=True, slots=True)
class Packed:
    """What to send: ``payload`` as the NOTIFY itself, or (``spill``) the frame to store,
    the NOTIFY then being the frame's header plus the stored row's id."""

    frame: Frame
    payload: str
    spill: bool


def pack(
    items: Sequence[Item], *, source: str, epoch: str, first_seq: int, limit: int = MAX_PAYLOAD
) -> list[Packed]:
    """Pack ``items`` in order into as few frames as fit in ``limit`` bytes each.

    An item that does not fit even alone gets a frame of its own, marked for spilling.
    No items: one heartbeat frame (nothing to number; ``seq`` is the next number).
    """
    if not items:
        frame = Frame(source, epoch, first_seq, ())
        return [Packed(frame, frame.serialize(), False)]
    out: list[Packed] = []
    seq = first_seq
    batch: list[Item] = []
    size = 0
    overhead = len(Frame(source, epoch, first_seq + len(items), ()).serialize())

    def flush() -> None:
        nonlocal seq, batch, size
        if batch:
            frame = Frame(source, epoch, seq, tuple(batch))
            out.append(Packed(frame, frame.serialize(), False))
            seq += len(batch)
            batch, size = [], 0

    for item in items:
        encoded = len(dumps(item)) + 1  # the comma between items
        if overhead + encoded > limit:
            flush()
            frame = Frame(source, epoch, seq, (item,))
            out.append(Packed(frame, frame.serialize(), True))
            seq += 1
            continue
        if overhead + size + encoded > limit:
            flush()
        batch.append(item)
        size += encoded
    flush()
    return out


def _field(data: dict[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise RemoteProtocolError(f"bus frame: {key!r} missing or not {kind.__name__}")
    return value


def parse(payload: str, *, limit: int = MAX_PAYLOAD) -> Frame | Spilled:
    """Decode one NOTIFY payload (a frame or the pointer to a spilled one).

    Raises:
        RemoteProtocolError: not a frame of this format, or over ``limit`` bytes.
    """
    if len(payload) > limit:
        raise RemoteProtocolError(f"bus frame over {limit} bytes")
    try:
        data = json.loads(payload)
    except ValueError:
        raise RemoteProtocolError("bus frame is not JSON") from None
    if not isinstance(data, dict):
        raise RemoteProtocolError("bus frame is not an object")
    source = _field(data, "s", str)
    epoch = _field(data, "e", str)
    seq = _field(data, "q", int)
    count = _field(data, "n", int)
    if "ref" in data:
        return Spilled(source, epoch, seq, count, _field(data, "ref", int))
    items = _field(data, "i", list)
    if len(items) != count or not all(isinstance(i, dict) for i in items):
        raise RemoteProtocolError("bus frame: items do not match their count")
    return Frame(source, epoch, seq, tuple(items))


def parse_spilled(body: str, pointer: Spilled) -> Frame:
    """Decode a spilled frame read back from the table and check it is the one announced.

    Raises:
        RemoteProtocolError: it does not parse or is not the frame ``pointer`` names.
    """
    frame = parse(body, limit=MAX_SPILLED)
    if not isinstance(frame, Frame) or (frame.source, frame.epoch, frame.seq, frame.count) != (
        pointer.source,
        pointer.epoch,
        pointer.seq,
        pointer.count,
    ):
        raise RemoteProtocolError("spilled bus frame is not the one announced")
    return frame


class Verdict(enum.Enum):
    IN_ORDER = "in_order"
    STALE = "stale"
    GAP = "gap"
    NEW_TERM = "new_term"


class Ordering:
    """Where the stream stands for one receiver: the term it follows and the next number.

    A frame of another term is ``NEW_TERM`` and from then on the stream followed; the
    term it replaced is retired (its late frames are ``STALE``).
    """

    RETIRED_KEPT = 64

    def __init__(self) -> None:
        self.epoch: str | None = None
        self.next_seq = 0
        # Terms already left behind: a late frame of one (sent just before its leader
        # stepped down) is STALE, not a switch back to a term that is over.
        self.retired: dict[str, None] = {}

    def reset(self) -> None:
        """Forget the term: after a reconnect the next frame counts as a new term."""
        self.epoch = None
        self.next_seq = 0

    def check(self, epoch: str, seq: int, count: int) -> Verdict:
        if epoch in self.retired:
            return Verdict.STALE
        if epoch != self.epoch:
            if self.epoch is not None:
                self.retired[self.epoch] = None
                while len(self.retired) > self.RETIRED_KEPT:
                    self.retired.pop(next(iter(self.retired)))
            self.epoch, self.next_seq = epoch, seq + count
            return Verdict.NEW_TERM
        if seq + count <= self.next_seq and count > 0:
            return Verdict.STALE
        if seq < self.next_seq and count == 0:
            return Verdict.STALE
        if seq > self.next_seq:
            self.next_seq = seq + count
            return Verdict.GAP
        self.next_seq = seq + count
        return Verdict.IN_ORDER

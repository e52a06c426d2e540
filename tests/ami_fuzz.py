"""Mutated real AMI frames for the protocol's property tests and ``bench/fuzz_ami.py``.

The seeds are the messages Asterisk 22 really sent (``../shared/ami-transcripts``). A
mutation works on bytes, the way a broken peer or a corrupted link would: it inserts the
bytes the framer cares about (CR, LF, blank lines, ``: ``), bytes that are not UTF-8,
header names that steer routing (``Event:``, ``ActionID:``, ``EventList: Complete``),
deletes, duplicates and truncates spans, and shuffles whole frames. Everything is driven
by one ``random.Random`` so a failing case is reproduced from its seed.

``run`` feeds a stream through a fresh :class:`AmiProtocol` (with the list actions of the
captures pending, so responses and lists are matched) and returns a comparable form of
everything that came out, plus the name of the documented error that stopped it, if any.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable
from functools import cache
from typing import NamedTuple

from config.errors import RemoteProtocolError
from telephony.ami import Action, ActionDone, AmiProtocol, Banner, ListResponse
from telephony.ami.events import AsyncAGIExec, Event
from telephony.ami.protocol import UnmatchedResponse
from tests.transcripts import connections, read_transcript, received_stream, transcript_files

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
TERMINATOR = b"\r\n\r\n"
# Bytes that matter to the framer, the decoder or the router.
SPICE: tuple[bytes, ...] = (
    b"\r",
    b"\n",
    b"\r\n",
    b"\r\n\r\n",
    b"\n\r\n",
    b"\r\n\n",
    b": ",
    b":",
    b" ",
    b"\x00",
    b"\xff",
    b"\xe2\x82",  # a UTF-8 sequence cut short
    "é€😀".encode(),
    b"%",
    b"%ZZ%0A%0D",
    b"Event: ",
    b"Response: ",
    b"ActionID: ",
    b"EventList: Complete\r\n",
    b"EventList: start\r\n",
    b"Response: Success\r\nActionID: fz-1\r\n",
    b"Event: CoreShowChannelsComplete\r\nActionID: fz-2\r\nEventList: Complete\r\n",
)
_LINE_ENDS = (b"\r", b"\n", b"\r\n")
# ActionIDs that are pending in every run, so mutated responses can complete them.
PENDING_IDS = ("fz-1", "fz-2", "fz-3")


@cache
def real_frames() -> tuple[bytes, ...]:
    """Every message Asterisk sent in the captures, terminator included, banner excluded."""
    frames: list[bytes] = []
    for path in transcript_files():
        blocks = read_transcript(path)
        for conn in connections(blocks):
            stream = received_stream(blocks, conn)
            if stream.startswith(b"Asterisk Call Manager"):
                stream = stream[stream.index(b"\r\n") + 2 :]
            frames.extend(part + TERMINATOR for part in stream.split(TERMINATOR) if part)
    return tuple(frames)


@cache
def real_agi_results() -> tuple[str, ...]:
    """Every AGI reply of the captures (the decoded ``Result`` of ``AsyncAGIExec``)."""
    protocol = AmiProtocol(expect_banner=False)
    protocol.receive_data(b"".join(real_frames()))
    found = {o.result for o in protocol.events_received() if isinstance(o, AsyncAGIExec)}
    return tuple(sorted(r for r in found if r))


# What an AGI reply's parser cares about: codes, digits that are not ASCII, numbers past
# int()'s 4,300-digit limit, parentheses, the keywords, line breaks of a 520 reply.
AGI_SPICE: tuple[str, ...] = (
    "²",
    "٠",
    "١٢",
    "9" * 5000,
    "99999999999999999999",
    "-",
    "(",
    ")",
    " ",
    "\n",
    "\r\n",
    "result=",
    "endpos=",
    "520-",
    "511 ",
    "510 ",
    "200 ",
    "\x00",
    "\ud800",
)


def mutate_agi(rng: random.Random, reply: str) -> str:
    """One AGI reply with one to three text-level mutations."""
    text = reply
    for _ in range(rng.randint(1, 3)):
        at = rng.randint(0, len(text))
        kind = rng.randrange(4)
        if kind <= 1:
            text = text[:at] + rng.choice(AGI_SPICE) + text[at:]
        elif kind == 2:
            text = text[:at] + text[at + rng.randint(1, 8) :]
        else:
            text = text[:at] + chr(rng.randrange(0x20, 0x3000)) + text[at + 1 :]
    return text


def mutate_frame(rng: random.Random, frame: bytes) -> bytes:
    """One frame with one to three byte-level mutations."""
    data = bytearray(frame)
    for _ in range(rng.randint(1, 3)):
        # A third of the mutations land at the frame's edges, next to the blank line
        # that ends the frame before it: where framing bugs live.
        edge = rng.random() < 0.33
        at = rng.choice((0, len(data))) if edge else rng.randint(0, len(data))
        kind = rng.randrange(8)
        if kind <= 1:  # the framer's bytes are the interesting ones: twice as likely
            data[at:at] = rng.choice(SPICE)
        elif kind == 7:  # stray line endings (blank lines, bare CR or LF)
            data[at:at] = b"".join(rng.choice(_LINE_ENDS) for _ in range(rng.randint(1, 4)))
        elif kind == 2 and data:
            del data[at : at + rng.randint(1, 16)]
        elif kind == 3 and data:
            start = rng.randrange(len(data))
            data[at:at] = data[start : start + rng.randint(1, 64)]
        elif kind == 4 and data:
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind == 5:
            del data[at:]
        else:
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return bytes(data)


class Stream(NamedTuple):
    data: bytes
    frames: int
    mutated: int


def mutated_stream(rng: random.Random, *, frames: int = 8, banner: bool = True) -> Stream:
    """The banner, then 1 to ``frames`` real frames, about half of them mutated, sometimes
    shuffled; the banner itself is mutated now and then."""
    seeds = real_frames()
    parts = []
    mutated = 0
    for _ in range(rng.randint(1, frames)):
        frame = rng.choice(seeds)
        if rng.random() < 0.5:
            frame = mutate_frame(rng, frame)
            mutated += 1
        parts.append(frame)
    if rng.random() < 0.1:
        rng.shuffle(parts)
    stream = b"".join(parts)
    if banner:
        head = BANNER if rng.random() < 0.97 else mutate_frame(rng, BANNER)
        stream = head + stream
    return Stream(stream, len(parts), mutated)


def random_chunks(rng: random.Random, data: bytes) -> list[bytes]:
    """``data`` cut at random points (sometimes one byte at a time)."""
    if len(data) < 2:
        return [data]
    if rng.random() < 0.05:
        return [data[i : i + 1] for i in range(len(data))]
    # Half the cuts fall next to a blank line: a read that ends inside a line ending
    # is the case a framer gets wrong.
    line_ends = _blank_lines(data)
    cuts_wanted = rng.randint(1, 12)
    cuts: set[int] = set()
    for _ in range(cuts_wanted):
        if line_ends and rng.random() < 0.5:
            cuts.add(min(max(rng.choice(line_ends) + rng.randint(-3, 4), 1), len(data) - 1))
        else:
            cuts.add(rng.randrange(1, len(data)))
    points = [0, *sorted(cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(points)]


def _blank_lines(data: bytes) -> list[int]:
    """Offsets of every ``\\r\\n\\r\\n`` (overlapping ones included)."""
    found, at = [], data.find(TERMINATOR)
    while at >= 0:
        found.append(at + 2)
        at = data.find(TERMINATOR, at + 1)
    return found


def norm(item: object) -> tuple[object, ...]:
    """A comparable form of one protocol output; every typed field is read, so lazy
    field parsing is exercised too."""
    if isinstance(item, Event):
        item.fields()
        return ("event", type(item).__name__, item.message.headers)
    if isinstance(item, ActionDone):
        result = item.result
        if isinstance(result, ListResponse):
            return (
                "list",
                item.action_id,
                result.response.headers,
                tuple(e.message.headers for e in result.events),
                result.complete.headers,
            )
        return ("done", item.action_id, result.message.headers, result.text, result.success)
    if isinstance(item, Banner):
        return ("banner", item.text, item.version)
    if isinstance(item, UnmatchedResponse):
        return ("unmatched", item.message.headers, item.message.event, item.message.response)
    raise AssertionError(f"unexpected protocol output {item!r}")


Result = tuple[list[tuple[object, ...]], RemoteProtocolError | None]


def run(
    chunks: Iterable[bytes], *, max_message_bytes: int = 1 << 20, expect_banner: bool = True
) -> Result:
    """Feed ``chunks`` to a fresh protocol: ``(outputs, error)``. ``error`` is the
    documented error that ended the stream (``RemoteProtocolError``) or None; any other
    exception propagates, which is what the fuzzers look for."""
    protocol = AmiProtocol(max_message_bytes=max_message_bytes, expect_banner=expect_banner)
    for action_id in PENDING_IDS:
        protocol.send_action(Action("CoreShowChannels", action_id=action_id))
    protocol.send_action(Action("Ping"), with_action_id=False)
    out: list[tuple[object, ...]] = []
    try:
        for chunk in chunks:
            protocol.receive_data(chunk)
            out.extend(norm(o) for o in protocol.events_received())
    except RemoteProtocolError as exc:
        out.extend(norm(o) for o in protocol.events_received())
        return out, exc
    out.extend(norm(o) for o in protocol.events_received())
    return out, None


def same_result(a: Result, b: Result) -> bool:
    """Whole and chunked feeding agree: the same outputs, or both refused the stream (what
    came out before the error may differ: a whole block is checked before it is parsed)."""
    if a[1] is not None or b[1] is not None:
        return type(a[1]) is type(b[1])
    return a[0] == b[0]

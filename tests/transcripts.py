"""Reader for the real Asterisk 22 captures in ../shared/ami-transcripts (see its README)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

TRANSCRIPTS = Path(__file__).resolve().parent.parent.parent / "shared" / "ami-transcripts"
MARK = re.compile(rb"^(<<<|>>>|\*\*\*) (\S+) \+(\d+\.\d+) (\S+) ?(.*)$")


@dataclass(frozen=True)
class Block:
    direction: str  # "<<<" received from Asterisk, ">>>" sent by the client, "***" meta
    conn: str
    at: float
    text: str  # meta text for "***"
    payload: bytes  # raw bytes for "<<<" / ">>>" (one socket read or write)


def read_transcript(path: Path) -> list[Block]:
    data, i, out = path.read_bytes(), 0, []
    while i < len(data):
        j = data.index(b"\n", i)
        line, i = data[i:j], j + 1
        if line.startswith(b"#") or not line:
            continue
        match = MARK.match(line)
        assert match, f"{path.name}: bad marker {line[:80]!r}"
        direction, conn, rel, _ts, rest = match.groups()
        if direction == b"***":
            out.append(Block("***", conn.decode(), float(rel), rest.decode(), b""))
            continue
        n = int(rest.split(b"=")[1])
        out.append(Block(direction.decode(), conn.decode(), float(rel), "", data[i : i + n]))
        i += n + 1
    return out


def transcript_files() -> list[Path]:
    return sorted(TRANSCRIPTS.glob("*.txt"))


def received_stream(blocks: list[Block], conn: str) -> bytes:
    """All bytes Asterisk sent on one connection, in order."""
    return b"".join(b.payload for b in blocks if b.direction == "<<<" and b.conn == conn)


def sent_stream(blocks: list[Block], conn: str) -> bytes:
    return b"".join(b.payload for b in blocks if b.direction == ">>>" and b.conn == conn)


def connections(blocks: list[Block]) -> list[str]:
    seen: dict[str, None] = {}
    for b in blocks:
        if b.direction != "***" and b.conn != "--":
            seen.setdefault(b.conn)
    return list(seen)

"""AMI bytes for the simulator: action framing, message encoding, AGI quoting.

Theory of operation: the simulator is the *server* side of AMI, so it needs the mirror
image of a client parser — it reads actions and writes responses and events. This module
keeps that small and pure (no sockets): :class:`ActionFramer` buffers bytes and yields
whole actions once their blank line arrives (an action sent in two writes is answered
only after the blank line, as Asterisk does), :func:`encode` turns ordered headers into
CRLF bytes, and :func:`agi_quote` reproduces Asterisk's ``ast_uri_encode`` (HTTP flavour)
used for ``Env`` and ``Result`` in AsyncAGI events.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from config.errors import RemoteProtocolError

Headers = list[tuple[str, str]]

# Asterisk keeps RFC 3986 "unreserved" plus "!~*'()" unencoded; everything else is %XX.
_AGI_SAFE = "-_.!~*'()"


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """One action as the client sent it: headers in wire order, repeats kept."""

    headers: tuple[tuple[str, str], ...]

    def get(self, name: str, default: str = "") -> str:
        """First value of ``name`` (case-insensitive), or ``default``."""
        low = name.lower()
        for key, value in self.headers:
            if key.lower() == low:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        """Every value of a repeated header such as ``Variable``."""
        low = name.lower()
        return [value for key, value in self.headers if key.lower() == low]

    def has(self, name: str) -> bool:
        low = name.lower()
        return any(key.lower() == low for key, _ in self.headers)

    @property
    def name(self) -> str:
        return self.get("Action")


class ActionFramer:
    """Buffers client bytes and frames actions on the blank line.

    Lines may end in CRLF or a bare LF (Asterisk accepts both). A single action larger
    than ``max_bytes`` is a protocol error so a hostile client cannot grow the buffer.
    """

    def __init__(self, max_bytes: int = 64 * 1024) -> None:
        self._buf = bytearray()
        self._lines: list[str] = []
        self._max = max_bytes

    def feed(self, data: bytes) -> list[ActionRequest]:
        """Add bytes; return every action completed by them.

        Raises:
            RemoteProtocolError: a pending action grew beyond ``max_bytes``.
        """
        self._buf += data
        out: list[ActionRequest] = []
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                break
            raw = bytes(self._buf[:nl]).rstrip(b"\r")
            del self._buf[: nl + 1]
            line = raw.decode("utf-8", errors="replace")
            if line == "":
                if self._lines:
                    out.append(ActionRequest(tuple(_split(x) for x in self._lines)))
                    self._lines = []
                continue
            self._lines.append(line)
        pending = len(self._buf) + sum(len(x) for x in self._lines)
        if pending > self._max:
            raise RemoteProtocolError(f"action larger than {self._max} bytes")
        return out


def _split(line: str) -> tuple[str, str]:
    key, sep, value = line.partition(":")
    if not sep:
        return line.strip(), ""
    return key.strip(), value.lstrip(" ")


def clean(value: str) -> str:
    """Make a value safe to write as one header: CR/LF would inject AMI headers."""
    return value.replace("\r", " ").replace("\n", " ")


def encode(headers: Iterable[tuple[str, str]]) -> bytes:
    """Serialise one AMI message (headers in order, then the blank line)."""
    parts = [f"{k}: {clean(v)}\r\n" for k, v in headers]
    parts.append("\r\n")
    return "".join(parts).encode("utf-8")


def agi_quote(text: str) -> str:
    """URL-encode like Asterisk does for AsyncAGI ``Env`` / ``Result``."""
    return quote(text, safe=_AGI_SAFE)


def agi_env(pairs: Sequence[tuple[str, str]]) -> str:
    """The ``Env`` value of AsyncAGIStart: ``agi_x: y`` lines, a blank line, encoded."""
    body = "".join(f"{k}: {v}\n" for k, v in pairs) + "\n"
    return agi_quote(body)


def agi_args(command: str) -> list[str]:
    """Split an AGI command line the way Asterisk's ``parse_args`` does (quotes group)."""
    try:
        return shlex.split(command, posix=True)
    except ValueError:
        return command.split()

"""The chat visitor's wire protocol (docs/chat.md), sans I/O.

Theory of operation: a visitor is anonymous and on the open internet, so every frame is
bounded before it is parsed (bytes, then each field), every field is checked against a
closed list, and a visitor who sends too much is slowed by a token bucket on an injected
clock rather than trusted. :func:`parse_frame` turns one websocket text frame into one
of the frozen ``Client*`` dataclasses or raises :class:`FrameError`, whose ``code`` is
what the visitor gets back in an ``error`` frame. Server frames are plain dicts (the
desk builds them, ``routing.digital``); :func:`serialize` bounds and encodes them.

Nothing here is rendered anywhere: the widget writes every text with ``textContent``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from config.errors import InvalidInput

FRAME_TYPES = ("start", "resume", "message", "typing", "transcript", "leave", "ping")


class FrameError(InvalidInput):
    """A frame the service refuses; ``code`` is the ``error`` frame's code."""

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.code = code


@dataclass(frozen=True, slots=True)
class Limits:
    """What one visitor may send."""

    frame_bytes: int = 8192
    text_chars: int = 2000
    field_chars: int = 200
    client_id_chars: int = 64

    def __post_init__(self) -> None:
        for name in ("frame_bytes", "text_chars", "field_chars", "client_id_chars"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInput(f"{name} must be a whole number of at least 1", field=name)


@dataclass(frozen=True, slots=True)
class ClientStart:
    name: str
    phone: str
    email: str
    topic: str
    language: str


@dataclass(frozen=True, slots=True)
class ClientResume:
    conversation: str
    token: str
    after_seq: int


@dataclass(frozen=True, slots=True)
class ClientMessage:
    text: str
    client_id: str


@dataclass(frozen=True, slots=True)
class ClientTyping:
    on: bool


@dataclass(frozen=True, slots=True)
class ClientTranscript:
    """Mail me this chat's transcript."""

    email: str


@dataclass(frozen=True, slots=True)
class ClientLeave:
    pass


@dataclass(frozen=True, slots=True)
class ClientPing:
    pass


ClientFrame = (
    ClientStart
    | ClientResume
    | ClientMessage
    | ClientTyping
    | ClientTranscript
    | ClientLeave
    | ClientPing
)


def _field(data: Mapping[str, Any], name: str, limit: int, *, required: bool = False) -> str:
    value = data.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise FrameError("bad_field", f"{name} must be text", field=name)
    value = value.strip()
    if required and not value:
        raise FrameError("missing_field", f"{name} is required", field=name)
    if len(value) > limit:
        raise FrameError("too_long", f"{name} is longer than {limit} characters", field=name)
    if any(ord(c) < 32 for c in value):
        raise FrameError("bad_field", f"{name} must be one line of text", field=name)
    return value


def parse_frame(raw: str | bytes, limits: Limits = Limits()) -> ClientFrame:
    """One visitor frame, checked.

    Raises:
        FrameError: too large (``too_large``), not a JSON object (``bad_frame``), an
            unknown ``type`` (``unknown_type``) or a bad field (``bad_field``,
            ``missing_field``, ``too_long``).
    """
    size = len(raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw)
    if size > limits.frame_bytes:
        raise FrameError("too_large", f"a frame is at most {limits.frame_bytes} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise FrameError("bad_frame", "a frame is one JSON object") from None
    if not isinstance(data, dict):
        raise FrameError("bad_frame", "a frame is one JSON object")
    kind = data.get("type")
    if kind not in FRAME_TYPES:
        raise FrameError("unknown_type", f"type must be one of {', '.join(FRAME_TYPES)}")
    short = limits.field_chars
    if kind == "start":
        frame = ClientStart(
            name=_field(data, "name", short, required=True),
            phone=_field(data, "phone", 40),
            email=_field(data, "email", short),
            topic=_field(data, "topic", 64),
            language=_field(data, "language", 16),
        )
        if not frame.phone and not frame.email:
            raise FrameError(
                "missing_field", "a phone number or an email is required", field="phone"
            )
        if frame.email and ("@" not in frame.email or " " in frame.email):
            raise FrameError("bad_field", "email must look like name@example.com", field="email")
        return frame
    if kind == "resume":
        after = data.get("after_seq", 0)
        if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after < 2**31:
            raise FrameError("bad_field", "after_seq must be a whole number", field="after_seq")
        return ClientResume(
            conversation=_field(data, "conversation", 64, required=True),
            token=_field(data, "token", 128, required=True),
            after_seq=after,
        )
    if kind == "message":
        text = data.get("text")
        if not isinstance(text, str) or not text.strip():
            raise FrameError("missing_field", "text is required", field="text")
        if len(text) > limits.text_chars:
            raise FrameError(
                "too_long", f"a message is at most {limits.text_chars} characters", field="text"
            )
        return ClientMessage(text=text, client_id=_field(data, "client_id", limits.client_id_chars))
    if kind == "typing":
        on = data.get("on")
        if not isinstance(on, bool):
            raise FrameError("bad_field", "on must be true or false", field="on")
        return ClientTyping(on=on)
    if kind == "transcript":
        email = _field(data, "email", short, required=True)
        if "@" not in email or " " in email:
            raise FrameError("bad_field", "email must look like name@example.com", field="email")
        return ClientTranscript(email=email)
    if kind == "leave":
        return ClientLeave()
    return ClientPing()


def serialize(frame: Mapping[str, Any]) -> str:
    """A server frame as the text sent (ASCII JSON: no byte the visitor's page could
    misread as markup survives unescaped in a log or a proxy)."""
    return json.dumps(frame, ensure_ascii=True, separators=(",", ":"))


def message_frame(message: Mapping[str, Any]) -> dict[str, Any]:
    """A stored message (``crm_lookup.conversations`` JSON) as the visitor's ``message``
    frame: live from the desk and replayed on a resume alike."""
    frame = {
        "type": "message",
        "seq": message["seq"],
        "sender": message["sender"],
        "name": message.get("name", ""),
        "text": message["text"],
        "at": message["at"],
    }
    client_id = (message.get("meta") or {}).get("client_id")
    if isinstance(client_id, str):
        frame["client_id"] = client_id
    return frame


def error_frame(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, **extra}


@dataclass(slots=True)
class TokenBucket:
    """``rate`` tokens a second up to ``burst``; each message takes one."""

    rate: float
    burst: float
    tokens: float = field(default=-1.0)
    at: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate) and self.rate > 0 and self.burst >= 1):
            raise InvalidInput("a rate above 0 and a burst of at least 1 are required")
        if self.tokens < 0:
            self.tokens = self.burst

    def allow(self, now: float) -> bool:
        """Take a token if there is one at ``now``."""
        if now > self.at:
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
            self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass(slots=True)
class ConnectionCounter:
    """Open visitor sockets per address, at most ``limit`` each."""

    limit: int
    open: dict[str, int] = field(default_factory=dict)

    def acquire(self, address: str) -> bool:
        count = self.open.get(address, 0)
        if count >= self.limit:
            return False
        self.open[address] = count + 1
        return True

    def release(self, address: str) -> None:
        count = self.open.get(address, 0) - 1
        if count > 0:
            self.open[address] = count
        else:
            self.open.pop(address, None)

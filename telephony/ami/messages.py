"""AMI messages as values: what Asterisk sends (:class:`Message`) and what we send (:class:`Action`).

Theory of operation: an AMI message is a block of ``Key: value`` lines ending in a blank line.
A :class:`Message` keeps every header in wire order (``Variable`` and ``Output`` repeat, so a
plain dict would lose data) plus a first-value index for fast lookups. An :class:`Action` is
checked and rendered to bytes in one piece before anything is written to a socket, so a value
smuggling ``\\r\\n`` (AMI injection) fails the whole action instead of sending half of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from config.errors import LocalProtocolError

__all__ = ["Action", "FieldValue", "Message", "parse_message"]

FieldValue = str | int | Sequence[str] | None
_SECRET_KEYS = frozenset({"secret", "key", "password"})
_RESERVED_KEYS = frozenset({"action", "actionid"})


@dataclass(frozen=True, slots=True)
class Message:
    """One message from Asterisk: a response or an event.

    ``headers`` keeps every ``(name, value)`` pair in wire order, repeats included.
    """

    headers: tuple[tuple[str, str], ...]
    _index: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", dict(reversed(self.headers)))

    def get(self, name: str, default: str = "") -> str:
        """Return the first value of header ``name`` (case-insensitive), or ``default``."""
        value = self._index.get(name)
        if value is not None:
            return value
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        """Return every value of header ``name`` (case-insensitive) in wire order."""
        lowered = name.lower()
        return [value for key, value in self.headers if key.lower() == lowered]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        return name in self._index or any(k.lower() == name.lower() for k, _ in self.headers)

    @property
    def event(self) -> str:
        """The event name, or ``""`` for a response."""
        return self._index.get("Event", "")

    @property
    def response(self) -> str:
        """The ``Response`` value (``Success``, ``Error``, ``Goodbye``), or ``""``."""
        return self._index.get("Response", "")

    @property
    def action_id(self) -> str:
        return self.get("ActionID")

    def as_dict(self) -> dict[str, str]:
        """First value of each header; handy for logs and JSON (secrets are not in responses)."""
        return dict(self._index)


def _fast_message(headers: tuple[tuple[str, str], ...], index: dict[str, str]) -> Message:
    """Build a Message from already split headers without re-running ``__post_init__``."""
    msg = object.__new__(Message)
    object.__setattr__(msg, "headers", headers)
    object.__setattr__(msg, "_index", index)
    return msg


def parse_message(text: str) -> Message:
    """Parse one message (lines joined by CRLF, no trailing blank line).

    A line without ``": "`` is kept: ``Key:`` gives an empty value and a line with no
    colon at all (pre-13 ``Command`` output) is kept under ``Output``. Nothing is dropped.
    """
    pairs: list[tuple[str, str]] = []
    for line in text.split("\r\n"):
        key, sep, value = line.partition(": ")
        if not sep:
            if not line:
                continue
            key, colon, value = line.partition(":")
            if not colon:
                key, value = "Output", line
        pairs.append((key, value))
    headers = tuple(pairs)
    return _fast_message(headers, dict(reversed(headers)))


def _render_value(key: str, value: str | int) -> str:
    text = str(value) if not isinstance(value, bool) else ("true" if value else "false")
    if "\r" in text or "\n" in text:
        raise LocalProtocolError(f"AMI header {key!r}: value contains CR or LF (refused)")
    return text


def _check_key(key: str) -> None:
    if not key or key != key.strip() or any(c in key for c in "\r\n:"):
        raise LocalProtocolError(f"AMI header name {key!r} is empty or contains CR, LF or ':'")


@dataclass(frozen=True, slots=True)
class Action:
    """An AMI action to send.

    Args:
        name: the action name (``Ping``, ``Originate``, ...).
        fields: header values; a list or tuple is written as repeated headers
            (``Variable``), ``None`` is left out, ints and bools are rendered.
        action_id: a fixed ActionID; the protocol assigns one when it is ``None``; ``""``
            sends the action without one (its reply is then matched first-in first-out).
    """

    name: str
    fields: Mapping[str, FieldValue] = field(default_factory=dict)
    action_id: str | None = field(default=None, kw_only=True)

    def lines(self, action_id: str | None = None) -> list[tuple[str, str]]:
        """The header pairs that :meth:`serialize` writes, after every check.

        Raises:
            LocalProtocolError: CR/LF in a name or value, an empty name, or a reserved
                name (``Action``/``ActionID``) inside ``fields``.
        """
        _check_key(self.name)
        out = [("Action", _render_value("Action", self.name))]
        aid = action_id if action_id is not None else self.action_id
        if aid:
            out.append(("ActionID", _render_value("ActionID", aid)))
        for key, value in self.fields.items():
            _check_key(key)
            if key.lower() in _RESERVED_KEYS:
                raise LocalProtocolError(f"AMI header {key!r} is set by the protocol, not fields")
            if value is None:
                continue
            if isinstance(value, str | int):
                out.append((key, _render_value(key, value)))
            else:
                out.extend((key, _render_value(key, item)) for item in value)
        return out

    def serialize(self, action_id: str | None = None) -> bytes:
        """Render the whole action (ending in the blank line) as UTF-8 bytes.

        Args:
            action_id: the ActionID to write; defaults to ``self.action_id``; when both are
                ``None`` or ``""`` no ActionID header is written.

        Raises:
            LocalProtocolError: see :meth:`lines`; nothing is returned, so nothing is sent.
        """
        text = "".join(f"{k}: {v}\r\n" for k, v in self.lines(action_id)) + "\r\n"
        return text.encode("utf-8")

    def __repr__(self) -> str:
        shown = {
            k: ("***" if k.lower() in _SECRET_KEYS else v) for k, v in dict(self.fields).items()
        }
        return f"Action({self.name!r}, {shown!r}, action_id={self.action_id!r})"

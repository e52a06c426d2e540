"""AMI messages as values: what Asterisk sends (:class:`Message`) and what we send (:class:`Action`).

Theory of operation: an AMI message is a block of ``Key: value`` lines ending in a blank line.
A :class:`Message` keeps every header in wire order (``Variable`` and ``Output`` repeat, so a
plain dict would lose data). It is lazy: the protocol hands over the message text and
nothing is split until someone reads it, because most events are routed by name and then
read for two or three fields at most (see ``find_header``). An :class:`Action` is
checked and rendered to bytes in one piece before anything is written to a socket, so a value
smuggling ``\\r\\n`` (AMI injection) fails the whole action instead of sending half of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import FrozenInstanceError, dataclass, field

from config.errors import LocalProtocolError

__all__ = ["Action", "FieldValue", "Message", "find_header", "parse_message"]

FieldValue = str | int | Sequence[str] | None
_SECRET_KEYS = frozenset({"secret", "key", "password"})
_RESERVED_KEYS = frozenset({"action", "actionid"})


class Message:
    """One message from Asterisk: a response or an event. Immutable.

    ``headers`` keeps every ``(name, value)`` pair in wire order, repeats included.
    A message framed by the protocol keeps its text and splits it only when asked:
    :meth:`lookup` finds one header straight in the text, which is what typed event
    fields use, so an event nobody reads in full is never split into lines.

    Args:
        headers: the header pairs (for messages built in code, e.g. in tests).
    """

    __slots__ = ("_headers", "_index", "_text")

    _text: str | None
    _headers: tuple[tuple[str, str], ...] | None
    _index: dict[str, str] | None

    def __init__(self, headers: Iterable[tuple[str, str]] = ()) -> None:
        object.__setattr__(self, "_text", None)
        object.__setattr__(self, "_headers", tuple((str(k), str(v)) for k, v in headers))
        object.__setattr__(self, "_index", None)

    @classmethod
    def from_text(cls, text: str) -> Message:
        """Wrap one message's text (CRLF-separated lines, no trailing blank line)."""
        msg = object.__new__(cls)
        object.__setattr__(msg, "_text", text)
        object.__setattr__(msg, "_headers", None)
        object.__setattr__(msg, "_index", None)
        return msg

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        headers = self._headers
        if headers is None:
            headers = _split(self._text or "")
            object.__setattr__(self, "_headers", headers)
        return headers

    def _first_values(self) -> dict[str, str]:
        index = self._index
        if index is None:
            index = dict(reversed(self.headers))
            object.__setattr__(self, "_index", index)
        return index

    def lookup(self, name: str) -> str | None:
        """First value of header ``name`` (exact case, as Asterisk spells it), or None."""
        text = self._text
        if text is None or self._index is not None:
            return self._first_values().get(name)
        return find_header(text, name + ": ", "\r\n" + name + ": ")

    def get(self, name: str, default: str = "") -> str:
        """Return the first value of header ``name`` (case-insensitive), or ``default``."""
        value = self.lookup(name)
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
        lowered = name.lower()
        return any(key.lower() == lowered for key, _ in self.headers)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return self.headers == other.headers

    def __hash__(self) -> int:
        return hash(self.headers)

    def __repr__(self) -> str:
        return f"Message({self.headers!r})"

    @property
    def event(self) -> str:
        """The event name, or ``""`` for a response."""
        return self.lookup("Event") or ""

    @property
    def response(self) -> str:
        """The ``Response`` value (``Success``, ``Error``, ``Goodbye``), or ``""``."""
        return self.lookup("Response") or ""

    @property
    def action_id(self) -> str:
        return self.get("ActionID")

    def as_dict(self) -> dict[str, str]:
        """First value of each header; handy for logs and JSON (secrets are not in responses)."""
        return dict(self._first_values())


def find_header(text: str, first: str, needle: str) -> str | None:
    """The value of the first ``Key: value`` line in ``text``.

    ``first`` is ``"Key: "`` (matched at the start), ``needle`` is ``"\r\nKey: "``; the
    leading CRLF keeps ``Channel`` from matching inside ``DestChannel``.
    """
    if text.startswith(first):
        start = len(first)
    else:
        at = text.find(needle)
        if at < 0:
            return None
        start = at + len(needle)
    end = text.find("\r\n", start)
    return text[start:] if end < 0 else text[start:end]


def _split(text: str) -> tuple[tuple[str, str], ...]:
    """Split a message into header pairs without losing any line.

    ``Key:`` gives an empty value; a line with no colon at all (pre-13 ``Command`` output)
    is kept under ``Output``.
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
    return tuple(pairs)


def parse_message(text: str) -> Message:
    """Parse one message (lines joined by CRLF, no trailing blank line)."""
    return Message.from_text(text.strip("\r\n"))


def _render_value(key: str, value: str | int) -> str:
    text = str(value) if not isinstance(value, bool) else ("true" if value else "false")
    if "\r" in text or "\n" in text:
        raise LocalProtocolError(f"AMI header {key!r}: value contains CR or LF (refused)")
    return text


def _check_key(key: str) -> None:
    # Three substring tests, not a generator over "\r\n:": every AGI command of every call
    # is an action, and the generator was 5 % of the service's loop at 200 calls/s.
    if not key or key != key.strip() or "\r" in key or "\n" in key or ":" in key:
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

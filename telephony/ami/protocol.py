"""Sans-I/O AMI protocol: bytes in, typed messages out, no sockets and no event loop.

Theory of operation
-------------------
``receive_data`` appends raw bytes to one ``bytearray``. The first line is the banner
(``Asterisk Call Manager/11.0.0``). After it, every message ends with a blank line, so we
look for the *last* ``\\r\\n\\r\\n`` in the buffer (searching only the bytes that just came
in: the old buffer had none) and decode everything before it in one go. Decoding only
whole messages means a UTF-8 character split across two reads survives; bad bytes are
replaced, never fatal.

Framing is defined on the stream, not on the reads: messages are cut at the leftmost
``\\r\\n\\r\\n`` after the previous cut, exactly as ``bytes.split`` does over the whole
stream. An extra blank line can make the last terminator of a read *overlap* the one
before it (``\\r\\n\\r\\n\\r\\n``); the ``\\r\\n`` left over by the leftmost cut then stays in
the buffer for the next read instead of being swallowed, so a bare LF that follows is
framed the same in any chunking. Each frame is then read on its own: leading and
trailing CR/LF are not part of a message, and a frame of nothing but line endings is a
blank line, not a message. A message that grows past ``max_message_bytes`` raises
:class:`RemoteProtocolError`, so memory is bounded by the largest message, not the stream.

Responses are matched to the actions we sent through the ActionID -> pending map;
actions sent without an ActionID (``Ping``) wait in a FIFO and take the next response
that has none. A response carrying ``EventList: start`` turns its action into a list;
the list completes only on an event with the same ActionID and ``EventList: Complete``
(``CoreShowChannelsComplete``, ``StatusComplete``, ...), never by reading message text.

Everything parsed piles up in order and is drained with :meth:`AmiProtocol.events_received`:
``Banner``, typed :class:`~telephony.ami.events.Event` objects (list items included, in
arrival order), ``ActionDone`` for a completed action and ``UnmatchedResponse`` for a
response nobody waits for. Bytes to write pile up and are drained with ``data_to_send``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from itertools import count
from typing import NoReturn

from config.errors import LocalProtocolError, RemoteProtocolError
from telephony.ami.events import EVENT_TYPES, Event, GenericEvent
from telephony.ami.messages import Action, Message

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "ActionDone",
    "AmiProtocol",
    "Banner",
    "ListResponse",
    "ProtocolOutput",
    "Response",
    "UnmatchedResponse",
]

DEFAULT_MAX_MESSAGE_BYTES = 1 << 20
_TERMINATOR = b"\r\n\r\n"
_MAX_BANNER = 4096
_OK_RESPONSES = frozenset({"success", "goodbye", "follows", "pong"})


@dataclass(frozen=True, slots=True)
class Response:
    """The reply to a plain (non-list) action."""

    message: Message

    @property
    def success(self) -> bool:
        return self.message.response.lower() in _OK_RESPONSES

    @property
    def text(self) -> str:
        """The ``Message:`` header (``Authentication accepted``, ``No such channel``)."""
        return self.message.get("Message")

    @property
    def output(self) -> list[str]:
        """``Command`` output: one entry per ``Output:`` header, in order."""
        return self.message.get_all("Output")

    def get(self, name: str, default: str = "") -> str:
        return self.message.get(name, default)


@dataclass(frozen=True, slots=True)
class ListResponse:
    """A list action's reply: the response, the item events, the ``Complete`` event."""

    response: Message
    events: list[Event]
    complete: Message

    @property
    def success(self) -> bool:
        return self.response.response.lower() in _OK_RESPONSES

    def get(self, name: str, default: str = "") -> str:
        return self.response.get(name, default)


@dataclass(frozen=True, slots=True)
class Banner:
    """The greeting line; ``version`` is the AMI version (``11.0.0`` on Asterisk 22)."""

    text: str
    version: str


@dataclass(frozen=True, slots=True)
class ActionDone:
    """The action sent with ``action_id`` got its complete answer."""

    action_id: str
    result: Response | ListResponse


@dataclass(frozen=True, slots=True)
class UnmatchedResponse:
    """A response for no pending action (late, or an ActionID we never used)."""

    message: Message


ProtocolOutput = Banner | Event | ActionDone | UnmatchedResponse


@dataclass(slots=True)
class _Pending:
    action_id: str
    name: str
    response: Message | None = None
    items: list[Event] = field(default_factory=list)


class AmiProtocol:
    """The AMI client side of one TCP connection, as a pure state machine.

    Args:
        max_message_bytes: the largest message accepted; larger is a protocol error.
        expect_banner: ``False`` to parse a stream that starts after the banner.
        id_prefix: prefix of generated ActionIDs (helps reading logs of several clients).
    """

    def __init__(
        self,
        *,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        expect_banner: bool = True,
        id_prefix: str = "sb",
    ) -> None:
        self.max_message_bytes = max_message_bytes
        self.banner: Banner | None = None
        self._want_banner = expect_banner
        self._buffer = bytearray()
        self._out: list[ProtocolOutput] = []
        self._to_send: list[bytes] = []
        self._pending: dict[str, _Pending] = {}
        self._anonymous: deque[_Pending] = deque()
        self._ids = count(1)
        self._prefix = id_prefix
        self._failed: RemoteProtocolError | None = None

    # -- sending ---------------------------------------------------------------------

    def send_action(self, action: Action, *, with_action_id: bool = True) -> str:
        """Queue ``action`` for sending and remember it as pending.

        Args:
            action: the action; its own ``action_id`` is used when set.
            with_action_id: ``False`` (or ``action.action_id == ""``) sends no ActionID;
                the reply is then matched first-in first-out.

        Returns:
            The ActionID used (``""`` when sent without one).

        Raises:
            LocalProtocolError: the action cannot be serialised, or its ActionID is
                already pending; nothing is queued.
        """
        if not with_action_id or action.action_id == "":
            data = action.serialize("")
            self._to_send.append(data)
            self._anonymous.append(_Pending("", action.name))
            return ""
        action_id = action.action_id or f"{self._prefix}-{next(self._ids)}"
        if action_id in self._pending:
            raise LocalProtocolError(f"ActionID {action_id!r} is already pending")
        data = action.serialize(action_id)
        self._to_send.append(data)
        self._pending[action_id] = _Pending(action_id, action.name)
        return action_id

    def data_to_send(self) -> bytes:
        """Drain the bytes to write to the socket."""
        data = b"".join(self._to_send)
        self._to_send.clear()
        return data

    def cancel(self, action_id: str) -> None:
        """Forget a pending action (its caller gave up); a late reply becomes unmatched."""
        self._pending.pop(action_id, None)

    @property
    def pending_ids(self) -> list[str]:
        return list(self._pending)

    def connection_lost(self) -> list[str]:
        """The socket is gone: return and forget every pending ActionID.

        Anonymous pending actions are reported as ``""``. Nothing is ever re-sent.
        """
        lost = list(self._pending) + ["" for _ in self._anonymous]
        self._pending.clear()
        self._anonymous.clear()
        return lost

    # -- receiving -------------------------------------------------------------------

    def events_received(self) -> list[ProtocolOutput]:
        """Drain everything parsed so far, in arrival order."""
        out = self._out
        self._out = []
        return out

    def receive_data(self, data: bytes) -> None:
        """Feed bytes read from the socket, in any chunking.

        Raises:
            RemoteProtocolError: no valid banner, or a message over ``max_message_bytes``.
                The connection is unusable afterwards (every later call raises again).
        """
        if self._failed is not None:
            raise self._failed
        if not data:
            return
        buf = self._buffer
        start = max(0, len(buf) - 3)
        buf += data
        if self._want_banner:
            if not self._read_banner():
                return
            start = 0
        end = buf.rfind(_TERMINATOR, start)
        if end < 0:
            if len(buf) > self.max_message_bytes:
                self._fail(f"message larger than {self.max_message_bytes} bytes")
            return
        end += 4
        if end > self.max_message_bytes and self._largest(end) > self.max_message_bytes:
            self._fail(f"message larger than {self.max_message_bytes} bytes")
        frames = buf[:end].decode("utf-8", "replace").split("\r\n\r\n")
        # The leftmost cut may stop short of ``end`` when the last terminator overlaps
        # the one before it; what it leaves ("\r\n", ASCII) begins the next message.
        leftover = frames.pop().encode()
        buf[:end] = leftover
        if len(buf) > self.max_message_bytes:
            self._fail(f"message larger than {self.max_message_bytes} bytes")
        self._parse_frames(frames)

    def _largest(self, end: int) -> int:
        largest, pos = 0, 0
        while pos < end:
            nxt = self._buffer.find(_TERMINATOR, pos, end)
            nxt = end if nxt < 0 else nxt + 4
            largest = max(largest, nxt - pos)
            pos = nxt
        return largest

    def _fail(self, why: str) -> NoReturn:
        self._failed = RemoteProtocolError(f"AMI: {why}")
        self._buffer.clear()
        raise self._failed

    def _read_banner(self) -> bool:
        buf = self._buffer
        nl = buf.find(b"\r\n", 0, _MAX_BANNER + 2)
        if nl < 0:
            # Looked for only within the limit, so a long line is refused whether it
            # came in one read or in many.
            if len(buf) > _MAX_BANNER:
                self._fail("no banner line from the server")
            return False
        line = buf[:nl].decode("utf-8", "replace")
        del buf[: nl + 2]
        name, slash, version = line.rpartition("/")
        if not slash or "Call Manager" not in name:
            self._fail(f"not an AMI server (banner {line[:80]!r})")
        self.banner = Banner(line, version.strip())
        self._want_banner = False
        self._out.append(self.banner)
        return True

    def _parse_frames(self, frames: list[str]) -> None:
        # Hot path: route each message by its first line; headers are read lazily.
        out = self._out
        classes = EVENT_TYPES
        generic = GenericEvent
        new = object.__new__
        setattr_ = object.__setattr__
        for chunk in frames:
            if not chunk or chunk[0] in "\r\n" or chunk[-1] in "\r\n":
                chunk = chunk.strip("\r\n")
                if not chunk:
                    continue
            message = Message.from_text(chunk)
            if chunk.startswith("Event: "):
                end = chunk.find("\r\n")
                cls = classes.get(chunk[7:end] if end > 0 else chunk[7:], generic)
                event = new(cls)
                setattr_(event, "message", message)
                out.append(event)
                if self._pending and "ActionID: " in chunk:
                    action_id = message.lookup("ActionID")
                    if action_id is not None:
                        self._list_item(action_id, event, message)
            elif chunk.startswith("Response: "):
                self._response(message, message.lookup("ActionID"))
            elif message.event:
                self._parse_frames(["Event: " + message.event + "\r\n" + chunk])
            elif message.response:
                self._response(message, message.lookup("ActionID"))
            else:
                # Neither event nor response (a stray fragment): keep it visible.
                out.append(UnmatchedResponse(message))

    def _list_item(self, action_id: str, event: Event, message: Message) -> None:
        entry = self._pending.get(action_id)
        if entry is None or entry.response is None:
            return
        if message.get("EventList").lower() == "complete":
            del self._pending[action_id]
            result = ListResponse(entry.response, entry.items, message)
            self._out.append(ActionDone(action_id, result))
        else:
            entry.items.append(event)

    def _response(self, message: Message, action_id: str | None) -> None:
        if action_id is None:
            if not self._anonymous:
                self._out.append(UnmatchedResponse(message))
                return
            entry = self._anonymous.popleft()
        else:
            found = self._pending.get(action_id)
            if found is None or found.response is not None:
                self._out.append(UnmatchedResponse(message))
                return
            entry = found
        is_list = message.get("EventList").lower() == "start"
        if is_list and entry.action_id:
            entry.response = message
            return
        self._pending.pop(entry.action_id, None)
        self._out.append(ActionDone(entry.action_id, Response(message)))

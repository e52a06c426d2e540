"""Console actions forwarded from a standby to the leader: the request and answer shapes.

A request is ``{"id", "from", "m": method, "a": [positional...], "k": {keyword...},
"t": sent at}``; an answer (sent in the leader's ordered stream as ``{"r": answer}``) is
``{"id", "to", "ok": true, "result"}`` or ``{"id", "to", "ok": false, "error": {...}}``.
Only the console port's actions are callable, with string (or null) arguments (a
message's text up to 64 KiB; a visitor's ``party`` a small object of strings): a node on
the bus can ask the leader nothing the console could not.
"""

from __future__ import annotations

from typing import Any

from config.errors import (
    ActionFailed,
    ChannelHungUp,
    Conflict,
    ConnectionLost,
    IllegalTransition,
    InvalidInput,
    LeaderUnavailable,
    NotFound,
    PermissionDenied,
    RemoteError,
    SwitchboardError,
)

# method -> (positional parameters, keyword parameters) of agent_console.ports.ContactCenter
ACTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "set_agent_state": (("agent_id", "state", "reason"), ("forced_by",)),
    "wrapup_done": (("agent_id",), ()),
    "wrapup_draft": (("agent_id", "unsaved"), ()),
    "hold": (("call_id",), ()),
    "unhold": (("call_id",), ()),
    "transfer": (("call_id", "kind", "target"), ()),
    "hangup": (("call_id",), ()),
    "recording_pause": (("agent_id", "call_id", "paused"), ()),
    "dial": (("agent_id", "number"), ("customer_id", "queue")),
    "move_call": (("call_id", "queue"), ()),
    "spy": (("agent_id", "mode"), ("supervisor_agent_id",)),
    "ack_alert": (("alert_id", "username"), ()),
    # chat and email (routing.digital): the agent's side, then the visitor's
    "conversation_reply": (("agent_id", "key", "text"), ()),
    "conversation_typing": (("agent_id", "key", "on"), ()),
    "conversation_end": (("agent_id", "key"), ()),
    "conversation_close": (("agent_id", "key"), ()),
    "conversation_messages": (("key", "after_seq"), ("before_seq",)),
    "visitor_open": (("channel", "queue", "party", "subject", "language"), ("first_message",)),
    "visitor_message": (("key", "text"), ("client_id",)),
    "visitor_typing": (("key", "on"), ()),
    "visitor_leave": (("key",), ()),
    "visitor_transcript": (("key", "email"), ()),
}
SNAPSHOT = "snapshot"  # answered synchronously with a replica bundle
MAX_ARG = 1_000
#: arguments that carry a message's text: up to a message body (64 KiB of UTF-8)
TEXT_ARGS = frozenset({"text", "first_message"})
MAX_TEXT = 64 * 1024
#: arguments that are a small object of short strings (a visitor's name, phone, email)
OBJECT_ARGS = frozenset({"party"})
MAX_OBJECT_KEYS = 8

_ERRORS: dict[str, type[SwitchboardError]] = {
    cls.__name__: cls
    for cls in (
        NotFound,
        InvalidInput,
        Conflict,
        PermissionDenied,
        ActionFailed,
        ConnectionLost,
        ChannelHungUp,
        LeaderUnavailable,
        RemoteError,
    )
}


def checked_call(request: dict[str, Any]) -> tuple[str, list[str], dict[str, str | None]]:
    """The method and arguments of a request, checked against :data:`ACTIONS`.

    Raises:
        InvalidInput: an unknown method, a wrong number of arguments, a non-string one.
    """
    method = request.get("m")
    if not isinstance(method, str) or method not in ACTIONS:
        raise InvalidInput(f"not a forwardable action: {str(method)[:40]!r}")
    positional, keywords = ACTIONS[method]
    args = request.get("a")
    kwargs = request.get("k") or {}
    if not isinstance(args, list) or len(args) != len(positional):
        raise InvalidInput(f"{method}: expected {len(positional)} arguments")
    if not isinstance(kwargs, dict) or not set(kwargs) <= set(keywords):
        raise InvalidInput(f"{method}: unexpected keyword arguments")
    named = [*zip(positional, args, strict=True), *kwargs.items()]
    for name, value in named:
        if name in OBJECT_ARGS:
            if not _small_object(value):
                raise InvalidInput(f"{method}: {name} must be an object of short strings")
            continue
        limit = MAX_TEXT if name in TEXT_ARGS else MAX_ARG
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            raise InvalidInput(f"{method}: arguments must be short strings")
    if any(a is None for a in args):
        raise InvalidInput(f"{method}: positional arguments must be strings")
    return method, list(args), dict(kwargs)


def _small_object(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and len(value) <= MAX_OBJECT_KEYS
        and all(
            isinstance(k, str) and len(k) <= 40 and isinstance(v, str) and len(v) <= MAX_ARG
            for k, v in value.items()
        )
    )


def error_to_json(exc: SwitchboardError) -> dict[str, Any]:
    body: dict[str, Any] = {"class": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, IllegalTransition):
        body["state"], body["event"] = str(exc.state), str(exc.event)
    field = getattr(exc, "field", None)
    if field:
        body["field"] = str(field)
    return body


def error_from_json(body: Any) -> SwitchboardError:
    """The leader's error raised again on the standby (unknown kinds as RemoteError)."""
    if not isinstance(body, dict):
        return RemoteError("the leader answered an unreadable error")
    name = str(body.get("class", ""))
    message = str(body.get("message", ""))[:MAX_ARG]
    if name == "IllegalTransition":
        return IllegalTransition(str(body.get("state", "")), str(body.get("event", "")))
    if name == "InvalidInput":
        return InvalidInput(message, field=body.get("field") or None)
    cls = _ERRORS.get(name, RemoteError)
    return cls(message)

"""The one exception hierarchy of Switchboard.

Every error the product raises on purpose derives from :class:`SwitchboardError`.
Following h11, errors are split by *who* is at fault: ``LocalError`` means we (or
our user, or a file we were given) asked for something invalid, ``RemoteError``
means the peer (Asterisk, an external CRM) misbehaved or went away::

    SwitchboardError
    ├── ConfigError                 settings file / environment wrong or incomplete
    ├── LocalError                  the request was wrong; nothing was changed
    │   ├── LocalProtocolError      an AMI action that must not be sent (CR/LF, bad key)
    │   ├── InvalidInput            bad user input: CSV row, websocket message, API body
    │   │   └── ScriptError         an IVR script that does not validate
    │   ├── IllegalTransition       a state machine refused an event
    │   ├── NotFound                no such customer / contact / agent / call
    │   ├── PermissionDenied        the user's role does not allow this
    │   └── Conflict                the change clashes with stored data (duplicate phone)
    └── RemoteError                 the peer failed; retrying may help
        ├── RemoteProtocolError     Asterisk sent bytes that are not AMI (or too many)
        ├── ConnectionLost          the AMI connection dropped; pending actions fail
        ├── AuthenticationFailed    AMI login refused
        ├── ActionFailed            ``Response: Error`` to an action
        ├── AgiError                an AGI command answered 510 / 511 / 520
        ├── ChannelHungUp           the channel hung up while a command ran
        ├── ExternalServiceError    the external CRM timed out or answered garbage
        └── LeaderUnavailable       no routing node answered a standby in time (cluster)

This module imports nothing of ours, so every layer may import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class SwitchboardError(Exception):
    """Root of every error Switchboard raises on purpose."""


class ConfigError(SwitchboardError):
    """The settings cannot be loaded: names the source, the key and what was expected."""

    def __init__(self, source: str, key: str, expected: str) -> None:
        self.source = source
        self.key = key
        self.expected = expected
        super().__init__(f"{source}: {key}: {expected}")


class LocalError(SwitchboardError):
    """We, our user, or a file given to us asked for something invalid."""


class LocalProtocolError(LocalError):
    """An AMI action that must not be sent (a CR or LF in a value, an empty key)."""


class InvalidInput(LocalError):
    """Bad user input. ``field`` names what was wrong when there is one thing to point at."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class ScriptError(InvalidInput):
    """An IVR script that does not validate; ``problems`` are ``file:line: message`` strings."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems) if problems else "invalid IVR script")


# How a state code reads after "while" in the message people see (agent states, and the
# states of a call in the ACD and on the PBX): "cannot make the agent ready while on a
# call", never "... while on_call". Any other code reads with its underscores as spaces.
_WHILE = {
    "logged_out": "logged out",
    "not_ready": "not ready",
    "on_call": "on a call",
    "wrap_up": "in wrap-up",
    "waiting": "waiting in line",
    "offered": "ringing an agent",
    "connected": "connected to an agent",
    "retry": "waiting to retry a callback",
    "done": "over",
    "ivr": "in the IVR",
    "held": "on hold",
}


class IllegalTransition(LocalError):
    """A state machine was given an event its current state does not accept.

    ``state`` and ``event`` keep the codes (a cluster standby raises the leader's error
    again from them); the message reads as people talk: ``event`` is a plain phrase
    ("make the agent ready") and the state is said in words ("while on a call").
    """

    def __init__(self, state: object, event: object) -> None:
        self.state = state
        self.event = event
        code = str(getattr(state, "value", state))
        said = _WHILE.get(code, code.replace("_", " "))
        super().__init__(f"cannot {event} while {said}")


class NotFound(LocalError):
    """No such object."""


class PermissionDenied(LocalError):
    """The user's role does not allow this action."""


class Conflict(LocalError):
    """The change clashes with stored data. ``field`` names the input that clashed, when
    the caller knows it (a form shows the message there)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class RemoteError(SwitchboardError):
    """The peer failed or misbehaved."""


class RemoteProtocolError(RemoteError):
    """Asterisk sent something that is not AMI, or a message over the size limit (also:
    another node's cluster bus message that does not parse)."""


class ConnectionLost(RemoteError):
    """The AMI connection dropped. Pending actions fail with this; they are never re-sent."""


class AuthenticationFailed(RemoteError):
    """Asterisk refused the AMI login."""


class ActionFailed(RemoteError):
    """Asterisk answered ``Response: Error``. ``response`` holds the whole reply."""

    def __init__(self, message: str, response: Mapping[str, Any] | None = None) -> None:
        self.response = response
        super().__init__(message)


class AgiError(RemoteError):
    """An AGI command failed: 510 invalid command, 511 dead channel, 520 usage."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        super().__init__(f"AGI {code}: {message}")


class ChannelHungUp(RemoteError):
    """The channel hung up before or while a command ran on it."""


class ExternalServiceError(RemoteError):
    """An external service (the CRM) timed out, failed, or answered garbage."""


class LeaderUnavailable(RemoteError):
    """A standby node forwarded a console action and no routing node answered in time
    (none elected yet, or the leader died meanwhile); the action may not have run."""

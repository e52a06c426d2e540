"""AMI write classes in the simulator, as Asterisk's manager.c checks them.

Theory of operation: every manager action is registered with an *authority*, the set of
classes ``manager show command`` prints as ``[Privilege]`` (``MixMonitor: system,all``;
``MixMonitorMute: system,call,all``). A session may run an action when its user's
``write =`` classes share one class with that authority (``writeperm & authority``), or
when the action has none (``<none>``: Login, Ping, Events ...); otherwise Asterisk answers
``Response: Error`` / ``Message: Permission denied``. ``all`` in a user's classes grants
everything. The simulator's user gets, by default, exactly the ``write =`` line of the
shipped ``config/asterisk/manager.conf`` (:data:`SHIPPED_WRITE`; a test keeps the two
equal), so the service is tested with the privileges a real installation gives it.
"""

from __future__ import annotations

from collections.abc import Iterable

from config.errors import InvalidInput

# The classes of Asterisk 22's manager.c (perms[] in manager.c), "all" included.
CLASSES = frozenset(
    {
        "system", "call", "log", "verbose", "command", "agent", "user", "config", "dtmf",
        "reporting", "cdr", "dialplan", "originate", "agi", "cc", "aoc", "test", "security",
        "message", "all",
    }
)  # fmt: skip
# config/asterisk/manager.conf, [switchboard] write = ...
SHIPPED_WRITE = "call,originate,agi,reporting"


def parse_classes(spec: str | Iterable[str]) -> frozenset[str]:
    """``"call,originate"`` (or an iterable of names) -> the set of classes.

    Raises:
        InvalidInput: a name that is not an Asterisk manager class.
    """
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    names = frozenset(item.strip().lower() for item in items if item.strip())
    unknown = sorted(names - CLASSES)
    if unknown:
        raise InvalidInput(f"unknown AMI write class(es): {', '.join(unknown)}", field="write")
    return names


def parse_authority(priv: str) -> frozenset[str]:
    """A ``Priv:`` text (``system,call,all`` or ``<none>``) -> the authority classes."""
    if priv.strip() == "<none>":
        return frozenset()
    return frozenset(c.strip() for c in priv.split(",") if c.strip() and c.strip() != "all")


def allowed(write: frozenset[str], authority: frozenset[str]) -> bool:
    """May a user with ``write`` classes run an action of ``authority``?"""
    return not authority or "all" in write or bool(write & authority)

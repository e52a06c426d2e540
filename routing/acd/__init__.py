"""The pure ACD engine: queues, agents, one global router, callbacks, live statistics.

``Acd.handle(event, now)`` / ``Acd.tick(now)`` return commands; see ``engine.py`` for the
theory of operation and ``docs/ARCHITECTURE.md`` for the contract. ``shell.py`` (not pure)
executes the commands through ``telephony``.
"""

from routing.acd import commands, events
from routing.acd.engine import Acd
from routing.acd.model import (
    AcdSettings,
    AgentConfig,
    Estimate,
    MaxWaitAction,
    QueueConfig,
    Strategy,
    Widening,
)
from routing.acd.states import AgentState, CallState

__all__ = [
    "Acd",
    "AcdSettings",
    "AgentConfig",
    "AgentState",
    "CallState",
    "Estimate",
    "MaxWaitAction",
    "QueueConfig",
    "Strategy",
    "Widening",
    "commands",
    "events",
]

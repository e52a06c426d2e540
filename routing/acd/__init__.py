"""The pure ACD engine: queues, agents, one global router, callbacks, live statistics.

``Acd.handle(event, now)`` / ``Acd.tick(now)`` return commands; ``engine.py`` explains how
it decides, ``docs/ARCHITECTURE.md`` holds the contract. ``shell.py`` (not pure) carries
the commands out through ``telephony``. What the shell owes the engine:

* Feed every event with the same clock (``now``, seconds) and call ``tick(now)`` no later
  than ``next_timer()`` (a periodic tick of ~0.5 s is fine; ``next_timer()`` includes
  the queue statistics held back by ``AcdSettings.stats_interval``).
* ``CallJoinedQueue`` → music on hold of class ``moh`` on the caller; ``Announce`` →
  play position / estimated wait.
* ``RingAgent`` → ring the endpoint for ``ring_timeout``; report ``AgentAnswered``,
  ``RingNoAnswer`` (NOANSWER / BUSY / CHANUNAVAIL) or ``CallAbandoned``. ``CancelRing``
  → stop ringing (the engine gave up, or a supervisor pulled the agent).
* ``StartCallback`` → ring the agent, then dial the customer; report ``RingNoAnswer``
  for the agent leg, ``CallbackResult`` for the customer leg. ``CallbackLogged`` →
  contact log.
* ``MaxWaitReached`` → overflow (already done by the engine), voicemail, offer a
  callback, or hang up after a prompt. ``CallLeftQueue`` → stop MOH / announcements.
* ``AgentStateChanged`` / ``QueueStatsChanged`` → publish to consoles and wallboard
  (never modify a command or its payload dicts: the engine shares them).
* After an answered call ends, ``CallEnded``; the agent's ``WrapUpDone`` ends wrap-up early.
* Chats and emails (``CallQueued(channel="chat" | "email")``): ``AssignContact`` → show
  the contact to the agent (nothing rings; their state stays READY and their
  ``load`` / ``contacts`` changed: publish the agent again, as on ``ContactReleased``
  and ``ContactUnassigned``). The conversation's end is ``CallEnded``; its saved wrap-up
  ``ContactClosed``. ``ContactReleased`` → the slot is free (closed, wrap-up limit,
  logged out); ``ContactUnassigned`` → the agent logged out before it ended: it waits
  again (``CallJoinedQueue`` follows) and may be assigned to someone else at once.
* After a restart of the service: ``CallAdopted`` for each call found ringing or connected
  at an agent's phone, then ``AgentRestored`` for each saved agent state, then
  ``CallQueued(since=...)`` for each caller still in line (its original queue time).

The queue file is read by :func:`routing.acd.config.load_queue_file`.
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
    WrapUpTimeoutAction,
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
    "WrapUpTimeoutAction",
    "commands",
    "events",
]

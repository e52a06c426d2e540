"""Pure helpers for the service: turn the ACD's snapshot and commands into the console's
message shapes (``agent_console.ports``), so ``switchboard/service.py`` stays a thin shell.

No I/O. The ACD keeps more than the console shows (skills, per-state seconds, estimate
accuracy); those extra figures ride along in ``stats`` untouched.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent_console.ports import Message
from routing.acd.commands import AgentStateChanged, QueueStatsChanged


def queue_tile(name: str, stats: Mapping[str, Any], now: float) -> Message:
    """One queue's tile from ``Acd.queue_stats(name)`` / ``QueueStatsChanged.stats``.

    Args:
        name: the queue.
        stats: the ACD's statistics dict (``waiting``, ``longest_wait_since``, ``agents``
            counts by state, ``ewt``, ``answered``, ``abandoned``, ``service_level``...).
        now: the current time, for the longest wait.
    """
    since = stats.get("longest_wait_since")
    agents = stats.get("agents") or {}
    tile: Message = dict(stats)
    tile.update(
        name=name,
        waiting=int(stats.get("waiting", 0)),
        longest_wait=round(now - since, 1) if isinstance(since, int | float) else 0.0,
        service_level=stats.get("service_level"),
        answered=int(stats.get("answered", 0)),
        abandoned=int(stats.get("abandoned", 0)),
        ewt=stats.get("ewt", 0.0),
        agents_ready=int(agents.get("ready", 0)),
    )
    return tile


def agent_row(agent_id: str, agent: Mapping[str, Any]) -> Message:
    """One agent of ``Acd.snapshot()["agents"]`` as the console's agent shape."""
    return {
        "agent_id": agent_id,
        "name": agent.get("name", agent_id),
        "state": agent.get("state", "logged_out"),
        "reason": agent.get("reason", ""),
        "since": agent.get("since"),
        "queues": list(agent.get("queues", ())),
        "call_id": agent.get("call_id"),
        "calls": agent.get("calls", 0),
        "talk_seconds": agent.get("talk_seconds", 0.0),
    }


def snapshot_from_acd(
    acd_snapshot: Mapping[str, Any],
    calls: list[Message],
    intervals: list[Message] | None = None,
) -> Message:
    """``ContactCenter.snapshot()`` from ``Acd.snapshot(now)`` plus the service's live
    calls (call shape, with IVR path) and the wallboard intervals."""
    now = float(acd_snapshot.get("at", 0.0))
    queues = acd_snapshot.get("queues", {})
    agents = acd_snapshot.get("agents", {})
    return {
        "now": now,
        "queues": [queue_tile(name, q.get("stats", {}), now) for name, q in queues.items()],
        "agents": [agent_row(agent_id, a) for agent_id, a in agents.items()],
        "calls": list(calls),
        "intervals": list(intervals or []),
    }


def agent_state_message(
    change: AgentStateChanged, name: str, queues: list[str] | tuple[str, ...]
) -> Message:
    """The ``agent_state`` message for an ACD ``AgentStateChanged`` command."""
    agent = {
        "agent_id": change.agent_id,
        "name": name,
        "state": change.state.value,
        "reason": change.reason,
        "since": change.since,
        "queues": list(queues),
        "call_id": change.call_id,
        "calls": change.calls,
        "talk_seconds": change.talk_seconds,
    }
    return {
        "type": "agent_state",
        "agent_id": change.agent_id,
        "queues": list(queues),
        "agent": agent,
        "forced_by": change.forced_by,
    }


def queue_stats_message(change: QueueStatsChanged, now: float) -> Message:
    """The ``queue_stats`` message for an ACD ``QueueStatsChanged`` command."""
    return {
        "type": "queue_stats",
        "queue": change.queue,
        "stats": queue_tile(change.queue, change.stats, now),
    }


def ivr_summary(
    path: list[Any] | tuple[Any, ...], *, verified: bool, waited: float | None
) -> Message:
    """The call's ``ivr`` field from ``IvrSession.path`` (PathStep objects or their JSON):
    what the caller pressed, whether the account was verified, how long they waited."""
    steps = []
    for step in path:
        data = step.to_json() if hasattr(step, "to_json") else dict(step)
        steps.append(
            {
                "node": data.get("node", ""),
                "kind": data.get("kind", ""),
                "digits": data.get("digits", ""),
                "result": data.get("result", ""),
            }
        )
    return {
        "path": steps,
        "verified": verified,
        "waited": None if waited is None else round(waited, 1),
    }


def screen_pop_message(agent_id: str, call: Message, card: Any) -> Message:
    """The ``screen_pop`` for ``agent_id``: the call (call shape) and the caller's card
    (a ``CustomerCard`` or its JSON)."""
    card_json = card.to_json() if hasattr(card, "to_json") else dict(card)
    return {"type": "screen_pop", "agent_id": agent_id, "call": dict(call), "card": card_json}

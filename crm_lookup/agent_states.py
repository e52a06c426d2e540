"""Each agent's last state, kept so that a restart of the service brings agents back as
they were (docs/ARCHITECTURE.md "Restart and takeover").

One row per agent, overwritten on every change of state; ``since`` is when the state
began, ``wrap_up_until`` when a wrap-up ends by itself.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class _Database(Protocol):
    """The two calls of ``crm_lookup.store.Store`` this repository uses (no import of
    the store, which builds this repository)."""

    async def write(self, sql: str, params: Sequence[Any] = ()) -> int: ...
    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...


@dataclass(frozen=True, slots=True)
class SavedAgentState:
    agent_id: str
    state: str
    reason: str = ""
    since: float = 0.0
    wrap_up_until: float | None = None
    wrap_queue: str | None = None


class AgentStateRepo:
    def __init__(self, store: _Database) -> None:
        self._store = store

    async def save(self, saved: SavedAgentState) -> None:
        await self._store.write(
            "INSERT INTO agent_states(agent_id, state, reason, since, wrap_up_until, wrap_queue,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(agent_id) DO UPDATE SET"
            " state = excluded.state, reason = excluded.reason, since = excluded.since,"
            " wrap_up_until = excluded.wrap_up_until, wrap_queue = excluded.wrap_queue,"
            " updated_at = excluded.updated_at",
            (
                saved.agent_id,
                saved.state,
                saved.reason,
                saved.since,
                saved.wrap_up_until,
                saved.wrap_queue,
                time.time(),
            ),
        )

    async def all(self) -> list[SavedAgentState]:
        rows = await self._store.fetchall(
            "SELECT agent_id, state, reason, since, wrap_up_until, wrap_queue FROM agent_states"
            " ORDER BY agent_id"
        )
        return [
            SavedAgentState(str(r[0]), str(r[1]), str(r[2]), float(r[3]), r[4], r[5]) for r in rows
        ]

"""The supervisor alerts log (table ``alerts``, written by ``routing.alerting``).

One row per alert under the alert's own id: :meth:`AlertLog.save` inserts it when raised
and updates it when its value moves, it is acknowledged or it clears; saving the same
state twice changes nothing, so a row kept in memory while the database was failing is
simply saved again when it is back.

Portable SQL only (docs/ARCHITECTURE.md "Writing a query portably").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

MAX_LIST = 500
_COLUMNS = (
    "id",
    "rule",
    "subject",
    "queue",
    "agent_id",
    "pbx",
    "value",
    "threshold",
    "raised_at",
    "cleared_at",
    "acked_by",
    "acked_at",
)
_UPDATED = ("value", "cleared_at", "acked_by", "acked_at")


class _Database(Protocol):
    async def write(self, sql: str, params: Sequence[Any] = ()) -> int: ...
    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...


class AlertLog:
    def __init__(self, store: _Database) -> None:
        self._store = store

    async def save(self, alert: Mapping[str, Any]) -> None:
        """Insert or update one alert (the JSON of ``routing.alerts.engine.Alert``)."""
        await self._store.write(
            f"INSERT INTO alerts({', '.join(_COLUMNS)})"
            f" VALUES ({', '.join('?' for _ in _COLUMNS)}) ON CONFLICT(id) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in _UPDATED),
            tuple(alert.get(c) for c in _COLUMNS),
        )

    async def between(
        self, start: float, end: float, limit: int = MAX_LIST
    ) -> list[dict[str, Any]]:
        """Alerts raised in [start, end), newest first, at most ``limit``."""
        rows = await self._store.fetchall(
            f"SELECT {', '.join(_COLUMNS)} FROM alerts WHERE raised_at >= ? AND raised_at < ?"
            " ORDER BY raised_at DESC, id LIMIT ?",
            (start, end, max(1, min(limit, MAX_LIST))),
        )
        return [dict(zip(_COLUMNS, row, strict=True)) for row in rows]

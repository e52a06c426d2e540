"""Console sessions kept in the database, so a restart of the service logs nobody out.

Rows are keyed by an HMAC of the session token (the console computes it), never by the
token itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crm_lookup.store import Store


@dataclass(frozen=True, slots=True)
class StoredSession:
    key: str
    username: str
    role: str
    agent_id: str | None
    csrf: str
    expires: float


class SessionRepo:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def save(self, session: StoredSession) -> None:
        await self._store.write(
            "INSERT OR REPLACE INTO sessions(key, username, role, agent_id, csrf, expires)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                session.key,
                session.username,
                session.role,
                session.agent_id,
                session.csrf,
                session.expires,
            ),
        )

    async def get(self, key: str, now: float) -> StoredSession | None:
        """The session under ``key`` if it has not expired."""
        row = await self._store.fetchone(
            "SELECT key, username, role, agent_id, csrf, expires FROM sessions"
            " WHERE key = ? AND expires > ?",
            (key, now),
        )
        return None if row is None else StoredSession(*row)

    async def delete(self, key: str) -> None:
        await self._store.write("DELETE FROM sessions WHERE key = ?", (key,))

    async def delete_user(self, username: str) -> None:
        await self._store.write("DELETE FROM sessions WHERE username = ?", (username,))

    async def purge(self, now: float) -> int:
        """Drop expired sessions; returns how many."""
        return await self._store.write("DELETE FROM sessions WHERE expires <= ?", (now,))

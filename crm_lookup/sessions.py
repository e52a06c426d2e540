"""Console sessions kept in the database, so a restart of the service logs nobody out.

Rows are keyed by an HMAC of the session token (the console computes it), never by the
token itself. A row counts only while its user exists and is enabled: reads join the users
table and take the user's stored spelling, role and agent id from it, so a session kept
from before a restart cannot outlive its user. Changes to a user delete the user's rows
(``crm_lookup.users.UserRepo``).
"""

from __future__ import annotations

from collections.abc import Sequence
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
        dialect = store.dialect
        # A session's username is the user's, ignoring case (as usernames are unique).
        self._join = " FROM sessions s JOIN users u ON " + dialect.same_text(
            "u.username", "s.username"
        )
        self._of_user = "DELETE FROM sessions WHERE " + dialect.same_text("username", "?")

    async def save(self, session: StoredSession) -> None:
        await self._store.write(
            "INSERT INTO sessions(key, username, role, agent_id, csrf, expires)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET"
            " username = excluded.username, role = excluded.role,"
            " agent_id = excluded.agent_id, csrf = excluded.csrf, expires = excluded.expires",
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
        """The session under ``key`` if it has not expired and its user is enabled, with the
        user's current name, role and agent id."""
        row = await self._store.fetchone(
            "SELECT s.key, u.username, u.role, u.agent_id, s.csrf, s.expires"
            + self._join
            + " WHERE s.key = ? AND s.expires > ? AND u.disabled = 0",
            (key, now),
        )
        return None if row is None else StoredSession(*row)

    async def live_keys(self, keys: Sequence[str], now: float) -> set[str]:
        """Which of ``keys`` :meth:`get` would still find."""
        live: set[str] = set()
        for start in range(0, len(keys), 500):  # under SQLite's bound-parameter limit
            chunk = list(keys[start : start + 500])
            rows = await self._store.fetchall(
                "SELECT s.key" + self._join + f" WHERE s.key IN ({', '.join('?' * len(chunk))})"
                " AND s.expires > ? AND u.disabled = 0",
                (*chunk, now),
            )
            live.update(r[0] for r in rows)
        return live

    async def delete(self, key: str) -> None:
        await self._store.write("DELETE FROM sessions WHERE key = ?", (key,))

    async def delete_user(self, username: str) -> None:
        await self._store.write(self._of_user, (username,))

    async def purge(self, now: float) -> int:
        """Drop expired sessions; returns how many."""
        return await self._store.write("DELETE FROM sessions WHERE expires <= ?", (now,))

"""Console users and the audit log. Passwords arrive already hashed (the console hashes)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import aiosqlite

from config.errors import Conflict, InvalidInput, NotFound
from crm_lookup.models import AuditEntry, Role, User

if TYPE_CHECKING:
    from crm_lookup.store import Store

_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_SELECT_USER = "SELECT id, username, password_hash, role, agent_id, created_at FROM users"


def _user(row: Any) -> User:
    return User(int(row[0]), row[1], row[2], row[3], row[4], row[5])


def _role(role: str) -> str:
    try:
        return Role(role).value
    except ValueError:
        raise InvalidInput("role must be agent, supervisor or admin", field="role") from None


class UserRepo:
    """Who may log in to the console, with which role and agent id."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def add(
        self, username: str, password_hash: str, role: str, agent_id: str | None = None
    ) -> User:
        """Create a user.

        Raises:
            InvalidInput: a malformed username, an empty hash, an unknown role.
            Conflict: the username (case-insensitive) is taken.
        """
        name = (username or "").strip()
        if not _USERNAME.match(name):
            raise InvalidInput("username: 1-64 letters, digits or _.@-", field="username")
        if not password_hash:
            raise InvalidInput("password hash is required", field="password")
        try:
            cursor_id = await self._insert(name, password_hash, _role(role), agent_id or None)
        except aiosqlite.IntegrityError:
            raise Conflict(f"user {name} already exists") from None
        return await self.get(cursor_id)

    async def _insert(self, name: str, pw_hash: str, role: str, agent_id: str | None) -> int:
        async with self._store.transaction() as db:
            cursor = await db.execute(
                "INSERT INTO users(username, password_hash, role, agent_id, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (name, pw_hash, role, agent_id, time.time()),
            )
            return int(cursor.lastrowid or 0)

    async def get(self, user_id: int) -> User:
        """Raises NotFound."""
        row = await self._store.fetchone(_SELECT_USER + " WHERE id = ?", (user_id,))
        if row is None:
            raise NotFound(f"no user {user_id}")
        return _user(row)

    async def get_by_username(self, username: str) -> User | None:
        row = await self._store.fetchone(_SELECT_USER + " WHERE username = ?", (username,))
        return _user(row) if row else None

    async def list(self) -> list[User]:
        return [_user(r) for r in await self._store.fetchall(_SELECT_USER + " ORDER BY username")]

    async def set_password(self, user_id: int, password_hash: str) -> None:
        """Replace the hash. Raises NotFound, InvalidInput (empty hash)."""
        if not password_hash:
            raise InvalidInput("password hash is required", field="password")
        changed = await self._store.write(
            "UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id)
        )
        if not changed:
            raise NotFound(f"no user {user_id}")


class AuditLog:
    """Who did what, when: supervisor actions, merges, imports, logins."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def write(
        self, actor: str, action: str, target: str = "", details: Mapping[str, Any] | None = None
    ) -> None:
        """Append an entry. Raises InvalidInput if actor or action is empty."""
        if not actor or not action:
            raise InvalidInput("audit entries need an actor and an action", field="action")
        await self._store.write(
            "INSERT INTO audit(at, actor, action, target, details) VALUES (?, ?, ?, ?, ?)",
            (time.time(), actor, action, target, json.dumps(dict(details or {}), default=str)),
        )

    async def list(
        self, *, limit: int = 100, offset: int = 0, actor: str | None = None
    ) -> list[AuditEntry]:
        """Newest first."""
        sql = "SELECT id, at, actor, action, target, details FROM audit"
        args: list[Any] = []
        if actor is not None:
            sql += " WHERE actor = ?"
            args.append(actor)
        sql += " ORDER BY id DESC LIMIT ? OFFSET ?"
        args += [limit, offset]
        return [
            AuditEntry(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]))
            for r in await self._store.fetchall(sql, args)
        ]

"""Console users and the audit log. Passwords arrive already hashed (the console hashes)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from config.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from crm_lookup.database import UniqueViolation
from crm_lookup.models import AuditEntry, Role, User

if TYPE_CHECKING:
    from crm_lookup.store import Store

_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_SELECT_USER = (
    "SELECT id, username, password_hash, role, agent_id, created_at, disabled, last_login,"
    " language FROM users"
)
LANGUAGES = ("en", "ru")  # the console's catalogue (agent_console.catalogue.LANGUAGES)


def _user(row: Any) -> User:
    return User(
        int(row[0]), row[1], row[2], row[3], row[4], row[5], bool(row[6]), row[7], row[8] or ""
    )


def _role(role: str) -> str:
    try:
        return Role(role).value
    except ValueError:
        raise InvalidInput("role must be agent, supervisor or admin", field="role") from None


async def _agent_free(db: Any, agent_id: str, *, but: int = 0) -> None:
    """Raises Conflict when a user other than ``but`` has ``agent_id`` (one phone, one
    login). Run inside the transaction that gives the agent id."""
    owner = await db.fetchone(
        "SELECT username FROM users WHERE agent_id = ? AND id != ?", (agent_id, but)
    )
    if owner is not None:
        raise Conflict(f"agent {agent_id} already belongs to user {owner[0]}")


class UserRepo:
    """Who may log in to the console, with which role and agent id."""

    def __init__(self, store: Store) -> None:
        self._store = store
        dialect = store.dialect
        # Usernames are unique ignoring case (SQLite: a NOCASE column; PostgreSQL: a
        # unique index on lower(username)), and found ignoring case.
        self._name_is = " WHERE " + dialect.same_text("username", "?")
        self._by_name = _SELECT_USER + self._name_is
        self._order = " ORDER BY " + dialect.fold("username")
        # Every change to a user ends their stored sessions in the same transaction, so
        # a running service (which re-reads the session on each request) logs them out.
        self._end_sessions = "DELETE FROM sessions" + self._name_is

    async def add(
        self, username: str, password_hash: str, role: str, agent_id: str | None = None
    ) -> User:
        """Create a user.

        Raises:
            InvalidInput: a malformed username, an empty hash, an unknown role.
            Conflict: the username (case-insensitive) is taken, or another user already
                has this agent id (one phone, one login).
        """
        name = (username or "").strip()
        if not _USERNAME.match(name):
            raise InvalidInput("username: 1-64 letters, digits or _.@-", field="username")
        if not password_hash:
            raise InvalidInput("password hash is required", field="password")
        try:
            cursor_id = await self._insert(name, password_hash, _role(role), agent_id or None)
        except UniqueViolation:
            raise Conflict(f"user {name} already exists") from None
        return await self.get(cursor_id)

    async def _insert(self, name: str, pw_hash: str, role: str, agent_id: str | None) -> int:
        async with self._store.transaction() as db:
            if agent_id is not None:
                await _agent_free(db, agent_id)
            return await db.insert(
                "INSERT INTO users(username, password_hash, role, agent_id, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (name, pw_hash, role, agent_id, time.time()),
            )

    async def get(self, user_id: int) -> User:
        """Raises NotFound."""
        row = await self._store.fetchone(_SELECT_USER + " WHERE id = ?", (user_id,))
        if row is None:
            raise NotFound(f"no user {user_id}")
        return _user(row)

    async def get_by_username(self, username: str) -> User | None:
        row = await self._store.fetchone(self._by_name, (username,))
        return _user(row) if row else None

    async def list(self) -> list[User]:
        return [_user(r) for r in await self._store.fetchall(_SELECT_USER + self._order)]

    async def set_password(self, user_id: int, password_hash: str) -> None:
        """Replace the hash of user ``user_id``; ends their sessions. Raises NotFound,
        InvalidInput (empty hash)."""
        await self.change_password((await self.get(user_id)).username, password_hash)

    async def change_password(self, username: str, password_hash: str) -> User:
        """Replace the hash and end the user's sessions.

        Raises:
            NotFound: no such user.
            InvalidInput: an empty hash.
        """
        if not password_hash:
            raise InvalidInput("password hash is required", field="password")
        return await self._change(
            username, "UPDATE users SET password_hash = ? WHERE id = ?", (password_hash,)
        )

    async def set_disabled(self, username: str, disabled: bool) -> User:
        """Disable (or enable) a user and end their sessions.

        Raises:
            NotFound: no such user.
            PermissionDenied: it is the last enabled admin.
        """
        return await self._change(
            username,
            "UPDATE users SET disabled = ? WHERE id = ?",
            (int(disabled),),
            keeps_admin=not disabled,
        )

    async def update(
        self, username: str, *, role: str | None = None, agent_id: str | object | None = ...
    ) -> User:
        """Change a user's role and/or agent id (``agent_id=None`` removes it; leave it out
        to keep it) and end their sessions, so the new rights apply at once. Returns the
        user as it was before.

        Raises:
            NotFound: no such user.
            InvalidInput: an unknown role.
            Conflict: another user has that agent id.
            PermissionDenied: it would leave no enabled admin.
        """
        sets: list[str] = []
        args: list[Any] = []
        if role is not None:
            sets.append("role = ?")
            args.append(_role(role))
        if agent_id is not ...:
            sets.append("agent_id = ?")
            args.append(agent_id or None)
        if not sets:
            raise InvalidInput("give a role or an agent id to change", field="role")
        demotes = role is not None and role != Role.ADMIN.value
        return await self._change(
            username,
            f"UPDATE users SET {', '.join(sets)} WHERE id = ?",
            tuple(args),
            keeps_admin=not demotes,
            # Checked in the change's own (serialised) transaction: two admins giving the
            # same phone to two users at once cannot both succeed.
            unique_agent=agent_id if isinstance(agent_id, str) and agent_id else None,
        )

    async def record_login(self, username: str, at: float | None = None) -> None:
        """Note a successful sign-in (the admin page's "last login"); sessions stay."""
        await self._store.write(
            "UPDATE users SET last_login = ?" + self._name_is,
            (time.time() if at is None else at, username),
        )

    async def set_language(self, username: str, language: str) -> User:
        """The user's console language (``""`` = the browser's); sessions stay.

        Raises:
            InvalidInput: not a language of the console.
            NotFound: no such user.
        """
        if language not in ("", *LANGUAGES):
            raise InvalidInput(f"language must be one of {', '.join(LANGUAGES)}", field="language")
        await self._store.write(
            "UPDATE users SET language = ?" + self._name_is, (language, username)
        )
        user = await self.get_by_username(username)
        if user is None:
            raise NotFound(f"no user {username}")
        return user

    async def delete(self, username: str) -> User:
        """Delete a user and their sessions; the audit log keeps their name.

        Raises:
            NotFound: no such user.
            PermissionDenied: it is the last enabled admin.
        """
        return await self._change(username, "DELETE FROM users WHERE id = ?", (), keeps_admin=False)

    async def _change(
        self,
        username: str,
        sql: str,
        args: tuple[Any, ...],
        *,
        keeps_admin: bool = True,
        unique_agent: str | None = None,
    ) -> User:
        """Run ``sql`` (its last parameter the user id) and end the user's sessions, in one
        transaction; returns the user as it was before. ``unique_agent``: an agent id the
        user is given, which no other user may have."""
        async with self._store.transaction() as db:
            row = await db.fetchone(self._by_name, (username,))
            if row is None:
                raise NotFound(f"no user {username}")
            user = _user(row)
            if unique_agent is not None:
                await _agent_free(db, unique_agent, but=user.id)
            if not keeps_admin and user.role == Role.ADMIN.value and not user.disabled:
                others = await db.fetchone(
                    "SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0 AND id != ?",
                    (user.id,),
                )
                if others is None or not others[0]:
                    raise PermissionDenied(f"{user.username} is the last admin; add another first")
            await db.execute(sql, (*args, user.id))
            await db.execute(self._end_sessions, (user.username,))
        return user


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

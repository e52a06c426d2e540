"""The CRM store: one aiosqlite connection, WAL, foreign keys, migrations at open.

Theory of operation: a single connection runs in autocommit mode, so a lone statement
is its own transaction (contact milestones rely on that: one INSERT, triggers do the
rest, one round trip to the database thread). Multi-statement changes go through
:meth:`Store.transaction`, which holds an asyncio lock for ``BEGIN IMMEDIATE ...
COMMIT``; every writer takes the same lock, so no coroutine's statement can slip into
another's transaction and be rolled back with it. WAL with ``synchronous=NORMAL`` keeps
every committed transaction across a process crash (only a power cut may lose the last
few), and lets readers in other processes run while we write.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from config.errors import ConfigError, Conflict, InvalidInput
from crm_lookup.agent_states import AgentStateRepo
from crm_lookup.cases import CaseRepo
from crm_lookup.contacts import ContactLog
from crm_lookup.customers import CustomerRepo
from crm_lookup.schema import MIGRATIONS, SCHEMA_VERSION_TABLE
from crm_lookup.sessions import SessionRepo
from crm_lookup.users import AuditLog, UserRepo

__all__ = ["Store", "StoreBusy", "open_store"]


class StoreBusy(Conflict):
    """Another process held the database's write lock past the busy timeout (a large
    import, say). Nothing was written; retrying later will work."""


def _is_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


class Store:
    """The open database and its repositories. Build it with :func:`open_store`."""

    def __init__(self, db: aiosqlite.Connection, path: str, default_region: str) -> None:
        self.db = db
        self.path = path
        self.default_region = default_region
        self._lock = asyncio.Lock()
        self.customers = CustomerRepo(self)
        self.contacts = ContactLog(self)
        self.cases = CaseRepo(self)
        self.users = UserRepo(self)
        self.audit = AuditLog(self)
        self.sessions = SessionRepo(self)
        self.agent_states = AgentStateRepo(self)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """``async with store.transaction() as db:`` — all or nothing, writers serialised."""
        async with self._lock:
            try:
                await self.db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if _is_busy(exc):
                    raise StoreBusy("the database is busy with another writer; retry") from None
                raise
            try:
                yield self.db
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
            await self.db.execute("COMMIT")

    async def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement as its own transaction; returns the number of rows changed."""
        async with self._lock:
            try:
                cursor = await self.db.execute(sql, params)
            except sqlite3.OperationalError as exc:
                if _is_busy(exc):
                    raise StoreBusy("the database is busy with another writer; retry") from None
                raise
            return cursor.rowcount

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        return list(await self.db.execute_fetchall(sql, tuple(params)))

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        rows = await self.db.execute_fetchall(sql, tuple(params))
        return next(iter(rows), None)

    async def schema_version(self) -> int:
        row = await self.fetchone("SELECT max(version) AS v FROM schema_version")
        return int(row["v"] or 0) if row else 0

    async def close(self) -> None:
        await self.db.close()


async def _migrate(db: aiosqlite.Connection) -> None:
    await db.execute(SCHEMA_VERSION_TABLE)
    rows = await db.execute_fetchall("SELECT max(version) FROM schema_version")
    current = int(next(iter(rows))[0] or 0)
    known = max(v for v, _ in MIGRATIONS)
    if current > known:
        raise ConfigError(
            "database", "schema_version", f"at most {known} (this database is from a newer release)"
        )
    for version, script in MIGRATIONS:
        if version <= current:
            continue
        try:
            await db.executescript(
                f"BEGIN IMMEDIATE;\n{script}\n"
                f"INSERT INTO schema_version(version, applied_at) VALUES ({version}, {time.time()});\n"
                "COMMIT;"
            )
        except BaseException:
            if db.in_transaction:
                await db.execute("ROLLBACK")
            raise
    # A migration may rewrite a table's definition in place (MIGRATION_4): make this
    # connection read the schema again.
    await db.execute("PRAGMA writable_schema=RESET")


async def open_store(
    path: str | os.PathLike[str], default_region: str = "US", *, busy_timeout_ms: int = 5000
) -> Store:
    """Open (creating if needed) the database and bring its schema up to date.

    Args:
        path: the SQLite file; ``":memory:"`` for a throw-away store.
        default_region: ISO country for national phone numbers (``settings.crm.default_region``).
        busy_timeout_ms: how long a write waits for another process's transaction before
            failing with :class:`StoreBusy`.

    Raises:
        ConfigError: the file cannot be opened or comes from a newer release.
        InvalidInput: the region is not a two-letter country code.
    """
    region = default_region.upper()
    if len(region) != 2 or not region.isalpha():
        raise InvalidInput(f"default region must be a country code like US, not {default_region!r}")
    text = str(path)
    if text != ":memory:":
        Path(text).parent.mkdir(parents=True, exist_ok=True)
    try:
        db = await aiosqlite.connect(text, isolation_level=None)
    except Exception as exc:  # sqlite3.OperationalError and friends
        raise ConfigError("database", "path", f"a writable SQLite file ({exc})") from None
    try:
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA foreign_keys=ON")
        await db.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        await db.execute("PRAGMA cache_size=-65536")
        await db.execute("PRAGMA temp_store=MEMORY")
        await _migrate(db)
    except ConfigError:
        await db.close()
        raise
    except Exception as exc:  # not a database, locked, disk full...
        await db.close()
        raise ConfigError("database", "path", f"a usable SQLite database ({exc})") from None
    return Store(db, text, region)

"""The PostgreSQL backend: an asyncpg pool, the repositories' SQL with ``$n`` placeholders.

Theory of operation: a lone statement (a contact milestone) takes a pooled connection
for one round trip and is its own transaction, as on SQLite; its triggers (PL/pgSQL,
:mod:`crm_lookup.schema_postgres`) fold it into the contact row within it. Several
coroutines, and several service nodes, write milestones at the same time; PostgreSQL's
row locks order the updates of one contact. A multi-statement transaction first takes
the transaction-scoped advisory lock :data:`WRITER_LOCK`, so transactions are serialised
as SQLite's ``BEGIN IMMEDIATE`` serialises them, across every node sharing the database:
the repositories' check-then-write steps (is this phone free? then insert) stay correct
at READ COMMITTED, and a constraint still catches anything that slips past.

Migrations run at open under the session advisory lock :data:`MIGRATION_LOCK`, each in
its own transaction with its ``schema_version`` row: two nodes starting together apply
each migration once, the second finds the schema current.

The URL's password is handed to asyncpg and nowhere else: errors name the server by
:func:`crm_lookup.database.redact_url`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import asyncpg  # type: ignore[import-untyped]  # no stubs; used through Any

from config.errors import ConfigError
from crm_lookup.database import (
    POSTGRES,
    ConstraintViolation,
    ForeignKeyViolation,
    Row,
    StoreBusy,
    UniqueViolation,
    numbered_placeholders,
    redact_url,
)
from crm_lookup.schema_postgres import MIGRATIONS, SCHEMA_VERSION_TABLE

__all__ = ["MIGRATION_LOCK", "WRITER_LOCK", "PostgresDatabase", "open_postgres"]

# pg_advisory_lock keys (any bigint; these spell "sbmigr" and "sbwrit").
MIGRATION_LOCK = 0x73626D696772
WRITER_LOCK = 0x736277726974


def _translate(exc: Exception) -> Exception | None:
    if isinstance(exc, asyncpg.UniqueViolationError):
        return UniqueViolation("that value is already stored")
    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        return ForeignKeyViolation("a referenced row does not exist")
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        return ConstraintViolation("the change breaks a rule of the schema")
    if isinstance(exc, asyncpg.LockNotAvailableError | asyncpg.DeadlockDetectedError):
        return StoreBusy("the database is busy with another writer; retry")
    return None


def _changed(status: str) -> int:
    """Rows changed, from a command tag like ``INSERT 0 1`` or ``UPDATE 3``."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class _PostgresTransaction:
    """One pooled connection inside a transaction (or outside one, for lone reads)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            return _changed(await self._conn.execute(numbered_placeholders(sql), *params))
        except asyncpg.PostgresError as exc:
            raise (_translate(exc) or exc) from None

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = list(rows)
        if not batch:
            return
        try:
            await self._conn.executemany(numbered_placeholders(sql), batch)
        except asyncpg.PostgresError as exc:
            raise (_translate(exc) or exc) from None

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            return list(await self._conn.fetch(numbered_placeholders(sql), *params))
        except asyncpg.PostgresError as exc:
            raise (_translate(exc) or exc) from None

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        try:
            row: Row | None = await self._conn.fetchrow(numbered_placeholders(sql), *params)
        except asyncpg.PostgresError as exc:
            raise (_translate(exc) or exc) from None
        return row

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            value = await self._conn.fetchval(numbered_placeholders(sql) + " RETURNING id", *params)
        except asyncpg.PostgresError as exc:
            raise (_translate(exc) or exc) from None
        return int(value)


class PostgresDatabase:
    """An open PostgreSQL database. Build it with :func:`open_postgres`."""

    dialect = POSTGRES

    def __init__(self, pool: Any, display: str) -> None:
        #: the asyncpg pool (tests and tools may use it directly)
        self.pool = pool
        self.display = display

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_PostgresTransaction]:
        """``async with db.transaction() as tx:`` — all or nothing, transactions serialised
        across every node by :data:`WRITER_LOCK`."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", WRITER_LOCK)
            yield _PostgresTransaction(conn)

    async def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self.pool.acquire() as conn:
            return await _PostgresTransaction(conn).execute(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self.transaction() as tx:
            await tx.executemany(sql, rows)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        async with self.pool.acquire() as conn:
            return await _PostgresTransaction(conn).fetchall(sql, tuple(params))

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        async with self.pool.acquire() as conn:
            return await _PostgresTransaction(conn).fetchone(sql, tuple(params))

    async def close(self) -> None:
        await self.pool.close()


async def _migrate(conn: Any) -> None:
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute(SCHEMA_VERSION_TABLE)
        current = int(await conn.fetchval("SELECT max(version) FROM schema_version") or 0)
        known = max(v for v, _ in MIGRATIONS)
        if current > known:
            raise ConfigError(
                "database",
                "schema_version",
                f"at most {known} (this database is from a newer release)",
            )
        for version, script in MIGRATIONS:
            if version <= current:
                continue
            async with conn.transaction():
                await conn.execute(script)
                await conn.execute(
                    "INSERT INTO schema_version(version, applied_at) VALUES ($1, $2)",
                    version,
                    time.time(),
                )
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)


def _scrub(text: str, dsn: str) -> str:
    """``text`` without the URL's password, should a driver message ever carry it."""
    try:
        password = urlsplit(dsn).password
    except ValueError:
        password = None
    return text.replace(password, "***") if password else text


async def open_postgres(
    dsn: str, *, min_size: int = 1, max_size: int = 10, connect_timeout: float = 10.0
) -> PostgresDatabase:
    """Connect a pool to ``dsn`` and bring the schema up to date.

    Args:
        dsn: ``postgresql://user:password@host:port/database``.
        min_size, max_size: connections the pool keeps open / may open.
        connect_timeout: seconds to wait for each connection.

    Raises:
        ConfigError: the server cannot be reached, refuses the login, has no such
            database, or holds a schema from a newer release (the message names the
            server without the password).
    """
    shown = redact_url(dsn)
    if not 1 <= min_size <= max_size:
        raise ConfigError("database", "pool_min_size", "1 <= pool_min_size <= pool_max_size")
    try:
        pool = await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, timeout=connect_timeout
        )
    except (
        OSError,
        TimeoutError,
        ValueError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
    ) as exc:
        reason = _scrub(f"{type(exc).__name__}: {exc}", dsn)
        raise ConfigError(
            "database", "url", f"a reachable PostgreSQL at {shown} ({reason})"
        ) from None
    try:
        async with pool.acquire() as conn:
            await _migrate(conn)
    except ConfigError:
        await pool.close()
        raise
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        await pool.close()
        reason = _scrub(f"{type(exc).__name__}: {exc}", dsn)
        raise ConfigError("database", "url", f"a usable PostgreSQL at {shown} ({reason})") from None
    return PostgresDatabase(pool, shown)

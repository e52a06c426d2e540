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

Rows for :meth:`PostgresDatabase.insert_new` (contact milestones) go through one
:class:`_InsertBatcher` per table: the first row is sent at once; rows that arrive while
a statement is in flight wait for it and then go together, as one ``INSERT ... SELECT
FROM json_populate_recordset(...)`` in one transaction. A busy center thus pays one round
trip and one commit for many calls' milestones (group commit), and a quiet one pays no
delay. Rows go in the order they came, so triggers fold them as they would have one by
one; when the shared statement fails, whatever the error (one row names an unknown
customer, or holds a value the JSON encoder or the driver refuses), each row is sent
again alone, so only that caller gets the error and no other row is lost.

Migrations run at open under the session advisory lock :data:`MIGRATION_LOCK`, each in
its own transaction with its ``schema_version`` row: two nodes starting together apply
each migration once, the second finds the schema current.

The URL's password is handed to asyncpg and nowhere else: errors name the server by
:func:`crm_lookup.database.redact_url`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs; used through Any

from config.database_url import url_secrets
from config.errors import ConfigError
from crm_lookup.database import (
    POSTGRES,
    ConstraintViolation,
    ForeignKeyViolation,
    Row,
    StoreBusy,
    StoreUnavailable,
    Table,
    UniqueViolation,
    numbered_placeholders,
    redact_url,
)
from crm_lookup.schema_postgres import MIGRATIONS, SCHEMA_VERSION_TABLE

__all__ = [
    "CONCURRENT_WRITES",
    "MIGRATION_LOCK",
    "WRITER_LOCK",
    "PostgresDatabase",
    "open_postgres",
]

# pg_advisory_lock keys (any bigint; these spell "sbmigr" and "sbwrit").
MIGRATION_LOCK = 0x73626D696772
WRITER_LOCK = 0x736277726974
#: lone writes (contact milestones of different calls) worth having in flight at once
CONCURRENT_WRITES = 64


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


# The connection or the server went away (what asyncpg raises for a terminated backend
# depends on when it notices: a connection error, a shutdown error from the server, an
# InterfaceError on a closed connection, or an InternalClientError from a protocol left
# mid-operation); OSError covers refused and timed-out connects.
_CONNECTION_LOST = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)


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

    async def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        if not rows:
            return
        try:
            # COPY (binary) inside the caller's transaction: several times faster than
            # executemany for an import; triggers and constraints apply as for INSERT.
            await self._conn.copy_records_to_table(table, records=rows, columns=list(columns))
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


class _InsertBatcher:
    """Concurrent one-row inserts into one table, sent together (module docstring)."""

    def __init__(self, pool: Any, table: Table, max_rows: int = 500) -> None:
        self._pool = pool
        self._table = table
        self._max_rows = max_rows
        columns = ", ".join(table.columns)
        self._one = numbered_placeholders(table.insert_sql())
        self._many = (
            f"INSERT INTO {table.name}({columns}) SELECT {columns}"
            f" FROM json_populate_recordset(NULL::{table.name}, $1::json)"
            f" ON CONFLICT DO NOTHING RETURNING {', '.join(table.key)}"
        )
        self._key_at = [table.columns.index(k) for k in table.key]
        self._pending: list[tuple[Sequence[Any], asyncio.Future[bool]]] = []
        self._sender: asyncio.Task[None] | None = None

    async def insert(self, row: Sequence[Any]) -> bool:
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((row, done))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_all())
        return await done

    async def drain(self) -> None:
        """Wait until every row handed in so far is written (or has failed)."""
        while self._sender is not None:
            await asyncio.shield(self._sender)

    async def _send_all(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_rows]
                del self._pending[: self._max_rows]
                try:
                    await self._send(batch)
                except BaseException as exc:  # the connection failed, or we are cancelled
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
        finally:
            self._sender = None
            for _, done in self._pending:  # only when cancelled: nobody will send them
                if not done.done():
                    done.set_exception(asyncio.CancelledError())
            self._pending.clear()

    async def _send(self, batch: list[tuple[Sequence[Any], asyncio.Future[bool]]]) -> None:
        if len(batch) > 1:
            records = [dict(zip(self._table.columns, row, strict=True)) for row, _ in batch]
            try:
                async with self._pool.acquire() as conn:
                    inserted = await conn.fetch(self._many, json.dumps(records))
            except Exception:
                # One row's fault, probably (a server error, or a value json.dumps or the
                # driver refuses); a lost connection fails each row on its own below.
                pass
            else:
                # A key given twice in one batch is inserted once: the first one wins,
                # as it would have one statement at a time.
                fresh = Counter(tuple(r) for r in inserted)
                for row, done in batch:
                    key = tuple(row[i] for i in self._key_at)
                    if done.done():
                        continue
                    if fresh[key] > 0:
                        fresh[key] -= 1
                        done.set_result(True)
                    else:
                        done.set_result(False)
                return
        for row, done in batch:
            try:
                async with self._pool.acquire() as conn:
                    changed = _changed(await conn.execute(self._one, *row)) > 0
            except Exception as exc:  # this row's own answer; the rows after it still go
                if not done.done():
                    done.set_exception(_translate(exc) or exc)
                continue
            if not done.done():
                done.set_result(changed)


class PostgresDatabase:
    """An open PostgreSQL database. Build it with :func:`open_postgres`."""

    dialect = POSTGRES
    # Milestones in flight together go as one statement and one commit (_InsertBatcher);
    # bench/recorder.py measures the rate against this.
    concurrent_writes = CONCURRENT_WRITES
    # No batch: concurrent writers' rows already share statements and commits there.
    write_batch = 1

    def __init__(self, pool: Any, display: str) -> None:
        #: the asyncpg pool (tests and tools may use it directly)
        self.pool = pool
        self.display = display
        self._batchers: dict[Table, _InsertBatcher] = {}

    def _lost(self) -> StoreUnavailable:
        return StoreUnavailable(f"lost the connection to the database at {self.display}")

    async def insert_new(self, table: Table, row: Sequence[Any]) -> bool:
        batcher = self._batchers.get(table)
        if batcher is None:
            batcher = self._batchers[table] = _InsertBatcher(self.pool, table)
        try:
            return await batcher.insert(row)
        except _CONNECTION_LOST:
            raise self._lost() from None

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        """Writes inside stay lone statements: the insert batcher already groups what
        concurrent writers send, and one transaction across nodes' writers would take
        the cluster-wide writer lock (``write_batch`` is 1, so the recorder never asks)."""
        yield

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_PostgresTransaction]:
        """``async with db.transaction() as tx:`` — all or nothing, transactions serialised
        across every node by :data:`WRITER_LOCK`."""
        async with self.pool.acquire() as conn, conn.transaction():
            # Waiting longer than the busy timeout (every session's lock_timeout) for
            # another node's transaction (an import) fails as on SQLite: StoreBusy,
            # nothing written.
            try:
                await conn.execute("SELECT pg_advisory_xact_lock($1)", WRITER_LOCK)
            except asyncpg.LockNotAvailableError:
                raise StoreBusy("the database is busy with another writer; retry") from None
            yield _PostgresTransaction(conn)

    async def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            async with self.pool.acquire() as conn:
                return await _PostgresTransaction(conn).execute(sql, params)
        except _CONNECTION_LOST:
            raise self._lost() from None

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self.transaction() as tx:
            await tx.executemany(sql, rows)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        try:
            async with self.pool.acquire() as conn:
                return await _PostgresTransaction(conn).fetchall(sql, tuple(params))
        except _CONNECTION_LOST:
            raise self._lost() from None

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        try:
            async with self.pool.acquire() as conn:
                return await _PostgresTransaction(conn).fetchone(sql, tuple(params))
        except _CONNECTION_LOST:
            raise self._lost() from None

    async def close(self) -> None:
        for batcher in self._batchers.values():
            await batcher.drain()
        await self.pool.close()


async def _migrate(conn: Any, busy_timeout: str) -> None:
    # Another node's migration may take longer than the busy timeout: wait it out.
    await conn.execute("SET lock_timeout = 0")
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute(SCHEMA_VERSION_TABLE)
        # Every migration not yet applied, not only those above the highest (as SQLite).
        rows = await conn.fetch("SELECT version FROM schema_version")
        applied = {int(r[0]) for r in rows}
        known = max(v for v, _ in MIGRATIONS)
        if max(applied, default=0) > known:
            raise ConfigError(
                "database",
                "schema_version",
                f"at most {known} (this database is from a newer release)",
            )
        for version, script in MIGRATIONS:
            if version in applied:
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
        await conn.execute(busy_timeout)  # a pooled connection again (not RESET: that is 0)


def _scrub(text: str, dsn: str) -> str:
    """``text`` without the URL's secrets, should a driver message ever carry them."""
    for secret in url_secrets(dsn):
        text = text.replace(secret, "***")
    return text


async def _keep_session(conn: Any) -> None:
    """The pool's reset on release, as a no-op. asyncpg's default sends a reset query
    (``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``) every time a
    connection goes back to the pool, a second round trip per milestone. We leave no
    session state behind (advisory locks are transaction-scoped, the migration lock is
    unlocked in ``finally`` and its ``lock_timeout`` set back there; no cursors or
    LISTEN), and asyncpg still rolls back a transaction left open before calling this."""


def _busy_timeout_statement(busy_timeout_ms: int) -> str:
    return f"SET lock_timeout = {int(busy_timeout_ms)}"


def _busy_timeout(busy_timeout_ms: int) -> Callable[[Any], Awaitable[None]]:
    statement = _busy_timeout_statement(busy_timeout_ms)

    async def init(conn: Any) -> None:
        await conn.execute(statement)

    return init


async def open_postgres(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    connect_timeout: float = 10.0,
    busy_timeout_ms: int = 5000,
) -> PostgresDatabase:
    """Connect a pool to ``dsn`` and bring the schema up to date.

    Args:
        dsn: ``postgresql://user:password@host:port/database``.
        min_size, max_size: connections the pool keeps open / may open.
        connect_timeout: seconds to wait for each connection.
        busy_timeout_ms: how long any statement waits for a lock another transaction
            holds before failing with StoreBusy (PostgreSQL's ``lock_timeout``).

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
            dsn,
            min_size=min_size,
            max_size=max_size,
            timeout=connect_timeout,
            reset=_keep_session,
            # Every statement, lone or in a transaction, waits at most the busy timeout
            # for a lock (a row another node's transaction holds, the writer lock), then
            # fails with LockNotAvailable -> StoreBusy, as SQLite's busy timeout bounds
            # every statement; without it a lone milestone could wait for ever, holding
            # its pool connection. Set once per connection (no round trip per
            # transaction) by a SET, not a startup parameter, which a pooler such as
            # PgBouncer refuses.
            init=_busy_timeout(busy_timeout_ms),
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
            await _migrate(conn, _busy_timeout_statement(busy_timeout_ms))
    except ConfigError:
        await pool.close()
        raise
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        await pool.close()
        reason = _scrub(f"{type(exc).__name__}: {exc}", dsn)
        raise ConfigError("database", "url", f"a usable PostgreSQL at {shown} ({reason})") from None
    return PostgresDatabase(pool, shown)

"""The SQLite backend: one aiosqlite connection, WAL, foreign keys, migrations at open.

Theory of operation: a single connection runs in autocommit mode, so a lone statement
is its own transaction (contact milestones rely on that: one INSERT, triggers do the
rest, one round trip to the database thread). Multi-statement changes go through
:meth:`SqliteDatabase.transaction`, which holds an asyncio lock for ``BEGIN IMMEDIATE
... COMMIT``; every writer takes the same lock, so no coroutine's statement can slip into
another's transaction and be rolled back with it. WAL with ``synchronous=NORMAL`` keeps
every committed transaction across a process crash (only a power cut may lose the last
few), and lets readers in other processes run while we write.

:meth:`SqliteDatabase.batch` raises the write limit: the lone writes one task makes inside
it (the ContactRecorder's milestones of several contacts, one writer turn) share one
``BEGIN IMMEDIATE ... COMMIT`` instead of one commit each. A statement that fails there
(a constraint) is undone alone, as SQLite does for a statement; the others still commit.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import aiosqlite

from config.errors import ConfigError
from crm_lookup.database import (
    SQLITE,
    ConstraintViolation,
    ForeignKeyViolation,
    Row,
    StoreBusy,
    Table,
    UniqueViolation,
)
from crm_lookup.schema import MIGRATIONS, SCHEMA_VERSION_TABLE

__all__ = ["SqliteDatabase", "open_sqlite"]


def _is_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def _translate(exc: sqlite3.Error) -> Exception | None:
    """Our exception for a driver error, or None to let it through."""
    if isinstance(exc, sqlite3.IntegrityError):
        text = str(exc)
        if "UNIQUE" in text or "PRIMARY KEY" in text:
            return UniqueViolation("that value is already stored")
        if "FOREIGN KEY" in text:
            return ForeignKeyViolation("a referenced row does not exist")
        return ConstraintViolation("the change breaks a rule of the schema")
    if _is_busy(exc):
        return StoreBusy("the database is busy with another writer; retry")
    return None


class _SqliteTransaction:
    """The connection, inside ``BEGIN IMMEDIATE``, with driver errors translated."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            cursor = await self._db.execute(sql, params)
        except sqlite3.Error as exc:
            raise (_translate(exc) or exc) from None
        return cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            await self._db.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise (_translate(exc) or exc) from None

    async def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        if rows:
            marks = ", ".join("?" * len(columns))
            await self.executemany(
                f"INSERT INTO {table}({', '.join(columns)}) VALUES ({marks})", rows
            )

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            return list(await self._db.execute_fetchall(sql, tuple(params)))
        except sqlite3.Error as exc:
            raise (_translate(exc) or exc) from None

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return next(iter(await self.fetchall(sql, params)), None)

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            cursor = await self._db.execute(sql, params)
        except sqlite3.Error as exc:
            raise (_translate(exc) or exc) from None
        return int(cursor.lastrowid or 0)


class SqliteDatabase:
    """An open SQLite database. Build it with :func:`open_sqlite`."""

    dialect = SQLITE
    # Every write holds the one connection's lock: a second writer would only queue on
    # it, and while another process holds the database each would sit out a busy
    # timeout there, in front of the console's writes.
    concurrent_writes = 1
    # Milestones one writer turn puts in one batch: enough to take a 200 calls/s backlog
    # in a few commits, few enough that a console write waits at most one short batch.
    write_batch = 64

    def __init__(self, db: aiosqlite.Connection, path: str) -> None:
        #: the aiosqlite connection (tests and tools may use it directly)
        self.connection = db
        self.path = path
        self.display = path
        self._lock = asyncio.Lock()
        self._tx = _SqliteTransaction(db)
        # True in the task that holds this database's batch (its writes skip the lock it
        # already holds); a ContextVar so that no other coroutine's write joins the batch.
        self._batching: ContextVar[bool] = ContextVar(f"sqlite-batch-{id(self)}", default=False)

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        """``async with db.batch():`` — this task's lone writes (``write``,
        ``insert_new``) until the block ends are one transaction, committed at its end
        (or rolled back if the block raises). Other coroutines' writes wait for it, as
        they wait for any transaction. A batch inside a batch is the outer one.

        Raises:
            StoreBusy: another process holds the write lock past the busy timeout
                (nothing was written; the whole batch can be retried).
        """
        if self._batching.get():
            yield
            return
        async with self.transaction():
            token = self._batching.set(True)
            try:
                yield
            finally:
                self._batching.reset(token)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_SqliteTransaction]:
        """``async with db.transaction() as tx:`` — all or nothing, writers serialised
        (inside this task's batch: a savepoint of it)."""
        if self._batching.get():
            await self._tx.execute("SAVEPOINT batch_part")
            try:
                yield self._tx
            except BaseException:
                await self.connection.execute("ROLLBACK TO batch_part")
                await self.connection.execute("RELEASE batch_part")
                raise
            await self.connection.execute("RELEASE batch_part")
            return
        async with self._lock:
            try:
                await self.connection.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if _is_busy(exc):
                    raise StoreBusy("the database is busy with another writer; retry") from None
                raise
            try:
                yield self._tx
            except BaseException:
                await self.connection.execute("ROLLBACK")
                raise
            await self.connection.execute("COMMIT")

    async def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement as its own transaction (in this task's batch: part of it);
        returns the number of rows changed."""
        if self._batching.get():
            return await self._tx.execute(sql, params)
        async with self._lock:
            return await self._tx.execute(sql, params)

    async def insert_new(self, table: Table, row: Sequence[Any]) -> bool:
        # One statement per row: SQLite's write is in-process, there is no round trip
        # or commit wait to share.
        return await self.write(table.insert_sql(), row) > 0

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self.transaction() as tx:
            await tx.executemany(sql, rows)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        return await self._tx.fetchall(sql, tuple(params))

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        return await self._tx.fetchone(sql, tuple(params))

    async def close(self) -> None:
        await self.connection.close()


async def _migrate(db: aiosqlite.Connection) -> None:
    await db.execute(SCHEMA_VERSION_TABLE)
    # Every migration not yet applied runs, not only those above the highest applied: a
    # number left free for work landing later (5 beside 6) still applies to a database
    # that already has the later one.
    rows = await db.execute_fetchall("SELECT version FROM schema_version")
    applied = {int(r[0]) for r in rows}
    known = max(v for v, _ in MIGRATIONS)
    if max(applied, default=0) > known:
        raise ConfigError(
            "database", "schema_version", f"at most {known} (this database is from a newer release)"
        )
    for version, script in MIGRATIONS:
        if version in applied:
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


async def open_sqlite(
    path: str | os.PathLike[str], *, busy_timeout_ms: int = 5000
) -> SqliteDatabase:
    """Open (creating if needed) the file and bring its schema up to date.

    Raises:
        ConfigError: the file cannot be opened or comes from a newer release.
    """
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
    return SqliteDatabase(db, text)

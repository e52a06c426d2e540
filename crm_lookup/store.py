"""The CRM store: the open database (SQLite or PostgreSQL) and its repositories.

Theory of operation: ``database.url`` picks the backend (:mod:`crm_lookup.database`):
``sqlite:///path`` opens one aiosqlite connection (:mod:`crm_lookup.sqlite_backend`),
``postgresql://...`` an asyncpg pool (:mod:`crm_lookup.postgres_backend`). Both bring the
schema to the same version at open, from one migration history. The repositories are
written once, in the portable SQL the database module describes, against the
:class:`~crm_lookup.database.Database` interface the store delegates to; a lone
statement is its own transaction, :meth:`Store.transaction` is all or nothing with
writers serialised.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from config.errors import InvalidInput
from crm_lookup.agent_states import AgentStateRepo
from crm_lookup.alerts import AlertLog
from crm_lookup.cases import CaseRepo
from crm_lookup.contacts import ContactLog
from crm_lookup.conversations import ConversationRepo
from crm_lookup.customers import CustomerRepo
from crm_lookup.database import (
    Database,
    DatabaseUrl,
    Dialect,
    Row,
    StoreBusy,
    Transaction,
    parse_database_url,
)
from crm_lookup.drafts import DraftRepo
from crm_lookup.evaluations import EvaluationRepo
from crm_lookup.knowledge import KnowledgeRepo
from crm_lookup.mail_store import MailStore
from crm_lookup.sessions import SessionRepo
from crm_lookup.users import AuditLog, UserRepo

__all__ = ["Store", "StoreBusy", "open_store", "resolve_database"]


class Store:
    """The open database and its repositories. Build it with :func:`open_store`."""

    def __init__(self, db: Database, default_region: str) -> None:
        self.db = db
        self.dialect: Dialect = db.dialect
        #: where the data is, fit for a log line (never a password)
        self.path = db.display
        #: independent writes worth having in flight (1 on SQLite; see Database)
        self.concurrent_writes = db.concurrent_writes
        #: ready milestones one writer turn groups in one :meth:`batch` (1: none)
        self.write_batch = db.write_batch
        self.default_region = default_region
        self.customers = CustomerRepo(self)
        self.contacts = ContactLog(self)
        self.cases = CaseRepo(self)
        self.users = UserRepo(self)
        self.audit = AuditLog(self)
        self.sessions = SessionRepo(self)
        self.agent_states = AgentStateRepo(self)
        self.drafts = DraftRepo(self)
        self.evaluations = EvaluationRepo(self)
        self.alerts = AlertLog(self)
        self.conversations = ConversationRepo(self)
        self.knowledge = KnowledgeRepo(self)
        self.mail = MailStore(self)

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """``async with store.transaction() as tx:`` — all or nothing, writers serialised."""
        return self.db.transaction()

    def batch(self) -> AbstractAsyncContextManager[None]:
        """``async with store.batch():`` — this task's lone writes share one commit."""
        return self.db.batch()

    async def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement as its own transaction; returns the number of rows changed."""
        return await self.db.write(sql, params)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        return await self.db.fetchall(sql, tuple(params))

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        return await self.db.fetchone(sql, tuple(params))

    async def schema_version(self) -> int:
        row = await self.fetchone("SELECT max(version) AS v FROM schema_version")
        return int(row["v"] or 0) if row else 0

    async def close(self) -> None:
        await self.db.close()


def resolve_database(target: str | os.PathLike[str]) -> DatabaseUrl:
    """``target`` as a database: a ``sqlite://`` / ``postgresql://`` URL, or a file path
    (what callers passed before ``database.url``; ``":memory:"`` too).

    Raises:
        ConfigError: a URL of another scheme or without a path / database.
    """
    text = os.fspath(target)
    if "://" in text:
        return parse_database_url(text)
    return DatabaseUrl("sqlite", path=text)


async def open_store(
    target: str | os.PathLike[str],
    default_region: str = "US",
    *,
    busy_timeout_ms: int = 5000,
    pool_min_size: int = 1,
    pool_max_size: int = 10,
) -> Store:
    """Open (creating if needed) the database and bring its schema up to date.

    Args:
        target: ``database.url`` (``sqlite:///path``, ``postgresql://user:pass@host/db``)
            or a SQLite file path; ``":memory:"`` for a throw-away store.
        default_region: ISO country for national phone numbers (``settings.crm.default_region``).
        busy_timeout_ms: how long a write (SQLite) or any statement (PostgreSQL) waits for
            another process's transaction before failing with :class:`StoreBusy`.
        pool_min_size, pool_max_size: PostgreSQL: connections kept open / at most.

    Raises:
        ConfigError: the database cannot be opened or reached, or comes from a newer
            release (never showing a password).
        InvalidInput: the region is not a two-letter country code.
    """
    region = default_region.upper()
    if len(region) != 2 or not region.isalpha():
        raise InvalidInput(f"default region must be a country code like US, not {default_region!r}")
    where = resolve_database(target)
    db: Database
    if where.scheme == "postgresql":
        from crm_lookup.postgres_backend import open_postgres

        db = await open_postgres(
            where.dsn,
            min_size=pool_min_size,
            max_size=pool_max_size,
            busy_timeout_ms=busy_timeout_ms,
        )
    else:
        from crm_lookup.sqlite_backend import open_sqlite

        db = await open_sqlite(where.path, busy_timeout_ms=busy_timeout_ms)
    store = Store(db, region)
    # Customers stored before migration 8 get their duplicate keys. Only where 8 has run:
    # a store opened with an earlier set of migrations (an older release's, or a test's)
    # has no such columns.
    if await store.fetchone("SELECT 1 FROM schema_version WHERE version = 8"):
        await store.customers.fill_name_keys()
    return store

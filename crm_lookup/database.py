"""The database behind the CRM store: one interface, a SQLite and a PostgreSQL backend.

Theory of operation: repositories speak one portable SQL — ``?`` placeholders (``?N`` to
reuse a parameter), ``INSERT ... ON CONFLICT ... DO NOTHING / DO UPDATE``, ``RETURNING``,
row values — and ask the store's :class:`Dialect` for the few fragments the engines spell
differently (a JSON array of a sub-select, a case-insensitive comparison, a JSON field,
the values of a JSON array parameter, a case-insensitive LIKE). They call :class:`Database` (and the
:class:`Transaction` it yields) and never import a driver: rows are addressable by
position and by column name on both backends, and every constraint violation arrives as
one of the exceptions below, whichever engine raised it::

    Conflict (config.errors)
    ├── StoreBusy                another writer held the database past the busy timeout
    └── ConstraintViolation      a statement broke a constraint; nothing was written
        ├── UniqueViolation      a UNIQUE / PRIMARY KEY value is taken
        └── ForeignKeyViolation  a reference names a row that does not exist
    RemoteError (config.errors)
    └── StoreUnavailable         the server went away under a lone statement (PostgreSQL)

Backends: :mod:`crm_lookup.sqlite_backend` (one aiosqlite connection, WAL, one writer
lock) and :mod:`crm_lookup.postgres_backend` (an asyncpg pool; ``?`` becomes ``$n``).
:func:`parse_database_url` (from :mod:`config.database_url`, re-exported here) reads
``database.url``; :func:`redact_url` is how a URL is shown anywhere (logs, errors): never
with its password.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from config.database_url import DatabaseUrl, parse_database_url, redact_url
from config.errors import Conflict, RemoteError

__all__ = [
    "POSTGRES",
    "SQLITE",
    "ConstraintViolation",
    "Database",
    "DatabaseUrl",
    "Dialect",
    "ForeignKeyViolation",
    "Row",
    "StoreBusy",
    "StoreUnavailable",
    "Table",
    "Transaction",
    "UniqueViolation",
    "numbered_placeholders",
    "parse_database_url",
    "redact_url",
]


class StoreBusy(Conflict):
    """Another process held the database's write lock past the busy timeout (a large
    import, say). Nothing was written; retrying later will work."""


class StoreUnavailable(RemoteError):
    """The database server could not be reached, or dropped the connection under a lone
    statement (a restart, a failover, a terminated backend). The statement may or may not
    have been applied: send it again only if it is idempotent (a contact milestone is)."""


class ConstraintViolation(Conflict):
    """A statement broke a constraint of the schema; it changed nothing."""


class UniqueViolation(ConstraintViolation):
    """A value that must be unique is taken (a phone, a username, a primary key)."""


class ForeignKeyViolation(ConstraintViolation):
    """A reference to a row that does not exist (a customer id, a case id)."""


class Row(Protocol):
    """A result row: ``row[0]`` and ``row["column"]`` (aiosqlite.Row, asyncpg.Record)."""

    def __getitem__(self, key: int | str, /) -> Any: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Any]: ...


class Transaction(Protocol):
    """The statements of one all-or-nothing transaction (``async with db.transaction()``)."""

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the number of rows it changed."""
        ...

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    async def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Many new rows, fast (a bulk import): SQLite ``executemany``, PostgreSQL
        ``COPY``. Raises ConstraintViolation like an INSERT (and writes none of them)."""
        ...

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...
    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None: ...

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """An ``INSERT`` of one row into a table with an ``id`` key; returns the new id."""
        ...


class Database(Protocol):
    """An open database: lone statements are their own transaction."""

    dialect: Dialect
    #: where it is, fit for a log line (a file path, or a URL without its password)
    display: str
    #: how many independent lone writes are worth having in flight at once (the
    #: ContactRecorder's writer tasks): more than this only queue inside the backend
    concurrent_writes: int
    #: how many ready milestones one writer turn should put in one :meth:`batch` (1: none)
    write_batch: int

    async def write(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    async def insert_new(self, table: Table, row: Sequence[Any]) -> bool:
        """``INSERT`` one row unless a row with its unique key is stored (``ON CONFLICT DO
        NOTHING``), as its own transaction; True if it was inserted. PostgreSQL sends the
        rows that concurrent callers insert meanwhile together, in one statement and one
        commit (contact milestones of many calls at once); the result is the same as one
        statement each, in the order they were given.

        Raises:
            ConstraintViolation: the row breaks another constraint (a foreign key).
        """
        ...

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...
    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...
    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None: ...
    def transaction(self) -> AbstractAsyncContextManager[Transaction]: ...

    def batch(self) -> AbstractAsyncContextManager[None]:
        """The calling task's lone writes inside share one commit (SQLite); a write that
        fails inside is undone alone. Raises StoreBusy like a transaction."""
        ...

    async def close(self) -> None: ...


_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Table:
    """A table that :meth:`Database.insert_new` writes: its name, the columns a row gives
    (in order) and which of them form the unique key that ``ON CONFLICT`` skips on."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]

    def __post_init__(self) -> None:
        for ident in (self.name, *self.columns):
            if not _IDENTIFIER.match(ident):
                raise ValueError(f"not a plain SQL name: {ident!r}")
        if not set(self.key) <= set(self.columns):
            raise ValueError("the key must be among the columns")

    def insert_sql(self) -> str:
        """The one-row statement, ``?`` placeholders."""
        return _insert_sql(self)


@lru_cache(maxsize=64)
def _insert_sql(table: Table) -> str:
    marks = ", ".join("?" * len(table.columns))
    return (
        f"INSERT INTO {table.name}({', '.join(table.columns)}) VALUES ({marks})"
        " ON CONFLICT DO NOTHING"
    )


@dataclass(frozen=True, slots=True)
class Dialect:
    """The SQL fragments SQLite and PostgreSQL spell differently; everything else in a
    repository's SQL is common to both. Add a method here rather than branching on the
    engine in a repository."""

    name: str

    @property
    def is_postgres(self) -> bool:
        return self.name == "postgresql"

    def json_array(self, column: str, source: str, order: str) -> str:
        """A scalar sub-select: ``column`` of ``source`` (``table WHERE ...``) in ``order``,
        as JSON array text (``[]`` when there are no rows)."""
        if self.is_postgres:
            return (
                f"(SELECT coalesce(json_agg({column} ORDER BY {order}), '[]'::json)::text"
                f" FROM {source})"
            )
        return (
            f"(SELECT json_group_array({column}) FROM"
            f" (SELECT {column} FROM {source} ORDER BY {order}))"
        )

    def same_text(self, left: str, right: str) -> str:
        """``left`` equals ``right`` ignoring ASCII case (usernames)."""
        if self.is_postgres:
            return f"lower({left}) = lower({right})"
        return f"{left} = {right} COLLATE NOCASE"

    def fold(self, expr: str) -> str:
        """``expr`` for a case-insensitive ORDER BY (SQLite: its NOCASE column as it is)."""
        return f"lower({expr})" if self.is_postgres else expr

    def json_text(self, column: str, key: str) -> str:
        """The text of a top-level field of a JSON text column."""
        if not re.fullmatch(r"[a-z_]+", key):
            raise ValueError(f"not a plain JSON key: {key!r}")
        if self.is_postgres:
            return f"({column}::jsonb ->> '{key}')"
        return f"json_extract({column}, '$.{key}')"

    def json_values(self) -> str:
        """A sub-select of the elements of one parameter, a JSON array of strings."""
        if self.is_postgres:
            return "(SELECT json_array_elements_text(?::json))"
        return "(SELECT value FROM json_each(?))"

    def like(self, expr: str, pattern: str) -> str:
        """``expr`` matches the LIKE ``pattern`` ignoring ASCII case, ``\\`` escaping
        ``%`` and ``_`` (SQLite's LIKE already ignores case; PostgreSQL's lower() form
        can use the index on lower(name))."""
        if self.is_postgres:
            return f"lower({expr}) LIKE lower({pattern}) ESCAPE '\\'"
        return f"{expr} LIKE {pattern} ESCAPE '\\'"

    def slot(self, expr: str, seconds: int) -> str:
        """``floor(expr / seconds)`` as an integer, for a non-negative ``expr`` (epoch
        seconds into fixed-size buckets: a report's or a forecast's time slot).
        PostgreSQL's cast to an integer rounds, SQLite's truncates, and SQLite may lack
        ``floor()``: hence one spelling per engine."""
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
            raise ValueError(f"not a positive whole number of seconds: {seconds!r}")
        if self.is_postgres:
            return f"floor(({expr}) / {int(seconds)})::bigint"
        return f"CAST(({expr}) / {int(seconds)} AS INTEGER)"

    def least(self, left: str, right: str) -> str:
        """The smaller of two numbers (SQLite's two-argument ``min``)."""
        return f"least({left}, {right})" if self.is_postgres else f"min({left}, {right})"

    def greatest(self, left: str, right: str) -> str:
        """The larger of two numbers (SQLite's two-argument ``max``)."""
        return f"greatest({left}, {right})" if self.is_postgres else f"max({left}, {right})"

    def reset_id_sequence(self, table: str) -> str | None:
        """After rows were inserted with explicit ids: a statement that moves the id
        generator past them (PostgreSQL's identity), or None (SQLite picks max + 1)."""
        if not self.is_postgres:
            return None
        return (
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
            f" coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
        )


SQLITE = Dialect("sqlite")
POSTGRES = Dialect("postgresql")


@lru_cache(maxsize=1024)
def numbered_placeholders(sql: str) -> str:
    """``?`` and ``?N`` placeholders as PostgreSQL's ``$n``, numbered as SQLite numbers
    them: ``?N`` is parameter N, a bare ``?`` the largest number so far plus one (so
    ``?1, ?`` is ``$1, $2``). Quoted text and ``--`` / ``/* */`` comments are left as
    they are (a ``?`` or an apostrophe there is not SQL)."""
    out: list[str] = []
    largest = 0
    i = 0
    n = len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"":
            end = i + 1
            while end < n:
                if sql[end] == ch:
                    if end + 1 < n and sql[end + 1] == ch:  # '' is a quote inside
                        end += 2
                        continue
                    break
                end += 1
            out.append(sql[i : end + 1])
            i = end + 1
            continue
        if sql.startswith("--", i) or sql.startswith("/*", i):
            closing = "\n" if ch == "-" else "*/"
            end = sql.find(closing, i + 2)
            end = n if end < 0 else end + len(closing)
            out.append(sql[i:end])
            i = end
            continue
        if ch == "?":
            j = i + 1
            while j < n and sql[j].isdigit():
                j += 1
            number = int(sql[i + 1 : j]) if j > i + 1 else largest + 1
            largest = max(largest, number)
            out.append(f"${number}")
            i = j
            continue
        out.append(ch)
        i += 1
    return "".join(out)

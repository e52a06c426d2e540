"""The database layer under the store: URLs, placeholders, one set of errors, both engines
behaving alike (accounts and sessions, concurrency), PostgreSQL's migrations under a lock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

import crm_lookup.postgres_backend as postgres_backend
import crm_lookup.sqlite_backend as sqlite_backend
from config.errors import ConfigError, Conflict, InvalidInput, NotFound, PermissionDenied
from crm_lookup.database import (
    ForeignKeyViolation,
    UniqueViolation,
    numbered_placeholders,
    parse_database_url,
    redact_url,
)
from crm_lookup.importer import import_customers
from crm_lookup.sessions import StoredSession
from crm_lookup.store import Store, StoreBusy, open_store, resolve_database


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    s = await open_store(store_url)
    yield s
    await s.close()


# --- URLs and placeholders (no database) ---------------------------------------------------


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///var/switchboard.sqlite3", "var/switchboard.sqlite3"),
        ("sqlite:////srv/sb/crm.sqlite3", "/srv/sb/crm.sqlite3"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_sqlite_urls_name_a_relative_or_absolute_file(url: str, path: str) -> None:
    parsed = parse_database_url(url)
    assert (parsed.scheme, parsed.path) == ("sqlite", path)


def test_a_plain_path_still_means_a_sqlite_file() -> None:
    assert resolve_database("var/x.sqlite3").path == "var/x.sqlite3"
    assert resolve_database("postgresql://u:p@db:5432/sb").scheme == "postgresql"


@pytest.mark.parametrize(
    "url",
    [
        "mysql://u:secret-pw@db/sb",
        "sqlite://",
        "sqlite:///",
        "postgresql://u:secret-pw@/sb",
        "postgresql://u:secret-pw@db",
        "postgresql://u:secret-pw@db:notaport/sb",
        "postgresql://u@/sb?password=secret-pw",
        "postgresql://u@db?sslmode=require&password=secret-pw",
        "switchboard.sqlite3:",
    ],
)
def test_bad_urls_are_config_errors_that_never_show_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_database_url(url)
    assert "secret-pw" not in str(caught.value)


def test_redacted_url_keeps_everything_but_the_password() -> None:
    assert redact_url("postgresql://sb:p%40ss@db.example:5433/crm?sslmode=require") == (
        "postgresql://sb:***@db.example:5433/crm?sslmode=require"
    )
    assert redact_url("postgresql://db/crm") == "postgresql://db/crm"


def test_a_password_given_as_a_query_parameter_is_redacted_too() -> None:
    """libpq and asyncpg take ``?password=`` (and ``sslpassword=``, the client key's)."""
    url = "postgresql://sb@db:5433/crm?sslmode=require&password=secret-pw&sslpassword=key-pw"
    assert redact_url(url) == (
        "postgresql://sb@db:5433/crm?sslmode=require&password=***&sslpassword=***"
    )
    assert redact_url("postgresql://sb:pw1@db/crm?PassWord=secret-pw") == (
        "postgresql://sb:***@db/crm?PassWord=***"
    )
    parsed = parse_database_url(url)
    assert parsed.dsn == url  # asyncpg gets it whole
    assert "secret-pw" not in repr(parsed) and "key-pw" not in repr(parsed)
    assert "secret-pw" not in parsed.display()


def test_placeholders_are_numbered_outside_quotes_only() -> None:
    sql = "SELECT '?', \"a?\" FROM t WHERE a = ? AND b LIKE ?1 ESCAPE '\\' AND c = 'it''s ?' AND d = ?"
    assert numbered_placeholders(sql) == (
        "SELECT '?', \"a?\" FROM t WHERE a = $1 AND b LIKE $1 ESCAPE '\\' AND c = 'it''s ?' AND d = $2"
    )


def test_placeholders_are_numbered_as_sqlite_numbers_them() -> None:
    """A bare ``?`` after ``?N`` is the largest number so far plus one (SQLite's rule),
    so one statement means the same on both engines."""
    import sqlite3

    sql = "SELECT ?2, ?, ?1, ?"
    assert sqlite3.connect(":memory:").execute(sql, ("a", "b", "c", "d")).fetchone() == (
        "b",
        "c",
        "a",
        "d",
    )
    assert numbered_placeholders(sql) == "SELECT $2, $3, $1, $4"
    assert numbered_placeholders("SELECT ?1, ?") == "SELECT $1, $2"


def test_placeholders_skip_sql_comments() -> None:
    sql = "SELECT a -- isn't ?\nFROM t /* a 'b' ? */ WHERE c = ?"
    assert numbered_placeholders(sql) == "SELECT a -- isn't ?\nFROM t /* a 'b' ? */ WHERE c = $1"


# --- both backends -------------------------------------------------------------------------


async def test_rows_are_addressable_by_name_and_position(store: Store) -> None:
    ann = await store.customers.add("Ann", ["+15550001111"])
    row = await store.fetchone("SELECT id, name AS who FROM customers WHERE id = ?", (ann.id,))
    assert row is not None and row["who"] == row[1] == "Ann" and row["id"] == ann.id


async def test_constraint_violations_are_ours_on_both_engines(store: Store) -> None:
    ann = await store.customers.add("Ann", ["+15550001111"])
    with pytest.raises(UniqueViolation):
        await store.write(
            "INSERT INTO phones(phone, customer_id) VALUES (?, ?)", ("+15550001111", ann.id)
        )
    with pytest.raises(ForeignKeyViolation):
        await store.write("INSERT INTO phones(phone, customer_id) VALUES (?, ?)", ("+1555", 999))
    # Inside a transaction too, and the transaction is rolled back whole.
    with pytest.raises(UniqueViolation):
        async with store.transaction() as tx:
            await tx.execute("UPDATE customers SET notes = 'changed' WHERE id = ?", (ann.id,))
            await tx.executemany(
                "INSERT INTO accounts(account, customer_id) VALUES (?, ?)",
                [("A-1", ann.id), ("A-1", ann.id)],
            )
    assert (await store.customers.get(ann.id)).notes == ""
    assert issubclass(UniqueViolation, Conflict)


async def test_usernames_are_unique_and_found_ignoring_case(store: Store) -> None:
    ada = await store.users.add("Ada", "$hash", "admin")
    assert await store.users.get_by_username("ADA") == ada
    with pytest.raises(Conflict):
        await store.users.add("aDA", "$hash", "agent")
    await store.users.add("bob", "$hash", "agent", "1002")
    await store.users.add("Carl", "$hash", "agent", "1003")
    assert [u.username for u in await store.users.list()] == ["Ada", "bob", "Carl"]


async def test_a_user_is_edited_and_the_old_rights_end_with_their_sessions(
    store: Store,
) -> None:
    await store.users.add("Ada", "$hash", "admin")
    await store.users.add("bob", "$hash", "agent", "1002")
    await store.users.add("Carl", "$hash", "agent", "1003")
    now = time.time()
    await store.sessions.save(StoredSession("k2", "bob", "agent", "1002", "c2", now + 60))
    before = await store.users.update("BOB", role="supervisor", agent_id="1004")
    assert (before.role, before.agent_id) == ("agent", "1002")
    bob = await store.users.get_by_username("bob")
    assert bob is not None and (bob.role, bob.agent_id) == ("supervisor", "1004")
    assert await store.sessions.live_keys(["k2"], now) == set()
    await store.users.update("bob", agent_id=None)
    bob = await store.users.get_by_username("bob")
    assert bob is not None and (bob.role, bob.agent_id) == ("supervisor", None)
    with pytest.raises(Conflict, match="1003"):
        await store.users.update("bob", agent_id="1003")
    with pytest.raises(PermissionDenied, match="last admin"):
        await store.users.update("ada", role="agent")
    with pytest.raises(InvalidInput):
        await store.users.update("bob", role="root")
    with pytest.raises(NotFound):
        await store.users.update("nobody", role="agent")


async def test_two_edits_giving_one_agent_id_at_once_cannot_both_win(store: Store) -> None:
    await store.users.add("bob", "$hash", "supervisor")
    await store.users.add("carl", "$hash", "supervisor")
    results = await asyncio.gather(
        store.users.update("bob", agent_id="1009"),
        store.users.update("carl", agent_id="1009"),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "User"]
    owners = await store.fetchall("SELECT username FROM users WHERE agent_id = '1009'")
    assert len(owners) == 1


async def test_last_login_and_language_are_kept_per_user(store: Store) -> None:
    await store.users.add("Ada", "$hash", "admin")
    ada = await store.users.get_by_username("ada")
    assert ada is not None and (ada.last_login, ada.language) == (None, "")
    now = time.time()
    await store.sessions.save(StoredSession("k1", "ada", "admin", None, "c1", now + 60))
    await store.users.record_login("ADA", 1_800_000_000.5)
    assert (await store.users.set_language("ada", "ru")).language == "ru"
    ada = await store.users.get_by_username("ada")
    assert ada is not None and (ada.last_login, ada.language) == (1_800_000_000.5, "ru")
    assert ada.to_json()["last_login"] == 1_800_000_000.5
    assert await store.sessions.live_keys(["k1"], now) == {"k1"}  # neither ends a session
    with pytest.raises(InvalidInput, match="language"):
        await store.users.set_language("ada", "xx")


async def test_sessions_follow_their_user_ignoring_case(store: Store) -> None:
    await store.users.add("Ada", "$hash", "admin")
    await store.users.add("bob", "$hash", "agent", "1002")
    now = time.time()
    await store.sessions.save(StoredSession("k1", "ada", "admin", None, "c1", now + 60))
    await store.sessions.save(StoredSession("k2", "BOB", "agent", "1002", "c2", now + 60))
    await store.sessions.save(StoredSession("k3", "bob", "agent", "1002", "c3", now - 1))
    # The same key again replaces the row (a renewed session).
    await store.sessions.save(StoredSession("k1", "ada", "admin", None, "c1b", now + 120))
    got = await store.sessions.get("k1", now)
    assert got is not None and (got.username, got.csrf) == ("Ada", "c1b")
    assert await store.sessions.live_keys(["k1", "k2", "k3", "nope"], now) == {"k1", "k2"}
    await store.users.set_disabled("bob", True)  # ends bob's sessions in the same transaction
    assert await store.sessions.live_keys(["k1", "k2"], now) == {"k1"}
    await store.sessions.delete_user("ADA")
    assert await store.sessions.get("k1", now) is None
    assert await store.sessions.purge(now) == 0  # k3 went with bob's change


async def test_many_calls_writing_at_once_each_keep_a_whole_row(store: Store) -> None:
    await store.customers.add("Ann", ["+15550001111"])

    async def call(i: int) -> None:
        key = f"c{i}"
        base = 1000.0 + i
        await store.contacts.arrived(key, "+15550001111", "100", at=base)
        await store.contacts.queued(key, "sales", at=base + 1)
        await asyncio.gather(  # milestones of one call racing each other
            store.contacts.offered(key, "1001", at=base + 2),
            store.contacts.offered(key, "1002", at=base + 3),
            store.contacts.held(key, at=base + 10),
        )
        await store.contacts.answered(key, "1002", at=base + 4)
        await store.contacts.unheld(key, at=base + 15)
        await store.contacts.ended(key, at=base + 30)

    await asyncio.gather(*(call(i) for i in range(40)))
    for i in (0, 17, 39):
        c = await store.contacts.get_by_key(f"c{i}")
        assert (c.offers, c.agent_id, c.wait_seconds, c.hold_seconds) == (2, "1002", 3.0, 5.0)
        assert c.talk_seconds == 30 - 4 - 5 and c.customer_id is not None


async def test_ids_keep_counting_after_an_import_gave_explicit_ones(
    store: Store, tmp_path: Path
) -> None:
    csv_path = tmp_path / "c.csv"
    csv_path.write_text("name,phone\nAnn,+15550001111\nBob,+15550002222\n", encoding="utf-8")
    report = await import_customers(store, csv_path)
    assert report.imported == 2
    carl = await store.customers.add("Carl", ["+15550003333"])
    assert carl.id == 3
    assert [c.name for c in await store.customers.search("+15550002222")] == ["Bob"]


LATEST = max(v for v, _ in postgres_backend.MIGRATIONS)


async def test_a_migration_numbered_below_the_latest_still_applies(
    blank_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migration 6 landed while 5 was kept free for work in progress: a database already
    at 6 must still get 5 when it ships, not skip it for being below the highest."""
    backend = postgres_backend if blank_store_url.startswith("postgresql") else sqlite_backend
    migrations = backend.MIGRATIONS
    without = tuple(m for m in migrations if m[0] != 5)
    monkeypatch.setattr(backend, "MIGRATIONS", without)
    store = await open_store(blank_store_url)
    await store.close()
    later = (5, "CREATE TABLE later_five (id integer PRIMARY KEY);")
    monkeypatch.setattr(backend, "MIGRATIONS", (*without[:4], later, *without[4:]))
    store = await open_store(blank_store_url)
    try:
        rows = await store.fetchall("SELECT version FROM schema_version ORDER BY version")
        assert 5 in [r[0] for r in rows]
        await store.write("INSERT INTO later_five (id) VALUES (1)")
        assert await store.fetchall("SELECT id FROM later_five") != []
    finally:
        await store.close()
    store = await open_store(blank_store_url)  # and only once
    await store.close()


async def test_a_database_at_migration_8_gets_merged_customers_on_open(
    blank_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migration 8 shipped without merged_customers; a store already at 8 must get the
    table from 9 when it opens, or merge and the old-id redirect would fail there."""
    backend = postgres_backend if blank_store_url.startswith("postgresql") else sqlite_backend
    full = backend.MIGRATIONS
    monkeypatch.setattr(backend, "MIGRATIONS", tuple(m for m in full if m[0] <= 8))
    store = await open_store(blank_store_url)
    keep = await store.customers.add("Ada Lovelace", ["+15551120001"])
    dup = await store.customers.add("A. Lovelace", ["+15551120002"])
    await store.close()
    monkeypatch.setattr(backend, "MIGRATIONS", full)
    store = await open_store(blank_store_url)
    try:
        assert await store.schema_version() == LATEST
        await store.customers.merge(keep.id, dup.id, actor="alice")
        assert await store.customers.merged_into(dup.id) == keep.id
    finally:
        await store.close()


# --- PostgreSQL only -----------------------------------------------------------------------


async def test_two_nodes_starting_at_once_migrate_once(postgres_url: str) -> None:
    stores = await asyncio.gather(*(open_store(postgres_url) for _ in range(4)))
    try:
        rows = await stores[0].fetchall("SELECT version FROM schema_version ORDER BY version")
        assert [r[0] for r in rows] == [v for v, _ in postgres_backend.MIGRATIONS]
        assert all([await s.schema_version() == LATEST for s in stores])
    finally:
        for s in stores:
            await s.close()


async def test_a_database_from_a_newer_release_is_refused(postgres_url: str) -> None:
    store = await open_store(postgres_url)
    await store.write("INSERT INTO schema_version(version, applied_at) VALUES (99, 0)")
    await store.close()
    with pytest.raises(ConfigError, match="newer release"):
        await open_store(postgres_url)


async def test_a_failed_migration_leaves_the_previous_version(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = (
        *postgres_backend.MIGRATIONS[:3],
        (4, "CREATE TABLE agent_states (x int); SELECT 1/0"),
    )
    monkeypatch.setattr(postgres_backend, "MIGRATIONS", broken)
    with pytest.raises(ConfigError):
        await open_store(postgres_url)
    monkeypatch.undo()
    store = await open_store(postgres_url)  # the real migration 4 applies cleanly
    try:
        assert await store.schema_version() == LATEST
    finally:
        await store.close()


async def test_connection_errors_never_show_the_password(postgres_url: str) -> None:
    parts = urlsplit(postgres_url)
    password = parts.password
    assert password
    wrong_password = postgres_url.replace(f":{password}@", ":not-the-Secret-42@")
    with pytest.raises(ConfigError) as caught:
        await open_store(wrong_password)
    assert "not-the-Secret-42" not in str(caught.value) and "***" in str(caught.value)
    closed_port = postgres_url.replace(f":{parts.port}/", ":1/")
    with pytest.raises(ConfigError) as caught:
        await open_store(closed_port)
    assert password not in str(caught.value)
    store = await open_store(postgres_url)
    try:
        assert password not in store.path and "***" in store.path
    finally:
        await store.close()
    in_query = postgres_url.replace(f":{password}@", "@") + "?password=not-the-Secret-42"
    with pytest.raises(ConfigError) as caught:
        await open_store(in_query)
    assert "not-the-Secret-42" not in str(caught.value) and "password=***" in str(caught.value)
    store = await open_store(postgres_url.replace(f":{password}@", "@") + f"?password={password}")
    try:
        assert password not in store.path and "password=***" in store.path
    finally:
        await store.close()


async def test_milestones_written_at_once_each_get_their_own_answer(store: Store) -> None:
    """Concurrent milestones (sent together on PostgreSQL): a replay counts once, an
    unknown customer fails only its own call."""
    await store.customers.add("Ann", ["+15550001111"])
    log = store.contacts
    first = await asyncio.gather(
        *(log.arrived(f"k{i}", "+15550001111", "100", at=10.0 + i) for i in range(30))
    )
    assert first == [True] * 30
    replays = await asyncio.gather(
        *(log.queued(f"k{i % 10}", "sales", at=20.0) for i in range(30)),
        return_exceptions=True,
    )
    assert sorted(replays, key=str) == [False] * 20 + [True] * 10
    mixed = await asyncio.gather(
        *(log.ended(f"k{i}", at=40.0, outcome="answered") for i in range(10)),
        log.arrived("bad", "+15550002222", "100", at=41.0, customer_id=999),
        *(log.ended(f"k{i}", at=40.0, outcome="answered") for i in range(10, 20)),
        return_exceptions=True,
    )
    assert [type(m).__name__ for m in mixed] == ["bool"] * 10 + ["NotFound"] + ["bool"] * 10
    assert all(m is True for m in mixed if isinstance(m, bool))
    with pytest.raises(NotFound):
        await log.get_by_key("bad")
    assert (await log.get_by_key("k19")).outcome == "answered"
    assert (await log.get_by_key("k25")).outcome == ""


async def test_postgres_sends_concurrent_milestones_together(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes: list[int] = []
    send = postgres_backend._InsertBatcher._send

    async def counting(self: Any, batch: list[Any]) -> None:
        sizes.append(len(batch))
        await send(self, batch)

    monkeypatch.setattr(postgres_backend._InsertBatcher, "_send", counting)
    store = await open_store(postgres_url)
    try:
        assert await store.contacts.arrived("alone", "+15550001111", "100", at=1.0)
        assert sizes == [1]  # a quiet center: sent at once, alone
        await asyncio.gather(
            *(store.contacts.arrived(f"c{i}", "+15550001111", "100", at=2.0) for i in range(50))
        )
        assert sum(sizes) == 51 and len(sizes) < 10, sizes
        count = await store.fetchone("SELECT count(*) FROM contacts")
        assert count is not None and count[0] == 51
    finally:
        await store.close()


async def test_postgres_transactions_wait_out_another_nodes_then_report_busy(
    postgres_url: str,
) -> None:
    """A node's import holds the writer lock: another node's transactions fail with
    StoreBusy after the busy timeout, as on SQLite (test_crm_store's
    test_writer_locked_out_by_another_process_gets_store_busy); on PostgreSQL its
    milestones (lone statements) go on meanwhile."""
    importer = await open_store(postgres_url)
    service = await open_store(postgres_url, busy_timeout_ms=50)
    try:
        async with importer.transaction() as tx:
            await tx.execute("INSERT INTO audit(at, actor, action) VALUES (0, 'x', 'hold')")
            with pytest.raises(StoreBusy):
                await service.customers.add("Ann", ["+15550001111"])
            assert await service.contacts.arrived("B1", "+15550001111", "100")
        assert (await service.customers.add("Ann", ["+15550001111"])).name == "Ann"
    finally:
        await service.close()
        await importer.close()


async def test_postgres_a_row_the_driver_refuses_fails_alone(postgres_url: str) -> None:
    """One row of a batch that cannot be encoded (json.dumps and asyncpg refuse it: a
    TypeError, not a server error) fails its own caller; every other row is written."""
    from crm_lookup.contacts import EVENTS

    store = await open_store(postgres_url)
    try:
        rows = [(f"c{i}", "held", "", 1.0 + i, "{}") for i in range(20)]
        rows[7] = ("c7", "held", "", b"\x00", "{}")  # neither JSON nor a float
        results = await asyncio.gather(
            *(store.db.insert_new(EVENTS, row) for row in rows), return_exceptions=True
        )
        assert [r for i, r in enumerate(results) if i != 7] == [True] * 19, results
        assert isinstance(results[7], Exception), results
        count = await store.fetchone("SELECT count(*) FROM contact_events")
        assert count is not None and count[0] == 19
    finally:
        await store.close()


async def test_postgres_lone_statements_wait_out_a_row_lock_then_report_busy(
    postgres_url: str,
) -> None:
    """A lone statement (a milestone, an update) waiting on a row another node's
    transaction holds fails with StoreBusy after the busy timeout, as SQLite's busy
    timeout bounds every statement; it used to wait for as long as the lock was held,
    keeping its pool connection (and the contact writer) stuck meanwhile."""
    other_node = await open_store(postgres_url)
    service = await open_store(postgres_url, busy_timeout_ms=50)
    try:
        assert await service.contacts.arrived("L1", "+15550001111", "100", at=1.0)
        async with other_node.transaction() as tx:
            await tx.fetchone("SELECT id FROM contacts WHERE key = ? FOR UPDATE", ("L1",))
            started = time.monotonic()
            with pytest.raises(StoreBusy):
                await asyncio.wait_for(service.contacts.queued("L1", "sales", at=2.0), 20)
            with pytest.raises(StoreBusy):
                await asyncio.wait_for(
                    service.write("UPDATE contacts SET notes = 'x' WHERE key = ?", ("L1",)), 20
                )
            assert time.monotonic() - started < 10
        assert await service.contacts.queued("L1", "sales", at=2.0)
    finally:
        await service.close()
        await other_node.close()


async def _recovers(store: Store, key: str, within: float = 20.0) -> int:
    """Write milestones until one is stored; how many failed first."""
    failures = 0
    deadline = time.monotonic() + within
    while True:
        try:
            await store.contacts.arrived(key, "+15550001111", "100", at=time.time())
            return failures
        except Exception:
            failures += 1
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def test_postgres_store_recovers_when_the_server_restarts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pool reconnects by itself: after a restart (and while the server is down,
    calls fail at once rather than hang), the running service writes again with no
    restart of its own. A private server: the session's is shared."""
    from agent_console.crm import Crm
    from config.settings import Settings
    from tests.postgres_server import ENV_URL, start_server

    monkeypatch.delenv(ENV_URL, raising=False)
    server = await asyncio.to_thread(start_server)
    try:
        url = await asyncio.to_thread(server.create_database, "sb_restart")
        store = await open_store(url, pool_min_size=2, pool_max_size=4)
        try:
            assert await store.contacts.arrived("before", "+15550001111", "100", at=1.0)
            await asyncio.to_thread(server.shut_down)
            await asyncio.to_thread(server.start_again)
            assert await _recovers(store, "after-restart") <= 4  # at most one per connection
            assert await store.contacts.queued("before", "sales", at=2.0)

            await asyncio.to_thread(server.shut_down)
            started = time.monotonic()
            with pytest.raises(Exception):  # noqa: B017 - the driver's own, not ours
                await store.contacts.arrived("while-down", "+15550001111", "100", at=3.0)
            health = await Crm(Settings(), store).ping()
            assert health["ok"] is False and time.monotonic() - started < 10
            await asyncio.to_thread(server.start_again)
            await _recovers(store, "after-outage")
            assert (await Crm(Settings(), store).ping())["ok"] is True
            keys = await store.fetchall("SELECT key FROM contacts ORDER BY id")
            assert [row[0] for row in keys] == ["before", "after-restart", "after-outage"]
        finally:
            await store.close()
    finally:
        await asyncio.to_thread(server.stop)


async def test_postgres_a_transaction_cancelled_mid_statement_leaves_a_clean_connection(
    postgres_url: str,
) -> None:
    """Cancelled inside a statement of a transaction (a client gone, a shutdown): the
    transaction is rolled back, the writer lock released, and the pool's one connection
    serves the next transaction (no reset query runs on release: see _keep_session)."""
    store = await open_store(postgres_url, pool_min_size=1, pool_max_size=1)
    try:

        async def slow_change() -> None:
            async with store.transaction() as tx:
                await tx.execute("INSERT INTO audit(at, actor, action) VALUES (0, 'x', 'gone')")
                await tx.execute("SELECT pg_sleep(30)")

        task = asyncio.create_task(slow_change())
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        started = time.monotonic()
        async with store.transaction() as tx:
            locks = await tx.fetchone(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid <> "
                "pg_backend_pid()"
            )
            assert locks is not None and locks[0] == 0
            await tx.execute("INSERT INTO audit(at, actor, action) VALUES (1, 'y', 'kept')")
        assert time.monotonic() - started < 5
        rows = await store.fetchall("SELECT action FROM audit ORDER BY at")
        assert [r[0] for r in rows] == ["kept"]
        assert await store.fetchone("SELECT 1") is not None
    finally:
        await store.close()


async def test_a_wrap_up_draft_is_kept_until_the_wrap_up_is_saved(store: Store) -> None:
    await store.contacts.arrived("k-draft", "+15550001111", "+15550000000", "inbound", 1.0)
    contact = await store.contacts.get_by_key("k-draft")
    assert await store.drafts.get(contact.id) is None
    data = {
        "disposition": "resolved",
        "notes": "привет — line one\nline two",
        "case": {"mode": "none"},
    }
    saved_at = await store.drafts.save(contact.id, "1001", data)
    draft = await store.drafts.get(contact.id)
    assert draft is not None and (draft.agent_id, dict(draft.data)) == ("1001", data)
    assert draft.updated_at == saved_at
    await store.drafts.save(contact.id, "1001", {"notes": "newer"})
    assert [dict(d.data) for d in await store.drafts.for_agent("1001")] == [{"notes": "newer"}]
    # A draft for a contact the history has not written yet is kept too.
    await store.drafts.save(999_999, "1001", {"notes": "early"})
    assert len(await store.drafts.for_agent("1001")) == 2
    with pytest.raises(InvalidInput, match="too large"):
        await store.drafts.save(contact.id, "1001", {"notes": "x" * 40_000})
    await store.contacts.wrapup(contact.id, "resolved", "newer")
    assert await store.drafts.get(contact.id) is None  # saved: the draft went with it
    await store.drafts.delete(999_999)
    assert await store.drafts.for_agent("1001") == []


async def test_likely_duplicates_by_name_email_and_a_shared_phone(store: Store) -> None:
    ada = await store.customers.add("Ada Lovelace", ["+15550001111"], email="ada@engines.example")
    twin = await store.customers.add("  ada   LOVELACE ", ["+15550002222"])
    mail = await store.customers.add("A. King", ["+15550003333"], email="ADA@engines.example")
    phone = await store.customers.add("Augusta King", ["+15550004444"])
    initial = await store.customers.add("Lovelace, A.", ["+15550006666"])
    await store.customers.add("Charles Babbage", ["+15550005555"], email="cb@engines.example")
    await store.customers.add("Bea Lovelace", ["+15550007777"])  # another initial
    await store.customers.add("Lovelace Ltd", ["+15550008888"])  # a company, not a surname
    # Ada called once from Augusta's number, dialled nationally: compared in E.164.
    await store.contacts.arrived("dup-1", "(555) 000-4444", "+15550000000", "inbound", 1.0, ada.id)
    found = {c.id: why for c, why in await store.customers.likely_duplicates(ada.id)}
    assert found == {
        twin.id: ["same_name"],
        mail.id: ["same_email"],
        phone.id: ["same_phone"],
        initial.id: ["similar_name"],
    }
    strongest = (await store.customers.likely_duplicates(ada.id))[0]
    assert strongest == (await store.customers.get(phone.id), ["same_phone"])
    assert {c.id: w for c, w in await store.customers.likely_duplicates(twin.id)} == {
        ada.id: ["same_name"],
        initial.id: ["similar_name"],
    }
    # Accents and punctuation fold too; a rename moves the keys with the name.
    jose = await store.customers.add("José Álvarez-Ruiz", ["+15550009999"])
    other = await store.customers.add("Jose Alvarez Ruiz", ["+15550009998"])
    assert [c.id for c, _ in await store.customers.likely_duplicates(jose.id)] == [other.id]
    await store.customers.update(other.id, name="Pepe Gomez")
    assert await store.customers.likely_duplicates(jose.id) == []
    assert len(await store.customers.likely_duplicates(ada.id, limit=2)) == 2
    with pytest.raises(InvalidInput):
        await store.customers.likely_duplicates(ada.id, limit=0)
    with pytest.raises(NotFound):
        await store.customers.likely_duplicates(999_999)

    # Customers stored before migration 8 get their keys at open.
    async with store.transaction() as tx:
        await tx.execute("UPDATE customers SET name_key = '', surname_key = ''")
    assert await store.customers.likely_duplicates(twin.id) == []
    assert await store.customers.fill_name_keys(batch=3) == await store.customers.count()
    assert await store.customers.fill_name_keys() == 0
    assert {c.id for c, _ in await store.customers.likely_duplicates(twin.id)} == {
        ada.id,
        initial.id,
    }

    merged = await store.customers.merge(ada.id, phone.id, actor="alice")
    assert set(merged.phones) == {"+15550001111", "+15550004444"}
    with pytest.raises(NotFound):
        await store.customers.get(phone.id)
    assert phone.id not in {c.id for c, _ in await store.customers.likely_duplicates(ada.id)}


def test_name_keys_fold_case_accents_spacing_and_order() -> None:
    from crm_lookup.customers import name_keys

    assert name_keys("Ada Lovelace") == ("ada lovelace", "lovelace a")
    assert name_keys(" ADA  lovelace") == ("ada lovelace", "lovelace a")
    assert name_keys("Lovelace, Ada") == ("lovelace ada", "lovelace a")
    assert name_keys("Zoë O'Brien")[0] == "zoe o brien"
    assert name_keys("Ёлкин Пётр")[0] == "елкин петр"
    assert name_keys("Madonna") == ("madonna", "")
    assert name_keys("Acme Corp") == ("acme corp", "")
    assert name_keys("---") == ("", "")


async def test_merge_moves_phones_accounts_contacts_and_cases(store: Store) -> None:
    keep = await store.customers.add("Ada Lovelace", ["+15551110001"], accounts=["A-1"])
    dup = await store.customers.add(
        "ada lovelace",
        ["+15551110002"],
        accounts=["A-2"],
        company="Engines",
        email="ada@engines.example",
        tier="vip",
        notes="from the old CRM",
    )
    await store.contacts.arrived("m-1", "+15551110002", "+15550000000", "inbound", 1.0, dup.id)
    case = await store.cases.open(dup.id, "broken engine")
    last = await store.customers.add("Ada King", ["+15551110003"])
    merged = await store.customers.merge(keep.id, dup.id, actor="alice")
    assert merged.phones == ("+15551110001", "+15551110002")
    assert merged.accounts == ("A-1", "A-2")
    assert (merged.company, merged.email, merged.tier) == ("Engines", "ada@engines.example", "VIP")
    assert "from the old CRM" in merged.notes
    page = await store.contacts.history(keep.id, 10, 0)
    assert [c.key for c in page.items] == ["m-1"]
    assert (await store.cases.get(case.id)).customer_id == keep.id
    assert (await store.customers.find_by_phone("+15551110002")).id == keep.id
    entry = next(e for e in await store.audit.list(limit=5) if e.action == "customer.merge")
    assert entry.actor == "alice" and entry.details["contacts"] == 1
    assert await store.customers.merged_into(dup.id) == keep.id
    assert await store.customers.merged_into(keep.id) is None
    # Merged again: whoever had joined the merged-away customer follows it.
    await store.customers.merge(last.id, keep.id, actor="alice")
    assert await store.customers.merged_into(dup.id) == last.id
    assert await store.customers.merged_into(keep.id) == last.id
    keep = last
    with pytest.raises(InvalidInput):
        await store.customers.merge(keep.id, keep.id)
    with pytest.raises(NotFound):
        await store.customers.merge(keep.id, dup.id)
    # An id a customer has again (SQLite reuses the highest id after a delete) is no
    # longer "merged away".
    one = await store.customers.add("Reuse One", ["+15551110011"])
    two = await store.customers.add("Reuse Two", ["+15551110012"])
    await store.customers.merge(one.id, two.id)
    three = await store.customers.add("Reuse Three", ["+15551110013"])
    assert await store.customers.merged_into(two.id) == (None if three.id == two.id else one.id)

"""The private PostgreSQL the store tests run against (tests/postgres_server.py)."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.postgres_server import PostgresServer


async def test_the_server_listens_on_loopback_and_wants_its_password(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    conn = await asyncpg.connect(postgres_url)
    try:
        assert await conn.fetchval("SELECT 1 + 1") == 2
        assert await conn.fetchval("SELECT current_database()") == postgres_url.rsplit("/", 1)[1]
        if postgres_server.owned:
            assert await conn.fetchval("SELECT inet_server_addr()::text") == "127.0.0.1/32"
    finally:
        await conn.close()
    if postgres_server.owned:
        wrong = postgres_url.replace("postgres:", "postgres:wrong", 1)
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(wrong)


async def test_each_test_gets_its_own_database(postgres_url: str, postgres_server: Any) -> None:
    other = postgres_server.create_database(postgres_server.new_database_name())
    try:
        a = await asyncpg.connect(postgres_url)
        b = await asyncpg.connect(other)
        try:
            await a.execute("CREATE TABLE t (x int)")
            tables = "SELECT count(*) FROM pg_tables WHERE tablename = 't'"
            assert await a.fetchval(tables) == 1
            assert await b.fetchval(tables) == 0
        finally:
            await a.close()
            await b.close()
    finally:
        postgres_server.drop_database(other.rsplit("/", 1)[1])


def test_without_the_binaries_the_message_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tests.postgres_server as launcher

    monkeypatch.setattr(launcher.glob, "glob", lambda pattern: [])
    monkeypatch.delenv(launcher.ENV_URL, raising=False)
    with pytest.raises(launcher.PostgresUnavailable, match="apt-get install -y postgresql"):
        launcher.start_server()

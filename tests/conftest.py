"""Fixtures shared by several test modules."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"  # Debian's chromium, installed by .ci/run and ./run-tests


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """A headless chromium driven by Playwright (no downloaded browser build)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-background-networking"],
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[Any]:
    """The console on a real aiohttp server and store with the FakeCenter playing the PBX
    (tests/console_fakes.py), holding a VIP customer with a past contact (``world.ids``).
    A module with a picture of its own defines its own ``world``."""
    from tests.console_fakes import World, seed_history

    w = await World().start(tmp_path)
    w.ids = await seed_history(w)
    yield w
    await w.close()


@pytest.fixture
async def pbx() -> AsyncIterator[Any]:
    """The scripted Asterisk of tests/test_ami_client.py on 127.0.0.1 (AMI and AGI tests)."""
    from tests.test_ami_client import FakeAsterisk

    server = FakeAsterisk()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """One private PostgreSQL for the whole session (tests/postgres_server.py).

    Fails (never skips) when PostgreSQL is not installed, with how to install it.
    """
    from tests.postgres_server import PostgresUnavailable, start_server

    try:
        server = start_server()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: Any) -> Iterator[str]:
    """A fresh, empty database on the session's server, dropped after the test."""
    name = postgres_server.new_database_name()
    url: str = postgres_server.create_database(name)
    try:
        yield url
    finally:
        postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def postgres_template(postgres_server: Any) -> Iterator[str]:
    """A database migrated to the current schema once, for fresh copies to be cloned from."""
    from crm_lookup.store import open_store
    from tests.postgres_server import run_in_thread

    name = postgres_server.new_database_name("sb_template")
    url = postgres_server.create_database(name)

    async def migrate() -> None:
        store = await open_store(url, pool_min_size=1, pool_max_size=1)
        await store.close()

    try:
        run_in_thread(migrate)
        yield name
    finally:
        postgres_server.drop_database(name)  # matters on a SWITCHBOARD_TEST_POSTGRES_URL server


STORE_BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=STORE_BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """``database.url`` of an empty, current store on each backend in turn: a SQLite file
    under tmp_path, then a PostgreSQL database cloned from the migrated template."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'crm.sqlite3'}"
        return
    server = request.getfixturevalue("postgres_server")
    template = request.getfixturevalue("postgres_template")
    name = server.new_database_name()
    url: str = server.create_database(name, template=template)
    try:
        yield url
    finally:
        server.drop_database(name)


@pytest.fixture(params=STORE_BACKENDS)
def blank_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Like :func:`store_url` but nothing in it, not even the schema (migration tests)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'blank.sqlite3'}"
        return
    yield request.getfixturevalue("postgres_url")

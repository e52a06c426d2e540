"""Fixtures shared by several test modules."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
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
async def postgres_url(postgres_server: Any) -> AsyncIterator[str]:
    """A fresh, empty database on the session's server, dropped after the test."""
    name = postgres_server.new_database_name()
    url: str = await postgres_server.create_database(name)
    try:
        yield url
    finally:
        await postgres_server.drop_database(name)

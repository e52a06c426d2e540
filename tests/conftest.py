"""Fixtures shared by the browser tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
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

"""A console whose session is gone goes to the login page by itself, and one whose
connection is lost says so with a banner and a retry (issue 13).

Before the fix the page stayed on "reconnecting…" forever after a restart that lost the
session: ``/ws`` answers 401 before the upgrade, the browser reports a bare 1006, and the
page only went to /login on 1008.
"""

from __future__ import annotations

from typing import Any

import pytest

from agent_console.keys import AUTH, HUB
from tests.browser_kit import WAIT_MS, signed_in
from tests.console_fakes import PASSWORD

pytestmark = pytest.mark.browser


async def test_a_lost_session_sends_the_page_to_login(world: Any, browser: Any) -> None:
    page = await signed_in(browser, world.origin, "alice", password=PASSWORD)
    assert page.url.endswith("/agent")
    auth = world.app[AUTH]
    for token in list(auth.sessions):
        await auth.forget(token)  # what a restart that lost the sessions leaves behind
    await world.app[HUB].shutdown()  # 1001 going away, as a restarting server closes
    await page.wait_for_url("**/login", timeout=WAIT_MS)
    assert page.errors == []


async def test_a_lost_connection_shows_a_banner_and_comes_back(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    page = await signed_in(browser, world.origin, "alice", password=PASSWORD)
    banner = page.locator("#conn-banner")
    await expect(banner).to_be_hidden()
    context = page.context
    await context.set_offline(True)
    await world.app[HUB].shutdown()
    await expect(banner).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#conn")).to_have_text("Reconnecting…")
    await context.set_offline(False)
    await page.click("#conn-retry")
    await expect(page.locator("#conn")).to_have_text("Live", timeout=WAIT_MS)
    await expect(banner).to_be_hidden()
    assert page.url.endswith("/agent")

"""The wallboard's "needs +N agents" in a real browser (chromium): the words on the queue
tiles follow the forecast and the agents who sign in. Screenshot:
tests/artifacts/wallboard-staffing-*.png."""

from __future__ import annotations

from typing import Any

import pytest

from agent_console.keys import STAFFING
from crm_lookup.staffing import agents_needed
from tests.browser_kit import WAIT_MS, assert_accessible, screenshots, signed_in
from tests.console_fakes import PASSWORD, World
from tests.test_staffing_api import seed_last_week

pytestmark = pytest.mark.browser


@pytest.fixture
async def world(tmp_path: Any) -> Any:
    w = await World().start(tmp_path)
    yield w
    await w.close()


async def test_tiles_say_how_many_agents_are_missing(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    _, fixed = await seed_last_week(world)
    board = world.app[STAFFING]
    board.clock = lambda: fixed
    await board.refresh()
    needed = agents_needed(40, 180, 900, 0.8, 20).agents  # sales, config/queues.yaml
    page = await signed_in(browser, world.origin, "root", password=PASSWORD)
    sales = page.locator('.tile[data-queue="sales"] .staffing')
    await expect(sales).to_have_text(f"Needs +{needed} agents", timeout=WAIT_MS)
    await expect(sales).to_have_attribute("data-needs", "short")
    detail = page.locator('.tile[data-queue="sales"] .staffing-detail')
    await expect(detail).to_contain_text(f"{needed} agents needed, 0 logged in")
    # billing has no history: nothing to staff
    await expect(page.locator('.tile[data-queue="billing"] .staffing')).to_have_text("Staffed")

    # agents sign in; the next refresh (every minute in the service) updates the words
    await world.center.set_agent_state("1001", "ready")
    await world.center.set_agent_state("1003", "not_ready", "break")
    await world.center.set_agent_state("2001", "ready")
    await board.refresh()
    await expect(sales).to_have_text(f"Needs +{needed - 3} agents", timeout=WAIT_MS)
    support_needed = agents_needed(4, 360, 900, 0.8, 30).agents
    await world.center.set_agent_state("1002", "ready")
    await board.refresh()
    support = page.locator('.tile[data-queue="support"] .staffing')
    expected = (
        "Staffed"
        if support_needed <= 1
        else ("Needs +1 agent" if support_needed == 2 else f"Needs +{support_needed - 1} agents")
    )
    await expect(support).to_have_text(expected, timeout=WAIT_MS)
    totals = page.locator('.tile[data-queue="*"] .staffing')
    await expect(totals).to_have_text(
        f"Needs +{needed - 3 + max(0, support_needed - 1)} agents", timeout=WAIT_MS
    )
    await assert_accessible(page, "wallboard with staffing")
    await screenshots(page, "wallboard-staffing")
    assert page.errors == []

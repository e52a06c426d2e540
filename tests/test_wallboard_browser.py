"""The wallboard in a real browser (Debian's chromium, Playwright) against the real console
server and store, with the FakeCenter publishing live updates.

Screenshots: tests/artifacts/wallboard-*.png and wallboard-tv-*.png.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser_kit import (
    WAIT_MS,
    WALL,
    assert_accessible,
    fits_without_scrolling,
    screenshots,
    signed_in,
)
from tests.console_fakes import PASSWORD, World, seed_history

pytestmark = pytest.mark.browser

THRESHOLDS = {
    "service_level": {"warn": 0.8, "bad": 0.6},
    "longest_wait": {"warn": 60, "bad": 120},
    "waiting": {"warn": 2, "bad": 3},
}


@pytest.fixture
async def world(tmp_path: Any) -> Any:
    w = await World().start(tmp_path)
    w.ids = await seed_history(w)
    w.center.queues["sales"]["thresholds"] = THRESHOLDS
    w.center.queues["billing"]["thresholds"] = {}
    w.center.queues["support"]["thresholds"] = {}
    w.center.set_intervals(
        [
            {
                "start": 1_700_000_000 + i * 1800,
                "offered": 5 + i % 4,
                "answered": 4 + i % 3,
                "abandoned": i % 2,
                "service_level": 0.7 + (i % 3) / 10,
            }
            for i in range(12)
        ]
    )
    yield w
    await w.close()


async def wallboard(
    browser: Any, world: Any, *, path: str = "", user: str = "root", **kw: Any
) -> Any:
    page = await signed_in(browser, world.origin, user, password=PASSWORD, **kw)
    if path:
        await page.goto(world.origin + path)
        await page.wait_for_selector("#conn.on", timeout=WAIT_MS)
    await page.wait_for_selector('.agent-row[data-agent="1003"]', state="attached", timeout=WAIT_MS)
    return page


async def test_an_open_menu_and_its_chosen_reason_survive_live_updates(
    world: Any, browser: Any
) -> None:
    from playwright.async_api import expect

    center = world.center
    center._set_agent("1003", "ready")
    page = await wallboard(browser, world)
    row = page.locator('.agent-row[data-agent="1003"]')
    await expect(row.locator(".state")).to_have_text("Ready", timeout=WAIT_MS)
    await row.locator(".menu-button").click()
    await expect(row.locator(".menu-button")).to_have_attribute("aria-expanded", "true")
    await row.locator(".reason-pick").select_option("lunch")
    node = await row.locator(".reason-pick").element_handle()
    await row.locator(".reason-pick").focus()

    # 20 live updates touching this very row, its queues and the waiting list
    for i in range(20):
        center._set_agent("1001", "ready" if i % 2 else "not_ready", "break")
        center._set_agent("1003", "ready")  # same state, a fresh agent_state message
        center.arrive(f"x{i}", "sales", f"+1555000{i:04d}")
    await expect(page.locator(".waiting-row")).to_have_count(20, timeout=WAIT_MS)
    await expect(page.locator('.agent-row[data-agent="1001"] .state')).to_have_text("Ready")

    assert await row.locator(".menu").is_visible()
    assert await row.locator(".reason-pick").input_value() == "lunch"
    assert await page.evaluate("(n) => n.isConnected && document.activeElement === n", node)
    await row.locator(".force-not-ready").click()
    await expect(row.locator(".state")).to_have_text("Not ready · Lunch", timeout=WAIT_MS)
    assert center.agents["1003"]["reason"] == "lunch"
    # the menu closed on the choice and gave the focus back to its button
    await expect(row.locator(".menu")).to_be_hidden()
    assert await row.locator(".menu-button").evaluate("b => b === document.activeElement")
    assert page.errors == []


async def test_actions_are_enabled_only_when_they_apply_and_work_from_the_keyboard(
    world: Any, browser: Any
) -> None:
    from playwright.async_api import expect

    center = world.center
    page = await wallboard(browser, world, user="sue")  # listens on her phone, 2001
    row = page.locator('.agent-row[data-agent="1001"]')

    async def enabled() -> dict[str, bool]:
        out = {}
        for cls in ("force-ready", "force-not-ready", "logout", "spy-listen", "spy-barge"):
            out[cls] = await row.locator("." + cls).is_enabled()
        return out

    await expect(row.locator(".state")).to_have_text("Logged out", timeout=WAIT_MS)
    assert await enabled() == {
        "force-ready": True,
        "force-not-ready": True,
        "logout": False,
        "spy-listen": False,
        "spy-barge": False,
    }
    center._set_agent("1001", "ready")
    center.arrive("c1", "sales", "+15551230001", customer_id=world.ids["customer"])
    center.offer("c1", "1001", world.ids["card"])
    await expect(row.locator(".state")).to_have_text("Ringing", timeout=WAIT_MS)
    assert await enabled() == {
        "force-ready": False,
        "force-not-ready": False,
        "logout": True,
        "spy-listen": False,
        "spy-barge": False,
    }
    # the waiting list names the caller (the CRM's customer) and the agent being rung,
    # never a call id
    c1 = page.locator('.waiting-row[data-call="c1"]')
    await expect(c1.locator(".status")).to_have_text("Ringing Alice Agent")
    await expect(c1.locator(".caller")).to_have_text("Ada Lovelace · +15551230001")
    center.answer("c1")
    await expect(row.locator(".state")).to_have_text("On a call", timeout=WAIT_MS)
    await expect(row.locator(".call")).to_have_text("Ada Lovelace · +15551230001 · sales")
    assert await enabled() == {
        "force-ready": False,
        "force-not-ready": False,
        "logout": True,
        "spy-listen": True,
        "spy-barge": True,
    }

    # keyboard: ArrowDown opens the menu on its first enabled item, arrows move, Escape
    # closes it and returns to the button; Enter on an item acts
    await row.locator(".menu-button").focus()
    await page.keyboard.press("ArrowDown")
    assert await row.locator(".logout").evaluate("b => b === document.activeElement")
    await page.keyboard.press("ArrowDown")
    assert await row.locator(".spy-listen").evaluate("b => b === document.activeElement")
    await page.keyboard.press("Escape")
    await expect(row.locator(".menu")).to_be_hidden()
    assert await row.locator(".menu-button").evaluate("b => b === document.activeElement")
    await page.keyboard.press("ArrowUp")  # opens on the last enabled item
    assert await row.locator(".spy-barge").evaluate("b => b === document.activeElement")
    await page.keyboard.press("Enter")
    await expect(row.locator(".menu")).to_be_hidden()
    for _ in range(100):
        if ("spy", "1001", "barge", "2001") in center.actions:
            break
        await page.wait_for_timeout(50)
    assert ("spy", "1001", "barge", "2001") in center.actions

    # wrap-up counts down to the queue's limit, then shows overdue in words
    center.end("c1")
    center.agents["1001"].update(wrap_up_until=center.clock() + 30, wrap_up_overdue=False)
    center._set_agent("1001", "wrap_up")
    await expect(row.locator(".state")).to_have_text("Wrap-up", timeout=WAIT_MS)
    await expect(row.locator(".call")).to_have_text(re.compile(r"^Wrap-up: 0:(30|29|28) left$"))
    center.agents["1001"]["wrap_up_overdue"] = True
    center._set_agent("1001", "wrap_up")
    await expect(row.locator(".state")).to_have_text("Wrap-up overdue", timeout=WAIT_MS)
    await expect(row.locator(".call")).to_have_text("")
    await expect(page.locator('.chip[data-state="wrap_up_overdue"] .names')).to_have_text(
        "Alice Agent"
    )
    assert page.errors == []


async def test_thresholds_colour_tiles_with_words_totals_filter_and_empty_state(
    world: Any, browser: Any
) -> None:
    from playwright.async_api import expect

    center = world.center
    page = await wallboard(browser, world)
    sales = page.locator('.tile[data-queue="sales"]')
    totals = page.locator('.tile[data-queue="*"]')
    await expect(page.locator("#waiting-empty")).to_have_text("No calls waiting")
    await expect(page.locator("#waiting-empty")).to_be_visible()
    await expect(sales).to_have_attribute("data-level", "ok")
    await expect(sales.locator(".status")).to_have_text("On target")

    center.arrive("w1", "sales", "+15550000001")
    center.arrive("w2", "sales", "+15550000002")
    await expect(sales).to_have_attribute("data-level", "warn", timeout=WAIT_MS)
    await expect(sales.locator(".status")).to_have_text("Warning: calls waiting")
    await expect(page.locator("#waiting-empty")).to_be_hidden()
    center.arrive("w3", "sales", "+15550000003")
    center.arrive("b1", "billing", "+15550000004")
    await expect(sales).to_have_attribute("data-level", "bad", timeout=WAIT_MS)
    await expect(sales.locator(".status")).to_have_text("Critical: calls waiting")
    await expect(sales.locator('.waiting[data-level="bad"]')).to_have_text("3")
    # billing has no thresholds: never coloured
    await expect(page.locator('.tile[data-queue="billing"]')).to_have_attribute("data-level", "ok")
    await expect(totals.locator(".waiting")).to_have_text("4")
    await expect(totals).to_have_attribute("data-level", "bad")

    # the queue filter hides sales everywhere and is remembered across a reload
    await page.locator("#show-sales").uncheck()
    await expect(sales).to_have_count(0)
    await expect(totals.locator(".waiting")).to_have_text("1")
    await expect(page.locator(".waiting-row")).to_have_count(1)
    await page.reload()
    await page.wait_for_selector("#conn.on", timeout=WAIT_MS)
    await expect(page.locator('.tile[data-queue="billing"]')).to_be_visible()
    await expect(page.locator('.tile[data-queue="sales"]')).to_have_count(0)
    assert not await page.locator("#show-sales").is_checked()
    await page.locator("#show-sales").check()
    await expect(page.locator('.tile[data-queue="sales"] .waiting')).to_have_text("3")
    assert page.errors == []


async def test_wallboard_views_are_accessible_in_both_languages(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    center = world.center
    center._set_agent("1003", "ready")
    center._set_agent("1001", "ready")
    center.arrive("c1", "sales", "+15551230001")
    center.offer("c1", "1001", world.ids["card"])
    center.answer("c1")
    center.arrive("w1", "sales", "+15550000001")
    center.arrive("w2", "sales", "+15550000002")
    page = await wallboard(browser, world)
    await expect(page.locator("#chart-calls svg")).to_have_attribute(
        "aria-label", "Last 12 intervals: 60 answered, 6 abandoned"
    )
    await expect(page.locator("#chart-sl .target-label")).to_have_text("Target 80%")
    # the y axis has whole-call ticks and a unit
    ticks = await page.locator("#chart-calls text.axis").all_text_contents()
    assert ticks[:6] == ["0", "2", "4", "6", "8", "calls"]
    assert await page.locator("#chart-calls .legend").all_text_contents() == [
        "Answered",
        "Abandoned",
    ]
    await expect(page.locator('nav a[href="/admin"]')).to_have_text("Users")  # admins only
    await assert_accessible(page, "wallboard")
    await page.locator('.agent-row[data-agent="1001"] .menu-button').click()
    await assert_accessible(page, "wallboard with a menu open")
    await page.keyboard.press("Escape")
    await screenshots(page, "wallboard")
    await page.click("#view-toggle")
    await page.wait_for_selector("body.tv #conn.on", timeout=WAIT_MS)
    assert page.url.endswith("/supervisor?view=tv")
    await expect(page.locator(".menu-button").first).to_be_hidden()
    await expect(page.locator("#queue-filter")).to_be_hidden()
    await expect(page.locator('.chip[data-state="on_call"] .names')).to_have_text("Alice Agent")
    await assert_accessible(page, "TV view")
    await screenshots(page, "wallboard-tv")
    await page.set_viewport_size(WALL)
    big = await page.locator('.tile[data-queue="sales"] .waiting').evaluate(
        "n => parseFloat(getComputedStyle(n).fontSize)"
    )
    assert big >= 64  # readable from across the room
    assert await page.locator(".tiles").evaluate(
        "n => n.getBoundingClientRect().bottom <= window.innerHeight"
    )
    # a long queue never scrolls the wall screen: the oldest six, then a count
    for i in range(8):
        center.arrive(f"q{i}", "support", f"+1555010{i:04d}")
    await expect(page.locator("#waiting-more")).to_have_text("and 4 more waiting", timeout=WAIT_MS)
    assert await page.locator(".waiting-row:visible").count() == 6
    assert await fits_without_scrolling(page, "main")
    await page.click("#view-toggle")
    await page.wait_for_selector("body:not(.tv) .menu-button", timeout=WAIT_MS)
    await expect(page.locator(".waiting-row")).to_have_count(10)
    await expect(page.locator("#waiting-more")).to_be_hidden()
    assert page.errors == []

    ru = await wallboard(browser, world, path="/supervisor?view=tv", locale="ru-RU")
    assert await ru.locator("html").get_attribute("lang") == "ru"
    await expect(ru.locator('.tile[data-queue="*"] h3')).to_have_text("Все очереди")
    await expect(ru.locator("#view-toggle")).to_have_text("Обычный вид")
    await assert_accessible(ru, "TV view in Russian")
    await ru.goto(world.origin + "/supervisor")
    await ru.wait_for_selector("#conn.on", timeout=WAIT_MS)
    await expect(ru.locator('.agent-row[data-agent="1001"] .state')).to_have_text("Разговор")
    await assert_accessible(ru, "wallboard in Russian")
    assert ru.errors == []

"""Supervisor alerts on the wallboard in a real browser (Debian's chromium, Playwright)
against the real console server and store, the FakeCenter raising and clearing alerts as
``routing.alerting`` does.

Screenshots: tests/artifacts/wallboard-alerts-*.png and wallboard-alerts-tv-*.png.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser_kit import WAIT_MS, assert_accessible, screenshots, signed_in
from tests.console_fakes import PASSWORD, World

pytestmark = pytest.mark.browser

TIME = re.compile(r"^\d{2}:\d{2}:\d{2}$")


@pytest.fixture
async def world(tmp_path: Any) -> Any:
    w = await World().start(tmp_path)
    yield w
    await w.close()


async def wallboard(browser: Any, world: Any, *, user: str = "sue", **kw: Any) -> Any:
    page = await signed_in(browser, world.origin, user, password=PASSWORD, **kw)
    await page.wait_for_selector('.agent-row[data-agent="1001"]', state="attached", timeout=WAIT_MS)
    return page


def raise_three(center: Any) -> dict[str, Any]:
    """A queue alert of each kind and an agent's, in sue's queues; one in support
    (not hers: she must not see it)."""
    return {
        "nobody": center.raise_alert(
            "a1", "no_agent_ready", "sales", queue="sales", value=2.0, unit="s"
        ),
        "wait": center.raise_alert(
            "a2", "longest_wait", "sales", queue="sales", value=75.0, threshold=60.0, unit="s"
        ),
        "agent": center.raise_alert(
            "a3",
            "agent_state",
            "Alice Agent",
            agent_id="1001",
            agent_state="not_ready",
            queues=["sales", "support"],
            value=12.5,
            threshold=10.0,
            unit="min",
        ),
        "other": center.raise_alert("a4", "longest_wait", "support", queue="support", value=99.0),
    }


def clear(center: Any, alert: dict[str, Any]) -> None:
    alert.update(state="cleared", cleared_at=center.clock())
    center.publish_alert("cleared", alert)


async def test_alerts_banner_list_keyboard_ack_and_clear(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    center = world.center
    page = await wallboard(browser, world)
    section = page.locator("#alerts")
    banner = page.get_by_role("alert").filter(has_text="active alert")
    value = page.locator("#alert-banner-value")
    await expect(section).to_be_hidden()

    alerts = raise_three(center)
    await expect(banner).to_be_visible(timeout=WAIT_MS)
    await expect(banner).to_have_text(
        "3 active alert(s). Newest: Agent not ready too long — Alice Agent"
    )
    await expect(value).to_have_text("12.5 min")

    # the list (opened from the keyboard): time, the rule in words, queue or agent, value
    await page.locator("#alert-list summary").focus()
    await page.keyboard.press("Enter")
    rows = page.locator("#alert-rows tr")
    await expect(rows).to_have_count(3)  # not support's
    await expect(page.locator('#alert-rows tr[data-id="a4"]')).to_have_count(0)
    cells = {
        row_id: await page.locator(f'#alert-rows tr[data-id="{row_id}"] td').all_text_contents()
        for row_id in ("a1", "a2", "a3")
    }
    for row in cells.values():
        assert TIME.match(row[0]), row
    assert [c[1:5] for c in cells.values()] == [
        ["Callers waiting, no agent ready", "sales", "0:02", "Active"],
        ["Longest wait too long", "sales", "1:15", "Active"],
        ["Agent not ready too long", "Alice Agent", "12.5 min", "Active"],
    ]

    # A live update of the value keeps the row (and the focus on its button) and leaves
    # the banner's announcement alone.
    wait_ack = page.locator('#alert-rows tr[data-id="a2"] button.ack-alert')
    await expect(wait_ack).to_have_accessible_name("Acknowledge Longest wait too long — sales")
    await wait_ack.focus()
    await banner.evaluate(
        "n => { window.announced = 0; new MutationObserver(() => window.announced++)"
        ".observe(n, {childList: true, characterData: true, subtree: true}); }"
    )
    for seconds in (76.0, 77.0, 78.0):
        alerts["wait"]["value"] = seconds
        center.publish_alert("updated", alerts["wait"])
        alerts["agent"]["value"] += 0.1  # the banner's alert
        center.publish_alert("updated", alerts["agent"])
    await expect(page.locator('#alert-rows tr[data-id="a2"] td.num')).to_have_text("1:18")
    await expect(value).to_have_text("12.8 min")
    assert await wait_ack.evaluate("b => b === document.activeElement")
    assert await page.evaluate("window.announced") == 0  # the live region said nothing new

    # Acknowledge from the keyboard: who and when in the row, the focus stays in the row
    await page.keyboard.press("Enter")
    acked = page.locator('#alert-rows tr[data-id="a2"] td').nth(5)
    await expect(acked).to_have_text(re.compile(r"^by sue at \d{2}:\d{2}:\d{2}$"), timeout=WAIT_MS)
    assert ("ack_alert", "a2", "sue") in center.actions
    assert await page.evaluate(
        "() => document.activeElement.closest('tr') &&"
        " document.activeElement.closest('tr').dataset.id === 'a2'"
    )
    await expect(page.locator('#alert-rows tr[data-id="a2"] button')).to_have_count(0)
    await assert_accessible(page, "wallboard with alerts")
    await screenshots(page, "wallboard-alerts")

    # a cleared alert leaves the banner and stays in the list, marked cleared
    clear(center, alerts["agent"])
    await expect(banner).to_have_text(
        "2 active alert(s). Newest: Longest wait too long — sales", timeout=WAIT_MS
    )
    await expect(value).to_have_text("1:18")
    agent_row = page.locator('#alert-rows tr[data-id="a3"]')
    await expect(agent_row.locator("td").nth(4)).to_have_text(re.compile(r"^Cleared at \d\d:"))
    clear(center, alerts["nobody"])
    clear(center, alerts["wait"])
    await expect(page.locator("#alert-banner")).to_be_hidden(timeout=WAIT_MS)
    await expect(rows).to_have_count(3)
    states = await rows.locator("td:nth-child(5)").all_text_contents()
    assert all(s.startswith("Cleared at ") for s in states), states
    assert page.errors == []

    # a reload shows what the snapshot carries: the cleared ones, no banner
    await page.reload()
    await page.wait_for_selector("#conn.on", timeout=WAIT_MS)
    await expect(page.locator("#alerts")).to_be_visible()
    await expect(page.locator("#alert-banner")).to_be_hidden()
    assert page.errors == []


async def test_the_tv_view_and_russian_show_the_banner_accessibly(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    center = world.center
    raise_three(center)
    tv = await wallboard(browser, world, user="root")
    await tv.goto(world.origin + "/supervisor?view=tv")
    await tv.wait_for_selector("body.tv #conn.on", timeout=WAIT_MS)
    banner = tv.locator("#alert-banner")
    await expect(banner.get_by_role("alert")).to_have_text(
        re.compile(r"^4 active alert\(s\)\. Newest: "), timeout=WAIT_MS
    )  # an admin sees support's too
    await expect(banner).to_be_visible()
    await expect(tv.locator("#alert-list")).to_be_hidden()  # the TV has no list
    size = await banner.evaluate("n => parseFloat(getComputedStyle(n).fontSize)")
    assert size >= 24  # readable across the room
    await assert_accessible(tv, "TV view with alerts")
    await screenshots(tv, "wallboard-alerts-tv")
    assert tv.errors == []

    ru = await wallboard(browser, world, locale="ru-RU")
    assert await ru.locator("html").get_attribute("lang") == "ru"
    await expect(ru.get_by_role("alert").filter(has_text="Активных")).to_have_text(
        "Активных оповещений: 3. Последнее: Оператор слишком долго не готов — Alice Agent",
        timeout=WAIT_MS,
    )
    await expect(ru.locator("#alert-banner-value")).to_have_text("12.5 мин")
    await ru.locator("#alert-list summary").click()
    row = ru.locator('#alert-rows tr[data-id="a1"] td')
    await expect(row.nth(1)).to_have_text("Звонки ждут, нет свободных операторов")
    await expect(row.nth(3)).to_have_text("0:02")  # seconds nobody was ready
    await ru.locator('#alert-rows tr[data-id="a1"] button').press("Enter")
    await expect(row.nth(5)).to_have_text(re.compile(r"^sue, \d{2}:\d{2}:\d{2}$"), timeout=WAIT_MS)
    await assert_accessible(ru, "wallboard with alerts in Russian")
    await screenshots(ru, "wallboard-alerts-ru")
    assert ru.errors == []

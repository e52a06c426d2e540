"""The agent's pause/resume recording toggle in a real browser (chromium) against the real
console server and the FakeCenter: shown only on a recorded call, enabled only while
talking or held, its state in ``aria-pressed`` and a visible indicator, Alt+P from the
keyboard and in the ? help, accessible in both languages.
Screenshots: tests/artifacts/agent-recording-*.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.browser_kit import assert_accessible, screenshots
from tests.test_agent_console_browser import WAIT_MS, alice, ring

pytestmark = pytest.mark.browser


async def test_the_toggle_pauses_and_resumes_a_recorded_call(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    page = await alice(browser, world)
    toggle, badge = page.locator("#btn-record"), page.locator("#rec-indicator")
    await page.select_option("#availability", "ready")
    await page.click("#btn-availability")
    await expect(page.locator("#state")).to_have_text("Ready", timeout=WAIT_MS)

    # An unrecorded call: no toggle, no indicator.
    ring(world, "u1", phone="+15550007777")
    world.center.answer("u1")
    await expect(page.locator("#call-state")).to_have_text("Talking", timeout=WAIT_MS)
    await expect(toggle).to_be_hidden()
    await expect(badge).to_be_hidden()
    await page.keyboard.press("Alt+p")  # nothing to pause: nothing sent
    world.center.end("u1")
    await world.center.wrapup_done("1001")
    await expect(page.locator("#state")).to_have_text("Ready", timeout=WAIT_MS)

    # A recorded one: shown once answered, disabled while it rings.
    world.center.recorded.add("c9")
    ring(world)
    await expect(page.locator("#card-name")).to_have_text("Ada Lovelace", timeout=WAIT_MS)
    await expect(toggle).to_be_hidden()
    world.center.answer("c9")
    await expect(badge).to_have_text("Recording", timeout=WAIT_MS)
    await expect(toggle).to_be_visible()
    await expect(toggle).to_be_enabled()
    await expect(toggle).to_have_attribute("aria-pressed", "false")
    await expect(toggle).to_have_text("Pause recording")
    await assert_accessible(page, "agent page, recorded call")
    await screenshots(page, "agent-recording-on")

    await toggle.click()
    await expect(badge).to_have_text("Recording paused", timeout=WAIT_MS)
    await expect(toggle).to_have_attribute("aria-pressed", "true")
    await assert_accessible(page, "agent page, recording paused")
    await screenshots(page, "agent-recording-paused")

    await page.click("#btn-hold")  # held: still allowed
    await expect(page.locator("#call-state")).to_have_text("On hold", timeout=WAIT_MS)
    await expect(toggle).to_be_enabled()
    await page.keyboard.press("Alt+p")
    await expect(badge).to_have_text("Recording", timeout=WAIT_MS)
    await expect(toggle).to_have_attribute("aria-pressed", "false")
    assert [a for a in world.center.actions if a[0] == "recording_pause"] == [
        ("recording_pause", "1001", "c9", True),
        ("recording_pause", "1001", "c9", False),
    ]

    # A refused pause says so beside the controls and the state stays.
    world.center.fail_next = "recording_pause"
    await toggle.click()
    await expect(page.locator("#call-error")).to_contain_text("refused", timeout=WAIT_MS)
    await expect(toggle).to_have_attribute("aria-pressed", "false")

    # The ? help lists the shortcut.
    await page.locator("#call-heading").click()
    await page.keyboard.press("?")
    await expect(page.locator("#keys-dialog")).to_contain_text("Alt+P")
    await expect(page.locator("#keys-dialog")).to_contain_text(
        "Pause or resume the call's recording"
    )
    await page.keyboard.press("Escape")

    world.center.end("c9")
    await expect(toggle).to_be_hidden(timeout=WAIT_MS)
    await expect(badge).to_be_hidden()


async def test_the_toggle_reads_in_russian(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    page = await alice(browser, world, locale="ru-RU")
    await page.select_option("#availability", "ready")
    await page.click("#btn-availability")
    for _ in range(100):
        if world.center.agents["1001"]["state"] == "ready":
            break
        await asyncio.sleep(0.05)
    world.center.recorded.add("c9")
    ring(world)
    world.center.answer("c9")
    await expect(page.locator("#rec-indicator")).to_have_text("Идёт запись", timeout=WAIT_MS)
    await expect(page.locator("#btn-record")).to_have_text("Пауза записи")
    await assert_accessible(page, "agent page, recorded call (ru)")

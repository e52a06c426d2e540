"""The console in a real browser: Debian's chromium driven by Playwright, against the real
server on 127.0.0.1 with the real store and the FakeCenter playing the PBX.

Screenshots land in tests/artifacts/ (agent.png, supervisor.png).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent_console.keys import HUB
from tests.console_fakes import PASSWORD

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
WAIT_MS = 5000


def agent_page_errors(world: Any, page: Any) -> list[str]:
    """The page's errors; until the server has the wrap-up draft API (issue 13, H1) the
    agent page's draft requests get a 404, which is the only failure then expected."""
    drafts = any(
        getattr(r.resource, "canonical", "") == "/api/contacts/{id}/draft"
        for r in world.app.router.routes()
    )
    return [e for e in page.errors if drafts or "status of 404" not in e]


async def login(browser: Any, world: Any, username: str) -> Any:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.errors = errors
    await page.goto(world.origin + "/login")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("#login-submit")
    await page.wait_for_selector("#conn.on", timeout=WAIT_MS)
    return page


async def test_agent_ready_screen_pop_and_wrapup(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    page = await login(browser, world, "alice")
    assert page.url.endswith("/agent")
    await page.select_option("#availability", "ready")
    await page.click("#btn-availability")
    await expect(page.locator("#state")).to_have_text("Ready", timeout=WAIT_MS)
    assert world.center.agents["1001"]["state"] == "ready"

    path = [
        {"node": "menu", "kind": "menu", "digits": "1", "result": "sales"},
        {"node": "account", "kind": "collect", "digits": "4242", "result": "verified"},
    ]
    world.center.arrive(
        "c9",
        "sales",
        "+15551230001",
        contact_id=world.ids["contact"],
        customer_id=world.ids["customer"],
        path=path,
        verified=True,
        waited=37,
    )
    world.center.offer("c9", "1001", world.ids["card"])
    await expect(page.locator("#card-name")).to_have_text("Ada Lovelace", timeout=WAIT_MS)
    await expect(page.locator("#card-company")).to_have_text("Analytical Engines")
    await expect(page.locator("#card-vip")).to_be_visible()
    await expect(page.locator("#card-history")).to_contain_text("asked about the invoice")
    await expect(page.locator("#card-history")).to_contain_text("Resolved")
    await expect(page.locator("#card-history")).to_contain_text("Carol Agent")
    await expect(page.locator("#ivr-path")).to_contain_text("Pressed 1")
    await expect(page.locator("#ivr-path")).not_to_contain_text("4242")
    await expect(page.locator("#call-verified")).to_have_text("Account verified")
    await expect(page.locator("#call-waited")).to_have_text("0:37")
    await expect(page.locator("#state")).to_have_text("Ringing")

    world.center.answer("c9")
    await expect(page.locator("#call-state")).to_have_text("Talking", timeout=WAIT_MS)
    await page.click("#btn-hold")
    await expect(page.locator("#call-state")).to_have_text("On hold", timeout=WAIT_MS)
    await page.click("#btn-unhold")
    await expect(page.locator("#call-state")).to_have_text("Talking", timeout=WAIT_MS)
    assert ("hold", "c9") in world.center.actions and ("unhold", "c9") in world.center.actions

    world.center.end("c9")
    await expect(page.locator("#wrapup")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#state")).to_have_text("Wrap-up")
    await page.select_option("#disposition", "sale")
    await page.fill("#notes", "sold the premium plan")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "agent.png"), full_page=True)
    await page.click("#btn-wrapup")
    await expect(page.locator("#card-history")).to_contain_text(
        "sold the premium plan", timeout=WAIT_MS
    )
    await expect(page.locator("#card-history")).to_contain_text("Sale")
    await expect(page.locator("#state")).to_have_text("Ready", timeout=WAIT_MS)

    await page.fill("#search-q", "Lovelace")
    await page.click("#btn-search")
    link = page.locator("#search-results a")
    await expect(link).to_have_attribute("href", f"/customers/{world.ids['customer']}")
    await expect(link).to_have_attribute("target", "_blank")
    await expect(link).to_have_attribute("rel", "noopener")
    assert agent_page_errors(world, page) == []


async def test_supervisor_wallboard_is_live(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    world.center.agents["1003"]["state"] = "ready"
    world.center.set_intervals(
        [
            {
                "start": 1_700_000_000 + i * 1800,
                "offered": 5 + i % 4,
                "answered": 4 + i % 3,
                "abandoned": i % 2,
                "service_level": 0.7 + (i % 3) / 10,
            }
            for i in range(16)
        ]
    )
    page = await login(browser, world, "sue")
    assert page.url.endswith("/supervisor")
    tile = page.locator('.tile[data-queue="sales"]')
    await expect(tile.locator(".waiting")).to_have_text("0", timeout=WAIT_MS)
    assert await page.locator('.tile[data-queue="support"]').count() == 0

    world.center.arrive("w5", "sales", "+15551239999")
    world.center.arrive("w6", "sales", "+15551238888")
    await expect(tile.locator(".waiting")).to_have_text("2", timeout=WAIT_MS)
    await expect(page.locator('.waiting-row[data-call="w5"]')).to_be_visible()

    row = page.locator('.agent-row[data-agent="1003"]')
    await expect(row.locator(".state")).to_have_text("Ready", timeout=WAIT_MS)
    await row.locator(".menu-button").click()
    await row.locator(".force-not-ready").click()
    await expect(row.locator(".state")).to_have_text("Not ready · Break", timeout=WAIT_MS)
    assert world.center.agents["1003"]["state"] == "not_ready"

    world.center.agents["1001"]["state"] = "ready"
    world.center.offer("w5", "1001", world.ids["card"])
    alice_row = page.locator('.agent-row[data-agent="1001"]')
    await expect(alice_row.locator(".state")).to_have_text("Ringing", timeout=WAIT_MS)
    await expect(alice_row.locator(".call")).to_contain_text("+15551239999")
    await expect(tile.locator(".waiting")).to_have_text("1", timeout=WAIT_MS)

    await page.locator('.waiting-row[data-call="w6"] button.move').click()
    await expect(page.locator('.tile[data-queue="billing"] .waiting')).to_have_text(
        "1", timeout=WAIT_MS
    )

    # The server drops every socket; the page reconnects by itself and re-renders from
    # the fresh snapshot (a change made while it was away shows up).
    hub = world.app[HUB]
    world.center.agents["1003"].update(state="logged_out", reason="")
    for ws in list(hub.sockets):
        await ws.close(code=1001, message=b"restart")
    await expect(page.locator("#conn.on")).to_be_visible(timeout=WAIT_MS)
    await expect(row.locator(".state")).to_have_text("Logged out", timeout=WAIT_MS)

    assert await page.locator("#chart-calls rect title").count() == 32  # the legend's have none
    assert await page.locator("#chart-sl polyline").count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "supervisor.png"), full_page=True)
    assert page.errors == []

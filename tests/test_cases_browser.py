"""Cases in a real browser (issue 17): open a case from the customer page, see its SLA
clock and timeline, add a note (shown as text), resolve it; the list; axe-core."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser_kit import WAIT_MS, assert_accessible, signed_in
from tests.console_fakes import PASSWORD

pytestmark = pytest.mark.browser


async def test_open_a_case_from_the_customer_page_and_resolve_it(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    page = await signed_in(browser, world.origin, "alice", password=PASSWORD)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(world.origin + "/customers/" + world.ids["customer"])
    await expect(page.locator("#customer-name")).to_have_text("Ada Lovelace", timeout=WAIT_MS)
    await page.fill("#open-case-subject", "Invoice is wrong")
    await page.select_option("#open-case-priority", "urgent")
    await page.click("#btn-open-case")

    await expect(page).to_have_url(world.origin + "/cases/C-000001", timeout=WAIT_MS)
    await expect(page.locator("#case-number")).to_have_text("C-000001", timeout=WAIT_MS)
    await expect(page.locator("#case-subject")).to_have_text("Invoice is wrong")
    await expect(page.locator("#case-customer")).to_have_text("Ada Lovelace")
    # an urgent case has a first-response target (config/sla.yaml): a clock, not "No target"
    await expect(page.locator("#clock-first_response")).not_to_have_text("No target")
    await expect(page.locator("#case-timeline li")).to_have_count(1)
    await expect(page.locator("#case-timeline li").first).to_contain_text("Opened by alice")
    await assert_accessible(page, "a case")

    await page.fill("#case-note-text", "<img src=x onerror=alert(1)> asked for a copy")
    await page.click("#case-note button")
    await expect(page.locator("#case-timeline .note")).to_have_text(
        "<img src=x onerror=alert(1)> asked for a copy", timeout=WAIT_MS
    )
    assert await page.locator("#case-timeline img").count() == 0

    await page.select_option("#case-status-edit", "resolved")
    await page.click("#case-save")
    await expect(page.locator("#case-status-line")).to_have_text("Saved.", timeout=WAIT_MS)
    await expect(page.locator("#clock-resolution")).to_contain_text("Met in", timeout=WAIT_MS)
    await expect(page.locator("#clock-first_response")).to_contain_text("Met in")
    await expect(page.locator("#case-timeline li")).to_have_count(3)
    case = await world.store.cases.get(1)
    assert case.status == "resolved" and case.resolved_at is not None

    await page.goto(world.origin + "/cases")
    await page.select_option("#filter-status", "resolved")
    await page.click("#case-filter button")
    row = page.locator("#case-rows tr").filter(has_text="Invoice is wrong")
    await expect(row).to_have_count(1, timeout=WAIT_MS)
    await expect(row).to_contain_text("Resolved")
    await assert_accessible(page, "the case list")
    assert errors == []


async def test_the_reports_page_shows_breaches_per_queue(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    ada = int(world.ids["customer"])
    late = await world.store.cases.open(ada, "Late one", queue="sales", category="billing")
    await world.store.cases.set_sla(
        late.id,
        first_response_due=late.created_at,
        resolution_due=None,
        first_response_breached=True,
        resolution_breached=False,
    )
    page = await signed_in(browser, world.origin, "sue", password=PASSWORD)
    await page.goto(world.origin + "/reports")
    row = page.locator("#case-report-rows tr").filter(has_text="sales")
    await expect(row).to_have_count(1, timeout=WAIT_MS)
    await expect(row.locator("td")).to_have_text(["1", "0", "—", "—", "1", "0"])
    await page.select_option("#case-report-by", "category")
    await page.click("#case-report-form button")
    await expect(page.locator("#case-report-rows tr").filter(has_text="billing")).to_have_count(
        1, timeout=WAIT_MS
    )
    await assert_accessible(page, "the reports page with cases")


async def test_a_case_sla_alert_on_the_wallboard(world: Any, browser: Any) -> None:
    """The case_sla alert as the SLA shell raises it, shown and cleared like any alert."""
    from playwright.async_api import expect

    page = await signed_in(browser, world.origin, "sue", password=PASSWORD)
    await page.goto(world.origin + "/supervisor")
    await expect(page.locator("#alerts")).to_be_hidden(timeout=WAIT_MS)
    alert = world.center.raise_alert(
        "s1",
        "case_sla",
        "C-000042 Invoice is wrong",
        queue="sales",
        agent_state="resolution",
        value=4 * 3600.0 + 120,
        threshold=4 * 3600.0,
    )
    banner = page.get_by_role("alert").filter(has_text="active alert")
    await expect(banner).to_contain_text(
        "Case SLA close to or past its deadline — C-000042 Invoice is wrong", timeout=WAIT_MS
    )
    alert.update(state="cleared", cleared_at=world.center.clock())
    world.center.publish_alert("cleared", alert)
    await expect(banner).to_be_hidden(timeout=WAIT_MS)

"""A case worked during a call, in a real browser (issue 17): the pop shows the caller's
open case with its SLA; the agent opens it from the card (a new tab, the call stays),
finds an article in the knowledge-base panel during the call and inserts it, then
resolves the case in the wrap-up. The case page then shows the call on its timeline, the
article the agent used, its clocks met and whether business time is counting. axe-core
on the case page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent_console.keys import SLA_POLICY
from routing.case_sla import CaseSla
from tests.browser_kit import WAIT_MS, assert_accessible, insert_article, signed_in
from tests.console_fakes import PASSWORD, World, seed_history

pytestmark = pytest.mark.browser


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[Any]:
    w = await World().start(tmp_path)
    w.ids = await seed_history(w)
    ada = int(w.ids["customer"])
    w.case = await w.store.cases.open(
        ada, "Refund not received", priority="high", queue="sales", actor="sue"
    )
    # another queue's case of hers: listed on the card, but not hers to open
    await w.store.cases.open(ada, "Router swap", queue="support", actor="bob")
    await CaseSla(w.store, w.app[SLA_POLICY]).check()  # its due times, as the service keeps
    w.ids["card"] = await w.app_crm().card_for_phone(w.ids["card"]["phone"])
    w.article = await w.store.knowledge.add(
        title="Refunding a card payment",
        body="Open the order, choose **Refund**, read the confirmation number.",
        language="en",
        owner="sue",
        tags=["billing"],
    )
    yield w
    await w.close()


async def test_open_the_case_from_the_pop_use_an_article_and_resolve_it(
    world: Any, browser: Any
) -> None:
    from playwright.async_api import expect

    alice = await signed_in(browser, world.origin, "alice", password=PASSWORD)
    await alice.select_option("#availability", "ready")
    await alice.click("#btn-availability")
    await expect(alice.locator("#state")).to_have_text("Ready", timeout=WAIT_MS)
    world.center.arrive(
        "c9",
        "sales",
        "+15551230001",
        contact_id=world.ids["contact"],
        customer_id=world.ids["customer"],
    )
    world.center.offer("c9", "1001", world.ids["card"])
    world.center.answer("c9")

    # the pop: the open case, linked, with when its next SLA target falls due
    item = alice.locator("#card-cases li.case", has_text="Refund not received")
    await expect(item).to_have_count(1, timeout=WAIT_MS)
    await expect(item).to_contain_text("due ")
    link = item.locator("a")
    await expect(link).to_have_text("C-000001")
    assert await link.get_attribute("target") == "_blank"
    other = alice.locator("#card-cases li.case", has_text="Router swap")
    await expect(other).to_contain_text("C-000002")
    assert await other.locator("a").count() == 0  # support is not alice's queue

    async with alice.context.expect_page() as opened:
        await link.click()
    case_page = await opened.value
    await expect(case_page.locator("#case-number")).to_have_text("C-000001", timeout=WAIT_MS)
    await expect(case_page.locator("#clock-first_response")).to_contain_text("business time left")
    await expect(case_page.locator("#clock-hours")).to_contain_text("Europe/London")
    await expect(case_page.locator("#case-articles li")).to_have_text(
        ["No article was used on this case's contacts."]
    )
    await expect(alice.locator("#call-state")).to_be_visible()  # the call's page stayed

    # during the call: the knowledge base beside the card, an article inserted
    await alice.bring_to_front()
    await insert_article(alice, "refund", "Refunding a card payment")
    await expect(alice.locator("#kb-side .kb-status")).to_have_text(
        "Inserted “Refunding a card payment”", timeout=WAIT_MS
    )

    # the call ends; the wrap-up resolves the case
    world.center.end("c9")
    await expect(alice.locator("#wrapup")).to_be_visible(timeout=WAIT_MS)
    await alice.select_option("#disposition", "sale")
    await alice.select_option("#case-mode", "case:" + str(world.case.id))
    await alice.select_option("#case-status", "resolved")
    await alice.click("#btn-wrapup")
    await expect(alice.locator("#call-status")).to_contain_text("Wrap-up saved", timeout=WAIT_MS)

    await case_page.reload()
    await expect(case_page.locator("#case-status-edit")).to_have_value("resolved", timeout=WAIT_MS)
    await expect(case_page.locator("#clock-resolution")).to_contain_text("Met in")
    used = case_page.locator("#case-articles li")
    await expect(used).to_have_count(1)
    await expect(used.locator("a")).to_have_text("Refunding a card payment")
    assert await used.locator("a").get_attribute("href") == f"/kb?article={world.article.id}"
    await expect(used).to_contain_text("alice")
    contact_line = case_page.locator("#case-timeline li.ev-contact")
    await expect(contact_line).to_have_count(1)
    await expect(contact_line.locator("a")).to_have_attribute(
        "href", "/contacts/" + world.ids["contact"]
    )
    await assert_accessible(case_page, "a resolved case with the article used")

    # the article's link opens it on /kb
    await used.locator("a").click()
    heading = case_page.locator(".kb-article h3")
    await expect(heading).to_have_text("Refunding a card payment", timeout=WAIT_MS)
    await case_page.wait_for_timeout(500)  # the page's first search has answered too
    await expect(heading).to_be_visible()
    case = await world.store.cases.get(world.case.id)
    assert case.status == "resolved" and int(world.ids["contact"]) in case.contact_ids
    assert alice.errors == []

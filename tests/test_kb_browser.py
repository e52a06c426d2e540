"""The knowledge base in a real browser: during a call an agent opens the panel beside
the card (Alt+K), searches in English and Russian, opens an article, votes and inserts
it (counted as used on the call's contact); a hostile article's markup stays inert; a
supervisor edits and retires an article on /kb. axe-core on both."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser_kit import WAIT_MS, assert_accessible, screenshots, signed_in
from tests.console_fakes import PASSWORD, World, seed
from tests.kb_corpus import ARTICLES

pytestmark = pytest.mark.browser


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[Any]:
    w = await World().start(tmp_path)
    w.ids = await seed(w)
    w.kb = {}
    for name, a in ARTICLES.items():
        w.kb[name] = (await w.store.knowledge.add(owner="sue", **a)).id  # type: ignore[arg-type]
    w.kb["hostile"] = (
        await w.store.knowledge.add(
            title="Hostile markup sample",
            body='<img src=x onerror="window.__pwned=1">\n\n'
            "[click](javascript:window.__pwned=1) <script>window.__pwned=1</script> **kept**",
            language="en",
            owner="sue",
        )
    ).id
    yield w
    await w.close()


async def test_an_agent_finds_reads_votes_and_inserts_during_a_call(
    world: Any, browser: Any
) -> None:
    from playwright.async_api import expect

    alice = await signed_in(browser, world.origin, "alice", password=PASSWORD)
    await expect(alice.locator("#card-name")).not_to_be_empty(timeout=WAIT_MS)
    await expect(alice.locator("#kb-side")).to_be_hidden()
    await alice.keyboard.press("Alt+k")
    await expect(alice.locator("#kb-side")).to_be_visible()
    await expect(alice.locator("#btn-kb")).to_have_attribute("aria-expanded", "true")
    assert await alice.evaluate("document.activeElement.id") == "kb1-q"

    await alice.keyboard.type("refunds to card")
    first = alice.locator("#kb-side .kb-hit").first
    await expect(first.locator(".kb-open")).to_have_text(
        "Refunding a card payment", timeout=WAIT_MS
    )
    await expect(first.locator(".kb-snippet mark").first).to_be_visible()
    await assert_accessible(alice, "the agent page with the knowledge-base panel")

    opened = int(await first.locator(".kb-open").get_attribute("data-article") or 0)
    assert opened in (world.kb["refund"], int(world.ids["article"]))  # the same title twice
    await first.locator(".kb-open").click()
    heading = alice.locator("#kb-side .kb-article h3")
    await expect(heading).to_have_text("Refunding a card payment")
    assert await alice.evaluate("document.activeElement.tagName") == "H3"
    await expect(alice.locator("#kb-side .kb-body strong")).to_have_text("Refund")
    await alice.click("#kb-side .kb-helpful")
    await expect(alice.locator("#kb-side .kb-votes")).to_have_text("1 helpful, 0 not")
    await expect(alice.locator("#kb-side .kb-helpful")).to_have_attribute("aria-pressed", "true")
    await alice.evaluate(
        "document.addEventListener('sb-kb-insert', (e) => {"
        " window.__inserted = e.detail.text; e.preventDefault(); })"
    )
    await alice.click("#kb-side .kb-insert")
    await expect(alice.locator("#kb-side .kb-status")).to_have_text(
        "Inserted “Refunding a card payment”"
    )
    inserted = await alice.evaluate("window.__inserted")
    assert inserted.startswith("Open the order, choose Refund")
    used = await world.store.knowledge.uses_of_contact(int(world.ids["contact"]))
    assert [u["article_id"] for u in used] == [opened]
    await screenshots(alice, "kb-agent-panel")

    # back to the results with Escape; a Russian search with another word form
    await alice.keyboard.press("Escape")
    await expect(alice.locator("#kb-side .kb-results")).to_be_visible()
    await alice.select_option("#kb1-lang", "ru")
    await alice.fill("#kb1-q", "оплату картой")
    await expect(alice.locator("#kb-side .kb-hit .kb-open").first).to_have_text(
        "Оплата картой не проходит", timeout=WAIT_MS
    )

    # a hostile article: its markup is text, its javascript: link is no link
    await alice.fill("#kb1-q", "hostile markup")
    await alice.select_option("#kb1-lang", "")
    await alice.locator("#kb-side .kb-open", has_text="Hostile markup sample").click()
    await expect(alice.locator("#kb-side .kb-body strong")).to_have_text("kept")
    body = alice.locator("#kb-side .kb-body")
    assert await body.locator("img, script, a").count() == 0
    assert "<script>" in await body.inner_text()
    assert await alice.evaluate("window.__pwned === undefined")
    assert alice.errors == []


async def test_a_supervisor_edits_and_retires_on_the_kb_page(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    sue = await signed_in(browser, world.origin, "sue", password=PASSWORD, live=False)
    await sue.goto(world.origin + "/kb?q=cancel%20subscription")
    hit = sue.locator("#kb-browser .kb-open").first
    await expect(hit).to_have_text("Cancelling a subscription", timeout=WAIT_MS)
    await hit.click()
    await sue.click("#kb-browser .kb-edit")
    await expect(sue.locator("#kb-editor")).to_be_visible()
    assert await sue.input_value("#kb-edit-title") == "Cancelling a subscription"
    await assert_accessible(sue, "the knowledge-base editor")
    await sue.fill("#kb-edit-title", "Ending a membership")
    await sue.click("#kb-save")
    await expect(sue.locator("#kb-edit-status")).to_have_text("Saved")
    await expect(sue.locator("#kb-browser .kb-article h3")).to_have_text("Ending a membership")
    await sue.fill("#kb-edit-title", "")
    await sue.click("#kb-save")
    await expect(sue.locator("#kb-edit-title-error")).not_to_be_empty()
    await sue.click("#kb-retire")
    await expect(sue.locator("#kb-edit-status")).to_have_text("Retired")
    await expect(sue.locator("#kb-browser .kb-article .badge.warn")).to_be_visible()
    await screenshots(sue, "kb-editor")
    assert (await world.store.knowledge.get(world.kb["cancel"])).retired
    hits = await world.store.knowledge.search("membership")
    assert world.kb["cancel"] not in [h.article.id for h in hits]
    assert sue.errors == []

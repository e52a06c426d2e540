"""The customer page in a real browser (issue 13): the card, the timeline in plain words
with agents by name, an edit that keeps what was typed when refused, and a merge of a
suggested duplicate whose contacts then show in the kept customer's timeline; axe-core in
English and Russian; screenshots."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser_kit import WAIT_MS, assert_accessible, screenshots, signed_in
from tests.console_fakes import PASSWORD, make_contact

pytestmark = pytest.mark.browser


async def a_duplicate(world: Any) -> int:
    """ "ada lovelace", created twice by mistake, with a call of her own."""
    twin = await world.store.customers.add("ada lovelace", ["+15559870000"])
    await make_contact(
        world.store,
        "twin-1",
        "+15559870000",
        "support",
        "1002",
        at=time.time() - 7200,
        disposition="follow-up",
        notes="asked for a call back",
    )
    for step in (
        {"node": "support_menu", "kind": "menu", "digits": "2", "result": "option 2"},
        {"node": "account_number", "kind": "collect", "digits": "7734", "result": "collected"},
        {"node": "check", "kind": "branch", "result": "true"},
        {"node": "find_account", "kind": "lookup", "result": "found"},
        "old_style_node",
    ):
        await world.store.contacts.ivr_step("twin-1", step)
    contact = await world.store.contacts.get_by_key("twin-1")
    await world.store.contacts.link_customer(contact.id, twin.id)
    return int(twin.id)


async def customer_page(browser: Any, world: Any, **kwargs: Any) -> Any:
    from playwright.async_api import expect

    page = await signed_in(browser, world.origin, "alice", password=PASSWORD, **kwargs)
    await page.goto(world.origin + "/customers/" + world.ids["customer"])
    await expect(page.locator("#customer-name")).to_have_text("Ada Lovelace", timeout=WAIT_MS)
    return page


async def test_timeline_in_plain_words_edit_and_merge(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    twin = await a_duplicate(world)
    page = await customer_page(browser, world)
    await expect(page.locator("#customer-vip")).to_be_visible()
    row = page.locator(".contact-row").filter(has_text="asked about the invoice")
    await expect(row).to_contain_text("Carol Agent")  # by name, not "1003"
    await expect(row).to_contain_text("Resolved")
    assert "1003" not in (await row.inner_text())

    # An edit the server refuses keeps what was typed, with the error by the field.
    await page.click("#btn-edit")
    await page.fill("#edit-company", "Difference Engines")
    await page.fill("#edit-email", "not an address")
    await page.click("#edit-save")
    await expect(page.locator("#edit-email-error")).not_to_be_empty(timeout=WAIT_MS)
    assert await page.input_value("#edit-company") == "Difference Engines"
    # A number another customer has: said by the phone box; the rest stays typed.
    await page.fill("#edit-email", "ada@engines.example")
    await page.fill("#edit-add_phone", "+1 555 987 0000")
    await page.click("#edit-save")
    await expect(page.locator("#edit-add_phone-error")).to_contain_text("+15559870000")
    assert await page.input_value("#edit-company") == "Difference Engines"
    assert (await world.store.customers.get(int(world.ids["customer"]))).company == (
        "Analytical Engines"
    )
    await page.fill("#edit-add_phone", "")
    await page.click("#edit-save")
    await expect(page.locator("#customer-company")).to_have_text(
        "Difference Engines", timeout=WAIT_MS
    )
    stored = await world.store.customers.get(int(world.ids["customer"]))
    assert (stored.company, stored.email) == ("Difference Engines", "ada@engines.example")

    duplicate = page.locator(f'.duplicate[data-customer="{twin}"]')
    await expect(duplicate).to_contain_text("same name", timeout=WAIT_MS)
    await assert_accessible(page, "the customer page")
    await screenshots(page, "customer")
    await duplicate.locator("button.merge").click()
    dialog = page.locator("#merge-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator("#merge-rows")).to_contain_text("+15559870000")
    await assert_accessible(page, "the merge preview")
    await page.click("#merge-confirm")
    await expect(dialog).to_be_hidden(timeout=WAIT_MS)
    await expect(page.locator("#customer-phones")).to_contain_text("+15559870000")
    twin_row = page.locator(".contact-row").filter(has_text="asked for a call back")
    await expect(twin_row).to_contain_text("Bob Agent")
    words = twin_row.locator(".ivr-words")
    await expect(words).to_contain_text("Pressed 2 at “support menu”")
    await expect(words).to_contain_text("Entered digits at “account number”")
    await expect(words).to_contain_text("Account found")
    await expect(words).to_contain_text("old style node")
    text = await words.inner_text()
    assert "7734" not in text and "branch" not in text and "check" not in text
    await expect(page.locator(f'.duplicate[data-customer="{twin}"]')).to_have_count(0)
    audit = await world.store.audit.list(limit=20)
    assert any(e.action == "customer.merge" and e.actor == "alice" for e in audit)

    # The merged-away customer's page leads to the kept one; an id never there says so.
    await page.goto(f"{world.origin}/customers/{twin}")
    await expect(page.locator("#customer-name")).to_have_text("Ada Lovelace", timeout=WAIT_MS)
    assert page.url.endswith("/customers/" + world.ids["customer"])
    await page.goto(f"{world.origin}/customers/987654")
    await expect(page.locator("#customer-name")).to_contain_text("No such customer")
    assert page.errors == []


async def test_the_customer_page_in_russian(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    await world.store.users.set_language("alice", "ru")
    page = await customer_page(browser, world)
    await expect(page.locator("#timeline-title")).to_have_text("Контакты")
    await expect(page.locator(".contact-row").first).to_contain_text("Оператор")
    await assert_accessible(page, "the customer page in Russian")
    await screenshots(page, "customer-ru")


async def test_older_contacts_page_in_for_a_supervisor(world: Any, browser: Any) -> None:
    """The timeline is paged 20 at a time, newest first; "Older contacts" appends the
    rest and then hides. Supervisors see the page like agents."""
    from playwright.async_api import expect

    customer = int(world.ids["customer"])
    start = time.time() - 30 * 86400
    for n in range(21):  # with past-1 and live-1: 23 contacts, two pages
        contact_id = await make_contact(
            world.store,
            f"old-{n}",
            "+15551230001",
            "billing",
            "1003",
            at=start + n * 60,
            disposition="resolved",
            notes=f"old call {n}",
        )
        await world.store.contacts.link_customer(contact_id, customer)
    page = await signed_in(browser, world.origin, "sue", password=PASSWORD)
    await page.goto(f"{world.origin}/customers/{customer}")
    rows = page.locator(".contact-row")
    await expect(rows).to_have_count(20, timeout=WAIT_MS)
    await expect(rows.first).not_to_contain_text("old call")  # newest first: live-1
    more = page.locator("#timeline-more")
    await expect(more).to_be_visible()
    await more.click()
    await expect(rows).to_have_count(23, timeout=WAIT_MS)
    await expect(rows.last).to_contain_text("old call 0")
    await expect(more).to_be_hidden()
    assert page.errors == []

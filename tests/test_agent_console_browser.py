"""The agent console in a real browser (Debian's chromium, Playwright) against the real
console server on 127.0.0.1, the real store and the FakeCenter playing the PBX.

What an agent relies on: a wrap-up is never lost (the limit, a reload, a new pop), a whole
call can be handled from the keyboard, controls are enabled only when they apply, the
ringing alert is seen, the page passes axe-core in both languages and fits a laptop.
Screenshots: tests/artifacts/agent-idle-*, agent-call-*, agent-wrapup-*.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser_kit import (
    LAPTOP,
    assert_accessible,
    fits_without_scrolling,
    screenshots,
    signed_in,
)
from tests.console_fakes import PASSWORD, make_contact
from tests.test_console_browser import agent_page_errors

pytestmark = pytest.mark.browser
WAIT_MS = 5000


async def alice(browser: Any, world: Any, *, locale: str = "en-GB") -> Any:
    return await signed_in(
        browser, world.origin, "alice", password=PASSWORD, viewport=LAPTOP, locale=locale
    )


def ring(
    world: Any, call_id: str = "c9", *, phone: str = "+15551230001", contact_id: Any = None
) -> None:
    """A caller waits in sales and the ACD rings Alice (who must be ready); c9 is Ada's."""
    world.center.arrive(
        call_id,
        "sales",
        phone,
        contact_id=world.ids["contact"] if call_id == "c9" else contact_id,
        customer_id=world.ids["customer"] if call_id == "c9" else None,
        path=[{"node": "main_menu", "kind": "menu", "digits": "1", "result": "option 1"}],
        waited=37,
    )
    world.center.offer(call_id, "1001", world.ids["card"] if call_id == "c9" else {})


async def enabled(page: Any) -> dict[str, bool]:
    ids = [
        "availability",
        "btn-availability",
        "btn-hold",
        "btn-unhold",
        "btn-hangup",
        "btn-transfer",
        "btn-dial",
    ]
    return {i: await page.locator("#" + i).is_enabled() for i in ids}


async def test_controls_follow_the_state_and_the_ring_is_seen(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    page = await alice(browser, world)
    idle = await enabled(page)
    assert idle == {
        "availability": True,
        "btn-availability": True,
        "btn-hold": False,
        "btn-unhold": False,
        "btn-hangup": False,
        "btn-transfer": False,
        "btn-dial": True,
    }
    await expect(page.locator("#who")).to_have_text("Alice Agent · agent 1001")
    await expect(page.locator("#state-time")).to_have_text("—")  # logged out: no count
    await expect(page.locator("#availability option:checked")).to_have_text("Logged out")
    # Desktop alerts: permission is asked only when the agent turns them on.
    await page.context.grant_permissions(["notifications"], origin=world.origin)
    await page.check("#notify")
    await expect(page.locator("#notify")).to_be_checked()
    await expect(page.locator("#action-error")).to_be_empty()
    await page.evaluate(
        "() => { window.shown = []; window.Notification = class extends window.Notification {"
        " constructor(title, options) { super(title, options); window.shown.push(title); } }; }"
    )
    await assert_accessible(page, "agent page, idle")
    await screenshots(page, "agent-idle")

    await page.select_option("#availability", "ready")
    await page.click("#btn-availability")
    await expect(page.locator("#state")).to_have_text("Ready", timeout=WAIT_MS)
    ring(world)
    await expect(page.locator("#card-name")).to_have_text("Ada Lovelace", timeout=WAIT_MS)
    await page.wait_for_function(
        "() => document.title === 'Ringing: Ada Lovelace'", timeout=WAIT_MS
    )
    assert await page.evaluate("window.shown") == ["Ringing: Ada Lovelace"]
    await expect(page.locator("#call-queue")).to_have_text("sales")
    await expect(page.locator("#card-phone")).to_have_text("+15551230001")
    await expect(page.locator("#call-waited")).to_have_text("0:37")
    await expect(page.locator("#ivr-path")).to_have_text("Pressed 1 at “main menu”")
    ringing = await enabled(page)
    assert ringing["availability"] is False and ringing["btn-dial"] is False
    assert ringing["btn-hold"] is False and ringing["btn-hangup"] is False

    world.center.answer("c9")
    await expect(page.locator("#call-state")).to_have_text("Talking", timeout=WAIT_MS)
    await page.wait_for_function("() => document.title === 'Call: Ada Lovelace'", timeout=WAIT_MS)
    talking = await enabled(page)
    assert talking == {
        "availability": False,
        "btn-availability": False,
        "btn-hold": True,
        "btn-unhold": False,
        "btn-hangup": True,
        "btn-transfer": True,
        "btn-dial": False,
    }
    await assert_accessible(page, "agent page with a pop")
    assert await fits_without_scrolling(page, "#pop")
    await screenshots(page, "agent-call")

    await page.click("#btn-hold")
    await expect(page.locator("#call-state")).to_have_text("On hold", timeout=WAIT_MS)
    held = await enabled(page)
    assert held["btn-hold"] is False and held["btn-unhold"] is True
    await expect(page.locator("#hold-time")).not_to_have_text("—")
    await expect(page.locator("#availability")).to_have_value("")  # shows "On a call"
    await expect(page.locator("#avail-current")).to_have_text("On a call")

    # From a 1024 px screen up: nothing sticks out sideways.
    for width in (1024, 1920):
        await page.set_viewport_size({"width": width, "height": 768})
        assert await page.evaluate("document.documentElement.scrollWidth") <= width
    await page.set_viewport_size(LAPTOP)

    # A refused action says so next to the call controls.
    world.center.fail_next = "unhold"
    await page.click("#btn-unhold")
    await expect(page.locator("#call-error")).to_contain_text("refused", timeout=WAIT_MS)

    # A ready colleague shows by name in the transfer picker (the directory).
    world.center.agents["1003"]["state"] = "ready"
    await page.select_option("#transfer-kind", "agent")
    await page.keyboard.press("Alt+t")
    assert await page.evaluate("document.activeElement.id") == "transfer-target"
    await expect(page.locator("#transfer-target option")).to_have_text(
        ["Carol Agent"], timeout=WAIT_MS
    )
    assert agent_page_errors(world, page) == []


async def test_a_whole_call_from_the_keyboard(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    page = await alice(browser, world)
    keys = page.keyboard
    await keys.press("?")
    await expect(page.locator("#keys-dialog")).to_be_visible()
    assert await page.evaluate("document.activeElement.id") == "keys-close"
    await keys.press("Escape")
    await expect(page.locator("#keys-dialog")).to_be_hidden()

    # Tab reaches the controls with a visible focus ring.
    assert await page.evaluate("document.activeElement.id") == "main"
    await keys.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "availability"
    await keys.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "btn-availability"
    ring_style = await page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, s.outlineWidth]; })()"
    )
    assert ring_style == ["solid", "3px"]

    await keys.press("Alt+r")
    await expect(page.locator("#state")).to_have_text("Ready", timeout=WAIT_MS)
    ring(world)
    world.center.answer("c9")
    await expect(page.locator("#call-state")).to_have_text("Talking", timeout=WAIT_MS)
    await keys.press("Alt+h")
    await expect(page.locator("#call-state")).to_have_text("On hold", timeout=WAIT_MS)
    await keys.press("Alt+h")
    await expect(page.locator("#call-state")).to_have_text("Talking", timeout=WAIT_MS)
    await keys.press("Alt+e")
    await expect(page.locator("#wrapup")).to_be_visible(timeout=WAIT_MS)
    assert [a[0] for a in world.center.actions if a[0] in ("hold", "unhold", "hangup")] == [
        "hold",
        "unhold",
        "hangup",
    ]

    await keys.press("Alt+w")
    assert await page.evaluate("document.activeElement.id") == "notes"
    await keys.type("fixed it all by keyboard")
    await keys.press("Control+Enter")  # no disposition yet: refused, next to the button
    await expect(page.locator("#wrapup-error")).to_have_text("Choose a disposition.")
    assert await page.evaluate("document.activeElement.id") == "disposition"
    await keys.press("ArrowDown")  # the first disposition
    await keys.press("Control+Enter")
    await expect(page.locator("#call-status")).to_have_text(
        "Wrap-up saved for Ada Lovelace.", timeout=WAIT_MS
    )
    await expect(page.locator("#wrapup")).to_be_hidden()
    contact = await world.app_crm().contact(world.ids["contact"])
    assert (contact["disposition"], contact["notes"]) == ("resolved", "fixed it all by keyboard")
    await expect(page.locator("#state")).to_have_text("Ready", timeout=WAIT_MS)
    await keys.press("Alt+n")  # not ready, with the first configured reason
    await expect(page.locator("#state")).to_have_text("Not ready", timeout=WAIT_MS)
    await expect(page.locator("#state-reason")).not_to_be_empty()
    await keys.press("/")
    assert await page.evaluate("document.activeElement.id") == "search-q"
    await keys.type("/?")  # typed into the field, not taken as shortcuts
    await expect(page.locator("#search-q")).to_have_value("/?")
    await expect(page.locator("#keys-dialog")).to_be_hidden()
    assert agent_page_errors(world, page) == []


async def test_the_wrapup_survives_the_limit_a_reload_and_a_new_pop(
    world: Any, browser: Any
) -> None:
    from playwright.async_api import expect

    page = await alice(browser, world)
    await page.select_option("#availability", "ready")
    await page.click("#btn-availability")
    await expect(page.locator("#state")).to_have_text("Ready", timeout=WAIT_MS)
    ring(world)
    world.center.answer("c9")
    world.center.end("c9")
    await expect(page.locator("#wrapup")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#disposition")).to_have_value("")
    # A known customer: a case may be opened.
    await expect(page.locator('#case-mode option[value="new"]')).to_have_count(1)
    await page.select_option("#disposition", "sale")
    await page.fill("#notes", "sold the premium plan")

    # The countdown shows the queue's limit...
    agent = world.center.agents["1001"]
    agent.update(wrap_up_until=world.clock() + 25, wrap_up_limit=30, wrap_up_overdue=False)
    world.center._set_agent("1001", "wrap_up")
    await expect(page.locator("#wrapup-timer")).to_have_text(
        re.compile(r"0:2\d left"), timeout=WAIT_MS
    )
    # ...then the limit runs out with unsaved input: she stays in wrap-up, overdue.
    agent.update(wrap_up_until=world.clock() - 1, wrap_up_limit=30, wrap_up_overdue=True)
    world.center._set_agent("1001", "wrap_up")
    await expect(page.locator("#wrapup-timer")).to_have_text("Overdue", timeout=WAIT_MS)
    await expect(page.locator("#state")).to_have_text("Wrap-up overdue")
    await assert_accessible(page, "agent page in wrap-up")
    assert await fits_without_scrolling(page, "#wrapup")
    await screenshots(page, "agent-wrapup")

    await page.wait_for_timeout(600)  # past the draft debounce
    await page.reload()
    await page.wait_for_selector("#conn.on", timeout=WAIT_MS)
    await expect(page.locator("#wrapup")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#notes")).to_have_value("sold the premium plan", timeout=WAIT_MS)
    await expect(page.locator("#disposition")).to_have_value("sale")

    # She goes ready with the wrap-up unsaved; a new call pops beside it.
    await page.select_option("#availability", "ready")
    await page.click("#btn-availability")
    await expect(page.locator("#state")).to_have_text("Ready", timeout=WAIT_MS)
    stranger = await make_contact(
        world.store, "live-2", "+15559870000", "sales", "1001", at=world.clock() - 60
    )
    ring(world, "c10", phone="+15559870000", contact_id=stranger)
    await expect(page.locator("#card-name")).to_have_text("Unknown caller", timeout=WAIT_MS)
    await expect(page.locator("#wrapup")).to_be_visible()
    await expect(page.locator("#wrapup-heading")).to_have_text("Wrap-up: Ada Lovelace")
    await expect(page.locator("#notes")).to_have_value("sold the premium plan")
    await page.click("#btn-wrapup")
    await expect(page.locator("#call-status")).to_have_text(
        "Wrap-up saved for Ada Lovelace.", timeout=WAIT_MS
    )
    contact = await world.app_crm().contact(world.ids["contact"])
    assert (contact["disposition"], contact["notes"]) == ("sale", "sold the premium plan")

    # Once the server keeps drafts (the draft API), the wrap-up deleted Ada's.
    if any(
        getattr(r.resource, "canonical", "") == "/api/contacts/{id}/draft"
        for r in world.app.router.routes()
    ):
        client = await world.client("alice")
        resp = await client.request("GET", f"/api/contacts/{world.ids['contact']}/draft")
        assert (await resp.json())["draft"] is None

    # The unknown caller's own wrap-up offers a new case that creates the customer first
    # (issue 17): it asks for their name; saved as a customer from the card, it does not.
    world.center.answer("c10")
    await expect(page.locator("#new-customer")).to_be_visible(timeout=WAIT_MS)
    world.center.end("c10")
    await expect(page.locator("#wrapup-heading")).to_have_text(
        "Wrap-up: Unknown caller", timeout=WAIT_MS
    )
    await expect(page.locator("#case-mode option")).to_have_count(2)
    await expect(page.locator("#case-hint")).to_be_visible()
    await page.select_option("#case-mode", "new")
    await expect(page.locator("#case-new-customer")).to_be_visible()
    await page.fill("#new-customer-name", "Nora Newcomer")
    await page.click("#btn-new-customer")
    await expect(page.locator("#call-status")).to_have_text(
        "Nora Newcomer is saved as a customer.", timeout=WAIT_MS
    )
    await expect(page.locator('#case-mode option[value="new"]')).to_have_count(1)
    await expect(page.locator("#case-hint")).to_be_hidden()
    await expect(page.locator("#case-new-customer")).to_be_hidden()
    await expect(page.locator("#wrapup-heading")).to_have_text("Wrap-up: Nora Newcomer")
    assert agent_page_errors(world, page) == []


async def test_the_russian_page_is_accessible_and_translated(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    page = await alice(browser, world, locale="ru-RU")
    await expect(page.locator("#state")).to_have_text("Не в системе")
    await expect(page.locator('#availability option[value="ready"]')).to_have_text("Готов")
    await expect(page.locator('label[for="search-q"]')).to_have_text("Найти клиента")
    await page.select_option("#availability", "ready")
    await page.click("#btn-availability")
    await expect(page.locator("#state")).to_have_text("Готов", timeout=WAIT_MS)
    ring(world)
    await expect(page.locator("#ivr-path")).to_have_text("Нажал 1 в меню «main menu»")
    await assert_accessible(page, "Russian agent page with a pop")
    world.center.answer("c9")
    world.center.end("c9")
    await expect(page.locator("#wrapup-heading")).to_have_text(
        "Обработка: Ada Lovelace", timeout=WAIT_MS
    )
    await expect(page.locator("#disposition option").first).to_have_text("Выберите…")
    await assert_accessible(page, "Russian agent page in wrap-up")
    assert await fits_without_scrolling(page, "#wrapup")
    await screenshots(page, "agent-wrapup-ru")
    assert agent_page_errors(world, page) == []


async def test_keyboard_call_and_a_reloaded_draft_end_to_end(tmp_path: Any, browser: Any) -> None:
    """The real service and the PBX simulator: go ready by keyboard, a known customer's
    call pops and is answered, the agent hangs up, types notes, reloads the page; the notes
    come back and Ctrl+Enter saves them into the contact log."""
    from playwright.async_api import expect

    from switchboard.demo import seed_users
    from telephony.simulator import PhoneBehaviour
    from tests.service_harness import running_service
    from tests.test_e2e_calls import DEMO_DID

    phones = {"PJSIP/1001": PhoneBehaviour(answer_after=5.0)}
    async with running_service(tmp_path, phones=phones) as (service, sim, _rec, url):
        await seed_users(service.store)
        ada = await service.store.customers.add("Ada Lovelace", ["+15550001111"], tier="VIP")
        page = await signed_in(browser, url, "alice", viewport=LAPTOP)
        await page.keyboard.press("Alt+r")
        await expect(page.locator("#state")).to_have_text("Ready", timeout=10_000)
        # Time in state counts from this state's start, not from the service's start.
        assert re.fullmatch(r"0:0\d", await page.locator("#state-time").text_content() or "")
        sim.place_call("+15550001111", did=DEMO_DID, dtmf=["2"], patience=6000)
        await expect(page.locator("#card-name")).to_have_text("Ada Lovelace", timeout=10_000)
        await expect(page.locator("#call-state")).to_have_text("Talking", timeout=10_000)
        await expect(page.locator("#call-queue")).to_have_text("support")
        await page.keyboard.press("Alt+e")
        await expect(page.locator("#wrapup")).to_be_visible(timeout=10_000)
        await page.keyboard.press("Alt+w")
        await page.keyboard.type("router replaced under warranty")
        await page.select_option("#disposition", "resolved")
        await page.wait_for_timeout(600)  # past the draft debounce
        await page.reload()
        await page.wait_for_selector("#conn.on", timeout=10_000)
        await expect(page.locator("#notes")).to_have_value(
            "router replaced under warranty", timeout=10_000
        )
        await page.keyboard.press("Alt+w")
        await page.keyboard.press("Control+Enter")
        await expect(page.locator("#call-status")).to_have_text(
            "Wrap-up saved for Ada Lovelace.", timeout=10_000
        )
        history = await service.store.contacts.history(ada.id)
        latest = history.items[0]
        assert (latest.disposition, latest.notes) == ("resolved", "router replaced under warranty")
        assert latest.agent_id == "1001"
        assert page.errors == []


async def test_a_missed_call_asks_for_no_wrapup(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    page = await alice(browser, world)
    await page.keyboard.press("Alt+r")
    await expect(page.locator("#state")).to_have_text("Ready", timeout=WAIT_MS)
    ring(world)
    await page.wait_for_function(
        "() => document.title === 'Ringing: Ada Lovelace'", timeout=WAIT_MS
    )
    world.center.end("c9")  # the caller gave up while it rang
    await expect(page.locator("#state")).to_have_text("Not ready", timeout=WAIT_MS)
    await page.wait_for_timeout(1100)  # past a flash: the title stays put
    assert await page.title() == "Agent — Switchboard"
    await expect(page.locator("#wrapup")).to_be_hidden()
    await page.reload()
    await page.wait_for_selector("#conn.on", timeout=WAIT_MS)
    await expect(page.locator("#call-state")).to_have_text("Ended", timeout=WAIT_MS)
    await expect(page.locator("#wrapup")).to_be_hidden()
    assert agent_page_errors(world, page) == []

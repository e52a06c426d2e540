"""The whole product in a real browser: Debian's chromium (Playwright) against the real
service on 127.0.0.1, whose calls come from the PBX simulator over AMI.

An agent logs in and goes ready; a known customer calls and presses 2; the card pops with
the right customer, their history and this call's IVR path; the agent hangs up and saves
the wrap-up, which shows in the history; a supervisor's wallboard follows along.
Screenshots go to tests/artifacts/ (e2e-agent.png, e2e-supervisor.png).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from switchboard.demo import seed_users
from telephony.simulator import PhoneBehaviour
from tests.browser_kit import signed_in
from tests.service_harness import running_service
from tests.test_e2e_calls import DEMO_DID

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
WAIT_MS = 10_000


async def login(browser: Any, url: str, username: str) -> Any:
    return await signed_in(browser, url, username, viewport={"width": 1280, "height": 900})


async def earlier_contact(service: Any, customer_id: int) -> None:
    """A past call of the customer, wrapped up with a note, as the history holds it."""
    contacts = service.store.contacts
    key = "earlier-call-1"
    await contacts.arrived(key, "+15550001111", DEMO_DID, "inbound", 1_790_000_000.0, customer_id)
    await contacts.queued(key, "billing", 1_790_000_030.0)
    await contacts.answered(key, "1004", 1_790_000_045.0)
    await contacts.ended(key, 1_790_000_300.0, "answered")
    contact = await contacts.get_by_key(key)
    await contacts.wrapup(contact.id, "resolved", "asked about the invoice")


async def test_agent_takes_a_simulated_call_end_to_end(tmp_path: Path, browser: Any) -> None:
    from playwright.async_api import expect

    phones = {"PJSIP/1001": PhoneBehaviour(answer_after=5.0)}  # 0.25 s at time_scale 0.05
    async with running_service(tmp_path, phones=phones) as (service, sim, _rec, url):
        await seed_users(service.store)
        ada = await service.store.customers.add(
            "Ada Lovelace", ["+15550001111"], company="Analytical Engines", tier="VIP"
        )
        await earlier_contact(service, ada.id)

        supervisor = await login(browser, url, "sam")
        tile = supervisor.locator('.tile[data-queue="support"]')
        await expect(tile.locator(".answered")).to_have_text("0", timeout=WAIT_MS)

        agent = await login(browser, url, "alice")
        assert agent.url.endswith("/agent")
        await agent.select_option("#availability", "ready")
        await agent.click("#btn-availability")
        await expect(agent.locator("#state")).to_have_text("Ready", timeout=WAIT_MS)
        alice_row = supervisor.locator('.agent-row[data-agent="1001"]')
        await expect(alice_row.locator(".state")).to_have_text("Ready", timeout=WAIT_MS)

        sim.place_call("+15550001111", did=DEMO_DID, dtmf=["2"], patience=6000)
        await expect(agent.locator("#card-name")).to_have_text("Ada Lovelace", timeout=WAIT_MS)
        await expect(agent.locator("#card-company")).to_have_text("Analytical Engines")
        await expect(agent.locator("#card-vip")).to_be_visible()
        await expect(agent.locator("#card-history")).to_contain_text("asked about the invoice")
        await expect(agent.locator("#ivr-path")).to_contain_text("Pressed 2")
        await expect(agent.locator("#call-queue")).to_have_text("support")
        await expect(agent.locator("#call-state")).to_have_text("Talking", timeout=WAIT_MS)
        await expect(alice_row.locator(".state")).to_have_text("On a call", timeout=WAIT_MS)
        await expect(alice_row.locator(".call")).to_contain_text("+15550001111")
        await expect(tile.locator(".answered")).to_have_text("1", timeout=WAIT_MS)

        await agent.click("#btn-hangup")
        await expect(agent.locator("#wrapup")).to_be_visible(timeout=WAIT_MS)
        await agent.select_option("#disposition", "resolved")
        await agent.fill("#notes", "router replaced under warranty")
        ARTIFACTS.mkdir(exist_ok=True)
        await agent.screenshot(path=str(ARTIFACTS / "e2e-agent.png"), full_page=True)
        await agent.click("#btn-wrapup")
        await expect(agent.locator("#card-history")).to_contain_text(
            "router replaced under warranty", timeout=WAIT_MS
        )
        await expect(agent.locator("#call-status")).to_have_text("Wrap-up saved for Ada Lovelace.")
        await expect(agent.locator("#state")).to_have_text("Ready", timeout=WAIT_MS)
        await supervisor.screenshot(path=str(ARTIFACTS / "e2e-supervisor.png"), full_page=True)

        history = await service.store.contacts.history(ada.id)
        latest = history.items[0]
        assert (latest.disposition, latest.notes) == ("resolved", "router replaced under warranty")
        assert latest.agent_id == "1001"
        assert latest.queue == "support"
        assert latest.outcome == "answered"
        assert agent.errors == [] and supervisor.errors == []


async def test_agent_turns_a_new_caller_into_a_customer(tmp_path: Path, browser: Any) -> None:
    from playwright.async_api import expect

    phones = {"PJSIP/1001": PhoneBehaviour(answer_after=5.0)}
    async with running_service(tmp_path, phones=phones) as (service, sim, _rec, url):
        await seed_users(service.store)
        agent = await login(browser, url, "alice")
        await agent.select_option("#availability", "ready")
        await agent.click("#btn-availability")
        await expect(agent.locator("#state")).to_have_text("Ready", timeout=WAIT_MS)
        sim.place_call("+15550004242", did=DEMO_DID, dtmf=["1"], patience=6000)
        await expect(agent.locator("#card-tier")).to_have_text("New caller", timeout=WAIT_MS)
        await expect(agent.locator("#call-state")).to_have_text("Talking", timeout=WAIT_MS)
        await agent.fill("#new-customer-name", "Nina Newcomer")
        await agent.fill("#new-customer-company", "Newcomer Ltd")
        await agent.click("#btn-new-customer")
        await expect(agent.locator("#card-name")).to_have_text("Nina Newcomer", timeout=WAIT_MS)
        await expect(agent.locator("#card-company")).to_have_text("Newcomer Ltd")
        await expect(agent.locator("#new-customer")).to_be_hidden()

        nina = await service.store.customers.find_by_phone("+15550004242")
        assert nina is not None and nina.name == "Nina Newcomer"
        call_id = next(iter(service.center.calls))
        await service.center.recorder.flush()
        contact = await service.store.contacts.get_by_key(call_id)
        assert contact.customer_id == nina.id  # this call is now in her history
        assert agent.errors == []

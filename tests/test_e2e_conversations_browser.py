"""Two chats and a call on one agent's page, end to end: Debian's chromium (Playwright)
against the real service on 127.0.0.1 — the real digital desk and ACD routing the chats,
the PBX simulator over AMI ringing the call, the real store.

The agent goes ready; two chats are assigned (the first is selected since the agent is
idle, the second only announced); a call rings beside them (voice during chats is on
for this agent) and is answered. By keyboard only the agent switches tabs (Alt+1..3),
answers a chat with a canned response, sees the customer type and write (as text, never
HTML), ends the chat (Alt+E) and saves its wrap-up in the call's form (Ctrl+Enter),
which closes the conversation; the contact page then shows the chat's thread.
Screenshots: tests/artifacts/e2e-chats-*.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from agent_console.keys import CENTER
from switchboard.demo import seed_users
from telephony.simulator import PhoneBehaviour
from tests.browser_kit import LAPTOP, assert_accessible, screenshots, signed_in
from tests.service_harness import running_service
from tests.test_e2e_calls import DEMO_DID

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parent.parent
WAIT_MS = 10_000
GREETING = "Hello Ada, this is Alice Moreau from the support team. How can I help?"


def queues_with_chat(tmp: Path) -> Path:
    """The shipped queue file, with support taking chats and Alice taking a call while
    she holds chats (voice_during_digital)."""
    data = yaml.safe_load((ROOT / "config" / "queues.yaml").read_text())
    data["queues"]["support"]["channels"] = ["voice", "chat"]
    data["queues"]["support"].pop("record", None)  # no recording files in this test
    for agent in data["agents"]:
        if agent["id"] == "1001":
            agent["capacity"] = {"voice": 1, "chat": 3, "email": 2}
            agent["voice_during_digital"] = True
    path = tmp / "queues.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


async def test_two_chats_and_a_call_by_keyboard(tmp_path: Path, browser: Any) -> None:
    from playwright.async_api import expect

    phones = {"PJSIP/1001": PhoneBehaviour(answer_after=5.0)}  # 0.25 s at time_scale 0.05
    queues = queues_with_chat(tmp_path)
    async with running_service(tmp_path, phones=phones, queues_file=queues) as (
        service,
        sim,
        _rec,
        url,
    ):
        await seed_users(service.store)
        await service.store.customers.add(
            "Ada Lovelace", ["+15550001111"], company="Analytical Engines", tier="VIP"
        )
        port = service.app[CENTER]
        page = await signed_in(browser, url, "alice", viewport=LAPTOP)
        await page.select_option("#availability", "ready")
        await page.click("#btn-availability")
        await expect(page.locator("#state")).to_have_text("Ready", timeout=WAIT_MS)

        # two chats: the desk finds Ada by her number; the ACD assigns both to Alice
        ada = await port.visitor_open(
            "chat",
            "support",
            {"name": "Ada", "phone": "+15550001111"},
            "",
            "en",
            "Hello, <b>is anyone</b> there?",
        )
        tabs = page.locator("#contact-tabs [role=tab]")
        await expect(tabs).to_have_count(2, timeout=WAIT_MS)
        # idle on the phone tab: the chat is selected, its reply box focused
        await expect(tabs.nth(1)).to_have_attribute("aria-selected", "true")
        chat = page.locator(".conv-panel:visible")
        await expect(chat.locator("textarea")).to_be_focused()
        await expect(chat.locator("[data-part=card-name]")).to_have_text(
            "Ada Lovelace", timeout=WAIT_MS
        )
        await page.focus("#conv-panels textarea")
        await page.keyboard.type("One moment")  # typing when the second chat comes
        bo = await port.visitor_open(
            "chat", "support", {"name": "Bo Visitor"}, "", "en", "hi, a question"
        )
        await expect(tabs).to_have_count(3, timeout=WAIT_MS)
        await expect(page.locator("#conv-announce")).to_contain_text("Bo Visitor")
        await expect(tabs.nth(1)).to_have_attribute("aria-selected", "true")
        await expect(chat.locator("textarea")).to_be_focused()
        await page.keyboard.press("Control+A")
        await page.keyboard.press("Delete")

        # a call beside the chats
        sim.place_call("+15550001111", did=DEMO_DID, dtmf=["2"], patience=6000)
        await expect(page.locator("#tab-call")).to_contain_text("Talking", timeout=WAIT_MS)
        await expect(page.locator("#conv-announce")).to_contain_text("Call ringing")
        await page.keyboard.press("Alt+1")
        await expect(page.locator("#panel-call")).to_be_visible()
        await expect(page.locator("#card-name")).to_have_text("Ada Lovelace")
        await expect(page.locator("#call-state")).to_have_text("Talking")

        # Alt+2: Ada's chat; her words are text; "/" picks the greeting, Enter sends it
        await page.keyboard.press("Alt+2")
        chat = page.locator(".conv-panel:visible")
        reply = chat.locator("textarea")
        await expect(reply).to_be_focused()
        await expect(chat.locator(".thread")).to_contain_text("Hello, <b>is anyone</b> there?")
        assert await chat.locator(".thread b").count() == 0
        await page.keyboard.type("/")
        await expect(chat.locator("[data-part=canned-filter]")).to_be_focused()
        await page.keyboard.type("greet")
        await page.keyboard.press("ArrowDown")
        await page.keyboard.press("ArrowUp")
        await page.keyboard.press("Enter")
        await expect(reply).to_have_value(GREETING)
        await page.keyboard.press("Enter")
        await expect(reply).to_have_value("")
        await expect(chat.locator(".msg.agent .msg-text")).to_have_text(GREETING, timeout=WAIT_MS)
        stored = await service.store.conversations.messages(ada["key"])
        assert [(m["sender"], m["text"]) for m in stored][-1] == ("agent", GREETING)
        # the customer types, then writes
        await port.visitor_typing(ada["key"], True)
        await expect(chat.locator(".typing")).to_have_text(
            "Ada Lovelace is typing…", timeout=WAIT_MS
        )
        await port.visitor_message(ada["key"], "<img src=x onerror=alert(1)> my invoice")
        await expect(chat.locator(".msg.customer").last).to_contain_text(
            "<img src=x", timeout=WAIT_MS
        )
        assert await chat.locator(".thread img").count() == 0
        await assert_accessible(page, "agent page, two chats and a call")
        await screenshots(page, "e2e-chats")

        # Bo writes meanwhile: his tab counts it; Alt+3 reads it
        await port.visitor_message(bo["key"], "still there?")
        await expect(tabs.nth(2)).to_contain_text("1 new", timeout=WAIT_MS)
        await page.keyboard.press("Alt+3")
        await expect(page.locator(".conv-panel:visible .thread")).to_contain_text("still there?")

        # Ada's chat ends by Alt+E: the call's wrap-up form, for the chat's contact
        await page.keyboard.press("Alt+2")
        await page.keyboard.press("Alt+E")
        await expect(page.locator("#wrapup-heading")).to_have_text(
            "Wrap-up: Ada Lovelace", timeout=WAIT_MS
        )
        await expect(page.locator("#disposition")).to_be_focused()
        await page.select_option("#disposition", "resolved")
        await page.focus("#notes")
        await page.keyboard.type("invoice resent by chat")
        await page.keyboard.press("Control+Enter")
        await expect(tabs).to_have_count(2, timeout=WAIT_MS)
        contact = await service.store.contacts.get_by_key(ada["key"])
        assert (contact.channel, contact.disposition) == ("chat", "resolved")
        assert contact.notes == "invoice resent by chat"
        assert (await service.store.conversations.get(ada["key"]))["state"] == "closed"
        # the call goes on, its own wrap-up not touched
        await expect(page.locator("#panel-call")).to_be_visible()
        await expect(page.locator("#call-state")).to_have_text("Talking")

        # the contact page shows the chat's thread, as text
        await page.goto(f"{url}/contacts/{contact.id}")
        messages = page.locator("#contact-messages .msg")
        await expect(messages).to_have_count(3, timeout=WAIT_MS)
        await expect(messages.nth(0)).to_contain_text("Hello, <b>is anyone</b> there?")
        await expect(messages.nth(1)).to_contain_text(GREETING)
        assert await page.locator("#contact-messages img, #contact-messages b").count() == 0
        await assert_accessible(page, "contact page of a chat")
        # and the customer's history: the chat with its transcript, beside the call
        await page.goto(f"{url}/customers/{contact.customer_id}")
        row = page.locator(f'#timeline .contact-row[data-contact="{contact.id}"]')
        await expect(row).to_contain_text("Chat", timeout=WAIT_MS)
        await row.locator("details.transcript summary").click()
        await expect(row.locator(".msg")).to_have_count(3)
        await expect(row.locator(".msg").nth(2)).to_contain_text("<img src=x")
        assert await row.locator("img").count() == 0
        await assert_accessible(page, "customer page with a chat")
        assert not page.errors, page.errors

"""Chats beside a call on the agent page, in a real browser (Debian's chromium,
Playwright) against the real console server on 127.0.0.1 and the real store.

An agent on a call gets two chats: they are announced, not forced on the agent; Alt+1..9
switch tabs; "/" picks a canned response with its placeholders filled; Enter sends;
what a customer writes shows as text, never as HTML; the customer's typing shows; End
opens the same wrap-up form as a call's, and saving it closes the chat.
Screenshots: tests/artifacts/agent-chats-*.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.browser_kit import LAPTOP, assert_accessible, insert_article, screenshots, signed_in
from tests.console_fakes import PASSWORD, add_attachment, make_contact

pytestmark = pytest.mark.browser
WAIT_MS = 5000


async def test_two_chats_beside_a_call_by_keyboard(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    center = world.center
    page = await signed_in(browser, world.origin, "alice", password=PASSWORD, viewport=LAPTOP)
    await page.select_option("#availability", "ready")
    await page.click("#btn-availability")
    await expect(page.locator("#state")).to_have_text("Ready", timeout=WAIT_MS)
    # a call first: Ada rings and is answered
    center.arrive("c9", "sales", "+15551230001", contact_id=world.ids["contact"])
    center.offer("c9", "1001", world.ids["card"])
    center.answer("c9")
    await expect(page.locator("#call-state")).to_have_text("Talking", timeout=WAIT_MS)
    await page.focus("#search-q")  # looking a customer up when the chats come
    await page.keyboard.type("Lovel")

    contact = await make_contact(
        world.store, "chat-of-ada", "+15551230001", "sales", "1001", at=world.clock() - 60
    )
    ada_chat = await center.visitor_open(
        "chat",
        "sales",
        {"name": "Ada", "phone": "+15551230001"},
        first_message="Hello, <b>is anyone</b> there?",
    )
    CHAT_ADA = ada_chat["key"]
    center.conversations[CHAT_ADA]["customer_id"] = int(world.ids["customer"])
    center.assign_conversation(CHAT_ADA, "1001", world.ids["card"], contact_id=contact)
    bo_chat = await center.visitor_open("chat", "sales", {"name": "Bo Visitor"}, first_message="hi")
    CHAT_BO = bo_chat["key"]
    center.assign_conversation(CHAT_BO, "1001")
    tabs = page.locator("#contact-tabs [role=tab]")
    await expect(tabs).to_have_count(3, timeout=WAIT_MS)
    await expect(tabs.nth(1)).to_contain_text("Chat · Ada Lovelace")
    await expect(tabs.nth(2)).to_contain_text("Chat · Bo Visitor")
    # announced, and the agent keeps typing where they were
    await expect(page.locator("#conv-announce")).to_contain_text("Bo Visitor", timeout=WAIT_MS)
    assert await page.evaluate("document.activeElement.id") == "search-q"
    await expect(page.locator("#panel-call")).to_be_visible()

    # Alt+2: Ada's chat, the reply box focused; her words are text, not markup
    await page.keyboard.press("Alt+2")
    panel = page.locator("#contact-tabs [aria-selected=true]")
    await expect(panel).to_contain_text("Ada Lovelace")
    ada = page.locator(".conv-panel:visible")
    await expect(ada.locator(".thread")).to_contain_text("Hello, <b>is anyone</b> there?")
    assert await ada.locator(".thread b").count() == 0
    await expect(ada.locator("[data-part=card-name]")).to_have_text("Ada Lovelace")
    reply = ada.locator("textarea")
    await expect(reply).to_be_focused()
    # "/" opens the canned responses; typing filters, Enter inserts it filled
    await page.keyboard.type("/")
    await expect(ada.locator("[data-part=canned-filter]")).to_be_focused()
    await page.keyboard.type("greet")
    await page.keyboard.press("Enter")
    await expect(reply).to_be_focused()
    await expect(reply).to_have_value(
        "Hello Ada, this is Alice Agent from the sales team. How can I help?"
    )
    await page.keyboard.press("Shift+Enter")
    await page.keyboard.type("(one moment)")
    await page.keyboard.press("Enter")
    await expect(reply).to_have_value("")
    sent = "Hello Ada, this is Alice Agent from the sales team. How can I help?\n(one moment)"
    await expect(ada.locator(".msg.agent .msg-text")).to_have_text(sent, timeout=WAIT_MS)
    assert ("conversation_reply", "1001", CHAT_ADA, sent) in center.actions
    # a reload finds the tabs and the threads again (the desk is the truth)
    await page.reload()
    await expect(tabs).to_have_count(3, timeout=WAIT_MS)
    await page.keyboard.press("Alt+2")
    ada = page.locator(".conv-panel:visible")
    reply = ada.locator("textarea")
    await expect(ada.locator(".msg.agent .msg-text")).to_have_text(sent, timeout=WAIT_MS)
    await expect(ada.locator(".msg")).to_have_count(2)
    # the customer types, then writes
    await center.visitor_typing(CHAT_ADA, True)
    await expect(ada.locator(".typing")).to_have_text("Ada Lovelace is typing…", timeout=WAIT_MS)
    await center.visitor_message(CHAT_ADA, "<img src=x onerror=alert(1)> my invoice")
    await expect(ada.locator(".msg.customer").last).to_contain_text("<img src=x", timeout=WAIT_MS)
    assert await ada.locator(".thread img").count() == 0
    await expect(ada.locator(".typing")).to_have_text("")

    # an article from the knowledge base (Alt+K) goes into this chat's reply box, at
    # the cursor after what the agent typed, and counts as used on the chat's contact
    article = await world.store.knowledge.add(
        title="Resending an invoice",
        body="Invoices are resent from *Billing → Invoices → Email*.",
        language="en",
        owner="sue",
    )
    await reply.fill("Here is how:")
    await insert_article(page, "resending invoice", "Resending an invoice")
    await expect(reply).to_be_focused()
    await expect(reply).to_have_value(
        "Here is how:\nInvoices are resent from Billing → Invoices → Email.", timeout=WAIT_MS
    )
    used = await world.store.knowledge.uses_of_contact(contact)
    assert [u["article_id"] for u in used] == [article.id]
    await reply.fill("")
    await page.keyboard.press("Alt+k")  # the panel closes
    await expect(page.locator("#kb-side")).to_be_hidden()

    await assert_accessible(page, "agent page, a chat beside a call")
    await screenshots(page, "agent-chats")

    # a message in the other chat while on this one: its tab counts it
    await center.visitor_message(CHAT_BO, "still there?")
    await expect(tabs.nth(2)).to_contain_text("1 new", timeout=WAIT_MS)
    await page.keyboard.press("Alt+3")
    await expect(page.locator(".conv-panel:visible .thread")).to_contain_text("still there?")
    await expect(tabs.nth(2)).not_to_contain_text("1 new")
    await page.keyboard.press("Alt+1")
    await expect(page.locator("#panel-call")).to_be_visible()
    await expect(page.locator("#tab-call")).to_be_focused()

    # Ada's chat ends by Alt+E: the same wrap-up form, by its contact; saving closes it
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
    assert ("conversation_close", "1001", CHAT_ADA) in center.actions
    saved = await world.store.contacts.get(contact)
    assert (saved.disposition, saved.notes) == ("resolved", "invoice resent by chat")
    # the call goes on: its wrap-up is its own
    assert center.agents["1001"]["state"] == "on_call"
    await expect(page.locator("#panel-call")).to_be_visible()
    await expect(page.locator("#wrapup")).to_be_hidden()
    assert not page.errors, page.errors


async def test_an_email_in_russian(world: Any, browser: Any) -> None:
    """An email's tab in Russian: the composer (subject "Re: …", the thread quoted
    read-only, Ctrl+Enter sends) passes axe-core too."""
    from playwright.async_api import expect

    center = world.center
    page = await signed_in(
        browser, world.origin, "alice", password=PASSWORD, viewport=LAPTOP, locale="ru-RU"
    )
    mail = await center.visitor_open(
        "email",
        "sales",
        {"name": "Ada", "email": "ada@example.com"},
        subject="Invoice 42",
        first_message="Please resend\nthe invoice.",
    )
    # the mail came with a file (what the intake writes into the message's meta)
    file_id = await add_attachment(world, mail["key"], "счёт 42.pdf", "application/pdf")
    center.messages[mail["key"]][0]["meta"]["attachments"] = [
        {"id": file_id, "filename": "счёт 42.pdf", "content_type": "application/pdf", "size": 10}
    ]
    center.assign_conversation(mail["key"], "1001")
    tab = page.locator("#contact-tabs [role=tab]").nth(1)
    await expect(tab).to_contain_text("Письмо · Ada", timeout=WAIT_MS)
    # idle on the phone tab with no call: selected, the composer focused
    panel = page.locator(".conv-panel:visible")
    body = panel.locator("textarea")
    await expect(body).to_be_focused()
    await expect(panel.locator("[data-part=subject-input]")).to_have_value("Re: Invoice 42")
    await expect(panel.locator(".quoted")).to_contain_text("> Please resend\n> the invoice.")
    link = panel.get_by_role("link", name="счёт 42.pdf")
    async with page.expect_download() as got:
        await link.click()
    download = await got.value
    assert download.suggested_filename == "счёт 42.pdf"
    saved = await download.path()
    assert await asyncio.to_thread(Path(saved).read_bytes) == b"%PDF-1.4 x"
    await body.focus()
    await page.keyboard.type("Done.")
    await page.keyboard.press("Enter")  # a new line in an email, not a send
    await page.keyboard.type("Regards")
    await expect(body).to_have_value("Done.\nRegards")
    await assert_accessible(page, "agent page, an email, in Russian")
    await page.keyboard.press("Control+Enter")
    await expect(body).to_have_value("", timeout=WAIT_MS)
    assert ("conversation_reply", "1001", mail["key"], "Done.\nRegards") in center.actions
    await expect(panel.locator(".quoted")).to_contain_text("> Regards")
    # the relay is down: the reply is kept in the thread and says it was not sent
    center.reply_meta = {"delivery": "failed", "delivery_error": "the relay is down"}
    await body.fill("Second try")
    await body.press("Control+Enter")
    status = panel.locator(".msg.agent", has_text="Second try").locator(".msg-status")
    await expect(status).to_have_text("Не отправлено: the relay is down", timeout=WAIT_MS)
    assert not page.errors, page.errors


async def test_a_long_chat_opens_on_its_newest_messages(world: Any, browser: Any) -> None:
    """A chat of 1,202 messages: the tab shows the newest page (it used to show the
    oldest 500, so the agent never saw what the customer just said); "Show earlier
    messages" reads the pages before it, keeping the agent's place, until the first."""
    from playwright.async_api import expect

    center = world.center
    page = await signed_in(browser, world.origin, "alice", password=PASSWORD, viewport=LAPTOP)
    chat = await center.visitor_open("chat", "sales", {"name": "Ada"}, first_message="line 1")
    for i in range(2, 1203):
        await center.visitor_message(chat["key"], f"line {i}")
    center.assign_conversation(chat["key"], "1001")
    await page.locator("#contact-tabs [role=tab]").nth(1).click(timeout=WAIT_MS)
    panel = page.locator(".conv-panel:visible")
    messages = panel.locator(".msg")
    await expect(messages).to_have_count(500, timeout=WAIT_MS)
    await expect(messages.last).to_contain_text("line 1202")
    await expect(messages.first).to_contain_text("line 703")
    earlier = panel.get_by_role("button", name="Show earlier messages")
    await earlier.click()
    await expect(messages).to_have_count(1000, timeout=WAIT_MS)
    await expect(messages.first).to_contain_text("line 203")
    await earlier.click()
    await expect(messages).to_have_count(1202, timeout=WAIT_MS)
    await expect(messages.first).to_contain_text("line 1")
    await expect(earlier).to_be_hidden()
    await expect(messages.last).to_contain_text("line 1202")
    assert not page.errors, page.errors


async def test_a_bounce_says_which_reply_did_not_arrive(world: Any, browser: Any) -> None:
    """A bounce of the agent's reply (the desk's delivery_report: a system message with
    meta.bounce) reads as one line naming the customer and the reason, as text (the
    remote server's markup stays markup), links the reply, and the reply says it was
    not delivered."""
    from playwright.async_api import expect

    center = world.center
    page = await signed_in(browser, world.origin, "alice", password=PASSWORD, viewport=LAPTOP)
    mail = await center.visitor_open(
        "email",
        "sales",
        {"name": "Ada", "email": "ada@example.com"},
        subject="Invoice 42",
        first_message="Please resend it.",
    )
    center.assign_conversation(mail["key"], "1001")
    panel = page.locator(".conv-panel:visible")
    body = panel.locator("textarea")
    await expect(body).to_be_focused(timeout=WAIT_MS)
    center.reply_meta = {"delivery": "sent", "message_id": "<r1@shop.test>"}
    await body.fill("Here it is.")
    await body.press("Control+Enter")
    reply = panel.locator(".msg.agent", has_text="Here it is.")
    await expect(reply).to_be_visible(timeout=WAIT_MS)
    conv = center._conversation(mail["key"])
    diagnostic = "smtp; 550 5.1.1 <b>User unknown</b>"
    bounce = {
        "report_id": "<dsn@mx>",
        "reply_seq": 2,
        "reply_message_id": "<r1@shop.test>",
        "recipient": "ada@example.com",
        "action": "failed",
        "status": "5.1.1",
        "diagnostic": diagnostic,
    }
    center._add_message(conv, "system", "stored text", None, {"bounce": bounce})
    line = panel.locator(".msg.system.bounce")
    await expect(line.locator(".msg-text")).to_have_text(
        f"Your reply to ada@example.com could not be delivered: 5.1.1 {diagnostic}",
        timeout=WAIT_MS,
    )
    assert await line.locator("b").count() == 0  # text, never HTML
    await expect(reply.locator(".msg-status")).to_have_text(f"Not delivered: 5.1.1 {diagnostic}")
    await line.get_by_role("button", name="Show the reply").click()
    await expect(reply).to_be_focused()
    await assert_accessible(page, "agent page, an email's bounce")
    assert not page.errors, page.errors

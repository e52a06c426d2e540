"""The chat widget end to end in Debian's chromium (Playwright): a company's page on
another 127.0.0.1 origin embeds it with one script tag; the visitor fills the pre-chat
form and writes; the ACD gives the chat to Alice, signed in on the real agent console,
who answers from her tab; the visitor sees the answer (as text), the page reloads and the
chat resumes with nothing lost; the customer's history holds the transcript.
Screenshots: tests/artifacts/chat-widget-*."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from config.settings import Settings
from switchboard.demo import seed_users
from tests.browser_kit import LAPTOP, assert_accessible, screenshots, signed_in
from tests.service_harness import _free_port, running_service

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parent.parent
WAIT_MS = 10_000


def queues_with_chat(tmp: Path) -> Path:
    data = yaml.safe_load((ROOT / "config" / "queues.yaml").read_text())
    data["queues"]["support"]["channels"] = ["voice", "chat"]
    data["queues"]["support"].pop("record", None)
    path = tmp / "queues.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


async def test_a_visitor_on_the_company_site_chats_with_an_agent(
    tmp_path: Path, browser: Any
) -> None:
    from playwright.async_api import expect

    site_port = _free_port()
    site_origin = f"http://127.0.0.1:{site_port}"

    def tweak(settings: Settings) -> Settings:
        chat = dataclasses.replace(settings.chat, allowed_origins=[site_origin])
        return dataclasses.replace(settings, chat=chat)

    async with running_service(tmp_path, queues_file=queues_with_chat(tmp_path), tweak=tweak) as (
        service,
        _sim,
        _rec,
        url,
    ):
        await seed_users(service.store)
        ada = await service.store.customers.add("Ada Lovelace", ["+15550001111"])
        agent = await signed_in(browser, url, "alice", viewport=LAPTOP)
        await agent.select_option("#availability", "ready")
        await agent.click("#btn-availability")
        await expect(agent.locator("#state")).to_have_text("Ready", timeout=WAIT_MS)

        # the company's page, on its own origin (the port chosen above, allowed)
        page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Example Co</title><style>button {{ color: red !important; }}</style></head>
<body><main><h1>Example Co</h1><p>Our products.</p></main>
<script src="{url}/chat/widget.js" async></script></body></html>"""

        async def index(_request: web.Request) -> web.Response:
            return web.Response(text=page, content_type="text/html")

        site = web.Application()
        site.router.add_get("/", index)
        runner = web.AppRunner(site, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", site_port).start()
        try:
            context = await browser.new_context(viewport=LAPTOP)
            visitor = await context.new_page()
            errors: list[str] = []
            visitor.on("pageerror", lambda exc: errors.append(str(exc)))
            await visitor.goto(site_origin + "/")
            launch = visitor.get_by_role("button", name="Chat with us")
            await launch.click()
            await expect(visitor.get_by_label("Your name")).to_be_focused()
            await visitor.get_by_label("Your name").fill("Ada")
            await visitor.get_by_label("Phone").fill("+15550001111")
            await visitor.get_by_label("Topic").select_option("support")
            await visitor.get_by_role("button", name="Start the chat").click()
            box = visitor.get_by_label("Your message")
            await expect(box).to_be_focused(timeout=WAIT_MS)
            # the form gives way to the chat (a shadow-root style once kept it on screen)
            await expect(visitor.get_by_label("Your name")).to_be_hidden()
            await expect(visitor.get_by_label("Email me the transcript")).to_be_hidden()
            await assert_accessible(visitor, "chat widget, in a chat")
            await box.fill("Hello, <b>my bill</b> is wrong")
            await box.press("Enter")
            thread = visitor.locator("#sb-chat-widget ol.thread")
            await expect(thread).to_contain_text("Hello, <b>my bill</b> is wrong", timeout=WAIT_MS)
            assert await thread.locator("b").count() == 0

            # Alice gets it in a tab with Ada's card, and answers there
            tabs = agent.locator("#contact-tabs [role=tab]")
            await expect(tabs).to_have_count(2, timeout=WAIT_MS)
            chat = agent.locator(".conv-panel:visible")
            await expect(chat.locator(".thread")).to_contain_text("my bill", timeout=WAIT_MS)
            await expect(chat.locator("[data-part=card-name]")).to_have_text("Ada Lovelace")
            await chat.locator("textarea").fill("Sorry about that, Ada <i>checking</i>")
            await chat.locator("textarea").press("Enter")
            await expect(thread).to_contain_text(
                "Sorry about that, Ada <i>checking</i>", timeout=WAIT_MS
            )
            assert await thread.locator("i").count() == 0
            await expect(thread).to_contain_text("Alice")
            await screenshots(visitor, "chat-widget")

            # the visitor reloads the page: the chat comes back, nothing lost, and goes on
            await chat.locator("textarea").fill("Found it: a double charge.")
            await visitor.reload()
            thread = visitor.locator("#sb-chat-widget ol.thread")
            await chat.locator("textarea").press("Enter")
            await expect(thread).to_contain_text("Sorry about that", timeout=WAIT_MS)
            await expect(thread).to_contain_text("Found it: a double charge.", timeout=WAIT_MS)
            await visitor.get_by_label("Your message").fill("Thank you!")
            await visitor.get_by_label("Your message").press("Enter")
            await expect(chat.locator(".thread")).to_contain_text("Thank you!", timeout=WAIT_MS)

            # a message the service never acknowledged (the socket dropped, the page was
            # reloaded) is sent again with its client_id when the chat resumes; sent twice,
            # it is stored and shown to Alice once
            store_key = "sb.chat." + url.removeprefix("http://")
            for _ in range(2):
                await visitor.evaluate(
                    """(key) => { const s = JSON.parse(sessionStorage.getItem(key));
                    s.unsent = [["c-lost-ack", "Is it refunded?"]];
                    sessionStorage.setItem(key, JSON.stringify(s)); }""",
                    store_key,
                )
                await visitor.reload()
                thread = visitor.locator("#sb-chat-widget ol.thread")
                await expect(thread).to_contain_text("Is it refunded?", timeout=WAIT_MS)
            await expect(chat.locator(".thread li", has_text="Is it refunded?")).to_have_count(1)
            await expect(thread.locator("li", has_text="Is it refunded?")).to_have_count(1)
            assert errors == []
        finally:
            await runner.cleanup()

        await service.center.recorder.flush()
        [conversation] = await service.store.conversations.of_customer(ada.id)
        kept = await service.store.conversations.messages(conversation["key"], 0, 20)
        assert [(m["sender"], m["text"]) for m in kept] == [
            ("customer", "Hello, <b>my bill</b> is wrong"),
            ("agent", "Sorry about that, Ada <i>checking</i>"),
            ("agent", "Found it: a double charge."),
            ("customer", "Thank you!"),
            ("customer", "Is it refunded?"),
        ]

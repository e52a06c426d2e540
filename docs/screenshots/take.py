"""Take the README's screenshots from a running `switchboard demo` (by hand, not in CI):

    .venv/bin/python docs/screenshots/take.py

It starts the demo on a free port with its simulated callers, signs in in Debian's
chromium as the demo users and saves, into docs/screenshots/: the agent console with a
screen pop and then in wrap-up (1366×768, the agent's laptop), the wallboard and its TV
view (1920×1080, the wall screen), a customer's page and the admin page, an agent with
chats in tabs beside the phone, the chat widget on a company's page (another origin,
allowed through SWITCHBOARD_CHAT__ALLOWED_ORIGINS), the knowledge-base panel beside a
call, the showcase customer's case (its call, chat and email, its SLA clock, the article
used) and the cases report with a breach.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "screenshots"
PASSWORD = "switchboard-demo"
LAPTOP = {"width": 1366, "height": 768}
WALL = {"width": 1920, "height": 1080}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_demo(port: int, data: Path, site: str) -> asyncio.subprocess.Process:
    import os

    args = ["--port", str(port), "--rate", "20", "--seed", "7", "--data-dir", str(data)]
    env = {**os.environ, "SWITCHBOARD_CHAT__ALLOWED_ORIGINS": site}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "switchboard",
        "demo",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    while True:
        line = (await proc.stdout.readline()).decode(errors="replace")
        if not line:
            raise SystemExit("the demo stopped before it was running")
        if "demo is running" in line:
            return proc


async def sign_in(browser: Any, url: str, user: str, viewport: dict[str, int]) -> Any:
    context = await browser.new_context(viewport=viewport, locale="en-GB")
    page = await context.new_page()
    await page.goto(url + "/login")
    await page.fill("#username", user)
    await page.fill("#password", PASSWORD)
    await page.click("#login-submit")
    await page.wait_for_load_state("networkidle")
    return page


async def contact_page(page: Any, url: str) -> None:
    """Alice's last recorded call, as the supervisor sees it: the player beside the
    evaluation (the shipped queue file records sales and support)."""
    listed = await page.evaluate(
        "async () => (await (await fetch('/api/reports/contacts?agent=1001&limit=200'))"
        ".json()).contacts"
    )
    played = [c for c in listed or [] if c.get("ended_at") and c.get("recorded")]
    if not played:
        return
    contact = played[-1].get("contact_id") or played[-1].get("id")  # oldest first
    await page.set_viewport_size(LAPTOP)
    await page.goto(f"{url}/contacts/{contact}")
    with contextlib.suppress(Exception):
        await page.wait_for_selector("#recording-slot audio", timeout=10_000)
    await page.wait_for_timeout(1500)
    await page.screenshot(path=str(OUT / "contact.png"))
    await page.set_viewport_size(WALL)


async def case_shots(page: Any, url: str) -> None:
    """The showcase customer's case once her chat and email are linked to it (the demo's
    agents wrap them up onto it), then the reports page's "Cases and SLA" with the breach
    of the demo's urgent case."""
    number = ""
    for _ in range(60):
        cases = await page.evaluate(
            "async () => (await (await fetch('/api/cases?customer_id=1')).json()).cases"
        )
        if cases:
            number = cases[0]["number"]
            case = await page.evaluate(
                "async (n) => (await (await fetch('/api/cases/' + n)).json())", number
            )
            if {c["channel"] for c in case["contacts"]} >= {"voice", "chat", "email"}:
                break
        await page.wait_for_timeout(2000)
    if not number:
        return
    await page.set_viewport_size(LAPTOP)
    await page.goto(f"{url}/cases/{number}")
    await page.wait_for_selector("#case-timeline li", timeout=10_000)
    await page.wait_for_timeout(800)
    await page.screenshot(path=str(OUT / "case.png"), full_page=True)
    await page.goto(url + "/reports")
    await page.wait_for_selector("#case-report-rows tr", timeout=10_000)
    await page.wait_for_timeout(800)
    await page.locator("#case-report").screenshot(path=str(OUT / "case-report.png"))
    await page.set_viewport_size(WALL)


async def kb_shot(agent: Any) -> None:
    """The knowledge-base panel beside the call's card (Alt+K), an article open."""
    await agent.keyboard.press("Alt+k")
    await agent.keyboard.type("invoice")
    with contextlib.suppress(Exception):
        await agent.wait_for_selector("#kb-side .kb-hit .kb-open", timeout=5_000)
        await agent.locator("#kb-side .kb-hit .kb-open").first.click()
        await agent.wait_for_selector("#kb-side .kb-article h3", timeout=5_000)
    await agent.wait_for_timeout(600)
    await agent.screenshot(path=str(OUT / "agent-kb.png"))
    await agent.keyboard.press("Alt+k")  # closed again


async def company_site(url: str) -> tuple[Any, str]:
    """A company's own page, on its own origin, that embeds the widget with one tag."""
    from aiohttp import web

    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Morgan Logistics'
        '</title></head><body style="font-family:sans-serif;margin:40px"><h1>Morgan '
        "Logistics</h1><p>Parcels across Europe, tracked to your door.</p>"
        f'<script src="{url}/chat/widget.js" async></script></body></html>'
    )

    async def index(_request: Any) -> Any:
        return web.Response(text=page, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", index)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


async def chat_shots(browser: Any, agent: Any, site: str) -> None:
    """The widget in a chat with Alice, and Alice's tabs."""
    visitor = await (await browser.new_context(viewport=LAPTOP, locale="en-GB")).new_page()
    await visitor.goto(site + "/")
    await visitor.get_by_role("button", name="Chat with us").click()
    await visitor.get_by_label("Your name").fill("Grace Hopper")
    await visitor.get_by_label("Email", exact=True).fill("grace@example.com")
    await visitor.get_by_label("Topic").select_option("support")
    await visitor.get_by_role("button", name="Start the chat").click()
    box = visitor.get_by_label("Your message")
    await box.wait_for(timeout=10_000)
    await box.fill("Hello! My parcel 4711 says delivered, but it is not here.")
    await box.press("Enter")
    with contextlib.suppress(Exception):  # Alice may be busy: the chat then waits
        tabs = agent.locator("#contact-tabs [role=tab]")
        await tabs.nth(1).wait_for(timeout=60_000)  # a chat or an email beside the phone
        grace = agent.locator("#contact-tabs [role=tab]", has_text="Grace")
        if await grace.count():
            await grace.click()
            panel = agent.locator(".conv-panel:visible textarea")
            await panel.fill("Sorry to hear that, Grace. Let me check with the driver.")
            await panel.press("Enter")
        else:
            await tabs.nth(1).click()
        await visitor.wait_for_timeout(1500)
        await agent.screenshot(path=str(OUT / "agent-chats.png"))
    await visitor.screenshot(path=str(OUT / "chat-widget.png"))


async def main() -> None:
    from playwright.async_api import async_playwright

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    site_runner, site = await company_site(url)
    with tempfile.TemporaryDirectory() as data:
        demo = await start_demo(port, Path(data), site)
        try:
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(
                    executable_path="/usr/bin/chromium",
                    args=["--no-sandbox", "--disable-background-networking"],
                )
                wall = await sign_in(browser, url, "sam", WALL)
                agent = await sign_in(browser, url, "alice", LAPTOP)
                await agent.wait_for_selector("#conn.on")
                await agent.keyboard.press("Alt+r")  # Ready
                # a chat may come first: the phone's tab says when a call is up
                await agent.wait_for_selector("#tab-call:has-text('Talking')", timeout=120_000)
                await agent.keyboard.press("Alt+1")  # the phone's tab
                await agent.wait_for_timeout(1500)
                await agent.screenshot(path=str(OUT / "agent.png"))
                phone = (await agent.text_content("#card-phone")) or ""
                await kb_shot(agent)
                await agent.keyboard.press("Alt+e")  # hang up: the wrap-up form
                await agent.wait_for_selector("#wrapup:not([hidden])", timeout=10_000)
                await agent.select_option("#disposition", index=1)
                await agent.fill("#notes", "Asked about the new tariff; sent the price list.")
                await agent.wait_for_timeout(800)
                await agent.screenshot(path=str(OUT / "agent-wrapup.png"))
                await agent.keyboard.press("Control+Enter")  # save: the contact is complete
                await agent.wait_for_timeout(1500)
                await chat_shots(browser, agent, site)
                await wall.wait_for_timeout(2000)
                await wall.screenshot(path=str(OUT / "supervisor.png"))
                await wall.goto(url + "/supervisor?view=tv")
                await wall.wait_for_timeout(2500)
                await wall.screenshot(path=str(OUT / "wallboard-tv.png"))
                await wall.goto(url + "/reports?period=today&by=interval&interval=15&zone=site")
                await wall.wait_for_selector("#report:not([hidden])", timeout=10_000)
                await wall.wait_for_timeout(800)
                await wall.screenshot(path=str(OUT / "reports.png"))
                found = await agent.evaluate(
                    "async (p) => (await (await fetch('/api/customers?phone=' +"
                    " encodeURIComponent(p))).json()).card",
                    phone,
                )
                if found and found.get("customer_id"):
                    customer = await sign_in(browser, url, "bruno", LAPTOP)
                    await customer.goto(f"{url}/customers/{found['customer_id']}")
                    await customer.wait_for_timeout(1500)
                    await customer.screenshot(path=str(OUT / "customer.png"))
                await contact_page(wall, url)
                await case_shots(wall, url)
                evaluations = await sign_in(browser, url, "alice", LAPTOP)
                await evaluations.goto(url + "/evaluations")
                await evaluations.wait_for_timeout(1500)
                await evaluations.screenshot(path=str(OUT / "evaluations.png"))
                await wall.goto(url + "/supervisor")
                with contextlib.suppress(Exception):  # the demo's queue backs up in minutes
                    await wall.wait_for_selector("#alerts:not([hidden])", timeout=180_000)
                    await wall.wait_for_timeout(1000)
                    await wall.screenshot(path=str(OUT / "wallboard-alert.png"))
                admin = await sign_in(browser, url, "admin", LAPTOP)
                await admin.goto(url + "/admin")
                await admin.wait_for_timeout(1000)
                await admin.screenshot(path=str(OUT / "admin.png"))
                await browser.close()
        finally:
            await site_runner.cleanup()
            demo.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(demo.wait(), 10)
    print("screenshots in", OUT)


if __name__ == "__main__":
    asyncio.run(main())

"""What the browser tests share: signing in, axe-core checks and screenshots.

axe-core (tests/vendor/axe-core, MPL-2.0, from the npm registry) is injected into the page
under test and run there; a page passes with no violation of impact "serious" or
"critical". Screenshots of a page go to tests/artifacts/<name>-<width>x<height>.png at the
two sizes the issue names: a 1366×768 laptop and a 1920×1080 wall screen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from switchboard.demo import DEMO_PASSWORD

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE / "artifacts"
AXE = HERE / "vendor" / "axe-core" / "axe.min.js"
WAIT_MS = 10_000
LAPTOP = {"width": 1366, "height": 768}
WALL = {"width": 1920, "height": 1080}
SIZES = (LAPTOP, WALL)
BLOCKING = ("serious", "critical")


async def signed_in(
    browser: Any,
    url: str,
    username: str,
    *,
    password: str = DEMO_PASSWORD,
    viewport: dict[str, int] | None = None,
    live: bool = True,
    locale: str = "en-GB",
    timezone: str | None = None,
) -> Any:
    """A new browser context signed in as ``username``; the page is at the user's home
    page and (``live``) its websocket is connected. ``page.errors`` collects script errors."""
    extra = {"timezone_id": timezone} if timezone else {}
    context = await browser.new_context(viewport=viewport or LAPTOP, locale=locale, **extra)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    await page.goto(url + "/login")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#login-submit")
    await page.wait_for_load_state()
    if live:
        await page.wait_for_selector("#conn.on", timeout=WAIT_MS)
    return page


async def axe_violations(page: Any, *, impacts: tuple[str, ...] = BLOCKING) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now, of the given impacts."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol: the pages' CSP (script-src 'self')
        # rightly refuses an injected <script>, and must not be loosened for a test.
        await page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result = await page.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))})); }"
    )
    return [v for v in result if v.get("impact") in impacts]


async def assert_accessible(page: Any, what: str = "") -> None:
    """No serious or critical axe-core violation on the page."""
    found = await axe_violations(page)
    assert not found, f"axe-core on {what or page.url}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes']}" for v in found
    )


async def screenshots(page: Any, name: str) -> list[Path]:
    """The page at 1366×768 and at 1920×1080 into tests/artifacts/; the viewport is put
    back afterwards. Returns the files written."""
    ARTIFACTS.mkdir(exist_ok=True)
    before = page.viewport_size
    written = []
    for size in SIZES:
        await page.set_viewport_size(size)
        await page.wait_for_timeout(150)  # let the layout settle at the new width
        path = ARTIFACTS / f"{name}-{size['width']}x{size['height']}.png"
        await page.screenshot(path=str(path))
        written.append(path)
    if before:
        await page.set_viewport_size(before)
    return written


async def fits_without_scrolling(page: Any, selector: str) -> bool:
    """Whether the element is wholly inside the viewport with the page scrolled to top."""
    await page.evaluate("window.scrollTo(0, 0)")
    box = await page.locator(selector).bounding_box()
    size = page.viewport_size
    return bool(
        box
        and size
        and box["y"] >= 0
        and box["y"] + box["height"] <= size["height"]
        and box["x"] >= 0
        and box["x"] + box["width"] <= size["width"]
    )


async def insert_article(page: Any, query: str, title: str) -> None:
    """On the agent page: open the knowledge-base panel (Alt+K), search ``query``, open
    the first hit (which must be ``title``) and insert it."""
    from playwright.async_api import expect

    await page.keyboard.press("Alt+k")
    await page.keyboard.type(query)
    hit = page.locator("#kb-side .kb-hit .kb-open").first
    await expect(hit).to_have_text(title, timeout=WAIT_MS)
    await hit.click()
    await page.click("#kb-side .kb-insert")

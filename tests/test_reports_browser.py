"""The report pages in a real browser (Debian's chromium, Playwright) against the real
console server and store: a supervisor picks last week, sees the charts and the table
from one answer, follows a number to the contacts behind it, and downloads the exports.

Screenshots: tests/artifacts/reports-*.png, reports-agent-*.png, report-contacts-*.png.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

import pytest

from tests.browser_kit import WAIT_MS, assert_accessible, screenshots, signed_in
from tests.console_fakes import PASSWORD, World, seed_history

pytestmark = pytest.mark.browser


def last_monday(today: dt.date) -> dt.date:
    """Monday of the week before ``today``'s (the page's "last week", Monday to Sunday)."""
    return today - dt.timedelta(days=today.weekday() + 7)


def at(day: dt.date, hour: int, minute: int) -> float:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=dt.UTC).timestamp()


async def answered(
    store: Any, key: str, caller: str, queue: str, agent_id: str, *, at: float, disposition: str
) -> int:
    """An answered call: 7 s in the queue, 112 s of talk, wrapped up 30 s after it ended."""
    await store.contacts.arrived(key, caller, "8005550100", at=at)
    await store.contacts.queued(key, queue, at=at + 1)
    await store.contacts.offered(key, agent_id, at=at + 5)
    await store.contacts.answered(key, agent_id, at=at + 8)
    await store.contacts.ended(key, at=at + 120)
    contact_id = int((await store.contacts.get_by_key(key)).id)
    await store.contacts.wrapup(contact_id, disposition, "", at=at + 150)
    return contact_id


async def abandoned(store: Any, key: str, queue: str, *, at: float, waited: float) -> None:
    await store.contacts.arrived(key, "+15557770000", "8005550100", at=at)
    await store.contacts.queued(key, queue, at=at + 1)
    await store.contacts.ended(key, at=at + 1 + waited, outcome="abandoned_queue")


@pytest.fixture
async def world(tmp_path: Any) -> Any:
    """The console (site zone UTC) with last week's contacts: Monday 10:00–10:30 UTC has
    three offered in sales (two answered, one abandoned after 40 s), 10:30–11:00 one, and
    Tuesday 09:00 one in support."""
    w = await World().start(tmp_path)
    w.ids = await seed_history(w)
    monday = last_monday(dt.datetime.now(dt.UTC).date())
    tuesday = monday + dt.timedelta(days=1)
    store = w.store
    w.ids["contacts_10"] = [
        await answered(
            store,
            "lw-1",
            "+15551110001",
            "sales",
            "1001",
            at=at(monday, 10, 5),
            disposition="resolved",
        ),
        await answered(
            store,
            "lw-2",
            "+15551110002",
            "sales",
            "1003",
            at=at(monday, 10, 20),
            disposition="sale",
        ),
    ]
    await abandoned(store, "lw-3", "sales", at=at(monday, 10, 25), waited=40)
    await answered(
        store,
        "lw-4",
        "+15551110004",
        "sales",
        "1001",
        at=at(monday, 10, 40),
        disposition="resolved",
    )
    await answered(
        store,
        "lw-5",
        "+15551110005",
        "support",
        "1002",
        at=at(tuesday, 9, 10),
        disposition="resolved",
    )
    # the week before: two answered in sales, Monday 10:10 and 10:15 (the forecast's past)
    before = monday - dt.timedelta(days=7)
    for i, minute in enumerate((10, 15)):
        await answered(
            store,
            f"wb-{i}",
            "+1555222000" + str(i),
            "sales",
            "1003",
            at=at(before, 10, minute),
            disposition="resolved",
        )
    # Monday's states: Alice ready 09:00, on a call 10:05, wrap-up 10:07, ready 10:08,
    # lunch 12:00-13:00, ready until 17:00; Carol ready 09:30, break 11:00-11:15
    from crm_lookup.agent_states import SavedAgentState

    for agent_id, state, reason, (hour, minute) in [
        ("1001", "ready", "", (9, 0)),
        ("1001", "on_call", "", (10, 5)),
        ("1001", "wrap_up", "", (10, 7)),
        ("1001", "ready", "", (10, 8)),
        ("1001", "not_ready", "lunch", (12, 0)),
        ("1001", "ready", "", (13, 0)),
        ("1001", "logged_out", "", (17, 0)),
        ("1003", "ready", "", (9, 30)),
        ("1003", "not_ready", "break", (11, 0)),
        ("1003", "logged_out", "", (11, 15)),
    ]:
        await store.agent_states.save(
            SavedAgentState(agent_id, state, reason, since=at(monday, hour, minute))
        )
    w.monday = monday
    yield w
    await w.close()


async def open_reports(browser: Any, world: Any, user: str = "root", **kw: Any) -> Any:
    page = await signed_in(browser, world.origin, user, password=PASSWORD, live=False, **kw)
    await page.goto(world.origin + "/reports")
    await page.wait_for_selector("#report:not([hidden])", timeout=WAIT_MS)
    return page


async def show(page: Any, *, period: str, by: str, interval: str = "30") -> None:
    from playwright.async_api import expect

    await page.locator(f"#period-{period}").check()
    await page.select_option("#by", by)
    await page.select_option("#interval", interval)
    await page.locator("#report-show").click()
    await expect(page.locator("#report-status")).to_have_text(
        re.compile(r"^Report ready"), timeout=WAIT_MS
    )


async def test_last_week_by_interval_draws_the_chart_and_the_table_from_one_answer(
    world: Any, browser: Any
) -> None:
    from playwright.async_api import expect

    page = await open_reports(browser, world)
    # the page's last week is Monday to Sunday before this week
    monday = world.monday.isoformat()
    sunday = (world.monday + dt.timedelta(days=6)).isoformat()
    await page.locator("#period-last_week").check()
    await expect(page.locator("#from")).to_have_value(monday)
    await expect(page.locator("#to")).to_have_value(sunday)
    await show(page, period="last_week", by="interval")
    assert re.search(r"period=last_week.*by=interval", page.url)

    rows = page.locator("#report-table tbody tr")
    count = await rows.count()
    assert count >= 3
    # one bar group per row, each with its offered/answered/abandoned bars
    await expect(page.locator("#chart-volume svg .bar-group")).to_have_count(count)
    assert await page.locator("#chart-volume svg .bar-group rect").count() == 3 * count
    assert await page.locator("#chart-volume .legend").all_text_contents() == [
        "Offered",
        "Answered",
        "Abandoned",
    ]
    assert "calls" in await page.locator("#chart-volume text.axis").all_text_contents()
    label = await page.locator("#chart-volume svg").get_attribute("aria-label")
    assert label.startswith(f"{count} bars: 5 offered, 4 answered, 1 abandoned")
    # the service level line: one dot per row with a value, and the target
    await expect(page.locator("#chart-sl .target-label")).to_have_text("Target 80%")
    assert await page.locator("#chart-sl .sl-dot").count() >= 3

    # the Monday 10:00 row: 3 offered, 2 answered, 1 abandoned
    ten = rows.filter(has=page.locator("th", has_text=re.compile(rf"^{monday} 10:00$")))
    await expect(ten.locator('a[data-measure="offered"]')).to_have_text("3")
    await expect(ten.locator('a[data-measure="answered"]')).to_have_text("2")
    await expect(ten.locator('a[data-measure="abandoned"]')).to_have_text("1")
    # definitions of the measures shown are on the page
    assert await page.locator("#definitions dt").count() >= 5

    # the exports carry the same query
    href = await page.locator("#export-csv").get_attribute("href")
    assert href.startswith("/api/reports/export?format=csv&by=interval&from=" + monday)
    await assert_accessible(page, "the report by interval")
    await screenshots(page, "reports")
    assert page.errors == []


async def test_a_number_followed_lists_the_contacts_behind_it(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    page = await open_reports(browser, world)
    await show(page, period="last_week", by="interval")
    monday = world.monday.isoformat()
    ten = page.locator("#report-table tbody tr").filter(
        has=page.locator("th", has_text=re.compile(rf"^{monday} 10:00$"))
    )
    offered = ten.locator('a[data-measure="offered"]')
    number = int(await offered.inner_text())
    await offered.click()
    await page.wait_for_url(re.compile(r"/reports/contacts\?"), timeout=WAIT_MS)
    rows = page.locator(".contact-row")
    await expect(rows).to_have_count(number, timeout=WAIT_MS)
    await expect(page.locator("#contacts-count")).to_have_text(f"{number} contacts")
    ids = {str(i) for i in world.ids["contacts_10"]}
    shown = {await r.get_attribute("data-contact") for r in await rows.all()}
    assert ids <= shown
    # each contact links to its timeline; times are in the zone chosen
    first = rows.first.locator("th a")
    assert re.fullmatch(r"/contacts/\d+", await first.get_attribute("href"))
    assert (await rows.first.locator(".when").inner_text()).startswith(monday + " 10:")
    await assert_accessible(page, "the drill-down list")
    await screenshots(page, "report-contacts")

    # the answered figure lists only the answered ones
    await page.go_back()
    await page.wait_for_selector("#report:not([hidden])", timeout=WAIT_MS)
    answered = (
        page.locator("#report-table tbody tr")
        .filter(has=page.locator("th", has_text=re.compile(rf"^{monday} 10:00$")))
        .locator('a[data-measure="answered"]')
    )
    await expect(answered).to_have_text("2", timeout=WAIT_MS)
    await answered.click()
    await page.wait_for_url(re.compile(r"/reports/contacts\?"), timeout=WAIT_MS)
    await expect(page.locator(".contact-row")).to_have_count(2, timeout=WAIT_MS)
    # a filter removed (its chip) widens the list
    chip = page.locator('.filter-chip[data-filter="measure"]')
    await expect(chip).to_have_count(1)
    await chip.locator(".chip-remove").click()
    await expect(page.locator(".contact-row")).to_have_count(number, timeout=WAIT_MS)
    await expect(page.locator('.filter-chip[data-filter="measure"]')).to_have_count(0)
    assert page.errors == []


async def test_the_report_and_the_list_download_as_csv_and_xlsx(world: Any, browser: Any) -> None:
    import openpyxl

    page = await open_reports(browser, world)
    await show(page, period="last_week", by="queue")
    async with page.expect_download() as info:
        await page.locator("#export-csv").click()
    download = await info.value
    text = (await download.path()).read_text(encoding="utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    header = table[0]
    by_key = {row[0]: dict(zip(header, row, strict=False)) for row in table[1:] if row}
    assert by_key["sales"][header[header.index("offered")]] == "4"
    assert by_key["support"]["offered"] == "1"

    async with page.expect_download() as info:
        await page.locator("#export-xlsx").click()
    download = await info.value
    book = openpyxl.load_workbook(io.BytesIO((await download.path()).read_bytes()), read_only=True)
    sheet = book.worksheets[0]
    values = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    head = [str(v) for v in values[0]]
    sales = next(r for r in values[1:] if r[0] == "sales")
    assert int(sales[head.index("offered")]) == 4

    # the drill-down list's export: the contacts behind "sales offered"
    await (
        page.locator("#report-table tbody tr", has_text="sales")
        .locator('a[data-measure="offered"]')
        .click()
    )
    await page.wait_for_url(re.compile(r"/reports/contacts\?"), timeout=WAIT_MS)
    await page.wait_for_selector(".contact-row", timeout=WAIT_MS)
    async with page.expect_download() as info:
        await page.locator("#export-csv").click()
    download = await info.value
    rows = list(
        csv.DictReader(io.StringIO((await download.path()).read_text(encoding="utf-8-sig")))
    )
    assert len(rows) == 4
    assert all(r.get("queue") == "sales" for r in rows)
    async with page.expect_download() as info:
        await page.locator("#export-xlsx").click()
    saved = await (await info.value).path()
    book = openpyxl.load_workbook(io.BytesIO(saved.read_bytes()), read_only=True)
    assert len(list(book.worksheets[0].iter_rows(values_only=True))) == 1 + 4
    assert page.errors == []


async def test_an_agent_sees_only_my_figures_in_either_language(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    page = await open_reports(browser, world, user="alice")
    await expect(page.locator("h1")).to_have_text("My figures")
    assert await page.locator("#by").count() == 0
    assert await page.locator("#queue").count() == 0
    await page.locator("#period-last_week").check()
    await page.locator("#report-show").click()
    await expect(page.locator("#report-status")).to_have_text(
        re.compile(r"^Report ready"), timeout=WAIT_MS
    )
    keys = [
        await r.get_attribute("data-key")
        for r in await page.locator("#report-table tbody tr").all()
    ]
    assert keys == ["1001"]
    await assert_accessible(page, "My figures")
    await screenshots(page, "reports-agent")
    assert page.errors == []

    ru = await open_reports(browser, world, user="sue", locale="ru-RU")
    await expect(ru.locator("h1")).to_have_text("Отчёты")
    await expect(ru.locator('label[for="period-last_week"]')).to_have_text("Прошлая неделя")
    await assert_accessible(ru, "the report in Russian")
    assert ru.errors == []


async def test_the_period_presets_and_the_links_to_the_page(world: Any, browser: Any) -> None:
    page = await open_reports(browser, world, user="sue")
    ranges = await page.evaluate(
        """() => ["today", "yesterday", "last7", "last_week", "this_month"]
             .map((p) => SBReport.periodRange(p, "2026-03-04"))"""
    )  # a Wednesday
    assert ranges == [
        ["2026-03-04", "2026-03-04"],
        ["2026-03-03", "2026-03-03"],
        ["2026-02-26", "2026-03-04"],
        ["2026-02-23", "2026-03-01"],
        ["2026-03-01", "2026-03-04"],
    ]
    # a Monday's last week is the whole week before; a Sunday's the week before its own
    assert await page.evaluate("SBReport.periodRange('last_week', '2026-03-02')") == [
        "2026-02-23",
        "2026-03-01",
    ]
    assert await page.evaluate("SBReport.periodRange('last_week', '2026-03-08')") == [
        "2026-02-23",
        "2026-03-01",
    ]
    # a period that ends before it starts is refused on the page, said where it was typed
    await page.locator("#from").fill("2026-03-05")
    await page.locator("#to").fill("2026-03-01")
    await page.locator("#report-show").click()
    assert await page.locator("#period-custom").is_checked()
    assert await page.locator("#action-error").inner_text() != ""
    assert await page.locator("#from").get_attribute("aria-invalid") == "true"
    # the wallboard and the agent console link here
    await page.goto(world.origin + "/supervisor")
    assert await page.locator('nav a[href="/reports"]').inner_text() == "Reports"
    await page.goto(world.origin + "/agent")
    assert await page.locator('nav a[href="/reports"]').inner_text() == "Reports"
    assert page.errors == []


async def test_the_browser_zone_moves_the_intervals_and_goes_to_the_api(
    world: Any, browser: Any
) -> None:
    from playwright.async_api import expect

    page = await open_reports(browser, world, timezone="Asia/Tokyo")  # UTC+9, no DST
    await expect(page.locator('label[for="zone-browser"]')).to_have_text(
        "My browser's (Asia/Tokyo)"
    )
    monday = world.monday.isoformat()
    await page.locator("#from").fill(monday)
    await page.locator("#to").fill((world.monday + dt.timedelta(days=1)).isoformat())
    await page.locator("#zone-browser").check()
    await page.select_option("#by", "interval")
    await page.select_option("#interval", "60")
    await page.locator("#report-show").click()
    await expect(page.locator("#report-status")).to_have_text(
        re.compile(r"^Report ready"), timeout=WAIT_MS
    )
    assert "zone=browser" in page.url and "period=custom" in page.url
    # Monday 10:05 and 10:20 UTC are 19:05 and 19:20 in Tokyo
    nineteen = page.locator("#report-table tbody tr").filter(
        has=page.locator("th", has_text=re.compile(rf"^{monday} 19:00$"))
    )
    await expect(nineteen.locator('a[data-measure="offered"]')).to_have_text("4")
    assert "tz=Asia%2FTokyo" in await page.locator("#export-csv").get_attribute("href")
    assert "tz=Asia%2FTokyo" in await nineteen.locator('a[data-measure="offered"]').get_attribute(
        "href"
    )
    assert page.errors == []


async def test_the_chart_module_stacks_groups_scales_and_wraps_its_legend(
    world: Any, browser: Any
) -> None:
    page = await open_reports(browser, world, user="sue")
    drawn = await page.evaluate(
        """() => {
          const names = ["Ready", "On a call", "Ringing", "Wrap-up", "Not ready: Lunch",
                         "Not ready: Break", "Not ready: Meeting"];
          const chart = SBChart.bars({
            categories: ["Alice Agent", "Carol Agent"], scale: 1 / 3600, unit: "hours",
            label: "stacked", title: (i) => "agent " + i,
            series: names.map((name, k) => ({ cls: "s" + k, name, values: [3600 * (k + 1), 1800] })),
          });
          document.body.append(chart);
          const groups = [...chart.querySelectorAll(".bar-group")];
          const heights = groups.map((g) => [...g.querySelectorAll("rect")]
            .reduce((s, r) => s + Number(r.getAttribute("height")), 0));
          const tops = groups.map((g) => Math.min(...[...g.querySelectorAll("rect")]
            .map((r) => Number(r.getAttribute("y")))));
          const legendYs = [...new Set([...chart.querySelectorAll("text.legend")].map((n) => n.getAttribute("y")))];
          const ticks = [...chart.querySelectorAll("text.axis")].map((n) => n.textContent);
          const grouped = SBChart.bars({ categories: ["a", "b", "c"], stacked: false, label: "g",
            series: [{ cls: "x", name: "x", values: [1, 2, 3] }, { cls: "y", name: "y", values: [3, 2, 1] }] });
          const widths = [...grouped.querySelectorAll(".bar-group")[0].querySelectorAll("rect")]
            .map((r) => [Number(r.getAttribute("x")), Number(r.getAttribute("width"))]);
          return { groups: groups.length, rects: chart.querySelectorAll(".bar-group rect.s0").length, heights, tops,
                   legendRows: legendYs.length, ticks, role: chart.getAttribute("role"),
                   label: chart.getAttribute("aria-label"), title: groups[0].querySelector("title").textContent,
                   widths };
        }"""
    )
    assert drawn["groups"] == 2 and drawn["rects"] == 2
    # 28 h of Alice's states on a 40 h scale (ticks 0, 10, 20, 30, 40), 3.5 h of Carol's
    assert drawn["ticks"][:6] == ["0", "10", "20", "30", "40", "hours"]
    alice, carol = drawn["heights"]
    assert abs(alice / carol - 28 / 3.5) < 0.01
    assert drawn["tops"][0] < drawn["tops"][1]
    assert drawn["legendRows"] >= 2  # seven entries do not fit one row of 640
    assert drawn["role"] == "img" and drawn["label"] == "stacked"
    assert drawn["title"] == "agent 0"
    # grouped: the bars of one category side by side, not overlapping
    (x1, w1), (x2, _) = drawn["widths"]
    assert x2 >= x1 + w1 - 0.01
    assert page.errors == []


async def test_time_in_each_state_per_agent_is_a_stacked_chart_and_a_table(
    world: Any, browser: Any
) -> None:
    from playwright.async_api import expect

    page = await open_reports(browser, world)
    await show(page, period="last_week", by="agent")
    await expect(page.locator("#state-figure")).to_be_visible()
    agents = await page.locator("#state-table tbody tr").count()
    await expect(page.locator("#chart-state svg .bar-group")).to_have_count(agents)
    assert await page.locator("#report-table tbody tr").count() == agents
    legend = await page.locator("#chart-state .legend").all_text_contents()
    assert legend[:4] == ["Ready", "On a call", "Ringing", "Wrap-up"]
    assert {"Not ready: Lunch", "Not ready: Break"} <= set(legend)
    assert "hours" in await page.locator("#chart-state text.axis").all_text_contents()
    head = await page.locator("#state-table thead th").all_text_contents()
    alice = page.locator("#state-table tbody tr", has_text="Alice Agent")
    cells = dict(zip(head[1:], await alice.locator("td").all_text_contents(), strict=True))
    assert cells["Ready"] == "6:57:00"  # 09:00-10:05, 10:08-12:00, 13:00-17:00
    assert cells["On a call"] == "2:00"
    assert cells["Wrap-up"] == "1:00"
    assert cells["Not ready: Lunch"] == "1:00:00"
    carol = page.locator("#state-table tbody tr", has_text="Carol Agent")
    carol_cells = dict(zip(head[1:], await carol.locator("td").all_text_contents(), strict=True))
    assert carol_cells["Not ready: Break"] == "15:00"
    # the agent table beside it: Alice answered two calls last week
    row = page.locator("#report-table tbody tr[data-key='1001']")
    await expect(row.locator('a[data-measure="calls"]')).to_have_text("2")
    await assert_accessible(page, "the report by agent")
    await screenshots(page, "reports-agents")
    assert page.errors == []


async def test_a_one_queue_interval_report_shows_the_staffing_forecast(
    world: Any, browser: Any
) -> None:
    from playwright.async_api import expect

    page = await open_reports(browser, world, user="sue")
    await page.select_option("#queue", "sales")
    await show(page, period="last_week", by="interval")
    monday = world.monday.isoformat()
    answer = await page.evaluate(
        """(monday) => fetch(`/api/reports?by=interval&from=${monday}&to=${monday}`
             + "&tz=UTC&interval=30&queue=sales").then((r) => r.json())""",
        monday,
    )
    staffing = next(r["staffing"] for r in answer["rows"] if r["label"] == f"{monday} 10:00")
    assert staffing["agents_needed"] >= 1  # the week before had calls at 10:00
    ten = page.locator("#report-table tbody tr").filter(
        has=page.locator("th", has_text=re.compile(rf"^{monday} 10:00$"))
    )
    calls = round(staffing["forecast_calls"] * 10) / 10
    calls_text = str(int(calls)) if calls == int(calls) else str(calls)
    await expect(ten.locator(".staffing")).to_have_text(
        f"Agents needed: {staffing['agents_needed']} (forecast {calls_text} calls)"
    )
    await expect(page.locator("#report-table thead th").last).to_have_text(
        "Staffing (Erlang C forecast)"
    )
    assert page.errors == []


async def test_by_channel_shows_first_response_and_drills_to_the_chats(
    world: Any, browser: Any
) -> None:
    """Issue 16: a chat last Monday beside the calls; grouped by channel the table has a
    row per channel with the chat's first response, and the number lists that chat."""
    from playwright.async_api import expect

    log = world.store.contacts
    key = "chat:" + "f" * 32
    start = at(world.monday, 10, 12)
    await log.arrived(key, "", "", at=start, channel="chat")
    await log.queued(key, "sales", at=start + 1)
    await log.offered(key, "1001", at=start + 3)
    await log.answered(key, "1001", at=start + 3)
    await log.first_response(key, "1001", at=start + 13)  # 12 s after queueing
    await log.ended(key, at=start + 300)
    page = await open_reports(browser, world)
    await show(page, period="last_week", by="channel")
    rows = page.locator("#report-table tbody tr")
    await expect(rows.locator("th")).to_have_text(["Chats", "Calls"])
    chats = rows.filter(has=page.locator("th", has_text="Chats"))
    await expect(chats.locator('a[data-measure="offered"]')).to_have_text("1")
    first = chats.locator('a[data-measure="first_response"]')
    await expect(first).to_have_text(re.compile(r"12"))
    calls = rows.filter(has=page.locator("th", has_text="Calls"))
    await expect(calls.locator('a[data-measure="offered"]')).to_have_text("5")
    assert "First response" in await page.locator("#definitions dt").all_text_contents()
    # the channel filter narrows the report; it lives in the page's URL
    await page.select_option("#channel", "chat")
    await page.select_option("#by", "queue")
    await page.locator("#report-show").click()
    await expect(page.locator("#report-table tbody tr th")).to_have_text(["sales"])
    assert "channel=chat" in page.url
    await page.select_option("#channel", "")
    await show(page, period="last_week", by="channel")
    await page.locator(
        '#report-table tbody tr:has(th:text("Chats")) a[data-measure="first_response"]'
    ).click()
    await page.wait_for_url(re.compile(r"/reports/contacts\?.*channel=chat"), timeout=WAIT_MS)
    await expect(page.locator(".contact-row")).to_have_count(1, timeout=WAIT_MS)
    await expect(page.locator('.filter-chip[data-filter="channel"]')).to_have_text(
        re.compile(r"Channel: Chats")
    )
    await assert_accessible(page, "the drill-down of a channel")
    assert page.errors == []

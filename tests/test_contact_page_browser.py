"""The contact page (/contacts/{id}) in a real browser: the summary, the timeline in plain
words with the recording's pause and resume as offsets from the answer, a real WAV the
player loads (its duration becomes readable through range requests, audited once), the
missing-file case said in words on the page, qa's evaluation form beside the player for
a supervisor, the customer page's link and "recording" mark; axe-core and screenshots."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser_kit import WAIT_MS, assert_accessible, screenshots, signed_in
from tests.console_fakes import PASSWORD, World, seed_history
from tests.test_contact_api import FILE, wav_bytes

pytestmark = pytest.mark.browser


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[Any]:
    w = await World().start(tmp_path)
    w.ids = await seed_history(w)  # contact: Ada's, sales, taken by alice (1001)
    w.recordings = tmp_path / "recordings"
    w.recordings.mkdir()
    (w.recordings / FILE).write_bytes(wav_bytes(seconds=2.0))
    contact = await w.store.contacts.get(int(w.ids["contact"]))
    answered = contact.answered_at
    await w.store.contacts.recording("live-1", FILE, answered)
    await w.store.contacts.note("live-1", "recording_paused", {"agent_id": "1001"}, answered + 32)
    await w.store.contacts.note("live-1", "recording_resumed", {"agent_id": "1001"}, answered + 47)
    await w.store.contacts.ended("live-1", at=answered + 95)
    yield w
    await w.close()


async def test_the_agent_plays_the_recording_and_reads_the_timeline(
    world: Any, browser: Any
) -> None:
    from playwright.async_api import expect

    contact = world.ids["contact"]
    alice = await signed_in(browser, world.origin, "alice", password=PASSWORD)
    await alice.goto(f"{world.origin}/contacts/{contact}")
    events = alice.locator("#contact-events .event-words")
    await expect(events.first).to_have_text("Call arrived from +15551230001", timeout=WAIT_MS)
    words = await events.all_inner_texts()
    assert words == [
        "Call arrived from +15551230001",
        "Queued in sales",
        "Rang Alice Agent",
        "Answered by Alice Agent",
        "Recording started",
        "Recording paused at 0:32 by Alice Agent",
        "Recording resumed at 0:47 by Alice Agent",
        "Call ended: Answered",
    ]
    facts = await alice.locator("#contact-facts").inner_text()
    assert "Alice Agent" in facts and "sales" in facts and "1:35" in facts  # talk time
    link = alice.locator("#contact-customer a")
    assert await link.get_attribute("href") == f"/customers/{world.ids['customer']}"

    audio = alice.locator("#recording-audio")
    await expect(audio).to_have_attribute("src", f"/api/contacts/{contact}/recording")
    assert await audio.get_attribute("preload") == "metadata"
    await alice.wait_for_function(
        "() => { const a = document.getElementById('recording-audio');"
        " return a && isFinite(a.duration) && a.duration > 1.9; }",
        timeout=WAIT_MS,
    )
    duration = await alice.evaluate("document.getElementById('recording-audio').duration")
    assert abs(duration - 2.0) < 0.05
    # seeking asks for a range further on: not a new playback
    await alice.evaluate("document.getElementById('recording-audio').currentTime = 1.5")
    await alice.wait_for_timeout(300)
    plays = [e for e in await world.store.audit.list() if e.action == "recording.play"]
    assert [(e.actor, e.target) for e in plays] == [("alice", contact)]
    # the agent does not score their own contact: the partial shows the list, no form
    await expect(alice.locator("#evaluation-list .empty")).to_have_text("Not evaluated yet.")
    assert await alice.locator("#evaluation-form").count() == 0
    await assert_accessible(alice, "the contact page")
    await screenshots(alice, "contact-page")
    assert not alice.errors

    # The customer page links the contact and marks it recorded.
    await alice.goto(f"{world.origin}/customers/{world.ids['customer']}")
    row = alice.locator(f'.contact-row[data-contact="{contact}"]')
    await expect(row.locator(".recording-mark")).to_have_text("recording", timeout=WAIT_MS)
    await row.locator(f'a[href="/contacts/{contact}"]').click()
    await expect(alice.locator("#recording-audio")).to_be_attached(timeout=WAIT_MS)
    assert not alice.errors


async def test_a_missing_recording_is_said_on_the_page(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    (world.recordings / FILE).unlink()  # retention took it
    contact = world.ids["contact"]
    alice = await signed_in(browser, world.origin, "alice", password=PASSWORD)
    response = await alice.goto(f"{world.origin}/contacts/{contact}")
    assert response.status == 200
    await expect(alice.locator("#recording-missing")).to_contain_text(
        "The recording is missing", timeout=WAIT_MS
    )
    assert await alice.locator("audio").count() == 0
    await expect(alice.locator("#contact-events .event-words").first).to_be_visible()
    await assert_accessible(alice, "the contact page, recording missing")
    await screenshots(alice, "contact-page-missing")

    # A contact never recorded: no recording section at all; an unknown one: said so.
    past = (await world.store.contacts.get_by_key("past-1")).id
    await alice.goto(f"{world.origin}/contacts/{past}")
    await expect(alice.locator("#contact-events .event-words").first).to_be_visible(timeout=WAIT_MS)
    assert await alice.locator(".contact-recording").is_hidden()
    response = await alice.goto(f"{world.origin}/contacts/999999")
    assert response.status == 404
    await expect(alice.locator("#contact-heading")).to_have_text("There is no such contact.")
    assert not alice.errors


async def test_the_supervisor_sees_the_form_beside_the_player(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    contact = world.ids["contact"]
    sue = await signed_in(browser, world.origin, "sue", password=PASSWORD)
    await sue.goto(f"{world.origin}/contacts/{contact}")
    await expect(sue.locator("#evaluation-q-greeting_script-yes")).to_be_attached(timeout=WAIT_MS)
    await expect(sue.locator("#recording-audio")).to_be_attached()
    section = sue.locator("section#evaluation")
    assert await section.get_attribute("aria-labelledby") == "evaluation-title"
    player = await sue.locator(".contact-recording").bounding_box()
    form = await section.bounding_box()
    timeline = await sue.locator(".contact-timeline").bounding_box()
    assert player and form and timeline
    assert abs(player["x"] - form["x"]) < 2 and form["y"] > player["y"]  # the form under it
    assert timeline["x"] < player["x"]  # the timeline in the other column, not pushed down
    await assert_accessible(sue, "the contact page (supervisor)")
    await screenshots(sue, "contact-page-supervisor")

    # bob took no part: he reads the contact, but neither plays nor scores it
    bob = await signed_in(browser, world.origin, "bob", password=PASSWORD)
    await bob.goto(f"{world.origin}/contacts/{contact}")
    await expect(bob.locator("#recording-slot")).to_contain_text(
        "Only the agent who took this call", timeout=WAIT_MS
    )
    assert await bob.locator("audio").count() == 0
    assert await bob.locator("#evaluation").count() == 0  # another agent's evaluations
    assert not bob.errors
    assert not sue.errors


async def test_the_contact_page_in_russian(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    contact = world.ids["contact"]
    alice = await signed_in(browser, world.origin, "alice", password=PASSWORD, locale="ru-RU")
    await alice.goto(f"{world.origin}/contacts/{contact}")
    await expect(alice.locator("#contact-heading")).to_have_text(f"Обращение {contact}")
    paused = alice.locator('#contact-events [data-kind="note:recording_paused"] .event-words')
    await expect(paused).to_have_text("Запись приостановлена на 0:32: Alice Agent", timeout=WAIT_MS)
    await expect(alice.locator("#recording-audio")).to_have_attribute(
        "aria-label", f"Запись обращения {contact}"
    )
    await assert_accessible(alice, "the contact page in Russian")
    assert not alice.errors


async def test_an_emails_bounce_on_the_contact_page(world: Any, browser: Any) -> None:
    """The thread of an email whose reply bounced (what the desk's delivery_report
    stores): the system line in the page's language, as text, linked to the reply, and
    the reply marked not delivered."""
    from playwright.async_api import expect

    store = world.store
    key = "email:" + "b" * 32
    await store.contacts.arrived(key, "", "", "inbound", 1000.0, channel="email")
    await store.contacts.queued(key, "sales", at=1001.0)
    await store.contacts.offered(key, "1001", at=1002.0)
    await store.contacts.answered(key, "1001", at=1003.0)
    await store.conversations.create(
        key,
        "email",
        queue="sales",
        party={"name": "Ada", "email": "ada@example.com"},
        subject="Invoice 42",
        at=1000.0,
    )
    repo = store.conversations
    await repo.add_message(key, 1, "customer", "Please resend it.", name="Ada", at=1000.0)
    diagnostic = "smtp; 550 <b>User unknown</b>"
    await repo.add_message(
        key,
        2,
        "agent",
        "Here it is.",
        agent_id="1001",
        name="Alice Agent",
        at=1010.0,
        meta={
            "message_id": "<r1@shop>",
            "delivery": "bounced",
            "delivery_error": f"5.1.1 {diagnostic}",
        },
    )
    bounce = {
        "report_id": "<dsn@mx>",
        "reply_seq": 2,
        "reply_message_id": "<r1@shop>",
        "recipient": "ada@example.com",
        "action": "failed",
        "status": "5.1.1",
        "diagnostic": diagnostic,
    }
    await repo.add_message(key, 3, "system", "stored", meta={"bounce": bounce}, at=1020.0)
    contact = await store.contacts.get_by_key(key)
    page = await signed_in(browser, world.origin, "alice", password=PASSWORD, locale="ru-RU")
    await page.goto(f"{world.origin}/contacts/{contact.id}")
    line = page.locator("#contact-messages .msg.system")
    await expect(line.locator(".msg-text")).to_have_text(
        f"Ваш ответ для ada@example.com не доставлен: 5.1.1 {diagnostic}", timeout=WAIT_MS
    )
    await expect(page.locator("#msg-2 .msg-status")).to_have_text(
        f"Не доставлено: 5.1.1 {diagnostic}"
    )
    assert await page.locator("#contact-messages b").count() == 0
    await line.get_by_role("link", name="Показать ответ").click()
    assert page.url.endswith("#msg-2")
    await assert_accessible(page, "contact page of an email with a bounce, in Russian")
    assert not page.errors, page.errors


async def test_a_call_recorded_in_parts_has_a_player_per_part(world: Any, browser: Any) -> None:
    """After a blind transfer to bob (1002) his part is a file of its own: the page lists
    both parts, each with its agent; bob plays his part only."""
    from playwright.async_api import expect

    from tests.test_contact_api import PART_2

    contact = world.ids["contact"]
    answered = (await world.store.contacts.get(int(contact))).answered_at
    (world.recordings / PART_2).write_bytes(wav_bytes(seconds=1.0))
    await world.store.contacts.recording("live-1", PART_2, answered + 60, "1002")
    alice = await signed_in(browser, world.origin, "alice", password=PASSWORD)
    await alice.goto(f"{world.origin}/contacts/{contact}")
    parts = alice.locator("#recording-parts .recording-part")
    await expect(parts).to_have_count(2, timeout=WAIT_MS)
    labels = await alice.locator(".recording-part-label").all_inner_texts()
    assert labels[0].startswith("Part 1: an agent, from ")  # recorded before parts had agents
    assert labels[1].startswith("Part 2: Bob Agent, from ")
    second = alice.locator("#recording-audio-2")
    await expect(second).to_have_attribute("src", f"/api/contacts/{contact}/recording?part=2")
    assert await second.get_attribute("aria-labelledby") == "recording-part-2-label"
    await alice.wait_for_function(
        "() => { const a = document.getElementById('recording-audio-2');"
        " return a && isFinite(a.duration) && a.duration > 0.9; }",
        timeout=WAIT_MS,
    )
    assert abs(await second.evaluate("a => a.duration") - 1.0) < 0.05
    words = await alice.locator("#contact-events .event-words").all_inner_texts()
    assert "Recording of Bob Agent's part started" in words
    await assert_accessible(alice, "the contact page, a call recorded in parts")
    await screenshots(alice, "contact-page-parts")
    assert not alice.errors

    bob = await signed_in(browser, world.origin, "bob", password=PASSWORD)
    await bob.goto(f"{world.origin}/contacts/{contact}")
    await expect(bob.locator("#recording-audio-2")).to_be_attached(timeout=WAIT_MS)
    first = bob.locator('.recording-part[data-part="1"]')
    await expect(first).to_contain_text("Only the agent who took this call")
    assert await first.locator("audio").count() == 0
    assert not bob.errors

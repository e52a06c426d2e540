"""Quality review in a real browser: a supervisor scores a contact with the form of the
contact page's partial (templates/_evaluation.html: refused when a question is left
unanswered, keyboard-operable radio groups, the live score), saves it, and the agent
sees it on /evaluations; axe-core and screenshots of both.

The partial is on the real contact page (/contacts/{id}), inside ``<section
id="evaluation">`` beside the player.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser_kit import WAIT_MS, assert_accessible, screenshots, signed_in
from tests.console_fakes import PASSWORD, World, seed_history

pytestmark = pytest.mark.browser

# The shipped form's questions, answered as test_quality_api.MIXED: 85.94 (85.9 shown).
CLICKS = {
    "greeting_script": "yes",
    "verified_identity": "yes",
    "no_card_read_back": "yes",
    "understood_need": "5",
    "resolved": "4",
    "case_recorded": "yes",
    "courtesy": "5",
    "hold_etiquette": "na",
    "recording_notice": "na",
    "closing": "no",
}


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[Any]:
    w = await World().start(tmp_path)
    w.ids = await seed_history(w)
    yield w
    await w.close()


async def test_a_supervisor_scores_and_the_agent_sees_it(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    contact = world.ids["contact"]  # sales, taken by alice
    sue = await signed_in(browser, world.origin, "sue", password=PASSWORD)
    await sue.goto(f"{world.origin}/contacts/{contact}")
    await expect(sue.locator("#evaluation-q-greeting_script-yes")).to_be_attached(timeout=WAIT_MS)
    await expect(sue.locator("#evaluation-list .empty")).to_have_text("Not evaluated yet.")
    legends = await sue.locator("#evaluation-questions fieldset.section > legend").all_inner_texts()
    assert legends == ["Greeting", "Verification", "Resolution", "Tone", "Compliance"]
    await assert_accessible(sue, "the evaluation form")

    # Saving with questions unanswered: refused in place, focus on the first one.
    await sue.click("#evaluation-save")
    await expect(sue.locator("#evaluation-q-greeting_script-error")).to_have_text(
        "Answer this question."
    )
    await expect(sue.locator("#evaluation-q-greeting_script")).to_have_attribute(
        "aria-invalid", "true"
    )
    assert await sue.evaluate("document.activeElement.id") == "evaluation-q-greeting_script-yes"

    # Keyboard: arrows move within a radio group.
    await sue.focus("#evaluation-q-greeting_tone-2")
    await sue.keyboard.press("Space")
    await sue.keyboard.press("ArrowRight")
    assert await sue.is_checked("#evaluation-q-greeting_tone-3")
    for question, value in CLICKS.items():
        await sue.check(f"#evaluation-q-{question}-{value}")
    await expect(sue.locator("#evaluation-score")).to_have_text("85.9")
    await expect(sue.locator("#evaluation-q-greeting_script-error")).to_be_empty()
    await expect(sue.locator("#evaluation-error")).to_be_empty()
    await sue.fill("#evaluation-comments", "Warm, but closed abruptly.")
    await screenshots(sue, "evaluation-form")
    await sue.click("#evaluation-save")
    await expect(sue.locator("#evaluation-status")).to_have_text(
        "Evaluation saved: 85.9", timeout=WAIT_MS
    )
    item = sue.locator(".evaluation-item")
    await expect(item).to_have_count(1)
    await expect(item).to_contain_text("85.9")
    await expect(item).to_contain_text("Warm, but closed abruptly.")
    stored = await world.store.evaluations.for_contact(int(contact))
    assert [(e.score, e.evaluator, e.agent_id) for e in stored] == [(85.94, "sue", "1001")]
    await assert_accessible(sue, "the contact's evaluation")
    assert not sue.errors

    # The agent sees it on /evaluations, linked to the contact, and cannot score it.
    alice = await signed_in(browser, world.origin, "alice", password=PASSWORD)
    await alice.click('a[href="/evaluations"]')
    row = alice.locator("#evaluations-rows tr")
    await expect(row).to_have_count(1, timeout=WAIT_MS)
    await expect(row).to_contain_text("85.9")
    await expect(row).to_contain_text("sue")
    await expect(row).to_contain_text("Warm, but closed abruptly.")
    link = row.locator("a")
    assert await link.get_attribute("href") == f"/contacts/{contact}"
    await expect(alice.locator("#evaluations-count")).to_have_text(
        "Evaluations: 1 · mean score 85.9"
    )
    await assert_accessible(alice, "/evaluations (agent)")
    await screenshots(alice, "evaluations-agent")
    await alice.goto(f"{world.origin}/contacts/{contact}")
    await expect(alice.locator(".evaluation-item")).to_have_count(1, timeout=WAIT_MS)
    assert await alice.locator("#evaluation-form").count() == 0
    assert not alice.errors

    # The supervisor's list filters by agent.
    await sue.goto(world.origin + "/evaluations")
    await expect(sue.locator("#evaluations-rows tr")).to_have_count(1, timeout=WAIT_MS)
    await sue.select_option("#filter-agent", "1003")
    await sue.click("#filter-apply")
    await expect(sue.locator("#evaluations-count")).to_have_text("No evaluations in this period.")
    await sue.select_option("#filter-agent", "1001")
    await sue.click("#filter-apply")
    await expect(sue.locator("#evaluations-rows tr")).to_have_count(1, timeout=WAIT_MS)
    await assert_accessible(sue, "/evaluations (supervisor)")
    await screenshots(sue, "evaluations-supervisor")


async def test_the_supervisor_changes_their_own_evaluation(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    from routing.evaluation_forms import check_answers, score

    contact = int(world.ids["contact"])
    from agent_console.keys import FORMS

    form = world.app[FORMS][0]
    answers = check_answers(form, {**CLICKS, "greeting_tone": 3})
    await world.store.evaluations.add(
        contact, form.to_json(), "1001", "sue", answers, "", score(form, answers)
    )
    sue = await signed_in(browser, world.origin, "sue", password=PASSWORD)
    await sue.goto(f"{world.origin}/contacts/{contact}")
    await sue.click(".evaluation-item button")
    await expect(sue.locator("#evaluation-form-title")).to_have_text("Change your evaluation")
    assert await sue.is_checked("#evaluation-q-closing-no")
    await sue.check("#evaluation-q-closing-yes")
    await expect(sue.locator("#evaluation-score")).to_have_text("92.2")  # 14.75 of 16
    await sue.click("#evaluation-save")
    await expect(sue.locator("#evaluation-status")).to_have_text(
        "Evaluation saved: 92.2", timeout=WAIT_MS
    )
    stored = await world.store.evaluations.for_contact(contact)
    assert [e.score for e in stored] == [92.19]
    assert not sue.errors

    # In Russian: the page's own words (the form's are the operator's), still accessible.
    ru = await signed_in(browser, world.origin, "sue", password=PASSWORD, locale="ru-RU")
    await ru.goto(f"{world.origin}/contacts/{contact}")
    await expect(ru.locator("#evaluation-title")).to_have_text("Оценка качества")
    await expect(ru.locator(".evaluation-item")).to_have_count(1, timeout=WAIT_MS)
    await expect(ru.locator("#evaluation-q-closing-na")).to_have_count(0)
    await expect(ru.locator("label[for=evaluation-q-hold_etiquette-na]")).to_have_text(
        "Неприменимо"
    )
    await assert_accessible(ru, "the evaluation form in Russian")
    await ru.goto(world.origin + "/evaluations")
    await expect(ru.locator("#evaluations-rows tr")).to_have_count(1, timeout=WAIT_MS)
    await assert_accessible(ru, "/evaluations in Russian")
    assert not ru.errors

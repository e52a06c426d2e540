"""The demo's quality reviews: two past demo contacts scored by sam with the shipped form,
so the per-agent report and the /evaluations page show a score from the first start.

Idempotent: a contact that has an evaluation already is left alone; with a forms file
that no longer has the shipped form (or these questions) nothing is seeded.
"""

from __future__ import annotations

from config.errors import InvalidInput, NotFound
from config.settings import Settings
from crm_lookup.store import Store
from routing.evaluation_forms import check_answers, load_forms, score

FORM_ID = "inbound_call"
_GOOD = {
    "greeting_script": "yes",
    "greeting_tone": 4,
    "verified_identity": "yes",
    "no_card_read_back": "yes",
    "understood_need": 5,
    "resolved": 4,
    "case_recorded": "yes",
    "courtesy": 5,
    "hold_etiquette": "na",
    "recording_notice": "yes",
    "closing": "yes",
}
# (contact key of crm_lookup.demo, evaluator, answers, comments)
DEMO_EVALUATIONS = (
    (
        "demo-00-0",  # Alice Morgan's billing call, taken by alice (1001)
        "sam",
        _GOOD,
        "Clear about the March invoice and sent the copy at once.",
    ),
    (
        "demo-00-1",  # Alice Morgan's support call, taken by bruno (1002)
        "sam",
        dict(_GOOD, verified_identity="no", greeting_tone=3, closing="no"),
        "Reset the password before verifying the caller: verify first, every time.",
    ),
)


async def seed_evaluations(store: Store, settings: Settings) -> int:
    """Score the demo contacts not scored yet; returns how many were added."""
    try:
        forms = load_forms(settings.path(settings.quality.forms_file))
    except InvalidInput:
        return 0
    form = next((f for f in forms if f.id == FORM_ID), None)
    if form is None:
        return 0
    added = 0
    for key, evaluator, answers, comments in DEMO_EVALUATIONS:
        try:
            contact = await store.contacts.get_by_key(key)
        except NotFound:
            continue
        if not contact.agent_id or await store.evaluations.for_contact(contact.id):
            continue
        try:
            checked = check_answers(form, answers)
        except InvalidInput:
            return added
        await store.evaluations.add(
            contact.id,
            form.to_json(),
            contact.agent_id,
            evaluator,
            checked,
            comments,
            score(form, checked),
        )
        added += 1
    return added

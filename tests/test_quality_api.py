"""Quality review through the real aiohttp server on 127.0.0.1: forms, scoring a contact
(roles, checks, audit), changing one's own evaluation, the list by role, the report."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest

from agent_console.keys import FORMS
from agent_console.quality import load
from config.errors import ConfigError
from config.settings import QualitySettings, Settings
from tests.console_fakes import make_contact

# The shipped form (config/evaluation_forms.yaml): every question answered well...
BEST = {
    "greeting_script": "yes",
    "greeting_tone": 5,
    "verified_identity": "yes",
    "no_card_read_back": "yes",
    "understood_need": 5,
    "resolved": 5,
    "case_recorded": "yes",
    "courtesy": 5,
    "hold_etiquette": "yes",
    "recording_notice": "yes",
    "closing": "yes",
}
# ...and one by hand: weights 1,1,3,2,2,3,1,2,1,2,1 (19). hold_etiquette and
# recording_notice "na" leave 16; greeting_tone 3 (0.5 x 1), resolved 4 (0.75 x 3),
# closing "no" (0): 16 - 0.5 - 0.75 - 1 = 13.75 of 16 = 85.94
MIXED = dict(
    BEST,
    greeting_tone=3,
    resolved=4,
    closing="no",
    hold_etiquette="na",
    recording_notice="na",
)


async def support_contact(world: Any) -> int:
    """A support contact (sue does not supervise support) handled by bob."""
    return await make_contact(
        world.store, "sup-1", "+15551230009", "support", "1002", at=time.time() - 7200
    )


async def test_forms_need_a_session(world: Any) -> None:
    anon = await world.client()
    assert (await anon.request("GET", "/api/quality/forms")).status == 401
    alice = await world.client("alice")
    resp = await alice.request("GET", "/api/quality/forms")
    assert resp.status == 200
    forms = (await resp.json())["forms"]
    assert forms[0]["id"] == "inbound_call"
    assert forms[0]["sections"][0]["title"] == "Greeting"


async def test_a_supervisor_scores_a_contact_of_their_queue(world: Any) -> None:
    contact = world.ids["contact"]  # sales, taken by alice (1001)
    path = f"/api/contacts/{contact}/evaluations"
    sue = await world.client("sue")
    resp = await sue.request(
        "POST", path, {"form_id": "inbound_call", "answers": MIXED, "comments": "Good\ncall"}
    )
    assert resp.status == 201, await resp.text()
    added = await resp.json()
    assert added["score"] == 85.94
    assert (added["agent_id"], added["agent_name"], added["evaluator"]) == (
        "1001",
        "Alice Agent",
        "sue",
    )
    assert added["form"]["id"] == "inbound_call" and added["comments"] == "Good\ncall"
    audit = [(e.actor, e.action, e.target) for e in await world.store.audit.list()]
    assert ("sue", "evaluation.add", contact) in audit

    # the agent who took it reads it; the other agent does not
    alice = await world.client("alice")
    resp = await alice.request("GET", path)
    assert resp.status == 200
    data = await resp.json()
    assert [e["score"] for e in data["evaluations"]] == [85.94]
    assert data["can_evaluate"] is False
    bob = await world.client("bob")
    assert (await bob.request("GET", path)).status == 403
    assert (await (await sue.request("GET", path)).json())["can_evaluate"] is True


async def test_who_may_score(world: Any) -> None:
    contact = world.ids["contact"]
    path = f"/api/contacts/{contact}/evaluations"
    body = {"form_id": "inbound_call", "answers": BEST}
    anon = await world.client()
    assert (await anon.request("POST", path, body)).status == 401
    assert (await anon.request("GET", path)).status == 401
    alice = await world.client("alice")  # an agent, even on their own contact
    resp = await alice.request("POST", path, body)
    assert resp.status == 403
    # a supervisor of another queue
    other = f"/api/contacts/{await support_contact(world)}/evaluations"
    sue = await world.client("sue")
    assert (await sue.request("POST", other, body)).status == 403
    assert (await sue.request("GET", other)).status == 403
    root = await world.client("root")
    resp = await root.request("POST", other, body)
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["score"] == 100.0
    assert (await root.request("POST", "/api/contacts/999999/evaluations", body)).status == 404
    # no CSRF token: refused before anything
    resp = await root.request("POST", path, body, csrf=False)
    assert resp.status == 403
    assert await world.store.evaluations.for_contact(int(contact)) == []


async def test_answers_are_checked_against_the_form(world: Any) -> None:
    path = f"/api/contacts/{world.ids['contact']}/evaluations"
    sue = await world.client("sue")
    missing = {k: v for k, v in BEST.items() if k != "resolved"}
    for body, field in (
        ({"form_id": "nope", "answers": BEST}, "form_id"),
        ({"answers": BEST}, "form_id"),
        ({"form_id": "inbound_call", "answers": missing}, "answers.resolved"),
        ({"form_id": "inbound_call", "answers": dict(BEST, resolved=6)}, "answers.resolved"),
        ({"form_id": "inbound_call", "answers": dict(BEST, closing="na")}, "answers.closing"),
        ({"form_id": "inbound_call", "answers": dict(BEST, extra="yes")}, "answers.extra"),
        ({"form_id": "inbound_call", "answers": "all good"}, "answers"),
        ({"form_id": "inbound_call", "answers": BEST, "comments": "x" * 4001}, "comments"),
        ({"form_id": "inbound_call", "answers": BEST, "comments": "a\rb"}, "comments"),
    ):
        resp = await sue.request("POST", path, body)
        data = await resp.json()
        assert (resp.status, data.get("field")) == (400, field), (body, data)
    assert await world.store.evaluations.for_contact(int(world.ids["contact"])) == []
    # a contact no agent took cannot be scored
    await world.store.contacts.arrived("ab-1", "+15551230008", "100", at=time.time() - 60)
    await world.store.contacts.queued("ab-1", "sales", at=time.time() - 59)
    await world.store.contacts.ended("ab-1", at=time.time() - 30, outcome="abandoned_queue")
    abandoned = (await world.store.contacts.get_by_key("ab-1")).id
    resp = await sue.request(
        "POST",
        f"/api/contacts/{abandoned}/evaluations",
        {"form_id": "inbound_call", "answers": BEST},
    )
    assert resp.status == 400 and "no agent" in (await resp.json())["message"]


async def test_only_its_evaluator_changes_it_with_the_form_it_was_scored_with(world: Any) -> None:
    contact = world.ids["contact"]
    path = f"/api/contacts/{contact}/evaluations"
    sue = await world.client("sue")
    added = await (
        await sue.request("POST", path, {"form_id": "inbound_call", "answers": BEST})
    ).json()
    # the forms change meanwhile (a reload): the evaluation keeps the form it was scored with
    forms = world.app[FORMS]
    forms[0] = dataclasses.replace(forms[0], name="Renamed", sections=forms[0].sections[:1])
    listed = await (await sue.request("GET", "/api/quality/forms")).json()
    assert listed["forms"][0]["name"] == "Renamed"
    one = f"{path}/{added['id']}"
    root = await world.client("root")
    resp = await root.request("PUT", one, {"answers": MIXED})
    assert resp.status == 403 and "only sue" in (await resp.json())["message"]
    alice = await world.client("alice")
    assert (await alice.request("PUT", one, {"answers": MIXED})).status == 403
    anon = await world.client()
    assert (await anon.request("PUT", one, {"answers": MIXED})).status == 401
    resp = await sue.request("PUT", one, {"answers": MIXED, "comments": "on second listen"})
    assert resp.status == 200, await resp.text()
    changed = await resp.json()
    assert (changed["score"], changed["comments"]) == (85.94, "on second listen")
    assert changed["form"] == added["form"]
    resp = await sue.request("PUT", one, {"answers": dict(MIXED, courtesy=9)})
    assert (await resp.json())["field"] == "answers.courtesy"
    other = await support_contact(world)
    resp = await root.request(
        "PUT", f"/api/contacts/{other}/evaluations/{added['id']}", {"answers": BEST}
    )
    assert resp.status == 404
    audit = [(e.actor, e.action, e.target) for e in await world.store.audit.list()]
    assert ("sue", "evaluation.edit", contact) in audit


async def test_the_list_by_role(world: Any) -> None:
    sales = world.ids["contact"]  # alice's
    support = await support_contact(world)  # bob's
    root = await world.client("root")
    for contact in (sales, support):
        resp = await root.request(
            "POST",
            f"/api/contacts/{contact}/evaluations",
            {"form_id": "inbound_call", "answers": BEST},
        )
        assert resp.status == 201

    async def listed(client: Any, query: str = "") -> list[tuple[int, str]]:
        resp = await client.request("GET", "/api/evaluations" + query)
        assert resp.status == 200, await resp.text()
        return [(e["contact_id"], e["agent_id"]) for e in (await resp.json())["evaluations"]]

    alice, bob, sue = [await world.client(n) for n in ("alice", "bob", "sue")]
    assert await listed(alice) == [(int(sales), "1001")]
    assert await listed(alice, "?agent=1002") == [(int(sales), "1001")]  # own only, whatever
    assert await listed(bob) == [(support, "1002")]
    assert await listed(sue) == [(int(sales), "1001")]  # sales is hers, support is not
    assert await listed(sue, "?agent=1002") == []
    assert sorted(await listed(root)) == sorted([(int(sales), "1001"), (support, "1002")])
    assert await listed(root, "?agent=1002") == [(support, "1002")]
    assert await listed(root, "?from=2000-01-01&to=2000-01-31") == []
    resp = await root.request("GET", "/api/evaluations")
    item = (await resp.json())["evaluations"][0]
    assert "form" not in item and item["form_name"] == "Inbound call review"
    assert item["agent_name"] in ("Alice Agent", "Bob Agent")
    for query, field in (
        ("?from=yesterday", "from"),
        ("?from=2026-02-02&to=2026-01-01", "from"),
        ("?agent=a%20b", "agent"),
    ):
        resp = await root.request("GET", "/api/evaluations" + query)
        assert (resp.status, (await resp.json())["field"]) == (400, field)
    anon = await world.client()
    assert (await anon.request("GET", "/api/evaluations")).status == 401


async def test_the_agent_report_shows_the_score(world: Any) -> None:
    sue = await world.client("sue")
    path = f"/api/contacts/{world.ids['contact']}/evaluations"
    for answers in (BEST, MIXED):
        body = {"form_id": "inbound_call", "answers": answers}
        assert (await sue.request("POST", path, body)).status == 201
    today = time.strftime("%Y-%m-%d", time.gmtime())
    start = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 3 * 86400))
    resp = await sue.request("GET", f"/api/reports?from={start}&to={today}&by=agent")
    rows = {r["key"]: r for r in (await resp.json())["rows"]}
    # (100 + 85.94) / 2 = 92.97
    assert (rows["1001"]["evaluations"], rows["1001"]["quality_score"]) == (2, 92.97)
    assert (rows["1003"]["evaluations"], rows["1003"]["quality_score"]) == (0, None)
    # the scores are of the report's own contacts: another queue's report has none of them
    contact = await (await sue.request("GET", f"/api/contacts/{world.ids['contact']}")).json()
    other = "billing" if contact["queue"] != "billing" else "sales"
    resp = await sue.request("GET", f"/api/reports?from={start}&to={today}&by=agent&queue={other}")
    rows = {r["key"]: r for r in (await resp.json())["rows"]}
    assert rows.get("1001", {"evaluations": 0})["evaluations"] == 0
    resp = await sue.request("GET", f"/api/reports?from={start}&to={today}&by=queue")
    assert all("quality_score" not in r for r in (await resp.json())["rows"])


async def test_the_pages(world: Any) -> None:
    anon = await world.client()
    resp = await anon.request("GET", "/evaluations")
    assert resp.status == 303 and resp.headers["Location"] == "/login"
    alice = await world.client("alice")
    resp = await alice.request("GET", "/evaluations")
    assert resp.status == 200
    html = await resp.text()
    assert 'src="/static/evaluations.js"' in html and 'id="filter-agent"' not in html
    assert "<script>" not in html  # CSP: script-src 'self', nothing inline
    agent = await (await alice.request("GET", "/agent")).text()
    assert 'href="/evaluations"' in agent
    sue = await world.client("sue")
    html = await (await sue.request("GET", "/evaluations")).text()
    assert 'id="filter-agent"' in html
    assert 'href="/evaluations"' in await (await sue.request("GET", "/supervisor")).text()


def test_a_wrong_forms_file_stops_the_start_saying_where(tmp_path: Path) -> None:
    bad = tmp_path / "forms.yaml"
    bad.write_text(
        "forms:\n  - id: f\n    name: F\n    sections:\n      - title: T\n        questions:\n"
        "          - {id: q, text: Q, kind: yes_no, weight: -1}\n"
    )
    with pytest.raises(ConfigError) as info:
        load(Settings(quality=QualitySettings(forms_file=str(bad))))
    assert info.value.key == "quality.forms_file"
    assert f"{bad}: form f: section 1 (T): question q: weight must be" in str(info.value)
    with pytest.raises(ConfigError, match="file not found"):
        load(Settings(quality=QualitySettings(forms_file=str(tmp_path / "none.yaml"))))

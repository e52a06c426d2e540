"""Cases over HTTP through the real aiohttp server on 127.0.0.1: the unknown caller's
case from a wrap-up, create / list / get / update / note / link with roles on every
route and an audit entry for every write, the SLA clock, and the report."""

from __future__ import annotations

import time
from typing import Any

from tests.console_fakes import make_contact


async def test_an_unknown_callers_case_creates_the_customer_first(world: Any) -> None:
    """Issue 17: "create a case" failed for an unknown caller. Without a name the wrap-up
    is refused with the reason before anything is saved; with one the customer is created
    from the caller's number and the case opened for them, linked to the call."""
    alice = await world.client("alice")
    contact_id = await make_contact(
        world.store, "unknown-1", "+15550177001", "sales", "1001", at=time.time() - 60
    )
    path = f"/api/contacts/{contact_id}/wrapup"
    resp = await alice.request(
        "POST", path, {"disposition": "resolved", "case": {"subject": "Broken router"}}
    )
    data = await resp.json()
    assert resp.status == 400 and data["field"] == "case.new_customer", data
    assert "not a customer yet" in data["message"]
    assert (await world.store.contacts.get(contact_id)).disposition in ("", None)

    resp = await alice.request(
        "POST",
        path,
        {
            "disposition": "resolved",
            "case": {
                "subject": "Broken router",
                "priority": "high",
                "new_customer": {"name": "Nina New"},
            },
        },
    )
    assert resp.status == 200, await resp.text()
    contact = await world.store.contacts.get(contact_id)
    assert contact.customer_id is not None and len(contact.case_ids) == 1
    customer = await world.store.customers.get(contact.customer_id)
    assert customer.name == "Nina New" and "+15550177001" in customer.phones
    case = await world.store.cases.get(contact.case_ids[0])
    assert (case.subject, case.priority, case.queue, case.agent_id) == (
        "Broken router",
        "high",
        "sales",
        "1001",
    )
    assert case.first_response_at is not None  # the call was the first response
    actions = [e.action for e in await world.store.audit.list()]
    assert "customer.create" in actions

    # The case API refuses the same for a contact of an unknown caller, with the reason.
    other = await make_contact(
        world.store, "unknown-2", "+15550177002", "sales", "1001", at=time.time() - 30
    )
    resp = await alice.request("POST", "/api/cases", {"contact_id": str(other), "subject": "X"})
    data = await resp.json()
    assert resp.status == 400 and data["field"] == "customer_id"
    assert "create the customer first" in data["message"]


async def test_case_routes_roles_scope_and_audit(world: Any) -> None:
    alice = await world.client("alice")  # agent 1001, queue sales
    bob = await world.client("bob")  # agent 1002, queue support
    sue = await world.client("sue")  # supervisor of sales, billing
    root = await world.client("root")
    customer = world.ids["customer"]

    resp = await alice.request(
        "POST", "/api/cases", {"customer_id": customer, "subject": "Refund", "priority": "urgent"}
    )
    assert resp.status == 201, await resp.text()
    case = await resp.json()
    number = case["number"]
    assert number.startswith("C-") and case["queue"] == "sales" and case["agent_id"] == "1001"
    assert case["status"] == "new" and case["clock"]["first_response"]["state"] in (
        "running",
        "breached",
        "none",
    )
    # bob (support) neither sees nor touches it; sue (sales) and root do
    assert (await bob.request("GET", f"/api/cases/{number}")).status == 404
    assert (await bob.request("PATCH", f"/api/cases/{number}", {"status": "open"})).status == 404
    assert number not in [
        c["number"] for c in (await (await bob.request("GET", "/api/cases")).json())["cases"]
    ]
    assert number in [
        c["number"] for c in (await (await sue.request("GET", "/api/cases")).json())["cases"]
    ]
    assert (await root.request("GET", f"/api/cases/{number}")).status == 200
    # an agent may not open a case in a queue not theirs
    resp = await alice.request(
        "POST", "/api/cases", {"customer_id": customer, "subject": "X", "queue": "support"}
    )
    assert resp.status == 403
    # bad input by field
    for body, field in (
        ({"customer_id": customer, "subject": ""}, "subject"),
        ({"customer_id": customer, "subject": "X", "priority": "now"}, "priority"),
        ({"customer_id": "abc", "subject": "X"}, "customer_id"),
        ({"subject": "X"}, "customer_id"),
    ):
        resp = await alice.request("POST", "/api/cases", body)
        assert (resp.status, (await resp.json()).get("field")) == (400, field), body
    assert (
        await alice.request(
            "POST", "/api/cases", {"customer_id": customer, "subject": "Y"}, csrf=False
        )
    ).status == 403

    # update, note, link; each on the timeline and audited
    contact_id = await make_contact(
        world.store, "case-link-1", "+15550177101", "sales", "1001", at=time.time() - 90
    )
    await world.store.contacts.link_customer(contact_id, int(customer))
    resp = await alice.request(
        "POST", f"/api/cases/{number}/contacts", {"contact_id": str(contact_id)}
    )
    assert resp.status == 200, await resp.text()
    resp = await alice.request("POST", f"/api/cases/{number}/notes", {"text": "<b>called back</b>"})
    assert resp.status == 201
    resp = await sue.request(
        "PATCH", f"/api/cases/{number}", {"status": "resolved", "priority": "high"}
    )
    assert resp.status == 200, await resp.text()
    got = await (await alice.request("GET", f"/api/cases/{number}")).json()
    assert got["case"]["status"] == "resolved" and got["case"]["priority"] == "high"
    assert got["case"]["clock"]["resolution"]["state"] in ("met", "breached")
    kinds = [e["kind"] for e in got["timeline"]]
    assert kinds[:3] == ["created", "contact", "note"] and "status" in kinds and "priority" in kinds
    assert got["timeline"][2]["body"] == "<b>called back</b>"  # stored as text
    assert [c["id"] for c in got["contacts"]] == [contact_id]
    assert (
        got["contacts"][0]["channel"] == "voice"
        and got["contacts"][0]["agent_name"] == "Alice Agent"
    )
    audit = [(e.actor, e.action, e.target) for e in await world.store.audit.list()]
    for entry in (
        ("alice", "case.create", number),
        ("alice", "case.link", number),
        ("alice", "case.note", number),
        ("sue", "case.update", number),
    ):
        assert entry in audit
    assert (await alice.request("GET", "/api/cases/C-999999")).status == 404
    assert (await alice.request("GET", "/api/cases/nonsense")).status == 400

    # the report: supervisors and admins only, scoped to a supervisor's queues
    assert (await alice.request("GET", "/api/reports/cases")).status == 403
    rows = (await (await sue.request("GET", "/api/reports/cases?by=queue")).json())["rows"]
    assert {r["queue"] for r in rows} <= {"sales", "billing"}
    sales = next(r for r in rows if r["queue"] == "sales")
    assert sales["opened"] >= 1 and sales["resolved"] >= 1
    assert (await sue.request("GET", "/api/reports/cases?by=mood")).status == 400

    # pages
    for path in ("/cases", f"/cases/{number}"):
        resp = await alice.request("GET", path)
        assert resp.status == 200 and "cases.js" in await resp.text()


async def test_opening_a_case_on_a_contact_checks_it_as_linking_does(world: Any) -> None:
    """Found in review: opening a case with another queue's (or another customer's)
    contact showed that contact's caller, agent and disposition on the case."""
    alice = await world.client("alice")  # agent 1001, queue sales
    customer = world.ids["customer"]
    theirs = await make_contact(
        world.store, "case-open-support", "+15550177301", "support", "1002", at=time.time() - 60
    )
    await world.store.contacts.link_customer(theirs, int(customer))
    resp = await alice.request("POST", "/api/cases", {"contact_id": str(theirs), "subject": "Peek"})
    assert resp.status == 403
    other = await world.store.customers.add("Someone Else", ["+15550177399"])
    mine = await make_contact(
        world.store, "case-open-other", "+15550177399", "sales", "1001", at=time.time() - 60
    )
    await world.store.contacts.link_customer(mine, other.id)
    resp = await alice.request(
        "POST",
        "/api/cases",
        {"contact_id": str(mine), "customer_id": customer, "subject": "Wrong customer"},
    )
    assert (resp.status, (await resp.json())["field"]) == (400, "contact_id")
    resp = await alice.request("POST", "/api/cases", {"contact_id": str(mine), "subject": "Ok"})
    assert resp.status == 201 and (await resp.json())["customer_id"] == other.id


async def test_a_case_lists_the_articles_used_on_its_contacts(world: Any) -> None:
    """The case page's "articles used": the knowledge-base uses on the case's linked
    contacts (any of them, oldest first), not those on the customer's other contacts."""
    alice = await world.client("alice")
    ada = int(world.ids["customer"])
    linked = await make_contact(
        world.store, "kb-1", "+15551230001", "sales", "1001", at=time.time() - 90
    )
    other = await make_contact(
        world.store, "kb-2", "+15551230001", "sales", "1001", at=time.time() - 60
    )
    kb = world.store.knowledge
    refund = await kb.add(title="Refunds", body="Refund it.", language="en", owner="sue")
    fees = await kb.add(title="Late fees", body="Waive once.", language="en", owner="sue")
    resp = await alice.request(
        "POST", "/api/cases", {"customer_id": str(ada), "subject": "Refund", "queue": "sales"}
    )
    number = (await resp.json())["number"]
    assert (await (await alice.request("GET", f"/api/cases/{number}")).json())["articles"] == []
    for article, contact in ((refund, linked), (fees, linked), (refund, other)):
        resp = await alice.request(
            "POST", f"/api/kb/articles/{article.id}/used", {"contact_id": str(contact)}
        )
        assert resp.status == 200
    resp = await alice.request("POST", f"/api/cases/{number}/contacts", {"contact_id": str(linked)})
    assert resp.status == 200, await resp.text()
    data = await (await alice.request("GET", f"/api/cases/{number}")).json()
    assert [(a["title"], a["contact_id"], a["username"]) for a in data["articles"]] == [
        ("Refunds", linked, "alice"),
        ("Late fees", linked, "alice"),
    ]
    assert data["case"]["business_hours"]["timezone"] == "Europe/London"
    assert isinstance(data["case"]["business_hours"]["counting"], bool)


async def _contact_of(world: Any, key: str, channel: str, customer_id: int) -> int:
    """A contact of ``channel`` handled by alice (1001) in sales, ended: ready to wrap up."""
    log = world.store.contacts
    at = time.time() - 120
    await log.arrived(key, "", "", "inbound", at, customer_id=customer_id, channel=channel)
    await log.queued(key, "sales", at=at + 1)
    await log.offered(key, "1001", at=at + 2)
    await log.answered(key, "1001", at=at + 3)
    await log.ended(key, at=at + 60)
    return int((await log.get_by_key(key)).id)


async def test_a_case_opened_from_a_chat_gathers_the_email_and_the_call(world: Any) -> None:
    """Cases from every channel's wrap-up: a chat's wrap-up opens the case, an email's and
    a call's link to it; the case lists the three contacts, each with its channel, in
    the order they were linked, and its timeline has an entry for each."""
    alice = await world.client("alice")
    ada = int(world.ids["customer"])
    chat = await _contact_of(world, "chat-case-1", "chat", ada)
    email = await _contact_of(world, "email-case-1", "email", ada)
    call = await make_contact(
        world.store, "call-case-1", "+15551230001", "sales", "1001", at=time.time() - 30
    )
    await world.store.contacts.ended("call-case-1", at=time.time() - 5)
    resp = await alice.request(
        "POST",
        f"/api/contacts/{chat}/wrapup",
        {"disposition": "resolved", "case": {"subject": "Damaged parcel", "status": "open"}},
    )
    assert resp.status == 200, await resp.text()
    [case_id] = (await world.store.contacts.get(chat)).case_ids
    for contact in (email, call):
        resp = await alice.request(
            "POST",
            f"/api/contacts/{contact}/wrapup",
            {"disposition": "resolved", "case": {"id": str(case_id), "status": "open"}},
        )
        assert resp.status == 200, await resp.text()
    number = (await world.store.cases.get(case_id)).number
    data = await (await alice.request("GET", f"/api/cases/{number}")).json()
    assert [(c["id"], c["channel"]) for c in data["contacts"]] == [
        (chat, "chat"),
        (email, "email"),
        (call, "voice"),
    ]
    linked = [e["contact_id"] for e in data["timeline"] if e["kind"] == "contact"]
    assert linked == [chat, email, call]
    assert data["case"]["queue"] == "sales" and data["case"]["agent_id"] == "1001"

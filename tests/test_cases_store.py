"""Cases with SLA in the store (migration 19), on both engines."""

from __future__ import annotations

import time

import pytest

import crm_lookup.postgres_backend as postgres_backend
import crm_lookup.sqlite_backend as sqlite_backend
from config.errors import InvalidInput
from crm_lookup.models import CaseChange
from crm_lookup.store import open_store


async def _call(store, key: str, caller: str, queue: str = "support", agent: str = "1001") -> int:
    t = time.time()
    await store.contacts.arrived(key, caller, "100", at=t)
    await store.contacts.queued(key, queue, at=t)
    await store.contacts.answered(key, agent, at=t + 1)
    await store.contacts.ended(key, at=t + 2)
    return (await store.contacts.get_by_key(key)).id


async def test_migration_19_keeps_old_cases_ids_and_links(
    blank_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = postgres_backend if blank_store_url.startswith("postgresql") else sqlite_backend
    full = backend.MIGRATIONS
    monkeypatch.setattr(backend, "MIGRATIONS", tuple(m for m in full if m[0] < 19))
    store = await open_store(blank_store_url)
    try:
        ann = await store.customers.add("Ann Old", ["+15550190001"])
        contact_id = await _call(store, "M19", "+15550190001")
        ids = {}
        for status in ("open", "pending", "closed"):
            async with store.transaction() as db:
                ids[status] = await db.insert(
                    "INSERT INTO cases(customer_id, subject, status, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (ann.id, f"old {status}", status, 1000.0, 2000.0),
                )
        await store.write(
            "INSERT INTO case_contacts(case_id, contact_id) VALUES (?, ?)",
            (ids["pending"], contact_id),
        )
    finally:
        await store.close()
    monkeypatch.setattr(backend, "MIGRATIONS", full)
    store = await open_store(blank_store_url)
    try:
        got = {s: await store.cases.get(i) for s, i in ids.items()}
        assert got["open"].status == "open" and got["open"].priority == "normal"
        assert got["pending"].status == "pending_customer"
        assert got["pending"].paused_since == 2000.0
        assert got["closed"].status == "closed" and got["closed"].resolved_at == 2000.0
        assert got["pending"].contact_ids == (contact_id,)
        assert got["pending"].number == f"C-{ids['pending']:06d}"
        kinds = [(e.kind, e.contact_id) for e in await store.cases.timeline(ids["pending"])]
        assert kinds == [("created", None), ("contact", contact_id)]
        # the new statuses are accepted, the old constraint is gone
        await store.cases.update(ids["open"], status="resolved", actor="alice")
        assert (await store.cases.get(ids["open"])).resolved_at is not None
        # a new case after the old ones gets the next id
        fresh = await store.cases.open(ann.id, "new one")
        assert fresh.id > max(ids.values()) and fresh.status == "new"
    finally:
        await store.close()


async def test_timeline_with_linked_contacts_notes_and_changes(store_url: str) -> None:
    store = await open_store(store_url)
    try:
        bob = await store.customers.add("Bob Case", ["+15550190002"])
        first = await _call(store, "T1", "+15550190002")
        second = await _call(store, "T2", "+15550190002")
        case = await store.cases.open(
            bob.id,
            "Router broken",
            priority="high",
            category="hardware",
            queue="support",
            actor="alice",
        )
        assert case.first_response_at is None  # opened on the customer page
        await store.cases.link(case.id, first, actor="alice")
        await store.cases.add_note(case.id, "asked for the serial number", actor="alice")
        await store.cases.update(case.id, status="pending_customer", agent_id="1001", actor="alice")
        await store.cases.link(case.id, second, actor="bob")
        await store.cases.link(case.id, second, actor="bob")  # once only
        case = await store.cases.get(case.id)
        assert case.contact_ids == (first, second)
        assert case.first_response_at is not None and case.paused_since is not None
        timeline = await store.cases.timeline(case.id)
        assert [e.kind for e in timeline] == [
            "created",
            "contact",
            "note",
            "assignee",
            "status",
            "contact",
        ]
        assert timeline[2].body == "asked for the serial number" and timeline[2].actor == "alice"
        assert timeline[4].data == {"from": "new", "to": "pending_customer"}
        with pytest.raises(InvalidInput):
            await store.cases.update(case.id, priority="whenever")
        with pytest.raises(InvalidInput):
            await store.cases.add_note(case.id, "   ", actor="alice")
        assert (await store.cases.by_number(case.number)).id == case.id
    finally:
        await store.close()


async def test_a_customer_reply_reopens_a_resolved_case(store_url: str) -> None:
    store = await open_store(store_url)
    try:
        store.cases.business_seconds = lambda a, b: 42.0  # the service's SLA schedule
        cy = await store.customers.add("Cy Reply", ["+15550190003"])
        call = await _call(store, "R1", "+15550190003")
        await store.contacts.wrapup(call, "resolved", case=CaseChange(subject="Refund"))
        case = (await store.cases.for_customer(cy.id))[0]
        assert case.status == "open" and case.first_response_at is not None
        assert case.queue == "" or case.queue == "support"
        await store.cases.update(case.id, status="resolved", actor="alice")
        assert await store.cases.customer_replied("nobody") is None
        await store.contacts.arrived("R2", "+15550190003", "100")
        reopened = await store.cases.customer_replied("R2")
        assert reopened is not None and reopened.id == case.id
        assert reopened.status == "open" and reopened.resolved_at is None
        assert reopened.paused_seconds == 42.0 and reopened.paused_since is None
        r2 = (await store.contacts.get_by_key("R2")).id
        assert r2 in reopened.contact_ids
        kinds = [(e.kind, e.actor) for e in await store.cases.timeline(case.id)]
        assert ("reopened", "customer") in kinds
        # nothing resolved any more: a further contact changes nothing
        await store.contacts.arrived("R3", "+15550190003", "100")
        assert await store.cases.customer_replied("R3") is None
    finally:
        await store.close()


async def test_report_per_queue_category_and_agent(store_url: str) -> None:
    store = await open_store(store_url)
    try:
        dee = await store.customers.add("Dee Report", ["+15550190004"])
        a = await store.cases.open(
            dee.id, "A", queue="support", category="billing", agent_id="1001"
        )
        b = await store.cases.open(dee.id, "B", queue="support", category="hardware")
        await store.cases.open(dee.id, "C", queue="sales", category="billing")
        await store.cases.update(a.id, status="resolved", actor="x")
        await store.cases.set_sla(
            b.id,
            first_response_due=1.0,
            resolution_due=2.0,
            first_response_breached=True,
            resolution_breached=False,
        )
        now = time.time()
        rows = {r["queue"]: r for r in await store.cases.report(now - 60, now + 60, "queue")}
        assert rows["support"]["opened"] == 2 and rows["support"]["resolved"] == 1
        assert rows["support"]["first_response_breaches"] == 1
        assert rows["sales"]["opened"] == 1 and rows["sales"]["resolved"] == 0
        cats = {
            r["category"]: r["opened"]
            for r in await store.cases.report(now - 60, now + 60, "category")
        }
        assert cats == {"billing": 2, "hardware": 1}
        agents = {r["agent"]: r for r in await store.cases.report(now - 60, now + 60, "agent")}
        assert agents["1001"]["resolved"] == 1
        with pytest.raises(InvalidInput):
            await store.cases.report(0, 1, "mood")
    finally:
        await store.close()


async def test_a_new_call_of_the_customer_reopens_their_resolved_case(store_url: str) -> None:
    """Voice calls customer_replied: the contact recorder, when the new call's contact
    has a customer (batched writes, as the service runs it)."""
    from routing.contacts import ContactRecorder
    from routing.live import LiveCall

    store = await open_store(store_url)
    try:
        eve = await store.customers.add("Eve Back", ["+15550190005"])
        case = await store.cases.open(eve.id, "Billing", queue="support")
        await store.cases.update(case.id, status="resolved", actor="alice")
        recorder = ContactRecorder(
            store.contacts, cases=store.cases, batch=store.batch, batch_size=8
        )
        recorder.start()
        call = LiveCall("back-1", "PJSIP/trunk-1", "back-1", "+15550190005", "100", time.time())
        recorder.arrived(call)
        await recorder.flush()
        await recorder.close()
        reopened = await store.cases.get(case.id)
        assert reopened.status == "open" and call.contact_id in reopened.contact_ids
        assert "reopened" in [e.kind for e in await store.cases.timeline(case.id)]
    finally:
        await store.close()

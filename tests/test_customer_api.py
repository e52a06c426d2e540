"""The customer page's API through the real aiohttp server on 127.0.0.1 (issue 13): edit
(one transaction, errors by field, audited), likely duplicates, merge (audited; the
merged id is gone), and agents by name on every contact row."""

from __future__ import annotations

import time
from typing import Any

from tests.console_fakes import make_contact


async def test_edit_saves_audits_and_refuses_by_field_changing_nothing(world: Any) -> None:
    alice = await world.client("alice")
    path = "/api/customers/" + world.ids["customer"]
    before = await world.store.customers.get(int(world.ids["customer"]))
    await world.store.customers.add("Someone Else", ["+15550990001"])

    for body, field, status in (
        ({"company": "Engines", "email": "not an address"}, "email", 400),
        ({"company": "Engines", "name": "  "}, "name", 400),
        ({"company": "Engines", "tier": "x" * 40}, "tier", 400),
        ({"company": "Engines", "add_phone": "call me"}, "add_phone", 400),
        ({"company": "Engines", "add_phone": "+1 555 099 0001"}, "add_phone", 409),
        ({"colour": "blue"}, "name", 400),
    ):
        resp = await alice.request("PATCH", path, body)
        data = await resp.json()
        assert (resp.status, data.get("field")) == (status, field), data
        assert data["message"]
    # Nothing of a refused edit was kept, not even its valid fields.
    assert await world.store.customers.get(before.id) == before

    resp = await alice.request(
        "PATCH", path, {"company": "Engines", "add_phone": "(555) 099-0002", "notes": "a\nb"}
    )
    assert resp.status == 200, await resp.text()
    data = await resp.json()
    assert data["company"] == "Engines" and "+15550990002" in data["phones"]
    assert data["notes"] == "a\nb" and data["name"] == before.name
    assert set(before.phones) < set(data["phones"])
    audit = [(e.actor, e.action, e.target) for e in await world.store.audit.list()]
    assert ("alice", "customer.edit", str(before.id)) in audit
    # CSRF like every write.
    resp = await alice.request("PATCH", path, {"company": "X"}, csrf=False)
    assert resp.status == 403


async def test_duplicates_merge_and_names_on_contact_rows(world: Any) -> None:
    bob = await world.client("bob")
    keep = world.ids["customer"]
    twin = await world.store.customers.add("ADA  lovelace", ["+15559870000"])
    other = await world.store.customers.add("Charles Babbage", ["+15559870001"])
    contact_id = await make_contact(
        world.store, "twin-1", "+15559870000", "support", "1002", at=time.time() - 60
    )
    await world.store.contacts.link_customer(contact_id, twin.id)

    data = await (await bob.request("GET", f"/api/customers/{keep}/duplicates")).json()
    assert [(d["customer"]["id"], d["reasons"]) for d in data["duplicates"]] == [
        (twin.id, ["same_name"])
    ]
    assert (await bob.request("GET", "/api/customers/x/duplicates")).status == 400
    assert (await bob.request("GET", "/api/customers/987654/duplicates")).status == 404

    for body, status in (
        ({}, 400),
        ({"duplicate_id": "abc"}, 400),
        ({"duplicate_id": keep}, 400),
        ({"duplicate_id": "987654"}, 404),
    ):
        resp = await bob.request("POST", f"/api/customers/{keep}/merge", body)
        assert resp.status == status, await resp.text()
    resp = await bob.request(
        "POST", f"/api/customers/{keep}/merge", {"duplicate_id": str(twin.id)}, csrf=False
    )
    assert resp.status == 403
    resp = await bob.request("POST", f"/api/customers/{keep}/merge", {"duplicate_id": str(twin.id)})
    assert resp.status == 200, await resp.text()
    kept = await resp.json()
    assert "+15559870000" in kept["phones"]

    gone = await bob.request("GET", f"/api/customers/{twin.id}")
    assert gone.status == 404
    assert (await gone.json())["message"] == f"customer {twin.id} was merged into customer {keep}"
    assert (await bob.request("GET", "/api/customers/987654")).status == 404
    page_of_twin = await bob.request("GET", f"/customers/{twin.id}")
    assert (page_of_twin.status, page_of_twin.headers["Location"]) == (302, f"/customers/{keep}")
    assert (await world.store.customers.get(other.id)).name == "Charles Babbage"
    audit = [(e.actor, e.action, e.target) for e in await world.store.audit.list()]
    assert ("bob", "customer.merge", f"customer:{keep}") in audit

    page = await (await bob.request("GET", f"/api/customers/{keep}/contacts")).json()
    rows = {c["key"]: c for c in page["contacts"]}
    assert rows["twin-1"]["agent_name"] == "Bob Agent"
    assert all(c["agent_name"] for c in page["contacts"] if c.get("agent_id"))
    data = await (await bob.request("GET", f"/api/customers/{keep}/duplicates")).json()
    assert data["duplicates"] == []


async def test_supervisors_and_admins_read_and_edit_a_customer(world: Any) -> None:
    """Any signed-in role may open, edit and list a customer (audited under its own name)."""
    path = "/api/customers/" + world.ids["customer"]
    for user in ("sue", "root"):
        client = await world.client(user)
        assert (await client.request("GET", path)).status == 200
        resp = await client.request("PATCH", path, {"notes": f"seen by {user}"})
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["notes"] == f"seen by {user}"
        assert (await client.request("GET", path + "/duplicates")).status == 200
        page = await (await client.request("GET", path + "/contacts?limit=1")).json()
        assert len(page["contacts"]) == 1 and page["next_offset"] == 1
    audit = [(e.actor, e.action) for e in await world.store.audit.list()]
    assert ("sue", "customer.edit") in audit and ("root", "customer.edit") in audit

"""The JSON API of the real service (real store, real call center) over HTTP on 127.0.0.1:
history pages and turning a new caller into a customer, with their error answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from switchboard.demo import DEMO_PASSWORD, seed_users
from tests.service_harness import running_service


async def login(http: aiohttp.ClientSession, url: str, username: str) -> dict[str, str]:
    resp = await http.post(
        url + "/api/login",
        json={"username": username, "password": DEMO_PASSWORD},
        headers={"Origin": url},
    )
    assert resp.status == 200, await resp.text()
    return {"Origin": url, "X-CSRF-Token": (await resp.json())["csrf_token"]}


async def past_contacts(service: Any, customer_id: int, count: int) -> list[int]:
    ids = []
    for n in range(count):
        key = f"past-{n}"
        await service.store.contacts.arrived(
            key, "+15550001111", "5550100", "inbound", 1000.0 + n, customer_id
        )
        ids.append((await service.store.contacts.get_by_key(key)).id)
    return ids


async def test_history_pages_newest_first(tmp_path: Path) -> None:
    async with running_service(tmp_path) as (service, _sim, _rec, url):
        await seed_users(service.store)
        ada = await service.store.customers.add("Ada", ["+15550001111"])
        ids = await past_contacts(service, ada.id, 3)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            headers = await login(http, url, "alice")
            base = f"{url}/api/customers/{ada.id}/contacts"
            first = await (await http.get(base + "?limit=2", headers=headers)).json()
            assert [c["id"] for c in first["contacts"]] == [ids[2], ids[1]]
            assert (first["total"], first["next_offset"]) == (3, 2)
            second = await (await http.get(base + "?limit=2&offset=2", headers=headers)).json()
            assert [c["id"] for c in second["contacts"]] == [ids[0]]
            assert second["next_offset"] is None
            for query in ("?limit=0", "?limit=101", "?offset=-1", "?limit=two"):
                bad = await http.get(base + query, headers=headers)
                assert bad.status == 400, query
                assert (await bad.json())["field"] in ("limit", "offset")


async def test_new_caller_becomes_a_customer(tmp_path: Path) -> None:
    async with running_service(tmp_path) as (service, _sim, _rec, url):
        await seed_users(service.store)
        await service.store.customers.add("Ada", ["+15550001111"])
        key = "new-caller-call"
        await service.store.contacts.arrived(key, "+15550002222", "5550100", "inbound", 1000.0)
        await service.store.contacts.answered(key, "1002", 1010.0)  # bruno's call
        contact = await service.store.contacts.get_by_key(key)
        assert contact.customer_id is None
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            alice = await login(http, url, "alice")
            new = {"name": "Ben New", "phone": "(555) 000-2222", "contact_id": str(contact.id)}
            # Alice may not link Bruno's contact.
            denied = await http.post(url + "/api/customers", json=new, headers=alice)
            assert denied.status == 403
            for body, status in (
                ({"name": "X", "phone": "not a phone"}, 400),
                ({"name": "X", "phone": "+15550001111"}, 409),  # Ada's number
                ({"phone": "+15550003333"}, 400),
            ):
                resp = await http.post(url + "/api/customers", json=body, headers=alice)
                assert resp.status == status, (body, await resp.text())
            assert await service.store.customers.find_by_phone("+15550002222") is None

        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            bruno = await login(http, url, "bruno")
            resp = await http.post(url + "/api/customers", json=new, headers=bruno)
            assert resp.status == 201, await resp.text()
            card = (await resp.json())["card"]
            assert card["name"] == "Ben New" and card["new_caller"] is False
            assert [c["id"] for c in card["recent_contacts"]] == [contact.id]
        ben = await service.store.customers.find_by_phone("+15550002222")
        assert ben is not None and ben.id == card["customer_id"]
        assert (await service.store.contacts.get(contact.id)).customer_id == ben.id
        audit = await service.store.audit.list()
        assert any(e.action == "customer.create" and e.actor == "bruno" for e in audit)

"""The report pages' routes: who may open them and what each role is offered (the
queues and agents of a supervisor's own queues; an agent only "My figures")."""

from __future__ import annotations

import json
import re
from typing import Any

CONFIG = re.compile(r'<script id="report-config" type="application/json">(.*?)</script>', re.S)


async def setup_of(client: Any, path: str) -> dict[str, Any]:
    resp = await client.request("GET", path)
    assert resp.status == 200, await resp.text()
    found = CONFIG.search(await resp.text())
    assert found, "the page carries its report-config"
    return json.loads(found.group(1))


async def test_signed_out_visitors_are_sent_to_sign_in(world: Any) -> None:
    anonymous = await world.client()
    for path in ("/reports", "/reports/contacts?queue=sales"):
        resp = await anonymous.request("GET", path, headers={"Accept": "text/html"})
        assert resp.status in (303, 401), path
        if resp.status == 303:
            assert resp.headers["Location"] == "/login"


async def test_a_supervisor_is_offered_only_their_queues_and_their_agents(world: Any) -> None:
    world.center.queues["sales"]["thresholds"] = {"service_level": {"warn": 0.9, "bad": 0.7}}
    sue = await world.client("sue")
    setup = await setup_of(sue, "/reports")
    assert setup["mine"] is False
    assert setup["queues"] == ["billing", "sales"]  # supervises sales and billing, not support
    assert {a["id"] for a in setup["agents"]} == {"1001", "1003", "2001"}  # Bob is support only
    assert setup["targets"] == {"sales": 0.9}
    assert setup["site_zone"] == "UTC"
    assert (await setup_of(sue, "/reports/contacts?queue=sales"))["queues"] == ["billing", "sales"]


async def test_an_admin_sees_every_queue_and_an_agent_only_their_own_figures(world: Any) -> None:
    root = await world.client("root")
    setup = await setup_of(root, "/reports")
    assert setup["queues"] == ["billing", "sales", "support"]
    assert len(setup["agents"]) == 4
    alice = await world.client("alice")
    resp = await alice.request("GET", "/reports")
    page = await resp.text()
    mine = json.loads(CONFIG.search(page).group(1))
    assert mine["mine"] is True and mine["agent_id"] == "1001"
    assert mine["queues"] == [] and mine["agents"] == []
    assert "<h1>My figures</h1>" in page
    assert 'id="queue"' not in page and 'id="by"' not in page

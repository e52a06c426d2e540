"""Supervisor alerts in the console: ``GET /api/alerts``, ``POST /api/alerts/{id}/ack``
(roles, scope, audit) and the websocket's scoping of ``alert`` messages and snapshots."""

from __future__ import annotations

from typing import Any

import pytest

from tests.console_fakes import World
from tests.test_console_ws import drain, recv


@pytest.fixture
async def world(tmp_path: Any) -> Any:
    w = await World().start(tmp_path)
    c = w.center
    c.raise_alert("sales1", "longest_wait", "sales", queue="sales", value=75.0, threshold=60.0)
    c.raise_alert("support1", "no_agent_ready", "support", queue="support", unit="s")
    c.raise_alert("ami1", "ami_down", "branch", pbx="branch")
    c.raise_alert(
        "bob1", "agent_state", "Bob Agent", agent_id="1002", agent_state="not_ready",
        queues=["support"], unit="min",
    )  # fmt: skip
    c.raise_alert(
        "carol1", "agent_state", "Carol Agent", agent_id="1003", agent_state="wrap_up",
        queues=["sales", "billing"], unit="min",
    )  # fmt: skip
    yield w
    await w.close()


async def ids(client: Any) -> list[str]:
    resp = await client.request("GET", "/api/alerts")
    assert resp.status == 200
    return [a["id"] for a in (await resp.json())["alerts"]]


async def test_a_supervisor_sees_their_queues_their_agents_and_the_global_alerts(
    world: Any,
) -> None:
    sue = await world.client("sue")  # sales and billing
    assert await ids(sue) == ["sales1", "ami1", "carol1"]
    root = await world.client("root")
    assert await ids(root) == ["sales1", "support1", "ami1", "bob1", "carol1"]
    for name, status in (("alice", 403), ("bob", 403), (None, 401)):
        client = await world.client(name)
        assert (await client.request("GET", "/api/alerts")).status == status


async def test_ack_is_audited_once_with_who_and_when(world: Any) -> None:
    sue = await world.client("sue")
    before = world.center.clock()
    resp = await sue.request("POST", "/api/alerts/sales1/ack", {})
    assert resp.status == 200, await resp.text()
    alert = await resp.json()
    assert alert["acked_by"] == "sue"
    assert before <= alert["acked_at"] <= world.center.clock()
    root = await world.client("root")
    again = await (await root.request("POST", "/api/alerts/sales1/ack", {})).json()
    assert again["acked_by"] == "sue"  # the first ack stands
    audit = [(e.actor, e.action, e.target, e.details) for e in await world.store.audit.list()]
    acks = [row for row in audit if row[1] == "alert.ack"]
    assert acks == [
        (
            "sue",
            "alert.ack",
            "sales1",
            {"rule": "longest_wait", "subject": "sales", "acked_at": alert["acked_at"]},
        )
    ]
    assert world.center.actions == [("ack_alert", "sales1", "sue")]


async def test_ack_of_an_alert_not_seen_or_unknown_is_404_and_agents_are_refused(
    world: Any,
) -> None:
    sue = await world.client("sue")
    for alert_id in ("support1", "bob1", "nope"):
        resp = await sue.request("POST", f"/api/alerts/{alert_id}/ack", {})
        assert resp.status == 404, alert_id
        assert (await resp.json())["error"]
    assert (await sue.request("POST", "/api/alerts/bad%20id/ack", {})).status == 400
    alice = await world.client("alice")
    assert (await alice.request("POST", "/api/alerts/sales1/ack", {})).status == 403
    assert world.center.actions == []


async def test_websocket_alerts_are_scoped_and_agents_get_none(world: Any) -> None:
    sue, bob, root = [await world.client(n) for n in ("sue", "bob", "root")]
    sue_ws, bob_ws, root_ws = await sue.ws(), await bob.ws(), await root.ws()
    sue_snap, bob_snap, root_snap = await recv(sue_ws), await recv(bob_ws), await recv(root_ws)
    assert [a["id"] for a in sue_snap["alerts"]] == ["sales1", "ami1", "carol1"]
    assert bob_snap["alerts"] == []
    assert len(root_snap["alerts"]) == 5
    c = world.center
    c.raise_alert("support2", "longest_wait", "support", queue="support")
    c.raise_alert("db1", "database_failing", "database")
    c.raise_alert("bob2", "agent_state", "Bob Agent", agent_id="1002", queues=["support"])
    c.raise_alert("sales2", "service_level", "sales", queue="sales")
    sue_got = [m["alert"]["id"] for m in await drain(sue_ws, 0.2) if m["type"] == "alert"]
    assert sue_got == ["db1", "sales2"]
    root_got = [m["alert"]["id"] for m in await drain(root_ws, 0.2) if m["type"] == "alert"]
    assert root_got == ["support2", "db1", "bob2", "sales2"]
    assert [m for m in await drain(bob_ws, 0.2) if m["type"] == "alert"] == []
    # an ack reaches the wallboards as an "acknowledged" alert message
    await (await sue.request("POST", "/api/alerts/db1/ack", {})).json()
    acked = await recv(root_ws, "alert")
    assert (acked["event"], acked["alert"]["id"], acked["alert"]["acked_by"]) == (
        "acknowledged",
        "db1",
        "sue",
    )

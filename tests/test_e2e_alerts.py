"""End to end: supervisor alerts through the real service and the PBX simulator on 127.0.0.1.

A caller waits in sales with nobody ready: the alerting shell (started by the service's
own wiring) raises ``no_agent_ready`` and, once the wait passes its threshold,
``longest_wait``; both reach a supervisor's websocket and the alerts log. The supervisor
acknowledges one over HTTP (audited: who and when; the websocket shows it). An agent
becomes ready and takes the call: both alerts clear (websocket, ``cleared_at`` in the
log). The agent's own websocket never gets an alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from pathlib import Path
from typing import Any

import aiohttp

from config.settings import Settings
from switchboard.demo import seed_users
from telephony.simulator import PhoneBehaviour
from tests.service_harness import running_service
from tests.test_e2e_api import login
from tests.test_e2e_calls import DEMO_DID, agent_state

PHONES = {"PJSIP/1001": PhoneBehaviour(answer_after=0.2)}
SALES = "1"  # demo_line's menu


def quick_alerts(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings,
        alerts=dataclasses.replace(
            settings.alerts,
            no_agent_ready=1.0,
            longest_wait_seconds=2.0,
            check_interval=0.2,
            clear_after=0.3,
        ),
    )


class Socket:
    """A websocket's messages, collected by a task of its own."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.messages: list[dict[str, Any]] = []
        self._task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                self.messages.append(msg.json())

    async def wait_for(self, match: Any, within: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for message in self.messages:
                if match(message):
                    return message
            await asyncio.sleep(0.05)
        kinds = [(m.get("type"), m.get("event")) for m in self.messages[-20:]]
        raise AssertionError(f"no matching message within {within}s; last: {kinds}")

    async def close(self) -> None:
        await self.ws.close()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def alert_event(event: str, rule: str) -> Any:
    return lambda m: (
        m.get("type") == "alert" and m.get("event") == event and m["alert"]["rule"] == rule
    )


async def logged(service: Any, alert_id: str, check: Any, within: float = 10.0) -> dict[str, Any]:
    """The alerts log's row of ``alert_id`` once ``check(row)`` holds."""
    row: dict[str, Any] | None = None
    for _ in range(int(within / 0.05)):
        rows = await service.store.alerts.between(0, time.time() + 60)
        row = next((r for r in rows if r["id"] == alert_id), None)
        if row is not None and check(row):
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"alerts log row of {alert_id}: {row}")


async def test_alerts_raise_ack_and_clear_through_the_real_service(
    tmp_path: Path, store_url: str
) -> None:
    async with running_service(
        tmp_path, phones=PHONES, tweak=quick_alerts, database_url=store_url
    ) as running:
        service, sim, rec, url = running
        await seed_users(service.store)  # sam (supervisor), alice (agent 1001)
        jar = aiohttp.CookieJar(unsafe=True)
        async with (
            aiohttp.ClientSession(cookie_jar=jar) as sam_http,
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as alice_http,
        ):
            sam = await login(sam_http, url, "sam")
            await login(alice_http, url, "alice")
            sam_ws = Socket(await sam_http.ws_connect(url + "/ws", headers={"Origin": url}))
            alice_ws = Socket(await alice_http.ws_connect(url + "/ws", headers={"Origin": url}))
            try:
                snap = await sam_ws.wait_for(lambda m: m.get("type") == "snapshot")
                assert snap["alerts"] == []
                await alice_ws.wait_for(lambda m: m.get("type") == "snapshot")

                started = time.time()
                sim.place_call("+15550004444", did=DEMO_DID, dtmf=[SALES], patience=600)
                raised = await sam_ws.wait_for(alert_event("raised", "no_agent_ready"))
                nobody = raised["alert"]
                assert raised["queue"] == "sales"
                assert nobody["queue"] == "sales" and nobody["subject"] == "sales"
                assert nobody["value"] >= 1.0 and nobody["unit"] == "s"
                assert nobody["threshold"] == 1.0 and nobody["state"] == "active"
                assert started < nobody["raised_at"] <= time.time()
                row = await logged(service, nobody["id"], lambda r: True)
                assert row["rule"] == "no_agent_ready" and row["queue"] == "sales"
                assert row["cleared_at"] is None and row["acked_by"] is None

                waited = await sam_ws.wait_for(alert_event("raised", "longest_wait"))
                longest = waited["alert"]
                assert longest["queue"] == "sales" and longest["unit"] == "s"
                assert longest["value"] > 2.0 and longest["threshold"] == 2.0
                await logged(service, longest["id"], lambda r: r["rule"] == "longest_wait")

                # the wallboard's snapshot and the API list the active alerts
                listed = await (await sam_http.get(url + "/api/alerts", headers=sam)).json()
                assert {a["id"] for a in listed["alerts"]} >= {nobody["id"], longest["id"]}
                assert (await alice_http.get(url + "/api/alerts")).status == 403

                # Acknowledge: who and when, on the websocket, in the log, in the audit.
                before = time.time()
                resp = await sam_http.post(f"{url}/api/alerts/{nobody['id']}/ack", headers=sam)
                assert resp.status == 200, await resp.text()
                acked = await resp.json()
                assert acked["acked_by"] == "sam" and before <= acked["acked_at"] <= time.time()
                shown = await sam_ws.wait_for(alert_event("acknowledged", "no_agent_ready"))
                assert shown["alert"]["acked_by"] == "sam"
                assert shown["alert"]["acked_at"] == acked["acked_at"]
                await logged(service, nobody["id"], lambda r: r["acked_by"] == "sam")
                audit = [e for e in await service.store.audit.list() if e.action == "alert.ack"]
                assert len(audit) == 1
                assert (audit[0].actor, audit[0].target) == ("sam", nobody["id"])
                assert audit[0].details["acked_at"] == acked["acked_at"]
                assert audit[0].details["rule"] == "no_agent_ready"
                # a second ack changes nothing and is not audited again
                again = await sam_http.post(f"{url}/api/alerts/{nobody['id']}/ack", headers=sam)
                assert (await again.json())["acked_at"] == acked["acked_at"]
                audit = [e for e in await service.store.audit.list() if e.action == "alert.ack"]
                assert len(audit) == 1

                # An agent becomes ready and takes the call: both alerts clear.
                await service.center.set_agent_state("1001", "ready")
                await rec.wait_for(agent_state("1001", "on_call"))
                for rule, alert in (("no_agent_ready", nobody), ("longest_wait", longest)):
                    cleared = await sam_ws.wait_for(alert_event("cleared", rule))
                    assert cleared["alert"]["id"] == alert["id"]
                    assert cleared["alert"]["state"] == "cleared"
                    assert cleared["alert"]["cleared_at"] >= alert["raised_at"]
                    row = await logged(service, alert["id"], lambda r: r["cleared_at"] is not None)
                    assert row["cleared_at"] == cleared["alert"]["cleared_at"]
                assert cleared["alert"]["acked_by"] is None
                assert (await logged(service, nobody["id"], lambda r: True))["acked_by"] == "sam"
                listed = await (await sam_http.get(url + "/api/alerts", headers=sam)).json()
                states = {a["id"]: a["state"] for a in listed["alerts"]}
                assert states == {nobody["id"]: "cleared", longest["id"]: "cleared"}

                # the agent's console saw the whole thing and never an alert
                await alice_ws.wait_for(agent_state("1001", "on_call"))
                assert [m for m in alice_ws.messages if m.get("type") == "alert"] == []
                alice_snap = alice_ws.messages[0]
                assert alice_snap["type"] == "snapshot" and alice_snap["alerts"] == []
                assert any(m.get("type") == "alert" for m in rec.messages)  # it was published
            finally:
                await sam_ws.close()
                await alice_ws.close()

"""End to end: two ``python -m switchboard run`` nodes share one PostgreSQL and one PBX
simulator on 127.0.0.1. Exactly one routes; consoles on the standby see and act through
the leader; the leader is SIGKILLed mid-load and the standby takes its calls over as a
restarted service would; consoles on both nodes agree.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg  # type: ignore[import-untyped]

from crm_lookup.store import open_store
from switchboard.demo import DEMO_PASSWORD, seed_users
from telephony.simulator import PbxSimulator, PhoneBehaviour
from tests.service_process import SECRET, ServiceProcess

DID = "5550100"  # demo_line: welcome, lookup, menu (1 = sales)
SALES = ("1001", "1002", "1005")


def cluster(name: str) -> str:
    return f'[cluster]\nenabled = true\nnode = "{name}"\nchannel = "sbe2e"\n'


async def until(check: Callable[[], Any], within: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or check}")


async def health(http: aiohttp.ClientSession, node: ServiceProcess) -> dict[str, Any]:
    try:
        async with http.get(node.url + "/healthz") as resp:
            body: dict[str, Any] = await resp.json()
            body["status"] = resp.status
            return body
    except aiohttp.ClientError:
        return {"status": 0}


def role(body: dict[str, Any]) -> str | None:
    return (body.get("cluster") or {}).get("role")


class Contacts:
    """Reads the shared contacts table."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def all(self) -> dict[str, dict[str, Any]]:
        conn = await asyncpg.connect(self.url)
        try:
            rows = await conn.fetch(
                "SELECT id, key, queue, agent_id, queued_at, answered_at, ended_at, outcome,"
                " disposition, notes FROM contacts"
            )
        finally:
            await conn.close()
        return {r["key"]: dict(r) for r in rows}

    async def get(self, key: str) -> dict[str, Any]:
        return (await self.all()).get(key) or {}


class Screen:
    """One websocket console on one node, as the browser keeps it: the snapshot, then
    every event folded in; reconnects like the page does. Records when each message came."""

    def __init__(self, http: aiohttp.ClientSession, node: ServiceProcess, name: str) -> None:
        self.http = http
        self.node = node
        self.name = name
        self.agents: dict[str, dict[str, Any]] = {}
        self.calls: dict[str, dict[str, Any]] = {}
        self.pops: list[dict[str, Any]] = []
        self.seen: dict[str, float] = {}  # raw event -> monotonic time of arrival
        self.acks: dict[int, dict[str, Any]] = {}
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.snapshots = 0
        self._ids = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.ws is not None:
            await self.ws.close()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with self.http.ws_connect(
                    self.node.url + "/ws", headers={"Origin": self.node.url}
                ) as ws:
                    self.ws = ws
                    async for msg in ws:
                        if msg.type is aiohttp.WSMsgType.TEXT:
                            self._fold(msg.data)
            self.ws = None
            await asyncio.sleep(0.2)

    def _fold(self, raw: str) -> None:
        message = json.loads(raw)
        kind = message.get("type")
        self.seen.setdefault(raw, time.monotonic())
        if kind == "snapshot":
            self.snapshots += 1
            self.agents = {a["agent_id"]: a for a in message["agents"]}
            self.calls = {c["call_id"]: c for c in message["calls"]}
        elif kind == "agent_state":
            self.agents[message["agent_id"]] = message["agent"]
        elif kind in ("call_update", "screen_pop"):
            self.calls[message["call"]["call_id"]] = message["call"]
            if kind == "screen_pop":
                self.pops.append(message)
        elif kind == "call_ended":
            self.calls.pop(message["call_id"], None)
        elif kind in ("ack", "error"):
            self.acks[message.get("id")] = message

    async def send(self, message: dict[str, Any]) -> dict[str, Any]:
        self._ids += 1
        rid = self._ids
        ws = await until(lambda: self.ws, what=f"{self.name} connected")
        await ws.send_str(json.dumps({**message, "id": rid}))
        return await until(lambda: self.acks.get(rid), within=10, what=f"answer to {message}")

    def state(self) -> dict[str, Any]:
        return {
            "agents": {k: (a["state"], a["reason"]) for k, a in self.agents.items()},
            "calls": {k: (c["state"], c["agent_id"]) for k, c in self.calls.items()},
        }


async def login(node: ServiceProcess, username: str) -> tuple[aiohttp.ClientSession, str]:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    resp = await http.post(
        node.url + "/api/login",
        json={"username": username, "password": DEMO_PASSWORD},
        headers={"Origin": node.url},
    )
    assert resp.status == 200, await resp.text()
    return http, (await resp.json())["csrf_token"]


async def api(
    http: aiohttp.ClientSession, node: ServiceProcess, csrf: str, method: str, path: str, body: Any
) -> Any:
    resp = await http.request(
        method, node.url + path, json=body, headers={"Origin": node.url, "X-CSRF-Token": csrf}
    )
    assert resp.status < 300, f"{path}: {resp.status} {await resp.text()}"
    return await resp.json()


def routers(sim: PbxSimulator) -> int:
    return sum(1 for s in sim.sessions if s.authenticated)


async def test_two_nodes_one_router_standby_consoles_and_takeover_after_sigkill(
    tmp_path: Path, postgres_url: str
) -> None:
    store = await open_store(postgres_url)
    await seed_users(store)
    await store.close()
    sim = PbxSimulator("switchboard", SECRET, time_scale=1.0, seed=5)
    port = await sim.start("127.0.0.1", 0)
    for endpoint in ("PJSIP/1001", "PJSIP/1002", "PJSIP/1005"):
        sim.add_phone(endpoint, PhoneBehaviour(answer_after=0.3))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = ServiceProcess(tmp_path / "a", port, database_url=postgres_url, extra_settings=cluster("a"))
    b = ServiceProcess(tmp_path / "b", port, database_url=postgres_url, extra_settings=cluster("b"))
    db = Contacts(postgres_url)
    probe = aiohttp.ClientSession()
    screens: list[Screen] = []
    sessions: list[aiohttp.ClientSession] = [probe]
    helper: asyncio.Task[None] | None = None
    try:
        await a.start()  # healthy at once as a standby; it leads a fence later

        async def routes(node: ServiceProcess) -> bool:
            body = await health(probe, node)
            return role(body) == "leader" and body["status"] == 200

        await until(lambda: routes(a), within=15, what="a leads")
        await b.start()
        hb = await health(probe, b)
        assert (hb["status"], role(hb)) == (200, "standby"), hb
        assert hb["degraded"] is False, "no PBX link is a standby's normal state"
        await asyncio.sleep(1.0)
        assert routers(sim) == 1, "exactly one node talks to the PBX"
        assert role(await health(probe, a)) == "leader"

        # Consoles on the standby (b): an agent and a supervisor; the supervisor also on a
        # with the same session cookie (sessions are valid on every node).
        alice_http, alice_csrf = await login(b, "alice")
        sam_http, sam_csrf = await login(b, "sam")
        sessions += [alice_http, sam_http]
        alice_b = Screen(alice_http, b, "alice@b")
        sam_b = Screen(sam_http, b, "sam@b")
        sam_a = Screen(sam_http, a, "sam@a")
        screens += [alice_b, sam_b, sam_a]
        for screen in screens:
            screen.start()
        await until(lambda: all(s.snapshots for s in screens), what="every console's snapshot")
        await until(lambda: alice_b.agents.get("1001"), what="alice's row on b")

        # Ready through node b; the leader routes a call to alice; her card pops on b.
        ack = await alice_b.send({"type": "set_state", "state": "ready"})
        assert ack["type"] == "ack", ack
        assert alice_b.agents["1001"]["state"] == "ready"  # read your own write on b
        first = sim.place_call("+15550001111", did=DID, dtmf=["1"], talk_seconds=(1.0, 1.0))
        pop = await until(lambda: alice_b.pops, what="screen pop on node b")
        assert pop[0]["agent_id"] == "1001" and pop[0]["call"]["caller"].endswith("5550001111")
        await until(lambda: alice_b.agents["1001"]["state"] == "wrap_up", what="wrap-up")
        contact = await until(lambda: db.get(first), what="first contact")
        saved = await api(
            alice_http,
            b,
            alice_csrf,
            "POST",
            f"/api/contacts/{contact['id']}/wrapup",
            {"disposition": "resolved", "notes": "saved on node b", "done": True},
        )
        assert saved
        await until(lambda: alice_b.agents["1001"]["state"] == "ready", what="alice ready")
        await until(lambda: sam_a.agents["1001"]["state"] == "ready", what="seen on a too")
        row = await db.get(first)
        assert (row["outcome"], row["disposition"], row["notes"]) == (
            "answered",
            "resolved",
            "saved on node b",
        )

        # Load: two callers talk to agents until hung up, three wait (nobody else ready).
        await api(
            sam_http, b, sam_csrf, "PUT", "/api/supervisor/agents/1002/state", {"state": "ready"}
        )
        talking = [sim.place_call(f"+1555000200{n}", did=DID, dtmf=["1"]) for n in range(2)]
        for key in talking:
            await until(lambda k=key: db.get(k), what="talking caller's contact")  # its row exists
        await until(
            lambda: all(sam_b.agents[x]["state"] == "on_call" for x in ("1001", "1002")),
            what="both agents on call",
        )
        waiting = [
            sim.place_call(f"+1555000300{n}", did=DID, dtmf=["1"], talk_seconds=(1.0, 1.0))
            for n in range(3)
        ]

        async def all_queued() -> bool:
            rows = await db.all()
            return all(rows.get(k, {}).get("queued_at") for k in waiting)

        await until(all_queued, what="three callers waiting")
        for screen in (sam_a, sam_b):
            await until(
                lambda s=screen: len([c for c in s.calls.values() if c["state"] == "waiting"]) == 3,
                what=f"{screen.name} sees the three waiting",
            )
        # The same events reached both nodes' consoles; how much later on the standby.
        shared = set(sam_a.seen) & set(sam_b.seen)
        lags = [sam_b.seen[m] - sam_a.seen[m] for m in shared if '"type":"snapshot"' not in m]
        assert len(lags) >= 10
        print(
            f"\nconsole lag standby vs leader over {len(lags)} events: median "
            f"{statistics.median(lags) * 1000:.1f} ms, max {max(lags) * 1000:.1f} ms"
        )
        assert statistics.median(lags) < 0.5  # the target is 100 ms; a loaded CI box is slower

        killed_at = time.monotonic()
        await a.kill()
        await until(lambda: routes(b), within=15, what="b takes over")
        takeover = time.monotonic() - killed_at
        print(f"takeover after SIGKILL of the leader: {takeover:.2f} s")
        assert takeover < 10.0  # target 5 s (measured figure printed above)
        assert routers(sim) == 1

        # The calls are taken over as after a restart: agents still on their calls.
        await until(
            lambda: all(
                sam_b.agents.get(x, {}).get("state") == "on_call" for x in ("1001", "1002")
            ),
            what="talking calls adopted",
        )

        # Node a comes back as a standby; its consoles follow the new leader.
        await a.start()
        await until(lambda: health(probe, a), what="a answers")
        assert role(await health(probe, a)) == "standby"

        async def wrap_up_quickly() -> None:
            while True:
                await asyncio.sleep(0.5)
                for agent_id in SALES:
                    if sam_b.agents.get(agent_id, {}).get("state") == "wrap_up":
                        with contextlib.suppress(AssertionError, aiohttp.ClientError):
                            await api(
                                sam_http,
                                a,  # a standby: forwarded to the leader (b)
                                sam_csrf,
                                "PUT",
                                f"/api/supervisor/agents/{agent_id}/state",
                                {"state": "ready"},
                            )

        helper = asyncio.ensure_future(wrap_up_quickly())
        for key in talking:
            await sim.hangup(next(c for c in sim.channels.values() if c.uniqueid == key))
        await until(lambda: not sim.channels, within=40, what="every caller served and gone")

        async def none_open() -> bool:
            rows = await db.all()
            return all(r["ended_at"] is not None for r in rows.values())

        await until(none_open, within=10, what="no open contacts")
        rows = await db.all()
        placed = {first, *talking, *waiting}
        assert sorted(rows) == sorted(placed), "exactly one contact per call placed"
        for key in (*talking, *waiting):
            assert rows[key]["outcome"] == "answered", rows[key]
            assert rows[key]["agent_id"] in SALES
        for key in talking:
            assert rows[key]["agent_id"] in ("1001", "1002")

        # Both nodes' consoles agree, with each other and with a fresh snapshot.
        helper.cancel()
        await asyncio.sleep(1.5)

        async def agree() -> bool:
            return bool(sam_a.state() == sam_b.state() and sam_a.agents)

        try:
            await until(agree, within=10, what="consoles on a and b agree")
        except AssertionError:
            async with sam_http.get(a.url + "/healthz") as r:
                detail = await r.text()
            raise AssertionError(
                f"a: {sam_a.state()}\nb: {sam_b.state()}\na's snapshots: {sam_a.snapshots}"
                f"\na's health: {detail}"
            ) from None
        fresh: list[dict[str, Any]] = []
        for node in (a, b):
            async with sam_http.get(node.url + "/api/agents", headers={"Origin": node.url}) as r:
                assert r.status == 200
                fresh.append({x["agent_id"]: x["state"] for x in (await r.json())["agents"]})
        assert fresh[0] == fresh[1] == {k: v[0] for k, v in sam_b.state()["agents"].items()}

        # A graceful stop of the leader (a deploy) hands over at once, cleanly.
        stopping = time.monotonic()
        b.signal(signal.SIGTERM)
        assert await b.wait(within=15) == 0
        await until(lambda: routes(a), within=15, what="a takes over from a stopped b")
        print(f"handover after SIGTERM of the leader: {time.monotonic() - stopping:.2f} s")
        assert routers(sim) == 1
        for out in (a.output(1), a.output(2), b.output()):
            for bad in ("Traceback", "level=ERROR", "never retrieved", "Task was destroyed"):
                assert bad not in out, out
    finally:
        if helper is not None:
            helper.cancel()
        for screen in screens:
            await screen.stop()
        for http in sessions:
            await http.close()
        await b.stop()
        await a.stop()
        await sim.stop()

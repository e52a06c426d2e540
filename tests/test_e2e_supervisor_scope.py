"""Supervisors' queue scope from the queue file, enforced by the real service over HTTP and
the websocket on 127.0.0.1: a supervisor sees and acts on the queues that name them (and
on the queues that name nobody), never on the others.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from agent_console.auth import Passwords
from switchboard.demo import DEMO_PASSWORD, seed_users
from tests.service_harness import running_service

ROOT = Path(__file__).resolve().parent.parent


def scoped_queue_file(tmp_path: Path) -> Path:
    """The demo queue file with sales supervised by lena only and vip by sam only."""
    text = (ROOT / "config" / "queues.yaml").read_text()
    text = text.replace("  sales:\n", "  sales:\n    supervisors: [lena]\n", 1)
    path = tmp_path / "queues.yaml"
    path.write_text(text)
    return path


async def login(http: aiohttp.ClientSession, url: str, username: str) -> dict[str, str]:
    resp = await http.post(
        url + "/api/login",
        json={"username": username, "password": DEMO_PASSWORD},
        headers={"Origin": url},
    )
    assert resp.status == 200, await resp.text()
    return {"Origin": url, "X-CSRF-Token": (await resp.json())["csrf_token"]}


async def force(http: aiohttp.ClientSession, url: str, headers: Any, agent_id: str) -> int:
    resp = await http.put(
        f"{url}/api/supervisor/agents/{agent_id}/state",
        json={"state": "not_ready", "reason": "break"},
        headers=headers,
    )
    return resp.status


async def test_supervisors_act_only_on_the_queues_the_queue_file_gives_them(
    tmp_path: Path,
) -> None:
    queues = scoped_queue_file(tmp_path)
    async with running_service(tmp_path, queues_file=queues) as (service, _sim, _rec, url):
        await seed_users(service.store)  # sam, a supervisor
        await service.store.users.add("lena", Passwords().hash(DEMO_PASSWORD), "supervisor")
        for agent_id in ("1002", "1004", "1006"):
            await service.center.set_agent_state(agent_id, "ready")
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as sam_http:
            sam = await login(sam_http, url, "sam")
            # 1002 serves sales only (lena's); 1004 billing (nobody named: everyone's)
            assert await force(sam_http, url, sam, "1002") == 403
            assert await force(sam_http, url, sam, "1004") == 200
            seen = await (await sam_http.get(url + "/api/agents", headers=sam)).json()
            agent_ids = {a["agent_id"] for a in seen["agents"]}
            assert "1002" not in agent_ids and {"1004", "1006"} <= agent_ids
            names = await queue_names(sam_http, url, sam)
            assert names == {"support", "billing", "vip"}
            async with sam_http.ws_connect(url + "/ws", headers={"Origin": url}) as ws:
                snapshot = await ws.receive_json(timeout=5)
                assert snapshot["type"] == "snapshot"
                assert {q["name"] for q in snapshot["queues"]} == {"support", "billing", "vip"}
                assert "1002" not in {a["agent_id"] for a in snapshot["agents"]}
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            lena = await login(http, url, "lena")
            assert await force(http, url, lena, "1002") == 200
            assert await force(http, url, lena, "1006") == 200  # support too: nobody named
            assert await queue_names(http, url, lena) == {"sales", "support", "billing"}
        assert service.center.acd.agent_state("1002").value == "not_ready"


async def queue_names(http: aiohttp.ClientSession, url: str, headers: Any) -> set[str]:
    body = await (await http.get(url + "/api/queues", headers=headers)).json()
    return {q["name"] for q in body["queues"]}

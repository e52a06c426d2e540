"""End to end (simulator on 127.0.0.1, the real service and its HTTP API): an agent who has
typed a wrap-up is not made ready when the queue's wrap-up limit runs out (issue 13).

Before: the limit made the agent ready, the next pop hid the form and the typed notes were
gone. Now the draft is kept on the server as it is typed, the agent stays in wrap-up marked
overdue (the default ``hold_until_saved``), and saving the wrap-up makes them ready; with
``force_ready`` the limit still makes the agent ready, as a queue may choose.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from switchboard.demo import seed_users
from telephony.simulator import PhoneBehaviour
from tests.service_harness import running_service
from tests.test_e2e_api import login
from tests.test_e2e_calls import DEMO_DID, agent_state, is_type

QUEUES = Path(__file__).resolve().parents[1] / "config" / "queues.yaml"
LIMIT = 1.0  # seconds of wrap-up in the test's support queue


def queue_file(tmp: Path, action: str) -> Path:
    """The shipped queue file with support's wrap-up cut to a second and ``action`` set."""
    text = QUEUES.read_text(encoding="utf-8")
    at = text.index("  support:\n")
    support = text[at:].replace(
        "    wrap_up: 30\n", f"    wrap_up: {LIMIT}\n    wrap_up_timeout_action: {action}\n", 1
    )
    path = tmp / "queues.yaml"
    path.write_text(text[:at] + support, encoding="utf-8")
    return path


async def ended_call(service: Any, sim: Any, rec: Any) -> int:
    """Agent 1001 takes a support call that ends; returns the contact id in wrap-up."""
    await service.center.set_agent_state("1001", "ready")
    sim.place_call("+15550001111", did=DEMO_DID, dtmf=["2"], patience=600)
    pop = await rec.wait_for(is_type("screen_pop", agent_id="1001"))
    await rec.wait_for(agent_state("1001", "on_call"))
    call_id = pop["call"]["call_id"]
    await service.center.hangup(call_id)
    ended = await rec.wait_for(is_type("call_ended", call_id=call_id))
    await rec.wait_for(agent_state("1001", "wrap_up"))
    return int(ended["contact_id"])


async def until(check: Any, within: float = 5.0) -> None:
    for _ in range(int(within / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    assert check()


@pytest.mark.parametrize("action", ["hold_until_saved", "force_ready"])
async def test_typed_wrap_up_outlives_the_limit(tmp_path: Path, action: str) -> None:
    phones = {"PJSIP/1001": PhoneBehaviour(answer_after=0.2)}
    queues = queue_file(tmp_path, action)
    async with running_service(tmp_path, phones=phones, queues_file=queues) as (
        service,
        sim,
        rec,
        url,
    ):
        await seed_users(service.store)
        contact_id = await ended_call(service, sim, rec)
        agent = service.center.agent("1001")
        assert agent["wrap_up_limit"] == LIMIT and agent["wrap_up_until"] is not None
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            headers = await login(http, url, "alice")
            draft = f"{url}/api/contacts/{contact_id}/draft"
            typed = {
                "disposition": "resolved",
                "notes": "router replaced",
                "case": {"mode": "none"},
            }
            async with http.put(draft, json=typed, headers=headers) as resp:
                assert resp.status == 200, await resp.text()
            await asyncio.sleep(LIMIT + 0.5)
            state = service.center.agent("1001")
            if action == "force_ready":
                assert state["state"] == "ready"
                return
            assert (state["state"], state["wrap_up_overdue"]) == ("wrap_up", True)
            assert any(
                m.get("type") == "agent_state" and m["agent"].get("wrap_up_overdue")
                for m in rec.messages
            ), "consoles were told the wrap-up is overdue"
            async with http.get(draft, headers=headers) as resp:
                assert (await resp.json())["draft"]["notes"] == "router replaced"
            wrap = f"{url}/api/contacts/{contact_id}/wrapup"
            async with http.post(
                wrap, json={"disposition": "resolved", "notes": "router replaced"}, headers=headers
            ) as resp:
                assert resp.status == 200, await resp.text()
            await until(lambda: service.center.agent("1001")["state"] == "ready")
            contact = await service.store.contacts.get(contact_id)
            assert (contact.disposition, contact.notes) == ("resolved", "router replaced")
            assert await service.store.drafts.get(contact_id) is None

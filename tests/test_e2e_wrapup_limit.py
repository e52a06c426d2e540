"""End to end (simulator on 127.0.0.1, the real service and its HTTP API): an agent who has
typed a wrap-up is not made ready when the queue's wrap-up limit runs out (issue 13).

Before: the limit made the agent ready, the next pop hid the form and the typed notes were
gone. Now the draft is kept on the server as it is typed, the agent stays in wrap-up marked
overdue (the default ``hold_until_saved``), and saving the wrap-up makes them ready; with
``force_ready`` the limit still makes the agent ready, as a queue may choose.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from config.errors import InvalidInput
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
            live = await http.ws_connect(url + "/ws", headers={"Origin": url})
            assert (await live.receive_json(timeout=5))["type"] == "snapshot"
            draft = f"{url}/api/contacts/{contact_id}/draft"
            typed = {
                "disposition": "resolved",
                "notes": "router replaced",
                "case": {"mode": "none"},
            }
            async with http.put(draft, json=typed, headers=headers) as resp:
                assert resp.status == 200, await resp.text()
            # a cluster standby forwards the flag as text; anything else is refused
            await service.center.wrapup_draft("1001", "true")
            with pytest.raises(InvalidInput):
                await service.center.wrapup_draft("1001", "maybe")
            await asyncio.sleep(LIMIT + 0.5)
            state = service.center.agent("1001")
            if action == "force_ready":
                assert state["state"] == "ready"
                # made ready, but what alice typed is still kept for her to save
                kept = await service.store.drafts.get(contact_id)
                assert kept is not None and kept.data["notes"] == "router replaced"
                await live.close()
                return
            assert (state["state"], state["wrap_up_overdue"]) == ("wrap_up", True)
            # alice's open console was told, over its websocket
            while True:
                told = await live.receive_json(timeout=5)
                if told["type"] == "agent_state" and told["agent"]["wrap_up_overdue"]:
                    break
            assert told["agent"]["state"] == "wrap_up"
            await live.close()
            # a reload: alice's console connects again and sees herself overdue, and her
            # draft as she typed it
            async with http.ws_connect(url + "/ws", headers={"Origin": url}) as ws:
                snapshot = await ws.receive_json(timeout=5)
                assert snapshot["type"] == "snapshot"
                (me,) = [a for a in snapshot["agents"] if a["agent_id"] == "1001"]
                assert (me["state"], me["wrap_up_overdue"], me["wrap_up_limit"]) == (
                    "wrap_up",
                    True,
                    LIMIT,
                )
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


async def test_a_restart_does_not_make_an_agent_with_a_typed_wrap_up_ready(
    tmp_path: Path,
) -> None:
    """The service was down when the limits ran out: the agents who had typed a wrap-up
    come back in it, overdue, the others ready; one saved on a call that ended meanwhile
    comes back in wrap-up and its limit holds what they typed while talking."""
    from crm_lookup.agent_states import SavedAgentState
    from crm_lookup.store import open_store

    now = time.time()
    store = await open_store(tmp_path / "sb.sqlite3")
    states = store.agent_states
    await states.save(SavedAgentState("1001", "wrap_up", "", now - 9, now - 3, "support"))
    await states.save(SavedAgentState("1006", "wrap_up", "", now - 9, now - 3, "support"))
    await states.save(SavedAgentState("1003", "on_call", "", now - 20, None, "support"))
    await store.drafts.save(41, "1001", {"disposition": "", "notes": "router replaced"})
    await store.drafts.save(42, "1006", {"disposition": "", "notes": "   "})  # nothing
    await store.drafts.save(43, "1003", {"disposition": "resolved", "notes": ""})
    await store.close()
    queues = queue_file(tmp_path, "hold_until_saved")
    async with running_service(tmp_path, queues_file=queues) as (service, _sim, _rec, _url):
        await until(lambda: service.center.resync.runs > 0)
        agents = {a["agent_id"]: a for a in service.center.snapshot()["agents"]}
        assert (agents["1001"]["state"], agents["1001"]["wrap_up_overdue"]) == ("wrap_up", True)
        assert agents["1006"]["state"] == "ready"
        assert (agents["1003"]["state"], agents["1003"]["wrap_up_limit"]) == ("wrap_up", LIMIT)
        await asyncio.sleep(LIMIT + 0.5)
        after = service.center.agent("1003")
        assert (after["state"], after["wrap_up_overdue"]) == ("wrap_up", True)


async def test_a_call_taken_over_by_a_new_start_keeps_what_was_typed_on_it(
    tmp_path: Path,
) -> None:
    """The service stops while alice talks and has typed notes; the next start takes the
    live call over. When the call ends, its wrap-up limit holds what she typed."""
    from telephony.simulator import PbxSimulator
    from tests.service_harness import SECRET, harness_settings, started_service

    sim = PbxSimulator("switchboard", SECRET, time_scale=0.05, seed=7)
    port = await sim.start("127.0.0.1", 0)
    sim.add_phone("PJSIP/1001", PhoneBehaviour(answer_after=0.2))
    settings = harness_settings(tmp_path, port, 0, queue_file(tmp_path, "hold_until_saved"))

    try:
        first, runner, rec = await started_service(settings, connect_within=5.0)
        try:
            await first.center.set_agent_state("1001", "ready")
            caller = sim.place_call("+15550001111", did=DEMO_DID, dtmf=["2"], patience=600)
            pop = await rec.wait_for(is_type("screen_pop", agent_id="1001"))
            await rec.wait_for(agent_state("1001", "on_call"))
            contact_id = int(pop["call"]["contact_id"])
            await first.store.drafts.save(contact_id, "1001", {"notes": "router replaced"})
            await first.center.recorder.flush()
        finally:
            await runner.cleanup()  # the caller stays on the line, as Asterisk keeps it
        second, runner, rec = await started_service(settings, connect_within=5.0)
        try:
            await until(lambda: second.center.resync.runs > 0)
            await until(lambda: second.center.agent("1001")["state"] == "on_call")
            await sim.hangup(next(c for c in sim.channels.values() if c.uniqueid == caller))
            await rec.wait_for(agent_state("1001", "wrap_up"))
            await asyncio.sleep(LIMIT + 0.5)
            after = second.center.agent("1001")
            assert (after["state"], after["wrap_up_overdue"]) == ("wrap_up", True)
        finally:
            await runner.cleanup()
    finally:
        await sim.stop()

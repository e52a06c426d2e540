"""End to end: the service keeps serving through AMI drops and configuration changes."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from config.settings import PROJECT_ROOT
from telephony.simulator import PhoneBehaviour
from tests.service_harness import running_service
from tests.test_e2e_calls import DEMO_DID, agent_state, contact_for, is_type, is_waiting


async def test_waiting_call_survives_an_ami_drop_and_reaches_an_agent(tmp_path: Path) -> None:
    phones = {"PJSIP/1001": PhoneBehaviour(answer_after=0.2)}
    async with running_service(tmp_path, phones=phones) as (service, sim, rec, _url):
        sim.place_call("+15550001111", did=DEMO_DID, dtmf=["1"], patience=6000, talk_seconds=(1, 1))
        waiting = await rec.wait_for(is_waiting)
        call_id = waiting["call"]["call_id"]
        connections = service.ami.connections
        await sim.drop_connections()
        for _ in range(200):
            if service.ami.connected and service.ami.connections > connections:
                break
            await asyncio.sleep(0.05)
        assert service.ami.connected
        # After the resync the caller is back in AGI and still waiting in sales.
        await asyncio.sleep(0.5)
        assert service.center.call(call_id)["state"] == "waiting"
        await service.center.set_agent_state("1001", "ready")
        pop = await rec.wait_for(is_type("screen_pop", agent_id="1001"), 20)
        assert pop["call"]["call_id"] == call_id
        await rec.wait_for(is_type("call_ended", call_id=call_id), 20)
        contact = await contact_for(service, call_id)
        assert contact.outcome == "answered"
        assert contact.queue == "sales"


async def test_calls_that_vanished_during_an_outage_are_closed(tmp_path: Path) -> None:
    async with running_service(tmp_path) as (service, sim, rec, _url):
        sim.place_call("+15550002222", did=DEMO_DID, dtmf=["1"], patience=6000)
        waiting = await rec.wait_for(is_waiting)
        call_id = waiting["call"]["call_id"]
        await sim.restart(downtime=0.3)  # Asterisk restarted: every channel is gone
        ended = await rec.wait_for(is_type("call_ended", call_id=call_id), 20)
        assert ended["queue"] == "sales"
        contact = await contact_for(service, call_id)
        assert contact.outcome == "abandoned_queue"
        sales = next(q for q in service.center.snapshot()["queues"] if q["name"] == "sales")
        assert sales["waiting"] == 0


async def test_queue_file_changes_apply_without_restart_and_bad_ones_are_refused(
    tmp_path: Path,
) -> None:
    queues = tmp_path / "queues.yaml"
    shutil.copy(PROJECT_ROOT / "config" / "queues.yaml", queues)
    phones = {"PJSIP/1002": PhoneBehaviour(answer_after=0.2)}
    async with running_service(tmp_path, phones=phones, queues_file=queues) as (
        service,
        sim,
        rec,
        url,
    ):
        sim.place_call("+15550003333", did=DEMO_DID, dtmf=["1"], patience=6000, talk_seconds=(1, 1))
        waiting = await rec.wait_for(is_waiting)
        assert service.center.queues["sales"].ring_timeout == 15

        queues.write_text(queues.read_text().replace("ring_timeout: 15\n", "ring_timeout: 9\n", 1))
        await service.center.reloader.reload_once()
        assert service.center.reloader.status()["ok"] is True
        assert service.center.queues["sales"].ring_timeout == 9
        assert service.center.call(waiting["call"]["call_id"])["state"] == "waiting"

        good = queues.read_text()
        queues.write_text(good.replace("ring_timeout: 9\n", "ring_timeout: -3\n", 1))
        await service.center.reloader.reload_once()
        assert service.center.reloader.status()["errors"][0]["file"] == str(queues)
        assert service.center.health()["reload"]["ok"] is False
        import aiohttp

        async with aiohttp.ClientSession() as http, http.get(url + "/healthz") as resp:
            health = await resp.json()
        assert resp.status == 200  # the last good file serves: still in service
        assert health["reload"] == {"ok": False}  # but the refusal shows
        assert service.center.queues["sales"].ring_timeout == 9  # the last good file serves

        queues.write_text(good)
        await service.center.set_agent_state("1002", "ready")
        pop = await rec.wait_for(is_type("screen_pop", agent_id="1002"), 20)
        assert pop["call"]["call_id"] == waiting["call"]["call_id"]
        await rec.wait_for(agent_state("1002", "wrap_up"), 20)


async def test_wallboard_chart_survives_a_service_restart(tmp_path: Path) -> None:
    phones = {"PJSIP/1001": PhoneBehaviour(answer_after=0.2)}
    async with running_service(tmp_path, phones=phones) as (service, sim, rec, _url):
        await service.center.set_agent_state("1001", "ready")
        sim.place_call("+15550001111", did=DEMO_DID, dtmf=["1"], patience=60, talk_seconds=(1, 1))
        await rec.wait_for(is_type("call_ended"))
        await service.center.recorder.flush()
        before = service.center.snapshot()["intervals"]
    # A new service on the same database starts its chart from the stored contacts.
    async with running_service(tmp_path) as (service, _sim, _rec, _url):
        after = service.center.snapshot()["intervals"]
    assert [(i["start"], i["offered"], i["answered"]) for i in after] == [
        (i["start"], i["offered"], i["answered"]) for i in before
    ]
    assert after[0]["service_level"] == before[0]["service_level"] == 1.0


async def test_console_sessions_survive_a_service_restart(tmp_path: Path) -> None:
    import aiohttp

    from switchboard.demo import DEMO_PASSWORD, seed_users

    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with running_service(tmp_path) as (service, _sim, _rec, url):
            await seed_users(service.store)
            resp = await http.post(
                url + "/api/login",
                json={"username": "alice", "password": DEMO_PASSWORD},
                headers={"Origin": url},
            )
            assert resp.status == 200
            csrf = (await resp.json())["csrf_token"]
            token = next(c.value for c in jar if c.key == "sb_session")
            rows = await service.store.fetchall("SELECT key, csrf FROM sessions")
            assert len(rows) == 1 and token not in rows[0][0]  # only an HMAC is stored
        # A new process on the same database and secret: still logged in, same CSRF token.
        async with running_service(tmp_path) as (service, _sim, _rec, url):
            me = await http.get(url + "/api/me", headers={"Origin": url})
            assert me.status == 200, await me.text()
            assert (await me.json())["user"]["username"] == "alice"
            out = await http.post(
                url + "/api/logout", headers={"Origin": url, "X-CSRF-Token": csrf}
            )
            assert out.status == 200, await out.text()
            assert await service.store.fetchall("SELECT key FROM sessions") == []


async def test_an_answer_lost_in_an_ami_outage_is_caught_up_on_reconnect(tmp_path: Path) -> None:
    import time

    phones = {"PJSIP/1001": PhoneBehaviour(answer_after=2.0)}
    async with running_service(tmp_path, phones=phones, time_scale=1.0) as (
        service,
        sim,
        rec,
        _url,
    ):
        await service.center.set_agent_state("1001", "ready")
        sim.place_call("+15550001111", did=DEMO_DID, dtmf=["1"], patience=600, talk_seconds=(8, 8))
        pop = await rec.wait_for(is_type("screen_pop", agent_id="1001"), 40)
        call_id = pop["call"]["call_id"]
        # Keep AMI down while the agent answers (the DialEnd and BridgeEnter are lost).
        await asyncio.sleep(1.6)
        end = time.monotonic() + 1.2
        while time.monotonic() < end:
            await sim.drop_connections()
            await asyncio.sleep(0.03)
        await rec.wait_for(agent_state("1001", "on_call"), 20)
        assert service.center.call(call_id)["state"] == "talking"
        await rec.wait_for(is_type("call_ended", call_id=call_id), 30)
        contact = await contact_for(service, call_id)
        assert (contact.outcome, contact.agent_id) == ("answered", "1001")
        assert contact.talk_seconds > 0
        # sales records: the caught-up answer links the recording as the DialEnd would
        assert contact.recording == service.center._recent[call_id].recording_file != ""


async def test_a_caller_hanging_up_while_the_phone_rings_leaves_the_agent_ready(
    tmp_path: Path,
) -> None:
    phones = {"PJSIP/1001": PhoneBehaviour(answer_after=600)}  # rings until cancelled
    async with running_service(tmp_path, phones=phones) as (service, sim, rec, _url):
        await service.center.set_agent_state("1001", "ready")
        uid = sim.place_call("+15550001111", did=DEMO_DID, dtmf=["1"], patience=6000)
        pop = await rec.wait_for(is_type("screen_pop", agent_id="1001"))
        caller = next(c for c in sim.channels.values() if c.uniqueid == uid)
        await sim.hangup(caller)  # DialEnd DialStatus: CANCEL, then the caller's Hangup
        await rec.wait_for(is_type("call_ended", call_id=pop["call"]["call_id"]))
        agent = next(a for a in service.center.snapshot()["agents"] if a["agent_id"] == "1001")
        assert (agent["state"], agent["reason"]) == ("ready", "")
        contact = await contact_for(service, pop["call"]["call_id"])
        assert contact.outcome == "abandoned_queue"

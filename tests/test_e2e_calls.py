"""End to end: the PBX simulator on 127.0.0.1, the real AMI client, IVR, ACD and contact log.

Callers dial in, press digits, wait, reach agents (or give up), and the screen pop, the
queue statistics and the stored contact history must all agree with what happened.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Any

from telephony.ami.events import Event
from telephony.simulator import PhoneBehaviour
from tests.service_harness import Recorder, running_service

DEMO_DID = "5550100"  # demo_line: welcome, lookup, menu 1 sales / 2 support / 3 billing


def is_type(kind: str, **fields: Any) -> Any:
    return lambda m: m.get("type") == kind and all(m.get(k) == v for k, v in fields.items())


def is_waiting(m: dict[str, Any]) -> bool:
    """A call_update for a call that is now waiting in a queue."""
    return m.get("type") == "call_update" and m["call"]["state"] == "waiting"


def agent_state(agent_id: str, state: str) -> Any:
    return lambda m: (
        m.get("type") == "agent_state"
        and m.get("agent_id") == agent_id
        and m["agent"]["state"] == state
    )


async def contact_for(service: Any, call_id: str) -> Any:
    await service.center.recorder.flush()
    return await service.store.contacts.get_by_key(call_id)


async def test_known_caller_reaches_agent_with_screen_pop_and_history(
    tmp_path: Path, store_url: str
) -> None:
    # The whole service on each backend (database.url: SQLite, then PostgreSQL).
    phones = {"PJSIP/1001": PhoneBehaviour(answer_after=0.5)}
    running = running_service(tmp_path, phones=phones, database_url=store_url)
    async with running as (service, sim, rec, _url):
        ada = await service.store.customers.add(
            "Ada Lovelace",
            ["+15550001111"],
            company="Engines Ltd",
            tier="VIP",
            accounts=["12345678"],
        )
        await service.center.set_agent_state("1001", "ready")
        sim.place_call("+15550001111", did=DEMO_DID, dtmf=["1"], patience=60, talk_seconds=(3, 3))

        pop = await rec.wait_for(is_type("screen_pop", agent_id="1001"))
        card, call = pop["card"], pop["call"]
        assert card["customer_id"] == ada.id
        assert card["name"] == "Ada Lovelace"
        assert card["vip"] is True
        assert card["recent_contacts"] == []  # the call being made is not its own history
        assert call["queue"] == "sales"
        assert call["state"] == "ringing"
        nodes = [(s["node"], s["digits"]) for s in call["ivr"]["path"]]
        assert nodes[0] == ("welcome", "")
        assert ("main_menu", "1") in nodes
        assert nodes[-1] == ("sales_queue", "")

        await rec.wait_for(agent_state("1001", "on_call"))
        ended = await rec.wait_for(is_type("call_ended", call_id=call["call_id"]))
        assert ended["agent_id"] == "1001"
        await rec.wait_for(agent_state("1001", "wrap_up"))

        contact = await contact_for(service, call["call_id"])
        assert contact.customer_id == ada.id
        assert contact.outcome == "answered"
        assert contact.queue == "sales"
        assert contact.agent_id == "1001"
        assert contact.answered_at is not None and contact.talk_seconds > 0
        assert [s["node"] for s in contact.ivr_path][-1] == "sales_queue"
        assert ended["contact_id"] == contact.id

        stats = service.center.snapshot()["queues"]
        sales = next(q for q in stats if q["name"] == "sales")
        assert (sales["offered"], sales["answered"], sales["abandoned"]) == (1, 1, 0)

        history = await service.store.contacts.history(ada.id)
        assert [c.id for c in history.items] == [contact.id]


async def test_caller_who_gives_up_in_queue_is_logged_as_abandoned(tmp_path: Path) -> None:
    async with running_service(tmp_path) as (service, sim, rec, _url):
        # Nobody is ready: the caller waits in billing (join_empty is false there, so
        # use support) and hangs up after their patience runs out.
        # Patience is in simulated seconds (time_scale 0.05): 100 s here is 5 s of real time.
        sim.place_call("+15550009999", did=DEMO_DID, dtmf=["2"], patience=100)
        queued = await rec.wait_for(is_waiting)
        call_id = queued["call"]["call_id"]
        assert queued["call"]["queue"] == "support"
        await rec.wait_for(is_type("call_ended", call_id=call_id), 30)
        contact = await contact_for(service, call_id)
        assert contact.outcome == "abandoned_queue"
        assert contact.customer_id is None  # a new caller
        assert contact.answered_at is None and contact.wait_seconds > 0
        support = next(q for q in service.center.snapshot()["queues"] if q["name"] == "support")
        # Abandoned counts every give-up; under short_abandon_seconds (5 s) it is short too.
        assert (support["offered"], support["abandoned"], support["answered"]) == (1, 1, 0)
        short = 1 if contact.wait_seconds < service.settings.routing.short_abandon_seconds else 0
        assert support["short_abandoned"] == short


async def test_hangup_in_the_ivr_is_logged_as_abandoned_in_ivr(tmp_path: Path) -> None:
    async with running_service(tmp_path) as (service, sim, rec, _url):
        # No digits and a short patience: the caller hangs up at the menu.
        sim.place_call("+15550008888", did=DEMO_DID, dtmf=[], patience=0.5 / 0.05)
        arrived = await rec.wait_for(is_type("call_update"))
        call_id = arrived["call"]["call_id"]
        await rec.wait_for(is_type("call_ended", call_id=call_id), 20)
        contact = await contact_for(service, call_id)
        assert contact.outcome == "abandoned_ivr"
        assert contact.queue in ("", None)
        assert contact.ivr_result == "abandoned_ivr"


async def test_ring_no_answer_requeues_at_front_and_next_agent_answers(tmp_path: Path) -> None:
    phones = {
        "PJSIP/1002": PhoneBehaviour(mode="noanswer"),
        "PJSIP/1005": PhoneBehaviour(answer_after=0.5),
    }
    async with running_service(tmp_path, phones=phones) as (service, sim, rec, _url):
        # 1002 has been idle longest, so the sales call rings 1002 first; sales rings
        # for 15 s in the queue file, shortened here through a queue reload.
        await _short_ring(service, "sales", 1.0)
        await service.center.set_agent_state("1002", "ready")
        await asyncio.sleep(0.05)
        await service.center.set_agent_state("1005", "ready")
        sim.place_call("+15550007777", did=DEMO_DID, dtmf=["1"], patience=120, talk_seconds=(1, 1))
        first = await rec.wait_for(is_type("screen_pop", agent_id="1002"))
        await rec.wait_for(agent_state("1002", "not_ready"), 20)
        second = await rec.wait_for(is_type("screen_pop", agent_id="1005"), 20)
        assert second["call"]["call_id"] == first["call"]["call_id"]
        await rec.wait_for(agent_state("1005", "on_call"))
        agents = {a["agent_id"]: a for a in service.center.snapshot()["agents"]}
        assert agents["1002"]["reason"] == "no answer"
        ended = await rec.wait_for(is_type("call_ended", call_id=first["call"]["call_id"]), 20)
        contact = await contact_for(service, ended["call_id"])
        assert contact.agent_id == "1005"
        assert contact.offers == 2
        assert contact.outcome == "answered"
        kinds = [e.kind for e in await service.store.contacts.timeline(contact.id)]
        assert kinds.count("offered") == 2
        assert "note:ring_no_answer" in kinds
        assert kinds.index("note:ring_no_answer") < kinds.index("answered")


async def _short_ring(service: Any, queue: str, seconds: float) -> None:
    import dataclasses

    from routing.acd import events as ev

    queues = tuple(
        dataclasses.replace(q, ring_timeout=seconds) if q.name == queue else q
        for q in service.center.queues.values()
    )
    service.center.acd.handle(ev.QueuesChanged(queues), service.center.clock())


async def test_waiting_caller_hears_position_announcements(tmp_path: Path) -> None:
    import dataclasses

    from routing.acd import events as ev

    async with running_service(tmp_path, time_scale=0.05) as (service, sim, _rec, _url):
        queues = tuple(
            dataclasses.replace(q, announce_interval=1.0) if q.name == "support" else q
            for q in service.center.queues.values()
        )
        service.center.acd.handle(ev.QueuesChanged(queues), service.center.clock())
        commands: list[str] = []

        def watch(event: Event) -> None:
            if event.name == "AGIExecStart":
                commands.append(event.message.get("Command"))

        service.ami.subscribe(watch)
        sim.place_call("+15550006666", did=DEMO_DID, dtmf=["2"], patience=200)
        for _ in range(100):
            if any(c.startswith("SAY DIGITS") for c in commands):
                break
            await asyncio.sleep(0.1)
        assert any(c.startswith("EXEC MusicOnHold") for c in commands)
        position = [c for c in commands if "queue_position" in c]
        assert position, commands
        assert any(c.startswith("SAY DIGITS 1") for c in commands)


async def test_statistics_match_what_happened(tmp_path: Path) -> None:
    phones = {"PJSIP/1003": PhoneBehaviour(answer_after=0.2)}
    async with running_service(tmp_path, phones=phones) as (service, sim, rec, _url):
        await service.center.set_agent_state("1003", "ready")
        # Two billing calls: the first is answered; the second waits behind it and gives up.
        sim.place_call("+15550005551", did=DEMO_DID, dtmf=["3"], patience=200, talk_seconds=(4, 4))
        first = await rec.wait_for(is_type("screen_pop", agent_id="1003"))
        sim.place_call("+15550005552", did=DEMO_DID, dtmf=["3"], patience=60)
        waiting = await rec.wait_for(
            lambda m: (
                m.get("type") == "call_update"
                and m["call"]["state"] == "waiting"
                and m["call"]["call_id"] != first["call"]["call_id"]
            )
        )
        await rec.wait_for(is_type("call_ended", call_id=waiting["call"]["call_id"]), 30)
        await rec.wait_for(is_type("call_ended", call_id=first["call"]["call_id"]), 30)
        billing = next(q for q in service.center.snapshot()["queues"] if q["name"] == "billing")
        assert billing["offered"] == 2
        assert billing["answered"] == 1
        assert billing["abandoned"] == 1
        assert billing["waiting"] == 0
        agents = {a["agent_id"]: a for a in service.center.snapshot()["agents"]}
        assert agents["1003"]["calls"] == 1
        assert agents["1003"]["talk_seconds"] > 0


async def test_service_survives_an_asterisk_restart(tmp_path: Path) -> None:
    phones = {"PJSIP/1001": PhoneBehaviour(answer_after=0.2)}
    async with running_service(tmp_path, phones=phones) as (service, sim, rec, _url):
        await service.center.set_agent_state("1001", "ready")
        await sim.restart(downtime=0.3)
        for _ in range(100):
            if service.ami.connected:
                break
            await asyncio.sleep(0.05)
        assert service.ami.connected
        sim.place_call("+15550004444", did=DEMO_DID, dtmf=["1"], patience=60, talk_seconds=(1, 1))
        pop = await rec.wait_for(is_type("screen_pop", agent_id="1001"), 20)
        await rec.wait_for(is_type("call_ended", call_id=pop["call"]["call_id"]), 20)
        assert service.center.health()["ami"]["connected"] is True


def test_recorder_type_is_used() -> None:
    assert Recorder().messages == []


async def test_returning_caller_sees_history_and_is_offered_to_their_last_agent(
    tmp_path: Path,
) -> None:
    phones = {
        "PJSIP/1001": PhoneBehaviour(answer_after=0.2),
        "PJSIP/1005": PhoneBehaviour(answer_after=0.2),
    }
    async with running_service(tmp_path, phones=phones) as (service, sim, rec, _url):
        grace = await service.store.customers.add("Grace Hopper", ["+15550003333"], tier="gold")
        await service.center.set_agent_state("1001", "ready")
        sim.place_call("+15550003333", did=DEMO_DID, dtmf=["1"], patience=60, talk_seconds=(1, 1))
        first = await rec.wait_for(is_type("screen_pop", agent_id="1001"))
        ended = await rec.wait_for(is_type("call_ended", call_id=first["call"]["call_id"]))
        await service.center.recorder.flush()
        await service.store.contacts.wrapup(ended["contact_id"], "resolved", "reset the router")
        await service.center.wrapup_done("1001")

        # 1005 has now been idle longer than 1001, so longest-idle alone would pick 1005;
        # the sticky rule offers Grace to 1001, who served her last.
        await service.center.set_agent_state("1005", "ready")
        await asyncio.sleep(0.05)
        rec.messages.clear()
        sim.place_call("+15550003333", did=DEMO_DID, dtmf=["1"], patience=60, talk_seconds=(1, 1))
        second = await rec.wait_for(is_type("screen_pop"))
        assert second["agent_id"] == "1001"
        history = second["card"]["recent_contacts"]
        assert [c["id"] for c in history] == [ended["contact_id"]]
        assert history[0]["disposition"] == "resolved"
        assert history[0]["notes"] == "reset the router"
        assert history[0]["agent_id"] == "1001"
        assert second["card"]["customer_id"] == grace.id


async def test_wallboard_intervals_follow_the_calls(tmp_path: Path) -> None:
    phones = {"PJSIP/1001": PhoneBehaviour(answer_after=0.2)}
    async with running_service(tmp_path, phones=phones) as (service, sim, rec, _url):
        await service.center.set_agent_state("1001", "ready")
        sim.place_call("+15550001111", did=DEMO_DID, dtmf=["1"], patience=60, talk_seconds=(1, 1))
        await rec.wait_for(is_type("call_ended"))
        board = await rec.wait_for(
            lambda m: (
                m.get("type") == "wallboard" and sum(i["answered"] for i in m["intervals"]) == 1
            ),
            10,
        )
        (interval,) = board["intervals"]
        assert (interval["offered"], interval["answered"], interval["abandoned"]) == (1, 1, 0)
        assert interval["service_level"] == 1.0
        assert interval["start"] % 900 == 0
        assert service.center.snapshot()["intervals"] == board["intervals"]


async def test_queue_stats_are_coalesced_and_the_ticker_flushes_the_last_ones(
    tmp_path: Path,
) -> None:
    # A burst of changes within [routing] stats_interval (0.25 s by default) reaches the
    # consoles and wallboard as at most one queue_stats per interval, and the last
    # figures arrive with no further event: the center's ticker flushes them.
    async with running_service(tmp_path) as (service, _sim, rec, _url):
        interval = service.settings.routing.stats_interval
        assert interval == 0.25
        sales: list[tuple[float, dict[str, Any]]] = []
        service.center.subscribe(
            lambda m: (
                sales.append((time.monotonic(), m["stats"]))
                if m.get("type") == "queue_stats" and m.get("queue") == "sales"
                else None
            )
        )
        for state in ("ready", "not_ready", "ready", "not_ready", "ready", "not_ready"):
            await service.center.set_agent_state("1002", state, "break")
        await service.center.set_agent_state("1005", "ready")
        await rec.wait_for(
            lambda m: (
                m.get("type") == "queue_stats"
                and m["queue"] == "sales"
                and m["stats"]["agents"]["ready"] == 1
                and m["stats"]["agents"]["not_ready"] == 1
            ),
            5,
        )
        await asyncio.sleep(2 * interval)  # nothing more may come: nothing changed
        assert len(sales) < 7
        gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(sales)]
        assert all(gap >= interval * 0.9 for gap in gaps), gaps  # monotonic vs engine clock
        final = service.center.acd.queue_stats("sales")
        assert sales[-1][1]["agents"] == final["agents"]
        assert sales[-1][1]["agents_ready"] == 1


async def test_caller_is_queued_when_an_agi_error_stops_the_ivr(
    tmp_path: Path, monkeypatch: Any
) -> None:
    from config.errors import AgiError
    from telephony.agi import AgiSession

    async def broken_prompt(self: AgiSession, name: str, escape_digits: str = "") -> str | None:
        raise AgiError(510, "Invalid or unknown command")

    monkeypatch.setattr(AgiSession, "stream_file", broken_prompt)
    phones = {"PJSIP/1001": PhoneBehaviour(answer_after=0.2)}
    async with running_service(tmp_path, phones=phones) as (service, sim, rec, _url):
        first_queue = next(iter(service.center.queues))
        agent = next(a for a in service.center.snapshot()["agents"] if first_queue in a["queues"])
        sim.add_phone(f"PJSIP/{agent['agent_id']}", PhoneBehaviour(answer_after=0.2))
        await service.center.set_agent_state(agent["agent_id"], "ready")
        sim.place_call("+15550001111", did=DEMO_DID, dtmf=["1"], patience=60, talk_seconds=(1, 1))
        pop = await rec.wait_for(is_type("screen_pop", agent_id=agent["agent_id"]), 20)
        assert pop["call"]["queue"] == first_queue


async def test_metrics_export_live_queue_and_agent_figures(tmp_path: Path) -> None:
    import aiohttp

    async with running_service(tmp_path) as (service, sim, rec, url):
        await service.center.set_agent_state("1004", "ready")
        sim.place_call("+15550009999", did=DEMO_DID, dtmf=["1"], patience=6000)
        await rec.wait_for(is_waiting)
        async with aiohttp.ClientSession() as http, http.get(url + "/metrics") as resp:
            assert resp.status == 200
            text = await resp.text()
        assert 'switchboard_queue_waiting{queue="sales"} 1.0' in text
        assert 'switchboard_agents{state="ready"} 1.0' in text
        assert "switchboard_ami_connected 1.0" in text

"""End to end: the service process is killed (SIGKILL) or stopped (SIGTERM) with calls in
every phase, and started again on the same data directory; nothing is lost.

The PBX simulator runs here on 127.0.0.1 and keeps the calls up while the service is down,
as Asterisk does with channels idle in ``AGI(agi:async)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from crm_lookup.store import open_store
from switchboard.demo import DEMO_PASSWORD, seed_users
from telephony.simulator import PbxSimulator, PhoneBehaviour
from tests.service_process import SECRET, Console, ServiceProcess

DID = "5550100"  # demo_line: welcome, lookup, menu (1 = sales)
SALES = ("1001", "1002", "1005")


def rows(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(db, timeout=5)) as conn:
        return conn.execute(sql, params).fetchall()


def contact(db: Path, key: str) -> dict[str, Any] | None:
    found = rows(
        db,
        "SELECT key, queue, queued_at, agent_id, answered_at, ended_at, outcome, talk_seconds,"
        " arrived_at, offered_at FROM contacts WHERE key = ?",
        (key,),
    )
    if not found:
        return None
    names = "key queue queued_at agent_id answered_at ended_at outcome talk arrived_at offered_at"
    return dict(zip(names.split(), found[0], strict=True))


async def until(check: Callable[[], Any], within: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or check}")


@contextlib.asynccontextmanager
async def floor(tmp: Path, phones: dict[str, PhoneBehaviour]) -> AsyncIterator[Any]:
    sim = PbxSimulator("switchboard", SECRET, time_scale=1.0, seed=3)
    port = await sim.start("127.0.0.1", 0)
    for endpoint, behaviour in phones.items():
        sim.add_phone(endpoint, behaviour)
    service = ServiceProcess(tmp, port)
    store = await open_store(service.db_path)
    await seed_users(store)
    await store.close()
    try:
        yield sim, service
    finally:
        await service.stop()
        await sim.stop()


async def supervisor(service: ServiceProcess) -> Console:
    console = Console(service.url)
    await console.login("sam", DEMO_PASSWORD)
    return console


async def keep_agents_wrapping_up_quickly(console: Console, agents: tuple[str, ...]) -> None:
    """Agents who finish their notes at once: a wrap-up ends after about a second."""
    while True:
        await asyncio.sleep(1.0)
        with contextlib.suppress(AssertionError, OSError):
            states = await console.agents()
            for agent_id in agents:
                if states[agent_id]["state"] == "wrap_up":
                    await console.set_state(agent_id, "ready")


def channel_of(sim: PbxSimulator, uniqueid: str) -> Any:
    return next(c for c in sim.channels.values() if c.uniqueid == uniqueid)


async def test_sigkill_with_calls_in_every_phase_loses_nothing(tmp_path: Path) -> None:
    phones = {
        "PJSIP/1001": PhoneBehaviour(answer_after=0.3),
        "PJSIP/1002": PhoneBehaviour(answer_after=4.0),  # still ringing at the kill
        "PJSIP/1005": PhoneBehaviour(answer_after=0.3),
        "PJSIP/1003": PhoneBehaviour(answer_after=0.3),
        "PJSIP/1006": PhoneBehaviour(answer_after=0.3),  # unplugged during the outage
    }
    async with floor(tmp_path, phones) as (sim, service):
        db = service.db_path
        await service.start()
        sam = await supervisor(service)
        try:
            await sam.set_state("1001", "ready")
            # Caller A talks until the test hangs up (after the restart).
            talking = sim.place_call("+15550001111", did=DID, dtmf=["1"])
            await until(lambda: (contact(db, talking) or {}).get("answered_at"), what="A talks")
            ringing = sim.place_call("+15550002222", did=DID, dtmf=["1"], talk_seconds=(2, 2))
            await until(lambda: (contact(db, ringing) or {}).get("queued_at"), what="B waits")
            waiting = sim.place_call("+15550003333", did=DID, dtmf=["1"], talk_seconds=(2, 2))
            gone = sim.place_call("+15550004444", did=DID, dtmf=["1"], talk_seconds=(2, 2))
            for key in (waiting, gone):
                await until(lambda k=key: (contact(db, k) or {}).get("queued_at"), what="queued")
            await sam.set_state("1002", "ready")
            await until(lambda: (contact(db, ringing) or {}).get("offered_at"), what="B rings")
            await sam.set_state("1003", "not_ready", "lunch")
            await sam.set_state("1006", "ready")
            in_ivr = sim.place_call("+15550005555", did=DID, dtmf=["1"], talk_seconds=(2, 2))
            await until(lambda: contact(db, in_ivr), what="F in the IVR")
            before = await sam.agents()
            assert before["1003"]["state"] == "not_ready"
            assert (contact(db, in_ivr) or {}).get("queued_at") is None
            killed_at = time.time()
            await service.kill()
        finally:
            await sam.close()

        # While the service is down: one caller hangs up, one new caller arrives.
        await sim.hangup(channel_of(sim, gone))
        sim.phones["PJSIP/1006"] = PhoneBehaviour(mode="unavailable")
        arrived_while_down = sim.place_call(
            "+15550006666", did=DID, dtmf=["1"], talk_seconds=(2, 2)
        )
        down_at = time.time()
        await asyncio.sleep(1.0)
        assert contact(db, arrived_while_down) is None

        await service.start()
        sam = await supervisor(service)
        helper = asyncio.ensure_future(keep_agents_wrapping_up_quickly(sam, SALES))
        try:
            after = await sam.agents()
            assert after["1003"]["state"] == "not_ready"
            assert after["1003"]["reason"] == "lunch"
            assert (after["1006"]["state"], after["1006"]["reason"]) == (
                "not_ready",
                "phone offline",
            )
            assert after["1001"]["state"] == "on_call"
            assert after["1002"]["state"] in ("ringing", "on_call")
            await sam.set_state("1005", "ready")
            await asyncio.sleep(1.0)
            hung_up_at = time.time()
            await sim.hangup(channel_of(sim, talking))
            # Every caller eventually hangs up; then nothing may be left open.
            await until(lambda: not sim.channels, within=60, what="all callers gone")
            await until(
                lambda: not rows(db, "SELECT key FROM contacts WHERE ended_at IS NULL"),
                within=10,
                what="no open contacts",
            )
        finally:
            helper.cancel()
            await sam.close()
        placed = {talking, ringing, waiting, gone, in_ivr, arrived_while_down}
        keys = [r[0] for r in rows(db, "SELECT key FROM contacts")]
        assert sorted(keys) == sorted(placed), "exactly one contact per call placed"
        a, b = contact(db, talking), contact(db, ringing)
        assert a and (a["outcome"], a["agent_id"]) == ("answered", "1001")
        assert a["talk"] >= hung_up_at - a["answered_at"] - 0.5, "talk time spans the restart"
        assert b and (b["outcome"], b["agent_id"]) == ("answered", "1002")
        for key in (waiting, in_ivr, arrived_while_down):
            c = contact(db, key)
            assert c and c["outcome"] == "answered" and c["agent_id"] in SALES, c
        lost = contact(db, gone)
        assert lost and lost["outcome"] == "lost_during_outage"
        assert lost["ended_at"] <= killed_at + 0.5, "ended at its last milestone, not at resync"
        new = contact(db, arrived_while_down)
        assert new and abs(new["arrived_at"] - down_at) < 2.0, "dated by the channel's age"
        c, d = contact(db, waiting), contact(db, arrived_while_down)
        assert c and d and c["offered_at"] < d["offered_at"], "the earlier caller goes first"
        assert "Traceback" not in service.output()


async def test_sigterm_leaves_live_calls_for_the_next_start(tmp_path: Path) -> None:
    phones = {"PJSIP/1001": PhoneBehaviour(answer_after=0.3)}
    async with floor(tmp_path, phones) as (sim, service):
        db = service.db_path
        await service.start()
        waiting = sim.place_call("+15550001111", did=DID, dtmf=["1"], talk_seconds=(1, 1))
        await until(lambda: (contact(db, waiting) or {}).get("queued_at"), what="waiting")
        started = time.monotonic()
        service.signal(signal.SIGTERM)
        assert await service.wait(within=10) == 0
        assert time.monotonic() - started < 10
        out = service.output()
        for bad in ("Traceback", "level=ERROR", "never retrieved", "Task was destroyed"):
            assert bad not in out, out
        assert (contact(db, waiting) or {}).get("ended_at") is None  # left for the next start
        await service.start()
        sam = await supervisor(service)
        try:
            await sam.set_state("1001", "ready")
            await until(lambda: not sim.channels, within=30, what="caller done")
        finally:
            await sam.close()
        await until(lambda: (contact(db, waiting) or {}).get("ended_at"), what="contact closed")
        c = contact(db, waiting)
        assert c and (c["outcome"], c["agent_id"]) == ("answered", "1001")
        assert len(rows(db, "SELECT key FROM contacts")) == 1


async def test_a_restored_wrap_up_keeps_its_end_across_another_restart(tmp_path: Path) -> None:
    from crm_lookup.agent_states import SavedAgentState
    from tests.service_harness import running_service

    end = time.time() + 300
    store = await open_store(tmp_path / "sb.sqlite3")
    await store.agent_states.save(
        SavedAgentState(
            "1002", "wrap_up", "", time.time() - 5, wrap_up_until=end, wrap_queue="sales"
        )
    )
    await store.agent_states.save(SavedAgentState("1005", "not_ready", "training", 1000.0))
    await store.close()
    async with running_service(tmp_path) as (service, _sim, _rec, _url):
        await until(lambda: service.center.resync.runs, what="first resync")
        agents = {a["agent_id"]: a for a in service.center.snapshot()["agents"]}
        assert agents["1002"]["state"] == "wrap_up"
        assert (agents["1005"]["state"], agents["1005"]["reason"]) == ("not_ready", "training")
        assert agents["1005"]["since"] == 1000.0  # the state's real start, not the restart
        await service.center.recorder.flush()
        saved = {s.agent_id: s for s in await service.store.agent_states.all()}
        assert saved["1002"].wrap_up_until == end  # a third start ends it on time too
        assert saved["1005"].since == 1000.0


async def test_a_paused_agent_with_an_unplugged_phone_comes_back_paused(tmp_path: Path) -> None:
    """Through the simulator's AMI socket: DeviceStateList says 1005's phone is offline;
    1005 was on lunch since 1000.0 and is still on lunch, since 1000.0, after the start."""
    from crm_lookup.agent_states import SavedAgentState
    from tests.service_harness import running_service

    store = await open_store(tmp_path / "sb.sqlite3")
    await store.agent_states.save(SavedAgentState("1005", "not_ready", "lunch", 1000.0))
    await store.agent_states.save(SavedAgentState("1002", "ready", "", time.time() - 5))
    await store.close()
    phones = {
        "PJSIP/1005": PhoneBehaviour(mode="unavailable"),
        "PJSIP/1002": PhoneBehaviour(mode="unavailable"),
    }
    async with running_service(tmp_path, phones=phones) as (service, _sim, _rec, _url):
        await until(lambda: service.center.resync.runs, what="first resync")
        agents = {a["agent_id"]: a for a in service.center.snapshot()["agents"]}
        assert (agents["1005"]["state"], agents["1005"]["reason"]) == ("not_ready", "lunch")
        assert agents["1005"]["since"] == 1000.0
        assert (agents["1002"]["state"], agents["1002"]["reason"]) == (
            "not_ready",
            "phone offline",
        )
        await service.center.recorder.flush()
        saved = {s.agent_id: s for s in await service.store.agent_states.all()}
        assert (saved["1005"].reason, saved["1005"].since) == ("lunch", 1000.0)

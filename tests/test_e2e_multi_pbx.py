"""End to end with two simulated Asterisks on 127.0.0.1: one AMI link each, calls tagged
with their PBX, agents on their own PBX, the router global across both (through the
inter-PBX trunk when one is configured), and one PBX failing without the other noticing.

Both simulators number their channels and Uniqueids from the same epoch, as two real
Asterisks started together do, so every pair of first calls collides on both.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from config.errors import InvalidInput, NotFound
from config.settings import Settings
from routing.acd.config import parse_queue_file
from switchboard.service import Service, build_service
from telephony.simulator import PbxSimulator, PhoneBehaviour
from tests.service_harness import SECRET, Recorder, _free_port, harness_settings

DEMO_DID = "5550100"  # demo_line: menu 1 = sales
EPOCH = 1764662400.0  # both simulators' Uniqueids start "1764662400."

QUEUES = """
queues:
  sales: {ring_timeout: 15, wrap_up: 1}
agents:
  - {id: "1001", name: Alice, endpoint: PJSIP/1001, queues: [sales]}
  - {id: "2001", name: Bea, endpoint: PJSIP/2001, queues: [sales], pbx: east}
"""


@dataclasses.dataclass
class World:
    service: Service
    main: PbxSimulator
    east: PbxSimulator
    rec: Recorder


def two_pbx_settings(
    tmp: Path, main_port: int, east_port: int, queues: Path, *, trunked: bool
) -> Settings:
    base = harness_settings(tmp, main_port, _free_port(), queues)
    main = dataclasses.replace(
        base.ami,
        name="main",
        trunks={"east": "PJSIP/{extension}@pbx-east"} if trunked else {},
    )
    east = dataclasses.replace(
        base.ami,
        name="east",
        port=east_port,
        trunks={"main": "PJSIP/{extension}@pbx-main"} if trunked else {},
    )
    return dataclasses.replace(base, ami=main, pbx={"east": east})


@asynccontextmanager
async def simulators(
    *, trunked: bool, phones: dict[str, dict[str, PhoneBehaviour]] | None = None
) -> AsyncIterator[dict[str, PbxSimulator]]:
    sims = {
        name: PbxSimulator("switchboard", SECRET, time_scale=0.05, seed=7, id_clock=lambda: EPOCH)
        for name in ("main", "east")
    }
    for sim in sims.values():
        await sim.start("127.0.0.1", 0)
    if trunked:
        sims["main"].link_trunk("pbx-east", sims["east"], "pbx-main")
        sims["east"].link_trunk("pbx-main", sims["main"], "pbx-east")
    for name, endpoints in (phones or {}).items():
        for endpoint, behaviour in endpoints.items():
            sims[name].add_phone(endpoint, behaviour)
    try:
        yield sims
    finally:
        for sim in sims.values():
            await sim.stop()


@asynccontextmanager
async def service_on(
    tmp: Path, sims: dict[str, PbxSimulator], *, trunked: bool
) -> AsyncIterator[tuple[Service, Recorder]]:
    """A service process's worth of objects on both simulators; leaving it stops the
    service as SIGTERM does (live calls stay on the PBXs for the next one)."""
    queues = tmp / "queues.yaml"
    queues.write_text(QUEUES)
    ports = (sims["main"].port, sims["east"].port)
    settings = two_pbx_settings(tmp, *ports, queues, trunked=trunked)
    service = await build_service(settings)
    rec = Recorder()
    service.center.subscribe(rec)
    runner = web.AppRunner(service.app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", settings.http.port).start()
    try:
        await until(lambda: all(c.connected for c in service.clients.values()), "both links")
        await until(lambda: all(r.runs for r in service.center.resyncs.values()), "resyncs")
        yield service, rec
    finally:
        await runner.cleanup()


@asynccontextmanager
async def two_pbxs(
    tmp: Path,
    *,
    trunked: bool,
    phones: dict[str, dict[str, PhoneBehaviour]] | None = None,
) -> AsyncIterator[World]:
    async with (
        simulators(trunked=trunked, phones=phones) as sims,
        service_on(tmp, sims, trunked=trunked) as (service, rec),
    ):
        yield World(service, sims["main"], sims["east"], rec)


async def until(check: Callable[[], object], what: str, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def is_type(kind: str, **fields: Any) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m.get("type") == kind and all(m.get(k) == v for k, v in fields.items())


def agent_state(agent_id: str, state: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: (
        m.get("type") == "agent_state"
        and m.get("agent_id") == agent_id
        and m["agent"]["state"] == state
    )


async def contact(world: World, call_id: str) -> Any:
    await world.service.center.recorder.flush()
    return await world.service.store.contacts.get_by_key(call_id)


async def test_a_caller_on_the_second_pbx_reaches_its_agent_with_the_screen_pop(
    tmp_path: Path,
) -> None:
    phones = {"east": {"PJSIP/2001": PhoneBehaviour(answer_after=0.5)}}
    async with two_pbxs(tmp_path, trunked=False, phones=phones) as world:
        service, rec = world.service, world.rec
        ada = await service.store.customers.add("Ada Lovelace", ["+15550001111"])
        await service.center.set_agent_state("2001", "ready")
        uniqueid = world.east.place_call(
            "+15550001111", did=DEMO_DID, dtmf=["1"], talk_seconds=(3, 3)
        )

        pop = await rec.wait_for(is_type("screen_pop", agent_id="2001"))
        call = pop["call"]
        assert call["call_id"] == f"east:{uniqueid}"
        assert call["pbx"] == "east"
        assert pop["card"]["customer_id"] == ada.id
        await rec.wait_for(agent_state("2001", "on_call"))
        # the ring went to the agent's phone on east, and nothing happened on main
        assert world.east.stats["bridged"] == 1
        assert world.main.stats["placed"] == 0 and not world.main.channels

        await rec.wait_for(is_type("call_ended", call_id=call["call_id"]), 20)
        row = await contact(world, f"east:{uniqueid}")
        assert (row.outcome, row.agent_id, row.queue) == ("answered", "2001", "sales")
        with pytest.raises(NotFound):  # no row under main's id for the same Linkedid
            await service.store.contacts.get_by_key(uniqueid)


async def test_without_a_trunk_a_caller_waits_for_an_agent_of_its_own_pbx(
    tmp_path: Path,
) -> None:
    phones = {
        "main": {"PJSIP/1001": PhoneBehaviour(answer_after=0.5)},
        "east": {"PJSIP/2001": PhoneBehaviour(answer_after=0.5)},
    }
    async with two_pbxs(tmp_path, trunked=False, phones=phones) as world:
        service, rec = world.service, world.rec
        await service.center.set_agent_state("2001", "ready")  # idle the longest
        await asyncio.sleep(0.05)
        await service.center.set_agent_state("1001", "ready")
        world.main.place_call("+15550002222", did=DEMO_DID, dtmf=["1"], talk_seconds=(2, 2))
        pop = await rec.wait_for(is_type("screen_pop"))
        assert (pop["agent_id"], pop["call"]["pbx"]) == ("1001", "main")


async def test_a_caller_on_the_first_pbx_reaches_an_agent_on_the_second_through_the_trunk(
    tmp_path: Path,
) -> None:
    phones = {"east": {"PJSIP/2001": PhoneBehaviour(answer_after=0.5)}}
    async with two_pbxs(tmp_path, trunked=True, phones=phones) as world:
        service, rec = world.service, world.rec
        await service.center.set_agent_state("2001", "ready")
        uniqueid = world.main.place_call(
            "+15550003333", did=DEMO_DID, dtmf=["1"], talk_seconds=(4, 4)
        )

        pop = await rec.wait_for(is_type("screen_pop", agent_id="2001"))
        assert pop["call"]["call_id"] == uniqueid  # the first PBX's ids are unchanged
        await rec.wait_for(agent_state("2001", "on_call"))
        caller = next(c for c in world.main.channels.values() if c.uniqueid == uniqueid)
        # the caller stays on main, bridged with main's trunk leg to east...
        assert caller.bridge is not None
        trunk_leg = next(c for c in caller.bridge.members if c is not caller)
        assert trunk_leg.name.startswith("PJSIP/pbx-east-")
        assert service.center.calls[uniqueid].agent_channel == trunk_leg.name
        # ...where the agent's phone talks to the call that came in from main
        agent_leg = next(
            c for c in world.east.channels.values() if c.name.startswith("PJSIP/2001-")
        )
        assert agent_leg.bridge is not None
        assert any(c.name.startswith("PJSIP/pbx-main-") for c in agent_leg.bridge.members)

        await rec.wait_for(is_type("call_ended", call_id=uniqueid), 20)
        row = await contact(world, uniqueid)
        assert (row.outcome, row.agent_id) == ("answered", "2001")
        await until(lambda: not world.east.channels, "the far end hung up across the trunk")


async def test_colliding_uniqueids_on_two_pbxs_stay_two_calls(tmp_path: Path) -> None:
    phones = {
        "main": {"PJSIP/1001": PhoneBehaviour(answer_after=0.5)},
        "east": {"PJSIP/2001": PhoneBehaviour(answer_after=0.5)},
    }
    async with two_pbxs(tmp_path, trunked=False, phones=phones) as world:
        service, rec = world.service, world.rec
        await service.center.set_agent_state("1001", "ready")
        await service.center.set_agent_state("2001", "ready")
        on_main = world.main.place_call(
            "+15550001111", did=DEMO_DID, dtmf=["1"], talk_seconds=(2, 2)
        )
        on_east = world.east.place_call(
            "+15550002222", did=DEMO_DID, dtmf=["1"], talk_seconds=(6, 6)
        )
        assert on_main == on_east  # same Uniqueid (and channel name) on both PBXs
        assert set(world.main.channels) == set(world.east.channels)

        pops = [await rec.wait_for(is_type("screen_pop", agent_id=a)) for a in ("1001", "2001")]
        assert {p["call"]["call_id"] for p in pops} == {on_main, f"east:{on_east}"}
        assert {p["call"]["caller"] for p in pops} == {"+15550001111", "+15550002222"}
        # main's caller hangs up first: only main's call ends
        await rec.wait_for(is_type("call_ended", call_id=on_main), 20)
        assert f"east:{on_east}" in service.center.calls
        assert service.center.calls[f"east:{on_east}"].phase.value == "talking"
        assert service.center.acd.agent_state("2001").value == "on_call"
        await rec.wait_for(is_type("call_ended", call_id=f"east:{on_east}"), 20)
        rows = [await contact(world, key) for key in (on_main, f"east:{on_east}")]
        assert [(r.caller, r.agent_id, r.outcome) for r in rows] == [
            ("+15550001111", "1001", "answered"),
            ("+15550002222", "2001", "answered"),
        ]


async def test_one_pbx_down_does_not_stop_calls_on_the_other(tmp_path: Path) -> None:
    phones = {"east": {"PJSIP/2001": PhoneBehaviour(answer_after=0.5)}}
    async with two_pbxs(tmp_path, trunked=False, phones=phones) as world:
        service, rec = world.service, world.rec
        await world.main.stop()
        await until(lambda: not service.clients["main"].connected, "main's link to drop")
        health = service.center.health()
        assert health["pbx"]["main"]["connected"] is False
        assert health["pbx"]["east"]["connected"] is True

        await service.center.set_agent_state("2001", "ready")
        uniqueid = world.east.place_call(
            "+15550004444", did=DEMO_DID, dtmf=["1"], talk_seconds=(2, 2)
        )
        await rec.wait_for(is_type("screen_pop", agent_id="2001"))
        await rec.wait_for(is_type("call_ended", call_id=f"east:{uniqueid}"), 20)
        assert (await contact(world, f"east:{uniqueid}")).outcome == "answered"


async def test_each_pbx_resyncs_on_its_own_reconnect(tmp_path: Path) -> None:
    async with two_pbxs(tmp_path, trunked=False) as world:
        service, rec = world.service, world.rec
        runs = {name: r.runs for name, r in service.center.resyncs.items()}
        # A caller waits on east (nobody is ready) while east's AMI link drops.
        uniqueid = world.east.place_call("+15550005555", did=DEMO_DID, dtmf=["1"], patience=600)
        call_id = f"east:{uniqueid}"
        await rec.wait_for(
            lambda m: (
                m.get("type") == "call_update"
                and m["call"]["call_id"] == call_id
                and m["call"]["state"] == "waiting"
            )
        )
        await world.east.drop_connections()
        await until(lambda: service.center.resyncs["east"].runs > runs["east"], "east's resync")
        assert service.center.resyncs["main"].runs == runs["main"]
        # the caller is still the same waiting call, not closed as vanished nor doubled
        assert service.center.calls[call_id].phase.value == "waiting"
        assert [c for c in service.center.calls if c.endswith(uniqueid)] == [call_id]
        row = await contact(world, call_id)
        assert row.outcome in ("", None)


def by_uniqueid(sim: PbxSimulator, uniqueid: str) -> Any:
    return next((c for c in sim.channels.values() if c.uniqueid == uniqueid), None)


def is_call(call_id: str, state: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: (
        m.get("type") == "call_update"
        and m["call"]["call_id"] == call_id
        and m["call"]["state"] == state
    )


async def test_a_restart_takes_over_each_pbxs_calls_on_that_pbx(tmp_path: Path) -> None:
    phones = {"east": {"PJSIP/2001": PhoneBehaviour(answer_after=0.5)}}
    async with simulators(trunked=True, phones=phones) as sims:
        async with service_on(tmp_path, sims, trunked=True) as (service, rec):
            await service.center.set_agent_state("2001", "ready")
            # main's caller talks to east's agent through the trunk...
            talking = sims["main"].place_call(
                "+15550001111", did=DEMO_DID, dtmf=["1"], talk_seconds=(900, 900)
            )
            await rec.wait_for(agent_state("2001", "on_call"))
            # ...and east's caller waits, its Uniqueid also used on main
            waiting = sims["east"].place_call(
                "+15550002222", did=DEMO_DID, dtmf=["1"], patience=900
            )
            await rec.wait_for(is_call(f"east:{waiting}", "waiting"))
        # east numbers the call that came in over the trunk like main's caller
        assert by_uniqueid(sims["east"], talking) is not None

        async with service_on(tmp_path, sims, trunked=True) as (service, rec):
            main_plan = service.center.resyncs["main"].last_plan
            east_plan = service.center.resyncs["east"].last_plan
            assert main_plan is not None and east_plan is not None
            assert main_plan.close == () and east_plan.close == ()
            assert [(a.call_id, a.resume.value, a.agent_id) for a in main_plan.adopt] == [
                (talking, "talking", "2001")
            ]
            assert [(a.call_id, a.resume.value) for a in east_plan.adopt] == [
                (f"east:{waiting}", "waiting")
            ]
            calls = service.center.calls
            assert calls[talking].phase.value == "talking" and calls[talking].pbx == "main"
            assert calls[f"east:{waiting}"].phase.value == "waiting"
            await until(
                lambda: service.center.acd.agent_state("2001").value == "on_call",
                "east's agent back on main's call",
            )
            # the conversation across the trunk was not touched
            caller = by_uniqueid(sims["main"], talking)
            assert caller is not None and caller.bridge is not None


async def test_click_to_dial_and_hold_go_to_the_right_pbx(tmp_path: Path) -> None:
    phones = {"east": {"PJSIP/2001": PhoneBehaviour(answer_after=0.5)}}
    async with two_pbxs(tmp_path, trunked=True, phones=phones) as world:
        service, rec = world.service, world.rec
        # click-to-dial: the agent's phone is on east, so east originates and dials out
        await service.center.set_agent_state("2001", "not_ready", "break")
        call_id = await service.center.dial("2001", "+15557654321")
        assert call_id.startswith("east:out-2001-")
        await rec.wait_for(is_call(call_id, "talking"), 20)
        assert any(c.name.startswith("PJSIP/2001-") for c in world.east.channels.values())
        assert not world.main.channels
        await service.center.hangup(call_id)
        await rec.wait_for(is_type("call_ended", call_id=call_id), 20)
        await service.center.set_agent_state("2001", "ready")  # click-to-dial: no wrap-up

        # hold / unhold of a trunked call: both legs as main sees them
        talking = world.main.place_call(
            "+15550003333", did=DEMO_DID, dtmf=["1"], talk_seconds=(900, 900)
        )
        await rec.wait_for(agent_state("2001", "on_call"))
        call = service.center.calls[talking]
        await service.center.hold(talking)
        caller = by_uniqueid(world.main, talking)
        assert caller is not None
        await until(lambda: caller.context == "switchboard-hold", "caller in hold")
        leg = world.main.find(call.agent_channel or "")
        assert leg is not None
        await until(lambda: leg.context == "switchboard-agent-hold", "trunk leg waits")
        await service.center.unhold(talking)
        await until(lambda: caller.bridge is not None and leg in caller.bridge.members, "bridged")
        await service.center.hangup(talking)
        await rec.wait_for(is_type("call_ended", call_id=talking), 20)
        await until(lambda: not world.east.channels, "east's side hung up across the trunk")


async def test_listen_and_transfer_act_on_the_calls_pbx_and_cross_the_trunk(
    tmp_path: Path,
) -> None:
    phones = {
        "main": {"PJSIP/1001": PhoneBehaviour(answer_after=0.5)},
        "east": {"PJSIP/2001": PhoneBehaviour(answer_after=0.5)},
    }
    async with two_pbxs(tmp_path, trunked=True, phones=phones) as world:
        service, rec = world.service, world.rec
        await service.center.set_agent_state("2001", "ready")
        caller = world.east.place_call(
            "+15550006666", did=DEMO_DID, dtmf=["1"], talk_seconds=(900, 900)
        )
        call_id = f"east:{caller}"
        await rec.wait_for(agent_state("2001", "on_call"))

        # a supervisor whose phone is on main listens: ChanSpy runs on east (the call's
        # PBX), and reaches the supervisor's phone through east's trunk to main
        await service.center.spy("2001", "listen", supervisor_agent_id="1001")
        await until(
            lambda: any(c.name.startswith("PJSIP/1001-") for c in world.main.channels.values()),
            "the supervisor's phone rings on main",
        )
        await until(
            lambda: any(c.app == "ChanSpy" for c in world.east.channels.values()), "ChanSpy"
        )
        for sim in (world.main, world.east):
            for chan in list(sim.channels.values()):
                if chan.name.startswith("PJSIP/1001-"):
                    await sim.hangup(chan)
        await until(
            lambda: not any(c.app == "ChanSpy" for c in world.east.channels.values()), "spy done"
        )

        # a blind transfer of east's caller to main's agent: dialled through the trunk
        await service.center.set_agent_state("1001", "ready")
        await service.center.transfer(call_id, "agent", "1001")
        await rec.wait_for(agent_state("1001", "not_ready"))
        await rec.wait_for(agent_state("2001", "wrap_up"))

        def transferred() -> bool:
            agent = next(
                (c for c in world.main.channels.values() if c.name.startswith("PJSIP/1001-")), None
            )
            return (
                agent is not None
                and agent.bridge is not None
                and any(c.name.startswith("PJSIP/pbx-east-") for c in agent.bridge.members)
            )

        await until(transferred, "main's agent talking to east's caller")
        chan = by_uniqueid(world.east, caller)
        assert chan is not None and chan.context == "switchboard-transfer"


async def test_a_reloaded_queue_file_naming_an_unknown_pbx_is_refused(tmp_path: Path) -> None:
    async with two_pbxs(tmp_path, trunked=False) as world:
        center = world.service.center
        bad = QUEUES.replace("pbx: east", "pbx: west")
        with pytest.raises(InvalidInput, match="'west' is not a configured PBX"):
            center.apply_queue_file(parse_queue_file(yaml.safe_load(bad)))
        assert center.acd.agent_config("2001").pbx == "east"  # the old file still serves
        moved = QUEUES.replace("pbx: east", "pbx: main")
        center.apply_queue_file(parse_queue_file(yaml.safe_load(moved)))
        assert center.acd.agent_config("2001").pbx == "main"
        assert center.acd.agent_config("1001").pbx == "main"  # no pbx: the first

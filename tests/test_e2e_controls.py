"""End to end: what agents and supervisors do to live calls, through the simulator on 127.0.0.1.

Each control must reach Asterisk as the right AMI action and come back as the right
state: hold/unhold, transfer to a queue, hang up, click-to-dial, move a waiting call,
force an agent's state, and listen on a call (ChanSpy).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from config.errors import IllegalTransition, InvalidInput, NotFound
from telephony.simulator import PhoneBehaviour
from tests.service_harness import running_service
from tests.test_e2e_calls import DEMO_DID, agent_state, contact_for, is_type, is_waiting

AGENT_PHONE = {"PJSIP/1001": PhoneBehaviour(answer_after=0.2)}


async def talking_call(service: Any, sim: Any, rec: Any, dtmf: str = "1") -> str:
    """A caller who reaches agent 1001 and stays on the line."""
    await service.center.set_agent_state("1001", "ready")
    sim.place_call("+15550001111", did=DEMO_DID, dtmf=[dtmf], patience=600)
    pop = await rec.wait_for(is_type("screen_pop", agent_id="1001"))
    await rec.wait_for(agent_state("1001", "on_call"))
    return str(pop["call"]["call_id"])


def bridged(sim: Any, channel: str) -> bool:
    chan = sim.channels.get(channel)
    return chan is not None and getattr(chan, "bridge", None) is not None


async def eventually(check: Any, within: float = 5.0) -> None:
    for _ in range(int(within / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    assert check()


async def test_hold_and_unhold_move_the_caller_to_music_and_back(tmp_path: Path) -> None:
    async with running_service(tmp_path, phones=AGENT_PHONE) as (service, sim, rec, _url):
        call_id = await talking_call(service, sim, rec)
        call = service.center.calls[call_id]
        await eventually(lambda: bridged(sim, call.channel))

        await service.center.hold(call_id)
        assert service.center.call(call_id)["state"] == "held"
        await eventually(lambda: not bridged(sim, call.channel))
        assert sim.channels[call.channel].context == "switchboard-hold"
        with pytest.raises(IllegalTransition):
            await service.center.hold(call_id)

        await service.center.unhold(call_id)
        assert service.center.call(call_id)["state"] == "talking"
        await eventually(lambda: bridged(sim, call.channel))

        await service.center.hangup(call_id)
        await rec.wait_for(is_type("call_ended", call_id=call_id))
        contact = await contact_for(service, call_id)
        assert contact.outcome == "answered"
        assert contact.hold_seconds > 0


async def test_transfer_to_a_queue_frees_the_agent_and_requeues_the_caller(tmp_path: Path) -> None:
    phones = {**AGENT_PHONE, "PJSIP/1003": PhoneBehaviour(answer_after=0.2)}
    async with running_service(tmp_path, phones=phones) as (service, sim, rec, _url):
        call_id = await talking_call(service, sim, rec)
        with pytest.raises(NotFound):
            await service.center.transfer(call_id, "queue", "no-such-queue")
        await service.center.set_agent_state("1003", "ready")
        await service.center.transfer(call_id, "queue", "billing")
        await rec.wait_for(agent_state("1001", "wrap_up"))
        pop = await rec.wait_for(is_type("screen_pop", agent_id="1003"))
        assert pop["call"]["call_id"] == call_id
        assert pop["call"]["queue"] == "billing"
        await rec.wait_for(agent_state("1003", "on_call"))
        await service.center.hangup(call_id)
        await rec.wait_for(is_type("call_ended", call_id=call_id))
        contact = await contact_for(service, call_id)
        # One contact: answered first by 1001 (its row), then offered to 1003 (timeline).
        assert contact.agent_id == "1001"
        timeline = await service.store.contacts.timeline(contact.id)
        kinds = [e.kind for e in timeline]
        assert "note:transfer" in kinds
        assert kinds.count("queued") == 2
        offered = [e.data["agent_id"] for e in timeline if e.kind == "offered"]
        assert offered == ["1001", "1003"]


async def test_transfer_to_a_number_is_checked_before_reaching_asterisk(tmp_path: Path) -> None:
    async with running_service(tmp_path, phones=AGENT_PHONE) as (service, sim, rec, _url):
        call_id = await talking_call(service, sim, rec)
        with pytest.raises(InvalidInput):
            await service.center.transfer(call_id, "number", "123\r\nAction: Originate")
        assert service.center.call(call_id)["state"] == "talking"


async def test_click_to_dial_rings_the_agent_then_the_customer(tmp_path: Path) -> None:
    async with running_service(tmp_path, phones=AGENT_PHONE) as (service, sim, rec, _url):
        await service.center.set_agent_state("1001", "not_ready", "break")
        call_id = await service.center.dial("1001", "+15550002222")
        update = await rec.wait_for(
            lambda m: (
                m.get("type") == "call_update"
                and m["call"]["call_id"] == call_id
                and m["call"]["state"] == "talking"
            )
        )
        assert update["call"]["direction"] == "outbound"
        agents = {a["agent_id"]: a for a in service.center.snapshot()["agents"]}
        assert (agents["1001"]["state"], agents["1001"]["reason"]) == ("not_ready", "outbound")
        # The call's channel is the customer's leg, so hold parks the customer in music.
        customer_leg = service.center.calls[call_id].channel
        assert customer_leg.startswith("PJSIP/trunk-"), customer_leg
        await service.center.hold(call_id)
        await eventually(lambda: not bridged(sim, customer_leg))
        await service.center.unhold(call_id)
        await eventually(lambda: bridged(sim, customer_leg))
        await service.center.hangup(call_id)
        await rec.wait_for(is_type("call_ended", call_id=call_id))
        contact = await contact_for(service, call_id)
        assert contact.direction == "outbound"
        assert contact.dialed == "+15550002222"
        with pytest.raises(InvalidInput):
            await service.center.dial("1001", "not a number")

        # A customer who does not pick up: the attempt is logged as failed.
        sim.add_phone("PJSIP/+15550003333@trunk", PhoneBehaviour(mode="noanswer"))
        missed = await service.center.dial("1001", "+15550003333")
        await rec.wait_for(is_type("call_ended", call_id=missed), 90)
        assert (await contact_for(service, missed)).outcome == "failed"


async def test_supervisor_moves_a_waiting_call_and_forces_agent_states(tmp_path: Path) -> None:
    phones = {"PJSIP/1004": PhoneBehaviour(answer_after=0.2)}
    async with running_service(tmp_path, phones=phones) as (service, sim, rec, _url):
        sim.place_call("+15550005555", did=DEMO_DID, dtmf=["1"], patience=600)
        waiting = await rec.wait_for(is_waiting)
        call_id = waiting["call"]["call_id"]
        assert waiting["call"]["queue"] == "sales"
        await service.center.move_call(call_id, "billing")
        assert service.center.call(call_id)["queue"] == "billing"
        # A supervisor forces the billing agent ready; the moved call reaches them.
        await service.center.set_agent_state("1004", "ready", forced_by="sam")
        pop = await rec.wait_for(is_type("screen_pop", agent_id="1004"))
        assert pop["call"]["call_id"] == call_id
        await rec.wait_for(agent_state("1004", "on_call"))
        with pytest.raises(IllegalTransition):
            await service.center.move_call(call_id, "sales")
        with pytest.raises(IllegalTransition):
            await service.center.set_agent_state("1004", "ready", forced_by="sam")
        await service.center.hangup(call_id)
        await rec.wait_for(agent_state("1004", "wrap_up"))
        await service.center.set_agent_state("1004", "logged_out", forced_by="sam")
        agents = {a["agent_id"]: a for a in service.center.snapshot()["agents"]}
        assert agents["1004"]["state"] == "logged_out"


async def test_supervisor_listens_on_a_call_with_chanspy(tmp_path: Path) -> None:
    phones = {**AGENT_PHONE, "PJSIP/1006": PhoneBehaviour(answer_after=0.2)}
    async with running_service(tmp_path, phones=phones) as (service, sim, rec, _url):
        originates: list[dict[str, str]] = []

        def watch(event: Any) -> None:
            if event.name == "OriginateResponse":
                originates.append(dict(event.message.headers))

        service.ami.subscribe(watch)
        call_id = await talking_call(service, sim, rec)
        agent_channel = service.center.calls[call_id].agent_channel
        with pytest.raises(NotFound):
            await service.center.spy("1003", "listen", supervisor_agent_id="1006")
        await service.center.spy("1001", "whisper", supervisor_agent_id="1006")
        await eventually(lambda: bool(originates))
        assert originates[0]["Response"] == "Success"
        spies = [c for c in sim.channels.values() if c.name.startswith("PJSIP/1006-")]
        assert spies, "the supervisor's phone was not rung"
        assert agent_channel
        # A supervisor who takes no calls listens from their own extension.
        sim.add_phone("PJSIP/2001", PhoneBehaviour(answer_after=0.2))
        await service.center.spy("1001", "listen", supervisor_agent_id="2001")
        await eventually(lambda: len(originates) == 2)
        assert originates[1]["Response"] == "Success"
        assert any(c.name.startswith("PJSIP/2001-") for c in sim.channels.values())


async def test_caller_takes_a_callback_and_is_called_back_when_an_agent_is_free(
    tmp_path: Path,
) -> None:
    import dataclasses

    from routing.acd import events as ev

    async with running_service(tmp_path, phones=AGENT_PHONE) as (service, sim, rec, _url):
        queues = tuple(
            dataclasses.replace(q, max_wait=1.0) if q.name == "support" else q
            for q in service.center.queues.values()
        )
        service.center.acd.handle(ev.QueuesChanged(queues), service.center.clock())
        # Support, then "1" to the callback offer made when the wait runs over.
        sim.place_call("+15550001111", did=DEMO_DID, dtmf=["2", "1"], patience=6000)
        ended = await rec.wait_for(lambda m: m.get("type") == "call_ended", 20)
        call_id = ended["call_id"]
        contact = await contact_for(service, call_id)
        assert contact.outcome == "callback"
        support = next(q for q in service.center.snapshot()["queues"] if q["name"] == "support")
        assert support["callbacks_waiting"] == 1

        await service.center.set_agent_state("1001", "ready")
        pop = await rec.wait_for(is_type("screen_pop", agent_id="1001"))
        assert pop["call"]["call_id"] == call_id
        assert pop["call"]["direction"] == "callback"
        await rec.wait_for(
            lambda m: (
                m.get("type") == "call_update"
                and m["call"]["call_id"] == call_id
                and m["call"]["state"] == "talking"
            ),
            20,
        )
        await service.center.hangup(call_id)
        await rec.wait_for(agent_state("1001", "wrap_up"))
        timeline = await service.store.contacts.timeline(contact.id)
        steps = [e.data.get("outcome") for e in timeline if e.kind == "note:callback"]
        assert "requested" in steps and "connected" in steps


async def test_blind_transfer_to_another_agent_rings_their_phone(tmp_path: Path) -> None:
    phones = {**AGENT_PHONE, "PJSIP/1003": PhoneBehaviour(answer_after=0.2)}
    async with running_service(tmp_path, phones=phones) as (service, sim, rec, _url):
        call_id = await talking_call(service, sim, rec)
        caller = service.center.calls[call_id].channel
        with pytest.raises(InvalidInput):
            await service.center.transfer(call_id, "agent", "1003")  # 1003 is logged out
        await service.center.set_agent_state("1003", "ready")
        await service.center.transfer(call_id, "agent", "1003")
        await rec.wait_for(agent_state("1001", "wrap_up"))
        agents = {a["agent_id"]: a for a in service.center.snapshot()["agents"]}
        assert (agents["1003"]["state"], agents["1003"]["reason"]) == ("not_ready", "transfer")
        assert service.center.call(call_id)["state"] == "transferred"
        assert service.center.current_call("1001")["call_id"] == call_id  # for the wrap-up
        await eventually(
            lambda: (
                any(
                    c.name.startswith("PJSIP/1003-") and c.bridge is not None
                    for c in sim.channels.values()
                )
                and bridged(sim, caller)
            )
        )


async def test_supervisor_pulls_a_ringing_agent_and_the_next_agent_gets_the_call(
    tmp_path: Path,
) -> None:
    phones = {
        "PJSIP/1002": PhoneBehaviour(mode="noanswer"),
        "PJSIP/1005": PhoneBehaviour(answer_after=0.5),
    }
    async with running_service(tmp_path, phones=phones, time_scale=1.0) as (
        service,
        sim,
        rec,
        _url,
    ):
        await service.center.set_agent_state("1002", "ready")
        await asyncio.sleep(0.05)
        await service.center.set_agent_state("1005", "ready")
        sim.place_call("+15550007777", did=DEMO_DID, dtmf=["1"], patience=120, talk_seconds=(2, 2))
        first = await rec.wait_for(is_type("screen_pop", agent_id="1002"), 40)
        await asyncio.sleep(0.5)
        # 1002 is pulled off while their phone rings: the call must go to 1005 and
        # nothing of 1002's cancelled ring may be blamed on 1005.
        await service.center.set_agent_state("1002", "not_ready", "break", forced_by="sam")
        second = await rec.wait_for(is_type("screen_pop", agent_id="1005"), 20)
        assert second["call"]["call_id"] == first["call"]["call_id"]
        await rec.wait_for(agent_state("1005", "on_call"), 20)
        ended = await rec.wait_for(is_type("call_ended", call_id=first["call"]["call_id"]), 30)
        contact = await contact_for(service, ended["call_id"])
        assert (contact.outcome, contact.agent_id) == ("answered", "1005")
        agents = {a["agent_id"]: a for a in service.center.snapshot()["agents"]}
        assert (agents["1002"]["state"], agents["1002"]["reason"]) == ("not_ready", "break")
        assert agents["1005"]["state"] == "wrap_up"


async def test_caller_hanging_up_on_hold_frees_the_agents_phone(tmp_path: Path) -> None:
    async with running_service(tmp_path, phones=AGENT_PHONE) as (service, sim, rec, _url):
        call_id = await talking_call(service, sim, rec)
        call = service.center.calls[call_id]
        caller, agent_leg = call.channel, call.agent_channel
        await eventually(lambda: bridged(sim, caller))
        await service.center.hold(call_id)
        await eventually(lambda: sim.channels[agent_leg].context == "switchboard-agent-hold")
        await sim.hangup(sim.channels[caller], cause=16, source="remote")
        await rec.wait_for(is_type("call_ended", call_id=call_id))
        await eventually(lambda: agent_leg not in sim.channels)
        await rec.wait_for(agent_state("1001", "wrap_up"))

"""End to end: call recording through the simulator on 127.0.0.1.

Every ring sets ``SWITCHBOARD_RECORD`` on the caller's channel (the file, or "" so an
earlier value never lingers); a recorded call's contact gets its file at the answer;
the agent's pause and resume reach Asterisk as ``MixMonitorMute`` and the timeline as
notes; a blind transfer to a number stops the recording; the queue's rule yields to the
agent's and both to the caller's choice in the IVR; only the agent on the call may pause.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import dataclasses
import itertools
import re
import shutil
import wave
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from config.errors import ActionFailed, Conflict, InvalidInput, NotFound, PermissionDenied
from config.settings import Settings
from switchboard.demo import seed_users
from telephony.ami import Action
from telephony.simulator import PhoneBehaviour
from tests.service_harness import running_service
from tests.test_e2e_api import login
from tests.test_e2e_calls import DEMO_DID, agent_state, contact_for, is_type

ROOT = Path(__file__).resolve().parent.parent
PHONES = {f"PJSIP/{n}": PhoneBehaviour(answer_after=0.2) for n in ("1001", "1002", "1004")}
SALES, BILLING = "1", "3"  # demo_line's menu (sales records, billing does not)


def spy_actions(service: Any) -> list[Action]:
    """Every action the service sends to the simulator, in order (still sent)."""
    sent: list[Action] = []
    real = service.ami.send

    async def send(action: Action, *args: Any, **kwargs: Any) -> Any:
        sent.append(action)
        return await real(action, *args, **kwargs)

    service.ami.send = send
    return sent


async def connected_call(
    service: Any, sim: Any, rec: Any, agent: str, dtmf: str, *, did: str = DEMO_DID
) -> str:
    await service.center.set_agent_state(agent, "ready")
    sim.place_call("+15550004444", did=did, dtmf=[dtmf], patience=600)
    pop = await rec.wait_for(is_type("screen_pop", agent_id=agent))
    await rec.wait_for(agent_state(agent, "on_call"))
    return str(pop["call"]["call_id"])


async def eventually(check: Any, within: float = 10.0) -> None:
    for _ in range(int(within / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    assert check()


def assert_paused_span_is_silent(path: Path) -> None:
    """A real WAV (8 kHz, 16-bit, mono): sound, then a run of zero samples, then sound."""
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
        samples = array.array("h", w.readframes(w.getnframes()))
    assert samples, "an empty recording"
    loud = [i for i, v in enumerate(samples) if v != 0]
    assert loud, "no sound at all"
    gaps = [(a, b) for a, b in itertools.pairwise(loud) if b - a > 80]  # > 10 ms of zeros
    assert len(gaps) == 1, f"expected one silent span, found {len(gaps)}"
    # the gap lies between two samples with sound: sound before and after the pause


def record_var(sim: Any, service: Any, call_id: str) -> str:
    channel = service.center.calls[call_id].channel
    return str(sim.channels[channel].variables.get("SWITCHBOARD_RECORD"))


async def test_a_recorded_call_sets_its_file_links_it_and_pauses(tmp_path: Path) -> None:
    async with running_service(tmp_path, phones=PHONES) as (service, sim, rec, _url):
        sent = spy_actions(service)
        call_id = await connected_call(service, sim, rec, "1001", SALES)
        call = service.center.calls[call_id]
        # the ring's Setvar: <recording dir>/<call id>-<agent>-<epoch ms>.wav
        value = record_var(sim, service, call_id)
        folder = str(tmp_path / "recordings")
        assert value == f"{folder}/{call.recording_file}"
        safe_id = re.sub(r"[^A-Za-z0-9._-]", "_", call_id)
        assert re.fullmatch(rf"{re.escape(safe_id)}-1001-\d{{13}}\.wav", call.recording_file)
        setvars = [a for a in sent if a.name == "Setvar"]
        assert setvars[-1].fields["Variable"] == "SWITCHBOARD_RECORD"  # before the Redirect
        assert service.center.call(call_id)["recording"] == {"on": True, "paused": False}

        contact = await contact_for(service, call_id)
        assert contact.recording == call.recording_file  # the bare name, not the path

        # Pause: MixMonitorMute on the caller's channel, both directions.
        with pytest.raises(PermissionDenied):
            await service.center.recording_pause("1002", call_id, True)
        try:
            await service.center.recording_pause("1001", call_id, True)
        except ActionFailed:
            # The simulator without MixMonitor support refuses the action: nothing changed.
            mute = next(a for a in sent if a.name == "MixMonitorMute")
            assert dict(mute.fields) == {
                "Channel": call.channel,
                "Direction": "both",
                "State": "1",
            }
            assert service.center.call(call_id)["recording"]["paused"] is False
            timeline = await service.store.contacts.timeline(contact.id)
            assert "note:recording_paused" not in [e.kind for e in timeline]
            return
        # The simulator runs MixMonitor: the pause and resume reach the timeline and the
        # file, whose paused part is silence.
        paused = await rec.wait_for(
            lambda m: m.get("type") == "call_update" and m["call"]["recording"]["paused"]
        )
        assert paused["call"]["recording"] == {"on": True, "paused": True}
        await asyncio.sleep(0.6)
        await service.center.recording_pause("1001", call_id, False)
        assert service.center.call(call_id)["recording"] == {"on": True, "paused": False}
        await asyncio.sleep(0.6)
        await service.center.hangup(call_id)
        await rec.wait_for(is_type("call_ended", call_id=call_id))
        await service.center.recorder.flush()
        timeline = await service.store.contacts.timeline(contact.id)
        notes = [(e.kind, e.data) for e in timeline if e.kind.startswith("note:recording")]
        assert notes == [
            ("note:recording_paused", {"agent_id": "1001"}),
            ("note:recording_resumed", {"agent_id": "1001"}),
        ]
        wav = tmp_path / "recordings" / call.recording_file
        await eventually(wav.exists)
        assert_paused_span_is_silent(wav)


async def test_an_unrecorded_queue_sets_the_variable_empty(tmp_path: Path) -> None:
    async with running_service(tmp_path, phones=PHONES) as (service, sim, rec, _url):
        call_id = await connected_call(service, sim, rec, "1004", BILLING)
        assert record_var(sim, service, call_id) == ""
        assert service.center.call(call_id)["recording"] == {"on": False, "paused": False}
        with pytest.raises(Conflict):
            await service.center.recording_pause("1004", call_id, True)
        contact = await contact_for(service, call_id)
        assert contact.recording == ""
        await service.center.hangup(call_id)
        await rec.wait_for(is_type("call_ended", call_id=call_id))
        with pytest.raises(Exception, match="no live call"):
            await service.center.recording_pause("1004", call_id, True)


def queue_file_with(tmp_path: Path, agent: str, record: bool) -> Path:
    """The shipped queue file with ``record`` added to one agent's line."""
    text = (ROOT / "config" / "queues.yaml").read_text()
    line = next(li for li in text.splitlines() if li.startswith(f'  - {{id: "{agent}"'))
    changed = line[:-1] + f", record: {'true' if record else 'false'}}}"
    path = tmp_path / "queues.yaml"
    path.write_text(text.replace(line, changed))
    return path


async def test_the_agents_rule_wins_over_the_queues(tmp_path: Path) -> None:
    queues = queue_file_with(tmp_path, "1001", record=False)
    async with running_service(tmp_path, phones=PHONES, queues_file=queues) as running:
        service, sim, rec, _url = running
        call_id = await connected_call(service, sim, rec, "1001", SALES)  # sales records
        assert record_var(sim, service, call_id) == ""
        assert (await contact_for(service, call_id)).recording == ""
    queues = queue_file_with(tmp_path, "1004", record=True)
    async with running_service(tmp_path, phones=PHONES, queues_file=queues) as running:
        service, sim, rec, _url = running
        call_id = await connected_call(service, sim, rec, "1004", BILLING)  # billing: no
        value = record_var(sim, service, call_id)
        assert value.startswith(str(tmp_path / "recordings") + "/")
        assert re.search(r"-1004-\d{13}\.wav$", value)
        assert (await contact_for(service, call_id)).recording == value.rsplit("/", 1)[-1]


CONSENT = """\
name: consent
start: ask
nodes:
  ask:
    kind: menu
    prompts: main_menu
    options: {"1": yes_record, "2": no_record}
  yes_record: {kind: set, variables: {record: yes}, next: billing}
  no_record: {kind: set, variables: {record: "no"}, next: sales}
  sales: {kind: queue, queue: sales}
  billing: {kind: queue, queue: billing}
"""
CONSENT_DID = "5550199"


def with_consent_script(tmp_path: Path) -> Any:
    scripts = tmp_path / "scripts"
    shutil.copytree(ROOT / "ivr_scripts", scripts, ignore=shutil.ignore_patterns("prompts"))
    (scripts / "consent.yaml").write_text(CONSENT)

    def tweak(settings: Settings) -> Settings:
        ivr = settings.ivr
        entries = {**ivr.entries, CONSENT_DID: "consent"}
        return dataclasses.replace(
            settings,
            ivr=dataclasses.replace(
                ivr,
                scripts_dir=str(scripts),
                prompts_dir=str(ROOT / "ivr_scripts" / "prompts"),
                entries=entries,
            ),
        )

    return tweak


async def test_the_callers_choice_in_the_ivr_wins(tmp_path: Path) -> None:
    tweak = with_consent_script(tmp_path)
    async with running_service(tmp_path, phones=PHONES, tweak=tweak) as running:
        service, sim, rec, _url = running
        # "no" sends the caller to sales, which records: the caller's no wins
        call_id = await connected_call(service, sim, rec, "1001", "2", did=CONSENT_DID)
        assert record_var(sim, service, call_id) == ""
        assert service.center.call(call_id)["recording"]["on"] is False
        # "yes" sends the caller to billing, which does not record: the caller's yes wins
        other = await connected_call(service, sim, rec, "1004", "1", did=CONSENT_DID)
        assert record_var(sim, service, other).startswith(str(tmp_path / "recordings") + "/")
        assert service.center.call(other)["recording"]["on"] is True
        value = record_var(sim, service, other)
        assert (await contact_for(service, other)).recording == value.rsplit("/", 1)[-1]


async def test_a_blind_transfer_to_a_number_stops_the_recording(tmp_path: Path) -> None:
    async with running_service(tmp_path, phones=PHONES) as (service, sim, rec, _url):
        sent = spy_actions(service)
        call_id = await connected_call(service, sim, rec, "1001", SALES)
        channel = service.center.calls[call_id].channel
        await service.center.transfer(call_id, "number", "+15550009999")
        names = [a.name for a in sent]
        stop = names.index("StopMixMonitor")
        assert sent[stop].fields == {"Channel": channel}
        assert names.index("Redirect", stop) > stop  # stopped before the caller leaves
        assert service.center.call(call_id)["recording"] == {"on": False, "paused": False}
        with pytest.raises(PermissionDenied):  # the agent's part is over
            await service.center.recording_pause("1001", call_id, True)


async def test_only_the_agent_on_the_call_may_pause_over_http(tmp_path: Path) -> None:
    async with running_service(tmp_path, phones=PHONES) as (service, sim, rec, url):
        await seed_users(service.store)
        call_id = await connected_call(service, sim, rec, "1001", SALES)
        path = f"{url}/api/calls/{call_id}/pause_recording"
        for user, status in (("bruno", 403), ("sam", 403), ("admin", 403)):
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                headers = await login(http, url, user)
                resp = await http.post(path, headers=headers)
                assert resp.status == status, (user, await resp.text())
        async with aiohttp.ClientSession() as http:
            assert (await http.post(path, headers={"Origin": url})).status == 401
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            headers = await login(http, url, "alice")
            resp = await http.post(path, headers=headers)
            # Allowed: it reaches Asterisk (a simulator without MixMonitor refuses: 502)
            if resp.status == 502:
                assert (await resp.json())["error"] == "remote_error"
            else:
                assert resp.status == 200, await resp.text()
                assert service.center.call(call_id)["recording"]["paused"] is True


async def test_a_transfer_to_an_unrecorded_queue_clears_the_variable(tmp_path: Path) -> None:
    async with running_service(tmp_path, phones=PHONES) as (service, sim, rec, _url):
        call_id = await connected_call(service, sim, rec, "1001", SALES)
        assert record_var(sim, service, call_id) != ""
        await service.center.set_agent_state("1004", "ready")
        await service.center.transfer(call_id, "queue", "billing")
        await rec.wait_for(is_type("screen_pop", agent_id="1004"))
        await rec.wait_for(agent_state("1004", "on_call"))
        # the earlier ring's file does not linger into billing's (unrecorded) ring
        assert record_var(sim, service, call_id) == ""
        assert service.center.call(call_id)["recording"] == {"on": False, "paused": False}


async def test_a_recorded_call_taken_over_after_a_restart_stays_recorded(tmp_path: Path) -> None:
    from telephony.simulator import PbxSimulator
    from tests.service_harness import SECRET, harness_settings, started_service
    from tests.test_e2e_takeover import until

    sim = PbxSimulator("switchboard", SECRET, time_scale=0.05, seed=7)
    port = await sim.start("127.0.0.1", 0)
    sim.add_phone("PJSIP/1001", PhoneBehaviour(answer_after=0.2))
    settings = harness_settings(tmp_path, port, 0)

    try:
        first, runner, rec = await started_service(settings)
        try:
            call_id = await connected_call(first, sim, rec, "1001", SALES)
            name = first.center.calls[call_id].recording_file
            assert name
            await first.center.recorder.flush()
        finally:
            await runner.cleanup()  # the caller stays on the line, as Asterisk keeps it
        second, runner, rec = await started_service(settings)
        try:
            await until(lambda: second.center.resync.runs > 0)
            await until(lambda: second.center.call(call_id) is not None)
            adopted = second.center.calls[call_id]
            assert adopted.recording_file == name  # read back from SWITCHBOARD_RECORD
            assert second.center.call(call_id)["recording"] == {"on": True, "paused": False}
            contact = await contact_for(second, call_id)
            assert contact.recording == name
            sent = spy_actions(second)
            with contextlib.suppress(ActionFailed):  # a simulator without MixMonitor
                await second.center.recording_pause("1001", call_id, True)
            assert [(a.name, a.fields["State"]) for a in sent] == [("MixMonitorMute", "1")]
        finally:
            await runner.cleanup()
    finally:
        await sim.stop()


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def has_sound(path: Path) -> bool:
    with wave.open(str(path), "rb") as w:
        return any(array.array("h", w.readframes(w.getnframes())))


async def recording_refs(service: Any, call_id: str) -> list[str]:
    contact = await contact_for(service, call_id)
    timeline = await service.store.contacts.timeline(contact.id)
    return [str(e.data["ref"]) for e in timeline if e.kind == "recording"]


def talking(call_id: str) -> Any:
    return lambda m: (
        m.get("type") == "call_update"
        and m["call"]["call_id"] == call_id
        and m["call"]["state"] == "talking"
    )


async def test_a_callback_is_recorded_by_its_queues_rule(tmp_path: Path) -> None:
    from routing.acd import events as ev

    async with running_service(tmp_path, phones=PHONES) as (service, sim, rec, _url):
        queues = tuple(
            dataclasses.replace(q, max_wait=1.0) if q.name == "support" else q
            for q in service.center.queues.values()
        )
        service.center.acd.handle(ev.QueuesChanged(queues), service.center.clock())
        # support (records), then "1" to the callback offer made when the wait runs over
        sim.place_call("+15550004444", did=DEMO_DID, dtmf=["2", "1"], patience=6000)
        ended = await rec.wait_for(lambda m: m.get("type") == "call_ended", 20)
        call_id = ended["call_id"]
        sent = spy_actions(service)
        await service.center.set_agent_state("1001", "ready")
        await rec.wait_for(talking(call_id), 20)
        call = service.center.calls[call_id]
        assert call.direction == "callback"
        safe_id = re.sub(r"[^A-Za-z0-9._-]", "_", call_id)
        assert re.fullmatch(rf"{re.escape(safe_id)}-1001-\d{{13}}\.wav", call.recording_file)
        originate = next(a for a in sent if a.name == "Originate")
        folder = str(tmp_path / "recordings")
        assert f"SWITCHBOARD_RECORD={folder}/{call.recording_file}" in originate.fields["Variable"]
        assert service.center.call(call_id)["recording"] == {"on": True, "paused": False}
        assert (await contact_for(service, call_id)).recording == call.recording_file
        # the pause reaches the channel MixMonitor runs on: the agent's originated leg
        await service.center.recording_pause("1001", call_id, True)
        mute = next(a for a in sent if a.name == "MixMonitorMute")
        assert mute.fields["Channel"] == call.agent_channel
        await asyncio.sleep(0.6)
        await service.center.recording_pause("1001", call_id, False)
        await asyncio.sleep(0.6)
        await service.center.hangup(call_id)
        await rec.wait_for(is_type("call_ended", call_id=call_id))
        wav = tmp_path / "recordings" / call.recording_file
        await eventually(wav.exists)
        assert_paused_span_is_silent(wav)


async def test_click_to_dial_is_recorded_by_the_agents_rule(tmp_path: Path) -> None:
    queues = queue_file_with(tmp_path, "1001", record=True)
    async with running_service(tmp_path, phones=PHONES, queues_file=queues) as running:
        service, _sim, rec, _url = running
        sent = spy_actions(service)
        await service.center.set_agent_state("1001", "not_ready", "break")
        call_id = await service.center.dial("1001", "+15550002222")
        await rec.wait_for(talking(call_id), 20)
        call = service.center.calls[call_id]
        assert re.search(r"-1001-\d{13}\.wav$", call.recording_file)
        originate = next(a for a in sent if a.name == "Originate")
        assert any(v.startswith("SWITCHBOARD_RECORD=/") for v in originate.fields["Variable"])
        assert service.center.call(call_id)["recording"]["on"] is True
        assert (await contact_for(service, call_id)).recording == call.recording_file
        await asyncio.sleep(0.5)
        await service.center.hangup(call_id)
        await rec.wait_for(is_type("call_ended", call_id=call_id))
        wav = tmp_path / "recordings" / call.recording_file
        await eventually(wav.exists)
        assert has_sound(wav)


async def test_click_to_dial_follows_the_queue_the_agent_dials_for(tmp_path: Path) -> None:
    async with running_service(tmp_path, phones=PHONES) as (service, _sim, rec, _url):
        await service.center.set_agent_state("1001", "not_ready", "break")
        # no queue and no record key of the agent's own: not recorded
        plain = await service.center.dial("1001", "+15550002222")
        await rec.wait_for(talking(plain), 20)
        assert service.center.calls[plain].recording_file == ""
        assert service.center.call(plain)["recording"]["on"] is False
        await service.center.hangup(plain)
        await rec.wait_for(is_type("call_ended", call_id=plain))
        assert (await contact_for(service, plain)).recording == ""
        await service.center.set_agent_state("1001", "not_ready", "break")
        # for sales (which records)
        with pytest.raises(NotFound):
            await service.center.dial("1001", "+15550002222", queue="nosuch")
        with pytest.raises(InvalidInput):  # 1001 does not take billing's calls
            await service.center.dial("1001", "+15550002222", queue="billing")
        sales = await service.center.dial("1001", "+15550002222", queue="sales")
        await rec.wait_for(talking(sales), 20)
        call = service.center.calls[sales]
        assert call.recording_file
        contact = await contact_for(service, sales)
        assert contact.recording == call.recording_file
        # the queue is on the timeline, not in the contact's queue column: a click-to-dial
        # never waited in a queue, and the queue reports count what entered one
        assert contact.queue in (None, "")
        timeline = await service.store.contacts.timeline(contact.id)
        assert [e.data for e in timeline if e.kind == "note:dialed_for"] == [{"queue": "sales"}]


async def test_a_blind_transfer_to_an_agent_records_their_part_in_its_own_file(
    tmp_path: Path,
) -> None:
    phones = {**PHONES, "PJSIP/1003": PhoneBehaviour(answer_after=0.2)}
    async with running_service(tmp_path, phones=phones) as (service, sim, rec, _url):
        call_id = await connected_call(service, sim, rec, "1001", SALES)
        first = service.center.calls[call_id].recording_file
        await asyncio.sleep(0.5)
        await service.center.set_agent_state("1003", "ready")
        await service.center.transfer(call_id, "agent", "1003")
        call = service.center.calls[call_id]
        second = call.recording_file
        assert second != first and re.search(r"-1003-\d{13}\.wav$", second)
        assert record_var(sim, service, call_id).endswith("/" + second)
        caller = call.channel
        await eventually(
            lambda: (
                any(
                    c.name.startswith("PJSIP/1003-") and c.bridge is not None
                    for c in sim.channels.values()
                )
                and sim.channels[caller].bridge is not None
            )
        )
        # the first agent's file is closed at the transfer, the second one's begun
        folder = tmp_path / "recordings"
        await eventually(lambda: (folder / first).exists())
        length = wav_seconds(folder / first)
        assert has_sound(folder / first)
        for _ in range(100):
            if len(await recording_refs(service, call_id)) == 2:
                break
            await asyncio.sleep(0.05)
        assert await recording_refs(service, call_id) == [first, second]
        contact = await contact_for(service, call_id)
        timeline = await service.store.contacts.timeline(contact.id)
        agents = [e.data.get("agent_id") for e in timeline if e.kind == "recording"]
        assert agents == ["1001", "1003"]  # whose part each file is
        assert (await contact_for(service, call_id)).recording == second
        await asyncio.sleep(0.5)
        await service.ami.send(Action("Hangup", {"Channel": caller, "Cause": "16"}))
        await rec.wait_for(is_type("call_ended", call_id=call_id))
        await eventually(lambda: (folder / second).exists())
        assert has_sound(folder / second)
        assert wav_seconds(folder / first) == length  # nothing more went into the first


async def test_a_transfer_to_an_unrecorded_agent_stops_the_recording(tmp_path: Path) -> None:
    queues = queue_file_with(tmp_path, "1003", record=False)
    phones = {**PHONES, "PJSIP/1003": PhoneBehaviour(answer_after=0.2)}
    async with running_service(tmp_path, phones=phones, queues_file=queues) as running:
        service, sim, rec, _url = running
        call_id = await connected_call(service, sim, rec, "1001", SALES)
        first = service.center.calls[call_id].recording_file
        await asyncio.sleep(0.3)
        await service.center.set_agent_state("1003", "ready")
        await service.center.transfer(call_id, "agent", "1003")
        assert record_var(sim, service, call_id) == ""
        folder = tmp_path / "recordings"
        await eventually(lambda: (folder / first).exists())  # closed at the transfer
        await asyncio.sleep(0.5)
        assert await recording_refs(service, call_id) == [first]


async def test_a_transfer_to_a_number_clears_the_variable_first(tmp_path: Path) -> None:
    async with running_service(tmp_path, phones=PHONES) as (service, sim, rec, _url):
        call_id = await connected_call(service, sim, rec, "1001", SALES)
        first = service.center.calls[call_id].recording_file
        await asyncio.sleep(0.3)
        await service.center.transfer(call_id, "number", "+15550009999")
        # switchboard-outbound records what SWITCHBOARD_RECORD names: the outside call
        # must not be recorded over the agent's file
        assert record_var(sim, service, call_id) == ""
        folder = tmp_path / "recordings"
        await eventually(lambda: (folder / first).exists())
        length = wav_seconds(folder / first)
        await asyncio.sleep(0.5)
        assert wav_seconds(folder / first) == length


async def test_the_console_dials_for_a_queue_over_http(tmp_path: Path) -> None:
    async with running_service(tmp_path, phones=PHONES) as (service, _sim, rec, url):
        await seed_users(service.store)
        await service.center.set_agent_state("1001", "not_ready", "break")
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            headers = await login(http, url, "alice")  # agent 1001
            body: dict[str, Any]
            for body, status in (
                ({"number": "+15550002222", "queue": "nosuch"}, 404),
                ({"number": "+15550002222", "queue": "billing"}, 400),  # not alice's
                ({"number": "+15550002222", "queue": ["sales"]}, 400),
                ({"number": "+15550002222", "queue": "s" * 65}, 400),
            ):
                resp = await http.post(f"{url}/api/dial", json=body, headers=headers)
                assert resp.status == status, (body, await resp.text())
            assert not service.center.calls  # nothing was dialled
            resp = await http.post(
                f"{url}/api/dial",
                json={"number": "+15550002222", "queue": "sales"},
                headers=headers,
            )
            assert resp.status == 200, await resp.text()
            call_id = (await resp.json())["call_id"]
        await rec.wait_for(talking(call_id), 20)
        assert service.center.call(call_id)["recording"]["on"] is True
        assert (await contact_for(service, call_id)).recording


async def test_a_recorded_click_to_dial_taken_over_after_a_restart_stays_recorded(
    tmp_path: Path,
) -> None:
    from telephony.simulator import PbxSimulator
    from tests.service_harness import SECRET, harness_settings, started_service
    from tests.test_e2e_takeover import until

    sim = PbxSimulator("switchboard", SECRET, time_scale=0.05, seed=7)
    port = await sim.start("127.0.0.1", 0)
    sim.add_phone("PJSIP/1001", PhoneBehaviour(answer_after=0.2))
    queues = queue_file_with(tmp_path, "1001", record=True)
    settings = harness_settings(tmp_path, port, 0, queues)
    try:
        first, runner, rec = await started_service(settings)
        try:
            await first.center.set_agent_state("1001", "not_ready", "break")
            call_id = await first.center.dial("1001", "+15550002222")
            await rec.wait_for(talking(call_id), 20)
            name = first.center.calls[call_id].recording_file
            assert name
            await first.center.recorder.flush()
        finally:
            await runner.cleanup()
        second, runner, rec = await started_service(settings)
        try:
            await until(lambda: second.center.resync.runs > 0)
            await until(lambda: second.center.call(call_id) is not None)
            adopted = second.center.calls[call_id]
            assert adopted.recording_file == name  # read from the agent's leg
            assert second.center.call(call_id)["recording"] == {"on": True, "paused": False}
            sent = spy_actions(second)
            await second.center.recording_pause("1001", call_id, True)
            assert [(a.name, a.fields["Channel"]) for a in sent] == [
                ("MixMonitorMute", adopted.agent_channel)
            ]
        finally:
            await runner.cleanup()
    finally:
        await sim.stop()


async def test_a_recorded_click_to_dial_transferred_to_an_agent_gets_a_second_part(
    tmp_path: Path,
) -> None:
    queues = queue_file_with(tmp_path, "1001", record=True)
    phones = {**PHONES, "PJSIP/1003": PhoneBehaviour(answer_after=0.2)}
    async with running_service(tmp_path, phones=phones, queues_file=queues) as running:
        service, _sim, rec, _url = running
        await service.center.set_agent_state("1001", "not_ready", "break")
        call_id = await service.center.dial("1001", "+15550002222", queue="support")
        await rec.wait_for(talking(call_id), 20)
        first = service.center.calls[call_id].recording_file
        await asyncio.sleep(0.5)
        await service.center.set_agent_state("1003", "ready")
        await service.center.transfer(call_id, "agent", "1003")  # support records
        call = service.center.calls[call_id]
        second = call.recording_file
        assert second != first and re.search(r"-1003-\d{13}\.wav$", second)
        customer = call.channel
        folder = tmp_path / "recordings"
        # the agent's leg (and its MixMonitor) went with the first agent's part
        await eventually(lambda: (folder / first).exists())
        assert has_sound(folder / first)
        for _ in range(100):
            if len(await recording_refs(service, call_id)) == 2:
                break
            await asyncio.sleep(0.05)
        assert await recording_refs(service, call_id) == [first, second]
        await asyncio.sleep(0.5)
        await service.ami.send(Action("Hangup", {"Channel": customer, "Cause": "16"}))
        await rec.wait_for(is_type("call_ended", call_id=call_id))
        await eventually(lambda: (folder / second).exists())
        assert has_sound(folder / second)


async def test_a_transfer_asterisk_refuses_leaves_the_recording_as_it_was(tmp_path: Path) -> None:
    phones = {**PHONES, "PJSIP/1003": PhoneBehaviour(answer_after=0.2)}
    async with running_service(tmp_path, phones=phones) as (service, sim, rec, _url):
        call_id = await connected_call(service, sim, rec, "1001", SALES)
        call = service.center.calls[call_id]
        first, before = call.recording_file, record_var(sim, service, call_id)
        agent_before = sim.channels[call.channel].variables.get("SWITCHBOARD_AGENT")
        real = service.ami.send

        async def refuse_redirect(action: Action, *args: Any, **kwargs: Any) -> Any:
            if action.name == "Redirect":
                raise ActionFailed("Redirect failed")
            return await real(action, *args, **kwargs)

        service.ami.send = refuse_redirect
        await service.center.set_agent_state("1003", "ready")
        with pytest.raises(ActionFailed):
            await service.center.transfer(call_id, "agent", "1003")
        service.ami.send = real
        # the caller still talks to 1001, recorded into the first file; a restart's
        # takeover reads these variables back
        assert call.recording_file == first and call.agent_id == "1001"
        assert record_var(sim, service, call_id) == before
        assert sim.channels[call.channel].variables.get("SWITCHBOARD_AGENT") == agent_before
        assert service.center.call(call_id)["recording"] == {"on": True, "paused": False}

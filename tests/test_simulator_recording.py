"""Call recording on the simulator through a real AMI socket on 127.0.0.1: the dialplan's
MixMonitor, its WAV file, and the recording actions against the Asterisk 22 capture
``11-mixmonitor.txt`` (responses before events, header order, privileges)."""

from __future__ import annotations

import array
import asyncio
import math
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from telephony.simulator import PbxSimulator, PhoneBehaviour
from telephony.simulator.dialplan import evaluate, split_args, substitute
from telephony.simulator.mixmonitor import FRAME_SAMPLES, RATE, render
from telephony.simulator.model import SimChannel
from tests.sim_client import Msg, RawAmi, get, keys, parse
from tests.transcripts import read_transcript, received_stream, transcript_files

SCALE = 0.1  # one simulated second is 100 ms: timing margins survive a loaded machine
CAPTURE = next(p for p in transcript_files() if p.name == "11-mixmonitor.txt")


CAPTURED = [
    parse(raw)
    for raw in received_stream(read_transcript(CAPTURE), "c1").split(b"\r\n\r\n")
    if raw.strip()
]
SHAPES = {get(m, "Event"): keys(m) for m in CAPTURED if get(m, "Event").startswith("MixMonitor")}


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[PbxSimulator]:
    pbx = PbxSimulator("switchboard", "pw", time_scale=SCALE, seed=11, monitor_dir=tmp_path / "mon")
    await pbx.start()
    yield pbx
    await pbx.stop()


@pytest.fixture
async def ami(sim: PbxSimulator) -> AsyncIterator[RawAmi]:
    client = await RawAmi.connect(sim.port)
    assert get(await client.login(), "Message") == "Authentication accepted"
    yield client
    client.close()


def now() -> float:
    return asyncio.get_running_loop().time()


async def simulated(seconds: float) -> None:
    await asyncio.sleep(seconds * SCALE)


async def setvars(ami: RawAmi, chan: str, **values: str) -> None:
    for name, value in values.items():
        ami.send("Setvar", ("ActionID", f"v-{name}"), ("Channel", chan), ("Variable", name),
                 ("Value", value))  # fmt: skip
        assert get(await ami.response(f"v-{name}"), "Response") == "Success"


async def ring(ami: RawAmi, chan: str, agent: str, record: str, ring_for: str = "15") -> None:
    """What the service does on RingAgent: the ring's variables, then the Redirect."""
    await setvars(ami, chan, SWITCHBOARD_AGENT=agent, SWITCHBOARD_RING_TIMEOUT=ring_for,
                  SWITCHBOARD_MOH="default", SWITCHBOARD_RECORD=record)  # fmt: skip
    ami.send("Redirect", ("ActionID", "r"), ("Channel", chan), ("Context", "switchboard-connect"),
             ("Exten", "s"), ("Priority", "1"))  # fmt: skip
    assert get(await ami.response("r"), "Message") == "Redirect successful"


async def inbound(ami: RawAmi, sim: PbxSimulator) -> str:
    sim.place_call("+15550005050", caller_name="Caller E", patience=1000)
    return get(await ami.event("AsyncAGIStart"), "Channel")


def read_wav(path: Path) -> tuple[int, array.array[int]]:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (8000, 2, 1)
        samples = array.array("h", wav.readframes(wav.getnframes()))
        return wav.getnframes(), samples


def files_under(path: Path) -> list[Path]:
    return list(path.rglob("*"))


def rms(samples: array.array[int], start: float, end: float) -> float:
    part = samples[int(start * RATE) : int(end * RATE)]
    assert len(part) > 0
    return math.sqrt(sum(s * s for s in part) / len(part))


def after(messages: list[Msg], index: int, channel: str) -> list[str]:
    return [get(m, "Event") for m in messages[index + 1 :] if get(m, "Channel") == channel]


def position(messages: list[Msg], pred: object) -> int:
    return next(i for i, m in enumerate(messages) if pred(m))  # type: ignore[operator]


# ------------------------------------------------------------------ the recorded call


async def test_recorded_call_is_a_wav_of_the_bridged_time_with_the_muted_span_silent(
    sim: PbxSimulator, ami: RawAmi, tmp_path: Path
) -> None:
    """The capture's scenario: recording while bridged, mute 2 s, unmute, stop over AMI
    2 s later; the file is as long as the recorded bridged time, the muted part zeros."""
    sim.add_phone("PJSIP/1001", PhoneBehaviour("answer", answer_after=1.0))
    chan = await inbound(ami, sim)
    target = tmp_path / "recordings" / "day" / "call-1-agent-2.wav"  # directories made
    await ring(ami, chan, "PJSIP/1001", str(target))
    start = await ami.event("MixMonitorStart", Channel=chan)
    assert keys(start) == SHAPES["MixMonitorStart"]
    assert target.exists()  # Asterisk creates the file when the recording starts
    await ami.event("BridgeEnter", Channel=chan)
    bridged_at = now()
    await simulated(2.0)

    ami.send("MixMonitorMute", ("ActionID", "m1"), ("Channel", chan), ("Direction", "both"),
             ("State", "1"))  # fmt: skip
    muted = await ami.response("m1")
    muted_at = (now() - bridged_at) / SCALE
    event = await ami.event("MixMonitorMute", Channel=chan)
    assert keys(muted) == ("Response", "ActionID") and get(muted, "Response") == "Success"
    assert keys(event) == SHAPES["MixMonitorMute"]
    assert (get(event, "Direction"), get(event, "State")) == ("both", "1")
    await simulated(2.0)

    ami.send("MixMonitorMute", ("ActionID", "m0"), ("Channel", chan), ("Direction", "both"),
             ("State", "0"))  # fmt: skip
    await ami.response("m0")
    unmuted_at = (now() - bridged_at) / SCALE
    assert get(await ami.event("MixMonitorMute", Channel=chan), "State") == "0"
    await simulated(2.0)

    ami.send("StopMixMonitor", ("ActionID", "s"), ("Channel", chan))
    stopped = await ami.response("s")
    stopped_at = (now() - bridged_at) / SCALE
    stop = await ami.event("MixMonitorStop", Channel=chan)
    assert keys(stopped) == ("Response", "ActionID") and keys(stop) == SHAPES["MixMonitorStop"]
    # Each response is written before its event, as in the capture.
    for action_id, name in (("m1", "MixMonitorMute"), ("m0", "MixMonitorMute"),
                            ("s", "MixMonitorStop")):  # fmt: skip
        i = position(ami.seen, lambda m, a=action_id: get(m, "ActionID") == a)
        assert after(ami.seen, i, chan)[0] == name

    await simulated(1.0)  # talk goes on unrecorded after the stop
    ami.send("Hangup", ("ActionID", "h"), ("Channel", chan))
    await ami.response("h")
    await ami.event("Hangup", Channel=chan)

    frames, samples = read_wav(target)
    assert frames % FRAME_SAMPLES == 0
    assert frames / RATE == pytest.approx(stopped_at, abs=0.3)
    assert rms(samples, 0.2, muted_at - 0.4) > 10000  # the far end's tone
    assert rms(samples, muted_at + 0.4, unmuted_at - 0.4) == 0  # the paused part
    assert rms(samples, unmuted_at + 0.4, frames / RATE - 0.1) > 10000
    # A hangup after the stop emits no second MixMonitorStop.
    assert [get(m, "Event") for m in ami.seen].count("MixMonitorStop") == 1


async def test_hangup_finishes_the_file_and_hold_is_left_out(
    sim: PbxSimulator, ami: RawAmi, tmp_path: Path
) -> None:
    sim.add_phone("PJSIP/1001", PhoneBehaviour("answer", answer_after=0.5))
    chan = await inbound(ami, sim)
    target = tmp_path / "r" / "held.wav"
    await ring(ami, chan, "PJSIP/1001", str(target))
    enter = await ami.event("BridgeEnter", Channel=chan)
    leg = next(get(m, "Channel") for m in ami.seen if get(m, "Event") == "BridgeEnter"
               and get(m, "BridgeUniqueid") == get(enter, "BridgeUniqueid")
               and get(m, "Channel") != chan)  # fmt: skip
    t0 = now()
    await simulated(2.0)
    # Hold as the service does it: the caller to music, the agent's leg waits.
    ami.send("Redirect", ("ActionID", "hold"), ("Channel", chan), ("Context", "switchboard-hold"),
             ("Exten", "s"), ("Priority", "1"), ("ExtraChannel", leg),
             ("ExtraContext", "switchboard-agent-hold"), ("ExtraExten", "s"),
             ("ExtraPriority", "1"))  # fmt: skip
    await ami.response("hold")
    await ami.event("MusicOnHoldStart", Channel=chan)
    held_from = now()
    await simulated(3.0)
    ami.send("Bridge", ("ActionID", "b"), ("Channel1", chan), ("Channel2", leg))
    await ami.response("b")
    await ami.event("BridgeEnter", Channel=chan)
    held = now() - held_from
    await simulated(2.0)
    ami.send("Hangup", ("ActionID", "h"), ("Channel", chan))
    await ami.response("h")
    await ami.event("Hangup", Channel=chan)
    total = now() - t0

    frames, samples = read_wav(target)
    assert frames / RATE == pytest.approx((total - held) / SCALE, abs=0.4)
    assert rms(samples, 0.1, frames / RATE - 0.1) > 10000  # no silence for the hold
    assert "MixMonitorStop" not in [get(m, "Event") for m in ami.seen]  # not at hangup


async def test_a_ring_not_answered_does_not_record_the_next_ring_into_its_file(
    sim: PbxSimulator, ami: RawAmi, tmp_path: Path
) -> None:
    sim.add_phone("PJSIP/1001", PhoneBehaviour("noanswer"))
    sim.add_phone("PJSIP/1002", PhoneBehaviour("answer", answer_after=0.5))
    chan = await inbound(ami, sim)
    first, second = tmp_path / "first.wav", tmp_path / "second.wav"
    await ring(ami, chan, "PJSIP/1001", str(first), ring_for="2")
    assert get(await ami.event("DialEnd", Channel=chan), "DialStatus") == "NOANSWER"
    await ami.event("AsyncAGIStart", Channel=chan)  # back to the service
    await ring(ami, chan, "PJSIP/1002", str(second))
    await ami.event("BridgeEnter", Channel=chan)
    t0 = now()
    await simulated(3.0)
    ami.send("Hangup", ("ActionID", "h"), ("Channel", chan))
    await ami.response("h")
    await ami.event("Hangup", Channel=chan)
    talked = (now() - t0) / SCALE

    # switchboard-connect's StopMixMonitor() ended the first ring's recording before the
    # second MixMonitor started.
    mine = [
        (get(m, "Event"), get(m, "Application") or get(m, "Value"))
        for m in ami.seen
        if get(m, "Channel") == chan
        and (get(m, "Event").startswith("MixMonitor") or (get(m, "Event") == "Newexten"
             and get(m, "Application") in ("StopMixMonitor", "ExecIf")))
    ]  # fmt: skip
    assert mine == [
        ("Newexten", "StopMixMonitor"), ("Newexten", "ExecIf"), ("MixMonitorStart", ""),
        ("Newexten", "StopMixMonitor"), ("MixMonitorStop", ""), ("Newexten", "ExecIf"),
        ("MixMonitorStart", ""),
    ]  # fmt: skip
    assert read_wav(first)[0] == 0  # created at its start, never bridged: no audio
    frames, samples = read_wav(second)
    assert frames / RATE == pytest.approx(talked, abs=0.3)
    assert rms(samples, 0.1, frames / RATE - 0.1) > 10000


async def test_a_ring_without_recording_writes_nothing(
    sim: PbxSimulator, ami: RawAmi, tmp_path: Path
) -> None:
    sim.add_phone("PJSIP/1001", PhoneBehaviour("answer", answer_after=0.5))
    chan = await inbound(ami, sim)
    await ring(ami, chan, "PJSIP/1001", "")
    await ami.event("BridgeEnter", Channel=chan)
    await simulated(1.0)
    ami.send("Hangup", ("ActionID", "h"), ("Channel", chan))
    await ami.response("h")
    await ami.event("Hangup", Channel=chan)
    execif = next(m for m in ami.seen if get(m, "Application") == "ExecIf")
    assert get(execif, "AppData") == "0?MixMonitor(,b)"  # $[...] evaluated, as Asterisk shows
    assert not [m for m in ami.seen if get(m, "Event").startswith("MixMonitor")]
    assert "MIXMONITOR_FILENAME" not in [get(m, "Variable") for m in ami.seen]
    assert files_under(tmp_path) == []  # nothing anywhere, not even the monitor dir


async def test_recordings_are_capped(sim: PbxSimulator, ami: RawAmi, tmp_path: Path) -> None:
    sim.max_recording_seconds = 1.0
    sim.add_phone("PJSIP/1001", PhoneBehaviour("answer", answer_after=0.2))
    chan = await inbound(ami, sim)
    await ring(ami, chan, "PJSIP/1001", str(tmp_path / "long.wav"))
    await ami.event("BridgeEnter", Channel=chan)
    await simulated(3.0)
    await sim.stop()  # a PBX going down closes its recordings too
    assert read_wav(tmp_path / "long.wav")[0] == RATE


# ------------------------------------------------------------------ actions


async def test_mixmonitor_action_needs_write_class_system(
    sim: PbxSimulator, ami: RawAmi, tmp_path: Path
) -> None:
    sim.add_phone("PJSIP/1001", PhoneBehaviour("answer", answer_after=0.2))
    chan = await inbound(ami, sim)
    await ring(ami, chan, "PJSIP/1001", "")
    await ami.event("BridgeEnter", Channel=chan)
    target = tmp_path / "by-ami.wav"
    request = (("Channel", chan), ("File", str(target)), ("Options", "b"))
    ami.send("MixMonitor", ("ActionID", "no"), *request)
    denied = await ami.response("no")
    assert denied == [("Response", "Error"), ("ActionID", "no"), ("Message", "Permission denied")]
    assert not target.exists()

    sim.write = frozenset({"call", "system"})  # a user given "system", as in the capture
    ami.send("MixMonitor", ("ActionID", "yes"), *request)
    ok = await ami.response("yes")
    assert ok == [("Response", "Success"), ("ActionID", "yes")]
    await ami.event("MixMonitorStart", Channel=chan)
    i = position(ami.seen, lambda m: get(m, "ActionID") == "yes")
    following = [m for m in ami.seen[i + 1 :] if get(m, "Channel") == chan]
    assert [(get(m, "Event"), get(m, "Variable")) for m in following[:2]] == [
        ("VarSet", "MIXMONITOR_FILENAME"),
        ("MixMonitorStart", ""),
    ]
    assert get(following[0], "Value") == str(target)
    assert target.exists()


async def test_recording_actions_answer_errors_like_asterisk(
    sim: PbxSimulator, ami: RawAmi
) -> None:
    sim.add_phone("PJSIP/1001", PhoneBehaviour("answer", answer_after=0.2))
    chan = await inbound(ami, sim)
    cases = [
        ("MixMonitorMute", [("Channel", chan), ("State", "1")],
         "No direction specified. Must be read, write or both"),
        ("MixMonitorMute", [("Channel", chan), ("Direction", "up"), ("State", "1")],
         "Invalid direction specified. Must be read, write or both"),
        ("MixMonitorMute", [("Direction", "both"), ("State", "1")], "No channel specified"),
        ("MixMonitorMute", [("Channel", chan), ("Direction", "both")], "No state specified"),
        ("MixMonitorMute", [("Channel", "PJSIP/x-1"), ("Direction", "both"), ("State", "1")],
         "No such channel"),
        ("MixMonitorMute", [("Channel", chan), ("Direction", "both"), ("State", "1")],
         "Cannot set mute flag"),  # no recording on the channel
        ("StopMixMonitor", [], "No channel specified"),
        ("StopMixMonitor", [("Channel", "PJSIP/x-1")], "No such channel"),
        ("StopMixMonitor", [("Channel", chan)], "Could not stop monitoring channel"),
    ]  # fmt: skip
    sim.write = frozenset({"all"})
    cases.append(("MixMonitor", [("Channel", chan), ("Options", "b")],
                  "Could not start monitoring channel"))  # fmt: skip
    for n, (action, headers, message) in enumerate(cases):
        ami.send(action, ("ActionID", f"e{n}"), *headers)
        reply = await ami.response(f"e{n}")
        assert reply == [("Response", "Error"), ("ActionID", f"e{n}"), ("Message", message)]
    assert not [m for m in ami.seen if get(m, "Event").startswith("MixMonitor")]


async def test_denied_action_is_reported_as_a_security_event(
    sim: PbxSimulator, ami: RawAmi
) -> None:
    ami.send("Command", ("ActionID", "c"), ("Command", "core show version"))
    assert get(await ami.response("c"), "Message") == "Permission denied"
    event = await ami.event("RequestNotAllowed")
    assert get(event, "RequestType") == "Command" and get(event, "Severity") == "Error"


# ------------------------------------------------------------------ pure parts


@pytest.mark.parametrize(
    ("expr", "result"),
    [
        ('"/var/rec/a.wav" != ""', "1"),
        ('"" != ""', "0"),
        ('"abc" = "abc"', "1"),
        ('"abc" == "abd"', "0"),
        ("01 = 1", "1"),
        ('"01" = "1"', "1"),
        ("yes", "yes"),
        ('"a" + "b"', ""),  # beyond the subset: a syntax error, substituted as empty
        ('"a" !=', ""),
    ],
)
def test_expressions(expr: str, result: str) -> None:
    assert evaluate(expr) == result


def test_substitution_evaluates_expressions_once() -> None:
    chan = SimChannel(name="PJSIP/trunk-00000001", uniqueid="1.1", linkedid="1.1", created=0)
    chan.variables["SWITCHBOARD_RECORD"] = "/r/$[1 = 1].wav"
    text = '$["${SWITCHBOARD_RECORD}" != ""]?MixMonitor(${SWITCHBOARD_RECORD},b)'
    # The value's own "$[" is text, never evaluated: only the dialplan's expression is.
    assert substitute(chan, text) == "1?MixMonitor(/r/$[1 = 1].wav,b)"
    assert substitute(chan, "x$[ unclosed") == "x$[ unclosed"


def test_split_args_respects_parentheses_and_quotes() -> None:
    assert split_args("MixMonitor(a:b,c):NoOp(x)", ":") == ["MixMonitor(a:b,c)", "NoOp(x)"]
    assert split_args('"a,b",c', ",") == ['"a,b"', "c"]


def test_render_spans_on_frames_with_a_cap() -> None:
    spans = [(None, 1.0), (True, 1.5), (False, 2.0), (True, 2.505)]
    audio = array.array("h", render(spans, 600.0))
    assert len(audio) == round(1.505 * 50) * FRAME_SAMPLES  # 20 ms frames
    assert max(audio[: RATE // 2]) > 16000 and not any(audio[RATE // 2 : RATE])
    assert len(render(spans, 0.25)) == 2 * RATE // 4

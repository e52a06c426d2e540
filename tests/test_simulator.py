"""The PBX simulator over real sockets on 127.0.0.1, checked against the Asterisk 22 captures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from urllib.parse import unquote

import pytest

from config.errors import InvalidInput
from telephony.simulator import PbxSimulator, PhoneBehaviour
from tests.sim_client import Msg, RawAmi, get, keys
from tests.transcripts import connections, read_transcript, received_stream, transcript_files

SCALE = 0.02


@pytest.fixture
async def sim() -> AsyncIterator[PbxSimulator]:
    pbx = PbxSimulator("switchboard", "pw", time_scale=SCALE, seed=7)
    await pbx.start()
    yield pbx
    await pbx.stop()


@pytest.fixture
async def ami(sim: PbxSimulator) -> AsyncIterator[RawAmi]:
    client = await RawAmi.connect(sim.port)
    assert get(await client.login(), "Message") == "Authentication accepted"
    yield client
    client.close()


def captured_shapes() -> dict[str, set[tuple[str, ...]]]:
    """Every header-name sequence Asterisk used, per event name and per response kind."""
    shapes: dict[str, set[tuple[str, ...]]] = {}
    for path in transcript_files():
        blocks = read_transcript(path)
        for conn in connections(blocks):
            for raw in received_stream(blocks, conn).split(b"\r\n\r\n"):
                lines = raw.decode("utf-8", "replace").split("\r\n")
                if not lines[0].startswith("Event: "):
                    continue
                shapes.setdefault(lines[0][7:], set()).add(
                    tuple(line.partition(": ")[0] for line in lines)
                )
    return shapes


SHAPES = captured_shapes()


def assert_like_asterisk(messages: list[Msg], names: set[str]) -> None:
    checked = set()
    for msg in messages:
        name = msg[0][1] if msg[0][0] == "Event" else ""
        if name in SHAPES and name in names:
            assert keys(msg) in SHAPES[name], f"{name} header order differs: {keys(msg)}"
            checked.add(name)
    assert checked == names, f"never seen: {names - checked}"


# ------------------------------------------------------------------ login


async def test_banner_and_plain_login_like_capture(sim: PbxSimulator) -> None:
    client = await RawAmi.connect(sim.port)
    assert client.banner == b"Asterisk Call Manager/11.0.0\r\n"
    reply = await client.login()
    assert keys(reply) == ("Response", "ActionID", "Message")
    booted = await client.event("FullyBooted")
    auth = await client.event("SuccessfulAuth")
    assert [m[0] for m in client.seen[:3]] == [
        ("Response", "Success"),
        ("Event", "FullyBooted"),
        ("Event", "SuccessfulAuth"),
    ]
    assert keys(booted) in SHAPES["FullyBooted"]
    assert keys(auth) in SHAPES["SuccessfulAuth"]
    # Response, FullyBooted and SuccessfulAuth arrive in one write, as captured.
    assert b"FullyBooted" in client.reads[0]
    client.send("Ping", ("ActionID", "p1"))
    pong = await client.response("p1")
    assert keys(pong) == ("Response", "ActionID", "Ping", "Timestamp")
    assert abs(float(get(pong, "Timestamp")) - time.time()) < 60
    client.send("Ping")
    assert keys(await client.expect(lambda m: get(m, "Ping") == "Pong")) == (
        "Response",
        "Ping",
        "Timestamp",
    )
    client.send("Logoff", ("ActionID", "bye"))
    bye = await client.response("bye")
    assert (get(bye, "Response"), get(bye, "Message")) == ("Goodbye", "Thanks for all the fish.")
    assert await client.eof()


async def test_md5_login_and_bad_authtype(sim: PbxSimulator) -> None:
    client = await RawAmi.connect(sim.port)
    client.send("Challenge", ("ActionID", "x"), ("AuthType", "sha1"))
    assert get(await client.response("x"), "Message") == "Must specify AuthType"
    reply = await client.login(md5=True)
    assert get(reply, "Message") == "Authentication accepted"
    challenge = client.seen[1]
    assert keys(challenge) == ("Response", "ActionID", "Challenge")
    assert len(get(challenge, "Challenge")) == 9
    await client.event("FullyBooted")
    client.close()


@pytest.mark.parametrize("md5", [False, True])
async def test_failed_login_is_late_then_closed(sim: PbxSimulator, md5: bool) -> None:
    client = await RawAmi.connect(sim.port)
    started = asyncio.get_running_loop().time()
    reply = await client.login(secret="wrong", md5=md5)
    assert (get(reply, "Response"), get(reply, "Message")) == ("Error", "Authentication failed")
    assert asyncio.get_running_loop().time() - started >= 1.0 * SCALE * 0.9
    assert await client.eof()


async def test_md5_login_without_challenge_fails(sim: PbxSimulator) -> None:
    client = await RawAmi.connect(sim.port)
    client.send("Login", ("ActionID", "l"), ("AuthType", "md5"), ("Username", "switchboard"),
                ("Key", "0" * 32))  # fmt: skip
    assert get(await client.response("l"), "Message") == "Authentication failed"
    assert await client.eof()


async def test_permission_denied_before_login_then_events_off(sim: PbxSimulator) -> None:
    client = await RawAmi.connect(sim.port)
    for action in ("Ping", "Status", "Originate"):
        client.send(action, ("ActionID", action))
        reply = await client.response(action)
        assert (get(reply, "Response"), get(reply, "Message")) == ("Error", "Permission denied")
    assert get(await client.login(events="off"), "Message") == "Authentication accepted"
    sim.place_call("+15550001111")
    client.send("Ping", ("ActionID", "after"))
    await client.response("after")
    await asyncio.sleep(0.1)
    client.send("Ping", ("ActionID", "after2"))
    await client.response("after2")
    assert not [m for m in client.seen if m[0][0] == "Event"]
    client.close()


# ------------------------------------------------------------------ plain actions


async def test_command_in_three_writes_and_errors(sim: PbxSimulator, ami: RawAmi) -> None:
    sim.write = frozenset({"all"})  # as the captures' user; the shipped user has no "command"
    ami.send("Command", ("ActionID", "v"), ("Command", "core show version"))
    reply = await ami.response("v")
    assert keys(reply) == ("Response", "ActionID", "Message", "Output")
    assert get(reply, "Output").startswith("Asterisk 22.10.1")
    sim.place_call("+15550001111")
    await ami.event("AsyncAGIStart")
    ami.send("Command", ("ActionID", "c"), ("Command", "core show channels concise"))
    reply = await ami.response("c")
    outputs = [v for k, v in reply if k == "Output"]
    assert len(outputs) == 1 and outputs[0].startswith("PJSIP/trunk-")
    assert outputs[0].split("!")[1:3] == ["switchboard-inbound", "5551000"]
    ami.send("Command", ("ActionID", "bad"), ("Command", "no such cli command"))
    reply = await ami.response("bad")
    assert get(reply, "Response") == "Error"
    assert get(reply, "Message") == "Command output follows"
    assert get(reply, "Output").startswith("No such command 'no such cli command' (type")
    assert b"--END COMMAND--" not in b"".join(ami.reads)


async def test_unknown_action_and_missing_parameters(ami: RawAmi) -> None:
    ami.send("NoSuchAction", ("ActionID", "n"))
    assert get(await ami.response("n"), "Message") == (
        "Invalid/unknown command: NoSuchAction. Use Action: ListCommands to show available "
        "commands."
    )
    await ami.event("RequestBadFormat")
    cases = [
        ("Hangup", [], "No channel specified"),
        ("Getvar", [("Channel", "Local/none@nowhere-00000000;1"), ("Variable", "X")],
         "No such channel"),
        ("Originate", [("Exten", "100")], "Channel not specified"),
        ("Redirect", [("Channel", "Local/none@x-00000000;1")], "Context not specified"),
        ("Hangup", [("Channel", "PJSIP/nope-00000001")], "No such channel"),
        ("AGI", [("Channel", "PJSIP/x")], "Both, Channel and Command are *required*"),
    ]  # fmt: skip
    for i, (action, headers, message) in enumerate(cases):
        ami.send(action, ("ActionID", f"e{i}"), *headers)
        reply = await ami.response(f"e{i}")
        assert (get(reply, "Response"), get(reply, "Message")) == ("Error", message)


async def test_events_mask(sim: PbxSimulator, ami: RawAmi) -> None:
    ami.send("Events", ("ActionID", "off"), ("EventMask", "off"))
    assert keys(await ami.response("off")) == ("Response", "ActionID", "Events")
    assert get(ami.seen[-1], "Events") == "Off"
    sim.place_call("+15550001111")
    await asyncio.sleep(0.1)
    ami.send("Events", ("ActionID", "on"), ("EventMask", "call"))
    assert get(await ami.response("on"), "Events") == "On"
    after = len(ami.seen)
    sim.place_call("+15550002222")
    newchannel = await ami.event("Newchannel")
    assert get(newchannel, "CallerIDNum") == "+15550002222"
    assert all(get(m, "Event") != "Newexten" for m in ami.seen[after:])


async def test_lists_and_variables_like_capture(sim: PbxSimulator, ami: RawAmi) -> None:
    sim.place_call("+15550001111", caller_name="Ada")
    sim.place_call("+15550002222")
    start = await ami.event("AsyncAGIStart")
    await ami.event("AsyncAGIStart")
    chan = get(start, "Channel")
    ami.send("CoreShowChannels", ("ActionID", "l1"))
    head = await ami.response("l1")
    assert keys(head) == ("Response", "ActionID", "EventList", "Message")
    assert get(head, "Message") == "Channels will follow"
    items = [await ami.event("CoreShowChannel"), await ami.event("CoreShowChannel")]
    done = await ami.event("CoreShowChannelsComplete")
    assert get(done, "ListItems") == "2" and get(done, "EventList") == "Complete"
    for item in items:
        assert keys(item) in SHAPES["CoreShowChannel"]
    assert keys(done) in SHAPES["CoreShowChannelsComplete"]
    ami.send("Status", ("ActionID", "s1"))
    assert get(await ami.response("s1"), "Message") == "Channel status will follow"
    status = await ami.event("Status")
    await ami.event("Status")
    complete = await ami.event("StatusComplete")
    assert keys(status) in SHAPES["Status"]
    assert (get(complete, "ListItems"), get(complete, "Items")) == ("2", "2")
    ami.send("Setvar", ("ActionID", "sv"), ("Channel", chan), ("Variable", "LAB_TAG"),
             ("Value", "xyz"))  # fmt: skip
    assert get(await ami.response("sv"), "Message") == "Variable Set"
    varset = await ami.event("VarSet", Variable="LAB_TAG")
    assert keys(varset) in SHAPES["VarSet"]
    ami.send("Getvar", ("ActionID", "gv"), ("Channel", chan), ("Variable", "LAB_TAG"))
    reply = await ami.response("gv")
    assert keys(reply) == ("Response", "ActionID", "Variable", "Value")
    assert get(reply, "Value") == "xyz"


# ------------------------------------------------------------------ AGI


async def agi(ami: RawAmi, chan: str, command: str, cid: str) -> str:
    ami.send("AGI", ("ActionID", f"a-{cid}"), ("Channel", chan), ("Command", command),
             ("CommandID", cid))  # fmt: skip
    assert get(await ami.response(f"a-{cid}"), "Message") == "Added AGI command to queue"
    result = await ami.event("AsyncAGIExec", CommandId=cid)
    return unquote(get(result, "Result"))


async def test_agi_flow_with_caller_dtmf(sim: PbxSimulator, ami: RawAmi) -> None:
    uid = sim.place_call("+15550001111", did="5551000", caller_name="Caller A",
                         dtmf=["1", "12345678#", "12"])  # fmt: skip
    start = await ami.event("AsyncAGIStart")
    assert get(start, "Uniqueid") == uid
    env = dict(
        line.split(": ", 1) for line in unquote(get(start, "Env")).splitlines() if ": " in line
    )
    assert get(start, "Env").endswith("%0A%0A")
    assert env["agi_dnid"] == env["agi_extension"] == "5551000"
    assert env["agi_callerid"] == "+15550001111" and env["agi_calleridname"] == "Caller A"
    assert env["agi_context"] == "switchboard-inbound"
    chan = get(start, "Channel")
    assert await agi(ami, chan, "ANSWER", "answer") == "200 result=0\n"
    assert await agi(ami, chan, "SET VARIABLE FOO bar", "set") == "200 result=1\n"
    assert await agi(ami, chan, "GET VARIABLE FOO", "get") == "200 result=1 (bar)\n"
    assert await agi(ami, chan, "GET VARIABLE NOPE", "get2") == "200 result=0\n"
    streamed = await agi(ami, chan, 'STREAM FILE welcome "0123456789#*"', "stream")
    assert streamed.startswith("200 result=49 endpos=")
    assert await agi(ami, chan, "GET DATA beep 3000 10", "data") == "200 result=12345678\n"
    assert await agi(ami, chan, "GET DATA beep 3000 4", "data2") == "200 result=12 (timeout)\n"
    assert await agi(ami, chan, 'SAY DIGITS 42 ""', "say") == "200 result=0\n"
    assert await agi(ami, chan, "NOSUCHCOMMAND foo", "bogus") == (
        "510 Invalid or unknown command\n"
    )
    assert (await agi(ami, chan, "STREAM FILE x", "usage")).startswith("520-Invalid")
    assert await agi(ami, chan, "EXEC Playback beep", "play") == "200 result=0\n"
    assert await agi(ami, chan, "EXEC NoSuchApp x", "noapp") == "200 result=-2\n"
    ends = [m for m in ami.seen if get(m, "Event") == "AGIExecEnd"]
    assert get(ends[-4], "ResultCode") == "510"
    assert get(ends[-4], "Result") == "Invalid or unknown command"
    dtmf = [m for m in ami.seen if get(m, "Event") in ("DTMFBegin", "DTMFEnd")]
    assert [get(m, "Digit") for m in dtmf[:2]] == ["1", "1"]
    assert all(get(m, "Direction") == "Received" for m in dtmf)
    assert await agi(ami, chan, "HANGUP", "hangup") == "200 result=1\n"
    await ami.event("AsyncAGIEnd", Channel=chan)
    hangup = await ami.event("Hangup", Channel=chan)
    assert get(hangup, "Cause") == "16"
    names = {"AsyncAGIStart", "AGIExecStart", "AGIExecEnd", "AsyncAGIExec", "AsyncAGIEnd",
             "DTMFBegin", "DTMFEnd", "Newchannel", "Newexten", "VarSet", "Newstate",
             "SoftHangupRequest", "Hangup"}  # fmt: skip
    assert_like_asterisk(ami.seen, names)
    order = [get(m, "Event") for m in ami.seen if get(m, "Event")]
    agi_order = [e for e in order if e.startswith(("AGIExec", "AsyncAGI"))]
    assert agi_order[0] == "AsyncAGIStart" and agi_order[-1] == "AsyncAGIEnd"
    body = agi_order[1:-1]
    assert body == ["AGIExecStart", "AGIExecEnd", "AsyncAGIExec"] * (len(body) // 3)
    tail = order[order.index("AsyncAGIEnd") - 1 :]
    assert tail[:5] == ["AsyncAGIExec", "AsyncAGIEnd", "VarSet", "SoftHangupRequest", "Hangup"]


async def test_playdtmf_reaches_get_data_and_caller_abandons(
    sim: PbxSimulator, ami: RawAmi
) -> None:
    sim.place_call("+15550009999", patience=10.0)
    chan = get(await ami.event("AsyncAGIStart"), "Channel")
    ami.send("AGI", ("ActionID", "g"), ("Channel", chan), ("Command", "GET DATA beep 3000 2"),
             ("CommandID", "gd"))  # fmt: skip
    await ami.event("AGIExecStart")
    for digit in "79":
        ami.send("PlayDTMF", ("ActionID", f"d{digit}"), ("Channel", chan), ("Digit", digit),
                 ("Duration", "120"))  # fmt: skip
        assert get(await ami.response(f"d{digit}"), "Message") == "DTMF successfully queued"
    result = await ami.event("AsyncAGIExec", CommandId="gd")
    assert unquote(get(result, "Result")) == "200 result=79\n"
    end = next(m for m in ami.seen if get(m, "Event") == "DTMFEnd")
    assert get(end, "DurationMs") == "120"
    # Patience runs out: HangupRequest without Cause, AsyncAGIEnd, then Hangup.
    request = await ami.event("HangupRequest", within=5, Channel=chan)
    assert "Cause" not in keys(request)
    await ami.event("AsyncAGIEnd", Channel=chan)
    await ami.event("Hangup", Channel=chan)
    assert sim.stats["abandoned"] == 1


# ------------------------------------------------------------------ connect / dial


async def connect(ami: RawAmi, sim: PbxSimulator, agent: str, behaviour: PhoneBehaviour) -> str:
    sim.add_phone(agent, behaviour)
    sim.place_call("+15550001111", patience=100)
    chan = get(await ami.event("AsyncAGIStart"), "Channel")
    for name, value in (("SWITCHBOARD_AGENT", agent), ("SWITCHBOARD_RING_TIMEOUT", "15"),
                        ("SWITCHBOARD_MOH", "default")):  # fmt: skip
        ami.send("Setvar", ("ActionID", name), ("Channel", chan), ("Variable", name),
                 ("Value", value))  # fmt: skip
        await ami.response(name)
    ami.send("Redirect", ("ActionID", "r"), ("Channel", chan), ("Context", "switchboard-connect"),
             ("Exten", "s"), ("Priority", "1"))  # fmt: skip
    assert get(await ami.response("r"), "Message") == "Redirect successful"
    await ami.event("AsyncAGIEnd", Channel=chan)
    return chan


async def test_connect_answered_bridges_then_agent_hangs_up(sim: PbxSimulator, ami: RawAmi) -> None:
    chan = await connect(ami, sim, "PJSIP/1001", PhoneBehaviour("answer", answer_after=1.0))
    begin = await ami.event("DialBegin", Channel=chan)
    leg = get(begin, "DestChannel")
    assert leg.startswith("PJSIP/1001-")
    # Like Asterisk: inherited (__) variables and the AppDial application on the new leg.
    on_leg = [m for m in ami.seen if get(m, "Channel") == leg]
    assert ("__SWITCHBOARD_DID", "5551000") in [
        (get(m, "Variable"), get(m, "Value")) for m in on_leg
    ]
    assert [get(m, "Application") for m in on_leg if get(m, "Event") == "Newexten"] == ["AppDial"]
    await ami.event("DialState", DialStatus="RINGING")
    assert get(await ami.event("DialEnd"), "DialStatus") == "ANSWER"
    await ami.event("BridgeCreate")
    first = await ami.event("BridgeEnter")
    second = await ami.event("BridgeEnter")
    assert {get(first, "Channel"), get(second, "Channel")} == {chan, leg}
    assert get(second, "BridgeNumChannels") == "2"
    ami.send("Hangup", ("ActionID", "h"), ("Channel", leg), ("Cause", "16"))
    assert get(await ami.response("h"), "Message") == "Channel Hungup"
    await ami.event("BridgeDestroy")
    await ami.event("Hangup", Channel=leg)
    await ami.event("Hangup", Channel=chan)
    names = {"DialBegin", "DialState", "DialEnd", "BridgeCreate", "BridgeEnter", "BridgeLeave",
             "BridgeDestroy", "MusicOnHoldStart", "MusicOnHoldStop", "Hangup"}  # fmt: skip
    assert_like_asterisk(ami.seen, names)


@pytest.mark.parametrize(
    ("behaviour", "status"),
    [
        (PhoneBehaviour("noanswer"), "NOANSWER"),
        (PhoneBehaviour("busy"), "BUSY"),
        (PhoneBehaviour("answer", answer_after=30.0), "NOANSWER"),
    ],
)
async def test_connect_failure_returns_to_agi(
    sim: PbxSimulator, ami: RawAmi, behaviour: PhoneBehaviour, status: str
) -> None:
    chan = await connect(ami, sim, "PJSIP/1002", behaviour)
    uid = get(ami.seen[-1], "Uniqueid")
    assert get(await ami.event("DialEnd", Channel=chan), "DialStatus") == status
    again = await ami.event("AsyncAGIStart", Channel=chan)
    assert get(again, "Context") == "switchboard-connect" and get(again, "Uniqueid") == uid
    assert await agi(ami, chan, "GET VARIABLE DIALSTATUS", "ds") == f"200 result=1 ({status})\n"


async def test_connect_unavailable_phone(sim: PbxSimulator, ami: RawAmi) -> None:
    chan = await connect(ami, sim, "PJSIP/1003", PhoneBehaviour("unavailable"))
    await ami.event("AsyncAGIStart", Channel=chan)
    assert await agi(ami, chan, "GET VARIABLE DIALSTATUS", "ds") == "200 result=1 (CHANUNAVAIL)\n"


async def test_hold_and_unhold(sim: PbxSimulator, ami: RawAmi) -> None:
    chan = await connect(ami, sim, "PJSIP/1001", PhoneBehaviour("answer", answer_after=0.5))
    leg = get(await ami.event("DialBegin", Channel=chan), "DestChannel")
    await ami.event("BridgeEnter", Channel=chan)
    ami.send("Redirect", ("ActionID", "hold"), ("Channel", chan), ("Context", "switchboard-hold"),
             ("Exten", "s"), ("Priority", "1"), ("ExtraChannel", leg),
             ("ExtraContext", "switchboard-agent-hold"), ("ExtraExten", "s"),
             ("ExtraPriority", "1"))  # fmt: skip
    assert get(await ami.response("hold"), "Response") == "Success"
    await ami.event("BridgeDestroy")
    await ami.event("MusicOnHoldStart", Channel=chan)
    await ami.event("Newexten", Channel=leg, Application="Wait")
    assert leg in sim.channels and chan in sim.channels
    ami.send("Bridge", ("ActionID", "b"), ("Channel1", chan), ("Channel2", leg), ("Tone", "no"))
    assert get(await ami.response("b"), "Message") == "Channels have been bridged"
    await ami.event("MusicOnHoldStop", Channel=chan)
    await ami.event("BridgeEnter", Channel=leg)
    ami.send("Hangup", ("ActionID", "h"), ("Channel", chan))
    await ami.response("h")
    # As with Asterisk's after-bridge goto, the agent leg may run on (and end) before
    # the caller's own Hangup event.
    first = await ami.event("Hangup")
    second = await ami.event("Hangup")
    assert {get(first, "Channel"), get(second, "Channel")} == {chan, leg}
    assert not sim.channels


async def test_originate_outbound_and_failures(sim: PbxSimulator, ami: RawAmi) -> None:
    sim.add_phone("PJSIP/1001", PhoneBehaviour("answer", answer_after=0.5))
    sim.add_phone("PJSIP/1009", PhoneBehaviour("busy"))
    ami.send("Originate", ("ActionID", "o1"), ("Channel", "PJSIP/1001"),
             ("Context", "switchboard-outbound"), ("Exten", "+15557654321"), ("Priority", "1"),
             ("Async", "true"), ("Timeout", "20000"),
             ("CallerID", '"Customer" <+15557654321>'))  # fmt: skip
    assert get(await ami.response("o1"), "Message") == "Originate successfully queued"
    resp = await ami.event("OriginateResponse", ActionID="o1")
    assert get(resp, "Response") == "Success" and get(resp, "Reason") == "4"
    assert keys(resp) in SHAPES["OriginateResponse"]
    leg = get(resp, "Channel")
    trunk = await ami.event("DialBegin", Channel=leg)
    assert get(trunk, "DestChannel").startswith("PJSIP/trunk-")
    assert get(trunk, "DialString") == "+15557654321@trunk"
    await ami.event("BridgeEnter", Channel=leg)
    ami.send("Originate", ("ActionID", "o2"), ("Channel", "PJSIP/1009"), ("Context", "x"),
             ("Exten", "1"), ("Async", "true"))  # fmt: skip
    await ami.response("o2")
    failed = await ami.event("OriginateResponse", ActionID="o2")
    assert (get(failed, "Response"), get(failed, "Reason")) == ("Failure", "5")
    ami.send("Originate", ("ActionID", "o3"), ("Channel", "PJSIP/2000"),
             ("Application", "ChanSpy"), ("Data", f"{leg},qE"), ("Async", "true"))  # fmt: skip
    await ami.response("o3")
    assert get(await ami.event("OriginateResponse", ActionID="o3"), "Response") == "Failure"
    sim.add_phone("PJSIP/2000", PhoneBehaviour("answer", answer_after=0.1))
    ami.send("Originate", ("ActionID", "o4"), ("Channel", "PJSIP/2000"),
             ("Application", "ChanSpy"), ("Data", f"{leg},qE"), ("Async", "true"))  # fmt: skip
    spy = await ami.event("OriginateResponse", ActionID="o4")
    assert get(spy, "Application") == "ChanSpy"
    await ami.event("ChanSpyStart")


# ------------------------------------------------------------------ faults


async def test_drop_connections_keeps_calls(sim: PbxSimulator, ami: RawAmi) -> None:
    sim.place_call("+15550001111")
    chan = get(await ami.event("AsyncAGIStart"), "Channel")
    await sim.drop_connections()
    assert await ami.eof()
    again = await RawAmi.connect(sim.port)
    await again.login()
    again.send("CoreShowChannels", ("ActionID", "l"))
    item = await again.event("CoreShowChannel")
    assert get(item, "Channel") == chan
    again.close()


async def test_restart_sends_shutdown_refuses_then_boots(sim: PbxSimulator, ami: RawAmi) -> None:
    sim.place_call("+15550001111")
    await ami.event("AsyncAGIStart")
    restart = asyncio.create_task(sim.restart(downtime=10.0))
    shutdown = await ami.event("Shutdown")
    assert (get(shutdown, "Shutdown"), get(shutdown, "Restart")) == ("Cleanly", "True")
    assert await ami.eof()
    await asyncio.sleep(0.05)
    with pytest.raises(OSError):
        await RawAmi.connect(sim.port)
    await restart
    client = await RawAmi.connect(sim.port)
    await client.login()
    booted = await client.event("FullyBooted")
    assert client.seen[0][0] == ("Response", "Success")
    assert get(booted, "Status") == "Fully Booted"
    client.send("CoreShowChannels", ("ActionID", "l"))
    assert get(await client.event("CoreShowChannelsComplete"), "ListItems") == "0"
    client.close()


async def test_traffic_and_bad_inputs(sim: PbxSimulator, ami: RawAmi) -> None:
    with pytest.raises(InvalidInput):
        sim.start_traffic(0)
    with pytest.raises(InvalidInput):
        sim.place_call("+1555\r\nAction: Hangup")
    with pytest.raises(InvalidInput):
        sim.place_call("+15550001111", dtmf=["1x"])
    with pytest.raises(InvalidInput):
        sim.add_phone("1001")
    with pytest.raises(InvalidInput):
        PhoneBehaviour("ringing")  # type: ignore[arg-type]
    sim.start_traffic(600 / SCALE / 10)
    first = await ami.event("Newchannel", within=5)
    assert get(first, "Channel").startswith("PJSIP/trunk-")
    sim.stop_traffic()
    assert sim.stats["placed"] >= 1


async def test_redirect_breaks_running_moh_then_connects(sim: PbxSimulator, ami: RawAmi) -> None:
    sim.add_phone("PJSIP/1001", PhoneBehaviour("answer", answer_after=0.5))
    sim.place_call("+15550001111", patience=100)
    chan = get(await ami.event("AsyncAGIStart"), "Channel")
    ami.send("AGI", ("ActionID", "m"), ("Channel", chan), ("Command", "EXEC MusicOnHold default,20"),
             ("CommandID", "moh"))  # fmt: skip
    await ami.event("MusicOnHoldStart", Channel=chan)
    ami.send("Setvar", ("ActionID", "v"), ("Channel", chan), ("Variable", "SWITCHBOARD_AGENT"),
             ("Value", "PJSIP/1001"))  # fmt: skip
    await ami.response("v")
    ami.send("Redirect", ("ActionID", "r"), ("Channel", chan), ("Context", "switchboard-connect"),
             ("Exten", "s"), ("Priority", "1"))  # fmt: skip
    await ami.response("r")
    await ami.event("BridgeEnter", Channel=chan)
    order = [
        (get(m, "Event"), get(m, "Result") or get(m, "Context"))
        for m in ami.seen
        if get(m, "Channel") == chan
        and get(m, "Event")
        in ("MusicOnHoldStop", "AGIExecEnd", "AsyncAGIExec", "AsyncAGIEnd", "Newexten")
    ]
    i = order.index(("MusicOnHoldStop", "switchboard-inbound"))
    assert order[i + 1 : i + 5] == [
        ("AGIExecEnd", "Success"),
        ("AsyncAGIExec", "200%20result%3D-1%0A"),
        ("AsyncAGIEnd", "switchboard-inbound"),
        ("Newexten", "switchboard-connect"),
    ]


async def test_caller_hangs_up_while_agent_rings(sim: PbxSimulator, ami: RawAmi) -> None:
    chan = await connect(ami, sim, "PJSIP/1001", PhoneBehaviour("answer", answer_after=50.0))
    leg = get(await ami.event("DialBegin", Channel=chan), "DestChannel")
    await ami.event("DialState", Channel=chan)
    ami.send("Hangup", ("ActionID", "h"), ("Channel", chan))
    await ami.response("h")
    assert get(await ami.event("DialEnd", Channel=chan), "DialStatus") == "CANCEL"
    await ami.event("Hangup", Channel=leg)
    await ami.event("Hangup", Channel=chan)
    assert not sim.channels


async def test_talk_times_end_answered_calls(sim: PbxSimulator, ami: RawAmi) -> None:
    sim.add_phone("PJSIP/1001", PhoneBehaviour("answer", answer_after=0.2, talk_seconds=(1, 2)))
    chan = await connect(ami, sim, "PJSIP/1001", sim.phones["PJSIP/1001"])
    leg = get(await ami.event("DialBegin", Channel=chan), "DestChannel")
    request = await ami.event("HangupRequest", within=5, Channel=leg)
    assert "Cause" not in keys(request)
    await ami.event("BridgeDestroy")
    assert get(await ami.event("Hangup", Channel=chan), "Cause") == "16"
    assert sim.stats["bridged"] == 1 and sim.stats["abandoned"] == 0
    # A caller with a talk time hangs up on its own once it reaches an agent.
    sim.add_phone("PJSIP/1002", PhoneBehaviour("answer", answer_after=0.2))
    sim.place_call("+15550003333", talk_seconds=(1, 1), patience=100)
    caller = get(await ami.event("AsyncAGIStart"), "Channel")
    ami.send("Originate", ("ActionID", "o"), ("Channel", "PJSIP/1002"),
             ("Application", "Wait"), ("Data", "100"), ("Async", "true"))  # fmt: skip
    agent = get(await ami.event("OriginateResponse", ActionID="o"), "Channel")
    ami.send("Bridge", ("ActionID", "b"), ("Channel1", caller), ("Channel2", agent))
    await ami.response("b")
    await ami.event("HangupRequest", within=5, Channel=caller)
    await ami.event("Hangup", Channel=caller)


async def test_agi_exec_dial_record_and_wait(sim: PbxSimulator, ami: RawAmi) -> None:
    sim.add_phone("PJSIP/1001", PhoneBehaviour("answer", answer_after=0.5))
    sim.add_phone("PJSIP/1002", PhoneBehaviour("noanswer"))
    first = sim.place_call("+15550001111", dtmf=["#"], patience=100)
    second = sim.place_call("+15550002222", patience=100)
    assert int(first.split(".")[1]) < int(second.split(".")[1])
    chan = get(await ami.event("AsyncAGIStart", Uniqueid=first), "Channel")
    recorded = await agi(ami, chan, "RECORD FILE /tmp/msg wav # 10000", "rec")
    assert recorded.startswith("200 result=35 (dtmf) endpos=")
    assert (await agi(ami, chan, "RECORD FILE /tmp/msg wav # 1000", "rec2")).startswith(
        "200 result=0 (timeout) endpos="
    )
    assert await agi(ami, chan, "EXEC Wait 1", "wait") == "200 result=0\n"
    assert await agi(ami, chan, "EXEC Record /tmp/x.wav,3,2", "exrec") == "200 result=0\n"
    assert await agi(ami, chan, "EXEC Dial PJSIP/1002,1", "noans") == "200 result=0\n"
    assert await agi(ami, chan, "GET VARIABLE DIALSTATUS", "st1") == "200 result=1 (NOANSWER)\n"
    ami.send("AGI", ("ActionID", "d"), ("Channel", chan), ("Command", "EXEC Dial PJSIP/1001,20"),
             ("CommandID", "dial"))  # fmt: skip
    leg = get(await ami.event("DialBegin", Channel=chan), "DestChannel")
    await ami.event("BridgeEnter", Channel=chan)
    ami.send("Hangup", ("ActionID", "h"), ("Channel", leg), ("Cause", "16"))
    result = await ami.event("AsyncAGIExec", CommandId="dial")
    assert unquote(get(result, "Result")) == "200 result=-1\n"
    end = [m for m in ami.seen if get(m, "Event") == "AGIExecEnd"][-1]
    assert get(end, "Result") == "Unknown Result"
    # The caller stays in AGI after the agent leg hung up, as captured.
    assert await agi(ami, chan, "GET VARIABLE DIALSTATUS", "st2") == "200 result=1 (ANSWER)\n"
    assert chan in sim.channels and leg not in sim.channels


async def test_transfer_to_a_number(sim: PbxSimulator, ami: RawAmi) -> None:
    sim.place_call("+15550001111", patience=100)
    chan = get(await ami.event("AsyncAGIStart"), "Channel")
    ami.send("Redirect", ("ActionID", "t"), ("Channel", chan), ("Context", "switchboard-outbound"),
             ("Exten", "+15557654321"), ("Priority", "1"))  # fmt: skip
    assert get(await ami.response("t"), "Message") == "Redirect successful"
    begin = await ami.event("DialBegin", Channel=chan)
    assert get(begin, "DialString") == "+15557654321@trunk"
    assert get(await ami.event("DialEnd", Channel=chan), "DialStatus") == "ANSWER"
    await ami.event("BridgeEnter", Channel=chan)


async def test_redirecting_only_the_agent_leg_keeps_it(sim: PbxSimulator, ami: RawAmi) -> None:
    chan = await connect(ami, sim, "PJSIP/1001", PhoneBehaviour("answer", answer_after=0.2))
    leg = get(await ami.event("DialBegin", Channel=chan), "DestChannel")
    await ami.event("BridgeEnter", Channel=chan)
    ami.send("Redirect", ("ActionID", "r"), ("Channel", leg),
             ("Context", "switchboard-agent-hold"), ("Exten", "s"), ("Priority", "1"))  # fmt: skip
    await ami.response("r")
    # The caller's Dial ended (answered, then the bridge went away): the caller hangs up,
    # the redirected agent leg lives on in its new context (in either order).
    wanted = {("Hangup", chan), ("Newexten", leg)}
    seen: set[tuple[str, str]] = set()

    def both(m: Msg) -> bool:
        seen.add((get(m, "Event"), get(m, "Channel")))
        return wanted <= seen

    await ami.expect(both)
    await asyncio.sleep(0.05)
    assert leg in sim.channels and chan not in sim.channels
    assert sim.channels[leg].context == "switchboard-agent-hold"
    assert sim.channels[leg].app == "Wait"


async def test_bridge_lists_and_empty_queue_status(sim: PbxSimulator, ami: RawAmi) -> None:
    chan = await connect(ami, sim, "PJSIP/1001", PhoneBehaviour("answer", answer_after=0.2))
    bridge_id = get(await ami.event("BridgeEnter", Channel=chan), "BridgeUniqueid")
    ami.send("BridgeList", ("ActionID", "bl"))
    assert get(await ami.response("bl"), "Message") == "Bridge listing will follow"
    item = await ami.event("BridgeListItem")
    done = await ami.event("BridgeListComplete")
    assert get(item, "BridgeUniqueid") == bridge_id and get(done, "ListItems") == "1"
    ami.send("BridgeInfo", ("ActionID", "bi"), ("BridgeUniqueid", bridge_id))
    await ami.response("bi")
    members = [await ami.event("BridgeInfoChannel"), await ami.event("BridgeInfoChannel")]
    info = await ami.event("BridgeInfoComplete")
    assert chan in {get(m, "Channel") for m in members}
    assert get(info, "BridgeNumChannels") == "2"
    ami.send("BridgeInfo", ("ActionID", "bx"), ("BridgeUniqueid", "nope"))
    assert get(await ami.response("bx"), "Message") == "Bridge nope not found"
    ami.send("QueueStatus", ("ActionID", "q"))
    assert get(await ami.response("q"), "EventList") == "start"
    assert get(await ami.event("QueueStatusComplete"), "ListItems") == "0"
    names = {"BridgeListItem", "BridgeListComplete", "BridgeInfoChannel", "BridgeInfoComplete"}
    assert_like_asterisk(ami.seen, names)


async def test_caller_keys_only_digits_a_prompt_accepts(sim: PbxSimulator, ami: RawAmi) -> None:
    sim.place_call("+15550001111", dtmf=["5", "42#"], patience=100)
    chan = get(await ami.event("AsyncAGIStart"), "Channel")
    # "5" cannot interrupt this prompt: the caller listens to the end and keeps its choice.
    assert await agi(ami, chan, 'STREAM FILE menu "123"', "s1") == "200 result=0 endpos=16000\n"
    interrupted = await agi(ami, chan, 'STREAM FILE menu "45"', "s2")
    assert interrupted.startswith("200 result=53 endpos=")
    assert await agi(ami, chan, "GET DATA beep 3000 5", "g") == "200 result=42\n"
    keyed = [get(m, "Digit") for m in ami.seen if get(m, "Event") == "DTMFEnd"]
    assert keyed == ["5", "4", "2", "#"]

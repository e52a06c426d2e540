"""Every real Asterisk 22 capture replayed through the sans-I/O protocol (no event loop).

Each connection's sent actions are registered first (so responses and lists are matched
exactly as in the capture), then the received bytes are fed whole, one byte at a time and
in random chunks; all three must give the same messages, types and completed actions.
"""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.errors import AgiError
from telephony.ami import Action, ActionDone, AmiProtocol, Banner, ListResponse, Response
from telephony.ami.agi import AgiEnv, parse_agi_result
from telephony.ami.events import (
    EVENT_TYPES,
    AsyncAGIEnd,
    AsyncAGIExec,
    AsyncAGIStart,
    BridgeEnter,
    CoreShowChannel,
    DialBegin,
    DialEnd,
    DTMFEnd,
    Event,
    FullyBooted,
    GenericEvent,
    Hangup,
    HangupRequest,
    MixMonitorMute,
    MixMonitorStart,
    MixMonitorStop,
    OriginateResponse,
)
from telephony.ami.messages import parse_message
from tests.transcripts import (
    connections,
    read_transcript,
    received_stream,
    sent_stream,
    transcript_files,
)

FILES = transcript_files()
CASES = [(path, conn) for path in FILES for conn in connections(read_transcript(path))]


def sent_actions(blocks: list, conn: str) -> list[Action]:
    """The client's actions, rebuilt from the bytes it sent."""
    actions = []
    for chunk in sent_stream(blocks, conn).split(b"\r\n\r\n"):
        if not chunk.strip():
            continue
        msg = parse_message(chunk.decode())
        fields: dict[str, list[str]] = {}
        for key, value in msg.headers:
            if key not in ("Action", "ActionID"):
                fields.setdefault(key, []).append(value)
        flat = {k: v[0] if len(v) == 1 else v for k, v in fields.items()}
        actions.append(Action(msg.get("Action"), flat, action_id=msg.get("ActionID")))
    return actions


def norm(item: object) -> tuple:
    """Comparable form of one protocol output (events compare without their message)."""
    if isinstance(item, Event):
        return ("event", type(item).__name__, item.message.headers)
    if isinstance(item, ActionDone):
        result = item.result
        if isinstance(result, ListResponse):
            return (
                "list",
                item.action_id,
                result.response.headers,
                tuple(e.message.headers for e in result.events),
                result.complete.headers,
            )
        return ("done", item.action_id, result.message.headers)
    if isinstance(item, Banner):
        return ("banner", item.text)
    return ("other", repr(item))


def replay(path: Path, conn: str, chunks: list[bytes] | None = None) -> tuple[AmiProtocol, list]:
    blocks = read_transcript(path)
    protocol = AmiProtocol()
    for action in sent_actions(blocks, conn):
        protocol.send_action(action)
    stream = received_stream(blocks, conn)
    for chunk in chunks if chunks is not None else [stream]:
        protocol.receive_data(chunk)
    return protocol, protocol.events_received()


def done_by_id(out: list) -> dict[str, Response | ListResponse]:
    return {o.action_id: o.result for o in out if isinstance(o, ActionDone)}


@pytest.mark.parametrize(("path", "conn"), CASES, ids=lambda v: getattr(v, "name", v))
def test_serializer_reproduces_the_capture_clients_bytes(path: Path, conn: str) -> None:
    blocks = read_transcript(path)
    protocol = AmiProtocol()
    for action in sent_actions(blocks, conn):
        protocol.send_action(action)
    assert protocol.data_to_send() == sent_stream(blocks, conn)


@pytest.mark.parametrize(("path", "conn"), CASES, ids=lambda v: getattr(v, "name", v))
def test_whole_and_byte_by_byte_give_the_same_result(path: Path, conn: str) -> None:
    protocol, whole = replay(path, conn)
    stream = received_stream(read_transcript(path), conn)
    _, bytewise = replay(path, conn, [stream[i : i + 1] for i in range(len(stream))])
    _, blockwise = replay(
        path,
        conn,
        [b.payload for b in read_transcript(path) if b.direction == "<<<" and b.conn == conn],
    )
    assert [norm(o) for o in whole] == [norm(o) for o in bytewise] == [norm(o) for o in blockwise]
    assert isinstance(whole[0], Banner) and whole[0].version == "11.0.0"
    # Every action the client sent got exactly one complete answer; nothing is left over.
    sent = sent_actions(read_transcript(path), conn)
    assert len([o for o in whole if isinstance(o, ActionDone)]) == len(sent)
    assert protocol.pending_ids == []
    assert not [o for o in whole if not isinstance(o, Banner | Event | ActionDone)]
    # Nothing lost or altered: every message's headers re-joined equal the wire text.
    rebuilt = sorted("\r\n".join(f"{k}: {v}" for k, v in m.headers) for m in messages_of(whole))
    raw = stream[len(whole[0].text) + 2 :].decode()
    assert rebuilt == sorted(c.strip("\r\n") for c in raw.split("\r\n\r\n") if c.strip())


def messages_of(out: list) -> list:
    msgs = [o.message for o in out if isinstance(o, Event)]
    for o in out:
        if isinstance(o, ActionDone):
            r = o.result
            msgs.append(r.response if isinstance(r, ListResponse) else r.message)
    return msgs


@pytest.mark.parametrize(("path", "conn"), CASES, ids=lambda v: getattr(v, "name", v))
def test_events_are_typed_and_every_field_reads(path: Path, conn: str) -> None:
    _, out = replay(path, conn)
    events = [o for o in out if isinstance(o, Event)]
    assert events or conn != "c1"
    for event in events:
        expected = EVENT_TYPES.get(event.message.event, GenericEvent)
        assert type(event) is expected
        assert event.name == event.message.event
        values = event.fields()  # reads every typed field: never raises on omitted headers
        assert bool(values) is (expected is not GenericEvent)
        for name, value in values.items():
            assert isinstance(value, str | int | dict), name


def test_login_plain() -> None:
    path = Path(FILES[0].parent / "01-login-plain.txt")
    _, c1 = replay(path, "c1")
    done = done_by_id(c1)
    assert done["c1-001"].success and done["c1-001"].text == "Authentication accepted"
    booted = [e for e in c1 if isinstance(e, FullyBooted)]
    assert booted and booted[0].status == "Fully Booted"
    assert done["c1-002"].get("Ping") == "Pong"
    assert done["c1-003"].message.response == "Goodbye"
    _, c2 = replay(path, "c2")
    failed = done_by_id(c2)["c2-004"]
    assert not failed.success and failed.text == "Authentication failed"
    _, c3 = replay(path, "c3")
    done = done_by_id(c3)
    assert [done[i].text for i in ("c3-005", "c3-006")] == ["Permission denied"] * 2
    assert done["c3-007"].success
    assert not [o for o in c3 if isinstance(o, Event)]  # Events: off


def test_login_md5_key_matches_the_capture() -> None:
    path = FILES[0].parent / "02-login-md5.txt"
    blocks = read_transcript(path)
    _, c1 = replay(path, "c1")
    challenge = done_by_id(c1)["c1-001"].get("Challenge")
    key = next(a for a in sent_actions(blocks, "c1") if a.name == "Login").fields["Key"]
    assert hashlib.md5((challenge + "switchboard").encode()).hexdigest() == key
    assert done_by_id(c1)["c1-002"].success
    _, c3 = replay(path, "c3")
    assert done_by_id(c3)["c3-006"].text == "Must specify AuthType"
    assert done_by_id(c3)["c3-007"].text == "Authentication failed"


def test_lists_command_errors_and_anonymous_ping() -> None:
    _, out = replay(FILES[0].parent / "05-lists.txt", "c1")
    done = done_by_id(out)
    channels = done["c1-003"]
    assert isinstance(channels, ListResponse)
    assert [type(e) for e in channels.events] == [CoreShowChannel, CoreShowChannel]
    assert channels.events[1].channel == "Local/100@caller-00000001;2"
    assert channels.events[1].linkedid == "1795381348.2"
    assert channels.complete.event == "CoreShowChannelsComplete"
    assert channels.complete.get("ListItems") == "2"
    status = done["c1-004"]
    assert isinstance(status, ListResponse) and len(status.events) == 2
    assert status.complete.get("Items") == "2" and status.complete.get("ListItems") == "2"
    one = done["c1-005"]
    assert isinstance(one, ListResponse)
    assert one.events[0].message.get_all("Variable") == ["CALLERID(num)=100", "CHANNEL(state)=Up"]
    assert done["c1-006"].get("Value") == "Local/100@caller-00000001;1"
    assert len(done["c1-012"].message.headers) > 100  # ListCommands, one header per action
    assert done["c1-013"].output[0].startswith("Asterisk 22.10.1 built by")
    assert len(done["c1-014"].output) == 2
    queue = done["c1-015"].output
    assert queue[1] == "   Members: " and queue[-2:] == ["", ""]
    error = done["c1-016"]
    assert not error.success and error.output[0].startswith("No such command")
    assert "Invalid/unknown command" in done["c1-018"].text
    assert done["c1-019"].text == "No channel specified"
    assert done["c1-020"].text == "No such channel"
    assert done["c1-021"].text == "Channel not specified"
    assert done["c1-022"].text == "Context not specified"
    assert done[""].get("Ping") == "Pong" and done[""].message.action_id == ""
    assert done["no-blank-line-yet"].get("Ping") == "Pong"
    empty = done["c1-024"]
    assert isinstance(empty, ListResponse) and empty.events == []
    assert empty.complete.get("ListItems") == "0"
    assert done["c1-025"].get("Events") == "Off"


def test_asyncagi_results_env_and_hangup_order() -> None:
    _, out = replay(FILES[0].parent / "03-ivr-asyncagi.txt", "c1")
    start = next(e for e in out if isinstance(e, AsyncAGIStart))
    env = AgiEnv.from_env(start.env)
    assert env.channel == "Local/s@inbound-00000000;2"
    assert env.caller_id == "+15551230001" and env.caller_id_name == "Alice Caller"
    assert env.dnid == "" and env.context == "inbound" and env.language == "en"
    results = {e.command_id: e.result for e in out if isinstance(e, AsyncAGIExec)}
    assert results["cmd-getvar"] == "200 result=1 (bar)\n"
    assert parse_agi_result(results["cmd-getvar2"]).data == "gold"
    stream = parse_agi_result(results["cmd-stream"])
    assert (stream.result, stream.endpos) == ("0", 242240)
    getdata = parse_agi_result(results["cmd-getdata"])
    assert (getdata.result, getdata.data) == ("12", "timeout")
    with pytest.raises(AgiError) as err:
        parse_agi_result(results["cmd-bogus"])
    assert err.value.code == 510
    originate = next(e for e in out if isinstance(e, OriginateResponse))
    assert originate.success and originate.action_id == "c1-002" and originate.reason == "4"
    hangups = [e for e in out if isinstance(e, Hangup)]
    assert [(h.cause, h.cause_txt) for h in hangups] == [("16", "Normal Clearing")] * 2
    dtmf = [e for e in out if isinstance(e, DTMFEnd)]
    assert [(d.digit, d.duration_ms, d.direction) for d in dtmf] == [
        ("1", 120, "Received"),
        ("2", 120, "Received"),
    ]


def test_dial_bridge_and_agi_redirect() -> None:
    _, out = replay(FILES[0].parent / "06-bridge-flow.txt", "c1")
    originate_dial = next(e for e in out if isinstance(e, DialBegin))
    assert originate_dial.channel == "" and originate_dial.dest_channel.startswith("Local/")
    enter = next(e for e in out if isinstance(e, BridgeEnter))
    assert enter.bridge_type == "basic" and enter.bridge_num_channels in (1, 2)
    done = done_by_id(out)
    assert isinstance(done["c1-007"], ListResponse) and len(done["c1-007"].events) == 1
    info = done["c1-008"]
    assert isinstance(info, ListResponse) and len(info.events) == 2
    _, out = replay(FILES[0].parent / "08-agi-dial-agent.txt", "c1")
    statuses = [e.dial_status for e in out if isinstance(e, DialEnd) and e.channel]
    assert statuses == ["ANSWER", "NOANSWER", "BUSY"]
    starts = [e for e in out if isinstance(e, AsyncAGIStart)]
    assert [s.context for s in starts] == ["inbound", "inbound", "inbound", "requeue"]
    assert starts[2].uniqueid == starts[3].uniqueid
    assert [e for e in out if isinstance(e, HangupRequest) and e.cause == ""]
    ends = [e for e in out if isinstance(e, AsyncAGIEnd)]
    assert len(ends) == 4


def test_recording_controls_answer_before_their_events() -> None:
    """MixMonitor, MixMonitorMute and StopMixMonitor on a real call: each Success
    response (no Message) comes before its MixMonitor* event on the caller's channel."""
    _, out = replay(FILES[0].parent / "11-mixmonitor.txt", "c1")
    kinds = (MixMonitorStart, MixMonitorMute, MixMonitorStop)
    order = [
        o.action_id if isinstance(o, ActionDone) else type(o).__name__
        for o in out
        if isinstance(o, (ActionDone, *kinds))
    ]
    assert order[order.index("c1-003") :] == [
        "c1-003", "MixMonitorStart", "c1-004", "MixMonitorMute",
        "c1-005", "MixMonitorMute", "c1-006", "MixMonitorStop", "c1-007",
    ]  # fmt: skip
    done = done_by_id(out)
    for action_id in ("c1-003", "c1-004", "c1-005", "c1-006"):
        result = done[action_id]
        assert isinstance(result, Response) and result.success and result.text == ""
    mutes = [(e.direction, e.state) for e in out if isinstance(e, MixMonitorMute)]
    assert mutes == [("both", "1"), ("both", "0")]
    channels = {e.channel for e in out if isinstance(e, kinds)}
    assert channels == {"PJSIP/sipp-00000016"}


def test_sip_dtmf_digit_comes_back_as_ascii() -> None:
    _, out = replay(FILES[0].parent / "09-sip-dtmf-ivr.txt", "c1")
    results = [parse_agi_result(e.result) for e in out if isinstance(e, AsyncAGIExec)]
    interrupted = next(r for r in results if r.endpos == 20000)
    assert chr(interrupted.value) == "1"
    assert any(r.result == "42" for r in results)


STREAMS = {(path.name, conn): received_stream(read_transcript(path), conn) for path, conn in CASES}
WHOLE = {(path.name, conn): [norm(o) for o in replay(path, conn)[1]] for path, conn in CASES}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(CASES), st.lists(st.floats(min_value=0, max_value=1), max_size=80))
def test_any_chunking_gives_the_same_messages(case: tuple[Path, str], cuts: list[float]) -> None:
    path, conn = case
    stream = STREAMS[(path.name, conn)]
    points = sorted({0, len(stream), *(int(c * len(stream)) for c in cuts)})
    chunks = [stream[a:b] for a, b in itertools.pairwise(points)]
    _, out = replay(path, conn, chunks)
    assert [norm(o) for o in out] == WHOLE[(path.name, conn)]

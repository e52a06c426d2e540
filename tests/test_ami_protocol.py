"""The sans-I/O AMI protocol and message types, bytes in / values out, no event loop."""

from __future__ import annotations

import itertools
import random
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.errors import LocalProtocolError, RemoteProtocolError
from telephony.ami import (
    Action,
    ActionDone,
    AmiProtocol,
    Banner,
    ListResponse,
    Message,
    Response,
    UnmatchedResponse,
    parse_event,
    parse_message,
)
from telephony.ami.events import (
    AsyncAGIStart,
    DialBegin,
    GenericEvent,
    Hangup,
    HangupRequest,
    Newchannel,
    Shutdown,
    VarSet,
)
from tests import ami_fuzz

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def feed(protocol: AmiProtocol, data: bytes, *, bytewise: bool = False) -> list:
    if bytewise:
        for i in range(len(data)):
            protocol.receive_data(data[i : i + 1])
    else:
        protocol.receive_data(data)
    return protocol.events_received()


def started(**kwargs: object) -> AmiProtocol:
    protocol = AmiProtocol(**kwargs)  # type: ignore[arg-type]
    assert feed(protocol, BANNER) == [Banner("Asterisk Call Manager/11.0.0", "11.0.0")]
    return protocol


# -- Action serialisation ------------------------------------------------------------------


def test_action_serializes_in_order_with_repeated_headers() -> None:
    action = Action(
        "Originate",
        {"Channel": "PJSIP/1001", "Variable": ["A=1", "B=2"], "Timeout": 30000, "Async": True},
    )
    assert action.serialize("x-1") == (
        b"Action: Originate\r\nActionID: x-1\r\nChannel: PJSIP/1001\r\n"
        b"Variable: A=1\r\nVariable: B=2\r\nTimeout: 30000\r\nAsync: true\r\n\r\n"
    )
    assert Action("Ping").serialize() == b"Action: Ping\r\n\r\n"
    assert Action("Ping", {"Skip": None}).serialize("") == b"Action: Ping\r\n\r\n"


@pytest.mark.parametrize(
    "action",
    [
        Action("Originate", {"Channel": "PJSIP/1\r\nAction: Hangup"}),
        Action("Originate", {"Variable": ["OK=1", "BAD=\n"]}),
        Action("Originate", {"Bad\rKey": "x"}),
        Action("Originate", {"": "x"}),
        Action("Originate", {"Key:": "x"}),
        Action("Ping\r\n"),
        Action("Ping", action_id="id\r\nAction: Hangup"),
        Action("Ping", {"ActionID": "sneaky"}),
    ],
)
def test_injection_is_refused_and_nothing_is_queued(action: Action) -> None:
    protocol = started()
    with pytest.raises(LocalProtocolError):
        protocol.send_action(action)
    assert protocol.data_to_send() == b""
    assert protocol.pending_ids == []


def test_secrets_do_not_show_in_repr() -> None:
    text = repr(Action("Login", {"Username": "sb", "Secret": "hunter2", "Key": "abc"}))
    assert "hunter2" not in text and "abc" not in text and "sb" in text


# -- Message ---------------------------------------------------------------------------------


def test_message_lookup_is_case_insensitive_and_keeps_repeats() -> None:
    msg = parse_message("Event: Status\r\nVariable: A=1\r\nCommandId: x\r\nVariable: B=2")
    assert msg.get("variable") == "A=1"
    assert msg.get_all("VARIABLE") == ["A=1", "B=2"]
    assert msg.get("CommandID") == "x" and msg.get("missing", "d") == "d"
    assert msg.event == "Status" and msg.response == ""
    assert "commandid" in msg and "nope" not in msg


def test_lines_without_space_or_colon_are_kept() -> None:
    msg = parse_message("Response: Follows\r\nEmpty:\r\nraw output line\r\n--END COMMAND--")
    assert msg.get("Empty") == ""
    assert msg.get_all("Output") == ["raw output line", "--END COMMAND--"]


# -- framing -------------------------------------------------------------------------------


def test_banner_split_and_bad_banner() -> None:
    protocol = AmiProtocol()
    assert feed(protocol, BANNER + b"Event: FullyBooted\r\n\r\n", bytewise=True)[1].name == (
        "FullyBooted"
    )
    with pytest.raises(RemoteProtocolError, match="not an AMI server"):
        AmiProtocol().receive_data(b"HTTP/1.1 400 Bad Request\r\n")
    with pytest.raises(RemoteProtocolError):
        AmiProtocol().receive_data(b"x" * 5000)


def test_utf8_split_across_reads_survives_and_invalid_bytes_are_replaced() -> None:
    protocol = started()
    data = "Event: VarSet\r\nValue: Zoë 日本\r\n\r\n".encode()
    cut = data.index("日".encode()) + 1
    assert feed(protocol, data[:cut]) == []
    (event,) = feed(protocol, data[cut:])
    assert isinstance(event, VarSet) and event.value == "Zoë 日本"
    (bad,) = feed(protocol, b"Event: VarSet\r\nValue: \xff\xfeok\r\n\r\n")
    assert bad.value == "\ufffd\ufffdok"


def test_stray_blank_lines_between_messages_are_ignored() -> None:
    protocol = started()
    out = feed(protocol, b"\r\nEvent: A\r\n\r\n\r\n\r\nEvent: B\r\n\r\n\r\n")
    assert [e.name for e in out] == ["A", "B"]


def test_message_over_the_limit_is_a_protocol_error() -> None:
    protocol = started(max_message_bytes=1000)
    protocol.receive_data(b"Event: Big\r\nData: " + b"x" * 900)
    with pytest.raises(RemoteProtocolError, match="larger than 1000"):
        protocol.receive_data(b"x" * 200)
    with pytest.raises(RemoteProtocolError):  # the connection stays failed
        protocol.receive_data(b"\r\n\r\n")
    whole = started(max_message_bytes=1000)
    with pytest.raises(RemoteProtocolError):
        whole.receive_data(b"Event: Small\r\n\r\nEvent: Big\r\nData: " + b"y" * 1200 + b"\r\n\r\n")
    many = started(max_message_bytes=1000)  # many small messages in one read are fine
    assert len(feed(many, b"Event: Small\r\nX: 1\r\n\r\n" * 500)) == 500


def test_memory_is_bounded_by_the_largest_message_not_the_stream() -> None:
    protocol = started()
    chunk = b"Event: VarSet\r\nChannel: PJSIP/a-1\r\nVariable: X\r\nValue: 1\r\n\r\n" * 200
    feed(protocol, chunk)
    tracemalloc.start()

    def stream(times: int) -> int:
        for _ in range(times):
            protocol.receive_data(chunk)
            protocol.events_received()
        return tracemalloc.get_traced_memory()[0]

    warm = stream(30)
    tracemalloc.reset_peak()
    after = stream(300)  # 3.6 MB more streamed
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert after - warm < 64 * 1024
    assert peak - warm < 512 * 1024
    assert len(protocol._buffer) == 0


# -- matching responses and lists ----------------------------------------------------------


def test_response_matched_by_action_id() -> None:
    protocol = started()
    a1 = protocol.send_action(Action("Ping"))
    a2 = protocol.send_action(Action("Hangup", {"Channel": "x"}))
    assert protocol.data_to_send().count(b"Action: ") == 2
    out = feed(
        protocol, f"Response: Error\r\nActionID: {a2}\r\nMessage: No such channel\r\n\r\n".encode()
    )
    assert isinstance(out[0], ActionDone) and out[0].action_id == a2
    assert not out[0].result.success and out[0].result.text == "No such channel"
    out = feed(protocol, f"Response: Success\r\nActionID: {a1}\r\nPing: Pong\r\n\r\n".encode())
    assert out[0].result.success and protocol.pending_ids == []


def test_list_completes_only_on_eventlist_complete() -> None:
    protocol = started()
    aid = protocol.send_action(Action("QueueStatus"))
    data = (
        f"Response: Success\r\nActionID: {aid}\r\nEventList: start\r\nMessage: Queue status will follow\r\n\r\n"
        f"Event: QueueParams\r\nActionID: {aid}\r\nQueue: support\r\n\r\n"
        f"Event: QueueEntry\r\nActionID: {aid}\r\nQueue: support\r\nMessage: Complete\r\n\r\n"
        "Event: Newchannel\r\nChannel: PJSIP/x-1\r\n\r\n"
        f"Event: QueueStatusComplete\r\nActionID: {aid}\r\nEventList: Complete\r\nListItems: 2\r\n\r\n"
    ).encode()
    out = feed(protocol, data, bytewise=True)
    assert [type(o).__name__ for o in out] == [
        "GenericEvent",
        "GenericEvent",
        "Newchannel",
        "GenericEvent",
        "ActionDone",
    ]
    result = out[-1].result
    assert isinstance(result, ListResponse)
    assert [e.name for e in result.events] == ["QueueParams", "QueueEntry"]
    assert result.complete.get("ListItems") == "2"


def test_list_error_response_completes_at_once() -> None:
    protocol = started()
    aid = protocol.send_action(Action("Status", {"Channel": "nope"}))
    out = feed(
        protocol, f"Response: Error\r\nActionID: {aid}\r\nMessage: No such channel\r\n\r\n".encode()
    )
    assert isinstance(out[0].result, Response) and not out[0].result.success


def test_responses_without_action_id_are_matched_in_order() -> None:
    protocol = started()
    assert protocol.send_action(Action("Ping", action_id="")) == ""
    assert protocol.send_action(Action("Ping"), with_action_id=False) == ""
    assert protocol.data_to_send() == b"Action: Ping\r\n\r\n" * 2
    out = feed(protocol, b"Response: Success\r\nPing: Pong\r\nTimestamp: 1\r\n\r\n" * 3)
    assert [type(o) for o in out] == [ActionDone, ActionDone, UnmatchedResponse]
    assert out[0].result.get("Timestamp") == "1"


def test_unknown_action_id_and_duplicate_ids() -> None:
    protocol = started()
    protocol.send_action(Action("Ping", action_id="fixed"))
    with pytest.raises(LocalProtocolError):
        protocol.send_action(Action("Ping", action_id="fixed"))
    out = feed(protocol, b"Response: Success\r\nActionID: other\r\n\r\n")
    assert isinstance(out[0], UnmatchedResponse)


def test_connection_lost_fails_every_pending_action_once() -> None:
    protocol = started()
    a = protocol.send_action(Action("Originate", {"Channel": "PJSIP/1"}))
    protocol.send_action(Action("Ping", action_id=""))
    assert protocol.connection_lost() == [a, ""]
    assert protocol.connection_lost() == []
    assert protocol.data_to_send().count(b"Originate") == 1


def test_cancelled_action_answer_becomes_unmatched() -> None:
    protocol = started()
    aid = protocol.send_action(Action("Ping"))
    protocol.cancel(aid)
    out = feed(protocol, f"Response: Success\r\nActionID: {aid}\r\n\r\n".encode())
    assert isinstance(out[0], UnmatchedResponse)


# -- typed events ----------------------------------------------------------------------------


def test_typed_events_tolerate_missing_fields() -> None:
    event = parse_event(parse_message("Event: HangupRequest\r\nChannel: PJSIP/a-1"))
    assert isinstance(event, HangupRequest) and event.cause == "" and event.uniqueid == ""
    dial = parse_event(parse_message("Event: DialBegin\r\nDestChannel: Local/1@x;1"))
    assert isinstance(dial, DialBegin) and dial.channel == "" and dial.dest_channel == "Local/1@x;1"
    other = parse_event(parse_message("Event: MusicOnHoldStart\r\nClass: default"))
    assert isinstance(other, GenericEvent) and other.get("class") == "default"
    assert other.name == "MusicOnHoldStart"
    shutdown = parse_event(parse_message("Event: Shutdown\r\nShutdown: Cleanly\r\nRestart: True"))
    assert isinstance(shutdown, Shutdown) and shutdown.is_restart


def test_events_can_be_built_by_keyword_for_tests() -> None:
    event = Hangup(channel="PJSIP/a-1", uniqueid="1.1", linkedid="1.1", cause="16")
    assert event.name == "Hangup" and event.cause_txt == ""
    assert Newchannel().channel == "" and isinstance(Newchannel().message, Message)
    with pytest.raises(AttributeError):
        event.cause = "17"  # type: ignore[misc]


def test_agi_env_is_url_decoded() -> None:
    env = (
        "agi_channel%3A%20PJSIP%2Fsipp-1%0Aagi_callerid%3A%20%2B1555%0Aagi_dnid%3A%205551000%0A%0A"
    )
    event = parse_event(parse_message(f"Event: AsyncAGIStart\r\nEnv: {env}"))
    assert isinstance(event, AsyncAGIStart)
    assert event.env == {
        "agi_channel": "PJSIP/sipp-1",
        "agi_callerid": "+1555",
        "agi_dnid": "5551000",
    }


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40))
def test_any_value_without_cr_lf_round_trips(value: str) -> None:
    if "\r" in value or "\n" in value:
        with pytest.raises(LocalProtocolError):
            Action("Setvar", {"Value": value}).serialize("a")
        return
    data = Action("Setvar", {"Value": value}).serialize("a")
    msg = parse_message(data.decode()[: -len("\r\n\r\n")])
    assert msg.get_all("Value") == [value]


# -- chunking independence over mutated real frames ---------------------------------------


@pytest.mark.parametrize(
    "stream",
    [
        b"Event: A\r\nX: 1\r\n\r\n\r\n\nEvent: B\r\n\r\n",
        b"Event: A\r\n\r\n\r\n\r\n\r\nEvent: B\n\r\n\r\n\n",
        b"Event: AX: 1\r\n\r\n\r\n\n\r\n\r\n",
        b"\r\n\r\n\r\n\r\n\r\n\r\nResponse: Success\r\n\n\r\n\r\n",
    ],
)
def test_a_bare_lf_after_a_blank_line_frames_the_same_in_any_chunking(stream: bytes) -> None:
    whole = ami_fuzz.run([stream], expect_banner=False)
    for cut in range(1, len(stream)):
        assert ami_fuzz.run([stream[:cut], stream[cut:]], expect_banner=False) == whole, cut
    bytewise = ami_fuzz.run([stream[i : i + 1] for i in range(len(stream))], expect_banner=False)
    assert bytewise == whole


def test_a_blank_line_is_never_a_message() -> None:
    stream = b"Event: A\r\n\r\n\r\n\nEvent: B\r\n\r\n\n\r\n\r\n"
    out, error = ami_fuzz.run([stream], expect_banner=False)
    assert error is None
    assert [o[:2] for o in out] == [("event", "GenericEvent"), ("event", "GenericEvent")]
    assert [o[2] for o in out] == [(("Event", "A"),), (("Event", "B"),)]


def test_a_banner_line_over_the_limit_is_refused_in_any_chunking() -> None:
    stream = b"Asterisk Call Manager/" + b"9" * 5000 + b"\r\n"
    assert isinstance(ami_fuzz.run([stream])[1], RemoteProtocolError)
    assert isinstance(ami_fuzz.run([stream[:4500], stream[4500:]])[1], RemoteProtocolError)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=2**64), st.sampled_from([1 << 20, 2048, 256]))
def test_mutated_real_frames_parse_the_same_in_any_chunking(seed: int, limit: int) -> None:
    """Only RemoteProtocolError may come out, and whole == re-chunked (seeded, so a
    failure names the seed that reproduces it)."""
    rng = random.Random(seed)
    stream = ami_fuzz.mutated_stream(rng).data
    whole = ami_fuzz.run([stream], max_message_bytes=limit)
    chunked = ami_fuzz.run(ami_fuzz.random_chunks(rng, stream), max_message_bytes=limit)
    assert ami_fuzz.same_result(whole, chunked), (whole, chunked)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.sampled_from(ami_fuzz.real_frames()),
            st.sampled_from(ami_fuzz.SPICE),
            st.binary(max_size=40),
        ),
        max_size=12,
    ),
    st.lists(st.floats(min_value=0, max_value=1), max_size=20),
    st.sampled_from([1 << 20, 512]),
)
def test_fuzzed_streams_raise_only_remote_protocol_error(
    parts: list[bytes], cuts: list[float], limit: int
) -> None:
    """Real frames, the framer's special bytes and random bytes in any mix (hypothesis
    shrinks a failure to its smallest stream): whole == re-chunked, and ``run`` lets
    nothing but RemoteProtocolError out."""
    stream = ami_fuzz.BANNER + b"".join(parts)
    points = sorted({0, len(stream), *(int(c * len(stream)) for c in cuts)})
    chunks = [stream[a:b] for a, b in itertools.pairwise(points)]
    whole = ami_fuzz.run([stream], max_message_bytes=limit)
    assert ami_fuzz.same_result(whole, ami_fuzz.run(chunks, max_message_bytes=limit))

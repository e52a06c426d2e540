"""Pure parts of the simulator: action framing, AGI quoting, dialplan matching (no loop)."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest

from config.errors import InvalidInput, RemoteProtocolError
from telephony.simulator import CallerProfile, PhoneBehaviour
from telephony.simulator.dialplan import lookup, pattern_matches, substitute
from telephony.simulator.model import SimChannel
from telephony.simulator.session import parse_callerid, parse_mask
from telephony.simulator.wire import ActionFramer, agi_args, agi_env, agi_quote, encode
from tests.transcripts import connections, read_transcript, sent_stream, transcript_files

ACTION_IDS = re.compile(rb"^ActionID: (.*)\r$", re.MULTILINE)


@pytest.mark.parametrize("path", transcript_files(), ids=lambda p: p.name)
def test_framer_reads_every_captured_client_stream(path: object) -> None:
    blocks = read_transcript(path)  # type: ignore[arg-type]
    for conn in connections(blocks):
        stream = sent_stream(blocks, conn)
        expected = [m.decode() for m in ACTION_IDS.findall(stream)]
        whole = ActionFramer().feed(stream)
        framer = ActionFramer()
        single = [a for i in range(len(stream)) for a in framer.feed(stream[i : i + 1])]
        assert [a.get("ActionID") for a in whole if a.has("ActionID")] == expected
        assert [a.headers for a in single] == [a.headers for a in whole]
        assert all(a.name for a in whole)


def test_framer_waits_for_blank_line_and_keeps_repeats() -> None:
    framer = ActionFramer()
    assert framer.feed(b"Action: Originate\r\nVariable: A=1\r\nVariable: B=2\n") == []
    (action,) = framer.feed(b"\r\n")
    assert action.get_all("variable") == ["A=1", "B=2"]
    assert action.get("ACTION") == "Originate" and action.get("missing", "x") == "x"
    assert framer.feed(b"\r\n\r\n") == []  # blank lines alone are not actions


def test_framer_bounds_memory() -> None:
    framer = ActionFramer(max_bytes=1000)
    with pytest.raises(RemoteProtocolError):
        framer.feed(b"Action: Ping\r\n" + b"X: " + b"y" * 2000)


def test_encode_never_lets_a_value_inject_headers() -> None:
    data = encode([("Value", "a\r\nAction: Hangup")])
    assert data == b"Value: a  Action: Hangup\r\n\r\n"


def test_agi_quote_matches_captured_results() -> None:
    assert agi_quote("200 result=1 (bar)\n") == "200%20result%3D1%20(bar)%0A"
    assert agi_quote("510 Invalid or unknown command\n") == (
        "510%20Invalid%20or%20unknown%20command%0A"
    )
    env = agi_env([("agi_channel", "Local/s@inbound-00000000;2"), ("agi_callerid", "+1555")])
    assert (
        env == "agi_channel%3A%20Local%2Fs%40inbound-00000000%3B2%0Aagi_callerid%3A%20%2B1555%0A%0A"
    )
    assert unquote(env).endswith("\n\n")


def test_agi_args_group_quotes() -> None:
    assert agi_args('STREAM FILE demo-congrats "0123456789#*"') == [
        "STREAM",
        "FILE",
        "demo-congrats",
        "0123456789#*",
    ]
    assert agi_args('SAY DIGITS 42 ""') == ["SAY", "DIGITS", "42", ""]


@pytest.mark.parametrize(
    ("pattern", "exten", "ok"),
    [
        ("_X.", "5551000", True),
        ("_X.", "+15551000", False),
        ("_+X.", "+15551000", True),
        ("_1XXX", "1001", True),
        ("_1XXX", "10012", False),
        ("_[2-4]X", "35", True),
        ("_NXX", "123", False),
        ("s", "s", True),
    ],
)
def test_pattern_matching(pattern: str, exten: str, ok: bool) -> None:
    assert pattern_matches(pattern, exten) is ok


def test_contexts_of_the_call_flow_exist() -> None:
    for context in ("switchboard-connect", "switchboard-requeue", "switchboard-hold",
                    "switchboard-agent-hold"):  # fmt: skip
        assert lookup(context, "s")
    assert lookup("switchboard-inbound", "5551000")
    assert lookup("switchboard-outbound", "+15557654321")
    assert lookup("switchboard-connect", "1") is None
    assert lookup("nowhere", "s") is None


def test_substitute_variables() -> None:
    chan = SimChannel(name="PJSIP/trunk-00000001", uniqueid="1.1", linkedid="1.1", created=0)
    chan.variables["SWITCHBOARD_AGENT"] = "PJSIP/1001"
    chan.exten = "5551000"
    text = "${SWITCHBOARD_AGENT},${SWITCHBOARD_RING_TIMEOUT},m(${MOH}) ${EXTEN} ${G}"
    assert substitute(chan, text, {"G": "g"}) == "PJSIP/1001,,m() 5551000 g"


def test_small_parsers_and_validation() -> None:
    assert parse_callerid('"Customer" <+15550003000>') == ("+15550003000", "Customer")
    assert parse_callerid("100") == ("100", "")
    assert parse_mask("off") == set() and parse_mask("on") is None
    assert parse_mask("call,agi") == {"call", "agi"}
    with pytest.raises(InvalidInput):
        PhoneBehaviour("answer", talk_seconds=(5, 1))
    with pytest.raises(InvalidInput):
        PhoneBehaviour("answer", answer_after=-1)
    with pytest.raises(InvalidInput):
        CallerProfile("+1555", weight=0)

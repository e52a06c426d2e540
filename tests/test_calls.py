"""CallTracker fed with the real captures (events + capture time as ``now``), no event loop."""

from __future__ import annotations

import pytest

from telephony.ami import AmiProtocol
from telephony.ami.events import (
    BridgeEnter,
    BridgeLeave,
    CoreShowChannel,
    Event,
    Hangup,
    Newchannel,
    Newstate,
)
from telephony.calls import TRANSITIONS, CallState, CallTracker, CallUpdate, local_base
from tests.transcripts import TRANSCRIPTS, read_transcript


def replay(name: str) -> tuple[CallTracker, list[CallUpdate], list[Event]]:
    tracker = CallTracker(clock=lambda: pytest.fail("clock must not be used"))
    protocol = AmiProtocol()
    updates: list[CallUpdate] = []
    events: list[Event] = []
    for block in read_transcript(TRANSCRIPTS / name):
        if block.direction != "<<<" or block.conn != "c1":
            continue
        protocol.receive_data(block.payload)
        for item in protocol.events_received():
            if isinstance(item, Event):
                events.append(item)
                updates.extend(tracker.feed(item, block.at))
    return tracker, updates, events


def test_sip_callers_dialing_agents() -> None:
    tracker, updates, _ = replay("08-agi-dial-agent.txt")
    a = tracker.calls["1795383323.61"]
    assert a.state is CallState.ENDED
    assert (a.caller_num, a.caller_name, a.dialed) == ("+15550001111", "Caller A", "5551000")
    assert a.started_at <= a.answered_at < a.bridged_at < a.ended_at
    assert 2.5 < a.talk_seconds(0) < 6  # bridged ~3 s, then the agent was hung up
    assert "Local/1001@agent-phone-0000000d;2" in a.all_channels
    changes = [u.change for u in updates if u.call.linkedid == "1795383323.61"]
    assert changes.index("started") < changes.index("answered") < changes.index("bridged")
    assert changes.index("bridged") < changes.index("unbridged") < changes.index("ended")
    b = tracker.calls["1795383332.64"]
    assert b.state is CallState.ENDED and b.bridged_at is None and b.talk_seconds(0) == 0
    c = tracker.calls["1795383344.69"]
    assert c.state is CallState.ENDED and c.caller_num == "+15550003333"
    assert len(tracker.calls) == 3
    assert tracker.call_for("1795383323.61") is None  # no live channels remain


def test_local_halves_are_one_call() -> None:
    tracker, _, _ = replay("03-ivr-asyncagi.txt")
    (call,) = tracker.calls.values()
    assert call.linkedid == "1795381304.0" and call.state is CallState.ENDED
    assert set(call.all_channels) == {"Local/s@inbound-00000000;1", "Local/s@inbound-00000000;2"}
    assert call.caller_num == "+15551230001"


def test_bridge_flow_calls_end() -> None:
    tracker, updates, _ = replay("06-bridge-flow.txt")
    assert tracker.calls and all(c.state is CallState.ENDED for c in tracker.calls.values())
    assert any(u.change == "bridged" for u in updates)


def test_local_half_with_other_linkedid_joins_its_partner() -> None:
    tracker = CallTracker()
    one = Newchannel(channel="Local/1001@agents-00000001;1", uniqueid="10.1", linkedid="10.1")
    two = Newchannel(channel="Local/1001@agents-00000001;2", uniqueid="10.2", linkedid="99.9")
    tracker.feed(one, 1.0)
    tracker.feed(two, 1.0)
    assert list(tracker.calls) == ["10.1"] and len(tracker.calls["10.1"].channels) == 2
    assert tracker.local_peer("Local/1001@agents-00000001;2") == "Local/1001@agents-00000001;1"
    assert local_base("PJSIP/1001-00000001") is None


def test_state_changes_follow_the_table() -> None:
    tracker = CallTracker()
    chan = {"uniqueid": "1.1", "linkedid": "1.1", "channel": "PJSIP/a-1"}
    agent = {"uniqueid": "1.2", "linkedid": "1.1", "channel": "PJSIP/b-2"}
    tracker.feed(Newchannel(**chan, channel_state_desc="Ring", caller_id_num="+1555"), 0.0)
    assert tracker.calls["1.1"].state is CallState.RINGING
    tracker.feed(Newstate(**chan, channel_state_desc="Up"), 1.0)
    tracker.feed(Newchannel(**agent, channel_state_desc="Down"), 2.0)
    tracker.feed(BridgeEnter(**chan, bridge_uniqueid="br", bridge_num_channels=1), 3.0)
    assert tracker.calls["1.1"].state is CallState.UP
    tracker.feed(BridgeEnter(**agent, bridge_uniqueid="br", bridge_num_channels=2), 3.0)
    assert tracker.calls["1.1"].state is CallState.BRIDGED
    assert tracker.feed(Newstate(**chan, channel_state_desc="Up"), 3.5) == []  # no move
    tracker.feed(BridgeLeave(**agent, bridge_uniqueid="br"), 4.0)
    assert tracker.calls["1.1"].state is CallState.UP
    tracker.feed(Hangup(**agent), 4.0)
    updates = tracker.feed(Hangup(**chan), 5.0)
    call = tracker.calls["1.1"]
    assert updates[-1].change == "ended" and updates[-1].previous is CallState.UP
    assert (call.answered_at, call.bridged_at, call.ended_at) == (1.0, 3.0, 5.0)
    assert call.duration(99) == 5.0 and call.wait_seconds(99) == 3.0
    assert (CallState.ENDED, "x") not in TRANSITIONS  # ENDED is final
    assert tracker.feed(Hangup(**chan), 6.0) == []  # a repeated Hangup changes nothing
    assert tracker.prune(100.0, keep_seconds=60) == ["1.1"] and tracker.calls == {}


def test_resync_ends_vanished_calls_and_adopts_survivors() -> None:
    tracker = CallTracker()
    gone = {"uniqueid": "5.1", "linkedid": "5.1", "channel": "PJSIP/gone-1"}
    kept = {"uniqueid": "6.1", "linkedid": "6.1", "channel": "PJSIP/kept-1"}
    tracker.feed(Newchannel(**gone, channel_state_desc="Up"), 0.0)
    tracker.feed(Newchannel(**kept, channel_state_desc="Ring"), 0.0)
    live = [
        CoreShowChannel(**kept, channel_state_desc="Up", bridge_id="br-1"),
        CoreShowChannel(uniqueid="6.2", linkedid="6.1", channel="PJSIP/agent-2",
                        channel_state_desc="Up", bridge_id="br-1"),
        CoreShowChannel(uniqueid="7.1", linkedid="7.1", channel="PJSIP/new-1",
                        channel_state_desc="Up", caller_id_num="+1999"),
    ]  # fmt: skip
    updates = tracker.resync(live, 10.0)
    assert tracker.calls["5.1"].state is CallState.ENDED and tracker.calls["5.1"].ended_at == 10.0
    assert tracker.calls["6.1"].state is CallState.BRIDGED
    assert tracker.calls["7.1"].state is CallState.UP and tracker.calls["7.1"].caller_num == "+1999"
    assert {u.change for u in updates} >= {"ended", "bridged", "started", "answered"}
    assert tracker.resync(live, 11.0) == []  # idempotent


def test_resync_from_the_real_core_show_channels() -> None:
    _, _, events = replay("05-lists.txt")
    listed = [e for e in events if isinstance(e, CoreShowChannel)]
    tracker = CallTracker()
    tracker.resync(listed, 0.0)
    (call,) = tracker.calls.values()
    assert call.linkedid == "1795381348.2" and call.state is CallState.UP
    assert len(call.channels) == 2

"""The cluster bus's pure parts: frame packing (payload sizes, spilling), parsing,
ordering, the standby's replica and the forwarded actions' shapes. No event loop."""

from __future__ import annotations

import itertools
import json

import pytest

from config.errors import (
    IllegalTransition,
    InvalidInput,
    LeaderUnavailable,
    NotFound,
    RemoteError,
    RemoteProtocolError,
)
from switchboard.cluster import frames, rpc
from switchboard.cluster.frames import Ordering, Verdict
from switchboard.cluster.replica import Replica


def event(n: int, size: int = 10) -> dict[str, object]:
    return {"e": {"type": "agent_state", "n": n, "pad": "x" * size}}


def unpack(packed: list[frames.Packed]) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    for one in packed:
        frame = frames.parse(one.payload, limit=frames.MAX_SPILLED)
        assert isinstance(frame, frames.Frame)
        items.extend(frame.items)
    return items


def test_small_items_share_frames_under_the_notify_limit_in_order() -> None:
    items = [event(n, 200) for n in range(500)]
    packed = frames.pack(items, source="a", epoch="t1", first_seq=7)
    assert len(packed) > 1
    assert all(len(p.payload) <= frames.MAX_PAYLOAD and not p.spill for p in packed)
    assert all(len(p.payload.encode()) == len(p.payload) for p in packed)  # bytes == chars
    assert unpack(packed) == items
    seqs = [p.frame.seq for p in packed]
    assert seqs[0] == 7
    assert all(b.frame.seq == a.frame.seq + a.frame.count for a, b in itertools.pairwise(packed))


@pytest.mark.parametrize("size", [7_000, 7_900, 8_000, 50_000, 2_000_000])
def test_an_item_too_big_for_one_notify_is_spilled_whole_never_dropped(size: int) -> None:
    items = [event(1), event(2, size), event(3)]
    packed = frames.pack(items, source="a", epoch="t1", first_seq=0)
    assert unpack(packed) == items
    for one in packed:
        if one.spill:
            assert one.frame.items == (items[1],)
        else:
            assert len(one.payload) <= frames.MAX_PAYLOAD
    assert any(p.spill for p in packed) == (len(frames.dumps(items[1])) > 7_800)


def test_non_ascii_text_is_escaped_so_the_limit_counts_bytes() -> None:
    items = [{"e": {"type": "call_update", "caller": "Пётр 📞" * 300}}]
    packed = frames.pack(items, source="a", epoch="t", first_seq=0)
    for one in packed:
        assert one.payload.isascii()
        assert one.spill or len(one.payload.encode("utf-8")) <= frames.MAX_PAYLOAD
    assert unpack(packed) == items


def test_no_items_is_one_heartbeat_frame_at_the_next_number() -> None:
    (beat,) = frames.pack([], source="a", epoch="t", first_seq=42)
    parsed = frames.parse(beat.payload)
    assert isinstance(parsed, frames.Frame)
    assert (parsed.seq, parsed.count) == (42, 0)


def test_a_spill_pointer_parses_and_must_match_its_frame() -> None:
    (packed,) = frames.pack([event(1, 9_000)], source="a", epoch="t", first_seq=3)
    pointer = frames.parse(json.dumps({"s": "a", "e": "t", "q": 3, "n": 1, "ref": 99}))
    assert pointer == frames.Spilled("a", "t", 3, 1, 99)
    assert isinstance(pointer, frames.Spilled)
    assert frames.parse_spilled(packed.payload, pointer).items == packed.frame.items
    other = frames.Spilled("a", "t", 4, 1, 99)
    with pytest.raises(RemoteProtocolError):
        frames.parse_spilled(packed.payload, other)


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        "[]",
        '{"s": "a", "e": "t", "q": 1}',
        '{"s": "a", "e": "t", "q": true, "n": 0, "i": []}',
        '{"s": "a", "e": "t", "q": 1, "n": 2, "i": [{}]}',
        '{"s": "a", "e": "t", "q": 1, "n": 1, "i": [3]}',
        "x" * 8_000,
    ],
)
def test_garbage_on_the_bus_is_refused(payload: str) -> None:
    with pytest.raises(RemoteProtocolError):
        frames.parse(payload)


def test_ordering_tells_in_order_stale_gap_and_new_term() -> None:
    order = Ordering()
    assert order.check("t1", 0, 3) is Verdict.NEW_TERM
    assert order.check("t1", 3, 2) is Verdict.IN_ORDER
    assert order.check("t1", 5, 0) is Verdict.IN_ORDER  # heartbeat
    assert order.check("t1", 3, 2) is Verdict.STALE  # sent again after a reconnect
    assert order.check("t1", 4, 0) is Verdict.STALE
    assert order.check("t1", 9, 1) is Verdict.GAP  # 5..8 missed
    assert order.check("t1", 10, 1) is Verdict.IN_ORDER
    assert order.check("t1", 12, 0) is Verdict.GAP  # a heartbeat shows the tail was lost
    assert order.check("t2", 0, 1) is Verdict.NEW_TERM
    assert order.check("t1", 13, 1) is Verdict.STALE  # the old leader's last words
    assert order.check("t2", 1, 1) is Verdict.IN_ORDER
    order.reset()
    assert order.check("t2", 2, 1) is Verdict.NEW_TERM  # after a reconnect: resync
    assert order.check("t1", 14, 0) is Verdict.STALE


def bundle() -> dict[str, object]:
    agent = {"agent_id": "1001", "state": "wrap_up", "call_id": None, "queues": ["sales"]}
    return {
        "snapshot": {
            "now": 1.0,
            "queues": [{"name": "sales", "waiting": 1}, {"name": "support", "waiting": 0}],
            "agents": [agent, {"agent_id": "1002", "state": "ready", "call_id": None}],
            "calls": [{"call_id": "c2", "state": "waiting", "queue": "sales", "agent_id": None}],
            "intervals": [{"start": 0}],
        },
        "current": {"1001": {"call_id": "c1", "state": "ended", "agent_id": "1001"}},
        "supervisors": {"sales": ["sam"], "support": []},
    }


def test_replica_is_not_ready_until_a_bundle_then_mirrors_the_leader() -> None:
    replica = Replica(clock=lambda: 5.0)
    assert not replica.ready and replica.snapshot()["agents"] == []
    replica.reset(bundle())
    assert replica.ready
    assert replica.current_call("1001") == {"call_id": "c1", "state": "ended", "agent_id": "1001"}
    assert replica.current_call("1002") is None
    with pytest.raises(NotFound):
        replica.current_call("9999")
    assert replica.queues_for_supervisor("sam") == {"sales", "support"}
    assert replica.queues_for_supervisor("lena") == {"support"}
    assert replica.snapshot()["now"] == 5.0


def test_replica_applies_events_as_the_console_sees_them() -> None:
    replica = Replica()
    replica.reset(bundle())
    ringing = {"call_id": "c2", "state": "ringing", "queue": "sales", "agent_id": "1002"}
    replica.apply({"type": "screen_pop", "agent_id": "1002", "call": ringing, "card": {}})
    replica.apply(
        {
            "type": "agent_state",
            "agent_id": "1002",
            "agent": {"agent_id": "1002", "state": "on_call", "call_id": "c2"},
        }
    )
    assert replica.current_call("1002") == ringing
    replica.apply(
        {"type": "queue_stats", "queue": "sales", "stats": {"name": "sales", "waiting": 0}}
    )
    assert {q["name"]: q["waiting"] for q in replica.snapshot()["queues"]} == {
        "sales": 0,
        "support": 0,
    }
    replica.apply(
        {
            "type": "agent_state",
            "agent_id": "1002",
            "agent": {"agent_id": "1002", "state": "wrap_up", "call_id": None},
        }
    )
    replica.apply({"type": "call_ended", "call_id": "c2", "agent_id": "1002", "queue": "sales"})
    assert replica.call("c2") is None
    assert replica.snapshot()["calls"] == []
    assert replica.current_call("1002") == {**ringing, "state": "ended"}  # the wrap-up screen
    replica.apply(
        {
            "type": "agent_state",
            "agent_id": "1002",
            "agent": {"agent_id": "1002", "state": "ready", "call_id": None},
        }
    )
    assert replica.current_call("1002") is None
    replica.apply({"type": "wallboard", "intervals": [{"start": 1}, {"start": 2}]})
    assert len(replica.snapshot()["intervals"]) == 2
    replica.invalidate()
    assert not replica.ready


def test_only_console_actions_with_short_string_arguments_are_forwarded() -> None:
    ok = {"m": "set_agent_state", "a": ["1001", "ready", ""], "k": {"forced_by": None}}
    assert rpc.checked_call(ok) == ("set_agent_state", ["1001", "ready", ""], {"forced_by": None})
    for bad in (
        {"m": "stop", "a": []},
        {"m": "_execute", "a": []},
        {"m": "hold", "a": []},
        {"m": "hold", "a": [1]},
        {"m": "hold", "a": [None]},
        {"m": "hold", "a": ["x" * 2_000]},
        {"m": "dial", "a": ["1001", "5551234"], "k": {"evil": "1"}},
    ):
        with pytest.raises(InvalidInput):
            rpc.checked_call(bad)


@pytest.mark.parametrize(
    "exc",
    [
        NotFound("no agent '7'"),
        IllegalTransition("on_call", "make the agent ready"),
        InvalidInput("agent 1002 is not ready", field="target"),
        LeaderUnavailable("overloaded"),
        RemoteError("Asterisk is gone"),
    ],
)
def test_the_leaders_errors_come_back_as_the_same_kind(exc: Exception) -> None:
    again = rpc.error_from_json(json.loads(json.dumps(rpc.error_to_json(exc))))  # type: ignore[arg-type]
    assert type(again) is type(exc)
    assert str(again) == str(exc)
    assert getattr(again, "field", None) == getattr(exc, "field", None)


def test_an_unknown_error_from_the_leader_is_a_remote_error() -> None:
    assert type(rpc.error_from_json({"class": "SystemExit", "message": "x"})) is RemoteError
    assert type(rpc.error_from_json("garbage")) is RemoteError


def test_conversation_actions_carry_a_message_text_and_a_visitors_party() -> None:
    text = "é" * 20_000  # a long chat message: more than the 1,000 of other arguments
    ok = {"m": "conversation_reply", "a": ["1001", "chat:" + "a" * 32, text]}
    assert rpc.checked_call(ok)[1][2] == text
    party = {"name": "Ada", "phone": "+14155550100", "email": "ada@example.com"}
    opened = {
        "m": "visitor_open",
        "a": ["chat", "support", party, "Billing", "en"],
        "k": {"first_message": "Hello"},
    }
    assert rpc.checked_call(opened) == (
        "visitor_open",
        ["chat", "support", party, "Billing", "en"],
        {"first_message": "Hello"},
    )
    for bad in (
        {"m": "conversation_reply", "a": ["1001", "k", "x" * (rpc.MAX_TEXT + 1)]},
        {"m": "conversation_reply", "a": ["1001" * 300, "k", "hi"]},  # only text is long
        {"m": "visitor_open", "a": ["chat", "q", "not an object", "", ""]},
        {"m": "visitor_open", "a": ["chat", "q", {"name": {"nested": 1}}, "", ""]},
        {"m": "visitor_open", "a": ["chat", "q", {f"k{n}": "" for n in range(20)}, "", ""]},
        {"m": "visitor_message", "a": ["k", {"text": "hi"}]},  # an object only for party
    ):
        with pytest.raises(InvalidInput):
            rpc.checked_call(bad)


def test_replica_mirrors_conversations_as_the_leader_lists_them() -> None:
    replica = Replica()
    opened = {
        "key": "chat:1",
        "state": "waiting",
        "queue": "sales",
        "agent_id": None,
        "last_seq": 1,
        "first_response_at": None,
    }
    base = bundle()
    snap = dict(base["snapshot"])  # type: ignore[call-overload]
    replica.reset({**base, "snapshot": {**snap, "conversations": [opened]}})
    assert replica.conversation("chat:1") == opened
    assert replica.conversations_of("1001") == []
    active = {**opened, "state": "active", "agent_id": "1001"}
    replica.apply(
        {
            "type": "conversation_assigned",
            "agent_id": "1001",
            "queue": "sales",
            "conversation": active,
            "card": {},
        }
    )
    assert replica.conversations_of("1001") == [active]
    reply = {
        "conversation": "chat:1",
        "seq": 2,
        "sender": "agent",
        "agent_id": "1001",
        "name": "Alice",
        "text": "Hi",
        "at": 50.0,
        "meta": {},
    }
    replica.apply(
        {
            "type": "conversation_message",
            "agent_id": "1001",
            "queue": "sales",
            "conversation_key": "chat:1",
            "message": reply,
        }
    )
    mirrored = replica.conversation("chat:1") or {}
    assert (mirrored["last_seq"], mirrored["first_response_at"]) == (2, 50.0)
    assert replica.snapshot()["conversations"] == [mirrored]
    assert replica.agent_snapshot("1001")["conversations"] == [mirrored]  # type: ignore[index]
    closed = {**mirrored, "state": "closed"}
    replica.apply(
        {
            "type": "conversation_update",
            "agent_id": "1001",
            "queue": "sales",
            "conversation": closed,
        }
    )
    assert replica.conversations_of("1001") == [] and replica.snapshot()["conversations"] == []
    assert replica.conversation("chat:1") == closed  # recently closed: still readable
    replica.apply({"type": "visitor_event", "conversation_key": "chat:1", "event": {}})

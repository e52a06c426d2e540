"""Chats and emails in the ACD: per-agent, per-channel capacity (as Amazon Connect's
routing profiles), one global order across channels, wrap-up slots, logout, takeover,
the queue file's keys, and random mixed traffic that never breaks the rules (issue 16)."""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from config.errors import Conflict, InvalidInput, LocalError
from routing.acd import Acd, AcdSettings, AgentConfig, AgentState, MaxWaitAction, QueueConfig
from routing.acd import commands as cmd
from routing.acd import events as ev
from routing.acd.config import parse_queue_file
from routing.acd.model import CHANNELS, DEFAULT_CAPACITY

ALL = frozenset(CHANNELS)


def agent(
    agent_id: str,
    queues: Sequence[str] = ("q",),
    capacity: Mapping[str, int] | None = None,
    *,
    voice_during_digital: bool = False,
    **skills: int,
) -> AgentConfig:
    return AgentConfig(
        agent_id,
        agent_id.upper(),
        f"PJSIP/{agent_id}",
        skills,
        tuple(queues),
        capacity=dict(capacity or DEFAULT_CAPACITY),
        voice_during_digital=voice_during_digital,
    )


def queue(name: str = "q", **kwargs: Any) -> QueueConfig:
    kwargs.setdefault("channels", ALL)
    return QueueConfig(name, **kwargs)


def of(out: list[cmd.Command], kind: type) -> list:  # type: ignore[type-arg]
    return [c for c in out if isinstance(c, kind)]


def assigned(out: list[cmd.Command]) -> list[tuple[str, str]]:
    return [(c.call_id, c.agent_id) for c in of(out, cmd.AssignContact)]


def rings(out: list[cmd.Command]) -> list[tuple[str, str]]:
    return [(c.call_id, c.agent_id) for c in of(out, cmd.RingAgent)]


def ready(acd: Acd, agent_id: str, now: float) -> list[cmd.Command]:
    return acd.handle(ev.AgentStateRequest(agent_id, AgentState.READY), now)


def chat(call_id: str, queue_name: str = "q", **kwargs: Any) -> ev.CallQueued:
    return ev.CallQueued(call_id, queue_name, channel="chat", **kwargs)


def email(call_id: str, queue_name: str = "q", **kwargs: Any) -> ev.CallQueued:
    return ev.CallQueued(call_id, queue_name, channel="email", **kwargs)


# ---------------------------------------------------------------- capacity


def test_an_agent_at_three_chats_gets_no_fourth() -> None:
    acd = Acd([queue()], [agent("a", capacity={"chat": 3})])
    ready(acd, "a", 0)
    got = [assigned(acd.handle(chat(f"c{i}"), i + 1)) for i in range(4)]
    assert got == [[("c0", "a")], [("c1", "a")], [("c2", "a")], []]
    snap = acd.snapshot(5)
    assert snap["agents"]["a"]["load"] == {"chat": 3, "email": 0}
    assert snap["agents"]["a"]["contacts"] == ["c0", "c1", "c2"]
    assert snap["agents"]["a"]["state"] == "ready"  # the voice state is unchanged
    assert [w["call_id"] for w in snap["queues"]["q"]["waiting"]] == ["c3"]


def test_a_ready_agent_takes_several_contacts_in_one_event_up_to_capacity() -> None:
    acd = Acd([queue()], [agent("a", capacity={"chat": 2, "email": 1})])
    for i, event in enumerate([chat("c1"), email("e1"), chat("c2"), chat("c3"), email("e2")]):
        acd.handle(event, i)
    out = ready(acd, "a", 10)
    assert assigned(out) == [("c1", "a"), ("e1", "a"), ("c2", "a")]
    assert [c.channel for c in of(out, cmd.AssignContact)] == ["chat", "email", "chat"]
    assert [c.call_id for c in of(out, cmd.CallLeftQueue)] == ["c1", "e1", "c2"]
    assert acd.queue_stats("q")["waiting_by_channel"] == {"voice": 0, "chat": 1, "email": 1}
    assert acd.queue_stats("q")["answered"] == 3


def test_chat_and_email_capacities_are_separate() -> None:
    acd = Acd([queue()], [agent("a", capacity={"chat": 1, "email": 1})])
    ready(acd, "a", 0)
    assert assigned(acd.handle(chat("c1"), 1)) == [("c1", "a")]
    assert assigned(acd.handle(chat("c2"), 2)) == []
    assert assigned(acd.handle(email("e1"), 3)) == [("e1", "a")]


def test_a_capacity_of_zero_keeps_a_channel_away() -> None:
    acd = Acd(
        [queue()],
        [
            agent("voice_only", capacity={"chat": 0, "email": 0}),
            agent("chat_only", capacity={"voice": 0}),
        ],
    )
    ready(acd, "voice_only", 0)
    ready(acd, "chat_only", 1)  # longest idle is voice_only: still not given the chat
    assert assigned(acd.handle(chat("c1"), 2)) == [("c1", "chat_only")]
    assert rings(acd.handle(ev.CallQueued("v1", "q"), 3)) == [("v1", "voice_only")]
    assert rings(acd.handle(ev.CallQueued("v2", "q"), 4)) == []  # chat_only takes no calls


# ---------------------------------------------------------------- voice beside chats


def test_a_call_is_not_offered_to_an_agent_holding_a_chat_by_default() -> None:
    acd = Acd([queue(wrap_up=60)], [agent("a")])
    ready(acd, "a", 0)
    acd.handle(chat("c1"), 1)
    assert rings(acd.handle(ev.CallQueued("v1", "q"), 2)) == []
    # the chat ends and its wrap-up is saved: the slot is free and the call rings
    acd.handle(ev.CallEnded("c1"), 3)
    out = acd.handle(ev.ContactClosed("c1"), 4)
    assert of(out, cmd.ContactReleased) == [cmd.ContactReleased("c1", "a", "closed", "q")]
    assert rings(out) == [("v1", "a")]


def test_a_call_is_offered_during_chats_with_voice_during_digital() -> None:
    acd = Acd([queue()], [agent("a", voice_during_digital=True)])
    ready(acd, "a", 0)
    acd.handle(chat("c1"), 1)
    assert rings(acd.handle(ev.CallQueued("v1", "q"), 2)) == [("v1", "a")]
    # ringing, on the call and in its wrap-up the agent gets no chat; the one held stays
    assert assigned(acd.handle(chat("c2"), 3)) == []
    acd.handle(ev.AgentAnswered("v1", "a"), 4)
    assert assigned(acd.handle(chat("c3"), 5)) == []
    assert acd.snapshot(5)["agents"]["a"]["contacts"] == ["c1"]
    out = acd.handle(ev.CallEnded("v1"), 6)  # no wrap-up: ready, and the chats come in
    assert assigned(out) == [("c2", "a"), ("c3", "a")]


def test_an_agent_on_a_call_gets_chats_only_after_the_call_and_its_wrap_up() -> None:
    acd = Acd([queue(wrap_up=30)], [agent("a")])
    ready(acd, "a", 0)
    acd.handle(ev.CallQueued("v1", "q"), 1)
    acd.handle(ev.AgentAnswered("v1", "a"), 2)
    acd.handle(chat("c1"), 3)
    acd.handle(ev.CallEnded("v1"), 10)
    assert acd.agent_state("a") is AgentState.WRAP_UP
    assert assigned(acd.tick(20)) == []
    assert assigned(acd.handle(ev.WrapUpDone("a"), 25)) == [("c1", "a")]


# ---------------------------------------------------------------- freed slots


def test_the_wrap_up_limit_frees_an_ended_chats_slot_for_the_next() -> None:
    acd = Acd([queue(wrap_up=60)], [agent("a", capacity={"chat": 1})])
    ready(acd, "a", 0)
    acd.handle(chat("c1"), 1)
    acd.handle(chat("c2"), 2)
    out = acd.handle(ev.CallEnded("c1"), 10)  # conversation over: its wrap-up holds the slot
    assert of(out, cmd.ContactReleased) == []
    assert acd.snapshot(11)["agents"]["a"]["contacts"] == ["c1"]
    assert assigned(acd.tick(69)) == []
    out = acd.tick(70)
    assert of(out, cmd.ContactReleased) == [cmd.ContactReleased("c1", "a", "wrap_up_limit", "q")]
    assert assigned(out) == [("c2", "a")]
    assert acd.queue_stats("q")["aht"] == 69.0  # answered at 1, wrap-up limit at 70
    assert acd.handle(ev.ContactClosed("c1"), 80) == []  # already released: nothing


def test_a_queue_without_wrap_up_frees_the_slot_when_the_chat_ends() -> None:
    acd = Acd([queue()], [agent("a", capacity={"chat": 1})])
    ready(acd, "a", 0)
    acd.handle(chat("c1"), 1)
    acd.handle(chat("c2"), 2)
    out = acd.handle(ev.CallEnded("c1"), 5)
    assert of(out, cmd.ContactReleased) == [cmd.ContactReleased("c1", "a", "wrap_up_limit", "q")]
    assert assigned(out) == [("c2", "a")]


def test_closing_an_open_chat_ends_it_and_frees_the_slot() -> None:
    acd = Acd([queue(wrap_up=60)], [agent("a", capacity={"chat": 1})])
    ready(acd, "a", 0)
    acd.handle(chat("c1"), 1)
    acd.handle(chat("c2"), 2)
    out = acd.handle(ev.ContactClosed("c1"), 5)
    assert of(out, cmd.ContactReleased) == [cmd.ContactReleased("c1", "a", "closed", "q")]
    assert assigned(out) == [("c2", "a")]
    assert of(acd.tick(100), cmd.ContactReleased) == []  # no limit left behind for c1


def test_contact_closed_is_refused_for_calls_and_waiting_chats() -> None:
    acd = Acd([queue()], [agent("a")])
    acd.handle(ev.CallQueued("v1", "q"), 1)
    acd.handle(chat("c1"), 2)
    before = acd.snapshot(3)
    with pytest.raises(InvalidInput):
        acd.handle(ev.ContactClosed("v1"), 3)
    with pytest.raises(LocalError):  # still waiting: nothing to close
        acd.handle(ev.ContactClosed("c1"), 3)
    with pytest.raises(InvalidInput):
        acd.handle(ev.ContactClosed(""), 3)
    assert acd.snapshot(3) == before


def test_a_chat_that_leaves_before_an_agent_is_abandoned() -> None:
    acd = Acd([queue()], [agent("a")])
    acd.handle(chat("c1"), 0)
    acd.handle(email("e1"), 0)
    out = acd.handle(ev.CallAbandoned("c1"), 30)
    assert of(out, cmd.CallLeftQueue) == [cmd.CallLeftQueue("c1", "q", "abandoned")]
    acd.handle(ev.CallEnded("e1"), 31)  # ended while waiting: abandoned too
    stats = acd.queue_stats("q")
    assert stats["abandoned"] == 2 and stats["waiting"] == 0


# ---------------------------------------------------------------- one global order


def test_an_older_chat_goes_before_a_newer_call_to_an_agent_who_can_take_both() -> None:
    """The route key is the same for every channel: the agent takes the oldest contact
    first. With voice during digital, the call then rings them too."""
    acd = Acd([queue()], [agent("a", voice_during_digital=True), agent("b")])
    acd.handle(chat("c1"), 0)
    acd.handle(ev.CallQueued("v1", "q"), 5)
    out = ready(acd, "a", 10)
    assert assigned(out) == [("c1", "a")]
    assert rings(out) == [("v1", "a")]
    assert out.index(of(out, cmd.AssignContact)[0]) < out.index(of(out, cmd.RingAgent)[0])


def test_an_older_chat_first_keeps_the_call_waiting_without_voice_during_digital() -> None:
    acd = Acd([queue()], [agent("a"), agent("b")])
    acd.handle(chat("c1"), 0)
    acd.handle(ev.CallQueued("v1", "q"), 5)
    out = ready(acd, "a", 10)
    assert assigned(out) == [("c1", "a")] and rings(out) == []
    assert rings(ready(acd, "b", 11)) == [("v1", "b")]


def test_an_older_call_goes_first_and_the_ringing_agent_gets_no_chat() -> None:
    acd = Acd([queue()], [agent("a")])
    acd.handle(ev.CallQueued("v1", "q"), 0)
    acd.handle(chat("c1"), 5)
    out = ready(acd, "a", 10)
    assert rings(out) == [("v1", "a")] and assigned(out) == []


def test_priority_and_queue_weight_order_chats_and_calls_alike() -> None:
    acd = Acd(
        [queue("web", weight=0), queue("vip", weight=100)],
        [agent("a", ("web", "vip"), voice_during_digital=True)],
    )
    acd.handle(chat("old_chat", "web"), 0)
    acd.handle(ev.CallQueued("vip_call", "vip"), 50)  # 100 s head start beats 50 s waited
    acd.handle(chat("urgent", "web", priority=2), 60)  # 2 x 60 s of priority: best of all
    out = ready(acd, "a", 70)
    assert assigned(out) == [("urgent", "a")]
    assert rings(out) == [("vip_call", "a")]  # ringing now: old_chat waits for the call
    assert [w["call_id"] for w in acd.snapshot(70)["queues"]["web"]["waiting"]] == ["old_chat"]


def test_skills_apply_to_chats_as_to_calls() -> None:
    acd = Acd([queue(skills={"french": 2})], [agent("a", french=1), agent("b", french=3)])
    ready(acd, "a", 0)
    ready(acd, "b", 1)
    assert assigned(acd.handle(chat("c1"), 2)) == [("c1", "b")]


def test_a_returning_chat_customer_is_offered_to_their_last_agent_first() -> None:
    acd = Acd([queue()], [agent("a"), agent("b")], AcdSettings(sticky_offer_seconds=10))
    ready(acd, "a", 0)
    ready(acd, "b", 1)
    assert assigned(acd.handle(chat("c1", sticky_agent="b"), 2)) == [("c1", "b")]


# ---------------------------------------------------------------- not ready, logout


def test_not_ready_keeps_the_contacts_and_takes_nothing_new() -> None:
    acd = Acd([queue(wrap_up=30)], [agent("a", capacity={"chat": 3})])
    ready(acd, "a", 0)
    acd.handle(chat("c1"), 1)
    acd.handle(ev.AgentStateRequest("a", AgentState.NOT_READY, "break"), 2)
    assert assigned(acd.handle(chat("c2"), 3)) == []
    acd.handle(ev.CallEnded("c1"), 4)
    out = acd.handle(ev.ContactClosed("c1"), 5)
    assert of(out, cmd.ContactReleased) and assigned(out) == []
    assert acd.snapshot(5)["agents"]["a"]["load"] == {"chat": 0, "email": 0}
    acd.handle(chat("c3"), 6)
    assert assigned(ready(acd, "a", 7)) == [("c2", "a"), ("c3", "a")]


def test_logging_out_sends_open_contacts_to_the_front_and_releases_ended_ones() -> None:
    acd = Acd([queue(wrap_up=60)], [agent("a"), agent("b", capacity={"chat": 1})])
    ready(acd, "a", 0)
    acd.handle(chat("c1"), 1)
    acd.handle(email("e1"), 2)
    acd.handle(chat("c2"), 3)
    acd.handle(ev.CallEnded("c2"), 4)  # ended, in wrap-up
    acd.handle(chat("late"), 5)
    acd.handle(chat("later"), 6)
    acd.handle(chat("latest"), 7)
    waiting = acd.snapshot(8)["queues"]["q"]["waiting"]
    assert [w["call_id"] for w in waiting] == ["later", "latest"]  # c2's wrap-up holds a slot
    out = acd.handle(ev.AgentStateRequest("a", AgentState.LOGGED_OUT), 20)
    assert of(out, cmd.ContactReleased) == [cmd.ContactReleased("c2", "a", "logged_out", "q")]
    assert [c.call_id for c in of(out, cmd.ContactUnassigned)] == ["c1", "e1", "late"]
    assert [c.call_id for c in of(out, cmd.CallJoinedQueue)] == ["c1", "e1", "late"]
    assert of(out, cmd.AssignContact) == []  # nobody else is ready
    line = [w["call_id"] for w in acd.snapshot(21)["queues"]["q"]["waiting"]]
    assert line == ["c1", "e1", "late", "later", "latest"]  # back in their order, in front
    # the next agent takes the first of them
    assert assigned(ready(acd, "b", 22)) == [("c1", "b"), ("e1", "b")]
    snap = acd.snapshot(22)
    assert snap["agents"]["a"]["contacts"] == [] and snap["agents"]["a"]["load"]["chat"] == 0


def test_a_contact_handed_back_counts_as_a_new_entry_of_its_queue() -> None:
    acd = Acd([queue()], [agent("a"), agent("b")])
    ready(acd, "a", 0)
    acd.handle(chat("c1"), 10)
    acd.handle(ev.AgentStateRequest("a", AgentState.LOGGED_OUT), 100)
    out = ready(acd, "b", 105)
    assert assigned(out) == [("c1", "b")]
    stats = acd.queue_stats("q")
    assert stats["offered"] == 2 and stats["answered"] == 2
    assert stats["asa"] == 2.5  # waits of 0 s and 5 s: the second counts from the return


# ---------------------------------------------------------------- takeover


def test_an_adopted_chat_holds_a_slot_whatever_the_voice_state() -> None:
    acd = Acd([queue()], [agent("a", capacity={"chat": 2})])
    acd.handle(ev.CallAdopted("v1", "q", "a", since=0, answered_at=5), 10)  # on a call
    acd.handle(ev.CallAdopted("c1", "q", "a", since=1, answered_at=2, channel="chat"), 10)
    acd.handle(ev.CallAdopted("c2", "q", "a", since=1, channel="chat"), 10)
    snap = acd.snapshot(10)
    assert snap["agents"]["a"]["state"] == "on_call"
    assert snap["agents"]["a"]["contacts"] == ["c1", "c2"]
    assert snap["calls"]["c1"]["state"] == "connected" and snap["calls"]["c1"]["channel"] == "chat"
    with pytest.raises(Conflict):
        acd.handle(ev.CallAdopted("c1", "q", "a", since=1, channel="chat"), 10)
    acd.handle(ev.CallEnded("v1"), 20)  # ready; chats at capacity: nothing assigned
    assert assigned(acd.handle(chat("c3"), 21)) == []
    out = acd.handle(ev.ContactClosed("c1"), 22)
    assert assigned(out) == [("c3", "a")]
    assert acd.queue_stats("q")["answered"] == 4


def test_adopting_a_chat_past_capacity_keeps_it_and_assigns_no_more() -> None:
    acd = Acd([queue()], [agent("a", capacity={"chat": 1})])
    for i in range(2):
        acd.handle(ev.CallAdopted(f"c{i}", "q", "a", since=0, channel="chat"), 1)
    acd.handle(ev.AgentRestored("a", AgentState.READY, since=0), 1)
    assert assigned(acd.handle(chat("c9"), 2)) == []
    assert acd.snapshot(2)["agents"]["a"]["load"]["chat"] == 2


# ---------------------------------------------------------------- refusals, max wait


def test_a_channel_the_queue_does_not_take_is_refused() -> None:
    acd = Acd(
        [QueueConfig("phones"), queue("web", channels=frozenset({"chat"}))],
        [agent("a", ("phones", "web"))],
    )
    with pytest.raises(InvalidInput, match="takes voice, not chat"):
        acd.handle(chat("c1", "phones"), 0)
    with pytest.raises(InvalidInput):
        acd.handle(ev.CallQueued("v1", "web"), 0)
    with pytest.raises(InvalidInput):
        acd.handle(ev.CallQueued("s1", "web", channel="sms"), 0)
    with pytest.raises(InvalidInput):
        acd.handle(chat("c2", "web", callback_number="+15551234567"), 0)
    with pytest.raises(InvalidInput):
        acd.handle(ev.CallAdopted("c3", "phones", "a", since=0, channel="email"), 0)
    acd.handle(chat("c4", "web"), 1)
    with pytest.raises(InvalidInput):
        acd.handle(ev.MoveCall("c4", "phones"), 2)
    with pytest.raises(InvalidInput):
        acd.handle(ev.CallbackRequested("c4", "5551234"), 2)


def test_max_wait_only_overflows_a_digital_contact() -> None:
    acd = Acd(
        [
            queue("web", max_wait=30, max_wait_action=MaxWaitAction.HANGUP),
            queue(
                "mail", max_wait=60, max_wait_action=MaxWaitAction.OVERFLOW, max_wait_target="web"
            ),
            queue("full", max_length=1, join_empty=False),
        ],
        [agent("a", ("full",))],
    )
    acd.handle(email("e1", "web"), 0)
    acd.handle(email("e2", "mail"), 0)
    out = acd.tick(100)
    assert of(out, cmd.MaxWaitReached) == [cmd.MaxWaitReached("e2", "overflow", "web", "mail")]
    line = [w["call_id"] for w in acd.snapshot(100)["queues"]["web"]["waiting"]]
    assert line == ["e1", "e2"]
    # nobody logged in and a full line turn a call away, never a chat or an email
    for i in range(3):
        assert not of(acd.handle(chat(f"c{i}", "full"), 101), cmd.MaxWaitReached)
    assert acd.queue_stats("full")["waiting_by_channel"]["chat"] == 3


# ---------------------------------------------------------------- snapshot, voice-only


def test_snapshot_shows_capacity_load_contacts_and_channels() -> None:
    acd = Acd([queue()], [agent("a", capacity={"chat": 2, "email": 1})])
    ready(acd, "a", 0)
    acd.handle(email("e1"), 1)
    acd.handle(ev.CallQueued("v1", "q"), 2)
    snap = acd.snapshot(3)
    a = snap["agents"]["a"]
    assert a["capacity"] == {"voice": 1, "chat": 2, "email": 1}
    assert a["load"] == {"chat": 0, "email": 1}
    assert a["contacts"] == ["e1"]
    assert snap["queues"]["q"]["waiting"][0]["channel"] == "voice"
    assert snap["queues"]["q"]["waiting"][0]["requirement"] == {}  # no marks shown
    assert snap["queues"]["q"]["stats"]["waiting_by_channel"] == {
        "voice": 1,
        "chat": 0,
        "email": 0,
    }
    assert acd.agent_snapshot("a", 3) == a
    json.dumps(snap)


def test_a_voice_only_center_has_no_channel_marks_and_counts_voice() -> None:
    acd = Acd([QueueConfig("q", skills={"sales": 2})], [agent("a", sales=3)])
    ready(acd, "a", 0)
    acd.handle(ev.AgentStateRequest("a", AgentState.NOT_READY, "break"), 1)
    out = acd.handle(ev.CallQueued("v1", "q"), 2)
    stats = of(out, cmd.QueueStatsChanged)[-1].stats
    assert stats["waiting_by_channel"] == {"voice": 1, "chat": 0, "email": 0}
    # the requirement the router files the call under is the skill alone
    assert acd._calls["v1"].requirement == (("sales", 2),)


def test_a_reload_that_adds_a_chat_queue_routes_waiting_chats() -> None:
    acd = Acd([QueueConfig("q")], [agent("a", ("q",))])
    ready(acd, "a", 0)
    new_queues = (QueueConfig("q"), queue("web", channels=frozenset({"chat"})))
    agents = (agent("a", ("q", "web")),)
    acd.handle(ev.QueuesChanged(new_queues, agents), 1)
    assert assigned(acd.handle(chat("c1", "web"), 2)) == [("c1", "a")]
    assert rings(acd.handle(ev.CallQueued("v1", "q"), 3)) == []  # holding a chat
    # capacity lowered on reload: no more chats than the new capacity allows
    agents = (agent("a", ("q", "web"), capacity={"chat": 1}),)
    acd.handle(ev.QueuesChanged(new_queues, agents), 4)
    assert assigned(acd.handle(chat("c2", "web"), 5)) == []


# ---------------------------------------------------------------- queue file


def test_queue_file_reads_channels_capacity_and_voice_during_digital() -> None:
    loaded = parse_queue_file(
        {
            "capacity": {"chat": 4},
            "queues": {"web": {"channels": ["chat", "email"]}, "phones": {}},
            "agents": [
                {"id": "a", "name": "A", "endpoint": "PJSIP/a", "queues": ["web"]},
                {
                    "id": "b",
                    "name": "B",
                    "endpoint": "PJSIP/b",
                    "queues": ["web", "phones"],
                    "capacity": {"email": 5, "voice": 0},
                    "voice_during_digital": True,
                },
            ],
        },
        "queues.yaml",
    )
    web, phones = loaded.queues
    assert web.channels == frozenset({"chat", "email"})
    assert phones.channels == frozenset({"voice"})
    a, b = loaded.agents
    assert a.capacity == {"voice": 1, "chat": 4, "email": 2} and not a.voice_during_digital
    assert b.capacity == {"voice": 0, "chat": 4, "email": 5} and b.voice_during_digital


@pytest.mark.parametrize(
    ("data", "key", "says"),
    [
        ({"queues": {"q": {"channels": ["voice", "sms"]}}}, "queues.q.channels", "sms"),
        ({"queues": {"q": {"channels": []}}}, "queues.q.channels", "list of channels"),
        ({"queues": {"q": {"channels": "chat"}}}, "queues.q.channels", "list of channels"),
        ({"queues": {"q": {"channels": ["chat", "chat"]}}}, "queues.q.channels", "twice"),
        ({"queues": {"q": {}}, "capacity": {"fax": 1}}, "capacity.fax", "unknown channel"),
        ({"queues": {"q": {}}, "capacity": {"voice": 2}}, "capacity.voice", "0 to 1"),
        ({"queues": {"q": {}}, "capacity": []}, "capacity", "mapping"),
        ({"queues": {"q": {}}, "capacity": {"chat": 21}}, "capacity.chat", "0 to 20"),
        ({"queues": {"q": {}}, "capacity": {"chat": -1}}, "capacity.chat", "0 to 20"),
        ({"queues": {"q": {}}, "capacity": {"chat": "3"}}, "capacity.chat", "whole number"),
        ({"queues": {"q": {}}, "capacity": {"chat": True}}, "capacity.chat", "whole number"),
        (
            {
                "queues": {"q": {}},
                "agents": [
                    {"id": "a", "name": "A", "endpoint": "PJSIP/a", "capacity": {"email": 2.5}}
                ],
            },
            "agents[0].capacity.email",
            "whole number",
        ),
        (
            {
                "queues": {"q": {}},
                "agents": [
                    {
                        "id": "a",
                        "name": "A",
                        "endpoint": "PJSIP/a",
                        "voice_during_digital": "sometimes",
                    }
                ],
            },
            "agents[0].voice_during_digital",
            "true or false",
        ),
    ],
)
def test_bad_channel_settings_name_the_key(data: object, key: str, says: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_queue_file(data, "queues.yaml")
    assert info.value.field == key
    assert str(info.value).startswith(f"queues.yaml: {key}: ")
    assert says in str(info.value)


def test_configs_check_channels_and_capacity_themselves() -> None:
    with pytest.raises(InvalidInput):
        QueueConfig("q", channels=frozenset())
    with pytest.raises(InvalidInput):
        QueueConfig("q", channels=frozenset({"pigeon"}))
    with pytest.raises(InvalidInput):
        AgentConfig("a", "A", "PJSIP/a", capacity={"voice": 2})
    with pytest.raises(InvalidInput):
        AgentConfig("a", "A", "PJSIP/a", voice_during_digital=1)  # type: ignore[arg-type]
    assert AgentConfig("a", "A", "PJSIP/a", capacity={"chat": 7}).capacity == {
        "voice": 1,
        "chat": 7,
        "email": 2,
    }


# ---------------------------------------------------------------- random mixed traffic

QUEUES = (
    QueueConfig(
        "phones",
        skills={"sales": 2},
        wrap_up=5,
        max_wait=90,
        max_wait_action=MaxWaitAction.OVERFLOW,
        max_wait_target="shared",
    ),
    QueueConfig(
        "shared", channels=ALL, wrap_up=8, max_wait=60, max_wait_action=MaxWaitAction.CALLBACK
    ),
    QueueConfig(
        "web",
        channels=frozenset({"chat", "email"}),
        skills={"french": 1},
        max_wait=40,
        max_wait_action=MaxWaitAction.OVERFLOW,
        max_wait_target="shared",
    ),
)
AGENTS = (
    agent("a1", ("phones", "shared"), sales=3),
    agent("a2", ("shared", "web"), {"chat": 2, "email": 1}, voice_during_digital=True, french=2),
    agent("a3", ("web",), {"voice": 0, "chat": 4, "email": 3}, french=1),
    agent("a4", ("phones", "shared", "web"), {"chat": 1, "email": 0}, sales=2, french=1),
    agent("a5", ("shared",), {"chat": 0, "email": 0}),
)
CHANNEL_OF_QUEUE = {"phones": ("voice",), "shared": CHANNELS, "web": ("chat", "email")}


def _eligible(agent_snap: dict[str, Any], waiting: dict[str, Any], channel: str) -> bool:
    if any(agent_snap["skills"].get(s, 0) < lvl for s, lvl in waiting["requirement"].items()):
        return False
    if channel == "voice":
        return agent_snap["capacity"]["voice"] >= 1 and (
            not agent_snap["contacts"] or agent_snap["voice_during_digital"]
        )
    return agent_snap["load"][channel] < agent_snap["capacity"][channel]


def _mixed_event(rng: random.Random, snap: dict[str, Any], serial: int) -> ev.Event:
    calls = snap["calls"]
    by_state: dict[str, list[str]] = {}
    for call_id, c in calls.items():
        by_state.setdefault(c["state"], []).append(call_id)
    held = [c for a in snap["agents"].values() for c in a["contacts"]]
    roll = rng.random()
    if roll < 0.3:
        name = rng.choice(("phones", "shared", "web"))
        channel = rng.choice(CHANNEL_OF_QUEUE[name] + ("voice",))  # sometimes refused
        return ev.CallQueued(
            f"k{serial}",
            name,
            channel=channel,
            priority=rng.choice((0, 0, 1)),
            sticky_agent=rng.choice((None, None, "a2")),
        )
    if roll < 0.45:
        return ev.AgentStateRequest(
            rng.choice([a.agent_id for a in AGENTS]),
            rng.choice(
                (AgentState.READY, AgentState.READY, AgentState.NOT_READY, AgentState.LOGGED_OUT)
            ),
            "break" if rng.random() < 0.5 else "",
        )
    if roll < 0.55 and by_state.get("offered"):
        call_id = rng.choice(by_state["offered"])
        agent_id = calls[call_id]["agent_id"]
        if calls[call_id]["callback"]:
            return ev.CallbackResult(call_id, rng.random() < 0.5)
        return rng.choice((ev.AgentAnswered(call_id, agent_id), ev.RingNoAnswer(call_id, agent_id)))
    if roll < 0.68 and by_state.get("connected"):
        return ev.CallEnded(rng.choice(by_state["connected"]))
    if roll < 0.76 and held:
        return ev.ContactClosed(rng.choice(held))
    if roll < 0.8 and calls:
        return ev.CallAbandoned(rng.choice(list(calls)))
    if roll < 0.85:
        return ev.WrapUpDone(rng.choice([a.agent_id for a in AGENTS]))
    if roll < 0.9 and by_state.get("waiting"):
        return ev.MoveCall(rng.choice(by_state["waiting"]), rng.choice(("phones", "shared", "web")))
    if roll < 0.95:
        now = float(snap["at"])
        name = rng.choice(("shared", "web"))
        return ev.CallAdopted(
            f"k{serial}",
            name,
            rng.choice([a.agent_id for a in AGENTS]),
            since=now - 10,
            channel=rng.choice(("chat", "email")),
        )
    return ev.ContactClosed("ghost")


@pytest.mark.parametrize("seed", range(12))
def test_random_mixed_traffic_keeps_capacity_and_the_routing_invariant(seed: int) -> None:
    rng = random.Random(seed)
    acd = Acd(QUEUES, AGENTS, AcdSettings(seed=seed, sticky_offer_seconds=6))
    adopted_over: set[str] = set()  # agents an adoption may have put past capacity
    published: dict[str, Any] = {}
    now = 0.0
    assignments = refused = 0
    for serial in range(500):
        now += rng.choice((0.0, 0.5, 1.0, 3.0, 10.0))
        before = acd.snapshot(now)
        if rng.random() < 0.2:
            out = acd.tick(now)
        else:
            event = _mixed_event(rng, before, serial)
            try:
                out = acd.handle(event, now)
            except LocalError:
                refused += 1
                assert json.dumps(acd.snapshot(now), sort_keys=True) == json.dumps(
                    before, sort_keys=True
                ), f"refused {event} changed the engine"
                continue
            if isinstance(event, ev.CallAdopted):
                adopted_over.add(event.agent_id)
        snap = acd.snapshot(now)
        for c in of(out, cmd.QueueStatsChanged):
            published[c.queue] = c.stats
        for c in of(out, cmd.AssignContact):
            assignments += 1
            # only a ready agent is given one; within the event a call may ring them after
            assert snap["agents"][c.agent_id]["state"] in ("ready", "ringing")
            assert c.call_id in snap["agents"][c.agent_id]["contacts"]
        for agent_id, a in snap["agents"].items():
            loads = {"chat": 0, "email": 0}
            for call_id in a["contacts"]:
                loads[snap["calls"][call_id]["channel"]] += 1
            assert a["load"] == loads
            if agent_id not in adopted_over:
                assert all(a["load"][ch] <= a["capacity"][ch] for ch in loads), (agent_id, a)
        for name, q in snap["queues"].items():
            for a in snap["agents"].values():
                if a["state"] != "ready" or name not in a["queues"]:
                    continue
                for waiting in q["waiting"]:
                    assert not _eligible(a, waiting, waiting["channel"]), (
                        f"ready {a['name']} could take {waiting['call_id']} in {name}"
                    )
            stats = q["stats"]
            assert published[name] == acd.queue_stats(name)  # deltas never stale
            in_queue = sum(
                1
                for c in snap["calls"].values()
                if c["queue"] == name and c["state"] in ("waiting", "offered", "retry")
            )
            assert stats["offered"] == (
                stats["answered"]
                + stats["abandoned"]
                + stats["timed_out"]
                + stats["overflowed"]
                + stats["moved_out"]
                + stats["callbacks"]["failed"]
                + in_queue
            ), (name, stats)
            by = q["stats"]["waiting_by_channel"]
            assert sum(by.values()) == q["stats"]["waiting"]
            for channel in CHANNELS:
                assert by[channel] == sum(1 for w in q["waiting"] if w["channel"] == channel)
    assert assignments > 5 and refused > 0


# ---------------------------------------------------------------- against a full scan


def _room(agent: Any, channel: str) -> bool:
    """The capacity rule, recomputed from the agent's own contacts (not the marks)."""
    capacity = agent.config.capacity
    if channel == "voice":
        return capacity["voice"] >= 1 and (not agent.contacts or agent.config.voice_during_digital)
    held = sum(1 for c in agent.contacts.values() if c.channel == channel)
    return held < capacity[channel]


def _skilled(agent: Any, call: Any) -> bool:
    skills = agent.config.skills
    return all(skills.get(s, 0) >= lvl for s, lvl in call.requirement if not s.startswith("\0"))


class MixedReferee:
    """Each of the engine's searches checked against a scan of every call / agent with
    the capacity rule applied directly: the marks must select exactly the same one."""

    def __init__(self, acd: Acd) -> None:
        self.acd = acd
        self.found = 0
        self._best_call = acd._best_call
        self._best_agent = acd._best_agent
        acd._best_call = self.best_call  # type: ignore[method-assign]
        acd._best_agent = self.best_agent  # type: ignore[method-assign]

    def best_call(self, agent: Any) -> Any:
        got = self._best_call(agent)
        candidates = [
            call
            for call in self.acd._calls.values()
            if call.state.value == "waiting"
            and call.entry is not None
            and call.queue in agent.config.queues
            and _skilled(agent, call)
            and _room(agent, call.channel)
        ]
        want = min(candidates, key=lambda c: c.entry, default=None)
        assert got is want, (agent.agent_id, got, want)
        self.found += want is not None
        return got

    def best_agent(self, call: Any) -> Any:
        got = self._best_agent(call)
        queue = self.acd._queues[call.queue]
        candidates = [
            agent
            for agent in self.acd._agents.values()
            if agent.state is AgentState.READY
            and agent.entries
            and call.queue in agent.config.queues
            and _skilled(agent, call)
            and _room(agent, call.channel)
        ]
        want = min(candidates, key=lambda a: self.acd._agent_key(a, queue), default=None)
        assert got is want, (call.call_id, got, want)
        self.found += want is not None
        return got


@pytest.mark.parametrize("seed", range(8))
def test_mixed_choices_equal_a_full_scan_with_the_capacity_rule(seed: int) -> None:
    rng = random.Random(seed)
    acd = Acd(QUEUES, AGENTS, AcdSettings(seed=seed, sticky_offer_seconds=6))
    referee = MixedReferee(acd)
    now = 0.0
    for serial in range(400):
        now += rng.choice((0.0, 0.5, 1.0, 3.0, 10.0))
        if rng.random() < 0.2:
            acd.tick(now)
            continue
        with contextlib.suppress(LocalError):  # a refused event changes nothing
            acd.handle(_mixed_event(rng, acd.snapshot(now), serial), now)
        waiting = acd._waiting
        for channel, by_queue in waiting._heads.items():  # heads filed by their channel
            for name, heads in by_queue.items():
                assert all(acd._calls[h[3]].channel == channel for h in heads), (channel, name)
                groups = waiting._groups[name]
                firsts = {lst.head() for lst in groups.values()}
                assert set(heads) <= firsts
    assert referee.found > 10


def test_longest_idle_spreads_chats_over_the_ready_agents() -> None:
    acd = Acd([queue()], [agent("a"), agent("b"), agent("c")])
    for i, agent_id in enumerate("abc"):
        ready(acd, agent_id, i)
    got = [assigned(acd.handle(chat(f"c{i}"), 10 + i))[0][1] for i in range(6)]
    assert got == ["a", "b", "c", "a", "b", "c"]


def test_a_waiting_chat_is_told_its_place_and_an_email_is_not() -> None:
    acd = Acd([queue(announce_interval=20)], [agent("a")])
    acd.handle(chat("c1"), 0)
    acd.handle(email("e1"), 0)
    out = acd.tick(20)
    assert [c.call_id for c in of(out, cmd.Announce)] == ["c1"]
    assert acd.estimate_call("e1", 20).position == 2


def test_a_sticky_chat_skips_its_last_agent_when_they_have_no_room() -> None:
    acd = Acd(
        [queue()],
        [agent("a", capacity={"chat": 1}), agent("b")],
        AcdSettings(sticky_offer_seconds=10),
    )
    ready(acd, "b", 0)
    ready(acd, "a", 1)
    acd.handle(chat("c0"), 2)  # longest idle: b
    acd.handle(chat("c1"), 3)  # a, now full
    assert assigned(acd.handle(chat("c2", sticky_agent="a"), 4)) == [("c2", "b")]


def test_a_reload_cannot_remove_an_agent_who_holds_contacts() -> None:
    acd = Acd([queue()], [agent("a"), agent("b")])
    acd.handle(ev.CallAdopted("c1", "q", "a", since=0, channel="chat"), 1)  # a is logged out
    with pytest.raises(InvalidInput, match="logged in"):
        acd.handle(ev.QueuesChanged((queue(),), (agent("b"),)), 2)
    assert acd.snapshot(2)["agents"]["a"]["contacts"] == ["c1"]

"""The ACD's part of restart takeover: callers keep their place (``CallQueued.since``),
agents come back in their saved state (``AgentRestored``), calls found at an agent's phone
are taken over (``CallAdopted``). Pure: events and a hand-held clock."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from config.errors import Conflict, IllegalTransition, InvalidInput
from routing.acd import Acd, AgentConfig, AgentState, MaxWaitAction, QueueConfig
from routing.acd import commands as cmd
from routing.acd import events as ev


def agent(agent_id: str, queues: Sequence[str] = ("q",)) -> AgentConfig:
    return AgentConfig(agent_id, agent_id.upper(), f"PJSIP/{agent_id}", {}, tuple(queues))


def rings(out: list[cmd.Command]) -> list[tuple[str, str]]:
    return [(c.call_id, c.agent_id) for c in out if isinstance(c, cmd.RingAgent)]


def state(acd: Acd, agent_id: str, now: float) -> tuple[str, str, float]:
    a = acd.snapshot(now)["agents"][agent_id]
    return a["state"], a["reason"], a["since"]


def test_adopted_callers_reach_agents_in_their_original_order() -> None:
    acd = Acd([QueueConfig("q")], [agent("a")])
    for call_id, since in (("late", 95.0), ("first", 80.0), ("middle", 90.0)):
        acd.handle(ev.CallQueued(call_id, "q", since=since), 100.0)
    out = acd.handle(ev.AgentStateRequest("a", AgentState.READY), 101.0)
    order = []
    for n in range(3):
        ((call_id, _),) = rings(out)
        order.append(call_id)
        acd.handle(ev.AgentAnswered(call_id, "a"), 102.0 + n)
        out = acd.handle(ev.CallEnded(call_id), 102.5 + n)  # no wrap-up: the next rings
    assert order == ["first", "middle", "late"]


def test_max_wait_counts_from_the_original_queue_time() -> None:
    q = QueueConfig("q", max_wait=60, max_wait_action=MaxWaitAction.HANGUP)
    acd = Acd([q], [agent("a")])
    acd.handle(ev.CallQueued("c", "q", since=50.0), 100.0)
    fired = [c for c in acd.tick(111.0) if isinstance(c, cmd.MaxWaitReached)]
    assert [c.call_id for c in fired] == ["c"]


def test_since_after_now_is_refused() -> None:
    acd = Acd([QueueConfig("q")], [agent("a")])
    with pytest.raises(InvalidInput):
        acd.handle(ev.CallQueued("c", "q", since=200.0), 100.0)
    assert acd.snapshot(100.0)["calls"] == {}


def test_agents_come_back_in_their_state_from_its_real_start() -> None:
    acd = Acd([QueueConfig("q", wrap_up=30)], [agent("a"), agent("b"), agent("c")])
    acd.handle(ev.AgentRestored("a", AgentState.NOT_READY, "lunch", since=40.0), 100.0)
    acd.handle(
        ev.AgentRestored("b", AgentState.WRAP_UP, since=90.0, wrap_up_until=110.0, wrap_queue="q"),
        100.0,
    )
    acd.handle(ev.AgentRestored("c", AgentState.READY, since=70.0), 100.0)
    assert state(acd, "a", 100.0) == ("not_ready", "lunch", 40.0)
    assert state(acd, "b", 100.0) == ("wrap_up", "", 90.0)
    assert state(acd, "c", 100.0) == ("ready", "", 70.0)
    acd.tick(110.5)
    assert state(acd, "b", 111.0)[0] == "ready"  # the wrap-up ended when it was due
    with pytest.raises(IllegalTransition):  # only once, at start-up
        acd.handle(ev.AgentRestored("c", AgentState.NOT_READY, "break"), 112.0)
    fresh = Acd([QueueConfig("q")], [agent("a")])
    with pytest.raises(InvalidInput):  # ringing and talking come back with CallAdopted
        fresh.handle(ev.AgentRestored("a", AgentState.ON_CALL), 112.0)
    assert state(fresh, "a", 112.0)[0] == "logged_out"


def test_a_restored_ready_agent_takes_the_waiting_caller() -> None:
    acd = Acd([QueueConfig("q")], [agent("a")])
    acd.handle(ev.CallQueued("c", "q", since=90.0), 100.0)
    out = acd.handle(ev.AgentRestored("a", AgentState.READY, since=95.0), 100.0)
    assert rings(out) == [("c", "a")]


def test_an_adopted_connected_call_ends_into_wrap_up_with_its_talk_time() -> None:
    acd = Acd([QueueConfig("q", wrap_up=30)], [agent("a")])
    out = acd.handle(ev.CallAdopted("c", "q", "a", since=50.0, answered_at=60.0), 100.0)
    assert rings(out) == []
    assert state(acd, "a", 100.0)[0] == "on_call"
    acd.handle(ev.CallEnded("c"), 120.0)
    snap = acd.snapshot(120.0)
    assert snap["agents"]["a"]["state"] == "wrap_up"
    assert snap["agents"]["a"]["talk_seconds"] == pytest.approx(60.0)
    assert snap["queues"]["q"]["stats"]["answered"] == 1


def test_an_adopted_ring_is_answered_or_goes_back_to_the_front() -> None:
    acd = Acd([QueueConfig("q")], [agent("a"), agent("b")])
    out = acd.handle(ev.CallAdopted("c", "q", "a", since=50.0), 100.0)
    assert rings(out) == [] and state(acd, "a", 100.0)[0] == "ringing"
    acd.handle(ev.AgentAnswered("c", "a"), 101.0)
    assert state(acd, "a", 101.0)[0] == "on_call"

    acd2 = Acd([QueueConfig("q")], [agent("a"), agent("b")])
    acd2.handle(ev.CallAdopted("c", "q", "a", since=50.0), 100.0)
    acd2.handle(ev.CallQueued("later", "q", since=60.0), 100.0)
    acd2.handle(ev.RingNoAnswer("c", "a"), 110.0)
    assert state(acd2, "a", 110.0)[:2] == ("not_ready", "no answer")
    out = acd2.handle(ev.AgentStateRequest("b", AgentState.READY), 111.0)
    assert rings(out) == [("c", "b")]  # back at the front of its line


def test_the_caller_gone_while_an_adopted_ring_rings_leaves_the_agent_ready() -> None:
    acd = Acd([QueueConfig("q")], [agent("a")])
    acd.handle(ev.CallAdopted("c", "q", "a", since=50.0), 100.0)
    acd.handle(ev.CallAbandoned("c"), 101.0)
    assert state(acd, "a", 101.0)[:2] == ("ready", "")


def test_a_normal_ring_cancelled_by_the_caller_leaves_the_agent_ready() -> None:
    acd = Acd([QueueConfig("q")], [agent("a")])
    acd.handle(ev.AgentStateRequest("a", AgentState.READY), 0.0)
    assert rings(acd.handle(ev.CallQueued("c", "q"), 1.0)) == [("c", "a")]
    acd.handle(ev.CallAbandoned("c"), 3.0)
    assert state(acd, "a", 3.0)[:2] == ("ready", "")


def test_an_agent_busy_with_another_call_cannot_adopt_one() -> None:
    acd = Acd([QueueConfig("q")], [agent("a")])
    acd.handle(ev.CallAdopted("c1", "q", "a", since=50.0, answered_at=55.0), 100.0)
    with pytest.raises(Conflict):
        acd.handle(ev.CallAdopted("c2", "q", "a", since=60.0), 100.0)
    assert set(acd.snapshot(100.0)["calls"]) == {"c1"}

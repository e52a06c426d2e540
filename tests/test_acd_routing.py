"""Routing policies of the ACD engine, driven with events and a hand-held clock."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pytest

from config.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from routing.acd import (
    Acd,
    AcdSettings,
    AgentConfig,
    AgentState,
    MaxWaitAction,
    QueueConfig,
    Strategy,
    Widening,
)
from routing.acd import commands as cmd
from routing.acd import events as ev


def agent(agent_id: str, queues: Sequence[str] = ("q",), **skills: int) -> AgentConfig:
    return AgentConfig(agent_id, agent_id.upper(), f"PJSIP/{agent_id}", skills, tuple(queues))


def rings(out: list[cmd.Command]) -> list[tuple[str, str]]:
    return [(c.call_id, c.agent_id) for c in out if isinstance(c, cmd.RingAgent)]


def of(out: list[cmd.Command], kind: type) -> list:  # type: ignore[type-arg]
    return [c for c in out if isinstance(c, kind)]


def ready(acd: Acd, agent_id: str, now: float) -> list[cmd.Command]:
    return acd.handle(ev.AgentStateRequest(agent_id, AgentState.READY), now)


def busy(acd: Acd, agent_id: str, now: float) -> None:
    acd.handle(ev.AgentStateRequest(agent_id, AgentState.NOT_READY, "break"), now)


# ---------------------------------------------------------------- priority and aging


def test_vip_beats_a_normal_caller_who_waited_a_little_longer() -> None:
    q = QueueConfig("q", tier_priority={"vip": 3}, priority_seconds=60)
    acd = Acd([q], [agent("a")])
    acd.handle(ev.CallQueued("normal", "q"), 0)
    acd.handle(ev.CallQueued("vip", "q", tier="vip"), 10)
    assert acd.estimate_call("vip", 11).position == 1
    assert rings(ready(acd, "a", 20)) == [("vip", "a")]


def test_joining_tells_the_shell_the_moh_class_position_and_estimate() -> None:
    q = QueueConfig("q", moh="jazz", default_handle_time=90)
    acd = Acd([q], [agent("a")])
    acd.handle(ev.AgentStateRequest("a", AgentState.NOT_READY, "break"), 0)
    acd.handle(ev.CallQueued("c1", "q"), 1)
    out = acd.handle(ev.CallQueued("c2", "q"), 2)
    assert of(out, cmd.CallJoinedQueue) == [cmd.CallJoinedQueue("c2", "q", 2, 180.0, "jazz")]
    assert acd.queue_config("q").moh == "jazz"
    assert acd.agent_config("a").endpoint == "PJSIP/a"
    with pytest.raises(NotFound):
        acd.queue_config("nope")


def test_explicit_ivr_priority_also_counts() -> None:
    acd = Acd([QueueConfig("q", priority_seconds=30)], [agent("a")])
    acd.handle(ev.CallQueued("low", "q"), 0)
    acd.handle(ev.CallQueued("high", "q", priority=1), 20)
    assert rings(ready(acd, "a", 25)) == [("high", "a")]


def test_aging_a_long_waiting_normal_caller_beats_a_new_vip() -> None:
    q = QueueConfig("q", tier_priority={"vip": 3}, priority_seconds=60)
    acd = Acd([q], [agent("a")])
    acd.handle(ev.CallQueued("normal", "q"), 0)
    acd.handle(ev.CallQueued("vip", "q", tier="vip"), 181)  # head start 180 s < 181 s
    assert rings(ready(acd, "a", 200)) == [("normal", "a")]


def test_a_low_priority_queue_is_not_starved_by_a_busy_weighted_one() -> None:
    hot = QueueConfig("hot", weight=120)  # a 120 s head start over "cold"
    cold = QueueConfig("cold")
    acd = Acd([hot, cold], [agent("a", ("hot", "cold"))])
    acd.handle(ev.CallQueued("cold-1", "cold"), 0)
    for t in range(10, 310, 10):  # the hot queue never runs dry
        acd.handle(ev.CallQueued(f"hot-{t}", "hot"), t)
    served = []
    out = ready(acd, "a", 400)
    for i in range(20):
        ((call_id, _),) = rings(out)
        served.append(call_id)
        acd.handle(ev.AgentAnswered(call_id, "a"), 401 + i)
        out = acd.handle(ev.CallEnded(call_id), 401 + i)
    # strict priority would leave cold-1 waiting until the hot queue empties; with
    # aging it goes right after the hot callers who arrived within its 120 s head start
    assert served.index("cold-1") == 11
    assert served[:11] == [f"hot-{t}" for t in range(10, 120, 10)]


# ---------------------------------------------------------------- one global router


def test_agent_in_two_queues_gets_the_caller_who_waited_longest_across_queues() -> None:
    acd = Acd(
        [QueueConfig("sales"), QueueConfig("support")],
        [agent("a", ("sales", "support"))],
    )
    acd.handle(ev.CallQueued("s1", "sales"), 5)
    acd.handle(ev.CallQueued("t1", "support"), 0)
    acd.handle(ev.CallQueued("s2", "sales"), 1)
    order = []
    out = ready(acd, "a", 10)
    for t in range(3):
        ((call_id, _),) = rings(out)
        order.append(call_id)
        acd.handle(ev.AgentAnswered(call_id, "a"), 11 + t * 10)
        out = acd.handle(ev.CallEnded(call_id), 12 + t * 10)  # no wrap-up: next ring
    assert order == ["t1", "s2", "s1"]


def test_a_caller_the_agent_cannot_serve_does_not_block_the_next_one() -> None:
    acd = Acd([QueueConfig("q")], [agent("a", sales=2)])
    acd.handle(ev.CallQueued("french", "q", skills={"french": 1}), 0)
    acd.handle(ev.CallQueued("sales", "q", skills={"sales": 2}), 5)
    assert rings(ready(acd, "a", 10)) == [("sales", "a")]


# ---------------------------------------------------------------- strategies


def _serve(acd: Acd, call_id: str, now: float) -> str:
    out = acd.handle(ev.CallQueued(call_id, "q"), now)
    ((_, agent_id),) = rings(out)
    acd.handle(ev.AgentAnswered(call_id, agent_id), now + 1)
    acd.handle(ev.CallEnded(call_id), now + 2)
    return agent_id


def _team(strategy: Strategy, seed: int = 0) -> Acd:
    acd = Acd(
        [QueueConfig("q", strategy=strategy)],
        [agent("a1"), agent("a2"), agent("a3")],
        AcdSettings(seed=seed),
    )
    ready(acd, "a2", 0)
    ready(acd, "a3", 1)
    ready(acd, "a1", 2)
    return acd


def test_longest_idle_picks_the_agent_ready_the_longest() -> None:
    acd = _team(Strategy.LONGEST_IDLE)
    assert [_serve(acd, f"c{i}", 10 + 10 * i) for i in range(4)] == ["a2", "a3", "a1", "a2"]


def test_linear_always_tries_the_first_listed_agent() -> None:
    acd = _team(Strategy.LINEAR)
    assert [_serve(acd, f"c{i}", 10 + 10 * i) for i in range(3)] == ["a1", "a1", "a1"]


def test_round_robin_rotates() -> None:
    acd = _team(Strategy.ROUND_ROBIN)
    assert [_serve(acd, f"c{i}", 10 + 10 * i) for i in range(6)] == [
        "a1", "a2", "a3", "a1", "a2", "a3",
    ]  # fmt: skip


def test_fewest_calls_balances_calls() -> None:
    acd = _team(Strategy.FEWEST_CALLS)
    served = [_serve(acd, f"c{i}", 10 + 10 * i) for i in range(6)]
    assert Counter(served) == {"a1": 2, "a2": 2, "a3": 2}
    assert served[:3] == ["a2", "a3", "a1"]  # ties broken by longest idle


def test_random_is_seeded_and_spreads_calls() -> None:
    runs = []
    for _ in range(2):
        acd = _team(Strategy.RANDOM, seed=7)
        runs.append([_serve(acd, f"c{i}", 10 + 10 * i) for i in range(30)])
    assert runs[0] == runs[1]
    assert set(runs[0]) == {"a1", "a2", "a3"}
    other = _team(Strategy.RANDOM, seed=8)
    assert [_serve(other, f"c{i}", 10 + 10 * i) for i in range(30)] != runs[0]


# ---------------------------------------------------------------- skills


def test_skill_requirement_picks_a_qualified_agent() -> None:
    acd = Acd(
        [QueueConfig("q", skills={"billing": 3})], [agent("a1", billing=2), agent("a2", billing=4)]
    )
    ready(acd, "a1", 0)
    ready(acd, "a2", 1)
    assert rings(acd.handle(ev.CallQueued("c", "q"), 2)) == [("c", "a2")]


def test_multi_skill_requirement_checks_every_skill() -> None:
    acd = Acd(
        [QueueConfig("q")],
        [agent("a1", billing=5), agent("a2", billing=3, french=2), agent("a3", french=5)],
    )
    for i, a in enumerate(("a1", "a2", "a3")):
        ready(acd, a, i)
    out = acd.handle(ev.CallQueued("c", "q", skills={"billing": 3, "french": 2}), 5)
    assert rings(out) == [("c", "a2")]


def test_required_levels_widen_with_waiting_time() -> None:
    q = QueueConfig("q", skills={"sales": 4}, widening=Widening(every=30, step=1, floor=1))
    acd = Acd([q], [agent("junior", sales=2)])
    ready(acd, "junior", 0)
    assert rings(acd.handle(ev.CallQueued("c", "q"), 0)) == []
    assert rings(acd.tick(29)) == []
    assert rings(acd.tick(30)) == []  # now needs 3
    assert acd.snapshot(31)["queues"]["q"]["waiting"][0]["requirement"] == {"sales": 3}
    assert rings(acd.tick(60)) == [("c", "junior")]  # needs 2


def test_widening_to_floor_zero_drops_the_skill() -> None:
    q = QueueConfig("q", skills={"german": 1}, widening=Widening(every=10, floor=0))
    acd = Acd([q], [agent("a")])
    ready(acd, "a", 0)
    acd.handle(ev.CallQueued("c", "q"), 0)
    assert rings(acd.tick(10)) == [("c", "a")]


# ---------------------------------------------------------------- sticky agent


def test_returning_customer_is_offered_to_their_last_agent_first() -> None:
    acd = Acd(
        [QueueConfig("q", ring_timeout=20)],
        [agent("a1"), agent("a2")],
        AcdSettings(sticky_offer_seconds=8),
    )
    ready(acd, "a1", 0)  # a1 idle longest: would normally get the call
    ready(acd, "a2", 1)
    out = acd.handle(ev.CallQueued("c", "q", sticky_agent="a2"), 5)
    (ring,) = of(out, cmd.RingAgent)
    assert (ring.agent_id, ring.ring_timeout) == ("a2", 8)


def test_sticky_agent_freeing_up_within_the_window_gets_the_caller() -> None:
    acd = Acd([QueueConfig("q")], [agent("a1"), agent("a2")], AcdSettings(sticky_offer_seconds=10))
    acd.handle(ev.CallQueued("older", "q"), 0)
    acd.handle(ev.CallQueued("c", "q", sticky_agent="a2"), 5)
    assert rings(ready(acd, "a2", 12)) == [("c", "a2")]  # ahead of "older"
    assert rings(ready(acd, "a1", 13)) == [("older", "a1")]


def test_sticky_window_expires() -> None:
    acd = Acd([QueueConfig("q")], [agent("a1"), agent("a2")], AcdSettings(sticky_offer_seconds=10))
    acd.handle(ev.CallQueued("older", "q"), 0)
    acd.handle(ev.CallQueued("c", "q", sticky_agent="a2"), 5)
    assert rings(ready(acd, "a2", 16)) == [("older", "a2")]


def test_unknown_sticky_agent_is_ignored() -> None:
    acd = Acd([QueueConfig("q")], [agent("a")])
    ready(acd, "a", 0)
    assert rings(acd.handle(ev.CallQueued("c", "q", sticky_agent="gone"), 1)) == [("c", "a")]


# ---------------------------------------------------------------- ring no answer


def test_ring_no_answer_puts_the_call_at_the_front_and_the_agent_not_ready() -> None:
    acd = Acd([QueueConfig("q")], [agent("a1"), agent("a2")])
    acd.handle(ev.CallQueued("c1", "q"), 0)
    acd.handle(ev.CallQueued("c2", "q", priority=5), 1)  # would normally be ahead of c1
    assert rings(ready(acd, "a1", 2)) == [("c2", "a1")]
    acd.handle(ev.CallQueued("c3", "q", priority=9), 3)
    out = acd.handle(ev.RingNoAnswer("c2", "a1"), 10)
    (change,) = of(out, cmd.AgentStateChanged)
    assert (change.state, change.reason) == (AgentState.NOT_READY, "no answer")
    assert acd.estimate_call("c2", 10).position == 1
    assert rings(ready(acd, "a2", 11)) == [("c2", "a2")]


def test_engine_gives_up_on_a_ring_the_shell_never_reported() -> None:
    q = QueueConfig("q", ring_timeout=15)
    acd = Acd([q], [agent("a1"), agent("a2")], AcdSettings(ring_grace_seconds=5))
    ready(acd, "a1", 0)
    acd.handle(ev.CallQueued("c", "q"), 1)
    ready(acd, "a2", 2)
    assert acd.tick(20) == []
    out = acd.tick(21)
    assert of(out, cmd.CancelRing) == [cmd.CancelRing("c", "a1")]
    assert rings(out) == [("c", "a2")]
    assert acd.agent_state("a1") is AgentState.NOT_READY


def test_wrong_agent_answering_is_refused() -> None:
    acd = Acd([QueueConfig("q")], [agent("a1"), agent("a2")])
    ready(acd, "a1", 0)
    acd.handle(ev.CallQueued("c", "q"), 1)
    with pytest.raises(InvalidInput):
        acd.handle(ev.AgentAnswered("c", "a2"), 2)
    assert acd.agent_state("a1") is AgentState.RINGING


def test_caller_hanging_up_while_ringing_frees_the_agent_keeping_their_idle_rank() -> None:
    acd = Acd([QueueConfig("q")], [agent("a1"), agent("a2")])
    ready(acd, "a1", 0)
    ready(acd, "a2", 5)
    acd.handle(ev.CallQueued("c1", "q"), 10)
    acd.handle(ev.CallAbandoned("c1"), 12)
    assert acd.agent_state("a1") is AgentState.READY
    assert rings(acd.handle(ev.CallQueued("c2", "q"), 13)) == [("c2", "a1")]


# ---------------------------------------------------------------- max wait, max length


def test_max_wait_overflows_into_the_target_queue() -> None:
    sales = QueueConfig(
        "sales", max_wait=60, max_wait_action=MaxWaitAction.OVERFLOW, max_wait_target="support"
    )
    acd = Acd([sales, QueueConfig("support")], [agent("a", ("support",))])
    ready(acd, "a", 0)
    acd.handle(ev.CallQueued("c", "sales"), 0)
    assert acd.tick(59) == []
    out = acd.tick(60)
    assert cmd.CallLeftQueue("c", "sales", "overflow") in out
    assert cmd.MaxWaitReached("c", "overflow", "support", "sales") in out
    assert cmd.CallJoinedQueue("c", "support", 1, 0.0, "default") in out
    assert rings(out) == [("c", "a")]
    assert acd.queue_stats("sales")["overflowed"] == 1
    assert acd.queue_stats("support")["offered"] == 1


@pytest.mark.parametrize("action", [MaxWaitAction.VOICEMAIL, MaxWaitAction.HANGUP])
def test_max_wait_voicemail_or_hangup_takes_the_call_out(action: MaxWaitAction) -> None:
    q = QueueConfig("q", max_wait=30, max_wait_action=action, max_wait_target="box-1")
    acd = Acd([q], [agent("a")])
    acd.handle(ev.CallQueued("c", "q"), 0)
    out = acd.tick(30)
    assert cmd.MaxWaitReached("c", action.value, "box-1", "q") in out
    assert cmd.CallLeftQueue("c", "q", "max_wait") in out
    assert acd.queue_stats("q")["timed_out"] == 1
    with pytest.raises(NotFound):
        acd.handle(ev.CallAbandoned("c"), 31)


def test_max_wait_callback_offers_once_and_the_caller_keeps_waiting() -> None:
    q = QueueConfig("q", max_wait=30, max_wait_action=MaxWaitAction.CALLBACK, announce_interval=0)
    acd = Acd([q], [agent("a")])
    acd.handle(ev.CallQueued("c", "q"), 0)
    assert of(acd.tick(30), cmd.MaxWaitReached) == [cmd.MaxWaitReached("c", "callback", "", "q")]
    assert acd.tick(100) == []
    assert acd.estimate_call("c", 100).position == 1


def test_max_length_turns_callers_away() -> None:
    q = QueueConfig(
        "q", max_length=1, max_wait_action=MaxWaitAction.VOICEMAIL, max_wait_target="vm"
    )
    acd = Acd([q], [agent("a")])
    acd.handle(ev.CallQueued("c1", "q"), 0)
    out = acd.handle(ev.CallQueued("c2", "q"), 1)
    assert cmd.CallLeftQueue("c2", "q", "full") in out
    assert cmd.MaxWaitReached("c2", "voicemail", "vm", "q") in out
    assert acd.queue_stats("q")["rejected"] == 1
    # a callback does not take a line, so a full queue still accepts it
    acd.handle(ev.CallQueued("c3", "q", callback_number="+15551230000"), 2)
    assert acd.queue_stats("q")["waiting"] == 2


def test_full_queue_overflows_and_loops_end() -> None:
    a = QueueConfig("a", max_length=1, max_wait_action=MaxWaitAction.OVERFLOW, max_wait_target="b")
    b = QueueConfig("b", max_length=1, max_wait_action=MaxWaitAction.OVERFLOW, max_wait_target="a")
    acd = Acd([a, b], [])
    acd.handle(ev.CallQueued("c1", "a"), 0)
    out = acd.handle(ev.CallQueued("c2", "a"), 1)
    assert cmd.MaxWaitReached("c2", "overflow", "b", "a") in out
    assert acd.estimate_call("c2", 1).position == 1
    out = acd.handle(ev.CallQueued("c3", "a"), 2)
    assert cmd.CallLeftQueue("c3", "a", "full") in out
    assert cmd.CallLeftQueue("c3", "b", "full") in out
    assert cmd.MaxWaitReached("c3", "hangup", "", "b") in out
    with pytest.raises(NotFound):
        acd.estimate_call("c3", 3)


def test_join_empty_false_refuses_callers_when_nobody_is_logged_in() -> None:
    q = QueueConfig(
        "q", join_empty=False, max_wait_action=MaxWaitAction.HANGUP, max_wait_target="closed"
    )
    acd = Acd([q], [agent("a")])
    out = acd.handle(ev.CallQueued("c1", "q"), 0)
    assert cmd.CallLeftQueue("c1", "q", "no_agents") in out
    busy(acd, "a", 1)  # logged in, on a break: callers may wait
    out = acd.handle(ev.CallQueued("c2", "q"), 2)
    assert not of(out, cmd.CallLeftQueue)


# ---------------------------------------------------------------- callbacks


def test_callback_keeps_its_place_and_starts_when_it_reaches_the_front() -> None:
    acd = Acd([QueueConfig("q")], [agent("a")])
    acd.handle(ev.CallQueued("c1", "q"), 0)
    acd.handle(ev.CallQueued("c2", "q"), 10)
    out = acd.handle(ev.CallbackRequested("c1", "+15551234567"), 20)
    assert of(out, cmd.CallbackLogged)[0].outcome == "requested"
    acd.handle(ev.CallQueued("c3", "q"), 30)
    assert acd.estimate_call("c1", 31).position == 1
    out = ready(acd, "a", 40)
    (start,) = of(out, cmd.StartCallback)
    assert (start.call_id, start.agent_id, start.number, start.attempt) == (
        "c1", "a", "+15551234567", 1,
    )  # fmt: skip
    assert not rings(out)
    out = acd.handle(ev.CallbackResult("c1", True), 50)
    assert acd.agent_state("a") is AgentState.ON_CALL
    assert [c.outcome for c in of(out, cmd.CallbackLogged)] == ["connected"]


def test_failed_callback_retries_in_place_then_gives_up() -> None:
    q = QueueConfig("q", callback_attempts=2, callback_retry=60)
    acd = Acd([q], [agent("a")])
    acd.handle(ev.CallQueued("cb", "q", callback_number="5551234"), 0)
    acd.handle(ev.CallQueued("live", "q"), 1)
    out = ready(acd, "a", 5)
    assert of(out, cmd.StartCallback)[0].attempt == 1
    out = acd.handle(ev.CallbackResult("cb", False), 10)
    assert [c.outcome for c in of(out, cmd.CallbackLogged)] == ["failed"]
    assert rings(out) == [("live", "a")]  # the agent is free again at once
    acd.handle(ev.AgentAnswered("live", "a"), 11)
    out = acd.handle(ev.CallEnded("live"), 20)
    assert acd.agent_state("a") is AgentState.READY
    assert not of(out, cmd.StartCallback)  # retry not due yet
    out = acd.tick(70)
    assert of(out, cmd.StartCallback)[0].attempt == 2
    out = acd.handle(ev.CallbackResult("cb", False), 75)
    assert cmd.CallLeftQueue("cb", "q", "callback_failed") in out
    assert [c.outcome for c in of(out, cmd.CallbackLogged)] == ["gave_up"]
    assert acd.queue_stats("q")["callbacks"] == {"requested": 1, "connected": 0, "failed": 1}


def test_callback_needs_a_valid_number_and_a_waiting_call() -> None:
    acd = Acd([QueueConfig("q")], [agent("a")])
    acd.handle(ev.CallQueued("c", "q"), 0)
    with pytest.raises(InvalidInput):
        acd.handle(ev.CallbackRequested("c", "555\r\nAction: Originate"), 1)
    acd.handle(ev.CallbackRequested("c", "5551234"), 1)
    with pytest.raises(InvalidInput):
        acd.handle(ev.CallbackRequested("c", "5551234"), 2)
    with pytest.raises(IllegalTransition):
        acd.handle(ev.CallbackResult("c", True), 3)


# ---------------------------------------------------------------- announcements, estimates


def test_announcements_give_position_and_estimate_periodically() -> None:
    q = QueueConfig("q", announce_interval=30, default_handle_time=120)
    acd = Acd([q], [agent("a")])
    busy(acd, "a", 0)
    acd.handle(ev.CallQueued("c1", "q"), 0)
    acd.handle(ev.CallQueued("c2", "q"), 10)
    assert of(acd.tick(30), cmd.Announce) == [cmd.Announce("c1", 1, 120.0)]
    assert of(acd.tick(40), cmd.Announce) == [cmd.Announce("c2", 2, 240.0)]
    assert of(acd.tick(60), cmd.Announce) == [cmd.Announce("c1", 1, 120.0)]
    acd.handle(ev.CallbackRequested("c1", "5551234"), 61)
    # a stalled clock gives one announcement, not a burst of missed ones
    assert of(acd.tick(200), cmd.Announce) == [cmd.Announce("c2", 2, 240.0)]
    assert of(acd.tick(229), cmd.Announce) == []
    assert of(acd.tick(230), cmd.Announce) == [cmd.Announce("c2", 2, 240.0)]


def test_estimate_for_a_new_caller() -> None:
    q = QueueConfig("q", default_handle_time=100)
    acd = Acd([q], [agent("a1"), agent("a2")])
    assert acd.estimate("q", 0).seconds == 100.0  # nobody staffed: as if one agent
    ready(acd, "a1", 0)
    assert acd.estimate("q", 0) == acd.estimate("q", 0).__class__(1, 0.0, 1)
    acd.handle(ev.CallQueued("c1", "q"), 1)  # a1 rings, busy
    ready(acd, "a2", 1)
    acd.handle(ev.CallQueued("c2", "q"), 2)  # a2 rings
    est = acd.estimate("q", 3)
    assert (est.position, est.agents_ready) == (1, 0)
    assert est.seconds == pytest.approx(100 / 3, abs=0.1)
    with pytest.raises(NotFound):
        acd.estimate("nope", 0)


# ---------------------------------------------------------------- supervisor operations


def test_supervisor_pulls_a_ringing_agent_and_the_call_goes_back_to_front() -> None:
    acd = Acd([QueueConfig("q")], [agent("a1"), agent("a2")])
    acd.handle(ev.CallQueued("c0", "q"), 0)
    ready(acd, "a1", 1)  # rings c0
    acd.handle(ev.CallQueued("c1", "q", priority=3), 2)
    with pytest.raises(IllegalTransition):  # an agent cannot walk away from a ringing call
        busy(acd, "a1", 3)
    out = acd.handle(ev.AgentStateRequest("a1", AgentState.LOGGED_OUT, forced_by="sup"), 4)
    change = of(out, cmd.AgentStateChanged)[0]
    assert (change.state, change.forced_by) == (AgentState.LOGGED_OUT, "sup")
    assert cmd.CancelRing("c0", "a1") in out
    assert acd.estimate_call("c0", 4).position == 1
    assert rings(ready(acd, "a2", 5)) == [("c0", "a2")]


def test_supervisor_cannot_log_out_an_agent_on_a_call() -> None:
    acd = Acd([QueueConfig("q")], [agent("a")])
    ready(acd, "a", 0)
    acd.handle(ev.CallQueued("c", "q"), 1)
    acd.handle(ev.AgentAnswered("c", "a"), 2)
    with pytest.raises(IllegalTransition):
        acd.handle(ev.AgentStateRequest("a", AgentState.LOGGED_OUT, forced_by="sup"), 3)
    assert acd.agent_state("a") is AgentState.ON_CALL


def test_supervisor_moves_a_waiting_call_keeping_its_seniority() -> None:
    acd = Acd([QueueConfig("sales"), QueueConfig("support")], [agent("a", ("support",))])
    acd.handle(ev.CallQueued("c1", "sales"), 0)
    acd.handle(ev.CallQueued("c2", "support"), 5)
    out = acd.handle(ev.MoveCall("c1", "support"), 10)
    assert cmd.CallLeftQueue("c1", "sales", "moved") in out
    assert acd.estimate_call("c1", 10).position == 1
    assert rings(ready(acd, "a", 11)) == [("c1", "a")]
    assert acd.queue_stats("sales")["moved_out"] == 1
    with pytest.raises(IllegalTransition):  # now ringing: cannot be moved
        acd.handle(ev.MoveCall("c1", "sales"), 12)
    with pytest.raises(InvalidInput):
        acd.handle(ev.MoveCall("c2", "support"), 12)
    with pytest.raises(NotFound):
        acd.handle(ev.MoveCall("c2", "nowhere"), 12)


def test_bad_not_ready_reason_and_unknown_ids_are_refused() -> None:
    acd = Acd([QueueConfig("q")], [agent("a")])
    with pytest.raises(InvalidInput):
        acd.handle(ev.AgentStateRequest("a", AgentState.NOT_READY, "nap"), 0)
    with pytest.raises(InvalidInput):
        acd.handle(ev.AgentStateRequest("a", AgentState.ON_CALL), 0)
    with pytest.raises(NotFound):
        acd.handle(ev.AgentStateRequest("zz", AgentState.READY), 0)
    with pytest.raises(NotFound):
        acd.handle(ev.CallQueued("c", "nope"), 0)
    acd.handle(ev.CallQueued("c", "q"), 0)
    with pytest.raises(Conflict):
        acd.handle(ev.CallQueued("c", "q"), 1)
    with pytest.raises(InvalidInput):
        acd.handle(ev.CallQueued("d", "q", skills={"x": 9}), 1)
    assert acd.agent_state("a") is AgentState.LOGGED_OUT


# ---------------------------------------------------------------- run-time changes


def test_queues_change_at_run_time_without_losing_waiting_calls() -> None:
    acd = Acd([QueueConfig("q")], [agent("a")])
    acd.handle(ev.CallQueued("c1", "q"), 0)
    acd.handle(ev.CallQueued("c2", "q", tier="vip"), 10)
    new = (QueueConfig("q", tier_priority={"vip": 1}), QueueConfig("extra"))
    agents = (agent("a", ("q", "extra")), agent("b", ("extra",)))
    acd.handle(ev.QueuesChanged(new, agents), 20)
    assert acd.estimate_call("c2", 20).position == 1
    assert acd.estimate_call("c1", 20).position == 2
    assert acd.agent_state("b") is AgentState.LOGGED_OUT
    assert rings(ready(acd, "a", 21)) == [("c2", "a")]


def test_queue_change_that_would_drop_calls_is_refused() -> None:
    acd = Acd([QueueConfig("q"), QueueConfig("r")], [agent("a")])
    acd.handle(ev.CallQueued("c1", "r"), 0)
    with pytest.raises(InvalidInput):
        acd.handle(ev.QueuesChanged((QueueConfig("q"),)), 1)
    ready(acd, "a", 2)
    with pytest.raises(InvalidInput):  # "a" is logged in
        acd.handle(ev.QueuesChanged((QueueConfig("q"), QueueConfig("r")), ()), 3)
    with pytest.raises(InvalidInput):
        acd.handle(ev.QueuesChanged((QueueConfig("q"),), (agent("a", ("gone",)),)), 3)
    assert acd.estimate_call("c1", 4).position == 1


def test_setup_errors() -> None:
    with pytest.raises(InvalidInput):
        Acd([QueueConfig("q"), QueueConfig("q")], [])
    with pytest.raises(InvalidInput):
        Acd([QueueConfig("q")], [agent("a", ("nope",))])
    with pytest.raises(InvalidInput):
        Acd([QueueConfig("q", max_wait_action=MaxWaitAction.OVERFLOW, max_wait_target="x")], [])
    with pytest.raises(InvalidInput):
        AgentConfig("a", "A", "PJSIP/1\r\n", {}, ())
    with pytest.raises(InvalidInput):
        QueueConfig("q", ring_timeout=0)

"""Restart takeover in the pure ACD engine: adopted callers keep their place in line,
agents come back in their saved state, calls found at an agent's phone go on as calls.
Every refusal changes nothing."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from config.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from routing.acd import Acd, AgentConfig, AgentState, MaxWaitAction, QueueConfig, Widening
from routing.acd import commands as cmd
from routing.acd import events as ev

START = 1000.0  # the restarted service's clock; every "since" below is before it


def agent(agent_id: str, queues: Sequence[str] = ("q",), **skills: int) -> AgentConfig:
    return AgentConfig(agent_id, agent_id.upper(), f"PJSIP/{agent_id}", skills, tuple(queues))


def of(out: list[cmd.Command], kind: type) -> list:  # type: ignore[type-arg]
    return [c for c in out if isinstance(c, kind)]


def rings(out: list[cmd.Command]) -> list[tuple[str, str]]:
    return [(c.call_id, c.agent_id) for c in of(out, cmd.RingAgent)]


def states(out: list[cmd.Command]) -> list[tuple[str, AgentState, str, float]]:
    return [(c.agent_id, c.state, c.reason, c.since) for c in of(out, cmd.AgentStateChanged)]


def frozen(acd: Acd, now: float) -> str:
    return json.dumps(acd.snapshot(now), sort_keys=True)


def ready(acd: Acd, agent_id: str, now: float) -> list[cmd.Command]:
    return acd.handle(ev.AgentStateRequest(agent_id, AgentState.READY), now)


def stats(acd: Acd, queue: str, now: float) -> dict[str, object]:
    return dict(acd.snapshot(now)["queues"][queue]["stats"])


# ---------------------------------------------------------------- CallQueued(since=...)


def test_adopted_callers_reach_agents_in_original_arrival_order_not_adoption_order() -> None:
    acd = Acd([QueueConfig("q")], [agent("a1"), agent("a2"), agent("a3")], now=START)
    # the takeover finds them in channel-list order, which is not arrival order
    for call_id, since in (("mid", 940.0), ("last", 990.0), ("first", 900.0)):
        out = acd.handle(ev.CallQueued(call_id, "q", since=since), START)
        assert of(out, cmd.CallJoinedQueue)
    assert [w["call_id"] for w in acd.snapshot(START)["queues"]["q"]["waiting"]] == [
        "first",
        "mid",
        "last",
    ]
    assert acd.estimate_call("first", START).position == 1
    offered = [rings(ready(acd, a, START + i))[0][0] for i, a in enumerate(("a1", "a2", "a3"))]
    assert offered == ["first", "mid", "last"]


def test_a_new_caller_queues_behind_an_adopted_one_who_arrived_before_the_crash() -> None:
    acd = Acd([QueueConfig("q")], [agent("a")], now=START)
    acd.handle(ev.CallQueued("new", "q"), START)
    acd.handle(ev.CallQueued("old", "q", since=950.0), START + 1)
    assert rings(ready(acd, "a", START + 2)) == [("old", "a")]


def test_an_adopted_caller_waits_from_since_in_the_snapshot_and_the_wait_statistics() -> None:
    acd = Acd([QueueConfig("q", service_level=20)], [agent("a")], now=START)
    acd.handle(ev.CallQueued("c", "q", since=970.0), START)
    assert acd.snapshot(START)["queues"]["q"]["waiting"][0]["waited"] == 30.0
    assert acd.snapshot(START)["calls"]["c"]["arrived_at"] == 970.0
    ready(acd, "a", START + 5)
    acd.handle(ev.AgentAnswered("c", "a"), START + 6)
    figures = stats(acd, "q", START + 6)
    assert figures["asa"] == 36.0  # counted from 970, so outside the 20 s service level
    assert figures["answered_within_sl"] == 0


def test_max_wait_fires_relative_to_since() -> None:
    q = QueueConfig("q", max_wait=60, max_wait_action=MaxWaitAction.VOICEMAIL, max_wait_target="vm")
    acd = Acd([q], [agent("a")], now=START)
    acd.handle(ev.CallQueued("c", "q", since=START - 50), START)
    assert acd.next_timer() == START + 10
    assert acd.tick(START + 9.9) == []
    out = acd.tick(START + 10)
    assert [(m.call_id, m.action, m.target) for m in of(out, cmd.MaxWaitReached)] == [
        ("c", "voicemail", "vm")
    ]
    assert [(c.call_id, c.reason) for c in of(out, cmd.CallLeftQueue)] == [("c", "max_wait")]


def test_a_caller_adopted_after_its_max_wait_has_passed_is_handled_on_the_next_tick() -> None:
    q = QueueConfig("q", max_wait=60, max_wait_action=MaxWaitAction.HANGUP)
    acd = Acd([q], [agent("a")], now=START)
    acd.handle(ev.CallQueued("c", "q", since=START - 300), START)
    out = acd.tick(START)
    assert [m.call_id for m in of(out, cmd.MaxWaitReached)] == ["c"]


def test_priority_aging_counts_from_since() -> None:
    # a VIP (3 levels x 60 s) who arrived after the crash loses to a caller adopted with
    # 200 s of waiting behind them, as they would have if the service had never stopped
    q = QueueConfig("q", tier_priority={"vip": 3}, priority_seconds=60)
    acd = Acd([q], [agent("a")], now=START)
    acd.handle(ev.CallQueued("vip", "q", tier="vip"), START)
    acd.handle(ev.CallQueued("old", "q", since=START - 200), START)
    assert rings(ready(acd, "a", START + 1)) == [("old", "a")]


def test_skill_widening_counts_from_since() -> None:
    q = QueueConfig("q", skills={"billing": 4}, widening=Widening(every=30, step=1, floor=1))
    acd = Acd([q], [agent("low", billing=2)], now=START)
    ready(acd, "low", START)
    # waited 65 s already: billing 4 -> 3 (30 s) -> 2 (60 s): "low" qualifies at once
    out = acd.handle(ev.CallQueued("c", "q", since=START - 65), START)
    assert rings(out) == [("c", "low")]


@pytest.mark.parametrize("since", [START + 0.5, float("nan"), float("inf"), float("-inf")])
def test_a_since_after_now_or_not_a_time_is_refused_and_changes_nothing(since: float) -> None:
    acd = Acd([QueueConfig("q")], [agent("a")], now=START)
    before = frozen(acd, START)
    with pytest.raises(InvalidInput) as info:
        acd.handle(ev.CallQueued("c", "q", since=since), START)
    assert info.value.field == "since"
    assert frozen(acd, START) == before


# ---------------------------------------------------------------- AgentRestored


def test_a_restored_ready_agent_gets_the_best_waiting_call_at_once() -> None:
    acd = Acd([QueueConfig("q")], [agent("a")], now=START)
    acd.handle(ev.CallQueued("later", "q", since=START - 10), START)
    acd.handle(ev.CallQueued("earlier", "q", since=START - 40), START)
    out = acd.handle(ev.AgentRestored("a", AgentState.READY, since=START - 100), START)
    assert states(out) == [
        ("a", AgentState.READY, "", START - 100),
        ("a", AgentState.RINGING, "", START),
    ]
    assert rings(out) == [("earlier", "a")]


def test_a_restored_ready_agent_keeps_since_and_longest_idle_rank() -> None:
    acd = Acd([QueueConfig("q")], [agent("a1"), agent("a2"), agent("a3")], now=START)
    ready(acd, "a3", START)  # logged in after the restart
    acd.handle(ev.AgentRestored("a1", AgentState.READY, since=START - 100), START)
    out = acd.handle(ev.AgentRestored("a2", AgentState.READY, since=START - 300), START + 1)
    assert states(out) == [("a2", AgentState.READY, "", START - 300)]
    assert acd.snapshot(START + 1)["agents"]["a2"]["since"] == START - 300
    # a2 has been idle longest (since before the crash), then a1, then a3
    offered = [rings(acd.handle(ev.CallQueued(c, "q"), START + 2))[0] for c in ("x", "y", "z")]
    assert offered == [("x", "a2"), ("y", "a1"), ("z", "a3")]


def test_a_restored_not_ready_agent_keeps_reason_and_since_and_gets_no_call() -> None:
    acd = Acd([QueueConfig("q")], [agent("a")], now=START)
    acd.handle(ev.CallQueued("c", "q"), START)
    out = acd.handle(ev.AgentRestored("a", AgentState.NOT_READY, "lunch", START - 600), START)
    assert states(out) == [("a", AgentState.NOT_READY, "lunch", START - 600)]
    assert rings(out) == []
    assert acd.snapshot(START)["agents"]["a"]["reason"] == "lunch"
    # and from there the ordinary table applies
    assert rings(ready(acd, "a", START + 1)) == [("c", "a")]


def test_a_phone_gone_during_the_outage_is_a_system_reason_always_accepted() -> None:
    acd = Acd([QueueConfig("q")], [agent("a")], now=START)
    out = acd.handle(ev.AgentRestored("a", AgentState.NOT_READY, "phone offline"), START)
    assert states(out)[0][:3] == ("a", AgentState.NOT_READY, "phone offline")


def test_a_restored_wrap_up_ends_at_wrap_up_until_then_routes() -> None:
    acd = Acd([QueueConfig("q", wrap_up=60)], [agent("a")], now=START)
    acd.handle(ev.CallQueued("c", "q"), START)
    out = acd.handle(
        ev.AgentRestored(
            "a", AgentState.WRAP_UP, since=START - 20, wrap_up_until=START + 40, wrap_queue="q"
        ),
        START,
    )
    assert states(out) == [("a", AgentState.WRAP_UP, "", START - 20)]
    assert rings(out) == []
    assert acd.tick(START + 39.9) == []
    out = acd.tick(START + 40)
    assert [s[:2] for s in states(out)] == [
        ("a", AgentState.READY),
        ("a", AgentState.RINGING),
    ]
    assert rings(out) == [("c", "a")]
    # the talk before the crash was counted by the process that died, not here
    assert stats(acd, "q", START + 40)["aht"] is None


def test_a_restored_wrap_up_can_be_ended_early_by_the_agent() -> None:
    acd = Acd([QueueConfig("q", wrap_up=60)], [agent("a")], now=START)
    acd.handle(
        ev.AgentRestored("a", AgentState.WRAP_UP, since=START - 5, wrap_up_until=START + 55), START
    )
    out = acd.handle(ev.WrapUpDone("a"), START + 1)
    assert [s[:2] for s in states(out)] == [("a", AgentState.READY)]
    assert acd.tick(START + 60) == []  # the old wrap-up timer is stale


@pytest.mark.parametrize("until", [None, START - 1, START])
def test_a_restored_wrap_up_already_over_ends_at_once(until: float | None) -> None:
    acd = Acd([QueueConfig("q", wrap_up=30)], [agent("a")], now=START)
    acd.handle(ev.CallQueued("c", "q", since=START - 3), START)
    out = acd.handle(
        ev.AgentRestored("a", AgentState.WRAP_UP, since=START - 50, wrap_up_until=until), START
    )
    assert [s[:2] for s in states(out)] == [
        ("a", AgentState.WRAP_UP),
        ("a", AgentState.READY),
        ("a", AgentState.RINGING),
    ]
    assert rings(out) == [("c", "a")]


def test_restoring_logged_out_is_a_no_op() -> None:
    acd = Acd([QueueConfig("q")], [agent("a")], now=START)
    acd.tick(START)  # publish the initial statistics
    before = frozen(acd, START)
    assert acd.handle(ev.AgentRestored("a", AgentState.LOGGED_OUT, since=900.0), START) == []
    assert frozen(acd, START) == before


def test_a_restored_since_after_now_is_taken_as_now() -> None:
    acd = Acd([QueueConfig("q")], [agent("a")], now=START)
    out = acd.handle(ev.AgentRestored("a", AgentState.NOT_READY, "break", START + 5), START)
    assert states(out) == [("a", AgentState.NOT_READY, "break", START)]


@pytest.mark.parametrize("state", [AgentState.RINGING, AgentState.ON_CALL])
def test_restoring_ringing_or_on_call_is_refused_those_come_from_call_adopted(
    state: AgentState,
) -> None:
    acd = Acd([QueueConfig("q")], [agent("a")], now=START)
    before = frozen(acd, START)
    with pytest.raises(InvalidInput) as info:
        acd.handle(ev.AgentRestored("a", state, since=START - 1), START)
    assert info.value.field == "state"
    assert frozen(acd, START) == before


@pytest.mark.parametrize(
    "event",
    [
        ev.AgentRestored("a", AgentState.NOT_READY, "sleeping", START - 1),
        ev.AgentRestored("a", AgentState.READY, since=float("nan")),
        ev.AgentRestored("a", AgentState.WRAP_UP, since=START - 1, wrap_up_until=float("inf")),
    ],
    ids=["unknown reason", "since not a time", "until not a time"],
)
def test_bad_restored_values_are_refused_and_change_nothing(event: ev.AgentRestored) -> None:
    acd = Acd([QueueConfig("q")], [agent("a")], now=START)
    acd.handle(ev.CallQueued("c", "q"), START)
    acd.tick(START)
    before = frozen(acd, START)
    with pytest.raises(InvalidInput):
        acd.handle(event, START)
    assert frozen(acd, START) == before
    assert acd.tick(START) == []  # no half-applied change waiting to be published


@pytest.mark.parametrize(
    "logged_in",
    [
        ev.AgentStateRequest("a", AgentState.READY),
        ev.AgentStateRequest("a", AgentState.NOT_READY, "break"),
        ev.CallAdopted("c", "q", "a", since=START - 10),
    ],
    ids=["ready", "not ready", "ringing an adopted call"],
)
def test_restoring_an_agent_already_logged_in_is_an_illegal_transition(
    logged_in: ev.Event,
) -> None:
    acd = Acd([QueueConfig("q")], [agent("a")], now=START)
    acd.handle(logged_in, START)
    before = frozen(acd, START)
    with pytest.raises(IllegalTransition):
        acd.handle(ev.AgentRestored("a", AgentState.NOT_READY, "lunch", START - 60), START)
    assert frozen(acd, START) == before


def test_restoring_an_unknown_agent_is_not_found() -> None:
    acd = Acd([QueueConfig("q")], [agent("a")], now=START)
    with pytest.raises(NotFound):
        acd.handle(ev.AgentRestored("ghost", AgentState.READY, since=START), START)


# ---------------------------------------------------------------- CallAdopted: ringing


def _ringing(ring_timeout: float = 15.0, wrap_up: float = 30.0) -> tuple[Acd, list[cmd.Command]]:
    q = QueueConfig("q", ring_timeout=ring_timeout, wrap_up=wrap_up)
    acd = Acd([q], [agent("a"), agent("b")], now=START)
    out = acd.handle(ev.CallAdopted("c", "q", "a", since=START - 30, caller="555"), START)
    return acd, out


def test_an_adopted_ringing_call_rings_no_one_again() -> None:
    acd, out = _ringing()
    assert rings(out) == []
    assert of(out, cmd.StartCallback) == []
    assert states(out) == [("a", AgentState.RINGING, "", START)]
    assert of(out, cmd.AgentStateChanged)[0].call_id == "c"
    snap = acd.snapshot(START)
    assert snap["calls"]["c"]["state"] == "offered"
    assert snap["calls"]["c"]["agent_id"] == "a"
    assert snap["calls"]["c"]["arrived_at"] == START - 30


def test_an_adopted_ringing_call_answered_talks_then_wraps_up() -> None:
    acd, _ = _ringing()
    out = acd.handle(ev.AgentAnswered("c", "a"), START + 2)
    assert states(out) == [("a", AgentState.ON_CALL, "", START + 2)]
    out = acd.handle(ev.CallEnded("c"), START + 62)
    assert states(out) == [("a", AgentState.WRAP_UP, "", START + 62)]
    assert acd.snapshot(START + 62)["agents"]["a"]["talk_seconds"] == 60.0
    out = acd.tick(START + 92)
    assert [s[:2] for s in states(out)] == [("a", AgentState.READY)]
    figures = stats(acd, "q", START + 92)
    assert (figures["offered"], figures["answered"]) == (1, 1)
    assert figures["asa"] == 32.0  # waited from since, not from the restart
    assert figures["aht"] == 90.0
    # nobody promised this caller a wait: no estimate error is counted for it
    assert figures["estimate_accuracy"]["mean_abs_error"] == 0.0  # type: ignore[index]


def test_an_adopted_ring_not_answered_puts_the_caller_first_in_line() -> None:
    acd, _ = _ringing()
    acd.handle(ev.CallQueued("older", "q", since=START - 100), START)  # waited longer
    out = acd.handle(ev.RingNoAnswer("c", "a"), START + 15)
    assert states(out) == [("a", AgentState.NOT_READY, "no answer", START + 15)]
    waiting = [w["call_id"] for w in acd.snapshot(START + 15)["queues"]["q"]["waiting"]]
    assert waiting == ["c", "older"]
    assert rings(ready(acd, "b", START + 16)) == [("c", "b")]


def test_an_adopted_ring_times_out_like_any_ring() -> None:
    acd, _ = _ringing(ring_timeout=15.0)
    # ring timer from the takeover: ring_timeout + ring_grace_seconds (5 s by default)
    assert acd.next_timer() == START + 20
    assert acd.tick(START + 19.9) == []
    out = acd.tick(START + 20)
    assert [(c.call_id, c.agent_id) for c in of(out, cmd.CancelRing)] == [("c", "a")]
    assert states(out) == [("a", AgentState.NOT_READY, "no answer", START + 20)]
    assert acd.snapshot(START + 20)["calls"]["c"]["state"] == "waiting"


def test_caller_gone_while_an_adopted_call_rings_leaves_the_agent_ready() -> None:
    acd, _ = _ringing()
    out = acd.handle(ev.CallAbandoned("c"), START + 3)
    assert states(out) == [("a", AgentState.READY, "", START + 3)]
    assert [(c.call_id, c.reason) for c in of(out, cmd.CallLeftQueue)] == [("c", "abandoned")]
    assert "c" not in acd.snapshot(START + 3)["calls"]
    assert acd.tick(START + 30) == []  # the ring timer died with the call
    assert rings(acd.handle(ev.CallQueued("next", "q"), START + 4)) == [("next", "a")]


def test_caller_hanging_up_during_an_ordinary_ring_leaves_the_agent_ready() -> None:
    # the shell maps DialStatus CANCEL (caller hung up while the phone rang) to this
    acd = Acd([QueueConfig("q")], [agent("a")], now=START)
    ready(acd, "a", START)
    acd.handle(ev.CallQueued("c", "q"), START + 1)
    out = acd.handle(ev.CallAbandoned("c"), START + 4)
    assert states(out) == [("a", AgentState.READY, "", START + 4)]
    assert acd.agent_state("a") is AgentState.READY
    assert acd.tick(START + 60) == []  # no ring timeout turns them not ready later


def test_call_ended_on_an_adopted_ringing_call_counts_as_abandoned() -> None:
    acd, _ = _ringing()
    out = acd.handle(ev.CallEnded("c"), START + 3)
    assert states(out) == [("a", AgentState.READY, "", START + 3)]
    assert stats(acd, "q", START + 3)["abandoned"] == 1


# ---------------------------------------------------------------- CallAdopted: connected


def test_an_adopted_connected_call_keeps_talk_time_from_answered_at() -> None:
    acd = Acd([QueueConfig("q", wrap_up=30, service_level=20)], [agent("a")], now=START)
    event = ev.CallAdopted("c", "q", "a", since=START - 100, answered_at=START - 90)
    out = acd.handle(event, START)
    assert rings(out) == []
    assert states(out) == [("a", AgentState.ON_CALL, "", START - 90)]
    assert acd.snapshot(START)["calls"]["c"]["state"] == "connected"
    figures = stats(acd, "q", START)
    assert (figures["offered"], figures["answered"], figures["answered_within_sl"]) == (1, 1, 1)
    assert figures["asa"] == 10.0
    out = acd.handle(ev.CallEnded("c"), START + 10)
    assert states(out) == [("a", AgentState.WRAP_UP, "", START + 10)]
    assert acd.snapshot(START + 10)["agents"]["a"]["talk_seconds"] == 100.0
    assert acd.snapshot(START + 10)["agents"]["a"]["calls"] == 1
    acd.tick(START + 40)
    assert acd.agent_state("a") is AgentState.READY
    assert stats(acd, "q", START + 40)["aht"] == 130.0


def test_an_adopted_connected_agent_is_offered_nothing_else() -> None:
    acd = Acd([QueueConfig("q")], [agent("a")], now=START)
    ready(acd, "a", START)
    acd.handle(ev.CallAdopted("c", "q", "a", since=START - 5, answered_at=START - 1), START)
    assert rings(acd.handle(ev.CallQueued("other", "q"), START + 1)) == []
    with pytest.raises(IllegalTransition):
        acd.handle(ev.AgentAnswered("c", "a"), START + 2)  # already connected


def test_an_answer_seen_before_the_channel_age_is_taken_as_answered_at_arrival() -> None:
    acd = Acd([QueueConfig("q")], [agent("a")], now=START)
    acd.handle(ev.CallAdopted("c", "q", "a", since=START - 10, answered_at=START - 12), START)
    assert stats(acd, "q", START)["asa"] == 0.0


@pytest.mark.parametrize("state", [AgentState.LOGGED_OUT, AgentState.READY, AgentState.NOT_READY])
def test_an_agent_free_of_calls_in_any_idle_state_can_take_an_adopted_call(
    state: AgentState,
) -> None:
    acd = Acd([QueueConfig("q")], [agent("a")], now=START)
    if state is not AgentState.LOGGED_OUT:
        acd.handle(
            ev.AgentStateRequest("a", state, "break" if state is AgentState.NOT_READY else ""),
            START,
        )
    acd.handle(ev.CallAdopted("c", "q", "a", since=START - 10), START)
    assert acd.agent_state("a") is AgentState.RINGING


def _busy_agent(state: AgentState) -> Acd:
    acd = Acd([QueueConfig("q", wrap_up=30)], [agent("a")], now=START)
    ready(acd, "a", START)
    acd.handle(ev.CallQueued("x", "q"), START)
    if state is AgentState.RINGING:
        return acd
    acd.handle(ev.AgentAnswered("x", "a"), START)
    if state is AgentState.ON_CALL:
        return acd
    acd.handle(ev.CallEnded("x"), START)
    return acd


@pytest.mark.parametrize("state", [AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP])
def test_an_agent_with_a_call_is_never_double_booked(state: AgentState) -> None:
    acd = _busy_agent(state)
    assert acd.agent_state("a") is state
    acd.tick(START)
    before = frozen(acd, START)
    with pytest.raises(Conflict):
        acd.handle(ev.CallAdopted("c", "q", "a", since=START - 10), START)
    assert frozen(acd, START) == before
    assert acd.tick(START) == []


@pytest.mark.parametrize(
    ("event", "error"),
    [
        (ev.CallAdopted("x", "q", "a", since=START - 1), Conflict),  # id already in the ACD
        (ev.CallAdopted("c", "nope", "a", since=START - 1), NotFound),
        (ev.CallAdopted("c", "q", "ghost", since=START - 1), NotFound),
        (ev.CallAdopted("", "q", "a", since=START - 1), InvalidInput),
        (ev.CallAdopted("c", "q", "a", since=float("nan")), InvalidInput),
        (ev.CallAdopted("c", "q", "a", since=START - 1, answered_at=float("inf")), InvalidInput),
        (ev.CallAdopted("c", "q", "a", since=START - 1, skills={"billing": 9}), InvalidInput),
        (ev.CallAdopted("c", "q", "a", since=START - 1, priority=True), InvalidInput),
        (ev.CallAdopted("c", "q", "a", since=START - 1, caller="5\r\n55"), InvalidInput),
    ],
    ids=[
        "duplicate",
        "unknown queue",
        "unknown agent",
        "empty id",
        "since",
        "answered_at",
        "skills",
        "priority",
        "caller",
    ],
)
def test_bad_adoptions_are_refused_and_change_nothing(
    event: ev.CallAdopted, error: type[Exception]
) -> None:
    acd = Acd([QueueConfig("q")], [agent("a"), agent("b")], now=START)
    acd.handle(ev.CallQueued("x", "q"), START)  # waiting; both agents logged out
    acd.tick(START)
    before = frozen(acd, START)
    with pytest.raises(error):
        acd.handle(event, START)
    assert frozen(acd, START) == before
    assert acd.tick(START) == []


# ---------------------------------------------------------------- a whole takeover


def test_a_takeover_adopts_calls_then_restores_agents_then_queues_callers() -> None:
    """The order the shell uses: calls at phones first, then saved states (an agent
    holding an adopted call refuses its saved state), then callers still in line."""
    acd = Acd([QueueConfig("q", wrap_up=10)], [agent("a1"), agent("a2"), agent("a3")], now=START)
    acd.handle(ev.CallAdopted("talking", "q", "a1", since=900.0, answered_at=920.0), START)
    with pytest.raises(IllegalTransition):
        acd.handle(ev.AgentRestored("a1", AgentState.READY, since=880.0), START)
    acd.handle(ev.AgentRestored("a2", AgentState.NOT_READY, "break", 950.0), START)
    acd.handle(ev.AgentRestored("a3", AgentState.WRAP_UP, since=990.0, wrap_up_until=1005.0), START)
    acd.handle(ev.CallQueued("w2", "q", since=960.0), START)
    acd.handle(ev.CallQueued("w1", "q", since=930.0), START)
    out = acd.tick(1005.0)
    assert rings(out) == [("w1", "a3")]
    acd.handle(ev.CallEnded("talking"), 1010.0)
    out = acd.tick(1020.0)
    assert rings(out) == [("w2", "a1")]
    assert stats(acd, "q", 1020.0)["offered"] == 3

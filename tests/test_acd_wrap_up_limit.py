"""The wrap-up limit never makes an agent with unsaved input ready behind their back
(issue 13): per queue, ``wrap_up_timeout_action`` holds them (default), extends once, or
forces ready. Pure engine, no sockets."""

from __future__ import annotations

import pytest

from config.errors import InvalidInput
from routing.acd import Acd, AgentConfig, AgentState, QueueConfig, WrapUpTimeoutAction
from routing.acd import commands as cmd
from routing.acd import events as ev
from routing.acd.config import parse_queue_file

LIMIT = 30.0


def wrapping(action: WrapUpTimeoutAction | None = None) -> Acd:
    """Agent "a" in wrap-up of call "c" since t=4; the limit runs out at t=34."""
    extra = {} if action is None else {"wrap_up_timeout_action": action}
    acd = Acd(
        [QueueConfig("q", wrap_up=LIMIT, **extra)],
        [AgentConfig("a", "Ann", "PJSIP/1001", {}, ("q",))],
        now=0,
    )
    acd.handle(ev.AgentStateRequest("a", AgentState.READY), 1)
    acd.handle(ev.CallQueued("c", "q"), 2)
    acd.handle(ev.AgentAnswered("c", "a"), 3)
    acd.handle(ev.CallEnded("c"), 4)
    return acd


def state(acd: Acd, now: float) -> dict:  # type: ignore[type-arg]
    return acd.agent_snapshot("a", now)


def test_the_deadline_and_the_limit_are_shown_during_wrap_up() -> None:
    acd = wrapping()
    a = state(acd, 5)
    assert (a["state"], a["wrap_up_until"], a["wrap_up_limit"], a["wrap_up_overdue"]) == (
        "wrap_up",
        4 + LIMIT,
        LIMIT,
        False,
    )


def test_nothing_unsaved_ready_at_the_limit_as_before() -> None:
    acd = wrapping()
    out = acd.tick(4 + LIMIT)
    assert [c.state for c in out if isinstance(c, cmd.AgentStateChanged)] == [AgentState.READY]
    a = state(acd, 40)
    assert (a["wrap_up_until"], a["wrap_up_limit"], a["wrap_up_overdue"]) == (None, None, False)


def test_unsaved_input_holds_the_agent_overdue_until_saved_by_default() -> None:
    acd = wrapping()
    acd.handle(ev.WrapUpDraft("a", True), 10)
    out = acd.tick(4 + LIMIT)
    assert not [c for c in out if isinstance(c, cmd.AgentStateChanged)]
    assert [c for c in out if isinstance(c, cmd.AgentWrapUpChanged)] == [
        cmd.AgentWrapUpChanged("a")
    ]
    a = state(acd, 100)
    assert (a["state"], a["wrap_up_overdue"]) == ("wrap_up", True)
    # not routed meanwhile: a new caller waits
    out = acd.handle(ev.CallQueued("c2", "q"), 101)
    assert not [c for c in out if isinstance(c, cmd.RingAgent)]
    acd.tick(1_000)
    assert state(acd, 1_000)["state"] == "wrap_up"
    # the agent saves: ready, and the waiting caller rings them
    out = acd.handle(ev.WrapUpDone("a"), 1_001)
    assert [c.call_id for c in out if isinstance(c, cmd.RingAgent)] == ["c2"]


def test_notes_typed_during_the_call_hold_the_wrap_up_that_follows() -> None:
    """Agents type while they talk: that draft is unsaved input of the coming wrap-up."""
    acd = Acd(
        [QueueConfig("q", wrap_up=LIMIT)],
        [AgentConfig("a", "Ann", "PJSIP/1001", {}, ("q",))],
        now=0,
    )
    acd.handle(ev.AgentStateRequest("a", AgentState.READY), 1)
    acd.handle(ev.CallQueued("c", "q"), 2)
    acd.handle(ev.AgentAnswered("c", "a"), 3)
    acd.handle(ev.WrapUpDraft("a", True), 3.5)  # on the call
    acd.handle(ev.CallEnded("c"), 4)
    acd.tick(4 + LIMIT)
    assert (state(acd, 40)["state"], state(acd, 40)["wrap_up_overdue"]) == ("wrap_up", True)
    # ...and only that call's: the next call starts with nothing unsaved
    acd.handle(ev.WrapUpDone("a"), 41)
    acd.handle(ev.CallQueued("c2", "q"), 42)
    acd.handle(ev.AgentAnswered("c2", "a"), 43)
    acd.handle(ev.CallEnded("c2"), 44)
    acd.tick(44 + LIMIT)
    assert state(acd, 80)["state"] == "ready"


def test_input_cleared_before_the_limit_lets_the_timer_make_the_agent_ready() -> None:
    acd = wrapping()
    acd.handle(ev.WrapUpDraft("a", True), 10)
    acd.handle(ev.WrapUpDraft("a", False), 11)
    acd.tick(4 + LIMIT)
    assert state(acd, 40)["state"] == "ready"


def test_extend_once_gives_one_more_limit_then_holds() -> None:
    acd = wrapping(WrapUpTimeoutAction.EXTEND_ONCE)
    acd.handle(ev.WrapUpDraft("a", True), 10)
    out = acd.tick(4 + LIMIT)
    assert [c for c in out if isinstance(c, cmd.AgentWrapUpChanged)]
    a = state(acd, 35)
    assert (a["state"], a["wrap_up_until"], a["wrap_up_overdue"]) == (
        "wrap_up",
        4 + 2 * LIMIT,
        False,
    )
    acd.tick(4 + 2 * LIMIT)
    a = state(acd, 70)
    assert (a["state"], a["wrap_up_overdue"]) == ("wrap_up", True)


def test_force_ready_makes_the_agent_ready_unsaved_or_not() -> None:
    acd = wrapping(WrapUpTimeoutAction.FORCE_READY)
    acd.handle(ev.WrapUpDraft("a", True), 10)
    acd.tick(4 + LIMIT)
    assert state(acd, 40)["state"] == "ready"


def test_the_agent_or_a_supervisor_may_still_leave_an_overdue_wrap_up() -> None:
    acd = wrapping()
    acd.handle(ev.WrapUpDraft("a", True), 10)
    acd.tick(4 + LIMIT)
    acd.handle(ev.AgentStateRequest("a", AgentState.NOT_READY, "break", forced_by="sam"), 50)
    a = state(acd, 51)
    assert (a["state"], a["wrap_up_overdue"], a["wrap_up_until"]) == ("not_ready", False, None)


@pytest.mark.parametrize("asked", [AgentState.READY, AgentState.NOT_READY, AgentState.LOGGED_OUT])
def test_an_overdue_agent_who_asks_for_a_state_gets_it(asked: AgentState) -> None:
    acd = wrapping()
    acd.handle(ev.WrapUpDraft("a", True), 10)
    acd.tick(4 + LIMIT)
    reason = "break" if asked is AgentState.NOT_READY else ""
    out = acd.handle(ev.AgentStateRequest("a", asked, reason), 50)
    assert [c.state for c in out if isinstance(c, cmd.AgentStateChanged)] == [asked]
    assert state(acd, 51)["wrap_up_overdue"] is False


def test_a_restored_wrap_up_still_running_holds_unsaved_input_at_its_limit() -> None:
    acd = Acd(
        [QueueConfig("q", wrap_up=LIMIT)],
        [AgentConfig("a", "Ann", "PJSIP/1001", {}, ("q",))],
        now=100,
    )
    acd.handle(
        ev.AgentRestored(
            "a",
            AgentState.WRAP_UP,
            since=90,
            wrap_up_until=120,
            wrap_queue="q",
            wrap_up_unsaved=True,
        ),
        100,
    )
    a = state(acd, 101)
    assert (a["wrap_up_until"], a["wrap_up_limit"], a["wrap_up_overdue"]) == (120, LIMIT, False)
    out = acd.tick(120)
    assert [c for c in out if isinstance(c, cmd.AgentWrapUpChanged)]
    assert (state(acd, 121)["state"], state(acd, 121)["wrap_up_overdue"]) == ("wrap_up", True)


def test_a_new_wrap_up_starts_with_nothing_unsaved() -> None:
    acd = wrapping()
    acd.handle(ev.WrapUpDraft("a", True), 10)
    acd.handle(ev.WrapUpDone("a"), 11)
    acd.handle(ev.CallQueued("c2", "q"), 12)
    acd.handle(ev.AgentAnswered("c2", "a"), 13)
    acd.handle(ev.CallEnded("c2"), 14)
    acd.tick(14 + LIMIT)
    assert state(acd, 50)["state"] == "ready"


def test_a_draft_outside_wrap_up_changes_nothing() -> None:
    acd = wrapping()
    acd.handle(ev.WrapUpDone("a"), 5)
    assert acd.handle(ev.WrapUpDraft("a", True), 6) == []
    assert state(acd, 7)["state"] == "ready"
    with pytest.raises(InvalidInput):
        acd.handle(ev.WrapUpDraft("a", "yes"), 8)  # type: ignore[arg-type]


@pytest.mark.parametrize(("unsaved", "expected"), [(True, "wrap_up"), (False, "ready")])
def test_a_deadline_passed_during_a_restart_holds_only_an_unsaved_wrap_up(
    unsaved: bool, expected: str
) -> None:
    acd = Acd(
        [QueueConfig("q", wrap_up=LIMIT, wrap_up_timeout_action=WrapUpTimeoutAction.EXTEND_ONCE)],
        [AgentConfig("a", "Ann", "PJSIP/1001", {}, ("q",))],
        now=100,
    )
    acd.handle(
        ev.AgentRestored(
            "a",
            AgentState.WRAP_UP,
            since=40,
            wrap_up_until=70,
            wrap_queue="q",
            wrap_up_unsaved=unsaved,
        ),
        100,
    )
    a = state(acd, 101)
    assert a["state"] == expected
    assert a["wrap_up_overdue"] is unsaved


def test_the_queue_file_names_the_action_and_refuses_an_unknown_one() -> None:
    data = {"queues": {"q": {"wrap_up": 20, "wrap_up_timeout_action": "extend_once"}}, "agents": []}
    parsed = parse_queue_file(data, "queues.yaml")
    assert parsed.queues[0].wrap_up_timeout_action is WrapUpTimeoutAction.EXTEND_ONCE
    default = parse_queue_file({"queues": {"q": {"wrap_up": 20}}, "agents": []}, "queues.yaml")
    assert default.queues[0].wrap_up_timeout_action is WrapUpTimeoutAction.HOLD_UNTIL_SAVED
    bad = {"queues": {"q": {"wrap_up_timeout_action": "later"}}, "agents": []}
    with pytest.raises(InvalidInput, match=r"queues\.q\.wrap_up_timeout_action.*hold_until_saved"):
        parse_queue_file(bad, "queues.yaml")

"""The ACD transition tables: every legal pair works, every other pair is refused and
changes nothing — checked on the tables and through the engine's public events."""

from __future__ import annotations

import copy
import itertools
import json

import pytest

from config.errors import IllegalTransition, NotFound
from routing.acd import Acd, AgentConfig, AgentState, QueueConfig
from routing.acd import commands as cmd
from routing.acd import events as ev
from routing.acd.states import (
    AGENT_TRANSITIONS,
    CALL_TRANSITIONS,
    AgentInput,
    CallInput,
    CallState,
    agent_next,
    call_next,
)

AGENT_PAIRS = list(itertools.product(AgentState, AgentInput))
ILLEGAL_AGENT = [p for p in AGENT_PAIRS if p not in AGENT_TRANSITIONS]
CALL_PAIRS = list(itertools.product(CallState, CallInput))
ILLEGAL_CALL = [p for p in CALL_PAIRS if p not in CALL_TRANSITIONS]


@pytest.mark.parametrize(("state", "what"), ILLEGAL_AGENT, ids=lambda x: x.name)
def test_every_illegal_agent_pair_raises(state: AgentState, what: AgentInput) -> None:
    with pytest.raises(IllegalTransition) as info:
        agent_next(state, what)
    assert info.value.state == state.value
    assert info.value.event == what.value


def test_a_refusal_reads_as_people_talk() -> None:
    """Issue 13: refusals leaked internal names ("cannot force ready while on_call")."""
    with pytest.raises(IllegalTransition) as info:
        agent_next(AgentState.ON_CALL, AgentInput.FORCE_READY)
    assert str(info.value) == "cannot make the agent ready while on a call"
    with pytest.raises(IllegalTransition) as info:
        agent_next(AgentState.RINGING, AgentInput.REQUEST_READY)
    assert str(info.value) == "cannot go ready while ringing"
    with pytest.raises(IllegalTransition) as info:
        call_next(CallState.DONE, CallInput.ANSWER)
    assert str(info.value) == "cannot answer the call while over"
    # every refusal the tables can give is in words: no code with an underscore in it
    for state, what in ILLEGAL_AGENT + ILLEGAL_CALL:
        with pytest.raises(IllegalTransition) as info:
            (agent_next if isinstance(state, AgentState) else call_next)(state, what)  # type: ignore[arg-type]
        assert "_" not in str(info.value), str(info.value)


@pytest.mark.parametrize(("state", "what"), ILLEGAL_CALL, ids=lambda x: x.name)
def test_every_illegal_call_pair_raises(state: CallState, what: CallInput) -> None:
    with pytest.raises(IllegalTransition):
        call_next(state, what)


def test_legal_pairs_give_the_table_value() -> None:
    for (state, what), new in AGENT_TRANSITIONS.items():
        assert agent_next(state, what) is new
    for (state, what), new in CALL_TRANSITIONS.items():
        assert call_next(state, what) is new
    # the tables are not trivially permissive: most pairs are illegal
    assert len(ILLEGAL_AGENT) > len(AGENT_TRANSITIONS)
    assert (AgentState.ON_CALL, AgentInput.FORCE_LOGOUT) in ILLEGAL_AGENT
    assert (CallState.CONNECTED, CallInput.ABANDON) in ILLEGAL_CALL


# ---------------------------------------------------------------- through the engine


def _engine_in(state: AgentState) -> Acd:
    """An engine whose agent "a" is in ``state`` (with call "c" where one is needed)."""
    acd = Acd(
        [QueueConfig("q", wrap_up=30)],
        [AgentConfig("a", "Ann", "PJSIP/1001", {}, ("q",))],
        now=0,
    )
    if state is AgentState.LOGGED_OUT:
        return acd
    if state is AgentState.NOT_READY:
        acd.handle(ev.AgentStateRequest("a", AgentState.NOT_READY, "break"), 1)
        return acd
    acd.handle(ev.AgentStateRequest("a", AgentState.READY), 1)
    if state is AgentState.READY:
        return acd
    acd.handle(ev.CallQueued("c", "q"), 2)
    if state is AgentState.RINGING:
        return acd
    acd.handle(ev.AgentAnswered("c", "a"), 3)
    if state is AgentState.ON_CALL:
        return acd
    acd.handle(ev.CallEnded("c"), 4)
    assert state is AgentState.WRAP_UP
    return acd


REQUESTS: dict[str, tuple[ev.Event, AgentInput]] = {
    "ready": (ev.AgentStateRequest("a", AgentState.READY), AgentInput.REQUEST_READY),
    "not_ready": (
        ev.AgentStateRequest("a", AgentState.NOT_READY, "lunch"),
        AgentInput.REQUEST_NOT_READY,
    ),
    "logout": (ev.AgentStateRequest("a", AgentState.LOGGED_OUT), AgentInput.REQUEST_LOGOUT),
    "force_ready": (
        ev.AgentStateRequest("a", AgentState.READY, forced_by="sup"),
        AgentInput.FORCE_READY,
    ),
    "force_not_ready": (
        ev.AgentStateRequest("a", AgentState.NOT_READY, "meeting", forced_by="sup"),
        AgentInput.FORCE_NOT_READY,
    ),
    "force_logout": (
        ev.AgentStateRequest("a", AgentState.LOGGED_OUT, forced_by="sup"),
        AgentInput.FORCE_LOGOUT,
    ),
    "wrap_up_done": (ev.WrapUpDone("a"), AgentInput.WRAP_DONE),
}


@pytest.mark.parametrize("state", list(AgentState), ids=lambda s: s.name)
@pytest.mark.parametrize("request_name", sorted(REQUESTS))
def test_engine_applies_the_table_and_refusals_change_nothing(
    state: AgentState, request_name: str
) -> None:
    acd = _engine_in(state)
    assert acd.agent_state("a") is state
    event, what = REQUESTS[request_name]
    expected = AGENT_TRANSITIONS.get((state, what))
    acd.tick(10)  # publish the initial statistics
    before = json.dumps(acd.snapshot(10), sort_keys=True)
    if expected is None:
        with pytest.raises(IllegalTransition):
            acd.handle(event, 10)
        assert json.dumps(acd.snapshot(10), sort_keys=True) == before
        assert acd.tick(10) == []  # no half-applied change waiting to be published
        return
    out = acd.handle(event, 10)
    assert acd.agent_state("a") is expected
    changes = [c for c in out if isinstance(c, cmd.AgentStateChanged)]
    assert changes[0].state is expected
    assert changes[0].since == 10


@pytest.mark.parametrize("state", list(AgentState), ids=lambda s: s.name)
def test_call_events_in_the_wrong_state_change_nothing(state: AgentState) -> None:
    acd = _engine_in(state)
    before = copy.deepcopy(acd.snapshot(10))
    refused = 0
    for event in (ev.AgentAnswered("c", "a"), ev.RingNoAnswer("c", "a")):
        try:
            acd.handle(event, 10)
        except IllegalTransition:
            refused += 1
            assert acd.snapshot(10) == before
        except NotFound:  # no call "c" at all in these states
            assert state not in (AgentState.RINGING, AgentState.ON_CALL)
            refused += 1
            assert acd.snapshot(10) == before
        else:
            assert state is AgentState.RINGING
            return
    assert refused == 2

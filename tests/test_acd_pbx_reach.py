"""The global router across several PBXs: a caller reaches only agents of PBXs its own
PBX has a trunk to (``AcdSettings.reach``); without ``reach`` everyone reaches everyone."""

from __future__ import annotations

import pytest

from config.errors import InvalidInput
from routing.acd import Acd, AcdSettings, AgentConfig, AgentState, QueueConfig, Widening
from routing.acd import commands as cmd
from routing.acd import events as ev
from routing.acd.config import parse_queue_file

ISOLATED = {"west": frozenset({"west"}), "east": frozenset({"east"})}
WEST_TO_EAST = {"west": frozenset({"west", "east"}), "east": frozenset({"east"})}


def agent(agent_id: str, pbx: str, **skills: int) -> AgentConfig:
    return AgentConfig(agent_id, agent_id, f"PJSIP/{agent_id}", skills, ("q",), pbx=pbx)


def rings(out: list[cmd.Command]) -> list[tuple[str, str]]:
    return [(c.call_id, c.agent_id) for c in out if isinstance(c, cmd.RingAgent)]


def center(reach: dict[str, frozenset[str]], queue: QueueConfig | None = None) -> Acd:
    # "e1" has been idle the longest: any global choice would take it first.
    acd = Acd(
        [queue or QueueConfig("q")],
        [agent("e1", "east"), agent("w1", "west")],
        AcdSettings(reach=reach),
    )
    acd.handle(ev.AgentStateRequest("e1", AgentState.READY), 0)
    acd.handle(ev.AgentStateRequest("w1", AgentState.READY), 1)
    return acd


def test_without_reach_the_router_ignores_pbxs() -> None:
    acd = center({})
    assert rings(acd.handle(ev.CallQueued("c", "q", pbx="west"), 5)) == [("c", "e1")]


def test_without_a_trunk_a_caller_gets_an_agent_of_its_own_pbx() -> None:
    acd = center(ISOLATED)
    assert rings(acd.handle(ev.CallQueued("c", "q", pbx="west"), 5)) == [("c", "w1")]
    # the next west caller waits although an east agent is ready
    assert rings(acd.handle(ev.CallQueued("c2", "q", pbx="west"), 6)) == []
    assert rings(acd.handle(ev.CallQueued("c3", "q", pbx="east"), 7)) == [("c3", "e1")]


def test_an_agent_who_becomes_ready_skips_callers_who_cannot_reach_them() -> None:
    acd = center(ISOLATED)
    acd.handle(ev.AgentStateRequest("e1", AgentState.NOT_READY, "break"), 2)
    acd.handle(ev.AgentStateRequest("w1", AgentState.NOT_READY, "break"), 2)
    acd.handle(ev.CallQueued("west-caller", "q", pbx="west"), 3)
    acd.handle(ev.CallQueued("east-caller", "q", pbx="east"), 4)
    ready = acd.handle(ev.AgentStateRequest("e1", AgentState.READY), 5)
    assert rings(ready) == [("east-caller", "e1")]


def test_a_trunk_lets_the_router_pick_across_pbxs_one_way() -> None:
    acd = center(WEST_TO_EAST)
    assert rings(acd.handle(ev.CallQueued("c", "q", pbx="west"), 5)) == [("c", "e1")]
    # east has no trunk to west: its caller waits for an east agent
    assert rings(acd.handle(ev.CallQueued("c2", "q", pbx="east"), 6)) == []


def test_reach_never_widens_away() -> None:
    queue = QueueConfig("q", skills={"s": 2}, widening=Widening(every=10, step=1, floor=0))
    acd = Acd([queue], [agent("e1", "east", s=2)], AcdSettings(reach=ISOLATED))
    acd.handle(ev.AgentStateRequest("e1", AgentState.READY), 0)
    assert rings(acd.handle(ev.CallQueued("c", "q", pbx="west"), 1)) == []
    assert rings(acd.tick(100)) == []  # the skill widened to nothing; the PBX did not
    snap = acd.snapshot(100)
    assert snap["queues"]["q"]["waiting"][0]["requirement"] == {}


def test_a_sticky_agent_on_an_unreachable_pbx_is_not_offered() -> None:
    acd = center(ISOLATED)
    out = acd.handle(ev.CallQueued("c", "q", pbx="west", sticky_agent="e1"), 5)
    assert rings(out) == [("c", "w1")]


def test_agents_pbx_comes_from_the_queue_file() -> None:
    data = {
        "queues": {"q": {}},
        "agents": [
            {"id": "1", "name": "A", "endpoint": "PJSIP/1", "queues": ["q"], "pbx": "east"},
            {"id": "2", "name": "B", "endpoint": "PJSIP/2", "queues": ["q"]},
        ],
    }
    agents = parse_queue_file(data).agents
    assert [a.pbx for a in agents] == ["east", ""]
    data["agents"][0]["pbx"] = 7  # type: ignore[index]
    with pytest.raises(InvalidInput, match="pbx"):
        parse_queue_file(data)

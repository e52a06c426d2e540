"""The router's indexed choices against a straightforward scan, on random floors.

At every routing decision the engine takes (an agent looking for a caller, a caller
looking for an agent) the choice is recomputed the obvious way — every waiting call /
every ready agent, filtered by queue and skills, smallest key wins — and must be the
same. After every event the waiting-call index's "heads" (each requirement group's
first call, in key order) must equal what the groups themselves say.
"""

from __future__ import annotations

import contextlib
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from config.errors import LocalError
from routing.acd import (
    Acd,
    AcdSettings,
    AgentConfig,
    AgentState,
    CallState,
    MaxWaitAction,
    QueueConfig,
    Strategy,
    Widening,
)
from routing.acd import events as ev

SKILLS = ("s1", "s2", "s3", "fr", "de")


def _floor(rng: random.Random) -> tuple[list[QueueConfig], list[AgentConfig]]:
    names = [f"q{i}" for i in range(rng.randint(1, 4))]
    queues = []
    for name in names:
        others = [n for n in names if n != name]
        overflow = bool(others) and rng.random() < 0.3
        queues.append(
            QueueConfig(
                name,
                strategy=rng.choice(list(Strategy)),
                skills={rng.choice(SKILLS): rng.randint(1, 3)} if rng.random() < 0.6 else {},
                widening=Widening(every=rng.choice((0.0, 10.0, 30.0)), floor=rng.choice((0, 1))),
                tier_priority={"vip": rng.randint(0, 3)},
                weight=rng.choice((0.0, 30.0, -10.0)),
                priority_seconds=rng.choice((60.0, 10.0)),
                wrap_up=rng.choice((0.0, 3.0)),
                announce_interval=rng.choice((0.0, 15.0)),
                max_wait=rng.choice((0.0, 40.0)) if overflow else 0.0,
                max_wait_action=MaxWaitAction.OVERFLOW if overflow else MaxWaitAction.HANGUP,
                max_wait_target=rng.choice(others) if overflow else "",
            )
        )
    agents = [
        AgentConfig(
            f"a{i}",
            f"A{i}",
            f"PJSIP/{i}",
            {s: rng.randint(1, 5) for s in rng.sample(SKILLS, rng.randint(0, 3))},
            tuple(rng.sample(names, rng.randint(1, len(names)))),
        )
        for i in range(rng.randint(1, 30))
    ]
    return queues, agents


class Referee:
    """Wraps the engine's two search functions; each result is checked against a scan."""

    def __init__(self, acd: Acd) -> None:
        self.acd = acd
        self.found = 0
        self.checked = 0
        self._best_call = acd._best_call
        self._best_agent = acd._best_agent
        acd._best_call = self.best_call  # type: ignore[method-assign]
        acd._best_agent = self.best_agent  # type: ignore[method-assign]

    def best_call(self, agent: Any) -> Any:
        got = self._best_call(agent)
        candidates = [
            call
            for call in self.acd._calls.values()
            if call.state is CallState.WAITING
            and call.entry is not None
            and call.queue in agent.config.queues
            and all(agent.config.skills.get(s, 0) >= lvl for s, lvl in call.requirement)
        ]
        want = min(candidates, key=lambda c: c.entry, default=None)
        assert got is want, (agent.agent_id, got, want)
        self._count(want)
        return got

    def best_agent(self, call: Any) -> Any:
        got = self._best_agent(call)
        queue = self.acd._queues[call.queue]
        candidates = [
            agent
            for agent in self.acd._agents.values()
            if agent.state is AgentState.READY
            and agent.entries  # in the ready index (not on the way to a call)
            and call.queue in agent.config.queues
            and all(agent.config.skills.get(s, 0) >= lvl for s, lvl in call.requirement)
        ]
        want = min(candidates, key=lambda a: self.acd._agent_key(a, queue), default=None)
        assert got is want, (call.call_id, got, want)
        self._count(want)
        return got

    def _count(self, want: object) -> None:
        self.checked += 1
        self.found += want is not None


def _check_heads(acd: Acd) -> None:
    waiting = acd._waiting
    for name, groups in waiting._groups.items():
        firsts = sorted(lst.head() for lst in groups.values())
        heads = [head for channel in waiting._heads.values() for head in channel[name]]
        assert sorted(heads) == firsts
        for requirement, lst in groups.items():
            assert waiting._group_of_head[lst.head()[3]] == requirement


def _event(rng: random.Random, acd: Acd, now: float, serial: int) -> ev.Event:
    snap = acd.snapshot(now)["calls"]
    by_state: dict[str, list[str]] = {}
    for call_id, c in snap.items():
        by_state.setdefault(c["state"], []).append(call_id)
    queues = [q.name for q in acd.queue_configs()]
    agents = list(acd.agent_ids())
    roll = rng.random()
    if roll < 0.35:
        skills = {rng.choice(SKILLS): rng.randint(1, 4)} if rng.random() < 0.5 else {}
        return ev.CallQueued(
            f"c{serial}",
            rng.choice(queues),
            priority=rng.choice((0, 0, 1, 2)),
            skills=skills,
            tier=rng.choice(("", "", "vip")),
            sticky_agent=rng.choice((None, None, None, rng.choice(agents))),
            callback_number=rng.choice((None,) * 8 + ("+15550001111",)),
        )
    if roll < 0.55:
        return ev.AgentStateRequest(
            rng.choice(agents),
            rng.choice((AgentState.READY, AgentState.READY, AgentState.NOT_READY)),
            rng.choice(("", "break")),
        )
    if roll < 0.7 and by_state.get("offered"):
        call_id = rng.choice(by_state["offered"])
        agent_id = snap[call_id]["agent_id"]
        if snap[call_id]["callback"]:
            return ev.CallbackResult(call_id, rng.random() < 0.6)
        return rng.choice((ev.AgentAnswered(call_id, agent_id), ev.RingNoAnswer(call_id, agent_id)))
    if roll < 0.82 and by_state.get("connected"):
        return ev.CallEnded(rng.choice(by_state["connected"]))
    if roll < 0.88 and snap:
        return ev.CallAbandoned(rng.choice(list(snap)))
    if roll < 0.94 and by_state.get("waiting"):
        return ev.MoveCall(rng.choice(by_state["waiting"]), rng.choice(queues))
    return ev.WrapUpDone(rng.choice(agents))


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_indexed_choices_equal_a_full_scan(seed: int) -> None:
    rng = random.Random(seed)
    queues, agents = _floor(rng)
    acd = Acd(queues, agents, AcdSettings(seed=seed, sticky_offer_seconds=rng.choice((0.0, 8.0))))
    referee = Referee(acd)
    now = 0.0
    for serial in range(250):
        now += rng.choice((0.0, 0.5, 1.0, 3.0, 8.0))
        if rng.random() < 0.15:
            acd.tick(now)
        else:
            with contextlib.suppress(LocalError):  # a refused event changes nothing
                acd.handle(_event(rng, acd, now, serial), now)
        _check_heads(acd)
    assert referee.checked > 0


def test_the_referee_sees_real_choices() -> None:
    # the property above is not vacuous: over a few floors, many searches find someone
    found = 0
    for seed in range(5):
        rng = random.Random(seed)
        queues, agents = _floor(rng)
        acd = Acd(queues, agents, AcdSettings(seed=seed))
        referee = Referee(acd)
        now = 0.0
        for serial in range(250):
            now += 1.0
            with contextlib.suppress(LocalError):  # a refused event changes nothing
                acd.handle(_event(rng, acd, now, serial), now)
        found += referee.found
        assert referee.found < referee.checked  # and some find nobody
    assert found > 100

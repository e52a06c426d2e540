"""Random traffic against the ACD engine, checking after every event what must always hold.

* No ready agent is eligible for a waiting caller (the router's invariant).
* Each queue's agents-by-state matches the agents' states.
* Every call offered to a queue is accounted for: answered, abandoned, timed out,
  overflowed, moved, failed callback, or still in the queue.
* The last published statistics / agent state equal the current ones (deltas never stale);
  with ``stats_interval``, a queue is published at most once per interval, its figures
  lag only within an interval of the last publication, and a tick after it converges.
* A refused event (any LocalError) changes nothing.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from config.errors import LocalError
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

QUEUES = (
    QueueConfig(
        "sales",
        skills={"sales": 3},
        widening=Widening(every=20, floor=1),
        tier_priority={"vip": 2},
        max_wait=90,
        max_wait_action=MaxWaitAction.OVERFLOW,
        max_wait_target="support",
        wrap_up=5,
        announce_interval=15,
    ),
    QueueConfig(
        "support",
        strategy=Strategy.FEWEST_CALLS,
        max_wait=120,
        max_wait_action=MaxWaitAction.CALLBACK,
        max_length=6,
        callback_attempts=2,
        callback_retry=10,
    ),
    QueueConfig(
        "billing",
        strategy=Strategy.ROUND_ROBIN,
        skills={"billing": 2},
        widening=Widening(every=30, floor=0),
        max_wait=60,
        max_wait_action=MaxWaitAction.VOICEMAIL,
        max_wait_target="vm",
        join_empty=False,
        wrap_up=3,
    ),
)
AGENTS = (
    AgentConfig("a1", "A1", "PJSIP/1", {"sales": 5}, ("sales", "support")),
    AgentConfig("a2", "A2", "PJSIP/2", {"sales": 2, "billing": 4}, ("sales", "billing")),
    AgentConfig("a3", "A3", "PJSIP/3", {"billing": 1, "french": 3}, ("billing", "support")),
    AgentConfig("a4", "A4", "PJSIP/4", {}, ("support",)),
    AgentConfig("a5", "A5", "PJSIP/5", {"sales": 4, "french": 2}, ("sales", "support", "billing")),
)
STATES = (AgentState.READY, AgentState.NOT_READY, AgentState.LOGGED_OUT)
# the same queues reconfigured at run time: other strategies, skills and priorities
RELOADED = (
    QueueConfig("sales", strategy=Strategy.RANDOM, skills={"sales": 2}, priority_seconds=10),
    QueueConfig("support", strategy=Strategy.LINEAR, skills={"french": 1}, max_length=3),
    QueueConfig("billing", skills={"billing": 1}, wrap_up=8, announce_interval=5),
)


def _meets(skills: dict[str, int], requirement: dict[str, int]) -> bool:
    return all(skills.get(s, 0) >= lvl for s, lvl in requirement.items())


def _random_event(rng: random.Random, snap: dict[str, Any], serial: int) -> ev.Event:
    calls = snap["calls"]
    by_state: dict[str, list[str]] = {}
    for call_id, c in calls.items():
        by_state.setdefault(c["state"], []).append(call_id)
    agent_ids = [a.agent_id for a in AGENTS]
    roll = rng.random()
    if roll < 0.25:
        skills = {"french": rng.randint(1, 3)} if rng.random() < 0.2 else {}
        return ev.CallQueued(
            f"c{serial}",
            rng.choice(("sales", "support", "billing", "nope")),
            priority=rng.choice((0, 0, 1)),
            skills=skills,
            tier=rng.choice(("", "", "vip")),
            sticky_agent=rng.choice((None, None, None, "a1", "a4")),
            callback_number=rng.choice((None,) * 6 + ("+15550001111",)),
        )
    if roll < 0.45:
        return ev.AgentStateRequest(
            rng.choice(agent_ids),
            rng.choice(STATES),
            rng.choice(("", "break", "lunch")),
            rng.choice((None, None, "sup")),
        )
    if roll < 0.55 and by_state.get("offered"):
        call_id = rng.choice(by_state["offered"])
        agent_id = calls[call_id]["agent_id"]
        if calls[call_id]["callback"]:
            return ev.CallbackResult(call_id, rng.random() < 0.5)
        return rng.choice((ev.AgentAnswered(call_id, agent_id), ev.RingNoAnswer(call_id, agent_id)))
    if roll < 0.65 and by_state.get("connected"):
        return ev.CallEnded(rng.choice(by_state["connected"]))
    if roll < 0.72 and calls:
        return ev.CallAbandoned(rng.choice(list(calls)))
    if roll < 0.78:
        return ev.WrapUpDone(rng.choice(agent_ids))
    if roll < 0.84 and by_state.get("waiting"):
        return ev.MoveCall(
            rng.choice(by_state["waiting"]), rng.choice(("sales", "support", "billing"))
        )
    if roll < 0.9 and by_state.get("waiting"):
        return ev.CallbackRequested(rng.choice(by_state["waiting"]), "5551234")
    if roll < 0.92:
        return ev.QueuesChanged(rng.choice((QUEUES, RELOADED)))
    if roll < 0.96:
        return _takeover_event(rng, snap, serial)
    # something plainly wrong now and then: unknown ids, illegal transitions
    return rng.choice(
        (
            ev.AgentAnswered("ghost", "a1"),
            ev.AgentStateRequest("zz", AgentState.READY),
            ev.AgentStateRequest("a1", AgentState.ON_CALL),
            ev.CallEnded(rng.choice(list(calls)) if calls else "ghost"),
        )
    )


def _takeover_event(rng: random.Random, snap: dict[str, Any], serial: int) -> ev.Event:
    """What a restart feeds in (refused, changing nothing, when the agent is busy)."""
    now = float(snap["at"])
    agent_id = rng.choice([a.agent_id for a in AGENTS])
    queue = rng.choice(("sales", "support", "billing"))
    since = now - rng.choice((0.0, 3.0, 40.0, 200.0))
    roll = rng.random()
    if roll < 0.35:
        return ev.CallQueued(f"c{serial}", queue, since=since)
    if roll < 0.7:
        answered = rng.choice((None, since, now))
        return ev.CallAdopted(f"c{serial}", queue, agent_id, since, answered_at=answered)
    state = rng.choice(
        (AgentState.READY, AgentState.NOT_READY, AgentState.WRAP_UP, AgentState.LOGGED_OUT)
    )
    until = rng.choice((None, now - 1, now + 4))
    return ev.AgentRestored(agent_id, state, "lunch", since, wrap_up_until=until)


def _check(
    acd: Acd,
    snap: dict[str, Any],
    published: dict[str, Any],
    states: dict[str, Any],
    *,
    stats_may_lag: bool = False,
) -> None:
    agents = snap["agents"]
    for name, queue in snap["queues"].items():
        members = [a for a in agents.values() if name in a["queues"]]
        for agent in members:
            if agent["state"] != "ready":
                continue
            for waiting in queue["waiting"]:
                assert not _meets(agent["skills"], waiting["requirement"]), (
                    f"ready agent {agent['name']} could take {waiting['call_id']} in {name}"
                )
        stats = queue["stats"]
        for state in AgentState:
            assert stats["agents"][state.value] == sum(
                1 for a in members if a["state"] == state.value
            )
        in_queue = sum(
            1
            for c in snap["calls"].values()
            if c["queue"] == name and c["state"] in ("waiting", "offered", "retry")
        )
        accounted = (
            stats["answered"]
            + stats["abandoned"]
            + stats["timed_out"]
            + stats["overflowed"]
            + stats["moved_out"]
            + stats["callbacks"]["failed"]
            + in_queue
        )
        assert stats["offered"] == accounted, (name, stats)
        assert stats["waiting"] == len(queue["waiting"])
        if not stats_may_lag:
            assert published[name] == acd.queue_stats(name)
    for agent_id, agent in agents.items():
        if agent_id in states:
            assert states[agent_id] == agent["state"]
        else:
            assert agent["state"] == "logged_out"


def _random_traffic(acd: Acd, rng: random.Random, check: Any) -> None:
    """400 random events and ticks; ``check(out, now, tick=...)`` after each one."""
    now = 0.0
    refused = 0
    for serial in range(400):
        now += rng.choice((0.0, 0.5, 1.0, 2.0, 5.0, 12.0))
        before = acd.snapshot(now)
        if rng.random() < 0.2:
            check(acd.tick(now), now, tick=True)
            continue
        event = _random_event(rng, before, serial)
        try:
            out = acd.handle(event, now)
        except LocalError:
            refused += 1
            assert json.dumps(acd.snapshot(now), sort_keys=True) == json.dumps(
                before, sort_keys=True
            ), f"refused {event} changed the engine"
            continue
        check(out, now, tick=False)
    assert refused > 0


@pytest.mark.parametrize("seed", range(10))
def test_coalesced_stats_keep_every_invariant_and_converge(seed: int) -> None:
    interval = (0.5, 3.0, 20.0)[seed % 3]
    rng = random.Random(seed)
    settings = AcdSettings(seed=seed, sticky_offer_seconds=6, stats_interval=interval)
    acd = Acd(QUEUES, AGENTS, settings)
    published: dict[str, Any] = {}
    published_at: dict[str, float] = {}
    states: dict[str, str] = {}
    ticks = 0

    def check(out: list[cmd.Command], now: float, *, tick: bool) -> None:
        nonlocal ticks
        stats = [c for c in out if isinstance(c, cmd.QueueStatsChanged)]
        assert tick or len(stats) <= 1, "an event published several queues"
        for c in stats:
            assert now - published_at.get(c.queue, -1e9) >= interval, "twice in an interval"
            published[c.queue], published_at[c.queue] = c.stats, now
        for c in out:
            if isinstance(c, cmd.AgentStateChanged):
                states[c.agent_id] = c.state.value
        _check(acd, acd.snapshot(now), published, states, stats_may_lag=True)
        lagging = [q.name for q in QUEUES if published.get(q.name) != acd.queue_stats(q.name)]
        if tick:  # a tick flushes every queue whose interval has passed
            ticks += 1
            assert all(now < published_at[name] + interval for name in lagging), lagging
        if lagging:  # held back: the engine says until when, at the latest (now: at once)
            next_timer = acd.next_timer()
            latest = max(published_at.get(n, now) for n in lagging) + interval
            assert next_timer is not None and next_timer <= max(now, latest)

    _random_traffic(acd, rng, check)
    assert ticks > 0
    end = max(published_at.values()) + interval
    check(acd.tick(end), end, tick=True)  # the flush
    assert all(published[q.name] == acd.queue_stats(q.name) for q in QUEUES)


@pytest.mark.parametrize("seed", range(25))
def test_random_traffic_keeps_every_invariant(seed: int) -> None:
    rng = random.Random(seed)
    acd = Acd(QUEUES, AGENTS, AcdSettings(seed=seed, sticky_offer_seconds=6))
    published: dict[str, Any] = {}
    states: dict[str, str] = {}

    def check(out: list[cmd.Command], now: float, *, tick: bool) -> None:
        for c in out:
            if isinstance(c, cmd.QueueStatsChanged):
                published[c.queue] = c.stats
            elif isinstance(c, cmd.AgentStateChanged):
                states[c.agent_id] = c.state.value
        _check(acd, acd.snapshot(now), published, states)

    _random_traffic(acd, rng, check)
    stats = [acd.queue_stats(q.name) for q in QUEUES]
    assert sum(s["answered"] for s in stats) > 0

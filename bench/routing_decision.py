"""Routing decision cost of the ACD engine against a naive linear-scan router.

Run: ``python bench/routing_decision.py [--events 3000] [--sizes 100,1000,5000,10000]``

For each size N the contact center has N agents in 4 queues (1–3 queues each, queue and
language skills at levels 1–5) and 0.4·N callers waiting (2,000 at 5,000 agents), each
needing its queue's skill at level 1–3 and sometimes a language. The steady state is
replayed: an agent on a call hangs up, becomes ready and is given the best caller across
all their queues (a routing decision), answers, and a new caller arrives (a second
decision: is any ready agent eligible?). A second phase keeps half the agents ready and
no one waiting, so every arrival searches a big pool of ready agents by skill.

"ours" times the complete ``Acd.handle`` call — the decision plus state changes, timers
and the statistics deltas it publishes. "naive" times only the decision of a router that
scans every waiting call / ready agent, the way a per-event loop over lists would. The
last columns divide the time by log2 N: flat means O(log n) growth.

This is a benchmark, not a test: it prints a table and asserts nothing.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.figures import Figure
from bench.figures import report as report_figures
from routing.acd import Acd, AgentConfig, AgentState, QueueConfig
from routing.acd import commands as cmd
from routing.acd import events as ev

QUEUES = {"sales": "sales", "support": "support", "billing": "billing", "vip": "support"}
LANGUAGES = ("french", "german", "spanish")


def make_agents(n: int, rng: random.Random) -> list[AgentConfig]:
    agents = []
    names = list(QUEUES)
    for i in range(n):
        queues = tuple(rng.sample(names, rng.randint(1, 3)))
        skills = {QUEUES[q]: rng.randint(1, 5) for q in queues}
        if rng.random() < 0.4:
            skills[rng.choice(LANGUAGES)] = rng.randint(1, 5)
        agents.append(AgentConfig(f"a{i}", f"Agent {i}", f"PJSIP/{1000 + i}", skills, queues))
    return agents


def make_call(i: int, rng: random.Random) -> ev.CallQueued:
    queue = rng.choice(list(QUEUES))
    skills = {QUEUES[queue]: rng.randint(1, 3)}
    if rng.random() < 0.2:
        skills[rng.choice(LANGUAGES)] = rng.randint(1, 2)
    tier = "vip" if rng.random() < 0.05 else ""
    return ev.CallQueued(
        f"c{i}", queue, priority=rng.choice((0, 0, 0, 1)), skills=skills, tier=tier
    )


# ---------------------------------------------------------------- the naive peer


@dataclass
class NaiveAgent:
    config: AgentConfig
    ready: bool = False
    idle_since: float = 0.0


@dataclass
class NaiveCall:
    event: ev.CallQueued
    key: float


class NaiveRouter:
    """Same policy (global key, skills, longest idle), found by scanning lists."""

    def __init__(self, queues: list[QueueConfig], agents: list[AgentConfig]) -> None:
        self.queues = {q.name: q for q in queues}
        self.agents = {a.agent_id: NaiveAgent(a) for a in agents}
        self.waiting: list[NaiveCall] = []

    def _key(self, e: ev.CallQueued, now: float) -> float:
        q = self.queues[e.queue]
        return now - (e.priority + q.tier_priority.get(e.tier, 0)) * q.priority_seconds

    @staticmethod
    def _meets(agent: AgentConfig, e: ev.CallQueued) -> bool:
        return all(agent.skills.get(s, 0) >= lvl for s, lvl in e.skills.items())

    def call_arrives(self, e: ev.CallQueued, now: float) -> str | None:
        best: NaiveAgent | None = None
        for agent in self.agents.values():
            if (
                agent.ready
                and e.queue in agent.config.queues
                and self._meets(agent.config, e)
                and (best is None or agent.idle_since < best.idle_since)
            ):
                best = agent
        if best is None:
            self.waiting.append(NaiveCall(e, self._key(e, now)))
            return None
        best.ready = False
        return best.config.agent_id

    def agent_ready(self, agent_id: str, now: float) -> str | None:
        agent = self.agents[agent_id]
        best: NaiveCall | None = None
        for call in self.waiting:
            if (
                call.event.queue in agent.config.queues
                and self._meets(agent.config, call.event)
                and (best is None or call.key < best.key)
            ):
                best = call
        if best is None:
            agent.ready = True
            agent.idle_since = now
            return None
        self.waiting.remove(best)
        return best.event.call_id


# ---------------------------------------------------------------- the runs


def queues() -> list[QueueConfig]:
    return [QueueConfig(name, tier_priority={"vip": 2}) for name in QUEUES]


class DecisionTimer:
    """Wraps the engine's three decision functions to time the decision alone.

    (Bench-only instrumentation: it reads private methods, and adds ~0.2 µs per call.)
    """

    def __init__(self, acd: Acd) -> None:
        self.spent = 0.0
        for name in ("_best_call", "_best_agent", "_sticky_call"):
            setattr(acd, name, self._timed(getattr(acd, name)))

    def _timed(self, fn: Any) -> Any:
        clock = time.perf_counter

        def timed(*args: Any) -> Any:
            t0 = clock()
            try:
                return fn(*args)
            finally:
                self.spent += clock() - t0

        return timed

    def take(self) -> float:
        spent, self.spent = self.spent, 0.0
        return spent


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1e6


Samples = dict[str, list[float]]


def waiting_total(acd: Acd) -> int:
    return sum(acd.queue_stats(q)["waiting"] for q in QUEUES)


def run_ours(n: int, events: int, seed: int) -> tuple[Samples, int]:
    """Busy center; per event kind, the whole ``handle`` time and the decision time."""
    rng = random.Random(seed)
    agents = make_agents(n, rng)
    acd = Acd(queues(), agents, now=0)
    on_call: list[tuple[str, str]] = []
    now = 0.0
    for a in agents:
        acd.handle(ev.AgentStateRequest(a.agent_id, AgentState.READY), now)
    serial = 0

    def answer(out: list[cmd.Command]) -> None:
        for c in out:
            if isinstance(c, cmd.RingAgent):
                acd.handle(ev.AgentAnswered(c.call_id, c.agent_id), now)
                on_call.append((c.call_id, c.agent_id))

    # fill: callers until every agent who can be busy is, and 0.4 N callers wait
    target = int(0.4 * n)
    while serial < 10 * n and (serial % 64 or waiting_total(acd) < target):
        now += 0.001
        answer(acd.handle(make_call(serial, rng), now))
        serial += 1
    timer = DecisionTimer(acd)
    samples: Samples = {k: [] for k in ("ready", "ready_decision", "arrive", "arrive_decision")}
    clock = time.perf_counter
    for _ in range(events):
        now += 0.01
        i = rng.randrange(len(on_call))
        on_call[i], on_call[-1] = on_call[-1], on_call[i]
        call_id, _agent_id = on_call.pop()
        timer.take()
        t0 = clock()
        out = acd.handle(ev.CallEnded(call_id), now)
        samples["ready"].append(clock() - t0)
        samples["ready_decision"].append(timer.take())
        answer(out)
        e = make_call(serial, rng)
        serial += 1
        t0 = clock()
        out = acd.handle(e, now)
        samples["arrive"].append(clock() - t0)
        samples["arrive_decision"].append(timer.take())
        answer(out)
    return samples, waiting_total(acd)


def run_naive(n: int, events: int, seed: int) -> tuple[list[float], list[float]]:
    rng = random.Random(seed)
    agents = make_agents(n, rng)
    router = NaiveRouter(queues(), agents)
    now = 0.0
    for a in agents:
        router.agents[a.agent_id].ready = True
    on_call: list[str] = []
    serial = 0
    while len(router.waiting) < int(0.4 * n):
        now += 0.001
        got = router.call_arrives(make_call(serial, rng), now)
        serial += 1
        if got is not None:
            on_call.append(got)
    agent_free: list[float] = []
    arrival: list[float] = []
    clock = time.perf_counter
    for _ in range(events):
        now += 0.01
        i = rng.randrange(len(on_call))
        on_call[i], on_call[-1] = on_call[-1], on_call[i]
        agent_id = on_call.pop()
        t0 = clock()
        got_call = router.agent_ready(agent_id, now)
        agent_free.append(clock() - t0)
        if got_call is not None:
            on_call.append(agent_id)
        e = make_call(serial, rng)
        serial += 1
        t0 = clock()
        got = router.call_arrives(e, now)
        arrival.append(clock() - t0)
        if got is not None:
            on_call.append(got)
    return agent_free, arrival


def run_ready_pool(n: int, events: int, seed: int) -> Samples:
    """Half the agents ready, nobody waiting: each arrival searches the ready pool.

    The two routers run one after the other on the same callers (interleaving them
    would let the naive scan evict the engine's data from the CPU caches).
    """
    rng = random.Random(seed)
    agents = make_agents(n, rng)
    calls = [make_call(k, rng) for k in range(events)]
    clock = time.perf_counter
    samples: Samples = {k: [] for k in ("arrive", "arrive_decision", "naive")}
    acd = Acd(queues(), agents, now=0)
    for i, a in enumerate(agents):
        if i % 2 == 0:
            acd.handle(ev.AgentStateRequest(a.agent_id, AgentState.READY), float(i))
    timer = DecisionTimer(acd)
    for k, e in enumerate(calls):
        now = float(n + k)
        timer.take()
        t0 = clock()
        out = acd.handle(e, now)
        samples["arrive"].append(clock() - t0)
        samples["arrive_decision"].append(timer.take())
        rang = [c for c in out if isinstance(c, cmd.RingAgent)]
        if rang:
            acd.handle(ev.AgentAnswered(e.call_id, rang[0].agent_id), now)
            acd.handle(ev.CallEnded(e.call_id), now)
        else:
            acd.handle(ev.CallAbandoned(e.call_id), now)
    del acd, timer
    router = NaiveRouter(queues(), agents)
    for i, a in enumerate(agents):
        if i % 2 == 0:
            router.agents[a.agent_id].ready = True
            router.agents[a.agent_id].idle_since = float(i)
    for k, e in enumerate(calls):
        now = float(n + k)
        t0 = clock()
        got = router.call_arrives(e, now)
        samples["naive"].append(clock() - t0)
        if got is not None:
            router.agents[got].ready = True  # the call ends at once
            router.agents[got].idle_since = now
        router.waiting.clear()
    return samples


T = TypeVar("T")


def quietest(run: Callable[[], T], rounds: int) -> T:
    """Run ``rounds`` times and keep the result whose samples have the lowest p99.

    The machine is shared (other processes, CPU frequency changes); like ``timeit``
    taking the minimum, the quietest round is the best estimate of the code's own cost.
    """
    best: T | None = None
    best_p99 = math.inf
    for _ in range(max(1, rounds)):
        result = run()
        samples = result[0] if isinstance(result, tuple) else result
        values = samples.values() if isinstance(samples, dict) else [samples]
        p99 = sum(pct(v, 0.99) for v in values)
        if p99 < best_p99:
            best, best_p99 = result, p99
    assert best is not None
    return best


def row(n: int, label: str, decision: list[float], whole: list[float], naive: list[float]) -> str:
    d50, d99 = pct(decision, 0.5), pct(decision, 0.99)
    w50, w99 = pct(whole, 0.5), pct(whole, 0.99)
    n50, n99 = pct(naive, 0.5), pct(naive, 0.99)
    return (
        f"{n:>6} | {label:<13} | {d50:>6.1f} {d99:>6.1f} | {w50:>6.1f} {w99:>6.1f} | "
        f"{n50:>7.1f} {n99:>7.1f} | {n99 / d99:>7.1f}x | {d99 / math.log2(n):>6.2f}"
    )


HEAD = (
    f"{'agents':>6} | {'event':<13} | {'decision µs':^13} | {'whole event µs':^13} | "
    f"{'naive µs':^15} | {'naive99':>8} | {'dec p99'}\n"
    f"{'':>6} | {'':<13} | {'p50':>6} {'p99':>6} | {'p50':>6} {'p99':>6} | "
    f"{'p50':>7} {'p99':>7} | {'/ours99':>8} | {'/log2 N'}"
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--sizes", default="100,1000,5000,10000")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--rounds", type=int, default=3, help="repeat each row; report the quietest round"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 200 events, 100 and 1,000 agents, 1 round"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.sizes, args.rounds = 200, "100,1000", 1
    sizes = [int(s) for s in args.sizes.split(",")]
    busy: dict[int, Samples] = {}
    naive_busy: dict[int, list[float]] = {}

    print("Busy center: 0.4·N callers waiting; an agent frees up, then a caller arrives")
    print(HEAD)
    print("-" * 96)
    for n in sizes:
        ours, waiting = quietest(partial(run_ours, n, args.events, args.seed), args.rounds)
        naive_ready, naive_arrive = quietest(
            partial(run_naive, n, args.events, args.seed), args.rounds
        )
        busy[n], naive_busy[n] = ours, naive_ready
        label = f"ready ({waiting} w)"
        print(row(n, label, ours["ready_decision"], ours["ready"], naive_ready))
        print(row(n, "call arrives", ours["arrive_decision"], ours["arrive"], naive_arrive))
    print()
    print("Ready pool: half the agents ready, nobody waiting; every arrival picks an agent")
    print(HEAD)
    print("-" * 96)
    for n in sizes:
        pool = quietest(partial(run_ready_pool, n, args.events, args.seed), args.rounds)
        print(row(n, "call arrives", pool["arrive_decision"], pool["arrive"], pool["naive"]))
    print()
    print(
        f"python {sys.version.split()[0]}; {args.events} timed events per row, quietest of "
        f"{args.rounds} rounds; percentiles "
        "of single events (perf_counter). decision = finding the agent / caller; whole "
        "event = Acd.handle including state changes, timers and statistics deltas. "
        "naive = decision only, by scanning."
    )
    report_figures(headline(busy, naive_busy))
    return 0


def headline(busy: dict[int, Samples], naive: dict[int, list[float]]) -> list[Figure]:
    """The README's figures: p99 at 5,000 agents (or the largest size run), and how the
    decision's p99 grows from the smallest to the largest size (flat is O(log n))."""
    focus = 5000 if 5000 in busy else max(busy)
    ours = busy[focus]
    decision = max(pct(ours["ready_decision"], 0.99), pct(ours["arrive_decision"], 0.99))
    small, large = min(busy), max(busy)
    growth = pct(busy[large]["ready_decision"], 0.99) / pct(busy[small]["ready_decision"], 0.99)
    naive_growth = pct(naive[large], 0.99) / pct(naive[small], 0.99)
    return [
        Figure(f"decision p99, {focus} agents", decision, "µs", "< 50 µs", decision < 50),
        Figure(f"whole event p99, {focus} agents", pct(ours["ready"], 0.99), "µs"),
        Figure(f"naive router p99, {focus} agents", pct(naive[focus], 0.99), "µs", peer=True),
        Figure(f"decision p99 growth {small}->{large} agents", growth, "x", "flat (O(log n))"),
        Figure(f"naive p99 growth {small}->{large} agents", naive_growth, "x", peer=True),
    ]


if __name__ == "__main__":
    sys.exit(main())

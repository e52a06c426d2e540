"""Routing decision cost of the ACD engine against a naive linear-scan router.

Run: ``python -m bench.routing_decision [--events 3000] [--sizes 100,1000,5000,10000]
[--waiting 0.04,0.4,0.8] [--stats-interval 0.25]``

For each size N the contact center has N agents in 4 queues (1–3 queues each, queue and
language skills at levels 1–5) and, for each ``--waiting`` fraction, that many callers
per agent waiting (200, 2,000 and 4,000 at 5,000 agents), each needing its queue's skill
at level 1–3 and sometimes a language. Queues announce position every 30 s, "sales"
widens its skill requirement every 60 s, and every queue but "billing" has a wrap-up.

The steady state is replayed the way the service feeds the engine, one step at a time:
a connected call hangs up (``CallEnded``: in "billing" the agent is ready at once and
given the best caller across all their queues — a routing decision; elsewhere the agent
enters wrap-up), the agent ends wrap-up (``WrapUpDone``: a routing decision), the ring is
answered (``AgentAnswered``), a new caller arrives (``CallQueued``: a routing decision, is
any ready agent eligible?) and the timers due are run (``tick``: announcements, skill
widening). A second phase keeps half the agents ready and no one waiting, so every
arrival searches a big pool of ready agents by skill.

What is timed is what the service runs per event: the whole ``Acd.handle`` (or
``Acd.tick``) call — the choice of agent or caller plus the state changes, timers and the
statistics deltas it publishes. The "choice" columns time only the engine's search
inside that call (its private ``_best_call`` / ``_best_agent`` / ``_sticky_call``),
for comparison with the naive router, which is timed on its decision alone: it scans
every waiting call / ready agent, the way a per-event loop over lists would. The
last column divides the whole event's p99 by log2 N: flat means O(log n) growth.

The engine runs with the service's default ``[routing] stats_interval`` (0.25 s: a
queue's statistics at most four times a second; a busy step is 10 ms, so about one event
in 25 of each queue carries them); ``--stats-interval 0`` publishes after every event.

A third table puts chats and emails through the same engine (issue 16): the busy run
again, once voice-only and once with every queue taking calls, chats and emails (arrivals
half calls, 30 % chats, 20 % emails; agents at the default capacity, voice 1, chat 3,
email 2, no call during chats), side by side in the same process. There a routing
decision is an agent ready after a call (who may take several chats at once), a digital
slot freed (``ContactClosed`` after the chat's wrap-up, or its end in "billing") and an
arrival; the target is the mixed decision p99 within 2x of voice-only.

This is a benchmark, not a test: it prints a table and asserts nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
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
from config.settings import RoutingSettings
from routing.acd import Acd, AcdSettings, AgentConfig, AgentState, QueueConfig, Widening
from routing.acd import commands as cmd
from routing.acd import events as ev
from routing.acd.model import CHANNELS

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

WRAP_UP = {"sales": 30.0, "support": 30.0, "billing": 0.0, "vip": 30.0}


def queues() -> list[QueueConfig]:
    return [
        QueueConfig(
            name,
            tier_priority={"vip": 2},
            wrap_up=WRAP_UP[name],
            announce_interval=30.0,
            widening=Widening(every=60.0, floor=1) if name == "sales" else Widening(),
        )
        for name in QUEUES
    ]


class DecisionTimer:
    """Wraps the engine's three search functions to time the choice alone.

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
    if not samples:
        return math.nan
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1e6


Samples = dict[str, list[float]]

#: the busy run's event kinds, in table order; the first three are routing decisions
READY_AT_HANGUP = "ready at hang-up"
READY_AFTER_WRAP = "ready after wrap"
ARRIVES = "call arrives"
DECISIONS = (READY_AT_HANGUP, READY_AFTER_WRAP, ARRIVES)
OTHERS = ("hang-up to wrap", "answer", "tick")


def waiting_total(acd: Acd) -> int:
    return sum(acd.queue_stats(q)["waiting"] for q in QUEUES)


STATS_INTERVAL = RoutingSettings().stats_interval


def run_ours(
    n: int, waiting: int, events: int, seed: int, stats_interval: float = STATS_INTERVAL
) -> tuple[Samples, int]:
    """Busy center with about ``waiting`` callers in line; per event kind, the time of
    the whole ``handle`` / ``tick`` call, and (key + " choice") the search inside it."""
    rng = random.Random(seed)
    agents = make_agents(n, rng)
    acd = Acd(queues(), agents, AcdSettings(stats_interval=stats_interval), now=0)
    on_call: list[tuple[str, str, str]] = []  # (call, agent, queue)
    now = 0.0
    for a in agents:
        acd.handle(ev.AgentStateRequest(a.agent_id, AgentState.READY), now)
    serial = 0

    def answer(out: list[cmd.Command], timed: list[float] | None = None) -> None:
        for c in out:
            if isinstance(c, cmd.RingAgent):
                t0 = clock()
                acd.handle(ev.AgentAnswered(c.call_id, c.agent_id), now)
                if timed is not None:
                    timed.append(clock() - t0)
                on_call.append((c.call_id, c.agent_id, c.queue))

    clock = time.perf_counter
    # fill: callers until every agent who can be busy is, and ``waiting`` callers wait
    every = max(1, min(64, waiting // 8))  # how often to count the line
    while serial < 10 * n + waiting and (serial % every or waiting_total(acd) < waiting):
        now += 0.001
        answer(acd.handle(make_call(serial, rng), now))
        serial += 1
    # let the fill's ring timers (every agent was rung within a few seconds) fall due and
    # be dropped, as they would have been spread over time on a real floor
    now += 30.0
    answer(acd.tick(now))
    timer = DecisionTimer(acd)
    kinds = (*DECISIONS, *OTHERS)
    samples: Samples = {k: [] for k in (*kinds, *(f"{k} choice" for k in DECISIONS))}

    def timed(kind: str, event: ev.Event) -> list[cmd.Command]:
        timer.take()
        t0 = clock()
        out = acd.handle(event, now)
        samples[kind].append(clock() - t0)
        if kind in DECISIONS:
            samples[f"{kind} choice"].append(timer.take())
        return out

    for _ in range(events):
        now += 0.01
        i = rng.randrange(len(on_call))
        on_call[i], on_call[-1] = on_call[-1], on_call[i]
        call_id, agent_id, queue = on_call.pop()
        if WRAP_UP[queue] > 0:
            timed("hang-up to wrap", ev.CallEnded(call_id))
            out = timed(READY_AFTER_WRAP, ev.WrapUpDone(agent_id))
        else:
            out = timed(READY_AT_HANGUP, ev.CallEnded(call_id))
        answer(out, samples["answer"])
        answer(timed(ARRIVES, make_call(serial, rng)), samples["answer"])
        serial += 1
        t0 = clock()
        out = acd.tick(now)
        samples["tick"].append(clock() - t0)
        answer(out)
    return samples, waiting_total(acd)


def run_naive(n: int, waiting: int, events: int, seed: int) -> tuple[list[float], list[float]]:
    rng = random.Random(seed)
    agents = make_agents(n, rng)
    router = NaiveRouter(queues(), agents)
    now = 0.0
    for a in agents:
        router.agents[a.agent_id].ready = True
    on_call: list[str] = []
    serial = 0
    while len(router.waiting) < waiting and serial < 10 * n + waiting:
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


def run_ready_pool(
    n: int, events: int, seed: int, stats_interval: float = STATS_INTERVAL
) -> Samples:
    """Half the agents ready, nobody waiting: each arrival searches the ready pool.

    The two routers run one after the other on the same callers (interleaving them
    would let the naive scan evict the engine's data from the CPU caches).
    """
    rng = random.Random(seed)
    agents = make_agents(n, rng)
    calls = [make_call(k, rng) for k in range(events)]
    clock = time.perf_counter
    samples: Samples = {k: [] for k in ("arrive", "arrive_decision", "naive")}
    acd = Acd(queues(), agents, AcdSettings(stats_interval=stats_interval), now=0)
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
            if acd.agent_state(rang[0].agent_id) is AgentState.WRAP_UP:
                acd.handle(ev.WrapUpDone(rang[0].agent_id), now)
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


# ---------------------------------------------------------------- mixed channels

READY_AFTER_CALL = "ready after call"
SLOT_FREED = "slot freed"
CONTACT_ARRIVES = "contact arrives"
CHANNEL_DECISIONS = (READY_AFTER_CALL, SLOT_FREED, CONTACT_ARRIVES)


def make_contact(i: int, rng: random.Random, mixed: bool) -> ev.CallQueued:
    """A caller as ``make_call`` makes one; with ``mixed``, a chat or an email half the time."""
    e = make_call(i, rng)
    if not mixed:
        return e
    roll = rng.random()
    channel = "voice" if roll < 0.5 else "chat" if roll < 0.8 else "email"
    return dataclasses.replace(e, channel=channel)


def run_channels(
    n: int, waiting: int, events: int, seed: int, mixed: bool, stats_interval: float
) -> tuple[Samples, int]:
    """The busy center with contacts of every channel (``mixed``) or calls only; per
    decision kind the whole ``handle`` call."""
    rng = random.Random(seed)
    agents = make_agents(n, rng)
    qs = queues()
    if mixed:
        qs = [dataclasses.replace(q, channels=frozenset(CHANNELS)) for q in qs]
    acd = Acd(qs, agents, AcdSettings(stats_interval=stats_interval), now=0)
    active: list[tuple[str, str, str, str]] = []  # (contact, agent, queue, channel) held
    now = 0.0
    clock = time.perf_counter
    for a in agents:
        acd.handle(ev.AgentStateRequest(a.agent_id, AgentState.READY), now)

    def collect(out: list[cmd.Command]) -> None:
        for c in out:
            if isinstance(c, cmd.RingAgent):
                acd.handle(ev.AgentAnswered(c.call_id, c.agent_id), now)
                active.append((c.call_id, c.agent_id, c.queue, "voice"))
            elif isinstance(c, cmd.AssignContact):
                active.append((c.call_id, c.agent_id, c.queue, c.channel))

    serial = 0
    every = max(1, min(64, waiting // 8))
    while serial < 20 * n + waiting and (serial % every or waiting_total(acd) < waiting):
        now += 0.001
        collect(acd.handle(make_contact(serial, rng, mixed), now))
        serial += 1
    now += 30.0
    collect(acd.tick(now))
    samples: Samples = {k: [] for k in (*CHANNEL_DECISIONS, "tick")}

    def timed(kind: str, event: ev.Event) -> list[cmd.Command]:
        t0 = clock()
        out = acd.handle(event, now)
        samples[kind].append(clock() - t0)
        return out

    for _ in range(events):
        now += 0.01
        i = rng.randrange(len(active))
        active[i], active[-1] = active[-1], active[i]
        contact, agent_id, queue, channel = active.pop()
        held = WRAP_UP[queue] > 0
        if channel == "voice":
            if held:
                acd.handle(ev.CallEnded(contact), now)
                out = timed(READY_AFTER_CALL, ev.WrapUpDone(agent_id))
            else:
                out = timed(READY_AFTER_CALL, ev.CallEnded(contact))
        elif held:  # the chat ends; its wrap-up holds the slot until it is saved
            acd.handle(ev.CallEnded(contact), now)
            out = timed(SLOT_FREED, ev.ContactClosed(contact))
        else:  # no wrap-up in this queue: the end frees the slot
            out = timed(SLOT_FREED, ev.CallEnded(contact))
        collect(out)
        collect(timed(CONTACT_ARRIVES, make_contact(serial, rng, mixed)))
        serial += 1
        t0 = clock()
        out = acd.tick(now)
        samples["tick"].append(clock() - t0)
        collect(out)
    # voice-only frees no digital slot: leave the kinds that never happened out
    return {k: v for k, v in samples.items() if v}, waiting_total(acd)


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


def row(
    n: int, waiting: int, label: str, whole: list[float], choice: list[float], naive: list[float]
) -> str:
    w50, w99 = pct(whole, 0.5), pct(whole, 0.99)
    c50, c99 = pct(choice, 0.5), pct(choice, 0.99)
    n50, n99 = pct(naive, 0.5), pct(naive, 0.99)
    ratio = f"{n99 / w99:>7.1f}x" if naive else f"{'':>8}"
    return (
        f"{n:>6} | {waiting:>7} | {label:<16} | {w50:>6.1f} {w99:>6.1f} | {c50:>6.1f} {c99:>6.1f} | "
        f"{n50:>7.1f} {n99:>7.1f} | {ratio} | {w99 / math.log2(n):>6.2f}"
    )


def blank(values: str) -> str:
    return values.replace("nan", "  -")


HEAD = (
    f"{'agents':>6} | {'waiting':>7} | {'event':<16} | {'whole event µs':^13} | "
    f"{'choice µs':^13} | {'naive µs':^15} | {'naive99':>8} | {'p99'}\n"
    f"{'':>6} | {'':>7} | {'':<16} | {'p50':>6} {'p99':>6} | {'p50':>6} {'p99':>6} | "
    f"{'p50':>7} {'p99':>7} | {'/ours99':>8} | {'/log2 N'}"
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000, help="timed steps per row")
    parser.add_argument("--sizes", default="100,1000,5000,10000")
    parser.add_argument(
        "--waiting", default="0.04,0.4,0.8", help="callers waiting per agent, one run each"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--stats-interval",
        type=float,
        default=STATS_INTERVAL,
        help="AcdSettings.stats_interval (the service's default; 0: stats after every event)",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="repeat each row; report the quietest round"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 200 events, 100 and 1,000 agents, 0.4 waiting per agent, 1 round",
    )
    parser.add_argument(
        "--channels-only",
        action="store_true",
        help="only the voice-only / mixed-channel table (issue 16)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.sizes, args.waiting, args.rounds = 200, "100,1000", "0.4", 1
    sizes = [int(s) for s in args.sizes.split(",")]
    fractions = [float(w) for w in args.waiting.split(",")]
    busy: dict[tuple[int, int], Samples] = {}
    naive_busy: dict[tuple[int, int], tuple[list[float], list[float]]] = {}
    load = os.getloadavg()[0]

    if not args.channels_only:
        print("Busy center: callers waiting; per step a call ends, its agent is ready, the ring")
        print("is answered, a caller arrives and the timers due run (routing decisions first)")
        print(HEAD)
        print("-" * 118)
        for n in sizes:
            for fraction in fractions:
                want = max(1, round(fraction * n))
                ours, waiting = quietest(
                    partial(run_ours, n, want, args.events, args.seed, args.stats_interval),
                    args.rounds,
                )
                naive = quietest(partial(run_naive, n, want, args.events, args.seed), args.rounds)
                busy[(n, want)], naive_busy[(n, want)] = ours, naive
                peers = {READY_AT_HANGUP: naive[0], READY_AFTER_WRAP: naive[0], ARRIVES: naive[1]}
                for kind in DECISIONS:
                    whole, choice = ours[kind], ours[f"{kind} choice"]
                    print(row(n, waiting, kind, whole, choice, peers[kind]))
                for kind in OTHERS:
                    print(blank(row(n, waiting, kind, ours[kind], [], [])))
        print()
        print("Ready pool: half the agents ready, nobody waiting; every arrival picks an agent")
        print(HEAD)
        print("-" * 118)
        for n in sizes:
            pool = quietest(
                partial(run_ready_pool, n, args.events, args.seed, args.stats_interval), args.rounds
            )
            print(row(n, 0, ARRIVES, pool["arrive"], pool["arrive_decision"], pool["naive"]))
        print()
    print("Channels: the busy center voice-only and with calls, chats and emails (same run)")
    print(CHANNEL_HEAD)
    print("-" * 92)
    channels: dict[int, tuple[Samples, Samples]] = {}
    mixed_fraction = 0.4 if 0.4 in fractions else fractions[-1]
    for n in sizes:
        want = max(1, round(mixed_fraction * n))
        pair = []
        for mixed in (False, True):
            samples, waiting = quietest(
                partial(run_channels, n, want, args.events, args.seed, mixed, args.stats_interval),
                args.rounds,
            )
            pair.append(samples)
            label = "mixed" if mixed else "voice only"
            for kind in (*CHANNEL_DECISIONS, "tick"):
                if kind in samples:
                    print(channel_row(n, waiting, label, kind, samples[kind]))
        channels[n] = (pair[0], pair[1])
        print(f"{'':>6} | mixed / voice-only, worst decision p99: {mixed_ratio(*channels[n]):.2f}x")
    print()
    print(
        f"python {sys.version.split()[0]}; {args.events} timed steps per row, quietest of "
        f"{args.rounds} rounds; 1-min load {load:.2f} at the start, "
        f"{os.getloadavg()[0]:.2f} at the end; stats_interval {args.stats_interval:g} s. "
        "Percentiles of single events "
        "(perf_counter). whole event = Acd.handle / Acd.tick, what the service runs per "
        "event: the choice, state changes, timers and statistics deltas. choice = the "
        "engine's search for the agent / caller inside it. naive = decision only, by "
        "scanning; the waiting column is the engine's line at the end of the run."
    )
    figures = headline(busy, naive_busy) if busy else []
    report_figures([*figures, *channel_headline(channels)])
    return 0


CHANNEL_HEAD = (
    f"{'agents':>6} | {'waiting':>7} | {'contacts':<10} | {'event':<16} | "
    f"{'whole event µs':^13} | {'samples':>7}\n"
    f"{'':>6} | {'':>7} | {'':<10} | {'':<16} | {'p50':>6} {'p99':>6} | {'':>7}"
)


def channel_row(n: int, waiting: int, label: str, kind: str, whole: list[float]) -> str:
    return (
        f"{n:>6} | {waiting:>7} | {label:<10} | {kind:<16} | "
        f"{pct(whole, 0.5):>6.1f} {pct(whole, 0.99):>6.1f} | {len(whole):>7}"
    )


def worst_decision(samples: Samples) -> float:
    return max(pct(samples[k], 0.99) for k in CHANNEL_DECISIONS if k in samples)


def mixed_ratio(voice: Samples, mixed: Samples) -> float:
    return worst_decision(mixed) / worst_decision(voice)


def channel_headline(channels: dict[int, tuple[Samples, Samples]]) -> list[Figure]:
    """At the largest size run: the mixed-channel decision p99 against voice-only's."""
    n = max(channels)
    voice, mixed = channels[n]
    ratio = mixed_ratio(voice, mixed)
    return [
        Figure(f"mixed-channel decision p99, {n} agents", worst_decision(mixed), "µs"),
        Figure(
            f"voice-only decision p99 (same run), {n} agents",
            worst_decision(voice),
            "µs",
            peer=True,
        ),
        Figure(f"mixed / voice-only decision p99, {n} agents", ratio, "x", "< 2x", ratio < 2),
    ]


def headline(
    busy: dict[tuple[int, int], Samples],
    naive: dict[tuple[int, int], tuple[list[float], list[float]]],
) -> list[Figure]:
    """The README's figures, at 5,000 agents (or the largest size run) with the most
    callers waiting: the worst p99 of a routing decision (whole event, every decision
    kind), the choice alone, the naive router; and how the p50 grows with the size."""
    sizes = sorted({n for n, _ in busy})
    focus = 5000 if 5000 in sizes else sizes[-1]
    runs = sorted(w for n, w in busy if n == focus)

    def worst(key: tuple[int, int], suffix: str = "") -> float:
        return max(pct(busy[key][kind + suffix], 0.99) for kind in DECISIONS)

    def naive_worst(key: tuple[int, int]) -> float:
        return max(pct(samples, 0.99) for samples in naive[key])

    top = (focus, runs[-1])
    overall = max(worst((focus, w)) for w in runs)
    small = (sizes[0], max(w for n, w in busy if n == sizes[0]))
    large = (sizes[-1], max(w for n, w in busy if n == sizes[-1]))

    def median(key: tuple[int, int]) -> float:  # growth is read on p50: p99 is the machine's
        return max(pct(busy[key][kind], 0.5) for kind in DECISIONS)

    def naive_median(key: tuple[int, int]) -> float:
        return max(pct(samples, 0.5) for samples in naive[key])

    waiting = f"{focus} agents, {runs[-1]} waiting"
    return [
        Figure(
            f"decision p99 (whole event), {waiting}", worst(top), "µs", "< 50 µs", worst(top) < 50
        ),
        Figure(
            f"decision p99, {focus} agents, worst of {len(runs)} waiting levels",
            overall,
            "µs",
            "< 50 µs",
            overall < 50,
        ),
        Figure(f"choice alone p99, {waiting}", worst(top, " choice"), "µs"),
        Figure(f"hang-up to wrap-up p99, {waiting}", pct(busy[top]["hang-up to wrap"], 0.99), "µs"),
        Figure(f"naive router p99, {waiting}", naive_worst(top), "µs", peer=True),
        Figure(
            f"decision p50 growth {small[0]}->{large[0]} agents",
            median(large) / median(small),
            "x",
            "flat (O(log n))",
        ),
        Figure(
            f"naive p50 growth {small[0]}->{large[0]} agents",
            naive_median(large) / naive_median(small),
            "x",
            peer=True,
        ),
    ]


if __name__ == "__main__":
    sys.exit(main())

"""Contact milestones per second through ``routing.contacts.ContactRecorder`` on a floor's
workload, SQLite and PostgreSQL side by side in the same run.

Not a test: prints a table. Targets from issue 12: with PostgreSQL, the same contact-write
rate as SQLite or better; one node carries 200 calls/s end to end with no contact lost.

    python -m bench.recorder               # 2,000 calls drained x 3 rounds, 200 calls/s paced 10 s
    python -m bench.recorder --quick       # seconds
    python -m bench.recorder --no-postgres # SQLite only

The floor: every call takes the milestones the center takes for an answered call
(arrived, three IVR steps, IVR done, queued, offered, answered, held, unheld, ended) and
its agent's four saved states (ringing, on call, wrap-up, ready): 15 writes, each call's
spread over its ~50 s life, the calls arriving ``--rate`` a second, so thousands of calls'
milestones interleave, taken in the order of their (simulated) times. Measured two ways:

* drain — the whole floor taken as fast as the loop can take it (in slices; the writers
  run in between): writes/s from the first taken to the last written, the recorder's
  capacity. Each engine with one writer (the recorder before issue 12, and SQLite's
  setting) and with ``--writers`` (``CONCURRENT_WRITES`` is PostgreSQL's setting), in
  ``--rounds`` interleaved rounds so both engines see the same load on a shared machine;
  the table gives each one's median, min and max and its ratio to SQLite's one writer.
* paced — ``--paced-rate`` calls/s in real time (the call's life compressed to 1 s, the
  write rate is the same) for ``--seconds``, with the service's setting for each engine:
  the writers' backlog at its largest and the delay from taken to written (p50/p99).

Each run checks every contact's row and every agent's row afterwards: zero lost.
PostgreSQL: a private durable server (tests/postgres_server.py, fsync on) or
SWITCHBOARD_TEST_POSTGRES_URL; ``synchronous_commit=off`` is SQLite's durability (WAL with
``synchronous=NORMAL``: a crash of the service loses nothing, a power cut may lose the
last commits), ``on`` is PostgreSQL's default.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import os
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.figures import Figure  # noqa: E402
from bench.figures import report as report_figures  # noqa: E402
from crm_lookup.agent_states import SavedAgentState  # noqa: E402
from crm_lookup.postgres_backend import CONCURRENT_WRITES  # noqa: E402
from crm_lookup.store import open_store  # noqa: E402
from routing.contacts import ContactRecorder  # noqa: E402
from routing.ivr.interpreter import PathStep  # noqa: E402
from routing.live import LiveCall  # noqa: E402
from tests.postgres_server import PostgresServer, PostgresUnavailable, start_server  # noqa: E402

T0 = 1_700_000_000.0
WRITES_PER_CALL = 15
EVENTS_PER_CALL = 11  # contact_events rows (the other 4 writes are agent states)
CALL_SECONDS = 50.0


Take = Callable[[], None]


def floor(
    recorder: ContactRecorder, calls: int, rate: float, agents: int, scale: float = 1.0
) -> list[tuple[float, str, Take]]:
    """``(seconds after the first arrival, key, take)`` for every write of the floor in
    time order (``key``: the call id, or ``agent <id>``); ``scale`` compresses each call's
    life (the calls still arrive ``rate`` a second)."""

    def one_call(n: int) -> Iterator[tuple[float, str, Take]]:
        start = n / rate
        at = T0 + start
        agent = str(1000 + n % agents)
        key, agent_key = f"bench-{n}", f"agent {agent}"
        c = LiveCall(key, f"PJSIP/trunk-{n}", key, "+15550001111", "5550100", at)
        path = [PathStep(f"menu-{i}", "menu", str(i), at + i, at + i + 1, "ok") for i in range(3)]

        def queued() -> None:
            c.queue, c.queued_at = "sales", at + 3.5
            recorder.queued(c, at + 3.5)

        def offered() -> None:
            c.agent_id = agent
            recorder.offered(c, at + 5)

        def step(i: int) -> Take:
            return lambda: recorder.ivr_step(c, path[i])

        def state(name: str, since: float) -> Take:
            return lambda: recorder.agent_state(SavedAgentState(agent, name, since=since))

        timeline: list[tuple[float, str, Take]] = [
            (0.0, key, lambda: recorder.arrived(c)),
            *((i + 1.0, key, step(i)) for i in range(3)),
            (3.0, key, lambda: recorder.ivr_done(c, path, "queue")),
            (3.5, key, queued),
            (5.0, key, offered),
            (5.0, agent_key, state("ringing", at + 5)),
            (8.0, key, lambda: recorder.answered(c, at + 8)),
            (8.0, agent_key, state("on_call", at + 8)),
            (20.0, key, lambda: recorder.held(c, at + 20)),
            (25.0, key, lambda: recorder.unheld(c, at + 25)),
            (40.0, key, lambda: recorder.ended(c, at + 40, "answered")),
            (40.0, agent_key, state("wrap_up", at + 40)),
            (CALL_SECONDS, agent_key, state("ready", at + CALL_SECONDS)),
        ]
        assert len(timeline) == WRITES_PER_CALL
        for offset, lane, take in timeline:
            yield start + offset * scale, lane, take

    # Each call's writes are in time order already: merge them (stable on ties).
    return list(heapq.merge(*(one_call(n) for n in range(calls)), key=lambda w: w[0]))


class Timed:
    """A repository whose writes note when each was done, per contact (or agent) key:
    a lane is written in order, so its writes match what was taken first-in first-out."""

    def __init__(self, inner: Any, done: Callable[[str], None], key: Callable[..., str]) -> None:
        self._inner, self._done, self._key = inner, done, key

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)
        if name in ("get_by_key", "open_contacts", "all"):
            return method

        async def timed(*args: Any, **kwargs: Any) -> Any:
            result = await method(*args, **kwargs)
            self._done(self._key(*args))
            return result

        return timed


@dataclass
class Run:
    engine: str
    concurrency: int
    milestones: int = 0
    seconds: float = 0.0
    delays: list[float] = field(default_factory=list)  # paced: taken -> written, seconds
    most_pending: int = 0
    failures: int = 0
    lost: int = 0  # contacts missing or not right, agents' last states not kept

    @property
    def rate(self) -> float:
        return self.milestones / self.seconds if self.seconds else float("nan")


async def lost(store: Any, calls: int, agents: int) -> int:
    """Calls whose contact is missing or not right, plus agents whose last state is not."""
    row = await store.fetchone(
        "SELECT count(*) FROM contacts WHERE outcome = 'answered' AND agent_id <> ''"
        " AND hold_seconds = 5 AND talk_seconds = 27 AND wait_seconds = 4.5"
        " AND ivr_result = 'queue' AND offers = 1"
    )
    right = int(row[0]) if row else 0
    events = await store.fetchone("SELECT count(*) FROM contact_events")
    short = calls * EVENTS_PER_CALL - (int(events[0]) if events else 0)
    saved = await store.agent_states.all()
    wrong_agents = min(calls, agents) - sum(1 for s in saved if s.state == "ready")
    return (calls - right) + max(0, short) + wrong_agents


async def drain(target: str, engine: str, concurrency: int, calls: int, agents: int) -> Run:
    store = await open_store(target)
    batched = engine == SQLITE_BATCH
    recorder = ContactRecorder(
        store.contacts,
        agent_states=store.agent_states,
        concurrency=concurrency,
        batch=store.batch if batched else None,
        batch_size=store.write_batch if batched else 1,
    )
    writes = floor(recorder, calls, rate=200.0, agents=agents)
    run = Run(engine, concurrency, len(writes))
    recorder.start()
    try:
        started = time.perf_counter()
        for i, (_, _, take) in enumerate(writes, 1):
            take()
            if i % 256 == 0:
                run.most_pending = max(run.most_pending, recorder.pending)
                await asyncio.sleep(0)
        await recorder.flush()
        run.seconds = time.perf_counter() - started
        run.failures = recorder.failures
        run.lost = await lost(store, calls, agents)
    finally:
        await recorder.close()
        await store.close()
    return run


async def paced(target: str, engine: str, rate: float, seconds: float, agents: int) -> Run:
    store = await open_store(target)
    taken: dict[str, deque[float]] = {}
    run = Run(engine, store.concurrent_writes)

    def done(key: str) -> None:
        run.delays.append(time.perf_counter() - taken[key].popleft())

    contacts = Timed(store.contacts, done, lambda key, *_: key)
    agent_states = Timed(store.agent_states, done, lambda saved: f"agent {saved.agent_id}")
    recorder = ContactRecorder(
        contacts,
        agent_states=agent_states,
        concurrency=store.concurrent_writes,
        batch=store.batch,
        batch_size=store.write_batch,
    )
    calls = int(rate * seconds)
    # Each call's life compressed to one second: the write rate is the steady state's.
    writes = floor(recorder, calls, rate=rate, agents=agents, scale=1.0 / CALL_SECONDS)
    run.milestones = len(writes)
    recorder.start()
    try:
        started = time.perf_counter()
        i = 0
        while i < len(writes):
            now = time.perf_counter() - started
            while i < len(writes) and writes[i][0] <= now:
                _, key, take = writes[i]
                taken.setdefault(key, deque()).append(time.perf_counter())
                take()
                i += 1
            run.most_pending = max(run.most_pending, recorder.pending)
            await asyncio.sleep(0.001)
        await recorder.flush()
        run.seconds = time.perf_counter() - started
        run.failures = recorder.failures
        run.lost = await lost(store, calls, agents)
    finally:
        await recorder.close()
        await store.close()
    return run


def pct(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass(frozen=True, slots=True)
class Options:
    calls: int
    agents: int
    writers: tuple[int, ...]
    rounds: int
    paced_rate: float
    seconds: float


SQLITE = "SQLite"
SQLITE_BATCH = "SQLite, one commit per writer turn"  # the service's setting
PG_OFF = "PostgreSQL, synchronous_commit=off"
PG_ON = "PostgreSQL, synchronous_commit=on"


class Targets:
    """A fresh empty store per run: a SQLite file, or a PostgreSQL database (dropped after)
    with ``synchronous_commit`` set as the engine's name says."""

    def __init__(self, tmpdir: Path, server: PostgresServer | None) -> None:
        self.tmpdir, self.server = tmpdir, server
        self._made = 0

    def run(self, engine: str, work: Callable[[str], Any]) -> Run:
        self._made += 1
        if engine in (SQLITE, SQLITE_BATCH):
            return asyncio.run(work(f"sqlite:///{self.tmpdir / f'run-{self._made}.sqlite3'}"))
        assert self.server is not None
        name = self.server.new_database_name("sb_bench")
        url = self.server.create_database(name)
        try:
            sync = "on" if engine == PG_ON else "off"
            self.server.admin(f'ALTER DATABASE "{name}" SET synchronous_commit = {sync}')
            return asyncio.run(work(url))
        finally:
            self.server.drop_database(name)


def run_all(targets: Targets, options: Options, postgres: bool) -> list[Run]:
    """The drain runs in ``rounds`` interleaved rounds (the machine's load moves: each
    engine sees the same), then one paced run per engine at the service's setting."""
    engines = [SQLITE, PG_OFF, PG_ON] if postgres else [SQLITE]
    configs = [(e, w) for e in engines for w in sorted({1, *options.writers})]
    configs.insert(0, (SQLITE_BATCH, 1))  # SQLite writes in-process: one writer is its setting
    runs = []
    for n in range(options.rounds):
        for engine, writers in configs:

            def work(target: str, engine: str = engine, writers: int = writers) -> Any:
                return drain(target, engine, writers, options.calls, options.agents)

            runs.append(targets.run(engine, work))
        print(f"round {n + 1} of {options.rounds} done", file=sys.stderr)
    for engine in [SQLITE_BATCH if e == SQLITE else e for e in engines]:
        runs.append(
            targets.run(
                engine,
                lambda target, engine=engine: paced(
                    target, engine, options.paced_rate, options.seconds, options.agents
                ),
            )
        )
    return runs


async def server_version(url: str) -> str:
    store = await open_store(url)
    try:
        row = await store.fetchone("SHOW server_version")
        return str(row[0]) if row else "?"
    finally:
        await store.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2_000, help="drained: calls x 15 writes")
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument(
        "--writers",
        type=int,
        nargs="+",
        default=[16, CONCURRENT_WRITES],
        help="writer counts drained besides 1",
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved drain rounds")
    parser.add_argument("--paced-rate", type=float, default=200.0, help="calls/s, real time")
    parser.add_argument("--seconds", type=float, default=10.0, help="paced run length")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 200 calls, 1 round, 1 s paced"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.calls, args.rounds, args.seconds = 200, 1, 1.0
        args.writers = [CONCURRENT_WRITES]
    options = Options(
        args.calls, args.agents, tuple(args.writers), args.rounds, args.paced_rate, args.seconds
    )
    load_before = os.getloadavg()
    server: PostgresServer | None = None
    if not args.no_postgres:
        try:
            server = start_server(durable=True)
        except PostgresUnavailable as exc:
            print(f"PostgreSQL skipped: {exc}", file=sys.stderr)
    pg_version = ""
    try:
        with tempfile.TemporaryDirectory(prefix="recorder-bench-") as tmp:
            targets = Targets(Path(tmp), server)
            runs = run_all(targets, options, server is not None)
            if server is not None:
                pg_version = targets.run(PG_ON, server_version)  # type: ignore[assignment]
    finally:
        if server is not None:
            server.stop()
    load_after = os.getloadavg()
    print_table(runs, options, load_before[0], load_after[0], pg_version)
    report_figures(figures(runs, options))
    return 0 if all(r.lost == 0 and r.failures == 0 for r in runs) else 1


def rates(runs: Sequence[Run]) -> dict[tuple[str, int], list[float]]:
    """Drained writes/s per (engine, writers), one per round."""
    out: dict[tuple[str, int], list[float]] = {}
    for run in runs:
        if not run.delays:
            out.setdefault((run.engine, run.concurrency), []).append(run.rate)
    return out


def print_table(
    runs: Sequence[Run], options: Options, load_before: float, load_after: float, pg: str
) -> None:
    print()
    print(
        f"ContactRecorder on a floor — {options.calls:,} calls x {WRITES_PER_CALL} writes"
        f" drained, {options.rounds} round(s); {options.paced_rate:g} calls/s"
        f" ({options.paced_rate * WRITES_PER_CALL:,.0f} writes/s) paced for {options.seconds:g} s;"
        f" {os.cpu_count()} cores, 1-min load {load_before:.2f} -> {load_after:.2f}"
        + (f"; PostgreSQL {pg}" if pg else "")
    )
    print()
    sqlite_one = statistics.median(rates(runs).get((SQLITE, 1), [float("nan")]))
    print(
        f"{'drained (median of rounds)':<40}{'writers':>8}{'writes/s':>10}"
        f"{'min':>9}{'max':>9}{'vs SQLite 1':>13}{'lost':>6}"
    )
    lost = {(r.engine, r.concurrency): 0 for r in runs}
    for run in runs:
        lost[run.engine, run.concurrency] += run.lost + run.failures
    for (engine, writers), values in rates(runs).items():
        median = statistics.median(values)
        print(
            f"  {engine:<38}{writers:>8}{median:>10,.0f}{min(values):>9,.0f}{max(values):>9,.0f}"
            f"{f'x{median / sqlite_one:.2f}':>13}{lost[engine, writers]:>6}"
        )
    print()
    print(
        f"{'paced, the service setting':<40}{'writers':>8}{'backlog':>10}{'lost':>6}"
        f"{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
    )
    for run in runs:
        if run.delays:
            ms = [d * 1000 for d in run.delays]
            print(
                f"  {run.engine:<38}{run.concurrency:>8}{run.most_pending:>10,}"
                f"{run.lost + run.failures:>6}{statistics.median(ms):>9.1f}"
                f"{pct(ms, 0.99):>9.1f}{max(ms):>9.1f}"
            )


def figures(runs: Sequence[Run], options: Options) -> list[Figure]:
    """The headline: each engine at the service's setting (SQLite one writer, PostgreSQL
    ``CONCURRENT_WRITES``), medians of the rounds, PostgreSQL judged against SQLite of the
    same run; one writer on PostgreSQL (the recorder before issue 12) as the peer; the
    paced floor's p99 delay; lost contacts over every run."""
    by = {key: statistics.median(values) for key, values in rates(runs).items()}
    sqlite = by.get((SQLITE, 1))
    out = []
    if sqlite is not None:
        out.append(Figure("SQLite writes/s through the recorder (1 writer)", sqlite, "/s"))
    grouped = by.get((SQLITE_BATCH, 1))
    if grouped is not None:
        out.append(Figure(f"{SQLITE_BATCH}: writes/s", grouped, "/s"))
    for engine, judged in ((PG_OFF, True), (PG_ON, False)):
        many = by.get((engine, CONCURRENT_WRITES))
        if many is not None and sqlite is not None:
            out.append(
                Figure(
                    f"{engine}: writes/s, {CONCURRENT_WRITES} writers",
                    many,
                    "/s",
                    f">= SQLite's {sqlite:,.0f}/s" if judged else "",
                    many >= sqlite if judged else None,
                )
            )
    one = by.get((PG_OFF, 1))
    if one is not None:
        out.append(Figure(f"{PG_OFF}: 1 writer (the recorder before)", one, "/s", peer=True))
    for run in runs:
        if run.delays:
            p99 = pct([d * 1000 for d in run.delays], 0.99)
            label = f"{run.engine}: {options.paced_rate:g} calls/s, p99 taken->written"
            out.append(Figure(label, p99, "ms"))
    bad = sum(r.lost + r.failures for r in runs)
    out.append(Figure("contacts lost or wrong, every run", float(bad), "", "0", bad == 0))
    return out


if __name__ == "__main__":
    sys.exit(main())

"""Reports over a large contact history (issue 15).

    python -m bench.reports                 # 1,000,000 contacts over a year, SQLite
    python -m bench.reports --quick         # 20,000 contacts: does it still run?

The store is filled fast, straight into its tables (``tx.insert_rows``: the rows the
milestone triggers would have made, not the milestones themselves): N contacts spread
evenly over 365 days, 4 queues, 100 agents, with waits, talk, hold, wrap-up, outcomes,
dispositions and transfers, seven in ten calls, two chats and one email (with the
agent's first reply), the ``offered`` milestone of each contact an agent took; and the
agents' state history (about ten changes per agent per
day). Then, for the last 30 days in Europe/Berlin, each 20 times:

* a month by 15-minute interval for one queue (``crm_lookup.reports.run_report``);
* a month by agent for all agents (with state time and occupancy);
* a month by channel (first response, AHT per channel);
* a month of chats only by 15-minute interval (``channel=chat``).

Target: p95 under 1 s each. Peer, in the same run: the plain approach the report had
before (``crm_lookup.reports.build_report``: every contact of the month read into Python
and grouped there; UTC only, no queue filter, no state time), 5 runs each.

What makes it: the sums are done in the database, one row per group comes back
(``crm_lookup.report_query``), never one per contact; the month's contacts are found by
``contacts_queued`` (all agents), ``contacts_queue_queued`` (one queue, migration 14) or
``contacts_channel_queued`` (one channel, migration 17), and the state history by ``agent_state_log_ended`` (migration 12).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.figures import Figure, report
from crm_lookup.reports import ReportQuery, build_report, run_report
from crm_lookup.store import Store, open_store

END = 1_796_083_200.0  # 2026-12-01 00:00 UTC: the history ends here
DAY = 86400
QUEUES = ("sales", "support", "billing", "priority")
OUTCOMES = ("answered",) * 85 + ("abandoned_queue",) * 10 + ("callback",) * 3 + ("voicemail",) * 2
DISPOSITIONS = ("resolved", "follow-up", "escalated", "sale", "")
CONTACT_COLUMNS = (
    "key",
    "created_at",
    "arrived_at",
    "queue",
    "queued_at",
    "offered_at",
    "offers",
    "agent_id",
    "answered_at",
    "ended_at",
    "wrapped_at",
    "wait_seconds",
    "talk_seconds",
    "hold_seconds",
    "wrapup_seconds",
    "outcome",
    "disposition",
    "transfers",
    "channel",
    "first_response_at",
)
CHANNELS = ("voice",) * 7 + ("chat",) * 2 + ("email",)
#: seconds from the assignment to the first reply, by channel
FIRST_REPLY = {"chat": (2.0, 60.0), "email": (60.0, 3600.0)}
EVENT_COLUMNS = ("contact_key", "kind", "ident", "at", "data")
STATE_COLUMNS = ("agent_id", "state", "reason", "started_at", "ended_at")


def contact_rows(n: int, agents: int, days: int, seed: int = 15) -> list[tuple[object, ...]]:
    rng = random.Random(seed)
    start = END - days * DAY
    step = days * DAY / n
    rows: list[tuple[object, ...]] = []
    for i in range(n):
        queued = start + i * step + rng.random() * step
        outcome = rng.choice(OUTCOMES)
        wait = rng.expovariate(1 / 25)
        agent = f"{1000 + rng.randrange(agents)}"
        channel = rng.choice(CHANNELS)
        if outcome == "answered":
            talk, hold, wrap = rng.uniform(30, 600), rng.choice((0.0, 0.0, 0.0, 30.0)), 20.0
            answered = queued + wait
            ended = answered + talk + hold
            reply = FIRST_REPLY.get(channel)
            first = answered + rng.uniform(*reply) if reply else None
            rows.append(
                (
                    f"b{i}",
                    queued - 15,
                    queued - 15,
                    rng.choice(QUEUES),
                    queued,
                    answered - 3,
                    1,
                    agent,
                    answered,
                    ended,
                    ended + wrap,
                    wait,
                    talk,
                    hold,
                    wrap,
                    outcome,
                    rng.choice(DISPOSITIONS),
                    1 if rng.random() < 0.05 else 0,
                    channel,
                    first,
                )
            )
        else:
            rows.append(
                (
                    f"b{i}",
                    queued - 15,
                    queued - 15,
                    rng.choice(QUEUES),
                    queued,
                    None,
                    0,
                    "",
                    None,
                    queued + wait,
                    None,
                    wait,
                    None,
                    0.0,
                    None,
                    outcome,
                    "",
                    0,
                    channel,
                    None,
                )
            )
    return rows


def state_rows(agents: int, days: int) -> list[tuple[object, ...]]:
    """Each agent's working day: 08:00 ready, cycles of on call / wrap-up / ready, a
    break, logged out at 17:00 (ten-odd rows a day)."""
    rows: list[tuple[object, ...]] = []
    cycle = (("ready", "", 900), ("on_call", "", 1800), ("wrap_up", "", 300))
    for a in range(agents):
        agent = f"{1000 + a}"
        for d in range(days):
            at = END - (days - d) * DAY + 8 * 3600 + a
            for _ in range(3):
                for state, reason, seconds in cycle:
                    rows.append((agent, state, reason, at, at + seconds))
                    at += seconds
            rows.append((agent, "not_ready", "lunch", at, at + 3600))
            at += 3600
            rows.append((agent, "ready", "", at, at + 7200))
            at += 7200
            next_day = END - (days - d - 1) * DAY + 8 * 3600 + a
            rows.append((agent, "logged_out", "", at, next_day))
    return rows


async def fill(store: Store, n: int, agents: int, days: int) -> None:
    rows = contact_rows(n, agents, days)
    for start in range(0, len(rows), 50_000):
        async with store.transaction() as tx:
            await tx.insert_rows("contacts", CONTACT_COLUMNS, rows[start : start + 50_000])
    # the ring (or assignment) of every contact an agent took: an agent's offered figure
    # comes from these milestones (report_query.offered_by_agent)
    offers = [
        (r[0], "offered", f"{r[7]}@{r[5]:.3f}", r[5], f'{{"agent_id": "{r[7]}"}}')
        for r in rows
        if r[7] and r[5] is not None
    ]
    for start in range(0, len(offers), 50_000):
        async with store.transaction() as tx:
            await tx.insert_rows("contact_events", EVENT_COLUMNS, offers[start : start + 50_000])
    states = state_rows(agents, days)
    for start in range(0, len(states), 50_000):
        async with store.transaction() as tx:
            await tx.insert_rows("agent_state_log", STATE_COLUMNS, states[start : start + 50_000])
    if not store.dialect.is_postgres:
        await store.write("ANALYZE")


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed(runs: int, work: object) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        await work()  # type: ignore[operator]
        out.append(time.perf_counter() - t)
    return out


async def measure(path: Path, runs: int, naive_runs: int) -> dict[str, list[float]]:
    store = await open_store(path)
    tz = ZoneInfo("Europe/Berlin")
    start, end = END - 30 * DAY, END
    try:
        interval = ReportQuery("interval", start, end, tz=tz, queue="sales", now=END)
        agent = ReportQuery("agent", start, end, tz=tz, now=END)
        channel = ReportQuery("channel", start, end, tz=tz, now=END)
        chats = ReportQuery("interval", start, end, tz=tz, channel="chat", now=END)
        check = await run_report(store, channel)
        assert [r["key"] for r in check["rows"]] == ["chat", "email", "voice"]
        assert check["rows"][0]["first_response"] > 0
        check = await run_report(store, chats)
        assert check["rows"] and check["totals"]["first_response"] > 0
        check = await run_report(store, interval)
        assert check["rows"] and check["totals"]["offered"] > 0
        check = await run_report(store, agent)
        assert check["rows"][0]["logged_in_seconds"] > 0
        assert check["rows"][0]["offered"] > 0  # the offered milestones are read
        return {
            "interval": await timed(runs, lambda: run_report(store, interval)),
            "agent": await timed(runs, lambda: run_report(store, agent)),
            "channel": await timed(runs, lambda: run_report(store, channel)),
            "chats": await timed(runs, lambda: run_report(store, chats)),
            "naive interval": await timed(
                naive_runs, lambda: build_report(store, start, end, "interval")
            ),
            "naive agent": await timed(
                naive_runs, lambda: build_report(store, start, end, "agent")
            ),
        }
    finally:
        await store.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--naive-runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="20,000 contacts, 20 agents")
    args = parser.parse_args(argv)
    if args.quick:
        args.contacts, args.agents, args.runs, args.naive_runs = 20_000, 20, 5, 2
    days = 365
    with tempfile.TemporaryDirectory(prefix="reports-bench-") as tmp:
        path = Path(tmp) / "reports.sqlite3"

        async def build() -> None:
            store = await open_store(path)
            try:
                await fill(store, args.contacts, args.agents, days)
            finally:
                await store.close()

        t = time.perf_counter()
        asyncio.run(build())
        fill_s = time.perf_counter() - t
        print(
            f"filled {args.contacts:,} contacts and {args.agents} agents' state history"
            f" ({days} days) in {fill_s:.1f} s",
            file=sys.stderr,
        )
        times = asyncio.run(measure(path, args.runs, args.naive_runs))
    print()
    print(
        f"Reports benchmark — {args.contacts:,} contacts over {days} days, {args.agents} agents,"
        f" SQLite {sqlite3.sqlite_version}; the last 30 days in Europe/Berlin"
    )
    print(f"{'':<52}{'runs':>6}{'p50 ms':>10}{'p95 ms':>10}   target")
    labels = {
        "interval": "  month by 15-min interval, one queue",
        "agent": "  month by agent, all agents (+ state time)",
        "channel": "  month by channel (first response, AHT)",
        "chats": "  month of chats by 15-min interval",
        "naive interval": "  peer: plain (rows into Python), by interval",
        "naive agent": "  peer: plain (rows into Python), by agent",
    }
    for name, values in times.items():
        ms = [v * 1000 for v in values]
        target = "p95 < 1 s" if not name.startswith("naive") else ""
        print(
            f"{labels[name]:<52}{len(ms):>6}{statistics.median(ms):>10.1f}{pct(ms, 0.95):>10.1f}"
            f"   {target}"
        )
    interval_p95 = pct(times["interval"], 0.95)
    agent_p95 = pct(times["agent"], 0.95)
    channel_p95 = pct(times["channel"], 0.95)
    chats_p95 = pct(times["chats"], 0.95)
    report(
        [
            Figure(
                f"month by interval, one queue ({args.contacts:,} contacts) p95",
                interval_p95 * 1000,
                "ms",
                "< 1000 ms",
                interval_p95 < 1.0,
            ),
            Figure(
                f"month by agent, all agents ({args.contacts:,} contacts) p95",
                agent_p95 * 1000,
                "ms",
                "< 1000 ms",
                agent_p95 < 1.0,
            ),
            Figure(
                f"month by channel ({args.contacts:,} contacts) p95",
                channel_p95 * 1000,
                "ms",
                "< 1000 ms",
                channel_p95 < 1.0,
            ),
            Figure(
                f"month of chats by interval ({args.contacts:,} contacts) p95",
                chats_p95 * 1000,
                "ms",
                "< 1000 ms",
                chats_p95 < 1.0,
            ),
            Figure(
                "peer: plain report by interval p95",
                pct(times["naive interval"], 0.95) * 1000,
                "ms",
                peer=True,
            ),
            Figure(
                "peer: plain report by agent p95",
                pct(times["naive agent"], 0.95) * 1000,
                "ms",
                peer=True,
            ),
        ]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

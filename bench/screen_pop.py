"""Screen-pop latency and memory per connected console (a benchmark, not a test).

    python -m bench.screen_pop [--agents 1000] [--rate 100] [--seconds 10]

A server process runs the real console app (``agent_console.app.init_app``) on
127.0.0.1 with a synthetic contact center; this process opens one real websocket per
agent with the ``websockets`` client. For each simulated call the center publishes what
the service publishes when an agent starts ringing (queue_stats, agent_state,
screen_pop, call_update); the pop carries the monotonic time it was published at, and the
client measures until the frame has been read. Ten supervisor wallboards are connected
too, so the broadcast path is loaded as in production.

Peers, side by side: the same fan-out done by a bare ``websockets`` server that just
sends each pop to its agent's socket (no auth, no scope checks, no queues) — the floor
for this machine — and the console hub measured again with tracemalloc for the Python
heap per connection. Memory per agent is the server's RSS growth (and traced heap)
from before the first connection to after all snapshots were delivered, divided by the
number of agents. Targets: p99 < 10 ms, < 64 KB per agent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.figures import Figure
from bench.figures import report as report_figures

ROOT = Path(__file__).resolve().parent.parent
QUEUES = 10
SUPERVISORS = 10


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()


def card(i: int) -> dict[str, Any]:
    """A realistic customer card (~1.5 KB of JSON)."""
    return {
        "known": True,
        "customer": {
            "id": i,
            "name": f"Customer {i}",
            "tier": "gold" if i % 7 else "vip",
            "company": f"Company {i % 50} Ltd",
            "phones": [f"+1555{i:07d}"],
        },
        "open_cases": [
            {"id": i * 10 + k, "subject": "billing question", "status": "open"} for k in range(2)
        ],
        "last_contacts": [
            {
                "id": i * 100 + k,
                "started_at": 1_700_000_000 + k * 3600,
                "queue": f"q{k % QUEUES}",
                "agent_id": f"a{k:04d}",
                "disposition": "resolved",
                "notes": "customer asked about the last invoice and a refund for the extra month",
            }
            for k in range(5)
        ],
    }


class BenchCenter:
    """Just enough ContactCenter for the hub: agents, queues, publish."""

    def __init__(self, agents: int) -> None:
        self.listeners: list[Any] = []
        now = time.time()
        self.agents = {
            f"a{i:04d}": {
                "agent_id": f"a{i:04d}",
                "name": f"Agent {i}",
                "state": "ready",
                "reason": "",
                "since": now,
                "queues": [f"q{i % QUEUES}"],
                "call_id": None,
            }
            for i in range(agents)
        }
        self.queues = {
            f"q{i}": {
                "name": f"q{i}",
                "waiting": 0,
                "longest_wait": 0.0,
                "service_level": 0.9,
                "answered": 0,
                "abandoned": 0,
                "ewt": 0.0,
                "agents_ready": 0,
            }
            for i in range(QUEUES)
        }

    def snapshot(self) -> dict[str, Any]:
        return {
            "now": time.time(),
            "queues": list(self.queues.values()),
            "agents": list(self.agents.values()),
            "calls": [],
            "intervals": [],
        }

    def agent(self, agent_id: str) -> dict[str, Any] | None:
        return self.agents.get(agent_id)

    def agent_snapshot(self, agent_id: str) -> dict[str, Any] | None:
        agent = self.agents.get(agent_id)
        if agent is None:
            return None
        return {
            "now": time.time(),
            "queues": [self.queues[q] for q in agent["queues"]],
            "agents": [agent],
            "calls": [],
            "intervals": [],
        }

    def queues_for_supervisor(self, username: str) -> frozenset[str]:
        return frozenset(self.queues)

    def current_call(self, agent_id: str) -> dict[str, Any] | None:
        return None

    def call(self, call_id: str) -> dict[str, Any] | None:
        return None

    def health(self) -> dict[str, Any]:
        return {"ami": {"connected": True}}

    def subscribe(self, listener: Any) -> Any:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def publish(self, message: dict[str, Any]) -> None:
        for listener in self.listeners:
            listener(message)

    def ring(self, n: int, agent_id: str) -> None:
        queue = self.agents[agent_id]["queues"][0]
        call = {
            "call_id": f"c{n}",
            "state": "ringing",
            "queue": queue,
            "caller": f"+1555{n:07d}",
            "dialed": "8005550100",
            "agent_id": agent_id,
            "customer_id": n,
            "contact_id": n,
            "arrived_at": time.time() - 30,
            "queued_at": time.time() - 12,
            "answered_at": None,
            "ivr": {
                "path": [{"node": "menu", "kind": "menu", "digits": "1", "result": "sales"}],
                "verified": True,
                "waited": 12.0,
            },
        }
        agent = dict(self.agents[agent_id], state="ringing", call_id=call["call_id"])
        self.publish({"type": "queue_stats", "queue": queue, "stats": self.queues[queue]})
        self.publish(
            {"type": "agent_state", "agent_id": agent_id, "queues": [queue], "agent": agent}
        )
        self.publish(
            {
                "type": "screen_pop",
                "agent_id": agent_id,
                "call": call,
                "card": card(n),
                "t0": time.monotonic(),
            }
        )
        self.publish({"type": "call_update", "agent_id": agent_id, "queue": queue, "call": call})


# -- server processes ---------------------------------------------------------------------


async def serve_console(agents: int, traced: bool) -> None:
    import argon2
    from aiohttp import web
    from aiohttp.test_utils import unused_port

    from agent_console.app import init_app
    from agent_console.auth import Passwords, Role, User
    from agent_console.keys import AUTH
    from config.settings import HttpSettings, Settings

    port = unused_port()
    origin = f"http://127.0.0.1:{port}"
    settings = Settings(http=HttpSettings(host="127.0.0.1", port=port, public_origin=origin))
    center = BenchCenter(agents)
    app = init_app(
        settings,
        store=_NoStore(),
        center=center,
        passwords=Passwords(argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)),
    )
    auth = app[AUTH]
    tokens = [auth.create_session(User(f"u{a}", Role.AGENT, a)).token for a in center.agents]
    sup_tokens = [
        auth.create_session(User(f"s{i}", Role.SUPERVISOR)).token for i in range(SUPERVISORS)
    ]
    ready = asyncio.Event()

    async def control(request: web.Request) -> web.Response:
        cmd = request.match_info["cmd"]
        if cmd == "mem":
            traced_now = tracemalloc.get_traced_memory()[0] if traced else 0
            return web.json_response({"rss": rss_bytes(), "traced": traced_now})
        rate = float(request.query["rate"])
        count = int(request.query["count"])
        asyncio.get_running_loop().create_task(pump(center, rate, count))
        return web.json_response({"ok": True})

    app.router.add_get("/bench/{cmd}", control)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    if traced:
        tracemalloc.start()
    print(
        json.dumps({"port": port, "origin": origin, "tokens": tokens, "sup": sup_tokens}),
        flush=True,
    )
    await ready.wait()


class _NoStore:
    """The hub path touches no store; /healthz would, and is not benchmarked."""

    # Sessions live in memory only (no persistence): the bench creates them directly.
    sessions = None


async def pump(center: BenchCenter, rate: float, count: int) -> None:
    ids = list(center.agents)
    start = time.monotonic()
    for n in range(count):
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        center.ring(n, ids[n % len(ids)])


async def serve_bare(agents: int) -> None:
    """Peer: a bare websockets server that sends each pop straight to its agent."""
    import websockets
    from aiohttp.test_utils import unused_port

    port = unused_port()
    sockets: dict[str, Any] = {}
    center = BenchCenter(agents)

    async def handler(ws: Any) -> None:
        path = ws.request.path
        if path.startswith("/bench/"):
            cmd, _, query = path[len("/bench/") :].partition("?")
            if cmd == "mem":
                await ws.send(json.dumps({"rss": rss_bytes(), "traced": 0}))
            else:
                args = dict(p.split("=") for p in query.split("&"))
                asyncio.get_running_loop().create_task(
                    pump(center, float(args["rate"]), int(args["count"]))
                )
                await ws.send("{}")
            return
        agent_id = path.rsplit("/", 1)[-1]
        sockets[agent_id] = ws
        await ws.send(json.dumps({"type": "snapshot"}))
        try:
            await ws.wait_closed()
        finally:
            sockets.pop(agent_id, None)

    def deliver(message: dict[str, Any]) -> None:
        if message["type"] == "screen_pop" and message["agent_id"] in sockets:
            asyncio.get_running_loop().create_task(
                sockets[message["agent_id"]].send(json.dumps(message))
            )

    center.subscribe(deliver)
    async with websockets.serve(handler, "127.0.0.1", port, max_queue=64):
        print(
            json.dumps(
                {
                    "port": port,
                    "origin": f"http://127.0.0.1:{port}",
                    "tokens": list(center.agents),
                    "sup": [],
                }
            ),
            flush=True,
        )
        await asyncio.Future()


# -- client side --------------------------------------------------------------------------


async def run_clients(
    kind: str, agents: int, rate: float, seconds: float, traced: bool
) -> dict[str, Any]:
    import websockets

    cmd = [sys.executable, "-m", "bench.screen_pop", "--serve", kind, "--agents", str(agents)]
    if traced:
        cmd.append("--traced")
    proc = await asyncio.create_subprocess_exec(*cmd, cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        info = json.loads(await proc.stdout.readline())
        base = f"ws://127.0.0.1:{info['port']}"
        http = f"http://127.0.0.1:{info['port']}"

        async def control(path: str) -> dict[str, Any]:
            if kind == "console":
                import aiohttp

                async with aiohttp.ClientSession() as s, s.get(http + path) as r:
                    return await r.json()
            async with websockets.connect(base + path) as ws:
                return json.loads(await ws.recv())

        before = await control("/bench/mem")
        latencies: list[float] = []
        pops = 0
        connected = 0
        all_ready = asyncio.Event()
        all_popped = asyncio.Event()
        expected = int(rate * seconds)
        total = agents + len(info["sup"])

        async def client(token: str, supervisor: bool) -> None:
            nonlocal pops, connected
            if kind == "console":
                uri, headers = base + "/ws", {"Cookie": f"sb_session={token}"}
            else:
                uri, headers = f"{base}/agent/{token}", {}
            async with websockets.connect(
                uri,
                origin=info["origin"],
                additional_headers=headers,
                max_size=None,
                ping_interval=None,
                compression=None,
                open_timeout=60,
            ) as ws:
                await ws.recv()  # the snapshot
                connected += 1
                if connected == total:
                    all_ready.set()
                async for frame in ws:
                    if supervisor or '"screen_pop"' not in frame:
                        continue
                    got = time.monotonic()
                    latencies.append(got - json.loads(frame)["t0"])
                    pops += 1
                    if pops == expected:
                        all_popped.set()

        tasks = []
        for i, token in enumerate(info["tokens"]):
            tasks.append(asyncio.create_task(client(token, False)))
            if i % 100 == 99:
                await asyncio.sleep(0.05)  # don't overflow the listen backlog
        tasks += [asyncio.create_task(client(t, True)) for t in info["sup"]]
        await asyncio.wait_for(all_ready.wait(), 120)
        await asyncio.sleep(0.5)
        after = await control("/bench/mem")
        count = int(rate * seconds)
        await control(f"/bench/start?rate={rate}&count={count}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_popped.wait(), seconds + 10)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        warm = latencies[int(rate) :] or latencies  # drop the first second
        warm.sort()
        return {
            "pops": pops,
            "sent": count,
            "p50": statistics.median(warm) * 1000 if warm else float("nan"),
            "p99": warm[min(len(warm) - 1, int(len(warm) * 0.99))] * 1000 if warm else float("nan"),
            "max": warm[-1] * 1000 if warm else float("nan"),
            "rss_per_agent": (after["rss"] - before["rss"]) / total / 1024,
            "heap_per_agent": (after["traced"] - before["traced"]) / total / 1024
            if traced
            else None,
        }
    finally:
        proc.terminate()
        await proc.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="calls (screen pops) per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--serve", choices=["console", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="smoke run: 50 agents, 50 pops/s, 1 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.agents, args.rate, args.seconds = 50, 50.0, 1.0
    if args.serve == "console":
        asyncio.run(serve_console(args.agents, args.traced))
        return 0
    if args.serve == "bare":
        asyncio.run(serve_bare(args.agents))
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.agents + 256)), hard))
    rows = [
        (
            "switchboard console hub",
            asyncio.run(run_clients("console", args.agents, args.rate, args.seconds, False)),
        ),
        (
            "bare websockets fan-out (floor)",
            asyncio.run(run_clients("bare", args.agents, args.rate, args.seconds, False)),
        ),
        (
            "console hub + tracemalloc",
            asyncio.run(run_clients("console", args.agents, args.rate, min(args.seconds, 3), True)),
        ),
    ]
    print(
        f"\nScreen pop: {args.agents} agent websockets + {SUPERVISORS} wallboards, "
        f"{args.rate:g} calls/s, {args.seconds:g} s, 127.0.0.1, {os.cpu_count()} CPUs"
    )
    print(
        f"{'server':34} {'pops':>11} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'RSS KB/agent':>13} {'heap KB/agent':>14}"
    )
    for name, r in rows:
        heap = f"{r['heap_per_agent']:.1f}" if r["heap_per_agent"] is not None else "-"
        print(
            f"{name:34} {r['pops']:>5}/{r['sent']:<5} {r['p50']:>8.2f} {r['p99']:>8.2f} "
            f"{r['max']:>8.2f} {r['rss_per_agent']:>13.1f} {heap:>14}"
        )
    print(
        "targets: p99 < 10 ms, < 64 KB per agent (the tracemalloc row's latency is not comparable)"
    )
    hub, bare = rows[0][1], rows[1][1]
    report_figures(
        [
            Figure("hub pop p99", hub["p99"], "ms", "< 10 ms", hub["p99"] < 10),
            Figure("hub pop p50", hub["p50"], "ms"),
            Figure(
                "hub memory per agent",
                hub["rss_per_agent"],
                "KB",
                "< 64 KB",
                hub["rss_per_agent"] < 64,
            ),
            Figure("bare websockets pop p99", bare["p99"], "ms", peer=True),
            Figure("bare websockets memory per agent", bare["rss_per_agent"], "KB", peer=True),
        ]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Capacity end to end: the service and the PBX simulator on loopback, agents on real
websockets who answer and wrap up, callers through the IVR and the queues at fixed rates.

    python -m bench.capacity [--agents 1000] [--rates 100] [--seconds 20]
                             [--database-url sqlite] [--nodes 1] [--quick]
    python -m bench.capacity --rates 50,100,150,200 --seconds 15   # find the maximum

Issue 12. Targets on a 2-core machine: one node 200 calls/s end to end with zero lost
contacts; screen pop p99 <= 5 ms with 1,000 agents at 100 calls/s; < 16 KB per live
call and < 64 KB per connected agent.

Theory of operation. Three kinds of process on 127.0.0.1, so none measures another:

* **parent** (this one): the PBX simulator (``telephony.simulator``, ``--time-scale``
  1.0 by default: prompts take their real length, phones answer after
  ``--answer-after`` s, callers talk ``--talk`` s), a generated queue file (every agent
  in every queue, no length or wait limit, the ACD's wrap-up timer ``--wrap-up`` s as a
  fallback only) and the calls: DID 5550100 (``demo_line``: welcome, CRM lookup, menu,
  key 1 = sales), each caller from a number of its own. It notes ``time.monotonic()``
  as the simulator writes each ``DialBegin`` to the AMI socket.
* **service** (``--nodes``; one for now): the real service, ``python -m switchboard run``
  through ``tests.service_process.ServiceProcess``, with its store (``--database-url``).
  Read from outside only: RSS (``VmRSS``) and CPU (``/proc/<pid>/stat``), ``/metrics``
  between the phases (never during one: a scrape builds the whole snapshot).
* **consoles** (``--role consoles``): one ``websockets`` console per agent, logged in with
  ``POST /api/login``; each sets itself ready, notes ``time.monotonic()`` as each
  ``screen_pop`` frame is read and, on its ``call_ended``, saves the wrap-up over HTTP
  (``POST /api/contacts/<id>/wrapup``, CSRF token and all) after ``--wrap-after`` s, which
  ends the agent's wrap-up, as a person at the page does.

Phases, each measured on its own:

1. **memory per connected agent**: RSS with a warm-up batch of consoles connected (one-off
   costs: code paths, buffers) and with all of them; the growth over the rest, per agent.
2. **memory per live call**: agents still logged out, so callers wait in a queue (a
   live call: channel, AGI session, IVR done, contact open, waiting loop): RSS with a
   warm-up batch waiting and with ``--live-calls`` more; the growth per call. Those
   callers then hang up (their contacts are stored as abandoned and counted).
3. **rates**: the agents go ready; for each rate of ``--rates``, calls are placed at
   that rate for ``--seconds``, then the parent waits until every caller is gone and
   every agent is ready again (wrap-ups saved) before the next rate. Per rate:
   *sustained calls/s* — contacts completed (wrap-up saved) within the offering window
   shifted by the typical call's life (the median life, placed to wrapped, of the calls
   placed in the first second), divided by the window: equal to the offered rate when the
   service keeps up, lower when calls pile up or fail; *screen pop p50/p99* — from the
   ``DialBegin`` written to the agent's frame read (the latest ``DialBegin`` of the call
   before its pop; both clocks are CLOCK_MONOTONIC, one for every process); the service's
   *CPU seconds per call* over the phase (offering and draining); abandoned calls.
4. **the store after the run**: the service is stopped with SIGTERM (it flushes its
   contact writer), then the parent opens the store and counts contacts by key: calls
   offered vs contacts stored (must be equal), missing, duplicated, not completed.

A rate is *kept up* when sustained >= 95 % of offered, no caller abandoned and no contact
went missing. The largest rate kept up is the run's maximum; step the rates to find it
(each step reuses the same service and consoles: setup is paid once).

``--nodes 2`` (needs ``--database-url postgresql``): two ``ServiceProcess`` es with
``[cluster]`` enabled on the same PostgreSQL and simulator; the first is started and
waited for as leader, then the standby; agent i's console is on node i % 2, so half the
consoles see the standby's replica; CPU and RSS are summed over both pids. Each rate's
screen pops are also split by the console's node; the *standby console lag* is the
standby's p50/p99 minus the leader's (different calls of the same phase, not the same
frame at both nodes). ``--database-url postgresql`` starts a private durable server
(tests/postgres_server.py); the harness reads the store back through
``crm_lookup.store.open_store`` either way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import resource
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import harness
from bench.figures import Figure, report
from bench.harness import LoopLag, Traffic, cpu_seconds, emit, rss_kb, stdin_reader, until

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PASSWORD = "capacity-password-1"
AGENT_BASE = 30000
LOGIN_PARALLEL = 16
CONNECT_BATCH = 100  # websockets opened before a short pause (the listen backlog)
CHILD_TIMEOUT = 300.0
KEPT_UP = 0.95
OPS_TOKEN = "capacity-ops-token-0123456789"  # /healthz details: the contact writer backlog
DISPOSITION = "resolved"
TARGET_RATE = 200.0
TARGET_POP_P99_MS = 5.0
TARGET_KB_CALL = 16.0
TARGET_KB_AGENT = 64.0


def agent_id(i: int) -> str:
    return str(AGENT_BASE + i)


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list; NaN when empty."""
    if not sorted_values:
        return math.nan
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


# -- the consoles process -----------------------------------------------------------------------


@dataclass
class ConsoleFigures:
    logged_in: int = 0
    connected: int = 0
    failed: int = 0
    ready: int = 0
    wrapups: int = 0
    wrapup_failed: int = 0
    ended_without_contact: int = 0
    disconnects: int = 0
    refusals: dict[str, int] = field(default_factory=dict)  # "<status> <error>" -> count
    pops: dict[str, float] = field(default_factory=dict)  # call id -> monotonic read time
    pop_node: dict[str, int] = field(default_factory=dict)  # call id -> index of its node


async def run_consoles(urls: list[str], agents: int, warm: int, wrap_after: float,
                       budget: float) -> None:  # fmt: skip
    """Log every agent in, connect the warm-up batch, then the rest, then set them ready,
    each step when the parent says "next"; then answer pops and save wrap-ups until
    the parent says "report" (the figures) or goes away."""
    import aiohttp
    import websockets

    commands = await stdin_reader()
    figures = ConsoleFigures()
    gate = asyncio.Semaphore(LOGIN_PARALLEL)
    sessions: dict[int, tuple[str, str]] = {}  # agent index -> (session cookie, csrf)
    sockets: dict[int, Any] = {}
    rng = random.Random(3)

    async def next_command() -> str:
        try:
            line = await asyncio.wait_for(commands.readline(), budget)
        except TimeoutError:
            return ""
        return line.decode().strip()

    def url_of(i: int) -> str:
        return urls[i % len(urls)]

    async def login(http: aiohttp.ClientSession, i: int) -> None:
        for _ in range(20):
            async with gate:
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.post(
                        url_of(i) + "/api/login",
                        json={"username": f"cap{i}", "password": PASSWORD},
                        headers={"Origin": url_of(i)},
                    ) as resp:
                        if resp.status == 200 and "sb_session" in resp.cookies:
                            body = await resp.json()
                            sessions[i] = (resp.cookies["sb_session"].value, body["csrf_token"])
                            figures.logged_in += 1
                            return
                        if resp.status not in (429, 503):
                            return
            await asyncio.sleep(0.2 + rng.random())

    async def connect(i: int) -> None:
        cookie, _ = sessions[i]
        try:
            ws = await websockets.connect(
                url_of(i).replace("http://", "ws://") + "/ws",
                origin=url_of(i),  # type: ignore[arg-type]
                additional_headers={"Cookie": f"sb_session={cookie}"},
                max_size=None,
                ping_interval=None,
                compression=None,
                open_timeout=60,
            )
            await ws.recv()  # the snapshot
        except Exception:
            figures.failed += 1
            return
        sockets[i] = ws
        figures.connected += 1

    async def connect_all(indexes: Sequence[int]) -> None:
        tasks = []
        for n, i in enumerate(indexes):
            if i in sessions:
                tasks.append(asyncio.ensure_future(connect(i)))
            if n % CONNECT_BATCH == CONNECT_BATCH - 1:
                await asyncio.sleep(0.05)
        await asyncio.gather(*tasks)

    async def wrap_up(http: aiohttp.ClientSession, i: int, contact_id: Any) -> None:
        await asyncio.sleep(wrap_after)
        cookie, csrf = sessions[i]
        try:
            async with http.post(
                f"{url_of(i)}/api/contacts/{contact_id}/wrapup",
                json={"disposition": DISPOSITION, "notes": "capacity run", "done": True},
                headers={"Origin": url_of(i), "X-CSRF-Token": csrf,
                         "Cookie": f"sb_session={cookie}"},
            ) as resp:  # fmt: skip
                body = await resp.read()
                if resp.status == 200:
                    figures.wrapups += 1
                else:
                    figures.wrapup_failed += 1
                    with contextlib.suppress(ValueError, AttributeError):
                        reason = f"{resp.status} {json.loads(body).get('message', '')[:80]}"
                        figures.refusals[reason] = figures.refusals.get(reason, 0) + 1
        except aiohttp.ClientError:
            figures.wrapup_failed += 1

    async def work(http: aiohttp.ClientSession, i: int, ws: Any) -> None:
        """Ready, then: note pops, wrap up own ended calls."""
        mine = agent_id(i)
        pending: set[asyncio.Future[Any]] = set()
        try:
            await ws.send(json.dumps({"type": "set_state", "id": "r", "state": "ready"}))
            async for frame in ws:
                got = time.monotonic()
                if '"screen_pop"' in frame:
                    message = json.loads(frame)
                    figures.pops.setdefault(message["call"]["call_id"], got)
                    figures.pop_node.setdefault(message["call"]["call_id"], i % len(urls))
                elif '"call_ended"' in frame:
                    message = json.loads(frame)
                    if message.get("agent_id") != mine:
                        continue
                    if message.get("contact_id") is None:
                        figures.ended_without_contact += 1
                        continue
                    task = asyncio.ensure_future(wrap_up(http, i, message["contact_id"]))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                elif '"ack"' in frame and '"id":"r"' in frame:
                    figures.ready += 1
        except websockets.exceptions.WebSocketException:
            figures.disconnects += 1
        finally:
            for task in pending:
                task.cancel()

    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(
        cookie_jar=aiohttp.DummyCookieJar(), connector=connector
    ) as http:
        await asyncio.gather(*(login(http, i) for i in range(agents)))
        await connect_all(range(warm))
        emit({"logged_in": figures.logged_in, "connected": figures.connected})
        if await next_command() != "next":
            return
        await connect_all(range(warm, agents))
        emit({"connected": figures.connected, "failed": figures.failed})
        if await next_command() != "ready":
            return
        workers = [asyncio.ensure_future(work(http, i, ws)) for i, ws in sockets.items()]
        emit({"working": len(workers)})
        while await next_command() == "report":
            emit(dict(figures.__dict__))
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        for ws in sockets.values():
            with contextlib.suppress(Exception):
                await ws.close()


class ConsolesChild:
    """The consoles process: JSON lines out, commands in, always reaped."""

    def __init__(self, urls: list[str], agents: int, warm: int, wrap_after: float,
                 budget: float) -> None:  # fmt: skip
        self.argv = [
            sys.executable, "-m", "bench.capacity", "--role", "consoles",
            "--urls", ",".join(urls), "--agents", str(agents), "--warm", str(warm),
            "--wrap-after", str(wrap_after), "--budget", str(budget),
        ]  # fmt: skip
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, cwd=ROOT, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, limit=64 * 1024 * 1024,
        )  # fmt: skip

    def say(self, word: str) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(word.encode() + b"\n")

    async def read(self, within: float = CHILD_TIMEOUT) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), within)
        if not line:
            raise SystemExit("capacity: the consoles process ended early (see its stderr)")
        return dict(json.loads(line))

    async def stop(self) -> None:
        await harness.stop_child(self.proc, 15)


# -- the run ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    agents: int
    rates: tuple[float, ...]
    seconds: float
    database_url: str
    nodes: int
    live_calls: int
    talk: tuple[float, float]
    answer_after: float
    wrap_after: float
    wrap_up: float
    time_scale: float
    patience: float
    profile: str = ""  # py-spy raw output for each rate phase: <profile>.<rate>.txt


class Database:
    """The store of the run: a SQLite file in the run's directory (``sqlite``), a private
    PostgreSQL server started for the run (``postgresql``: Debian's binaries, durable
    settings, a fresh database) or a PostgreSQL server of yours (``postgresql://...``; the
    user must own the database, which should be empty)."""

    def __init__(self, url: str, data: Path) -> None:
        self.server: Any = None
        if url in ("", "sqlite"):
            self.target = str(data / "sb.sqlite3")  # ServiceProcess's own [database] path
            self.url = ""
        elif url == "postgresql":
            from tests.postgres_server import start_server

            self.server = start_server(durable=True)  # fsync on, as in production
            self.url = self.server.create_database(self.server.new_database_name("sb_capacity"))
            self.target = self.url
        elif url.startswith(("postgresql://", "postgres://")):
            self.url = self.target = url
        else:
            raise SystemExit(f"capacity: --database-url {url!r}: sqlite, postgresql or a URL")

    @property
    def kind(self) -> str:
        return "postgresql" if self.url else "sqlite"

    def environ(self) -> dict[str, str]:
        """What the service processes inherit: ``database.url`` overrides the file."""
        return {"SWITCHBOARD_DATABASE__URL": self.url} if self.url else {}

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


class Nodes:
    """The service processes (one per node) on one store and one simulator."""

    def __init__(self, tmp: Path, ami_port: int, queues: Path, opts: Options) -> None:
        from tests.service_process import ServiceProcess

        if opts.nodes not in (1, 2):
            raise SystemExit("capacity: --nodes is 1 or 2")
        self.database = Database(opts.database_url, tmp)
        if opts.nodes == 2 and self.database.kind != "postgresql":
            raise SystemExit("capacity: --nodes 2 shares one store: --database-url postgresql")
        os.environ.update(self.database.environ())
        # A thousand consoles log in from 127.0.0.1 within seconds: the per-address login
        # limit, there against guessing, would turn most of them away.
        extra = "[security]\nlogin_attempts_per_minute = 1000000\n"
        if opts.nodes == 1:
            self.processes = [
                ServiceProcess(tmp, ami_port, queues_file=queues, extra_settings=extra,
                               health_poll=0.05)
            ]  # fmt: skip
            return
        # Two cluster nodes on one PostgreSQL and one simulator: the first to start leads
        # (it runs the router and writes the contacts), the other is a standby whose
        # consoles see the leader's state through the bus.
        self.processes = []
        for name in ("a", "b"):
            (tmp / f"node-{name}").mkdir()
            cluster = f'[cluster]\nenabled = true\nnode = "{name}"\nchannel = "sbcapacity"\n'
            self.processes.append(
                ServiceProcess(tmp / f"node-{name}", ami_port, queues_file=queues,
                               extra_settings=extra + cluster, health_poll=0.05,
                               database_url=self.database.url)
            )  # fmt: skip

    @property
    def urls(self) -> list[str]:
        return [p.url for p in self.processes]

    def rss_kb(self) -> int:
        return sum(rss_kb(p.pid) for p in self.processes)

    def cpu(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.processes)

    async def start(self, http: Any) -> None:
        for p in self.processes:
            await p.start(within=120)
            if len(self.processes) > 1 and p is self.processes[0]:

                async def leads(node: Any = p) -> bool:
                    return "leader" in await self.roles(http, [node])

                if not await until(leads, 30, step=0.1):
                    raise SystemExit("capacity: the first node did not become the leader")

    async def roles(self, http: Any, processes: Sequence[Any] | None = None) -> list[str]:
        """Each node's cluster role ("" on a single node)."""
        out = []
        for p in self.processes if processes is None else processes:
            headers = {"Authorization": f"Bearer {OPS_TOKEN}"}
            async with http.get(p.url + "/healthz", headers=headers) as resp:
                body = await resp.json()
            out.append(str((body.get("cluster") or {}).get("role") or ""))
        return out

    async def metrics(self, http: Any) -> dict[str, float]:
        out: dict[str, float] = {}
        for p in self.processes:
            headers = {"Authorization": f"Bearer {OPS_TOKEN}"}
            async with http.get(p.url + "/metrics", headers=headers) as resp:
                for key, value in harness.parse_metrics(await resp.text()).items():
                    out[key] = out.get(key, 0.0) + value
        return out

    async def stop_gracefully(self) -> list[int]:
        codes = []
        for p in self.processes:
            if p.proc is not None and p.proc.returncode is None:
                p.signal(signal.SIGTERM)
                try:
                    codes.append(await p.wait(60))
                except TimeoutError:
                    await p.stop()
                    codes.append(-9)
        return codes

    async def stop(self) -> None:
        for p in self.processes:
            await p.stop()

    async def backlog(self, http: Any) -> tuple[int, int]:
        """(contact milestones not yet written, live calls), summed over the nodes; cheap,
        unlike /metrics."""
        pending = calls = 0
        for p in self.processes:
            headers = {"Authorization": f"Bearer {OPS_TOKEN}"}
            async with http.get(p.url + "/healthz", headers=headers) as resp:
                body = await resp.json()
            pending += int(body.get("contacts", {}).get("pending_writes", 0))
            calls += int(body.get("calls") or 0)
        return pending, calls

    def errors(self) -> list[str]:
        return [line for p in self.processes for line in harness.error_lines(p.output())]


def waiting_calls(figures: dict[str, float]) -> float:
    return sum(v for k, v in figures.items() if k.startswith("switchboard_queue_waiting{"))


def agents_in(figures: dict[str, float], state: str) -> float:
    return figures.get(f'switchboard_agents{{state="{state}"}}', 0.0)


class DialTimes:
    """When the simulator wrote each call's DialBegin (monotonic), by Linkedid."""

    def __init__(self, sim: Any) -> None:
        self.at: dict[str, list[float]] = {}
        original = sim.emit

        def emit_noting(name: str, headers: Sequence[tuple[str, str]], category: str) -> None:
            if name == "DialBegin":
                linkedid = next((v for k, v in headers if k == "Linkedid"), "")
                self.at.setdefault(linkedid, []).append(time.monotonic())
            original(name, headers, category)

        sim.emit = emit_noting

    def pop_latency_ms(self, call_id: str, popped: float) -> float | None:
        """From the call's latest DialBegin before the pop to the pop."""
        before = [t for t in self.at.get(call_id, ()) if t <= popped]
        return (popped - before[-1]) * 1000 if before else None


async def memory_per_live_call(sim: Any, nodes: Nodes, http: Any, count: int,
                               opts: Options) -> dict[str, Any]:  # fmt: skip
    """Callers waiting in a queue (agents logged out): RSS per call past a warm-up batch.
    They hang up afterwards."""
    warm = max(1, count // 10)
    keys: list[str] = []

    def place(n: int) -> None:
        for k in range(n):
            caller = f"+1557{len(keys) + k:07d}"
            keys.append(sim.place_call(caller, did=harness.DID, dtmf=["1", "1"],
                                       patience=3600, talk_seconds=opts.talk))  # fmt: skip

    async def all_waiting(n: int) -> bool:
        return waiting_calls(await nodes.metrics(http)) >= n

    ivr = 30 * max(1.0, opts.time_scale) + count / 50
    place(warm)
    await until(lambda: all_waiting(warm), ivr, step=0.25)
    await asyncio.sleep(0.5)
    rss_warm = nodes.rss_kb()
    place(count)
    reached = await until(lambda: all_waiting(warm + count), ivr, step=0.25)
    await asyncio.sleep(0.5)
    rss_all = nodes.rss_kb()
    waiting = waiting_calls(await nodes.metrics(http))
    for chan in [c for c in sim.channels.values() if c.is_caller]:
        await sim.hangup(chan, source="remote")
    gone = await until(lambda: not sim.channels, 60, step=0.2)
    return {
        "calls": count,
        "warm": warm,
        "waiting": waiting,
        "reached": reached,
        "gone": gone,
        "keys": keys,
        "kb_per_call": (rss_all - rss_warm) / max(1.0, waiting - warm),
    }


async def start_profiler(nodes: Nodes, rate: float, opts: Options) -> Any:
    """py-spy on the (first) service process while the calls are offered."""
    out = f"{opts.profile}.{rate:g}.txt"
    return await asyncio.create_subprocess_exec(
        os.path.join(os.path.dirname(sys.executable), "py-spy"), "record", "--nonblocking",
        "-p", str(nodes.processes[0].pid), "-d", str(max(1, int(opts.seconds))),
        "-f", "raw", "-o", out, stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def rate_phase(sim: Any, nodes: Nodes, http: Any, consoles: ConsolesChild,
                     rate: float, first: int, opts: Options) -> dict[str, Any]:  # fmt: skip
    """``rate`` calls/s for ``opts.seconds``, then wait until all are gone and wrapped up.

    It starts once the contact writer has caught up with what came before (the memory
    step's callers, the previous rate): each rate is measured from an empty backlog."""

    async def writer_idle() -> bool:
        return (await nodes.backlog(http))[0] == 0

    waited = time.monotonic()
    await until(writer_idle, 600, step=0.5)
    waited = time.monotonic() - waited
    lag = LoopLag()
    assert consoles.proc is not None
    others_before = (own_cpu(), cpu_seconds(consoles.proc.pid))
    spy = await start_profiler(nodes, rate, opts) if opts.profile else None
    cpu_before, wall_before = nodes.cpu(), time.time()
    mono_before = time.monotonic()
    traffic = Traffic(sim, rate, opts.seconds, opts.talk, opts.patience)
    backlog: list[tuple[float, int, int]] = []  # (seconds into the phase, pending, live calls)

    async def watch() -> None:
        while True:
            await asyncio.sleep(1.0)
            with contextlib.suppress(Exception):
                backlog.append((time.monotonic() - mono_before, *await nodes.backlog(http)))

    watcher = asyncio.ensure_future(watch())
    await traffic.run(first)
    wall_offered = time.time()
    if spy is not None:
        await spy.wait()
    drain = (opts.patience + opts.talk[1] + 60) * opts.time_scale + 30
    drained = await until(lambda: not sim.channels, drain, step=0.25)

    async def all_ready() -> bool:
        return agents_in(await nodes.metrics(http), "ready") >= opts.agents

    settled = await until(all_ready, opts.wrap_up * opts.time_scale + 30, step=0.5)
    watcher.cancel()
    cpu = nodes.cpu() - cpu_before
    spent = time.time() - wall_before
    others = (own_cpu() - others_before[0], cpu_seconds(consoles.proc.pid) - others_before[1])
    lag.stop()
    consoles.say("report")
    figures = await consoles.read()
    return {
        "rate": rate,
        "placed": [u for _, u in traffic.placed],
        "placed_at": dict((u, t) for t, u in traffic.placed),
        "window": (wall_before, wall_offered),
        "mono_start": mono_before,
        "behind": traffic.behind,
        "loop_lag": lag.worst,
        "drained": drained,
        "settled": settled,
        "cpu": cpu,
        "backlog": backlog,
        "writer_catch_up": waited,
        # Who used the two cores: the service, the simulator (this process), the consoles.
        "cores": {
            "service": cpu / spent,
            "simulator": others[0] / spent,
            "consoles": others[1] / spent,
        },
        "pops": figures["pops"],
        "pop_node": figures["pop_node"],
        "consoles": {k: v for k, v in figures.items() if k not in ("pops", "pop_node")},
        "load": os.getloadavg()[0],
    }


async def read_store(database: Database) -> dict[str, Any]:
    """Every contact by key: (arrived, wrapped, outcome, disposition, ended)."""
    from crm_lookup.store import open_store

    store = await open_store(database.target)
    found: dict[str, list[tuple[Any, ...]]] = {}
    try:
        async for c in store.contacts.between():
            found.setdefault(c.key, []).append(
                (c.arrived_at, c.wrapped_at, c.outcome, c.disposition, c.ended_at)
            )
    finally:
        await store.close()
    return found


def judge_rate(phase: dict[str, Any], store: dict[str, list[tuple[Any, ...]]],
               dials: DialTimes) -> dict[str, Any]:  # fmt: skip
    placed: list[str] = phase["placed"]
    start, end = phase["window"]
    rows = {k: store[k][0] for k in placed if k in store}
    completed = {k: r for k, r in rows.items() if r[1] is not None and r[3]}
    first_second = [
        completed[k][1] - phase["placed_at"][k]
        for k in placed
        if k in completed and phase["placed_at"][k] < start + 1.0
    ]
    life = percentile(sorted(first_second), 0.5) if first_second else math.nan
    length = max(1e-9, end - start)
    in_window = (
        sum(1 for r in completed.values() if start + life <= r[1] <= end + life)
        if first_second
        else 0
    )
    latencies = sorted(
        ms
        for call_id, got in phase["pops"].items()
        if call_id in phase["placed_at"] and (ms := dials.pop_latency_ms(call_id, got)) is not None
    )
    # Two nodes: the pops read by consoles on each node, apart (the leader writes the
    # frame itself; the standby's consoles get it through the bus).
    by_node: dict[int, list[float]] = {}
    for call_id, got in phase["pops"].items():
        ms = dials.pop_latency_ms(call_id, got) if call_id in phase["placed_at"] else None
        if ms is not None:
            by_node.setdefault(int(phase["pop_node"].get(call_id, 0)), []).append(ms)
    per_node = {
        n: (percentile(sorted(v), 0.50), percentile(sorted(v), 0.99), len(v))
        for n, v in sorted(by_node.items())
    }
    offered = len(placed)
    abandoned = sum(1 for r in rows.values() if r[2] and r[2].startswith("abandon"))
    missing = offered - len(rows)
    sustained = in_window / length
    return {
        "rate": phase["rate"],
        "offered": offered,
        "stored": len(rows),
        "missing": missing,
        "completed": len(completed),
        "abandoned": abandoned,
        "sustained": sustained,
        "life": life,
        "pops": len(latencies),
        "pop_p50": percentile(latencies, 0.50),
        "pop_p99": percentile(latencies, 0.99),
        "pop_max": latencies[-1] if latencies else math.nan,
        "pop_by_node": per_node,
        "cpu_per_call": phase["cpu"] / max(1, offered),
        "cpu": phase["cpu"],
        "cores": phase["cores"],
        "writer_catch_up": phase["writer_catch_up"],
        "backlog_max": max((b[1] for b in phase["backlog"]), default=0),
        "live_max": max((b[2] for b in phase["backlog"]), default=0),
        "behind": phase["behind"],
        "loop_lag": phase["loop_lag"],
        "drained": phase["drained"],
        "settled": phase["settled"],
        "load": phase["load"],
        "consoles": phase["consoles"],
        "kept_up": sustained >= KEPT_UP * phase["rate"] and not abandoned and not missing,
    }


async def capacity(opts: Options, tmp: Path) -> dict[str, Any]:
    import aiohttp

    from telephony.simulator import PbxSimulator, PhoneBehaviour
    from tests.service_process import SECRET

    os.environ["SWITCHBOARD_HTTP__OPS_TOKEN"] = OPS_TOKEN  # the service processes inherit it
    sim = PbxSimulator("switchboard", SECRET, time_scale=opts.time_scale, seed=12)
    port = await sim.start(HOST, 0)
    dials = DialTimes(sim)
    ids = [agent_id(i) for i in range(opts.agents)]
    for aid in ids:
        sim.add_phone(f"PJSIP/{aid}", PhoneBehaviour(answer_after=opts.answer_after))
    queues = tmp / "queues.yaml"
    harness.write_queue_file(queues, ids, opts.wrap_up, "Capacity Agent")
    nodes = Nodes(tmp, port, queues, opts)
    try:  # a PostgreSQL server started for the run is stopped whatever happens
        users = [(f"cap{i}", a) for i, a in enumerate(ids)]
        await harness.seed_users(nodes.database.target, PASSWORD, users)
        warm = max(1, min(64, opts.agents // 10))
        budget = CHILD_TIMEOUT + len(opts.rates) * (opts.seconds + opts.patience + 120)
        consoles = ConsolesChild(nodes.urls, opts.agents, warm, opts.wrap_after, budget)
        http = aiohttp.ClientSession()
        load_before = os.getloadavg()
        result: dict[str, Any] = {"phases": []}
        phases = []
        try:
            began = time.monotonic()
            await nodes.start(http)
            result["roles"] = await nodes.roles(http)
            await asyncio.sleep(1.0)
            rss_idle = nodes.rss_kb()
            await consoles.start()
            first = await consoles.read()
            await asyncio.sleep(1.0)
            rss_warm = nodes.rss_kb()
            consoles.say("next")
            connected = await consoles.read()
            await asyncio.sleep(1.0)
            rss_agents = nodes.rss_kb()
            result["setup_seconds"] = time.monotonic() - began
            result["agents"] = {
                "logged_in": first["logged_in"],
                "connected": connected["connected"],
                "failed": connected["failed"],
                "kb_per_agent": (rss_agents - rss_warm) / max(1, connected["connected"] - warm),
                "kb_per_agent_naive": (rss_agents - rss_idle) / max(1, connected["connected"]),
                "rss_idle_mb": rss_idle / 1024,
            }
            result["live"] = await memory_per_live_call(sim, nodes, http, opts.live_calls, opts)
            consoles.say("ready")
            await consoles.read()

            async def all_ready() -> bool:
                return agents_in(await nodes.metrics(http), "ready") >= opts.agents

            result["all_ready"] = await until(all_ready, 60, step=0.5)
            first_number = 0
            for rate in opts.rates:
                phases.append(
                    await rate_phase(sim, nodes, http, consoles, rate, first_number, opts)
                )
                first_number += len(phases[-1]["placed"])
            result["rss_end_mb"] = nodes.rss_kb() / 1024
        finally:
            await http.close()
            await consoles.stop()
            result["exit_codes"] = await nodes.stop_gracefully()
            await nodes.stop()
            await sim.stop()
        result["errors"] = nodes.errors()
        store = await read_store(nodes.database)
        result["phases"] = [judge_rate(p, store, dials) for p in phases]
        offered = [*result["live"]["keys"], *(k for p in phases for k in p["placed"])]
        stored_rows = sum(len(v) for v in store.values())
        result["store"] = {
            "offered": len(offered),
            "stored": stored_rows,
            "missing": len(set(offered) - set(store)),
            "duplicated": sum(len(v) - 1 for v in store.values() if len(v) > 1),
            "extra": len(set(store) - set(offered)),
            "open": sum(1 for v in store.values() for r in v if r[4] is None),
        }
        result["load"] = (load_before[0], os.getloadavg()[0])
        return result
    finally:
        nodes.database.stop()


# -- the report ---------------------------------------------------------------------------------


def render(opts: Options, r: dict[str, Any]) -> str:
    a, live, st = r["agents"], r["live"], r["store"]
    lines = [
        f"capacity end to end: {opts.agents} agents on websockets, {opts.nodes} node(s),"
        f" store {opts.database_url or 'sqlite'}, {opts.seconds:g} s per rate, time scale"
        f" {opts.time_scale:g} (answer after {opts.answer_after:g} s, talk {opts.talk[0]:g}-"
        f"{opts.talk[1]:g} s, wrap-up saved after {opts.wrap_after:g} s); 127.0.0.1,"
        f" {os.cpu_count()} CPUs; setup {r['setup_seconds']:.1f} s",
        f"agents: logged in {a['logged_in']}, connected {a['connected']} (failed"
        f" {a['failed']}); {a['kb_per_agent']:.1f} KB per connected agent past a warm-up"
        f" batch ({a['kb_per_agent_naive']:.1f} KB counting one-off costs; service idle"
        f" {a['rss_idle_mb']:.1f} MB)",
        f"live calls: {live['waiting']:.0f} waiting in a queue ({live['calls']} placed past a"
        f" warm-up batch of {live['warm']}): {live['kb_per_call']:.1f} KB per live call",
        "",
        f"{'offered/s':>9} {'sustained/s':>11} {'offered':>8} {'completed':>9} {'abandoned':>9}"
        f" {'pop p50 ms':>10} {'pop p99 ms':>10} {'pop max':>8} {'CPU ms/call':>11}"
        f" {'life s':>7} {'load':>5}  kept up",
    ]
    for p in r["phases"]:
        lines.append(
            f"{p['rate']:>9g} {p['sustained']:>11.1f} {p['offered']:>8} {p['completed']:>9}"
            f" {p['abandoned']:>9} {p['pop_p50']:>10.2f} {p['pop_p99']:>10.2f}"
            f" {p['pop_max']:>8.1f} {p['cpu_per_call'] * 1000:>11.2f} {p['life']:>7.1f}"
            f" {p['load']:>5.2f}  {'yes' if p['kept_up'] else 'NO'}"
        )
    for p in r["phases"]:
        c = p["consoles"]
        lines.append(
            f"  at {p['rate']:g}/s: {p['pops']} pops timed, simulator behind by up to"
            f" {p['behind'] * 1000:.0f} ms, loop lag {p['loop_lag'] * 1000:.0f} ms,"
            f" drained {p['drained']}, agents ready again {p['settled']}; consoles so far:"
            f" wrap-ups {c['wrapups']} (failed {c['wrapup_failed']}), ended without contact"
            f" {c['ended_without_contact']}, disconnects {c['disconnects']}"
        )
        cores = ", ".join(f"{k} {v:.2f}" for k, v in p["cores"].items())
        lines.append(
            f"    cores busy over the phase: {cores}; contact writer backlog up to"
            f" {p['backlog_max']} milestones (waited {p['writer_catch_up']:.1f} s for it to"
            f" empty before this rate); live calls up to {p['live_max']}"
        )
        if c["refusals"]:
            lines.append(f"    wrap-ups refused: {c['refusals']}")
        by_node = p["pop_by_node"]
        if len(by_node) > 1:
            roles = r.get("roles") or []
            parts = [
                f"node {n} ({roles[int(n)] if int(n) < len(roles) else '?'}) p50 {v[0]:.2f}"
                f" p99 {v[1]:.2f} ms over {v[2]} pops"
                for n, v in sorted(by_node.items())
            ]
            lines.append("    screen pop by the console's node: " + "; ".join(parts))
            lead = next((v for n, v in by_node.items() if roles[int(n)] == "leader"), None)
            stand = next((v for n, v in by_node.items() if roles[int(n)] == "standby"), None)
            if lead and stand:
                lines.append(
                    f"    standby console lag (standby's pops minus leader's, different"
                    f" calls): p50 {stand[0] - lead[0]:+.2f} ms, p99 {stand[1] - lead[1]:+.2f} ms"
                )
    kept = [p["rate"] for p in r["phases"] if p["kept_up"]]
    lines += [
        "",
        f"store after the run: calls offered {st['offered']}, contacts stored {st['stored']}"
        f" (missing {st['missing']}, duplicated {st['duplicated']}, not offered {st['extra']},"
        f" open {st['open']})",
        f"largest rate kept up: {max(kept) if kept else 'none'} calls/s (sustained >= "
        f"{KEPT_UP:.0%} of offered, nobody abandoned, no contact missing)",
        f"service exit codes {r['exit_codes']}; error lines {len(r['errors'])};"
        f" load average {r['load'][0]:.2f} -> {r['load'][1]:.2f}",
        *(f"    {e[:200]}" for e in r["errors"][:5]),
    ]
    return "\n".join(lines)


def headline(r: dict[str, Any]) -> list[Figure]:
    a, live, st = r["agents"], r["live"], r["store"]
    lost = st["missing"] + st["duplicated"]
    figures = []
    for p in r["phases"]:
        figures += [
            Figure(f"sustained calls/s at {p['rate']:g} offered", p["sustained"], "/s"),
            Figure(f"screen pop p50 at {p['rate']:g}/s", p["pop_p50"], "ms"),
            Figure(f"screen pop p99 at {p['rate']:g}/s", p["pop_p99"], "ms",
                   f"<= {TARGET_POP_P99_MS:g} ms", p["pop_p99"] <= TARGET_POP_P99_MS),
            Figure(f"service CPU per call at {p['rate']:g}/s", p["cpu_per_call"] * 1000, "ms"),
        ]  # fmt: skip
    kept = [p["sustained"] for p in r["phases"] if p["kept_up"]]
    best = max(kept) if kept else 0.0
    figures += [
        Figure("largest sustained rate kept up", best, "/s", f">= {TARGET_RATE:g}/s",
               best >= TARGET_RATE),
        Figure("calls offered", st["offered"], "calls"),
        Figure("contacts missing or duplicated", lost, "", "0", lost == 0),
        Figure("memory per live call", live["kb_per_call"], "KB", f"< {TARGET_KB_CALL:g} KB",
               live["kb_per_call"] < TARGET_KB_CALL),
        Figure("memory per connected agent", a["kb_per_agent"], "KB",
               f"< {TARGET_KB_AGENT:g} KB", a["kb_per_agent"] < TARGET_KB_AGENT),
    ]  # fmt: skip
    return figures


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.capacity", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--agents", type=int, default=1000)
    p.add_argument(
        "--rates",
        "--rate",
        default="100",
        help="calls per second, comma-separated to step (e.g. 50,100,200)",
    )
    p.add_argument("--seconds", type=float, default=20.0, help="how long each rate is offered")
    p.add_argument("--database-url", default="sqlite", help="sqlite (default) or postgresql://...")
    p.add_argument("--nodes", type=int, default=1, help="service processes (2 needs the cluster)")
    p.add_argument(
        "--live-calls",
        type=int,
        default=None,
        help="callers held waiting for the memory step (default: min(agents, 500))",
    )
    p.add_argument("--talk", type=float, nargs=2, default=(2.0, 4.0), metavar=("MIN", "MAX"))
    p.add_argument("--answer-after", type=float, default=0.5)
    p.add_argument(
        "--wrap-after",
        type=float,
        default=0.5,
        help="seconds from call_ended to the console saving the wrap-up",
    )
    p.add_argument(
        "--wrap-up",
        type=float,
        default=30.0,
        help="the ACD's wrap-up timer (a fallback: consoles end wrap-up themselves)",
    )
    p.add_argument("--time-scale", type=float, default=1.0, help="simulator waits x this")
    p.add_argument("--patience", type=float, default=120.0, help="a waiting caller hangs up after")
    p.add_argument(
        "--profile",
        default="",
        metavar="PREFIX",
        help="py-spy the service during each rate: PREFIX.<rate>.txt (raw)",
    )
    p.add_argument("--quick", action="store_true", help="10 agents, 5 calls/s, 2 s, fast prompts")
    p.add_argument("--json", action="store_true", help="also print the result as one JSON line")
    hidden = argparse.SUPPRESS
    p.add_argument("--role", choices=["consoles"], help=hidden)
    p.add_argument("--urls", help=hidden)
    p.add_argument("--warm", type=int, default=1, help=hidden)
    p.add_argument("--budget", type=float, default=3600.0, help=hidden)
    args = p.parse_args(argv)
    if args.quick:
        args.agents, args.rates, args.seconds, args.time_scale = 10, "5", 2.0, 0.2
        args.talk, args.live_calls = (1.0, 2.0), 10
    if args.live_calls is None:
        args.live_calls = min(args.agents, 500)
    try:
        args.rates = tuple(float(x) for x in str(args.rates).split(","))
    except ValueError:
        p.error("--rates: numbers separated by commas")
    if args.agents < 1 or args.seconds <= 0 or any(r <= 0 for r in args.rates):
        p.error("--agents, --rates and --seconds must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.role == "consoles":
        asyncio.run(run_consoles(args.urls.split(","), args.agents, args.warm,
                                 args.wrap_after, args.budget))  # fmt: skip
        return 0
    opts = Options(
        agents=args.agents, rates=args.rates, seconds=args.seconds,
        database_url=args.database_url, nodes=args.nodes, live_calls=args.live_calls,
        talk=tuple(args.talk), answer_after=args.answer_after, wrap_after=args.wrap_after,
        wrap_up=args.wrap_up, time_scale=args.time_scale, patience=args.patience,
        profile=args.profile,
    )  # fmt: skip
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 8 * args.agents + 1024))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    with tempfile.TemporaryDirectory(prefix="sb-capacity-") as tmp:
        result = asyncio.run(capacity(opts, Path(tmp)))
    print(render(opts, result))
    if args.json:
        result["live"].pop("keys", None)
        print(json.dumps({"bench": "capacity", **result}, default=str))
    report(headline(result))
    st = result["store"]
    return 1 if st["missing"] or st["duplicated"] or st["extra"] else 0


if __name__ == "__main__":
    sys.exit(main())

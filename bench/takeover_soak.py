"""Restart soak: calls flowing, the service SIGKILLed in the middle and started again.

    python -m bench.takeover_soak [--agents 1000] [--consoles N] [--rate 100]
                                  [--seconds 600] [--downtime 2] [--quick]

Issue 10's benchmark, on the real service process (``python -m switchboard run``,
driven by ``tests.service_process.ServiceProcess``) and the PBX simulator
(``telephony.simulator``, ``time_scale`` 1.0) on 127.0.0.1 only. Nothing here is a test;
the run fails (exit status 1) only when contacts are lost, duplicated or left open.

Theory of operation. Three processes:

* **parent** (this one): the simulator (``--agents`` phones ``PJSIP/<id>`` that answer
  after ``--answer-after`` seconds; the caller hangs up after ``--talk`` seconds), a
  generated queue file (``config/queues.yaml``'s queues with every agent in all of them,
  ``wrap_up`` ``--wrap-up`` seconds, no length or wait limit: the soak is about the
  restart, not overflow rules) and a data directory in a temp dir. It places
  ``--rate`` calls a second for ``--seconds`` on DID 5550100 (``demo_line``: welcome,
  CRM lookup, menu, key 1 = sales), each from its own number (no sticky-agent offers).
  At the steady rate the agents keep up and nobody waits in a queue, so half-way
  through a peak of ``--burst`` callers (default: as many as agents) arrives within
  ``--burst-spread`` seconds (default 2);
  when all of them are through the IVR (their contacts queued: about 5 s, at most
  30 s) the parent SIGKILLs the service — some callers of the peak wait in a queue then,
  the others ring or talk. It keeps placing calls for ``--downtime`` seconds and starts
  the service again on the same data directory.
* **service**: the real service, its own process, logs in ``<tmp>/service-<n>.log``.
* **consoles** (``--role consoles``): ``--consoles`` agents (default: all) log in with
  ``POST /api/login`` and keep a ``websockets`` console each, as the page does: they set
  themselves ready, count their screen pops and, when the socket drops, reconnect with
  the page's backoff (0.5 s doubling to 30 s, jitter). A console that reconnects to its agent
  logged out is counted, looks again 5 s later (``resync``: the restore may still be
  running) and, still logged out, sets it ready as the agent would (counted apart:
  states must survive a restart).
  Agents beyond ``--consoles`` are made ready by an admin over the HTTP API.

The users are seeded in the store with cheap argon2 parameters (a thousand logins take
seconds, not minutes; the hash parameters are not on any path measured here).

What it reports (a table, then one JSON line starting ``{"bench": "takeover_soak"``):

* RSS (``VmRSS`` from ``/proc/<pid>/status``) and asyncio tasks (the service's
  ``switchboard_asyncio_tasks`` gauge on ``/metrics``) at start (agents ready, no call
  yet), middle (just before the kill), after the takeover, and end (every caller gone);
* calls placed vs contact rows stored (one per call: missing, duplicated) vs contacts
  still open once every caller has hung up: must be equal / equal / 0;
* the takeover: the callers who were waiting in a queue at the kill (alive, not
  bridged, no agent leg, contact queued and not offered) and the time from the
  restarted process answering ``/healthz`` to each being offered to an agent (its
  contact's ``offered_at``, the service's own clock; target: all within 3 s); callers
  who were in the IVR restart their script (docs/ARCHITECTURE.md) and are reported
  apart, as are the callers who arrived while the service was down;
* the consoles: reconnected, logged out after the restart, screen pops;
* the agents by state after the restart, the outcomes, the service's error lines, the
  load average and the parent loop's worst lag (is the simulator keeping up?).

Every wait is bounded; the run stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import harness
from bench.harness import (
    LoopLag,
    Sample,
    Tasks,
    Traffic,
    emit,
    error_lines,
    sample,
    stdin_reader,
    until,
)

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PASSWORD = "soak-password-1"
ADMIN = "soak-admin"
AGENT_BASE = 20000
LOGIN_PARALLEL = 8  # the login guard admits 10 attempts in flight per address
CONNECT_BATCH = 100  # websockets opened before a short pause (the listen backlog)
TAKEOVER_TARGET = 3.0
PEAK_IVR_LIMIT = 30.0  # the kill comes when the peak is through the IVR, or after this
RECONNECT_MIN, RECONNECT_MAX = 0.5, 30.0  # the console page's backoff
RESTORE_GRACE = 5.0  # a console that reconnects to "logged out" looks again this much later


def own_state(snapshot: dict[str, Any]) -> str:
    """The agent's own state in its snapshot (an agent's snapshot has only its row)."""
    mine = snapshot.get("me", {}).get("agent_id")
    return next((a["state"] for a in snapshot.get("agents", []) if a["agent_id"] == mine), "")


def agent_id(i: int) -> str:
    return str(AGENT_BASE + i)


# -- setup --------------------------------------------------------------------------------------


def write_queue_file(path: Path, agents: int, wrap_up: float) -> None:
    harness.write_queue_file(path, [agent_id(i) for i in range(agents)], wrap_up, "Soak Agent")


async def seed_users(db: Path, consoles: int) -> None:
    users = [(f"soak{i}", agent_id(i)) for i in range(consoles)]
    await harness.seed_users(db, PASSWORD, users, admin=ADMIN)


# -- the service, seen from outside --------------------------------------------------------------


def rows(db: Path, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as conn:
        return conn.execute(sql, tuple(params)).fetchall()


def contacts_of(db: Path, keys: Sequence[str]) -> dict[str, tuple[Any, ...]]:
    """key -> (queued_at, offered_at, answered_at, ended_at, outcome)."""
    found = rows(
        db,
        "SELECT key, queued_at, offered_at, answered_at, ended_at, outcome FROM contacts"
        " WHERE key IN (SELECT value FROM json_each(?))",
        (json.dumps(list(keys)),),
    )
    return {r[0]: r[1:] for r in found}


# -- the calls ----------------------------------------------------------------------------------


def through_the_ivr(db: Path, keys: Sequence[str]) -> bool:
    """Every key's contact is queued (or already over)."""
    found = contacts_of(db, keys)
    return len(found) == len(keys) and all(v[0] or v[3] for v in found.values())


def callers_at_kill(sim: Any, db: Path) -> dict[str, list[str]]:
    """The live callers at the kill by phase: waiting (in a queue, not yet offered),
    ivr (not queued yet), ringing, talking."""
    chans = list(sim.channels.values())
    dialing = {id(c.dial_owner) for c in chans if c.dial_owner is not None and not c.hanging}
    callers = [c for c in chans if c.is_caller and not c.hanging]
    known = contacts_of(db, [c.uniqueid for c in callers])
    phases: dict[str, list[str]] = {"waiting": [], "ivr": [], "ringing": [], "talking": []}
    for c in callers:
        if c.bridge is not None:
            phases["talking"].append(c.uniqueid)
        elif id(c) in dialing:
            phases["ringing"].append(c.uniqueid)
        else:
            row = known.get(c.uniqueid)
            queued = row is not None and row[0] is not None and row[1] is None
            phases["waiting" if queued else "ivr"].append(c.uniqueid)
    return phases


async def offers_after(
    db: Path, keys: Sequence[str], since: float, within: float
) -> dict[str, Any]:
    """Wait until every key's contact is offered or ended; seconds from ``since`` to
    each offer (``offered_at``, or ``answered_at`` if the offer milestone is missing)."""
    found: dict[str, tuple[Any, ...]] = {}

    def settled() -> bool:
        found.update(contacts_of(db, keys))
        return all(k in found and (found[k][1] or found[k][2] or found[k][3]) for k in keys)

    await until(settled, within, step=0.05)
    delays = sorted(
        max(0.0, (found[k][1] or found[k][2]) - since)
        for k in keys
        if k in found and (found[k][1] or found[k][2])
    )
    return {
        "callers": len(keys),
        "offered": len(delays),
        "ended_unoffered": sum(1 for k in keys if k in found and not found[k][1] and found[k][3]),
        "never": sum(
            1 for k in keys if k not in found or not (found[k][1] or found[k][2] or found[k][3])
        ),
        "p50": delays[len(delays) // 2] if delays else None,
        "p95": delays[min(len(delays) - 1, int(0.95 * len(delays)))] if delays else None,
        "max": delays[-1] if delays else None,
    }


# -- the consoles process -----------------------------------------------------------------------


@dataclass
class ConsoleFigures:
    logged_in: int = 0
    login_failed: int = 0
    ready: int = 0
    failed: int = 0
    connects: int = 0
    relogins: int = 0
    logged_out_at_reconnect: int = 0
    logged_out_after_restart: int = 0
    pops: int = 0
    reconnected_at: list[float] = field(default_factory=list)


async def run_consoles(url: str, consoles: int, budget: float) -> None:
    import aiohttp
    import websockets

    commands = await stdin_reader()
    figures = ConsoleFigures()
    stop = asyncio.Event()
    first_ready = asyncio.Event()
    gate = asyncio.Semaphore(LOGIN_PARALLEL)
    ws_url = url.replace("http://", "ws://") + "/ws"
    rng = random.Random(1)

    async def login(http: aiohttp.ClientSession, i: int) -> str | None:
        for _ in range(50):
            async with gate:
                try:
                    async with http.post(
                        url + "/api/login",
                        json={"username": f"soak{i}", "password": PASSWORD},
                        headers={"Origin": url},
                    ) as resp:
                        if resp.status == 200 and "sb_session" in resp.cookies:
                            return resp.cookies["sb_session"].value
                        if resp.status not in (429, 503):
                            return None
                except aiohttp.ClientError:
                    pass
            await asyncio.sleep(0.2 + rng.random())
        return None

    def settle() -> None:
        if figures.ready + figures.failed >= consoles:
            first_ready.set()

    async def set_ready(ws: Any) -> bool:
        await ws.send(json.dumps({"type": "set_state", "id": "r", "state": "ready"}))
        while True:
            reply = json.loads(await ws.recv())
            if reply.get("id") == "r":
                return reply.get("type") == "ack" or reply.get("error") == "illegal_transition"
            if reply.get("type") == "screen_pop":
                figures.pops += 1

    async def resync_later(ws: Any) -> None:
        await asyncio.sleep(RESTORE_GRACE)
        with contextlib.suppress(websockets.exceptions.WebSocketException):
            await ws.send(json.dumps({"type": "resync"}))

    async def console(http: aiohttp.ClientSession, i: int) -> None:
        token = await login(http, i)
        if token is None:
            figures.login_failed += 1
            figures.failed += 1
            settle()
            return
        figures.logged_in += 1
        backoff, connected_before, counted = RECONNECT_MIN, False, False
        while not stop.is_set():
            try:
                ws = await websockets.connect(
                    ws_url,
                    origin=url,  # type: ignore[arg-type]
                    additional_headers={"Cookie": f"sb_session={token}"},
                    max_size=None,
                    ping_interval=None,
                    compression=None,
                    open_timeout=30,
                )
            except websockets.exceptions.InvalidStatus as exc:
                if exc.response.status_code == 401 and (fresh := await login(http, i)):
                    figures.relogins += 1
                    token = fresh
                    continue
                ws = None
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException):
                ws = None
            if ws is None:
                await asyncio.sleep(backoff * (0.5 + rng.random()))
                backoff = min(RECONNECT_MAX, backoff * 2)
                continue
            backoff = RECONNECT_MIN
            figures.connects += 1
            with contextlib.suppress(websockets.exceptions.WebSocketException, OSError):
                async with ws:
                    snapshot = json.loads(await ws.recv())
                    checking = None
                    if connected_before:
                        figures.reconnected_at.append(time.time())
                        if own_state(snapshot) == "logged_out":
                            # Maybe the restore is still to come: look again a bit later.
                            figures.logged_out_at_reconnect += 1
                            checking = asyncio.ensure_future(resync_later(ws))
                    else:
                        ok = await set_ready(ws)
                        if not counted:
                            counted = True
                            if ok:
                                figures.ready += 1
                            else:
                                figures.failed += 1
                            settle()
                    connected_before = True
                    async for frame in ws:
                        if '"screen_pop"' in frame:
                            figures.pops += 1
                        elif checking is not None and '"snapshot"' in frame:
                            checking = None
                            if own_state(json.loads(frame)) == "logged_out":
                                figures.logged_out_after_restart += 1  # an agent logs in again
                                await ws.send(json.dumps({"type": "set_state", "state": "ready"}))
            if not counted:
                counted = True
                figures.failed += 1
                settle()

    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        tasks = []
        for i in range(consoles):
            tasks.append(asyncio.ensure_future(console(http, i)))
            if i % CONNECT_BATCH == CONNECT_BATCH - 1:
                await asyncio.sleep(0.05)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(first_ready.wait(), budget)
        emit({"ready": figures.ready, "failed": figures.failed, "logged_in": figures.logged_in})
        deadline = time.monotonic() + budget
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = await asyncio.wait_for(commands.readline(), left)
            except TimeoutError:
                break
            if not line:
                break
            if line.strip() == b"report":
                emit(figures.__dict__)
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class ConsolesChild:
    """The consoles process: JSON lines out, commands in, always reaped."""

    def __init__(self, url: str, consoles: int, budget: float) -> None:
        self.argv = [
            sys.executable, "-m", "bench.takeover_soak", "--role", "consoles",
            "--url", url, "--consoles", str(consoles), "--budget", str(budget),
        ]  # fmt: skip
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )

    async def read(self, within: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), within)
        if not line:
            raise SystemExit("soak: the consoles process ended early (see its stderr)")
        return dict(json.loads(line))

    async def report(self) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(b"report\n")
        return await self.read(30)

    async def stop(self) -> None:
        await harness.stop_child(self.proc, 15)


# -- the run ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    agents: int
    consoles: int
    rate: float
    seconds: float
    downtime: float
    talk: tuple[float, float]
    answer_after: float
    wrap_up: float
    patience: float
    burst: int
    burst_spread: float
    keep: bool


async def make_ready_by_admin(url: str, agents: Sequence[str]) -> None:
    from tests.service_process import Console

    admin = Console(url)
    try:
        await admin.login(ADMIN, PASSWORD)
        gate = asyncio.Semaphore(16)

        async def one(aid: str) -> None:
            async with gate:
                await admin.set_state(aid, "ready")

        await asyncio.gather(*(one(a) for a in agents))
    finally:
        await admin.close()


async def soak(opts: Options, tmp: Path) -> dict[str, Any]:
    import aiohttp

    from telephony.simulator import PbxSimulator, PhoneBehaviour
    from tests.service_process import SECRET, ServiceProcess

    sim = PbxSimulator("switchboard", SECRET, time_scale=1.0, seed=10)
    port = await sim.start(HOST, 0)
    for i in range(opts.agents):
        sim.add_phone(f"PJSIP/{agent_id(i)}", PhoneBehaviour(answer_after=opts.answer_after))
    queues = tmp / "queues.yaml"
    write_queue_file(queues, opts.agents, opts.wrap_up)
    service = ServiceProcess(tmp, port, queues_file=queues, health_poll=0.02)
    await seed_users(service.db_path, opts.consoles)
    db = service.db_path
    budget = opts.seconds + opts.patience + opts.talk[1] + 600
    consoles = ConsolesChild(service.url, opts.consoles, budget)
    lag = LoopLag()
    load_before = os.getloadavg()
    samples: list[Sample] = []
    tasks = Tasks()
    result: dict[str, Any] = {}
    http = aiohttp.ClientSession()
    try:
        began = time.monotonic()
        await service.start(within=120)
        if opts.consoles:
            await consoles.start()
            result["consoles_start"] = await consoles.read(budget)
        await make_ready_by_admin(
            service.url, [agent_id(i) for i in range(opts.consoles, opts.agents)]
        )

        async def all_ready() -> bool:
            return (await sample(http, service, "")).agents.get("ready", 0) >= opts.agents

        await until(all_ready, 120, step=0.5)
        result["setup_seconds"] = time.monotonic() - began
        await asyncio.sleep(1.0)  # logins and snapshots settled
        samples.append(await sample(http, service, "start"))

        traffic = Traffic(sim, opts.rate, opts.seconds, opts.talk, opts.patience)
        placing = tasks.ensure(traffic.run())
        placing_began = time.monotonic()
        await asyncio.sleep(opts.seconds / 2)
        peak = await traffic.burst(opts.burst, opts.burst_spread)
        await until(lambda: through_the_ivr(db, peak), PEAK_IVR_LIMIT, step=0.1)
        result["kill_after"] = time.monotonic() - placing_began
        samples.append(await sample(http, service, "middle (before kill)"))
        killed_at = time.time()
        await service.kill()
        at_kill = callers_at_kill(sim, db)
        placed_before_kill = len(traffic.placed)
        await asyncio.sleep(opts.downtime)
        await service.start(within=120)
        healthy_at = service.healthy_at
        arrived_down = [u for t, u in traffic.placed if killed_at <= t < healthy_at]
        waiting = await offers_after(db, at_kill["waiting"], healthy_at, within=120)
        samples.append(await sample(http, service, "after takeover"))
        agents_after = samples[-1].agents
        ivr = await offers_after(db, at_kill["ivr"], healthy_at, within=120)
        down = await offers_after(db, arrived_down, healthy_at, within=120)

        await asyncio.wait_for(placing, opts.seconds + 600)
        # Every caller hangs up at last: talk time, or patience while waiting.
        drain = opts.patience + opts.talk[1] + 120
        drained = await until(lambda: not sim.channels, drain, step=0.5)
        tally = await count_contacts(db, [u for _, u in traffic.placed])
        await asyncio.sleep(opts.wrap_up + 1.0)  # the last wrap-ups end: every agent ready
        samples.append(await sample(http, service, "end (callers gone)"))
        figures = await consoles.report() if opts.consoles else {}
        reconnected = figures.get("reconnected_at", [])
        result.update(
            tally,
            placed_before_kill=placed_before_kill,
            drained=drained,
            at_kill={phase: len(keys_) for phase, keys_ in at_kill.items()},
            down_seconds=healthy_at - killed_at,
            takeover_waiting=waiting,
            takeover_ivr=ivr,
            arrived_while_down=down,
            agents_after_restart=agents_after,
            consoles={
                "ready": figures.get("ready", 0),
                "reconnected": len(reconnected),
                "reconnect_max": max(reconnected) - healthy_at if reconnected else None,
                "relogins": figures.get("relogins", 0),
                "logged_out_at_reconnect": figures.get("logged_out_at_reconnect", 0),
                "logged_out_after_restart": figures.get("logged_out_after_restart", 0),
                "screen_pops": figures.get("pops", 0),
            },
            traffic_behind=traffic.behind,
            loop_lag=lag.worst,
        )
    finally:
        lag.stop()
        for task in tasks:  # interrupted: no call placed on a stopped simulator
            task.cancel()
        await http.close()
        await consoles.stop()
        await service.stop()
        await sim.stop()
    result["samples"] = [s.__dict__ for s in samples]
    result["errors"] = {n: error_lines(service.output(n)) for n in (1, 2)}
    result["load"] = (load_before, os.getloadavg())
    return result


async def count_contacts(db: Path, placed: Sequence[str]) -> dict[str, Any]:
    """Placed vs stored vs open, once every caller is gone (the writer gets 30 s)."""
    open_keys: list[str] = []

    def none_open() -> bool:
        found = rows(db, "SELECT key FROM contacts WHERE ended_at IS NULL")
        open_keys[:] = [r[0] for r in found]
        return not open_keys

    await until(none_open, 30, step=0.5)
    stored = rows(db, "SELECT key, COUNT(*) FROM contacts GROUP BY key")
    keys = {k for k, _ in stored}
    fields = ("key", "queued", "offered", "answered", "ended", "outcome")
    return {
        "placed": len(placed),
        "contacts": sum(n for _, n in stored),
        "missing": len(set(placed) - keys),
        "duplicated": sum(n - 1 for _, n in stored if n > 1),
        "extra": len(keys - set(placed)),
        "open": len(open_keys),
        "open_sample": [
            dict(zip(fields, (k, *v), strict=True))
            for k, v in contacts_of(db, open_keys[:10]).items()
        ],
        "outcomes": dict(rows(db, "SELECT outcome, COUNT(*) FROM contacts GROUP BY outcome")),
    }


def render(opts: Options, r: dict[str, Any]) -> str:
    def sec(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f}"

    lines = [
        f"restart soak: {opts.agents} agents ({opts.consoles} websocket consoles), "
        f"{opts.rate:g} calls/s for {opts.seconds:g} s, a peak of {opts.burst} callers in"
        f" {opts.burst_spread:g} s at {opts.seconds / 2:g} s, SIGKILL at {r['kill_after']:.1f} s (the peak through the IVR),"
        f" restart after {opts.downtime:g} s; setup {r['setup_seconds']:.1f} s",
        "",
        f"{'moment':<22}{'RSS MB':>9}{'tasks':>8}{'websockets':>12}{'CPU s':>8}  agents by state",
    ]
    for s in r["samples"]:
        states = ", ".join(f"{k} {v}" for k, v in sorted(s["agents"].items()))
        lines.append(
            f"{s['label']:<22}{s['rss_kb'] / 1024:>9.1f}{s['tasks']:>8.0f}{s['websockets']:>12.0f}{s['cpu']:>8.1f}  {states}"
        )
    w, ivr, down = r["takeover_waiting"], r["takeover_ivr"], r["arrived_while_down"]
    verdict = "met" if w["never"] == 0 and (w["max"] or 0.0) < TAKEOVER_TARGET else "MISSED"
    if not w["callers"]:
        verdict = "not measured (nobody was waiting in a queue at the kill)"
    lines += [
        "",
        f"calls placed {r['placed']}  contacts stored {r['contacts']}  (missing {r['missing']},"
        f" duplicated {r['duplicated']}, not placed {r['extra']})  open after all hung up {r['open']}",
        "outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(r["outcomes"].items(), key=str)),
        "at the kill: "
        + ", ".join(f"{k} {v}" for k, v in r["at_kill"].items())
        + f"; service down {r['down_seconds']:.2f} s (kill to /healthz)",
        "",
        f"{'offered after /healthz':<34}{'callers':>8}{'offered':>8}{'p50 s':>8}{'p95 s':>8}{'max s':>8}",
    ]
    for name, t in (("waiting in a queue at the kill", w), ("in the IVR at the kill (restart)", ivr),
                    ("arrived while down", down)):  # fmt: skip
        lines.append(
            f"{name:<34}{t['callers']:>8}{t['offered']:>8}{sec(t['p50']):>8}{sec(t['p95']):>8}{sec(t['max']):>8}"
            + (
                f"  (ended unoffered {t['ended_unoffered']}, never {t['never']})"
                if t["callers"] - t["offered"]
                else ""
            )
        )
    c = r["consoles"]
    lines += [
        f"takeover target (waiting callers offered < {TAKEOVER_TARGET:g} s after /healthz): {verdict}",
        f"consoles: ready {c['ready']}, reconnected {c['reconnected']} (last {sec(c['reconnect_max'])} s"
        f" after /healthz), re-logins {c['relogins']}; logged out when reconnected"
        f" {c['logged_out_at_reconnect']}, still {RESTORE_GRACE:g} s later"
        f" {c['logged_out_after_restart']}; screen pops {c['screen_pops']}",
        f"simulator: calls behind schedule by up to {r['traffic_behind'] * 1000:.0f} ms, loop lag up to"
        f" {r['loop_lag'] * 1000:.0f} ms; load average {r['load'][0][0]:.2f} -> {r['load'][1][0]:.2f}",
    ]
    for n, errs in r["errors"].items():
        lines.append(f"service start {n}: {len(errs)} error lines")
        lines += [f"    {e[:200]}" for e in errs[:5]]
    if r["open"]:
        lines.append("open contacts (first 10): " + json.dumps(r["open_sample"]))
    return "\n".join(lines)


def headline(r: dict[str, Any]) -> list[Any]:
    """The figures ``python -m bench`` shows in its summary table."""
    from bench.figures import Figure

    w = r["takeover_waiting"]
    slowest = w["max"] if w["max"] is not None else 0.0
    on_time = (w["never"] == 0 and slowest < TAKEOVER_TARGET) if w["callers"] else None
    figures = [
        Figure("calls placed", r["placed"], "calls"),
        Figure(
            "contacts missing or duplicated",
            r["missing"] + r["duplicated"],
            "",
            "0",
            r["missing"] + r["duplicated"] == 0,
        ),
        Figure("contacts open after every caller hung up", r["open"], "", "0", r["open"] == 0),
        Figure("waiting callers at the kill", w["callers"], "calls"),
        Figure("slowest offer after /healthz", slowest, "s", f"< {TAKEOVER_TARGET:g} s", on_time),
        Figure("service down (SIGKILL to /healthz)", r["down_seconds"], "s"),
    ]
    for s in r["samples"]:
        figures.append(Figure(f"RSS, {s['label']}", s["rss_kb"] / 1024, "MB"))
    for s in r["samples"]:
        figures.append(Figure(f"asyncio tasks, {s['label']}", s["tasks"], ""))
    return figures


def failed(r: dict[str, Any]) -> bool:
    return bool(r["missing"] or r["duplicated"] or r["extra"] or r["open"])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.takeover_soak", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--agents", type=int, default=1000)
    p.add_argument(
        "--consoles", type=int, default=None, help="websocket consoles (default: all agents)"
    )
    p.add_argument("--rate", type=float, default=100.0, help="calls per second")
    p.add_argument("--seconds", type=float, default=600.0, help="how long calls are placed")
    p.add_argument(
        "--downtime", type=float, default=2.0, help="seconds between SIGKILL and restart"
    )
    p.add_argument("--talk", type=float, nargs=2, default=(2.0, 4.0), metavar=("MIN", "MAX"))
    p.add_argument("--answer-after", type=float, default=0.5, help="agent phones answer after")
    p.add_argument("--wrap-up", type=float, default=1.0, help="wrap-up seconds in every queue")
    p.add_argument("--patience", type=float, default=120.0, help="a waiting caller hangs up after")
    p.add_argument(
        "--burst",
        type=int,
        default=None,
        help="callers placed at once half-way, just before the kill (default: --agents)",
    )
    p.add_argument(
        "--burst-spread", type=float, default=2.0, help="seconds over which the peak arrives"
    )
    p.add_argument("--quick", action="store_true", help="20 agents, 5 calls/s, 20 s")
    p.add_argument("--keep", action="store_true", help="keep the data directory (logs, database)")
    p.add_argument("--json", action="store_true", help="only the JSON line")
    p.add_argument("--role", choices=["consoles"], help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    p.add_argument("--budget", type=float, default=3600.0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.agents, args.rate, args.seconds, args.talk = 20, 5.0, 20.0, (1.0, 2.0)
    if args.consoles is None or args.consoles > args.agents:
        args.consoles = args.agents
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.role == "consoles":
        asyncio.run(run_consoles(args.url, args.consoles, args.budget))
        return 0
    opts = Options(
        agents=args.agents,
        consoles=args.consoles,
        rate=args.rate,
        seconds=args.seconds,
        downtime=args.downtime,
        talk=tuple(args.talk),
        answer_after=args.answer_after,
        wrap_up=args.wrap_up,
        patience=args.patience,
        burst=args.agents if args.burst is None else args.burst,
        burst_spread=args.burst_spread,
        keep=args.keep,
    )
    tmp = Path(tempfile.mkdtemp(prefix="sb-soak-"))
    try:
        result = asyncio.run(soak(opts, tmp))
    finally:
        if not opts.keep:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    if not args.json:
        print(render(opts, result))
        if opts.keep:
            print(f"data directory kept: {tmp}")
    print(json.dumps({"bench": "takeover_soak", "options": opts.__dict__, **result}, default=str))
    from bench.figures import report

    report(headline(result))
    return 1 if failed(result) else 0


if __name__ == "__main__":
    raise SystemExit(main())

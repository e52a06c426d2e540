"""End-to-end screen-pop latency and memory per agent (a benchmark, not a test).

    python -m bench.screen_pop_e2e [--agents 1000] [--rate 100] [--seconds 10]
                                   [--noise 20] [--no-peers] [--quick]

Measures issue 7's "Performance" numbers on the real service, through real sockets on
127.0.0.1 only: from the AMI ``DialBegin`` that starts an agent's ringing, as written by
Asterisk, to the websocket frame read by that agent's console.

Theory of operation. Four processes, so no two measured parts share an event loop:

* **ami** (B): a minimal loopback AMI server speaking the shapes of the real transcripts
  (../shared/ami-transcripts, beside the checkout): banner, md5 ``Challenge``/``Login``, ``FullyBooted``,
  ``CoreShowChannels``, ``Ping``, and a ``Success`` for anything else. On "go" it writes,
  ``--rate`` times a second, ``--noise`` unrelated call events (Newexten/Newstate/VarSet
  shapes, which the client parses and the center ignores — real Asterisk sends dozens
  per call) and then the call's ``DialBegin``, noting ``time.monotonic()`` just before
  writing the ``DialBegin``.
* **service** (A): the real service, ``switchboard.service.build_service`` (AMI client,
  call center, console app, SQLite store in a temp dir) with a generated queue file of
  ``--agents`` agents and one console user per agent (cheap argon2 parameters so the
  1,000 logins take seconds, not minutes; the hash parameters do not touch the pop path).
  Bench-only setup: every call the AMI server will announce is put into the center as a
  ``LiveCall`` already in ``Phase.RINGING`` for its agent, with a real CRM card built by
  the directory from seeded demo customers. In production the IVR and the ACD get a call
  there (and ``_load_card`` fills the card) before Asterisk dials; the measured path —
  AMI read, parse, ``CallCenter._dial_begin``, hub fan-out, websocket write — is the
  same. Its ``contact arrived`` rows are written up front so the ``offered`` milestone
  each pop writes lands on a real row, as it would.
* **clients** (C): logs every agent in with ``POST /api/login`` (JSON, public Origin),
  opens one ``websockets`` client per agent with the session cookie, reads the snapshot,
  and then notes ``time.monotonic()`` as each ``screen_pop`` frame is read.
* **parent**: starts them, samples the service's RSS from /proc before the logins,
  after the logins and after every socket got its snapshot, says "go", joins the send
  and receive times by call id and prints the table.

``time.monotonic()`` is CLOCK_MONOTONIC, one clock for every process on a Linux host,
so times taken in B and C are comparable. Every wait is bounded; the children exit on
their own when the parent closes their stdin or their time budget runs out.

Peers, side by side (skip with ``--no-peers``): ``bench/screen_pop.py``'s hub-only run
(the console app fed by a synthetic center in-process: no AMI, no call center, ten
wallboards connected) and its bare ``websockets`` fan-out floor, with the same agents,
rate and duration. Targets: p99 < 10 ms, < 64 KB per agent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import hashlib
import json
import math
import os
import resource
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import harness
from bench.figures import Figure
from bench.figures import report as report_figures

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SECRET = "bench-secret"
PASSWORD = "bench-password-1"
AGENT_BASE = 10000
WARMUP_SECONDS = 1.0
CONNECT_BATCH = 100  # websockets opened before a short pause (the listen backlog)
LOGIN_PARALLEL = 32
CHILD_START_TIMEOUT = 180.0


def agent_id(i: int) -> str:
    return str(AGENT_BASE + i)


def call_id(n: int) -> str:
    return f"bench-{n}"


def channel(n: int) -> str:
    return f"PJSIP/sipp-{n:08x}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def rss_of(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()


def emit(payload: dict[str, Any]) -> None:
    """One JSON line to the parent."""
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


async def stdin_lines() -> asyncio.StreamReader:
    """The parent's commands, read without a thread (EOF when the parent goes away)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def wait_command(reader: asyncio.StreamReader, word: str, within: float) -> bool:
    """True when ``word`` arrived; False on EOF or after ``within`` seconds."""
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = await asyncio.wait_for(reader.readline(), left)
        except TimeoutError:
            return False
        if not line:
            return False
        if line.decode().strip() == word:
            return True
    return False


# -- B: the AMI server ------------------------------------------------------------------------

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
FULLY_BOOTED = (
    "Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 2\r\nLastReload: 2\r\n"
    "Status: Fully Booted\r\n\r\n"
)
# Field layout of 08-agi-dial-agent.txt (Asterisk 22.10.1), call-specific values filled in.
CALLER_FIELDS = (
    "Channel: {channel}\r\nChannelState: 6\r\nChannelStateDesc: Up\r\n"
    "CallerIDNum: {caller}\r\nCallerIDName: Bench Caller\r\nConnectedLineNum: <unknown>\r\n"
    "ConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: inbound\r\n"
    "Exten: s\r\nPriority: 6\r\nUniqueid: {uniqueid}\r\nLinkedid: {uniqueid}\r\n"
)
DIAL_BEGIN = (
    "Event: DialBegin\r\nPrivilege: call,all\r\n" + CALLER_FIELDS + "DestChannel: {dest};1\r\n"
    "DestChannelState: 5\r\nDestChannelStateDesc: Ringing\r\nDestCallerIDNum: s\r\n"
    "DestCallerIDName: <unknown>\r\nDestConnectedLineNum: {caller}\r\n"
    "DestConnectedLineName: Bench Caller\r\nDestLanguage: en\r\nDestAccountCode: \r\n"
    "DestContext: agent-phone\r\nDestExten: s\r\nDestPriority: 1\r\n"
    "DestUniqueid: {dest_uniqueid}\r\nDestLinkedid: {uniqueid}\r\n"
    "DialString: {agent}@agent-phone\r\n\r\n"
)
AGENT_LEG = (
    "Channel: {dest};2\r\nChannelState: 4\r\nChannelStateDesc: Ring\r\n"
    "CallerIDNum: {caller}\r\nCallerIDName: Bench Caller\r\nConnectedLineNum: s\r\n"
    "ConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\n"
    "Context: agent-phone\r\nExten: {agent}\r\nPriority: {k}\r\n"
    "Uniqueid: {dest_uniqueid}\r\nLinkedid: {uniqueid}\r\n"
)
NOISE = (
    "Event: Newexten\r\nPrivilege: dialplan,all\r\n" + AGENT_LEG + "Extension: {agent}\r\n"
    "Application: NoOp\r\nAppData: Fake agent phone {agent}\r\n\r\n",
    "Event: VarSet\r\nPrivilege: dialplan,all\r\n" + CALLER_FIELDS + "Variable: BENCH_{k}\r\n"
    "Value: {k}\r\n\r\n",
    "Event: Newstate\r\nPrivilege: call,all\r\n" + AGENT_LEG + "\r\n",
)


def call_fields(n: int, agents: int) -> dict[str, Any]:
    return {
        "channel": channel(n),
        "caller": f"+1555{n:07d}",
        "uniqueid": f"1795383323.{2 * n}",
        "dest_uniqueid": f"1795383323.{2 * n + 1}",
        "dest": f"Local/{agent_id(n % agents)}@agent-phone-{n:08x}",
        "agent": agent_id(n % agents),
    }


def core_show_channel(n: int, aid: str) -> str:
    fields = call_fields(n, 1)
    return (
        "Event: CoreShowChannel\r\n"
        + aid
        + CALLER_FIELDS.format(**fields)
        # In Dial, as a caller whose agent's phone rings is: the resync keeps the ring.
        + f"Application: Dial\r\nApplicationData: {fields['dest']},15\r\nDuration: 00:00:30\r\n"
        "BridgeId: \r\n\r\n"
    )


def ami_reply(fields: dict[str, str], challenge: str, live: int) -> tuple[str, bool]:
    """The answer to one action, and whether the login just succeeded.

    ``live``: how many bench calls ``CoreShowChannels`` lists, so the service's resync
    after connecting sees every pre-registered caller alive, as Asterisk would.
    """
    action = fields.get("action", "").lower()
    aid = f"ActionID: {fields['actionid']}\r\n" if "actionid" in fields else ""
    ok = "Response: Success\r\n" + aid
    if action == "challenge":
        return ok + f"Challenge: {challenge}\r\n\r\n", False
    if action == "login":
        want = hashlib.md5((challenge + SECRET).encode(), usedforsecurity=False).hexdigest()
        good = (
            fields.get("key") == want
            if fields.get("authtype", "").lower() == "md5"
            else fields.get("secret") == SECRET
        )
        if not good:
            return "Response: Error\r\n" + aid + "Message: Authentication failed\r\n\r\n", False
        return ok + "Message: Authentication accepted\r\n\r\n" + FULLY_BOOTED, True
    if action == "coreshowchannels":
        return (
            ok
            + "EventList: start\r\nMessage: Channels will follow\r\n\r\n"
            + "".join(core_show_channel(n, aid) for n in range(live))
            + "Event: CoreShowChannelsComplete\r\n"
            + aid
            + f"EventList: Complete\r\nListItems: {live}\r\n\r\n"
        ), False
    if action == "ping":
        return ok + f"Ping: Pong\r\nTimestamp: {time.time():.6f}\r\n\r\n", False
    if action == "logoff":
        return "Response: Goodbye\r\n" + aid + "Message: Thanks for all the fish.\r\n\r\n", False
    return ok + "Message: Done\r\n\r\n", False


async def run_ami(count: int, agents: int, rate: float, noise: int, budget: float) -> None:
    commands = await stdin_lines()
    logged_in: asyncio.Queue[asyncio.StreamWriter] = asyncio.Queue()
    writers: list[asyncio.StreamWriter] = []
    sessions: set[asyncio.Task[Any]] = set()

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        task = asyncio.current_task()
        assert task is not None
        sessions.add(task)
        writer.write(BANNER)
        challenge = "482917305"
        buf = b""
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                buf += data
                while b"\r\n\r\n" in buf:
                    raw, buf = buf.split(b"\r\n\r\n", 1)
                    fields: dict[str, str] = {}
                    for line in raw.decode("utf-8", "replace").split("\r\n"):
                        key, _, value = line.partition(":")
                        fields[key.strip().lower()] = value.strip()
                    text, login = ami_reply(fields, challenge, count)
                    writer.write(text.encode())
                    if login:
                        logged_in.put_nowait(writer)
                    if fields.get("action", "").lower() == "logoff":
                        writer.close()
                        return

    server = await asyncio.start_server(session, HOST, 0)
    emit({"port": server.sockets[0].getsockname()[1]})
    try:
        writer = await asyncio.wait_for(logged_in.get(), CHILD_START_TIMEOUT)
        if not await wait_command(commands, "go", budget):
            return
        while not logged_in.empty():  # a reconnect: write to the newest session
            writer = logged_in.get_nowait()
        sent: list[float] = []
        lag = 0.0
        start = time.monotonic()
        for n in range(count):
            due = start + n / rate
            if (delay := due - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            lag = max(lag, time.monotonic() - due)
            values = call_fields(n, agents)
            writer.write(
                "".join(
                    NOISE[k % len(NOISE)].format(k=k + 1, **values) for k in range(noise)
                ).encode()
            )
            sent.append(time.monotonic())
            writer.write(DIAL_BEGIN.format(**values).encode())
            await writer.drain()
        emit({"sent": sent, "lag": lag})
        await wait_command(commands, "quit", budget)
    finally:
        server.close()
        for w in writers:
            w.close()
        if sessions:  # let them see EOF and end, rather than be cancelled at exit
            await asyncio.wait(sessions, timeout=2)


# -- A: the service ---------------------------------------------------------------------------


def write_queue_file(path: Path, agents: int) -> None:
    """config/queues.yaml's queues with ``agents`` generated agents."""
    import yaml

    data = yaml.safe_load((ROOT / "config" / "queues.yaml").read_text())
    names = list(data["queues"])
    data["agents"] = [
        {
            "id": agent_id(i),
            "name": f"Bench Agent {i}",
            "endpoint": f"PJSIP/{agent_id(i)}",
            "skills": {"sales": 3, "support": 3, "billing": 3},
            "queues": [names[i % len(names)]],
        }
        for i in range(agents)
    ]
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def bench_settings(tmp: Path, ami_port: int, http_port: int, queues_file: Path) -> Any:
    from config.settings import load_settings

    base = load_settings(environ={})
    replace = dataclasses.replace
    return replace(
        base,
        ami=replace(base.ami, host=HOST, port=ami_port, secret=SECRET, auth="md5", ping_interval=0),
        http=replace(
            base.http, host=HOST, port=http_port, public_origin=f"http://{HOST}:{http_port}"
        ),
        database=replace(base.database, path=str(tmp / "bench.sqlite3")),
        # Every console logs in from 127.0.0.1 within seconds: the per-address login limit,
        # there against guessing, would turn most of them away.
        security=replace(
            base.security, session_secret="b" * 32, login_attempts_per_minute=1_000_000
        ),
        routing=replace(base.routing, queues_file=str(queues_file)),
    )


async def run_service(
    tmp: Path, ami_port: int, agents: int, count: int, budget: float, gc_freeze: bool
) -> None:
    import argon2
    from aiohttp import web

    from agent_console.auth import Passwords
    from crm_lookup.demo import DEMO_CUSTOMERS, seed_demo
    from routing.live import LiveCall, Phase
    from switchboard.service import build_service

    commands = await stdin_lines()
    queues_file = tmp / "queues.yaml"
    write_queue_file(queues_file, agents)
    http_port = free_port()
    service = await build_service(bench_settings(tmp, ami_port, http_port, queues_file))
    store, center = service.store, service.center
    await seed_demo(store)
    cards = []
    for customer in DEMO_CUSTOMERS:
        card = (await service.directory.card_for_phone(customer.phone)).to_json()
        cards.append((customer.phone, card))
    cheap = Passwords(argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    hashed = cheap.hash(PASSWORD)
    for i in range(agents):  # one hash for all: same password, and it saves the time
        await store.users.add(f"bench{i}", hashed, "agent", agent_id(i))
    now = time.time()
    path = [
        {"node": "menu", "kind": "menu", "digits": "2", "result": "support", "seconds": 4.1},
        {"node": "verify", "kind": "input", "digits": "****", "result": "ok", "seconds": 6.0},
    ]
    for n in range(count):
        # Bench-only: the state the IVR and the ACD leave a call in just before Asterisk
        # dials the agent (see the module docstring). The AMI server lists these
        # channels in CoreShowChannels, so the resync after connecting keeps them.
        phone, card = cards[n % len(cards)]
        call = LiveCall(
            call_id=call_id(n),
            channel=channel(n),
            uniqueid=f"1795383323.{2 * n}",
            caller=phone,
            dialed="5550100",
            arrived_at=now - 30,
            phase=Phase.RINGING,
            queue="support",
            agent_id=agent_id(n % agents),
            customer_id=card.get("customer_id"),
            card=card,
            queued_at=now - 12,
            # The ring the ACD started: the center pops only on this endpoint's DialBegin.
            ring_endpoint=f"Local/{agent_id(n % agents)}@agent-phone",
            path=list(path),
            verified=True,
            tier=str(card.get("tier") or "").lower(),
            pbx=center.pbxs.first.name,
        )
        center.calls[call.call_id] = call
        center._by_channel[call.pbx, call.channel] = call.call_id
        center.recorder.arrived(call)
    connected = asyncio.Event()

    async def on_connect() -> None:
        connected.set()

    service.ami.on_connect(on_connect)
    runner = web.AppRunner(service.app, access_log=None, handle_signals=False)
    await runner.setup()  # runs cleanup_ctx: the center starts and AMI connects
    try:
        await web.TCPSite(runner, HOST, http_port, backlog=1024).start()
        try:
            await asyncio.wait_for(connected.wait(), 30)
        except TimeoutError:
            raise SystemExit("service: AMI did not connect to the bench AMI server") from None
        await center.recorder.flush()
        lost = [n for n in range(count) if call_id(n) not in center.calls]
        if lost:
            raise SystemExit(f"service: {len(lost)} bench calls were closed by the resync")
        pauses = GcPauses()
        emit({"http_port": http_port, "origin": f"http://{HOST}:{http_port}"})
        if gc_freeze:
            # The mitigation under test: once the long-lived state is built (sessions,
            # sockets, live calls), move it out of the collector's reach.
            if not await wait_command(commands, "freeze", budget):
                return
            pauses.stop()  # this deliberate full collection is not a pause under load
            gc.collect()
            gc.freeze()
            pauses.start()
            emit({"frozen": gc.get_freeze_count()})
        if await wait_command(commands, "report", budget):
            pauses.stop()
            emit(
                {
                    "gc": pauses.slow,
                    "collections": pauses.collections,
                    "tracked": len(gc.get_objects()) + gc.get_freeze_count(),
                }
            )
            await wait_command(commands, "quit", budget)
    finally:
        await runner.cleanup()


class GcPauses:
    """The service's garbage-collector pauses, to tell a GC stall from a host stall."""

    SLOW_MS = 2.0

    def __init__(self) -> None:
        self.slow: list[tuple[float, float, int]] = []  # (ms, monotonic start, generation)
        self.collections = 0
        self._start = 0.0
        self.start()

    def start(self) -> None:
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.monotonic()
            return
        self.collections += 1
        ms = (time.monotonic() - self._start) * 1000
        if ms >= self.SLOW_MS:
            self.slow.append((ms, self._start, int(info.get("generation", -1))))

    def stop(self) -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._callback)


# -- C: the agent consoles --------------------------------------------------------------------


def warm_count(agents: int) -> int:
    """Agents logged in and connected first, so one-off costs (code paths, thread arenas)
    are not charged to each agent."""
    return max(1, min(64, agents // 10))


async def run_clients(port: int, agents: int, count: int, budget: float) -> None:
    """Log in, then connect, a warm-up batch and then the rest; each step is reported
    and waits for the parent's "next", so the parent can sample the server's RSS."""
    import aiohttp
    import websockets

    commands = await stdin_lines()
    base = f"http://{HOST}:{port}"
    tokens: dict[int, str] = {}
    gate = asyncio.Semaphore(LOGIN_PARALLEL)
    warm = warm_count(agents)

    async def login(http: aiohttp.ClientSession, i: int) -> None:
        async with (
            gate,
            http.post(
                base + "/api/login",
                json={"username": f"bench{i}", "password": PASSWORD},
                headers={"Origin": base},
            ) as resp,
        ):
            if resp.status == 200 and "sb_session" in resp.cookies:
                tokens[i] = resp.cookies["sb_session"].value

    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        for batch in (range(warm), range(warm, agents)):
            await asyncio.wait_for(
                asyncio.gather(*(login(http, i) for i in batch), return_exceptions=True),
                CHILD_START_TIMEOUT,
            )
            emit({"logged_in": len(tokens)})
            if not await wait_command(commands, "next", budget):
                return

    received: dict[str, float] = {}
    misrouted = 0
    connected = 0
    failed = 0
    target = 0
    batch_done = asyncio.Event()
    all_received = asyncio.Event()

    def settled() -> None:
        if connected + failed >= target:
            batch_done.set()

    async def console(i: int, token: str) -> None:
        nonlocal connected, failed, misrouted
        try:
            ws = await websockets.connect(
                f"ws://{HOST}:{port}/ws",
                origin=base,  # type: ignore[arg-type]
                additional_headers={"Cookie": f"sb_session={token}"},
                max_size=None,
                ping_interval=None,
                compression=None,
                open_timeout=60,
            )
            await ws.recv()  # the snapshot
        except Exception:
            failed += 1
            settled()
            return
        connected += 1
        settled()
        mine = agent_id(i)
        async with ws:
            async for frame in ws:
                got = time.monotonic()
                if '"screen_pop"' not in frame:
                    continue
                message = json.loads(frame)
                if message.get("agent_id") != mine or not message.get("card"):
                    misrouted += 1
                received[message["call"]["call_id"]] = got
                if len(received) >= count:
                    all_received.set()

    tasks = []
    slow: list[tuple[float, float, int]] = []
    ordered = sorted(tokens.items())
    for wave in (ordered[:warm], ordered[warm:]):
        target += len(wave)
        batch_done.clear()
        settled()
        for n, (i, token) in enumerate(wave):
            tasks.append(asyncio.create_task(console(i, token)))
            if n % CONNECT_BATCH == CONNECT_BATCH - 1:
                await asyncio.sleep(0.05)  # don't overflow the listen backlog
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(batch_done.wait(), CHILD_START_TIMEOUT)
        emit({"connected": connected, "failed": failed})
        if not await wait_command(commands, "next", budget):
            break
    else:
        # A thousand browsers are a thousand processes; here they share one heap, whose
        # full collections would stall every console at once. Keep that harness artifact
        # out of the measurement (the service's own collector is left alone).
        gc.collect()
        gc.freeze()
        pauses = GcPauses()
        if await wait_command(commands, "go", budget):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_received.wait(), budget)
        pauses.stop()
        slow = pauses.slow
    emit({"received": received, "misrouted": misrouted, "gc": slow})
    for task in tasks:
        task.cancel()


# -- parent -----------------------------------------------------------------------------------


class Child:
    """One benchmark process: JSON lines out, commands in, always reaped."""

    def __init__(self, role: str, *extra: str) -> None:
        self.role = role
        self.argv = [sys.executable, "-m", "bench.screen_pop_e2e", "--role", role, *extra]
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=64 * 1024 * 1024,
        )

    async def read(self, within: float = CHILD_START_TIMEOUT) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), within)
        if not line:
            raise SystemExit(f"bench: the {self.role} process ended early (see its stderr)")
        return dict(json.loads(line))

    def say(self, word: str) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(word.encode() + b"\n")

    async def stop(self) -> None:
        await harness.stop_child(self.proc, 10)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (milliseconds in, out)."""
    if not sorted_values:
        return math.nan
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def summarise(latencies: Sequence[float]) -> dict[str, float]:
    values = sorted(latencies)
    return {
        "p50": percentile(values, 0.50),
        "p95": percentile(values, 0.95),
        "p99": percentile(values, 0.99),
        "max": values[-1] if values else math.nan,
    }


async def run_e2e(
    agents: int, rate: float, seconds: float, noise: int, gc_freeze: bool = False
) -> dict[str, Any]:
    count = max(1, int(rate * seconds))
    budget = seconds + CHILD_START_TIMEOUT + 60
    children: list[Child] = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="sb-bench-") as tmp:
        try:
            ami = Child(
                "ami",
                *("--count", str(count), "--agents", str(agents), "--rate", str(rate)),
                *("--noise", str(noise), "--budget", str(budget)),
            )
            children.append(ami)
            await ami.start()
            ami_port = (await ami.read())["port"]
            service = Child(
                "service",
                *("--dir", tmp, "--ami-port", str(ami_port), "--agents", str(agents)),
                *("--count", str(count), "--budget", str(budget)),
                *(["--gc-freeze"] if gc_freeze else []),
            )
            children.append(service)
            await service.start()
            http_port = (await service.read())["http_port"]
            assert service.proc is not None
            pid = service.proc.pid
            await asyncio.sleep(0.5)
            rss_idle = rss_of(pid)
            clients = Child(
                "clients",
                *("--http-port", str(http_port), "--agents", str(agents)),
                *("--count", str(count), "--budget", str(budget)),
            )
            children.append(clients)
            await clients.start()
            # [warm-up batch, all]: RSS after the logins, then after the sockets.
            steps: list[tuple[dict[str, Any], int]] = []
            for _ in range(4):
                report = await clients.read()
                await asyncio.sleep(1.0)  # logins and snapshots settled, senders parked
                steps.append((report, rss_of(pid)))
                clients.say("next")
            if gc_freeze:
                service.say("freeze")
                await service.read(60)
            ami.say("go")
            clients.say("go")  # after its last "next"
            sent_report = await ami.read(seconds * 3 + 60)
            recv_report = await clients.read(seconds + budget)
            service.say("report")
            gc_report = await service.read(30)
        finally:
            for child in reversed(children):
                await child.stop()
    sent: list[float] = sent_report["sent"]
    received: dict[str, float] = recv_report["received"]
    latencies = [
        (received[call_id(n)] - t) * 1000 for n, t in enumerate(sent) if call_id(n) in received
    ]
    warm_from = int(rate * WARMUP_SECONDS)
    steady = [
        (received[call_id(n)] - t) * 1000
        for n, t in enumerate(sent)
        if n >= warm_from and call_id(n) in received
    ]
    (warm_login, rss_warm_login), (logins, rss_logins) = steps[0], steps[1]
    (warm_socket, rss_warm_socket), (sockets, rss_sockets) = steps[2], steps[3]
    connected = int(sockets["connected"])
    more_logins = max(1, logins["logged_in"] - warm_login["logged_in"])
    more_sockets = max(1, connected - warm_socket["connected"])
    kb_session = (rss_logins - rss_warm_login) / more_logins / 1024
    kb_socket = (rss_sockets - rss_warm_socket) / more_sockets / 1024
    return {
        "sent": len(sent),
        "received": len(latencies),
        "misrouted": recv_report["misrouted"],
        "logged_in": logins["logged_in"],
        "connected": connected,
        "failed": sockets["failed"],
        "lag_ms": sent_report["lag"] * 1000,
        "all": summarise(latencies) | {"n": len(latencies)},
        "steady": summarise(steady) | {"n": len(steady), "of": len(sent[warm_from:])},
        "kb_session": kb_session,
        "kb_socket": kb_socket,
        "kb_agent": kb_session + kb_socket,
        "kb_naive": (rss_sockets - rss_idle) / max(1, connected) / 1024,
        "slowest": sorted(
            ((received[call_id(n)] - t) * 1000, t - sent[0])
            for n, t in enumerate(sent)
            if call_id(n) in received
        )[-5:][::-1],
        "over_10ms": sum(1 for ms in latencies if ms >= 10.0),
        "load": (load_before, os.getloadavg()[0]),
        "gc": [
            (ms, start - sent[0], gen)
            for ms, start, gen in gc_report["gc"]
            if sent and sent[0] - 1 <= start <= sent[-1] + 1
        ],
        "client_gc": [
            (ms, start - sent[0], gen)
            for ms, start, gen in recv_report["gc"]
            if sent and sent[0] - 1 <= start <= sent[-1] + 1
        ],
        "collections": gc_report["collections"],
        "tracked": gc_report["tracked"],
    }


async def run_peers(agents: int, rate: float, seconds: float) -> list[tuple[str, dict[str, Any]]]:
    from bench import screen_pop

    rows = []
    for name, kind in (("hub only (bench/screen_pop.py)", "console"), ("bare websockets", "bare")):
        r = await screen_pop.run_clients(kind, agents, rate, seconds, False)
        rows.append((name, r))
    return rows


def print_table(
    args: argparse.Namespace, e2e: dict[str, Any], peers: list[tuple[str, dict[str, Any]]]
) -> None:
    print(
        f"\nScreen pop end to end: AMI DialBegin -> websocket frame read; {args.agents} agent "
        f"websockets, {args.rate:g} calls/s for {args.seconds:g} s, {args.noise} other AMI "
        f"events per call; 127.0.0.1, {os.cpu_count()} CPUs"
    )
    print(
        f"logins {e2e['logged_in']}/{args.agents}, sockets {e2e['connected']} "
        f"(failed {e2e['failed']}), misrouted pops {e2e['misrouted']}, "
        f"AMI sender max lag {e2e['lag_ms']:.1f} ms"
    )
    slow = ", ".join(f"{ms:.1f} ms at +{at:.2f} s" for ms, at in e2e["slowest"])
    print(f"pops >= 10 ms: {e2e['over_10ms']}; slowest: {slow}")
    gcs = sorted(e2e["gc"], reverse=True)[:5]
    pauses = ", ".join(f"{ms:.1f} ms (gen {gen}) at +{at:.2f} s" for ms, at, gen in gcs)
    print(
        f"service GC{' (frozen after connect)' if args.gc_freeze else ''}: "
        f"{e2e['tracked']} objects tracked, "
        f"{e2e['collections']} collections from ready to report; pauses >= "
        f"{GcPauses.SLOW_MS:g} ms during the calls: {pauses or 'none'}"
    )
    gcs = sorted(e2e["client_gc"], reverse=True)[:5]
    pauses = ", ".join(f"{ms:.1f} ms (gen {gen}) at +{at:.2f} s" for ms, at, gen in gcs)
    print(f"clients process GC pauses >= {GcPauses.SLOW_MS:g} ms: {pauses or 'none'}")
    print(
        f"1-min load average before/after the run: {e2e['load'][0]:.2f}/{e2e['load'][1]:.2f} "
        "(other work on this host lands in the tail)"
    )
    head = (
        f"{'path':38} {'pops recv/sent':>15} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>8} {'KB/agent':>9}"
    )
    print(head)
    print("-" * len(head))
    mem = f"{e2e['kb_agent']:.1f}"
    for label, key in (
        ("end to end, all calls", "all"),
        ("end to end, after 1 s warm-up", "steady"),
    ):
        s = e2e[key]
        pops = f"{s['n']:g}/{s.get('of', e2e['sent']):g}"
        print(
            f"{label:38} {pops:>15} {s['p50']:>8.2f} {s['p95']:>8.2f} {s['p99']:>8.2f} "
            f"{s['max']:>8.2f} {mem:>9}"
        )
    for name, r in peers:
        pops = f"{r['pops']}/{r['sent']}"
        print(
            f"{'peer: ' + name:38} {pops:>15} {r['p50']:>8.2f} {'-':>8} {r['p99']:>8.2f} "
            f"{r['max']:>8.2f} {r['rss_per_agent']:>9.1f}"
        )
    print(
        f"memory (service RSS): {e2e['kb_agent']:.1f} KB per agent = session "
        f"{e2e['kb_session']:.1f} + websocket {e2e['kb_socket']:.1f}, past a warm-up batch of "
        f"{warm_count(args.agents)}; {e2e['kb_naive']:.1f} KB counting every one-off cost "
        "from before the first login"
    )
    print("targets: p99 < 10 ms, < 64 KB per agent; peers drop their first second, and the")
    print("hub-only peer also serves 10 wallboards (its KB/agent counts them in)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="calls (DialBegin) per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--noise", type=int, default=20, help="other AMI events per call")
    parser.add_argument("--no-peers", action="store_true", help="skip the peer rows")
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="service: gc.freeze() once agents are connected (a mitigation to compare)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 20 agents, 20 calls/s, 1.5 s"
    )
    hidden = argparse.SUPPRESS
    parser.add_argument("--role", choices=["ami", "service", "clients"], help=hidden)
    parser.add_argument("--count", type=int, help=hidden)
    parser.add_argument("--budget", type=float, default=600.0, help=hidden)
    parser.add_argument("--ami-port", type=int, help=hidden)
    parser.add_argument("--http-port", type=int, help=hidden)
    parser.add_argument("--dir", help=hidden)
    args = parser.parse_args(argv)
    if args.role == "ami":
        asyncio.run(run_ami(args.count, args.agents, args.rate, args.noise, args.budget))
        return 0
    if args.role == "service":
        asyncio.run(
            run_service(
                Path(args.dir), args.ami_port, args.agents, args.count, args.budget, args.gc_freeze
            )
        )
        return 0
    if args.role == "clients":
        asyncio.run(run_clients(args.http_port, args.agents, args.count, args.budget))
        return 0
    if args.quick:
        args.agents, args.rate, args.seconds = 20, 20.0, 1.5
    if args.agents < 1 or args.rate <= 0 or args.seconds <= 0 or args.noise < 0:
        parser.error("--agents, --rate and --seconds must be positive, --noise not negative")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.agents + 256)), hard))
    e2e = asyncio.run(run_e2e(args.agents, args.rate, args.seconds, args.noise, args.gc_freeze))
    peers = [] if args.no_peers else asyncio.run(run_peers(args.agents, args.rate, args.seconds))
    print_table(args, e2e, peers)
    report_figures(headline(e2e, peers))
    return 0


def headline(e2e: dict[str, Any], peers: list[tuple[str, dict[str, Any]]]) -> list[Figure]:
    whole, steady = e2e["all"]["p99"], e2e["steady"]["p99"]
    figures = [
        Figure("end-to-end pop p99, all calls", whole, "ms", "< 10 ms", whole < 10),
        Figure("end-to-end pop p50", e2e["all"]["p50"], "ms"),
        Figure("end-to-end pop p99 after 1 s warm-up", steady, "ms", "< 10 ms", steady < 10),
        Figure("service memory per agent", e2e["kb_agent"], "KB", "< 64 KB", e2e["kb_agent"] < 64),
    ]
    figures += [Figure(f"peer {name}: pop p99", r["p99"], "ms", peer=True) for name, r in peers]
    return figures


if __name__ == "__main__":
    sys.exit(main())

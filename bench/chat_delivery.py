"""Chat message delivery, visitor to agent, end to end (issue 16).

    python -m bench.chat_delivery [--visitors 500] [--agents 100] [--capacity 3]
                                  [--seconds 20] [--every 3] [--quick]

Target: with 500 visitors connected at once and 100 agents each holding 3 chats, a
visitor's message reaches its agent's console with p99 < 50 ms.

Theory of operation. Four processes on 127.0.0.1, so no measured side shares an event
loop with another:

* **parent** (this one): the PBX simulator (the service wants its AMI link; no call is
  placed), a generated queue file (one queue ``webchat`` taking chats only; every agent
  in it with capacity ``{voice: 0, chat: --capacity, email: 0}``), console users, and the
  figures at the end.
* **service**: the real service, ``python -m switchboard run`` through
  ``tests.service_process.ServiceProcess``, with ``[chat]`` on (this origin allowed, the
  per-address visitor limit raised: every visitor comes from 127.0.0.1).
* **agents** (``--role agents``): one console websocket (``/ws``) per agent, logged in
  with ``POST /api/login``, set ready; notes ``time.monotonic()`` as each
  ``conversation_message`` frame with a visitor's words is read.
* **visitors** (``--role visitors``): one visitor websocket (``/chat/ws``) each, with the
  site's Origin: ``start``, then, once its chat has an agent (``joined``), a ``message``
  every ``--every`` s carrying a token, noting ``time.monotonic()`` just before the send.
  Visitors beyond the agents' capacity wait in the queue, connected (they count in the
  500 and load the service), and send nothing until an agent takes them.

Delivery = the agent's read time minus the visitor's send time, joined by token: the
visitor websocket, the frame parsed and rate-checked, the desk's ``customer_message``
(stored before it returns), the published event, the console hub, the agent's socket.
``time.monotonic()`` is CLOCK_MONOTONIC, one clock for every process on a Linux host.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import harness
from bench.figures import Figure, report

HOST = "127.0.0.1"
SECRET_FOR_PORT = "chat-bench-secret"  # the simulator's AMI secret in --visitor-side port
PASSWORD = "bench-chat-password"
QUEUE = "webchat"
CHILD_TIMEOUT = 300.0


def agent_id(i: int) -> str:
    return f"{3000 + i}"


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def write_queue_file(path: Path, agents: int, capacity: int) -> None:
    """config/queues.yaml's queues (the IVR scripts name them) plus ``webchat``, chats
    only; every bench agent in ``webchat`` alone, at ``capacity`` chats."""
    import yaml

    data = yaml.safe_load((harness.ROOT / "config" / "queues.yaml").read_text())
    data["queues"][QUEUE] = {
        "channels": ["chat"],
        "max_length": 0,
        "max_wait": 0,
        "join_empty": True,
        "wrap_up": 0,
    }
    data["agents"] = [
        {
            "id": agent_id(i),
            "name": f"Chat Agent {i}",
            "endpoint": f"PJSIP/{agent_id(i)}",
            "queues": [QUEUE],
            "capacity": {"voice": 0, "chat": capacity, "email": 0},
        }
        for i in range(agents)
    ]
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def chat_settings(origin: str, visitors: int) -> str:
    """The service's ``[chat]`` for the run (docs/chat.md): on, this origin allowed, the
    per-address limit above the visitor count (they all come from 127.0.0.1), the
    per-visitor message rate above the run's, the one topic to the bench queue."""
    return (
        "[security]\nlogin_attempts_per_minute = 1000000\n"
        "[chat]\nenabled = true\n"
        f'allowed_origins = ["{origin}"]\n'
        f"visitors_per_ip = {visitors * 2}\n"
        f"starts_per_minute = {visitors * 2}\n"
        "messages_per_minute = 600\n"
        f'[chat.topics]\nbench = "{QUEUE}"\n'
    )


# -------------------------------------------------------------------- the agents' side


async def run_agents(url: str, agents: int, budget: float) -> None:
    import aiohttp
    import websockets

    commands = await harness.stdin_reader()
    received: dict[str, float] = {}
    assigned = 0
    ready = 0
    sockets: list[Any] = []

    async def login(http: aiohttp.ClientSession, i: int) -> str:
        for _ in range(20):
            with contextlib.suppress(aiohttp.ClientError):
                async with http.post(
                    url + "/api/login",
                    json={"username": f"chat{i}", "password": PASSWORD},
                    headers={"Origin": url},
                ) as resp:
                    if resp.status == 200 and "sb_session" in resp.cookies:
                        return str(resp.cookies["sb_session"].value)
            await asyncio.sleep(0.2 + random.random())
        raise SystemExit(f"agents: agent {i} could not log in")

    async def work(ws: Any) -> None:
        nonlocal assigned, ready
        with contextlib.suppress(websockets.exceptions.WebSocketException):
            async for frame in ws:
                got = time.monotonic()
                if '"conversation_message"' in frame:
                    message = json.loads(frame).get("message") or {}
                    text = str(message.get("text", ""))
                    if message.get("sender") == "customer" and text.startswith("bench "):
                        received.setdefault(text, got)
                elif '"conversation_assigned"' in frame:
                    assigned += 1
                elif '"ack"' in frame and '"id":"r"' in frame:
                    ready += 1

    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        cookies = await asyncio.gather(*(login(http, i) for i in range(agents)))
    for cookie in cookies:
        ws = await websockets.connect(
            url.replace("http://", "ws://") + "/ws",
            origin=url,  # type: ignore[arg-type]
            additional_headers={"Cookie": f"sb_session={cookie}"},
            max_size=None,
            ping_interval=None,
            compression=None,
            open_timeout=60,
        )
        await ws.recv()  # the snapshot
        sockets.append(ws)
    workers = [asyncio.ensure_future(work(ws)) for ws in sockets]
    for ws in sockets:
        await ws.send(json.dumps({"type": "set_state", "id": "r", "state": "ready"}))
    await harness.until(lambda: ready >= agents, 30)
    harness.emit({"agents": len(sockets), "ready": ready})
    while True:
        try:
            line = await asyncio.wait_for(commands.readline(), budget)
        except TimeoutError:
            break
        word = line.decode().strip()
        if word == "status":
            harness.emit({"assigned": assigned})
        elif word == "report":
            harness.emit({"received": received})
        else:
            break
    for task in workers:
        task.cancel()
    for ws in sockets:
        with contextlib.suppress(Exception):
            await ws.close()


# ------------------------------------------------------------------ the visitors' side


async def run_visitors(url: str, visitors: int, every: float, budget: float) -> None:
    import websockets

    commands = await harness.stdin_reader()
    sent: dict[str, float] = {}
    joined: set[int] = set()
    refused: dict[str, int] = {}
    go = asyncio.Event()
    stop = asyncio.Event()
    sockets: list[Any] = []

    async def visitor(i: int) -> None:
        try:
            ws = await websockets.connect(
                url.replace("http://", "ws://") + "/chat/ws",
                origin=url,  # type: ignore[arg-type]
                max_size=2**20,
                ping_interval=None,
                compression=None,
                open_timeout=60,
            )
        except Exception as exc:
            refused[type(exc).__name__] = refused.get(type(exc).__name__, 0) + 1
            return
        sockets.append(ws)
        start = {
            "type": "start",
            "name": f"Visitor {i}",
            "phone": "",
            "email": f"visitor{i}@bench.example",
            "topic": "bench",
            "language": "en",
        }
        await ws.send(json.dumps(start))
        rng = random.Random(i)

        async def talk() -> None:
            await go.wait()
            await asyncio.sleep(rng.uniform(0, every))  # spread the sends
            n = 0
            while not stop.is_set():
                token = f"bench {i} {n}"
                at = time.monotonic()
                await ws.send(json.dumps({"type": "message", "text": token, "client_id": token}))
                sent[token] = at
                n += 1
                await asyncio.sleep(every)

        talker: asyncio.Task[None] | None = None
        with contextlib.suppress(websockets.exceptions.WebSocketException):
            async for frame in ws:
                data = json.loads(frame)
                kind = data.get("type")
                if kind == "joined" and talker is None:
                    joined.add(i)
                    talker = asyncio.ensure_future(talk())
                elif kind == "error":
                    code = str(data.get("code", "error"))
                    refused[code] = refused.get(code, 0) + 1
                elif kind in ("ended", "offline"):
                    break
        if talker is not None:
            talker.cancel()

    tasks = []
    for i in range(visitors):
        tasks.append(asyncio.ensure_future(visitor(i)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)
    harness.emit({"connecting": visitors})
    while True:
        try:
            line = await asyncio.wait_for(commands.readline(), budget)
        except TimeoutError:
            break
        word = line.decode().strip()
        if word == "status":
            harness.emit({"connected": len(sockets), "joined": len(joined), "refused": refused})
        elif word == "go":
            go.set()
        elif word == "stop":
            stop.set()
            harness.emit({"sent": sent, "refused": refused})
        else:
            break
    for ws in sockets:
        with contextlib.suppress(Exception):
            await ws.close()
    for task in tasks:
        task.cancel()


# ------------------------------------------- the visitor side through the port (fallback)


async def run_service(tmp: Path, ami_port: int, visitors: int, every: float, budget: float) -> None:
    """The service in this process, its visitors driven through the console port's
    visitor methods (``visitor_open``, ``visitor_message``): for a build without the
    visitor websocket. The agents' side is the same real console websockets."""
    import dataclasses

    from aiohttp import web

    from config.settings import load_settings
    from switchboard.service import build_service

    commands = await harness.stdin_reader()
    base = load_settings(environ={})
    replace = dataclasses.replace
    http_port = free_port()
    settings = replace(
        base,
        ami=replace(base.ami, host=HOST, port=ami_port, secret=SECRET_FOR_PORT, auth="md5",
                    ping_interval=0),
        http=replace(base.http, host=HOST, port=http_port,
                     public_origin=f"http://{HOST}:{http_port}"),
        database=replace(base.database, url="", path=str(tmp / "sb.sqlite3")),
        security=replace(base.security, session_secret="c" * 32,
                         login_attempts_per_minute=1_000_000),
        routing=replace(base.routing, queues_file=str(tmp / "queues.yaml")),
        recording=replace(base.recording, dir=str(tmp / "recordings"), pbx_dir=""),
    )  # fmt: skip
    (tmp / "recordings").mkdir(exist_ok=True)
    service = await build_service(settings)
    center = service.center
    joined: set[str] = set()

    def on_message(message: dict[str, Any]) -> None:
        event = message.get("event") or {}
        if message.get("type") == "visitor_event" and event.get("type") == "joined":
            joined.add(str(message.get("conversation_key")))

    center.subscribe(on_message)
    runner = web.AppRunner(service.app, access_log=None, handle_signals=False)
    await runner.setup()
    sent: dict[str, float] = {}
    stop = asyncio.Event()
    try:
        await web.TCPSite(runner, HOST, http_port, backlog=1024).start()
        harness.emit({"url": f"http://{HOST}:{http_port}"})
        keys: list[str] = []

        async def talk(i: int, key: str) -> None:
            rng = random.Random(i)
            await asyncio.sleep(rng.uniform(0, every))
            n = 0
            while not stop.is_set():
                token = f"bench {i} {n}"
                at = time.monotonic()
                await center.visitor_message(key, token)
                sent[token] = at  # only once it was taken (a send cut off by stop is none)
                n += 1
                await asyncio.sleep(every)

        talkers: list[asyncio.Future[Any]] = []
        while True:
            try:
                line = await asyncio.wait_for(commands.readline(), budget)
            except TimeoutError:
                break
            word = line.decode().strip()
            if word == "open":
                for i in range(visitors):
                    party = {"name": f"Visitor {i}", "email": f"visitor{i}@bench.example"}
                    opened = await center.visitor_open("chat", QUEUE, party, "", "en", None)
                    keys.append(str(opened["key"]))
                harness.emit({"opened": len(keys)})
            elif word == "status":
                harness.emit({"connected": len(keys), "joined": len(joined), "refused": {}})
            elif word == "go":
                talkers = [
                    asyncio.ensure_future(talk(i, k)) for i, k in enumerate(keys) if k in joined
                ]
            elif word == "stop":
                stop.set()
                for task in talkers:
                    task.cancel()
                harness.emit({"sent": sent, "refused": {}})
            else:
                break
    finally:
        await runner.cleanup()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# ----------------------------------------------------------------------------- parent


class Child:
    """A role of this module in its own process: JSON lines out, commands in."""

    def __init__(self, *argv: str) -> None:
        self.argv = [sys.executable, "-m", "bench.chat_delivery", *argv]
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=2**28,
            cwd=str(harness.ROOT),
        )

    async def read(self, within: float = 120.0) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), within)
        if not line:
            raise SystemExit(f"{self.argv[3:5]}: exited early")
        data: dict[str, Any] = json.loads(line)
        return data

    def say(self, word: str) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(word.encode() + b"\n")

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(Exception):
                self.say("quit")
            await harness.stop_child(self.proc, 15)


def visitor_socket_built() -> bool:
    """Whether this build serves the visitor websocket (agent_console/chat_visitor.py)."""
    return (harness.ROOT / "agent_console" / "chat_visitor.py").exists()


async def run(opts: argparse.Namespace) -> dict[str, Any]:
    from telephony.simulator import PbxSimulator
    from tests.service_process import SECRET, ServiceProcess

    side = opts.visitor_side
    if side == "auto":
        side = "socket" if visitor_socket_built() else "port"
    with tempfile.TemporaryDirectory(prefix="chat-bench-") as name:
        tmp = Path(name)
        sim = PbxSimulator("switchboard", SECRET if side == "socket" else SECRET_FOR_PORT, seed=16)
        ami_port = await sim.start(HOST, 0)
        queues = tmp / "queues.yaml"
        write_queue_file(queues, opts.agents, opts.capacity)
        users = [(f"chat{i}", agent_id(i)) for i in range(opts.agents)]
        await harness.seed_users(tmp / "sb.sqlite3", PASSWORD, users)
        process: Any = None
        result: dict[str, Any] = {"side": side}
        agents = visitors = None
        try:
            if side == "socket":
                process = ServiceProcess(tmp, ami_port, queues_file=queues, health_poll=0.05)
                # the settings file names the service's own origin, known only now
                process.config.write_text(
                    process.config.read_text() + chat_settings(process.url, opts.visitors)
                )
                await process.start()
                url = process.url
                visitors = Child(
                    "--role", "visitors", "--url", url,
                    "--visitors", str(opts.visitors), "--every", str(opts.every),
                )  # fmt: skip
            else:
                visitors = Child(
                    "--role", "service", "--tmp", str(tmp), "--ami-port", str(ami_port),
                    "--visitors", str(opts.visitors), "--every", str(opts.every),
                )  # fmt: skip
                await visitors.start()
                url = (await visitors.read())["url"]
            agents = Child("--role", "agents", "--url", url, "--agents", str(opts.agents))
            await agents.start()
            result["agents"] = await agents.read(CHILD_TIMEOUT)
            if side == "socket":
                await visitors.start()
                await visitors.read()
            else:
                visitors.say("open")
                await visitors.read(CHILD_TIMEOUT)
            busy = min(opts.visitors, opts.agents * opts.capacity)
            status: dict[str, Any] = {}
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                await asyncio.sleep(1.0)
                visitors.say("status")
                status = await visitors.read()
                if status["connected"] >= opts.visitors and status["joined"] >= busy:
                    break
            result["visitors"] = status
            load = os.getloadavg()[0]
            visitors.say("go")
            await asyncio.sleep(opts.seconds)
            visitors.say("stop")
            sent = (await visitors.read())["sent"]
            await asyncio.sleep(1.0)  # the last messages in flight
            agents.say("report")
            received = (await agents.read())["received"]
            delays = [(received[t] - at) * 1000 for t, at in sent.items() if t in received]
            result.update(
                sent=len(sent),
                delivered=len(delays),
                lost=len(sent) - len(delays),
                delays=delays,
                load=load,
                busy=busy,
                joined=status.get("joined", 0),
            )
        finally:
            if visitors is not None:
                await visitors.stop()
            if agents is not None:
                await agents.stop()
            if process is not None:
                with contextlib.suppress(Exception):
                    await process.stop()
            await sim.stop()
        return result


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--visitors", type=int, default=500)
    p.add_argument("--agents", type=int, default=100)
    p.add_argument("--capacity", type=int, default=3)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--every", type=float, default=3.0, help="seconds between a visitor's messages")
    p.add_argument("--quick", action="store_true", help="50 visitors, 10 agents, 5 s")
    hidden = argparse.SUPPRESS
    p.add_argument(
        "--visitor-side",
        choices=["auto", "socket", "port"],
        default="auto",
        help="visitors on the visitor websocket (socket), or through the console port in"
        " the service's process (port: a build without /chat/ws); auto: socket if built",
    )
    p.add_argument("--role", choices=["agents", "visitors", "service"], help=hidden)
    p.add_argument("--url", help=hidden)
    p.add_argument("--tmp", help=hidden)
    p.add_argument("--ami-port", type=int, help=hidden)
    p.add_argument("--budget", type=float, default=CHILD_TIMEOUT + 600, help=hidden)
    opts = p.parse_args(argv)
    if opts.quick:
        opts.visitors, opts.agents, opts.seconds, opts.every = 50, 10, 5.0, 1.0
    return opts


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    if opts.role == "agents":
        asyncio.run(run_agents(opts.url, opts.agents, opts.budget))
        return 0
    if opts.role == "visitors":
        asyncio.run(run_visitors(opts.url, opts.visitors, opts.every, opts.budget))
        return 0
    if opts.role == "service":
        asyncio.run(run_service(Path(opts.tmp), opts.ami_port, opts.visitors, opts.every,
                                opts.budget))  # fmt: skip
        return 0
    result = asyncio.run(run(opts))
    delays = result["delays"]
    if not delays:
        raise SystemExit(f"chat_delivery: no message was delivered ({result})")
    p50, p99 = statistics.median(delays), pct(delays, 0.99)
    print()
    print(
        f"Chat delivery — {opts.visitors} visitors, {opts.agents} agents at capacity"
        f" {opts.capacity} ({result['busy']} chats with an agent), a message every"
        f" {opts.every:g} s each for {opts.seconds:g} s; load {result['load']:.1f}"
    )
    side = {"socket": "the visitor websocket", "port": "the console port (no /chat/ws)"}
    print(f"  visitors through {side[result['side']]}; {result['joined']} chats had an agent")
    print(f"  sent {result['sent']}, delivered {result['delivered']}, lost {result['lost']}")
    print(
        f"  visitor -> agent delivery: p50 {p50:.1f} ms, p99 {p99:.1f} ms,"
        f" max {max(delays):.1f} ms   target p99 < 50 ms"
    )
    report(
        [
            Figure(
                f"chat delivery visitor -> agent p99 ({opts.visitors} visitors,"
                f" {opts.agents} agents x {opts.capacity}, visitors via {result['side']})",
                p99,
                "ms",
                "< 50 ms",
                p99 < 50 and result["lost"] == 0,
            ),
            Figure("chat delivery p50", p50, "ms"),
            Figure("chat messages lost", float(result["lost"]), "", "0", result["lost"] == 0),
        ]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

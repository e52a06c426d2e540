"""AMI ingest benchmark: events/s from a loopback socket into parsed events, peers side by side.

A server process on 127.0.0.1 answers the Login, then streams N real channel events (the
exact bytes of Newchannel/Newstate/Newexten/VarSet/Hangup/Dial*/Bridge* messages taken
from ../shared/ami-transcripts, cycled). Each client connects, logs in and counts events
until it has all N; every callback reads the event's Uniqueid (so lazy parsing is not free):

* switchboard  - telephony.ami.AmiClient, subscriber gets typed frozen events
* panoramisk   - panoramisk.Manager, register_event('*') gets its Message objects
* asterisk-ami - asterisk.ami.AMIClient (thread + blocking socket), event listener
* bare loop    - blocking socket, split on the blank line, decode, dict per message

Then the parser's memory is traced (tracemalloc) while the same stream is fed in 64 KiB
reads, and again with one 512 KiB message inside: the peak follows the largest message,
not the stream. Not a test: run ``python -m bench.ami_ingest [--events N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import multiprocessing
import socket
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.figures import Figure  # noqa: E402
from bench.figures import report as report_figures  # noqa: E402
from telephony.ami import AmiClient, AmiProtocol  # noqa: E402
from telephony.ami.events import Event  # noqa: E402
from tests.transcripts import (  # noqa: E402
    read_transcript,
    received_stream,
    transcript_files,
)

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
QUICK_EVENTS = 5_000
KINDS = {
    "Newchannel",
    "Newstate",
    "Newexten",
    "VarSet",
    "Hangup",
    "HangupRequest",
    "SoftHangupRequest",
    "DialBegin",
    "DialEnd",
    "BridgeEnter",
    "BridgeLeave",
    "NewCallerid",
}


def real_events() -> list[bytes]:
    """Channel events exactly as Asterisk 22 sent them, with their terminating blank line."""
    out = []
    for path in transcript_files():
        stream = received_stream(read_transcript(path), "c1")
        for raw in stream.split(b"\r\n\r\n"):
            name = raw.split(b"\r\n", 1)[0].removeprefix(b"Event: ").decode()
            if name in KINDS:
                out.append(raw + b"\r\n\r\n")
    return out


def build_stream(n: int) -> bytes:
    events = real_events()
    return b"".join(events[i % len(events)] for i in range(n))


# -- server (own process, so it does not share the GIL with the clients) -----------------------


def serve(port_pipe: multiprocessing.connection.Connection, blob: bytes, clients: int) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port_pipe.send(listener.getsockname()[1])
    for _ in range(clients):
        conn, _addr = listener.accept()
        with conn:
            conn.sendall(BANNER)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            action_id = b""
            for line in data.split(b"\r\n"):
                if line.lower().startswith(b"actionid:"):
                    action_id = line.split(b":", 1)[1].strip()
            conn.sendall(
                b"Response: Success\r\nActionID: "
                + action_id
                + b"\r\nMessage: Authentication accepted\r\n\r\n"
            )
            conn.sendall(blob)
            conn.settimeout(120)
            try:
                while conn.recv(65536):
                    pass  # ignore later actions (pings, logoff) until the client leaves
            except OSError:
                pass


# -- clients -------------------------------------------------------------------------------------


def run_switchboard(port: int, n: int) -> float:
    async def main() -> float:
        done = asyncio.Event()
        count = 0

        def on_event(event: Event) -> None:
            nonlocal count
            event.get("Uniqueid")
            count += 1
            if count == n:
                done.set()

        client = AmiClient(
            "127.0.0.1", port, "bench", "x", auth="plain", ping_interval=0, reconnect=False
        )
        client.subscribe(on_event)
        start = time.perf_counter()
        await client.connect()
        await asyncio.wait_for(done.wait(), 300)
        elapsed = time.perf_counter() - start
        await client.close()
        return elapsed

    return asyncio.run(main())


def run_panoramisk(port: int, n: int) -> float:
    from panoramisk import Manager

    async def main() -> float:
        done = asyncio.Event()
        count = 0

        def on_event(manager: object, message: Any) -> None:
            nonlocal count
            message.get("Uniqueid")
            count += 1
            if count == n:
                done.set()

        manager = Manager(
            loop=asyncio.get_running_loop(),
            host="127.0.0.1",
            port=port,
            username="bench",
            secret="x",
            ping_delay=3600,
            ping_interval=3600,
        )
        manager.register_event("*", on_event)
        start = time.perf_counter()
        await manager.connect()
        await asyncio.wait_for(done.wait(), 600)
        elapsed = time.perf_counter() - start
        manager.close()
        return elapsed

    return asyncio.run(main())


def run_asterisk_ami(port: int, n: int) -> float:
    from asterisk.ami import AMIClient

    done = threading.Event()
    count = 0

    def on_event(event: Any, source: object) -> None:
        nonlocal count
        event.keys.get("Uniqueid")
        count += 1
        if count == n:
            done.set()

    client = AMIClient(address="127.0.0.1", port=port, buffer_size=65536, timeout=60)
    client.add_event_listener(on_event)
    start = time.perf_counter()
    client.login(username="bench", secret="x")
    if not done.wait(600):
        raise TimeoutError(f"asterisk-ami got {count} of {n} events")
    elapsed = time.perf_counter() - start
    # disconnect() closes the socket and joins the reader thread, which a close does not
    # wake from recv() on Linux: it would wait out the 60 s timeout. shutdown() does.
    with contextlib.suppress(OSError):
        client._socket.shutdown(socket.SHUT_RDWR)
    client.disconnect()
    return elapsed


def run_bare(port: int, n: int) -> float:
    count = 0
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"Action: Login\r\nActionID: 1\r\nUsername: bench\r\nSecret: x\r\n\r\n")
        buf = b""
        while count < n:
            data = sock.recv(65536)
            if not data:
                break
            buf += data
            *messages, buf = buf.split(b"\r\n\r\n")
            for raw in messages:
                text = raw.decode("utf-8", "replace")
                fields = dict(line.split(": ", 1) for line in text.split("\r\n") if ": " in line)
                if "Event" in fields:
                    fields.get("Uniqueid")
                    count += 1
    return time.perf_counter() - start


# -- memory --------------------------------------------------------------------------------------


def parser_peak(stream: bytes) -> int:
    protocol = AmiProtocol(expect_banner=False, max_message_bytes=4 << 20)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for i in range(0, len(stream), 65536):
        protocol.receive_data(stream[i : i + 65536])
        protocol.events_received()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


PEER_MODULES = {"panoramisk": "panoramisk", "asterisk-ami": "asterisk.ami"}


def peer_installed(name: str) -> bool:
    """Peers come from the ``bench`` extra; a run without them still measures ours."""
    module = PEER_MODULES.get(name)
    if module is None:
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the parent package is missing
        return False


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument(
        "--only", nargs="*", default=["switchboard", "panoramisk", "asterisk-ami", "bare loop"]
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 5,000 events")
    args = parser.parse_args(argv)
    n = QUICK_EVENTS if args.quick else args.events
    blob = build_stream(n)
    runners: dict[str, Callable[[int, int], float]] = {
        "switchboard": run_switchboard,
        "panoramisk": run_panoramisk,
        "asterisk-ami": run_asterisk_ami,
        "bare loop": run_bare,
    }
    missing = [name for name in runners if name in args.only and not peer_installed(name)]
    for name in missing:
        print(f"{name}: not installed, skipped (pip install -e '.[bench]')")
    chosen = [name for name in runners if name in args.only and name not in missing]
    ctx = multiprocessing.get_context("fork")
    here, there = ctx.Pipe()
    server = ctx.Process(target=serve, args=(there, blob, len(chosen)), daemon=True)
    server.start()
    port = here.recv()
    print(f"{n} real channel events, {len(blob) / 1e6:.1f} MB, over 127.0.0.1\n")
    print(f"{'client':<14} {'seconds':>8} {'events/s':>10} {'vs panoramisk':>14}")
    rates: dict[str, float] = {}
    for name in chosen:
        elapsed = runners[name](port, n)
        rates[name] = n / elapsed
        print(f"{name:<14} {elapsed:8.2f} {rates[name]:10,.0f}", flush=True)
    server.join(10)
    if "panoramisk" in rates:
        print()
        for name, rate in rates.items():
            print(f"{name:<14} {rate / rates['panoramisk']:6.1f}x panoramisk")
    sw = rates.get("switchboard", 0.0)
    print(f"\ntarget >= 200,000 events/s: {'met' if sw >= 200_000 else 'NOT met'} ({sw:,.0f})")
    if "panoramisk" in rates:
        ratio = sw / rates["panoramisk"]
        print(f"target >= 4x panoramisk:    {'met' if ratio >= 4 else 'NOT met'} ({ratio:.1f}x)")

    events = real_events()
    largest = max(len(e) for e in events)
    small = blob[:20_000_000]
    big_message = b"Event: Huge\r\nData: " + b"x" * (512 * 1024) + b"\r\n\r\n"
    with_big = small[: len(small) // 2] + big_message + small[len(small) // 2 :]
    print("\nparser memory (tracemalloc peak while feeding 64 KiB reads):")
    print(f"{'stream':<34} {'bytes':>12} {'largest msg':>12} {'peak':>10}")
    print(f"{'real events':<34} {len(small):>12,} {largest:>12,} {parser_peak(small):>10,}")
    print(
        f"{'real events + one 512 KiB message':<34} {len(with_big):>12,} "
        f"{len(big_message):>12,} {parser_peak(with_big):>10,}"
    )
    print("(the peak tracks the largest message plus one 64 KiB read, not the stream size)")
    figures = [
        Figure("switchboard events/s", sw, "events/s", ">= 200,000/s", sw >= 200_000),
    ]
    if "panoramisk" in rates:
        ratio = sw / rates["panoramisk"]
        figures.append(Figure("switchboard vs panoramisk", ratio, "x", ">= 4x", ratio >= 4))
    figures += [
        Figure(f"{name} events/s", rate, "events/s", peer=True)
        for name, rate in rates.items()
        if name != "switchboard"
    ]
    figures.append(Figure("parser peak, real stream", parser_peak(small), "bytes"))
    report_figures(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

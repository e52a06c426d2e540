"""``switchboard sim``: run the PBX simulator standalone until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import secrets
import signal

from config.errors import InvalidInput
from config.settings import Settings
from telephony.simulator import PbxSimulator, PhoneBehaviour
from telephony.simulator.privileges import SHIPPED_WRITE

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "sim", help="run a simulated Asterisk (AMI on --listen) with agents and callers"
    )
    parser.add_argument("--listen", default="127.0.0.1:5038", metavar="HOST:PORT")
    parser.add_argument("--username", help="AMI username (default: ami.username)")
    parser.add_argument(
        "--secret", help="AMI secret (default: ami.secret, else one generated and printed)"
    )
    parser.add_argument(
        "--rate", type=float, default=0.0, metavar="CALLS_PER_MIN", help="Poisson call arrivals"
    )
    parser.add_argument("--agents", type=int, default=3, metavar="N", help="phones PJSIP/1001..")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--write",
        default=SHIPPED_WRITE,
        metavar="CLASSES",
        help="the AMI user's write classes, e.g. all (default: config/asterisk/manager.conf's)",
    )
    parser.set_defaults(handler=run_sim)


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` -> (host, port).

    Raises:
        InvalidInput: not HOST:PORT with a port in 0..65535.
    """
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InvalidInput(f"--listen must be HOST:PORT, got {text!r}", field="listen")
    return host.strip("[]"), int(port)


def run_sim(args: argparse.Namespace, settings: Settings) -> int:
    host, port = parse_listen(args.listen)
    username = args.username or settings.ami.username
    # No secret anywhere: make one up and print it, so the README's one-liner just works.
    given = args.secret or settings.ami.secret
    secret = given or secrets.token_urlsafe(12)
    if args.agents < 0 or args.rate < 0:
        raise InvalidInput("--agents and --rate must not be negative")
    sim = PbxSimulator(username, secret, seed=args.seed, write=args.write)
    for n in range(args.agents):
        sim.add_phone(f"PJSIP/{1001 + n}", PhoneBehaviour(answer_after=2.0, talk_seconds=(30, 120)))
    login = None if given else (username, secret)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(sim, host, port, args.rate, login))
    return 0


def _banner(host: str, port: int, login: tuple[str, str] | None) -> str:
    lines = [f"switchboard sim: AMI on {host}:{port} (Ctrl-C to stop)"]
    if login is not None:
        username, secret = login
        lines += [
            f"  login: username {username}, secret {secret}"
            " (generated for this run; --secret or ami.secret chooses one)",
            f"  for the service: SWITCHBOARD_AMI__HOST={host} SWITCHBOARD_AMI__PORT={port}"
            f" SWITCHBOARD_AMI__SECRET={secret}",
        ]
    return "\n".join(lines)


async def _serve(
    sim: PbxSimulator, host: str, port: int, rate: float, login: tuple[str, str] | None
) -> None:
    bound = await sim.start(host, port)
    print(_banner(host, bound, login), flush=True)
    if rate > 0:
        sim.start_traffic(rate)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Explicit handlers: a shell may start us with SIGINT ignored.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await sim.stop()
        print("switchboard sim: stopped", flush=True)

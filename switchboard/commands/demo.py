"""``switchboard demo``: the main job on the embedded default (no Asterisk needed)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from config.settings import Settings
from switchboard.demo_paths import DEFAULT_DATA_DIR


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "demo",
        help="run the service with the PBX simulator, demo data and simulated callers",
    )
    parser.add_argument("--host", default="127.0.0.1", help="console address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="console port (default 8080)")
    parser.add_argument(
        "--rate", type=float, default=4.0, help="simulated calls per minute (default 4)"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help=f"where the demo database lives (default {DEFAULT_DATA_DIR})",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for a repeatable demo")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from switchboard.demo import run_demo

    if args.rate <= 0:
        raise SystemExit("switchboard demo: error: --rate must be positive")
    asyncio.run(
        run_demo(
            settings,
            host=args.host,
            port=args.port,
            rate=args.rate,
            data_dir=args.data_dir,
            seed=args.seed,
        )
    )
    return 0

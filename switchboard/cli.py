"""``switchboard`` — the command line.

Each command lives in a module of :mod:`switchboard.commands` that defines
``register(subparsers)``; a module is listed only when its command works. A handler
takes ``(args, settings)`` and returns the exit code: 0 ok, 1 a failure the user can
fix (one line on stderr, never a traceback), 2 a usage error (argparse).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from config.errors import SwitchboardError
from config.settings import load_settings
from switchboard import __version__, commands
from switchboard.logs import setup_logging


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="switchboard",
        description="Switchboard: an asyncio contact center for Asterisk.",
    )
    parser.add_argument("--version", action="version", version=f"switchboard {__version__}")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="settings file (TOML); default: $SWITCHBOARD_CONFIG, else built-in defaults",
    )
    parser.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="override logging.level from the settings",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"{commands.__name__}.{info.name}").register(sub)
    return parser


GLOBAL_OPTIONS = ("--config", "--log-level")


def hoist_global_options(argv: Sequence[str]) -> list[str]:
    """Let ``--config`` and ``--log-level`` stand anywhere: ``switchboard run --config F``
    works like ``switchboard --config F run``."""
    front: list[str] = []
    rest: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in GLOBAL_OPTIONS and i + 1 < len(args):
            front += args[i : i + 2]
            i += 2
            continue
        if arg.split("=", 1)[0] in GLOBAL_OPTIONS and "=" in arg:
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(hoist_global_options(sys.argv[1:] if argv is None else argv))
    try:
        settings = load_settings(args.config)
        setup_logging(args.log_level or settings.logging.level)
        code: int = args.handler(args, settings)
    except SwitchboardError as exc:
        print(f"switchboard: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `switchboard report ... | head`: the reader has gone; that is not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())

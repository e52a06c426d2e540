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

from config.errors import ConfigError, SwitchboardError
from config.settings import ENV_PREFIX, WHOLE_FILE, load_settings
from switchboard import __version__, commands
from switchboard.logs import setup_logging

CONFIG_HELP = "settings file (TOML); default: $SWITCHBOARD_CONFIG, else built-in defaults"
LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]
LOG_LEVEL_HELP = "override logging.level from the settings"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="switchboard",
        description="Switchboard: an asyncio contact center for Asterisk.",
    )
    parser.add_argument("--version", action="version", version=f"switchboard {__version__}")
    parser.add_argument("--config", metavar="FILE", help=CONFIG_HELP)
    parser.add_argument("--log-level", choices=LOG_LEVELS, help=LOG_LEVEL_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"{commands.__name__}.{info.name}").register(sub)
    document_global_options(parser)
    return parser


def document_global_options(parser: argparse.ArgumentParser) -> None:
    """Show ``--config`` and ``--log-level`` in every command's help, since they may stand
    after the command too. Only the top-level parser reads them (hoisted there by
    :func:`hoist_global_options`); SUPPRESS keeps a subcommand from resetting them."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for child in action.choices.values():
            group = child.add_argument_group("global options (also before the command)")
            group.add_argument(
                "--config", metavar="FILE", default=argparse.SUPPRESS, help=CONFIG_HELP
            )
            group.add_argument(
                "--log-level", choices=LOG_LEVELS, default=argparse.SUPPRESS, help=LOG_LEVEL_HELP
            )
            document_global_options(child)


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


def describe_config_error(exc: ConfigError, config_option: str | None) -> str:
    """A settings file that cannot be read is named with where it came from:
    ``--config /etc/x.toml: file not found``; a bad key keeps ``file: key: expected``."""
    if exc.key != WHOLE_FILE:
        return str(exc)
    where = f"--config {exc.source}" if config_option else f"{ENV_PREFIX}CONFIG={exc.source}"
    return f"{where}: {exc.expected}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(hoist_global_options(sys.argv[1:] if argv is None else argv))
    try:
        settings = load_settings(args.config)
        setup_logging(args.log_level or settings.logging.level)
        code: int = args.handler(args, settings)
    except ConfigError as exc:
        print(f"switchboard: error: {describe_config_error(exc, args.config)}", file=sys.stderr)
        return 1
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

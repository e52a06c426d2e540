"""``switchboard config show``: print the effective settings, secrets blanked."""

from __future__ import annotations

import argparse
import json

from config.settings import Settings, redacted


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("config", help="inspect the settings")
    inner = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    show = inner.add_parser(
        "show", help="print the effective settings (defaults, file, environment) as JSON"
    )
    show.set_defaults(handler=show_settings)


def show_settings(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(redacted(settings), indent=2, sort_keys=True))
    return 0

"""``switchboard ivr check [FILES...]``: validate IVR scripts, one ``file:line: message``
per problem; exit 1 if there is any."""

from __future__ import annotations

import argparse
import sys

from config.errors import InvalidInput
from config.settings import Settings
from routing.ivr.script import check_files, script_files


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("ivr", help="IVR scripts")
    inner = parser.add_subparsers(dest="ivr_command", metavar="ACTION", required=True)
    check = inner.add_parser(
        "check", help="validate scripts (default: every script in settings ivr.scripts_dir)"
    )
    check.add_argument("files", nargs="*", metavar="FILE")
    check.add_argument("--prompts", metavar="DIR", help="default: settings ivr.prompts_dir")
    check.set_defaults(handler=check_scripts)


def check_scripts(args: argparse.Namespace, settings: Settings) -> int:
    """Print every problem; 0 when all scripts are valid, 1 otherwise.

    Raises:
        InvalidInput: no file given and no script in the scripts directory.
    """
    scripts_dir = settings.path(settings.ivr.scripts_dir)
    files = list(args.files) if args.files else [str(p) for p in script_files(scripts_dir)]
    if not files:
        raise InvalidInput(f"no IVR scripts (*.yaml) in {scripts_dir}")
    prompts = args.prompts or str(settings.path(settings.ivr.prompts_dir))
    problems = check_files(files, prompts, settings.ivr.default_language)
    for problem in problems:
        print(problem)
    bad = len({p.file for p in problems})
    summary = f"{len(files)} script(s) checked, {len(problems)} problem(s) in {bad} file(s)"
    print(summary, file=sys.stderr)
    return 1 if problems else 0

"""``switchboard users add NAME --role agent|supervisor|admin [--agent-id ID]``.

The password is asked twice with getpass on a terminal, or read from the first line of
stdin otherwise (``printf '%s\\n' "$PW" | switchboard users add ...``); it never appears
on the command line, where other users could see it in the process list.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from agent_console.auth import Passwords, Role, check_new_password, check_username
from config.errors import Conflict, InvalidInput
from config.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("users", help="manage console users")
    inner = parser.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = inner.add_parser("add", help="add a console user (password from a prompt or stdin)")
    add.add_argument("name", help="username (letters, digits, . _ - @)")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--agent-id", help="the ACD agent this user logs in as (agents: required)")
    add.set_defaults(handler=add_user)
    listing = inner.add_parser("list", help="list console users")
    listing.set_defaults(handler=list_users)


def read_password() -> str:
    """The new password from a terminal prompt (asked twice) or stdin's first line.

    Raises:
        InvalidInput: the two entries differ, or the password is empty / too long.
    """
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise InvalidInput("the passwords do not match", field="password")
        password = first
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    check_new_password(password)
    return password


def check_agent_id(settings: Settings, agent_id: str) -> None:
    """An agent user must name an agent of the queue file, or they could never take calls.

    Raises:
        InvalidInput: no such agent (the message lists the known ones).
    """
    from routing.acd.config import load_queue_file

    path = settings.path(settings.routing.queues_file)
    known = [a.agent_id for a in load_queue_file(path).agents]
    if agent_id not in known:
        raise InvalidInput(
            f"agent id {agent_id} is not in {path}; known: {', '.join(known)}", field="agent_id"
        )


def add_user(args: argparse.Namespace, settings: Settings) -> int:
    check_username(args.name)
    role = Role.parse(args.role)
    if role is Role.AGENT and not args.agent_id:
        raise InvalidInput("agents need --agent-id", field="agent_id")
    if role is Role.AGENT:
        check_agent_id(settings, args.agent_id)
    password_hash = Passwords().hash(read_password())
    asyncio.run(_add(settings, args.name, password_hash, role.value, args.agent_id))
    print(f"user {args.name} added ({role.value})")
    return 0


async def _add(
    settings: Settings, name: str, password_hash: str, role: str, agent_id: str | None
) -> None:
    from crm_lookup.store import open_store

    store = await open_store(
        settings.path(settings.database.path), default_region=settings.crm.default_region
    )
    try:
        if await store.users.get_by_username(name) is not None:
            raise Conflict(f"user {name} exists")
        await store.users.add(name, password_hash, role, agent_id)
    finally:
        await store.close()


def list_users(args: argparse.Namespace, settings: Settings) -> int:
    for row in asyncio.run(_list(settings)):
        print(f"{row['username']}\t{row['role']}\t{row.get('agent_id') or '-'}")
    return 0


async def _list(settings: Settings) -> list[dict[str, object]]:
    from agent_console.crm import to_json
    from crm_lookup.store import open_store

    store = await open_store(
        settings.path(settings.database.path), default_region=settings.crm.default_region
    )
    try:
        return [dict(r) for r in to_json(await store.users.list())]
    finally:
        await store.close()

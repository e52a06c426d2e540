"""``switchboard users add NAME --role agent|supervisor|admin [--agent-id ID]``, ``list``,
``disable NAME``, ``enable NAME``, ``delete NAME`` and ``passwd NAME``.

The password is asked twice with getpass on a terminal, or read from the first line of
stdin otherwise (``printf '%s\\n' "$PW" | switchboard users add ...``); it never appears
on the command line, where other users could see it in the process list.

Every change ends the user's stored sessions in the same transaction; a running service
re-reads the session on each request, so the user is logged out at once, and closes
their open websockets within a few seconds (``agent_console.ws.SESSION_SWEEP``). The
rules for a new user are the admin API's (``agent_console.auth.check_user_fields``).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from agent_console.auth import (
    Passwords,
    Role,
    check_new_password,
    check_user_fields,
    check_username,
)
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
    for action, text in (
        ("disable", "stop a user logging in; ends their sessions"),
        ("enable", "let a disabled user log in again"),
        ("delete", "delete a user; ends their sessions (the audit log keeps the name)"),
        ("passwd", "set a user's password (prompt or stdin); ends their sessions"),
    ):
        change = inner.add_parser(action, help=text)
        change.add_argument("name", help="username")
        change.set_defaults(handler=change_user, users_command=action)


def read_password(username: str = "") -> str:
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
    check_new_password(password, username)
    return password


def known_agents(settings: Settings) -> list[str]:
    """The agent ids of the queue file (what the running service knows)."""
    from routing.acd.config import load_queue_file

    return [a.agent_id for a in load_queue_file(settings.path(settings.routing.queues_file)).agents]


def add_user(args: argparse.Namespace, settings: Settings) -> int:
    check_username(args.name)
    role = Role.parse(args.role)
    if role is Role.AGENT and not args.agent_id:
        raise InvalidInput("agents need --agent-id", field="agent_id")
    if args.agent_id:
        check_user_fields(role, args.agent_id, known_agents(settings))
    password_hash = Passwords().hash(read_password(args.name))
    asyncio.run(_add(settings, args.name, password_hash, role.value, args.agent_id))
    print(f"user {args.name} added ({role.value})")
    return 0


async def _with_store(settings: Settings, work: Callable[[Any], Awaitable[Any]]) -> Any:
    from crm_lookup.store import open_store

    store = await open_store(
        settings.database_target(),
        default_region=settings.crm.default_region,
        pool_min_size=settings.database.pool_min_size,
        pool_max_size=settings.database.pool_max_size,
    )
    try:
        return await work(store)
    finally:
        await store.close()


async def _add(
    settings: Settings, name: str, password_hash: str, role: str, agent_id: str | None
) -> None:
    async def add(store: Any) -> None:
        if await store.users.get_by_username(name) is not None:
            raise Conflict(f"user {name} exists")
        await store.users.add(name, password_hash, role, agent_id)
        await store.audit.write("cli", "user.add", name, {"role": role})

    await _with_store(settings, add)


def change_user(args: argparse.Namespace, settings: Settings) -> int:
    """disable / enable / delete / passwd NAME."""
    check_username(args.name)
    action = args.users_command
    password_hash = Passwords().hash(read_password(args.name)) if action == "passwd" else ""

    async def change(store: Any) -> Any:
        users = store.users
        if action == "passwd":
            user = await users.change_password(args.name, password_hash)
        elif action == "delete":
            user = await users.delete(args.name)
        else:
            user = await users.set_disabled(args.name, action == "disable")
        await store.audit.write("cli", f"user.{action}", user.username, {})
        return user

    user = asyncio.run(_with_store(settings, change))
    done = {"disable": "disabled", "enable": "enabled", "delete": "deleted"}
    print(f"user {user.username} {done.get(action, 'has a new password')}; sessions ended")
    return 0


def list_users(args: argparse.Namespace, settings: Settings) -> int:
    for row in asyncio.run(_list(settings)):
        status = "disabled" if row.get("disabled") else "active"
        print(f"{row['username']}\t{row['role']}\t{row.get('agent_id') or '-'}\t{status}")
    return 0


async def _list(settings: Settings) -> list[dict[str, object]]:
    from agent_console.crm import to_json

    async def listing(store: Any) -> list[dict[str, object]]:
        return [dict(r) for r in to_json(await store.users.list())]

    result: list[dict[str, object]] = await _with_store(settings, listing)
    return result

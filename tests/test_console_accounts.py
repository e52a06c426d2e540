"""Managing console users through the real server on 127.0.0.1: disable, enable, delete
and new passwords end the user's sessions and websockets at once (also sessions restored
after a restart, and changes made by the CLI in another process); the admin API keeps
the CLI's rules; a login takes the stored spelling of the name."""

from __future__ import annotations

import asyncio
import io
import sys
import time
from typing import Any

import aiohttp
import pytest

from agent_console.keys import AUTH
from tests.console_fakes import PASSWORD, World

NEW_PASSWORD = "a brand new secret"


@pytest.fixture
async def world(tmp_path: Any, store_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The console on each backend: users and sessions behave the same on both."""
    monkeypatch.setattr("agent_console.ws.SESSION_SWEEP", 0.1, raising=False)
    w = await World().start(tmp_path, database_url=store_url)
    yield w
    await w.close()


async def open_socket(client: Any) -> Any:
    ws = await client.ws()
    snapshot = await ws.receive_json(timeout=2)
    assert "agents" in snapshot
    return ws


async def assert_closed(ws: Any, within: float = 1.0) -> None:
    msg = await ws.receive(timeout=within)
    while msg.type is aiohttp.WSMsgType.TEXT:  # deltas queued before the close
        msg = await ws.receive(timeout=within)
    assert msg.type is aiohttp.WSMsgType.CLOSE, msg
    assert msg.data == 1008 and msg.extra == "session ended"


CHANGES = {
    "disable": ("POST", "/api/admin/users/alice/disable", None),
    "delete": ("DELETE", "/api/admin/users/alice", None),
    "passwd": ("PUT", "/api/admin/users/alice/password", {"password": NEW_PASSWORD}),
}


@pytest.mark.parametrize("change", list(CHANGES))
async def test_a_change_ends_the_users_sessions_and_sockets_at_once(
    world: Any, change: str
) -> None:
    alice = await world.client("alice")
    other_tab = await world.client("alice")
    bob = await world.client("bob")
    sockets = [await open_socket(alice), await open_socket(other_tab)]
    bob_socket = await open_socket(bob)
    root = await world.client("root")
    method, path, body = CHANGES[change]
    resp = await root.request(method, path, body)
    assert resp.status == 200, await resp.text()
    for ws in sockets:
        await assert_closed(ws, within=0.5)  # well before the sweep could have done it
    for client in (alice, other_tab):
        assert (await client.request("GET", "/api/me")).status == 401
    assert (await bob.request("GET", "/api/me")).status == 200
    await bob_socket.send_json({"type": "ping", "id": 1})
    assert (await bob_socket.receive_json(timeout=1))["type"] == "pong"
    stored = await world.store.fetchall("SELECT username FROM sessions")
    assert "alice" not in {r[0] for r in stored}
    audit = [(e.actor, e.action, e.target) for e in await world.store.audit.list()]
    assert ("root", f"user.{change.replace('passwd', 'password')}", "alice") in audit
    again = await world.client()
    assert (await again.login("alice")).status == 401  # old password / no such user
    if change == "passwd":
        assert (await again.login("alice", NEW_PASSWORD)).status == 200


async def test_disabled_users_cannot_log_in_until_enabled(world: Any) -> None:
    root = await world.client("root")
    assert (await root.request("POST", "/api/admin/users/bob/disable")).status == 200
    bob = await world.client()
    resp = await bob.login("bob")
    assert resp.status == 401 and "disabled" in (await resp.json())["message"]
    listed = (await (await root.request("GET", "/api/admin/users")).json())["users"]
    assert {u["username"]: u["disabled"] for u in listed}["bob"] is True
    assert (await root.request("POST", "/api/admin/users/bob/enable")).status == 200
    assert (await bob.login("bob")).status == 200


async def test_admins_cannot_remove_themselves(world: Any) -> None:
    root = await world.client("root")
    for method, path in (
        ("POST", "/api/admin/users/ROOT/disable"),
        ("DELETE", "/api/admin/users/root"),
    ):
        resp = await root.request(method, path)
        assert resp.status == 409, await resp.text()
    assert (await root.request("GET", "/api/me")).status == 200
    assert (await root.request("DELETE", "/api/admin/users/nobody")).status == 404
    assert (await root.request("DELETE", "/api/admin/users/bad%20name")).status == 400


async def test_a_restored_session_is_checked_against_the_users_table(world: Any) -> None:
    alice = await world.client("alice")
    bob = await world.client("bob")
    sue = await world.client("sue")
    auth = world.app[AUTH]
    # Users removed behind the service's back, then a restart (memory lost, store kept).
    await world.store.write("DELETE FROM users WHERE username = 'alice'")
    await world.store.write("UPDATE users SET disabled = 1 WHERE username = 'bob'")
    auth.sessions.clear()
    assert (await alice.request("GET", "/api/me")).status == 401
    assert (await bob.request("GET", "/api/me")).status == 401
    assert (await sue.request("GET", "/api/me")).status == 200  # restored from the store
    for client in (alice, bob):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws()
        assert refused.value.status == 401


async def test_a_restored_sessions_sockets_end_on_a_change(world: Any) -> None:
    alice = await world.client("alice")
    world.app[AUTH].sessions.clear()  # a restart
    ws = await open_socket(alice)
    root = await world.client("root")
    assert (await root.request("POST", "/api/admin/users/alice/disable")).status == 200
    await assert_closed(ws, within=0.5)
    assert (await alice.request("GET", "/api/me")).status == 401


async def run_cli(world: Any, monkeypatch: pytest.MonkeyPatch, argv: list[str], stdin: str) -> int:
    """``switchboard ...`` against the world's database, as another process would."""
    from switchboard.cli import main

    monkeypatch.setenv("SWITCHBOARD_DATABASE__URL", world.database_url)
    monkeypatch.delenv("SWITCHBOARD_CONFIG", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return await asyncio.to_thread(main, argv)


async def test_a_cli_change_ends_a_running_services_sessions(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = await world.client("alice")
    ws = await open_socket(alice)
    assert await run_cli(world, monkeypatch, ["users", "disable", "alice"], "") == 0
    assert (await alice.request("GET", "/api/me")).status == 401  # the next request
    await assert_closed(ws, within=2.0)  # the sweep (every 0.1 s here, 5 s in service)
    assert (await (await world.client()).login("alice")).status == 401


async def test_the_admin_api_keeps_the_clis_rules(world: Any) -> None:
    root = await world.client("root")

    async def add(**fields: Any) -> tuple[int, str]:
        body = {"username": "newbie", "password": "long and unusual", **fields}
        resp = await root.request("POST", "/api/admin/users", body)
        return resp.status, (await resp.json()).get("message", "")

    assert await add(role="agent") == (400, "an agent user needs an agent id")
    status, message = await add(role="agent", agent_id="1009")
    assert status == 400 and "1009 is not an agent" in message
    status, message = await add(role="agent", agent_id="1001")  # alice's phone
    assert status == 409 and "belongs to user alice" in message
    status, message = await add(role="supervisor", agent_id="1002")  # bob's
    assert status == 409
    status, message = await add(role="supervisor", agent_id="9999")
    assert status == 400
    for password in ("password123", "Passw0rd", "newbie-2024!"):
        status, message = await add(role="admin", password=password)
        assert status == 400 and "too easy" in message, password
    assert await world.store.users.get_by_username("newbie") is None
    assert (await add(role="agent", agent_id="1003"))[0] == 201
    resp = await root.request("PUT", "/api/admin/users/bob/password", {"password": "qwerty123"})
    assert resp.status == 400


async def test_a_login_takes_the_stored_spelling_of_the_name(world: Any) -> None:
    client = await world.client()
    resp = await client.login("ALICE", PASSWORD)
    assert resp.status == 200
    assert (await resp.json())["user"]["username"] == "alice"
    me = await (await client.request("GET", "/api/me")).json()
    assert me["user"]["username"] == "alice"
    entries = await world.store.audit.list(actor="alice")
    assert [(e.action, e.target) for e in entries] == [("user.login", "alice")]
    stored = await world.store.fetchall("SELECT username FROM sessions")
    assert [r[0] for r in stored] == ["alice"]


async def test_an_edit_changes_the_rights_and_ends_the_users_sessions_at_once(
    world: Any,
) -> None:
    alice = await world.client("alice")
    ws = await open_socket(alice)
    root = await world.client("root")
    resp = await root.request("PATCH", "/api/admin/users/ALICE", {"role": "supervisor"})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["user"]["role"] == "supervisor"
    await assert_closed(ws, within=0.5)
    assert (await alice.request("GET", "/api/me")).status == 401
    audit = [(e.actor, e.action, e.target) for e in await world.store.audit.list()]
    assert ("root", "user.edit", "alice") in audit
    # The same password still signs in, now with the new rights (and still agent 1001).
    assert (await alice.login("alice")).status == 200
    me = (await (await alice.request("GET", "/api/me")).json())["user"]
    assert (me["role"], me["agent_id"]) == ("supervisor", "1001")
    assert (await alice.request("GET", "/api/admin/users")).status == 403
    resp = await root.request("PATCH", "/api/admin/users/alice", {"agent_id": None})
    assert resp.status == 200, await resp.text()
    row = await world.store.users.get_by_username("alice")
    assert row is not None and (row.role, row.agent_id) == ("supervisor", None)


async def test_a_refused_edit_says_why_and_changes_nothing(world: Any) -> None:
    root = await world.client("root")
    bob = await world.client("bob")

    async def edit(name: str, body: Any) -> tuple[int, dict[str, Any]]:
        resp = await root.request("PATCH", f"/api/admin/users/{name}", body)
        return resp.status, await resp.json()

    status, body = await edit("root", {"role": "supervisor"})
    assert status == 409 and "your own role" in body["message"]
    status, body = await edit("bob", {"agent_id": "1001"})  # alice's
    assert status == 409 and "belongs to user alice" in body["message"]
    status, body = await edit("bob", {"agent_id": None})  # an agent needs one
    assert status == 400 and "agent id" in body["message"]
    status, body = await edit("bob", {"agent_id": "1009"})
    assert status == 400 and "1009 is not an agent" in body["message"]
    status, body = await edit("bob", {"role": "king"})
    assert status == 400
    status, body = await edit("bob", {})
    assert status == 400 and body.get("field") == "role"
    assert (await edit("nobody", {"role": "agent"}))[0] == 404
    assert (await edit("bad%20name", {"role": "agent"}))[0] == 400
    row = await world.store.users.get_by_username("bob")
    assert row is not None and (row.role, row.agent_id) == ("agent", "1002")
    assert (await bob.request("GET", "/api/me")).status == 200  # his session stays
    assert "user.edit" not in [e.action for e in await world.store.audit.list()]


async def test_the_list_shows_the_agent_its_live_state_and_the_last_sign_in(
    world: Any,
) -> None:
    world.center.agents["1001"]["state"] = "ready"
    await world.client("alice")
    root = await world.client("root")
    listed = (await (await root.request("GET", "/api/admin/users")).json())["users"]
    users = {u["username"]: u for u in listed}
    alice, admin = users["alice"], users["root"]
    assert (alice["agent_name"], alice["agent_state"]) == ("Alice Agent", "ready")
    assert alice["last_login"] is not None and abs(alice["last_login"] - time.time()) < 60
    assert (admin["agent_id"], admin["agent_name"], admin["agent_state"]) == (None, None, None)
    assert all("password_hash" not in u for u in listed)


async def test_each_user_sets_their_own_language(world: Any) -> None:
    alice = await world.client("alice")
    resp = await alice.request("PUT", "/api/me/preferences", {"language": "ru"})
    assert resp.status == 200 and (await resp.json()) == {"language": "ru"}
    page = await alice.request("GET", "/agent")
    assert '<html lang="ru">' in await page.text()
    for bad in ({"language": "xx"}, {}, {"language": 3}):
        resp = await alice.request("PUT", "/api/me/preferences", bad)
        assert resp.status == 400 and (await resp.json()).get("field") == "language", bad
    resp = await alice.request("PUT", "/api/me/preferences", {"language": "en"}, csrf=False)
    assert resp.status == 403
    row = await world.store.users.get_by_username("alice")
    assert row is not None and row.language == "ru"
    assert (await alice.request("GET", "/api/me")).status == 200  # no session ended
    bob = await world.client("bob")
    assert '<html lang="en">' in await (await bob.request("GET", "/agent")).text()

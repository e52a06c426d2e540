"""Hostile input on every path into the console: the shared bounded parsers
(``agent_console.inputs``, pure), then the real server on 127.0.0.1 — chunked bodies,
the review's examples, and a walk over every route of ``app.router`` with hostile path
parameters, query values and bodies, asserting that nothing answers 500."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from agent_console import inputs
from config.errors import InvalidInput
from tests.console_fakes import PASSWORD, World, seed

# -- the parsers, pure ------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 60_000,
        b'{"a":' * 40 + b"1" + b"}" * 40,
        b"1" * 5000,
        b'{"name": "\\ud800"}',
        b'{"\\udfff": 1}',
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b"\xff\xfe{}",
        b'{"a": 1} trailing',
        b"",
    ],
)
def test_decode_json_refuses_with_invalid_input(raw: bytes) -> None:
    with pytest.raises(InvalidInput):
        inputs.decode_json(raw, max_bytes=64 * 1024)


def test_decode_json_accepts_what_the_console_sends() -> None:
    body = {"disposition": "resolved", "case": {"subject": 'a [bracket] { in \\" text'}}
    raw = json.dumps(body).encode()
    assert inputs.decode_json(raw, max_bytes=1024) == body
    nested = '{"a": ' * (inputs.MAX_JSON_DEPTH - 1) + "1" + "}" * (inputs.MAX_JSON_DEPTH - 1)
    assert inputs.decode_json(nested, max_bytes=1024)
    with pytest.raises(InvalidInput):
        inputs.decode_json(raw, max_bytes=len(raw) - 1)


@pytest.mark.parametrize(
    "raw", ["²", "١٢", "", "-1", "+1", " 1", "1 ", "1.0", "0x1", "1_000", "9" * 19, "9" * 5000]
)
def test_int_id_takes_only_ascii_digits_in_range(raw: str) -> None:
    with pytest.raises(InvalidInput) as err:
        inputs.int_id(raw, "customer id")
    assert err.value.field == "id"


def test_int_id_and_whole_number() -> None:
    assert inputs.int_id("0042", "customer id") == 42
    assert inputs.int_id("9" * 18, "customer id") == 10**18 - 1
    assert inputs.whole_number("0", "offset", maximum=10) == 0
    assert inputs.whole_number("-3", "delta", minimum=-5, maximum=5) == -3
    for raw in ("99999999999999999999", "11", "-1", "²", "", "1e3"):
        with pytest.raises(InvalidInput) as err:
            inputs.whole_number(raw, "offset", maximum=10)
        assert err.value.field == "offset"


@pytest.mark.parametrize(
    "raw",
    [
        "9999-12-31",  # its end of day is past datetime's range
        "10000-01-01",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "2024-13-01",
        "²０２４-01-01",
        "2024-01-01T25:00",
        "",
    ],
)
def test_moment_refuses_dates_out_of_range(raw: str) -> None:
    with pytest.raises(InvalidInput) as err:
        inputs.moment(raw, "to", end_of_day=True)
    assert err.value.field == "to"


def test_moment_reads_days_and_datetimes() -> None:
    assert inputs.moment("1970-01-02", "from") == 86400
    assert inputs.moment("1970-01-01", "to", end_of_day=True) == 86400
    assert inputs.moment("1970-01-01T01:00:00+01:00", "from") == 0
    assert inputs.moment("1970-01-01T00:01", "from") == 60


# -- through the real server --------------------------------------------------------------


@pytest.fixture
async def world(tmp_path: Any) -> Any:
    w = await World().start(tmp_path)
    w.ids = await seed(w)
    yield w
    await w.close()


async def chunked(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
        await asyncio.sleep(0.01)  # separate reads on the server


def json_headers(client: Any) -> dict[str, str]:
    headers = {"Origin": client.world.origin, "Content-Type": "application/json"}
    if client.csrf:
        headers["X-CSRF-Token"] = client.csrf
    return headers


async def raw_request(client: Any, method: str, path: str, data: Any = None) -> Any:
    """A request with a raw body (``UserClient.request`` would re-encode it as JSON)."""
    return await client.http.request(
        method,
        client.world.url + path,
        data=data,
        headers=json_headers(client),
        allow_redirects=False,
    )


async def post_chunked(client: Any, path: str, parts: list[bytes]) -> Any:
    return await raw_request(client, "POST", path, chunked(parts))


async def test_a_json_body_split_over_chunks_is_read_whole(world: Any) -> None:
    anon = await world.client()
    body = json.dumps({"username": "alice", "password": PASSWORD}).encode()
    resp = await post_chunked(anon, "/api/login", [body[:7], body[7:20], body[20:]])
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["user"]["username"] == "alice"


async def test_a_chunked_body_over_the_limit_is_refused(world: Any) -> None:
    root = await world.client("root")
    valid = json.dumps({"username": "zed", "password": "long enough pw", "role": "admin"})
    padding = [b" " * 10_000] * 14  # 140 KB after a valid object, under aiohttp's own cap
    resp = await post_chunked(root, "/api/admin/users", [valid.encode(), *padding])
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["error"] == "invalid_input"
    assert await world.store.users.get_by_username("zed") is None


@pytest.mark.parametrize(
    ("role", "method", "path", "body"),
    [
        ("alice", "GET", "/api/customers/%C2%B2", None),
        ("alice", "GET", "/api/customers/%C2%B2/contacts", None),
        ("alice", "GET", "/api/customers/{customer}/contacts?offset=99999999999999999999", None),
        ("alice", "GET", "/api/customers/{customer}/contacts?limit=99999999999999999999", None),
        ("sue", "GET", "/api/reports?from=9999-12-31", None),
        ("sue", "GET", "/api/reports?from=2024-01-01&to=9999-12-31", None),
        ("sue", "GET", "/api/reports?from=0001-01-01T00:00:00%2B01:00", None),
        ("alice", "POST", "/api/contacts/%C2%B2/wrapup", {"disposition": "resolved"}),
        (
            "alice",
            "POST",
            "/api/contacts/{contact}/wrapup",
            {"disposition": "resolved", "case": {"id": "²"}},
        ),
        ("alice", "POST", "/api/customers", {"name": "\ud800", "phone": "+15557770002"}),
        (
            "alice",
            "POST",
            "/api/customers",
            {"name": "Nora", "phone": "+15557770003", "contact_id": "²"},
        ),
    ],
)
async def test_hostile_values_are_400_invalid_input(
    world: Any, role: str, method: str, path: str, body: Any
) -> None:
    client = await world.client(role)
    data = None if body is None else json.dumps(body).encode()  # keeps lone surrogates
    resp = await raw_request(client, method, path.format(**world.ids), data)
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["error"] == "invalid_input"


async def test_deeply_nested_bodies_are_400(world: Any) -> None:
    alice = await world.client("alice")
    for raw in (b"[" * 60_000, b'{"a":' * 5000 + b"1" + b"}" * 5000):
        resp = await raw_request(alice, "PUT", "/api/agents/me/state", raw)
        assert resp.status == 400, await resp.text()
        assert (await resp.json())["error"] == "invalid_input"


async def test_every_hostile_websocket_frame_gets_an_error_frame(world: Any) -> None:
    sue = await world.client("sue")
    ws = await sue.ws()
    assert json.loads((await ws.receive(timeout=5)).data)["type"] == "snapshot"
    frames = [
        "[" * 16_000,
        '{"type": "force_state", "id": 1, "agent_id": "1003", "state": "\\ud800"}',
        '{"type": "spy", "id": 2, "agent_id": "\\udfff", "mode": "listen"}',
        '{"type": "ping", "id": ' + "9" * 5000 + "}",
        '{"type": "move_call", "id": 3, "call_id": "w1", "queue": ' + "[" * 5000 + "}",
        '{"type": "ping", "id": NaN}',
    ]
    for frame in frames:
        await ws.send_str(frame)
        reply = json.loads((await ws.receive(timeout=5)).data)
        assert reply["type"] == "error", (frame[:40], reply)
        assert reply["error"] == "invalid_input", (frame[:40], reply)
    await ws.send_str('{"type": "ping", "id": "still-open"}')
    assert json.loads((await ws.receive(timeout=5)).data) == {"type": "pong", "id": "still-open"}
    await ws.close()

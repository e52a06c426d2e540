"""Hostile input on every path into the console: the shared bounded parsers
(``agent_console.inputs``, pure), then the real server on 127.0.0.1 — chunked bodies,
the review's examples, and a walk over every route of ``app.router`` with hostile path
parameters, query values and bodies, asserting that nothing answers 500."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agent_console import inputs
from config.errors import InvalidInput
from tests.console_fakes import PASSWORD, World, seed, seed_conversations

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
    # the role matrix's ack route names an alert (tests/test_console_api.py's world)
    w.ids["alert"] = w.center.raise_alert("a1", "longest_wait", "sales", queue="sales")["id"]
    w.ids.update(await seed_conversations(w))  # the matrix's conversation routes name them
    # the role matrix's case routes name a case of Ada's in sales
    w.ids["case"] = (await w.store.cases.open(int(w.ids["customer"]), "Walk", queue="sales")).number
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
        ("sue", "GET", "/api/reports?by=channel&channel=%C2%B2", None),
        ("sue", "GET", "/api/reports/contacts?channel=voice%0Aemail", None),
        ("sue", "GET", "/api/reports/contacts?measure=presented", None),
        ("sue", "GET", "/api/reports/contacts/export?format=csv&measure=presented", None),
        ("sue", "GET", "/api/reports/export?by=channel&channel=" + "c" * 5000, None),
        ("alice", "POST", "/api/contacts/%C2%B2/wrapup", {"disposition": "resolved"}),
        (
            "alice",
            "POST",
            "/api/contacts/{contact}/wrapup",
            {"disposition": "resolved", "case": {"id": "²"}},
        ),
        ("alice", "POST", "/api/customers", {"name": "\ud800", "phone": "+15557770002"}),
        ("alice", "GET", "/api/kb/search?q=refund&lang=de", None),
        ("alice", "GET", "/api/kb/search?q=refund&limit=51", None),
        ("alice", "GET", "/api/kb/articles/%C2%B2", None),
        ("alice", "POST", "/api/kb/articles/{article}/helpful", {"helpful": "yes"}),
        ("alice", "POST", "/api/kb/articles/{article}/used", {"contact_id": 10**30}),
        ("sue", "POST", "/api/kb/articles", {"title": "\ud800", "body": "b", "language": "en"}),
        ("sue", "PUT", "/api/kb/articles/{article}", {"language": "de"}),
        ("sue", "PUT", "/api/kb/articles/{article}", {"uses": 1000}),
        ("alice", "GET", "/api/cases/C-%C2%B2", None),
        ("alice", "GET", "/api/cases?customer_id=%D9%A1", None),
        ("alice", "GET", "/api/cases?breached=maybe", None),
        ("alice", "POST", "/api/cases", {"customer_id": "1", "subject": "a\nb"}),
        ("alice", "POST", "/api/cases", {"contact_id": "²", "subject": "x"}),
        ("alice", "POST", "/api/cases/{case}/notes", {"text": "x" * 10_001}),
        ("alice", "PATCH", "/api/cases/{case}", {"status": "pending"}),
        ("alice", "PATCH", "/api/cases/{case}", {}),
        ("sue", "GET", "/api/reports/cases?from=9999-12-31", None),
        ("sue", "GET", "/api/reports/cases?from=2020-01-01&to=2026-01-01", None),
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


# -- every route, hostile values ------------------------------------------------------------

# Already percent-encoded: they go on the wire exactly like this.
HOSTILE_SEGMENTS = (
    "%C2%B2",  # "²": isdigit() but not int()
    "%D9%A1",  # an Arabic-Indic one: int() takes it, SQLite ids must not
    "99999999999999999999",
    "9" * 300,
    "%ED%A0%80",  # a UTF-8-encoded lone surrogate
    "%FF",
    "%00",
    "-1",
    "%20",
)
HOSTILE_QUERY = (
    "%C2%B2",
    "99999999999999999999",
    "9" * 5000,
    "%ED%A0%80",
    "9999-12-31",
    "0001-01-01T00%3A00%3A00%2B01%3A00",
    "9999-12-31T23%3A59%3A59-01%3A00",
    "",
)
QUERY_NAMES = ("limit", "offset", "from", "to", "by", "interval", "phone", "q", "lang")
QUERY_NAMES += ("status", "priority", "customer_id", "breached", "queue")  # /api/cases
QUERY_NAMES += ("part",)  # /api/contacts/{id}/recording
# JSON values for one field of an otherwise valid body (json.dumps escapes the surrogates).
HOSTILE_VALUES: tuple[Any, ...] = (
    "²",
    "a\udfffb",
    "9" * 5000,
    10**30,
    None,
    [],
    {"id": "²", "subject": "\udfff", "status": "²"},
    [[[[[[[[[[[[[[["deep"]]]]]]]]]]]]]]],
)
HOSTILE_BODIES = (
    b"[" * 60_000,
    b"[" * 16_000,
    b'{"a":' * 20 + b"1" + b"}" * 20,
    b'"\\ud800"',
    b'{"\\ud800": 1}',
    b"\xff\xfe",
    b"1" * 5000,
    b"null",
    b'{"x": NaN}',
)
# optional fields the matrix's bodies leave out (queue: /api/dial's queue dialled for)
EXTRA_FIELDS = ("case", "contact_id", "retired", "queue")


async def baselines(world: Any) -> dict[tuple[str, str], tuple[str, Any, str, dict[str, str]]]:
    """For each (method, route) of the app: a valid request from the role matrix —
    ``(path, body, role, match_info)`` — preferring a role that gets past the checks."""
    from aiohttp.test_utils import make_mocked_request

    from tests.test_console_api import MATRIX

    found: dict[tuple[str, str], tuple[str, Any, str, dict[str, str]]] = {}
    for method, template, body, expected in MATRIX:
        path = template.format(**world.ids)
        request = make_mocked_request(method, path, app=world.app)
        match = await world.app.router.resolve(request)
        key = (method, match.route.resource.canonical)
        ok = [role for role, status in expected.items() if status < 400 and role != "anon"]
        role = ok[0] if ok else "root"
        if key not in found or ok:
            found[key] = (path, body, role, dict(match))
    return found


def requests_for(
    method: str, canonical: str, base: tuple[str, Any, str, dict[str, str]] | None
) -> list[tuple[str, str, bytes | None, str]]:
    """``(role, url path, raw body, content type)`` of every hostile variant of a route."""
    path, body, role, params = base or (canonical, None, "root", {})
    if base is None:  # a route the matrix does not know: fill its parameters with "1"
        params = {name: "1" for name in _names(canonical)}
        path = canonical.format(**params)
    out: list[tuple[str, str, bytes | None, str]] = []
    plain, _, query = path.partition("?")
    valid_body = None if body is None else json.dumps(body).encode()
    for name in params:
        for segment in HOSTILE_SEGMENTS:
            hostile = canonical.format(**{**params, name: segment})
            out.append((role, hostile, valid_body, "application/json"))
    if method == "GET":
        base_query = dict(p.partition("=")[::2] for p in query.split("&") if p)
        for name in QUERY_NAMES:
            for value in HOSTILE_QUERY:
                items = {**base_query, name: value}
                out.append(
                    (role, plain + "?" + "&".join(f"{k}={v}" for k, v in items.items()), None, "")
                )
        return out
    fields = [*(body or {}), *(f for f in EXTRA_FIELDS if f not in (body or {}))]
    for name in fields:
        for value in HOSTILE_VALUES:
            raw = json.dumps({**(body or {}), name: value}).encode()
            out.append((role, path, raw, "application/json"))
    for raw in HOSTILE_BODIES:
        out.append((role, path, raw, "application/json"))
    out.append(("anon", path, HOSTILE_BODIES[0], "application/json"))
    form = "&".join(f"{k}={v}" for k in ("username", "password", "csrf") for v in ("%ED%A0%80",))
    out.append(("anon", path, form.encode(), "application/x-www-form-urlencoded"))
    out.append(("anon", path, b"username=" + b"%FF" * 2000, "application/x-www-form-urlencoded"))
    return out


def _names(canonical: str) -> list[str]:
    return [part.split("}", 1)[0].split(":", 1)[0] for part in canonical.split("{")[1:]]


async def test_no_route_answers_500_to_hostile_input(world: Any) -> None:
    """Walks every route of the app with hostile path parameters, query values and bodies
    (each bad value in an otherwise valid request, so it reaches as deep as it can)."""
    from yarl import URL

    clients = {role: await world.client(role) for role in ("alice", "bob", "sue", "root")}
    clients["anon"] = await world.client()
    known = await baselines(world)
    routes = sorted(
        {
            (r.method, r.resource.canonical)
            for r in world.app.router.routes()
            if r.method != "HEAD" and not r.resource.canonical.startswith("/static")
        },
        key=lambda route: route[1] in ("/api/logout", "/logout"),  # logging out goes last
    )
    failures: list[str] = []
    sent = 0
    gate = asyncio.Semaphore(16)

    async def send(method: str, role: str, path: str, raw: bytes | None, kind: str) -> None:
        nonlocal sent
        client = clients[role]
        headers = {"Origin": world.origin}
        if client.csrf:
            headers["X-CSRF-Token"] = client.csrf
        if kind:
            headers["Content-Type"] = kind
        async with gate:
            resp = await client.http.request(
                method,
                URL(world.url + path, encoded=True),
                data=raw,
                headers=headers,
                allow_redirects=False,
            )
            text = await resp.text(errors="replace")
            sent += 1
        if resp.status == 500 or "internal_error" in text:
            failures.append(f"{method} {path[:80]} as {role} {(raw or b'')[:60]!r}: {text[:120]}")

    for method, canonical in routes:
        variants = requests_for(method, canonical, known.get((method, canonical)))
        await asyncio.gather(*(send(method, *variant) for variant in variants))
    ws = await clients["sue"].ws()
    for name in ("agent_id", "call_id", "state", "reason", "queue", "mode", "kind", "target"):
        for value in HOSTILE_VALUES:
            await ws.send_str(json.dumps({"type": "force_state", "id": 1, name: value}))
            reply = json.loads((await ws.receive(timeout=5)).data)
            if reply["type"] == "snapshot":
                reply = json.loads((await ws.receive(timeout=5)).data)
            if reply.get("error") == "internal_error":
                failures.append(f"ws {name}={value!r:.40}: {reply}")
    await ws.close()
    # the conversation actions, as the chat's own agent (a new session: the walk logged
    # out; a minute on, past the login limit the walk's logins used up)
    world.clock.advance(61)
    ws = await (await world.client("alice")).ws()
    await ws.receive(timeout=5)  # the snapshot
    for kind in ("conversation_reply", "conversation_typing", "conversation_end"):
        for name in ("conversation", "text", "on"):
            for value in HOSTILE_VALUES:
                good = {"conversation": world.ids["chat"], "text": "hi", "on": True}
                await ws.send_str(json.dumps({**good, "type": kind, "id": 2, name: value}))
                reply = json.loads((await ws.receive(timeout=5)).data)
                while reply.get("type") not in ("ack", "error"):  # a published delta
                    reply = json.loads((await ws.receive(timeout=5)).data)
                if reply.get("error") == "internal_error":
                    failures.append(f"ws {kind} {name}={value!r:.40}: {reply}")
    await ws.close()
    assert sent > 500
    assert not failures, "\n".join(failures[:30])


def test_the_crm_adapter_reads_ids_with_the_same_parser() -> None:
    from agent_console.crm import _int_id

    for bad in ("²", "١٢", " 1", "-1", "1" * 19):
        with pytest.raises(InvalidInput):
            _int_id(bad, "customer id")
    assert _int_id("0042", "customer id") == 42

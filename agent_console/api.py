"""The JSON API: thin handlers over :class:`agent_console.actions.Console`.

Each handler reads the request, calls one use case and returns JSON. Domain errors from
``config.errors`` become HTTP errors with a JSON body ``{"error": code, "message": ...}``
in :func:`errors_middleware`: InvalidInput 400, NotAuthenticated 401, PermissionDenied
403, NotFound 404, Conflict / IllegalTransition 409, TooManyAttempts 429, RemoteError 502.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from agent_console import inputs, reports_api
from agent_console.actions import ident, text
from agent_console.auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    SUPERVISING,
    Busy,
    CsrfRejected,
    NotAuthenticated,
    Role,
    Session,
    TooManyAttempts,
    User,
    check_new_password,
    check_user_fields,
    check_username,
    current_session,
    require,
)
from agent_console.client_address import client_address
from agent_console.keys import AUTH, CENTER, CONSOLE, CRM, HUB, METRICS, SESSION, STORE
from agent_console.metrics import metrics_open, operations_access, public_health
from agent_console.recording_status import with_recording_status
from agent_console.transcripts import with_transcripts
from config.errors import (
    Conflict,
    IllegalTransition,
    InvalidInput,
    LocalError,
    NotFound,
    PermissionDenied,
    RemoteError,
    SwitchboardError,
)

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024

# Most specific first.
ERROR_MAP: tuple[tuple[type[SwitchboardError], int, str], ...] = (
    (NotAuthenticated, 401, "not_authenticated"),
    (TooManyAttempts, 429, "too_many_attempts"),
    (CsrfRejected, 403, "csrf_rejected"),
    (PermissionDenied, 403, "permission_denied"),
    (InvalidInput, 400, "invalid_input"),
    (NotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (IllegalTransition, 409, "illegal_transition"),
    (LocalError, 400, "bad_request"),
    (RemoteError, 502, "remote_error"),
)


def error_code(exc: SwitchboardError) -> tuple[int, str]:
    """HTTP status and error code for a domain error."""
    for cls, status, code in ERROR_MAP:
        if isinstance(exc, cls):
            return status, code
    return 500, "internal_error"


def error_response(exc: SwitchboardError) -> web.Response:
    status, code = error_code(exc)
    body: dict[str, Any] = {"error": code, "message": str(exc)}
    if getattr(exc, "field", None):
        body["field"] = exc.field  # type: ignore[attr-defined]
    response = web.json_response(body, status=status)
    if isinstance(exc, TooManyAttempts):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def wants_json(request: web.Request) -> bool:
    return request.path.startswith(("/api/", "/ws", "/healthz"))


@web.middleware
async def session_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    request[SESSION] = await request.app[AUTH].restore(request)
    return await handler(request)  # type: ignore[no-any-return]


@web.middleware
async def errors_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Domain errors to HTTP errors; pages send a logged-out user to /login."""
    try:
        return await handler(request)  # type: ignore[no-any-return]
    except SwitchboardError as exc:
        if not wants_json(request):
            if isinstance(exc, NotAuthenticated):
                raise web.HTTPSeeOther("/login") from None
            status, _ = error_code(exc)
            return web.Response(text=f"{status}: {exc}\n", status=status)
        if error_code(exc)[0] >= 500:
            log.warning("request failed", extra={"fields": {"path": request.path, "error": exc}})
        return error_response(exc)
    except web.HTTPException as exc:
        if wants_json(request) and exc.status >= 400 and exc.empty_body is False:
            return web.json_response(
                {"error": exc.reason.lower().replace(" ", "_"), "message": exc.reason},
                status=exc.status,
                headers={k: v for k, v in exc.headers.items() if k.lower() == "allow"},
            )
        raise
    except Exception:
        log.exception("unexpected error", extra={"fields": {"path": request.path}})
        if wants_json(request):
            return web.json_response(
                {"error": "internal_error", "message": "internal error"}, status=500
            )
        return web.Response(text="500: internal error\n", status=500)


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object.

    Raises:
        InvalidInput: not ``application/json``, too large, not JSON, or not an object.
    """
    if request.content_type != "application/json":
        raise InvalidInput("send a JSON body (Content-Type: application/json)")
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise InvalidInput("body too large")
    raw = await read_body(request, MAX_BODY)
    body = inputs.decode_json(raw or b"{}", max_bytes=MAX_BODY)
    if not isinstance(body, dict):
        raise InvalidInput("body must be a JSON object")
    return body


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body, however it is chunked, read no further than ``limit + 1`` bytes.

    Raises:
        InvalidInput: more than ``limit`` bytes.
    """
    parts: list[bytes] = []
    size = 0
    while True:
        # One read returns what one chunk brought; keep reading until the end.
        part = await request.content.read(limit + 1 - size)
        if not part:
            return b"".join(parts)
        size += len(part)
        if size > limit:
            raise InvalidInput("body too large")
        parts.append(part)


def user_of(request: web.Request) -> User:
    return current_session(request).user


# -- authentication ---------------------------------------------------------------------


async def authenticate(request: web.Request, username: str, password: str) -> User:
    """Check a login against the login guard and the stored argon2 hash.

    The attempt is counted before the hash is checked (concurrent guesses cannot pass
    the limit); the session and the audit log get the stored spelling of the name.

    Raises:
        TooManyAttempts: over the per-address limit, inside the user's delay, or too
            many checks waiting.
        NotAuthenticated: wrong username or password (the same message for both), or a
            disabled user.
    """
    auth = request.app[AUTH]
    metrics = request.app[METRICS]
    try:
        attempt = auth.admit_login(request, username)
    except TooManyAttempts:
        metrics.login_failures.inc()
        raise
    try:
        row = await request.app[STORE].users.get_by_username(username) if username else None
        ok = await auth.verify_password(row.password_hash if row else None, password)
    except Busy:
        auth.guard.withdrawn(attempt)
        metrics.login_failures.inc()
        raise
    if not ok or row is None or row.disabled:
        auth.guard.failed(attempt)
        metrics.login_failures.inc()
        log.info("login failed", extra={"fields": {"user": username[:64]}})
        if ok and row is not None:
            raise NotAuthenticated("this user is disabled; ask an administrator")
        raise NotAuthenticated("wrong username or password")
    auth.guard.succeeded(attempt)
    user = User(row.username, Role.parse(row.role), row.agent_id or None)
    await request.app[STORE].users.record_login(row.username)
    await request.app[CRM].audit(
        user.username, "user.login", user.username, {"ip": client_address(request)}
    )
    return user


async def start_session(request: web.Request, user: User) -> Session:
    """A fresh session for ``user``; any session the request carried is dropped first so
    a token planted before login is never promoted (session fixation)."""
    auth = request.app[AUTH]
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        await auth.forget(old)
    log.info("login", extra={"fields": {"user": user.username, "role": user.role.value}})
    session = auth.create_session(user)
    await auth.save(session)
    return session


def send_session(request: web.Request, response: web.StreamResponse, session: Session) -> None:
    request.app[AUTH].set_cookie(response, session)
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/")


async def login(request: web.Request) -> web.Response:
    """``POST /api/login`` ``{"username", "password"}`` -> user and CSRF token."""
    if not request.app[AUTH].origin_ok(request):
        raise CsrfRejected("cross-origin login refused")
    body = await read_json(request)
    username = text(body, "username", max_len=64)
    password = text(body, "password", max_len=1024)
    user = await authenticate(request, username, password)
    session = await start_session(request, user)
    response = web.json_response(
        {"user": user.to_json(), "csrf_token": session.csrf, "home": home_of(user)}
    )
    send_session(request, response, session)
    return response


def home_of(user: User) -> str:
    return "/supervisor" if user.role in SUPERVISING else "/agent"


@require()
async def logout(request: web.Request) -> web.Response:
    """``POST /api/logout``: end the session and close its websockets."""
    session = current_session(request)
    await request.app[AUTH].forget(session.token)
    request.app[HUB].close_session(session.token)
    response = web.json_response({"ok": True})
    request.app[AUTH].clear_cookie(response)
    return response


@require()
async def preferences(request: web.Request) -> web.Response:
    """``PUT /api/me/preferences`` ``{"language": "en"|"ru"|""}`` ("" = the browser's):
    the pages render in it from the next load."""
    body = await read_json(request)
    language = body.get("language")
    if not isinstance(language, str):
        raise InvalidInput("language is required", field="language")
    user = await request.app[STORE].users.set_language(user_of(request).username, language)
    return web.json_response({"language": user.language})


@require()
async def me(request: web.Request) -> web.Response:
    session = current_session(request)
    console = request.app[CONSOLE]
    current = console.current_call_of(session.user)
    return web.json_response(
        {
            "user": session.user.to_json(),
            "csrf_token": session.csrf,
            "config": console.config(),
            "current_call": current,
        }
    )


# -- agent ------------------------------------------------------------------------------


@require(agent=True)
async def set_my_state(request: web.Request) -> web.Response:
    result = await request.app[CONSOLE].set_own_state(user_of(request), await read_json(request))
    return web.json_response(result)


@require()
async def queues(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    snap = console.snapshot_for(console.scope(user_of(request)))
    return web.json_response({"now": snap["now"], "queues": snap["queues"]})


@require(Role.SUPERVISOR, Role.ADMIN)
async def agents(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    snap = console.snapshot_for(console.scope(user_of(request)))
    return web.json_response({"now": snap["now"], "agents": snap["agents"], "calls": snap["calls"]})


@require()
async def agent_directory(request: web.Request) -> web.Response:
    return web.json_response({"agents": request.app[CONSOLE].directory()})


@require()
async def customers(request: web.Request) -> web.Response:
    """``?phone=`` -> the card for that number (a "new caller" card when unknown);
    ``?q=`` -> matching customers."""
    crm = request.app[CRM]
    phone = request.query.get("phone")
    query = request.query.get("q")
    if phone:
        text({"phone": phone}, "phone", max_len=40)
        return web.json_response({"card": await crm.card_for_phone(phone)})
    if query:
        text({"q": query}, "q", max_len=100)
        return web.json_response({"customers": await crm.search(query)})
    raise InvalidInput("give ?phone= or ?q=", field="q")


@require()
async def customer(request: web.Request) -> web.Response:
    customer_id = str(inputs.int_id(request.match_info["id"], "customer id"))
    return web.json_response(await request.app[CRM].customer(customer_id))


@require()
async def edit_customer(request: web.Request) -> web.Response:
    """``PATCH /api/customers/{id}`` ``{"name"?, "company"?, "email"?, "tier"?, "notes"?,
    "add_phone"?}`` -> the customer."""
    result = await request.app[CONSOLE].edit_customer(
        user_of(request), request.match_info["id"], await read_json(request)
    )
    return web.json_response(result)


@require()
async def customer_duplicates(request: web.Request) -> web.Response:
    """``GET /api/customers/{id}/duplicates`` -> likely duplicates, each with its reasons."""
    customer_id = str(inputs.int_id(request.match_info["id"], "customer id"))
    return web.json_response({"duplicates": await request.app[CRM].duplicates(customer_id)})


@require()
async def merge_customer(request: web.Request) -> web.Response:
    """``POST /api/customers/{id}/merge`` ``{"duplicate_id"}`` -> the kept customer."""
    result = await request.app[CONSOLE].merge_customers(
        user_of(request), request.match_info["id"], await read_json(request)
    )
    return web.json_response(result)


@require()
async def create_customer(request: web.Request) -> web.Response:
    """``POST /api/customers`` ``{"name", "phone", "company"?, "email"?, "contact_id"?}``:
    a "new caller" becomes a customer (the contact being handled is linked)."""
    card = await request.app[CONSOLE].create_customer(user_of(request), await read_json(request))
    return web.json_response({"card": card}, status=201)


@require()
async def customer_contacts(request: web.Request) -> web.Response:
    """``?limit=20&offset=0``: one page of the history, newest first."""
    customer_id = str(inputs.int_id(request.match_info["id"], "customer id"))
    limit = _int_query(request, "limit", 20)
    offset = _int_query(request, "offset", 0)
    page = await request.app[CRM].contacts(customer_id, limit, offset)
    named = request.app[CONSOLE].named(page["contacts"])
    named = await with_transcripts(request.app[STORE], named)
    page["contacts"] = await with_recording_status(request.app, named)
    return web.json_response(page)


def _int_query(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    return inputs.whole_number(raw, name)


@require()
async def wrapup(request: web.Request) -> web.Response:
    result = await request.app[CONSOLE].wrapup(
        user_of(request), request.match_info["id"], await read_json(request)
    )
    return web.json_response(result)


@require()
async def get_draft(request: web.Request) -> web.Response:
    """``GET /api/contacts/{id}/draft``: the wrap-up as the agent last typed it."""
    result = await request.app[CONSOLE].draft(user_of(request), request.match_info["id"])
    return web.json_response(result)


@require()
async def put_draft(request: web.Request) -> web.Response:
    """``PUT /api/contacts/{id}/draft``: keep what the agent typed until it is saved."""
    result = await request.app[CONSOLE].save_draft(
        user_of(request), request.match_info["id"], await read_json(request)
    )
    return web.json_response(result)


@require()
async def call_control(request: web.Request) -> web.Response:
    op = request.match_info["op"]
    body = await read_json(request) if op == "transfer" else {}
    result = await request.app[CONSOLE].call_control(
        user_of(request), request.match_info["id"], op, body
    )
    return web.json_response(result)


@require(agent=True)
async def dial(request: web.Request) -> web.Response:
    result = await request.app[CONSOLE].dial(user_of(request), await read_json(request))
    return web.json_response(result)


# -- supervisor -------------------------------------------------------------------------


@require(Role.SUPERVISOR, Role.ADMIN)
async def force_state(request: web.Request) -> web.Response:
    result = await request.app[CONSOLE].force_state(
        user_of(request), request.match_info["id"], await read_json(request)
    )
    return web.json_response(result)


@require(Role.SUPERVISOR, Role.ADMIN)
async def logout_agent(request: web.Request) -> web.Response:
    result = await request.app[CONSOLE].logout_agent(user_of(request), request.match_info["id"])
    return web.json_response(result)


@require(Role.SUPERVISOR, Role.ADMIN)
async def move_call(request: web.Request) -> web.Response:
    result = await request.app[CONSOLE].move_call(
        user_of(request), request.match_info["id"], await read_json(request)
    )
    return web.json_response(result)


@require(Role.SUPERVISOR, Role.ADMIN)
async def spy(request: web.Request) -> web.Response:
    result = await request.app[CONSOLE].spy(
        user_of(request), request.match_info["id"], await read_json(request)
    )
    return web.json_response(result)


# -- admin ------------------------------------------------------------------------------


def _known_agents(request: web.Request) -> set[str]:
    """The queue file's agent ids, which a console user's agent id must be one of."""
    return {a["agent_id"] for a in request.app[CENTER].snapshot().get("agents", [])}


@require(Role.ADMIN)
async def list_users(request: web.Request) -> web.Response:
    """Every console user with, for those with an agent id, the agent's name and live
    state from the center (``agent_name``, ``agent_state``: null for an agent the queue
    file no longer lists)."""
    users = await request.app[CRM].list_users()
    center = request.app[CENTER]
    for user in users:
        agent = center.agent(user["agent_id"]) if user.get("agent_id") else None
        user["agent_name"] = agent.get("name") if agent else None
        user["agent_state"] = agent.get("state") if agent else None
    return web.json_response({"users": users})


@require(Role.ADMIN)
async def edit_user(request: web.Request) -> web.Response:
    """``PATCH /api/admin/users/{name}`` ``{"role"?, "agent_id"?}`` (``agent_id`` null or
    "" removes it). The rules are those of a new user; the user's sessions end at once, so
    the new rights apply from their next sign-in. One's own role stays (no admin locks
    themself out by a slip)."""
    name = _target_user(request)
    body = await read_json(request)
    users = request.app[STORE].users
    current = await users.get_by_username(name)
    if current is None:
        raise NotFound(f"no user {name}")
    role = Role.parse(text(body, "role")) if "role" in body else Role.parse(current.role)
    if "agent_id" in body:
        agent_id = ident(body, "agent_id") if body.get("agent_id") else None
    else:
        agent_id = current.agent_id or None
    if "role" not in body and "agent_id" not in body:
        raise InvalidInput("give a role or an agent id to change", field="role")
    if name.lower() == user_of(request).username.lower() and role.value != current.role:
        raise Conflict("you cannot change your own role; ask another admin")
    check_user_fields(role, agent_id, _known_agents(request))
    changes: dict[str, Any] = {}
    if "role" in body:
        changes["role"] = role.value
    if "agent_id" in body:
        changes["agent_id"] = agent_id
    before = await users.update(name, **changes)
    return await _changed(request, "user.edit", before)


@require(Role.ADMIN)
async def add_user(request: web.Request) -> web.Response:
    """``{"username", "password", "role", "agent_id"?}`` -> 201. The rules are the CLI's
    (:func:`agent_console.auth.check_user_fields`); the agents are the center's."""
    body = await read_json(request)
    username = text(body, "username", max_len=64)
    check_username(username)
    password = text(body, "password", max_len=1024)
    check_new_password(password, username)
    role = Role.parse(text(body, "role"))
    agent_id = ident(body, "agent_id") if body.get("agent_id") else None
    check_user_fields(role, agent_id, _known_agents(request))
    users = request.app[STORE].users
    if await users.get_by_username(username) is not None:
        raise Conflict(f"user {username} exists")
    password_hash = await request.app[AUTH].hash_password(password)
    added = await users.add(username, password_hash, role.value, agent_id)
    await request.app[CRM].audit(
        user_of(request).username, "user.add", added.username, {"role": role.value}
    )
    return web.json_response(
        {"username": added.username, "role": role.value, "agent_id": agent_id}, status=201
    )


def _target_user(request: web.Request, *, not_self: bool = False) -> str:
    """The ``{name}`` of an admin user route. Raises InvalidInput, Conflict (oneself)."""
    name = request.match_info["name"]
    check_username(name)
    if not_self and name.lower() == user_of(request).username.lower():
        raise Conflict("you cannot disable or delete your own user")
    return name


async def _changed(request: web.Request, action: str, before: Any) -> web.Response:
    """After a change to a user: end their sessions and websockets here at once (the
    store already deleted their stored sessions), audit it, answer with the user."""
    request.app[AUTH].drop_user(before.username)
    request.app[HUB].close_user(before.username)
    await request.app[CRM].audit(user_of(request).username, action, before.username, {})
    after = await request.app[STORE].users.get_by_username(before.username)
    return web.json_response({"user": _public(after or before, deleted=after is None)})


def _public(user: Any, *, deleted: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = user.to_json()
    body.pop("password_hash", None)
    if deleted:
        body["deleted"] = True
    return body


@require(Role.ADMIN)
async def disable_user(request: web.Request) -> web.Response:
    """``POST /api/admin/users/{name}/disable``: no more logins; sessions end now."""
    name = _target_user(request, not_self=True)
    before = await request.app[STORE].users.set_disabled(name, True)
    return await _changed(request, "user.disable", before)


@require(Role.ADMIN)
async def enable_user(request: web.Request) -> web.Response:
    """``POST /api/admin/users/{name}/enable``."""
    before = await request.app[STORE].users.set_disabled(_target_user(request), False)
    return await _changed(request, "user.enable", before)


@require(Role.ADMIN)
async def delete_user(request: web.Request) -> web.Response:
    """``DELETE /api/admin/users/{name}``: sessions end now; the audit log keeps the name."""
    before = await request.app[STORE].users.delete(_target_user(request, not_self=True))
    return await _changed(request, "user.delete", before)


@require(Role.ADMIN)
async def set_user_password(request: web.Request) -> web.Response:
    """``PUT /api/admin/users/{name}/password`` ``{"password"}``: the user's sessions end."""
    name = _target_user(request)
    password = text(await read_json(request), "password", max_len=1024)
    check_new_password(password, name)
    users = request.app[STORE].users
    if await users.get_by_username(name) is None:
        raise NotFound(f"no user {name}")
    password_hash = await request.app[AUTH].hash_password(password)
    before = await users.change_password(name, password_hash)
    return await _changed(request, "user.password", before)


# -- operations -------------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    """``GET /healthz``: 200 when a PBX's AMI link is up and the database answers, else 503;
    on a cluster node, ``cluster.role`` and its verdict (a healthy standby is 200)."""
    center = request.app[CENTER]
    try:
        center_health = center.health()
    except Exception as exc:  # a broken center is reported, not raised
        center_health = {"ami": {"connected": False, "error": type(exc).__name__}}
    database = await request.app[CRM].ping()
    ami = center_health.get("ami", {})
    pbx = center_health.get("pbx") or {"main": ami}
    # Several PBXs: the node serves while any of them is connected (agents of the others
    # keep their console); "degraded" and each PBX's flag tell which one is down.
    up = [bool(p.get("connected")) for p in pbx.values()]
    ok = any(up) and bool(database.get("ok"))
    body = {
        "ok": ok,
        "degraded": not all(up),
        "ami": ami,
        "pbx": pbx,
        "database": database,
        "websockets": len(request.app[HUB].clients),
        # A refused IVR script or queue file is reported, not a 503: the last good version
        # keeps serving, and a typo must not take the node out of its load balancer.
        "reload": center_health.get("reload", {"ok": True}),
        # Milestones taken but not yet in the history: a backlog that grows means the
        # database (or the loop feeding it) cannot keep up with the calls.
        "contacts": center_health.get("contacts", {}),
        "calls": center_health.get("calls"),
    }
    cluster = center_health.get("cluster")
    if isinstance(cluster, dict):
        # A node of a cluster: only the leader talks to Asterisk; a standby whose bus is up
        # is healthy (it serves consoles and stands ready to take over).
        body["ok"] = ok = bool(cluster.get("ok")) and bool(database.get("ok"))
        body["cluster"] = cluster
        if cluster.get("role") == "standby":
            body["degraded"] = False  # no PBX link is a standby's normal, not a fault
    if not operations_access(request):
        body = public_health(body)  # anyone may ask; the AMI address is not for anyone
    return web.json_response(body, status=200 if ok else 503)


async def metrics(request: web.Request) -> web.Response:
    """``GET /metrics``: open, or with ``http.ops_token`` set only to that bearer token."""
    if not metrics_open(request):
        raise web.HTTPUnauthorized(
            text="Authorization: Bearer <http.ops_token> required\n",
            headers={"WWW-Authenticate": 'Bearer realm="switchboard"'},
        )
    return request.app[METRICS].render()


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/api/login", login)
    r.add_post("/api/logout", logout)
    r.add_get("/api/me", me)
    r.add_put("/api/me/preferences", preferences)
    r.add_put("/api/agents/me/state", set_my_state)
    r.add_get("/api/queues", queues)
    r.add_get("/api/agents", agents)
    r.add_get("/api/agents/directory", agent_directory)
    r.add_get("/api/customers", customers)
    r.add_post("/api/customers", create_customer)
    r.add_get("/api/customers/{id}", customer)
    r.add_patch("/api/customers/{id}", edit_customer)
    r.add_get("/api/customers/{id}/contacts", customer_contacts)
    r.add_get("/api/customers/{id}/duplicates", customer_duplicates)
    r.add_post("/api/customers/{id}/merge", merge_customer)
    r.add_post("/api/contacts/{id}/wrapup", wrapup)
    r.add_get("/api/contacts/{id}/draft", get_draft)
    r.add_put("/api/contacts/{id}/draft", put_draft)
    r.add_post(
        "/api/calls/{id}/{op:hold|unhold|transfer|hangup|pause_recording|resume_recording}",
        call_control,
    )
    r.add_post("/api/dial", dial)
    r.add_put("/api/supervisor/agents/{id}/state", force_state)
    r.add_post("/api/supervisor/agents/{id}/logout", logout_agent)
    r.add_post("/api/supervisor/agents/{id}/spy", spy)
    r.add_post("/api/supervisor/calls/{id}/move", move_call)
    reports_api.add_routes(r)
    r.add_get("/api/admin/users", list_users)
    r.add_post("/api/admin/users", add_user)
    r.add_post("/api/admin/users/{name}/disable", disable_user)
    r.add_post("/api/admin/users/{name}/enable", enable_user)
    r.add_patch("/api/admin/users/{name}", edit_user)
    r.add_delete("/api/admin/users/{name}", delete_user)
    r.add_put("/api/admin/users/{name}/password", set_user_password)
    r.add_get("/healthz", healthz)
    r.add_get("/metrics", metrics)

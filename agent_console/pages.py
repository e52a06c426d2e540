"""HTML pages: the login form, the agent console and the supervisor wallboard.

The pages are shells: jinja2 renders the frame and the CSRF token; the static scripts
fill them from the websocket snapshot and keep them live.
"""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from agent_console import catalogue
from agent_console.api import authenticate, home_of, send_session, start_session
from agent_console.auth import (
    LOGIN_CSRF_COOKIE,
    SUPERVISING,
    NotAuthenticated,
    Role,
    TooManyAttempts,
    current_session,
    require,
    same_token,
)
from agent_console.keys import AUTH, CONSOLE, CRM, JINJA, SESSION, STORE


async def language_of(request: web.Request) -> str:
    """The page's language: the signed-in user's preference, else the browser's."""
    preferred = None
    session = request.get(SESSION)
    if session is not None:
        row = await request.app[STORE].users.get_by_username(session.user.username)
        preferred = getattr(row, "language", None) or None
    return catalogue.negotiate(preferred, request.headers.get("Accept-Language", ""))


def render(
    request: web.Request, name: str, status: int = 200, *, language: str = "en", **context: Any
) -> web.Response:
    """A template in ``language``: ``t(key)`` in the template, the catalogue for the
    page's scripts (``strings``) and ``lang`` for ``<html lang>``."""
    html = (
        request.app[JINJA]
        .get_template(name)
        .render(
            lang=language,
            t=catalogue.translator(language),
            strings=catalogue.strings_for(language),
            **context,
        )
    )
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


async def index(request: web.Request) -> web.Response:
    session = request.get(SESSION)
    raise web.HTTPSeeOther(home_of(session.user) if session else "/login")


def _login_page(
    request: web.Request, error: str = "", status: int = 200, **values: Any
) -> web.Response:
    """The login form; ``error`` is a catalogue key (filled from ``values``)."""
    token = secrets.token_urlsafe(24)
    language = catalogue.negotiate(None, request.headers.get("Accept-Language", ""))
    message = catalogue.translator(language)(error, **values) if error else ""
    response = render(
        request, "login.html", status=status, language=language, csrf_token=token, error=message
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=600,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.app[AUTH].secure_cookies,
    )
    return response


async def login_page(request: web.Request) -> web.Response:
    session = request.get(SESSION)
    if session is not None:
        raise web.HTTPSeeOther(home_of(session.user))
    return _login_page(request)


async def login_form(request: web.Request) -> web.Response:
    """``POST /login`` (form): double-submit CSRF token, then the same checks as the API."""
    form = await request.post()
    token = form.get("csrf_token")
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    genuine = bool(expected) and same_token(token if isinstance(token, str) else None, expected)
    if not genuine or not request.app[AUTH].origin_ok(request):
        return _login_page(request, "login.expired", status=403)
    username = str(form.get("username", ""))[:64]
    password = str(form.get("password", ""))[:1024]
    try:
        user = await authenticate(request, username, password)
    except TooManyAttempts as exc:
        response = _login_page(request, "login.too_many", status=429, seconds=exc.retry_after)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except NotAuthenticated as exc:
        key = "login.disabled" if "disabled" in str(exc) else "login.wrong"
        return _login_page(request, key, status=401)
    response = web.HTTPSeeOther(home_of(user))
    send_session(request, response, await start_session(request, user))
    raise response


async def signed_in_page(request: web.Request, template: str, **context: Any) -> web.Response:
    """A page of the signed-in user: their language, the user, the CSRF token and whether
    they supervise (the nav's links), plus the page's own ``context``."""
    session = current_session(request)
    return render(
        request,
        template,
        language=await language_of(request),
        user=session.user,
        csrf_token=session.csrf,
        supervising=session.user.role in SUPERVISING,
        **context,
    )


@require(agent=True)
async def agent_page(request: web.Request) -> web.Response:
    return await signed_in_page(request, "agent.html", config=request.app[CONSOLE].config())


@require(Role.SUPERVISOR, Role.ADMIN)
async def supervisor_page(request: web.Request) -> web.Response:
    return await signed_in_page(
        request,
        "supervisor.html",
        config=request.app[CONSOLE].config(),
        tv=request.query.get("view") == "tv",  # the wall screen: large type, no controls
    )


@require(Role.ADMIN)
async def admin_page(request: web.Request) -> web.Response:
    return await signed_in_page(request, "admin.html")


@require()
async def customer_page(request: web.Request) -> web.Response:
    """``/customers/{id}``: the page is a shell; customer.js fills it from the API. A
    merged-away id redirects to the customer it joined; one never there is the API's 404,
    said on the page."""
    from agent_console.inputs import int_id
    from crm_lookup.models import TIERS

    customer_id = int_id(request.match_info["id"], "customer id")
    kept = await request.app[CRM].merged_into(customer_id)
    if kept is not None:  # merged away: the kept customer's page, where its contacts went
        raise web.HTTPFound(f"/customers/{kept}")
    return await signed_in_page(request, "customer.html", customer_id=customer_id, tiers=TIERS)


def setup_pages(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login_form)
    app.router.add_get("/agent", agent_page)
    app.router.add_get("/supervisor", supervisor_page)
    app.router.add_get("/admin", admin_page)
    app.router.add_get("/customers/{id}", customer_page)

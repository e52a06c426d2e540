"""The console's aiohttp application factory.

``init_app`` wires one :class:`~agent_console.ports.ContactCenter` and one open
``crm_lookup`` store into a web application. The caller (``switchboard run`` / ``demo``)
owns the store and the AMI connection through its own cleanup contexts; this app's
cleanup context owns only the websocket hub: it subscribes to the center on start-up and,
on shutdown, unsubscribes and closes every websocket with GOING_AWAY.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from agent_console import (
    alerts_api,
    api,
    cases_api,
    chat_visitor,
    contact_api,
    conversations_api,
    kb_api,
    pages,
    quality,
    report_pages,
    staffing,
)
from agent_console.actions import Console
from agent_console.auth import Auth, Passwords, security_headers
from agent_console.client_address import ProxyTrust
from agent_console.crm import Crm
from agent_console.keys import (
    AUTH,
    CENTER,
    CONSOLE,
    CRM,
    HUB,
    JINJA,
    METRICS,
    PROXIES,
    SETTINGS,
    STORE,
)
from agent_console.metrics import Metrics
from agent_console.ports import ContactCenter
from agent_console.ws import Hub
from config.settings import Settings

HERE = Path(__file__).resolve().parent


def init_app(
    settings: Settings,
    *,
    store: Any,
    center: ContactCenter,
    passwords: Passwords | None = None,
    clock: Callable[[], float] | None = None,
    directory: Any = None,
) -> web.Application:
    """Build the console application.

    Args:
        settings: the service settings (http.public_origin, security, routing codes).
        store: an open ``crm_lookup.store.Store``; the caller closes it.
        center: the running contact center.
        passwords: the argon2 hasher (tests pass cheaper parameters).
        clock: wall clock for sessions and rate limits (tests pass a fake one).
        directory: the service's ``crm_lookup.directory.Directory`` (with its external
            CRM adapter) for ``?phone=`` card lookups; default: a local one over ``store``.
    """
    metrics = Metrics()
    metrics.watch(center)
    app = web.Application(
        middlewares=[
            security_headers,
            metrics.middleware(),
            api.session_middleware,
            api.errors_middleware,
        ],
        client_max_size=256 * 1024,
    )
    auth_kwargs: dict[str, Any] = {}
    if passwords is not None:
        auth_kwargs["passwords"] = passwords
    if clock is not None:
        auth_kwargs["clock"] = clock
    auth = Auth(
        public_origin=settings.http.public_origin,
        max_age=settings.security.session_max_age,
        login_limit=settings.security.login_attempts_per_minute,
        persist=store.sessions,
        secret=settings.security.session_secret,
        **auth_kwargs,
    )
    crm = Crm(settings, store, directory)
    console = Console(settings, center, crm)
    hub = Hub(console, auth, metrics, settings.http.public_origin)
    app[SETTINGS] = settings
    app[STORE] = store
    app[CRM] = crm
    app[CENTER] = center
    app[AUTH] = auth
    app[CONSOLE] = console
    app[HUB] = hub
    app[METRICS] = metrics
    # every per-address limit and the login audit key on this (agent_console.client_address)
    app[PROXIES] = ProxyTrust.parse(settings.chat.trusted_proxies, settings.chat.forwarded_header)
    app[JINJA] = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    api.setup_routes(app)
    quality.setup(app, settings)
    staffing.setup(app)
    contact_api.setup(app, settings)
    alerts_api.setup(app)
    conversations_api.setup(app, settings)
    kb_api.setup(app)
    cases_api.setup(app, settings, store)
    chat_visitor.setup(app, settings)
    app.router.add_get("/ws", hub.handle)
    pages.setup_pages(app)
    report_pages.add_routes(app)
    app.router.add_static("/static/", HERE / "static", name="static")
    app.cleanup_ctx.append(_hub_ctx)
    app.on_shutdown.append(_close_sockets)
    return app


async def _hub_ctx(app: web.Application) -> AsyncIterator[None]:
    app[HUB].attach(app[CENTER])
    yield
    app[HUB].detach()


async def _close_sockets(app: web.Application) -> None:
    await app[HUB].shutdown()

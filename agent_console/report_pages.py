"""The analytics pages: ``/reports`` (the report with its charts and tables) and
``/reports/contacts`` (the drill-down list of the contacts behind a number).

The pages are shells like the others: jinja2 renders the form and what the scripts need
to fill it (the queues and agents the user may report on, the site's time zone, the
service-level targets); static/reports.js and static/report_contacts.js ask the report
API (``/api/reports``, ``/api/reports/contacts``) and draw the answer. Every role may open
them: a supervisor sees their own queues, an admin every queue, and an agent only "My
figures" (their own per-agent row) — the API enforces the same, the page only chooses
what to offer.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_console.auth import SUPERVISING, Role, current_session, require
from agent_console.keys import CENTER, SETTINGS
from agent_console.pages import signed_in_page

DEFAULT_SL_TARGET = 0.8


def report_setup(request: web.Request) -> dict[str, Any]:
    """What the report scripts need: the user's scope and the site's zone.

    Returns:
        ``mine`` (an agent: only their own figures), ``agent_id``, ``site_zone``,
        ``queues`` (names the user may filter on), ``agents`` (``{id, name}`` in those
        queues), ``targets`` (queue -> its service-level target, 0..1).
    """
    session = current_session(request)
    user = session.user
    center = request.app[CENTER]
    snapshot = center.snapshot()
    mine = user.role not in SUPERVISING
    all_queues = sorted(str(q.get("name", "")) for q in snapshot.get("queues", []))
    if user.role is Role.SUPERVISOR:
        allowed = center.queues_for_supervisor(user.username)
        queues = [q for q in all_queues if q in allowed]
    elif mine:
        queues = []
    else:
        queues = all_queues
    agents = [
        {"id": str(a["agent_id"]), "name": str(a.get("name") or a["agent_id"])}
        for a in snapshot.get("agents", [])
        if not mine and (set(a.get("queues") or []) & set(queues) or user.role is Role.ADMIN)
    ]
    agents.sort(key=lambda a: (a["name"].casefold(), a["id"]))
    targets: dict[str, float] = {}
    for q in snapshot.get("queues", []):
        level = ((q.get("thresholds") or {}).get("service_level") or {}).get("warn")
        if isinstance(level, int | float) and 0 <= level <= 1 and q.get("name") in queues:
            targets[str(q["name"])] = float(level)
    return {
        "mine": mine,
        "agent_id": user.agent_id,
        "site_zone": request.app[SETTINGS].site.timezone,
        "queues": queues,
        "agents": agents,
        "targets": targets,
        "default_target": DEFAULT_SL_TARGET,
    }


@require()
async def reports_page(request: web.Request) -> web.Response:
    """``/reports``: the report form, charts and tables (an agent: "My figures")."""
    setup = report_setup(request)
    return await signed_in_page(request, "reports.html", setup=setup, mine=setup["mine"])


@require()
async def report_contacts_page(request: web.Request) -> web.Response:
    """``/reports/contacts?<filters>``: the contacts behind a report's number."""
    setup = report_setup(request)
    return await signed_in_page(request, "report_contacts.html", setup=setup, mine=setup["mine"])


def add_routes(app: web.Application) -> None:
    app.router.add_get("/reports", reports_page)
    app.router.add_get("/reports/contacts", report_contacts_page)

"""Supervisor alerts over HTTP (``routing.alerting`` raises them; docs/websocket.md).

* ``GET /api/alerts`` (supervisor, admin) -> ``{"alerts": [alert]}``: the active alerts
  (oldest first), then the recently cleared ones (newest first). A supervisor sees their
  queues' alerts, the alerts of agents of their queues and the global ones (AMI link,
  database); an admin all.
* ``POST /api/alerts/{id}/ack`` (supervisor, admin, of an alert they see) -> the alert
  with ``acked_by`` / ``acked_at``; audited ``alert.ack`` (who, when, the rule and
  subject). The first acknowledgement stands; a second is answered with the alert as
  it is, and not audited again.
"""

from __future__ import annotations

import re

from aiohttp import web

from agent_console.api import user_of
from agent_console.auth import Role, require
from agent_console.keys import CENTER, CONSOLE, CRM
from config.errors import InvalidInput, NotFound

_ALERT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def setup(app: web.Application) -> None:
    app.router.add_get("/api/alerts", list_alerts)
    app.router.add_post("/api/alerts/{id}/ack", ack_alert)


@require(Role.SUPERVISOR, Role.ADMIN)
async def list_alerts(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    scope = console.scope(user_of(request))
    alerts = console.alerts_for(scope, request.app[CENTER].snapshot().get("alerts", []))
    return web.json_response({"alerts": alerts})


@require(Role.SUPERVISOR, Role.ADMIN)
async def ack_alert(request: web.Request) -> web.Response:
    alert_id = request.match_info["id"]
    if not _ALERT_ID.match(alert_id):
        raise InvalidInput("not an alert id", field="id")
    user = user_of(request)
    console = request.app[CONSOLE]
    center = request.app[CENTER]
    scope = console.scope(user)
    seen = console.alerts_for(scope, center.snapshot().get("alerts", []))
    before = next((a for a in seen if a.get("id") == alert_id), None)
    if before is None:  # unknown, or another supervisor's queue: not revealed
        raise NotFound(f"no alert {alert_id!r}")
    alert = await center.ack_alert(alert_id, user.username)
    if before.get("acked_by") is None and alert.get("acked_by") == user.username:
        await request.app[CRM].audit(
            user.username,
            "alert.ack",
            alert_id,
            {
                "rule": alert.get("rule"),
                "subject": alert.get("subject"),
                "acked_at": alert.get("acked_at"),
            },
        )
    return web.json_response(alert)

"""Every typed key of the console's aiohttp application and requests, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jinja2
from aiohttp import web

from config.settings import Settings

if TYPE_CHECKING:
    from agent_console.actions import Console
    from agent_console.auth import Auth, Session
    from agent_console.client_address import ProxyTrust
    from agent_console.contact_api import Playbacks
    from agent_console.crm import Crm
    from agent_console.metrics import Metrics
    from agent_console.ports import ContactCenter
    from agent_console.staffing import StaffingBoard
    from agent_console.ws import Hub
    from crm_lookup.recordings import RecordingFiles
    from routing.canned_responses import CannedResponse
    from routing.evaluation_forms import Form

SETTINGS = web.AppKey("settings", Settings)
STORE: web.AppKey[Any] = web.AppKey("store")  # crm_lookup.store.Store, owned by the caller
CRM: web.AppKey[Crm] = web.AppKey("crm")
CENTER: web.AppKey[ContactCenter] = web.AppKey("center")
AUTH: web.AppKey[Auth] = web.AppKey("auth")
CONSOLE: web.AppKey[Console] = web.AppKey("console")
HUB: web.AppKey[Hub] = web.AppKey("hub")
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
STAFFING: web.AppKey[StaffingBoard] = web.AppKey("staffing")
JINJA = web.AppKey("jinja", jinja2.Environment)
# the forms of [quality] forms_file, read at start (a list: a reload replaces its items)
FORMS: web.AppKey[list[Form]] = web.AppKey("forms")
# [recording] dir (and the voicemail one): a contact's recording ref to a file, safely
RECORDINGS: web.AppKey[RecordingFiles] = web.AppKey("recordings")
PLAYBACKS: web.AppKey[Playbacks] = web.AppKey("playbacks")
# the canned responses of [console] canned_responses_file, read at start
CANNED: web.AppKey[list[CannedResponse]] = web.AppKey("canned")
# [cases] sla_file: the SLA targets per priority and the schedule they count in
SLA_POLICY: web.AppKey[Any] = web.AppKey("sla_policy")

SESSION: web.RequestKey[Session | None] = web.RequestKey("session")
# the chat visitors' sockets (agent_console.chat_visitor.ChatVisitors) and the widget's
# script with its configuration written in
CHAT: web.AppKey[Any] = web.AppKey("chat")
CHAT_WIDGET: web.AppKey[str] = web.AppKey("chat_widget")
# [chat] trusted_proxies: whose X-Forwarded-For / Forwarded names the client
# (agent_console.client_address; absent: the peer is the client)
PROXIES: web.AppKey[ProxyTrust] = web.AppKey("proxies")

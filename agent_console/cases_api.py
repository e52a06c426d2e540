"""Cases with SLA over HTTP, and their pages (docs/ARCHITECTURE.md "Cases and SLA").

Routes (registered by :func:`setup`, one line in ``agent_console.app``); every one needs a
session, every write the CSRF token, and every write is audited (``case.create``,
``case.update``, ``case.note``, ``case.link``):

* ``GET /api/cases?status=&queue=&priority=&category=&agent_id=&customer_id=&breached=``
  -> ``{"cases": [case + "clock"]}``.
* ``POST /api/cases`` ``{"customer_id" | "contact_id", "subject", "priority"?,
  "category"?, "queue"?, "agent_id"?, "notes"?}`` -> 201 the case. A contact whose
  caller is not a customer yet is refused (400, field ``customer_id``) with the reason:
  create the customer first.
* ``GET /api/cases/{number}`` -> ``{"case", "timeline", "contacts", "articles"}``: the
  case carries its ``clock`` and ``business_hours`` (whether the clocks count now), the
  articles are the knowledge-base uses on its contacts.
* ``PATCH /api/cases/{number}`` ``{"status"?, "priority"?, "category"?, "queue"?,
  "agent_id"?, "subject"?}``.
* ``POST /api/cases/{number}/notes`` ``{"text"}``; ``POST /api/cases/{number}/contacts``
  ``{"contact_id"}``.
* ``GET /api/reports/cases?from=&to=&by=queue|category|agent`` (supervisor, admin).
* Pages ``GET /cases`` and ``GET /cases/{number}``.

Who sees a case: an admin all; a supervisor the cases of their queues; an agent the cases
of their queues and the cases assigned to them. A case out of scope is a 404 (not
revealed). A new case or a new queue must be in the user's scope.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from agent_console import inputs
from agent_console.actions import Scope, db_id, text
from agent_console.api import read_json, user_of
from agent_console.auth import Role, User, require
from agent_console.keys import CONSOLE, CRM, SLA_POLICY, STORE
from agent_console.pages import signed_in_page
from config.errors import InvalidInput, NotFound, PermissionDenied
from config.settings import Settings
from crm_lookup.cases import parse_number
from crm_lookup.models import CASE_PRIORITIES, Case, CaseStatus
from routing.sla import CaseTimes, Policy, business_seconds, clocks, counting_at
from routing.sla_config import load_policy

STATUSES = tuple(s.value for s in CaseStatus)
#: a request's business hours, worked out once
_HOURS: web.RequestKey[dict[str, Any]] = web.RequestKey("cases_business_hours")
MAX_DAYS = 366


def sla_policy(settings: Settings) -> Policy:
    """The ``[cases] sla_file`` policy. Raises ConfigError."""
    name = settings.cases.sla_file
    return load_policy(
        settings.path(name) if name else None,
        settings.path(settings.ivr.scripts_dir),
        settings.path(settings.ivr.prompts_dir),
    )


def setup(app: web.Application, settings: Settings, store: Any) -> None:
    policy = sla_policy(settings)
    app[SLA_POLICY] = policy
    # pauses count in the policy's business hours (crm_lookup knows no schedules); a
    # console over no store (the screen-pop benchmark's) has no cases to count
    cases = getattr(store, "cases", None)
    if cases is not None:
        cases.business_seconds = lambda a, b: business_seconds(policy.schedule, a, b)
    r = app.router
    r.add_get("/cases", cases_page)
    r.add_get("/cases/{number}", case_page)
    r.add_get("/api/cases", list_cases)
    r.add_post("/api/cases", create_case)
    r.add_get("/api/reports/cases", cases_report)
    r.add_get("/api/cases/{number}", get_case)
    r.add_patch("/api/cases/{number}", update_case)
    r.add_post("/api/cases/{number}/notes", add_note)
    r.add_post("/api/cases/{number}/contacts", link_contact)


def clock_of(policy: Policy, case: Case, now: float) -> dict[str, Any]:
    times = CaseTimes(
        case.created_at,
        case.first_response_at,
        case.resolved_at if case.status in ("resolved", "closed") else None,
        case.paused_seconds,
        case.paused_since,
    )
    found = clocks(policy, case.priority, times, now)
    return {name: c.to_json() for name, c in found.items()}


def case_json(request: web.Request, case: Case) -> dict[str, Any]:
    policy, now = request.app[SLA_POLICY], time.time()
    data = case.to_json()
    data["clock"] = clock_of(policy, case, now)
    # the same for every case: once per request (a list has up to 500)
    hours = request.get(_HOURS)
    if hours is None:
        hours = request[_HOURS] = business_hours_json(policy, now)
    data["business_hours"] = hours
    return data


def business_hours_json(policy: Policy, now: float) -> dict[str, Any]:
    """Whether the SLA clocks count now (the schedule is open) and, if not, when they
    resume: ``{"counting", "resumes_at", "timezone"}`` (no schedule: always counting)."""
    counting, resumes_at = counting_at(policy.schedule, now)
    zone = policy.schedule.timezone if policy.schedule is not None else None
    return {"counting": counting, "resumes_at": resumes_at, "timezone": zone}


def _scope(request: web.Request) -> Scope:
    scope: Scope = request.app[CONSOLE].scope(user_of(request))
    return scope


def sees(scope: Scope, case: Case) -> bool:
    if scope.queues is None:
        return True
    user = scope.user
    if user.role is Role.AGENT and user.agent_id and case.agent_id == user.agent_id:
        return True
    return bool(case.queue) and case.queue in scope.queues


async def _case(request: web.Request) -> Case:
    case: Case = await request.app[STORE].cases.by_number(request.match_info["number"])
    if not sees(_scope(request), case):
        raise NotFound(f"no case {request.match_info['number'][:20]!r}")
    return case


def _queue_in_scope(scope: Scope, queue: str) -> None:
    if scope.queues is not None and queue not in scope.queues:
        raise PermissionDenied(f"queue {queue!r} is not one of yours")


def _choice(params: Mapping[str, Any], name: str, options: tuple[str, ...]) -> str | None:
    value = text(params, name, required=False, max_len=32)
    if not value:
        return None
    if value not in options:
        raise InvalidInput(f"{name} must be one of {', '.join(options)}", field=name)
    return value


async def _audit(request: web.Request, action: str, case: Case, details: dict[str, Any]) -> None:
    await request.app[CRM].audit(user_of(request).username, action, case.number, details)


@require()
async def list_cases(request: web.Request) -> web.Response:
    q = request.query
    scope = _scope(request)
    user = scope.user
    status = q.get("status", "")
    statuses: list[str] = []
    if status == "active":
        statuses = ["new", "open", "pending_customer"]
    elif status:
        statuses = [_choice({"status": status}, "status", STATUSES) or ""]
    customer = q.get("customer_id")
    breached = q.get("breached")
    if breached not in (None, "", "true", "false"):
        raise InvalidInput("breached must be true or false", field="breached")
    queue = q.get("queue") or None
    if queue is not None:
        queue = text({"queue": queue}, "queue", max_len=64)
    queues = None if scope.queues is None else scope.queues
    if queue is not None:  # in the query, so the limit counts only this queue's cases
        queues = frozenset({queue}) if queues is None or queue in queues else frozenset()
    found = await request.app[STORE].cases.search(
        statuses=statuses,
        queues=queues,
        mine=user.agent_id if user.role is Role.AGENT else None,
        customer_id=inputs.int_id(customer, "customer id") if customer else None,
        priority=_choice(q, "priority", CASE_PRIORITIES),
        category=text(q, "category", required=False, max_len=64) or None,
        agent_id=text(q, "agent_id", required=False, max_len=64) or None,
        breached=None if not breached else breached == "true",
        limit=inputs.whole_number(q.get("limit", "100"), "limit", minimum=1, maximum=500),
    )
    cases = [case_json(request, c) for c in found if queue is None or c.queue == queue]
    return web.json_response({"cases": cases})


@require()
async def create_case(request: web.Request) -> web.Response:
    body = await read_json(request)
    scope = _scope(request)
    user = scope.user
    store = request.app[STORE]
    contact_id = db_id(body, "contact_id", required=False)
    customer_id = db_id(body, "customer_id", required=False)
    contact = None
    if contact_id is not None:
        contact = await request.app[CRM].contact(contact_id)  # NotFound
        # the same rules as linking one later: the user's own contact or their queues',
        # and the case's customer's
        if not _may_link(user, contact, scope):
            raise PermissionDenied("that contact is not yours or in your queues")
        if customer_id is not None and contact.get("customer_id") not in (
            None,
            int(customer_id),
        ):
            raise InvalidInput("that contact is another customer's", field="contact_id")
        if customer_id is None:
            if contact.get("customer_id") is None:
                raise InvalidInput(
                    "this caller is not a customer yet: create the customer first, then "
                    "open the case",
                    field="customer_id",
                )
            customer_id = str(contact["customer_id"])
    if customer_id is None:
        raise InvalidInput("customer_id is required", field="customer_id")
    queue = text(body, "queue", required=False, max_len=64)
    if not queue and contact is not None:
        queue = str(contact.get("queue") or "")
    if not queue and scope.queues:
        queue = sorted(scope.queues)[0]
    _queue_in_scope(scope, queue)
    agent_id = text(body, "agent_id", required=False, max_len=64) or None
    if agent_id is None and user.role is Role.AGENT:
        agent_id = user.agent_id
    case = await store.cases.open(
        int(customer_id),
        text(body, "subject"),
        notes=text(body, "notes", required=False, max_len=10_000, multiline=True),
        contact_id=int(contact_id) if contact_id else None,
        priority=_choice(body, "priority", CASE_PRIORITIES) or "normal",
        category=text(body, "category", required=False, max_len=64),
        queue=queue,
        agent_id=agent_id,
        actor=user.username,
    )
    await _audit(
        request,
        "case.create",
        case,
        {"customer_id": case.customer_id, "priority": case.priority, "queue": case.queue},
    )
    return web.json_response(case_json(request, case), status=201)


@require()
async def get_case(request: web.Request) -> web.Response:
    case = await _case(request)
    store = request.app[STORE]
    timeline = [e.to_json() for e in await store.cases.timeline(case.id)]
    contacts = []
    for contact_id in case.contact_ids:
        c = await request.app[CRM].contact(str(contact_id))
        contacts.append(
            {
                key: c.get(key)
                for key in (
                    "id",
                    "key",
                    "channel",
                    "direction",
                    "caller",
                    "queue",
                    "agent_id",
                    "created_at",
                    "outcome",
                    "disposition",
                )
            }
        )
    request.app[CONSOLE].named(contacts)
    for c in contacts:
        c.setdefault("channel", "voice")
        if c["channel"] is None:
            c["channel"] = "voice"
    # the knowledge-base articles agents used on the case's contacts (kb_api's "used")
    articles = await store.knowledge.uses_of_contacts(list(case.contact_ids))
    return web.json_response(
        {
            "case": case_json(request, case),
            "timeline": timeline,
            "contacts": contacts,
            "articles": articles,
        }
    )


@require()
async def update_case(request: web.Request) -> web.Response:
    case = await _case(request)
    body = await read_json(request)
    scope = _scope(request)
    changes: dict[str, Any] = {}
    for name, options in (
        ("status", STATUSES),
        ("priority", CASE_PRIORITIES),
    ):
        value = _choice(body, name, options)
        if value is not None:
            changes[name] = value
    for name in ("category", "subject", "queue", "agent_id"):
        if name in body:
            limit = 200 if name == "subject" else 64
            changes[name] = text(body, name, required=name == "subject", max_len=limit)
    if "queue" in changes:
        _queue_in_scope(scope, changes["queue"])
    if not changes:
        raise InvalidInput("nothing to change", field="status")
    updated = await request.app[STORE].cases.update(
        case.id, actor=user_of(request).username, **changes
    )
    await _audit(request, "case.update", updated, {"fields": sorted(changes)})
    return web.json_response(case_json(request, updated))


@require()
async def add_note(request: web.Request) -> web.Response:
    case = await _case(request)
    body = await read_json(request)
    note = text(body, "text", max_len=10_000, multiline=True)
    event = await request.app[STORE].cases.add_note(case.id, note, actor=user_of(request).username)
    await _audit(request, "case.note", case, {"event": event.id})
    return web.json_response(event.to_json(), status=201)


def _may_link(user: User, contact: Mapping[str, Any], scope: Scope) -> bool:
    if user.role is Role.ADMIN:
        return True
    if user.agent_id and contact.get("agent_id") == user.agent_id:
        return True
    return scope.sees_queue(contact.get("queue") or None)


@require()
async def link_contact(request: web.Request) -> web.Response:
    case = await _case(request)
    body = await read_json(request)
    contact_id = db_id(body, "contact_id")
    assert contact_id is not None
    contact = await request.app[CRM].contact(contact_id)
    scope = _scope(request)
    if not _may_link(scope.user, contact, scope):
        raise PermissionDenied("that contact is not yours or in your queues")
    if contact.get("customer_id") not in (None, case.customer_id):
        raise InvalidInput("that contact is another customer's", field="contact_id")
    updated = await request.app[STORE].cases.link(
        case.id, int(contact_id), actor=user_of(request).username
    )
    await _audit(request, "case.link", updated, {"contact": int(contact_id)})
    return web.json_response(case_json(request, updated))


@require(Role.SUPERVISOR, Role.ADMIN)
async def cases_report(request: web.Request) -> web.Response:
    q = request.query
    now = time.time()
    end = inputs.moment(q["to"], "to", end_of_day=True) if q.get("to") else now
    start = inputs.moment(q["from"], "from") if q.get("from") else end - 7 * 86400
    if end <= start or end - start > MAX_DAYS * 86400:
        raise InvalidInput(f"from must be before to, at most {MAX_DAYS} days", field="from")
    by = q.get("by", "queue")
    if by not in ("queue", "category", "agent"):
        raise InvalidInput("by must be queue, category or agent", field="by")
    scope = _scope(request)
    rows = await request.app[STORE].cases.report(start, end, by, queues=scope.queues)
    return web.json_response({"from": start, "to": end, "by": by, "rows": rows})


@require()
async def cases_page(request: web.Request) -> web.Response:
    return await signed_in_page(request, "cases.html", number="")


@require()
async def case_page(request: web.Request) -> web.Response:
    number = request.match_info["number"]
    parse_number(number)  # InvalidInput: a 400 page
    return await signed_in_page(request, "cases.html", number=number.upper())

"""Report routes: the report, the contacts behind a number, and both as CSV / XLSX.

``GET /api/reports``, ``/api/reports/contacts``, ``/api/reports/export`` and
``/api/reports/contacts/export`` (docs/ARCHITECTURE.md "Reports"). Thin handlers over
:func:`crm_lookup.reports.run_report` and :mod:`crm_lookup.report_query`; the reader's
scope is decided here, once, by :func:`scope_of`:

* admin — every queue and agent;
* supervisor — the queues they supervise (``QueueFile.supervisors``) and the agents who
  serve them; asking for another queue is 403;
* agent — only ``by=agent``, only their own agent id and their own contacts; anything
  else is 403.

Days and intervals are in ``tz`` (an IANA name; default ``settings.site.timezone``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from agent_console.auth import Role, User, current_session, require
from agent_console.catalogue import negotiate, translator
from agent_console.keys import CENTER, SETTINGS, STAFFING, STORE
from config.errors import InvalidInput, PermissionDenied
from crm_lookup import report_export
from crm_lookup.forecast import forecast_for
from crm_lookup.report_query import (
    MEASURE_WHERE,
    ContactQuery,
    Scope,
    check_channel,
    find_contacts,
)
from crm_lookup.report_time import moment, zone
from crm_lookup.reports import REPORT_GROUPINGS, ReportQuery, run_report

MAX_PAGE = 200
MAX_EXPORT = 100_000
SL_THRESHOLD = 20.0  # seconds: answered within this counts toward service level


@dataclass(frozen=True, slots=True)
class Reader:
    user: User
    scope: Scope
    #: agents whose state time the reader may see (None: all)
    agents: frozenset[str] | None


def scope_of(request: web.Request) -> Reader:
    """What the signed-in user may count (see the module docstring).

    Raises:
        PermissionDenied: an agent without an agent id.
    """
    user = current_session(request).user
    center = request.app[CENTER]
    if user.role is Role.ADMIN:
        return Reader(user, Scope(), None)
    if user.role is Role.SUPERVISOR:
        queues = frozenset(center.queues_for_supervisor(user.username))
        agents = frozenset(
            a["agent_id"]
            for a in center.snapshot().get("agents", [])
            if queues & set(a.get("queues", []))
        )
        return Reader(user, Scope(queues=queues), agents)
    if not user.agent_id:
        raise PermissionDenied("this user has no agent id, so no figures of their own")
    return Reader(user, Scope(agent=user.agent_id), frozenset({user.agent_id}))


def _text(request: web.Request, name: str, limit: int = 64) -> str | None:
    value = request.query.get(name)
    if value is None or value == "":
        return None
    if len(value) > limit or any(ord(c) < 32 for c in value):
        raise InvalidInput(f"{name} must be one line of at most {limit} characters", field=name)
    return value


def _channel(request: web.Request) -> str | None:
    """``channel=voice|chat|email`` or nothing. Raises InvalidInput(field="channel")."""
    value = _text(request, "channel", 16)
    return None if value is None else check_channel(value)


def _period(request: web.Request, tz: dt.tzinfo) -> tuple[float, float]:
    """``start``/``end`` (epoch seconds) win; else ``from``/``to`` (dates in ``tz``, ``to``
    inclusive; or ISO date-times); default today."""
    start_epoch, end_epoch = request.query.get("start"), request.query.get("end")
    if start_epoch and end_epoch:
        try:
            start, end = float(start_epoch), float(end_epoch)
        except ValueError:
            raise InvalidInput("start and end are epoch seconds", field="start") from None
        if not (0 <= start < 253_000_000_000 and 0 <= end < 253_000_000_000):
            raise InvalidInput("start and end are epoch seconds", field="start")
    else:
        today = dt.datetime.now(tz).date().isoformat()
        first = request.query.get("from") or today
        start = moment(first, "from", tz)
        end = moment(request.query.get("to") or first, "to", tz, end_of_day=True)
    if start >= end:
        raise InvalidInput("the period must start before it ends", field="from")
    return start, end


def _check_queue(reader: Reader, queue: str | None) -> None:
    if queue and reader.scope.queues is not None and queue not in reader.scope.queues:
        raise PermissionDenied(f"queue {queue} is not one you supervise")


def _check_agent(reader: Reader, agent: str | None) -> None:
    if not agent:
        return
    if reader.scope.agent is not None and agent != reader.scope.agent:
        raise PermissionDenied("an agent sees only their own figures")
    if reader.agents is not None and agent not in reader.agents:
        raise PermissionDenied(f"agent {agent} serves none of your queues")


def _names(request: web.Request) -> dict[str, str]:
    return {
        a["agent_id"]: a.get("name") or a["agent_id"]
        for a in request.app[CENTER].snapshot().get("agents", [])
    }


def _tz(request: web.Request) -> dt.tzinfo:
    return zone(request.query.get("tz") or request.app[SETTINGS].site.timezone)


def report_query(request: web.Request, reader: Reader) -> ReportQuery:
    """The report's query from the request (old parameters ``from``, ``to``, ``by``,
    ``interval`` as before). Raises InvalidInput, PermissionDenied."""
    tz = _tz(request)
    default_by = "agent" if reader.user.role is Role.AGENT else "day"
    by = request.query.get("by") or default_by
    if by not in REPORT_GROUPINGS:
        raise InvalidInput(f"by must be one of {', '.join(REPORT_GROUPINGS)}", field="by")
    if reader.user.role is Role.AGENT and by != "agent":
        raise PermissionDenied("an agent sees only their own figures (by=agent)")
    interval = request.query.get("interval") or "15"
    if interval not in ("15", "30", "60"):
        raise InvalidInput("interval must be 15, 30 or 60 (minutes)", field="interval")
    empty_text = request.query.get("empty")
    if empty_text not in (None, "", "0", "1"):
        raise InvalidInput("empty must be 0 or 1", field="empty")
    queue, agent = _text(request, "queue"), _text(request, "agent")
    _check_queue(reader, queue)
    _check_agent(reader, agent)
    start, end = _period(request, tz)
    settings = request.app[SETTINGS]
    return ReportQuery(
        by=by,
        start=start,
        end=end,
        tz=tz,
        interval=int(interval),
        queue=queue,
        agent=agent,
        channel=_channel(request),
        empty=None if not empty_text else empty_text == "1",
        sl_threshold=SL_THRESHOLD,
        short_abandon=settings.routing.short_abandon_seconds,
        scope=reader.scope,
        agents=reader.agents,
        agent_names=_names(request),
    )


STAFFED_DAYS = 31  # forecasts (one grouped query each) a report's interval rows carry


async def enrich(request: web.Request, query: ReportQuery, answer: dict[str, Any]) -> None:
    """Fields other features add to the report's rows.

    ``staffing`` on each interval row of a one-queue report: the Erlang C figures of the
    forecast for that interval (crm_lookup.forecast, docs/STAFFING.md), null for a report
    of several queues (a forecast is per queue) or past ``STAFFED_DAYS`` days.
    """
    if query.by != "interval":
        return
    rows = answer["rows"]
    for row in rows:
        row["staffing"] = None
    if not query.queue or not rows:
        return
    tz = query.tz or zone("UTC")
    days: dict[dt.date, list[dict[str, Any]]] = {}
    for row in rows:
        days.setdefault(dt.datetime.fromtimestamp(row["start"], tz).date(), []).append(row)
    if len(days) > STAFFED_DAYS:
        return
    targets = await request.app[STAFFING].targets.get()
    for day, of_day in days.items():
        forecast = await forecast_for(
            request.app[STORE],
            query.queue,
            day,
            tz,
            query.interval,
            target=targets.get(query.queue),
        )
        by_start = {int(start): figures for start, figures in forecast.items()}
        for row in of_day:
            row["staffing"] = by_start.get(int(row["start"]))


async def _report(request: web.Request) -> tuple[ReportQuery, dict[str, Any]]:
    reader = scope_of(request)
    query = report_query(request, reader)
    answer = await run_report(request.app[STORE], query)
    await enrich(request, query, answer)
    return query, answer


@require(Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
async def reports(request: web.Request) -> web.Response:
    """``GET /api/reports?by=&from=&to=&tz=&interval=&queue=&agent=&channel=&empty=``."""
    _, answer = await _report(request)
    return web.json_response(answer)


def _contact_query(request: web.Request, reader: Reader, tz: dt.tzinfo) -> ContactQuery:
    queue, agent = _text(request, "queue"), _text(request, "agent")
    _check_queue(reader, queue)
    _check_agent(reader, agent)
    start, end = _period(request, tz)
    customer = request.query.get("customer")
    customer_id = None
    if customer:
        if not (customer.isascii() and customer.isdigit() and len(customer) <= 18):
            raise InvalidInput("customer is a customer id", field="customer")
        customer_id = int(customer)
    measure = _text(request, "measure")
    if measure is not None and measure not in MEASURE_WHERE:
        raise InvalidInput(f"measure must be one of {', '.join(MEASURE_WHERE)}", field="measure")
    return ContactQuery(
        start=start,
        end=end,
        queue=queue,
        agent=agent,
        channel=_channel(request),
        outcome=_text(request, "outcome"),
        # disposition= (present, empty) is "no disposition"; absent is any
        disposition=request.query.get("disposition") if "disposition" in request.query else None,
        customer_id=customer_id,
        measure=measure,
        short_abandon=request.app[SETTINGS].routing.short_abandon_seconds,
    )


def _int(request: web.Request, name: str, default: int, high: int) -> int:
    text = request.query.get(name)
    if not text:
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= 9) or int(text) > high:
        raise InvalidInput(f"{name} must be a whole number up to {high}", field=name)
    return int(text)


async def _translate(request: web.Request) -> Any:
    """The reader's language (their preference, else the browser's) for the IVR path."""
    row = await request.app[STORE].users.get_by_username(current_session(request).user.username)
    preferred = getattr(row, "language", None) or None
    return translator(negotiate(preferred, request.headers.get("Accept-Language", "")))


async def _contacts(request: web.Request, limit: int, offset: int) -> tuple[list[Any], int]:
    reader = scope_of(request)
    tz = _tz(request)
    query = _contact_query(request, reader, tz)
    found, total = await find_contacts(request.app[STORE], query, reader.scope, limit, offset)
    t, names = await _translate(request), _names(request)
    return [report_export.contact_json(c, tz, t, names) for c in found], total


@require(Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
async def report_contacts(request: web.Request) -> web.Response:
    """``GET /api/reports/contacts?from&to&tz&start&end&queue&agent&channel&outcome&disposition
    &customer&measure&limit&offset`` -> ``{"contacts", "total", "limit", "offset"}``."""
    limit = _int(request, "limit", 50, MAX_PAGE) or 1
    offset = _int(request, "offset", 0, 10_000_000)
    contacts, total = await _contacts(request, limit, offset)
    return web.json_response(
        {"contacts": contacts, "total": total, "limit": limit, "offset": offset}
    )


def _format(request: web.Request) -> str:
    fmt = request.query.get("format") or "csv"
    if fmt not in report_export.FORMATS:
        raise InvalidInput("format must be csv or xlsx", field="format")
    return fmt


def _attachment(body: bytes, fmt: str, name: str) -> web.Response:
    return web.Response(
        body=body,
        headers={
            "Content-Type": report_export.CONTENT_TYPES[fmt],
            "Content-Disposition": f'attachment; filename="{name}.{fmt}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


@require(Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
async def export_report(request: web.Request) -> web.Response:
    """``GET /api/reports/export?format=csv|xlsx&<report query>``: the report as a file."""
    fmt = _format(request)
    query, answer = await _report(request)
    day = dt.datetime.fromtimestamp(query.start, query.tz).date().isoformat()
    name = f"report-{query.by}-{day}"
    table = report_export.report_table(answer)
    return _attachment(await asyncio.to_thread(report_export.render, table, fmt), fmt, name)


@require(Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
async def export_contacts(request: web.Request) -> web.Response:
    """``GET /api/reports/contacts/export?format=csv|xlsx&<contact query>``: every
    matching contact (at most 100,000) as a file."""
    fmt = _format(request)
    contacts, _ = await _contacts(request, MAX_EXPORT, 0)
    # up to 100,000 rows into a spreadsheet is seconds of CPU: never on the event loop,
    # where AMI events, websockets and the ACD's timers run
    body = await asyncio.to_thread(
        lambda: report_export.render(report_export.contact_table(contacts), fmt, "contacts")
    )
    return _attachment(body, fmt, "contacts")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/api/reports", reports)
    router.add_get("/api/reports/contacts", report_contacts)
    router.add_get("/api/reports/export", export_report)
    router.add_get("/api/reports/contacts/export", export_contacts)

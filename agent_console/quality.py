"""Quality review in the console: evaluation forms, evaluations of a contact, the list.

Routes (registered by :func:`setup`, one line in ``agent_console.app``):

* ``GET /api/quality/forms`` — the configured forms (any signed-in user).
* ``GET /api/contacts/{id}/evaluations`` — the contact's evaluations and whether the
  user may add one: the agent who took the contact, a supervisor of its queue
  (``QueueFile.supervisors``; a queue that lists none: every supervisor) or an admin.
* ``POST /api/contacts/{id}/evaluations`` ``{"form_id", "answers", "comments"?}`` — a
  supervisor of the contact's queue or an admin scores it (201); answers are checked
  against the form (every required question, with an allowed value); audited
  ``evaluation.add``.
* ``PUT /api/contacts/{id}/evaluations/{evaluation_id}`` ``{"answers", "comments"?}`` —
  its evaluator, still supervising the queue (or an admin), changes it; checked against
  the form it was first scored with; audited ``evaluation.edit``.
* ``GET /evaluations`` — the page of that list (``templates/evaluations.html``).
* ``GET /api/evaluations?agent=&from=&to=`` — evaluations of contacts begun in the
  period (default the last 30 days): an agent gets their own whatever ``agent`` says, a
  supervisor those of their queues, an admin every one; ``agent`` filters.

The forms file (``[quality] forms_file``) is read once when the app is built: a wrong
file stops the start with the file, the form, the question and what is wrong.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from agent_console import inputs
from agent_console.actions import ID, text
from agent_console.api import read_json, user_of
from agent_console.auth import Role, User, require
from agent_console.keys import CONSOLE, CRM, FORMS, STORE
from agent_console.pages import signed_in_page
from config.errors import ConfigError, InvalidInput, NotFound, PermissionDenied
from config.settings import Settings
from crm_lookup.evaluations import MAX_COMMENTS
from routing.evaluation_forms import Form, check_answers, form_from_json, load_forms, score

DEFAULT_DAYS = 30


def load(settings: Settings) -> tuple[Form, ...]:
    """The forms of ``[quality] forms_file``.

    Raises:
        ConfigError: the file is missing or wrong (the message says where and what).
    """
    path = settings.path(settings.quality.forms_file)
    try:
        return load_forms(path)
    except InvalidInput as exc:
        raise ConfigError("settings", "quality.forms_file", str(exc)) from None


def setup(app: web.Application, settings: Settings) -> None:
    """Load the forms and add the routes."""
    app[FORMS] = list(load(settings))
    r = app.router
    r.add_get("/api/quality/forms", forms)
    r.add_get("/api/contacts/{id}/evaluations", contact_evaluations)
    r.add_post("/api/contacts/{id}/evaluations", add_evaluation)
    r.add_put("/api/contacts/{id}/evaluations/{evaluation_id}", edit_evaluation)
    r.add_get("/api/evaluations", list_evaluations)
    r.add_get("/evaluations", evaluations_page)


def may_evaluate(request: web.Request, user: User, contact: Mapping[str, Any]) -> bool:
    """Whether ``user`` may score ``contact`` (a ``Contact.to_json()``): an admin, or a
    supervisor of the contact's queue. What the contact page passes as ``can_evaluate``."""
    if user.role is Role.ADMIN:
        return True
    if user.role is not Role.SUPERVISOR:
        return False
    queue = contact.get("queue") or None
    return request.app[CONSOLE].scope(user).sees_queue(queue)


async def _contact(request: web.Request) -> dict[str, Any]:
    contact_id = str(inputs.int_id(request.match_info["id"], "contact id"))
    contact: dict[str, Any] = await request.app[CRM].contact(contact_id)  # NotFound
    return contact


def _may_read(request: web.Request, user: User, contact: Mapping[str, Any]) -> bool:
    own = bool(user.agent_id) and contact.get("agent_id") == user.agent_id
    return own or may_evaluate(request, user, contact)


def _form(request: web.Request, form_id: str) -> Form:
    for form in request.app[FORMS]:
        if form.id == form_id:
            return form
    raise InvalidInput(f"no evaluation form {form_id[:64]!r}", field="form_id")


def _named(request: web.Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = request.app[CONSOLE].agent_names({str(i.get("agent_id") or "") for i in items})
    for item in items:
        item["agent_name"] = names.get(str(item.get("agent_id") or ""))
    return items


def _comments(body: Mapping[str, Any]) -> str:
    return text(body, "comments", required=False, max_len=MAX_COMMENTS, multiline=True)


@require()
async def forms(request: web.Request) -> web.Response:
    """``GET /api/quality/forms`` -> ``{"forms": [Form.to_json()]}``."""
    return web.json_response({"forms": [f.to_json() for f in request.app[FORMS]]})


@require()
async def contact_evaluations(request: web.Request) -> web.Response:
    """``GET /api/contacts/{id}/evaluations`` -> ``{"evaluations", "can_evaluate"}``."""
    user = user_of(request)
    contact = await _contact(request)
    if not _may_read(request, user, contact):
        raise PermissionDenied("only the contact's agent, its supervisors and admins see this")
    found = await request.app[STORE].evaluations.for_contact(int(contact["id"]))
    return web.json_response(
        {
            "evaluations": _named(request, [e.to_json() for e in found]),
            "can_evaluate": may_evaluate(request, user, contact) and bool(contact.get("agent_id")),
        }
    )


@require(Role.SUPERVISOR, Role.ADMIN)
async def add_evaluation(request: web.Request) -> web.Response:
    """``POST /api/contacts/{id}/evaluations`` -> 201 the evaluation."""
    user = user_of(request)
    body = await read_json(request)
    contact = await _contact(request)
    if not may_evaluate(request, user, contact):
        raise PermissionDenied("that contact is not in your queues")
    if not contact.get("agent_id"):
        raise InvalidInput("no agent took this contact: there is nobody to evaluate")
    form = _form(request, text(body, "form_id", max_len=64))
    answers = check_answers(form, body.get("answers"))
    comments = _comments(body)
    value = score(form, answers)
    added = await request.app[STORE].evaluations.add(
        int(contact["id"]),
        form.to_json(),
        str(contact["agent_id"]),
        user.username,
        answers,
        comments,
        value,
    )
    await request.app[CRM].audit(
        user.username,
        "evaluation.add",
        str(contact["id"]),
        {"evaluation": added.id, "form": form.id, "score": value},
    )
    return web.json_response(_named(request, [added.to_json()])[0], status=201)


@require(Role.SUPERVISOR, Role.ADMIN)
async def edit_evaluation(request: web.Request) -> web.Response:
    """``PUT /api/contacts/{id}/evaluations/{evaluation_id}`` -> the evaluation."""
    user = user_of(request)
    body = await read_json(request)
    contact = await _contact(request)
    if not may_evaluate(request, user, contact):
        raise PermissionDenied("that contact is not in your queues")
    evaluation_id = inputs.int_id(request.match_info["evaluation_id"], "evaluation id")
    evaluations = request.app[STORE].evaluations
    current = await evaluations.get(evaluation_id)
    if current.contact_id != int(contact["id"]):
        raise NotFound(f"no evaluation {evaluation_id} of contact {contact['id']}")
    form = form_from_json(current.form)  # as first scored: a later file edit changes nothing
    answers = check_answers(form, body.get("answers"))
    comments = _comments(body)
    value = score(form, answers)
    changed = await evaluations.update(evaluation_id, user.username, answers, comments, value)
    await request.app[CRM].audit(
        user.username,
        "evaluation.edit",
        str(contact["id"]),
        {"evaluation": evaluation_id, "form": form.id, "score": value},
    )
    return web.json_response(_named(request, [changed.to_json()])[0])


def _period(request: web.Request) -> tuple[float, float]:
    today = dt.datetime.now(dt.UTC).date()
    start_text = request.query.get("from", (today - dt.timedelta(days=DEFAULT_DAYS)).isoformat())
    end_text = request.query.get("to", today.isoformat())
    start = inputs.moment(start_text, "from")
    end = inputs.moment(end_text, "to", end_of_day=True)
    if start >= end:
        raise InvalidInput("the period must start before it ends", field="from")
    return start, end


@require()
async def list_evaluations(request: web.Request) -> web.Response:
    """``GET /api/evaluations?agent=&from=&to=`` -> ``{"from", "to", "evaluations"}``,
    newest contact first, at most 500; each without the form (``form_name`` instead)."""
    user = user_of(request)
    start, end = _period(request)
    agent = request.query.get("agent") or None
    if agent is not None and not ID.match(agent):
        raise InvalidInput("agent is not a valid id", field="agent")
    queues = None
    if user.role is Role.AGENT:
        agent = user.agent_id  # their own, whatever the query says
        if not agent:
            return web.json_response({"from": start, "to": end, "evaluations": []})
    elif user.role is Role.SUPERVISOR:
        queues = request.app[CONSOLE].scope(user).queues
    found = await request.app[STORE].evaluations.listing(start, end, agent_id=agent, queues=queues)
    items = []
    for e in found:
        item = e.to_json()
        form = item.pop("form")
        item["form_name"] = form.get("name", e.form_id)
        items.append(item)
    return web.json_response({"from": start, "to": end, "evaluations": _named(request, items)})


@require()
async def evaluations_page(request: web.Request) -> web.Response:
    """``/evaluations``: an agent's own evaluations, a supervisor's queues' (evaluations.js)."""
    return await signed_in_page(request, "evaluations.html")

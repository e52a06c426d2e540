"""The knowledge base over HTTP, and its page (``crm_lookup.knowledge``; issue 17).

Every signed-in role searches, reads, votes and records a use; supervisors and admins
write (add, edit, retire / restore), and every write is audited. Article bodies are
Markdown; ``GET /api/kb/articles/{id}`` sends them rendered (``html``, from
:mod:`agent_console.kb_markdown`, the only HTML this API sends) beside the source.

* ``GET /api/kb/search?q=&lang=&limit=`` -> ``{"query", "results": [hit]}``; hit:
  ``{"id", "title", "tags", "language", "owner", "last_reviewed_at", "uses", "helpful",
  "unhelpful", "updated_at", "score", "snippet": [{"text", "match"}]}``; no ``q``: the
  most used articles.
* ``GET /api/kb/articles/{id}`` -> article ``{"id", "title", "body", "html", "tags",
  "language", "owner", "last_reviewed_at", "retired", "uses", "helpful", "unhelpful",
  "created_at", "updated_at", "text", "my_vote"}`` (``text``: the plain text an agent
  inserts into a reply; ``my_vote``: true / false / null).
* ``POST /api/kb/articles`` (supervisor, admin) ``{"title", "body", "language", "tags",
  "owner"?}`` -> 201 article; audited ``kb.add``.
* ``PUT /api/kb/articles/{id}`` (supervisor, admin) any of those fields, plus
  ``"reviewed": true`` to stamp the review -> article; audited ``kb.update`` (the fields
  changed).
* ``POST /api/kb/articles/{id}/retire`` (supervisor, admin) ``{"retired": bool}``
  (default true) -> article; audited ``kb.retire`` / ``kb.restore``.
* ``POST /api/kb/articles/{id}/used`` ``{"contact_id"?}`` -> article (its ``uses``).
* ``POST /api/kb/articles/{id}/helpful`` ``{"helpful": bool}`` -> article.
* ``GET /kb`` the page: search for every role, the editor for supervisors and admins.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_console import kb_markdown
from agent_console.api import read_json, user_of
from agent_console.auth import SUPERVISING, Role, current_session, require
from agent_console.inputs import MAX_ID, int_id, whole_number
from agent_console.keys import CRM, STORE
from agent_console.pages import signed_in_page
from config.errors import InvalidInput
from crm_lookup import kb_text
from crm_lookup.knowledge import LANGUAGES, MAX_LIMIT, Article

_FIELDS = ("title", "body", "language", "tags", "owner")


def setup(app: web.Application) -> None:
    app.router.add_get("/api/kb/search", search)
    app.router.add_post("/api/kb/articles", add_article)
    app.router.add_get("/api/kb/articles/{id}", get_article)
    app.router.add_put("/api/kb/articles/{id}", update_article)
    app.router.add_post("/api/kb/articles/{id}/retire", retire_article)
    app.router.add_post("/api/kb/articles/{id}/used", used_article)
    app.router.add_post("/api/kb/articles/{id}/helpful", vote_article)
    app.router.add_get("/kb", kb_page)


def article_json(article: Article, my_vote: bool | None = None) -> dict[str, Any]:
    return {
        **article.to_json(),
        "html": kb_markdown.render(article.body),
        "text": kb_text.plain_text(article.body),
        "my_vote": my_vote,
    }


async def _my_vote(request: web.Request, article_id: int) -> bool | None:
    row = await request.app[STORE].fetchone(
        "SELECT helpful FROM article_votes WHERE article_id = ? AND username = ?",
        (article_id, user_of(request).username),
    )
    return None if row is None else bool(row[0])


def _id(request: web.Request) -> int:
    return int_id(request.match_info["id"], "article id")


@require()
async def search(request: web.Request) -> web.Response:
    query = request.query.get("q", "")
    if len(query) > 500:
        raise InvalidInput("a search is at most 500 characters", field="q")
    language = request.query.get("lang", "") or None
    if language is not None and language not in LANGUAGES:
        raise InvalidInput("lang must be en or ru", field="lang")
    limit = whole_number(request.query.get("limit", "10"), "limit", minimum=1, maximum=MAX_LIMIT)
    hits = await request.app[STORE].knowledge.search(query, language=language, limit=limit)
    return web.json_response({"query": query, "results": [h.to_json() for h in hits]})


@require()
async def get_article(request: web.Request) -> web.Response:
    article_id = _id(request)
    article = await request.app[STORE].knowledge.get(article_id)
    return web.json_response(article_json(article, await _my_vote(request, article_id)))


def _fields(body: dict[str, Any], *, required: bool) -> dict[str, Any]:
    unknown = set(body) - {*_FIELDS, "reviewed"}
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidInput(f"unknown field {name}", field=name)
    fields = {k: body[k] for k in _FIELDS if k in body}
    if required:
        for name in ("title", "body", "language"):
            if name not in fields:
                raise InvalidInput(f"{name} is required", field=name)
    for name in ("title", "body", "language", "owner"):
        if name in fields and not isinstance(fields[name], str):
            raise InvalidInput(f"{name} must be text", field=name)
    return fields


@require(Role.SUPERVISOR, Role.ADMIN)
async def add_article(request: web.Request) -> web.Response:
    body = await read_json(request)
    fields = _fields(body, required=True)
    user = user_of(request)
    article = await request.app[STORE].knowledge.add(
        title=fields["title"],
        body=fields["body"],
        language=fields["language"],
        tags=fields.get("tags", ()),
        owner=fields.get("owner") or user.username,
    )
    await request.app[CRM].audit(user.username, "kb.add", str(article.id), {"title": article.title})
    return web.json_response(article_json(article), status=201)


@require(Role.SUPERVISOR, Role.ADMIN)
async def update_article(request: web.Request) -> web.Response:
    article_id = _id(request)
    body = await read_json(request)
    fields = _fields(body, required=False)
    reviewed = body.get("reviewed", False)
    if not isinstance(reviewed, bool):
        raise InvalidInput("reviewed must be true or false", field="reviewed")
    before, after = await request.app[STORE].knowledge.update(article_id, fields, reviewed=reviewed)
    changed = [
        name
        for name in ("title", "body", "tags", "language", "owner")
        if getattr(before, name) != getattr(after, name)
    ]
    details: dict[str, Any] = {"changed": changed, "reviewed": reviewed}
    if "title" in changed:
        details["title"] = {"from": before.title, "to": after.title}
    if "body" in changed:
        details["body_length"] = {"from": len(before.body), "to": len(after.body)}
    await request.app[CRM].audit(user_of(request).username, "kb.update", str(article_id), details)
    return web.json_response(article_json(after, await _my_vote(request, article_id)))


@require(Role.SUPERVISOR, Role.ADMIN)
async def retire_article(request: web.Request) -> web.Response:
    article_id = _id(request)
    body = await read_json(request)
    retired = body.get("retired", True)
    if not isinstance(retired, bool):
        raise InvalidInput("retired must be true or false", field="retired")
    before, after = await request.app[STORE].knowledge.retire(article_id, retired=retired)
    if before.retired != after.retired:
        await request.app[CRM].audit(
            user_of(request).username,
            "kb.retire" if retired else "kb.restore",
            str(article_id),
            {"title": after.title},
        )
    return web.json_response(article_json(after, await _my_vote(request, article_id)))


@require()
async def used_article(request: web.Request) -> web.Response:
    article_id = _id(request)
    body = await read_json(request)
    contact = body.get("contact_id")
    contact_id: int | None
    if contact is None:
        contact_id = None
    elif isinstance(contact, str):
        contact_id = int_id(contact, "contact id", field="contact_id")
    elif isinstance(contact, int) and not isinstance(contact, bool) and 0 < contact <= MAX_ID:
        contact_id = contact
    else:
        raise InvalidInput("contact_id must be a contact's id", field="contact_id")
    article = await request.app[STORE].knowledge.record_use(
        article_id, username=user_of(request).username, contact_id=contact_id
    )
    return web.json_response(article_json(article, await _my_vote(request, article_id)))


@require()
async def vote_article(request: web.Request) -> web.Response:
    article_id = _id(request)
    body = await read_json(request)
    helpful = body.get("helpful")
    if not isinstance(helpful, bool):
        raise InvalidInput("helpful must be true or false", field="helpful")
    article = await request.app[STORE].knowledge.vote(
        article_id, username=user_of(request).username, helpful=helpful
    )
    return web.json_response(article_json(article, helpful))


@require()
async def kb_page(request: web.Request) -> web.Response:
    editing = current_session(request).user.role in SUPERVISING
    return await signed_in_page(request, "kb.html", editing=editing, languages=LANGUAGES)

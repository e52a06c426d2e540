"""One contact: its page, its JSON (summary and timeline) and its recording.

Routes (registered by :func:`setup`, one line in ``agent_console.app``):

* ``GET /contacts/{id}`` — the page (``templates/contact.html``, ``static/contact.js``),
  with qa's evaluation partial beside the player.
* ``GET /api/contacts/{id}`` — the contact (``agent_name``), its ``events`` (kind, at,
  data; oldest first), ``agent_names`` (id -> name of the agents its events name),
  ``recording: {"status", "may_play"}`` (the latest recording), ``recordings`` (every
  part, oldest first: ``{"part", "at", "agent_id", "status", "may_play"}``; a call is
  recorded in parts when a blind transfer hands it to another agent, one file per
  agent) and ``can_evaluate``. Any signed-in user, like the customer page's history.
* ``GET /api/contacts/{id}/recording[?part=N]`` — the audio (the latest, or part N
  counted from 1), through ``web.FileResponse`` (HTTP
  Range: 206 + Content-Range, 416, If-Range), ``Accept-Ranges: bytes``, the type by the
  file's suffix, ``Cache-Control: no-store``. Who may play: an admin; the agent who took
  the contact; a supervisor of its queue (``QueueFile.supervisors``); for a part, also
  the agent whose part it is. Else 403; no
  recording, no such part or no file: 404 with a JSON message; a part that is not a
  whole number from 1: 400. Audited ``recording.play``: every
  request counts, the player's range requests of one listening (a user's requests for
  one contact's recording within 10 minutes) are one entry (:class:`Playbacks`).

The recording reference itself (a file name, or a voicemail's path on the host) never
leaves the server: the JSON says only the status.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from agent_console import inputs
from agent_console.api import user_of
from agent_console.auth import Role, User, require
from agent_console.keys import CONSOLE, CRM, PLAYBACKS, RECORDINGS, STORE
from agent_console.pages import signed_in_page
from agent_console.quality import may_evaluate
from agent_console.transcripts import transcript
from config.errors import NotFound, PermissionDenied
from config.settings import Settings
from crm_lookup.recordings import RecordingFiles

# Timeline data that stays on the server: the recording's reference.
_PRIVATE_DATA = {"recording": ("ref",)}


def recording_files(settings: Settings) -> RecordingFiles:
    """The recordings directory of ``[recording] dir`` (and the IVR's voicemail one)."""
    return RecordingFiles(
        settings.path(settings.recording.dir),
        also=(settings.path(settings.ivr.recordings_dir),),
    )


def setup(app: web.Application, settings: Settings) -> None:
    app[RECORDINGS] = recording_files(settings)
    app[PLAYBACKS] = Playbacks()
    r = app.router
    r.add_get("/contacts/{id}", contact_page)
    r.add_get("/api/contacts/{id}", contact)
    r.add_get("/api/contacts/{id}/recording", recording)


def may_play(
    request: web.Request, user: User, contact: Mapping[str, Any], part_agent: str = ""
) -> bool:
    """An admin; the agent who took the contact; a supervisor of its queue; for one part
    of a recording, also the agent whose part it is (``part_agent``)."""
    if user.role is Role.ADMIN:
        return True
    if user.agent_id and user.agent_id in (contact.get("agent_id"), part_agent or None):
        return True
    if user.role is Role.SUPERVISOR:
        return request.app[CONSOLE].scope(user).sees_queue(contact.get("queue") or None)
    return False


#: more parts than any call has (a part per blind transfer to an agent)
MAX_PARTS = 1000


def _latest_agent(ref: str, parts: list[tuple[str, float, str]]) -> str:
    """The agent whose part the contact's latest recording (its column) is, if any."""
    return parts[-1][2] if parts and parts[-1][0] == ref else ""


def _parts(events: Any) -> list[tuple[str, float, str]]:
    """Every recording of a contact, oldest first: (reference, at, agent id)."""
    return [
        (str(e.data.get("ref") or ""), float(e.at), str(e.data.get("agent_id") or ""))
        for e in events
        if e.kind == "recording" and e.data.get("ref")
    ]


async def _contact(request: web.Request) -> dict[str, Any]:
    contact_id = str(inputs.int_id(request.match_info["id"], "contact id"))
    found: dict[str, Any] = await request.app[CRM].contact(contact_id)  # NotFound
    return found


def _event_json(event: Any) -> dict[str, Any]:
    data = dict(event.data)
    for key in _PRIVATE_DATA.get(event.kind, ()):
        data.pop(key, None)
    return {"kind": event.kind, "at": event.at, "data": data}


@require()
async def contact(request: web.Request) -> web.Response:
    """``GET /api/contacts/{id}`` -> the contact with ``events``, ``recording`` and
    ``can_evaluate``."""
    user = user_of(request)
    found = await _contact(request)
    events = await request.app[STORE].contacts.timeline(int(found["id"]))
    ref = str(found.pop("recording", "") or "")
    status = await asyncio.to_thread(request.app[RECORDINGS].status, ref)
    body = request.app[CONSOLE].named([found])[0]
    body["events"] = [_event_json(e) for e in events]
    agent_ids = {str(e["data"].get(k) or "") for e in body["events"] for k in ("agent_id", "agent")}
    body["agent_names"] = request.app[CONSOLE].agent_names(agent_ids - {""})
    parts = _parts(events)
    latest = may_play(request, user, found, _latest_agent(ref, parts))
    body["recording"] = {"status": status.value, "may_play": latest}
    statuses = await asyncio.to_thread(request.app[RECORDINGS].statuses, [p[0] for p in parts])
    body["recordings"] = [
        {
            "part": n,
            "at": at,
            "agent_id": agent or None,
            "status": part_status.value,
            "may_play": may_play(request, user, found, agent),
        }
        for n, ((_ref, at, agent), part_status) in enumerate(zip(parts, statuses, strict=True), 1)
    ]
    body["can_evaluate"] = may_evaluate(request, user, found) and bool(found.get("agent_id"))
    if str(found.get("channel") or "voice") != "voice":
        # a chat or an email: its thread (the contact's key is the conversation's)
        body["transcript"] = await transcript(request.app[STORE], str(found["key"]))
    return web.json_response(body)


class Playbacks:
    """Who played which recording when, for the audit: every request is a listen (a
    ``Range: bytes=1-`` fetches almost the whole file), but the player's many range
    requests of one listening are one entry: a user's requests for one contact within
    ``window`` seconds of the last entry are not written again. Bounded."""

    def __init__(self, window: float = 600.0, size: int = 10_000) -> None:
        self.window = window
        self.size = size
        self._last: dict[tuple[str, str], float] = {}

    def is_new(self, user: str, contact: str, now: float) -> bool:
        key = (user, contact)
        last = self._last.get(key)
        if last is not None and now - last < self.window:
            return False
        self._last.pop(key, None)
        self._last[key] = now
        while len(self._last) > self.size:  # the oldest entry first (insertion order)
            del self._last[next(iter(self._last))]
        return True


@require()
async def recording(request: web.Request) -> web.StreamResponse:
    """``GET /api/contacts/{id}/recording[?part=N]`` -> the audio (200, or 206 for a
    Range): the latest recording, or part N (from 1) of a call recorded in parts."""
    user = user_of(request)
    found = await _contact(request)
    raw_part = request.query.get("part")
    part = (
        None
        if raw_part is None
        else inputs.whole_number(raw_part, "part", minimum=1, maximum=MAX_PARTS)
    )
    ref = str(found.get("recording") or "")
    parts = _parts(await request.app[STORE].contacts.timeline(int(found["id"])))
    if part is None:
        part_agent = _latest_agent(ref, parts)
    elif part > len(parts):
        raise NotFound(f"contact {found['id']} has no recording part {part}")
    else:
        ref, _at, part_agent = parts[part - 1]
    if not may_play(request, user, found, part_agent):
        raise PermissionDenied(
            "only the agent who took this contact (or the part), a supervisor of its queue "
            "or an admin may play its recording"
        )
    files = request.app[RECORDINGS]
    if not ref:
        raise NotFound(f"contact {found['id']} was not recorded")
    path = await asyncio.to_thread(files.resolve, ref)
    if path is None or not await asyncio.to_thread(path.is_file):
        raise NotFound(
            f"the recording of contact {found['id']} is missing: deleted by retention, "
            "moved, or the recordings directory is not reachable from this server"
        )
    listened = str(found["id"]) if part is None else f"{found['id']}#{part}"
    if request.app[PLAYBACKS].is_new(user.username, listened, time.monotonic()):
        details: dict[str, Any] = {"range": "Range" in request.headers}
        if part is not None:
            details["part"] = part
        await request.app[CRM].audit(user.username, "recording.play", str(found["id"]), details)
    return web.FileResponse(
        path,
        headers={
            "Content-Type": files.media_type(path),
            "Accept-Ranges": "bytes",
            "Cache-Control": "no-store",
        },
    )


@require()
async def contact_page(request: web.Request) -> web.Response:
    """``/contacts/{id}``: a shell filled by contact.js; an unknown contact is said on
    the page (404), never a bare error."""
    user = user_of(request)
    try:
        found = await _contact(request)
    except NotFound:
        contact_id = inputs.int_id(request.match_info["id"], "contact id")
        response = await signed_in_page(
            request,
            "contact.html",
            contact_id=contact_id,
            found=False,
            can_evaluate=False,
            show_evaluation=False,
        )
        response.set_status(404)
        return response
    scores = may_evaluate(request, user, found)
    own = bool(user.agent_id) and found.get("agent_id") == user.agent_id
    return await signed_in_page(
        request,
        "contact.html",
        contact_id=int(found["id"]),
        found=True,
        can_evaluate=scores and bool(found.get("agent_id")),
        # the evaluations are the agent's and their supervisors' (quality.py's rule)
        show_evaluation=scores or own,
    )

"""Whether each contact's recording can be played, without showing where it lies.

Its own module because the customer history (``agent_console.api``) and the contact page
(``agent_console.contact_api``, which builds on ``api``) both need it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from agent_console.keys import RECORDINGS


async def with_recording_status(
    app: web.Application, contacts: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each contact gains ``recording_status`` (none/available/missing): the files are
    looked at in one thread hop, never on the event loop."""
    found = await asyncio.to_thread(
        app[RECORDINGS].statuses, [str(c.get("recording") or "") for c in contacts]
    )
    for item, status in zip(contacts, found, strict=True):
        item["recording_status"] = status.value
        item.pop("recording", None)  # the reference stays on the server (see the module doc)
    return contacts

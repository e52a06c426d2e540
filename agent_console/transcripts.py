"""A chat's or an email's thread as the history shows it (``GET /api/contacts/{id}``'s
``transcript``, each digital contact of a customer's history page). Its own module so the
contact and customer routes read it without importing the conversation handlers (which
import agent_console.api: a cycle)."""

from __future__ import annotations

from typing import Any

MESSAGES_LIMIT = 500
Message = dict[str, Any]

TRANSCRIPT_PREVIEW = 20  # messages per chat/email in a customer's history page
PUBLIC = ("key", "channel", "state", "queue", "subject", "party", "language", "thread")


async def transcript(store: Any, key: str, limit: int = MESSAGES_LIMIT) -> Message:
    """``{"conversation": {...public fields} | None, "messages": [...], "more": bool}``
    of a chat's or an email's contact (its key is the conversation key): what the
    contact page and the customer's history show. Plain text; the page never renders it
    as HTML."""
    conv = await store.conversations.get(key)
    if conv is None:
        return {"conversation": None, "messages": [], "more": False}
    messages = await store.conversations.messages(key, 0, limit + 1 if limit < 500 else 500)
    return {
        "conversation": {k: conv.get(k) for k in PUBLIC},
        "messages": messages[:limit],
        "more": len(messages) > limit,
    }


async def with_transcripts(store: Any, contacts: list[Message]) -> list[Message]:
    """Each chat or email of a history page with its first messages (``transcript``)."""
    for contact in contacts:
        if str(contact.get("channel") or "voice") != "voice" and contact.get("key"):
            contact["transcript"] = await transcript(store, contact["key"], TRANSCRIPT_PREVIEW)
    return contacts

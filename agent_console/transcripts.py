"""A chat's or an email's thread as the contact page and the customer's history show it.

Its own module: the customer history (``agent_console.api``) and the contact page need
it, and the conversation routes build on ``api``.
"""

from __future__ import annotations

from typing import Any

Message = dict[str, Any]
MESSAGES_LIMIT = 500  # messages in one answer

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

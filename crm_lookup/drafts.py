"""Wrap-up drafts: what an agent has typed for a contact and not saved yet.

The console writes the draft as the agent types (debounced), so a reload, a reconnect, a
new pop or a restart of the service loses nothing; saving the wrap-up deletes it. Keyed
by contact id with no foreign key: the agent may type before the contact writer has put
the contact's row in the history (under load it lags the live call by seconds).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from config.errors import InvalidInput

# notes are at most 4,000 characters (up to 16,000 bytes of UTF-8), a case subject 200;
# the rest is small
MAX_DRAFT_BYTES = 32 * 1024
_SELECT = "SELECT contact_id, agent_id, data, updated_at FROM wrapup_drafts"


class _Database(Protocol):
    """The calls of ``crm_lookup.store.Store`` this repository uses."""

    async def write(self, sql: str, params: Sequence[Any] = ()) -> int: ...
    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...


@dataclass(frozen=True, slots=True)
class Draft:
    contact_id: int
    agent_id: str
    data: Mapping[str, Any]
    updated_at: float


class DraftRepo:
    def __init__(self, store: _Database) -> None:
        self._store = store

    async def save(self, contact_id: int, agent_id: str, data: Mapping[str, Any]) -> float:
        """Keep (replace) the draft of ``contact_id``; returns when it was saved.

        Raises:
            InvalidInput: the draft is not JSON-ready or larger than 32 KB.
        """
        try:
            text = json.dumps(dict(data), separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError):
            raise InvalidInput("a draft must be plain JSON data", field="draft") from None
        if len(text.encode()) > MAX_DRAFT_BYTES:
            raise InvalidInput("the draft is too large", field="draft")
        now = time.time()
        await self._store.write(
            "INSERT INTO wrapup_drafts(contact_id, agent_id, data, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(contact_id) DO UPDATE SET agent_id = excluded.agent_id,"
            " data = excluded.data, updated_at = excluded.updated_at",
            (contact_id, agent_id, text, now),
        )
        return now

    async def get(self, contact_id: int) -> Draft | None:
        row = await self._store.fetchone(_SELECT + " WHERE contact_id = ?", (contact_id,))
        return _draft(row) if row is not None else None

    async def delete(self, contact_id: int) -> None:
        await self._store.write("DELETE FROM wrapup_drafts WHERE contact_id = ?", (contact_id,))

    async def for_agent(self, agent_id: str) -> list[Draft]:
        """The agent's drafts, newest first (what a restart checks: unsaved work)."""
        rows = await self._store.fetchall(
            _SELECT + " WHERE agent_id = ? ORDER BY updated_at DESC", (agent_id,)
        )
        return [_draft(r) for r in rows]


def holds_input(data: Mapping[str, Any]) -> bool:
    """Whether a draft holds anything the agent would lose: notes, a chosen disposition,
    or a new case's subject (the form starts with no disposition chosen)."""
    case = data.get("case") or {}
    subject = case.get("subject", "") if isinstance(case, Mapping) else ""
    return bool(
        str(data.get("notes", "")).strip() or data.get("disposition") or str(subject).strip()
    )


def _draft(row: Any) -> Draft:
    return Draft(int(row[0]), str(row[1]), json.loads(row[2]), float(row[3]))

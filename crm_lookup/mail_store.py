"""The email channel's store: the threading index and the attachments (migration 16).

Every message in or out is one ``email_messages`` row keyed by its Message-ID, with the
conversation it belongs to. A customer's reply names earlier ids (In-Reply-To,
References); :meth:`MailStore.conversation_of` finds the conversation of the nearest one
we know. The same id arriving twice (an IMAP re-fetch after a crash, an SMTP client
retrying after a lost reply) is recognised by :meth:`MailStore.record` returning False,
so a message is handed to the desk once.

Attachments are files under a data dir, named by their SHA-256 (the same file twice is
stored once), written to a temporary name and renamed, so a crash never leaves half a
file under the real name; the database has their metadata. Sizes are bounded here too.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Literal, Protocol

from config.errors import InvalidInput, NotFound
from crm_lookup.conversations import meta_like

#: ``reason`` of a message claimed and not yet in a conversation
PENDING = "pending"
_SELECT = (
    "SELECT message_id, conversation_key, direction, kind, sender, recipient, subject,"
    " in_reply_to, refs, reason, at FROM email_messages"
)
_ATTACH = (
    "SELECT id, message_id, filename, content_type, size, sha256, path, at FROM email_attachments"
)


class _Database(Protocol):
    async def write(self, sql: str, params: Sequence[Any] = ()) -> int: ...
    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...
    def transaction(self) -> AbstractAsyncContextManager[Any]: ...


@dataclass(frozen=True, slots=True)
class MailEntry:
    message_id: str
    conversation_key: str
    direction: Literal["in", "out"]
    kind: Literal["mail", "bounce", "auto_reply"] = "mail"
    sender: str = ""
    recipient: str = ""
    subject: str = ""
    in_reply_to: str = ""
    references: tuple[str, ...] = ()
    reason: str = ""
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class StoredAttachment:
    id: int
    message_id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    path: str  # relative to the attachments dir

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
        }


class MailStore:
    def __init__(self, store: _Database) -> None:
        self._store = store

    async def record(self, entry: MailEntry) -> bool:
        """Index one message; False when its Message-ID is already there (a duplicate)."""
        if not entry.message_id or len(entry.message_id) > 998:
            raise InvalidInput("a message id is 1..998 characters", field="message_id")
        changed = await self._store.write(
            "INSERT INTO email_messages(message_id, conversation_key, direction, kind, sender,"
            " recipient, subject, in_reply_to, refs, reason, at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(message_id) DO NOTHING",
            (
                entry.message_id,
                entry.conversation_key,
                entry.direction,
                entry.kind,
                entry.sender[:320],
                entry.recipient[:320],
                entry.subject[:998],
                entry.in_reply_to[:998],
                " ".join(entry.references)[:20_000],
                entry.reason[:200],
                entry.at or time.time(),
            ),
        )
        return changed > 0

    async def claim(self, entry: MailEntry) -> bool:
        """Index a message about to be handed to the desk, as ``pending`` (no
        conversation yet); False when its id is already there. :meth:`settle` completes
        it, :meth:`release` drops it when the hand-over failed."""
        return await self.record(
            MailEntry(
                entry.message_id,
                "",
                entry.direction,
                kind=entry.kind,
                sender=entry.sender,
                recipient=entry.recipient,
                subject=entry.subject,
                in_reply_to=entry.in_reply_to,
                references=entry.references,
                reason=PENDING,
                at=entry.at,
            )
        )

    async def settle(self, message_id: str, conversation_key: str) -> None:
        """The pending message is in ``conversation_key``."""
        await self._store.write(
            "UPDATE email_messages SET conversation_key = ?, reason = '' WHERE message_id = ?",
            (conversation_key, message_id),
        )

    async def release(self, message_id: str) -> None:
        """The hand-over failed: forget the pending message (it will come again)."""
        await self._store.write(
            "DELETE FROM email_messages WHERE message_id = ? AND reason = ?", (message_id, PENDING)
        )

    async def delivered_to(self, message_id: str, since: float) -> str | None:
        """The email conversation a message with this Message-ID in its meta was stored
        in at or after ``since`` — what a pending claim left by a crash is resolved by
        (rare: a bounded scan of the messages written since the claim)."""
        pattern = meta_like("message_id", message_id)
        row = await self._store.fetchone(
            "SELECT conversation_key FROM messages WHERE at >= ? AND sender = 'customer'"
            " AND conversation_key LIKE 'email:%' AND meta LIKE ? ESCAPE '\\'"
            " ORDER BY at LIMIT 1",
            (since, pattern),
        )
        return str(row["conversation_key"]) if row is not None else None

    async def get(self, message_id: str) -> MailEntry | None:
        row = await self._store.fetchone(_SELECT + " WHERE message_id = ?", (message_id,))
        return _entry(row) if row is not None else None

    async def conversation_of(self, ids: Sequence[str]) -> str | None:
        """The conversation of the first of ``ids`` (nearest first) that we know and
        that belongs to one."""
        wanted = [i for i in ids if i][:50]
        if not wanted:
            return None
        marks = ", ".join("?" for _ in wanted)
        rows = await self._store.fetchall(
            f"SELECT message_id, conversation_key FROM email_messages WHERE message_id IN ({marks})"
            " AND conversation_key <> ''",
            tuple(wanted),
        )
        found = {r["message_id"]: r["conversation_key"] for r in rows}
        for mid in wanted:
            if mid in found:
                return str(found[mid])
        return None

    async def correspondents(self, conversation_key: str) -> set[str]:
        """The addresses conversation ``conversation_key`` has corresponded with: the
        senders of the customer's mail in it and the recipients of ours, lower-cased
        addr-specs (what a reply naming one of its messages must come from to join it)."""
        rows = await self._store.fetchall(
            "SELECT direction, sender, recipient FROM email_messages"
            " WHERE conversation_key = ? AND kind = 'mail'",
            (conversation_key,),
        )
        found: set[str] = set()
        for row in rows:
            value = row["sender"] if row["direction"] == "in" else row["recipient"]
            for part in str(value or "").split(","):
                address = addr_spec(part)
                if address:
                    found.add(address)
        return found

    async def thread(self, conversation_key: str) -> list[MailEntry]:
        """The conversation's messages in and out, oldest first."""
        rows = await self._store.fetchall(
            _SELECT + " WHERE conversation_key = ? ORDER BY at, message_id", (conversation_key,)
        )
        return [_entry(r) for r in rows]

    async def latest(self, conversation_key: str, *, direction: str = "in") -> MailEntry | None:
        """The conversation's latest real message (not a bounce or an auto-reply)."""
        row = await self._store.fetchone(
            _SELECT + " WHERE conversation_key = ? AND direction = ? AND kind = 'mail'"
            " ORDER BY at DESC, message_id DESC LIMIT 1",
            (conversation_key, direction),
        )
        return _entry(row) if row is not None else None

    async def add_attachment(
        self,
        root: Path,
        message_id: str,
        filename: str,
        content_type: str,
        data: bytes,
        *,
        max_bytes: int,
    ) -> StoredAttachment:
        """Keep one attachment of an indexed message: the file under ``root``, the row here.

        Raises:
            InvalidInput: larger than ``max_bytes``, or a name that is no file name.
        """
        if len(data) > max_bytes:
            raise InvalidInput(f"attachment larger than {max_bytes} bytes", field="attachment")
        name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
        if not name or name in (".", "..") or any(ord(c) < 32 for c in name):
            raise InvalidInput("not a file name", field="attachment")
        digest = hashlib.sha256(data).hexdigest()
        relative = f"{digest[:2]}/{digest}"
        await asyncio.to_thread(_write_file, root / relative, data)
        async with self._store.transaction() as tx:
            new_id = await tx.insert(
                "INSERT INTO email_attachments(message_id, filename, content_type, size, sha256,"
                " path, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    message_id,
                    name[:200],
                    content_type[:100],
                    len(data),
                    digest,
                    relative,
                    time.time(),
                ),
            )
        return StoredAttachment(
            int(new_id), message_id, name[:200], content_type[:100], len(data), digest, relative
        )

    async def attachments(self, message_id: str) -> list[StoredAttachment]:
        rows = await self._store.fetchall(
            _ATTACH + " WHERE message_id = ? ORDER BY id", (message_id,)
        )
        return [_attachment(r) for r in rows]

    async def attachments_of(self, conversation_key: str) -> list[StoredAttachment]:
        rows = await self._store.fetchall(
            _ATTACH + " WHERE message_id IN (SELECT message_id FROM email_messages"
            " WHERE conversation_key = ?) ORDER BY id",
            (conversation_key,),
        )
        return [_attachment(r) for r in rows]

    async def read_attachment(
        self, root: Path, attachment_id: int
    ) -> tuple[StoredAttachment, bytes]:
        """An attachment's metadata and bytes. Raises NotFound."""
        row = await self._store.fetchone(_ATTACH + " WHERE id = ?", (attachment_id,))
        if row is None:
            raise NotFound(f"no attachment {attachment_id}")
        meta = _attachment(row)
        data = await asyncio.to_thread((root / meta.path).read_bytes)
        return meta, data


def addr_spec(value: str) -> str:
    """The bare address of ``value`` (``Name <a@b>`` or ``a@b``), lower-cased; "" when
    it holds none."""
    address = parseaddr(value or "")[1].strip().lower()
    return address if "@" in address else ""


def _write_file(path: Path, data: bytes) -> None:
    if path.exists() and path.stat().st_size == len(data):
        return  # content-addressed: the same bytes are already there
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _entry(row: Any) -> MailEntry:
    refs = str(row["refs"] or "")
    return MailEntry(
        message_id=row["message_id"],
        conversation_key=row["conversation_key"],
        direction=row["direction"],
        kind=row["kind"],
        sender=row["sender"],
        recipient=row["recipient"],
        subject=row["subject"],
        in_reply_to=row["in_reply_to"],
        references=tuple(refs.split()) if refs else (),
        reason=row["reason"],
        at=float(row["at"]),
    )


def _attachment(row: Any) -> StoredAttachment:
    return StoredAttachment(
        int(row["id"]),
        row["message_id"],
        row["filename"],
        row["content_type"],
        int(row["size"]),
        row["sha256"],
        row["path"],
    )

"""Chat and email conversations and their messages (migration 15; ``store.conversations``).

Theory of operation: a conversation is a digital contact. Its ``contacts`` row (the same
milestones as a call's, written by ``routing.contacts.ContactRecorder``) carries what
every report reads — queue, agent, waits, outcome, wrap-up, first response; the
``conversations`` row beside it carries what only the desk needs: the channel's party,
subject and language, the state the desk restores after a restart, the thread it
continues and the visitor's resume token (hashed: a copy of the database resumes nobody's
chat). Messages are numbered per conversation (``seq`` from 1); writing the same number
twice keeps the first, so a replay never doubles a message. The desk numbers them (it
owns the conversation while it is open); this module only stores and reads.

Shapes (JSON-ready, the contract in docs/ARCHITECTURE.md "Digital contacts"):

* message: ``{"conversation", "seq", "sender", "agent_id", "name", "text", "at", "meta"}``
* conversation: ``{"key", "channel", "state", "queue", "agent_id", "customer_id",
  "contact_id", "party": {"name", "phone", "email"}, "subject", "language", "opened_at",
  "queued_at", "assigned_at", "ended_at", "first_response_at", "last_seq", "thread"}``
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from config.errors import InvalidInput, NotFound
from crm_lookup.database import ForeignKeyViolation, Table

if TYPE_CHECKING:
    from crm_lookup.store import Store

DIGITAL_CHANNELS = ("chat", "email")
STATES = ("waiting", "active", "ended", "closed")
SENDERS = ("customer", "agent", "system")
#: a message body, in bytes of UTF-8 (the column's CHECK counts characters: never less)
MAX_BODY = 64 * 1024
MAX_META = 16 * 1024
MAX_SUBJECT = 500
MAX_PAGE = 500

MESSAGES = Table(
    "messages",
    ("conversation_key", "seq", "sender", "agent_id", "name", "body", "meta", "at"),
    ("conversation_key", "seq"),
)
#: a message row as :func:`message_json` reads it
_MESSAGES = f"SELECT {', '.join(MESSAGES.columns)} FROM messages"

_SELECT = """
SELECT v.key, v.channel, v.state, v.queue, v.agent_id, v.priority, v.skills, v.subject,
       v.party_name, v.party_phone, v.party_email, v.language, v.thread, v.last_seq,
       v.created_at, v.updated_at, c.id, c.customer_id, c.arrived_at, c.queued_at,
       c.answered_at, c.ended_at, c.first_response_at, c.wrapped_at,
       (SELECT max(m.seq) FROM messages m WHERE m.conversation_key = v.key) AS top_seq
FROM conversations v JOIN contacts c ON c.key = v.key
"""


def hash_token(token: str) -> str:
    """What is stored of a visitor's resume token (SHA-256, hex)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def clean_text(value: str, field: str, limit: int, *, one_line: bool = True) -> str:
    """``value`` stripped, at most ``limit`` characters, no control characters (a
    newline and a tab are allowed where ``one_line`` is False).

    Raises:
        InvalidInput: too long, or a control character.
    """
    text = (value or "").strip()
    allowed = "" if one_line else "\n\t\r"
    if len(text) > limit or any(ord(c) < 32 and c not in allowed for c in text):
        what = "one line of" if one_line else ""
        raise InvalidInput(
            f"{field} must be {what} at most {limit} characters".replace("  ", " "), field=field
        )
    return text


def clean_body(text: str) -> str:
    """A message body: text, not empty, at most 64 KiB of UTF-8, no control characters
    but newlines and tabs.

    Raises:
        InvalidInput: empty, too long or with control characters.
    """
    if not isinstance(text, str):
        raise InvalidInput("text must be a string", field="text")
    body = text.strip()
    if not body:
        raise InvalidInput("text is required", field="text")
    if len(body.encode("utf-8", "surrogatepass")) > MAX_BODY:
        raise InvalidInput(f"text is longer than {MAX_BODY} bytes", field="text")
    if any((ord(c) < 32 and c not in "\n\t\r") or 0xD800 <= ord(c) <= 0xDFFF for c in body):
        raise InvalidInput("text holds control characters", field="text")
    return body


def clean_meta(meta: Mapping[str, Any] | None) -> str:
    """The message's meta as JSON text (at most 16 KiB).

    Raises:
        InvalidInput: not a mapping, not JSON, too large.
    """
    if meta is None:
        return "{}"
    if not isinstance(meta, Mapping):
        raise InvalidInput("meta must be an object", field="meta")
    try:
        text = json.dumps({str(k): v for k, v in meta.items()}, separators=(",", ":"))
    except (TypeError, ValueError):
        raise InvalidInput("meta must be JSON", field="meta") from None
    if len(text) > MAX_META:
        raise InvalidInput(f"meta is larger than {MAX_META} bytes", field="meta")
    return text


def meta_like(name: str, value: str) -> str:
    """A LIKE pattern (``ESCAPE '\\'``) matching a message's compact meta JSON that holds
    ``name: value``: a bounded scan's first cut, the caller then checks the parsed meta."""
    needle = json.dumps(name) + ":" + json.dumps(value)
    return "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def message_json(row: Any, key: str | None = None) -> dict[str, Any]:
    return {
        "conversation": key if key is not None else row[0],
        "seq": int(row[1]),
        "sender": row[2],
        "agent_id": row[3] or None,
        "name": row[4],
        "text": row[5],
        "at": float(row[7]),
        "meta": json.loads(row[6] or "{}"),
    }


def conversation_from_row(row: Any) -> dict[str, Any]:
    """The conversation JSON of a ``_SELECT`` row, plus ``priority``, ``skills`` and
    ``wrapped_at`` (what a restart needs)."""
    return {
        "key": row[0],
        "channel": row[1],
        "state": row[2],
        "queue": row[3] or None,
        "agent_id": row[4] or None,
        "customer_id": row[17],
        "contact_id": int(row[16]),
        "party": {"name": row[8], "phone": row[9], "email": row[10]},
        "subject": row[7],
        "language": row[11],
        "opened_at": row[18] if row[18] is not None else float(row[14]),
        "queued_at": row[19],
        "assigned_at": row[20],
        "ended_at": row[21],
        "first_response_at": row[22],
        # the column may lag the messages (the desk moves it with the state, not per
        # message): the highest stored number wins
        "last_seq": max(int(row[13]), int(row[24] or 0)),
        "thread": row[12],
        "priority": int(row[5]),
        "skills": json.loads(row[6] or "{}"),
        "wrapped_at": row[23],
        "updated_at": float(row[15]),
    }


class ConversationRepo:
    """Conversations (one per digital contact) and their messages."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def create(
        self,
        key: str,
        channel: str,
        *,
        queue: str,
        party: Mapping[str, str],
        subject: str = "",
        language: str = "",
        thread: str = "",
        priority: int = 0,
        skills: Mapping[str, int] | None = None,
        visitor_token_hash: str = "",
        at: float | None = None,
    ) -> bool:
        """The conversation row of contact ``key`` (its ``arrived`` milestone is written
        first: the row refers to the contact). The same key again changes nothing.

        Raises:
            InvalidInput: an unknown channel, a field too long.
            NotFound: no contact ``key`` yet.
        """
        if channel not in DIGITAL_CHANNELS:
            raise InvalidInput("channel must be chat or email", field="channel")
        when = time.time() if at is None else float(at)
        row = (
            key,
            channel,
            clean_text(queue, "queue", 64),
            int(priority),
            json.dumps(dict(skills or {}), sort_keys=True),
            clean_text(subject, "subject", MAX_SUBJECT),
            clean_text(party.get("name", ""), "name", 200),
            clean_text(party.get("phone", ""), "phone", 64),
            clean_text(party.get("email", ""), "email", 254),
            clean_text(language, "language", 16),
            clean_text(thread, "thread", 80),
            visitor_token_hash,
            when,
            when,
        )
        try:
            changed = await self._store.write(
                "INSERT INTO conversations(key, channel, queue, priority, skills, subject,"
                " party_name, party_phone, party_email, language, thread, visitor_token_hash,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (key) DO NOTHING",
                row,
            )
        except ForeignKeyViolation:
            raise NotFound(f"no contact {key[:64]!r}") from None
        return changed > 0

    async def update(
        self,
        key: str,
        *,
        state: str | None = None,
        agent_id: str | None = None,
        queue: str | None = None,
        last_seq: int | None = None,
        at: float | None = None,
    ) -> bool:
        """Change the state, the agent ("" = none), the queue and/or the highest message
        number (never lowered).

        Raises:
            InvalidInput: an unknown state.
        """
        if state is not None and state not in STATES:
            raise InvalidInput(f"state must be one of {', '.join(STATES)}", field="state")
        sets: list[str] = ["updated_at = ?"]
        params: list[Any] = [time.time() if at is None else float(at)]
        for column, value in (("state", state), ("agent_id", agent_id), ("queue", queue)):
            if value is not None:
                sets.append(f"{column} = ?")
                params.append(value)
        if last_seq is not None:
            sets.append("last_seq = CASE WHEN last_seq < ? THEN ? ELSE last_seq END")
            params += [int(last_seq), int(last_seq)]
        changed = await self._store.write(
            f"UPDATE conversations SET {', '.join(sets)} WHERE key = ?", (*params, key)
        )
        return changed > 0

    async def set_visitor_token(self, key: str, token: str) -> None:
        """Keep (the hash of) the visitor's resume token. Raises NotFound."""
        changed = await self._store.write(
            "UPDATE conversations SET visitor_token_hash = ? WHERE key = ?",
            (hash_token(token), key),
        )
        if not changed:
            raise NotFound(f"no conversation {key[:64]!r}")

    async def token_matches(self, key: str, token: str) -> bool:
        """Whether ``token`` is the resume token of conversation ``key`` (constant time)."""
        if not token or len(token) > 200:
            return False
        row = await self._store.fetchone(
            "SELECT visitor_token_hash FROM conversations WHERE key = ?", (key,)
        )
        if row is None or not row[0]:
            return False
        return hmac.compare_digest(str(row[0]), hash_token(token))

    async def add_message(
        self,
        key: str,
        seq: int,
        sender: str,
        text: str,
        *,
        agent_id: str = "",
        name: str = "",
        meta: Mapping[str, Any] | None = None,
        at: float | None = None,
        bump: bool = True,
    ) -> dict[str, Any]:
        """Store message ``seq`` of conversation ``key`` and return it (message JSON).
        The same ``seq`` again keeps the first (a replay writes nothing twice).
        ``bump=False`` leaves the conversation row's ``last_seq`` (one write, not two:
        the reads take the highest stored number anyway; the desk moves the column with
        the conversation's state).

        Raises:
            InvalidInput: an unknown sender, a bad body or meta.
            NotFound: no conversation ``key``.
        """
        if sender not in SENDERS:
            raise InvalidInput("sender must be customer, agent or system", field="sender")
        if seq < 1:
            raise InvalidInput("seq starts at 1", field="seq")
        body = clean_body(text)
        meta_text = clean_meta(meta)
        when = time.time() if at is None else float(at)
        who = clean_text(name, "name", 200)
        row = (key, int(seq), sender, agent_id or "", who, body, meta_text, when)
        try:
            await self._store.db.insert_new(MESSAGES, row)
        except ForeignKeyViolation:
            raise NotFound(f"no conversation {key[:64]!r}") from None
        if bump:
            await self._store.write(
                "UPDATE conversations SET last_seq = ?, updated_at = ?"
                " WHERE key = ? AND last_seq < ?",
                (int(seq), when, key, int(seq)),
            )
        return {
            "conversation": key,
            "seq": int(seq),
            "sender": sender,
            "agent_id": agent_id or None,
            "name": who,
            "text": body,
            "at": when,
            "meta": json.loads(meta_text),
        }

    async def messages(
        self, key: str, after_seq: int = 0, limit: int = MAX_PAGE
    ) -> list[dict[str, Any]]:
        """Messages of ``key`` numbered above ``after_seq``, oldest first, at most ``limit``.

        Raises:
            InvalidInput: ``limit`` outside 1..500 or a negative ``after_seq``.
        """
        if not 1 <= limit <= MAX_PAGE or after_seq < 0:
            raise InvalidInput(
                f"limit must be 1..{MAX_PAGE} and after_seq not negative", field="limit"
            )
        rows = await self._store.fetchall(
            _MESSAGES + " WHERE conversation_key = ? AND seq > ? ORDER BY seq LIMIT ?",
            (key, int(after_seq), int(limit)),
        )
        return [message_json(r) for r in rows]

    async def update_meta(
        self, key: str, seq: int, changes: Mapping[str, Any], *, drop: Sequence[str] = ()
    ) -> dict[str, Any] | None:
        """Merge ``changes`` into the meta of message ``seq`` (and remove the ``drop``
        keys) as it is stored now, in one transaction: what a writer copied earlier is
        never written back over what another wrote since. A reply's ``delivery`` once
        ``"bounced"`` stays so (with its ``delivery_error``): the relay's late "sent"
        does not undo a report that came first. Returns the meta as stored, or None when
        there is no such message.

        Raises:
            InvalidInput: the merged meta not JSON or too large.
        """
        async with self._store.transaction() as db:
            row = await db.fetchone(
                "SELECT meta FROM messages WHERE conversation_key = ? AND seq = ?",
                (key, int(seq)),
            )
            if row is None:
                return None
            try:
                meta = json.loads(row[0] or "{}")
            except ValueError:
                meta = {}
            if not isinstance(meta, dict):
                meta = {}
            bounced = meta.get("delivery") == "bounced"
            kept = {k: meta[k] for k in ("delivery", "delivery_error") if k in meta}
            for name in drop:
                meta.pop(name, None)
            meta.update(changes)
            if bounced:
                meta.update(kept)
            await db.execute(
                "UPDATE messages SET meta = ? WHERE conversation_key = ? AND seq = ?",
                (clean_meta(meta), key, int(seq)),
            )
            return dict(meta)

    async def undelivered(self, limit: int = 1000) -> list[dict[str, Any]]:
        """Agents' email replies stored and not yet handed to the relay (``meta.delivery``
        ``queued``: the service stopped between the two), oldest first. A scan of the
        messages' meta: run once at start."""
        rows = await self._store.fetchall(
            _MESSAGES + " WHERE sender = 'agent' AND conversation_key LIKE 'email:%'"
            ' AND meta LIKE \'%"delivery":"queued"%\' ORDER BY at, seq LIMIT ?',
            (max(1, int(limit)),),
        )
        found = [message_json(r) for r in rows]
        return [m for m in found if m["meta"].get("delivery") == "queued"]

    async def messages_before(
        self, key: str, before_seq: int, limit: int = MAX_PAGE
    ) -> list[dict[str, Any]]:
        """The newest ``limit`` messages of ``key`` numbered below ``before_seq``, oldest
        first: a long thread's latest page, then (``before_seq`` its first number) the
        page before it.

        Raises:
            InvalidInput: ``limit`` outside 1..500 or a negative ``before_seq``.
        """
        if not 1 <= limit <= MAX_PAGE or before_seq < 0:
            raise InvalidInput(
                f"limit must be 1..{MAX_PAGE} and before_seq not negative", field="before_seq"
            )
        rows = await self._store.fetchall(
            _MESSAGES + " WHERE conversation_key = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
            (key, int(before_seq), int(limit)),
        )
        return [message_json(r) for r in reversed(rows)]

    async def by_client_id(self, key: str, client_id: str) -> dict[str, Any] | None:
        """The customer's message of ``key`` sent with the widget's ``client_id`` (its
        ``meta.client_id``), or None: what makes a visitor's resend idempotent after a
        restart, when the desk no longer has the ids in memory."""
        found = await self.with_meta(key, "client_id", client_id, sender="customer")
        return found[0] if found else None

    async def with_meta(
        self, key: str, name: str, value: str, *, sender: str = "", limit: int = 20
    ) -> list[dict[str, Any]]:
        """Messages of ``key`` (from ``sender`` if given) whose meta holds ``name:
        value`` at its top or one level down (an agent's reply by its ``message_id``, a
        bounce's system line by its ``bounce.report_id``), oldest first, at most
        ``limit``: a bounded LIKE scan of one conversation, then checked exactly."""
        if not value:
            return []
        where = " AND sender = ?" if sender else ""
        args: tuple[Any, ...] = (key, meta_like(name, value), *((sender,) if sender else ()))
        rows = await self._store.fetchall(
            _MESSAGES
            + " WHERE conversation_key = ? AND meta LIKE ? ESCAPE '\\'"
            + where
            + " ORDER BY seq LIMIT ?",
            (*args, max(1, min(int(limit), MAX_PAGE))),
        )
        found = []
        for row in rows:
            message = message_json(row)
            meta = message["meta"]
            nested = [v for v in meta.values() if isinstance(v, dict)]
            if meta.get(name) == value or any(v.get(name) == value for v in nested):
                found.append(message)
        return found

    async def last_seq(self, key: str) -> int:
        """The highest message number stored for ``key`` (0: none)."""
        row = await self._store.fetchone(
            "SELECT max(seq) FROM messages WHERE conversation_key = ?", (key,)
        )
        return int(row[0]) if row and row[0] is not None else 0

    async def get(self, key: str) -> dict[str, Any] | None:
        """The conversation ``key`` (conversation JSON and what a restart needs) or None."""
        row = await self._store.fetchone(_SELECT + " WHERE v.key = ?", (key,))
        return conversation_from_row(row) if row else None

    async def open_ones(self, limit: int = 100_000) -> list[dict[str, Any]]:
        """Conversations not closed, oldest first: what the desk restores at start."""
        rows = await self._store.fetchall(
            _SELECT + " WHERE v.state != 'closed' ORDER BY v.created_at, v.key LIMIT ?",
            (limit,),
        )
        return [conversation_from_row(r) for r in rows]

    async def of_customer(self, customer_id: int, limit: int = 50) -> list[dict[str, Any]]:
        """A customer's conversations, newest first (the customer page's history)."""
        rows = await self._store.fetchall(
            _SELECT + " WHERE c.customer_id = ? ORDER BY v.created_at DESC LIMIT ?",
            (customer_id, max(1, min(200, limit))),
        )
        return [conversation_from_row(r) for r in rows]

    async def latest_of_thread(self, thread: str) -> dict[str, Any] | None:
        """The newest conversation continuing ``thread`` (or ``thread`` itself)."""
        row = await self._store.fetchone(
            _SELECT + " WHERE v.thread = ? OR v.key = ? ORDER BY v.created_at DESC LIMIT 1",
            (thread, thread),
        )
        return conversation_from_row(row) if row else None

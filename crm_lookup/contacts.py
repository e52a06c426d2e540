"""The contact log: every call's milestones, written as they happen, idempotently.

Theory of operation: a milestone is one ``INSERT ... ON CONFLICT DO NOTHING`` into ``contact_events``
keyed by ``(contact_key, kind, ident)`` (see :mod:`crm_lookup.schema` for the triggers
that fold it into the ``contacts`` row). The ``ident`` decides what "the same event"
means: one ``arrived`` / ``answered`` / ``ended`` per contact; ``queued`` once per queue;
``offered`` once per agent and time; ``ivr_step`` once per step and time; a wrap-up once
per content. Pass the event's own time as ``at`` so a replay after a reconnect matches
what was written before. Every write returns True when it changed something.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from config.errors import InvalidInput, NotFound
from crm_lookup.cases import apply_change_in
from crm_lookup.database import Dialect, ForeignKeyViolation, Table
from crm_lookup.models import CaseChange, Contact, ContactEvent, Direction, Outcome, Page
from crm_lookup.phones import try_normalize

if TYPE_CHECKING:
    from crm_lookup.store import Store

Step = str | Mapping[str, Any]
#: the channels a contact comes by (routing.acd.model.CHANNELS; crm_lookup cannot import it)
CHANNELS = ("voice", "chat", "email")
When = float | datetime | None


def select_contact(dialect: Dialect) -> str:
    """Every column :func:`contact_from_row` reads, the contact's case ids as JSON."""
    case_ids = dialect.json_array(
        "case_id", "case_contacts WHERE contact_id = contacts.id", "case_id"
    )
    return f"""
SELECT id, key, direction, caller, dialed, customer_id, arrived_at, ivr_path, ivr_result,
       queue, queued_at, offered_at, offers, agent_id, answered_at, ended_at, wrapped_at,
       wait_seconds, talk_seconds, hold_seconds, wrapup_seconds, outcome, disposition, notes,
       recording, created_at, {case_ids} AS case_ids, channel, first_response_at
FROM contacts
"""


EVENTS = Table(
    "contact_events",
    ("contact_key", "kind", "ident", "at", "data"),
    ("contact_key", "kind", "ident"),
)
_INSERT_EVENT = EVENTS.insert_sql()


def contact_from_row(row: Any) -> Contact:
    return Contact(
        id=int(row[0]),
        key=row[1],
        direction=row[2],
        caller=row[3],
        dialed=row[4],
        customer_id=row[5],
        arrived_at=row[6],
        ivr_path=tuple(json.loads(row[7])),
        ivr_result=row[8],
        queue=row[9],
        queued_at=row[10],
        offered_at=row[11],
        offers=row[12],
        agent_id=row[13],
        answered_at=row[14],
        ended_at=row[15],
        wrapped_at=row[16],
        wait_seconds=row[17],
        talk_seconds=row[18],
        hold_seconds=row[19],
        wrapup_seconds=row[20],
        outcome=row[21],
        disposition=row[22],
        notes=row[23],
        recording=row[24],
        started_at=row[25],
        case_ids=tuple(json.loads(row[26])),
        channel=row[27],
        first_response_at=row[28],
    )


def timestamp(at: When) -> float:
    """Epoch seconds from a float, an aware datetime, or now."""
    if at is None:
        return time.time()
    if isinstance(at, datetime):
        if at.tzinfo is None:
            raise InvalidInput("timestamps must carry a time zone", field="at")
        return at.timestamp()
    return float(at)


def _clean(value: str, field: str, limit: int = 128, *, required: bool = True) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput(f"{field} is required", field=field)
    if len(text) > limit or any(ord(c) < 32 for c in text):
        raise InvalidInput(f"{field} must be one line of at most {limit} characters", field=field)
    return text


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _step_json(step: Step) -> Any:
    if isinstance(step, str):
        return _clean(step, "step", 200)
    if isinstance(step, Mapping):
        return {str(k): v for k, v in step.items()}
    raise InvalidInput("an IVR step is a string or a mapping", field="step")


class ContactLog:
    """Contacts and their timelines. All milestone methods are idempotent."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._select = select_contact(store.dialect)

    async def _event(
        self, key: str, kind: str, ident: str, at: float, data: Mapping[str, Any]
    ) -> bool:
        contact_key = _clean(key, "key")
        try:
            payload = json.dumps(dict(data), default=str)
        except (TypeError, ValueError):
            raise InvalidInput(f"{kind} data is not JSON-serialisable", field=kind) from None
        try:
            changed = await self._store.db.insert_new(
                EVENTS, (contact_key, kind, ident, at, payload)
            )
        except ForeignKeyViolation:
            # The only reference a caller can get wrong is the customer id.
            raise NotFound(f"{kind}: no such customer {data.get('customer_id')}") from None
        return changed

    async def arrived(
        self,
        key: str,
        caller: str,
        dialed: str,
        direction: str = "inbound",
        at: When = None,
        customer_id: int | None = None,
        channel: str = "voice",
    ) -> bool:
        """A call reached us (or we placed one), or a chat or an email conversation
        opened (``channel``). Links the customer owning the far-end number (the caller
        inbound, the dialed number outbound) unless one is given.

        Raises:
            InvalidInput: empty key, unknown direction or channel.
        """
        if channel not in CHANNELS:
            raise InvalidInput("channel must be voice, chat or email", field="channel")
        try:
            way = Direction(direction).value
        except ValueError:
            raise InvalidInput("direction must be inbound or outbound", field="direction") from None
        caller_text = _clean(caller, "caller", 64, required=False)
        dialed_text = _clean(dialed, "dialed", 64, required=False)
        region = self._store.default_region
        caller_e164 = try_normalize(caller_text, region) if caller_text else None
        dialed_e164 = try_normalize(dialed_text, region) if dialed_text else None
        party = caller_e164 if way == "inbound" else dialed_e164
        data = {
            "direction": way,
            "caller": caller_e164 or caller_text,
            "dialed": dialed_e164 or dialed_text,
            "party": party,
            "customer_id": customer_id,
        }
        if channel != "voice":
            # only digital contacts say so: the trigger leaves a call's default alone
            data["channel"] = channel
        return await self._event(key, "arrived", "", timestamp(at), data)

    async def ivr_step(self, key: str, step: Step, at: When = None) -> bool:
        """One IVR node visited (a node id, or a mapping like routing's PathStep)."""
        when = timestamp(at)
        value = _step_json(step)
        ident = hashlib.sha1(_canonical([value, round(when, 3)]).encode()).hexdigest()[:20]
        return await self._event(key, "ivr_step", ident, when, {"step": value})

    async def ivr_done(
        self, key: str, path: Sequence[Step] | None = None, outcome: str = "", at: When = None
    ) -> bool:
        """The IVR finished; ``path`` (if given) replaces the steps logged one by one."""
        steps = None if path is None else [_step_json(s) for s in path]
        result = _clean(outcome, "outcome", 64, required=False)
        return await self._event(
            key, "ivr_done", "", timestamp(at), {"path": steps, "result": result}
        )

    async def queued(self, key: str, queue: str, at: When = None) -> bool:
        """The call entered ``queue`` (a transfer to another queue is a new milestone)."""
        name = _clean(queue, "queue", 64)
        return await self._event(key, "queued", name, timestamp(at), {"queue": name})

    async def offered(self, key: str, agent_id: str, at: When = None) -> bool:
        """An agent's phone started ringing for this call."""
        agent = _clean(agent_id, "agent_id", 64)
        when = timestamp(at)
        return await self._event(key, "offered", f"{agent}@{when:.3f}", when, {"agent_id": agent})

    async def answered(self, key: str, agent_id: str, at: When = None) -> bool:
        """The agent answered: sets the wait (from entering the queue)."""
        agent = _clean(agent_id, "agent_id", 64)
        return await self._event(key, "answered", "", timestamp(at), {"agent_id": agent})

    async def first_response(self, key: str, agent_id: str, at: When = None) -> bool:
        """The agent's first reply in a chat or an email conversation (once per contact;
        sets ``first_response_at``). Calls have none: their reports use answered_at."""
        agent = _clean(agent_id, "agent_id", 64)
        return await self._event(key, "first_response", "", timestamp(at), {"agent_id": agent})

    async def held(self, key: str, at: When = None) -> bool:
        """The agent put the caller on hold."""
        when = timestamp(at)
        return await self._event(key, "held", f"{when:.3f}", when, {})

    async def unheld(self, key: str, at: When = None) -> bool:
        """The caller came back from hold; the time on hold is added up."""
        when = timestamp(at)
        return await self._event(key, "unheld", f"{when:.3f}", when, {})

    async def recording(self, key: str, ref: str, at: When = None, agent_id: str = "") -> bool:
        """Where the call's recording is (a file name or URL, not its content); the
        column holds the latest, the timeline every one: a call recorded in several
        parts (an agent's, then after a blind transfer another agent's) has one
        ``recording`` event per part, ``agent_id`` the agent whose part it is."""
        ref_text = _clean(ref, "recording", 500)
        data = {"ref": ref_text}
        if agent_id:
            data["agent_id"] = _clean(agent_id, "agent_id", 64)
        return await self._event(key, "recording", ref_text, timestamp(at), data)

    async def note(
        self, key: str, kind: str, data: Mapping[str, Any] | None = None, at: When = None
    ) -> bool:
        """A timeline entry with no column of its own (a transfer, a move to another queue,
        a ring that was not answered, a callback attempt). The same note twice is kept once.

        Raises:
            InvalidInput: empty key or kind, or data that is not JSON.
        """
        name = _clean(kind, "kind", 64)
        when = timestamp(at)
        return await self._event(key, f"note:{name}", f"{when:.3f}", when, dict(data or {}))

    async def ended(self, key: str, at: When = None, outcome: str = "answered") -> bool:
        """The call is over: sets the outcome, talk and hold seconds.

        Raises:
            InvalidInput: an outcome not in :class:`Outcome`.
        """
        try:
            value = Outcome(outcome).value
        except ValueError:
            choices = ", ".join(o.value for o in Outcome)
            raise InvalidInput(f"outcome must be one of {choices}", field="outcome") from None
        return await self._event(key, "ended", "", timestamp(at), {"outcome": value})

    async def wrapup(
        self,
        contact_id: int,
        disposition: str,
        notes: str = "",
        case: CaseChange | None = None,
        at: When = None,
        actor: str = "",
    ) -> Contact:
        """The agent's wrap-up: disposition, notes, and optionally a case opened or updated
        and linked to the contact, all in one transaction. The same wrap-up again changes
        nothing; a different one later overwrites disposition and notes.

        Raises:
            NotFound: no such contact (or case).
            InvalidInput: empty disposition, notes too long, a case for a contact without
                a customer, a case of another customer.
        """
        dispo = _clean(disposition, "disposition", 64)
        if len(notes) > 10_000:
            raise InvalidInput("notes are longer than 10000 characters", field="notes")
        when = timestamp(at)
        case_part = None if case is None else _canonical(dataclasses.asdict(case))
        ident = hashlib.sha1(_canonical([dispo, notes, case_part]).encode()).hexdigest()[:20]
        async with self._store.transaction() as db:
            found = await db.fetchone(
                "SELECT key, customer_id FROM contacts WHERE id = ?", (contact_id,)
            )
            if found is None:
                raise NotFound(f"no contact {contact_id}")
            key, customer_id = found[0], found[1]
            seen = await db.fetchone(
                "SELECT 1 FROM contact_events WHERE contact_key = ? AND kind = 'wrapup'"
                " AND ident = ?",
                (key, ident),
            )
            if not seen:
                case_id = None
                if case is not None:
                    case_id = await apply_change_in(db, case, customer_id, contact_id, actor=actor)
                data = {"disposition": dispo, "notes": notes, "case_id": case_id}
                await db.execute(_INSERT_EVENT, (key, "wrapup", ident, when, json.dumps(data)))
            # the draft is the saved wrap-up now: gone in the same transaction
            await db.execute("DELETE FROM wrapup_drafts WHERE contact_id = ?", (contact_id,))
        return await self.get(contact_id)

    async def link_customer(self, contact_id: int, customer_id: int) -> Contact:
        """Attach a contact to a customer (a "new caller" the agent just created).

        Raises:
            NotFound: no such contact or customer.
        """
        contact = await self.get(contact_id)
        if (
            await self._store.fetchone("SELECT 1 FROM customers WHERE id = ?", (customer_id,))
            is None
        ):
            raise NotFound(f"no customer {customer_id}")
        await self._event(
            contact.key, "customer", str(customer_id), time.time(), {"customer_id": customer_id}
        )
        return await self.get(contact_id)

    async def get(self, contact_id: int) -> Contact:
        """Raises NotFound."""
        row = await self._store.fetchone(self._select + " WHERE id = ?", (contact_id,))
        if row is None:
            raise NotFound(f"no contact {contact_id}")
        return contact_from_row(row)

    async def get_by_key(self, key: str) -> Contact:
        """The contact of a call's Linkedid. Raises NotFound."""
        row = await self._store.fetchone(self._select + " WHERE key = ?", (key,))
        if row is None:
            raise NotFound(f"no contact for call {key[:64]!r}")
        return contact_from_row(row)

    async def timeline(self, contact_id: int) -> list[ContactEvent]:
        """The contact's events, oldest first. Raises NotFound."""
        contact = await self.get(contact_id)
        rows = await self._store.fetchall(
            "SELECT id, contact_key, kind, at, data FROM contact_events WHERE contact_key = ?"
            " ORDER BY at, id",
            (contact.key,),
        )
        return [ContactEvent(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]

    async def history(self, customer_id: int, limit: int = 20, offset: int = 0) -> Page:
        """The customer's contacts, newest first, one page.

        Raises:
            InvalidInput: limit outside 1..200 or a negative offset.
        """
        if not 1 <= limit <= 200 or offset < 0:
            raise InvalidInput("limit must be 1..200 and offset not negative", field="limit")
        total_row = await self._store.fetchone(
            "SELECT count(*) FROM contacts WHERE customer_id = ?", (customer_id,)
        )
        rows = await self._store.fetchall(
            self._select + " WHERE customer_id = ? ORDER BY created_at DESC, id DESC"
            " LIMIT ? OFFSET ?",
            (customer_id, limit, offset),
        )
        return Page(
            items=tuple(contact_from_row(r) for r in rows),
            total=int(total_row[0]) if total_row else 0,
            offset=offset,
            limit=limit,
        )

    async def open_contacts(
        self, limit: int = 100_000, *, channel: str = "voice"
    ) -> list[tuple[Contact, float]]:
        """Contacts of ``channel`` not ended yet, oldest first, each with the time of its
        last milestone (the best-known end of a call that was lost while the service was
        down). Calls only by default: the takeover judges calls by Asterisk's channels, and
        a chat or an email has none (the digital desk restores those)."""
        rows = await self._store.fetchall(
            self._select + " WHERE ended_at IS NULL AND channel = ? ORDER BY created_at, id"
            " LIMIT ?",
            (channel, limit),
        )
        contacts = [contact_from_row(row) for row in rows]
        last: dict[str, float] = {}
        keys = [c.key for c in contacts]
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, at in await self._store.fetchall(
                f"SELECT contact_key, max(at) FROM contact_events WHERE contact_key IN ({marks})"
                " GROUP BY contact_key",
                chunk,
            ):
                last[key] = float(at)
        return [(c, last.get(c.key, c.started_at or 0.0)) for c in contacts]

    async def between(
        self, start: float | None = None, end: float | None = None, batch: int = 1000
    ) -> AsyncIterator[Contact]:
        """Contacts started in ``[start, end)``, oldest first, read in batches."""
        low = float("-inf") if start is None else start
        high = float("inf") if end is None else end
        last = (low, -1)
        while True:
            rows = await self._store.fetchall(
                self._select + " WHERE (created_at, id) > (?, ?) AND created_at < ?"
                " ORDER BY created_at, id LIMIT ?",
                (last[0], last[1], high, batch),
            )
            for row in rows:
                yield contact_from_row(row)
            if len(rows) < batch:
                return
            last = (rows[-1][25], rows[-1][0])

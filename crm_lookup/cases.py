"""Cases: a customer's tracked requests, their timeline and their SLA fields (migration 19).

A case has a number (``C-000123``, its id formatted), subject, customer, status (``new``,
``open``, ``pending_customer``, ``resolved``, ``closed``), priority, category, a queue and
an assigned agent, and a timeline (``case_events``): created, every linked contact (of any
channel: ``case_contacts`` keeps the links, the timeline when and by whom), notes, status /
priority / assignee changes. Every change writes its timeline entry in the same
transaction.

SLA fields (the clock itself is ``routing.sla``; the due times and breach flags are kept
by ``routing.case_sla``): ``first_response_at`` is set when the case is opened from a
contact, a contact is linked, or the case goes to pending_customer or resolved;
``resolved_at`` when it is resolved (or closed unresolved). The resolution clock pauses
while ``pending_customer`` and while resolved (``paused_since``); leaving the pause adds
its *business* seconds to ``paused_seconds``, measured by :attr:`CaseRepo.business_seconds`
(wall seconds until the service sets the SLA schedule's function: this layer knows no
schedules).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from config.errors import InvalidInput, NotFound
from crm_lookup.database import ConstraintViolation, Dialect, Transaction
from crm_lookup.models import CASE_PRIORITIES, Case, CaseChange, CaseEvent, CaseStatus

if TYPE_CHECKING:
    from crm_lookup.store import Store

LEGACY_STATUS = {"pending": "pending_customer"}  # the wrap-up's old value
PAUSED = ("pending_customer", "resolved", "closed")
_COLUMNS = (
    "k.id, k.customer_id, k.subject, k.status, k.due_at, k.notes, k.created_at, k.updated_at,"
    " {contact_ids} AS contact_ids, k.priority, k.category, k.queue, k.agent_id,"
    " k.first_response_due, k.first_response_at, k.resolution_due, k.resolved_at,"
    " k.paused_seconds, k.paused_since, k.first_response_breached, k.resolution_breached,"
    " k.created_by, cu.name"
)


def select_case(dialect: Dialect) -> str:
    """Every column :func:`case_from_row` reads, the linked contact ids as JSON."""
    contact_ids = dialect.json_array(
        "contact_id", "case_contacts WHERE case_id = k.id", "contact_id"
    )
    cols = _COLUMNS.format(contact_ids=contact_ids)
    return f"SELECT {cols} FROM cases k JOIN customers cu ON cu.id = k.customer_id"


def case_from_row(row: Any) -> Case:
    return Case(
        id=int(row[0]),
        customer_id=int(row[1]),
        subject=row[2],
        status=row[3],
        due_at=row[4],
        notes=row[5],
        created_at=row[6],
        updated_at=row[7],
        contact_ids=tuple(json.loads(row[8])),
        priority=row[9],
        category=row[10],
        queue=row[11],
        agent_id=row[12],
        first_response_due=row[13],
        first_response_at=row[14],
        resolution_due=row[15],
        resolved_at=row[16],
        paused_seconds=float(row[17] or 0.0),
        paused_since=row[18],
        first_response_breached=bool(row[19]),
        resolution_breached=bool(row[20]),
        created_by=row[21],
        customer_name=row[22] or "",
    )


def parse_number(text: str) -> int:
    """``C-000123`` (or ``123``) -> 123. Raises InvalidInput."""
    value = (text or "").strip().upper()
    if value.startswith("C-"):
        value = value[2:]
    if not value.isascii() or not value.isdigit() or len(value) > 12 or int(value) == 0:
        raise InvalidInput("a case number looks like C-000123", field="number")
    return int(value)


def _status(value: str) -> str:
    value = LEGACY_STATUS.get(value, value)
    try:
        return CaseStatus(value).value
    except ValueError:
        raise InvalidInput(
            f"case status must be new, open, pending_customer, resolved or closed, not {value!r}",
            field="status",
        ) from None


def _priority(value: str) -> str:
    if value not in CASE_PRIORITIES:
        raise InvalidInput(
            f"case priority must be one of {', '.join(CASE_PRIORITIES)}", field="priority"
        )
    return value


def _line(value: str, name: str, limit: int, *, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput(f"case {name} is required", field=name)
    if len(text) > limit or any(ord(c) < 32 for c in text):
        raise InvalidInput(
            f"case {name} must be one line of at most {limit} characters", field=name
        )
    return text


def _subject(value: str) -> str:
    return _line(value, "subject", 200, required=True)


def _notes(value: str, name: str = "notes") -> str:
    if len(value) > 10_000:
        raise InvalidInput(f"case {name} is longer than 10000 characters", field=name)
    return value


async def event_in(
    db: Transaction,
    case_id: int,
    kind: str,
    *,
    actor: str = "",
    body: str = "",
    contact_id: int | None = None,
    data: dict[str, Any] | None = None,
    at: float | None = None,
) -> None:
    await db.execute(
        "INSERT INTO case_events(case_id, kind, contact_id, body, data, actor, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            case_id,
            kind,
            contact_id,
            body,
            json.dumps(data or {}, sort_keys=True),
            actor,
            time.time() if at is None else at,
        ),
    )


async def open_case_in(
    db: Transaction,
    customer_id: int,
    subject: str,
    *,
    status: str = "new",
    due_at: float | None = None,
    notes: str = "",
    contact_id: int | None = None,
    priority: str = "normal",
    category: str = "",
    queue: str = "",
    agent_id: str | None = None,
    actor: str = "",
    at: float | None = None,
) -> int:
    """Insert a case inside the caller's transaction; returns its id. Opened from a
    contact, that contact is the first response. ``at``: when (an import or the demo's
    history; now by default)."""
    now = time.time() if at is None else at
    if await db.fetchone("SELECT 1 FROM customers WHERE id = ?", (customer_id,)) is None:
        raise NotFound(f"no customer {customer_id}")
    status = _status(status)
    responded = now if contact_id is not None or status in PAUSED else None
    resolved = now if status in ("resolved", "closed") else None
    case_id = await db.insert(
        "INSERT INTO cases(customer_id, subject, status, due_at, notes, priority, category,"
        " queue, agent_id, first_response_at, resolved_at, paused_since, created_by,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            customer_id,
            _subject(subject),
            status,
            due_at,
            _notes(notes),
            _priority(priority),
            _line(category, "category", 64),
            _line(queue, "queue", 64),
            _line(agent_id, "agent_id", 64) or None if agent_id else None,
            responded,
            resolved,
            now if status in PAUSED else None,
            actor,
            now,
            now,
        ),
    )
    await event_in(
        db, case_id, "created", actor=actor, data={"status": status, "priority": priority}, at=now
    )
    if contact_id is not None:
        await link_in(db, case_id, contact_id, actor=actor, at=now)
    return case_id


async def _row(db: Transaction, case_id: int) -> Any:
    row = await db.fetchone(
        "SELECT status, paused_since, paused_seconds, first_response_at, resolved_at,"
        " priority, queue, agent_id, category FROM cases WHERE id = ?",
        (case_id,),
    )
    if row is None:
        raise NotFound(f"no case {case_id}")
    return row


async def set_status_in(
    db: Transaction,
    case_id: int,
    status: str,
    *,
    actor: str,
    business_seconds: Callable[[float, float], float],
    kind: str = "status",
) -> None:
    """Move a case to ``status``: pause / resume the resolution clock, stamp the first
    response and the resolution, write the timeline entry."""
    status = _status(status)
    old, paused_since, paused_seconds, responded, resolved, *_ = await _row(db, case_id)
    if status == old:
        return
    now = time.time()
    if status in PAUSED and old not in PAUSED:
        paused_since = now
    elif status not in PAUSED and old in PAUSED:
        if paused_since is not None:
            paused_seconds = float(paused_seconds or 0) + business_seconds(paused_since, now)
        paused_since = None
        resolved = None  # reopened: the resolution clock runs again
    if status in ("pending_customer", "resolved") and responded is None:
        responded = now
    if status in ("resolved", "closed") and resolved is None:
        resolved = now
    # leaving a pause moves the resolution target: the stored due time is stale until
    # the SLA check writes the new one (a card must not call the case breached by it)
    due_sql = ", resolution_due = NULL" if old in PAUSED and status not in PAUSED else ""
    await db.execute(
        "UPDATE cases SET status = ?, paused_since = ?, paused_seconds = ?,"
        f" first_response_at = ?, resolved_at = ?, updated_at = ?{due_sql} WHERE id = ?",
        (status, paused_since, paused_seconds, responded, resolved, now, case_id),
    )
    await event_in(db, case_id, kind, actor=actor, data={"from": old, "to": status}, at=now)


async def update_case_in(
    db: Transaction,
    case_id: int,
    *,
    actor: str = "",
    business_seconds: Callable[[float, float], float] = lambda a, b: max(0.0, b - a),
    **changes: Any,
) -> None:
    """Change subject / status / priority / category / queue / agent_id / due_at / notes
    inside the caller's transaction; each change of status, priority, category or assignee
    is a timeline entry."""
    row = await _row(db, case_id)
    current = {"priority": row[5], "queue": row[6], "agent_id": row[7], "category": row[8]}
    sets: list[str] = []
    args: list[Any] = []
    now = time.time()
    for name, value in changes.items():
        if name == "status":
            continue
        if name == "subject":
            value = _subject(value)
        elif name == "notes":
            value = _notes(value)
        elif name == "priority":
            value = _priority(value)
        elif name in ("category", "queue"):
            value = _line(value, name, 64)
        elif name == "agent_id":
            value = _line(value or "", name, 64) or None
        elif name != "due_at":
            raise InvalidInput(f"cannot change case field {name}", field=name)
        sets.append(f"{name} = ?")
        args.append(value)
        if name in current and value != current[name]:
            kind = "assignee" if name in ("queue", "agent_id") else name
            await event_in(
                db,
                case_id,
                kind,
                actor=actor,
                data={"field": name, "from": current[name], "to": value},
                at=now,
            )
    if sets:
        await db.execute(
            f"UPDATE cases SET {', '.join([*sets, 'updated_at = ?'])} WHERE id = ?",
            (*args, now, case_id),
        )
    if "status" in changes:
        await set_status_in(
            db, case_id, changes["status"], actor=actor, business_seconds=business_seconds
        )


async def link_in(
    db: Transaction,
    case_id: int,
    contact_id: int,
    *,
    actor: str = "",
    responds: bool = True,
    at: float | None = None,
) -> bool:
    """Link a contact (any channel) to a case; the first link is the first response
    (``responds``: not the customer's own reply). Returns whether it was new."""
    now = time.time() if at is None else at
    try:
        changed = await db.execute(
            "INSERT INTO case_contacts(case_id, contact_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (case_id, contact_id),
        )
    except ConstraintViolation:
        raise NotFound(f"no case {case_id} or no contact {contact_id}") from None
    if not changed:
        return False
    await event_in(db, case_id, "contact", actor=actor, contact_id=contact_id, at=now)
    await db.execute(
        "UPDATE cases SET first_response_at = COALESCE(first_response_at, ?), updated_at = ?"
        " WHERE id = ?",
        (now if responds else None, now, case_id),
    )
    return True


async def apply_change_in(
    db: Transaction,
    change: CaseChange,
    customer_id: int | None,
    contact_id: int,
    *,
    actor: str = "",
) -> int:
    """A wrap-up's case change: open a new case or update the given one; link the contact."""
    if change.case_id is None:
        if customer_id is None:
            raise InvalidInput(
                "this contact has no customer; create the customer before opening a case",
                field="case",
            )
        return await open_case_in(
            db,
            customer_id,
            change.subject,
            status=change.status,
            due_at=change.due_at,
            notes=change.notes,
            contact_id=contact_id,
            priority=change.priority,
            category=change.category,
            queue=change.queue,
            agent_id=change.agent_id,
            actor=actor,
        )
    row = await db.fetchone("SELECT customer_id FROM cases WHERE id = ?", (change.case_id,))
    if row is None:
        raise NotFound(f"no case {change.case_id}")
    if customer_id is not None and row[0] != customer_id:
        raise InvalidInput(f"case {change.case_id} belongs to another customer", field="case")
    updates: dict[str, Any] = {"status": change.status}
    if change.subject:
        updates["subject"] = change.subject
    if change.due_at is not None:
        updates["due_at"] = change.due_at
    await link_in(db, change.case_id, contact_id, actor=actor)
    await update_case_in(db, change.case_id, actor=actor, **updates)
    if change.notes:
        await event_in(db, change.case_id, "note", actor=actor, body=_notes(change.notes))
    return change.case_id


def _wall(start: float, end: float) -> float:
    return max(0.0, end - start)


class CaseRepo:
    """Customer cases; wrap-ups create and update them through :class:`ContactLog`."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._select = select_case(store.dialect)
        #: business seconds between two instants (set by the service from the SLA
        #: policy's schedule; wall seconds until then)
        self.business_seconds: Callable[[float, float], float] = _wall

    async def open(
        self,
        customer_id: int,
        subject: str,
        *,
        status: str = "new",
        due_at: float | None = None,
        notes: str = "",
        contact_id: int | None = None,
        priority: str = "normal",
        category: str = "",
        queue: str = "",
        agent_id: str | None = None,
        actor: str = "",
        at: float | None = None,
    ) -> Case:
        """Open a case (``at``: when, now by default).

        Raises:
            NotFound: no such customer (or contact).
            InvalidInput: empty subject, unknown status or priority.
        """
        async with self._store.transaction() as db:
            case_id = await open_case_in(
                db,
                customer_id,
                subject,
                status=status,
                due_at=due_at,
                notes=notes,
                contact_id=contact_id,
                priority=priority,
                category=category,
                queue=queue,
                agent_id=agent_id,
                actor=actor,
                at=at,
            )
        return await self.get(case_id)

    async def get(self, case_id: int) -> Case:
        """Raises NotFound."""
        row = await self._store.fetchone(self._select + " WHERE k.id = ?", (case_id,))
        if row is None:
            raise NotFound(f"no case {case_id}")
        return case_from_row(row)

    async def by_number(self, number: str) -> Case:
        """Raises InvalidInput (not a number), NotFound."""
        return await self.get(parse_number(number))

    async def update(self, case_id: int, *, actor: str = "", **changes: Any) -> Case:
        """Change ``subject``, ``status``, ``priority``, ``category``, ``queue``,
        ``agent_id``, ``due_at`` or ``notes``; each a timeline entry.

        Raises:
            NotFound: no such case.
            InvalidInput: an unknown field or a bad value.
        """
        async with self._store.transaction() as db:
            await update_case_in(
                db, case_id, actor=actor, business_seconds=self.business_seconds, **changes
            )
        return await self.get(case_id)

    async def add_note(self, case_id: int, body: str, *, actor: str) -> CaseEvent:
        """A note on the timeline. Raises NotFound, InvalidInput (empty, > 10000)."""
        text = _notes(body or "", "note").strip()
        if not text:
            raise InvalidInput("a note needs some text", field="note")
        async with self._store.transaction() as db:
            await _row(db, case_id)
            await event_in(db, case_id, "note", actor=actor, body=text)
            await db.execute("UPDATE cases SET updated_at = ? WHERE id = ?", (time.time(), case_id))
        return (await self.timeline(case_id))[-1]

    async def link(self, case_id: int, contact_id: int, *, actor: str = "") -> Case:
        """Attach a contact to a case. Raises NotFound."""
        async with self._store.transaction() as db:
            await _row(db, case_id)
            await link_in(db, case_id, contact_id, actor=actor)
        return await self.get(case_id)

    async def timeline(self, case_id: int) -> list[CaseEvent]:
        rows = await self._store.fetchall(
            "SELECT id, case_id, kind, at, actor, body, contact_id, data FROM case_events"
            " WHERE case_id = ? ORDER BY at, id",
            (case_id,),
        )
        return [
            CaseEvent(
                id=int(r[0]),
                case_id=int(r[1]),
                kind=r[2],
                at=r[3],
                actor=r[4],
                body=r[5],
                contact_id=r[6],
                data=json.loads(r[7] or "{}"),
            )
            for r in rows
        ]

    async def customer_replied(self, contact_key: str) -> Case | None:
        """A new contact (call, chat, email) of a customer arrived: their latest resolved
        or pending_customer case opens again (its resolution clock resumes) and the
        contact is linked to it. None when the contact has no customer or none such case.
        Voice calls it when the caller is identified; the chat/email shells call it when a
        conversation's customer is known."""
        row = await self._store.fetchone(
            "SELECT id, customer_id FROM contacts WHERE key = ?", (contact_key,)
        )
        if row is None or row[1] is None:
            return None
        contact_id, customer_id = int(row[0]), int(row[1])
        async with self._store.transaction() as db:
            found = await db.fetchone(
                "SELECT id, status FROM cases WHERE customer_id = ?"
                " AND status IN ('resolved', 'pending_customer')"
                " ORDER BY updated_at DESC, id DESC LIMIT 1",
                (customer_id,),
            )
            if found is None:
                return None
            case_id = int(found[0])
            kind = "reopened" if found[1] == "resolved" else "status"
            await set_status_in(
                db,
                case_id,
                "open",
                actor="customer",
                business_seconds=self.business_seconds,
                kind=kind,
            )
            await link_in(db, case_id, contact_id, actor="customer", responds=False)
        return await self.get(case_id)

    async def search(
        self,
        *,
        statuses: Iterable[str] = (),
        queues: Iterable[str] | None = None,
        agent_id: str | None = None,
        mine: str | None = None,
        customer_id: int | None = None,
        priority: str | None = None,
        category: str | None = None,
        breached: bool | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Case]:
        """Cases matching every filter, open first then most urgent then newest.
        ``queues`` (a scope) with ``mine`` keeps the cases of those queues *or* assigned
        to agent ``mine``; ``queues=None`` is every queue."""
        sql = self._select + " WHERE 1 = 1"
        args: list[Any] = []
        wanted = [_status(s) for s in statuses]
        if wanted:
            sql += f" AND k.status IN ({', '.join('?' * len(wanted))})"
            args.extend(wanted)
        if queues is not None:
            names = sorted(set(queues))
            part = f"k.queue IN ({', '.join('?' * len(names))})" if names else "1 = 0"
            args.extend(names)
            if mine:
                part = f"({part} OR k.agent_id = ?)"
                args.append(mine)
            sql += f" AND {part}"
        for column, value in (("k.agent_id", agent_id), ("k.category", category)):
            if value is not None:
                sql += f" AND {column} = ?"
                args.append(value)
        if customer_id is not None:
            sql += " AND k.customer_id = ?"
            args.append(customer_id)
        if priority is not None:
            sql += " AND k.priority = ?"
            args.append(_priority(priority))
        if breached is not None:
            flag = "(k.first_response_breached = 1 OR k.resolution_breached = 1)"
            sql += f" AND {flag}" if breached else f" AND NOT {flag}"
        sql += (
            " ORDER BY k.status IN ('resolved', 'closed'),"
            " CASE k.priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2"
            " ELSE 3 END, k.updated_at DESC, k.id DESC LIMIT ? OFFSET ?"
        )
        args.extend([max(1, min(limit, 500)), max(0, offset)])
        return [case_from_row(r) for r in await self._store.fetchall(sql, args)]

    async def open_cases(self, limit: int = 5000) -> list[Case]:
        """Every case not resolved or closed (the SLA check)."""
        rows = await self._store.fetchall(
            self._select + " WHERE k.status NOT IN ('resolved', 'closed') ORDER BY k.id LIMIT ?",
            (limit,),
        )
        return [case_from_row(r) for r in rows]

    async def settled_since(self, since: float, limit: int = 5000) -> list[Case]:
        """Cases resolved or closed at or after ``since``: the SLA check reads the ones
        settled since its last run, whose stopped clocks may still owe a breach flag."""
        rows = await self._store.fetchall(
            self._select + " WHERE k.status IN ('resolved', 'closed') AND k.resolved_at >= ?"
            " ORDER BY k.resolved_at, k.id LIMIT ?",
            (since, limit),
        )
        return [case_from_row(r) for r in rows]

    async def set_sla(
        self,
        case_id: int,
        *,
        first_response_due: float | None,
        resolution_due: float | None,
        first_response_breached: bool,
        resolution_breached: bool,
    ) -> None:
        """The SLA check's due times and breach flags (a flag once set stays set)."""
        await self._store.write(
            "UPDATE cases SET first_response_due = ?, resolution_due = ?,"
            " first_response_breached = CASE WHEN ? THEN 1 ELSE first_response_breached END,"
            " resolution_breached = CASE WHEN ? THEN 1 ELSE resolution_breached END"
            " WHERE id = ?",
            (
                first_response_due,
                resolution_due,
                first_response_breached,
                resolution_breached,
                case_id,
            ),
        )

    async def for_customer(
        self, customer_id: int, *, status: str | None = None, limit: int = 50
    ) -> list[Case]:
        """The customer's cases, open ones first then newest; ``status`` filters."""
        sql = self._select + " WHERE k.customer_id = ?"
        args: list[Any] = [customer_id]
        if status is not None:
            sql += " AND k.status = ?"
            args.append(_status(status))
        sql += " ORDER BY k.status IN ('resolved', 'closed'), k.updated_at DESC, k.id DESC LIMIT ?"
        args.append(limit)
        return [case_from_row(r) for r in await self._store.fetchall(sql, args)]

    async def open_for_customer(self, customer_id: int, limit: int = 20) -> list[Case]:
        """Cases not resolved or closed."""
        rows = await self._store.fetchall(
            self._select + " WHERE k.customer_id = ? AND k.status NOT IN ('resolved', 'closed')"
            " ORDER BY k.due_at IS NULL, k.due_at, k.id LIMIT ?",
            (customer_id, limit),
        )
        return [case_from_row(r) for r in rows]

    async def report(
        self, start: float, end: float, by: str, *, queues: Iterable[str] | None = None
    ) -> list[dict[str, Any]]:
        """Cases opened / resolved in ``[start, end)``, the average wall seconds to a
        first response and to resolution, and the breaches, per ``by`` (``queue``,
        ``category`` or ``agent``); ``queues`` keeps only those queues' cases.

        Raises:
            InvalidInput: another ``by``.
        """
        column = {"queue": "queue", "category": "category", "agent": "agent_id"}.get(by)
        if column is None:
            raise InvalidInput("by must be queue, category or agent", field="by")
        sql = f"""
SELECT COALESCE({column}, '') AS g,
       sum(CASE WHEN created_at >= ? AND created_at < ? THEN 1 ELSE 0 END),
       sum(CASE WHEN resolved_at >= ? AND resolved_at < ? THEN 1 ELSE 0 END),
       avg(CASE WHEN created_at >= ? AND created_at < ? AND first_response_at IS NOT NULL
                THEN first_response_at - created_at END),
       avg(CASE WHEN resolved_at >= ? AND resolved_at < ? THEN resolved_at - created_at END),
       sum(CASE WHEN created_at >= ? AND created_at < ? THEN first_response_breached
           ELSE 0 END),
       sum(CASE WHEN created_at >= ? AND created_at < ? THEN resolution_breached ELSE 0 END)
FROM cases
WHERE ((created_at >= ? AND created_at < ?) OR (resolved_at >= ? AND resolved_at < ?)) {{only}}
GROUP BY g ORDER BY g
"""
        args: list[Any] = [start, end] * 8
        only = ""
        if queues is not None:
            names = sorted(set(queues))
            only = f"AND queue IN ({', '.join('?' * len(names))})" if names else "AND 1 = 0"
            args.extend(names)
        rows = await self._store.fetchall(sql.format(only=only), args)
        return [
            {
                by: r[0],
                "opened": int(r[1] or 0),
                "resolved": int(r[2] or 0),
                "first_response_seconds": None if r[3] is None else round(float(r[3]), 1),
                "resolution_seconds": None if r[4] is None else round(float(r[4]), 1),
                "first_response_breaches": int(r[5] or 0),
                "resolution_breaches": int(r[6] or 0),
            }
            for r in rows
        ]

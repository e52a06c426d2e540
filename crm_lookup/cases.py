"""Cases: a customer's requests (open / pending / closed, due time, linked contacts)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from config.errors import InvalidInput, NotFound
from crm_lookup.database import ConstraintViolation, Dialect, Transaction
from crm_lookup.models import Case, CaseChange, CaseStatus

if TYPE_CHECKING:
    from crm_lookup.store import Store


def select_case(dialect: Dialect) -> str:
    """Every column :func:`case_from_row` reads, the linked contact ids as JSON."""
    contact_ids = dialect.json_array(
        "contact_id", "case_contacts WHERE case_id = k.id", "contact_id"
    )
    return f"""
SELECT k.id, k.customer_id, k.subject, k.status, k.due_at, k.notes, k.created_at, k.updated_at,
       {contact_ids} AS contact_ids
FROM cases k
"""


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
    )


def _status(value: str) -> str:
    try:
        return CaseStatus(value).value
    except ValueError:
        raise InvalidInput(
            f"case status must be open, pending or closed, not {value!r}", field="status"
        ) from None


def _subject(value: str) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInput("case subject is required", field="subject")
    if len(text) > 200 or any(ord(c) < 32 for c in text):
        raise InvalidInput(
            "case subject must be one line of at most 200 characters", field="subject"
        )
    return text


def _notes(value: str) -> str:
    if len(value) > 10_000:
        raise InvalidInput("case notes are longer than 10000 characters", field="notes")
    return value


async def open_case_in(
    db: Transaction,
    customer_id: int,
    subject: str,
    *,
    status: str = "open",
    due_at: float | None = None,
    notes: str = "",
    contact_id: int | None = None,
) -> int:
    """Insert a case inside the caller's transaction; returns its id."""
    now = time.time()
    if await db.fetchone("SELECT 1 FROM customers WHERE id = ?", (customer_id,)) is None:
        raise NotFound(f"no customer {customer_id}")
    case_id = await db.insert(
        "INSERT INTO cases(customer_id, subject, status, due_at, notes, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (customer_id, _subject(subject), _status(status), due_at, _notes(notes), now, now),
    )
    if contact_id is not None:
        await link_in(db, case_id, contact_id)
    return case_id


async def update_case_in(db: Transaction, case_id: int, **changes: Any) -> None:
    """Change subject / status / due_at / notes inside the caller's transaction."""
    sets: list[str] = []
    args: list[Any] = []
    for name, value in changes.items():
        if name == "subject":
            value = _subject(value)
        elif name == "status":
            value = _status(value)
        elif name == "notes":
            value = _notes(value)
        elif name != "due_at":
            raise InvalidInput(f"cannot change case field {name}", field=name)
        sets.append(f"{name} = ?")
        args.append(value)
    changed = await db.execute(
        f"UPDATE cases SET {', '.join([*sets, 'updated_at = ?'])} WHERE id = ?",
        (*args, time.time(), case_id),
    )
    if changed == 0:
        raise NotFound(f"no case {case_id}")


async def link_in(db: Transaction, case_id: int, contact_id: int) -> None:
    try:
        await db.execute(
            "INSERT INTO case_contacts(case_id, contact_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (case_id, contact_id),
        )
    except ConstraintViolation:
        raise NotFound(f"no case {case_id} or no contact {contact_id}") from None


async def apply_change_in(
    db: Transaction, change: CaseChange, customer_id: int | None, contact_id: int
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
    if change.notes:
        updates["notes"] = change.notes
    await update_case_in(db, change.case_id, **updates)
    await link_in(db, change.case_id, contact_id)
    return change.case_id


class CaseRepo:
    """Customer cases; wrap-ups create and update them through :class:`ContactLog`."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._select = select_case(store.dialect)

    async def open(
        self,
        customer_id: int,
        subject: str,
        *,
        status: str = "open",
        due_at: float | None = None,
        notes: str = "",
        contact_id: int | None = None,
    ) -> Case:
        """Open a case.

        Raises:
            NotFound: no such customer (or contact).
            InvalidInput: empty subject, unknown status.
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
            )
        return await self.get(case_id)

    async def get(self, case_id: int) -> Case:
        """Raises NotFound."""
        row = await self._store.fetchone(self._select + " WHERE k.id = ?", (case_id,))
        if row is None:
            raise NotFound(f"no case {case_id}")
        return case_from_row(row)

    async def update(self, case_id: int, **changes: Any) -> Case:
        """Change ``subject``, ``status``, ``due_at`` or ``notes``.

        Raises:
            NotFound: no such case.
            InvalidInput: an unknown field or a bad value.
        """
        async with self._store.transaction() as db:
            await update_case_in(db, case_id, **changes)
        return await self.get(case_id)

    async def link(self, case_id: int, contact_id: int) -> Case:
        """Attach a contact to a case. Raises NotFound."""
        async with self._store.transaction() as db:
            await link_in(db, case_id, contact_id)
        return await self.get(case_id)

    async def for_customer(
        self, customer_id: int, *, status: str | None = None, limit: int = 50
    ) -> list[Case]:
        """The customer's cases, open ones first then newest; ``status`` filters."""
        sql = self._select + " WHERE k.customer_id = ?"
        args: list[Any] = [customer_id]
        if status is not None:
            sql += " AND k.status = ?"
            args.append(_status(status))
        sql += " ORDER BY k.status = 'closed', k.updated_at DESC, k.id DESC LIMIT ?"
        args.append(limit)
        return [case_from_row(r) for r in await self._store.fetchall(sql, args)]

    async def open_for_customer(self, customer_id: int, limit: int = 20) -> list[Case]:
        """Cases not closed (open or pending)."""
        rows = await self._store.fetchall(
            self._select + " WHERE k.customer_id = ? AND k.status != 'closed'"
            " ORDER BY k.due_at IS NULL, k.due_at, k.id LIMIT ?",
            (customer_id, limit),
        )
        return [case_from_row(r) for r in rows]

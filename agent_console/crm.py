"""The console's narrow view of the crm_lookup store: users, customers, history, wrap-up,
audit and reports, all returned as JSON-ready dicts.

Keeping every store call in this one module means the handlers never depend on the
store's row types, and a store change is absorbed here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any

from agent_console.inputs import int_id
from config.errors import Conflict, InvalidInput, NotFound
from config.settings import Settings

HISTORY_LIMIT = 20
MAX_HISTORY_PAGE = 100
SEARCH_LIMIT = 50


def to_json(value: Any) -> Any:
    """Rows, cards and dataclasses to plain JSON data (datetimes as ISO strings)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "to_json"):
        return to_json(value.to_json())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(v) for v in value]
    if isinstance(value, enum.Enum):
        return to_json(value.value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


class Crm:
    """Store access for the console. ``store`` is a ``crm_lookup.store.Store``."""

    def __init__(self, settings: Settings, store: Any, directory: Any = None) -> None:
        self.settings = settings
        self.store = store
        self._directory: Any = directory

    @property
    def directory(self) -> Any:
        """The crm_lookup Directory over the store, made on first use."""
        if self._directory is None:
            from crm_lookup.directory import Directory

            self._directory = Directory(self.store)
        return self._directory

    async def ping(self) -> dict[str, Any]:
        """Database status for /healthz; never raises."""
        try:
            await self.store.users.list()
        except Exception as exc:  # any failure means "not ok"; the reason is reported
            return {"ok": False, "error": type(exc).__name__}
        return {"ok": True}

    async def user(self, username: str) -> tuple[str, str, str | None] | None:
        """``(password_hash, role, agent_id)`` for a username, or None."""
        row = await self.store.users.get_by_username(username)
        if row is None:
            return None
        return row.password_hash, str(row.role), row.agent_id

    async def add_user(
        self, username: str, password_hash: str, role: str, agent_id: str | None
    ) -> Any:
        return to_json(await self.store.users.add(username, password_hash, role, agent_id))

    async def list_users(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = to_json(await self.store.users.list())
        for row in rows:
            row.pop("password_hash", None)  # never leaves the server
        return rows

    async def card_for_phone(self, phone: str) -> dict[str, Any]:
        """The screen-pop card for a number ("new caller" when unknown); never raises."""
        card: dict[str, Any] = to_json(await self.directory.card_for_phone(phone))
        return card

    async def card_for_customer(self, customer_id: str) -> dict[str, Any]:
        """The card of a known customer (a chat or an email's). Raises NotFound."""
        card: dict[str, Any] = to_json(
            await self.directory.card(_int_id(customer_id, "customer id"))
        )
        return card

    async def search(self, query: str) -> list[dict[str, Any]]:
        """Customers matching a name, phone, account or company fragment."""
        rows: list[dict[str, Any]] = to_json(
            await self.store.customers.search(query, limit=SEARCH_LIMIT)
        )
        return rows

    async def customer(self, customer_id: str) -> dict[str, Any]:
        """The customer with its open cases. Raises NotFound, InvalidInput (bad id)."""
        cid = _int_id(customer_id, "customer id")
        try:
            data: dict[str, Any] = to_json(await self.store.customers.get(cid))
        except NotFound:
            kept = await self.store.customers.merged_into(cid)
            if kept is None:
                raise
            raise NotFound(f"customer {cid} was merged into customer {kept}") from None
        data["open_cases"] = to_json(await self.store.cases.open_for_customer(cid))
        return data

    async def contacts(
        self, customer_id: str, limit: int = HISTORY_LIMIT, offset: int = 0
    ) -> dict[str, Any]:
        """One page of the customer's contacts, newest first: ``{"contacts", "total",
        "next_offset"}`` (``next_offset`` is None on the last page).

        Raises:
            NotFound: no such customer.
            InvalidInput: a bad id, ``limit`` outside 1..100 or a negative ``offset``.
        """
        cid = _int_id(customer_id, "customer id")
        if not 1 <= limit <= MAX_HISTORY_PAGE:
            raise InvalidInput(f"limit must be 1 to {MAX_HISTORY_PAGE}", field="limit")
        if offset < 0:
            raise InvalidInput("offset must not be negative", field="offset")
        await self.store.customers.get(cid)
        page = await self.store.contacts.history(cid, limit=limit, offset=offset)
        return {
            "contacts": [to_json(c) for c in page.items],
            "total": page.total,
            "next_offset": page.next_offset,
        }

    async def merged_into(self, customer_id: int) -> int | None:
        """Where a merged-away customer went (the customer page redirects there)."""
        return await self.store.customers.merged_into(customer_id)

    async def update_customer(self, customer_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """The fields and an added phone in one transaction: a refused phone changes
        nothing else either. A phone's error names the field ``add_phone``.

        Raises:
            NotFound, InvalidInput (a malformed value), Conflict (the phone is taken).
        """
        cid = _int_id(customer_id, "customer id")
        fields = dict(changes)
        phone = fields.pop("add_phone", None)
        if phone:
            fields["phones"] = [*(await self.store.customers.get(cid)).phones, phone]
        try:
            await self.store.customers.update(cid, **fields)
        except InvalidInput as exc:
            if phone and exc.field in ("phone", "phones"):
                raise InvalidInput(str(exc), field="add_phone") from exc
            raise
        except Conflict as exc:
            raise Conflict(str(exc), field="add_phone" if phone else None) from exc
        return await self.customer(customer_id)

    async def duplicates(self, customer_id: str) -> list[dict[str, Any]]:
        found = await self.store.customers.likely_duplicates(_int_id(customer_id, "customer id"))
        return [{"customer": to_json(c), "reasons": why} for c, why in found]

    async def merge(self, keep: str, duplicate: str, actor: str) -> dict[str, Any]:
        """Raises NotFound, InvalidInput (the same customer)."""
        await self.store.customers.merge(
            _int_id(keep, "customer id"), _int_id(duplicate, "duplicate_id"), actor=actor
        )
        return await self.customer(keep)

    async def create_customer(
        self, name: str, phone: str, company: str, email: str, contact_id: str | None
    ) -> dict[str, Any]:
        """Turn a "new caller" into a customer, linking the contact being handled.

        Returns the new customer's card. Raises InvalidInput (bad phone or email), Conflict
        (the phone already belongs to a customer), NotFound (no such contact).
        """
        customer = await self.store.customers.add(name, [phone], company=company, email=email)
        if contact_id:
            await self.store.contacts.link_customer(_int_id(contact_id, "contact id"), customer.id)
        card: dict[str, Any] = to_json(await self.directory.card(customer.id))
        return card

    async def contact(self, contact_id: str) -> dict[str, Any]:
        """Raises NotFound, InvalidInput."""
        result: dict[str, Any] = to_json(
            await self.store.contacts.get(_int_id(contact_id, "contact id"))
        )
        return result

    async def wrapup(
        self, contact_id: str, disposition: str, notes: str, case: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """Save a wrap-up; ``case`` (``id`` or ``subject``, ``status``) opens or updates a
        case linked to the contact. Raises NotFound, InvalidInput."""
        from crm_lookup.models import CaseChange

        change = None
        if case is not None:
            change = CaseChange(
                case_id=_int_id(str(case["id"]), "case id") if case.get("id") else None,
                subject=case.get("subject") or "",
                status=case.get("status") or "open",
            )
        row = await self.store.contacts.wrapup(
            _int_id(contact_id, "contact id"), disposition, notes, case=change
        )
        result: dict[str, Any] = to_json(row)
        return result

    async def save_draft(self, contact_id: str, agent_id: str, draft: Mapping[str, Any]) -> float:
        saved_at: float = await self.store.drafts.save(
            _int_id(contact_id, "contact id"), agent_id, draft
        )
        return saved_at

    async def draft(self, contact_id: str) -> dict[str, Any]:
        found = await self.store.drafts.get(_int_id(contact_id, "contact id"))
        if found is None:
            return {"draft": None, "updated_at": None}
        return {"draft": dict(found.data), "updated_at": found.updated_at}

    async def audit(self, actor: str, action: str, target: str, details: Mapping[str, Any]) -> None:
        await self.store.audit.write(actor, action, target, dict(details))


def _int_id(value: str, what: str) -> int:
    # The console's one id parser: ASCII digits only ("²".isdigit() is True).
    return int_id(value, what)

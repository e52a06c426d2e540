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

from config.errors import InvalidInput, NotFound
from config.settings import Settings

HISTORY_LIMIT = 20
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

    def __init__(self, settings: Settings, store: Any) -> None:
        self.settings = settings
        self.store = store
        self._directory: Any = None

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
        data = to_json(row)
        return data["password_hash"], data["role"], data.get("agent_id")

    async def add_user(
        self, username: str, password_hash: str, role: str, agent_id: str | None
    ) -> Any:
        return to_json(await self.store.users.add(username, password_hash, role, agent_id))

    async def list_users(self) -> list[dict[str, Any]]:
        rows = to_json(await self.store.users.list())
        for row in rows:
            row.pop("password_hash", None)
        return rows

    async def card_for_phone(self, phone: str) -> dict[str, Any]:
        return to_json(await self.directory.card_for_phone(phone))

    async def search(self, query: str) -> list[dict[str, Any]]:
        return to_json(await self.store.customers.search(query, limit=SEARCH_LIMIT))

    async def customer(self, customer_id: str) -> dict[str, Any]:
        row = await self.store.customers.get(_int_id(customer_id, "customer id"))
        if row is None:
            raise NotFound(f"no customer {customer_id}")
        return to_json(row)

    async def contacts(self, customer_id: str) -> list[dict[str, Any]]:
        await self.customer(customer_id)
        rows = await self.store.contacts.for_customer(
            _int_id(customer_id, "customer id"), limit=HISTORY_LIMIT
        )
        return to_json(rows)

    async def contact(self, contact_id: str) -> dict[str, Any]:
        row = await self.store.contacts.get(_int_id(contact_id, "contact id"))
        if row is None:
            raise NotFound(f"no contact {contact_id}")
        return to_json(row)

    async def wrapup(
        self, contact_id: str, disposition: str, notes: str, case: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        row = await self.store.contacts.wrapup(
            _int_id(contact_id, "contact id"), disposition, notes, case=case
        )
        return to_json(row) if row is not None else await self.contact(contact_id)

    async def audit(self, actor: str, action: str, target: str, details: Mapping[str, Any]) -> None:
        await self.store.audit.write(actor, action, target, dict(details))

    async def report(self, start: str, end: str, by: str) -> Any:
        from crm_lookup.reports import build_report

        return to_json(await build_report(self.store, start, end, by))


def _int_id(value: str, what: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise InvalidInput(f"{what} must be a number", field="id")
    return int(value)

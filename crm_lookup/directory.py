"""Who is calling: the customer card for the screen pop and the IVR.

The local store always answers (well under a millisecond). When an external CRM is
configured it is asked first, bounded by its own timeout, cache and breaker; whatever
it knows overrides the local card's identity fields, while cases and contact history
always come from the local store. Any external failure is logged and the local card is
returned, so a slow CRM never delays the pop beyond its timeout.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from config.errors import ExternalServiceError
from config.settings import CrmSettings
from crm_lookup.external import ExternalCrm, ExternalRecord
from crm_lookup.models import Case, Contact, Customer
from crm_lookup.phones import try_normalize
from crm_lookup.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CustomerCard:
    """What the agent sees when the phone rings. ``new_caller`` when nobody knows them."""

    customer_id: int | None
    name: str
    phone: str = ""
    company: str = ""
    tier: str = ""
    vip: bool = False
    language: str = ""
    email: str = ""
    account: str = ""
    tags: tuple[str, ...] = ()
    notes: str = ""
    open_cases: tuple[Case, ...] = ()
    recent_contacts: tuple[Contact, ...] = ()
    new_caller: bool = False
    source: str = "local"

    def to_json(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "name": self.name,
            "phone": self.phone,
            "company": self.company,
            "tier": self.tier,
            "vip": self.vip,
            "language": self.language,
            "email": self.email,
            "account": self.account,
            "tags": list(self.tags),
            "notes": self.notes,
            "open_cases": [c.to_json() for c in self.open_cases],
            "recent_contacts": [
                {
                    "id": c.id,
                    "started_at": c.started_at,
                    "direction": c.direction,
                    "queue": c.queue,
                    "agent_id": c.agent_id,
                    "outcome": c.outcome,
                    "disposition": c.disposition,
                    "notes": c.notes,
                    "ivr_path": list(c.ivr_path),
                }
                for c in self.recent_contacts
            ],
            "new_caller": self.new_caller,
            "source": self.source,
        }


def new_caller_card(phone: str) -> CustomerCard:
    return CustomerCard(customer_id=None, name="New caller", phone=phone, new_caller=True)


class Directory:
    """Customer cards by phone, account or id, with an optional external CRM."""

    def __init__(
        self,
        store: Store,
        external: ExternalCrm | None = None,
        *,
        history_limit: int = 5,
        cases_limit: int = 10,
    ) -> None:
        self.store = store
        self.external = external
        self.history_limit = history_limit
        self.cases_limit = cases_limit

    async def _local_card(self, customer: Customer, phone: str) -> CustomerCard:
        cases = await self.store.cases.open_for_customer(customer.id, self.cases_limit)
        history = await self.store.contacts.history(customer.id, limit=self.history_limit)
        return CustomerCard(
            customer_id=customer.id,
            name=customer.name,
            phone=phone or (customer.phones[0] if customer.phones else ""),
            company=customer.company,
            tier=customer.tier,
            vip=customer.vip,
            language=customer.language,
            email=customer.email,
            account=customer.account,
            tags=customer.tags,
            notes=customer.notes,
            open_cases=tuple(cases),
            recent_contacts=tuple(history.items),
        )

    async def _external(self, phone: str) -> ExternalRecord | None:
        if self.external is None:
            return None
        try:
            return await self.external.lookup_phone(phone)
        except ExternalServiceError as exc:
            log.warning(
                "external CRM lookup failed, using the local store",
                extra={"fields": {"error": str(exc)}},
            )
            return None

    async def card_for_phone(self, raw_phone: str) -> CustomerCard:
        """The card of whoever owns this number; a "new caller" card for anyone else
        (including anonymous or malformed caller ids). Never raises for bad input."""
        e164 = try_normalize(raw_phone or "", self.store.default_region)
        if e164 is None:
            return new_caller_card((raw_phone or "").strip()[:64])
        record = await self._external(e164)
        customer = await self.store.customers.find_by_phone(e164)
        if customer is None and record is None:
            return new_caller_card(e164)
        if customer is None:
            assert record is not None
            return CustomerCard(
                customer_id=None,
                name=record.name,
                phone=e164,
                company=record.company,
                tier=record.tier,
                vip=record.tier.upper() == "VIP",
                language=record.language,
                email=record.email,
                account=record.account,
                tags=record.tags,
                notes=record.notes,
                source="external",
            )
        card = await self._local_card(customer, e164)
        if record is None:
            return card
        tier = record.tier or card.tier
        return CustomerCard(
            customer_id=card.customer_id,
            name=record.name,
            phone=e164,
            company=record.company or card.company,
            tier=tier,
            vip=tier.upper() == "VIP",
            language=record.language or card.language,
            email=record.email or card.email,
            account=record.account or card.account,
            tags=tuple(dict.fromkeys([*card.tags, *record.tags])),
            notes=card.notes
            if not record.notes
            else "\n".join(filter(None, [record.notes, card.notes])),
            open_cases=card.open_cases,
            recent_contacts=card.recent_contacts,
            source="external",
        )

    async def card_for_account(self, account: str) -> CustomerCard | None:
        """The card of the customer with this account number, or None (local store)."""
        customer = await self.store.customers.find_by_account(account)
        if customer is None:
            return None
        return await self._local_card(customer, "")

    async def card(self, customer_id: int) -> CustomerCard:
        """The card of a known customer. Raises NotFound."""
        customer = await self.store.customers.get(customer_id)
        return await self._local_card(customer, "")

    async def close(self) -> None:
        if self.external is not None:
            await self.external.close()


def directory_from_settings(store: Store, crm: CrmSettings) -> Directory:
    """A Directory using the external CRM when ``crm.adapter == "http"``.

    Raises:
        InvalidInput: the HTTP adapter is chosen but its URL template is unusable.
    """
    external = ExternalCrm.from_settings(crm) if crm.adapter == "http" else None
    return Directory(store, external)

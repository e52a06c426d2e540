"""The CRM's records: frozen, slotted dataclasses and the enums they use.

Timestamps are UNIX epoch seconds (floats, UTC) everywhere: they sort, subtract and
bucket without time-zone surprises; the console formats them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Outcome(enum.StrEnum):
    """How a contact ended."""

    ANSWERED = "answered"
    ABANDONED_IVR = "abandoned_ivr"
    ABANDONED_QUEUE = "abandoned_queue"
    CALLBACK = "callback"
    VOICEMAIL = "voicemail"
    OVERFLOW = "overflow"
    FAILED = "failed"
    #: open when the service stopped, its channel gone when it came back: how it ended is
    #: not known, and ``ended_at`` is the last milestone seen
    LOST_DURING_OUTAGE = "lost_during_outage"


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class CaseStatus(enum.StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING_CUSTOMER = "pending_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"


CASE_PRIORITIES = ("low", "normal", "high", "urgent")


class Role(enum.StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


TIERS = ("standard", "preferred", "gold", "VIP")


@dataclass(frozen=True, slots=True)
class Customer:
    id: int
    name: str
    company: str = ""
    tier: str = "standard"
    language: str = ""
    email: str = ""
    tags: tuple[str, ...] = ()
    notes: str = ""
    phones: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def vip(self) -> bool:
        return self.tier.upper() == "VIP"

    @property
    def account(self) -> str:
        return self.accounts[0] if self.accounts else ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "company": self.company,
            "tier": self.tier,
            "vip": self.vip,
            "language": self.language,
            "email": self.email,
            "tags": list(self.tags),
            "notes": self.notes,
            "phones": list(self.phones),
            "accounts": list(self.accounts),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True, slots=True)
class Contact:
    """One contact (call). ``key`` is the call's Linkedid; durations are seconds."""

    id: int
    key: str
    direction: str = "inbound"
    caller: str = ""
    dialed: str = ""
    customer_id: int | None = None
    arrived_at: float | None = None
    ivr_path: tuple[Any, ...] = ()
    ivr_result: str = ""
    queue: str = ""
    queued_at: float | None = None
    offered_at: float | None = None
    offers: int = 0
    agent_id: str = ""
    answered_at: float | None = None
    ended_at: float | None = None
    wrapped_at: float | None = None
    wait_seconds: float | None = None
    talk_seconds: float | None = None
    hold_seconds: float = 0.0
    wrapup_seconds: float | None = None
    outcome: str = ""
    disposition: str = ""
    notes: str = ""
    recording: str = ""
    started_at: float = 0.0
    case_ids: tuple[int, ...] = ()
    #: "voice", "chat" or "email" (migration 15)
    channel: str = "voice"
    #: the first agent reply of a chat or an email (None for calls)
    first_response_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "channel": self.channel,
            "first_response_at": self.first_response_at,
            "direction": self.direction,
            "caller": self.caller,
            "dialed": self.dialed,
            "customer_id": self.customer_id,
            "arrived_at": self.arrived_at,
            "ivr_path": list(self.ivr_path),
            "ivr_result": self.ivr_result,
            "queue": self.queue,
            "queued_at": self.queued_at,
            "offered_at": self.offered_at,
            "offers": self.offers,
            "agent_id": self.agent_id,
            "answered_at": self.answered_at,
            "ended_at": self.ended_at,
            "wrapped_at": self.wrapped_at,
            "wait_seconds": self.wait_seconds,
            "talk_seconds": self.talk_seconds,
            "hold_seconds": self.hold_seconds,
            "wrapup_seconds": self.wrapup_seconds,
            "outcome": self.outcome,
            "disposition": self.disposition,
            "notes": self.notes,
            "recording": self.recording,
            "started_at": self.started_at,
            "case_ids": list(self.case_ids),
        }


@dataclass(frozen=True, slots=True)
class ContactEvent:
    """One entry of a contact's timeline."""

    id: int
    contact_key: str
    kind: str
    at: float
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "at": self.at, "data": self.data}


@dataclass(frozen=True, slots=True)
class Case:
    id: int
    customer_id: int
    subject: str
    status: str = "new"
    due_at: float | None = None
    notes: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    contact_ids: tuple[int, ...] = ()
    priority: str = "normal"
    category: str = ""
    queue: str = ""
    agent_id: str | None = None
    first_response_due: float | None = None
    first_response_at: float | None = None
    resolution_due: float | None = None
    resolved_at: float | None = None
    paused_seconds: float = 0.0
    paused_since: float | None = None
    first_response_breached: bool = False
    resolution_breached: bool = False
    created_by: str = ""
    customer_name: str = ""

    @property
    def number(self) -> str:
        """The number people read and type: ``C-000123`` (the id, not stored apart)."""
        return case_number(self.id)

    @property
    def is_open(self) -> bool:
        return self.status not in ("resolved", "closed")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number,
            "customer_id": self.customer_id,
            "customer_name": self.customer_name,
            "subject": self.subject,
            "status": self.status,
            "priority": self.priority,
            "category": self.category,
            "queue": self.queue,
            "agent_id": self.agent_id,
            "due_at": self.due_at,
            "notes": self.notes,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "created_by": self.created_by,
            "contact_ids": list(self.contact_ids),
            "sla": {
                "first_response_due": self.first_response_due,
                "first_response_at": self.first_response_at,
                "resolution_due": self.resolution_due,
                "resolved_at": self.resolved_at,
                "paused_seconds": self.paused_seconds,
                "paused_since": self.paused_since,
                "first_response_breached": self.first_response_breached,
                "resolution_breached": self.resolution_breached,
            },
        }


def case_number(case_id: int) -> str:
    return f"C-{case_id:06d}"


@dataclass(frozen=True, slots=True)
class CaseEvent:
    """One entry of a case's timeline: ``created``, ``contact`` (a linked contact of any
    channel), ``note``, ``status``, ``priority``, ``assignee``, ``category``, ``reopened``."""

    id: int
    case_id: int
    kind: str
    at: float
    actor: str = ""
    body: str = ""
    contact_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "at": self.at,
            "actor": self.actor,
            "body": self.body,
            "contact_id": self.contact_id,
            "data": self.data,
        }


@dataclass(frozen=True, slots=True)
class CaseChange:
    """What a wrap-up does to a case: ``case_id=None`` opens a new one for the customer."""

    case_id: int | None = None
    subject: str = ""
    status: str = "open"
    due_at: float | None = None
    notes: str = ""
    priority: str = "normal"
    category: str = ""
    queue: str = ""
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    password_hash: str
    role: str
    agent_id: str | None = None
    created_at: float = 0.0
    disabled: bool = False
    last_login: float | None = None
    language: str = ""  # "" = the browser's language

    def to_json(self) -> dict[str, Any]:
        # The hash never leaves the store through JSON.
        return {
            "id": self.id,
            "username": self.username,
            "role": self.role,
            "agent_id": self.agent_id,
            "created_at": self.created_at,
            "disabled": self.disabled,
            "last_login": self.last_login,
            "language": self.language,
        }


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: float
    actor: str
    action: str
    target: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "details": self.details,
        }


@dataclass(frozen=True, slots=True)
class Page:
    """A page of results: ``next_offset`` is None on the last page."""

    items: tuple[Any, ...]
    total: int
    offset: int
    limit: int

    @property
    def next_offset(self) -> int | None:
        nxt = self.offset + len(self.items)
        return nxt if nxt < self.total else None

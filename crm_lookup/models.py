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
    OPEN = "open"
    PENDING = "pending"
    CLOSED = "closed"


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
    status: str = "open"
    due_at: float | None = None
    notes: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    contact_ids: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "customer_id": self.customer_id,
            "subject": self.subject,
            "status": self.status,
            "due_at": self.due_at,
            "notes": self.notes,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "contact_ids": list(self.contact_ids),
        }


@dataclass(frozen=True, slots=True)
class CaseChange:
    """What a wrap-up does to a case: ``case_id=None`` opens a new one for the customer."""

    case_id: int | None = None
    subject: str = ""
    status: str = "open"
    due_at: float | None = None
    notes: str = ""


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

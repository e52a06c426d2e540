"""What a console user may see and do: validation, role scope and audit, shared by the
JSON API and the websocket so both enforce exactly the same rules.

Theory of operation: every action is ``(user, params) -> result``. It first validates
``params`` (``InvalidInput`` naming the field), then checks scope: an agent acts only on
itself and on calls ringing/connected to it; a supervisor on agents that serve one of its
queues and on calls in those queues; an admin everywhere. Only then does it ask the
:class:`~agent_console.ports.ContactCenter`. Supervisor actions are written to the audit
log after they succeed. Visibility of live messages follows the same scope.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agent_console import inputs
from agent_console.auth import ALL_ROLES, SUPERVISING, Role, User
from agent_console.crm import Crm
from agent_console.ports import SPY_MODES, TRANSFER_KINDS, ContactCenter, Message
from config.errors import IllegalTransition, InvalidInput, NotFound, PermissionDenied
from config.settings import Settings
from crm_lookup.drafts import holds_input
from crm_lookup.models import CASE_PRIORITIES, CaseStatus

CASE_STATUSES = tuple(s.value for s in CaseStatus)

NUMBER = re.compile(r"^\+?[0-9*#]{2,20}$")
ID = re.compile(r"^[A-Za-z0-9._:@/-]{1,128}$")
NOTES_MAX = 4000
RECORDING_OPS = ("pause_recording", "resume_recording")
Params = Mapping[str, Any]


def text(
    params: Params, name: str, *, required: bool = True, max_len: int = 200, multiline: bool = False
) -> str:
    """A string field.

    Raises:
        InvalidInput: missing (when required), not a string, longer than ``max_len``, or
            holding control characters — only ``multiline`` fields (notes) may hold LF
            and TAB; CR never passes, so nothing can smuggle a line into AMI or a log.
    """
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise InvalidInput(f"{name} is required", field=name)
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string", field=name)
    if len(value) > max_len:
        raise InvalidInput(f"{name} is longer than {max_len} characters", field=name)
    allowed = "\n\t" if multiline else ""
    if any((ord(c) < 32 or ord(c) == 127) and c not in allowed for c in value):
        raise InvalidInput(f"{name} contains control characters", field=name)
    return inputs.no_surrogates(value, name)


def db_id(params: Params, name: str, *, required: bool = True) -> str | None:
    """A stored object's id (contact, case) as canonical ASCII digits, or None when
    optional and absent.

    Raises:
        InvalidInput: missing (when required) or not 1 to 18 ASCII digits.
    """
    value = text(params, name, required=required, max_len=20)
    if not value:
        return None
    return str(inputs.int_id(value, name, field=name))


def ident(params: Params, name: str) -> str:
    value = text(params, name)
    if not ID.match(value):
        raise InvalidInput(f"{name} is not a valid id", field=name)
    return value


def number(params: Params, name: str = "number") -> str:
    value = text(params, name).replace(" ", "").replace("-", "")
    if not NUMBER.match(value):
        raise InvalidInput(f"{name} must be a phone number (digits, optional +)", field=name)
    return value


def choice(params: Params, name: str, options: tuple[str, ...] | list[str]) -> str:
    value = text(params, name)
    if value not in options:
        raise InvalidInput(f"{name} must be one of {', '.join(options)}", field=name)
    return value


@dataclass(frozen=True, slots=True)
class Scope:
    """What a user may see: ``queues is None`` means everything."""

    user: User
    queues: frozenset[str] | None

    def sees_queue(self, queue: str | None) -> bool:
        return self.queues is None or (queue is not None and queue in self.queues)

    def sees_queues(self, queues: list[str] | tuple[str, ...]) -> bool:
        return self.queues is None or any(q in self.queues for q in queues)


class Console:
    """The console's use cases over one ContactCenter and the CRM store."""

    def __init__(self, settings: Settings, center: ContactCenter, crm: Crm) -> None:
        self.settings = settings
        self.center = center
        self.crm = crm

    # -- visibility ---------------------------------------------------------------------

    def scope(self, user: User) -> Scope:
        if user.role is Role.ADMIN:
            return Scope(user, None)
        if user.role is Role.SUPERVISOR:
            return Scope(user, frozenset(self.center.queues_for_supervisor(user.username)))
        agent = self._find_agent(user.agent_id) if user.agent_id else None
        return Scope(user, frozenset(agent.get("queues", [])) if agent else frozenset())

    def config(self) -> Message:
        return {
            "not_ready_reasons": list(self.settings.routing.not_ready_reasons),
            "dispositions": list(self.settings.routing.dispositions),
        }

    def directory(self) -> list[Message]:
        """Every agent's id, name and state: what any signed-in user may know of a
        colleague (history rows name agents; the transfer picker lists ready ones). No
        queues, calls or reasons: those stay within a supervisor's scope."""
        return [
            {"agent_id": a["agent_id"], "name": a.get("name") or a["agent_id"], "state": a["state"]}
            for a in self.center.snapshot()["agents"]
        ]

    def current_call_of(self, user: User) -> Message | None:
        """The user's own current call (with its IVR path), if the user is an agent."""
        if not user.agent_id or self._find_agent(user.agent_id) is None:
            return None
        return self.center.current_call(user.agent_id)

    def snapshot_for(self, scope: Scope) -> Message:
        """The center's snapshot cut down to what ``scope`` may see."""
        user = scope.user
        if user.role is Role.AGENT:
            # Only the agent's own row, queues and calls, read as such: a console's
            # snapshot stays small and its cost does not grow with the agents logged in
            # (a thousand consoles reconnecting after a restart must not cost a thousand
            # times the whole floor).
            snap = self.center.agent_snapshot(user.agent_id) if user.agent_id else None
            if snap is None:  # an agent the queue file no longer lists: nothing to show
                snap = {"now": self.center.snapshot().get("now")}
            queues = [q for q in snap.get("queues", []) if scope.sees_queue(q.get("name"))]
            agents = list(snap.get("agents", []))
            calls = list(snap.get("calls", []))
            conversations = list(snap.get("conversations", []))
            intervals: list[Any] = []
            alerts: list[Any] = []  # supervisor alerts are for the wallboard only
        else:
            snap = self.center.snapshot()
            queues = [q for q in snap.get("queues", []) if scope.sees_queue(q.get("name"))]
            agents = [a for a in snap.get("agents", []) if scope.sees_queues(a.get("queues", []))]
            calls = [c for c in snap.get("calls", []) if scope.sees_queue(c.get("queue"))]
            conversations = [
                c for c in snap.get("conversations", []) if scope.sees_queue(c.get("queue"))
            ]
            intervals = list(snap.get("intervals", []))
            alerts = self.alerts_for(scope, snap.get("alerts", []))
        current = None
        if user.agent_id and self._find_agent(user.agent_id):
            current = self.center.current_call(user.agent_id)
        return {
            "type": "snapshot",
            "now": snap.get("now"),
            "me": user.to_json(),
            "config": self.config(),
            "queues": queues,
            "agents": agents,
            "calls": calls,
            "conversations": conversations,
            "intervals": intervals,
            "alerts": alerts,
            "current_call": current,
        }

    def alerts_for(self, scope: Scope, alerts: list[Message]) -> list[Message]:
        """The alerts ``scope`` may see: none for an agent; a queue's alerts for its
        supervisors, an agent's for the supervisors of one of their queues, the global
        ones (AMI link, database) for every supervisor; all for an admin."""
        if scope.user.role is Role.AGENT:
            return []
        return [a for a in alerts if self._sees_alert(scope, a)]

    @staticmethod
    def _sees_alert(scope: Scope, alert: Message) -> bool:
        if alert.get("queue") is not None:
            return scope.sees_queue(alert["queue"])
        if alert.get("agent_id") is not None:
            return scope.sees_queues(list(alert.get("queues") or ()))
        return True

    def visible(self, scope: Scope, message: Message) -> bool:
        """Whether a published message may go to this user's websocket."""
        kind = message.get("type")
        user = scope.user
        if kind == "visitor_event":
            return False  # the chat widget's, never a console's
        if kind == "screen_pop":
            return user.agent_id is not None and message.get("agent_id") == user.agent_id
        if kind == "alert":
            return self.alerts_for(scope, [message.get("alert") or {}]) != []
        if user.role is Role.AGENT:
            # Only what concerns the agent itself: fan-out per event stays O(1) for the
            # hundreds of agent consoles; the wallboard is where the whole picture goes.
            return user.agent_id is not None and message.get("agent_id") == user.agent_id
        if message.get("queue") is not None:
            return scope.sees_queue(message["queue"])
        if "queues" in message:
            return scope.sees_queues(message["queues"])
        return True

    # -- lookups ------------------------------------------------------------------------

    def _find_agent(self, agent_id: str) -> Message | None:
        agent = self.center.agent(agent_id)
        return dict(agent) if agent is not None else None

    def _live_contact_of(self, agent_id: str | None) -> str | None:
        """The contact id of the call the center has the agent on or wrapping up.

        The center knows who took a call the moment it is answered; the history learns it
        when the contact writer gets there, which under load can be seconds later. An
        agent saving the wrap-up of the call just ended must not be refused meanwhile."""
        if not agent_id:
            return None
        with contextlib.suppress(NotFound):
            call = self.center.current_call(agent_id)
            if call is not None and call.get("contact_id") is not None:
                return str(call["contact_id"])
        return None

    def _agent(self, agent_id: str | None) -> Message:
        agent = self._find_agent(agent_id) if agent_id else None
        if agent is None:
            raise NotFound(f"no agent {agent_id!r}")
        return agent

    def _check_agent(self, user: User, agent_id: str) -> Message:
        agent = self._agent(agent_id)
        if user.role is Role.AGENT and agent_id != user.agent_id:
            raise PermissionDenied("agents act only on themselves")
        if user.role is Role.SUPERVISOR and not self.scope(user).sees_queues(agent["queues"]):
            raise PermissionDenied(f"agent {agent_id} is not in your queues")
        return agent

    def _check_call(self, user: User, call_id: str) -> Message:
        call = self.center.call(call_id)
        if call is None:
            raise NotFound(f"no live call {call_id!r}")
        if user.role is Role.AGENT:
            if not user.agent_id or call.get("agent_id") != user.agent_id:
                raise PermissionDenied("agents act only on their own calls")
        elif user.role is Role.SUPERVISOR and not self.scope(user).sees_queue(call.get("queue")):
            raise PermissionDenied(f"call {call_id} is not in your queues")
        return call

    def _check_queue(self, user: User, queue: str) -> None:
        names = {q.get("name") for q in self.center.snapshot().get("queues", [])}
        if queue not in names:
            raise NotFound(f"no queue {queue!r}")
        if not self.scope(user).sees_queue(queue):
            raise PermissionDenied(f"queue {queue} is not yours")

    async def _audit(self, user: User, action: str, target: str, details: Message) -> None:
        await self.crm.audit(user.username, action, target, details)

    # -- agent actions ------------------------------------------------------------------

    async def set_own_state(self, user: User, params: Params) -> Message:
        """``{"state": "ready"}`` or ``{"state": "not_ready", "reason": ...}`` or
        ``{"state": "logged_out"}`` for the user's own agent."""
        state, reason = self._state_params(params)
        if not user.agent_id:
            raise PermissionDenied("this user has no agent id")
        await self.center.set_agent_state(user.agent_id, state, reason)
        return {"agent_id": user.agent_id, "state": state, "reason": reason}

    def _state_params(self, params: Params) -> tuple[str, str]:
        state = choice(params, "state", ("ready", "not_ready", "logged_out"))
        reason = ""
        if state == "not_ready":
            reason = choice(params, "reason", self.settings.routing.not_ready_reasons)
        elif params.get("reason"):
            raise InvalidInput("a reason goes only with not_ready", field="reason")
        return state, reason

    async def call_control(self, user: User, call_id: str, op: str, params: Params) -> Message:
        """hold / unhold / hangup / transfer (``{"kind", "target"}``) /
        pause_recording / resume_recording on one call.

        Pausing a recording is the agent's own: only the agent on the call may (card
        numbers read aloud), not a supervisor or an admin, whose stopping it would hide
        what the review is for."""
        if not ID.match(call_id):
            raise InvalidInput("call id is not valid", field="call_id")
        if op == "transfer":
            kind = choice(params, "kind", TRANSFER_KINDS)
            target = number(params, "target") if kind == "number" else ident(params, "target")
            if kind == "queue":
                names = {q.get("name") for q in self.center.snapshot().get("queues", [])}
                if target not in names:
                    raise NotFound(f"no queue {target!r}")
            elif kind == "agent":
                self._agent(target)
        elif op not in ("hold", "unhold", "hangup", *RECORDING_OPS):
            raise NotFound(f"no call control {op!r}")
        call = self._check_call(user, call_id)
        if op in RECORDING_OPS:
            if not user.agent_id or call.get("agent_id") != user.agent_id:
                raise PermissionDenied("only the agent on the call pauses its recording")
            await self.center.recording_pause(user.agent_id, call_id, op == "pause_recording")
            return {"call_id": call_id, "op": op}
        if op == "hold":
            await self.center.hold(call_id)
        elif op == "unhold":
            await self.center.unhold(call_id)
        elif op == "hangup":
            await self.center.hangup(call_id)
        else:
            await self.center.transfer(call_id, kind, target)  # type: ignore[arg-type]
        if call.get("agent_id") != user.agent_id:  # a supervisor acting on an agent's call
            await self._audit(user, f"call.{op}", call_id, {k: v for k, v in params.items()})
        return {"call_id": call_id, "op": op}

    async def dial(self, user: User, params: Params) -> Message:
        """``{"number", "customer_id"?, "queue"?}``: ring the user's own phone, then the
        number; ``queue``, the queue dialled for, decides the recording with the agent's
        own rule."""
        num = number(params)
        customer_id = text(params, "customer_id", required=False) or None
        queue = text(params, "queue", required=False, max_len=64) or None
        if not user.agent_id:
            raise PermissionDenied("this user has no agent id (no phone to dial from)")
        self._agent(user.agent_id)
        call_id = await self.center.dial(user.agent_id, num, customer_id=customer_id, queue=queue)
        return {"call_id": call_id, "number": num}

    async def create_customer(self, user: User, params: Params) -> Message:
        """The agent turns the "new caller" on their card into a customer.

        An agent may link only a contact of their own; the customer's audit entry names
        the user who created it.
        """
        name = text(params, "name", max_len=200)
        phone = text(params, "phone", max_len=64)
        company = text(params, "company", required=False, max_len=200)
        email = text(params, "email", required=False, max_len=200)
        contact_id = db_id(params, "contact_id", required=False)
        if contact_id is not None and user.role is Role.AGENT:
            contact = await self.crm.contact(contact_id)
            if contact.get("agent_id") != user.agent_id:
                raise PermissionDenied("agents link only their own contacts")
        card = await self.crm.create_customer(name, phone, company, email, contact_id)
        await self.crm.audit(
            user.username, "customer.create", str(card.get("customer_id")), {"contact": contact_id}
        )
        return card

    @staticmethod
    def _case_params(case: Any) -> dict[str, Any]:
        if not isinstance(case, Mapping):
            raise InvalidInput("case must be an object", field="case")
        checked = {
            "id": db_id(case, "id", required=False),
            "subject": text(case, "subject", required=False),
            "status": text(case, "status", required=False) or "open",
            "priority": text(case, "priority", required=False, max_len=16) or "normal",
            "category": text(case, "category", required=False, max_len=64),
        }
        if checked["status"] == "pending":  # the wrap-up form's old value
            checked["status"] = "pending_customer"
        if checked["status"] not in CASE_STATUSES:
            raise InvalidInput(
                f"case.status must be one of {', '.join(CASE_STATUSES)}", field="case.status"
            )
        if checked["priority"] not in CASE_PRIORITIES:
            raise InvalidInput(
                f"case.priority must be one of {', '.join(CASE_PRIORITIES)}",
                field="case.priority",
            )
        new_customer = case.get("new_customer")
        if new_customer is not None:
            if not isinstance(new_customer, Mapping):
                raise InvalidInput("case.new_customer must be an object", field="case.new_customer")
            checked["new_customer"] = {
                "name": text(new_customer, "name", max_len=200),
                "company": text(new_customer, "company", required=False, max_len=200),
                "email": text(new_customer, "email", required=False, max_len=200),
            }
        return checked

    async def _check_contact(self, user: User, contact_id: str, *, drafting: bool = False) -> bool:
        """Whether the contact is the user's own; raises PermissionDenied unless the user
        may wrap it up. A draft may come before the history has the contact's row: the
        contact of the call the center has the agent on is the agent's own even then."""
        live = self._live_contact_of(user.agent_id) == contact_id
        if drafting and live:
            return True
        contact = await self.crm.contact(contact_id)
        own = bool(user.agent_id) and (contact.get("agent_id") == user.agent_id or live)
        if user.role is Role.AGENT and not own:
            raise PermissionDenied("agents wrap up only their own contacts")
        if user.role is Role.SUPERVISOR and not self.scope(user).sees_queue(contact.get("queue")):
            raise PermissionDenied("that contact is not in your queues")
        return own

    async def save_draft(self, user: User, contact_id: str, params: Params) -> Message:
        """``{"disposition"?, "notes"?, "case"?: {"mode": "none"|"new"|"case", "id"?,
        "subject"?, "status"?}}``: the wrap-up as typed so far, kept until it is saved.
        For the contact of the agent's own current wrap-up, the center learns whether
        anything is unsaved (it decides what the wrap-up limit does)."""
        contact_id = str(inputs.int_id(contact_id, "contact id"))
        disposition = text(params, "disposition", required=False, max_len=64)
        if disposition and disposition not in self.settings.routing.dispositions:
            raise InvalidInput(
                f"disposition must be one of {', '.join(self.settings.routing.dispositions)}",
                field="disposition",
            )
        notes = text(params, "notes", required=False, max_len=NOTES_MAX, multiline=True)
        raw_case = params.get("case") or {"mode": "none"}
        case = self._case_params(raw_case)  # InvalidInput unless an object
        mode = choice(raw_case, "mode", ("none", "new", "case"))
        draft = {"disposition": disposition, "notes": notes, "case": {"mode": mode, **case}}
        own = await self._check_contact(user, contact_id, drafting=True)
        # the draft stays the contact's agent's (a restart looks for it under their id),
        # also when a supervisor or an admin types it for them
        agent_id = user.agent_id if own and user.agent_id else None
        if agent_id is None:
            agent_id = str((await self.crm.contact(contact_id)).get("agent_id") or "")
        saved_at = await self.crm.save_draft(contact_id, agent_id, draft)
        # Only the draft of the wrap-up the agent is in decides what its limit does: an
        # older contact's draft cleared (or typed) meanwhile says nothing about this one.
        if user.agent_id and self._live_contact_of(user.agent_id) == contact_id:
            await self.center.wrapup_draft(user.agent_id, holds_input(draft))
        return {"saved_at": saved_at}

    async def draft(self, user: User, contact_id: str) -> Message:
        """``{"draft": {...} | null, "updated_at": float | null}``."""
        contact_id = str(inputs.int_id(contact_id, "contact id"))
        await self._check_contact(user, contact_id, drafting=True)
        return await self.crm.draft(contact_id)

    # -- the customer page ----------------------------------------------------------------

    def agent_names(self, agent_ids: set[str]) -> dict[str, str]:
        """Agent id -> name for the ids given (one O(1) lookup each): no page shows "1002"."""
        names = {}
        for agent_id in agent_ids:
            agent = self.center.agent(agent_id) if agent_id else None
            if agent is not None and agent.get("name"):
                names[agent_id] = str(agent["name"])
        return names

    def named(self, contacts: list[Message]) -> list[Message]:
        names = self.agent_names({str(c.get("agent_id") or "") for c in contacts})
        for contact in contacts:
            contact["agent_name"] = names.get(str(contact.get("agent_id") or ""))
        return contacts

    async def edit_customer(self, user: User, customer_id: str, params: Params) -> Message:
        """``{"name"?, "company"?, "email"?, "tier"?, "notes"?, "add_phone"?}``; audited."""
        changes: dict[str, Any] = {}
        for name, limit, multiline in (
            ("name", 200, False),
            ("company", 200, False),
            ("email", 200, False),
            ("tier", 32, False),
            ("notes", NOTES_MAX, True),
            ("add_phone", 40, False),
        ):
            if name in params:
                required = name == "name"
                value = text(params, name, required=required, max_len=limit, multiline=multiline)
                if name != "add_phone" or value:
                    changes[name] = value
        if not changes:
            raise InvalidInput("nothing to change", field="name")
        customer = await self.crm.update_customer(customer_id, changes)
        await self._audit(
            user, "customer.edit", str(customer.get("id")), {"fields": sorted(changes)}
        )
        return customer

    async def merge_customers(self, user: User, customer_id: str, params: Params) -> Message:
        """``{"duplicate_id"}``: the duplicate's phones, accounts, contacts and cases move to
        this customer, which keeps its own fields (blank ones filled); audited."""
        duplicate = db_id(params, "duplicate_id")
        assert duplicate is not None
        return await self.crm.merge(customer_id, duplicate, actor=user.username)

    async def wrapup(self, user: User, contact_id: str, params: Params) -> Message:
        """``{"disposition", "notes"?, "case"?: {"id"? | "subject", "status"?}, "done"?}``."""
        contact_id = str(inputs.int_id(contact_id, "contact id"))
        disposition = choice(params, "disposition", self.settings.routing.dispositions)
        notes = text(params, "notes", required=False, max_len=NOTES_MAX, multiline=True)
        case = params.get("case")
        if case is not None:
            case = self._case_params(case)
            if not case["id"] and not case["subject"]:
                raise InvalidInput("a new case needs a subject", field="case.subject")
        done = params.get("done", True)
        if not isinstance(done, bool):
            raise InvalidInput("done must be true or false", field="done")
        own = await self._check_contact(user, contact_id)
        if case is not None and not case["id"]:
            # An unknown caller's case: the customer is created first (from the name the
            # agent gave and the caller's number), else refused before anything is saved.
            contact = await self.crm.contact(contact_id)
            if contact.get("customer_id") is None:
                fresh = case.get("new_customer")
                if fresh is None:
                    raise InvalidInput(
                        "this caller is not a customer yet: give the new customer's name"
                        " (case.new_customer.name) to create them with the case",
                        field="case.new_customer",
                    )
                card = await self.crm.create_customer(
                    fresh["name"],
                    str(contact.get("caller") or ""),
                    fresh["company"],
                    fresh["email"],
                    contact_id,
                )
                await self._audit(
                    user,
                    "customer.create",
                    str(card.get("customer_id")),
                    {"contact": contact_id, "from": "wrapup"},
                )
        saved = await self.crm.wrapup(contact_id, disposition, notes, case, actor=user.username)
        if not done and own and self._live_contact_of(user.agent_id) == contact_id:
            # saved (its draft is gone) but the agent stays in wrap-up: nothing is unsaved
            # now, so the limit may make them ready again
            await self.center.wrapup_draft(str(user.agent_id), False)
        if done and own and user.agent_id and not await self._digital(contact_id):
            # (a chat's or an email's wrap-up ends that conversation, by conversation_close;
            # the agent's voice state, maybe a call's wrap-up meanwhile, is not its own)
            agent = self._find_agent(user.agent_id)
            if agent is not None and agent.get("state") == "wrap_up":
                # The wrap-up timer may have run out meanwhile; the notes are saved anyway.
                with contextlib.suppress(IllegalTransition):
                    await self.center.wrapup_done(user.agent_id)
        if user.role is not Role.AGENT:
            await self._audit(user, "contact.wrapup", contact_id, {"disposition": disposition})
        return saved

    async def _digital(self, contact_id: str) -> bool:
        """Whether the contact is a chat or an email (``contacts.channel``)."""
        contact = await self.crm.contact(contact_id)
        return str(contact.get("channel") or "voice") != "voice"

    # -- supervisor actions -------------------------------------------------------------

    async def force_state(self, user: User, agent_id: str, params: Params) -> Message:
        """Supervisor sets another agent ready / not ready / logged out."""
        state, reason = self._state_params(params)
        self._require_supervising(user)
        self._check_agent(user, agent_id)
        await self.center.set_agent_state(agent_id, state, reason, forced_by=user.username)
        await self._audit(user, "agent.force_state", agent_id, {"state": state, "reason": reason})
        return {"agent_id": agent_id, "state": state, "reason": reason}

    async def logout_agent(self, user: User, agent_id: str) -> Message:
        self._require_supervising(user)
        self._check_agent(user, agent_id)
        await self.center.set_agent_state(agent_id, "logged_out", forced_by=user.username)
        await self._audit(user, "agent.logout", agent_id, {})
        return {"agent_id": agent_id, "state": "logged_out"}

    async def move_call(self, user: User, call_id: str, params: Params) -> Message:
        queue = ident(params, "queue")
        self._require_supervising(user)
        call = self._check_call(user, call_id)
        self._check_queue(user, queue)
        await self.center.move_call(call_id, queue)
        await self._audit(user, "call.move", call_id, {"from": call.get("queue"), "to": queue})
        return {"call_id": call_id, "queue": queue}

    async def spy(self, user: User, agent_id: str, params: Params) -> Message:
        mode = choice(params, "mode", SPY_MODES)
        self._require_supervising(user)
        self._check_agent(user, agent_id)
        if not user.agent_id:
            raise InvalidInput("your user has no agent id: no phone to listen on", field="mode")
        await self.center.spy(agent_id, mode, supervisor_agent_id=user.agent_id)  # type: ignore[arg-type]
        await self._audit(user, f"agent.{mode}", agent_id, {})
        return {"agent_id": agent_id, "mode": mode}

    @staticmethod
    def _require_supervising(user: User) -> None:
        if user.role not in SUPERVISING:
            raise PermissionDenied("supervisors only")


WsAction = Callable[[Console, User, Params], Awaitable[Message]]


def _contact_ref(params: Params) -> str:
    """``contact_id`` of a websocket message: calls carry it as a number, so a number is
    taken as well as its digits (checked again as an id by the action)."""
    value = params.get("contact_id")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return text(params, "contact_id", max_len=20)


def _ws_actions() -> dict[str, tuple[frozenset[Role], WsAction]]:
    """Websocket message type -> (roles allowed, action). Same rules as the JSON API."""

    def target(params: Params, name: str) -> str:
        return ident(params, name)

    return {
        "set_state": (ALL_ROLES, lambda c, u, p: c.set_own_state(u, p)),
        "hold": (ALL_ROLES, lambda c, u, p: c.call_control(u, target(p, "call_id"), "hold", p)),
        "unhold": (
            ALL_ROLES,
            lambda c, u, p: c.call_control(u, target(p, "call_id"), "unhold", p),
        ),
        "hangup": (
            ALL_ROLES,
            lambda c, u, p: c.call_control(u, target(p, "call_id"), "hangup", p),
        ),
        "transfer": (
            ALL_ROLES,
            lambda c, u, p: c.call_control(u, target(p, "call_id"), "transfer", p),
        ),
        "pause_recording": (
            ALL_ROLES,
            lambda c, u, p: c.call_control(u, target(p, "call_id"), "pause_recording", p),
        ),
        "resume_recording": (
            ALL_ROLES,
            lambda c, u, p: c.call_control(u, target(p, "call_id"), "resume_recording", p),
        ),
        "dial": (ALL_ROLES, lambda c, u, p: c.dial(u, p)),
        "save_draft": (ALL_ROLES, lambda c, u, p: c.save_draft(u, _contact_ref(p), p)),
        "force_state": (SUPERVISING, lambda c, u, p: c.force_state(u, target(p, "agent_id"), p)),
        "logout_agent": (SUPERVISING, lambda c, u, p: c.logout_agent(u, target(p, "agent_id"))),
        "move_call": (SUPERVISING, lambda c, u, p: c.move_call(u, target(p, "call_id"), p)),
        "spy": (SUPERVISING, lambda c, u, p: c.spy(u, target(p, "agent_id"), p)),
    }


WS_ACTIONS = _ws_actions()

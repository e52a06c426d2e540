"""The IVR interpreter: a pure state machine walking one caller through a script.

Theory of operation: an :class:`IvrSession` is NEW, then WAITING for the one event that
answers the command it last returned, then FINISHED. ``start(now)`` enters the start
node; ``handle(event, now)`` feeds the answer to the current node. Entering a node
yields one of three acts: *wait* (return a command such as ``Collect`` and remember
which event answers it), *go* (close this node's path step and enter the next one at
once — set, branch, hours, lookup-without-value never wait), or *end* (return the
final command, ``Enqueue``/``OfferCallback``/``Transfer``/``Hangup``, and finish). The
expected event per waiting command lives in one table (``ANSWERS``); any other event
raises :class:`IllegalTransition` and changes nothing. ``HungUp`` is accepted in any
state: it closes the current step and finishes with outcome ``abandoned_ivr``.

Every node visited becomes a :class:`PathStep` (node, kind, digits, entered_at,
left_at, result) so the agent and the contact history see what the caller did. Digits
from a ``collect`` node marked ``mask`` (or Luhn-checked, i.e. card numbers) are kept
out of the path and out of the variables handed to routing, except the last four.
Nothing here reads a clock, sleeps or touches I/O; the shell passes ``now``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from config.errors import IllegalTransition
from routing.ivr import commands, events
from routing.ivr.commands import Command, Value
from routing.ivr.hours import HoursStatus
from routing.ivr.nodes import (
    AllOf,
    AnyNode,
    AnyOf,
    BranchNode,
    CallbackNode,
    CollectNode,
    Compare,
    Condition,
    HangupNode,
    HoursNode,
    InHours,
    LookupNode,
    MenuNode,
    NotOf,
    PlayNode,
    QueueCheck,
    QueueNode,
    Script,
    SetNode,
    TransferNode,
    VoicemailNode,
    queues_in,
)

__all__ = [
    "ANSWERS",
    "CallInfo",
    "IvrSession",
    "Outcome",
    "PathStep",
    "SessionState",
    "commands",
    "events",
    "luhn_ok",
]

ALL_KEYS = "0123456789*#"
# Defensive: the validator refuses loops without input, so a walk this long is a bug.
MAX_HOPS = 200

ANSWERS: dict[type[Any], type[Any]] = {
    commands.Play: events.PlayDone,
    commands.Collect: events.Collected,
    commands.Lookup: events.LookupDone,
    commands.QueryQueue: events.QueueState,
    commands.Record: events.RecordDone,
}


class SessionState(enum.Enum):
    NEW = "new"
    WAITING = "waiting"
    FINISHED = "finished"


class Outcome(enum.StrEnum):
    QUEUED = "queued"
    CALLBACK = "callback"
    VOICEMAIL = "voicemail"
    TRANSFERRED = "transferred"
    HANGUP = "hangup"  # the script hung up (goodbye, retries exhausted with a hangup node)
    FAILED = "failed"  # retries ran out with nowhere to go
    ABANDONED = "abandoned_ivr"  # the caller hung up in the IVR


@dataclass(frozen=True, slots=True)
class CallInfo:
    caller: str = ""
    dialed: str = ""
    language: str = ""
    channel: str = ""
    uniqueid: str = ""


@dataclass(frozen=True, slots=True)
class PathStep:
    node: str
    kind: str
    digits: str
    entered_at: float
    left_at: float
    result: str

    def to_json(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "kind": self.kind,
            "digits": self.digits,
            "entered_at": self.entered_at,
            "left_at": self.left_at,
            "seconds": round(self.left_at - self.entered_at, 3),
            "result": self.result,
        }


@dataclass(frozen=True, slots=True)
class _Wait:
    command: Command


@dataclass(frozen=True, slots=True)
class _Go:
    target: str
    result: str


@dataclass(frozen=True, slots=True)
class _End:
    command: Command
    outcome: Outcome
    result: str


_Act = _Wait | _Go | _End


@dataclass(slots=True)
class _Visit:
    """Mutable bookkeeping of the node being visited."""

    node: AnyNode
    entered_at: float
    digits: list[str] = field(default_factory=list)
    attempts: int = 0
    phase: str = ""
    queue_states: dict[str, events.QueueState] = field(default_factory=dict)
    asking: str = ""
    number: str = ""


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum used by card and many account numbers."""
    if not digits.isdigit() or len(digits) < 2:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _mask(digits: str) -> str:
    return "*" * max(0, len(digits) - 4) + digits[-4:] if len(digits) > 4 else "*" * len(digits)


class IvrSession:
    """One caller's walk through one script.

    Args:
        script: a validated script (from ``load_script`` / ``ScriptLibrary``).
        call: who called what, the channel's language.
        now: epoch seconds when the session was created.
    """

    def __init__(self, script: Script, call: CallInfo, now: float) -> None:
        self.script = script
        self.call = call
        self.created_at = now
        self.state = SessionState.NEW
        self.outcome: Outcome | None = None
        self.language = call.language if call.language in script.languages else script.language
        self.priority = 0
        self.skills: dict[str, int] = {}
        self.recording: str | None = None
        self.variables: dict[str, Value] = dict(script.variables)
        self.variables.update(
            {"caller": call.caller, "dialed": call.dialed, "language": self.language}
        )
        self.path: list[PathStep] = []
        self._secret: set[str] = set()
        self._visit: _Visit | None = None
        self._expect: type[Any] | None = None
        # A key that interrupted a prompt answers the menu that follows it at once.
        self._typeahead: str | None = None

    @property
    def finished(self) -> bool:
        return self.state is SessionState.FINISHED

    @property
    def current_node(self) -> str | None:
        return self._visit.node.id if self._visit is not None else None

    def start(self, now: float) -> list[Command]:
        """Enter the start node.

        Raises:
            IllegalTransition: the session already started.
        """
        if self.state is not SessionState.NEW:
            raise IllegalTransition(self.state, "start")
        return self._drive(self._enter(self.script.start, now), now)

    def handle(self, event: events.Event, now: float) -> list[Command]:
        """Feed the answer to the last command (or a hangup); returns the next commands.

        Raises:
            IllegalTransition: the event does not answer the pending command, or the
                session is finished; nothing changes.
        """
        if isinstance(event, events.HungUp):
            return self._hung_up(now)
        if self.state is not SessionState.WAITING or not isinstance(event, self._expect or ()):
            raise IllegalTransition(self.state, type(event).__name__)
        visit = self._visit
        assert visit is not None
        return self._drive(self._resume(visit, event, now), now)

    def variables_for_routing(self) -> dict[str, Value]:
        """The variables handed to routing and the agent: secrets masked."""
        out = dict(self.variables)
        for name in self._secret:
            if name in out:
                out[name] = _mask(str(out[name]))
        return out

    # --- the walk -----------------------------------------------------------------------

    def _hung_up(self, now: float) -> list[Command]:
        if self.state is SessionState.FINISHED:
            return []
        visit = self._visit
        # Hanging up after the message is how most callers end a voicemail.
        left_a_message = (
            visit is not None and visit.node.kind == "voicemail" and visit.phase == "after"
        )
        self._close(now, "recorded" if left_a_message else "hung up")
        self.outcome = Outcome.VOICEMAIL if left_a_message else Outcome.ABANDONED
        self.state = SessionState.FINISHED
        self._expect = None
        return []

    def _drive(self, act: _Act, now: float) -> list[Command]:
        hops = 0
        while isinstance(act, _Go):
            self._close(now, act.result)
            hops += 1
            if hops > MAX_HOPS:
                return self._finish(commands.Hangup("ivr_loop"), Outcome.FAILED)
            act = self._enter(act.target, now)
        if isinstance(act, _Wait):
            self._expect = ANSWERS[type(act.command)]
            self.state = SessionState.WAITING
            return [act.command]
        self._close(now, act.result)
        return self._finish(act.command, act.outcome)

    def _finish(self, command: Command, outcome: Outcome) -> list[Command]:
        self.outcome = outcome
        self.state = SessionState.FINISHED
        self._expect = None
        return [command]

    def _close(self, now: float, result: str) -> None:
        visit = self._visit
        if visit is None:
            return
        self.path.append(
            PathStep(
                visit.node.id,
                visit.node.kind,
                ",".join(visit.digits),
                visit.entered_at,
                now,
                result,
            )
        )
        self._visit = None

    def _enter(self, node_id: str, now: float) -> _Act:
        node = self.script.nodes[node_id]
        visit = _Visit(node, now)
        self._visit = visit
        typeahead, self._typeahead = self._typeahead, None
        if isinstance(node, PlayNode):
            return _Wait(
                commands.Play(self._prompts(node.prompts), ALL_KEYS if node.interruptible else "")
            )
        if isinstance(node, MenuNode):
            if typeahead is not None and typeahead in node.options:
                return self._on_menu(visit, node, events.Collected(typeahead))
            return self._ask(node.prompts, max(len(d) for d in node.options), node.timeout_ms)
        if isinstance(node, CollectNode):
            return self._ask(node.prompts, node.max_digits, node.timeout_ms)
        if isinstance(node, LookupNode):
            return self._enter_lookup(node)
        if isinstance(node, BranchNode):
            return self._branch(visit, node, now)
        if isinstance(node, HoursNode):
            return self._hours(node, now)
        if isinstance(node, SetNode):
            return self._set(node)
        if isinstance(node, CallbackNode):
            visit.phase = "offer"
            return self._ask(node.offer, 1, node.timeout_ms)
        # queue, voicemail, transfer, hangup: optional prompts first, then their action
        pre = node.prompts
        if pre:
            visit.phase = "pre"
            return _Wait(commands.Play(self._prompts(pre), ""))
        return self._after_prompts(visit, node, now)

    def _resume(self, visit: _Visit, event: events.Event, now: float) -> _Act:
        node = visit.node
        if isinstance(node, PlayNode):
            assert isinstance(event, events.PlayDone)
            if event.digit:
                visit.digits.append(event.digit)
                self._typeahead = event.digit
            return _Go(node.next, f"interrupted by {event.digit}" if event.digit else "played")
        if isinstance(node, MenuNode):
            assert isinstance(event, events.Collected)
            return self._on_menu(visit, node, event)
        if isinstance(node, CollectNode):
            assert isinstance(event, events.Collected)
            return self._on_collect(visit, node, event)
        if isinstance(node, LookupNode):
            assert isinstance(event, events.LookupDone)
            return self._on_lookup(node, event)
        if isinstance(node, BranchNode):
            assert isinstance(event, events.QueueState)
            self._note_queue(visit.asking, event)
            visit.queue_states[visit.asking] = event
            return self._branch(visit, node, now)
        if isinstance(node, CallbackNode):
            if visit.phase == "booked":
                return self._callback_end(visit, node)
            assert isinstance(event, events.Collected)
            return self._on_callback(visit, node, event)
        if isinstance(node, VoicemailNode) and visit.phase == "record":
            assert isinstance(event, events.RecordDone)
            return self._on_recorded(visit, node, event)
        if isinstance(node, QueueNode | VoicemailNode | TransferNode | HangupNode):
            assert isinstance(event, events.PlayDone)
            if visit.phase == "after":
                return _End(commands.Hangup("voicemail"), Outcome.VOICEMAIL, "recorded")
            return self._after_prompts(visit, node, now)
        raise AssertionError(f"no handler for {node.kind}")  # pragma: no cover

    # --- node kinds ----------------------------------------------------------------------

    def _prompts(self, names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(self.script.prompt(n, self.language) for n in names)

    def _ask(self, prompts: tuple[str, ...], max_digits: int, timeout_ms: int) -> _Wait:
        return _Wait(commands.Collect(self._prompts(prompts), max_digits, timeout_ms, "#"))

    def _retry(
        self,
        visit: _Visit,
        digits: str,
        retries: int,
        again: tuple[str, ...],
        invalid: tuple[str, ...],
        no_input: tuple[str, ...],
        max_digits: int,
        timeout_ms: int,
    ) -> _Act | None:
        """Ask again after bad or missing input; None when the retries are used up."""
        visit.attempts += 1
        if visit.attempts > retries:
            return None
        sorry = no_input if digits == "" else invalid
        return self._ask(sorry + again, max_digits, timeout_ms)

    def _failed(self, on_fail: str | None, digits: str) -> _Act:
        why = "no input" if digits == "" else "invalid input"
        if on_fail is not None:
            return _Go(on_fail, f"failed: {why}")
        return _End(commands.Hangup("ivr_failed"), Outcome.FAILED, f"failed: {why}")

    def _on_menu(self, visit: _Visit, node: MenuNode, event: events.Collected) -> _Act:
        digits = event.digits
        if digits:
            visit.digits.append(digits)
        if digits in node.options:
            return _Go(node.options[digits], f"option {digits}")
        width = max(len(d) for d in node.options)
        again = self._retry(
            visit,
            digits,
            node.retries,
            node.prompts,
            node.invalid,
            node.no_input,
            width,
            node.timeout_ms,
        )
        return again if again is not None else self._failed(node.on_fail, digits)

    def _on_collect(self, visit: _Visit, node: CollectNode, event: events.Collected) -> _Act:
        digits = event.digits
        secret = node.mask or node.luhn
        if digits:
            visit.digits.append(_mask(digits) if secret else digits)
        ok = (
            node.min_digits <= len(digits) <= node.max_digits
            and digits.isdigit()
            and (node.pattern is None or re.fullmatch(node.pattern, digits) is not None)
            and (not node.luhn or luhn_ok(digits))
        )
        if ok:
            self.variables[node.variable] = digits
            if secret:
                self._secret.add(node.variable)
            return _Go(node.next, "ok")
        again = self._retry(
            visit,
            digits,
            node.retries,
            node.prompts,
            node.invalid,
            node.no_input,
            node.max_digits,
            node.timeout_ms,
        )
        return again if again is not None else self._failed(node.on_fail, digits)

    def _enter_lookup(self, node: LookupNode) -> _Act:
        if node.by == "phone":
            value = self.call.caller
        else:
            value = str(self.variables.get(node.source or "", ""))
        if not value:
            return self._on_lookup(node, events.LookupDone(None))
        return _Wait(commands.Lookup(node.by, value))

    def _on_lookup(self, node: LookupNode, event: events.LookupDone) -> _Act:
        customer: Mapping[str, Any] = event.customer or {}
        found = event.customer is not None

        def text(key: str) -> str:
            return str(customer.get(key) or "")

        self.variables.update(
            {
                "customer.found": found,
                "customer.id": text("id"),
                "customer.name": text("name"),
                "customer.tier": text("tier"),
                "customer.language": text("language"),
                "customer.open_cases": _count(customer.get("open_cases")),
                # Typing the account number proves more than a caller id does.
                "customer.verified": bool(customer.get("verified", found and node.by == "account")),
            }
        )
        lang = text("language")
        if found and node.use_language and lang in self.script.languages:
            self._set_language(lang)
        if not found and node.not_found is not None:
            return _Go(node.not_found, "not found")
        return _Go(node.next, "found" if found else "not found")

    def _note_queue(self, queue: str, state: events.QueueState) -> None:
        self.variables[f"queue.{queue}.estimated_wait"] = state.estimated_wait
        self.variables[f"queue.{queue}.agents_ready"] = state.agents_ready
        self.variables[f"queue.{queue}.waiting"] = state.waiting

    def _branch(self, visit: _Visit, node: BranchNode, now: float) -> _Act:
        for case in node.cases:
            for queue in queues_in(case.condition):
                if queue not in visit.queue_states:
                    visit.asking = queue
                    return _Wait(commands.QueryQueue(queue))
        for i, case in enumerate(node.cases, 1):
            if self._holds(case.condition, visit, now):
                return _Go(case.next, f"case {i}")
        return _Go(node.default, "default")

    def _holds(self, cond: Condition, visit: _Visit, now: float) -> bool:
        if isinstance(cond, Compare):
            return _compare(self.variables.get(cond.var), cond.op, cond.value)
        if isinstance(cond, InHours):
            return self.script.schedules[cond.schedule].is_open(now) == cond.open
        if isinstance(cond, QueueCheck):
            actual = float(getattr(visit.queue_states[cond.queue], cond.metric))
            return actual > cond.value if cond.op == "gt" else actual < cond.value
        if isinstance(cond, AllOf):
            return all(self._holds(c, visit, now) for c in cond.conditions)
        if isinstance(cond, AnyOf):
            return any(self._holds(c, visit, now) for c in cond.conditions)
        assert isinstance(cond, NotOf)
        return not self._holds(cond.condition, visit, now)

    def _hours(self, node: HoursNode, now: float) -> _Act:
        status = self.script.schedules[node.schedule].status(now)
        self.variables[f"hours.{node.schedule}"] = status.value
        if status is HoursStatus.OPEN:
            return _Go(node.open, "open")
        if status is HoursStatus.HOLIDAY:
            return _Go(node.holiday or node.closed, "holiday")
        return _Go(node.closed, "closed")

    def _set(self, node: SetNode) -> _Act:
        self.variables.update(node.variables)
        if node.language is not None:
            self._set_language(node.language)
        if node.priority is not None:
            self.priority = node.priority
        self.skills.update(node.skills)
        return _Go(node.next, "set")

    def _set_language(self, language: str) -> None:
        self.language = language
        self.variables["language"] = language

    def _on_callback(self, visit: _Visit, node: CallbackNode, event: events.Collected) -> _Act:
        digits = event.digits
        if digits:
            visit.digits.append(digits)
        if visit.phase == "offer":
            if digits == "1":
                return self._callback_number(visit, node)
            if digits == "2":
                return _Go(node.declined, "declined")
            again = self._retry(
                visit,
                digits,
                node.retries,
                node.offer,
                node.invalid,
                node.no_input,
                1,
                node.timeout_ms,
            )
            return again or _Go(node.declined, "declined: no answer")
        if visit.phase == "confirm":
            if digits == "1":
                return self._booked(visit, node, self.call.caller)
            if digits == "2":
                return self._enter_number(visit, node)
            again = self._retry(
                visit,
                digits,
                node.retries,
                node.confirm,
                node.invalid,
                node.no_input,
                1,
                node.timeout_ms,
            )
            return again or _Go(node.declined, "declined: no confirmation")
        # phase "number"
        if node.min_digits <= len(digits) <= node.max_digits and digits.isdigit():
            return self._booked(visit, node, digits)
        again = self._retry(
            visit,
            digits,
            node.retries,
            node.enter_number,
            node.invalid,
            node.no_input,
            node.max_digits,
            node.timeout_ms,
        )
        return again or _Go(node.declined, "declined: no valid number")

    def _callback_number(self, visit: _Visit, node: CallbackNode) -> _Act:
        caller = self.call.caller.lstrip("+")
        if caller.isdigit() and node.min_digits <= len(caller) <= node.max_digits:
            visit.phase, visit.attempts = "confirm", 0
            return self._ask(node.confirm, 1, node.timeout_ms)
        return self._enter_number(visit, node)

    def _enter_number(self, visit: _Visit, node: CallbackNode) -> _Act:
        visit.phase, visit.attempts = "number", 0
        return self._ask(node.enter_number, node.max_digits, node.timeout_ms)

    def _booked(self, visit: _Visit, node: CallbackNode, number: str) -> _Act:
        visit.number = number
        self.variables["callback.number"] = number
        if node.booked and visit.phase != "booked":
            visit.phase = "booked"
            return _Wait(commands.Play(self._prompts(node.booked), ""))
        return self._callback_end(visit, node)

    def _callback_end(self, visit: _Visit, node: CallbackNode) -> _Act:
        command = commands.OfferCallback(
            node.queue, visit.number, self.priority, dict(self.skills), self.variables_for_routing()
        )
        return _End(command, Outcome.CALLBACK, f"callback {node.queue}")

    def _after_prompts(
        self,
        visit: _Visit,
        node: QueueNode | VoicemailNode | TransferNode | HangupNode,
        now: float,
    ) -> _Act:
        if isinstance(node, QueueNode):
            priority = node.priority if node.priority is not None else self.priority
            skills = {**self.skills, **node.skills}
            command = commands.Enqueue(node.queue, priority, skills, self.variables_for_routing())
            return _End(command, Outcome.QUEUED, f"queued {node.queue}")
        if isinstance(node, TransferNode):
            return _End(
                commands.Transfer(node.target), Outcome.TRANSFERRED, f"transferred to {node.target}"
            )
        if isinstance(node, HangupNode):
            return _End(commands.Hangup(node.reason), Outcome.HANGUP, node.reason)
        visit.phase = "record"
        tag = re.sub(r"[^A-Za-z0-9]", "-", self.call.uniqueid or self.call.channel) or "call"
        return _Wait(commands.Record(f"{node.box}-{int(now)}-{tag}", node.max_seconds))

    def _on_recorded(self, visit: _Visit, node: VoicemailNode, event: events.RecordDone) -> _Act:
        self.recording = event.path or None
        self.variables["voicemail.box"] = node.box
        self.variables["voicemail.path"] = event.path
        result = "recorded" if event.path else "nothing recorded"
        if node.after:
            visit.phase = "after"
            return _Wait(commands.Play(self._prompts(node.after), ""))
        return _End(commands.Hangup("voicemail"), Outcome.VOICEMAIL, result)


def _count(value: object) -> int:
    """Open cases arrive as a number, a numeric string, or the list of cases."""
    if isinstance(value, list | tuple):
        return len(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return max(0, value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return 0


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _same(a: object, b: object) -> bool:
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None:
        return na == nb
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or str(a).lower() == str(b).lower()
    return str(a) == str(b)


def _compare(actual: Value | None, op: str, expected: object) -> bool:
    if op == "set":
        present = actual is not None and actual != "" and actual is not False
        return present == expected
    if op in ("in", "not_in"):
        assert isinstance(expected, tuple)
        inside = actual is not None and any(_same(actual, e) for e in expected)
        return inside if op == "in" else not inside
    if actual is None:
        return op == "ne"
    if op == "eq":
        return _same(actual, expected)
    if op == "ne":
        return not _same(actual, expected)
    a, b = _number(actual), _number(expected)
    if a is None or b is None:
        return False
    return {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op]

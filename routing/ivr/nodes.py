"""The typed model of a loaded IVR script: nodes, branch conditions, the script itself.

Everything here is frozen; the loader (:mod:`routing.ivr.script`) builds it only from a
file that validated, so the interpreter never meets a dangling reference or a bad field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from routing.ivr.commands import Value
from routing.ivr.hours import Schedule

# Node kinds that end the IVR part of the call (the validator's "way out").
TERMINAL_KINDS = frozenset({"queue", "callback", "voicemail", "transfer", "hangup"})
# Node kinds that wait for the caller to press keys (a loop through one of them is fine).
INPUT_KINDS = frozenset({"menu", "collect", "callback"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    id: str
    line: int

    kind = "node"

    def targets(self) -> list[tuple[str, str]]:
        """``(label, node id)`` for every node this one can go to."""
        out: list[tuple[str, str]] = []
        for label in (
            "next",
            "on_fail",
            "not_found",
            "default",
            "open",
            "closed",
            "holiday",
            "declined",
        ):
            target = getattr(self, label, None)
            if isinstance(target, str):
                out.append((label, target))
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayNode(Node):
    prompts: tuple[str, ...]
    interruptible: bool = True
    next: str

    kind = "play"


@dataclass(frozen=True, slots=True, kw_only=True)
class MenuNode(Node):
    prompts: tuple[str, ...]
    options: Mapping[str, str]
    timeout_ms: int = 5000
    retries: int = 2
    invalid: tuple[str, ...] = ()
    no_input: tuple[str, ...] = ()
    on_fail: str | None = None

    kind = "menu"

    def targets(self) -> list[tuple[str, str]]:
        return [(f"option {d}", t) for d, t in self.options.items()] + Node.targets(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class CollectNode(Node):
    prompts: tuple[str, ...]
    variable: str
    min_digits: int = 1
    max_digits: int = 16
    timeout_ms: int = 5000
    retries: int = 2
    pattern: str | None = None
    luhn: bool = False
    mask: bool = False
    invalid: tuple[str, ...] = ()
    no_input: tuple[str, ...] = ()
    next: str
    on_fail: str | None = None

    kind = "collect"


@dataclass(frozen=True, slots=True, kw_only=True)
class LookupNode(Node):
    by: str  # "phone" or "account"
    source: str | None = None  # the variable holding the account number
    use_language: bool = False
    next: str
    not_found: str | None = None

    kind = "lookup"


@dataclass(frozen=True, slots=True)
class Compare:
    """``variables[var] <op> value``; ``op`` in eq ne in not_in gt ge lt le set."""

    var: str
    op: str
    value: Value | tuple[Value, ...] | None = None


@dataclass(frozen=True, slots=True)
class InHours:
    schedule: str
    open: bool


@dataclass(frozen=True, slots=True)
class QueueCheck:
    """``queue``'s ``metric`` (estimated_wait, agents_ready, waiting) ``op`` (gt, lt) value."""

    queue: str
    metric: str
    op: str
    value: float


@dataclass(frozen=True, slots=True)
class AllOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class NotOf:
    condition: Condition


Condition = Compare | InHours | QueueCheck | AllOf | AnyOf | NotOf


def queues_in(cond: Condition) -> list[str]:
    """The queues whose state a condition needs, in first-use order."""
    if isinstance(cond, QueueCheck):
        return [cond.queue]
    if isinstance(cond, AllOf | AnyOf):
        out: list[str] = []
        for c in cond.conditions:
            out.extend(q for q in queues_in(c) if q not in out)
        return out
    if isinstance(cond, NotOf):
        return queues_in(cond.condition)
    return []


@dataclass(frozen=True, slots=True)
class Case:
    condition: Condition
    next: str
    line: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BranchNode(Node):
    cases: tuple[Case, ...]
    default: str

    kind = "branch"

    def targets(self) -> list[tuple[str, str]]:
        return [(f"case {i + 1}", c.next) for i, c in enumerate(self.cases)] + Node.targets(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class HoursNode(Node):
    schedule: str
    open: str
    closed: str
    holiday: str | None = None

    kind = "hours"


@dataclass(frozen=True, slots=True, kw_only=True)
class SetNode(Node):
    variables: Mapping[str, Value] = field(default_factory=dict)
    language: str | None = None
    priority: int | None = None
    skills: Mapping[str, int] = field(default_factory=dict)
    next: str

    kind = "set"


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueNode(Node):
    queue: str
    priority: int | None = None
    skills: Mapping[str, int] = field(default_factory=dict)
    prompts: tuple[str, ...] = ()

    kind = "queue"


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackNode(Node):
    queue: str
    offer: tuple[str, ...]
    confirm: tuple[str, ...]
    enter_number: tuple[str, ...]
    booked: tuple[str, ...] = ()
    invalid: tuple[str, ...] = ()
    no_input: tuple[str, ...] = ()
    timeout_ms: int = 5000
    retries: int = 2
    min_digits: int = 7
    max_digits: int = 15
    declined: str

    kind = "callback"


@dataclass(frozen=True, slots=True, kw_only=True)
class VoicemailNode(Node):
    prompts: tuple[str, ...] = ()
    box: str = "general"
    max_seconds: int = 120
    after: tuple[str, ...] = ()

    kind = "voicemail"


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferNode(Node):
    target: str
    prompts: tuple[str, ...] = ()

    kind = "transfer"


@dataclass(frozen=True, slots=True, kw_only=True)
class HangupNode(Node):
    prompts: tuple[str, ...] = ()
    reason: str = "normal"

    kind = "hangup"


AnyNode = (
    PlayNode
    | MenuNode
    | CollectNode
    | LookupNode
    | BranchNode
    | HoursNode
    | SetNode
    | QueueNode
    | CallbackNode
    | VoicemailNode
    | TransferNode
    | HangupNode
)


@dataclass(frozen=True, slots=True)
class Script:
    """A validated flow. ``prompt_paths[lang][name]`` is a path without extension."""

    name: str
    file: str
    start: str
    language: str
    languages: tuple[str, ...]
    nodes: Mapping[str, AnyNode]
    schedules: Mapping[str, Schedule] = field(default_factory=dict)
    variables: Mapping[str, Value] = field(default_factory=dict)
    prompt_paths: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    prompts_dir: str = ""

    def prompt(self, name: str, language: str) -> str:
        """The audio for ``name`` in ``language``, else in the script's default language."""
        for lang in (language, self.language):
            path = self.prompt_paths.get(lang, {}).get(name)
            if path is not None:
                return path
        # The validator refuses a script whose default-language audio is missing, so this
        # only happens when a file was deleted after loading; Asterisk will log the miss.
        return f"{self.prompts_dir}/{self.language}/{name}"

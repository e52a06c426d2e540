"""Field checkers for IVR scripts: one parser per field type, one table per node kind.

Each parser takes the located YAML value and returns the typed value or raises
``Bad(line, message)``; ``build_node`` runs a node's fields through its kind's table and
collects every problem in a ``Ctx`` instead of stopping at the first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from config.errors import InvalidInput
from routing.ivr.commands import Value
from routing.ivr.hours import (
    Holiday,
    Schedule,
    TimeRange,
    build_schedule,
    parse_date,
    parse_ranges,
)
from routing.ivr.nodes import (
    AllOf,
    AnyNode,
    AnyOf,
    BranchNode,
    CallbackNode,
    Case,
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
    SetNode,
    TransferNode,
    VoicemailNode,
)
from routing.ivr.yamltree import YMap, YNode, YScalar, YSeq
from routing.recording import flag


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One thing wrong with a script, at a 1-based line."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class Bad(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_PROMPT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*(/[A-Za-z0-9_][A-Za-z0-9_-]*)*$")
_DIGITS = re.compile(r"^[0-9*]{1,4}$")
_TARGET = re.compile(r"^\+?[0-9*#]{2,20}$")
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class Ctx:
    """What one file's check accumulates: problems, node references and prompt uses."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.refs: list[tuple[str, str, int]] = []  # (from node, target, line)
        self.prompts: list[tuple[str, int]] = []
        self.schedule_refs: list[tuple[str, int]] = []
        self.language_refs: list[tuple[str, int]] = []
        self.node: str = ""

    def add(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.file, line, message))


Parser = Callable[[Ctx, YNode], Any]


def scalar(y: YNode, what: str) -> YScalar:
    if not isinstance(y, YScalar) or y.value is None:
        raise Bad(y.line, f"expected {what}")
    return y


def p_text(ctx: Ctx, y: YNode) -> str:
    s = scalar(y, "text")
    if not s.text.strip():
        raise Bad(y.line, "expected non-empty text")
    return s.text


def p_name(ctx: Ctx, y: YNode) -> str:
    text = scalar(y, "a name").text
    if not NAME.match(text):
        raise Bad(y.line, f"{text!r} is not a valid name (letters, digits, _ . -)")
    return text


def p_variable(ctx: Ctx, y: YNode) -> str:
    text = scalar(y, "a variable name").text
    if not _VARIABLE.match(text):
        raise Bad(y.line, f"{text!r} is not a valid variable name")
    return text


def p_int(ctx: Ctx, y: YNode) -> int:
    s = scalar(y, "a whole number")
    if isinstance(s.value, bool) or not isinstance(s.value, int) or s.value < 0:
        raise Bad(y.line, f"expected a whole number >= 0, got {s.text!r}")
    return s.value


def p_positive(ctx: Ctx, y: YNode) -> int:
    n = p_int(ctx, y)
    if n < 1:
        raise Bad(y.line, "expected a whole number >= 1")
    return n


def p_seconds_ms(ctx: Ctx, y: YNode) -> int:
    s = scalar(y, "seconds")
    if isinstance(s.value, bool) or not isinstance(s.value, int | float) or s.value <= 0:
        raise Bad(y.line, f"expected a number of seconds > 0, got {s.text!r}")
    if s.value > 600:
        raise Bad(y.line, "timeout over 600 seconds")
    return int(s.value * 1000)


def p_bool(ctx: Ctx, y: YNode) -> bool:
    s = scalar(y, "true or false")
    if not isinstance(s.value, bool):
        raise Bad(y.line, f"expected true or false, got {s.text!r}")
    return s.value


def p_node(ctx: Ctx, y: YNode) -> str:
    target = p_name(ctx, y)
    ctx.refs.append((ctx.node, target, y.line))
    return target


def _prompt(ctx: Ctx, y: YNode) -> str:
    text = scalar(y, "a prompt name").text
    if not _PROMPT.match(text):
        raise Bad(y.line, f"{text!r} is not a prompt name (like 'welcome' or 'menus/main')")
    ctx.prompts.append((text, y.line))
    return text


def p_prompts(ctx: Ctx, y: YNode) -> tuple[str, ...]:
    if isinstance(y, YSeq):
        if not y.items:
            raise Bad(y.line, "expected at least one prompt")
        return tuple(_prompt(ctx, item) for item in y.items)
    return (_prompt(ctx, y),)


def p_language(ctx: Ctx, y: YNode) -> str:
    text = p_name(ctx, y)
    ctx.language_refs.append((text, y.line))
    return text


def p_options(ctx: Ctx, y: YNode) -> dict[str, str]:
    if not isinstance(y, YMap):
        raise Bad(y.line, "expected digits mapped to node ids, like '1: sales'")
    for key, line, first in y.duplicates:
        ctx.add(line, f"duplicate digit '{key}' in menu '{ctx.node}' (first at line {first})")
    out: dict[str, str] = {}
    for key, (line, value) in y.items.items():
        if not _DIGITS.match(key):
            ctx.add(line, f"option {key!r} is not 1-4 digits (0-9, *)")
            continue
        try:
            out[key] = p_node(ctx, value)
        except Bad as bad:
            ctx.add(bad.line, bad.message)
    return out


def plain_value(s: YScalar) -> Value:
    if isinstance(s.value, bool | int | float | str):
        return s.value
    return s.text


def p_variables(ctx: Ctx, y: YNode) -> dict[str, Value]:
    if not isinstance(y, YMap):
        raise Bad(y.line, "expected a mapping of variable names to values")
    report_dups(ctx, y)
    out: dict[str, Value] = {}
    for key, (line, value) in y.items.items():
        if not _VARIABLE.match(key):
            ctx.add(line, f"{key!r} is not a valid variable name")
        elif not isinstance(value, YScalar) or value.value is None:
            ctx.add(value.line, f"variable '{key}' needs a plain value (text, number, true/false)")
        elif key == "record" and not _is_flag(plain_value(value)):
            # the caller's recording consent (routing.recording): a typo must not
            # silently record someone who said no
            ctx.add(value.line, "variable 'record' must be true or false (yes/no, 1/0)")
        else:
            out[key] = plain_value(value)
    return out


def _is_flag(value: Value) -> bool:
    try:
        flag(value)
    except InvalidInput:
        return False
    return True


def p_skills(ctx: Ctx, y: YNode) -> dict[str, int]:
    if isinstance(y, YSeq):
        return {p_name(ctx, item): 1 for item in y.items}
    if isinstance(y, YMap):
        report_dups(ctx, y)
        return {key: p_int(ctx, value) for key, (_line, value) in y.items.items()}
    raise Bad(y.line, "expected a list of skills or skill: level pairs")


def p_by(ctx: Ctx, y: YNode) -> str:
    text = scalar(y, "caller_id or account").text
    by = {"caller_id": "phone", "phone": "phone", "account": "account"}.get(text)
    if by is None:
        raise Bad(y.line, f"lookup 'by' must be caller_id or account, got {text!r}")
    return by


def p_check(ctx: Ctx, y: YNode) -> bool:
    text = scalar(y, "luhn or none").text
    if text not in ("luhn", "none"):
        raise Bad(y.line, f"check must be luhn or none, got {text!r}")
    return text == "luhn"


def p_pattern(ctx: Ctx, y: YNode) -> str:
    text = scalar(y, "a regular expression").text
    try:
        re.compile(text)
    except re.error as exc:
        raise Bad(y.line, f"pattern is not a valid regular expression: {exc}") from None
    return text


def p_target(ctx: Ctx, y: YNode) -> str:
    text = scalar(y, "an extension or number").text
    if not _TARGET.match(text):
        raise Bad(y.line, f"transfer target {text!r} is not an extension or +E.164 number")
    return text


def p_schedule_ref(ctx: Ctx, y: YNode) -> str:
    name = p_name(ctx, y)
    ctx.schedule_refs.append((name, y.line))
    return name


def p_terminator(ctx: Ctx, y: YNode) -> str:
    text = scalar(y, "'#'").text
    if text != "#":
        raise Bad(y.line, "terminator must be '#' (the only key AGI GET DATA stops on)")
    return text


def p_max_seconds(ctx: Ctx, y: YNode) -> int:
    n = p_positive(ctx, y)
    if n > 600:
        raise Bad(y.line, "max_seconds over 600")
    return n


# --- conditions ------------------------------------------------------------------------------

_COMPARE_OPS = ("eq", "ne", "in", "not_in", "gt", "ge", "lt", "le", "set")
_QUEUE_METRICS = {
    "wait_over": ("estimated_wait", "gt"),
    "wait_under": ("estimated_wait", "lt"),
    "agents_ready_over": ("agents_ready", "gt"),
    "agents_ready_under": ("agents_ready", "lt"),
    "waiting_over": ("waiting", "gt"),
    "waiting_under": ("waiting", "lt"),
}
_COND_KEYS = (
    "var",
    *_COMPARE_OPS,
    "tier",
    "open",
    "closed",
    "queue",
    *_QUEUE_METRICS,
    "all",
    "any",
    "not",
)


def p_condition(ctx: Ctx, y: YNode) -> Condition:
    if not isinstance(y, YMap) or not y.items:
        raise Bad(y.line, "expected a condition mapping, like {var: x, eq: 1}")
    report_dups(ctx, y)
    for key, (line, _value) in y.items.items():
        if key not in _COND_KEYS:
            raise Bad(line, f"unknown condition '{key}'; expected one of {', '.join(_COND_KEYS)}")
    it = y.items
    parts: list[Condition] = []
    ops = [k for k in _COMPARE_OPS if k in it]
    if "var" in it:
        var = p_variable(ctx, it["var"][1])
        if len(ops) != 1:
            raise Bad(it["var"][0], f"'var' needs exactly one of {', '.join(_COMPARE_OPS)}")
        op = ops[0]
        node = it[op][1]
        if op in ("in", "not_in"):
            if not isinstance(node, YSeq):
                raise Bad(node.line, f"'{op}' needs a list")
            parts.append(
                Compare(var, op, tuple(plain_value(scalar(v, "a value")) for v in node.items))
            )
        elif op == "set":
            parts.append(Compare(var, "set", p_bool(ctx, node)))
        else:
            parts.append(Compare(var, op, plain_value(scalar(node, "a value"))))
    elif ops:
        raise Bad(it[ops[0]][0], f"'{ops[0]}' needs a 'var' to compare")
    if "tier" in it:
        node = it["tier"][1]
        if isinstance(node, YSeq):
            tiers = tuple(plain_value(scalar(v, "a tier")) for v in node.items)
            parts.append(Compare("customer.tier", "in", tiers))
        else:
            parts.append(Compare("customer.tier", "eq", p_text(ctx, node)))
    for key in ("open", "closed"):
        if key in it:
            parts.append(InHours(p_schedule_ref(ctx, it[key][1]), key == "open"))
    metrics = [k for k in _QUEUE_METRICS if k in it]
    if "queue" in it:
        queue = p_name(ctx, it["queue"][1])
        if not metrics:
            raise Bad(it["queue"][0], f"'queue' needs one of {', '.join(_QUEUE_METRICS)}")
        for key in metrics:
            s = scalar(it[key][1], "a number")
            if isinstance(s.value, bool) or not isinstance(s.value, int | float):
                raise Bad(s.line, f"'{key}' needs a number, got {s.text!r}")
            metric, op = _QUEUE_METRICS[key]
            parts.append(QueueCheck(queue, metric, op, float(s.value)))
    elif metrics:
        raise Bad(it[metrics[0]][0], f"'{metrics[0]}' needs a 'queue'")
    for key in ("all", "any"):
        if key in it:
            node = it[key][1]
            if not isinstance(node, YSeq) or not node.items:
                raise Bad(node.line, f"'{key}' needs a list of conditions")
            subs = tuple(p_condition(ctx, c) for c in node.items)
            parts.append(AllOf(subs) if key == "all" else AnyOf(subs))
    if "not" in it:
        parts.append(NotOf(p_condition(ctx, it["not"][1])))
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


def p_cases(ctx: Ctx, y: YNode) -> tuple[Case, ...]:
    if not isinstance(y, YSeq) or not y.items:
        raise Bad(y.line, "expected a list of cases, each {if: condition, next: node}")
    out: list[Case] = []
    for item in y.items:
        if not isinstance(item, YMap):
            ctx.add(item.line, "a case must be a mapping {if: condition, next: node}")
            continue
        report_dups(ctx, item)
        extra = [(k, ln) for k, (ln, _v) in item.items.items() if k not in ("if", "next")]
        for key, line in extra:
            ctx.add(line, f"unknown field '{key}' in a case of branch '{ctx.node}'")
        if "if" not in item.items or "next" not in item.items:
            ctx.add(item.line, f"a case of branch '{ctx.node}' needs 'if' and 'next'")
            continue
        try:
            cond = p_condition(ctx, item.items["if"][1])
            target = p_node(ctx, item.items["next"][1])
        except Bad as bad:
            ctx.add(bad.line, bad.message)
            continue
        out.append(Case(cond, target, item.line))
    return tuple(out)


def report_dups(ctx: Ctx, y: YMap) -> None:
    for key, line, first in y.duplicates:
        ctx.add(line, f"duplicate key '{key}' (first at line {first})")


# --- node kinds --------------------------------------------------------------------------------

# yaml field -> (attribute, parser, required)
Field = tuple[str, Parser, bool]
_SPEC_PROMPTED: dict[str, Field] = {
    "timeout": ("timeout_ms", p_seconds_ms, False),
    "retries": ("retries", p_int, False),
    "invalid": ("invalid", p_prompts, False),
    "no_input": ("no_input", p_prompts, False),
}
KINDS: dict[str, tuple[type[Any], dict[str, Field]]] = {
    "play": (
        PlayNode,
        {
            "prompts": ("prompts", p_prompts, True),
            "interruptible": ("interruptible", p_bool, False),
            "next": ("next", p_node, True),
        },
    ),
    "menu": (
        MenuNode,
        {
            "prompts": ("prompts", p_prompts, True),
            "options": ("options", p_options, True),
            **_SPEC_PROMPTED,
            "on_fail": ("on_fail", p_node, False),
        },
    ),
    "collect": (
        CollectNode,
        {
            "prompts": ("prompts", p_prompts, True),
            "variable": ("variable", p_variable, True),
            "min": ("min_digits", p_positive, False),
            "max": ("max_digits", p_positive, False),
            "terminator": ("", p_terminator, False),
            "pattern": ("pattern", p_pattern, False),
            "check": ("luhn", p_check, False),
            "mask": ("mask", p_bool, False),
            **_SPEC_PROMPTED,
            "next": ("next", p_node, True),
            "on_fail": ("on_fail", p_node, False),
        },
    ),
    "lookup": (
        LookupNode,
        {
            "by": ("by", p_by, True),
            "from": ("source", p_variable, False),
            "use_language": ("use_language", p_bool, False),
            "next": ("next", p_node, True),
            "not_found": ("not_found", p_node, False),
        },
    ),
    "branch": (
        BranchNode,
        {
            "cases": ("cases", p_cases, True),
            "default": ("default", p_node, True),
        },
    ),
    "hours": (
        HoursNode,
        {
            "schedule": ("schedule", p_schedule_ref, True),
            "open": ("open", p_node, True),
            "closed": ("closed", p_node, True),
            "holiday": ("holiday", p_node, False),
        },
    ),
    "set": (
        SetNode,
        {
            "variables": ("variables", p_variables, False),
            "language": ("language", p_language, False),
            "priority": ("priority", p_int, False),
            "skills": ("skills", p_skills, False),
            "next": ("next", p_node, True),
        },
    ),
    "queue": (
        QueueNode,
        {
            "queue": ("queue", p_name, True),
            "priority": ("priority", p_int, False),
            "skills": ("skills", p_skills, False),
            "prompts": ("prompts", p_prompts, False),
        },
    ),
    "callback": (
        CallbackNode,
        {
            "queue": ("queue", p_name, True),
            "offer": ("offer", p_prompts, True),
            "confirm": ("confirm", p_prompts, True),
            "enter_number": ("enter_number", p_prompts, True),
            "booked": ("booked", p_prompts, False),
            **_SPEC_PROMPTED,
            "min": ("min_digits", p_positive, False),
            "max": ("max_digits", p_positive, False),
            "declined": ("declined", p_node, True),
        },
    ),
    "voicemail": (
        VoicemailNode,
        {
            "prompts": ("prompts", p_prompts, False),
            "box": ("box", p_name, False),
            "max_seconds": ("max_seconds", p_max_seconds, False),
            "after": ("after", p_prompts, False),
        },
    ),
    "transfer": (
        TransferNode,
        {
            "target": ("target", p_target, True),
            "prompts": ("prompts", p_prompts, False),
        },
    ),
    "hangup": (
        HangupNode,
        {
            "prompts": ("prompts", p_prompts, False),
            "reason": ("reason", p_name, False),
        },
    ),
}
_COMMON_FIELDS = ("kind", "description")


def build_node(ctx: Ctx, node_id: str, y: YNode, line: int) -> AnyNode | None:
    """``line`` is where the node's id is written: problems about the node point there."""
    ctx.node = node_id
    if not isinstance(y, YMap):
        ctx.add(line, f"node '{node_id}' must be a mapping with a 'kind'")
        return None
    report_dups(ctx, y)
    if "kind" not in y.items:
        ctx.add(line, f"node '{node_id}' has no 'kind'; expected one of {', '.join(KINDS)}")
        return None
    kind_line, kind_node = y.items["kind"]
    kind = kind_node.text if isinstance(kind_node, YScalar) else ""
    if kind not in KINDS:
        ctx.add(kind_line, f"unknown node kind '{kind}'; expected one of {', '.join(KINDS)}")
        return None
    cls, spec = KINDS[kind]
    values: dict[str, Any] = {"id": node_id, "line": line}
    ok = True
    for key, (key_line, value) in y.items.items():
        if key in _COMMON_FIELDS:
            continue
        if key not in spec:
            ctx.add(
                key_line,
                f"unknown field '{key}' in {kind} node '{node_id}'; expected {', '.join(spec)}",
            )
            ok = False
            continue
        attr, parser, _required = spec[key]
        try:
            parsed = parser(ctx, value)
        except Bad as bad:
            ctx.add(bad.line, bad.message)
            ok = False
            continue
        if attr:
            values[attr] = parsed
    for key, (_attr, _parser, required) in spec.items():
        if required and key not in y.items:
            ctx.add(line, f"{kind} node '{node_id}' needs '{key}'")
            ok = False
    if not ok:
        return None
    node: AnyNode = cls(**values)
    extra = _node_rules(node)
    for message in extra:
        ctx.add(line, message)
    return None if extra else node


def _node_rules(node: AnyNode) -> list[str]:
    out: list[str] = []
    if isinstance(node, CollectNode | CallbackNode) and node.min_digits > node.max_digits:
        out.append(f"{node.kind} node '{node.id}': min {node.min_digits} > max {node.max_digits}")
    if isinstance(node, MenuNode) and not node.options:
        out.append(f"menu '{node.id}' has no options")
    if isinstance(node, LookupNode) and node.by == "account" and not node.source:
        out.append(f"lookup node '{node.id}' by account needs 'from' (the variable to look up)")
    return out


def parse_schedule(ctx: Ctx, name: str, y: YNode, line: int) -> Schedule | None:
    if not isinstance(y, YMap):
        ctx.add(line, f"schedule '{name}' must be a mapping with timezone and weekly")
        return None
    report_dups(ctx, y)
    it = y.items
    for key, (key_line, _v) in it.items():
        if key not in ("timezone", "weekly", "holidays", "description"):
            ctx.add(
                key_line,
                f"unknown field '{key}' in schedule '{name}'; expected timezone, weekly, holidays",
            )
    if "timezone" not in it or "weekly" not in it:
        ctx.add(line, f"schedule '{name}' needs 'timezone' and 'weekly'")
        return None
    try:
        tz = p_text(ctx, it["timezone"][1])
        weekly_node = it["weekly"][1]
        if not isinstance(weekly_node, YMap):
            raise Bad(weekly_node.line, "weekly must map days (mon-fri) to hours (09:00-17:00)")
        report_dups(ctx, weekly_node)
        weekly: dict[str, object] = {}
        for day, (day_line, hours) in weekly_node.items.items():
            weekly[day] = _hours_value(hours)
            try:
                parse_ranges(weekly[day])
            except InvalidInput as exc:
                raise Bad(day_line, f"schedule '{name}', {day}: {exc}") from None
        holidays: list[Holiday] = []
        if "holidays" in it:
            holidays = _parse_holidays(name, it["holidays"][1])
        return build_schedule(tz, weekly, holidays)
    except Bad as bad:
        ctx.add(bad.line, bad.message)
    except InvalidInput as exc:
        ctx.add(line, f"schedule '{name}': {exc}")
    return None


def _hours_value(y: YNode) -> object:
    if isinstance(y, YSeq):
        return [scalar(i, "a time range").text for i in y.items]
    return scalar(y, "a time range or 'closed'").text


def _parse_holidays(name: str, y: YNode) -> list[Holiday]:
    if not isinstance(y, YSeq):
        raise Bad(y.line, f"schedule '{name}': holidays must be a list of dates")
    out: list[Holiday] = []
    for item in y.items:
        try:
            if isinstance(item, YScalar):
                out.append(Holiday(_as_date(item)))
                continue
            if not isinstance(item, YMap) or "date" not in item.items:
                raise Bad(item.line, "a holiday is a date or {date, hours, name}")
            for key, (line, _v) in item.items.items():
                if key not in ("date", "hours", "name"):
                    raise Bad(
                        line, f"unknown field '{key}' in a holiday; expected date, hours, name"
                    )
            day = _as_date(scalar(item.items["date"][1], "a date"))
            ranges: tuple[TimeRange, ...] = ()
            if "hours" in item.items:
                ranges = parse_ranges(_hours_value(item.items["hours"][1]))
            label = item.items["name"][1] if "name" in item.items else None
            text = label.text if isinstance(label, YScalar) else ""
            out.append(Holiday(day, text, ranges))
        except InvalidInput as exc:
            raise Bad(item.line, f"schedule '{name}': {exc}") from None
    return out


def _as_date(s: YScalar) -> date:
    if isinstance(s.value, date):
        return s.value
    return parse_date(s.text)

"""IVR scripts: the YAML format, its validator, and a library that reloads changed files.

Theory of operation: a script file is composed (``yaml.compose``, never ``yaml.load``)
into a small tree that remembers the line of every key and value and every duplicated
key — PyYAML's default loader would silently keep the last of two ``"1":`` menu
options. One pass over that tree checks each field against a per-kind table and builds
the typed nodes of :mod:`routing.ivr.nodes`; a second pass looks at the graph (missing
and unreachable nodes, menus with no way out, loops that never wait for the caller) and
at the prompt files. Every problem is a :class:`Problem` printed ``file:line: message``;
a file with any problem never becomes a :class:`Script`.

The format (one flow per file)::

    name: main                 # default: the file name
    start: greeting            # default: the first node
    language: en               # default language (fallback for prompts)
    languages: [en, ru]
    schedules:
      office:
        timezone: Europe/London
        weekly: {mon-fri: "09:00-18:00", sat: "10:00-13:00"}
        holidays: [2026-12-25, {date: 2026-12-24, hours: "09:00-13:00"}]
    variables: {brand: acme}
    nodes:
      greeting: {kind: play, prompts: [welcome], next: main_menu}
      ...

Node kinds and their fields are listed in ``KINDS`` below.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from config.errors import InvalidInput, NotFound, ScriptError
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
    INPUT_KINDS,
    TERMINAL_KINDS,
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
    Script,
    SetNode,
    TransferNode,
    VoicemailNode,
)

log = logging.getLogger(__name__)

AUDIO_EXTENSIONS = (".wav", ".ulaw", ".alaw", ".gsm", ".sln", ".g722")
SCRIPT_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One thing wrong with a script, at a 1-based line."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


# --- the located YAML tree -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class YScalar:
    line: int
    text: str  # as written (so `on`, `no` and `1` stay text where we want text)
    value: Any  # as YAML 1.1 resolves it (int, float, bool, None, str, date)


@dataclass(frozen=True, slots=True)
class YSeq:
    line: int
    items: tuple[YNode, ...]


@dataclass(frozen=True, slots=True)
class YMap:
    line: int
    # key -> (line of the key, value); the first of duplicated keys wins
    items: Mapping[str, tuple[int, YNode]]
    # (key, line of the repeat, line of the first)
    duplicates: tuple[tuple[str, int, int], ...] = ()


YNode = YScalar | YSeq | YMap


def compose(text: str) -> YNode | None:
    """Parse YAML text into a located tree (None for an empty document).

    Raises:
        InvalidInput: not YAML, or a key that is not plain text; ``field`` is the line.
    """
    loader = yaml.SafeLoader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else 1
            raise InvalidInput(
                f"not valid YAML: {exc.problem or exc.context}", field=str(line)
            ) from None
        except yaml.YAMLError as exc:
            raise InvalidInput(f"not valid YAML: {exc}", field="1") from None
        if root is None:
            return None
        return _convert(loader, root)
    finally:
        loader.dispose()


def _convert(loader: yaml.SafeLoader, node: yaml.Node) -> YNode:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode):
        try:
            value = loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError):
            # e.g. 2026-02-30 looks like a date but is none; the text is checked later
            value = node.value
        return YScalar(line, str(node.value), value)
    if isinstance(node, yaml.SequenceNode):
        return YSeq(line, tuple(_convert(loader, n) for n in node.value))
    assert isinstance(node, yaml.MappingNode)
    items: dict[str, tuple[int, YNode]] = {}
    dups: list[tuple[str, int, int]] = []
    for key_node, value_node in node.value:
        key_line = key_node.start_mark.line + 1
        if not isinstance(key_node, yaml.ScalarNode):
            raise InvalidInput("keys must be plain text", field=str(key_line))
        key = str(key_node.value)
        if key in items:
            dups.append((key, key_line, items[key][0]))
            continue
        items[key] = (key_line, _convert(loader, value_node))
    return YMap(line, items, tuple(dups))


# --- field checkers ------------------------------------------------------------------------


class _Bad(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_PROMPT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*(/[A-Za-z0-9_][A-Za-z0-9_-]*)*$")
_DIGITS = re.compile(r"^[0-9*]{1,4}$")
_TARGET = re.compile(r"^\+?[0-9*#]{2,20}$")
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class _Ctx:
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


Parser = Callable[[_Ctx, YNode], Any]


def _scalar(y: YNode, what: str) -> YScalar:
    if not isinstance(y, YScalar) or y.value is None:
        raise _Bad(y.line, f"expected {what}")
    return y


def p_text(ctx: _Ctx, y: YNode) -> str:
    s = _scalar(y, "text")
    if not s.text.strip():
        raise _Bad(y.line, "expected non-empty text")
    return s.text


def p_name(ctx: _Ctx, y: YNode) -> str:
    text = _scalar(y, "a name").text
    if not _NAME.match(text):
        raise _Bad(y.line, f"{text!r} is not a valid name (letters, digits, _ . -)")
    return text


def p_variable(ctx: _Ctx, y: YNode) -> str:
    text = _scalar(y, "a variable name").text
    if not _VARIABLE.match(text):
        raise _Bad(y.line, f"{text!r} is not a valid variable name")
    return text


def p_int(ctx: _Ctx, y: YNode) -> int:
    s = _scalar(y, "a whole number")
    if isinstance(s.value, bool) or not isinstance(s.value, int) or s.value < 0:
        raise _Bad(y.line, f"expected a whole number >= 0, got {s.text!r}")
    return s.value


def p_positive(ctx: _Ctx, y: YNode) -> int:
    n = p_int(ctx, y)
    if n < 1:
        raise _Bad(y.line, "expected a whole number >= 1")
    return n


def p_seconds_ms(ctx: _Ctx, y: YNode) -> int:
    s = _scalar(y, "seconds")
    if isinstance(s.value, bool) or not isinstance(s.value, int | float) or s.value <= 0:
        raise _Bad(y.line, f"expected a number of seconds > 0, got {s.text!r}")
    if s.value > 600:
        raise _Bad(y.line, "timeout over 600 seconds")
    return int(s.value * 1000)


def p_bool(ctx: _Ctx, y: YNode) -> bool:
    s = _scalar(y, "true or false")
    if not isinstance(s.value, bool):
        raise _Bad(y.line, f"expected true or false, got {s.text!r}")
    return s.value


def p_node(ctx: _Ctx, y: YNode) -> str:
    target = p_name(ctx, y)
    ctx.refs.append((ctx.node, target, y.line))
    return target


def _prompt(ctx: _Ctx, y: YNode) -> str:
    text = _scalar(y, "a prompt name").text
    if not _PROMPT.match(text):
        raise _Bad(y.line, f"{text!r} is not a prompt name (like 'welcome' or 'menus/main')")
    ctx.prompts.append((text, y.line))
    return text


def p_prompts(ctx: _Ctx, y: YNode) -> tuple[str, ...]:
    if isinstance(y, YSeq):
        if not y.items:
            raise _Bad(y.line, "expected at least one prompt")
        return tuple(_prompt(ctx, item) for item in y.items)
    return (_prompt(ctx, y),)


def p_language(ctx: _Ctx, y: YNode) -> str:
    text = p_name(ctx, y)
    ctx.language_refs.append((text, y.line))
    return text


def p_options(ctx: _Ctx, y: YNode) -> dict[str, str]:
    if not isinstance(y, YMap):
        raise _Bad(y.line, "expected digits mapped to node ids, like '1: sales'")
    for key, line, first in y.duplicates:
        ctx.add(line, f"duplicate digit '{key}' in menu '{ctx.node}' (first at line {first})")
    out: dict[str, str] = {}
    for key, (line, value) in y.items.items():
        if not _DIGITS.match(key):
            ctx.add(line, f"option {key!r} is not 1-4 digits (0-9, *)")
            continue
        try:
            out[key] = p_node(ctx, value)
        except _Bad as bad:
            ctx.add(bad.line, bad.message)
    return out


def _plain_value(s: YScalar) -> Value:
    if isinstance(s.value, bool | int | float | str):
        return s.value
    return s.text


def p_variables(ctx: _Ctx, y: YNode) -> dict[str, Value]:
    if not isinstance(y, YMap):
        raise _Bad(y.line, "expected a mapping of variable names to values")
    _report_dups(ctx, y)
    out: dict[str, Value] = {}
    for key, (line, value) in y.items.items():
        if not _VARIABLE.match(key):
            ctx.add(line, f"{key!r} is not a valid variable name")
        elif not isinstance(value, YScalar) or value.value is None:
            ctx.add(value.line, f"variable '{key}' needs a plain value (text, number, true/false)")
        else:
            out[key] = _plain_value(value)
    return out


def p_skills(ctx: _Ctx, y: YNode) -> dict[str, int]:
    if isinstance(y, YSeq):
        return {p_name(ctx, item): 1 for item in y.items}
    if isinstance(y, YMap):
        _report_dups(ctx, y)
        return {key: p_int(ctx, value) for key, (_line, value) in y.items.items()}
    raise _Bad(y.line, "expected a list of skills or skill: level pairs")


def p_by(ctx: _Ctx, y: YNode) -> str:
    text = _scalar(y, "caller_id or account").text
    by = {"caller_id": "phone", "phone": "phone", "account": "account"}.get(text)
    if by is None:
        raise _Bad(y.line, f"lookup 'by' must be caller_id or account, got {text!r}")
    return by


def p_check(ctx: _Ctx, y: YNode) -> bool:
    text = _scalar(y, "luhn or none").text
    if text not in ("luhn", "none"):
        raise _Bad(y.line, f"check must be luhn or none, got {text!r}")
    return text == "luhn"


def p_pattern(ctx: _Ctx, y: YNode) -> str:
    text = _scalar(y, "a regular expression").text
    try:
        re.compile(text)
    except re.error as exc:
        raise _Bad(y.line, f"pattern is not a valid regular expression: {exc}") from None
    return text


def p_target(ctx: _Ctx, y: YNode) -> str:
    text = _scalar(y, "an extension or number").text
    if not _TARGET.match(text):
        raise _Bad(y.line, f"transfer target {text!r} is not an extension or +E.164 number")
    return text


def p_schedule_ref(ctx: _Ctx, y: YNode) -> str:
    name = p_name(ctx, y)
    ctx.schedule_refs.append((name, y.line))
    return name


def p_terminator(ctx: _Ctx, y: YNode) -> str:
    text = _scalar(y, "'#'").text
    if text != "#":
        raise _Bad(y.line, "terminator must be '#' (the only key AGI GET DATA stops on)")
    return text


def p_max_seconds(ctx: _Ctx, y: YNode) -> int:
    n = p_positive(ctx, y)
    if n > 600:
        raise _Bad(y.line, "max_seconds over 600")
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


def p_condition(ctx: _Ctx, y: YNode) -> Condition:
    if not isinstance(y, YMap) or not y.items:
        raise _Bad(y.line, "expected a condition mapping, like {var: x, eq: 1}")
    _report_dups(ctx, y)
    for key, (line, _value) in y.items.items():
        if key not in _COND_KEYS:
            raise _Bad(line, f"unknown condition '{key}'; expected one of {', '.join(_COND_KEYS)}")
    it = y.items
    parts: list[Condition] = []
    ops = [k for k in _COMPARE_OPS if k in it]
    if "var" in it:
        var = p_variable(ctx, it["var"][1])
        if len(ops) != 1:
            raise _Bad(it["var"][0], f"'var' needs exactly one of {', '.join(_COMPARE_OPS)}")
        op = ops[0]
        node = it[op][1]
        if op in ("in", "not_in"):
            if not isinstance(node, YSeq):
                raise _Bad(node.line, f"'{op}' needs a list")
            parts.append(
                Compare(var, op, tuple(_plain_value(_scalar(v, "a value")) for v in node.items))
            )
        elif op == "set":
            parts.append(Compare(var, "set", p_bool(ctx, node)))
        else:
            parts.append(Compare(var, op, _plain_value(_scalar(node, "a value"))))
    elif ops:
        raise _Bad(it[ops[0]][0], f"'{ops[0]}' needs a 'var' to compare")
    if "tier" in it:
        node = it["tier"][1]
        if isinstance(node, YSeq):
            tiers = tuple(_plain_value(_scalar(v, "a tier")) for v in node.items)
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
            raise _Bad(it["queue"][0], f"'queue' needs one of {', '.join(_QUEUE_METRICS)}")
        for key in metrics:
            s = _scalar(it[key][1], "a number")
            if isinstance(s.value, bool) or not isinstance(s.value, int | float):
                raise _Bad(s.line, f"'{key}' needs a number, got {s.text!r}")
            metric, op = _QUEUE_METRICS[key]
            parts.append(QueueCheck(queue, metric, op, float(s.value)))
    elif metrics:
        raise _Bad(it[metrics[0]][0], f"'{metrics[0]}' needs a 'queue'")
    for key in ("all", "any"):
        if key in it:
            node = it[key][1]
            if not isinstance(node, YSeq) or not node.items:
                raise _Bad(node.line, f"'{key}' needs a list of conditions")
            subs = tuple(p_condition(ctx, c) for c in node.items)
            parts.append(AllOf(subs) if key == "all" else AnyOf(subs))
    if "not" in it:
        parts.append(NotOf(p_condition(ctx, it["not"][1])))
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


def p_cases(ctx: _Ctx, y: YNode) -> tuple[Case, ...]:
    if not isinstance(y, YSeq) or not y.items:
        raise _Bad(y.line, "expected a list of cases, each {if: condition, next: node}")
    out: list[Case] = []
    for item in y.items:
        if not isinstance(item, YMap):
            ctx.add(item.line, "a case must be a mapping {if: condition, next: node}")
            continue
        _report_dups(ctx, item)
        extra = [(k, ln) for k, (ln, _v) in item.items.items() if k not in ("if", "next")]
        for key, line in extra:
            ctx.add(line, f"unknown field '{key}' in a case of branch '{ctx.node}'")
        if "if" not in item.items or "next" not in item.items:
            ctx.add(item.line, f"a case of branch '{ctx.node}' needs 'if' and 'next'")
            continue
        try:
            cond = p_condition(ctx, item.items["if"][1])
            target = p_node(ctx, item.items["next"][1])
        except _Bad as bad:
            ctx.add(bad.line, bad.message)
            continue
        out.append(Case(cond, target, item.line))
    return tuple(out)


def _report_dups(ctx: _Ctx, y: YMap) -> None:
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


def _build_node(ctx: _Ctx, node_id: str, y: YNode, line: int) -> AnyNode | None:
    """``line`` is where the node's id is written: problems about the node point there."""
    ctx.node = node_id
    if not isinstance(y, YMap):
        ctx.add(line, f"node '{node_id}' must be a mapping with a 'kind'")
        return None
    _report_dups(ctx, y)
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
        except _Bad as bad:
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


# --- the whole file ------------------------------------------------------------------------------

_TOP_FIELDS = (
    "name",
    "description",
    "start",
    "language",
    "languages",
    "schedules",
    "variables",
    "nodes",
)


def _parse_schedule(ctx: _Ctx, name: str, y: YNode, line: int) -> Schedule | None:
    if not isinstance(y, YMap):
        ctx.add(line, f"schedule '{name}' must be a mapping with timezone and weekly")
        return None
    _report_dups(ctx, y)
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
            raise _Bad(weekly_node.line, "weekly must map days (mon-fri) to hours (09:00-17:00)")
        _report_dups(ctx, weekly_node)
        weekly: dict[str, object] = {}
        for day, (day_line, hours) in weekly_node.items.items():
            weekly[day] = _hours_value(hours)
            try:
                parse_ranges(weekly[day])
            except InvalidInput as exc:
                raise _Bad(day_line, f"schedule '{name}', {day}: {exc}") from None
        holidays: list[Holiday] = []
        if "holidays" in it:
            holidays = _parse_holidays(name, it["holidays"][1])
        return build_schedule(tz, weekly, holidays)
    except _Bad as bad:
        ctx.add(bad.line, bad.message)
    except InvalidInput as exc:
        ctx.add(line, f"schedule '{name}': {exc}")
    return None


def _hours_value(y: YNode) -> object:
    if isinstance(y, YSeq):
        return [_scalar(i, "a time range").text for i in y.items]
    return _scalar(y, "a time range or 'closed'").text


def _parse_holidays(name: str, y: YNode) -> list[Holiday]:
    if not isinstance(y, YSeq):
        raise _Bad(y.line, f"schedule '{name}': holidays must be a list of dates")
    out: list[Holiday] = []
    for item in y.items:
        try:
            if isinstance(item, YScalar):
                out.append(Holiday(_as_date(item)))
                continue
            if not isinstance(item, YMap) or "date" not in item.items:
                raise _Bad(item.line, "a holiday is a date or {date, hours, name}")
            for key, (line, _v) in item.items.items():
                if key not in ("date", "hours", "name"):
                    raise _Bad(
                        line, f"unknown field '{key}' in a holiday; expected date, hours, name"
                    )
            day = _as_date(_scalar(item.items["date"][1], "a date"))
            ranges: tuple[TimeRange, ...] = ()
            if "hours" in item.items:
                ranges = parse_ranges(_hours_value(item.items["hours"][1]))
            label = item.items["name"][1] if "name" in item.items else None
            text = label.text if isinstance(label, YScalar) else ""
            out.append(Holiday(day, text, ranges))
        except InvalidInput as exc:
            raise _Bad(item.line, f"schedule '{name}': {exc}") from None
    return out


def _as_date(s: YScalar) -> date:
    if isinstance(s.value, date):
        return s.value
    return parse_date(s.text)


def _problems_and_script(
    file: str, text: str, prompts_dir: str, default_language: str
) -> tuple[list[Problem], Script | None]:
    ctx = _Ctx(file)
    try:
        root = compose(text)
    except InvalidInput as exc:
        return [Problem(file, int(exc.field or 1), str(exc))], None
    if not isinstance(root, YMap):
        line = root.line if root is not None else 1
        return [Problem(file, line, "a script is a mapping with 'nodes'")], None
    _report_dups(ctx, root)
    top = root.items
    for key, (line, _v) in top.items():
        if key not in _TOP_FIELDS:
            ctx.add(line, f"unknown field '{key}'; expected one of {', '.join(_TOP_FIELDS)}")

    def opt(key: str, parser: Parser, default: Any) -> Any:
        if key not in top:
            return default
        try:
            return parser(ctx, top[key][1])
        except _Bad as bad:
            ctx.add(bad.line, bad.message)
            return default

    name = opt("name", p_name, Path(file).stem)
    language = opt("language", p_name, default_language)
    languages: tuple[str, ...] = (language,)
    if "languages" in top:
        lang_node = top["languages"][1]
        if isinstance(lang_node, YSeq) and lang_node.items:
            try:
                languages = tuple(p_name(ctx, i) for i in lang_node.items)
            except _Bad as bad:
                ctx.add(bad.line, bad.message)
        else:
            ctx.add(lang_node.line, "languages must be a list, like [en, ru]")
        if language not in languages:
            ctx.add(top["languages"][0], f"default language '{language}' is not in languages")
    variables = opt("variables", p_variables, {})
    schedules: dict[str, Schedule] = {}
    if "schedules" in top:
        sched_node = top["schedules"][1]
        if isinstance(sched_node, YMap):
            _report_dups(ctx, sched_node)
            for sname, (sline, sy) in sched_node.items.items():
                sched = _parse_schedule(ctx, sname, sy, sline)
                if sched is not None:
                    schedules[sname] = sched
        else:
            ctx.add(sched_node.line, "schedules must map names to schedules")

    if "nodes" not in top:
        ctx.add(root.line, "a script needs 'nodes'")
        return sorted(ctx.problems), None
    nodes_line, nodes_y = top["nodes"]
    if not isinstance(nodes_y, YMap) or not nodes_y.items:
        ctx.add(nodes_line, "'nodes' must map node ids to nodes")
        return sorted(ctx.problems), None
    for key, line, first in nodes_y.duplicates:
        ctx.add(line, f"duplicate node id '{key}' (first at line {first})")
    node_lines = {nid: line for nid, (line, _y) in nodes_y.items.items()}
    nodes: dict[str, AnyNode] = {}
    for nid, (line, ny) in nodes_y.items.items():
        if not _NAME.match(nid):
            ctx.add(line, f"node id {nid!r} is not a valid name (letters, digits, _ . -)")
            continue
        built = _build_node(ctx, nid, ny, line)
        if built is not None:
            nodes[nid] = built

    start = next(iter(nodes_y.items))
    start_line = nodes_line
    if "start" in top:
        start_line = top["start"][0]
        start = opt("start", p_name, start)
    for target, line in ((start, start_line),):
        if target not in node_lines:
            ctx.add(line, f"start node '{target}' does not exist")
    for src, target, line in ctx.refs:
        if target not in node_lines:
            ctx.add(line, f"node '{src}' refers to missing node '{target}'")
    declared = top["schedules"][1] if "schedules" in top else None
    for sname, line in ctx.schedule_refs:
        # A declared schedule that failed to parse was reported where it is written.
        if not (isinstance(declared, YMap) and sname in declared.items):
            ctx.add(line, f"unknown schedule '{sname}'")
    for lang, line in ctx.language_refs:
        if lang not in languages:
            ctx.add(
                line,
                f"language '{lang}' is not one of the script's languages ({', '.join(languages)})",
            )

    graph = _graph(nodes_y, ctx.refs, node_lines)
    _check_reachable(ctx, graph, start, node_lines)
    _check_menus(ctx, nodes, graph)
    _check_loops(ctx, nodes, graph, node_lines)
    prompt_paths = _check_prompts(ctx, prompts_dir, language, languages)

    if ctx.problems:
        return sorted(set(ctx.problems)), None
    return [], Script(
        name=name,
        file=file,
        start=start,
        language=language,
        languages=languages,
        nodes=nodes,
        schedules=schedules,
        variables=variables,
        prompt_paths=prompt_paths,
        prompts_dir=prompts_dir,
    )


def _graph(
    nodes_y: YMap, refs: Iterable[tuple[str, str, int]], node_lines: Mapping[str, int]
) -> dict[str, list[str]]:
    graph: dict[str, list[str]] = {nid: [] for nid in nodes_y.items}
    for src, target, _line in refs:
        if src in graph and target in node_lines and target not in graph[src]:
            graph[src].append(target)
    return graph


def _check_reachable(
    ctx: _Ctx, graph: Mapping[str, list[str]], start: str, node_lines: Mapping[str, int]
) -> None:
    if start not in graph:
        return
    seen = {start}
    todo = [start]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    for nid, line in node_lines.items():
        if nid not in seen:
            ctx.add(line, f"node '{nid}' is unreachable from start node '{start}'")


def _check_menus(ctx: _Ctx, nodes: Mapping[str, AnyNode], graph: Mapping[str, list[str]]) -> None:
    for menu in nodes.values():
        if not isinstance(menu, MenuNode) or not menu.options:
            continue
        # A way out is an option from which some path reaches the end of the IVR without
        # coming back through this menu; on_fail does not count (callers must not have to
        # fail a menu to leave it).
        seen = {menu.id}
        todo = [t for t in menu.options.values() if t in graph]
        found = False
        while todo and not found:
            nid = todo.pop()
            if nid in seen:
                continue
            seen.add(nid)
            node = nodes.get(nid)
            if node is not None and node.kind in TERMINAL_KINDS:
                found = True
            todo.extend(graph.get(nid, []))
        if not found:
            ctx.add(
                menu.line,
                f"menu '{menu.id}' has no way out: no option leads to a queue, "
                "callback, voicemail, transfer or hangup",
            )


def _check_loops(
    ctx: _Ctx,
    nodes: Mapping[str, AnyNode],
    graph: Mapping[str, list[str]],
    node_lines: Mapping[str, int],
) -> None:
    # Edges between nodes that never wait for a key press; any cycle among them would spin
    # the interpreter without the caller being able to do anything.
    quiet = {nid for nid, n in nodes.items() if n.kind not in INPUT_KINDS}
    sub = {nid: [t for t in graph[nid] if t in quiet] for nid in quiet}
    reported: set[str] = set()
    for first in sorted(quiet, key=lambda n: node_lines[n]):
        if first in reported:
            continue
        cycle = _cycle_from(first, sub)
        if cycle is None:
            continue
        reported.update(cycle)
        loop = " -> ".join([*cycle, cycle[0]])
        ctx.add(node_lines[first], f"loop waits for no input: {loop}")


def _cycle_from(start: str, sub: Mapping[str, list[str]]) -> list[str] | None:
    """A simple cycle through ``start`` in ``sub``, or None (iterative DFS)."""
    stack: list[tuple[str, int]] = [(start, 0)]
    path = [start]
    on_path = {start}
    visited: set[str] = set()
    while stack:
        nid, i = stack[-1]
        succ = sub[nid]
        if i == len(succ):
            stack.pop()
            path.pop()
            on_path.discard(nid)
            visited.add(nid)
            continue
        stack[-1] = (nid, i + 1)
        nxt = succ[i]
        if nxt == start:
            return list(path)
        if nxt in on_path or nxt in visited:
            continue
        stack.append((nxt, 0))
        path.append(nxt)
        on_path.add(nxt)
    return None


def _check_prompts(
    ctx: _Ctx, prompts_dir: str, language: str, languages: Sequence[str]
) -> dict[str, dict[str, str]]:
    paths: dict[str, dict[str, str]] = {lang: {} for lang in languages}
    names = {name for name, _line in ctx.prompts}
    for lang in languages:
        for name in names:
            stem = os.path.join(prompts_dir, lang, name)
            if any(os.path.isfile(stem + ext) for ext in AUDIO_EXTENSIONS):
                paths[lang][name] = stem
    for name, line in ctx.prompts:
        if name not in paths.get(language, {}):
            exts = ", ".join(AUDIO_EXTENSIONS[1:])
            ctx.add(
                line,
                f"prompt '{name}' has no audio: no {name}.wav (or {exts}) in "
                f"{os.path.join(prompts_dir, language)}",
            )
    return paths


# --- public API ---------------------------------------------------------------------------------


def check_text(
    file: str, text: str, prompts_dir: str, default_language: str = "en"
) -> tuple[list[Problem], Script | None]:
    """Validate script text; returns its problems (sorted by line) and, if none, the Script."""
    return _problems_and_script(file, text, prompts_dir, default_language)


def check_files(
    paths: Iterable[str | os.PathLike[str]],
    prompts_dir: str | os.PathLike[str],
    default_language: str = "en",
) -> list[Problem]:
    """Validate script files; every problem of every file, in file then line order.

    Args:
        paths: script files; each is reported under the name given.
        prompts_dir: the directory holding ``<lang>/<prompt>.wav``.
        default_language: the language of a script that names none.
    """
    out: list[Problem] = []
    for path in paths:
        name = os.fspath(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            out.append(Problem(name, 1, f"cannot read: {exc}"))
            continue
        problems, _script = _problems_and_script(
            name, text, os.fspath(prompts_dir), default_language
        )
        out.extend(problems)
    return out


def load_script(
    path: str | os.PathLike[str],
    prompts_dir: str | os.PathLike[str],
    default_language: str = "en",
) -> Script:
    """Load and validate one script file.

    Raises:
        ScriptError: the file cannot be read or does not validate; ``problems`` lists
            every ``file:line: message``.
    """
    name = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScriptError([f"{name}:1: cannot read: {exc}"]) from None
    problems, script = _problems_and_script(name, text, os.fspath(prompts_dir), default_language)
    if script is None:
        raise ScriptError([str(p) for p in problems])
    return script


def script_files(scripts_dir: str | os.PathLike[str]) -> list[Path]:
    """The script files directly in ``scripts_dir`` (``*.yaml``, ``*.yml``), sorted."""
    root = Path(scripts_dir)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.suffix in SCRIPT_SUFFIXES and p.is_file())


@dataclass(frozen=True, slots=True)
class _Loaded:
    digest: str
    script: Script | None
    problems: tuple[Problem, ...]


class ScriptLibrary:
    """The scripts the service is serving, reloaded when their files change.

    ``reload()`` re-reads files whose content changed (and retries invalid ones, since
    a missing prompt may have appeared). A new valid version replaces the old one; an
    invalid one is refused with a log line and the last valid version keeps serving.
    The library never reads the clock: call ``reload()`` every ``ivr.reload_interval``.
    """

    def __init__(
        self,
        scripts_dir: str | os.PathLike[str],
        prompts_dir: str | os.PathLike[str],
        *,
        default_language: str = "en",
        entries: Mapping[str, str] | None = None,
    ) -> None:
        self.scripts_dir = Path(scripts_dir)
        self.prompts_dir = os.fspath(prompts_dir)
        self.default_language = default_language
        self.entries = dict(entries or {"default": "main"})
        self._serving: dict[str, Script] = {}
        self._files: dict[Path, _Loaded] = {}

    @property
    def names(self) -> list[str]:
        return sorted(self._serving)

    def reload(self) -> list[Problem]:
        """Re-read changed scripts; returns the problems of the files refused this time."""
        refused: list[Problem] = []
        present = set(script_files(self.scripts_dir))
        for path in sorted(present):
            try:
                data = path.read_bytes()
            except OSError as exc:
                refused.append(Problem(str(path), 1, f"cannot read: {exc}"))
                continue
            digest = hashlib.sha256(data).hexdigest()
            old = self._files.get(path)
            if old is not None and old.digest == digest and old.script is not None:
                continue
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                problems: list[Problem] = [Problem(str(path), 1, "not UTF-8 text")]
                script = None
            else:
                problems, script = _problems_and_script(
                    str(path), text, self.prompts_dir, self.default_language
                )
            self._files[path] = _Loaded(digest, script, tuple(problems))
            if script is not None:
                self._serving[path.stem] = script
                if old is None or old.script is None or old.digest != digest:
                    log.info(
                        "IVR script loaded",
                        extra={"fields": {"script": path.stem, "file": str(path)}},
                    )
                continue
            refused.extend(problems)
            if old is None or old.problems != tuple(problems):
                keeping = (
                    "keeping the last valid version"
                    if path.stem in self._serving
                    else "no valid version to serve"
                )
                log.error(
                    f"IVR script refused; {keeping}",
                    extra={
                        "fields": {"script": path.stem, "problems": "; ".join(map(str, problems))}
                    },
                )
        for path in set(self._files) - present:
            del self._files[path]
            if self._serving.pop(path.stem, None) is not None:
                log.warning("IVR script removed", extra={"fields": {"script": path.stem}})
        return refused

    def get(self, name: str) -> Script:
        """The serving version of script ``name``.

        Raises:
            NotFound: no valid script of that name.
        """
        try:
            return self._serving[name]
        except KeyError:
            raise NotFound(f"no valid IVR script named {name!r}") from None

    def for_dialed(self, dialed: str) -> Script:
        """The entry script for a dialed number (DID) or extension, else ``default``.

        Raises:
            NotFound: neither the number nor ``default`` maps to a valid script.
        """
        name = self.entries.get(dialed) or self.entries.get("default")
        if name is None:
            raise NotFound(f"no IVR entry for {dialed!r} and no default")
        return self.get(name)

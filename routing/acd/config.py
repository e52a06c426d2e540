"""Load the queue file (``config/queues.yaml``): queues and agents for the ACD.

Every problem raises :class:`config.errors.InvalidInput` whose message names the file
and the key path (``queues.sales.ring_timeout``), so a typo is found without reading
code. Unknown keys are errors too: a misspelt ``max_wiat`` must not silently do nothing.
The parser (:func:`parse_queue_file`) works on already-loaded data and does no I/O.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from config.errors import InvalidInput
from routing.acd.model import AgentConfig, MaxWaitAction, QueueConfig, Strategy, Widening

_QUEUE_KEYS = {
    "strategy",
    "skills",
    "widening",
    "priority_seconds",
    "tier_priority",
    "weight",
    "max_wait",
    "max_wait_action",
    "max_wait_target",
    "max_length",
    "join_empty",
    "service_level",
    "ring_timeout",
    "wrap_up",
    "announce_interval",
    "moh",
    "callback_attempts",
    "callback_retry",
    "default_handle_time",
}
_AGENT_KEYS = {"id", "name", "endpoint", "skills", "queues"}
_WIDENING_KEYS = {"every", "step", "floor"}


@dataclass(frozen=True, slots=True)
class QueueFile:
    """What a queue file holds."""

    queues: tuple[QueueConfig, ...]
    agents: tuple[AgentConfig, ...]


def load_queue_file(path: str | os.PathLike[str]) -> QueueFile:
    """Read and check a queue file.

    Args:
        path: the YAML file.

    Raises:
        InvalidInput: the file is missing, not YAML, or a key is unknown or wrong; the
            message names the file and the key.
    """
    source = str(path)
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except FileNotFoundError:
        raise InvalidInput(f"{source}: file not found", field="-") from None
    except OSError as exc:
        raise InvalidInput(f"{source}: cannot read ({exc.strerror})", field="-") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{source}: not valid YAML ({exc})", field="-") from None
    return parse_queue_file(data, source)


def parse_queue_file(data: Any, source: str = "<queues>") -> QueueFile:
    """Check loaded YAML data and build the configurations.

    Args:
        data: the document (a mapping with ``queues`` and optionally ``agents``).
        source: the file name to put in error messages.

    Raises:
        InvalidInput: anything wrong; ``field`` is the key path.
    """
    if not isinstance(data, Mapping):
        _fail(source, "-", "expected a mapping with 'queues' (and 'agents')")
    unknown = sorted(set(data) - {"queues", "agents"})
    if unknown:
        _fail(source, unknown[0], "unknown key; expected queues, agents")
    raw_queues = data.get("queues")
    if not isinstance(raw_queues, Mapping) or not raw_queues:
        _fail(source, "queues", "expected a mapping of queue name to settings")
    queues = tuple(_queue(source, name, body) for name, body in raw_queues.items())
    names = {q.name for q in queues}
    for q in queues:
        if q.max_wait_action is MaxWaitAction.OVERFLOW and q.max_wait_target not in names:
            _fail(
                source,
                f"queues.{q.name}.max_wait_target",
                f"overflow target {q.max_wait_target!r} is not a queue in this file",
            )
    raw_agents = data.get("agents", [])
    if raw_agents is None:
        raw_agents = []
    if not isinstance(raw_agents, list):
        _fail(source, "agents", "expected a list of agents")
    agents = []
    seen: set[str] = set()
    for i, body in enumerate(raw_agents):
        agent = _agent(source, i, body)
        if agent.agent_id in seen:
            _fail(source, f"agents[{i}].id", f"duplicate agent id {agent.agent_id!r}")
        seen.add(agent.agent_id)
        for queue in agent.queues:
            if queue not in names:
                _fail(source, f"agents[{i}].queues", f"unknown queue {queue!r}")
        agents.append(agent)
    return QueueFile(queues, tuple(agents))


def _fail(source: str, key: str, expected: str) -> Any:
    raise InvalidInput(f"{source}: {key}: {expected}", field=key)


def _queue(source: str, name: Any, body: Any) -> QueueConfig:
    where = f"queues.{name}"
    if not isinstance(name, str) or not name:
        _fail(source, where, "queue names must be non-empty strings")
    if body is None:
        body = {}
    if not isinstance(body, Mapping):
        _fail(source, where, "expected a mapping of settings")
    unknown = sorted(set(body) - _QUEUE_KEYS)
    if unknown:
        _fail(
            source,
            f"{where}.{unknown[0]}",
            "unknown key; expected one of " + ", ".join(sorted(_QUEUE_KEYS)),
        )
    kwargs: dict[str, Any] = {
        k: v for k, v in body.items() if k not in {"strategy", "max_wait_action", "widening"}
    }
    if "strategy" in body:
        kwargs["strategy"] = _enum(source, f"{where}.strategy", Strategy, body["strategy"])
    if "max_wait_action" in body:
        kwargs["max_wait_action"] = _enum(
            source, f"{where}.max_wait_action", MaxWaitAction, body["max_wait_action"]
        )
    if "widening" in body:
        kwargs["widening"] = _widening(source, f"{where}.widening", body["widening"])
    for key in ("skills", "tier_priority"):
        if key in kwargs:
            if not isinstance(kwargs[key], Mapping):
                _fail(source, f"{where}.{key}", "expected a mapping")
            kwargs[key] = dict(kwargs[key])
    if kwargs.get("max_wait_target") is None:
        kwargs.pop("max_wait_target", None)
    try:
        return QueueConfig(name=name, **kwargs)
    except InvalidInput as exc:
        _fail(source, f"{where}.{exc.field}", str(exc))
    except TypeError as exc:  # a value of a type the dataclass checks cannot even compare
        _fail(source, where, f"bad value ({exc})")
    raise AssertionError("unreachable")


def _widening(source: str, where: str, body: Any) -> Widening:
    if not isinstance(body, Mapping):
        _fail(source, where, "expected a mapping with every, step, floor")
    unknown = sorted(set(body) - _WIDENING_KEYS)
    if unknown:
        _fail(source, f"{where}.{unknown[0]}", "unknown key; expected every, step, floor")
    try:
        return Widening(**dict(body))
    except InvalidInput as exc:
        _fail(source, where, str(exc))
    raise AssertionError("unreachable")


def _enum(source: str, where: str, kind: type[Strategy] | type[MaxWaitAction], value: Any) -> Any:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(m.value for m in kind)
        return _fail(source, where, f"expected one of {choices}, got {value!r}")


def _agent(source: str, index: int, body: Any) -> AgentConfig:
    where = f"agents[{index}]"
    if not isinstance(body, Mapping):
        _fail(source, where, "expected a mapping with id, name, endpoint, skills, queues")
    unknown = sorted(set(body) - _AGENT_KEYS)
    if unknown:
        _fail(
            source,
            f"{where}.{unknown[0]}",
            "unknown key; expected " + ", ".join(sorted(_AGENT_KEYS)),
        )
    for key in ("id", "name", "endpoint"):
        if key not in body:
            _fail(source, f"{where}.{key}", "required")
    agent_id = body["id"]
    if isinstance(agent_id, int) and not isinstance(agent_id, bool):
        agent_id = str(agent_id)  # `id: 1001` in YAML is an integer; agents are named by text
    skills = body.get("skills") or {}
    if not isinstance(skills, Mapping):
        _fail(source, f"{where}.skills", "expected a mapping of skill to level 1–5")
    queues = body.get("queues") or []
    if not isinstance(queues, list):
        _fail(source, f"{where}.queues", "expected a list of queue names")
    try:
        return AgentConfig(
            agent_id=agent_id,
            name=body["name"],
            endpoint=body["endpoint"],
            skills=dict(skills),
            queues=tuple(queues),
        )
    except InvalidInput as exc:
        _fail(source, f"{where}.{exc.field}", str(exc))
    raise AssertionError("unreachable")

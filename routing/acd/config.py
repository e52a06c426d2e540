"""Load the queue file (``config/queues.yaml``): queues and agents for the ACD, and who
supervises which queue.

Every problem raises :class:`config.errors.InvalidInput` whose message names the file
and the key path (``queues.sales.ring_timeout``), so a typo is found without reading
code. Unknown keys are errors too: a misspelt ``max_wiat`` must not silently do nothing.
The YAML is read within the limits of :mod:`routing.ivr.yamltree` (size, nesting depth,
alias expansion), so a hostile file is a ``file:line: message`` error, never a frozen
reload or a ``RecursionError``. The parser (:func:`parse_queue_file`) works on
already-loaded data and does no I/O.

``supervisors`` (per queue, optional) lists the console usernames that supervise the
queue; a queue without it is supervised by every supervisor. It is not an ACD setting:
it goes into :attr:`QueueFile.supervisors` for the console's scope checks.

``thresholds`` (per queue, optional) colour the wallboard's tiles:
``{service_level: {warn: 0.8, bad: 0.6}, longest_wait: {warn: 60, bad: 120}, waiting:
{warn: 5, bad: 10}}``. Service level is a fraction that is worse when lower (bad <=
warn); longest wait (seconds) and waiting (calls) are worse when higher (warn <= bad).
Not an ACD setting either: it goes into :attr:`QueueFile.thresholds`.

``record`` (per queue, and per agent; ``true``/``false``, also ``yes``/``no``, ``1``/``0``)
says whether answered calls are recorded: a queue's default is false, an agent without
the key follows the queue. Not an ACD setting: it goes into :attr:`QueueFile.recording`
(:class:`routing.recording.RecordingPolicy`, where the IVR's choice is weighed too).

``channels`` (per queue, optional) lists what the queue takes: ``[voice, chat, email]``
(default ``[voice]``). ``capacity`` (per agent, and optionally at the top level as the
default of every agent) maps channel to how many contacts of it an agent holds at once:
``{voice: 1, chat: 3, email: 2}`` (voice 0 or 1; a channel left out takes the top-level
or built-in count). ``voice_during_digital`` (per agent, default false) says whether a
call may be offered to the agent while they hold a chat or an email.

``alerts`` (per queue, optional) overrides the ``[alerts]`` settings' queue thresholds
for that queue: ``{longest_wait_seconds: 60, service_level_below: 80, no_agent_ready:
30}`` (0 = off). Not an ACD setting: it goes into :attr:`QueueFile.alerts` for the
alerting shell (``routing.alerting``).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from config.errors import InvalidInput
from routing.acd.model import (
    CHANNELS,
    DEFAULT_CAPACITY,
    MAX_CAPACITY,
    AgentConfig,
    MaxWaitAction,
    QueueConfig,
    Strategy,
    Widening,
    WrapUpTimeoutAction,
)
from routing.ivr.yamltree import DEFAULT_LIMITS, Limits, load_file
from routing.recording import RecordingPolicy, flag

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
    "wrap_up_timeout_action",
    "announce_interval",
    "moh",
    "callback_attempts",
    "callback_retry",
    "default_handle_time",
    "supervisors",
    "thresholds",
    "record",
    "alerts",
    "channels",
}
# the per-queue alert thresholds (routing.alerts.rules.QueueRules; 0 = off)
_ALERT_KEYS = ("longest_wait_seconds", "service_level_below", "no_agent_ready")
# metric -> True when a higher value is worse
_THRESHOLD_METRICS = {"service_level": False, "longest_wait": True, "waiting": True}
# The rule of crm_lookup.users (the ACD, a pure core, does not import the store).
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_AGENT_KEYS = {
    "id",
    "name",
    "endpoint",
    "skills",
    "queues",
    "pbx",
    "record",
    "capacity",
    "voice_during_digital",
}
_WIDENING_KEYS = {"every", "step", "floor"}


@dataclass(frozen=True, slots=True)
class QueueFile:
    """What a queue file holds."""

    queues: tuple[QueueConfig, ...]
    agents: tuple[AgentConfig, ...]
    # queue -> usernames of its supervisors; a queue not listed: every supervisor
    supervisors: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # queue -> metric -> {"warn": x, "bad": y}; a queue not listed: no thresholds
    thresholds: Mapping[str, Mapping[str, Mapping[str, float]]] = field(default_factory=dict)
    # which answered calls are recorded (queues' and agents' ``record`` keys)
    recording: RecordingPolicy = field(default_factory=RecordingPolicy)
    # queue -> alert threshold -> value, overriding the [alerts] settings for that queue
    alerts: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


def _never() -> bool:
    return False


def load_queue_file(
    path: str | os.PathLike[str],
    *,
    limits: Limits = DEFAULT_LIMITS,
    cancelled: Callable[[], bool] = _never,
) -> QueueFile:
    """Read and check a queue file.

    Args:
        path: the YAML file.
        limits: size, nesting and alias-expansion limits of the YAML.
        cancelled: polled while reading; True stops with an error (a reload's time limit).

    Raises:
        InvalidInput: the file is missing, too big, not YAML, or a key is unknown or
            wrong; the message names the file and the line or the key.
    """
    source = str(path)
    return parse_queue_file(load_file(path, limits, cancelled), source)


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
    unknown = sorted(set(data) - {"queues", "agents", "capacity"})
    if unknown:
        _fail(source, unknown[0], "unknown key; expected queues, agents, capacity")
    default_capacity = dict(DEFAULT_CAPACITY)
    if data.get("capacity") is not None:
        default_capacity.update(_capacity(source, "capacity", data["capacity"]))
    raw_queues = data.get("queues")
    if not isinstance(raw_queues, Mapping) or not raw_queues:
        _fail(source, "queues", "expected a mapping of queue name to settings")
    queues = tuple(_queue(source, name, body) for name, body in raw_queues.items())
    supervisors = {
        name: _supervisors(source, f"queues.{name}.supervisors", body["supervisors"])
        for name, body in raw_queues.items()
        if isinstance(body, Mapping) and body.get("supervisors")
    }
    thresholds = {
        name: _thresholds(source, f"queues.{name}.thresholds", body["thresholds"])
        for name, body in raw_queues.items()
        if isinstance(body, Mapping) and body.get("thresholds") is not None
    }
    alerts = {
        name: _alerts(source, f"queues.{name}.alerts", body["alerts"])
        for name, body in raw_queues.items()
        if isinstance(body, Mapping) and body.get("alerts") is not None
    }
    queue_record = {
        name: _flag(source, f"queues.{name}.record", body["record"])
        for name, body in raw_queues.items()
        if isinstance(body, Mapping) and "record" in body
    }
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
    agent_record: dict[str, bool] = {}
    seen: set[str] = set()
    for i, body in enumerate(raw_agents):
        agent = _agent(source, i, body, default_capacity)
        if agent.agent_id in seen:
            _fail(source, f"agents[{i}].id", f"duplicate agent id {agent.agent_id!r}")
        seen.add(agent.agent_id)
        for queue in agent.queues:
            if queue not in names:
                _fail(source, f"agents[{i}].queues", f"unknown queue {queue!r}")
        agents.append(agent)
        if isinstance(body, Mapping) and "record" in body:
            agent_record[agent.agent_id] = _flag(source, f"agents[{i}].record", body["record"])
    recording = RecordingPolicy(queue_record, agent_record)
    return QueueFile(queues, tuple(agents), supervisors, thresholds, recording, alerts)


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
        k: v
        for k, v in body.items()
        if k
        not in {
            "strategy",
            "max_wait_action",
            "widening",
            "supervisors",
            "thresholds",
            "record",
            "alerts",
            "channels",
        }
        and k != "wrap_up_timeout_action"
    }
    if "channels" in body:
        kwargs["channels"] = _channels(source, f"{where}.channels", body["channels"])
    if "wrap_up_timeout_action" in body:
        kwargs["wrap_up_timeout_action"] = _enum(
            source,
            f"{where}.wrap_up_timeout_action",
            WrapUpTimeoutAction,
            body["wrap_up_timeout_action"],
        )
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


def _channels(source: str, where: str, value: Any) -> frozenset[str]:
    expected = "expected a list of channels, like [voice, chat, email]"
    if not isinstance(value, list) or not value:
        _fail(source, where, expected)
    for channel in value:
        if not isinstance(channel, str) or channel not in CHANNELS:
            shown = repr(channel)[:40]
            _fail(source, where, f"unknown channel {shown}; expected {', '.join(CHANNELS)}")
    if len(set(value)) != len(value):
        _fail(source, where, "lists a channel twice")
    return frozenset(value)


def _capacity(source: str, where: str, value: Any) -> dict[str, int]:
    """A capacity map as written (the channels it names only)."""
    if not isinstance(value, Mapping) or not value:
        _fail(source, where, "expected a mapping of channel to count, like {chat: 3, email: 2}")
    out: dict[str, int] = {}
    for channel, count in value.items():
        at = f"{where}.{channel}"
        if not isinstance(channel, str) or channel not in CHANNELS:
            _fail(source, at, f"unknown channel; expected {', '.join(CHANNELS)}")
        top = 1 if channel == "voice" else MAX_CAPACITY
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= top:
            shown = repr(count)[:40]
            _fail(source, at, f"expected a whole number from 0 to {top}, got {shown}")
        out[channel] = count
    return out


def _flag(source: str, where: str, value: Any) -> bool:
    try:
        return flag(value, where)
    except InvalidInput:
        shown = repr(value)[:40]
        return bool(_fail(source, where, f"expected true or false, got {shown}"))


def _supervisors(source: str, where: str, value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(u, str) for u in value):
        _fail(source, where, "expected a list of console usernames, like [sam, lena]")
    for username in value:
        if not _USERNAME.match(username):
            _fail(source, where, f"{username!r} is not a username (1-64 letters, digits, _.@-)")
    return frozenset(value)


def _thresholds(source: str, where: str, body: Any) -> dict[str, dict[str, float]]:
    if not isinstance(body, Mapping):
        _fail(source, where, "expected a mapping like {waiting: {warn: 5, bad: 10}}")
    out: dict[str, dict[str, float]] = {}
    for metric, levels in body.items():
        at = f"{where}.{metric}"
        if metric not in _THRESHOLD_METRICS:
            _fail(source, at, "unknown metric; expected " + ", ".join(sorted(_THRESHOLD_METRICS)))
        if not isinstance(levels, Mapping) or not levels:
            _fail(source, at, "expected a mapping with warn and/or bad")
        unknown = sorted(set(levels) - {"warn", "bad"})
        if unknown:
            _fail(source, f"{at}.{unknown[0]}", "unknown key; expected warn, bad")
        values: dict[str, float] = {}
        for level, value in levels.items():
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not ok or not math.isfinite(value) or value < 0:
                _fail(source, f"{at}.{level}", "expected a number >= 0")
            if metric == "service_level" and value > 1:
                _fail(source, f"{at}.{level}", "expected a fraction from 0 to 1, like 0.8")
            values[level] = float(value)
        if "warn" in values and "bad" in values:
            worse_high = _THRESHOLD_METRICS[metric]
            if (values["bad"] < values["warn"]) if worse_high else (values["bad"] > values["warn"]):
                order = "at least" if worse_high else "at most"
                _fail(source, f"{at}.bad", f"bad must be {order} warn ({values['warn']:g})")
        out[metric] = values
    return out


def _alerts(source: str, where: str, body: Any) -> dict[str, float]:
    if not isinstance(body, Mapping):
        _fail(source, where, "expected a mapping like {longest_wait_seconds: 60}")
    out: dict[str, float] = {}
    for key, value in body.items():
        at = f"{where}.{key}"
        if key not in _ALERT_KEYS:
            _fail(source, at, "unknown key; expected " + ", ".join(_ALERT_KEYS))
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value < 0:
            _fail(source, at, "expected a number >= 0 (0 = off)")
        if key == "service_level_below" and value > 100:
            _fail(source, at, "expected a percentage from 0 to 100")
        out[key] = float(value)
    return out


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


def _enum(
    source: str,
    where: str,
    kind: type[Strategy] | type[MaxWaitAction] | type[WrapUpTimeoutAction],
    value: Any,
) -> Any:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(m.value for m in kind)
        return _fail(source, where, f"expected one of {choices}, got {value!r}")


def _agent(source: str, index: int, body: Any, default_capacity: Mapping[str, int]) -> AgentConfig:
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
    capacity = dict(default_capacity)
    if body.get("capacity") is not None:
        capacity.update(_capacity(source, f"{where}.capacity", body["capacity"]))
    voice_during_digital = False
    if "voice_during_digital" in body:
        voice_during_digital = _flag(
            source, f"{where}.voice_during_digital", body["voice_during_digital"]
        )
    try:
        return AgentConfig(
            agent_id=agent_id,
            name=body["name"],
            endpoint=body["endpoint"],
            skills=dict(skills),
            queues=tuple(queues),
            pbx=body.get("pbx", ""),
            capacity=capacity,
            voice_during_digital=voice_during_digital,
        )
    except InvalidInput as exc:
        _fail(source, f"{where}.{exc.field}", str(exc))
    raise AssertionError("unreachable")

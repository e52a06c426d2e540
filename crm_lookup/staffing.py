"""Erlang C staffing: how many agents a queue needs to answer a load in time.

Theory of operation. Calls arrive at random (Poisson) at ``calls`` per ``interval``
seconds and each keeps an agent busy for ``aht`` seconds on average (exponential), so
the offered load is ``A = calls * aht / interval`` Erlangs. With ``N`` agents and callers
who wait as long as it takes (no abandons, the Erlang C model):

* ``C(N, A)`` — the chance a caller waits at all;
* service level ``P(wait <= t) = 1 - C * exp(-(N - A) * t / aht)``;
* ASA (average speed of answer) ``= C * aht / (N - A)``;
* occupancy ``= A / N``.

``N <= A`` is an unstable queue (the line grows without end): every caller waits,
service level 0, ASA infinite, occupancy 1.

The textbook form of ``C`` divides ``A**N / N!`` by a sum of such terms, which overflows
a float long before 500 agents (``170!`` already does). This module computes Erlang B by
its recursion ``B(0) = 1, B(n) = A B(n-1) / (n + A B(n-1))`` — every step stays in
``[0, 1]`` — and Erlang C from it: ``C = N B / (N - A (1 - B))``. The cost is one step
per agent, and :func:`agents_needed` reuses the recursion as it counts agents up, so the
search for the smallest ``N`` meeting a target is ``O(N)``.

Inputs are checked: a bad one raises :class:`config.errors.InvalidInput` naming it
(``field``). Zero calls need zero agents (service level 1, ASA 0, occupancy 0). Pure: no
I/O, no clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from config.errors import InvalidInput

#: The search for agents stops here (an unreachable target is an error, not a hang).
MAX_AGENTS = 100_000
#: Larger loads are refused: beyond any one queue, and they would bound nothing.
MAX_TRAFFIC = 50_000.0


@dataclass(frozen=True, slots=True)
class Staffing:
    """The smallest agent count meeting a target, and what it gives."""

    agents: int
    service_level: float
    occupancy: float
    asa: float

    def to_json(self) -> dict[str, float | int]:
        return {
            "agents": self.agents,
            "service_level": round(self.service_level, 4),
            "occupancy": round(self.occupancy, 4),
            "asa": round(self.asa, 2),
        }


def _number(value: float, field: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{field} must be a number", field=field)
    if not math.isfinite(value):
        raise InvalidInput(f"{field} must be a finite number", field=field)
    if positive and value <= 0:
        raise InvalidInput(f"{field} must be greater than 0", field=field)
    if value < 0:
        raise InvalidInput(f"{field} must not be negative", field=field)
    return float(value)


def _agents(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("agents must be a whole number", field="agents")
    if value < 0:
        raise InvalidInput("agents must not be negative", field="agents")
    if value > MAX_AGENTS:
        raise InvalidInput(f"agents must be at most {MAX_AGENTS}", field="agents")
    return value


def traffic(calls: float, aht: float, interval: float) -> float:
    """The offered load in Erlangs: ``calls * aht / interval``.

    Raises:
        InvalidInput: calls negative, aht or interval not above 0, any not finite, or
            a load above :data:`MAX_TRAFFIC` (``field="calls"``).
    """
    load = (
        _number(calls, "calls")
        * _number(aht, "aht", positive=True)
        / _number(interval, "interval", positive=True)
    )
    if load > MAX_TRAFFIC:
        raise InvalidInput(
            f"a load of {load:.0f} Erlangs is above the {MAX_TRAFFIC:.0f} this calculator takes",
            field="calls",
        )
    return load


def _check_load(load: float) -> float:
    load = _number(load, "traffic")
    if load > MAX_TRAFFIC:
        raise InvalidInput(f"traffic must be at most {MAX_TRAFFIC:.0f} Erlangs", field="traffic")
    return load


def erlang_b(load: float, agents: int) -> float:
    """Erlang B: the chance all ``agents`` are busy when calls that find no agent are lost.

    Raises:
        InvalidInput: a negative or non-finite load, a negative agent count.
    """
    load = _check_load(load)
    b = 1.0
    for n in range(1, _agents(agents) + 1):
        b = load * b / (n + load * b)
    return b


def _c_from_b(load: float, agents: int, b: float) -> float:
    if agents <= load:
        return 1.0
    return agents * b / (agents - load * (1.0 - b))


def erlang_c(load: float, agents: int) -> float:
    """Erlang C: the chance a caller has to wait, with ``agents`` serving ``load`` Erlangs.

    1.0 when ``agents <= load`` (an unstable queue: everyone waits); 0.0 with no load.

    Raises:
        InvalidInput: a negative or non-finite load, a negative agent count.
    """
    load = _check_load(load)
    if load == 0:
        return 0.0
    return _c_from_b(load, agents, erlang_b(load, agents))


def _sl(load: float, aht: float, agents: int, within: float, c: float) -> float:
    if load == 0:
        return 1.0
    if agents <= load:
        return 0.0
    return max(0.0, 1.0 - c * math.exp(-(agents - load) * within / aht))


def _asa(load: float, aht: float, agents: int, c: float) -> float:
    if load == 0:
        return 0.0
    if agents <= load:
        return math.inf
    return c * aht / (agents - load)


def _occupancy(load: float, agents: int) -> float:
    if load == 0:
        return 0.0
    if agents <= load:
        return 1.0
    return load / agents


def service_level(calls: float, aht: float, interval: float, agents: int, within: float) -> float:
    """The fraction of callers answered within ``within`` seconds (0 when ``agents`` <=
    the load, 1 with no calls).

    Raises:
        InvalidInput: see :func:`traffic`; negative ``agents`` or ``within``.
    """
    load = traffic(calls, aht, interval)
    within = _number(within, "within")
    return _sl(load, float(aht), agents, within, erlang_c(load, agents))


def asa(calls: float, aht: float, interval: float, agents: int) -> float:
    """The average speed of answer in seconds (``math.inf`` when ``agents`` <= the load,
    0 with no calls).

    Raises:
        InvalidInput: see :func:`traffic`; negative ``agents``.
    """
    load = traffic(calls, aht, interval)
    return _asa(load, float(aht), agents, erlang_c(load, agents))


def occupancy(calls: float, aht: float, interval: float, agents: int) -> float:
    """The share of the agents' time spent on calls: ``load / agents`` (1 when ``agents``
    <= the load, 0 with no calls).

    Raises:
        InvalidInput: see :func:`traffic`; negative ``agents``.
    """
    return _occupancy(traffic(calls, aht, interval), _agents(agents))


def check_target(target: float) -> float:
    """A service-level target as a fraction: above 0 and below 1.

    Raises:
        InvalidInput: anything else (1 is never reached: Erlang C always leaves some
            chance of waiting), ``field="target"``.
    """
    target = _number(target, "target")
    if not 0 < target < 1:
        raise InvalidInput(
            "target must be a fraction above 0 and below 1, like 0.8", field="target"
        )
    return target


def agents_needed(
    calls: float, aht: float, interval: float, target: float, within: float
) -> Staffing:
    """The smallest number of agents whose Erlang C service level (answered within
    ``within`` seconds) is at least ``target``, with what they give.

    Zero calls need zero agents. Otherwise the count is above the load (fewer is an
    unstable queue) and is searched upwards one agent at a time.

    Raises:
        InvalidInput: see :func:`traffic` and :func:`check_target`; ``within`` negative;
            no count up to :data:`MAX_AGENTS` meets the target (``field="target"``).
    """
    load = traffic(calls, aht, interval)
    target = check_target(target)
    within = _number(within, "within")
    aht = float(aht)
    if load == 0:
        return Staffing(0, 1.0, 0.0, 0.0)
    b = 1.0
    for n in range(1, MAX_AGENTS + 1):
        b = load * b / (n + load * b)
        if n <= load:
            continue
        c = _c_from_b(load, n, b)
        sl = _sl(load, aht, n, within, c)
        if sl >= target:
            return Staffing(n, sl, _occupancy(load, n), _asa(load, aht, n, c))
    raise InvalidInput(
        f"no staffing up to {MAX_AGENTS} agents reaches a service level of {target:g}",
        field="target",
    )

"""The report's measures: their definitions and how they are computed from sums (pure).

Theory of operation: the database hands back, per group, only *additive* figures (counts,
sums, a maximum) — :class:`Sums` — so groups fold together exactly (15-minute slots into
a local hour, a day, the totals) and every ratio is computed once, at the end, by
:func:`measures`. The population is the contacts that entered a queue in the period
(by the time they were first queued); contacts not ended yet are *in progress*: left out
of every measure below and counted apart (``in_progress``).

Definitions (the catalogue's ``report.definition.<key>`` says the same to users):

* ``offered`` — contacts that entered the queue and ended (with an agent filter or an
  agent reader: those the agent ended with); in an agent's row only (``by=agent``), those
  of them *presented* to the agent: calls that rang the agent's phone (answered there or
  not) and chats and emails assigned to them (an assignment is a digital contact's
  presentation: it is never rung), each once per agent (``report_query.offered_by_agent``;
  the row's drill-down, measure ``presented``, lists the same contacts). Totals, the
  agent report's too, keep the first definition, so agents' rows are not summed into
  them: a contact presented to two agents is in both rows, one presented to none in
  neither;
* ``answered`` — of those, an agent picked up;
* ``abandoned`` — the caller hung up in the queue after waiting at least the short-abandon
  threshold; ``short_abandoned`` — before it (counted apart, and left out of service level);
* ``callbacks`` — the caller left the queue asking to be called back;
* ``other`` — ended any other way (voicemail, overflow, failed, lost in an outage);
* ``service_level`` — answered within the threshold ÷ (offered − short abandoned), 0..1;
  in an agent's row of the contacts the agent ended with (its base is not the row's
  presented ``offered``);
* ``asa`` — average speed of answer: mean wait of answered contacts, seconds;
* ``aht`` — average handle time: mean talk + hold + wrap-up of answered contacts, seconds;
* ``avg_wait`` / ``longest_wait`` — mean / longest wait in the queue of every offered
  contact, answered or not, seconds;
* ``transfers`` — transfers agents made on these contacts;
* ``first_response`` — chats and emails only: mean seconds from entering the queue to the
  agent's first reply (``contacts.first_response_at``, migration 15), over the offered
  chats and emails that had one; a call's first response is its answer, so ``asa``.

By channel (``by=channel`` or ``channel=``) every measure is that channel's: AHT of chats
is the mean time from assignment to the end of the chat plus its wrap-up (an agent holds
several at once, so it is not comparable with a call's), of emails from assignment to the
conversation's end plus wrap-up.

Per agent (rows of ``by=agent``): ``calls`` (taken by the agent: calls answered, chats
and emails assigned; every measure but ``offered`` is of the contacts the agent ended
with), ``talk_seconds``,
``hold_seconds``, ``wrapup_seconds`` (of those calls), ``state_seconds`` (time in each
state in the period, not ready by reason, from the state history), ``logged_in_seconds``
(every state but logged out) and ``occupancy`` = (on call + wrap-up) ÷ (logged in − not
ready): the agent's talk, hold and wrap-up time as the state history clocks it inside the
period, so a call straddling the period's edge counts only its part inside.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

#: the measures of every row, in the order a table shows them
MEASURES = (
    "offered",
    "answered",
    "abandoned",
    "short_abandoned",
    "service_level",
    "asa",
    "aht",
    "avg_wait",
    "longest_wait",
    "transfers",
    "callbacks",
    "other",
    "first_response",
)
#: the extra measures of an agent row
AGENT_MEASURES = (
    "calls",
    "talk_seconds",
    "hold_seconds",
    "wrapup_seconds",
    "logged_in_seconds",
    "occupancy",
    "state_seconds",
)
#: keys with a catalogue label and definition (``report.measure.<key>``)
DEFINED = (*MEASURES, *AGENT_MEASURES, "in_progress")
STATES = ("ready", "not_ready", "ringing", "on_call", "wrap_up")


@dataclass(slots=True)
class Sums:
    """Additive figures of one group (see the module docstring)."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    callbacks: int = 0
    other: int = 0
    answered_within: int = 0
    wait_answered: float = 0.0
    wait_sum: float = 0.0
    wait_count: int = 0
    wait_max: float | None = None
    handle_sum: float = 0.0
    handle_count: int = 0
    talk_sum: float = 0.0
    hold_sum: float = 0.0
    wrapup_sum: float = 0.0
    transfers: int = 0
    in_progress: int = 0
    in_waiting: int = 0
    first_response_sum: float = 0.0
    first_response_count: int = 0

    def add(self, other: Sums) -> None:
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if f.name == "wait_max":
                if theirs is not None and (mine is None or theirs > mine):
                    self.wait_max = theirs
            else:
                setattr(self, f.name, mine + theirs)

    @classmethod
    def from_row(cls, values: Any) -> Sums:
        """From the columns of :data:`SUM_COLUMNS`, in order (NULL sums are 0)."""
        out = cls()
        for f, value in zip(fields(cls), values, strict=True):
            if f.name == "wait_max":
                out.wait_max = None if value is None else float(value)
            elif f.type in ("int", int):
                setattr(out, f.name, int(value or 0))
            else:
                setattr(out, f.name, float(value or 0.0))
        return out


SUM_FIELDS = tuple(f.name for f in fields(Sums))


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole > 0 else None


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def measures(s: Sums) -> dict[str, Any]:
    """The measures of one group from its sums."""
    return {
        "offered": s.offered,
        "answered": s.answered,
        "abandoned": s.abandoned,
        "short_abandoned": s.short_abandoned,
        "service_level": _r(_ratio(s.answered_within, s.offered - s.short_abandoned), 4),
        "asa": _r(_ratio(s.wait_answered, s.answered)),
        "aht": _r(_ratio(s.handle_sum, s.handle_count)),
        "avg_wait": _r(_ratio(s.wait_sum, s.wait_count)),
        "longest_wait": _r(s.wait_max),
        "transfers": s.transfers,
        "callbacks": s.callbacks,
        "other": s.other,
        "first_response": _r(_ratio(s.first_response_sum, s.first_response_count)),
    }


def agent_measures(s: Sums, states: dict[tuple[str, str], float]) -> dict[str, Any]:
    """An agent row's extra measures; ``states`` maps (state, reason) to seconds."""
    state_seconds: dict[str, Any] = {name: 0.0 for name in STATES}
    reasons: dict[str, float] = {}
    logged_in = 0.0
    for (state, reason), seconds in states.items():
        if state == "logged_out":
            continue
        logged_in += seconds
        if state == "not_ready":
            reasons[reason] = reasons.get(reason, 0.0) + seconds
        else:
            state_seconds[state] = state_seconds.get(state, 0.0) + seconds
    not_ready = sum(reasons.values())
    state_seconds["not_ready"] = {k: round(v, 1) for k, v in sorted(reasons.items())}
    for name in STATES:
        if name != "not_ready":
            state_seconds[name] = round(state_seconds[name], 1)
    busy = state_seconds["on_call"] + state_seconds["wrap_up"]
    occupancy = _ratio(busy, logged_in - not_ready)
    return {
        "calls": s.answered,
        "talk_seconds": round(s.talk_sum, 1),
        "hold_seconds": round(s.hold_sum, 1),
        "wrapup_seconds": round(s.wrapup_sum, 1),
        "logged_in_seconds": round(logged_in, 1),
        "occupancy": None if occupancy is None else round(min(1.0, occupancy), 4),
        "state_seconds": state_seconds,
    }

"""The alert evaluator: samples of the live statistics in, alert changes out (pure).

Theory of operation. The shell calls :meth:`AlertEngine.evaluate` with a
:class:`~routing.alerts.rules.Sample` and ``now`` every check. The rules
(:func:`~routing.alerts.rules.conditions`) list the conditions holding now, each under a
key (rule + subject). For each key the engine remembers since when it has held; a
condition that has held its ``hold`` seconds is *raised* as an :class:`Alert`. While it
keeps holding, a changed value *updates* the same alert (no new alert). When it stops
holding, the alert is *cleared* only after it has stayed gone ``clear_after`` seconds, so
a queue whose only waiting caller is answered and another arrives a second later does not
flap; a condition that comes back within that time keeps its alert. Acknowledging marks
an active alert with who and when; the ack survives value updates. Nothing here does
I/O: ids come from ``new_id``, time from the caller.
"""

from __future__ import annotations

import dataclasses
import enum
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from routing.alerts.rules import (
    UNITS,
    AlertRules,
    Condition,
    Rule,
    Sample,
    ServiceLevelWindow,
    conditions,
)


class ChangeKind(enum.Enum):
    RAISED = "raised"
    UPDATED = "updated"
    CLEARED = "cleared"
    ACKNOWLEDGED = "acknowledged"


@dataclass(frozen=True, slots=True)
class Alert:
    id: str
    rule: Rule
    subject: str
    value: float
    threshold: float
    raised_at: float
    queue: str | None = None
    agent_id: str | None = None
    pbx: str | None = None
    state: str | None = None  # an agent_state alert's agent state
    queues: tuple[str, ...] = ()  # an agent_state alert's agent's queues (for scoping)
    cleared_at: float | None = None
    acked_by: str | None = None
    acked_at: float | None = None

    @property
    def active(self) -> bool:
        return self.cleared_at is None

    @property
    def unit(self) -> str:
        return UNITS[self.rule]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.rule.value,
            "subject": self.subject,
            "queue": self.queue,
            "agent_id": self.agent_id,
            "pbx": self.pbx,
            "agent_state": self.state,
            "queues": list(self.queues),
            "value": self.value,
            "threshold": self.threshold,
            "unit": self.unit,
            "raised_at": self.raised_at,
            "cleared_at": self.cleared_at,
            "acked_by": self.acked_by,
            "acked_at": self.acked_at,
            "state": "active" if self.active else "cleared",
        }


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    alert: Alert


@dataclass(slots=True)
class _Tracked:
    first_seen: float
    last_seen: float
    alert: Alert | None = None


def _new_id() -> str:
    return secrets.token_hex(8)


class AlertEngine:
    """Raises, updates and clears alerts from samples (see the module doc).

    Args:
        rules: the thresholds.
        new_id: a fresh, unique alert id per call.
    """

    def __init__(self, rules: AlertRules, *, new_id: Callable[[], str] = _new_id) -> None:
        self.rules = rules
        self._new_id = new_id
        self._window = ServiceLevelWindow(rules.service_level_window)
        self._tracked: dict[tuple[str, ...], _Tracked] = {}

    def set_rules(self, rules: AlertRules) -> None:
        """New thresholds; raised alerts stay and clear by the new rules."""
        self.rules = rules
        self._window.window = rules.service_level_window

    @property
    def active(self) -> list[Alert]:
        """The raised alerts, oldest first."""
        alerts = [t.alert for t in self._tracked.values() if t.alert is not None]
        return sorted(alerts, key=lambda a: (a.raised_at, a.id))

    def evaluate(self, sample: Sample, now: float) -> list[Change]:
        """Fold in one sample taken at ``now``; return what changed, in order."""
        changes: list[Change] = []
        holding: dict[tuple[str, ...], Condition] = {
            c.key: c for c in conditions(self.rules, sample, now, self._window)
        }
        for key, cond in holding.items():
            tracked = self._tracked.get(key)
            if tracked is None:
                tracked = self._tracked[key] = _Tracked(now, now)
            tracked.last_seen = now
            value = cond.value if cond.value is not None else round(now - tracked.first_seen, 1)
            if tracked.alert is None:
                if now - tracked.first_seen >= cond.hold:
                    tracked.alert = self._raise(cond, value, now)
                    changes.append(Change(ChangeKind.RAISED, tracked.alert))
            elif value != tracked.alert.value:
                tracked.alert = dataclasses.replace(tracked.alert, value=value)
                changes.append(Change(ChangeKind.UPDATED, tracked.alert))
        for key, tracked in list(self._tracked.items()):
            if key in holding:
                continue
            if tracked.alert is None:
                del self._tracked[key]  # pending, never raised: forget at once
            elif now - tracked.last_seen >= self.rules.clear_after:
                del self._tracked[key]
                changes.append(
                    Change(ChangeKind.CLEARED, dataclasses.replace(tracked.alert, cleared_at=now))
                )
        return changes

    def ack(self, alert_id: str, username: str, now: float) -> Alert | None:
        """Mark the active alert ``alert_id`` acknowledged (the first ack stands); None
        when no active alert has that id."""
        for tracked in self._tracked.values():
            if tracked.alert is not None and tracked.alert.id == alert_id:
                if tracked.alert.acked_by is None:
                    tracked.alert = dataclasses.replace(
                        tracked.alert, acked_by=username, acked_at=now
                    )
                return tracked.alert
        return None

    def _raise(self, cond: Condition, value: float, now: float) -> Alert:
        return Alert(
            id=self._new_id(),
            rule=cond.rule,
            subject=cond.subject,
            value=value,
            threshold=cond.threshold,
            raised_at=now,
            queue=cond.queue,
            agent_id=cond.agent_id,
            pbx=cond.pbx,
            state=cond.state,
            queues=cond.queues,
        )


def alert_from_json(data: Mapping[str, Any]) -> Alert:
    """An :class:`Alert` back from :meth:`Alert.to_json` (a replica, the alerts log)."""
    return Alert(
        id=str(data["id"]),
        rule=Rule(data["rule"]),
        subject=str(data["subject"]),
        value=float(data["value"]),
        threshold=float(data["threshold"]),
        raised_at=float(data["raised_at"]),
        queue=data.get("queue"),
        agent_id=data.get("agent_id"),
        pbx=data.get("pbx"),
        state=data.get("agent_state"),
        queues=tuple(data.get("queues") or ()),
        cleared_at=data.get("cleared_at"),
        acked_by=data.get("acked_by"),
        acked_at=data.get("acked_at"),
    )

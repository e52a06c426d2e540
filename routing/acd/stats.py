"""Today's counters for one queue, and the figures derived from them.

Definitions (the wallboard shows these, so they are spelled out):

* offered: calls that entered the queue (arrivals, overflows and moves into it).
* service level: answered within ``service_level`` seconds / (offered − short abandons),
  where a short abandon hung up within ``short_abandon_seconds`` of entering.
* ASA: mean wait of answered calls. AHT: mean talk + wrap-up of calls whose wrap-up ended.
* estimate accuracy: at answer, |predicted wait at entry − actual wait|, averaged (and the
  signed mean, "bias": positive means we promised longer waits than happened).
"""

from __future__ import annotations

from dataclasses import dataclass


def _mean(total: float, count: int) -> float | None:
    return round(total / count, 2) if count else None


@dataclass(slots=True)
class QueueCounters:
    """Today's counters. Change them only through the methods: ``version`` tells the
    engine (cheaply) whether anything changed since it last published."""

    version: int = 0
    offered: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    timed_out: int = 0
    overflowed: int = 0
    moved_out: int = 0
    rejected: int = 0
    wait_total: float = 0.0
    handled: int = 0
    handle_total: float = 0.0
    callbacks_requested: int = 0
    callbacks_connected: int = 0
    callbacks_failed: int = 0
    estimate_samples: int = 0
    estimate_abs_error: float = 0.0
    estimate_error: float = 0.0
    _figures: dict[str, object] | None = None
    _aht: float | None = None

    def count(self, name: str) -> None:
        """Add one to the counter ``name`` (offered, rejected, moved_out, ...)."""
        setattr(self, name, getattr(self, name) + 1)
        self._changed()

    def record_answer(self, waited: float, threshold: float, predicted: float) -> None:
        self._changed()
        self.answered += 1
        self.wait_total += waited
        if waited <= threshold:
            self.answered_within += 1
        self.estimate_samples += 1
        self.estimate_abs_error += abs(predicted - waited)
        self.estimate_error += predicted - waited

    def record_abandon(self, waited: float, short_threshold: float) -> None:
        self._changed()
        self.abandoned += 1
        if waited < short_threshold:
            self.short_abandoned += 1

    def record_handled(self, seconds: float) -> None:
        self._changed()
        self.handled += 1
        self.handle_total += seconds
        self._aht = _mean(self.handle_total, self.handled)

    def _changed(self) -> None:
        self.version += 1
        self._figures = None

    def aht(self) -> float | None:
        """Mean handle time (kept up to date: every wait estimate reads it)."""
        return self._aht

    def service_level(self) -> float | None:
        base = self.offered - self.short_abandoned
        return round(self.answered_within / base, 4) if base > 0 else None

    def figures(self) -> dict[str, object]:
        """The counters and derived figures as a JSON-ready dict (shared: do not modify)."""
        if self._figures is None:
            self._figures = self._compute()
        return self._figures

    def _compute(self) -> dict[str, object]:
        return {
            "offered": self.offered,
            "answered": self.answered,
            "answered_within_sl": self.answered_within,
            "abandoned": self.abandoned,
            "short_abandoned": self.short_abandoned,
            "timed_out": self.timed_out,
            "overflowed": self.overflowed,
            "moved_out": self.moved_out,
            "rejected": self.rejected,
            "service_level": self.service_level(),
            "asa": _mean(self.wait_total, self.answered),
            "aht": self.aht(),
            "callbacks": {
                "requested": self.callbacks_requested,
                "connected": self.callbacks_connected,
                "failed": self.callbacks_failed,
            },
            "estimate_accuracy": {
                "samples": self.estimate_samples,
                "mean_abs_error": _mean(self.estimate_abs_error, self.estimate_samples),
                "bias": _mean(self.estimate_error, self.estimate_samples),
            },
        }

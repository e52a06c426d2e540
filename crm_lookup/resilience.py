"""A TTL cache and a circuit breaker for the external CRM: pure, clock passed in.

Theory of operation: the breaker counts consecutive failures; at ``failures`` it opens
and every call is refused at once (the screen pop falls back to the local store without
waiting for a dead CRM). After ``reset_after`` seconds one trial call is let through
(half-open): success closes the breaker, failure opens it for another period.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Consecutive-failure breaker. ``allow(now)`` before a call, then record the result."""

    def __init__(self, failures: int = 5, reset_after: float = 30.0) -> None:
        if failures < 1 or reset_after < 0:
            raise ValueError("failures must be >= 1 and reset_after >= 0")
        self.failures = failures
        self.reset_after = reset_after
        self.state = BreakerState.CLOSED
        self._count = 0
        self._opened_at = 0.0
        self._trial_running = False

    def allow(self, now: float) -> bool:
        if self.state is BreakerState.OPEN and now - self._opened_at >= self.reset_after:
            self.state = BreakerState.HALF_OPEN
            self._trial_running = False
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.HALF_OPEN and not self._trial_running:
            self._trial_running = True
            return True
        return False

    def record_success(self) -> None:
        self.state = BreakerState.CLOSED
        self._count = 0
        self._trial_running = False

    def record_failure(self, now: float) -> None:
        self._count += 1
        if self.state is BreakerState.HALF_OPEN or self._count >= self.failures:
            self.state = BreakerState.OPEN
            self._opened_at = now
            self._trial_running = False


class TtlCache(Generic[V]):
    """A bounded map whose entries expire ``ttl`` seconds after they were put."""

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._data: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def get(self, key: str, now: float) -> tuple[bool, V | None]:
        """``(True, value)`` on a fresh hit, ``(False, None)`` otherwise."""
        entry = self._data.get(key)
        if entry is None:
            return False, None
        expires, value = entry
        if now >= expires:
            del self._data[key]
            return False, None
        self._data.move_to_end(key)
        return True, value

    def put(self, key: str, value: V, now: float) -> None:
        if self.ttl <= 0:
            return
        self._data[key] = (now + self.ttl, value)
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

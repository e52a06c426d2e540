"""The alerting shell over a stand-in center: sampling, publishing, the alerts log kept in
memory while the database fails and written when it is back, the ack."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from config.errors import InvalidInput, NotFound
from config.settings import AlertSettings
from crm_lookup.database import StoreUnavailable
from routing import alerting as alerting_module
from routing.alerting import Alerting


class Center:
    def __init__(self) -> None:
        self.waiting = 0
        self.ready = 0
        self.connected = True
        self.published: list[dict[str, Any]] = []
        self.queue_alerts: dict[str, dict[str, float]] = {}
        self.recorder = type("R", (), {"failing_since": None})()
        self.acd = self

    def snapshot(self, now: float) -> dict[str, Any]:
        stats = {
            "waiting": self.waiting,
            "longest_wait_since": now - 30 if self.waiting else None,
            "agents": {"ready": self.ready},
            "offered": 0,
            "short_abandoned": 0,
            "answered_within_sl": 0,
        }
        agents = {"1001": {"name": "Alice", "state": "ready", "since": 0, "queues": ["sales"]}}
        return {"queues": {"sales": {"stats": stats}}, "agents": agents}

    def health(self) -> dict[str, Any]:
        return {"pbx": {"main": {"connected": self.connected}}}

    def _publish(self, message: dict[str, Any]) -> None:
        self.published.append(message)


class Log:
    def __init__(self) -> None:
        self.down = False
        self.refused: set[str] = set()  # rules whose rows the database refuses (their data)
        self.rows: dict[str, dict[str, Any]] = {}

    async def save(self, alert: dict[str, Any]) -> None:
        if self.down:
            raise StoreUnavailable("database down")
        if alert["rule"] in self.refused:
            raise InvalidInput("a value the column does not take")
        self.rows[alert["id"]] = dict(alert)


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alerting_module, "WRITE_RETRY_FIRST", 0.01)
    monkeypatch.setattr(alerting_module, "WRITE_RETRY_LONGEST", 0.02)


def make(**kw: Any) -> tuple[Center, Log, Alerting, list[float], list[tuple[str, str]]]:
    center, log = Center(), Log()
    now = [1000.0]
    notified: list[tuple[str, str]] = []
    settings = AlertSettings(clear_after=5, check_interval=3600, **kw)
    a = Alerting(
        center,
        settings,
        alert_log=log,
        notify=lambda event, alert: notified.append((event, alert["id"])),
        clock=lambda: now[0],
    )
    return center, log, a, now, notified


async def until_written(a: Alerting) -> None:
    for _ in range(100):
        await asyncio.sleep(0.01)
        if a.unwritten == 0:
            return
    raise AssertionError("alerts log rows not written")


async def test_raise_publish_log_clear_with_the_database_down_meanwhile(
    caplog: pytest.LogCaptureFixture,
) -> None:
    center, log, a, now, notified = make(no_agent_ready=1, database_failing=2)
    caplog.set_level(logging.INFO, "routing.alerting")
    a.start()
    try:
        log.down = True
        center.waiting = 2
        a.check()
        now[0] += 1
        [raised] = a.check()
        msg = center.published[-1]
        assert (msg["type"], msg["event"], msg["queue"]) == ("alert", "raised", "sales")
        assert msg["alert"]["rule"] == "no_agent_ready" and msg["alert"]["value"] == 1
        await asyncio.sleep(0.05)
        assert log.rows == {} and a.unwritten == 1  # kept while the database is down
        # the failing log writes are themselves the "database failing" alert
        now[0] += 3
        changes = [(c.kind.value, c.alert.rule.value) for c in a.check()]
        # nobody ready for longer: the same alert, updated; the database's is new
        assert changes == [("updated", "no_agent_ready"), ("raised", "database_failing")]
        # the agent is ready; the database is back: everything is written
        center.ready = 1
        log.down = False
        await until_written(a)
        assert a.log_failing_since is None
        a.check()
        now[0] += 6
        cleared = a.check()
        assert [c.kind.value for c in cleared] == ["cleared", "cleared"]
        assert {c.alert.rule.value for c in cleared} == {"no_agent_ready", "database_failing"}
        await until_written(a)
        row = log.rows[raised.alert.id]
        assert row["cleared_at"] == now[0] and row["rule"] == "no_agent_ready"
        assert len(log.rows) == 2
        assert [e for e, _ in notified] == [
            "alert.raised",
            "alert.raised",
            "alert.cleared",
            "alert.cleared",
        ]
        lines = [r.getMessage() for r in caplog.records if r.name == "routing.alerting"]
        assert lines.count("alert raised") == 2 and lines.count("alert cleared") == 2
        # cleared alerts stay listed (newest first after the active ones)
        assert [x["state"] for x in a.alerts()] == ["cleared", "cleared"]
    finally:
        await a.stop()


async def test_ack_active_and_cleared_and_unknown() -> None:
    center, _log, a, now, notified = make(ami_down=1)
    center.connected = False
    a.check()
    now[0] += 1
    [change] = a.check()
    acked = a.ack(change.alert.id, "sue")
    assert (acked["acked_by"], acked["acked_at"]) == ("sue", now[0])
    assert center.published[-1]["event"] == "acknowledged"
    assert "queue" not in center.published[-1] and "queues" not in center.published[-1]
    assert a.ack(change.alert.id, "root")["acked_by"] == "sue"
    center.connected = True
    a.check()
    now[0] += 10
    [gone] = a.check()
    assert gone.alert.acked_by == "sue"
    with pytest.raises(NotFound):
        a.ack("nope", "sue")
    assert notified == [
        ("alert.raised", change.alert.id),
        ("alert.acknowledged", change.alert.id),
        ("alert.cleared", change.alert.id),
    ]


async def test_per_queue_overrides_follow_a_queue_file_reload() -> None:
    center, _log, a, _now, _ = make(longest_wait_seconds=60)
    center.waiting = 1  # waiting 30 s: below the global 60
    assert a.check() == []
    center.queue_alerts = {"sales": {"longest_wait_seconds": 20}}
    [change] = a.check()
    assert (change.alert.rule.value, change.alert.threshold) == ("longest_wait", 20)


async def test_a_row_the_database_refuses_is_dropped_not_retried_for_ever() -> None:
    """Found in review: a refused row (its data) was retried for ever, holding every
    later row and raising a false "database failing" alert."""
    center, log, a, now, _ = make(no_agent_ready=1, longest_wait_seconds=5, database_failing=2)
    a.start()
    try:
        log.refused = {"no_agent_ready"}
        center.waiting = 2  # waiting 30 s (the fake says so), above 5
        a.check()
        now[0] += 1
        a.check()
        await until_written(a)
        assert [r["rule"] for r in log.rows.values()] == ["longest_wait"]
        assert a.log_failing_since is None
        now[0] += 3
        assert "database_failing" not in [c.alert.rule.value for c in a.check()]
    finally:
        await a.stop()

"""The contact recorder: milestones in order, a busy database waited out, failures counted."""

from __future__ import annotations

from typing import Any

import pytest

from config.errors import InvalidInput
from crm_lookup.store import StoreBusy
from routing import contacts as recorder_module
from routing.contacts import ContactRecorder
from routing.live import LiveCall


class FlakyLog:
    """A ContactLog stand-in whose writes fail as told, recording what reached it."""

    def __init__(self, busy_times: int = 0, bad_queue: str = "") -> None:
        self.busy_times = busy_times
        self.bad_queue = bad_queue
        self.written: list[tuple[str, Any]] = []

    async def queued(self, key: str, queue: str, at: float) -> bool:
        if self.busy_times:
            self.busy_times -= 1
            raise StoreBusy("busy")
        if queue == self.bad_queue:
            raise InvalidInput("bad queue")
        self.written.append(("queued", queue))
        return True

    async def offered(self, key: str, agent_id: str, at: float) -> bool:
        self.written.append(("offered", agent_id))
        return True


def call(queue: str = "sales") -> LiveCall:
    return LiveCall("c1", "PJSIP/trunk-1", "c1", "+15550001111", "5550100", 100.0, queue=queue)


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recorder_module, "BUSY_RETRY_FIRST", 0.01)
    monkeypatch.setattr(recorder_module, "BUSY_RETRY_LONGEST", 0.04)


async def test_busy_database_is_waited_out_and_order_is_kept() -> None:
    log = FlakyLog(busy_times=2)
    recorder = ContactRecorder(log)
    recorder.start()
    c = call()
    recorder.queued(c, 101.0)
    c.agent_id = "1001"
    recorder.offered(c, 102.0)
    await recorder.close()
    assert log.written == [("queued", "sales"), ("offered", "1001")]
    assert recorder.failures == 0


async def test_a_database_busy_for_too_long_fails_that_milestone_only() -> None:
    log = FlakyLog(busy_times=100)
    recorder = ContactRecorder(log)
    recorder.start()
    c = call()
    recorder.queued(c, 101.0)
    c.agent_id = "1001"
    recorder.offered(c, 102.0)
    await recorder.close()
    assert log.written == [("offered", "1001")]
    assert recorder.failures == 1


async def test_a_rejected_milestone_is_not_retried_and_the_rest_go_on() -> None:
    log = FlakyLog(bad_queue="nope")
    recorder = ContactRecorder(log)
    recorder.start()
    c = call("nope")
    recorder.queued(c, 101.0)
    c.agent_id = "1002"
    recorder.offered(c, 102.0)
    await recorder.close()
    assert log.written == [("offered", "1002")]
    assert recorder.failures == 1
    assert recorder.pending == 0


def test_intervals_count_answers_abandons_and_service_level() -> None:
    recorder = ContactRecorder(FlakyLog(), service_level_seconds=20, short_abandon_seconds=5)
    answered_fast, answered_slow, gave_up, short = call(), call(), call(), call()
    for c in (answered_fast, answered_slow, gave_up, short):
        c.queued_at = 900.0
        recorder._count(900.0, "offered")
    recorder.answered(answered_fast, 910.0)  # 10 s: within 20 s
    recorder.answered(answered_slow, 950.0)  # 50 s: late
    recorder.ended(gave_up, 960.0, "abandoned_queue")  # 60 s: counts against SL
    recorder.ended(short, 902.0, "abandoned_queue")  # 2 s: a short abandon, left out
    (interval,) = recorder.intervals()
    assert interval == {
        "start": 900.0,
        "offered": 4,
        "answered": 2,
        "abandoned": 2,
        "service_level": round(1 / 3, 3),
    }

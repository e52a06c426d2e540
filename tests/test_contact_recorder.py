"""The contact recorder: each contact's milestones in order while different contacts' are
written concurrently, a busy database waited out, failures counted, everything drained."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from config.errors import InvalidInput
from crm_lookup.agent_states import SavedAgentState
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


async def test_failing_since_is_set_while_writes_fail_and_cleared_by_a_success() -> None:
    log = FlakyLog(busy_times=100)
    recorder = ContactRecorder(log)
    assert recorder.failing_since is None
    recorder.start()
    c = call()
    recorder.queued(c, 101.0)
    await asyncio.sleep(0.03)  # retrying: the database is failing
    assert recorder.failing_since is not None
    c.agent_id = "1001"
    recorder.offered(c, 102.0)
    await recorder.flush()
    assert recorder.failures == 1
    assert recorder.failing_since is None  # the next write went through


async def test_a_rejected_milestone_is_not_the_database_failing() -> None:
    """A write the database refuses (bad data, a duplicate) is logged and counted, but the
    database answered: it must not hold up the alerts' "database failing" figure until
    the next write (a quiet night would raise a false alert)."""
    log = FlakyLog(bad_queue="nowhere")
    recorder = ContactRecorder(log)
    recorder.start()
    recorder.queued(call("nowhere"), 101.0)
    await recorder.flush()
    assert recorder.failures == 1
    assert recorder.failing_since is None
    await recorder.close()


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


# ---------------------------------------------------------------- concurrent lanes


class TimedLog:
    """A ContactLog (and AgentStateRepo) stand-in: each write takes a random few ms, may
    be busy as told, and records what reached it, in completion order, and how many
    writes were in flight at once, overall and per contact."""

    def __init__(self, seed: int = 1, slowest: float = 0.003) -> None:
        self.rng = random.Random(seed)
        self.slowest = slowest
        self.busy: dict[tuple[str, str], int] = {}  # (key, kind) -> StoreBusy this many times
        self.written: list[tuple[str, str]] = []
        self.in_flight: dict[str, int] = {}
        self.most_in_flight = 0
        self.most_per_key = 0

    async def _write(self, key: str, kind: str) -> bool:
        self.in_flight[key] = self.in_flight.get(key, 0) + 1
        self.most_per_key = max(self.most_per_key, self.in_flight[key])
        self.most_in_flight = max(self.most_in_flight, sum(self.in_flight.values()))
        try:
            await asyncio.sleep(self.rng.uniform(0, self.slowest))
            if self.busy.get((key, kind)):
                self.busy[key, kind] -= 1
                raise StoreBusy("busy")
            self.written.append((key, kind))
            return True
        finally:
            self.in_flight[key] -= 1

    async def queued(self, key: str, queue: str, at: float) -> bool:
        return await self._write(key, "queued")

    async def offered(self, key: str, agent_id: str, at: float) -> bool:
        return await self._write(key, f"offered:{agent_id}")

    async def answered(self, key: str, agent_id: str, at: float) -> bool:
        return await self._write(key, "answered")

    async def held(self, key: str, at: float) -> bool:
        return await self._write(key, "held")

    async def unheld(self, key: str, at: float) -> bool:
        return await self._write(key, "unheld")

    async def ended(self, key: str, at: float, outcome: str) -> bool:
        return await self._write(key, f"ended:{outcome}")

    async def save(self, saved: SavedAgentState) -> None:
        await self._write(f"agent {saved.agent_id}", saved.state)

    def of(self, key: str) -> list[str]:
        return [kind for k, kind in self.written if k == key]


def live(call_id: str) -> LiveCall:
    return LiveCall(call_id, f"PJSIP/trunk-{call_id}", call_id, "+15550001111", "5550100", 100.0)


def put_floor(recorder: ContactRecorder, calls: int, seed: int) -> dict[str, list[str]]:
    """Milestones of ``calls`` calls (and their agents' states) taken in a random
    interleaving that keeps each call's own order; returns what each key must get."""
    rng = random.Random(seed)
    scripts = []
    expected: dict[str, list[str]] = {}
    for n in range(calls):
        c, agent = live(f"call-{n}"), str(1000 + n % 7)
        steps = [
            ("queued", lambda c=c: recorder.queued(c, 101.0)),
            (
                f"offered:{agent}",
                lambda c=c, a=agent: (setattr(c, "agent_id", a), recorder.offered(c, 102.0)),
            ),
            ("answered", lambda c=c: recorder.answered(c, 103.0)),
            ("held", lambda c=c: recorder.held(c, 104.0)),
            ("unheld", lambda c=c: recorder.unheld(c, 105.0)),
            ("ended:answered", lambda c=c: recorder.ended(c, 106.0, "answered")),
        ]
        expected[c.call_id] = [kind for kind, _ in steps]
        scripts.append(steps)
    agent_states = {str(1000 + a): [f"s{i}-{a}" for i in range(5)] for a in range(7)}
    for agent_id, states in agent_states.items():
        scripts.append(
            [
                (state, lambda a=agent_id, s=state: recorder.agent_state(SavedAgentState(a, s)))
                for state in states
            ]
        )
        expected[f"agent {agent_id}"] = states
    while scripts:
        script = rng.choice(scripts)
        _, take = script.pop(0)
        take()
        if not script:
            scripts.remove(script)
    return expected


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_each_contact_is_written_in_order_while_contacts_are_written_concurrently(
    seed: int,
) -> None:
    log = TimedLog(seed)
    recorder = ContactRecorder(log, agent_states=log, concurrency=8)
    recorder.start()
    expected = put_floor(recorder, calls=40, seed=seed)
    await recorder.close()
    for key, kinds in expected.items():
        assert log.of(key) == kinds, key
    assert len(log.written) == 40 * 6 + 7 * 5
    assert log.most_per_key == 1  # never two writes of one contact (or agent) at once
    assert 1 < log.most_in_flight <= 8
    assert recorder.failures == 0
    assert recorder.pending == 0


async def test_one_writer_keeps_the_arrival_order_across_contacts() -> None:
    log = TimedLog()
    recorder = ContactRecorder(log, agent_states=log)  # concurrency=1: as on SQLite
    recorder.start()
    a, b = live("a"), live("b")
    a.agent_id = b.agent_id = "1001"
    recorder.queued(a, 101.0)
    recorder.queued(b, 101.5)
    recorder.offered(a, 102.0)
    recorder.agent_state(SavedAgentState("1001", "ringing"))
    recorder.ended(b, 103.0, "abandoned_queue")
    recorder.answered(a, 104.0)
    await recorder.close()
    assert log.written == [
        ("a", "queued"),
        ("b", "queued"),
        ("a", "offered:1001"),
        ("agent 1001", "ringing"),
        ("b", "ended:abandoned_queue"),
        ("a", "answered"),
    ]
    assert log.most_in_flight == 1


async def test_a_busy_retry_holds_back_its_own_contact_only() -> None:
    log = TimedLog(slowest=0)
    log.busy["a", "offered:1001"] = 2
    recorder = ContactRecorder(log, concurrency=2)
    recorder.start()
    a, b = live("a"), live("b")
    a.agent_id, b.agent_id = "1001", "1002"
    for c in (a, b):
        recorder.queued(c, 101.0)
        recorder.offered(c, 102.0)
        recorder.answered(c, 103.0)
    await recorder.close()
    assert log.of("a") == ["queued", "offered:1001", "answered"]
    assert log.of("b") == ["queued", "offered:1002", "answered"]
    # b went on while a's offer waited out the busy database (two retries, >= 30 ms).
    assert log.written.index(("b", "answered")) < log.written.index(("a", "offered:1001"))
    assert recorder.failures == 0


async def test_close_writes_everything_taken_before_it() -> None:
    log = TimedLog(slowest=0.002)
    recorder = ContactRecorder(log, concurrency=4)
    recorder.start()
    calls = [live(f"c{n}") for n in range(50)]
    for c in calls:
        recorder.queued(c, 101.0)
    for c in calls:
        recorder.ended(c, 102.0, "abandoned_queue")
    assert recorder.pending == 100
    await recorder.close()
    assert recorder.pending == 0
    assert sorted(log.written) == sorted(
        [(c.call_id, kind) for c in calls for kind in ("queued", "ended:abandoned_queue")]
    )
    for c in calls:
        assert log.of(c.call_id) == ["queued", "ended:abandoned_queue"]


async def test_milestones_taken_before_start_are_written_once_it_starts() -> None:
    log = TimedLog(slowest=0)
    recorder = ContactRecorder(log, concurrency=3)
    c = live("early")
    recorder.queued(c, 101.0)
    recorder.ended(c, 102.0, "abandoned_queue")
    await recorder.flush()  # not started: nothing to wait for
    assert log.written == []
    recorder.start()
    await recorder.close()
    assert log.of("early") == ["queued", "ended:abandoned_queue"]


def test_concurrency_below_one_is_refused() -> None:
    with pytest.raises(InvalidInput):
        ContactRecorder(TimedLog(), concurrency=0)


async def test_settled_waits_for_the_contacts_lane_only_and_keeps_its_order() -> None:
    """The digital desk persists before it answers: ``settled(key)`` returns once every
    milestone of that contact taken so far is written, a conversation-row write
    (``contact_write``) in the same lane in order with them, other lanes not waited for."""
    log = FlakyLog(busy_times=2)  # the first queued waits out a busy database
    recorder = ContactRecorder(log, concurrency=2)
    recorder.start()
    c = call()
    gate = asyncio.Event()

    async def slow_other_lane() -> None:
        await gate.wait()  # another contact's write that does not finish yet

    recorder.contact_write("other", "slow", slow_other_lane)
    recorder.queued(c, 101.0)
    order: list[str] = []

    async def row() -> None:
        order.append(f"row after {len(log.written)} milestones")

    recorder.contact_write("c1", "conversation", row)
    await asyncio.wait_for(recorder.settled("c1"), 2.0)
    assert log.written == [("queued", "sales")]
    assert order == ["row after 1 milestones"]
    assert recorder.pending == 1  # the other lane is still going
    gate.set()
    await recorder.close()


async def test_settled_returns_at_once_when_the_writers_are_not_running() -> None:
    recorder = ContactRecorder(FlakyLog())
    recorder.queued(call(), 101.0)
    await asyncio.wait_for(recorder.settled("c1"), 0.5)

"""The alert rules and evaluator, fed simulated statistics (no event loop)."""

from __future__ import annotations

import itertools

import pytest

from config.errors import InvalidInput
from routing.alerts.engine import AlertEngine, ChangeKind
from routing.alerts.rules import (
    AgentSample,
    AlertRules,
    QueueRules,
    QueueSample,
    Rule,
    Sample,
)


def engine(**kw: object) -> AlertEngine:
    ids = itertools.count(1)
    kw.setdefault("clear_after", 5.0)
    return AlertEngine(AlertRules(**kw), new_id=lambda: f"a{next(ids)}")  # type: ignore[arg-type]


def q(name: str = "sales", **kw: object) -> Sample:
    return Sample(queues=(QueueSample(name, **kw),))  # type: ignore[arg-type]


def kinds(changes: list) -> list[tuple[str, str, float]]:
    return [(c.kind.value, c.alert.rule.value, c.alert.value) for c in changes]


def test_longest_wait_raised_updated_and_cleared_after_the_hold_off() -> None:
    e = engine(queue=QueueRules(longest_wait_seconds=60))
    assert e.evaluate(q(waiting=2, longest_wait=59.0), 100) == []
    raised = e.evaluate(q(waiting=2, longest_wait=61.0), 102)
    assert kinds(raised) == [("raised", "longest_wait", 61.0)]
    alert = raised[0].alert
    assert (alert.queue, alert.threshold, alert.unit, alert.raised_at) == ("sales", 60, "s", 102)
    # still above: the same alert's value moves, no second alert
    updated = e.evaluate(q(waiting=2, longest_wait=70.0), 111)
    assert kinds(updated) == [("updated", "longest_wait", 70.0)]
    assert updated[0].alert.id == alert.id
    assert e.evaluate(q(waiting=2, longest_wait=70.0), 112) == []  # unchanged value: quiet
    # the caller is answered: not cleared at once (hold-off), then cleared
    assert e.evaluate(q(waiting=0, longest_wait=0.0), 113) == []
    assert [a.id for a in e.active] == [alert.id]
    cleared = e.evaluate(q(waiting=0), 118)
    assert kinds(cleared) == [("cleared", "longest_wait", 70.0)]
    assert cleared[0].alert.cleared_at == 118
    assert e.active == []


def test_a_condition_back_within_the_hold_off_keeps_its_alert() -> None:
    e = engine(queue=QueueRules(longest_wait_seconds=30))
    first = e.evaluate(q(waiting=1, longest_wait=40), 0)[0].alert
    assert e.evaluate(q(waiting=0), 2) == []
    back = e.evaluate(q(waiting=1, longest_wait=31), 4)
    assert kinds(back) == [("updated", "longest_wait", 31)]
    assert back[0].alert.id == first.id
    assert e.evaluate(q(waiting=0), 8) == []  # 4 s gone only
    assert kinds(e.evaluate(q(waiting=0), 9)) == [("cleared", "longest_wait", 31)]
    # a new episode is a new alert
    again = e.evaluate(q(waiting=1, longest_wait=45), 20)
    assert kinds(again) == [("raised", "longest_wait", 45)]
    assert again[0].alert.id != first.id


def test_service_level_over_the_window_from_counter_deltas() -> None:
    e = engine(queue=QueueRules(service_level_below=80), service_level_window=60)
    # the day so far was good: 100 of 100 within
    assert e.evaluate(q(offered=100, answered_within=100), 0) == []
    # within the last minute: 10 offered, 2 short abandons, 4 within -> 4 / 8 = 50 %
    changes = e.evaluate(q(offered=110, short_abandoned=2, answered_within=104), 30)
    assert kinds(changes) == [("raised", "service_level", 50.0)]
    assert changes[0].alert.unit == "%"
    # (the day's cumulative figure, 104/108 = 96 %, would hide it)
    # 8 more calls, all within: the window (base: the sample at 0) is 12 / 16 = 75 %
    assert kinds(e.evaluate(q(offered=118, short_abandoned=2, answered_within=112), 70)) == [
        ("updated", "service_level", 75.0)
    ]
    # the bad half minute leaves the window (base: the sample at 30): 16 / 16 = 100 %
    changes = e.evaluate(q(offered=126, short_abandoned=2, answered_within=120), 100)
    assert kinds(changes) == [("cleared", "service_level", 75.0)]


def test_service_level_with_no_calls_in_the_window_raises_nothing() -> None:
    e = engine(queue=QueueRules(service_level_below=90), service_level_window=60)
    assert e.evaluate(q(offered=10, answered_within=0), 0) == []
    assert e.evaluate(q(offered=10, answered_within=0), 30) == []  # no delta: no level


def test_counters_going_down_restart_the_window() -> None:
    e = engine(queue=QueueRules(service_level_below=90), service_level_window=600)
    e.evaluate(q(offered=500, answered_within=100), 0)
    # midnight: the counters start again from 0; a negative delta must not count
    assert e.evaluate(q(offered=1, answered_within=1), 10) == []
    assert e.evaluate(q(offered=3, answered_within=3), 20) == []


def test_no_agent_ready_holds_before_raising_and_clears_when_an_agent_is_ready() -> None:
    e = engine(queue=QueueRules(no_agent_ready=10))
    assert e.evaluate(q(waiting=2, agents_ready=0), 0) == []
    assert e.evaluate(q(waiting=2, agents_ready=0), 9) == []
    raised = e.evaluate(q(waiting=3, agents_ready=0), 10)
    # the value is how long nobody has been ready, in the threshold's unit
    assert kinds(raised) == [("raised", "no_agent_ready", 10.0)]
    assert raised[0].alert.unit == "s" and raised[0].alert.threshold == 10
    assert kinds(e.evaluate(q(waiting=3, agents_ready=0), 12)) == [
        ("updated", "no_agent_ready", 12.0)
    ]
    assert e.evaluate(q(waiting=3, agents_ready=1), 13) == []
    assert kinds(e.evaluate(q(waiting=0, agents_ready=1), 18)) == [
        ("cleared", "no_agent_ready", 12.0)
    ]


def test_a_pending_condition_that_ends_is_forgotten() -> None:
    e = engine(queue=QueueRules(no_agent_ready=10))
    e.evaluate(q(waiting=1, agents_ready=0), 0)
    e.evaluate(q(waiting=0, agents_ready=0), 5)
    assert e.evaluate(q(waiting=1, agents_ready=0), 6) == []
    assert e.evaluate(q(waiting=1, agents_ready=0), 15) == []  # held 9 s since it came back
    assert kinds(e.evaluate(q(waiting=1, agents_ready=0), 16)) == [
        ("raised", "no_agent_ready", 10.0)
    ]


def agents(*rows: tuple[str, str, float]) -> Sample:
    return Sample(
        agents=tuple(AgentSample(a, a.upper(), s, since, ("sales",)) for a, s, since in rows)
    )


def test_agent_in_not_ready_or_wrap_up_too_long() -> None:
    e = engine(not_ready_minutes=15, wrap_up_minutes=2)
    assert e.evaluate(agents(("a1", "not_ready", 0), ("a2", "wrap_up", 0)), 60) == []
    changes = e.evaluate(agents(("a1", "not_ready", 0), ("a2", "wrap_up", 0)), 150)
    assert kinds(changes) == [("raised", "agent_state", 2.5)]
    alert = changes[0].alert
    assert (alert.agent_id, alert.state, alert.subject, alert.queues) == (
        "a2",
        "wrap_up",
        "A2",
        ("sales",),
    )
    assert e.evaluate(agents(("a1", "not_ready", 0), ("a2", "ready", 150)), 152) == []
    changes = e.evaluate(agents(("a1", "not_ready", 0), ("a2", "ready", 150)), 901)
    assert [(c.kind, c.alert.agent_id) for c in changes] == [
        (ChangeKind.RAISED, "a1"),
        (ChangeKind.CLEARED, "a2"),
    ]
    assert changes[0].alert.value == 15.0
    cleared = e.evaluate(agents(("a1", "ready", 905), ("a2", "ready", 150)), 910)
    assert kinds(cleared) == [("cleared", "agent_state", 15.0)]


def test_agent_rules_off_by_default() -> None:
    e = engine()
    assert e.evaluate(agents(("a1", "not_ready", 0)), 86400) == []


def test_ami_down_per_pbx_after_its_hold() -> None:
    e = engine(ami_down=20)
    assert e.evaluate(Sample(ami={"main": True, "branch": False}), 0) == []
    raised = e.evaluate(Sample(ami={"main": True, "branch": False}), 20)
    assert kinds(raised) == [("raised", "ami_down", 20.0)]
    assert (raised[0].alert.pbx, raised[0].alert.subject) == ("branch", "branch")
    assert kinds(e.evaluate(Sample(ami={"main": True, "branch": False}), 25)) == [
        ("updated", "ami_down", 25.0)
    ]
    assert e.evaluate(Sample(ami={"main": True, "branch": True}), 26) == []
    assert kinds(e.evaluate(Sample(ami={"main": True, "branch": True}), 31)) == [
        ("cleared", "ami_down", 25.0)
    ]


def test_database_failing_writes() -> None:
    e = engine(database_failing=30)
    assert e.evaluate(Sample(database_failing_since=100), 120) == []
    raised = e.evaluate(Sample(database_failing_since=100), 131)
    assert kinds(raised) == [("raised", "database_failing", 31.0)]
    assert raised[0].alert.subject == "database"
    assert e.evaluate(Sample(database_failing_since=None), 133) == []
    assert kinds(e.evaluate(Sample(), 136)) == [("cleared", "database_failing", 31.0)]


def test_per_queue_overrides_and_zero_means_off() -> None:
    e = engine(
        queue=QueueRules(longest_wait_seconds=60),
        queues={"vip": QueueRules(longest_wait_seconds=10), "bulk": QueueRules()},
    )
    sample = Sample(
        queues=(
            QueueSample("vip", waiting=1, longest_wait=11),
            QueueSample("sales", waiting=1, longest_wait=30),
            QueueSample("bulk", waiting=9, longest_wait=3000),
        )
    )
    assert [c.alert.queue for c in e.evaluate(sample, 0)] == ["vip"]


def test_ack_is_kept_through_updates_and_the_first_ack_stands() -> None:
    e = engine(queue=QueueRules(longest_wait_seconds=5))
    alert = e.evaluate(q(waiting=1, longest_wait=6), 0)[0].alert
    acked = e.ack(alert.id, "sue", 3)
    assert acked is not None and (acked.acked_by, acked.acked_at) == ("sue", 3)
    assert e.ack(alert.id, "bob", 4).acked_by == "sue"  # type: ignore[union-attr]
    updated = e.evaluate(q(waiting=1, longest_wait=9), 5)[0].alert
    assert (updated.acked_by, updated.value) == ("sue", 9)
    assert e.ack("nope", "sue", 6) is None
    assert updated.to_json()["state"] == "active"


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"ami_down": -1}, "ami_down"),
        ({"queue": None}, None),
        ({"service_level_window": 0}, "service_level_window"),
    ],
)
def test_bad_thresholds_are_refused(kw: dict, field: str | None) -> None:
    if field is None:
        with pytest.raises(InvalidInput):
            QueueRules(service_level_below=101)
        return
    with pytest.raises(InvalidInput) as err:
        AlertRules(**kw)
    assert err.value.field == field


def test_rule_values_are_the_wire_names() -> None:
    assert {r.value for r in Rule} == {
        "longest_wait",
        "service_level",
        "no_agent_ready",
        "agent_state",
        "ami_down",
        "database_failing",
    }

"""Case SLA breach warnings: the ``case_sla`` rule of the alert engine (pure) and the SLA
shell (routing.case_sla) over a real store: raised, flags kept, cleared when resolved."""

from __future__ import annotations

import time
from typing import Any

from crm_lookup.store import open_store
from routing.alerts.engine import AlertEngine, ChangeKind
from routing.alerts.rules import AlertRules, CaseSample, Rule, Sample
from routing.case_sla import CaseSla
from routing.sla import Policy, Target

H = 3600.0


def test_the_rule_raises_updates_and_clears() -> None:
    engine = AlertEngine(AlertRules(clear_after=10.0), new_id=iter(["x1", "x2"]).__next__)
    late = CaseSample("C-000007", "Refund", "resolution", 3 * H + 90, 3 * H, True, queue="sales")
    changes = engine.evaluate(Sample(cases=(late,)), 100.0)
    assert [c.kind for c in changes] == [ChangeKind.RAISED]
    alert = changes[0].alert
    assert alert.rule is Rule.CASE_SLA and alert.queue == "sales" and alert.state == "resolution"
    assert alert.subject == "C-000007 Refund" and alert.value == 3 * H + 60 and alert.unit == "s"
    assert alert.threshold == 3 * H
    # the same minute: no change; a minute later: an update of the same alert
    assert engine.evaluate(Sample(cases=(late,)), 105.0) == []
    later = CaseSample("C-000007", "Refund", "resolution", 3 * H + 150, 3 * H, True, queue="sales")
    assert [c.kind for c in engine.evaluate(Sample(cases=(later,)), 110.0)] == [ChangeKind.UPDATED]
    # resolved: gone from the samples, cleared after clear_after
    assert engine.evaluate(Sample(), 115.0) == []
    cleared = engine.evaluate(Sample(), 121.0)
    assert [c.kind for c in cleared] == [ChangeKind.CLEARED] and cleared[0].alert.id == "x1"


class _Alerting:
    case_samples: tuple[CaseSample, ...] = ()


async def test_the_shell_flags_breaches_and_feeds_alerts(store_url: str) -> None:
    store = await open_store(store_url)
    try:
        now = [0.0]
        policy = Policy({"urgent": Target(1 * H, 4 * H)}, None, warn_at=0.5)
        alerting: Any = _Alerting()
        sla = CaseSla(store, policy, alerting, clock=lambda: now[0])
        ann = await store.customers.add("Ann SLA", ["+15550199001"])
        case = await store.cases.open(ann.id, "Outage", priority="urgent", queue="support")
        calm = await store.cases.open(ann.id, "Question", priority="low", queue="support")
        now[0] = case.created_at + 10
        assert await sla.check() == []
        fresh = await store.cases.get(case.id)
        assert fresh.first_response_due == case.created_at + H
        assert fresh.resolution_due == case.created_at + 4 * H
        assert (await store.cases.get(calm.id)).first_response_due is None  # no target
        # 40 minutes: the first-response clock is a warning
        now[0] = case.created_at + 40 * 60
        [warning] = await sla.check()
        assert (warning.clock, warning.breached, warning.queue) == (
            "first_response",
            False,
            "support",
        )
        # 61 minutes: breached, flagged on the case for the reports
        now[0] = case.created_at + 61 * 60
        [breach] = await sla.check()
        assert breach.breached and alerting.case_samples == (breach,)
        assert (await store.cases.get(case.id)).first_response_breached
        # the agent answers (pending the customer): the first response stops, the
        # resolution clock pauses, nothing holds
        await store.cases.update(case.id, status="pending_customer", actor="alice")
        assert await sla.check() == [] and alerting.case_samples == ()
        # the flag stays for the reports
        assert (await store.cases.get(case.id)).first_response_breached
        rows = await store.cases.report(case.created_at - 1, case.created_at + 60, "queue")
        assert rows[0]["first_response_breaches"] == 1
    finally:
        await store.close()


async def test_a_case_resolved_late_between_two_checks_is_still_flagged(store_url: str) -> None:
    """A case resolved after its target but before the next check is no longer open; the
    check still reads it (resolved since the last check) and flags the breach."""
    store = await open_store(store_url)
    try:
        opened_at = time.time() - 100  # its 50 s resolution target ran out 50 s ago
        now = [opened_at + 1]
        sla = CaseSla(store, Policy({"urgent": Target(H, 50.0)}, None), _Alerting())
        sla.clock = lambda: now[0]
        ann = await store.customers.add("Ann Late", ["+15550199002"])
        case = await store.cases.open(ann.id, "Quick fix", priority="urgent", at=opened_at)
        assert await sla.check() == []  # a second in: due times written, nothing else
        await store.cases.update(case.id, status="resolved", actor="alice")  # 50 s late
        now[0] = time.time()
        assert await sla.check() == []  # a stopped clock raises no alert...
        flagged = await store.cases.get(case.id)
        assert flagged.resolution_breached and not flagged.first_response_breached
        rows = await store.cases.report(opened_at - 1, opened_at + 60, "queue")
        assert rows[0]["resolution_breaches"] == 1  # ...but the report counts it
    finally:
        await store.close()

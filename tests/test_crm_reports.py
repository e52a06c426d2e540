"""Reports from real contact milestones, against values computed by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from config.errors import InvalidInput
from crm_lookup.reports import build_report
from crm_lookup.store import Store, open_store

DAY = 1_700_006_400.0  # 2023-11-15 00:00:00 UTC


async def _contact(
    store: Store,
    key: str,
    queue: str,
    t: float,
    *,
    wait: float,
    agent: str = "",
    talk: float = 0,
    hold: float = 0,
    wrap: float = 0,
    outcome: str = "answered",
) -> None:
    log = store.contacts
    await log.arrived(key, "+15550001111", "100", at=t - 10)
    await log.queued(key, queue, at=t)
    if agent:
        await log.offered(key, agent, at=t + wait - 2)
    if outcome == "answered":
        await log.answered(key, agent, at=t + wait)
        if hold:
            await log.held(key, at=t + wait + 1)
            await log.unheld(key, at=t + wait + 1 + hold)
        end = t + wait + talk + hold
        await log.ended(key, at=end, outcome="answered")
        c = await log.get_by_key(key)
        if wrap:
            await log.wrapup(c.id, "resolved", "", at=end + wrap)
    else:
        await log.ended(key, at=t + wait, outcome=outcome)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    s = await open_store(store_url)
    # sales, 00:05: answered after 10 s by 1001, talk 100, hold 20, wrap 30 → handle 150
    await _contact(s, "s1", "sales", DAY + 300, wait=10, agent="1001", talk=100, hold=20, wrap=30)
    # sales, 00:20: answered after 40 s by 1002, talk 200, wrap 10 → handle 210
    await _contact(s, "s2", "sales", DAY + 1200, wait=40, agent="1002", talk=200, wrap=10)
    # sales, 00:25: short abandon after 3 s
    await _contact(s, "s3", "sales", DAY + 1500, wait=3, outcome="abandoned_queue")
    # sales, 01:10: abandon after 60 s while ringing 1001
    await _contact(s, "s4", "sales", DAY + 4200, wait=60, agent="1001", outcome="abandoned_queue")
    # support, 00:40: answered after 5 s by 1001, talk 60 → handle 60
    await _contact(s, "p1", "support", DAY + 2400, wait=5, agent="1001", talk=60)
    # support, 00:50: voicemail after 90 s
    await _contact(s, "p2", "support", DAY + 3000, wait=90, outcome="voicemail")
    # next day: one answered sales call, not in a one-day report
    await _contact(s, "n1", "sales", DAY + 86400 + 60, wait=1, agent="1002", talk=10)
    yield s
    await s.close()


async def test_by_queue(store: Store) -> None:
    rows = {r.key: r for r in await build_report(store, DAY, DAY + 86400, "queue")}
    sales, support = rows["sales"], rows["support"]
    assert (sales.offered, sales.answered, sales.abandoned, sales.short_abandoned) == (4, 2, 1, 1)
    assert sales.asa == 25.0  # (10 + 40) / 2
    assert sales.aht == 180.0  # (150 + 210) / 2
    assert sales.service_level == pytest.approx(100 / 3)  # 1 within 20 s of 4 - 1 short
    assert sales.longest_wait == 60.0
    assert (support.offered, support.answered, support.other) == (2, 1, 1)
    assert (support.asa, support.aht, support.service_level, support.longest_wait) == (
        5.0,
        60.0,
        50.0,
        90.0,
    )
    assert rows["sales"].to_json()["service_level"] == 33.33


async def test_thresholds_change_the_split(store: Store) -> None:
    rows = {
        r.key: r
        for r in await build_report(
            store, DAY, DAY + 86400, "queue", sl_threshold=45, short_abandon=2
        )
    }
    assert (rows["sales"].abandoned, rows["sales"].short_abandoned) == (2, 0)
    assert rows["sales"].service_level == 50.0  # 2 of 4


async def test_by_agent(store: Store) -> None:
    rows = {r.key: r for r in await build_report(store, DAY, DAY + 86400, "agent")}
    assert sorted(rows) == ["1001", "1002"]
    a1 = rows["1001"]
    assert (a1.offered, a1.answered, a1.abandoned) == (3, 2, 1)
    assert a1.asa == 7.5 and a1.aht == 105.0
    assert (rows["1002"].offered, rows["1002"].answered, rows["1002"].aht) == (1, 1, 210.0)


async def test_by_day_and_interval(store: Store) -> None:
    days = await build_report(store, DAY, DAY + 2 * 86400, "day")
    assert [(r.key, r.offered, r.answered) for r in days] == [
        ("2023-11-15", 6, 3),
        ("2023-11-16", 1, 1),
    ]
    hours = await build_report(store, DAY, DAY + 7200, "interval", interval_minutes=60)
    assert [(r.key, r.offered) for r in hours] == [("2023-11-15 00:00", 5), ("2023-11-15 01:00", 1)]
    quarters = await build_report(store, DAY, DAY + 3600, "interval", interval_minutes=15)
    assert [(r.key[-5:], r.offered) for r in quarters] == [
        ("00:00", 1),
        ("00:15", 2),
        ("00:30", 1),
        ("00:45", 1),
    ]


async def test_bad_report_requests(store: Store) -> None:
    with pytest.raises(InvalidInput):
        await build_report(store, DAY, DAY, "queue")
    with pytest.raises(InvalidInput):
        await build_report(store, DAY, DAY + 1, "week")
    with pytest.raises(InvalidInput):
        await build_report(store, 0, 1e12, "interval")


async def test_contacts_lost_during_an_outage_are_counted_apart(store: Store) -> None:
    await _contact(store, "x1", "billing", DAY + 600, wait=30, outcome="lost_during_outage")
    await _contact(store, "x2", "billing", DAY + 700, wait=3, outcome="abandoned_queue")
    rows = {r.key: r for r in await build_report(store, DAY, DAY + 86400, "queue")}
    billing = rows["billing"]
    assert (billing.offered, billing.lost, billing.abandoned, billing.short_abandoned) == (
        2,
        1,
        0,
        1,
    )
    assert billing.other == 0
    assert billing.to_json()["lost"] == 1
    assert rows["sales"].lost == 0

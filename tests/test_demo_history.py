"""The demo's past (switchboard/demo_history.py): a fresh demo's "last week" has interval
rows with a bad Monday 10:00 a supervisor can drill into, agents have state time, the
wallboard's forecast has history, and seeding again adds nothing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from pathlib import Path
from zoneinfo import ZoneInfo

from config.settings import Settings, load_settings
from crm_lookup.demo import seed_demo
from crm_lookup.forecast import forecast_for
from crm_lookup.report_query import ContactQuery, Scope, find_contacts
from crm_lookup.reports import ReportQuery, run_report
from crm_lookup.store import open_store
from switchboard.demo_history import demo_queues, plan_day, seed_history

TODAY = dt.date(2026, 11, 25)  # a Wednesday: last week is Mon 16 .. Sun 22 November
ZONE = "Europe/Berlin"


def settings() -> Settings:
    base = load_settings(environ={})
    return dataclasses.replace(base, site=dataclasses.replace(base.site, timezone=ZONE))


def last_week(tz: ZoneInfo) -> tuple[float, float]:
    monday = TODAY - dt.timedelta(days=TODAY.weekday() + 7)
    start = dt.datetime.combine(monday, dt.time(0), tzinfo=tz).timestamp()
    end = dt.datetime.combine(monday + dt.timedelta(days=7), dt.time(0), tzinfo=tz)
    return start, end.timestamp()


async def test_demo_history_fills_last_week_with_a_bad_monday_morning(tmp_path: Path) -> None:
    tz = ZoneInfo(ZONE)
    config = settings()
    store = await open_store(tmp_path / "demo.sqlite3")
    try:
        await seed_demo(store)
        added = await seed_history(store, config, seed=7, today=TODAY)
        assert 1000 < added < 10_000
        start, end = last_week(tz)
        now = dt.datetime.combine(TODAY, dt.time(12), tzinfo=tz).timestamp()

        report = await run_report(
            store, ReportQuery("interval", start, end, tz=tz, interval=60, queue="sales", now=now)
        )
        rows = report["rows"]
        assert len(rows) > 30
        assert report["totals"]["answered"] > 100
        bad = [
            r
            for r in rows
            if dt.datetime.fromtimestamp(r["start"], tz).strftime("%a %H:%M") == "Mon 10:00"
        ]
        assert len(bad) == 1
        assert bad[0]["abandoned"] > 0
        assert bad[0]["service_level"] < report["totals"]["service_level"] - 0.3
        assert report["totals"]["short_abandoned"] > 0
        assert report["totals"]["transfers"] > 0

        # the calls behind the bad interval: its abandons, each with a timeline
        abandoned, total = await find_contacts(
            store,
            ContactQuery(
                bad[0]["start"], bad[0]["start"] + 3600, queue="sales", measure="abandoned"
            ),
            Scope(),
        )
        assert total == bad[0]["abandoned"] == len(abandoned)
        timeline = await store.contacts.timeline(abandoned[0].id)
        assert [e.kind for e in timeline][:3] == ["arrived", "ivr_done", "queued"]
        assert all(c.wait_seconds and c.wait_seconds > 20 for c in abandoned)

        agents = await run_report(store, ReportQuery("agent", start, end, tz=tz, now=now))
        _, queue_agents = demo_queues(config)
        by_agent = {r["key"]: r for r in agents["rows"]}
        assert set(by_agent) == {a.agent_id for a in queue_agents}
        for row in by_agent.values():
            seconds = row["state_seconds"]
            assert row["calls"] > 0
            assert seconds["on_call"] > 0 and seconds["ready"] > 0 and seconds["wrap_up"] > 0
            assert seconds["not_ready"]["lunch"] > 0
            assert 0 < row["occupancy"] < 1
        assert sum("meeting" in r["state_seconds"]["not_ready"] for r in by_agent.values()) >= 2

        # customers linked by phone: some of last week's contacts are the demo customers'
        linked = await store.fetchone(
            "SELECT count(*) FROM contacts WHERE key LIKE 'demo-hist-%' AND customer_id > 0"
        )
        assert linked is not None and linked[0] > 100

        forecast = await forecast_for(store, "support", TODAY, tz, 60)
        midday = [
            f
            for start_at, f in forecast.items()
            if 9 <= dt.datetime.fromtimestamp(start_at, tz).hour < 16
        ]
        assert midday and all(f["forecast_calls"] > 0 for f in midday)
        assert any(f["agents_needed"] > 0 and f["aht_measured"] for f in midday)

        # twice: nothing more
        count = await store.fetchone("SELECT count(*) FROM contacts")
        states = await store.fetchone("SELECT count(*) FROM agent_state_log")
        assert await seed_history(store, config, seed=7, today=TODAY) == 0
        assert await store.fetchone("SELECT count(*) FROM contacts") == count
        assert await store.fetchone("SELECT count(*) FROM agent_state_log") == states
    finally:
        await store.close()


def test_a_day_of_history_is_the_same_for_the_same_seed() -> None:
    config = settings()
    queues, agents = demo_queues(config)
    tz = ZoneInfo(ZONE)
    monday = dt.date(2026, 11, 16)

    def day(seed: int) -> object:
        return plan_day(
            monday, queues, agents, tz, random.Random(seed), dispositions=["resolved"], dialed="1"
        )

    assert day(1) == day(1)
    assert day(1) != day(2)
    sunday_events, sunday_states = plan_day(
        monday + dt.timedelta(days=6),
        queues,
        agents,
        tz,
        random.Random(1),
        dispositions=[],
        dialed="",
    )
    assert sunday_events == [] and sunday_states == []

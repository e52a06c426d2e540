"""The report engine (crm_lookup.reports.run_report) on both engines, against figures
worked out by hand from a fixed set of contacts around New York's autumn DST change
(2026-11-01 has 25 hours; 01:00-02:00 happens twice) and a call crossing midnight."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import pytest

from config.errors import InvalidInput
from crm_lookup.agent_states import SavedAgentState
from crm_lookup.report_query import ContactQuery, Scope, find_contacts
from crm_lookup.report_time import Buckets, moment, zone
from crm_lookup.reports import ReportQuery, run_report
from crm_lookup.store import Store, open_store

NY = ZoneInfo("America/New_York")
EDT = dt.timezone(dt.timedelta(hours=-4))
EST = dt.timezone(dt.timedelta(hours=-5))


def at(y: int, mo: int, d: int, h: int, mi: int, tz: dt.tzinfo) -> float:
    return dt.datetime(y, mo, d, h, mi, tzinfo=tz).timestamp()


OCT31_2358 = at(2026, 10, 31, 23, 58, EDT)
FIRST_0130 = at(2026, 11, 1, 1, 30, EDT)
SECOND_0130 = at(2026, 11, 1, 1, 30, EST)  # an hour later on the clock of the world
NOV1_0900 = at(2026, 11, 1, 9, 0, EST)
NOV1 = at(2026, 11, 1, 0, 0, EDT)  # local midnight, still summer time
NOV2 = at(2026, 11, 2, 0, 0, EST)
LATER = at(2026, 11, 5, 0, 0, EST)


async def contact(
    s: Store,
    key: str,
    queue: str,
    q: float,
    *,
    wait: float,
    agent: str = "",
    talk: float = 0,
    hold: float = 0,
    wrap: float = 0,
    outcome: str = "answered",
    end: bool = True,
) -> None:
    log = s.contacts
    await log.arrived(key, "+15550001111", "100", at=q - 10)
    await log.queued(key, queue, at=q)
    if agent:
        await log.offered(key, agent, at=q + wait - 2)
    if outcome != "answered":
        if end:
            await log.ended(key, at=q + wait, outcome=outcome)
        return
    await log.answered(key, agent, at=q + wait)
    if hold:
        await log.held(key, at=q + wait + 1)
        await log.unheld(key, at=q + wait + 1 + hold)
    if not end:
        return
    finish = q + wait + talk + hold
    await log.ended(key, at=finish, outcome="answered")
    if wrap:
        found = await log.get_by_key(key)
        await log.wrapup(found.id, "resolved", "", at=finish + wrap)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    s = await open_store(store_url)
    # queued 23:58 on Oct 31, answered after 30 s, talk 300, wrap 20: all of it Oct 31's
    await contact(s, "c1", "sales", OCT31_2358, wait=30, agent="1001", talk=300, wrap=20)
    # the first 01:30: answered after 10 s, talk 100, hold 20, wrap 30 -> handle 150
    await contact(s, "c2", "sales", FIRST_0130, wait=10, agent="1001", talk=100, hold=20, wrap=30)
    # the second 01:30: a short abandon after 3 s
    await contact(s, "c3", "sales", SECOND_0130, wait=3, outcome="abandoned_queue")
    # 09:00: abandoned after 60 s
    await contact(s, "c4", "sales", NOV1_0900, wait=60, outcome="abandoned_queue")
    # 09:10: answered after 40 s by 1002, talk 200, wrap 10, transferred once -> handle 210
    await contact(s, "c5", "support", NOV1_0900 + 600, wait=40, agent="1002", talk=200, wrap=10)
    await s.contacts.note("c5", "transfer", {"kind": "blind", "target": "1003"}, NOV1_0900 + 700)
    # 09:20: asked for a callback after 15 s
    await contact(s, "c6", "sales", NOV1_0900 + 1200, wait=15, outcome="callback")
    # 10:00 still waiting, 10:05 talking: in progress, in no measure
    await contact(s, "c7", "sales", NOV1_0900 + 3600, wait=0, outcome="abandoned_queue", end=False)
    await contact(s, "c8", "support", NOV1_0900 + 3900, wait=5, agent="1002", end=False)
    # state history: 1001 from the first 01:00 of Nov 1
    t0 = at(2026, 11, 1, 1, 0, EDT)
    for state, reason, since in (
        ("ready", "", t0),
        ("not_ready", "break", t0 + 600),
        ("ready", "", t0 + 900),
        ("on_call", "", t0 + 1000),
        ("wrap_up", "", t0 + 1300),
        ("ready", "", t0 + 1400),
        ("ready", "", t0 + 1400),  # the same state again (a replay): nothing new
        ("logged_out", "", t0 + 2000),
    ):
        await s.agent_states.save(SavedAgentState("1001", state, reason, since))
    # 1002 ready across the midnight that starts Nov 1, logged out at 00:30
    await s.agent_states.save(SavedAgentState("1002", "ready", "", NOV1 - 3600))
    await s.agent_states.save(SavedAgentState("1002", "logged_out", "", NOV1 + 1800))
    yield s
    await s.close()


def q(by: str, start: float, end: float, **kw: object) -> ReportQuery:
    return ReportQuery(by, start, end, tz=NY, sl_threshold=20, short_abandon=5, now=LATER, **kw)  # type: ignore[arg-type]


async def test_days_in_the_zone_with_the_dst_day_and_the_call_over_midnight(store: Store) -> None:
    start = moment("2026-10-31", "from", NY)
    end = moment("2026-11-01", "to", NY, end_of_day=True)
    assert end == NOV2
    answer = await run_report(store, q("day", start, end))
    rows = {r["key"]: r for r in answer["rows"]}
    assert list(rows) == ["2026-10-31", "2026-11-01"]
    oct31, nov1 = rows["2026-10-31"], rows["2026-11-01"]
    assert nov1["end"] - nov1["start"] == 25 * 3600
    # c1 was queued at 23:58: Oct 31's, whole
    assert (oct31["offered"], oct31["answered"], oct31["service_level"]) == (1, 1, 0.0)
    assert (oct31["asa"], oct31["aht"]) == (30.0, 320.0)
    assert nov1["offered"] == 5  # c2..c6: the in-progress c7, c8 are not offered
    assert (nov1["answered"], nov1["abandoned"], nov1["short_abandoned"]) == (2, 1, 1)
    assert nov1["callbacks"] == 1 and nov1["transfers"] == 1 and nov1["other"] == 0
    assert nov1["service_level"] == 0.25  # c2 within 20 s, of 5 offered less 1 short
    assert (nov1["asa"], nov1["aht"]) == (25.0, 180.0)
    assert nov1["avg_wait"] == 25.6  # (10 + 3 + 60 + 40 + 15) / 5
    assert nov1["longest_wait"] == 60.0
    assert answer["in_progress"] == {"contacts": 2, "waiting": 1, "talking": 1}
    assert answer["totals"]["offered"] == 6 and answer["totals"]["answered"] == 3
    assert nov1["filter"]["from"] == "2026-11-01T00:00:00-04:00"
    assert nov1["filter"]["to"] == "2026-11-02T00:00:00-05:00"


async def test_intervals_tell_the_repeated_hour_apart_and_skip_empty_ones(store: Store) -> None:
    answer = await run_report(store, q("interval", NOV1, NOV2, interval=60))
    keys = [r["key"] for r in answer["rows"]]
    assert keys == [
        "2026-11-01T01:00-04:00",
        "2026-11-01T01:00-05:00",
        "2026-11-01T09:00-05:00",
        "2026-11-01T10:00-05:00",  # only calls in progress: a row, nothing offered
    ]
    rows = answer["rows"]
    assert [r["label"] for r in rows[:2]] == ["2026-11-01 01:00", "2026-11-01 01:00"]
    assert (rows[0]["offered"], rows[0]["answered"], rows[0]["service_level"]) == (1, 1, 1.0)
    assert (rows[1]["offered"], rows[1]["short_abandoned"], rows[1]["service_level"]) == (
        1,
        1,
        None,
    )
    assert (rows[2]["offered"], rows[2]["abandoned"], rows[2]["callbacks"]) == (3, 1, 1)
    assert rows[3]["offered"] == 0
    every = await run_report(store, q("interval", NOV1, NOV2, interval=60, empty=True))
    assert len(every["rows"]) == 25
    quarters = await run_report(store, q("interval", NOV1, NOV2, interval=15, empty=True))
    assert len(quarters["rows"]) == 100
    one_queue = await run_report(store, q("interval", NOV1, NOV2, interval=30, queue="support"))
    assert [(r["key"], r["offered"]) for r in one_queue["rows"]] == [
        ("2026-11-01T09:00-05:00", 1),
        ("2026-11-01T10:00-05:00", 0),
    ]


async def test_by_queue_disposition_and_scope(store: Store) -> None:
    rows = {r["key"]: r for r in (await run_report(store, q("queue", NOV1, NOV2)))["rows"]}
    assert (rows["sales"]["offered"], rows["support"]["offered"]) == (4, 1)
    assert rows["support"]["filter"]["queue"] == "support"
    scoped = await run_report(store, q("queue", NOV1, NOV2, scope=Scope(queues=frozenset({"x"}))))
    assert scoped["rows"] == [] and scoped["totals"]["offered"] == 0
    dispo = {r["key"]: r for r in (await run_report(store, q("disposition", NOV1, NOV2)))["rows"]}
    assert dispo["resolved"]["answered"] == 2 and dispo[""]["offered"] == 3


async def test_agents_calls_state_time_and_occupancy(store: Store) -> None:
    answer = await run_report(store, q("agent", NOV1, NOV2))
    rows = {r["key"]: r for r in answer["rows"]}
    a = rows["1001"]
    assert (a["calls"], a["talk_seconds"], a["hold_seconds"], a["wrapup_seconds"]) == (
        1,
        100.0,
        20.0,
        30.0,
    )
    assert a["state_seconds"] == {
        "ready": 1300.0,
        "not_ready": {"break": 300.0},
        "ringing": 0.0,
        "on_call": 300.0,
        "wrap_up": 100.0,
    }
    assert a["logged_in_seconds"] == 2000.0
    assert a["occupancy"] == round(400 / 1700, 4)
    b = rows["1002"]
    assert b["calls"] == 1 and b["talk_seconds"] == 200.0  # c8 is still in progress
    assert b["state_seconds"]["ready"] == 1800.0  # from midnight, not from 23:00
    assert b["occupancy"] == 0.0
    own = await run_report(store, q("agent", NOV1, NOV2, scope=Scope(agent="1002")))
    assert [r["key"] for r in own["rows"]] == ["1002"]
    assert own["totals"]["offered"] == 1


async def test_an_agent_reader_s_figures_equal_their_drill_downs(store: Store) -> None:
    """c9 rang 1002, then 1001, and ended as a callback: it was presented to 1002 but
    1001 ended with it. For 1002 reading, the day report and its drill-down say 1 (c5),
    the agent row and its drill-down (``presented``) 2, the agent report's total 1."""
    log = store.contacts
    await log.arrived("c9", "+15550001111", "100", at=NOV1_0900 + 1790)
    await log.queued("c9", "support", at=NOV1_0900 + 1800)
    await log.offered("c9", "1002", at=NOV1_0900 + 1805)
    await log.offered("c9", "1001", at=NOV1_0900 + 1830)
    await log.ended("c9", at=NOV1_0900 + 1850, outcome="callback")
    me = Scope(agent="1002")

    async def listed(measure: str, **kw: object) -> list[str]:
        found, total = await find_contacts(
            store,
            ContactQuery(NOV1, NOV2, measure=measure, **kw),  # type: ignore[arg-type]
            me,
        )
        assert total == len(found)
        return [c.key for c in found]

    day = await run_report(store, q("day", NOV1, NOV2, scope=me))
    assert [r["offered"] for r in day["rows"]] == [1] and day["totals"]["offered"] == 1
    assert await listed("offered") == ["c5"]
    agent = await run_report(store, q("agent", NOV1, NOV2, scope=me))
    (row,) = agent["rows"]
    assert (row["offered"], row["drill"]["offered"]) == (2, "presented")
    assert await listed("presented", agent="1002") == ["c5", "c9"]
    assert agent["totals"]["offered"] == 1


async def test_drill_down_gives_the_contacts_behind_a_number(store: Store) -> None:
    async def keys(**kw: object) -> list[str]:
        found, total = await find_contacts(store, ContactQuery(NOV1, NOV2, **kw), Scope())  # type: ignore[arg-type]
        assert total == len(found)
        return [c.key for c in found]

    assert await keys(measure="short_abandoned") == ["c3"]
    assert await keys(measure="abandoned") == ["c4"]
    assert await keys(measure="offered") == ["c2", "c3", "c4", "c5", "c6"]
    assert await keys(measure="in_progress") == ["c7", "c8"]
    assert await keys(measure="transfers") == ["c5"]
    assert await keys(agent="1002") == ["c5", "c8"]
    assert await keys(queue="sales", outcome="callback") == ["c6"]
    assert await keys(disposition="resolved") == ["c2", "c5"]
    with pytest.raises(InvalidInput):
        await keys(measure="nonsense")


def test_time_zone_inputs() -> None:
    with pytest.raises(InvalidInput) as info:
        zone("Mars/Olympus")
    assert info.value.field == "tz"
    with pytest.raises(InvalidInput):
        zone("../../etc/passwd")
    berlin = zone("Europe/Berlin")
    spring = Buckets("day", berlin).of_time(at(2026, 3, 29, 12, 0, dt.UTC))
    assert spring.end - spring.start == 23 * 3600
    quarters = Buckets("interval", berlin, 15).between(spring.start, spring.end)
    assert len(quarters) == 92
    with pytest.raises(InvalidInput):
        moment("2026-13-01", "from", berlin)
    with pytest.raises(InvalidInput):
        Buckets("interval", berlin, 15).between(0, 86400 * 200)


async def test_the_contact_recorder_writes_the_state_history(store_url: str) -> None:
    from routing.contacts import ContactRecorder

    s = await open_store(store_url)
    try:
        recorder = ContactRecorder(s.contacts, agent_states=s.agent_states)
        recorder.start()
        for state, reason, since in (
            ("ready", "", NOV1 + 100),
            ("not_ready", "lunch", NOV1 + 400),
            ("logged_out", "", NOV1 + 1000),
        ):
            recorder.agent_state(SavedAgentState("2001", state, reason, since))
        await recorder.close()
        rows = await s.fetchall(
            "SELECT state, reason, started_at, ended_at FROM agent_state_log"
            " WHERE agent_id = '2001' ORDER BY started_at"
        )
        assert [tuple(r) for r in rows] == [
            ("ready", "", NOV1 + 100, NOV1 + 400),
            ("not_ready", "lunch", NOV1 + 400, NOV1 + 1000),
            ("logged_out", "", NOV1 + 1000, None),
        ]
        answer = await run_report(s, q("agent", NOV1, NOV2))
        (row,) = answer["rows"]
        assert row["logged_in_seconds"] == 900.0
        assert row["state_seconds"]["not_ready"] == {"lunch": 600.0}
    finally:
        await s.close()


# ------------------------------------------------- a 30-minute DST shift: Lord Howe

LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # +10:30, summer time +11:00
#: 2026-04-05 02:00 +11:00 goes back to 01:30 +10:30 (01:30-02:00 happens twice);
#: 2026-10-04 02:00 +10:30 goes on to 02:30 +11:00 (02:00-02:30 never happens)
LORD_HOWE_CHANGES = ("2026-04-05", "2026-10-04")


@pytest.mark.parametrize("day", LORD_HOWE_CHANGES)
@pytest.mark.parametrize("minutes", [15, 30, 60])
def test_lord_howe_buckets_tile_the_change_day_once(day: str, minutes: int) -> None:
    start = moment(day, "from", LORD_HOWE)
    end = moment(day, "to", LORD_HOWE, end_of_day=True)
    buckets = Buckets("interval", LORD_HOWE, minutes).between(start, end)
    assert buckets[0].start == start and buckets[-1].end == end
    for before, after in itertools.pairwise(buckets):
        assert before.end == after.start, (before, after)  # no overlap, no gap
    assert len({b.key for b in buckets}) == len(buckets)
    for b in buckets:  # every quarter hour of a bucket lies in it
        for slot in range(int(b.start // 900), int(b.end // 900)):
            assert Buckets("interval", LORD_HOWE, minutes).of_slot(slot) == b


async def test_lord_howe_change_days_count_each_contact_once(store_url: str) -> None:
    s = await open_store(store_url)
    try:
        placed: list[float] = []
        for day in LORD_HOWE_CHANGES:
            start = moment(day, "from", LORD_HOWE)
            end = moment(day, "to", LORD_HOWE, end_of_day=True)
            for n, t in enumerate(range(int(start) + 60, int(end), 900)):
                key = f"lh-{day}-{n}"
                await s.contacts.queued(key, "sales", at=t)
                await s.contacts.ended(key, at=t + 30, outcome="abandoned_queue")
                placed.append(t)
        for day in LORD_HOWE_CHANGES:
            start = moment(day, "from", LORD_HOWE)
            end = moment(day, "to", LORD_HOWE, end_of_day=True)
            mine = [t for t in placed if start <= t < end]
            for minutes in (15, 30, 60):
                answer = await run_report(
                    s,
                    ReportQuery("interval", start, end, tz=LORD_HOWE, interval=minutes, empty=True),
                )
                rows = answer["rows"]
                assert sum(r["offered"] for r in rows) == answer["totals"]["offered"] == len(mine)
                for before, after in itertools.pairwise(rows):
                    assert before["end"] == after["start"], (minutes, before["key"], after["key"])
                for r in rows:
                    inside = sum(1 for t in mine if r["start"] <= t < r["end"])
                    assert r["offered"] == inside, (minutes, r["key"])
                keys = [r["key"] for r in rows]
                assert len(set(keys)) == len(keys)
                if day == "2026-04-05" and minutes == 30:
                    labels = [r["label"] for r in rows]
                    assert labels.count("2026-04-05 01:30") == 2  # the half hour, twice
                    assert "2026-04-05T01:30+11:00" in keys and "2026-04-05T01:30+10:30" in keys
                if day == "2026-10-04":
                    assert not any(r["label"].startswith("2026-10-04 02:00") for r in rows)
    finally:
        await s.close()

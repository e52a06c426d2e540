"""The staffing forecast (crm_lookup.forecast) from a hand-built history, on both engines.

The target day is Sunday 2026-03-15 in New York; its history is the four Sundays before:
03-08 (the day clocks went forward: EDT from 02:00, a 23-hour day), 03-01, 02-22 and
02-15 (EST). Intervals line up by local clock time across that change.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import pytest

from config.errors import InvalidInput
from crm_lookup.forecast import (
    BUCKET_SECONDS,
    QueueTarget,
    day_intervals,
    fold,
    forecast_day,
    forecast_for,
    zone,
)
from crm_lookup.staffing import agents_needed
from crm_lookup.store import Store, open_store

NY = ZoneInfo("America/New_York")
DAY = dt.date(2026, 3, 15)


def at(day: dt.date, hh: int, mm: int, ss: float = 0.0) -> float:
    """Epoch seconds of a local New York wall-clock time."""
    whole = int(ss)
    local = dt.datetime(day.year, day.month, day.day, hh, mm, whole, tzinfo=NY)
    return local.timestamp() + (ss - whole)


async def _contact(
    store: Store,
    key: str,
    queue: str,
    t: float,
    *,
    wait: float = 5,
    talk: float = 0,
    hold: float = 0,
    wrap: float = 0,
    answered: bool = True,
) -> None:
    log = store.contacts
    await log.arrived(key, "+15550001111", "100", at=t - 10)
    await log.queued(key, queue, at=t)
    if not answered:
        await log.ended(key, at=t + wait, outcome="abandoned_queue")
        return
    await log.answered(key, "1001", at=t + wait)
    if hold:
        await log.held(key, at=t + wait + 1)
        await log.unheld(key, at=t + wait + 1 + hold)
    end = t + wait + talk + hold
    await log.ended(key, at=end, outcome="answered")
    if wrap:
        contact = await log.get_by_key(key)
        await log.wrapup(contact.id, "resolved", "", at=end + wrap)


W1, W2, W3, W4 = (DAY - dt.timedelta(days=7 * k) for k in range(1, 5))


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    s = await open_store(store_url)
    # sales, 09:00-09:30 interval
    #   week 1 (03-08, EDT): three calls: handle 100+50+50=200, 280+20=300, one abandon
    await _contact(s, "a1", "sales", at(W1, 9, 0), talk=100, hold=50, wrap=50)
    await _contact(s, "a2", "sales", at(W1, 9, 10), talk=280, wrap=20)
    await _contact(s, "a3", "sales", at(W1, 9, 29, 59.6), answered=False)  # 09:29:59.6
    #   week 2 (03-01, EST): one call, handle 100
    await _contact(s, "b1", "sales", at(W2, 9, 15), talk=100)
    #   week 3 (02-22): none at 09:00, but the queue was open: one abandon at 14:05
    await _contact(s, "c1", "sales", at(W3, 14, 5), answered=False)
    #   week 4 (02-15): no sales contact at all that day -> not a week of data
    # 09:30 sharp belongs to the next interval (week 1)
    await _contact(s, "a4", "sales", at(W1, 9, 30), talk=60)
    # not in the history: the target day itself, five weeks back, a Saturday, 23:59 on
    # the day before week 1
    await _contact(s, "x1", "sales", at(DAY, 9, 5), talk=1000)
    await _contact(s, "x2", "sales", at(DAY - dt.timedelta(days=35), 9, 5), talk=1000)
    await _contact(s, "x3", "sales", at(W1 - dt.timedelta(days=1), 9, 5), talk=1000)
    await _contact(s, "x4", "sales", at(W1 - dt.timedelta(days=1), 23, 59, 59), talk=1000)
    # support, week 4 only: 09:05, handle 400
    await _contact(s, "p1", "support", at(W4, 9, 5), talk=400)
    yield s
    await s.close()


TARGETS = {
    "sales": QueueTarget(target=0.8, within=20, default_aht=240),
    "support": QueueTarget(target=0.9, within=30, default_aht=300),
}


def _by_label(forecast: list) -> dict[str, object]:
    return {f.label: f for f in forecast}


async def test_forecast_from_the_same_weekday_of_past_weeks(store: Store) -> None:
    result = await forecast_day(
        store, DAY, "America/New_York", 30, queues=["sales", "support", "billing"], targets=TARGETS
    )
    assert sorted(result) == ["billing", "sales", "support"]
    sales = _by_label(result["sales"])
    assert len(result["sales"]) == 48  # an ordinary 24-hour Sunday

    nine = sales["09:00"]
    # weeks with sales data: 1, 2, 3 (week 4 had none) -> (3 + 1 + 0) / 3
    assert nine.calls == pytest.approx(4 / 3)
    assert nine.aht == pytest.approx((200 + 300 + 100) / 3)
    assert nine.aht_measured
    assert nine.start == at(DAY, 9, 0)
    assert nine.staffing == agents_needed(4 / 3, 200, 1800, 0.8, 20)
    assert nine.staffing.agents == 1  # A = 0.15 Erlangs: one agent answers 86% in 20 s

    half_past = sales["09:30"]
    assert half_past.calls == pytest.approx(1 / 3)
    assert half_past.aht == pytest.approx(60)

    two = sales["14:00"]  # only an abandon: the queue's default handle time
    assert two.calls == pytest.approx(1 / 3)
    assert two.aht == 240 and not two.aht_measured
    assert two.staffing == agents_needed(1 / 3, 240, 1800, 0.8, 20)

    quiet = sales["03:00"]
    assert quiet.calls == 0 and quiet.staffing.agents == 0

    # support: one week of data (week 4), its own target
    support = _by_label(result["support"])
    assert support["09:00"].calls == pytest.approx(1.0)
    assert support["09:00"].aht == pytest.approx(400)
    assert support["09:00"].staffing == agents_needed(1.0, 400, 1800, 0.9, 30)

    # billing: no history at all -> 0 calls everywhere, the default handle time
    assert all(f.calls == 0 and f.staffing.agents == 0 for f in result["billing"])


async def test_forecast_for_one_queue_by_interval_start(store: Store) -> None:
    got = await forecast_for(store, "sales", DAY, "America/New_York", 60, target=TARGETS["sales"])
    assert len(got) == 24
    nine = got[at(DAY, 9, 0)]
    # 60-minute intervals: 09:00-10:00 holds a1..a4 (week 1: 4), b1 (week 2: 1), week 3: 0
    assert nine["forecast_calls"] == pytest.approx(5 / 3, abs=0.01)
    assert nine["aht"] == pytest.approx((200 + 300 + 100 + 60) / 4, abs=0.1)
    assert nine["agents_needed"] == agents_needed(5 / 3, 165, 3600, 0.8, 20).agents
    assert set(nine) >= {"forecast_calls", "aht", "agents_needed", "start", "label"}


async def test_week_count_and_zone_are_checked(store: Store) -> None:
    # one week back only: 03-08 -> 3 calls at 09:00
    one = await forecast_day(store, DAY, NY, 30, weeks=1, targets=TARGETS)
    assert _by_label(one["sales"])["09:00"].calls == pytest.approx(3.0)
    with pytest.raises(InvalidInput) as caught:
        await forecast_day(store, DAY, "Mars/Olympus_Mons", 30)
    assert caught.value.field == "tz"
    with pytest.raises(InvalidInput) as caught:
        await forecast_day(store, DAY, NY, 20)
    assert caught.value.field == "interval"
    with pytest.raises(InvalidInput) as caught:
        await forecast_day(store, DAY, NY, 30, weeks=0)
    assert caught.value.field == "weeks"


# -- pure parts ------------------------------------------------------------------------


def test_day_intervals_follow_dst() -> None:
    spring = day_intervals(dt.date(2026, 3, 8), NY, 30)
    autumn = day_intervals(dt.date(2026, 11, 1), NY, 30)
    assert len(spring) == 46 and "02:00" not in {label for _, label in spring}
    assert len(autumn) == 50
    assert [label for _, label in autumn].count("01:00") == 2
    assert all(b - a == 1800 for (a, _), (b, _) in itertools.pairwise(spring))


def _row(queue: str, t: float, contacts: int, handle: float = 0.0, handled: int = 0) -> tuple:
    return (queue, int(t // BUCKET_SECONDS), contacts, handle, handled)


def test_a_repeated_hour_counts_each_occurrence_as_half_and_both_get_it() -> None:
    # Target 2026-11-08; its week 1 is 2026-11-01 (01:00-02:00 twice). 2 calls in the
    # first 01:00 (EDT), 4 in the second (EST): 6 over two occurrences -> 3 per interval.
    first = dt.datetime(2026, 11, 1, 1, 10, tzinfo=NY).timestamp()
    second = dt.datetime(2026, 11, 1, 1, 10, fold=1, tzinfo=NY).timestamp()
    assert second - first == 3600
    rows = [_row("q", first, 2), _row("q", second, 4, 600.0, 4)]
    got = fold(rows, dt.date(2026, 11, 8), NY, 60, weeks=1)
    one = _by_label(got["q"])["01:00"]
    assert one.calls == pytest.approx(3.0)
    assert one.aht == pytest.approx(150.0)
    # and the autumn day itself, forecast from 10-25: both of its 01:00 intervals
    week = dt.datetime(2026, 10, 25, 1, 10, tzinfo=NY).timestamp()
    autumn = fold([_row("q", week, 5)], dt.date(2026, 11, 1), NY, 60, weeks=1)["q"]
    ones = [f for f in autumn if f.label == "01:00"]
    assert len(ones) == 2 and all(f.calls == 5 for f in ones)
    assert ones[1].start - ones[0].start == 3600


def test_quarter_hour_buckets_land_in_the_right_local_interval_off_the_hour() -> None:
    # India is UTC+5:30: the local 09:00-10:00 hour is 03:30-04:30 UTC.
    kolkata = ZoneInfo("Asia/Kolkata")
    day = dt.date(2026, 5, 4)
    week = day - dt.timedelta(days=7)
    t = dt.datetime(week.year, week.month, week.day, 9, 50, tzinfo=kolkata).timestamp()
    before = dt.datetime(week.year, week.month, week.day, 8, 59, tzinfo=kolkata).timestamp()
    got = _by_label(fold([_row("q", t, 7), _row("q", before, 1)], day, kolkata, 60, weeks=1)["q"])
    assert got["09:00"].calls == 7 and got["08:00"].calls == 1


def test_zone_refuses_unknown_and_path_like_names() -> None:
    assert zone("Europe/Moscow").key == "Europe/Moscow"
    assert zone("").key == "UTC"  # no name: the default zone (crm_lookup.report_time)
    for bad in ("Nowhere/City", "../etc/passwd", "/etc/localtime", "x" * 100):
        with pytest.raises(InvalidInput) as caught:
            zone(bad)
        assert caught.value.field == "tz"

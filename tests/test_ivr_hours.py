"""Business hours: weekly ranges, ranges past midnight, holidays, time zones and DST."""

from __future__ import annotations

from datetime import date, time

import pytest

from config.errors import InvalidInput
from routing.ivr.hours import (
    Holiday,
    HoursStatus,
    TimeRange,
    at_local,
    build_schedule,
    parse_days,
    parse_range,
    parse_ranges,
)

MON = date(2026, 11, 23)


def test_parse_days() -> None:
    assert parse_days("mon-fri") == [0, 1, 2, 3, 4]
    assert parse_days("sat,sun") == [5, 6]
    assert parse_days("fri-mon") == [4, 5, 6, 0]
    assert parse_days("daily") == list(range(7))
    with pytest.raises(InvalidInput, match="unknown day 'funday'"):
        parse_days("funday")


def test_parse_ranges() -> None:
    assert parse_range("09:00-17:30") == TimeRange(540, 1050)
    assert parse_range("00:00-24:00") == TimeRange(0, 1440)
    assert parse_ranges("closed") == ()
    assert parse_ranges("08:00-12:00, 13:00-17:00") == (TimeRange(480, 720), TimeRange(780, 1020))
    assert str(parse_range("22:00-06:00")) == "22:00-06:00"
    for bad in ("9-5", "25:00-26:00", "10:00-10:00", "10:61-11:00"):
        with pytest.raises(InvalidInput):
            parse_range(bad)
    with pytest.raises(InvalidInput):
        parse_ranges(42)


def test_weekly_and_lunch_break() -> None:
    s = build_schedule("Europe/Berlin", {"mon-fri": ["08:00-12:00", "13:00-17:00"]})
    assert s.status(at_local(s, MON, time(8, 0))) is HoursStatus.OPEN
    assert s.status(at_local(s, MON, time(12, 30))) is HoursStatus.CLOSED
    assert s.status(at_local(s, MON, time(16, 59))) is HoursStatus.OPEN
    assert s.status(at_local(s, MON, time(17, 0))) is HoursStatus.CLOSED
    assert not s.is_open(at_local(s, date(2026, 11, 29), time(10, 0)))  # Sunday


def test_range_past_midnight_covers_the_next_morning() -> None:
    s = build_schedule("UTC", {"fri": "22:00-06:00"})
    fri, sat = date(2026, 11, 27), date(2026, 11, 28)
    assert s.is_open(at_local(s, fri, time(23, 0)))
    assert s.is_open(at_local(s, sat, time(5, 59)))
    assert not s.is_open(at_local(s, sat, time(6, 0)))
    assert not s.is_open(at_local(s, fri, time(5, 0)))  # Thursday night is closed


def test_holidays_close_or_replace_the_day() -> None:
    s = build_schedule(
        "Europe/London",
        {"mon-fri": "09:00-17:00"},
        [
            Holiday(date(2026, 12, 25), "Christmas"),
            Holiday(date(2026, 12, 24), "Eve", (parse_range("09:00-13:00"),)),
            Holiday(date(2026, 12, 27), "Sunday opening", (parse_range("10:00-12:00"),)),
        ],
    )
    assert s.status(at_local(s, date(2026, 12, 25), time(10))) is HoursStatus.HOLIDAY
    assert s.status(at_local(s, date(2026, 12, 24), time(12))) is HoursStatus.OPEN
    assert s.status(at_local(s, date(2026, 12, 24), time(14))) is HoursStatus.HOLIDAY
    assert s.status(at_local(s, date(2026, 12, 27), time(11))) is HoursStatus.OPEN
    with pytest.raises(InvalidInput, match="listed twice"):
        build_schedule("UTC", {}, [Holiday(MON), Holiday(MON)])


def test_time_zone_and_daylight_saving() -> None:
    s = build_schedule("Europe/Moscow", {"daily": "09:00-18:00"})  # UTC+3, no DST
    # 06:00 UTC = 09:00 Moscow
    assert s.is_open(at_local(build_schedule("UTC", {}), MON, time(6, 0)))
    assert not s.is_open(at_local(build_schedule("UTC", {}), MON, time(5, 59)))
    ny = build_schedule("America/New_York", {"daily": "09:00-17:00"})
    utc = build_schedule("UTC", {})
    # 13:30 UTC is 08:30 EST in January (closed) but 09:30 EDT in July (open).
    assert not ny.is_open(at_local(utc, date(2026, 1, 12), time(13, 30)))
    assert ny.is_open(at_local(utc, date(2026, 7, 13), time(13, 30)))
    # The day clocks spring forward: 02:30 does not exist; 09:00 still opens.
    assert ny.is_open(at_local(ny, date(2026, 3, 8), time(9, 0)))
    assert (
        ny.local(at_local(ny, date(2026, 3, 8), time(9, 0))).utcoffset().total_seconds()
        == -4 * 3600
    )


def test_bad_schedules() -> None:
    with pytest.raises(InvalidInput, match="unknown time zone"):
        build_schedule("Nowhere/City", {})
    with pytest.raises(InvalidInput, match="mon is given twice"):
        build_schedule("UTC", {"mon-fri": "09:00-17:00", "mon": "closed"})

"""Business hours: a weekly schedule in a time zone, with holidays.

Theory of operation: a :class:`Schedule` is plain data (a zone name, per-weekday
opening ranges, dated holidays that close the day or replace its hours). Asking
``schedule.status(now)`` converts the epoch ``now`` to the schedule's local wall clock
with :mod:`zoneinfo` (so daylight-saving changes need no special case), then looks at
the holiday table first and the weekly table second. A range whose end is not after its
start wraps past midnight: ``22:00-06:00`` on Friday covers Friday night and the early
hours of Saturday. Nothing here reads the clock; the caller passes ``now``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from config.errors import InvalidInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class HoursStatus(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"
    HOLIDAY = "holiday"


@dataclass(frozen=True, slots=True)
class TimeRange:
    """Minutes since local midnight; ``end <= start`` means the range wraps past midnight."""

    start: int
    end: int

    @property
    def wraps(self) -> bool:
        return self.end <= self.start

    def __str__(self) -> str:
        return (
            f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"
        )


@dataclass(frozen=True, slots=True)
class Holiday:
    """A dated exception: closed all day (``ranges`` empty) or open only in ``ranges``."""

    day: date
    name: str = ""
    ranges: tuple[TimeRange, ...] = ()


@dataclass(frozen=True, slots=True)
class Schedule:
    """Weekly opening hours in one time zone. ``weekly[0]`` is Monday."""

    timezone: str
    weekly: tuple[tuple[TimeRange, ...], ...]
    holidays: Mapping[date, Holiday] = field(default_factory=dict)

    def local(self, now: float) -> datetime:
        """The wall-clock time at ``now`` (epoch seconds) in the schedule's zone."""
        return datetime.fromtimestamp(now, ZoneInfo(self.timezone))

    def status(self, now: float) -> HoursStatus:
        """Open, closed, or closed because of a holiday, at epoch ``now``."""
        local = self.local(now)
        minute = local.hour * 60 + local.minute
        today = local.date()
        holiday = self.holidays.get(today)
        if holiday is not None:
            if any(_covers(r, minute) for r in holiday.ranges):
                return HoursStatus.OPEN
            return HoursStatus.HOLIDAY
        if any(_covers(r, minute) for r in self.weekly[local.weekday()]):
            return HoursStatus.OPEN
        # A range that wraps past midnight yesterday still covers the early hours today,
        # unless yesterday was a holiday (its replacement hours decide).
        yesterday = today - timedelta(days=1)
        if yesterday in self.holidays:
            earlier: Iterable[TimeRange] = self.holidays[yesterday].ranges
        else:
            earlier = self.weekly[yesterday.weekday()]
        if any(r.wraps and minute < r.end for r in earlier):
            return HoursStatus.OPEN
        return HoursStatus.CLOSED

    def is_open(self, now: float) -> bool:
        return self.status(now) is HoursStatus.OPEN


def _covers(r: TimeRange, minute: int) -> bool:
    if r.wraps:
        return minute >= r.start
    return r.start <= minute < r.end


def parse_range(text: str) -> TimeRange:
    """Parse ``HH:MM-HH:MM`` (``24:00`` allowed as an end).

    Raises:
        InvalidInput: not in that form, or hours/minutes out of range.
    """
    m = _RANGE.match(text)
    if not m:
        raise InvalidInput(f"expected a time range like 09:00-17:00, got {text!r}")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2 != 0):
        raise InvalidInput(f"time out of range in {text!r}")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end:
        raise InvalidInput(f"empty time range {text!r}; use 00:00-24:00 for all day")
    return TimeRange(start, end)


def parse_ranges(value: object) -> tuple[TimeRange, ...]:
    """A day's hours: ``"closed"``, one range string, or a list of range strings.

    Raises:
        InvalidInput: a value of another shape or a bad range.
    """
    if isinstance(value, str):
        if value.strip().lower() == "closed":
            return ()
        return tuple(parse_range(part) for part in value.split(","))
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(parse_range(v) for v in value)
    raise InvalidInput(f"expected 'closed', a range like 09:00-17:00 or a list, got {value!r}")


def parse_days(key: str) -> list[int]:
    """``mon``, ``mon-fri``, ``sat,sun`` or ``daily`` → weekday numbers (Monday is 0).

    Raises:
        InvalidInput: an unknown day name.
    """
    key = key.strip().lower()
    if key in ("daily", "every day", "all"):
        return list(range(7))
    out: list[int] = []
    for part in key.split(","):
        first, _, last = part.strip().partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise InvalidInput(
                f"unknown day {part.strip()!r}; expected {', '.join(DAYS)}, ranges like "
                "mon-fri, or daily"
            )
        a = DAYS.index(first)
        b = DAYS.index(last) if last else a
        out.extend((a + i) % 7 for i in range((b - a) % 7 + 1))
    return out


def check_timezone(name: str) -> None:
    """Raises InvalidInput when ``name`` is not a known IANA zone."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {name!r}") from None


def build_schedule(
    timezone: str,
    weekly: Mapping[str, object],
    holidays: Iterable[Holiday] = (),
) -> Schedule:
    """Build a Schedule from day keys (``mon-fri``) to hours; days not named are closed.

    Raises:
        InvalidInput: an unknown time zone, day, range, or a day given twice.
    """
    check_timezone(timezone)
    days: list[tuple[TimeRange, ...] | None] = [None] * 7
    for key, value in weekly.items():
        ranges = parse_ranges(value)
        for d in parse_days(key):
            if days[d] is not None:
                raise InvalidInput(f"{DAYS[d]} is given twice in the weekly hours")
            days[d] = ranges
    table: dict[date, Holiday] = {}
    for h in holidays:
        if h.day in table:
            raise InvalidInput(f"holiday {h.day.isoformat()} is listed twice")
        table[h.day] = h
    return Schedule(timezone, tuple(d or () for d in days), table)


def parse_date(text: str) -> date:
    """Raises InvalidInput unless ``text`` is ``YYYY-MM-DD``."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"expected a date like 2026-12-25, got {text!r}") from None


def at_local(schedule: Schedule, day: date, hhmm: time) -> float:
    """Epoch seconds of a local wall-clock moment (handy for tests and reports)."""
    return datetime.combine(day, hhmm, ZoneInfo(schedule.timezone)).timestamp()

"""Report periods, days and intervals in a time zone (pure: no I/O).

Theory of operation: the database groups contacts by the 15-minute slot of UTC they were
queued in (``floor(queued_at / 900)``). Every time zone in use today is offset from UTC
by a whole number of quarter hours, and its changes (DST) happen on quarter hours, so
each UTC slot lies inside exactly one local day and one local 15-, 30- or 60-minute
interval: :class:`Buckets` folds slots into local buckets in Python, with no time-zone
arithmetic in SQL and the same answer on both engines. A local day is from one local
midnight to the next, so a DST day has 23 or 25 hours (and 92 or 100 quarter hours);
the hour repeated in the autumn is two intervals, told apart by their UTC offset. A
change of offset cuts the interval it falls in: where clocks move by half an hour
(Australia/Lord_Howe) the repeated half hour is a second, 30-minute row of an hourly
report, and the hour the spring shortens is a row from its first existing quarter hour;
every instant of the day is in exactly one row.

A contact is counted in the day and interval it was *queued* in, whole: a call queued at
23:58 and answered at 00:03 belongs to the day before, its talk and wrap-up too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from config.errors import InvalidInput

SLOT = 900  # seconds: the finest grouping the database does
FIRST_YEAR = 1970
LAST_YEAR = 9998
INTERVALS = (15, 30, 60)
MAX_BUCKETS = 10_000


def zone(name: str | None) -> ZoneInfo:
    """An IANA zone by name (``Europe/Berlin``; ``UTC``).

    Raises:
        InvalidInput(field="tz"): not a known zone, or not a plain name.
    """
    text = (name or "UTC").strip()
    if not text or len(text) > 64 or not text.isascii() or ".." in text or text.startswith("/"):
        raise InvalidInput(f"unknown time zone {text[:64]!r}", field="tz")
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(f"unknown time zone {text!r}", field="tz") from None


def moment(text: str, field: str, tz: dt.tzinfo, *, end_of_day: bool = False) -> float:
    """``2026-03-29`` (local midnight in ``tz``; with ``end_of_day`` the next local
    midnight, so a ``to`` date is inclusive), or an ISO date-time (in ``tz`` when it has
    no offset), as epoch seconds.

    Raises:
        InvalidInput(field=field): not ISO 8601, or outside the years 1970 to 9998.
    """
    value = (text or "").strip()
    problem = InvalidInput(
        f"{field}: expected a date like 2026-11-22 or a date-time like 2026-11-22T09:30,"
        f" years {FIRST_YEAR} to {LAST_YEAR}, not {value[:40]!r}",
        field=field,
    )
    if not value.isascii() or len(value) > 40:
        raise problem
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            if not FIRST_YEAR <= day.year <= LAST_YEAR:
                raise problem
            if end_of_day:
                day += dt.timedelta(days=1)
            return local_midnight(day, tz)
        at = dt.datetime.fromisoformat(value)
    except ValueError:
        raise problem from None
    if not FIRST_YEAR <= at.year <= LAST_YEAR:
        raise problem
    if at.tzinfo is None:
        at = at.replace(tzinfo=tz)
    return at.timestamp()


def local_midnight(day: dt.date, tz: dt.tzinfo) -> float:
    """The epoch of ``day``'s first instant in ``tz`` (a zone whose clocks skip midnight
    starts the day at the first time that exists)."""
    at = dt.datetime(day.year, day.month, day.day, tzinfo=tz)
    # A skipped midnight (e.g. America/Havana) reads back as another wall time.
    back = dt.datetime.fromtimestamp(at.timestamp(), tz)
    if back.date() != day:
        at = at + dt.timedelta(hours=1)
    return at.timestamp()


def iso(at: float | None, tz: dt.tzinfo) -> str | None:
    """Epoch seconds as ISO 8601 in ``tz`` with its offset, to the second."""
    if at is None:
        return None
    return dt.datetime.fromtimestamp(at, tz).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class Bucket:
    key: str  # ISO: the local date, or the local start with its offset
    label: str
    start: float
    end: float


class Buckets:
    """Local days or intervals of ``tz`` for UTC slots.

    Args:
        by: ``day`` or ``interval``.
        minutes: 15, 30 or 60 for intervals.
    """

    def __init__(self, by: str, tz: dt.tzinfo, minutes: int = 15) -> None:
        if by not in ("day", "interval"):
            raise InvalidInput("buckets are days or intervals", field="by")
        if minutes not in INTERVALS:
            raise InvalidInput("interval must be 15, 30 or 60 (minutes)", field="interval")
        self.by = by
        self.tz = tz
        self.size = minutes * 60
        self._cache: dict[int, Bucket] = {}

    def of_slot(self, slot: int) -> Bucket:
        found = self._cache.get(slot)
        if found is None:
            found = self._cache[slot] = self._compute(slot * SLOT)
        return found

    def of_time(self, at: float) -> Bucket:
        return self.of_slot(int(at // SLOT))

    def _compute(self, at: float) -> Bucket:
        local = dt.datetime.fromtimestamp(at, self.tz)
        if self.by == "day":
            day = local.date()
            start = local_midnight(day, self.tz)
            end = local_midnight(day + dt.timedelta(days=1), self.tz)
            return Bucket(day.isoformat(), day.isoformat(), start, end)
        offset = local.utcoffset() or dt.timedelta(0)
        wall = at + offset.total_seconds()
        start = wall - wall % self.size - offset.total_seconds()
        end = start + self.size
        # A change of offset inside the interval cuts it (a 30-minute shift, as on Lord
        # Howe, falls inside an hour): the bucket is the part on this side of the change,
        # so the half hour repeated in the autumn is a second row of its own and the hour
        # the spring shortens starts when its clock does. Changes are on quarter hours.
        slot = int(at // SLOT)
        low = slot
        while low * SLOT > start and self._offset((low - 1) * SLOT) == offset:
            low -= 1
        high = slot + 1
        while high * SLOT < end and self._offset(high * SLOT) == offset:
            high += 1
        start, end = max(start, low * SLOT), min(end, high * SLOT)
        first = dt.datetime.fromtimestamp(start, self.tz)
        return Bucket(
            first.isoformat(timespec="minutes"),
            first.strftime("%Y-%m-%d %H:%M"),
            start,
            end,
        )

    def _offset(self, at: float) -> dt.timedelta:
        return dt.datetime.fromtimestamp(at, self.tz).utcoffset() or dt.timedelta(0)

    def between(self, start: float, end: float) -> list[Bucket]:
        """Every bucket meeting ``[start, end)``, in order.

        Raises:
            InvalidInput: more than 10,000 of them.
        """
        span = self.size if self.by == "interval" else 86400
        if (end - start) / span > MAX_BUCKETS:
            raise InvalidInput(
                f"more than {MAX_BUCKETS} {self.by} rows; choose a shorter period", field="to"
            )
        out: list[Bucket] = []
        at = start
        while at < end:
            bucket = self.of_time(at)
            out.append(bucket)
            at = bucket.end
        return out

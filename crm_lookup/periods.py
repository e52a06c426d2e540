"""Dates typed on the command line or in the API: ISO dates and times, UTC by default."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from config.errors import InvalidInput


def parse_when(text: str, field: str = "from", *, end_of_day: bool = False) -> float:
    """``2026-11-22``, ``2026-11-22T09:30``, ``2026-11-22 09:30:00+03:00`` → epoch seconds.

    A bare date means its midnight UTC; with ``end_of_day`` the next midnight, so
    ``--to 2026-11-22`` includes that whole day.

    Raises:
        InvalidInput: not an ISO date or date-time.
    """
    value = (text or "").strip()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"--{field}: expected a date like 2026-11-22 or 2026-11-22T09:30, not {value!r}",
            field=field,
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if end_of_day and len(value) == 10:
        parsed += timedelta(days=1)
    return parsed.timestamp()

"""Export contacts to CSV, written to a temporary file and renamed into place."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config.errors import InvalidInput

if TYPE_CHECKING:
    from crm_lookup.store import Store

CONTACT_COLUMNS = (
    "id",
    "key",
    "direction",
    "caller",
    "dialed",
    "customer_id",
    "started_at",
    "arrived_at",
    "ivr_path",
    "ivr_result",
    "queue",
    "queued_at",
    "offered_at",
    "offers",
    "agent_id",
    "answered_at",
    "ended_at",
    "wrapped_at",
    "wait_seconds",
    "talk_seconds",
    "hold_seconds",
    "wrapup_seconds",
    "outcome",
    "disposition",
    "notes",
    "recording",
    "case_ids",
)


def _iso(column: str, value: Any) -> Any:
    # Times as ISO 8601 UTC: readable in a spreadsheet, exact to the millisecond.
    if column.endswith("_at") and isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).isoformat(timespec="milliseconds")
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    text = str(value)
    # A spreadsheet would run "=..." or "@..." as a formula; phone numbers keep their "+".
    if text[:1] in ("=", "@", "\t", "\r"):
        return "'" + text
    return text


def _discard(path: str) -> None:
    if os.path.exists(path):
        os.unlink(path)


async def export_contacts(
    store: Store,
    path: str | os.PathLike[str],
    start: float | None = None,
    end: float | None = None,
) -> int:
    """Write contacts started in ``[start, end)`` to a CSV file; returns the row count.

    Raises:
        InvalidInput: the directory does not exist or is not writable, or start >= end.
    """
    if start is not None and end is not None and start >= end:
        raise InvalidInput("--from must be before --to", field="from")
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".contacts-", suffix=".csv", dir=target.parent or ".")
    except OSError as exc:
        raise InvalidInput(f"cannot write into {target.parent}: {exc.strerror}") from None
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(CONTACT_COLUMNS)
            async for contact in store.contacts.between(start, end):
                data = contact.to_json()
                writer.writerow([_cell(_iso(c, data[c])) for c in CONTACT_COLUMNS])
                count += 1
        os.replace(tmp, target)
    except BaseException:
        _discard(tmp)
        raise
    return count

"""Export contacts to CSV, written to a temporary file and renamed into place."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config.errors import InvalidInput
from crm_lookup.ivr_text import Translate, describe_path

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


def _iso(column: str, value: Any, tz: dt.tzinfo = UTC) -> Any:
    # Times as ISO 8601 in the zone asked for, with its offset: readable in a spreadsheet,
    # exact to the millisecond; durations to a tenth of a second.
    if column.endswith("_at") and isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz).isoformat(timespec="milliseconds")
    if column.endswith("_seconds") and isinstance(value, float):
        return round(value, 1)
    return value


# A spreadsheet runs a cell as a formula when its first visible character is one of these
# (the full-width forms too, which some locales fold to ASCII); a leading tab or line break
# hides it from a reader. Plain numbers and phone numbers are values, not formulas.
FORMULA_STARTS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
HIDING_STARTS = frozenset("\t\r\n")
PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")


def spreadsheet_safe(text: str) -> str:
    """``text`` as a CSV cell no spreadsheet will evaluate: a quote in front of anything
    that could start a formula (``=``, ``+``, ``-``, ``@``, after any spaces), unless the
    whole cell is a plain number such as ``-3.5`` or ``+15550001111``."""
    if not text:
        return text
    first = text.lstrip(" ")[:1]
    if text[0] in HIDING_STARTS or (first in FORMULA_STARTS and not PLAIN_NUMBER.fullmatch(text)):
        return "'" + text
    return text


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return spreadsheet_safe(json.dumps(value, ensure_ascii=False))
    return spreadsheet_safe(str(value))


def _discard(path: str) -> None:
    if os.path.exists(path):
        os.unlink(path)


async def export_contacts(
    store: Store,
    path: str | os.PathLike[str],
    start: float | None = None,
    end: float | None = None,
    *,
    tz: dt.tzinfo = UTC,
    translate: Translate | None = None,
) -> int:
    """Write contacts started in ``[start, end)`` to a CSV file; returns the row count.
    Times are ISO 8601 in ``tz``; with ``translate`` (the console catalogue's
    ``t(key, **values)``) the IVR path is in words, else its steps as JSON.

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
                if translate is not None:
                    data["ivr_path"] = describe_path(contact.ivr_path, translate)
                writer.writerow([_cell(_iso(c, data[c], tz)) for c in CONTACT_COLUMNS])
                count += 1
        os.replace(tmp, target)
    except BaseException:
        _discard(tmp)
        raise
    return count

"""Reports and contact lists as CSV or XLSX files (bytes), fit for a spreadsheet.

Times are ISO 8601 in the reader's zone, with the offset; durations in seconds to a
tenth; the IVR path in words (:mod:`crm_lookup.ivr_text`). Nothing a caller or an
operator typed can run as a formula: CSV cells go through
:func:`crm_lookup.export.spreadsheet_safe`, XLSX text cells are typed as text (a text
cell is never evaluated, whatever it starts with) and carry the same guard, so a sheet
saved again as CSV stays safe.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from crm_lookup.export import spreadsheet_safe
from crm_lookup.ivr_text import Translate, describe_path
from crm_lookup.models import Contact
from crm_lookup.report_measures import STATES
from crm_lookup.report_time import iso

Table = tuple[list[str], list[list[Any]]]
FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    return value


def report_table(answer: Mapping[str, Any]) -> Table:
    """A report answer (crm_lookup.reports.run_report) as header and rows; an agent
    row's state time is one column per state and not-ready reason."""
    measures = [m for m in answer["measures"] if m != "state_seconds"]
    timed = answer["by"] in ("day", "interval")
    has_states = "state_seconds" in answer["measures"]
    reasons: list[str] = sorted(
        {r for row in answer["rows"] for r in row.get("state_seconds", {}).get("not_ready", {})}
    )
    header = [answer["by"], "label", *(["start", "end"] if timed else []), *measures]
    if has_states:
        header += [f"{s}_seconds" for s in STATES if s != "not_ready"]
        header += [f"not_ready_seconds:{r or '-'}" for r in reasons]
    rows = []
    for row in answer["rows"]:
        line = [row["key"], row["label"]]
        if timed:
            line += [row["filter"]["from"], row["filter"]["to"]]
        line += [_plain(row.get(m)) for m in measures]
        if has_states:
            states = row.get("state_seconds", {})
            line += [states.get(s, 0.0) for s in STATES if s != "not_ready"]
            line += [states.get("not_ready", {}).get(r, 0.0) for r in reasons]
        rows.append(line)
    totals = answer.get("totals") or {}
    rows.append(
        ["total", "", *(["", ""] if timed else []), *(_plain(totals.get(m)) for m in measures)]
    )
    return header, rows


CONTACT_COLUMNS = (
    "contact_id",
    "queued_at",
    "channel",
    "queue",
    "agent_id",
    "agent_name",
    "direction",
    "caller",
    "dialed",
    "customer_id",
    "outcome",
    "disposition",
    "wait_seconds",
    "talk_seconds",
    "hold_seconds",
    "wrapup_seconds",
    "ivr_path",
    "arrived_at",
    "answered_at",
    "first_response_at",
    "ended_at",
    "wrapped_at",
    "notes",
    "case_ids",
)


def contact_json(
    contact: Contact, tz: dt.tzinfo, t: Translate, names: Mapping[str, str]
) -> dict[str, Any]:
    """One contact as the drill-down shows it: times ISO in ``tz``, the IVR path in
    words (``ivr_text``; the steps themselves stay in ``ivr_steps``), the agent's name,
    ``recorded`` instead of the recording's reference."""
    data = contact.to_json()
    out: dict[str, Any] = {"contact_id": contact.id, **data}
    for key, value in data.items():
        if key.endswith("_at"):
            out[key] = iso(value, tz)
        elif key.endswith("_seconds") and isinstance(value, float):
            out[key] = round(value, 1)
    out["ivr_steps"] = data["ivr_path"]
    out["ivr_path"] = describe_path(contact.ivr_path, t)
    out["agent_name"] = names.get(contact.agent_id) or contact.agent_id or ""
    # where the recording lies (a file name, a voicemail's path on the host) stays on the
    # server: the list says only whether there is one; its page plays it
    out["recorded"] = bool(out.pop("recording", ""))
    return out


def contact_table(rows: Sequence[Mapping[str, Any]]) -> Table:
    """Drill-down contacts (:func:`contact_json`) as header and rows."""
    table = []
    for row in rows:
        line = []
        for column in CONTACT_COLUMNS:
            value = row.get(column)
            if column == "case_ids":
                value = " ".join(str(c) for c in value or ())
            line.append(value)
        table.append(line)
    return list(CONTACT_COLUMNS), table


def _text(value: Any) -> str:
    if value is None:
        return ""
    return spreadsheet_safe(str(value))


def to_csv(table: Table) -> bytes:
    """UTF-8 with a byte-order mark (so a spreadsheet reads it as UTF-8)."""
    header, rows = table
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_text(h) for h in header])
    for row in rows:
        writer.writerow(
            ["" if v is None else v if isinstance(v, int | float) else _text(v) for v in row]
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(table: Table, title: str = "report") -> bytes:
    """One sheet: a bold header row, numbers as numbers, text as text."""
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.styles import Font  # type: ignore[import-untyped]

    header, rows = table
    book = Workbook(write_only=False)
    sheet = book.active
    sheet.title = "".join(c for c in title if c.isalnum() or c in " -_")[:31] or "report"
    sheet.append([_text(h) for h in header])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([None] * len(row))
        for col, value in enumerate(row, start=1):
            cell = sheet.cell(row=sheet.max_row, column=col)
            if value is None:
                continue
            if isinstance(value, bool):
                cell.value = int(value)
            elif isinstance(value, int | float):
                cell.value = value
            else:
                cell.value = _text(value)
                cell.data_type = "s"  # never "f", whatever the text starts with
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def render(table: Table, fmt: str, title: str = "report") -> bytes:
    writers: dict[str, Callable[[Table], bytes]] = {
        "csv": to_csv,
        "xlsx": lambda tb: to_xlsx(tb, title),
    }
    return writers[fmt](table)

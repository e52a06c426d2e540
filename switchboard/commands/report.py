"""``switchboard report``: queue / agent / day / interval statistics as a table or CSV."""

from __future__ import annotations

import argparse
import csv
import sys

from config.settings import Settings
from crm_lookup.export import spreadsheet_safe
from crm_lookup.periods import parse_when
from crm_lookup.reports import FIELDS, ReportRow, build_report
from switchboard.commands.crm import note_empty, with_store

HEADERS = {
    "key": "",
    "offered": "offered",
    "answered": "answered",
    "abandoned": "abandoned",
    "short_abandoned": "short ab.",
    "other": "other",
    "lost": "lost",
    "asa": "ASA s",
    "aht": "AHT s",
    "service_level": "SL %",
    "longest_wait": "max wait s",
    "evaluations": "evals",
    "quality_score": "QA %",
}
AGENT_FIELDS = ("evaluations", "quality_score")  # per-agent rows only


def fields_for(by: str) -> tuple[str, ...]:
    """The columns of a report grouped ``by``."""
    return FIELDS if by == "agent" else tuple(f for f in FIELDS if f not in AGENT_FIELDS)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("report", help="contact statistics for a period")
    parser.add_argument(
        "--from", dest="start", required=True, metavar="DATE", help="first day (UTC) or ISO time"
    )
    parser.add_argument(
        "--to", dest="end", required=True, metavar="DATE", help="last day (inclusive) or ISO time"
    )
    parser.add_argument("--by", choices=["queue", "agent", "day", "interval"], default="queue")
    parser.add_argument(
        "--interval",
        type=int,
        choices=[15, 30, 60],
        default=15,
        help="minutes per row with --by interval",
    )
    parser.add_argument("--format", choices=["table", "csv"], default="table")
    parser.add_argument(
        "--sl",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="service-level threshold (answered within)",
    )
    parser.add_argument(
        "--short-abandon",
        type=float,
        default=None,
        metavar="SECONDS",
        help="abandons quicker than this are counted apart"
        " (default: routing.short_abandon_seconds)",
    )
    parser.set_defaults(handler=run_report)


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def render_table(rows: list[ReportRow], by: str) -> str:
    fields = fields_for(by)
    header = [by if f == "key" else HEADERS[f] for f in fields]
    cells = [[_fmt(getattr(r, f)) for f in fields] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    lines = [
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w)
            for i, (h, w) in enumerate(zip(header, widths, strict=True))
        )
    ]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    if not rows:
        lines.append("(no contacts in this period)")
    return "\n".join(lines)


def run_report(args: argparse.Namespace, settings: Settings) -> int:
    start = parse_when(args.start, "from")
    end = parse_when(args.end, "to", end_of_day=True)
    short = (
        settings.routing.short_abandon_seconds if args.short_abandon is None else args.short_abandon
    )
    rows = with_store(
        settings,
        lambda s: build_report(
            s,
            start,
            end,
            args.by,
            interval_minutes=args.interval,
            sl_threshold=args.sl,
            short_abandon=short,
        ),
        existing=True,
    )
    if args.format == "csv":
        writer = csv.writer(sys.stdout)
        fields = fields_for(args.by)
        writer.writerow([args.by if f == "key" else f for f in fields])
        for r in rows:
            data = r.to_json()
            # Queue names and agent ids come from files and callers' paths: never formulas.
            writer.writerow(
                ["" if data[f] is None else spreadsheet_safe(str(data[f])) for f in fields]
            )
    else:
        print(render_table(rows, args.by))
    if not any(r.offered or r.other for r in rows):
        note_empty(settings, " in this period")
    return 0

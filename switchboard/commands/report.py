"""``switchboard report``: queue / agent / day / interval / disposition / channel statistics as a
table or CSV, days and intervals in a time zone (crm_lookup.reports.run_report)."""

from __future__ import annotations

import argparse
import csv
import sys
from typing import Any

from config.settings import Settings
from crm_lookup.contacts import CHANNELS
from crm_lookup.export import spreadsheet_safe
from crm_lookup.report_time import moment, zone
from crm_lookup.reports import REPORT_GROUPINGS, ReportQuery, run_report
from switchboard.commands.crm import add_demo_flag, note_empty, settings_for, with_store

# (measure, table header, how shown); service level and occupancy in percent
COLUMNS: tuple[tuple[str, str], ...] = (
    ("offered", "offered"),
    ("answered", "answered"),
    ("abandoned", "abandoned"),
    ("short_abandoned", "short ab."),
    ("service_level", "SL %"),
    ("asa", "ASA s"),
    ("aht", "AHT s"),
    ("avg_wait", "avg wait s"),
    ("longest_wait", "max wait s"),
    ("transfers", "transfers"),
    ("callbacks", "callbacks"),
    ("other", "other"),
    ("first_response", "1st resp. s"),
)
AGENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("calls", "calls"),
    ("talk_seconds", "talk s"),
    ("hold_seconds", "hold s"),
    ("wrapup_seconds", "wrap-up s"),
    ("logged_in_seconds", "logged in s"),
    ("occupancy", "occup. %"),
    ("evaluations", "evals"),
    ("quality_score", "QA %"),
)
PERCENT = {"service_level", "occupancy"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("report", help="contact statistics for a period")
    parser.add_argument(
        "--from",
        dest="start",
        required=True,
        metavar="DATE",
        help="first day (in --tz) or ISO time",
    )
    parser.add_argument(
        "--to", dest="end", required=True, metavar="DATE", help="last day (inclusive) or ISO time"
    )
    parser.add_argument("--by", choices=REPORT_GROUPINGS, default="queue")
    parser.add_argument(
        "--interval",
        type=int,
        choices=[15, 30, 60],
        default=15,
        help="minutes per row with --by interval",
    )
    parser.add_argument(
        "--tz",
        metavar="ZONE",
        default=None,
        help="IANA time zone of days and intervals (default: site.timezone)",
    )
    parser.add_argument(
        "--empty",
        action="store_true",
        help="list intervals without contacts too (days are always listed)",
    )
    parser.add_argument("--queue", default=None, help="only this queue")
    parser.add_argument("--agent", default=None, help="only this agent id")
    parser.add_argument(
        "--channel", choices=CHANNELS, default=None, help="only this channel's contacts"
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
    add_demo_flag(parser)
    parser.set_defaults(handler=run_report_command)


def _fmt(value: object, measure: str = "") -> str:
    if value is None:
        return "-"
    if measure in PERCENT and isinstance(value, int | float):
        return f"{100 * value:.1f}"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def columns_for(by: str) -> tuple[tuple[str, str], ...]:
    return COLUMNS + (AGENT_COLUMNS if by == "agent" else ())


def render_table(answer: dict[str, Any]) -> str:
    """The answer's rows as a fixed-width table, a totals line, calls in progress; an
    empty period is the header and a line saying so."""
    by = answer["by"]
    cols = columns_for(by)
    header = [by, *(h for _, h in cols)]
    cells = [[str(r["label"]), *(_fmt(r.get(m), m) for m, _ in cols)] for r in answer["rows"]]
    if answer["rows"]:
        cells.append(["total", *(_fmt(answer["totals"].get(m), m) for m, _ in COLUMNS)])
        cells[-1] += [""] * (len(header) - len(cells[-1]))
    widths = [max([len(h), *(len(c[i]) for c in cells)]) for i, h in enumerate(header)]

    def line(row: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    lines = [line(header), "  ".join("-" * w for w in widths)]
    lines += [line(c) for c in cells]
    if not answer["rows"]:
        lines.append("(no contacts in this period)")
    busy = answer["in_progress"]
    if busy["contacts"]:
        lines.append(
            f"in progress (in no figure above): {busy['contacts']}"
            f" ({busy['waiting']} waiting, {busy['talking']} talking)"
        )
    lines.append(f"period {answer['from']} to {answer['to']} ({answer['tz']})")
    return "\n".join(lines)


def run_report_command(args: argparse.Namespace, settings: Settings) -> int:
    settings = settings_for(args, settings)
    tz = zone(args.tz or settings.site.timezone)
    start = moment(args.start, "from", tz)
    end = moment(args.end, "to", tz, end_of_day=True)
    short = (
        settings.routing.short_abandon_seconds if args.short_abandon is None else args.short_abandon
    )
    query = ReportQuery(
        by=args.by,
        start=start,
        end=end,
        tz=tz,
        interval=args.interval,
        queue=args.queue,
        agent=args.agent,
        channel=args.channel,
        empty=True if args.empty else None,
        sl_threshold=args.sl,
        short_abandon=short,
    )
    answer = with_store(settings, lambda s: run_report(s, query), existing=True)
    if args.format == "csv":
        writer = csv.writer(sys.stdout)
        measures = [m for m, _ in columns_for(args.by)]
        timed = args.by in ("day", "interval")
        writer.writerow([args.by, *(["start", "end"] if timed else []), *measures])
        for row in answer["rows"]:
            times = [row["filter"]["from"], row["filter"]["to"]] if timed else []
            # Queue names and agent ids come from files and callers' paths: never formulas.
            writer.writerow(
                [
                    spreadsheet_safe(str(row["key"])),
                    *times,
                    *("" if row.get(m) is None else row[m] for m in measures),
                ]
            )
    else:
        print(render_table(answer))
    totals = answer["totals"]
    if not (totals["offered"] or answer["in_progress"]["contacts"]):
        note_empty(settings, " in this period")
    return 0

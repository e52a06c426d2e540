"""``switchboard crm``: import customers, export contacts, merge duplicates, seed the demo."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from config.errors import InvalidInput, NotFound
from config.settings import Settings
from crm_lookup.demo import seed_demo
from crm_lookup.export import export_contacts
from crm_lookup.importer import import_customers
from crm_lookup.models import TIERS
from crm_lookup.store import Store, open_store
from switchboard.demo_paths import DEFAULT_DATA_DIR, DEMO_DATABASE_FILE

T = TypeVar("T")
MAX_LISTED_BAD_ROWS = 100


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("crm", help="customer directory and contact history")
    inner = parser.add_subparsers(dest="crm_command", metavar="ACTION", required=True)

    imp = inner.add_parser(
        "import",
        help="import customers from CSV (name, phone(s), company, tier, language, email,"
        " account, tags, notes)",
    )
    imp.add_argument("file", metavar="FILE.csv")
    imp.add_argument("--strict", action="store_true", help="abort on the first bad row")
    imp.add_argument(
        "--update",
        action="store_true",
        help="a row whose phone or account is a stored customer's updates that customer"
        " (the file's columns replace the stored ones; phones and accounts are added)",
    )
    imp.add_argument("--quiet", action="store_true", help="no progress bar")
    imp.set_defaults(handler=run_import)

    exp = inner.add_parser("export-contacts", help="write contacts to a CSV file")
    exp.add_argument("file", metavar="FILE.csv")
    exp.add_argument("--from", dest="start", metavar="DATE", help="first day (UTC) or ISO time")
    exp.add_argument("--to", dest="end", metavar="DATE", help="last day (inclusive) or ISO time")
    exp.add_argument(
        "--tz",
        metavar="ZONE",
        default=None,
        help="IANA time zone of the dates and of the times written (default: site.timezone)",
    )
    add_demo_flag(exp)
    exp.set_defaults(handler=run_export)

    merge = inner.add_parser("merge", help="merge a duplicate customer into another")
    merge.add_argument("keep", type=int, metavar="KEEP_ID")
    merge.add_argument("duplicate", type=int, metavar="DUP_ID")
    merge.set_defaults(handler=run_merge)

    demo = inner.add_parser("seed-demo", help="add the demo customers (idempotent)")
    demo.set_defaults(handler=run_seed_demo)


def with_store(
    settings: Settings, work: Callable[[Store], Awaitable[T]], *, existing: bool = False
) -> T:
    """Run ``work`` on the configured store.

    Args:
        existing: the command only reads: a missing database is an error (naming the
            demo's, if there is one), not a new empty file.

    Raises:
        NotFound: ``existing`` and there is no SQLite database file.
    """
    where = settings.database_url()
    if existing and where.scheme == "sqlite" and not Path(where.path).exists():
        raise NotFound(f"no database at {where.path} (database.path){demo_hint(settings)}")

    async def main() -> T:
        store = await open_store(
            settings.database_target(),
            default_region=settings.crm.default_region,
            pool_min_size=settings.database.pool_min_size,
            pool_max_size=settings.database.pool_max_size,
        )
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(main())


DEMO_DATABASE = str(DEFAULT_DATA_DIR / DEMO_DATABASE_FILE)


def demo_hint(settings: Settings) -> str:
    """Where the demo's data is, when it exists and is not the configured database."""
    demo = settings.path(DEMO_DATABASE)
    if not demo.exists() or str(demo) == settings.database_url().path:
        return ""
    return (
        f"; the demo's data is in {demo}: add --demo, or"
        f" SWITCHBOARD_DATABASE__PATH={demo} switchboard ..."
    )


def add_demo_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--demo",
        action="store_true",
        help=f"read the database `switchboard demo` writes ({DEMO_DATABASE}) instead of"
        " the configured one",
    )


def settings_for(args: argparse.Namespace, settings: Settings) -> Settings:
    """The settings a reading command uses: with ``--demo``, the demo's own database
    (the one ``switchboard demo`` writes with its default ``--data-dir``)."""
    if not getattr(args, "demo", False):
        return settings
    import dataclasses

    demo = str(settings.path(DEMO_DATABASE))
    return dataclasses.replace(
        settings, database=dataclasses.replace(settings.database, url="", path=demo)
    )


def note_empty(settings: Settings, what: str) -> None:
    """Nothing found: say which database was read, and where the demo keeps its own (on
    stderr, so CSV output stays clean)."""
    where = settings.database_url().display()
    hint = demo_hint(settings)
    if not hint and str(settings.path(DEMO_DATABASE)) != settings.database_url().path:
        hint = (
            f"; `switchboard demo` writes to its own database, {settings.path(DEMO_DATABASE)}"
            " (read it with --demo)"
        )
    print(f"note: no contacts in {where}{what}{hint}", file=sys.stderr)


class ProgressBar:
    """``[#########-----------]  45%  450000/1000000 rows`` on stderr, redrawn in place."""

    def __init__(self, width: int = 30) -> None:
        self.width = width
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last < 0.1:
            return
        self.last = now
        fraction = done / total if total else 1.0
        filled = int(self.width * fraction)
        bar = "#" * filled + "-" * (self.width - filled)
        end = "\n" if done >= total else ""
        sys.stderr.write(f"\r[{bar}] {fraction:4.0%}  {done}/{total} rows{end}")
        sys.stderr.flush()


def known_tiers(settings: Settings) -> list[str]:
    """The CRM's tiers plus those the queue file gives a priority to (a tier nothing
    routes on would be a typo)."""
    from routing.acd.config import load_queue_file

    tiers = list(TIERS)
    for queue in load_queue_file(settings.path(settings.routing.queues_file)).queues:
        for tier in queue.tier_priority:
            if tier.lower() not in {t.lower() for t in tiers}:
                tiers.append(tier)
    return tiers


def run_import(args: argparse.Namespace, settings: Settings) -> int:
    progress = None if args.quiet else ProgressBar()
    tiers = known_tiers(settings)
    report = with_store(
        settings,
        lambda s: import_customers(
            s, args.file, strict=args.strict, progress=progress, update=args.update, tiers=tiers
        ),
    )
    done = f"imported {report.imported}"
    if args.update:
        done += f", updated {report.updated}"
    print(
        f"{done} of {report.rows} rows in {report.seconds:.1f} s;"
        f" {len(report.bad)} bad rows not imported"
    )
    for bad in report.bad[:MAX_LISTED_BAD_ROWS]:
        print(f"  row {bad.row}: {bad.reason}")
    if len(report.bad) > MAX_LISTED_BAD_ROWS:
        print(f"  ... and {len(report.bad) - MAX_LISTED_BAD_ROWS} more")
    if not args.update and any("already belongs to customer" in b.reason for b in report.bad):
        print("  (rows of customers already stored: run again with --update to update them)")
    return 1 if report.bad else 0


def run_export(args: argparse.Namespace, settings: Settings) -> int:
    from agent_console.catalogue import translator
    from crm_lookup.report_time import moment, zone

    settings = settings_for(args, settings)
    tz = zone(args.tz or settings.site.timezone)
    start = moment(args.start, "from", tz) if args.start else None
    end = moment(args.end, "to", tz, end_of_day=True) if args.end else None
    english = translator("en")
    count = with_store(
        settings,
        lambda s: export_contacts(s, args.file, start, end, tz=tz, translate=english),
        existing=True,
    )
    print(f"exported {count} contacts to {args.file}")
    if count == 0:
        note_empty(settings, " in this period" if start or end else "")
    return 0


def run_merge(args: argparse.Namespace, settings: Settings) -> int:
    if args.keep == args.duplicate:
        raise InvalidInput("KEEP_ID and DUP_ID must differ")
    customer = with_store(
        settings, lambda s: s.customers.merge(args.keep, args.duplicate, actor="cli")
    )
    print(
        f"merged customer {args.duplicate} into {customer.id} ({customer.name}):"
        f" phones {', '.join(customer.phones) or '-'}"
    )
    return 0


def run_seed_demo(args: argparse.Namespace, settings: Settings) -> int:
    async def work(store: Store) -> int:
        from switchboard.demo_quality import seed_evaluations

        await seed_demo(store)
        await seed_evaluations(store, settings)
        return await store.customers.count()

    count = with_store(settings, work)
    print(f"demo customers seeded; {count} customers in the directory")
    return 0

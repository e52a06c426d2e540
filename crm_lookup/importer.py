"""CSV import of customers: all good rows or (``strict``) nothing, never half a file.

Columns (a header row is required; names are case-insensitive, order free):

``name`` (required), ``phone`` or ``phones`` (one or more numbers separated by ``;`` or
``|``; national numbers use the default region; an extension like ``x12`` is kept),
``company``, ``tier`` (standard, preferred, gold, VIP, or a tier the caller allows: the
CLI adds those the queue file gives a priority to; another word is a bad row),
``language`` (en, ru, pt-br, ...), ``email``, ``account`` or ``accounts`` (letters, digits
and ``-``; several separated by ``;``), ``tags`` (separated by ``;`` or ``,``), ``notes``.
Unknown columns are refused (a typo would silently drop data).

A row is bad when a field does not validate, or when one of its phones or accounts is
already stored or already used by an earlier row of the file; the report gives the row
number (the header is row 1, as in a spreadsheet) and the reason. The whole import runs
in one transaction, written in batches (``executemany`` on SQLite, ``COPY`` on
PostgreSQL): a crash or a ``strict``
error rolls everything back.

``update`` mode (``crm import --update``) makes re-importing a file safe: a row whose
phones or accounts belong to one stored customer updates that customer instead of being
refused. The file's columns replace the stored values (columns it lacks are kept); its
phones and accounts are added to the customer's, none removed. A row whose numbers
belong to two different customers is bad (merge them first). Other rows are added.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import json
import os
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from config.errors import InvalidInput, NotFound
from crm_lookup.customers import CustomerFields, clean_customer, name_keys
from crm_lookup.database import Dialect, Transaction
from crm_lookup.models import TIERS

if TYPE_CHECKING:
    from crm_lookup.store import Store

COLUMNS = {
    "name": "name",
    "phone": "phones",
    "phones": "phones",
    "company": "company",
    "tier": "tier",
    "language": "language",
    "email": "email",
    "account": "accounts",
    "accounts": "accounts",
    "tags": "tags",
    "notes": "notes",
}

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class BadRow:
    row: int
    reason: str


@dataclass(slots=True)
class ImportReport:
    """The outcome: rows read, customers imported, rows refused (row number + reason)."""

    rows: int = 0
    imported: int = 0
    updated: int = 0
    bad: list[BadRow] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "imported": self.imported,
            "updated": self.updated,
            "bad": [{"row": b.row, "reason": b.reason} for b in self.bad],
            "seconds": round(self.seconds, 3),
        }


class StrictImportError(InvalidInput):
    """``--strict``: the first bad row aborted the import; nothing was written."""

    def __init__(self, bad: BadRow) -> None:
        self.bad = bad
        super().__init__(f"row {bad.row}: {bad.reason} (strict: nothing imported)", field="row")


def _split(value: str, seps: str) -> list[str]:
    for sep in seps[1:]:
        value = value.replace(sep, seps[0])
    return [v.strip() for v in value.split(seps[0]) if v.strip()]


def count_rows(path: str | os.PathLike[str]) -> int:
    """Data lines in the file (for the progress bar; quoted newlines make it approximate)."""
    lines = 0
    last = b"\n"
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1
    return max(0, lines - 1)


def _header(reader: Iterator[list[str]]) -> list[str | None]:
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput("the CSV file is empty; expected a header row", field="header") from None
    mapped: list[str | None] = []
    unknown = []
    for name in header:
        key = name.strip().lower()
        if not key:
            mapped.append(None)
        elif key in COLUMNS:
            mapped.append(COLUMNS[key])
        else:
            unknown.append(name.strip())
    if unknown:
        raise InvalidInput(
            f"unknown column(s) {', '.join(unknown)}; expected {', '.join(sorted(COLUMNS))}",
            field="header",
        )
    if "name" not in mapped:
        raise InvalidInput("the header has no name column", field="header")
    targets = [m for m in mapped if m]
    if len(targets) != len(set(targets)):
        raise InvalidInput("a column appears twice in the header", field="header")
    return mapped


def check_tier(tier: str, allowed: Collection[str]) -> str:
    """The allowed tier ``tier`` names, in the allowed spelling.

    Raises:
        InvalidInput: not one of ``allowed`` (a typo would route a VIP as nobody).
    """
    for known in allowed:
        if tier.lower() == known.lower():
            return known
    raise InvalidInput(f"tier {tier[:40]!r} is not one of {', '.join(allowed)}", field="tier")


def parse_row(
    mapped: list[str | None],
    values: list[str],
    region: str,
    tiers: Collection[str] = TIERS,
) -> CustomerFields:
    """One CSV record to validated fields. Raises InvalidInput naming the field."""
    if len(values) > len(mapped):
        raise InvalidInput(f"{len(values)} fields but the header has {len(mapped)}")
    raw: dict[str, str] = {}
    for key, value in zip(mapped, values, strict=False):
        if key:
            raw[key] = value
    fields = _clean(raw, region)
    tier = check_tier(fields.tier, tiers)
    return fields if tier == fields.tier else dataclasses.replace(fields, tier=tier)


def _clean(raw: dict[str, str], region: str) -> CustomerFields:
    return clean_customer(
        raw.get("name", ""),
        _split(raw.get("phones", ""), ";|"),
        company=raw.get("company", ""),
        tier=raw.get("tier", ""),
        language=raw.get("language", ""),
        email=raw.get("email", ""),
        accounts=_split(raw.get("accounts", ""), ";|"),
        tags=_split(raw.get("tags", ""), ";,|"),
        notes=raw.get("notes", ""),
        region=region,
    )


async def _taken(
    db: Transaction, dialect: Dialect, table: str, column: str, values: list[str]
) -> dict[str, int]:
    if not values:
        return {}
    # One parameter however long the batch (SQLite bounds the number of parameters).
    rows = await db.fetchall(
        f"SELECT {column}, customer_id FROM {table} WHERE {column} IN {dialect.json_values()}",
        (json.dumps(values),),
    )
    return {r[0]: r[1] for r in rows}


@dataclass(slots=True)
class _Batcher:
    """What the batches of one import share: the connection, the file so far, the mode."""

    db: Transaction
    dialect: Dialect
    report: ImportReport
    strict: bool
    update: bool
    # Customer columns the file has: an update replaces these and keeps the others.
    columns: frozenset[str]
    next_id: int
    seen_phones: set[str] = field(default_factory=set)
    seen_accounts: set[str] = field(default_factory=set)
    seen_customers: set[int] = field(default_factory=set)

    def refuse(self, row_no: int, reason: str) -> None:
        bad = BadRow(row_no, reason)
        if self.strict:
            raise StrictImportError(bad)
        self.report.bad.append(bad)

    def _owner(
        self, f: CustomerFields, phones_taken: dict[str, int], accounts_taken: dict[str, int]
    ) -> tuple[int | None, str]:
        """(the stored customer the row updates, or None; the reason it is bad, or "")."""
        owners: dict[int, str] = {}
        for p in f.phones:
            if p.e164 in self.seen_phones:
                return None, f"phone {p.e164} already used by an earlier row"
            if p.e164 in phones_taken:
                owners.setdefault(phones_taken[p.e164], f"phone {p.e164}")
        for a in f.accounts:
            if a in self.seen_accounts:
                return None, f"account {a} already used by an earlier row"
            if a in accounts_taken:
                owners.setdefault(accounts_taken[a], f"account {a}")
        if not owners:
            return None, ""
        if not self.update:
            cid, what = next(iter(owners.items()))
            return None, f"{what} already belongs to customer {cid}"
        if len(owners) > 1:
            ids = " and ".join(str(c) for c in sorted(owners))
            return None, f"its numbers belong to customers {ids}; join them first (crm merge)"
        owner = next(iter(owners))
        if owner in self.seen_customers:
            return None, f"customer {owner} already updated by an earlier row"
        return owner, ""

    async def flush(self, batch: list[tuple[int, CustomerFields]]) -> None:
        """Check a batch against the database and the file so far, write the good rows."""
        phones_taken = await _taken(
            self.db, self.dialect, "phones", "phone", [p.e164 for _, f in batch for p in f.phones]
        )
        accounts_taken = await _taken(
            self.db, self.dialect, "accounts", "account", [a for _, f in batch for a in f.accounts]
        )
        now = time.time()
        customers: list[tuple[Any, ...]] = []
        updates: list[tuple[int, CustomerFields]] = []
        phones: list[tuple[Any, ...]] = []
        accounts: list[tuple[Any, ...]] = []
        for row_no, f in batch:
            owner, reason = self._owner(f, phones_taken, accounts_taken)
            if reason:
                self.refuse(row_no, reason)
                continue
            self.seen_phones.update(p.e164 for p in f.phones)
            self.seen_accounts.update(f.accounts)
            if owner is not None:
                self.seen_customers.add(owner)
                updates.append((owner, f))
                continue
            cid = self.next_id
            self.next_id += 1
            customers.append(
                (
                    cid,
                    f.name,
                    f.company,
                    f.tier,
                    f.language,
                    f.email,
                    json.dumps(list(f.tags)),
                    f.notes,
                    now,
                    now,
                    *name_keys(f.name),
                )
            )
            phones += [(p.e164, cid, p.extension, i) for i, p in enumerate(f.phones)]
            accounts += [(a, cid, i) for i, a in enumerate(f.accounts)]
        await self.db.insert_rows("customers", CUSTOMER_COLUMNS, customers)
        await self.db.insert_rows(
            "phones", ("phone", "customer_id", "extension", "position"), phones
        )
        await self.db.insert_rows("accounts", ("account", "customer_id", "position"), accounts)
        await self._apply_updates(updates, now)
        self.report.imported += len(customers)
        self.report.updated += len(updates)

    async def _apply_updates(self, updates: list[tuple[int, CustomerFields]], now: float) -> None:
        if not updates:
            return
        columns = [c for c in UPDATABLE_COLUMNS if c in self.columns]
        if "name" in columns:
            columns += _NAME_KEY_COLUMNS
        assignments = "".join(f"{c} = ?, " for c in columns)
        await self.db.executemany(
            f"UPDATE customers SET {assignments}updated_at = ? WHERE id = ?",
            [(*(_column_value(f, c) for c in columns), now, cid) for cid, f in updates],
        )
        # New numbers go after the customer's own; the ones it has already stay as they are.
        await self.db.executemany(
            "INSERT INTO phones(phone, customer_id, extension, position)"
            " VALUES (?, ?, ?, (SELECT coalesce(max(position), -1) + 1 FROM phones"
            " WHERE customer_id = ?)) ON CONFLICT DO NOTHING",
            [(p.e164, cid, p.extension, cid) for cid, f in updates for p in f.phones],
        )
        await self.db.executemany(
            "INSERT INTO accounts(account, customer_id, position)"
            " VALUES (?, ?, (SELECT coalesce(max(position), -1) + 1 FROM accounts"
            " WHERE customer_id = ?)) ON CONFLICT DO NOTHING",
            [(a, cid, cid) for cid, f in updates for a in f.accounts],
        )


CUSTOMER_COLUMNS = (
    "id",
    "name",
    "company",
    "tier",
    "language",
    "email",
    "tags",
    "notes",
    "created_at",
    "updated_at",
    "name_key",
    "surname_key",
)
# Customer columns an update may replace (phones and accounts are only ever added).
UPDATABLE_COLUMNS = ("name", "company", "tier", "language", "email", "tags", "notes")
# Written with the name whenever the name is (crm_lookup.customers.name_keys).
_NAME_KEY_COLUMNS = ("name_key", "surname_key")


def _column_value(f: CustomerFields, column: str) -> Any:
    if column in _NAME_KEY_COLUMNS:
        return name_keys(f.name)[_NAME_KEY_COLUMNS.index(column)]
    return json.dumps(list(f.tags)) if column == "tags" else getattr(f, column)


def _open_text(path: str | os.PathLike[str]) -> TextIO:
    # A local file read in chunks by the csv module: blocking reads are short.
    return open(path, encoding="utf-8-sig", newline="")


async def import_customers(
    store: Store,
    path: str | os.PathLike[str],
    *,
    strict: bool = False,
    progress: Progress | None = None,
    batch_size: int = 5000,
    actor: str = "import",
    update: bool = False,
    tiers: Collection[str] = TIERS,
) -> ImportReport:
    """Import customers from a CSV file (columns in this module's docstring).

    Args:
        store: the open store.
        path: the CSV file (UTF-8, a BOM is fine).
        strict: abort on the first bad row, writing nothing.
        progress: called as ``progress(rows_done, rows_total)`` after each batch.
        batch_size: rows per batch written.
        actor: who is importing, for the audit log.
        update: rows of stored customers (by phone or account) update them.
        tiers: the tiers a row may name (case-insensitive; stored in this spelling).

    Raises:
        NotFound: the file does not exist.
        InvalidInput: the file is not readable UTF-8 CSV or its header is wrong.
        StrictImportError: ``strict`` and a bad row (row number and reason).
    """
    started = time.perf_counter()
    try:
        total = count_rows(path)
        fh = _open_text(path)
    except FileNotFoundError:
        raise NotFound(f"no such file: {os.fspath(path)}") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {os.fspath(path)}: {exc.strerror}") from None
    report = ImportReport()
    region = store.default_region
    try:
        reader = csv.reader(fh)
        try:
            mapped = _header(reader)
            async with store.transaction() as db:
                row = await db.fetchone("SELECT coalesce(max(id), 0) FROM customers")
                batcher = _Batcher(
                    db,
                    store.dialect,
                    report,
                    strict,
                    update,
                    frozenset(m for m in mapped if m),
                    next_id=int(row[0] if row else 0) + 1,
                )
                batch: list[tuple[int, CustomerFields]] = []
                pending: asyncio.Future[None] | None = None
                try:
                    for values in reader:
                        row_no = reader.line_num
                        if not any(v.strip() for v in values):
                            continue
                        report.rows += 1
                        try:
                            batch.append((row_no, parse_row(mapped, values, region, tiers)))
                        except InvalidInput as exc:
                            batcher.refuse(row_no, str(exc))
                        if report.rows % 256 == 0:
                            # Let the previous batch's statements reach the database thread,
                            # so writing overlaps with parsing the next batch.
                            await asyncio.sleep(0)
                        if len(batch) >= batch_size:
                            if pending is not None:
                                await pending
                            pending = asyncio.ensure_future(batcher.flush(batch))
                            batch = []
                            if progress:
                                progress(report.rows, max(total, report.rows))
                    if pending is not None:
                        await pending
                        pending = None
                    await batcher.flush(batch)
                except BaseException:
                    if pending is not None:
                        # Never roll back under a batch that is still being written.
                        pending.cancel()
                        await asyncio.gather(pending, return_exceptions=True)
                    raise
                # Ids were given explicitly; the next customer added by hand follows them.
                reset = store.dialect.reset_id_sequence("customers")
                if reset is not None:
                    await db.execute(reset)
                await db.execute(
                    "INSERT INTO audit(at, actor, action, target, details) VALUES (?, ?, ?, ?, ?)",
                    (
                        time.time(),
                        actor,
                        "customers.import",
                        os.path.basename(os.fspath(path)),
                        json.dumps(
                            {
                                "rows": report.rows,
                                "imported": report.imported,
                                "updated": report.updated,
                                "bad": len(report.bad),
                            }
                        ),
                    ),
                )
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InvalidInput(f"not a readable UTF-8 CSV file: {exc}") from None
    finally:
        fh.close()
    if progress:
        progress(report.rows, report.rows)
    report.seconds = time.perf_counter() - started
    # Rows found bad while parsing and rows refused while writing, in file order.
    report.bad.sort(key=lambda b: b.row)
    return report

"""CSV import (bad rows reported, good rows kept, --strict writes nothing) and export."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from config.errors import InvalidInput, NotFound
from crm_lookup.export import CONTACT_COLUMNS, export_contacts, spreadsheet_safe
from crm_lookup.importer import StrictImportError, import_customers
from crm_lookup.store import Store, open_store

GOOD_AND_BAD = """name,phone,company,tier,language,email,account,tags,notes
Alice Morgan,(555) 000-1111,Morgan Logistics,VIP,en,alice@example.com,10000001,fleet;priority,Call after 4pm
Ivan Petrov,+1 555 000 2222|+7 495 123-45-67,,gold,ru,,10000002,,"multi
line note"
,555-000-3333,,,,,,,
Bob Bad Phone,not a number,,,,,,,
Carol Dup,+15550001111,,,,,,,
Dan Bad Mail,555-000-4444,,,,nope,,,
Eve Dup Account,555-000-5555,,,,,10000002,,
Frank Existing,555-000-6666,,,,,,,
Grace Ok,555-000-7777 x12,,preferred,EN,,,,
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    s = await open_store(store_url)
    await s.customers.add("Already Here", ["+15550006666"])
    yield s
    await s.close()


@pytest.mark.parametrize("batch_size", [2, 1000])
async def test_good_rows_imported_bad_rows_reported(
    store: Store, tmp_path: Path, batch_size: int
) -> None:
    csv_path = _write(tmp_path / "c.csv", GOOD_AND_BAD)
    seen: list[tuple[int, int]] = []
    report = await import_customers(
        store, csv_path, progress=lambda d, t: seen.append((d, t)), batch_size=batch_size
    )
    assert report.rows == 9
    assert report.imported == 3
    reasons = {b.row: b.reason for b in report.bad}
    assert [b.row for b in report.bad] == [5, 6, 7, 8, 9, 10]  # reported in file order
    assert "name is required" in reasons[5]
    assert "not a phone number" in reasons[6]
    # Caught by the database check or the in-file check depending on batching.
    assert "phone +15550001111 already" in reasons[7]
    assert "email" in reasons[8]
    assert "account 10000002 already" in reasons[9]
    assert "already belongs to customer 1" in reasons[10]
    assert seen[-1] == (9, 9)
    ivan = await store.customers.find_by_phone("+74951234567")
    assert ivan is not None and ivan.phones == ("+15550002222", "+74951234567")
    assert ivan.notes == "multi\nline note" and ivan.language == "ru"
    alice = await store.customers.find_by_account("10000001")
    assert alice is not None and alice.vip and alice.tags == ("fleet", "priority")
    grace = await store.customers.find_by_phone("555 000 7777")
    assert grace is not None and grace.tier == "preferred" and grace.language == "en"
    assert await store.customers.count() == 4
    audit = await store.audit.list()
    assert audit[0].action == "customers.import" and audit[0].details["imported"] == 3


async def test_strict_aborts_and_writes_nothing(store: Store, tmp_path: Path) -> None:
    csv_path = _write(tmp_path / "c.csv", GOOD_AND_BAD)
    with pytest.raises(StrictImportError) as info:
        await import_customers(store, csv_path, strict=True, batch_size=1)
    assert info.value.bad.row == 5 and "row 5" in str(info.value)
    assert await store.customers.count() == 1
    # A duplicate found only against the database (batch check) is strict too.
    dup = _write(tmp_path / "d.csv", "name,phone\nA,555-000-1212\nB,+15550006666\n")
    with pytest.raises(StrictImportError, match="row 3"):
        await import_customers(store, dup, strict=True, batch_size=1)
    assert await store.customers.count() == 1


async def test_bad_files_are_refused(store: Store, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        await import_customers(store, tmp_path / "missing.csv")
    with pytest.raises(InvalidInput, match="empty"):
        await import_customers(store, _write(tmp_path / "e.csv", ""))
    with pytest.raises(InvalidInput, match="unknown column"):
        await import_customers(store, _write(tmp_path / "u.csv", "name,phone,fax\nA,1,2\n"))
    with pytest.raises(InvalidInput, match="no name column"):
        await import_customers(store, _write(tmp_path / "n.csv", "phone\n5550001111\n"))
    latin1 = tmp_path / "l.csv"
    latin1.write_bytes("name,phone\nJos\xe9,5550001111\n".encode("latin-1"))
    with pytest.raises(InvalidInput, match="UTF-8"):
        await import_customers(store, latin1)
    assert await store.customers.count() == 1


async def test_reimport_reports_every_row_as_duplicate(store: Store, tmp_path: Path) -> None:
    csv_path = _write(tmp_path / "c.csv", "name,phones\nA,555-000-1212\nB,555-000-1313\n")
    assert (await import_customers(store, csv_path)).imported == 2
    again = await import_customers(store, csv_path)
    assert again.imported == 0 and [b.row for b in again.bad] == [2, 3]


async def test_export_contacts_in_period(store: Store, tmp_path: Path) -> None:
    log = store.contacts
    for i, t in enumerate([100.0, 200.0, 300.0]):
        await log.arrived(f"x{i}", "+15550006666", "100", at=t)
        await log.queued(f"x{i}", "sales", at=t + 1)
        await log.ended(f"x{i}", at=t + 5, outcome="abandoned_queue")
    c = await log.get_by_key("x1")
    await log.offered("x1", "1001", at=201.0)
    await log.wrapup(c.id, "callback", "=HYPERLINK(evil)")
    out = tmp_path / "out.csv"
    assert await export_contacts(store, out, 150.0, 300.0) == 1
    rows = list(csv.DictReader(out.read_text(encoding="utf-8").splitlines()))
    assert list(rows[0]) == list(CONTACT_COLUMNS)
    assert rows[0]["key"] == "x1" and rows[0]["caller"] == "+15550006666"
    assert rows[0]["notes"] == "'=HYPERLINK(evil)"
    assert rows[0]["arrived_at"] == "1970-01-01T00:03:20.000+00:00"
    assert await export_contacts(store, out) == 3
    with pytest.raises(InvalidInput):
        await export_contacts(store, out, 300.0, 100.0)
    with pytest.raises(InvalidInput):
        await export_contacts(store, tmp_path / "nodir" / "x.csv")


HOSTILE_CELLS = [
    "-2+3+cmd|' /C calc'!A0",
    "+cmd|' /C calc'!A0",
    "=HYPERLINK(evil)",
    "@SUM(1+1)",
    "  =1+1",
    "\tTAB",
    "\uff1dSUM(1)",  # full-width "=", folded to "=" by some spreadsheets
]


@pytest.mark.parametrize("notes", HOSTILE_CELLS)
async def test_export_neutralises_every_formula_start(
    store: Store, tmp_path: Path, notes: str
) -> None:
    await store.contacts.arrived("f1", "+15550006666", "100", at=100.0)
    await store.contacts.queued("f1", "sales", at=101.0)
    await store.contacts.ended("f1", at=105.0, outcome="abandoned_queue")
    contact = await store.contacts.get_by_key("f1")
    await store.contacts.wrapup(contact.id, "resolved", notes)
    out = tmp_path / "out.csv"
    assert await export_contacts(store, out) == 1
    row = next(csv.DictReader(out.read_text(encoding="utf-8").splitlines()))
    assert row["notes"] == "'" + notes
    # Values that only look like formulas stay as they are.
    assert row["caller"] == "+15550006666" and row["wait_seconds"] == "4.0"


@pytest.mark.parametrize("value", ["-3.5", "+15550001111", "12", "", "a-b", "x=1"])
def test_plain_values_keep_their_text(value: str) -> None:
    assert spreadsheet_safe(value) == value


async def test_an_unknown_tier_is_a_bad_row(store: Store, tmp_path: Path) -> None:
    text = "name,phone,tier\nA,555-000-1212,platinum-ultra\nB,555-000-1313,vip\nC,555-000-1414,\n"
    report = await import_customers(store, _write(tmp_path / "t.csv", text))
    assert report.imported == 2 and [b.row for b in report.bad] == [2]
    assert "tier 'platinum-ultra' is not one of standard, preferred, gold, VIP" in (
        report.bad[0].reason
    )
    assert (await store.customers.find_by_phone("555-000-1313")).tier == "VIP"
    assert (await store.customers.find_by_phone("555-000-1414")).tier == "standard"
    # Tiers the queue file gives a priority to are tiers too (the CLI passes them).
    more = _write(tmp_path / "m.csv", "name,phone,tier\nD,555-000-1515,Platinum\n")
    again = await import_customers(store, more, tiers=("standard", "VIP", "platinum"))
    assert again.imported == 1 and not again.bad
    assert (await store.customers.find_by_phone("555-000-1515")).tier == "platinum"


FIRST = """name,phones,company,tier,accounts,notes
Ann,555-000-1212,Old Co,standard,A-1,first
Bob,555-000-1313,,gold,,
"""
SECOND = """name,phones,company,tier,accounts,notes
Ann Smith,555-000-1212;555-000-9999,New Co,VIP,A-1,second
Cid,555-000-1414,,,,
Both,555-000-1313;+15550006666,,,,
Twice,555-000-1414,,,,
"""


@pytest.mark.parametrize("batch_size", [1, 1000])
async def test_update_mode_changes_known_customers_and_adds_new_ones(
    store: Store, tmp_path: Path, batch_size: int
) -> None:
    assert (await import_customers(store, _write(tmp_path / "1.csv", FIRST))).imported == 2
    ann_id = (await store.customers.find_by_phone("555-000-1212")).id
    again = await import_customers(store, _write(tmp_path / "1.csv", FIRST), update=True)
    assert (again.imported, again.updated, again.bad) == (0, 2, [])

    report = await import_customers(
        store, _write(tmp_path / "2.csv", SECOND), update=True, batch_size=batch_size
    )
    assert (report.rows, report.imported, report.updated) == (4, 1, 1)
    reasons = {b.row: b.reason for b in report.bad}
    assert sorted(reasons) == [4, 5]
    assert "belong to customers" in reasons[4] and "crm merge" in reasons[4]
    assert "already used by an earlier row" in reasons[5]
    ann = await store.customers.get(ann_id)
    assert (ann.name, ann.company, ann.tier, ann.notes) == ("Ann Smith", "New Co", "VIP", "second")
    assert ann.phones == ("+15550001212", "+15550009999") and ann.accounts == ("A-1",)
    assert (await store.customers.find_by_phone("555-000-1414")).name == "Cid"
    assert await store.customers.count() == 4  # Already Here, Ann, Bob, Cid


async def test_update_keeps_what_the_file_has_no_column_for(store: Store, tmp_path: Path) -> None:
    await import_customers(store, _write(tmp_path / "1.csv", FIRST))
    names_only = _write(tmp_path / "n.csv", "name,phone\nAnn B,555-000-1212\n")
    assert (await import_customers(store, names_only, update=True)).updated == 1
    by_account = _write(tmp_path / "a.csv", "name,account\nAnn C,A-1\n")
    report = await import_customers(
        store,
        _write(tmp_path / "2.csv", "name,phone,account\nAnn D,555-000-1212,\nAnn E,,A-1\n"),
        update=True,
    )
    assert report.updated == 1 and "already updated by an earlier row" in report.bad[0].reason
    assert (await import_customers(store, by_account, update=True)).updated == 1
    ann = await store.customers.find_by_phone("555-000-1212")
    assert (ann.name, ann.company, ann.tier) == ("Ann C", "Old Co", "standard")
    assert ann.phones == ("+15550001212",) and ann.accounts == ("A-1",)

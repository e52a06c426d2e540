"""``switchboard crm ...`` and ``switchboard report`` through the real CLI entry point."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import pytest

from crm_lookup.store import open_store
from switchboard.cli import main


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.sqlite3"
    monkeypatch.setenv("SWITCHBOARD_DATABASE__PATH", str(path))
    monkeypatch.delenv("SWITCHBOARD_CONFIG", raising=False)
    return path


def _count(db: Path | str) -> int:
    async def count() -> int:
        store = await open_store(db)
        try:
            return await store.customers.count()
        finally:
            await store.close()

    return asyncio.run(count())


def test_import_with_bad_rows_then_strict(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.csv"
    path.write_text("name,phone\nAnn,555-000-1111\nBad,xyz\nBob,555-000-2222\n")
    assert main(["crm", "import", str(path)]) == 1
    out, err = capsys.readouterr()
    assert "imported 2 of 3 rows" in out and "row 3: not a phone number" in out
    assert "100%" in err  # the progress bar
    assert _count(db) == 2
    strict = tmp_path / "s.csv"
    strict.write_text("name,phone\nCid,555-000-3333\nDee,555-000-1111\n")
    assert main(["crm", "import", "--strict", "--quiet", str(strict)]) == 1
    _, err = capsys.readouterr()
    assert "row 3" in err and "strict" in err
    assert _count(db) == 2
    good = tmp_path / "g.csv"
    good.write_text("name,phone\nCid,555-000-3333\n")
    assert main(["crm", "import", "--quiet", str(good)]) == 0
    assert _count(db) == 3


def test_merge_export_and_report(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["crm", "seed-demo"]) == 0
    assert main(["crm", "seed-demo"]) == 0
    assert "30 customers" in capsys.readouterr().out
    assert main(["crm", "merge", "1", "2"]) == 0
    assert "merged customer 2 into 1" in capsys.readouterr().out
    assert _count(db) == 29
    assert main(["crm", "merge", "1", "2"]) == 1
    assert "no customer 2" in capsys.readouterr().err
    out_csv = tmp_path / "contacts.csv"
    assert main(["crm", "export-contacts", str(out_csv), "--from", "2000-01-01"]) == 0
    rows = list(csv.DictReader(out_csv.read_text().splitlines()))
    assert len(rows) == 9 and {r["customer_id"] for r in rows} >= {"1"}
    assert main(["crm", "export-contacts", str(out_csv), "--from", "yesterday"]) == 1
    assert "expected a date" in capsys.readouterr().err

    assert main(["report", "--from", "2000-01-01", "--to", "2100-01-01", "--by", "queue"]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[:3] == ["queue", "offered", "answered"]
    assert "evals" not in table.splitlines()[0]
    assert any(line.startswith("sales") for line in table.splitlines())
    assert (
        main(
            [
                "report",
                "--from",
                "2000-01-01",
                "--to",
                "2100-01-01",
                "--by",
                "agent",
                "--format",
                "csv",
            ]
        )
        == 0
    )
    data = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sum(int(r["answered"]) for r in data) == 8
    # the demo's two evaluations (switchboard.demo_quality; seeded once though run twice):
    # 17 of 18 = 94.44 for 1001, 12.75 of 18 = 70.83 for 1002; others none
    scores = {r["agent"]: (r["evaluations"], r["quality_score"]) for r in data}
    assert scores["1001"] == ("1", "94.44") and scores["1002"] == ("1", "70.83")
    assert all(v == ("0", "") for k, v in scores.items() if k not in ("1001", "1002"))
    assert main(["report", "--from", "2000-01-01", "--to", "2100-01-01", "--by", "agent"]) == 0
    header = capsys.readouterr().out.splitlines()[0].split()
    assert header[0] == "agent" and header[-3:] == ["evals", "QA", "%"]
    assert main(["report", "--from", "2100-01-01", "--to", "2000-01-01"]) == 1


def test_report_csv_neutralises_formulas(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async def seed() -> None:
        store = await open_store(db)
        try:
            await store.contacts.arrived("k1", "+15550001111", "100", at=946684800.0)
            await store.contacts.queued("k1", "-2+3+cmd|' /C calc'!A0", at=946684801.0)
            await store.contacts.ended("k1", at=946684805.0, outcome="abandoned_queue")
        finally:
            await store.close()

    asyncio.run(seed())
    argv = ["report", "--from", "2000-01-01", "--to", "2000-01-02", "--format", "csv"]
    assert main(argv) == 0
    data = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["queue"] for r in data] == ["'-2+3+cmd|' /C calc'!A0"]
    assert data[0]["offered"] == "1"


def test_reimport_hints_at_update_and_update_applies(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.csv"
    path.write_text("name,phone,tier\nAnn,555-000-1111,gold\n")
    assert main(["crm", "import", "--quiet", str(path)]) == 0
    capsys.readouterr()
    assert main(["crm", "import", "--quiet", str(path)]) == 1
    out = capsys.readouterr().out
    assert "already belongs to customer 1" in out and "--update" in out
    path.write_text("name,phone,tier\nAnn,555-000-1111,VIP\nBea,555-000-2222,platinum-ultra\n")
    assert main(["crm", "import", "--quiet", "--update", str(path)]) == 1
    out = capsys.readouterr().out
    assert "imported 0, updated 1 of 2 rows" in out and "row 3: tier 'platinum-ultra'" in out
    assert _count(db) == 1


def test_reading_commands_name_a_missing_database_and_the_demo_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nothing-here.sqlite3"
    monkeypatch.setenv("SWITCHBOARD_DATABASE__PATH", str(missing))
    monkeypatch.delenv("SWITCHBOARD_CONFIG", raising=False)
    demo_db = tmp_path / "demo" / "demo.sqlite3"
    monkeypatch.setattr("switchboard.commands.crm.DEMO_DATABASE", str(demo_db))
    out_csv = tmp_path / "out.csv"
    assert main(["crm", "export-contacts", str(out_csv)]) == 1
    err = capsys.readouterr().err
    assert f"no database at {missing}" in err and "demo" not in err
    assert not missing.exists()  # reading never creates an empty database

    demo_db.parent.mkdir()
    asyncio.run(_make_db(demo_db))
    assert main(["report", "--from", "2000-01-01", "--to", "2000-01-02"]) == 1
    err = capsys.readouterr().err
    assert f"SWITCHBOARD_DATABASE__PATH={demo_db}" in err


def test_an_empty_export_says_where_it_looked(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_make_db(db))
    demo_db = tmp_path / "demo.sqlite3"
    asyncio.run(_make_db(demo_db))
    monkeypatch.setattr("switchboard.commands.crm.DEMO_DATABASE", str(demo_db))
    assert main(["crm", "export-contacts", str(tmp_path / "out.csv")]) == 0
    out, err = capsys.readouterr()
    assert "exported 0 contacts" in out
    assert f"no contacts in {db}" in err and f"SWITCHBOARD_DATABASE__PATH={demo_db}" in err
    assert main(["report", "--from", "2000-01-01", "--to", "2000-01-02", "--format", "csv"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("queue,") and f"no contacts in {db}" in err


async def _make_db(path: Path) -> None:
    store = await open_store(path)
    await store.close()


def test_the_cli_uses_database_url_on_either_backend(
    store_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``database.url`` picks the backend for the commands too."""
    monkeypatch.setenv("SWITCHBOARD_DATABASE__URL", store_url)
    monkeypatch.delenv("SWITCHBOARD_CONFIG", raising=False)
    path = tmp_path / "c.csv"
    path.write_text("name,phone\nAnn,555-000-1111\nBob,555-000-2222\n")
    assert main(["crm", "import", str(path)]) == 0
    assert "2" in capsys.readouterr().out
    assert _count(store_url) == 2
    # Importing the same file again refuses both rows: the phones are taken.
    assert main(["crm", "import", str(path)]) == 1
    assert _count(store_url) == 2

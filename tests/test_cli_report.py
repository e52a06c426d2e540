"""``switchboard report`` and ``crm export-contacts`` as a manager runs them (issue 15):
an empty period, a month by interval, calls in progress, the export's times and IVR
path, and which database is read after the demo."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import pytest

from crm_lookup.store import open_store
from switchboard.cli import main

DEC1 = 1796083200.0  # 2026-12-01 00:00 UTC


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.sqlite3"
    monkeypatch.setenv("SWITCHBOARD_DATABASE__PATH", str(path))
    monkeypatch.delenv("SWITCHBOARD_CONFIG", raising=False)
    monkeypatch.setattr("switchboard.commands.crm.DEMO_DATABASE", str(tmp_path / "demo.sqlite3"))
    return path


def seed(path: Path, *, in_progress: bool = True) -> None:
    async def work() -> None:
        store = await open_store(path)
        log = store.contacts
        try:
            # Dec 1 at 10:00 UTC: an IVR, 12 s in the queue, answered, 60 s talk
            await log.arrived("k1", "+15550001111", "100", at=DEC1 + 36000 - 20)
            await log.ivr_done(
                "k1",
                [
                    {"node": "main_menu", "kind": "menu", "digits": "2", "result": "option 2"},
                    {"node": "to_sales", "kind": "queue", "result": "queued"},
                ],
                "queued",
                at=DEC1 + 36000 - 1,
            )
            await log.queued("k1", "sales", at=DEC1 + 36000)
            await log.answered("k1", "1001", at=DEC1 + 36000 + 12.337)
            await log.ended("k1", at=DEC1 + 36000 + 72.51002383)
            if in_progress:
                # Dec 1 at 10:05: still waiting
                await log.arrived("k2", "+15550002222", "100", at=DEC1 + 36300)
                await log.queued("k2", "sales", at=DEC1 + 36300)
        finally:
            await store.close()

    asyncio.run(work())


def test_an_empty_period_prints_an_empty_table_not_a_traceback(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(db)
    for by in ("queue", "agent", "interval", "disposition"):
        assert main(["report", "--from", "2026-12-02", "--to", "2026-12-02", "--by", by]) == 0
        out, err = capsys.readouterr()
        assert out.splitlines()[0].split()[:2] == [by, "offered"]
        assert "(no contacts in this period)" in out
        assert f"no contacts in {db}" in err
    assert main(["report", "--from", "2026-12-02", "--to", "2026-12-02", "--by", "day"]) == 0
    out, _ = capsys.readouterr()
    assert "2026-12-02" in out  # a day is listed even when empty


def test_a_month_by_interval_lists_only_intervals_with_contacts(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(db)
    argv = ["report", "--from", "2026-12-01", "--to", "2026-12-31", "--by", "interval"]
    assert main([*argv, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["interval"] for r in rows] == ["2026-12-01T10:00+00:00"]
    assert rows[0]["offered"] == "1"  # the call still waiting is not offered
    assert main([*argv, "--empty", "--format", "csv"]) == 0
    assert len(list(csv.DictReader(io.StringIO(capsys.readouterr().out)))) == 31 * 96


def test_calls_in_progress_are_shown_apart_and_zones_move_the_day(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(db)
    assert main(["report", "--from", "2026-12-01", "--to", "2026-12-01"]) == 0
    out = capsys.readouterr().out
    sales = next(line for line in out.splitlines() if line.startswith("sales"))
    assert sales.split()[1:3] == ["1", "1"]
    assert sales.split()[5] == "100.0"  # SL %: the waiting call does not pull it down
    assert "in progress (in no figure above): 1 (1 waiting, 0 talking)" in out
    # 10:00 UTC is 19:00 in Tokyo, and 02:00 on Dec 1 in Los Angeles
    argv = ["report", "--from", "2026-12-01", "--to", "2026-12-01", "--by", "interval"]
    assert main([*argv, "--interval", "60", "--tz", "Asia/Tokyo", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["interval"] for r in rows] == ["2026-12-01T19:00+09:00"]
    assert main([*argv, "--tz", "Mars/Olympus"]) == 1
    assert "unknown time zone" in capsys.readouterr().err


def test_export_has_readable_ivr_path_and_times_in_the_zone(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(db, in_progress=False)
    out = tmp_path / "c.csv"
    argv = ["crm", "export-contacts", str(out), "--from", "2026-12-01", "--tz", "Europe/Berlin"]
    assert main(argv) == 0
    (row,) = list(csv.DictReader(out.read_text(encoding="utf-8").splitlines()))
    assert row["ivr_path"] == "Pressed 2 at “main menu” → Sent to the queue"
    assert row["queued_at"] == "2026-12-01T11:00:00.000+01:00"
    assert row["wait_seconds"] == "12.3" and row["talk_seconds"] == "60.2"


def test_after_the_demo_report_says_where_it_read_and_reads_the_demo_with_a_flag(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_empty(db))
    demo = tmp_path / "demo.sqlite3"
    argv = ["report", "--from", "2026-12-01", "--to", "2026-12-01"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    # no demo database yet: still names where `switchboard demo` would write
    assert f"no contacts in {db}" in err and f"writes to its own database, {demo}" in err
    seed(demo)
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert f"the demo's data is in {demo}: add --demo" in err
    assert main([*argv, "--demo"]) == 0
    out, err = capsys.readouterr()
    assert any(line.startswith("sales") for line in out.splitlines()) and not err
    target = tmp_path / "demo.csv"
    assert main(["crm", "export-contacts", str(target), "--demo"]) == 0
    assert "exported 2 contacts" in capsys.readouterr().out


async def _empty(path: Path) -> None:
    store = await open_store(path)
    await store.close()

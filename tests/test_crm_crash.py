"""Crash safety: a process killed with SIGKILL keeps every milestone already written
(SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from crm_lookup.store import open_store

ROOT = Path(__file__).resolve().parent.parent

WRITER = textwrap.dedent(
    """
    import asyncio, sys, time
    from crm_lookup.store import open_store

    async def main(path):
        store = await open_store(path)
        await store.customers.add("Ann", ["+15550001111"])
        log = store.contacts
        await log.arrived("K1", "+15550001111", "+15550100000", at=1000.0)
        await log.ivr_step("K1", "menu", at=1001.0)
        await log.queued("K1", "sales", at=1005.0)
        await log.offered("K1", "1001", at=1010.0)
        print("written", flush=True)
        time.sleep(60)  # killed here, between "offered" and "answered"

    asyncio.run(main(sys.argv[1]))
    """
)

IMPORTER = textwrap.dedent(
    """
    import asyncio, sys, time
    from crm_lookup.store import open_store
    from crm_lookup.importer import import_customers

    def progress(done, total):
        # By the second batch the first one has been written inside the transaction.
        if 1000 <= done < total:
            print("batch", done, flush=True)
            time.sleep(60)  # killed here, inside the import's transaction

    async def main(path, csv_path):
        store = await open_store(path)
        await import_customers(store, csv_path, progress=progress, batch_size=500)

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


def _run_and_kill(code: str, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, "child died before writing"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    return line


async def test_killed_between_milestones_leaves_a_consistent_row(store_url: str) -> None:
    path = store_url
    assert _run_and_kill(WRITER, path).startswith("written")
    store = await open_store(path)
    try:
        contact = await store.contacts.get_by_key("K1")
        assert contact.customer_id is not None
        assert contact.ivr_path == ("menu",)
        assert (contact.queue, contact.queued_at, contact.agent_id) == ("sales", 1005.0, "1001")
        assert contact.answered_at is None and contact.ended_at is None and contact.outcome == ""
        assert [e.kind for e in await store.contacts.timeline(contact.id)] == [
            "arrived",
            "ivr_step",
            "queued",
            "offered",
        ]
        # The restarted service replays what it saw and carries on.
        await store.contacts.offered("K1", "1001", at=1010.0)
        await store.contacts.answered("K1", "1001", at=1012.0)
        await store.contacts.ended("K1", at=1100.0, outcome="answered")
        done = await store.contacts.get_by_key("K1")
        assert (done.offers, done.wait_seconds, done.talk_seconds) == (1, 7.0, 88.0)
        if not store.dialect.is_postgres:
            check = await store.fetchone("PRAGMA integrity_check")
            assert check is not None and check[0] == "ok"
    finally:
        await store.close()


def _write_csv(path: Path, rows: int) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["name", "phone"])
        for i in range(rows):
            writer.writerow([f"Customer {i}", f"+1212{i:07d}"])


async def test_killed_import_writes_nothing(store_url: str, tmp_path: Path) -> None:
    path = store_url
    csv_path = tmp_path / "customers.csv"
    _write_csv(csv_path, 3000)
    assert _run_and_kill(IMPORTER, path, str(csv_path)).startswith("batch")
    store = await open_store(path)
    try:
        assert await store.customers.count() == 0
        phones = await store.fetchone("SELECT count(*) FROM phones")
        assert phones is not None and phones[0] == 0
    finally:
        await store.close()

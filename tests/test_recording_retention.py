"""switchboard.recording_files: the start-up check (one clear line, the service still
starts) and the retention sweep (old recordings deleted on a schedule, one log line of
counts per sweep, the task gone at shutdown) — in an aiohttp app of its own with a short
interval, and in the real service against the PBX simulator."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from config.settings import RecordingSettings
from crm_lookup.recordings import RecordingFiles
from switchboard.recording_files import recordings_ctx

DAY = 86400
LOGGER = "switchboard.recording_files"


def old_file(path: Path, days: float = 40) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF" + b"\0" * 40)  # the 44 bytes of a ring that was not answered
    then = time.time() - days * DAY
    os.utime(path, (then, then))
    return path


async def started(policy: RecordingSettings, root: Path) -> web.AppRunner:
    app = web.Application()
    app.cleanup_ctx.append(recordings_ctx(policy, RecordingFiles(root)))
    runner = web.AppRunner(app)
    await runner.setup()  # runs the cleanup contexts' start-up half
    return runner


async def until(check: Any, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def sweeps(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.msg == "recording retention sweep"]


def tasks_named(name: str) -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == name and not t.done()]


async def test_old_recordings_go_on_every_sweep(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    root = tmp_path / "recordings"
    first = old_file(root / "c1-1001-1.wav")
    young = root / "c2-1001-2.wav"
    young.write_bytes(b"RIFF")
    policy = RecordingSettings(dir=str(root), retention_days=30, purge_interval=0.1)
    runner = await started(policy, root)
    try:
        await until(lambda: not first.exists())
        assert young.exists()
        record = sweeps(caplog)[0]
        fields = record.fields  # type: ignore[attr-defined]
        assert fields == {"days": 30, "deleted": 1, "failed": 0, "freed_bytes": 44}
        # a file that becomes old later goes at a later sweep: the task keeps running
        second = old_file(root / "c3-1002-3.wav")
        await until(lambda: not second.exists())
        assert len(sweeps(caplog)) >= 2
        assert young.exists()
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(tasks_named("recording-retention")) == 1
    finally:
        await runner.cleanup()
    assert tasks_named("recording-retention") == []  # cancelled and awaited at shutdown
    # nothing after shutdown: a file made old now stays
    third = old_file(root / "c4.wav")
    await asyncio.sleep(0.3)
    assert third.exists()


async def test_retention_zero_keeps_everything(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    root = tmp_path / "recordings"
    kept = old_file(root / "ancient.wav", days=4000)
    runner = await started(RecordingSettings(retention_days=0, purge_interval=0.05), root)
    try:
        await asyncio.sleep(0.3)
        assert kept.exists()
        assert sweeps(caplog) == []
        assert tasks_named("recording-retention") == []
    finally:
        await runner.cleanup()


async def test_an_unreadable_directory_is_one_clear_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    missing = tmp_path / "not-mounted"
    runner = await started(RecordingSettings(retention_days=30, purge_interval=60), missing)
    try:
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1
        line = warnings[0].getMessage()
        assert str(missing) in line and "does not exist" in line and "[recording] dir" in line
    finally:
        await runner.cleanup()


async def test_a_directory_retention_cannot_write_is_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    root = tmp_path / "read-only"
    root.mkdir()
    real_access = os.access

    def access(path: Any, mode: int, **kwargs: Any) -> bool:
        # a read-only mount (the tests may run as root, whom a mode does not stop)
        if Path(path) == root and mode & os.W_OK:
            return False
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)
    runner = await started(RecordingSettings(retention_days=30, purge_interval=60), root)
    try:
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1 and "not writable" in warnings[0] and str(root) in warnings[0]
    finally:
        await runner.cleanup()


async def test_the_service_sweeps_and_says_a_missing_directory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import aiohttp

    from tests.service_harness import running_service

    caplog.set_level(logging.INFO, logger=LOGGER)
    root = tmp_path / "recordings"  # the harness's [recording] dir, not there yet

    def retention(settings: Any) -> Any:
        policy = dataclasses.replace(settings.recording, retention_days=7, purge_interval=0.1)
        return dataclasses.replace(settings, recording=policy)

    async with running_service(tmp_path, tweak=retention) as (_service, _sim, _rec, url):
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1 and str(root) in warnings[0]
        async with aiohttp.ClientSession() as http, http.get(url + "/healthz") as resp:
            assert resp.status in (200, 503)  # it answers: the service started
        old = old_file(root / "call-1-1001-5.wav", days=8)
        kept = root / "call-2-1001-6.wav"
        kept.write_bytes(b"RIFF")
        await until(lambda: not old.exists())
        assert kept.exists()
    assert tasks_named("recording-retention") == []

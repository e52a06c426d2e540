"""The recordings directory at run time: the start-up check and the retention sweep.

:func:`recordings_ctx` is a cleanup context of the service's application. At start it
checks that ``[recording] dir`` can be read (one clear log line saying which directory
and what to do if not; the service starts all the same: calls are answered and recorded
by Asterisk whatever this host sees). When ``retention_days`` is above 0 it owns one task
that deletes the recordings older than that every ``purge_interval`` seconds, in a
thread (the sweep stats and unlinks files), with one log line of counts per sweep and
never a file's content or name; the task is cancelled and awaited on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from config.settings import RecordingSettings
from crm_lookup.recordings import RecordingFiles

log = logging.getLogger(__name__)


def recordings_ctx(
    policy: RecordingSettings, files: RecordingFiles
) -> Callable[[web.Application], AsyncIterator[None]]:
    """The cleanup context: the check at start, the sweep task while the app runs."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        await check_at_start(policy, files)
        task = None
        if policy.retention_days > 0:
            task = asyncio.get_running_loop().create_task(
                sweep_forever(files, policy.retention_days, policy.purge_interval),
                name="recording-retention",
            )
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return ctx


async def check_at_start(policy: RecordingSettings, files: RecordingFiles) -> str | None:
    """Log one line if the directory cannot be read (or, with retention on, written);
    returns what was said."""
    said = await asyncio.to_thread(files.check_readable)
    if said is None and policy.retention_days > 0:
        writable = await asyncio.to_thread(os.access, files.root, os.W_OK | os.X_OK)
        if not writable:
            said = (
                f"recordings directory {files.root} is not writable by this service's user: "
                f"retention ({policy.retention_days} days) cannot delete old recordings; "
                "give it write access or set [recording] retention_days = 0"
            )
    if said is not None:
        log.warning(said, extra={"fields": {"dir": str(files.root)}})
    return said


async def sweep_forever(files: RecordingFiles, days: int, interval: float) -> None:
    """One sweep now, then one every ``interval`` seconds, until cancelled. A sweep that
    fails is logged and the next one is tried on time."""
    while True:
        await sweep_once(files, days)
        await asyncio.sleep(max(interval, 0.01))


async def sweep_once(files: RecordingFiles, days: int) -> None:
    try:
        result = await asyncio.to_thread(files.purge, days)
    except Exception as exc:  # a bad disk must not stop the next sweep
        log.warning(
            "recording retention sweep failed",
            extra={"fields": {"dir": str(files.root), "error": type(exc).__name__}},
        )
        return
    log.info(
        "recording retention sweep",
        extra={
            "fields": {
                "days": days,
                "deleted": result.deleted,
                "failed": result.failed,
                "freed_bytes": result.freed_bytes,
            }
        },
    )

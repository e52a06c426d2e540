"""Reload the IVR scripts and the queue file off the event loop, with a time limit; never die.

Theory of operation: every ``interval`` seconds one *pass* runs in a worker thread —
``ScriptLibrary.reload`` (which re-checks only changed files) and, when the queue file's
digest changed, ``load_queue_file``. Both read their YAML within the limits of
``routing.ivr.yamltree``, so the work of a pass is bounded by the size of the files;
the event loop only waits for the result, then applies the queue file (``apply_queues``,
on the loop, where the ACD lives) and records what failed.

* **Time limit.** A pass that runs past ``time_limit`` is asked to stop: the thread polls
  ``cancelled()`` while it reads, refuses the file it was reading (until that file
  changes) and returns. Python cannot kill a thread, so one that does not stop within a
  grace period is left to finish on its own: no other pass starts until it has, and its
  result is applied when it arrives. The loop itself never waits longer than the limit.
* **Never dies.** Every failure — a refused file, an exception out of a loader, a pass
  over its limit, an ``apply_queues`` that raises — is logged (once per change, not once
  per pass), recorded for :meth:`Reloader.status`, and the last good version keeps
  serving. The background task catches everything but cancellation.
* **Health.** :meth:`Reloader.status` says what is refused now (file, error, since when)
  and the last failure seen, for ``/healthz``.

Why a thread and not a process: the results are Python objects the loop uses as they
are (scripts, queue configurations); the input limits already bound the work, so the
time limit is a backstop rather than the main defence.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from config.errors import SwitchboardError
from routing.acd.config import QueueFile, load_queue_file
from routing.ivr.script import Problem, ScriptLibrary
from routing.ivr.yamltree import DEFAULT_LIMITS, Limits

__all__ = ["Reloader"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")


@dataclass(slots=True)
class _Pass:
    """What one pass found, handed from the worker thread to the loop."""

    script_problems: list[Problem] = field(default_factory=list)
    scripts_crash: str | None = None
    queues_digest: str | None = None  # set when the queue file changed (or vanished)
    queue_file: QueueFile | None = None
    queues_error: str | None = None


@dataclass(frozen=True, slots=True)
class _Failure:
    file: str
    error: str
    since: float


class Reloader:
    """Keeps the IVR script library and the queue file up to date without blocking the loop.

    Args:
        scripts: the library the service serves from (reloaded in a worker thread; it
            swaps its tables atomically, so the loop may keep reading it).
        queues_file: the queue file.
        apply_queues: called on the loop with a changed, valid queue file (feed the ACD
            ``QueuesChanged``, update the supervisors); raising refuses that version.
        interval: seconds between passes (``ivr.reload_interval``; at least 0.05).
        time_limit: seconds a pass may take before it is stopped.
        grace: seconds a pass that was asked to stop may take to notice before it is left
            to finish on its own.
        limits: YAML limits for the queue file (the library has its own).
        clock: epoch seconds, for ``status()``.
    """

    def __init__(
        self,
        scripts: ScriptLibrary,
        queues_file: str | os.PathLike[str],
        apply_queues: Callable[[QueueFile], None],
        *,
        interval: float = 2.0,
        time_limit: float = 30.0,
        grace: float = 1.0,
        limits: Limits = DEFAULT_LIMITS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.scripts = scripts
        self.queues_file = Path(queues_file)
        self.apply_queues = apply_queues
        self.interval = max(0.05, interval)
        self.time_limit = time_limit
        self.grace = grace
        self.limits = limits
        self.clock = clock
        self.passes = 0  # completed passes (for tests and metrics)
        self._queues_digest = ""
        self._failures: dict[str, _Failure] = {}
        self._last_failure: _Failure | None = None
        self._last_pass: float | None = None
        self._overrun: asyncio.Future[_Pass] | None = None
        self._cancel: threading.Event | None = None
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Load the scripts (off the loop) and note the queue file the service was built
        from, then reload every ``interval`` seconds until :meth:`stop`."""
        self._queues_digest = await self._in_thread(self._queues_file_digest)
        await self.reload_once()
        self._task = asyncio.ensure_future(self._run())
        self._task.set_name("ivr-queue-reloader")

    async def stop(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.reload_once()
            except asyncio.CancelledError:
                raise
            except BaseException:  # reload_once catches everything; this is the last net
                log.exception("reload pass failed; trying again at the next interval")

    # ------------------------------------------------------------------ one pass

    async def reload_once(self) -> None:
        """Run one pass (or collect an overrunning one); never raises but cancellation."""
        if self._overrun is not None:
            if not self._overrun.done():
                self._fail("-", f"a reload is still running after {self.time_limit:g} s")
                return
            future, self._overrun = self._overrun, None
            result = self._outcome(future)
            if result is not None:
                self._finish(result)
            return
        cancel = threading.Event()
        self._cancel = cancel
        future = self._in_thread(self._work, cancel.is_set)
        try:
            result = await asyncio.wait_for(asyncio.shield(future), self.time_limit)
        except TimeoutError:
            cancel.set()  # the thread refuses the file it is reading and returns
            try:
                result = await asyncio.wait_for(asyncio.shield(future), self.grace)
            except TimeoutError:
                self._overrun = future
                self._fail("-", f"a reload ran past its time limit of {self.time_limit:g} s")
                return
        except Exception as exc:  # _work catches everything; a failure to even start it
            self._fail("-", f"reload failed: {type(exc).__name__}: {exc}")
            return
        self._finish(result)

    def _outcome(self, future: asyncio.Future[_Pass]) -> _Pass | None:
        try:
            return future.result()
        except Exception as exc:
            self._fail("-", f"reload failed: {type(exc).__name__}: {exc}")
            return None

    def _work(self, cancelled: Callable[[], bool]) -> _Pass:
        """The worker thread's part: read and check, change nothing the loop owns."""
        out = _Pass()
        try:
            out.script_problems = self.scripts.reload(cancelled)
        except Exception as exc:  # a bug or an unforeseen file: the old scripts serve on
            log.exception("IVR script reload failed; keeping the current scripts")
            out.scripts_crash = f"{type(exc).__name__}: {exc}"
        try:
            digest = self._queues_file_digest()
            if digest != self._queues_digest:
                out.queues_digest = digest
                out.queue_file = load_queue_file(
                    self.queues_file, limits=self.limits, cancelled=cancelled
                )
        except SwitchboardError as exc:
            out.queues_error = str(exc)
        except Exception as exc:
            log.exception("queue file reload failed; keeping the current queues")
            out.queues_error = f"{type(exc).__name__}: {exc}"
        return out

    def _queues_file_digest(self) -> str:
        try:
            with open(self.queues_file, "rb") as fh:
                return hashlib.sha256(fh.read(self.limits.max_bytes + 1)).hexdigest()
        except OSError as exc:
            return f"unreadable: {exc.strerror}"

    def _finish(self, result: _Pass) -> None:
        """The loop's part: apply the queue file, record what is refused now."""
        try:
            self._record_scripts(result)
            self._record_queues(result)
            self._clear("-")
            self.passes += 1
            self._last_pass = self.clock()
        except Exception as exc:
            log.exception("could not apply a reload")
            self._fail("-", f"reload failed: {type(exc).__name__}: {exc}")

    def _record_scripts(self, result: _Pass) -> None:
        by_file: dict[str, list[str]] = {}
        for problem in result.script_problems:
            by_file.setdefault(problem.file, []).append(str(problem))
        if result.scripts_crash is not None:
            self._fail(str(self.scripts.scripts_dir), result.scripts_crash)
            return  # the per-file state is unknown: keep what was recorded
        self._clear(str(self.scripts.scripts_dir))
        for name in [f for f in self._failures if self._is_script(f) and f not in by_file]:
            self._clear(name)
        for name, problems in by_file.items():
            self._fail(name, "; ".join(problems), log_it=False)  # the library logged it

    def _is_script(self, name: str) -> bool:
        return name not in ("-", str(self.queues_file), str(self.scripts.scripts_dir))

    def _record_queues(self, result: _Pass) -> None:
        if result.queues_digest is None:
            return  # unchanged: a refused version stays refused until the file changes
        self._queues_digest = result.queues_digest
        name = str(self.queues_file)
        if result.queue_file is None:
            self._fail(name, result.queues_error or "not loaded")
            log.error(
                "queue file refused; keeping the current queues",
                extra={"fields": {"file": name, "error": result.queues_error}},
            )
            return
        try:
            self.apply_queues(result.queue_file)
        except Exception as exc:
            self._fail(name, f"{type(exc).__name__}: {exc}")
            log.exception(
                "queue file could not be applied; keeping the current queues",
                extra={"fields": {"file": name}},
            )
            return
        self._clear(name)
        log.info(
            "queue file applied",
            extra={"fields": {"file": name, "queues": len(result.queue_file.queues)}},
        )

    # ------------------------------------------------------------------ health

    def _fail(self, file: str, error: str, *, log_it: bool = True) -> None:
        old = self._failures.get(file)
        if old is not None and old.error == error:
            return
        failure = _Failure(file, error, self.clock())
        self._failures[file] = failure
        self._last_failure = failure
        if log_it and file == "-":
            log.error(error)

    def _clear(self, file: str) -> None:
        self._failures.pop(file, None)

    def status(self) -> dict[str, Any]:
        """For the health check: ``ok`` is False while any file is refused or a pass fails.

        ``errors`` lists what fails now (``file`` is ``-`` for the reload itself),
        ``last_error`` the most recent failure even if it has been fixed since, and
        ``last_reload`` when the last pass completed (epoch seconds, None before the
        first).
        """
        return {
            "ok": not self._failures,
            "running": self.running,
            "last_reload": self._last_pass,
            "errors": [_as_json(f) for f in sorted(self._failures.values(), key=_by_since)],
            "last_error": _as_json(self._last_failure) if self._last_failure else None,
        }

    # ------------------------------------------------------------------ threads

    def _in_thread(self, fn: Callable[..., _T], *args: Any) -> asyncio.Future[_T]:
        """Run ``fn`` in a daemon thread (one that overruns must not block the exit)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_T] = loop.create_future()

        def settle(value: Any, failed: bool) -> None:
            if future.done():
                return
            if failed:
                future.set_exception(value)
            else:
                future.set_result(value)

        def run() -> None:
            try:
                value: Any = fn(*args)
                failed = False
            except BaseException as exc:
                value, failed = exc, True
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(settle, value, failed)

        threading.Thread(target=run, name="switchboard-reload", daemon=True).start()
        return future


def _by_since(failure: _Failure) -> float:
    return failure.since


def _as_json(failure: _Failure) -> dict[str, Any]:
    return {"file": failure.file, "error": failure.error, "since": failure.since}

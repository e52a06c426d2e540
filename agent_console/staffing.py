"""Staffing in the console: the Erlang C calculator API and the wallboard's "needs +N
agents" per queue.

* ``GET /api/staffing?calls=&aht=&interval=&target=&within=`` (supervisor, admin):
  :func:`crm_lookup.staffing.agents_needed` -> ``{"agents", "service_level",
  "occupancy", "asa"}``. Every parameter is required and bounded; a bad one is a 400
  naming it.
* :class:`StaffingBoard`: once a minute (and at once when a 15-minute interval begins)
  it takes today's forecast (:func:`crm_lookup.forecast.forecast_day`, site time zone,
  read again each interval) for the current interval and compares its
  agents with the agents logged in to each queue now (the center's snapshot: any state
  but ``logged_out``). A queue whose figures changed is published as a ``staffing``
  message (docs/websocket.md) to its supervisors and admins. Between those refreshes an
  agent signing in or out (any ``agent_state`` message) has the logged-in counts taken
  again within ``RECOUNT_SECONDS`` from the forecast already read (no database, no
  queue file), so "needs +N" follows the floor, not the minute;
  ``GET /api/staffing/now`` gives the latest figures of the queues the user sees.

A queue's target comes from the queue file: ``service_level`` (seconds) is the answer
time, ``thresholds.service_level.warn`` the fraction (the level the wallboard already
draws as the target; 0.8 when the queue sets none), ``default_handle_time`` the AHT where
the history measured none.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from agent_console.auth import Role, current_session, require
from agent_console.keys import CENTER, CONSOLE, HUB, SETTINGS, STAFFING, STORE
from config.errors import InvalidInput
from config.settings import Settings
from crm_lookup.forecast import IntervalForecast, QueueTarget, forecast_day
from crm_lookup.report_time import zone
from crm_lookup.staffing import agents_needed, check_target
from routing.acd.config import QueueFile, load_queue_file

log = logging.getLogger(__name__)

DEFAULT_TARGET = 0.8
WALLBOARD_INTERVAL = 15  # minutes: the wallboard chart's intervals
REFRESH_SECONDS = 60.0
#: a burst of agent state changes (a shift starting) is one recount, this long after the first
RECOUNT_SECONDS = 2.0
# API bounds: each keeps the search short (the load is capped by crm_lookup.staffing too)
MAX_CALLS = 100_000.0
MAX_AHT = 86_400.0
MIN_INTERVAL, MAX_INTERVAL = 60.0, 86_400.0
MAX_WITHIN = 3_600.0
_MAX_TEXT = 32


def _number(request: web.Request, name: str, low: float, high: float, *, above: bool) -> float:
    raw = request.query.get(name)
    if raw is None or not raw.strip():
        raise InvalidInput(f"{name} is required", field=name)
    if len(raw) > _MAX_TEXT:
        raise InvalidInput(f"{name} is not a number", field=name)
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"{name} is not a number: {raw[:_MAX_TEXT]!r}", field=name) from None
    if not math.isfinite(value):
        raise InvalidInput(f"{name} must be a finite number", field=name)
    if (value <= low if above else value < low) or value > high:
        side = "above" if above else "at least"
        raise InvalidInput(f"{name} must be {side} {low:g} and at most {high:g}", field=name)
    return value


@require(Role.SUPERVISOR, Role.ADMIN)
async def calculator(request: web.Request) -> web.Response:
    """``GET /api/staffing``: the smallest agent count meeting the target, Erlang C."""
    calls = _number(request, "calls", 0, MAX_CALLS, above=False)
    aht = _number(request, "aht", 0, MAX_AHT, above=True)
    interval = _number(request, "interval", MIN_INTERVAL, MAX_INTERVAL, above=False)
    target = _number(request, "target", 0, 1, above=True)
    check_target(target)
    within = _number(request, "within", 0, MAX_WITHIN, above=False)
    # a thread: the search is bounded but grows with the load (100,000 calls an interval
    # is hundreds of agents to try), and the loop serves the floor meanwhile
    answer = await asyncio.to_thread(agents_needed, calls, aht, interval, target, within)
    return web.json_response(answer.to_json())


@require(Role.SUPERVISOR, Role.ADMIN)
async def current(request: web.Request) -> web.Response:
    """``GET /api/staffing/now``: this interval's figures of the queues the user sees."""
    board = request.app[STAFFING]
    if board.figures is None:
        await board.refresh()
    scope = request.app[CONSOLE].scope(current_session(request).user)
    figures = board.figures or {}
    return web.json_response(
        {
            "interval_minutes": WALLBOARD_INTERVAL,
            "queues": [f for name, f in sorted(figures.items()) if scope.sees_queue(name)],
        }
    )


def queue_targets(settings: Settings) -> dict[str, QueueTarget]:
    """Each queue's :class:`QueueTarget` read from the queue file now (blocking: call it
    in a thread). The console keeps them in :class:`QueueTargets` (``STAFFING``'s
    ``targets``) instead of calling this per request.

    Raises:
        InvalidInput: the queue file does not load.
    """
    return _targets_of(load_queue_file(settings.path(settings.routing.queues_file)))


def _signature(path: Path) -> tuple[int, int, int] | None:
    """What tells one version of a file from the next (None: there is no file)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


class QueueTargets:
    """The queue file's targets, parsed once and again only when the file changed.

    The wallboard refreshes every minute and every one-queue interval report asks for the
    targets: neither re-reads the file. :meth:`refresh` (the board's minute) looks at the
    file's inode, size and modification time in a worker thread and parses it, in that
    thread, only when they changed, as ``routing.reloader`` re-reads the same file for
    the ACD (a console on a cluster replica has no reloader of its own to follow). A
    version that does not load is logged once and refused; the last good targets keep
    serving.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._targets: dict[str, QueueTarget] = {}
        self._seen: tuple[int, int, int] | None = None  # the version last read (or refused)
        self._loaded = False
        self._lock = asyncio.Lock()

    async def get(self) -> dict[str, QueueTarget]:
        """The targets last read; the first call reads them."""
        if not self._loaded:
            return await self.refresh()
        return self._targets

    async def refresh(self) -> dict[str, QueueTarget]:
        """Read the file again if it changed since the last read (off the event loop)."""
        async with self._lock:
            await asyncio.to_thread(self._read_if_changed)
            return self._targets

    def _read_if_changed(self) -> None:
        seen = _signature(self.path)
        if self._loaded and seen == self._seen:
            return
        self._loaded, self._seen = True, seen
        try:
            self._targets = _targets_of(load_queue_file(self.path))
        except InvalidInput as exc:  # the reloader reports it too; keep the last good ones
            log.warning("staffing: the queue file did not load", extra={"fields": {"error": exc}})


def _targets_of(loaded: QueueFile) -> dict[str, QueueTarget]:
    out: dict[str, QueueTarget] = {}
    for q in loaded.queues:
        warn = loaded.thresholds.get(q.name, {}).get("service_level", {}).get("warn")
        target = warn if warn is not None and 0 < warn < 1 else DEFAULT_TARGET
        out[q.name] = QueueTarget(
            target=target, within=q.service_level, default_aht=q.default_handle_time
        )
    return out


class StaffingBoard:
    """The wallboard's staffing figures, refreshed by :meth:`run` (see the module doc)."""

    def __init__(
        self,
        app: web.Application,
        *,
        clock: Callable[[], float] = time.time,
        targets: Callable[[], Mapping[str, QueueTarget]] | None = None,
    ) -> None:
        self.app = app
        self.clock = clock
        self._targets = targets
        settings: Settings = app[SETTINGS]
        #: the queue file's targets, read once (the reports' staffing column uses them)
        self.targets = QueueTargets(settings.path(settings.routing.queues_file))
        self.figures: dict[str, dict[str, Any]] | None = None
        self._forecast: dict[str, list[IntervalForecast]] = {}
        self._forecast_key: tuple[Any, ...] | None = None
        self._last_targets: dict[str, QueueTarget] | None = None
        self._agents_moved = asyncio.Event()
        self._lock = asyncio.Lock()

    async def _load_targets(self) -> dict[str, QueueTarget]:
        if self._targets is not None:
            return dict(self._targets())
        return await self.targets.refresh()

    async def refresh(self) -> dict[str, dict[str, Any]]:
        """Work out every queue's figures for now; publish those that changed."""
        async with self._lock:
            return await self._refresh()

    async def recount(self) -> dict[str, dict[str, Any]]:
        """Take the logged-in counts again against the targets and forecast last read
        (a full :meth:`refresh` when there are none yet)."""
        async with self._lock:
            return await self._refresh(reuse_targets=True)

    def _on_center_message(self, message: Mapping[str, Any]) -> None:
        if message.get("type") == "agent_state":
            self._agents_moved.set()

    async def _refresh(self, *, reuse_targets: bool = False) -> dict[str, dict[str, Any]]:
        settings: Settings = self.app[SETTINGS]
        tz = zone(settings.site.timezone)
        now = self.clock()
        today = dt.datetime.fromtimestamp(now, tz).date()
        snapshot = self.app[CENTER].snapshot()
        names = [q["name"] for q in snapshot.get("queues", [])]
        if reuse_targets and self._last_targets is not None:
            targets = self._last_targets
        else:
            targets = self._last_targets = await self._load_targets()
        # the history is past weeks, but read again each interval: cheap (one grouped
        # statement), and a day's forecast picks up a store restored meanwhile
        interval = now - now % (WALLBOARD_INTERVAL * 60)
        key = (today, interval, tz.key, tuple(sorted(targets.items())))
        if key != self._forecast_key or any(n not in self._forecast for n in names):
            self._forecast = await forecast_day(
                self.app[STORE], today, tz, WALLBOARD_INTERVAL, queues=names, targets=targets
            )
            self._forecast_key = key
        logged_in: dict[str, int] = dict.fromkeys(names, 0)
        for agent in snapshot.get("agents", []):
            if agent.get("state", "logged_out") == "logged_out":
                continue
            for queue in agent.get("queues", []):
                if queue in logged_in:
                    logged_in[queue] += 1
        figures: dict[str, dict[str, Any]] = {}
        for name in names:
            slot = next(
                (
                    f
                    for f in reversed(self._forecast.get(name, []))
                    if f.start <= now < f.start + WALLBOARD_INTERVAL * 60
                ),
                None,
            )
            if slot is None:
                continue
            needed = slot.staffing.agents
            figures[name] = {
                "queue": name,
                "interval_start": slot.start,
                "label": slot.label,
                "forecast_calls": round(slot.calls, 2),
                "aht": round(slot.aht, 1),
                "agents_needed": needed,
                "logged_in": logged_in[name],
                "needs_agents": max(0, needed - logged_in[name]),
            }
        previous = self.figures or {}
        self.figures = figures
        hub = self.app[HUB]
        for name, fig in figures.items():
            if previous.get(name) != fig:
                hub.publish({"type": "staffing", "queue": name, "staffing": fig})
        return figures

    def _until_next(self) -> float:
        now = self.clock()
        size = WALLBOARD_INTERVAL * 60
        # interval starts are on the quarter hour in every zone in use (UTC offsets are
        # whole quarter hours), so the next one is the next UTC quarter hour
        to_boundary = size - now % size
        return max(0.05, min(REFRESH_SECONDS, to_boundary + 0.05))

    async def run(self) -> None:
        """Refresh every minute and just after each interval begins, recount when agents
        sign in or out; never dies."""
        loop = asyncio.get_running_loop()
        unsubscribe = self.app[CENTER].subscribe(self._on_center_message)
        try:
            while True:
                try:
                    await self.refresh()
                except Exception:  # a database hiccup must not end the wallboard's figures
                    log.exception("staffing: could not refresh the wallboard figures")
                deadline = loop.time() + self._until_next()
                while (left := deadline - loop.time()) > 0:
                    try:
                        await asyncio.wait_for(self._agents_moved.wait(), left)
                    except TimeoutError:
                        break
                    await asyncio.sleep(min(RECOUNT_SECONDS, max(0.0, deadline - loop.time())))
                    self._agents_moved.clear()
                    try:
                        await self.recount()
                    except Exception:
                        log.exception("staffing: could not recount the agents logged in")
        finally:
            unsubscribe()


async def _board_ctx(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.get_running_loop().create_task(app[STAFFING].run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def setup(app: web.Application) -> None:
    """Routes and the wallboard refresher (one line in ``agent_console.app``)."""
    app[STAFFING] = StaffingBoard(app)
    app.router.add_get("/api/staffing", calculator)
    app.router.add_get("/api/staffing/now", current)
    app.cleanup_ctx.append(_board_ctx)

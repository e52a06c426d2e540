"""The alerting shell: samples the center, runs the alert engine, publishes and logs.

Every ``check_interval`` seconds :class:`Alerting` reads a :class:`~routing.alerts.rules.
Sample` from the call center (the ACD's queue and agent figures, each PBX's AMI link,
since when the database has been failing writes), feeds the pure
:class:`~routing.alerts.engine.AlertEngine` and, for each change: publishes ``{"type":
"alert"}`` to the center's subscribers (docs/websocket.md), logs one line per raise and
clear, queues the alert's row for the alerts log and hands it to the webhook notifier.

The alerts log is written by a task of its own from a bounded map of unwritten rows
(latest state per alert id): when the database is what fails, the alert still shows and
its row waits in memory, written when the database is back (a row is an upsert, so
writing it again is harmless). A failed log write counts as the database failing too.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from config.errors import NotFound, SwitchboardError
from config.settings import AlertSettings
from crm_lookup.database import StoreBusy, StoreUnavailable
from routing.alerts.engine import Alert, AlertEngine, Change, ChangeKind
from routing.alerts.rules import (
    AgentSample,
    AlertRules,
    CaseSample,
    QueueRules,
    QueueSample,
    Sample,
)

log = logging.getLogger(__name__)

MAX_UNWRITTEN = 1000  # alert rows kept for a database that is down
MAX_CLEARED = 200  # cleared alerts kept for the wallboard's list
WRITE_RETRY_FIRST = 1.0
WRITE_RETRY_LONGEST = 30.0
Notify = Callable[[str, Mapping[str, Any]], None]


def rules_of(settings: AlertSettings, per_queue: Mapping[str, Mapping[str, float]]) -> AlertRules:
    """The engine's rules from the ``[alerts]`` settings and the queue file's overrides.

    Raises:
        InvalidInput: a threshold out of range (``field`` names it).
    """
    default = QueueRules(
        longest_wait_seconds=settings.longest_wait_seconds,
        service_level_below=settings.service_level_below,
        no_agent_ready=settings.no_agent_ready,
    )
    queues = {
        name: QueueRules(
            longest_wait_seconds=over.get("longest_wait_seconds", default.longest_wait_seconds),
            service_level_below=over.get("service_level_below", default.service_level_below),
            no_agent_ready=over.get("no_agent_ready", default.no_agent_ready),
        )
        for name, over in per_queue.items()
    }
    return AlertRules(
        queue=default,
        queues=queues,
        service_level_window=settings.service_level_window,
        not_ready_minutes=settings.not_ready_minutes,
        wrap_up_minutes=settings.wrap_up_minutes,
        ami_down=settings.ami_down,
        database_failing=settings.database_failing,
        clear_after=settings.clear_after,
    )


def alert_message(event: str, alert: Alert) -> dict[str, Any]:
    """The published message: scoped by ``queue`` (a queue's alert) or ``queues`` (an
    agent's: their queues); a global alert (AMI, database) has neither."""
    message: dict[str, Any] = {"type": "alert", "event": event, "alert": alert.to_json()}
    if alert.queue is not None:
        message["queue"] = alert.queue
    elif alert.agent_id is not None:
        message["queues"] = list(alert.queues)
    return message


class Alerting:
    """Runs the alert rules over a :class:`routing.center.CallCenter`.

    Args:
        center: the call center (``acd``, ``health()``, ``recorder``, ``queue_alerts``,
            ``_publish``).
        settings: the ``[alerts]`` settings.
        alert_log: ``save(alert_json)`` (``store.alerts``), or None for no log.
        notify: ``notify(event, alert_json)`` (the webhook), or None.
        clock: epoch seconds.
    """

    def __init__(
        self,
        center: Any,
        settings: AlertSettings,
        *,
        alert_log: Any = None,
        notify: Notify | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.center = center
        self.settings = settings
        self.alert_log = alert_log
        self.notify = notify
        self.clock = clock
        self._per_queue: Mapping[str, Mapping[str, float]] = dict(center.queue_alerts)
        self.engine = AlertEngine(rules_of(settings, self._per_queue))
        self._cleared: OrderedDict[str, Alert] = OrderedDict()
        self._unwritten: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.log_failing_since: float | None = None
        self.webhook: Any = None  # the notifier behind ``notify``, closed by the wiring
        # the case SLA clocks that are warnings or breached (set by routing.case_sla)
        self.case_samples: tuple[CaseSample, ...] = ()

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.ensure_future(self._check_loop()),
                asyncio.ensure_future(self._writer()),
            ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._unwritten:
            with contextlib.suppress(asyncio.TimeoutError, Exception):
                await asyncio.wait_for(self._write_all(), 2.0)

    async def _check_loop(self) -> None:
        while True:
            try:
                self.check()
            except Exception:
                log.exception("alert check failed")
            await asyncio.sleep(max(0.2, self.settings.check_interval))

    # -- checks -------------------------------------------------------------------------

    def sample(self, now: float) -> Sample:
        snap = self.center.acd.snapshot(now)
        queues = []
        for name, q in snap["queues"].items():
            stats = q["stats"]
            since = stats.get("longest_wait_since")
            queues.append(
                QueueSample(
                    name,
                    waiting=int(stats.get("waiting", 0)),
                    longest_wait=max(0.0, now - since) if since is not None else 0.0,
                    agents_ready=int((stats.get("agents") or {}).get("ready", 0)),
                    offered=int(stats.get("offered", 0)),
                    short_abandoned=int(stats.get("short_abandoned", 0)),
                    answered_within=int(stats.get("answered_within_sl", 0)),
                )
            )
        agents = tuple(
            AgentSample(
                agent_id,
                str(a.get("name") or agent_id),
                str(a["state"]),
                a.get("since"),
                tuple(a.get("queues") or ()),
            )
            for agent_id, a in snap["agents"].items()
        )
        pbx = self.center.health().get("pbx", {})
        failing = [
            t
            for t in (getattr(self.center.recorder, "failing_since", None), self.log_failing_since)
            if t is not None
        ]
        return Sample(
            queues=tuple(queues),
            agents=agents,
            ami={name: bool(link.get("connected")) for name, link in pbx.items()},
            database_failing_since=min(failing) if failing else None,
            cases=self.case_samples,
        )

    def check(self) -> list[Change]:
        """One check now: sample, evaluate, publish, log, notify."""
        now = self.clock()
        per_queue = dict(self.center.queue_alerts)
        if per_queue != self._per_queue:  # the queue file was reloaded
            self._per_queue = per_queue
            self.engine.set_rules(rules_of(self.settings, per_queue))
        changes = self.engine.evaluate(self.sample(now), now)
        for change in changes:
            self._emit(change.kind, change.alert)
        self._prune(now)
        return changes

    def _emit(self, kind: ChangeKind, alert: Alert) -> None:
        data = alert.to_json()
        fields = {
            "id": alert.id,
            "rule": alert.rule.value,
            "subject": alert.subject,
            "value": alert.value,
            "threshold": alert.threshold,
        }
        if kind is ChangeKind.RAISED:
            log.warning("alert raised", extra={"fields": fields})
        elif kind is ChangeKind.CLEARED:
            log.info("alert cleared", extra={"fields": fields})
            self._cleared[alert.id] = alert
            while len(self._cleared) > MAX_CLEARED:
                self._cleared.popitem(last=False)
        elif kind is ChangeKind.ACKNOWLEDGED:
            log.info("alert acknowledged", extra={"fields": {**fields, "by": alert.acked_by}})
        self.center._publish(alert_message(kind.value, alert))
        if kind is not ChangeKind.UPDATED and self.notify is not None:
            self.notify(f"alert.{kind.value}", data)
        self._keep_row(data)

    def _prune(self, now: float) -> None:
        keep = self.settings.keep_cleared
        for alert_id, alert in list(self._cleared.items()):
            if alert.cleared_at is not None and now - alert.cleared_at > keep:
                del self._cleared[alert_id]

    # -- reads and the ack --------------------------------------------------------------

    def alerts(self) -> list[dict[str, Any]]:
        """Active alerts (oldest first), then recently cleared ones (newest first)."""
        cleared = sorted(self._cleared.values(), key=lambda a: -(a.cleared_at or 0.0))
        return [a.to_json() for a in [*self.engine.active, *cleared]]

    def ack(self, alert_id: str, username: str) -> dict[str, Any]:
        """Acknowledge an active or recently cleared alert (the first ack stands).

        Raises:
            NotFound: no such alert (any more).
        """
        now = self.clock()
        active = {a.id: a for a in self.engine.active}
        if alert_id in active:
            if active[alert_id].acked_by is not None:
                return active[alert_id].to_json()
            alert = self.engine.ack(alert_id, username, now)
            assert alert is not None
        else:
            cleared = self._cleared.get(alert_id)
            if cleared is None:
                raise NotFound(f"no alert {alert_id[:40]!r}")
            if cleared.acked_by is not None:
                return cleared.to_json()
            alert = dataclasses.replace(cleared, acked_by=username, acked_at=now)
            self._cleared[alert_id] = alert
        self._emit(ChangeKind.ACKNOWLEDGED, alert)
        return alert.to_json()

    # -- the alerts log -----------------------------------------------------------------

    def _keep_row(self, data: dict[str, Any]) -> None:
        if self.alert_log is None:
            return
        self._unwritten.pop(data["id"], None)
        self._unwritten[data["id"]] = data
        while len(self._unwritten) > MAX_UNWRITTEN:
            dropped, _ = self._unwritten.popitem(last=False)
            log.error(
                "alerts log row dropped: too many unwritten", extra={"fields": {"id": dropped}}
            )
        self._wake.set()

    async def _writer(self) -> None:
        delay = WRITE_RETRY_FIRST
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._write_all()
                delay = WRITE_RETRY_FIRST
            except Exception as exc:
                if self.log_failing_since is None:
                    self.log_failing_since = self.clock()
                log.warning(
                    "alerts log not written; kept in memory and retried",
                    extra={
                        "fields": {"rows": len(self._unwritten), "retry_in": delay, "error": exc}
                    },
                )
                await asyncio.sleep(delay)
                delay = min(WRITE_RETRY_LONGEST, delay * 2)
                self._wake.set()

    async def _write_all(self) -> None:
        while self._unwritten:
            alert_id, data = next(iter(self._unwritten.items()))
            try:
                await self.alert_log.save(data)
            except (StoreBusy, StoreUnavailable):
                raise  # the database is failing: kept, retried, and an alert of its own
            except SwitchboardError as exc:
                # the database answered and refused this row (its data): retrying it for
                # ever would hold every later row and keep a false "database failing" up
                self._unwritten.pop(alert_id, None)
                log.error(
                    "alerts log row refused; dropped",
                    extra={"fields": {"id": alert_id, "error": exc}},
                )
                continue
            self.log_failing_since = None
            if self._unwritten.get(alert_id) is data:  # not changed meanwhile
                del self._unwritten[alert_id]

    @property
    def unwritten(self) -> int:
        return len(self._unwritten)

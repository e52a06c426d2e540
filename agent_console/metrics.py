"""Prometheus metrics of one console application (its own registry, so several apps in
one process — tests, the benchmark — never collide), and who may read them.

Exposure: with ``http.ops_token`` set, ``/metrics`` answers only to
``Authorization: Bearer <token>`` (or a supervisor's or admin's session); ``/healthz``
always answers its status and verdicts, for load balancers, but its details (the AMI
host and port, error names, counts) only to the token or such a session.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from agent_console.auth import Handler, Role, same_token
from agent_console.keys import SESSION, SETTINGS


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "switchboard_console_http_requests",
            "HTTP requests by route, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "switchboard_console_http_seconds",
            "HTTP handler time",
            ["route"],
            registry=self.registry,
        )
        self.ws_clients = Gauge(
            "switchboard_console_websockets", "Connected websockets", registry=self.registry
        )
        self.ws_dropped = Counter(
            "switchboard_console_websockets_dropped_slow",
            "Websockets closed because their send queue overflowed",
            registry=self.registry,
        )
        self.screen_pops = Counter(
            "switchboard_console_screen_pops", "Screen pops published", registry=self.registry
        )
        self.login_failures = Counter(
            "switchboard_console_login_failures",
            "Failed or rate-limited logins",
            registry=self.registry,
        )
        # A leak of tasks (one per call or per socket that never ends) shows here first.
        self.asyncio_tasks = Gauge(
            "switchboard_asyncio_tasks",
            "asyncio tasks alive in the event loop that serves /metrics",
            registry=self.registry,
        )
        self.asyncio_tasks.set_function(tasks_alive)

    def watch(self, center: Any) -> None:
        """Export the contact center's live figures (read from its snapshot at scrape time)."""
        self.registry.register(CenterCollector(center))

    def render(self) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    def middleware(self) -> web.middleware:  # type: ignore[valid-type]
        @web.middleware
        async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
            info = request.match_info.route.resource
            route = info.canonical if info is not None else "unmatched"
            started = time.perf_counter()
            status = 500
            try:
                response = await handler(request)
                status = response.status
                return response
            except web.HTTPException as exc:
                status = exc.status
                raise
            finally:
                if route != "/ws":
                    self.latency.labels(route).observe(time.perf_counter() - started)
                self.requests.labels(route, request.method, str(status)).inc()

        return count


def tasks_alive() -> float:
    """How many asyncio tasks the running loop holds (0 when read outside a loop)."""
    try:
        return float(len(asyncio.all_tasks()))
    except RuntimeError:
        return 0.0


class CenterCollector:
    """Queues, agents and the AMI link as Prometheus gauges, read when scraped."""

    def __init__(self, center: Any) -> None:
        self.center = center

    def collect(self) -> Iterator[Metric]:
        snapshot = self.center.snapshot()
        waiting = GaugeMetricFamily(
            "switchboard_queue_waiting", "Calls waiting in the queue", labels=["queue"]
        )
        longest = GaugeMetricFamily(
            "switchboard_queue_longest_wait_seconds", "Longest current wait", labels=["queue"]
        )
        level = GaugeMetricFamily(
            "switchboard_queue_service_level",
            "Answered within the threshold / offered today (0..1)",
            labels=["queue"],
        )
        answered = GaugeMetricFamily(
            "switchboard_queue_answered_today", "Calls answered today", labels=["queue"]
        )
        abandoned = GaugeMetricFamily(
            "switchboard_queue_abandoned_today", "Calls abandoned today", labels=["queue"]
        )
        for q in snapshot["queues"]:
            waiting.add_metric([q["name"]], q.get("waiting") or 0)
            longest.add_metric([q["name"]], q.get("longest_wait") or 0.0)
            answered.add_metric([q["name"]], q.get("answered") or 0)
            abandoned.add_metric([q["name"]], q.get("abandoned") or 0)
            if q.get("service_level") is not None:
                level.add_metric([q["name"]], q["service_level"])
        states: dict[str, int] = {}
        for agent in snapshot["agents"]:
            states[agent["state"]] = states.get(agent["state"], 0) + 1
        agents = GaugeMetricFamily("switchboard_agents", "Agents by state", labels=["state"])
        for state, count in sorted(states.items()):
            agents.add_metric([state], count)
        health = self.center.health()
        link = GaugeMetricFamily(
            "switchboard_ami_connected", "1 while the first PBX's AMI link is connected"
        )
        link.add_metric([], 1.0 if health.get("ami", {}).get("connected") else 0.0)
        pbx_up = GaugeMetricFamily(
            "switchboard_pbx_connected", "1 while the PBX's AMI link is connected", labels=["pbx"]
        )
        pbx_calls = GaugeMetricFamily(
            "switchboard_pbx_calls", "Live calls on the PBX", labels=["pbx"]
        )
        for name, pbx in (health.get("pbx") or {}).items():
            pbx_up.add_metric([name], 1.0 if pbx.get("connected") else 0.0)
            pbx_calls.add_metric([name], pbx.get("calls") or 0)
        pending = GaugeMetricFamily(
            "switchboard_contact_writes_pending",
            "Contact milestones taken but not yet written to the history",
        )
        pending.add_metric([], float(health.get("contacts", {}).get("pending_writes", 0)))
        yield from (
            waiting,
            longest,
            level,
            answered,
            abandoned,
            agents,
            link,
            pbx_up,
            pbx_calls,
            pending,
        )


def presented_token(request: web.Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if there is one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def operations_access(request: web.Request) -> bool:
    """Whether the request may see operational details: it carries the configured
    ``http.ops_token``, or it comes from a supervisor's or an admin's session."""
    token = request.app[SETTINGS].http.ops_token
    if token and same_token(presented_token(request), token):
        return True
    session = request.get(SESSION)
    return session is not None and session.user.role in (Role.SUPERVISOR, Role.ADMIN)


def metrics_open(request: web.Request) -> bool:
    """/metrics is open while no ``http.ops_token`` is set; then it needs the token."""
    return not request.app[SETTINGS].http.ops_token or operations_access(request)


def public_health(health: dict[str, Any]) -> dict[str, Any]:
    """What /healthz tells anyone: the verdicts, without addresses or error details."""
    public = {
        "ok": health["ok"],
        "degraded": bool(health.get("degraded")),
        "ami": {"connected": bool(health.get("ami", {}).get("connected"))},
        "pbx": {
            name: {"connected": bool(pbx.get("connected"))}
            for name, pbx in (health.get("pbx") or {}).items()
        },
        "database": {"ok": bool(health.get("database", {}).get("ok"))},
        "reload": {"ok": bool(health.get("reload", {}).get("ok", True))},
    }
    if isinstance(health.get("cluster"), dict):
        public["cluster"] = {"role": health["cluster"].get("role")}
    return public

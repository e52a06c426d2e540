"""Prometheus metrics of one console application (its own registry, so several apps in
one process — tests, the benchmark — never collide)."""

from __future__ import annotations

import time

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from agent_console.auth import Handler


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

"""The alerts webhook: each raise / clear / ack POSTed as signed JSON, off the loop's path.

:meth:`Webhook.notify` only appends to a bounded queue (the oldest is dropped, with a log
line, when it is full) and returns: the caller is the alert check, which must never wait
for a chat server. One sender task posts the queue in order, one notification at a time:
``{"event": "alert.raised" | "alert.cleared" | "alert.acknowledged", "alert": {...}}``
with ``X-Switchboard-Signature: sha256=<hex HMAC-SHA256(secret, body)>`` (no header
without a secret). An attempt that times out, fails to connect or answers other than
2xx is retried up to ``retries`` times, waiting ``BACKOFF_FIRST * 2**n`` seconds (at most
``BACKOFF_LONGEST``) with jitter; then it is given up with a log line and the next one
goes. A 2xx is never sent again. The URL is logged, never the secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import random
from collections import deque
from collections.abc import Mapping
from typing import Any

import aiohttp

from config.settings import shown_url

log = logging.getLogger(__name__)

BACKOFF_FIRST = 1.0
BACKOFF_LONGEST = 60.0
SIGNATURE_HEADER = "X-Switchboard-Signature"


def signature(secret: str, body: bytes) -> str:
    """The header's value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Webhook:
    """Args: url, secret ("" = unsigned), timeout (seconds per attempt), retries (after
    the first attempt), max_queue (notifications waiting at most)."""

    def __init__(
        self,
        url: str,
        secret: str = "",
        *,
        timeout: float = 5.0,
        retries: int = 5,
        max_queue: int = 1000,
    ) -> None:
        self.url = url
        # what logs name: scheme and host only (a chat webhook's path is its credential)
        self.shown = shown_url(url)
        self._secret = secret
        self.timeout = timeout
        self.retries = max(0, retries)
        self._queue: deque[bytes] = deque()
        self.max_queue = max(1, max_queue)
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self.delivered = 0
        self.dropped = 0
        self.failed = 0

    def notify(self, event: str, alert: Mapping[str, Any]) -> None:
        """Queue one notification (never blocks, never raises for a full queue)."""
        body = json.dumps({"event": event, "alert": dict(alert)}, separators=(",", ":")).encode()
        if len(self._queue) >= self.max_queue:
            self._queue.popleft()
            self.dropped += 1
            log.warning(
                "alert webhook queue full; oldest notification dropped",
                extra={"fields": {"to": self.shown, "queued": len(self._queue)}},
            )
        self._queue.append(body)
        self._ready.set()

    def start(self) -> None:
        if self._task is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
            self._task = asyncio.ensure_future(self._sender())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def pending(self) -> int:
        return len(self._queue)

    async def _sender(self) -> None:
        while True:
            while not self._queue:
                self._ready.clear()
                await self._ready.wait()
            body = self._queue[0]
            await self._deliver(body)
            if self._queue and self._queue[0] is body:
                self._queue.popleft()

    async def _deliver(self, body: bytes) -> None:
        headers = {"Content-Type": "application/json"}
        if self._secret:
            headers[SIGNATURE_HEADER] = signature(self._secret, body)
        assert self._session is not None
        for attempt in range(self.retries + 1):
            try:
                async with self._session.post(self.url, data=body, headers=headers) as resp:
                    if 200 <= resp.status < 300:
                        self.delivered += 1
                        return
                    error: object = f"HTTP {resp.status}"
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                error = type(exc).__name__
            if attempt == self.retries:
                break
            delay = min(BACKOFF_LONGEST, BACKOFF_FIRST * 2**attempt) * (0.5 + random.random() / 2)
            log.warning(
                "alert webhook failed; retrying",
                extra={"fields": {"to": self.shown, "error": error, "retry_in": round(delay, 2)}},
            )
            await asyncio.sleep(delay)
        self.failed += 1
        log.error(
            "alert webhook given up",
            extra={"fields": {"to": self.shown, "attempts": self.retries + 1}},
        )

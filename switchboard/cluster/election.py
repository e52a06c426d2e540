"""Leader election: the node holding one PostgreSQL advisory lock routes; nobody else does.

Theory of operation. ``pg_try_advisory_lock(key)`` on a connection of its own takes a
*session* lock: PostgreSQL keeps it exactly as long as that connection's session lives
and releases it when the session ends, however the holder dies (process killed, host
gone: the server notices the dead peer by TCP keepalive / ``tcp_user_timeout``, set per
session below). Standbys try the lock every ``retry_interval`` seconds.

Fencing: a leader must never route once another node may. It proves it still holds the
lock every ``check_interval`` seconds by a round trip on the lock's own connection (the
session is alive, so the lock is still ours), each within ``check_timeout``, and hears at
once when the server ends the session; the moment a proof fails, times out or the session
ends, the node steps down: it stops routing and disconnects AMI. So a leader routes at
most ``check_interval + check_timeout`` after its session ended. The other side of the
promise: a node that takes the lock waits that long plus a margin (the
*fence*) before it routes, because the server may have released the lock the instant the
old session ended (a restart, a DBA's kill) while the old leader had not noticed yet. On a
network failure the server needs ``SERVER_DEAD_PEER_SECONDS`` of silence before it drops
the session at all, by which time the old leader has long stopped
(docs/DEPLOYMENT.md has the timings per failure). The limit of the promise: a leader
whose event loop is frozen (not its host: the kernel still answers, so the session lives)
cannot notice anything while frozen; if the server ends its session during a freeze
longer than the fence, it may act on what was queued before it sees the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import asyncpg  # type: ignore[import-untyped]

log = logging.getLogger(__name__)

# What the lock's session asks of the server: notice a silent client (no TCP answer)
# within about this many seconds and end its session, releasing the lock.
# Keepalive probes after 3 s of silence, one a second, 3 unanswered: the session ends
# 6 s after the client last answered (unacknowledged data: tcp_user_timeout, 6 s too).
SERVER_DEAD_PEER_SECONDS = 6
SESSION_SETTINGS = {
    "tcp_keepalives_idle": "3",
    "tcp_keepalives_interval": "1",
    "tcp_keepalives_count": "3",
    "tcp_user_timeout": str(SERVER_DEAD_PEER_SECONDS * 1000),
    # A lock query stuck behind anything must not hang the election.
    "statement_timeout": "5000",
}


FENCE_MARGIN = 0.25  # seconds: scheduling slack between two nodes' event loops


class Role(enum.Enum):
    STANDBY = "standby"
    LEADER = "leader"


async def connect(dsn: str, application_name: str, **kwargs: Any) -> asyncpg.Connection:
    """A connection with dead-peer detection on the server side (see module docstring)."""
    settings = {**SESSION_SETTINGS, "application_name": application_name[:63]}
    return await asyncpg.connect(dsn, server_settings=settings, timeout=5, **kwargs)


class LeaderElection:
    """Runs the election for one node until :meth:`stop`.

    Args:
        dsn: the shared PostgreSQL (``database.url``).
        key: the advisory lock key (``cluster.lock_key``).
        node: this node's name (logs, ``application_name``).
        on_elected: awaited once the lock is ours; routing starts here.
        on_demoted: awaited the moment the lock can no longer be proved; routing stops
            here (it must not raise; it is bounded by the caller).
        retry_interval, check_interval, check_timeout: see ``cluster.*`` settings.
        clock: monotonic seconds (tests).
    """

    def __init__(
        self,
        dsn: str,
        key: int,
        node: str,
        *,
        on_elected: Callable[[], Coroutine[Any, Any, None]],
        on_demoted: Callable[[str], Awaitable[None]],
        retry_interval: float = 0.5,
        check_interval: float = 0.5,
        check_timeout: float = 1.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.dsn = dsn
        self.key = key
        self.node = node
        self.on_elected = on_elected
        self.on_demoted = on_demoted
        self.retry_interval = retry_interval
        self.check_interval = check_interval
        self.check_timeout = check_timeout
        self.clock = clock
        self.role = Role.STANDBY
        # A leader stops routing at most one proof round after its session ended; a new
        # leader waits that long (the fence) after taking the lock before it routes, so
        # the old one has stopped even when the server released the lock at once.
        self.fence = check_interval + check_timeout + FENCE_MARGIN
        self.proved_at: float | None = None  # monotonic time of the last proof
        self.elected_at: float | None = None  # time.time() of the current term's start
        self.last_error = ""
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="election")

    async def stop(self) -> None:
        """Stop the election; a leader steps down first and releases the lock."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._drop_connection()

    async def _run(self) -> None:
        while True:
            try:
                if await self._try_lock():
                    await self._lead()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the election never dies; it logs and tries again
                self.last_error = type(exc).__name__
                log.warning(
                    "election round failed", extra={"fields": {"node": self.node, "error": exc}}
                )
                if self.role is Role.LEADER:
                    await self._step_down(f"error: {type(exc).__name__}")
                await self._drop_connection()
            await asyncio.sleep(self.retry_interval)

    async def _try_lock(self) -> bool:
        if self._conn is None or self._conn.is_closed():
            self._conn = await connect(self.dsn, f"switchboard-{self.node}-election")
        got = await asyncio.wait_for(
            self._conn.fetchval("SELECT pg_try_advisory_lock($1)", self.key), self.check_timeout
        )
        return bool(got)

    async def _lead(self) -> None:
        """Hold the lock: wait out the fence, route, prove the lock until it fails."""
        conn = self._conn
        assert conn is not None
        lost = asyncio.Event()
        # The server ended our session (a DBA, a restart, a failover): step down now,
        # not at the next proof.
        conn.add_termination_listener(lambda _conn: lost.set())
        self.proved_at = self.clock()
        log.info("lock taken; waiting out the fence", extra={"fields": {"node": self.node}})
        fenced_until = self.clock() + self.fence
        starting: asyncio.Task[None] | None = None
        try:
            while True:
                if starting is None and self.clock() >= fenced_until:
                    # Routing starts beside the proofs: starting it (the store, the first
                    # AMI connect) may take longer than a lease, and the lock must be
                    # watched all that time.
                    self.role = Role.LEADER
                    self.elected_at = time.time()
                    self.last_error = ""
                    log.info("elected leader", extra={"fields": {"node": self.node}})
                    starting = asyncio.get_running_loop().create_task(
                        self.on_elected(), name="elected"
                    )
                waits: set[asyncio.Future[Any]] = {asyncio.ensure_future(lost.wait())}
                if starting is not None and not starting.done():
                    waits.add(starting)
                delay = self.check_interval
                if starting is None:
                    delay = max(0.0, min(delay, fenced_until - self.clock()))
                await asyncio.wait(waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
                for waiter in waits:
                    if waiter is not starting:
                        waiter.cancel()
                if starting is not None and starting.done():
                    starting.result()  # a failed start steps down (below) and retries
                reason = "lock session ended" if lost.is_set() else await self._prove()
                if reason:
                    await self._give_up(starting, reason)
                    return
        except asyncio.CancelledError:
            await self._give_up(starting, "stopping")
            raise
        except Exception as exc:
            await self._give_up(starting, f"error: {type(exc).__name__}")
            raise

    async def _give_up(self, starting: asyncio.Task[None] | None, reason: str) -> None:
        if starting is None:  # lost during the fence: nothing was routed
            self.last_error = reason
            await self._drop_connection()
            return
        await self._cancel(starting)
        await self._step_down(reason)

    @staticmethod
    async def _cancel(task: asyncio.Task[None]) -> None:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _prove(self) -> str:
        """Empty when the lock is still ours, else why it cannot be proved."""
        conn = self._conn
        if conn is None or conn.is_closed():
            return "lock connection closed"
        try:
            # Our session is alive: the lock is still ours. Asking pg_locks would prove no
            # more (the lock cannot leave a live session) and cost a catalog scan. A stall
            # of our own loop is no reason to step down: if this answers, the lock is ours.
            await asyncio.wait_for(conn.fetchval("SELECT 1"), self.check_timeout)
        except Exception as exc:  # asyncpg raises more than its documented classes
            return f"lock not proved: {type(exc).__name__}"
        self.proved_at = self.clock()
        return ""

    async def _step_down(self, reason: str) -> None:
        self.role = Role.STANDBY
        self.elected_at = None
        self.last_error = reason
        log.warning("stepping down", extra={"fields": {"node": self.node, "reason": reason}})
        try:
            await self.on_demoted(reason)
        finally:
            # Whatever the reason, the lock's session must end: a node that is not routing
            # must not hold the lock, and a half-dead connection must not keep it.
            await self._drop_connection()

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                await asyncio.wait_for(conn.close(), 1.0)
            except Exception:
                conn.terminate()

"""The live-event bus between nodes: PostgreSQL LISTEN/NOTIFY (frames in ``frames.py``).

Theory of operation. Two channels: ``<prefix>_events`` carries the leader's ordered
stream (console events and answers to requests) to the standbys, ``<prefix>_rpc`` the
standbys' requests to the leader. A node listens only on the channel of its role, so the
leader never reads its own stream back.

Each node has two connections: one that LISTENs (and reads spilled frames back, in
stream order, before anything after them is handled) and one that sends. The leader's
events go into an unbounded-in-time but bounded-in-size backlog that one task drains, so
sending is one ordered writer and :meth:`Bus.publish` never blocks the center; if the
backlog overflows (PostgreSQL gone for minutes) it is dropped *and counted in the
numbering*, so every standby sees a gap and reads a fresh snapshot rather than keeping
stale state. A send that fails is retried on a new connection; a frame delivered twice is
``STALE`` to receivers. Every ``heartbeat`` seconds the leader sends an empty frame (so a
standby knows the term is alive and sees a gap at the end of a burst) and each node checks
its listening connection; a lost connection is replaced and ``on_reconnect`` tells the
node that what it heard before may have holes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from config.errors import RemoteProtocolError
from switchboard.cluster import frames
from switchboard.cluster.election import Role, connect

log = logging.getLogger(__name__)

SPILL_TABLE = "switchboard_bus_spill"
SPILL_KEEP_SECONDS = 600.0  # spilled frames are read within milliseconds; keep a margin
MAX_BACKLOG = 100_000  # items waiting to be sent before the backlog is given up (a gap)
MAX_ROUND = 1_000  # items packed per round, so a heartbeat or request is never starved
MAX_REQUEST = frames.MAX_PAYLOAD
QUERY_TIMEOUT = 5.0  # seconds for any one statement on a bus connection


class Bus:
    """Args:
    dsn: the shared PostgreSQL.
    node: this node's name.
    prefix: ``cluster.channel``.
    on_frame: the standby's handler for each frame of the leader's stream, in order.
    on_request: the leader's handler for each request (a decoded JSON object).
    on_reconnect: called after the listening connection was replaced.
    heartbeat: seconds between heartbeats and connection checks.
    """

    def __init__(
        self,
        dsn: str,
        node: str,
        prefix: str,
        *,
        on_frame: Callable[[frames.Frame], None],
        on_request: Callable[[dict[str, Any]], None],
        on_reconnect: Callable[[], None],
        heartbeat: float = 1.0,
        check_timeout: float = 2.0,
        max_backlog: int = MAX_BACKLOG,
    ) -> None:
        self.dsn = dsn
        self.node = node
        self.events_channel = f"{prefix}_events"
        self.rpc_channel = f"{prefix}_rpc"
        self.on_frame = on_frame
        self.on_request = on_request
        self.on_reconnect = on_reconnect
        self.heartbeat = heartbeat
        self.check_timeout = check_timeout
        self.max_backlog = max_backlog
        self.role = Role.STANDBY
        self.connected = False
        self.reconnects = 0
        self.dropped = 0  # items given up by an overflowing backlog
        self.spilled = 0
        self.last_frame_at: float | None = None  # time.time() a leader's frame last arrived
        self.epoch = ""
        self._seq = 0
        self._backlog: deque[frames.Item] = deque()
        self._wake = asyncio.Event()
        self._inbox: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._listen: asyncpg.Connection | None = None
        self._send: asyncpg.Connection | None = None
        self._send_lock = asyncio.Lock()
        self._listen_lock = asyncio.Lock()  # one query at a time on the listening connection
        self._opened = 0
        self._listening: str | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._up = asyncio.Event()

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._keep_connected(), name="bus-connection"),
            loop.create_task(self._consume(), name="bus-consumer"),
            loop.create_task(self._publish_loop(), name="bus-publisher"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._close()

    async def wait_connected(self, within: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._up.wait(), within)
        return self.connected

    # -- role -----------------------------------------------------------------------------

    async def set_role(self, role: Role, epoch: str = "") -> None:
        """Listen on the channel of ``role``; a leader starts term ``epoch`` at number 0."""
        self.role = role
        if role is Role.LEADER:
            self.epoch, self._seq = epoch, 0
            self._backlog.clear()
        else:
            self.epoch = ""
        await self._relisten()

    async def _relisten(self) -> None:
        conn = self._listen
        wanted = self.rpc_channel if self.role is Role.LEADER else self.events_channel
        if conn is None or conn.is_closed() or self._listening == wanted:
            return
        async with asyncio.timeout(QUERY_TIMEOUT), self._listen_lock:
            if self._listening is not None:
                await conn.remove_listener(self._listening, self._notified)
            await conn.add_listener(wanted, self._notified)
            self._listening = wanted

    # -- leader side ----------------------------------------------------------------------

    def publish(self, item: frames.Item) -> None:
        """Queue one item of the leader's stream (never blocks, never raises)."""
        if self.role is not Role.LEADER:
            return
        if len(self._backlog) >= self.max_backlog:
            # Give the backlog up but keep its numbers: the receivers see the gap.
            lost = len(self._backlog)
            self._backlog.clear()
            self._seq += lost
            self.dropped += lost
            log.error(
                "bus backlog overflowed; standbys will resync", extra={"fields": {"lost": lost}}
            )
        self._backlog.append(item)
        self._wake.set()

    @property
    def backlog(self) -> int:
        return len(self._backlog)

    async def _publish_loop(self) -> None:
        while True:
            try:
                await self._publish_rounds()
            except Exception:  # a bug here must not silence the leader's stream for good
                log.exception("bus publisher failed; restarting it")
                await asyncio.sleep(0.5)

    async def _publish_rounds(self) -> None:
        last_clean = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.heartbeat)
            self._wake.clear()
            if self.role is not Role.LEADER or not self.epoch:
                continue
            epoch = self.epoch
            while True:
                items = [self._backlog.popleft() for _ in range(min(MAX_ROUND, len(self._backlog)))]
                packed = frames.pack(items, source=self.node, epoch=epoch, first_seq=self._seq)
                self._seq += len(items)
                for one in packed:
                    if self.epoch != epoch:
                        break  # the term ended (stepped down): its tail must not go out
                    await self._send_frame(one)
                if not self._backlog or self.epoch != epoch:
                    break
            if time.monotonic() - last_clean > 60:
                last_clean = time.monotonic()
                await self._clean_spill()

    async def _send_frame(self, packed: frames.Packed) -> None:
        """Send until it is sent (a frame must not be skipped); reconnect in between."""
        delay = 0.1
        while True:
            try:
                conn = await self._sender()
                # Bounded: a connection that stopped answering (a network that drops
                # packets) must not hold the stream up; the frame goes again on a new one.
                async with asyncio.timeout(QUERY_TIMEOUT), self._send_lock:
                    if packed.spill:
                        frame = packed.frame
                        await conn.execute(
                            f"WITH row AS (INSERT INTO {SPILL_TABLE} (body) VALUES ($2)"
                            " RETURNING id) SELECT pg_notify($1, json_build_object("
                            "'s', $3::text, 'e', $4::text, 'q', $5::bigint, 'n', $6::int,"
                            " 'ref', row.id)::text) FROM row",
                            self.events_channel,
                            packed.payload,
                            frame.source,
                            frame.epoch,
                            frame.seq,
                            frame.count,
                        )
                        self.spilled += 1
                    else:
                        await conn.execute(
                            "SELECT pg_notify($1, $2)", self.events_channel, packed.payload
                        )
                return
            except Exception as exc:
                # Whatever broke (asyncpg raises more than its documented classes on a
                # connection the server killed mid-operation), this frame must still go.
                log.warning("bus send failed; retrying", extra={"fields": {"error": exc}})
                await self._drop_sender()
                await asyncio.sleep(delay)
                delay = min(2.0, delay * 2)

    async def _clean_spill(self) -> None:
        with contextlib.suppress(Exception):
            conn = await self._sender()
            async with asyncio.timeout(QUERY_TIMEOUT), self._send_lock:
                await conn.execute(
                    f"DELETE FROM {SPILL_TABLE} WHERE created_at < now() - $1::interval",
                    f"{int(SPILL_KEEP_SECONDS)} seconds",
                )

    # -- standby side ---------------------------------------------------------------------

    async def request(self, message: dict[str, Any]) -> None:
        """Send one request to the leader.

        Raises:
            RemoteProtocolError: over the NOTIFY limit (console inputs are far smaller).
            OSError, asyncpg errors: PostgreSQL is unreachable.
        """
        payload = frames.dumps(message)
        if len(payload) > MAX_REQUEST:
            raise RemoteProtocolError("request too large for the bus")
        conn = await self._sender()
        try:
            async with asyncio.timeout(QUERY_TIMEOUT), self._send_lock:
                await conn.execute("SELECT pg_notify($1, $2)", self.rpc_channel, payload)
        except Exception:
            await self._drop_sender()  # the next request gets a new connection
            raise

    # -- receiving ------------------------------------------------------------------------

    def _notified(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        self._inbox.put_nowait((channel, payload))

    async def _consume(self) -> None:
        while True:
            channel, payload = await self._inbox.get()
            try:
                if channel == self.events_channel:
                    if self.role is Role.STANDBY:
                        frame = await self._resolve(frames.parse(payload))
                        self.last_frame_at = time.time()
                        self.on_frame(frame)
                elif channel == self.rpc_channel and self.role is Role.LEADER:
                    request = json.loads(payload[:MAX_REQUEST])
                    if isinstance(request, dict):
                        self.on_request(request)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one bad frame must not stop the stream
                log.warning(
                    "bus message refused", extra={"fields": {"channel": channel, "error": exc}}
                )

    async def _resolve(self, parsed: frames.Frame | frames.Spilled) -> frames.Frame:
        if isinstance(parsed, frames.Frame):
            return parsed
        conn = self._listen
        if conn is None:
            raise RemoteProtocolError("spilled frame but no connection to read it")
        async with asyncio.timeout(QUERY_TIMEOUT), self._listen_lock:
            body = await conn.fetchval(f"SELECT body FROM {SPILL_TABLE} WHERE id = $1", parsed.ref)
        if body is None:
            raise RemoteProtocolError(f"spilled frame {parsed.ref} is gone")
        return frames.parse_spilled(body, parsed)

    # -- connections ----------------------------------------------------------------------

    async def _sender(self) -> asyncpg.Connection:
        if self._send is None or self._send.is_closed():
            self._send = await connect(self.dsn, f"switchboard-{self.node}-bus-send")
        return self._send

    async def _drop_sender(self) -> None:
        conn, self._send = self._send, None
        if conn is not None:
            conn.terminate()

    async def _keep_connected(self) -> None:
        delay = 0.2
        while True:
            try:
                await self._open()
                delay = 0.2
                while True:
                    await asyncio.sleep(self.heartbeat)
                    if not await self._alive():
                        break
                log.warning("bus connection lost; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("bus not reachable", extra={"fields": {"error": exc}})
            self.connected = False
            self._up.clear()
            await self._close()
            await asyncio.sleep(delay)
            delay = min(2.0, delay * 2)

    async def _open(self) -> None:
        conn = await connect(self.dsn, f"switchboard-{self.node}-bus-listen")
        async with asyncio.timeout(QUERY_TIMEOUT), conn.transaction():
            # Two nodes creating the table at once would collide on the catalog.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1), 0)", SPILL_TABLE)
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {SPILL_TABLE} (id bigserial PRIMARY KEY,"
                " created_at timestamptz NOT NULL DEFAULT now(), body text NOT NULL)"
            )
        self._listen = conn
        self._listening = None
        await self._relisten()
        self._opened += 1
        self.reconnects = self._opened - 1
        self.connected = True
        self._up.set()
        self.on_reconnect()  # the first time too: nothing heard yet is the same as a hole

    async def _alive(self) -> bool:
        conn = self._listen
        if conn is None or conn.is_closed():
            return False
        try:
            # The wait for the lock counts too: a stuck holder means a stuck connection.
            async with asyncio.timeout(self.check_timeout), self._listen_lock:
                await conn.fetchval("SELECT 1")
        except Exception:  # any failure of the check is a connection to replace
            return False
        return True

    async def _close(self) -> None:
        conn, self._listen = self._listen, None
        self._listening = None
        if conn is not None:
            conn.terminate()
        await self._drop_sender()

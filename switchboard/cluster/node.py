"""One node of a cluster: the console's contact center whichever role the node has.

Theory of operation. The console is given one :class:`ClusterCenter` for the node's whole
life (``agent_console.ports.ContactCenter``). While the node leads, it is a thin pass-
through to a local :class:`routing.center.CallCenter` (built fresh for every term, so a
new leader starts exactly as a restarted service: ACD state from the store, AMI connect,
resync and takeover) and every event the center publishes also goes on the bus. While the
node stands by, reads come from a :class:`~switchboard.cluster.replica.Replica` of the
leader kept from the bus, actions are forwarded to the leader over the bus and answered
in the leader's ordered stream (so when an action returns here, every event it caused has
already been applied: the console reads its own writes), and subscribers get the leader's
events as they arrive. Whenever the picture is replaced (a new term, a gap, a role
change), ``on_resync`` is called: the service sends every console a fresh snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from config.errors import LeaderUnavailable, RemoteError, SwitchboardError
from config.settings import Settings
from switchboard.cluster import rpc
from switchboard.cluster.bus import Bus
from switchboard.cluster.election import LeaderElection, Role
from switchboard.cluster.frames import Frame, Ordering, Verdict
from switchboard.cluster.replica import Replica, bundle_of

log = logging.getLogger(__name__)

Message = dict[str, Any]
Listener = Callable[[Message], None]
# The term's routing: (the started call center, a coroutine that stops it).
Term = tuple[Any, Callable[[], Awaitable[None]]]
STOP_WITHIN = 5.0  # a stepping-down leader's center stops within this (the DB may be gone)
MAX_SERVING = 256  # requests the leader runs at once
SNAPSHOT_TIMEOUT = 2.0  # a standby asks again this soon: its consoles wait on the answer


class ClusterCenter:
    """``agent_console.ports.ContactCenter`` for a node of a cluster (see module doc)."""

    def __init__(self, node: ClusterNode) -> None:
        self._node = node
        self._listeners: list[Listener] = []

    # -- reads ----------------------------------------------------------------------------

    def _reader(self) -> Any:
        local = self._node.local
        return local if local is not None else self._node.replica

    def snapshot(self) -> Message:
        return self._reader().snapshot()  # type: ignore[no-any-return]

    def agent(self, agent_id: str) -> Message | None:
        return self._reader().agent(agent_id)  # type: ignore[no-any-return]

    def agent_snapshot(self, agent_id: str) -> Message | None:
        return self._reader().agent_snapshot(agent_id)  # type: ignore[no-any-return]

    def queues_for_supervisor(self, username: str) -> frozenset[str]:
        return self._reader().queues_for_supervisor(username)  # type: ignore[no-any-return]

    def current_call(self, agent_id: str) -> Message | None:
        return self._reader().current_call(agent_id)  # type: ignore[no-any-return]

    def call(self, call_id: str) -> Message | None:
        return self._reader().call(call_id)  # type: ignore[no-any-return]

    def conversations_of(self, agent_id: str) -> list[Message]:
        return self._reader().conversations_of(agent_id)  # type: ignore[no-any-return]

    def conversation(self, key: str) -> Message | None:
        return self._reader().conversation(key)  # type: ignore[no-any-return]

    def health(self) -> Message:
        return self._node.health()

    # -- actions --------------------------------------------------------------------------

    async def _act(self, method: str, *args: Any, **kwargs: str | None) -> Any:
        local = self._node.local
        if local is not None:
            return await getattr(local, method)(*args, **kwargs)
        return await self._node.forward(method, list(args), kwargs)

    async def set_agent_state(
        self, agent_id: str, state: str, reason: str = "", *, forced_by: str | None = None
    ) -> None:
        await self._act("set_agent_state", agent_id, state, reason, forced_by=forced_by)

    async def wrapup_done(self, agent_id: str) -> None:
        await self._act("wrapup_done", agent_id)

    async def wrapup_draft(self, agent_id: str, unsaved: bool) -> None:
        await self._act("wrapup_draft", agent_id, "true" if unsaved else "false")

    async def hold(self, call_id: str) -> None:
        await self._act("hold", call_id)

    async def unhold(self, call_id: str) -> None:
        await self._act("unhold", call_id)

    async def transfer(self, call_id: str, kind: str, target: str) -> None:
        await self._act("transfer", call_id, kind, target)

    async def hangup(self, call_id: str) -> None:
        await self._act("hangup", call_id)

    async def recording_pause(self, agent_id: str, call_id: str, paused: bool) -> None:
        await self._act("recording_pause", agent_id, call_id, "true" if paused else "false")

    async def ack_alert(self, alert_id: str, username: str) -> Message:
        return dict(await self._act("ack_alert", alert_id, username))

    async def dial(
        self,
        agent_id: str,
        number: str,
        *,
        customer_id: str | None = None,
        queue: str | None = None,
    ) -> str:
        return str(await self._act("dial", agent_id, number, customer_id=customer_id, queue=queue))

    async def move_call(self, call_id: str, queue: str) -> None:
        await self._act("move_call", call_id, queue)

    async def spy(self, agent_id: str, mode: str, *, supervisor_agent_id: str) -> None:
        await self._act("spy", agent_id, mode, supervisor_agent_id=supervisor_agent_id)

    async def conversation_reply(self, agent_id: str, key: str, text: str) -> Message:
        return dict(await self._act("conversation_reply", agent_id, key, text))

    async def conversation_typing(self, agent_id: str, key: str, on: bool) -> None:
        await self._act("conversation_typing", agent_id, key, "true" if on else "false")

    async def conversation_end(self, agent_id: str, key: str) -> Message:
        return dict(await self._act("conversation_end", agent_id, key))

    async def conversation_close(self, agent_id: str, key: str) -> Message:
        return dict(await self._act("conversation_close", agent_id, key))

    async def conversation_messages(
        self, key: str, after_seq: int = 0, before_seq: int = 0
    ) -> list[Message]:
        return list(
            await self._act(
                "conversation_messages",
                key,
                str(int(after_seq)),
                before_seq=str(int(before_seq)),
            )
        )

    async def visitor_open(
        self,
        channel: str,
        queue: str,
        party: Message,
        subject: str = "",
        language: str = "",
        first_message: str | None = None,
    ) -> Message:
        # the party as an object of strings: the one argument rpc takes as an object
        fields = {k: str(party.get(k) or "") for k in ("name", "phone", "email")}
        return dict(
            await self._act(
                "visitor_open",
                channel,
                queue,
                fields,
                subject,
                language,
                first_message=first_message,
            )
        )

    async def visitor_message(self, key: str, text: str, client_id: str = "") -> Message:
        return dict(await self._act("visitor_message", key, text, client_id=client_id or ""))

    async def visitor_typing(self, key: str, on: bool) -> None:
        await self._act("visitor_typing", key, "true" if on else "false")

    async def visitor_leave(self, key: str) -> Message:
        return dict(await self._act("visitor_leave", key))

    async def visitor_transcript(self, key: str, email: str) -> Message:
        return dict(await self._act("visitor_transcript", key, email))

    # -- events ---------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    def emit(self, message: Message) -> None:
        for listener in list(self._listeners):
            try:
                listener(message)
            except Exception:
                log.exception("listener failed", extra={"fields": {"type": message.get("type")}})


class ClusterNode:
    """Election + bus + the console's center for one node.

    Args:
        settings: the service settings (``cluster.*``, ``database.url``).
        dsn: the shared PostgreSQL.
        start_term: builds and starts a fresh call center for a new term (routing
            starts: AMI connect, resync, takeover) and returns it with its stop coroutine.
        clock: epoch seconds.
    """

    def __init__(
        self,
        settings: Settings,
        dsn: str,
        *,
        start_term: Callable[[], Awaitable[Term]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        cluster = settings.cluster
        self.settings = settings
        self.name = cluster.node
        self.start_term = start_term
        self.clock = clock
        self.rpc_timeout = cluster.rpc_timeout
        self.local: Any = None  # the term's CallCenter while leading
        self._stop_term: Callable[[], Awaitable[None]] | None = None
        self._unsubscribe_local: Callable[[], None] | None = None
        self.replica = Replica(clock)
        self.ordering = Ordering()
        self.leader: str | None = None  # the node whose stream we follow
        self.center = ClusterCenter(self)
        self.on_resync: Callable[[], None] = lambda: None
        self.bus = Bus(
            dsn,
            self.name,
            cluster.channel,
            on_frame=self._on_frame,
            on_request=self._on_request,
            on_reconnect=self._on_bus_reconnect,
        )
        self.election = LeaderElection(
            dsn,
            cluster.lock_key,
            self.name,
            on_elected=self._elected,
            on_demoted=self._demoted,
            retry_interval=cluster.retry_interval,
            check_interval=cluster.check_interval,
            check_timeout=cluster.check_timeout,
        )
        self.terms = 0
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._snapshot_id: str | None = None
        self._snapshot_task: asyncio.Task[None] | None = None
        self._serving: set[asyncio.Task[None]] = set()

    @property
    def role(self) -> Role:
        return Role.LEADER if self.local is not None else Role.STANDBY

    async def start(self) -> None:
        await self.bus.start()
        await self.bus.wait_connected(5.0)
        self.election.start()

    async def stop(self) -> None:
        await self.election.stop()  # a leader steps down (its center stops) first
        for task in list(self._serving):
            task.cancel()
        if self._snapshot_task is not None:
            self._snapshot_task.cancel()
        await self.bus.stop()

    # -- roles ----------------------------------------------------------------------------

    async def _elected(self) -> None:
        self.terms += 1
        epoch = f"{self.name}.{time.time_ns()}"
        self._fail_pending("this node is now the leader; try again")
        center, stop = await self.start_term()
        self._stop_term = stop
        self._unsubscribe_local = center.subscribe(self._from_local)
        self.local = center
        self.leader = self.name
        # The term's stream starts only now, with a center to answer the standbys' first
        # request (a snapshot); what the center published while starting is in it.
        await self.bus.set_role(Role.LEADER, epoch)
        log.info("routing on this node", extra={"fields": {"node": self.name, "term": epoch}})
        self.on_resync()

    async def _demoted(self, reason: str) -> None:
        center, stop = self.local, self._stop_term
        self.local, self._stop_term = None, None
        if self._unsubscribe_local is not None:
            self._unsubscribe_local()
            self._unsubscribe_local = None
        for task in list(self._serving):
            task.cancel()
        if stop is not None:
            try:
                await asyncio.wait_for(stop(), STOP_WITHIN)
            except Exception:
                log.exception("the stepping-down center did not stop cleanly")
        del center  # the term's center is done; nothing may reach it any more
        self.replica = Replica(self.clock)
        self.ordering.reset()
        self.leader = None
        with contextlib.suppress(Exception):
            await self.bus.set_role(Role.STANDBY)
        self.on_resync()

    # -- leader side ----------------------------------------------------------------------

    def _from_local(self, message: Message) -> None:
        self.bus.publish({"e": message})
        self.center.emit(message)

    def _on_request(self, request: dict[str, Any]) -> None:
        center = self.local
        rid, sender = request.get("id"), request.get("from")
        if center is None or not isinstance(rid, str) or not isinstance(sender, str):
            return
        sent = request.get("t")
        if isinstance(sent, int | float) and self.clock() - sent > self.rpc_timeout:
            return  # its sender has given up already: running it now would surprise them
        if request.get("m") == rpc.SNAPSHOT:
            # Taken and queued in one step: its place in the stream is exact.
            self.bus.publish(
                {"r": {"id": rid, "to": sender, "ok": True, "result": bundle_of(center)}}
            )
            return
        if len(self._serving) >= MAX_SERVING:
            self._answer(rid, sender, error=LeaderUnavailable("the leader is overloaded"))
            return
        task = asyncio.get_running_loop().create_task(self._serve(center, rid, sender, request))
        self._serving.add(task)
        task.add_done_callback(self._serving.discard)

    async def _serve(self, center: Any, rid: str, sender: str, request: dict[str, Any]) -> None:
        try:
            method, args, kwargs = rpc.checked_call(request)
            result = await getattr(center, method)(*args, **kwargs)
        except SwitchboardError as exc:
            self._answer(rid, sender, error=exc)
        except Exception:
            log.exception("forwarded action failed", extra={"fields": {"method": request.get("m")}})
            self._answer(rid, sender, error=RemoteError("the leader failed to run it"))
        else:
            self._answer(rid, sender, result=result)

    def _answer(
        self, rid: str, to: str, *, result: Any = None, error: SwitchboardError | None = None
    ) -> None:
        reply: Message = {"id": rid, "to": to, "ok": error is None}
        if error is None:
            reply["result"] = result
        else:
            reply["error"] = rpc.error_to_json(error)
        self.bus.publish({"r": reply})

    # -- standby side ---------------------------------------------------------------------

    def _on_bus_reconnect(self) -> None:
        if self.role is Role.STANDBY:
            # What was heard before may have holes: start again from a snapshot.
            self.ordering.reset()
            self.replica.invalidate()

    def _on_frame(self, frame: Frame) -> None:
        if self.role is not Role.STANDBY:
            return
        verdict = self.ordering.check(frame.epoch, frame.seq, frame.count)
        if verdict is Verdict.STALE:
            return
        if verdict is Verdict.NEW_TERM and frame.source != self.leader:
            self._fail_pending(f"the leader changed to {frame.source}; try again")
        if verdict in (Verdict.NEW_TERM, Verdict.GAP):
            self.leader = frame.source
            self.replica.invalidate()
            self._want_snapshot()
        for item in frame.items:
            event = item.get("e")
            if isinstance(event, dict):
                if self.replica.ready:
                    self.replica.apply(event)
                    self.center.emit(event)
                continue
            reply = item.get("r")
            if isinstance(reply, dict) and reply.get("to") == self.name:
                self._on_reply(reply)

    def _on_reply(self, reply: Message) -> None:
        rid = reply.get("id")
        if rid is not None and rid == self._snapshot_id and reply.get("ok"):
            # Applied here, in stream order: events after it in the stream apply on top.
            self._snapshot_id = None
            self.replica.reset(reply["result"])
            self.on_resync()
        future = self._pending.pop(str(rid), None)
        if future is None or future.done():
            return
        if reply.get("ok"):
            future.set_result(reply.get("result"))
        else:
            future.set_exception(rpc.error_from_json(reply.get("error")))

    def _want_snapshot(self) -> None:
        if self._snapshot_task is None or self._snapshot_task.done():
            self._snapshot_task = asyncio.get_running_loop().create_task(
                self._fetch_snapshot(), name="cluster-snapshot"
            )

    async def _fetch_snapshot(self) -> None:
        while self.role is Role.STANDBY and not self.replica.ready:
            rid = self._new_id()
            self._snapshot_id = rid
            with contextlib.suppress(SwitchboardError):
                await self._request(rid, rpc.SNAPSHOT, [], {}, within=SNAPSHOT_TIMEOUT)
            if not self.replica.ready:
                await asyncio.sleep(0.5)

    def _new_id(self) -> str:
        return f"{self.name}-{next(self._ids)}"

    async def forward(self, method: str, args: list[Any], kwargs: dict[str, str | None]) -> Any:
        """Run a console action on the leader and return its result.

        Raises:
            LeaderUnavailable: no leader, or no answer within ``cluster.rpc_timeout``.
            the leader's own error (NotFound, IllegalTransition, ...).
        """
        if self.leader is None or not self.bus.connected:
            raise LeaderUnavailable("no routing node is reachable right now; try again")
        return await self._request(self._new_id(), method, args, kwargs)

    async def _request(
        self,
        rid: str,
        method: str,
        args: list[str],
        kwargs: Any,
        *,
        within: float | None = None,
    ) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        try:
            await self.bus.request(
                {
                    "id": rid,
                    "from": self.name,
                    "m": method,
                    "a": args,
                    "k": kwargs,
                    "t": self.clock(),
                }
            )
            return await asyncio.wait_for(future, within or self.rpc_timeout)
        except TimeoutError:
            raise LeaderUnavailable("the routing node did not answer in time") from None
        except SwitchboardError:
            raise
        except Exception:  # OSError, any asyncpg error: the bus is not there
            raise LeaderUnavailable("the cluster bus is not reachable") from None
        finally:
            self._pending.pop(rid, None)

    def _fail_pending(self, why: str) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(LeaderUnavailable(why))
        self._pending.clear()

    # -- health ---------------------------------------------------------------------------

    def health(self) -> Message:
        bus = {
            "connected": self.bus.connected,
            "reconnects": self.bus.reconnects,
            "backlog": self.bus.backlog,
            "spilled": self.bus.spilled,
            "dropped": self.bus.dropped,
        }
        local = self.local
        if local is not None:
            body: Message = dict(local.health())
            # Routing while any PBX is connected (one PBX: its "ami"; several: "pbx").
            links = body.get("pbx") or {"ami": body.get("ami", {})}
            ok = any(bool(link.get("connected")) for link in links.values())
            body["cluster"] = {
                "node": self.name,
                "role": Role.LEADER.value,
                "ok": ok,
                "leader": self.name,
                "since": self.election.elected_at,
                "bus": bus,
            }
            return body
        seen = self.bus.last_frame_at
        return {
            # A standby does not talk to Asterisk; /healthz reads the cluster verdict.
            "ami": {"connected": False},
            "reload": {"ok": True},
            "cluster": {
                "node": self.name,
                "role": Role.STANDBY.value,
                "ok": self.bus.connected,
                "leader": self.leader,
                "leader_seen_ago": round(self.clock() - seen, 3) if seen else None,
                "synced": self.replica.ready,
                "last_step_down": self.election.last_error or None,
                "bus": bus,
            },
        }

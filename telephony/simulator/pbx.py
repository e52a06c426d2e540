"""The simulated PBX: an asyncio TCP server speaking AMI like Asterisk 22.

Theory of operation: one :class:`PbxSimulator` owns the world — live channels, bridges,
agent phones, callers — and a set of AMI sessions (:mod:`.session`). Every change in the
world is announced with :meth:`PbxSimulator.emit`, which encodes the event once and writes
it, in order, to each logged-in session whose event mask takes that class. Each channel
has at most one *runner* task executing its dialplan (:mod:`.dialplan`); a hangup or a
Redirect cancels the runner, whose cleanup emits what Asterisk emits when an application
is interrupted (``AsyncAGIEnd``, ``MusicOnHoldStop``, ``BridgeLeave``), and only then the
hangup or the new context's events follow — which gives the captured event order. All
waits go through :meth:`PbxSimulator.sleep`, so ``time_scale`` shortens them for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Sequence
from pathlib import Path
from typing import Any

from config.errors import InvalidInput

from . import mixmonitor
from .agi import agi_session
from .dialplan import run_dialplan
from .model import CallerProfile, PhoneBehaviour, SimBridge, SimChannel
from .privileges import SHIPPED_WRITE, parse_classes
from .session import AmiSession
from .wire import encode

log = logging.getLogger(__name__)

CAUSE_TEXT = {
    0: "Unknown",
    16: "Normal Clearing",
    17: "User busy",
    19: "No user responding",
    20: "Subscriber absent",
    21: "Call Rejected",
}

DEMO_CALLERS: tuple[CallerProfile, ...] = (
    CallerProfile("+15550001111", caller_name="Ada Lovelace", dtmf=("1",)),
    CallerProfile("+15550002222", caller_name="Grace Hopper", dtmf=("2",)),
    CallerProfile("+15550003333", caller_name="Alan Turing", dtmf=("1", "12345678#")),
    CallerProfile("+15550004444", caller_name="Edsger Dijkstra", dtmf=("3",), patience=30.0),
    CallerProfile("+15550005555", caller_name="", dtmf=()),
    CallerProfile("+447700900123", caller_name="Tim Berners-Lee", dtmf=("1",)),
)


class PbxSimulator:
    """A PBX that speaks AMI byte-for-byte like the captured Asterisk 22.

    Args:
        username: the AMI user accepted at login.
        secret: its secret (plain ``Secret`` or MD5 ``Key`` over a ``Challenge``).
        time_scale: factor applied to every simulated wait (0.01 makes tests fast).
        seed: seed for the random parts (talk times, Poisson arrivals, ids).
        id_clock: the epoch seconds Uniqueids start with (``<epoch>.<seq>``); two
            simulators given the same one number their channels alike, as two real
            Asterisks started together do.
        write: the AMI user's write classes (manager.conf ``write =``); by default the
            shipped manager.conf's, so an action outside them answers Permission denied.
        monitor_dir: where a MixMonitor given a relative file name records
            (Asterisk's ``astspooldir/monitor``); absolute names are used as given.
    """

    def __init__(
        self,
        username: str = "switchboard",
        secret: str = "switchboard",
        *,
        time_scale: float = 1.0,
        seed: int | None = None,
        id_clock: Callable[[], float] = time.time,
        write: str | Iterable[str] = SHIPPED_WRITE,
        monitor_dir: Path | None = None,
    ) -> None:
        if time_scale <= 0:
            raise InvalidInput("time_scale must be > 0", field="time_scale")
        if not username or not secret:
            raise InvalidInput("the simulator needs an AMI username and secret")
        self.username = username
        self.secret = secret
        self.write = parse_classes(write)
        self.monitor_dir = monitor_dir or Path(tempfile.gettempdir()) / "switchboard-sim-monitor"
        # MixMonitor files hold at most this many (simulated) seconds of audio.
        self.max_recording_seconds = 600.0
        self.time_scale = time_scale
        self.rng = random.Random(seed)
        self.channels: dict[str, SimChannel] = {}
        self.bridges: dict[str, SimBridge] = {}
        self.globals: dict[str, str] = {}
        self.phones: dict[str, PhoneBehaviour] = {}
        # trunk endpoint here -> (the PBX at its far end, this PBX's endpoint name there)
        self.trunks: dict[str, tuple[PbxSimulator, str]] = {}
        self.id_clock = id_clock
        self.outbound = PhoneBehaviour(mode="answer", answer_after=2.0, talk_seconds=None)
        self.stats = {"placed": 0, "abandoned": 0, "bridged": 0, "processed": 0}
        self.host = "127.0.0.1"
        self.port = 0
        self.sessions: set[AmiSession] = set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._traffic: asyncio.Task[None] | None = None
        self._seq = 0
        self._up = False
        self.started_at = time.time()
        self.boot_at = 0.0
        self.booted_at = 0.0

    # ----------------------------------------------------------------- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen for AMI clients; returns the bound port.

        Raises:
            InvalidInput: the address cannot be bound.
        """
        self.host = host
        loop = asyncio.get_running_loop()
        self.boot_at = self.booted_at = loop.time()
        await self._listen(port)
        return self.port

    async def _listen(self, port: int) -> None:
        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            session = AmiSession(self, reader, writer)
            self.sessions.add(session)
            try:
                await session.run()
            finally:
                self.sessions.discard(session)

        try:
            self._server = await asyncio.start_server(accept, self.host, port)
        except OSError as exc:
            raise InvalidInput(f"cannot listen on {self.host}:{port}: {exc}") from exc
        self.port = self._server.sockets[0].getsockname()[1]
        self._up = True

    async def stop(self) -> None:
        """Stop listening, close every session and end every channel and task."""
        self.stop_traffic()
        self._up = False
        await self._close_server()
        await self._close_sessions()
        await self._clear_channels()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _close_server(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None

    async def _close_sessions(self, *, abort: bool = False) -> None:
        sessions = list(self.sessions)
        for session in sessions:
            session.close(abort=abort)
        await asyncio.sleep(0)

    async def _clear_channels(self) -> None:
        chans = list(self.channels.values())
        self.channels.clear()
        self.bridges.clear()
        for chan in chans:
            chan.hanging = True
            for timer in chan.timers:
                timer.cancel()
            if chan.runner is not None and not chan.runner.done():
                chan.runner.cancel()
            chan.gone.set()
        runners = [c.runner for c in chans if c.runner is not None]
        if runners:
            await asyncio.gather(*runners, return_exceptions=True)
        for chan in chans:
            mixmonitor.stop_all(self, chan)

    async def drop_connections(self) -> None:
        """Fault injection: cut every AMI connection at once; calls stay up."""
        await self._close_sessions(abort=True)

    async def restart(self, downtime: float = 1.0) -> None:
        """Fault injection: ``Shutdown``, close, refuse connections, then boot again.

        Every channel is gone after the restart. A client that logs in right after the
        boot gets ``FullyBooted`` a little after its login response, as a booting
        Asterisk does.
        """
        self.emit("Shutdown", [("Shutdown", "Cleanly"), ("Restart", "True")], "system")
        await asyncio.sleep(0)
        self._up = False
        await self._close_server()
        await self._close_sessions()
        await self._clear_channels()
        await self.sleep(downtime)
        loop = asyncio.get_running_loop()
        self.boot_at = loop.time()
        self.booted_at = self.boot_at + self.scaled(0.5)
        self.started_at = time.time()
        await self._listen(self.port)

    # ----------------------------------------------------------------- helpers

    def loop_time(self) -> float:
        return asyncio.get_running_loop().time()

    def scaled(self, seconds: float) -> float:
        return max(0.0, seconds * self.time_scale)

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of simulated time."""
        await asyncio.sleep(self.scaled(seconds))

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[None]:
        """Run a background coroutine; the task is kept until it ends (never dropped)."""
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("simulator task failed", exc_info=task.exception())

    @property
    def running(self) -> bool:
        return self._up

    def uptime(self) -> int:
        return int(asyncio.get_running_loop().time() - self.boot_at)

    # ----------------------------------------------------------------- events

    def emit(self, name: str, headers: Sequence[tuple[str, str]], category: str) -> None:
        """Send one event to every session that takes ``category``."""
        data = encode([("Event", name), ("Privilege", f"{category},all"), *headers])
        for session in list(self.sessions):
            session.deliver(category, data)

    def emit_chan(self, name: str, chan: SimChannel, *extra: tuple[str, str]) -> None:
        self.emit(name, [*chan.block(), *extra], _CATEGORY.get(name, "call"))

    # ----------------------------------------------------------------- channels

    def new_channel(
        self,
        prefix: str,
        *,
        state: int,
        context: str,
        exten: str,
        caller: tuple[str, str] = ("<unknown>", "<unknown>"),
        connected: tuple[str, str] = ("<unknown>", "<unknown>"),
        linkedid: str | None = None,
    ) -> SimChannel:
        """Create and register a channel ``<prefix>-<8 hex digits>``; emits Newchannel."""
        self._seq += 1
        uniqueid = f"{int(self.id_clock())}.{self._seq}"
        chan = SimChannel(
            name=f"{prefix}-{self._seq:08x}",
            uniqueid=uniqueid,
            linkedid=linkedid or uniqueid,
            created=asyncio.get_running_loop().time(),
            state=state,
            caller_num=caller[0] or "<unknown>",
            caller_name=caller[1] or "<unknown>",
            connected_num=connected[0] or "<unknown>",
            connected_name=connected[1] or "<unknown>",
            context=context,
            exten=exten,
        )
        self.channels[chan.name] = chan
        self.stats["processed"] += 1
        self.emit_chan("Newchannel", chan)
        return chan

    def find(self, name: str) -> SimChannel | None:
        return self.channels.get(name)

    def set_state(self, chan: SimChannel, state: int) -> None:
        if chan.state != state:
            chan.state = state
            self.emit_chan("Newstate", chan)

    def set_var(self, chan: SimChannel, name: str, value: str) -> None:
        chan.variables[name.lstrip("_")] = value
        if name.startswith("__"):
            chan.inherited[name] = value
        self.emit_chan("VarSet", chan, ("Variable", name), ("Value", value))

    def show_app(self, chan: SimChannel, app: str, data: str) -> None:
        """A new channel's application as Asterisk reports it (Newexten without dialplan)."""
        chan.app, chan.app_data = app, data
        self.emit_chan(
            "Newexten", chan, ("Extension", chan.exten), ("Application", app), ("AppData", data)
        )

    def endpoint_behaviour(self, target: str) -> PhoneBehaviour | None:
        """Behaviour of a dial target: an added phone, a trunk customer, or None."""
        if target in self.phones:
            return self.phones[target]
        if target.startswith("PJSIP/") and target.endswith("@trunk"):
            return self.outbound
        return None

    def link_trunk(self, endpoint: str, peer: PbxSimulator, peer_endpoint: str) -> None:
        """An inter-PBX trunk: ``Dial(PJSIP/<ext>@<endpoint>)`` here reaches ``peer``,
        where the call arrives on ``PJSIP/<peer_endpoint>-...`` in ``switchboard-from-pbx``
        (which dials ``PJSIP/<ext>`` there). Link both ways for calls in both directions.

        Raises:
            InvalidInput: a name with characters a PJSIP endpoint cannot have.
        """
        for name in (endpoint, peer_endpoint):
            if not name or any(c in name for c in "/@,&\r\n "):
                raise InvalidInput(f"not a trunk endpoint name: {name!r}")
        self.trunks[endpoint] = (peer, peer_endpoint)

    def trunk_for(self, target: str) -> tuple[PbxSimulator, str] | None:
        """The linked PBX a dial target ``TECH/<ext>@<trunk>`` goes to, if any."""
        _, _, resource = target.partition("/")
        _, at, endpoint = resource.partition("@")
        return self.trunks.get(endpoint) if at else None

    def add_phone(self, endpoint: str, behaviour: PhoneBehaviour | None = None) -> None:
        """Register an agent phone (``PJSIP/1001``) or a trunk number's behaviour.

        Raises:
            InvalidInput: the endpoint is not ``TECH/resource``.
        """
        tech, sep, resource = endpoint.partition("/")
        if not sep or not tech or not resource or any(c in endpoint for c in "\r\n,&"):
            raise InvalidInput(f"endpoint must look like PJSIP/1001, got {endpoint!r}")
        self.phones[endpoint] = behaviour or PhoneBehaviour()

    async def run_agi(self, chan: SimChannel) -> int:
        """``AGI(agi:async)``: the channel's AsyncAGI session. The dialplan calls it
        through the simulator, which owns every part, so the parts import no one in a
        circle (dialplan -> agi -> dialplan)."""
        return await agi_session(self, chan)

    def start_runner(self, chan: SimChannel) -> None:
        """(Re)start the channel's dialplan at its current context/exten/priority."""
        chan.runner = self.spawn(run_dialplan(self, chan))

    async def bridge_channels(self, first: SimChannel, second: SimChannel) -> None:
        """``Action: Bridge``: stop what both channels run and bridge them.

        When the bridge ends each surviving channel goes on at its next priority, as
        Asterisk's after-bridge goto does (in the sample contexts: ``Hangup``).
        """
        pair = (first, second)
        for chan in pair:
            chan.redirecting = True
        for chan in pair:
            await self.stop_runner(chan)
        for chan in pair:
            chan.redirecting = False
            chan.dial_owner = None
        if first.hanging or second.hanging:
            return
        bridge = self.new_bridge(first, second)
        for chan in pair:
            chan.app, chan.app_data = "Bridge", ""
            chan.runner = self.spawn(self._after_bridge(chan, bridge))

    async def _after_bridge(self, chan: SimChannel, bridge: SimBridge) -> None:
        try:
            await bridge.ended.wait()
        except asyncio.CancelledError:
            self.leave_bridge(chan)
            raise
        if not chan.hanging:
            chan.priority += 1
            await run_dialplan(self, chan)

    async def stop_runner(self, chan: SimChannel) -> None:
        runner = chan.runner
        if runner is None or runner.done() or runner is asyncio.current_task():
            return
        runner.cancel()
        await asyncio.wait([runner])

    async def hangup(self, chan: SimChannel, *, cause: int = 16, source: str = "ami") -> None:
        """Hang a channel up with Asterisk's event order for ``source``.

        ``remote`` is the far end's BYE (HangupRequest without Cause first), ``ami`` an
        ``Action: Hangup``, ``dialplan`` the channel's own dialplan ending.
        """
        if chan.hanging or chan.gone.is_set():
            return
        chan.hanging = True
        if source == "remote":
            self.emit_chan("HangupRequest", chan)
        for timer in chan.timers:
            if timer is not asyncio.current_task():
                timer.cancel()
        await self.stop_runner(chan)
        self.leave_bridge(chan)
        mixmonitor.stop_all(self, chan)
        self.emit_chan("SoftHangupRequest", chan, ("Cause", "16"))
        self.emit_chan(
            "Hangup", chan, ("Cause", str(cause)), ("Cause-txt", CAUSE_TEXT.get(cause, "Unknown"))
        )
        self.channels.pop(chan.name, None)
        chan.gone.set()

    async def redirect(self, targets: Sequence[tuple[SimChannel, str, str, int]]) -> None:
        """Move channels to new dialplan locations (Redirect, with ExtraChannel)."""
        for chan, _, _, _ in targets:
            chan.redirecting = True
        for chan, _, _, _ in targets:
            await self.stop_runner(chan)
        for chan, _, _, _ in targets:
            self.leave_bridge(chan)
        for chan, context, exten, priority in targets:
            chan.redirecting = False
            chan.dial_owner = None  # a redirected Dial leg now runs on its own
            if chan.hanging:
                continue
            chan.context, chan.exten, chan.priority = context, exten, priority
            self.start_runner(chan)

    # ----------------------------------------------------------------- bridges

    def new_bridge(self, first: SimChannel, second: SimChannel) -> SimBridge:
        """Create a basic bridge with two channels (BridgeCreate, BridgeEnter ×2)."""
        bridge = SimBridge(uniqueid=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)))
        self.bridges[bridge.uniqueid] = bridge
        self.emit("BridgeCreate", bridge.block(), "call")
        for chan in (first, second):
            self.leave_bridge(chan)
            bridge.members.append(chan)
            chan.bridge = bridge
            chan.bridged.set()
            self.emit("BridgeEnter", [*bridge.block(), *chan.block()], "call")
        for chan in (first, second):
            mixmonitor.changed(self, chan)
            self._on_bridged(chan)
        return bridge

    def _on_bridged(self, chan: SimChannel) -> None:
        if not chan.is_caller:
            return
        self.stats["bridged"] += 1
        if chan.patience_timer is not None:
            chan.patience_timer.cancel()
            chan.patience_timer = None
        if chan.talk_seconds is not None and not chan.talking:
            chan.talking = True
            self.hang_up_later(chan, chan.talk_seconds)

    def hang_up_later(self, chan: SimChannel, talk: tuple[float, float]) -> None:
        """The far end of ``chan`` hangs up after a random talk time."""
        delay = self.rng.uniform(*talk)

        async def later() -> None:
            await self.sleep(delay)
            # A SIP BYE: the captures show Cause 0 for the side that sent it.
            await self.hangup(chan, cause=0, source="remote")

        chan.timers.append(self.spawn(later()))

    def leave_bridge(self, chan: SimChannel) -> None:
        bridge = chan.bridge
        if bridge is None:
            return
        chan.bridge = None
        mixmonitor.changed(self, chan)
        if chan in bridge.members:
            bridge.members.remove(chan)
            self.emit("BridgeLeave", [*bridge.block(), *chan.block()], "call")
        if len(bridge.members) == 1:
            # A basic two-party bridge does not outlive one of its parties.
            last = bridge.members.pop()
            last.bridge = None
            mixmonitor.changed(self, last)
            self.emit("BridgeLeave", [*bridge.block(), *last.block()], "call")
        if not bridge.members and not bridge.ended.is_set():
            self.bridges.pop(bridge.uniqueid, None)
            self.emit("BridgeDestroy", bridge.block(), "call")
            bridge.ended.set()

    # ----------------------------------------------------------------- callers

    def place_call(
        self,
        caller: str,
        did: str = "5551000",
        caller_name: str = "",
        dtmf: Sequence[str] = (),
        patience: float = 60.0,
        talk_seconds: tuple[float, float] | None = None,
    ) -> str:
        """A caller dials ``did`` on the trunk; returns the channel's Uniqueid.

        ``dtmf`` groups are keyed in one by one when the service plays with escape
        digits or collects digits; after ``patience`` seconds without reaching an agent
        the caller hangs up (abandons); once bridged the caller talks ``talk_seconds``.

        Raises:
            InvalidInput: the simulator is not running or an argument is malformed.
        """
        if not self._up:
            raise InvalidInput("the simulator is not running")
        for value in (caller, did, caller_name, *dtmf):
            if any(c in value for c in "\r\n"):
                raise InvalidInput("caller, did, name and dtmf must not contain CR/LF")
        if not did:
            raise InvalidInput("did must not be empty", field="did")
        if patience <= 0:
            raise InvalidInput("patience must be > 0", field="patience")
        for group in dtmf:
            if not group or any(c not in "0123456789*#ABCD" for c in group):
                raise InvalidInput(f"bad DTMF group {group!r}", field="dtmf")
        chan = self.new_channel(
            "PJSIP/trunk",
            state=4,
            context="switchboard-inbound",
            exten=did,
            caller=(caller, caller_name),
        )
        chan.is_caller = True
        chan.dnid = did
        chan.dtmf_groups = list(dtmf)
        chan.talk_seconds = talk_seconds
        self.stats["placed"] += 1

        async def abandon() -> None:
            await self.sleep(patience)
            self.stats["abandoned"] += 1
            await self.hangup(chan, cause=0, source="remote")

        chan.patience_timer = self.spawn(abandon())
        chan.timers.append(chan.patience_timer)
        self.start_runner(chan)
        return chan.uniqueid

    def send_dtmf(self, chan: SimChannel, digits: str, duration_ms: int = 200) -> None:
        """The far end of ``chan`` keys ``digits`` (DTMFBegin/End, Direction Received)."""

        async def keys() -> None:
            await self.sleep(0.5)
            for digit in digits:
                await self.receive_digit(chan, digit, duration_ms)
                await self.sleep(0.2)

        chan.timers.append(self.spawn(keys()))

    async def receive_digit(self, chan: SimChannel, digit: str, duration_ms: int) -> None:
        if chan.hanging:
            return
        self.emit_chan("DTMFBegin", chan, ("Digit", digit), ("Direction", "Received"))
        await self.sleep(duration_ms / 1000)
        if chan.hanging:
            return
        self.emit_chan(
            "DTMFEnd",
            chan,
            ("Digit", digit),
            ("DurationMs", str(duration_ms)),
            ("Direction", "Received"),
        )
        chan.dtmf.put_nowait(digit)

    def next_dtmf_group(self, chan: SimChannel, escape: str | None) -> None:
        """Let a simulated caller answer a prompt with its next DTMF group."""
        if not chan.is_caller or not chan.dtmf_groups:
            return
        group = chan.dtmf_groups[0]
        if escape is not None:
            # A prompt that only stops on some digits: the caller keys its next choice
            # only if that choice can interrupt it, and stops at the interrupting digit.
            if group[0] not in escape:
                return
            group = group[:1]
        chan.dtmf_groups.pop(0)
        self.send_dtmf(chan, group)

    # ----------------------------------------------------------------- traffic

    def start_traffic(
        self, calls_per_minute: float, profiles: Sequence[CallerProfile] | None = None
    ) -> None:
        """Poisson arrivals of callers drawn from ``profiles`` (demo callers by default).

        Raises:
            InvalidInput: the rate is not positive or the profile list is empty.
        """
        if calls_per_minute <= 0:
            raise InvalidInput("calls_per_minute must be > 0", field="rate")
        chosen = list(profiles) if profiles is not None else list(DEMO_CALLERS)
        if not chosen:
            raise InvalidInput("at least one caller profile is needed", field="profiles")
        self.stop_traffic()
        self._traffic = self.spawn(self._traffic_loop(calls_per_minute, chosen))

    def stop_traffic(self) -> None:
        if self._traffic is not None:
            self._traffic.cancel()
            self._traffic = None

    async def _traffic_loop(self, rate: float, profiles: list[CallerProfile]) -> None:
        weights = [p.weight for p in profiles]
        while True:
            await self.sleep(self.rng.expovariate(rate / 60.0))
            if not self._up:
                continue
            p = self.rng.choices(profiles, weights=weights)[0]
            self.place_call(
                p.caller,
                did=p.did,
                caller_name=p.caller_name,
                dtmf=p.dtmf,
                patience=p.patience,
                talk_seconds=p.talk_seconds,
            )


_CATEGORY = {
    "Newexten": "dialplan",
    "VarSet": "dialplan",
    "AsyncAGIStart": "agi",
    "AsyncAGIExec": "agi",
    "AsyncAGIEnd": "agi",
    "AGIExecStart": "agi",
    "AGIExecEnd": "agi",
    "DTMFBegin": "dtmf",
    "DTMFEnd": "dtmf",
}

"""The contact center shell: the IVR and the ACD engine driven over AMI and AsyncAGI.

Theory of operation. The engines are pure; this module is the only place where their
decisions meet Asterisk. Four inputs drive it:

* ``AsyncAGIStart`` (through :class:`telephony.agi.AgiDispatcher`): a new caller runs
  the IVR script chosen by the dialed number; a known caller coming back into AGI (from
  ``switchboard-connect`` after an unanswered ring, or ``switchboard-requeue`` after a
  transfer or a break-in) resumes waiting.
* AMI events: ``DialBegin`` on a caller being connected means the agent's phone rings —
  that is the instant of the screen pop; ``DialEnd`` tells answered or not; the caller's
  ``Hangup`` ends the call (abandoned, or into wrap-up).
* The console, through the methods of ``agent_console.ports.ContactCenter`` (implemented
  here structurally: routing never imports the console).
* A ticker that fires the ACD's timers.

Every engine command is executed by :meth:`CallCenter._execute`; every contact milestone
is written as it happens (``ContactRecorder``), so a crash loses nothing already seen.
Waiting callers hear music on hold in slices of the queue's announcement interval; to
ring an agent the caller's channel is redirected into ``switchboard-connect`` (which
interrupts the music at once), see docs/ARCHITECTURE.md "Call flow".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from config.errors import (
    NotFound,
    RemoteError,
    SwitchboardError,
)
from config.settings import Settings
from crm_lookup.agent_states import SavedAgentState
from routing.acd import commands as acd_cmd
from routing.acd import events as acd_ev
from routing.acd.config import QueueFile
from routing.acd.engine import Acd
from routing.acd.model import QueueConfig
from routing.acd.states import AgentState
from routing.console_port import ConsoleOperations
from routing.contacts import ContactRecorder
from routing.ivr.interpreter import CallInfo, IvrSession, Outcome
from routing.ivr.runner import run_ivr
from routing.ivr.script import ScriptLibrary
from routing.ivr_ports import (
    IvrContacts,
    IvrDirectory,
    IvrRouting,
    dialable,
    new_caller_json,
    without_this_call,
)
from routing.live import LiveCall, Phase
from routing.pbx import Pbxs
from routing.recording import VARIABLE as RECORD_VARIABLE
from routing.recording import RecordingPolicy, file_name, pbx_path
from routing.reloader import Reloader
from routing.resync import Resync, dials_leg
from routing.tasks import TaskSet
from routing.waiting import wait_in_queue
from telephony.agi import AgiDispatcher, AgiSession
from telephony.ami import Action, AmiClient
from telephony.ami.events import (
    DialBegin,
    DialEnd,
    Event,
    Hangup,
    OriginateResponse,
)

log = logging.getLogger(__name__)

Listener = Callable[[dict[str, Any]], None]
TICK_SECONDS = 0.25
#: the ticker wakes sooner for an ACD timer due earlier, but never more often than this
MIN_TICK_SECONDS = 0.02
ANSWERED = "ANSWER"
CANCELLED = "CANCEL"
RECENT_CALLS = 500
#: the ACD's commands only a chat or an email gets (routing.digital handles them)
DIGITAL_COMMANDS = (acd_cmd.AssignContact, acd_cmd.ContactReleased, acd_cmd.ContactUnassigned)


#: a graceful stop must end within 10 s (docs/ARCHITECTURE.md): no step waits longer
STOP_STEP_SECONDS = 3.0


async def _within(seconds: float, step: Awaitable[Any], what: str) -> None:
    """Await one step of a stop, at most ``seconds``. ``asyncio.wait`` rather than
    ``wait_for``: a task that ignores its cancellation must not hold the stop (wait_for
    waits for the cancelled task to finish); it is logged and left behind."""
    task = asyncio.ensure_future(step)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        log.warning(
            "a step of the stop overran; going on without it",
            extra={"fields": {"step": what, "seconds": seconds}},
        )
    elif not task.cancelled() and task.exception() is not None:
        log.warning(
            "a step of the stop failed",
            extra={"fields": {"step": what, "error": repr(task.exception())}},
        )


def _dials(event: DialBegin, endpoint: str) -> bool:
    """Whether a DialBegin is the ring of ``endpoint`` (``PJSIP/1001`` -> ``PJSIP/1001-0000002a``)."""
    return bool(endpoint) and (
        event.dial_string == endpoint.split("/", 1)[-1]
        or event.dial_string == endpoint
        or dials_leg(event.dest_channel, endpoint)
    )


class CallCenter(ConsoleOperations):
    """Runs the contact center over one AMI connection per PBX (``routing.pbx``).

    Args:
        settings: the service settings.
        ami: the first PBX's AMI client (not yet connected; :meth:`start` subscribes
            first).
        pbx_clients: the AMI clients of the other PBXs (``settings.pbx``), by name.
        acd: the ACD engine, agents and queues loaded.
        scripts: the IVR script library.
        recorder: writes contact milestones to the history.
        directory: ``lookup(by, value)`` for the IVR and ``card_for_phone(number)`` for
            the screen pop.
        supervisors: queue name -> usernames of its supervisors (empty: every supervisor).
        thresholds: queue name -> the wallboard's warn/bad levels (the queue file's).
        recording: which answered calls are recorded (the queue file's ``record`` keys).
        queue_alerts: queue name -> alert thresholds overriding ``[alerts]`` (the queue
            file's ``alerts`` keys).
        clock: epoch seconds.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        ami: AmiClient,
        acd: Acd,
        scripts: ScriptLibrary,
        recorder: ContactRecorder,
        directory: Any,
        supervisors: Mapping[str, frozenset[str]] | None = None,
        thresholds: Mapping[str, Mapping[str, Mapping[str, float]]] | None = None,
        recording: RecordingPolicy | None = None,
        queue_alerts: Mapping[str, Mapping[str, float]] | None = None,
        clock: Callable[[], float] = time.time,
        pbx_clients: Mapping[str, AmiClient] | None = None,
    ) -> None:
        self.settings = settings
        self.ami = ami
        self.pbxs = Pbxs(settings, {settings.ami.name: ami, **(pbx_clients or {})})
        self.acd = acd
        self.scripts = scripts
        self.recorder = recorder
        self.directory = directory
        self.supervisors = dict(supervisors or {})
        self.thresholds = dict(thresholds or {})
        self.recording_policy = recording or RecordingPolicy()
        # the queue file's per-queue alert thresholds, and the alerting shell (set by the
        # service wiring; None: no alerts)
        self.queue_alerts = dict(queue_alerts or {})
        self.alerting: Any = None
        self.case_sla: Any = None  # routing.case_sla.CaseSla, set by the wiring
        self.clock = clock
        self.calls: dict[str, LiveCall] = {}
        # (pbx, channel name) -> call id: channel names of two Asterisks collide
        self._by_channel: dict[tuple[str, str], str] = {}
        self._listeners: list[Listener] = []
        self._tasks = TaskSet(log, "background task failed")
        self._dispatchers: list[AgiDispatcher] = []
        self._unsubscribes: list[Callable[[], None]] = []
        self._agent_calls: dict[str, str] = {}
        self._wrapping: dict[str, str] = {}
        self._recent: dict[str, LiveCall] = {}  # ended calls, for wrap-up and the console
        self._originating: dict[tuple[str, str], str] = {}  # (pbx, ActionID) -> call id
        self.reloader = Reloader(
            scripts,
            settings.path(settings.routing.queues_file),
            self.apply_queue_file,
            interval=max(0.5, settings.ivr.reload_interval),
            clock=clock,
        )
        self._last_intervals: list[dict[str, Any]] = []
        self.resyncs = {link.name: Resync(self, link) for link in self.pbxs}
        self.resync = self.resyncs[self.pbxs.first.name]  # the first PBX's
        # agent -> (end, queue) of a wrap-up restored at start-up: it has no call to say
        self.restored_wrap_up: dict[str, tuple[float | None, str | None]] = {}
        # the chat and email desk (routing.digital.DigitalDesk), set by the wiring; the
        # ACD's commands about its conversations go there (None: voice only)
        self.digital: Any = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Subscribe to every PBX's AMI and start the timers; call before connecting."""
        for link in self.pbxs:
            self._unsubscribes.append(link.ami.subscribe(self._events_of(link.name)))
            self._dispatchers.append(AgiDispatcher(link.ami, self._sessions_of(link.name)))
            link.ami.on_connect(self.resyncs[link.name].run)
        self.recorder.start()
        await self.reloader.start()
        self._spawn(self._tick_loop(), "acd-ticker")
        self._spawn(self._reload_loop(), "ivr-reloader")

    async def stop(self) -> None:
        """Stop taking events and AGI sessions and write what is pending; live calls stay
        on Asterisk for the next start to take over (docs/ARCHITECTURE.md)."""
        log.info(
            "call center stopping; live calls are left for the next start",
            extra={"fields": {"calls": len(self.calls), "pending_writes": self.recorder.pending}},
        )
        for unsubscribe in self._unsubscribes:
            unsubscribe()
        for dispatcher in self._dispatchers:
            await _within(STOP_STEP_SECONDS, dispatcher.close(), "closing AGI sessions")
        await _within(STOP_STEP_SECONDS, self.reloader.stop(), "stopping the reloader")
        if self.digital is not None:
            await _within(STOP_STEP_SECONDS, self.digital.stop(), "the digital desk's writes")
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await _within(
                STOP_STEP_SECONDS,
                asyncio.gather(*self._tasks, return_exceptions=True),
                "cancelling the center's tasks",
            )
        await self.recorder.close()

    def _events_of(self, pbx: str) -> Callable[[Event], None]:
        def on_event(event: Event) -> None:
            self._on_event(pbx, event)

        return on_event

    def _sessions_of(self, pbx: str) -> Callable[[AgiSession], Awaitable[None]]:
        async def on_agi(session: AgiSession) -> None:
            await self._on_agi(pbx, session)

        return on_agi

    def ami_of(self, call: LiveCall) -> AmiClient:
        """The AMI connection of the PBX the call's channels are on."""
        return self.pbxs.home(call.pbx).ami

    def _spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        return self._tasks.spawn(coro, name)

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self._until_next_tick())
            self._execute(self.acd.tick(self.clock()))

    def _until_next_tick(self) -> float:
        """Seconds to the next ACD tick: TICK_SECONDS, or less when ``acd.next_timer()``
        (a ring timeout, or queue statistics held back by ``stats_interval``) is sooner,
        so the wallboard converges within the interval, not the interval plus a tick."""
        due = self.acd.next_timer()
        if due is None:
            return TICK_SECONDS
        return min(TICK_SECONDS, max(MIN_TICK_SECONDS, due - self.clock()))

    async def _reload_loop(self) -> None:
        """Slow housekeeping: changed scripts and queue file, the wallboard's chart data."""
        while True:
            await asyncio.sleep(max(0.5, self.settings.ivr.reload_interval))
            self.publish_intervals()

    def publish_intervals(self) -> None:
        """Send today's per-interval figures to the wallboards when they changed."""
        intervals = self.recorder.intervals()
        if intervals != self._last_intervals:
            self._last_intervals = intervals
            self._publish({"type": "wallboard", "intervals": intervals})

    def apply_queue_file(self, loaded: QueueFile) -> None:
        """The reloader's callback for a changed, valid queue file (on the loop): waiting
        callers keep their place; raising refuses this version and the old one serves."""
        agents = self.pbxs.place_agents(loaded.agents)
        self._execute(self.acd.handle(acd_ev.QueuesChanged(loaded.queues, agents), self.clock()))
        self.supervisors = dict(loaded.supervisors)
        self.thresholds = dict(loaded.thresholds)
        self.recording_policy = loaded.recording
        self.queue_alerts = dict(loaded.alerts)

    # ------------------------------------------------------------------ publishing

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    def _publish(self, message: dict[str, Any]) -> None:
        for listener in list(self._listeners):
            try:
                listener(message)
            except Exception:
                log.exception("listener failed", extra={"fields": {"type": message.get("type")}})

    def _publish_call(self, call: LiveCall) -> None:
        self._publish(
            {
                "type": "call_update",
                "agent_id": call.agent_id,
                "queue": call.queue,
                "call": call.to_json(self.clock()),
            }
        )

    # ------------------------------------------------------------------ AGI sessions

    async def _on_agi(self, pbx: str, session: AgiSession) -> None:
        call = self._call_on(pbx, session.channel)
        if call is None:
            await self._new_inbound(pbx, session)
            return
        if call.phase is Phase.IVR and call.adopted:
            # Taken over after a restart in the middle of its IVR: the script starts again.
            call.language = call.language or session.env.language
            await self._run_script(call, session)
            return
        if call.pending_queue is not None:
            self._requeue(call, call.pending_queue)
        if call.phase is Phase.WAITING:
            await wait_in_queue(self, call, session)

    async def _new_inbound(self, pbx: str, session: AgiSession) -> None:
        now = self.clock()
        env = session.env
        start = session.start_event
        call_id = self.pbxs[pbx].global_id(start.linkedid or session.uniqueid)
        dialed = env.dnid if env.dnid not in ("", "unknown") else env.extension
        call = LiveCall(
            call_id=call_id,
            channel=session.channel,
            uniqueid=session.uniqueid,
            caller=env.caller_id if env.caller_id != "unknown" else "",
            dialed=dialed,
            arrived_at=now,
            language=env.language,
            pbx=pbx,
        )
        self.calls[call_id] = call
        self._by_channel[pbx, call.channel] = call_id
        self.recorder.arrived(call)
        self._publish_call(call)
        await self._run_script(call, session)

    async def _run_script(self, call: LiveCall, session: AgiSession) -> None:
        """Run the IVR script of the dialed number, then keep the caller company in line."""
        now = self.clock()
        dialed = call.dialed
        self._spawn(self._load_card(call), f"card-{call.call_id}")
        try:
            script = self.scripts.for_dialed(call.dialed)
        except NotFound as exc:
            log.error("no IVR script for call", extra={"fields": {"dialed": dialed, "error": exc}})
            await session.hangup()
            return
        ivr = IvrSession(
            script,
            CallInfo(call.caller, call.dialed, call.language, call.channel, call.uniqueid),
            now,
        )
        outcome = await run_ivr(
            ivr,
            session,
            IvrDirectory(self, call),
            IvrRouting(self, call),
            IvrContacts(self, call),
            clock=self.clock,
            recordings_dir=str(self.settings.path(self.settings.ivr.recordings_dir)),
        )
        if outcome is Outcome.QUEUED and call.phase is Phase.WAITING:
            await wait_in_queue(self, call, session)
        elif outcome is None and call.phase is Phase.IVR and not session.closed:
            # An AGI error stopped the script: rather than leave the caller in silence,
            # send them to the first queue the service knows so a person can help.
            log.error(
                "IVR stopped by an AGI error; queueing the caller",
                extra={"fields": {"call": call.call_id}},
            )
            self.enqueue(call, self._first_queue(), 0, {})
            await wait_in_queue(self, call, session)

    async def _load_card(self, call: LiveCall) -> None:
        if not call.caller:
            return
        try:
            card = await self.directory.card_for_phone(call.caller)
        except SwitchboardError as exc:
            log.warning(
                "card lookup failed", extra={"fields": {"call": call.call_id, "error": exc}}
            )
            return
        data = without_this_call(card.to_json(), call)
        if call.card is None or not call.verified:
            call.card = data
        if call.customer_id is None and data.get("customer_id") is not None:
            call.customer_id = data["customer_id"]
            call.tier = call.tier or str(data.get("tier") or "").lower()
        call.sticky_agent = call.sticky_agent or self._last_agent(data)

    def _last_agent(self, card: Mapping[str, Any]) -> str | None:
        """Who answered this customer last, within the sticky window."""
        horizon = self.clock() - self.settings.routing.sticky_window_hours * 3600
        for contact in card.get("recent_contacts") or ():
            if contact.get("agent_id") and (contact.get("started_at") or 0) >= horizon:
                return str(contact["agent_id"])
        return None

    # ------------------------------------------------------------------ queueing

    def enqueue(
        self,
        call: LiveCall,
        queue: str,
        priority: int,
        skills: Mapping[str, int],
        *,
        callback_number: str | None = None,
        since: float | None = None,
    ) -> None:
        """Hand the call to the ACD: a waiting caller, or with ``callback_number`` a virtual
        place in line for a caller who is about to hang up and be called back. ``since``:
        a caller taken over after a restart keeps its place from that time."""
        now = self.clock()
        call.queue = queue
        call.queued_at = call.queued_at or now
        if callback_number is None:
            call.phase = Phase.WAITING
        else:
            call.pending = "callback_booked"
        commands = self.acd.handle(
            acd_ev.CallQueued(
                call.call_id,
                queue,
                priority=priority,
                skills=dict(skills),
                customer_id=str(call.customer_id) if call.customer_id is not None else None,
                tier=call.tier,
                caller=call.caller,
                sticky_agent=call.sticky_agent,
                callback_number=callback_number,
                since=since,
                pbx=call.pbx,
            ),
            now,
        )
        if since is None:
            self.recorder.queued(call, now)
        self.refresh_position(call)
        self._publish_call(call)
        self._execute(commands)

    def refresh_position(self, call: LiveCall) -> None:
        try:
            estimate = self.acd.estimate_call(call.call_id, self.clock())
        except NotFound:
            return
        call.position = estimate.position
        call.estimate = round(estimate.seconds, 1)

    @property
    def queues(self) -> dict[str, QueueConfig]:
        """The queues as the engine has them now (the queue file, as last reloaded)."""
        return {q.name: q for q in self.acd.queue_configs()}

    def queue_config(self, name: str | None) -> QueueConfig | None:
        try:
            return self.acd.queue_config(name) if name else None
        except NotFound:
            return None

    def request_callback(self, call: LiveCall, number: str) -> None:
        """A waiting caller accepted the callback offer: keep the place, let them go."""
        self._execute(
            self.acd.handle(acd_ev.CallbackRequested(call.call_id, dialable(number)), self.clock())
        )
        call.pending = "callback_booked"

    def voicemail_path(self, call: LiveCall) -> str:
        folder = self.settings.path(self.settings.ivr.recordings_dir)
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder / f"{call.call_id.replace('/', '_')}")

    def voicemail_left(self, call: LiveCall, path: str) -> None:
        call.pending = "voicemail_done"
        self.recorder.recording(call, path + ".wav", self.clock())

    def _requeue(self, call: LiveCall, queue: str) -> None:
        call.pending_queue = None
        call.agent_id = None
        call.agent_channel = None
        call.answered_at = None
        self.enqueue(call, queue, 0, {})

    # ------------------------------------------------------------------ engine commands

    def _execute(self, commands: Sequence[acd_cmd.Command]) -> None:
        for command in commands:
            try:
                self._execute_one(command)
            except SwitchboardError as exc:
                log.error(
                    "ACD command failed",
                    extra={"fields": {"command": type(command).__name__, "error": exc}},
                )

    def _execute_one(self, command: acd_cmd.Command) -> None:
        if self._digital_command(command):
            return
        if isinstance(command, acd_cmd.RingAgent):
            self._spawn(self._ring(command), f"ring-{command.call_id}")
        elif isinstance(command, acd_cmd.CancelRing):
            self._cancel_ring(command)
        elif isinstance(command, acd_cmd.Announce):
            call = self.calls.get(command.call_id)
            if call is not None:
                call.position = command.position
                call.estimate = round(command.seconds, 1)
        elif isinstance(command, acd_cmd.MaxWaitReached):
            self._max_wait(command)
        elif isinstance(command, acd_cmd.StartCallback):
            self._spawn(self._start_callback(command), f"callback-{command.call_id}")
        elif isinstance(command, acd_cmd.CallbackLogged):
            call = self.calls.get(command.call_id) or self._recent.get(command.call_id)
            if call is not None:
                data = {
                    "outcome": command.outcome,
                    "attempt": command.attempt,
                    "agent": command.agent_id,
                }
                self.recorder.note(call, "callback", data, command.at)
        elif isinstance(command, acd_cmd.AgentStateChanged):
            self._agent_changed(command)
        elif isinstance(command, acd_cmd.AgentWrapUpChanged):
            self._publish_agent(command.agent_id)
        elif isinstance(command, acd_cmd.QueueStatsChanged):
            self._publish(
                {
                    "type": "queue_stats",
                    "queue": command.queue,
                    "stats": self._queue_json(command.queue, command.stats),
                }
            )
        elif isinstance(command, acd_cmd.CallJoinedQueue):
            # Arrival, overflow or a supervisor's move: the call now waits in this queue.
            call = self.calls.get(command.call_id)
            if call is not None and not command.callback:
                moved = call.queue != command.queue
                call.queue = command.queue
                call.position = command.position
                call.estimate = round(command.seconds, 1)
                if moved:
                    self._publish_call(call)

    def _digital_command(self, command: acd_cmd.Command) -> bool:
        """Hand the digital desk what is about its conversations: assignments, releases,
        and any command naming a contact it owns (an overflow, a move, a position)."""
        desk = self.digital
        if isinstance(command, DIGITAL_COMMANDS):
            if desk is None:
                log.error(
                    "a digital contact command with no desk",
                    extra={"fields": {"command": type(command).__name__}},
                )
            else:
                desk.handle(command)
            return True
        if desk is None or isinstance(command, acd_cmd.AgentStateChanged):
            return False
        if desk.owns(getattr(command, "call_id", None)):
            desk.handle(command)
            return True
        return False

    async def _ring(self, command: acd_cmd.RingAgent) -> None:
        call = self.calls.get(command.call_id)
        if call is None or call.phase is Phase.ENDED:
            return
        link = self.pbxs.home(call.pbx)
        dial = link.settings.trunk_dial(self._agent_pbx(command.agent_id), command.endpoint)
        call.phase = Phase.RINGING
        call.agent_id = command.agent_id
        call.agent_channel = None
        call.ring_endpoint = dial or command.endpoint
        # Decided per ring: the agent (and so the agent's own record key) may differ, and
        # a value left from an earlier ring must never linger (always set, maybe empty).
        call.recording_paused = False
        call.recording_file = ""
        call.recording_channel = call.channel
        if self.recording_policy.records(call.queue, command.agent_id, call.record_choice):
            call.recording_file = file_name(call.call_id, command.agent_id, self.clock())
        self._agent_calls[command.agent_id] = call.call_id
        self._spawn(self._load_card(call), f"card-{call.call_id}")
        connect = link.settings.connect_context
        try:
            if dial is None:
                # The ACD is told which PBXs reach which (AcdSettings.reach); a queue file
                # reloaded under a running call may still move an agent out of reach.
                raise NotFound(f"no trunk from PBX {link.name} to agent {command.agent_id}")
            for name, value in (
                ("SWITCHBOARD_AGENT", dial),
                ("SWITCHBOARD_RING_TIMEOUT", str(int(max(1, round(command.ring_timeout))))),
                ("SWITCHBOARD_MOH", command.moh),
                (RECORD_VARIABLE, self._record_target(call.recording_file)),
            ):
                await link.ami.send(
                    Action("Setvar", {"Channel": call.channel, "Variable": name, "Value": value})
                )
            await link.ami.send(
                Action(
                    "Redirect",
                    {"Channel": call.channel, "Context": connect, "Exten": "s", "Priority": "1"},
                )
            )
        except (RemoteError, TimeoutError, NotFound) as exc:
            log.warning(
                "could not ring agent",
                extra={"fields": {"call": call.call_id, "agent": command.agent_id, "error": exc}},
            )
            if call.phase is Phase.RINGING:
                self._ring_failed(call, command.agent_id)

    def _record_target(self, name: str) -> str:
        """``SWITCHBOARD_RECORD``'s value: where Asterisk writes ``name`` ("" = do not)."""
        if not name:
            return ""
        rec = self.settings.recording
        return pbx_path(rec.pbx_dir or str(self.settings.path(rec.dir)), name)

    def _cancel_ring(self, command: acd_cmd.CancelRing) -> None:
        """The engine gave up on this ring (timer, supervisor): stop the agent's phone.

        The call goes back to waiting at once; the Dial events of the cancelled attempt
        that arrive later no longer match the call and are ignored.
        """
        call = self.calls.get(command.call_id)
        if call is None or call.agent_id != command.agent_id or call.phase is not Phase.RINGING:
            return
        leg = call.agent_channel
        call.phase = Phase.WAITING
        call.agent_id = None
        call.agent_channel = None
        call.ring_endpoint = ""
        if self._agent_calls.get(command.agent_id) == call.call_id:
            self._agent_calls.pop(command.agent_id, None)
        self._publish_call(call)
        if leg:
            self._by_channel.pop((call.pbx, leg), None)
            self._spawn(self._hangup_channel(call.pbx, leg), "cancel-ring")

    def _ring_failed(self, call: LiveCall, agent_id: str) -> None:
        call.phase = Phase.WAITING
        call.agent_id = None
        call.agent_channel = None
        call.ring_endpoint = ""
        self._agent_calls.pop(agent_id, None)
        self._publish_call(call)
        with contextlib.suppress(SwitchboardError):
            self._execute(
                self.acd.handle(acd_ev.RingNoAnswer(call.call_id, agent_id), self.clock())
            )

    def _max_wait(self, command: acd_cmd.MaxWaitReached) -> None:
        call = self.calls.get(command.call_id)
        if call is None:
            return
        if command.action == "overflow":
            call.queue = command.target or call.queue
            self.recorder.note(call, "overflow", {"to": command.target}, self.clock())
            self._publish_call(call)
            return
        call.pending = command.action
        # Break into the music on hold so the waiting loop acts now, not at the slice end.
        self._spawn(self._break_in(call), f"break-in-{call.call_id}")

    async def _break_in(self, call: LiveCall) -> None:
        with contextlib.suppress(RemoteError, TimeoutError):
            await self.ami_of(call).send(
                Action(
                    "Redirect",
                    {
                        "Channel": call.channel,
                        "Context": "switchboard-requeue",
                        "Exten": "s",
                        "Priority": "1",
                    },
                )
            )

    def book_callback(
        self, call: LiveCall, queue: str, number: str, priority: int, skills: Mapping[str, int]
    ) -> None:
        """The caller chose a callback in the IVR: a virtual place in line, then hang up."""
        self.enqueue(call, queue, priority, skills, callback_number=dialable(number))

    async def _start_callback(self, command: acd_cmd.StartCallback) -> None:
        """The virtual caller reached the front: ring the agent, who then calls back."""
        now = self.clock()
        booked = self._recent.get(command.call_id) or self.calls.get(command.call_id)
        # The agent's phone is rung from the agent's own PBX, which also dials the customer.
        pbx = self.pbxs.home(self._agent_pbx(command.agent_id)).name
        call = LiveCall(
            call_id=command.call_id,
            channel=command.endpoint,
            uniqueid="",
            caller=command.number,
            dialed=command.number,
            arrived_at=now,
            direction="callback",
            phase=Phase.RINGING,
            agent_id=command.agent_id,
            pbx=pbx,
        )
        if booked is not None:
            call.customer_id, call.card, call.queue = booked.customer_id, booked.card, booked.queue
            call.path, call.verified, call.queued_at = (
                booked.path,
                booked.verified,
                booked.queued_at,
            )
            call.record_choice = booked.record_choice  # the caller's consent still holds
        # Recorded by the same rule as a call of that queue answered by this agent.
        if self.recording_policy.records(call.queue, command.agent_id, call.record_choice):
            call.recording_file = file_name(call.call_id, command.agent_id, now)
        self.calls[call.call_id] = call
        self._agent_calls[command.agent_id] = call.call_id
        self._screen_pop(call)
        try:
            await self._originate(
                call, command.endpoint, command.number, ring_timeout=command.ring_timeout
            )
        except (RemoteError, TimeoutError) as exc:
            log.warning(
                "callback originate failed", extra={"fields": {"call": call.call_id, "error": exc}}
            )
            ring_failed = acd_ev.RingNoAnswer(call.call_id, command.agent_id)
            with contextlib.suppress(SwitchboardError):
                self._execute(self.acd.handle(ring_failed, self.clock()))
            self._forget(call)
            return
        self._publish_call(call)

    def _forget(self, call: LiveCall) -> None:
        """Drop a call leg that never got going (a refused Originate, a callback nobody
        answered) without logging an end; the engine already knows what happened."""
        self.calls.pop(call.call_id, None)
        for channel in (call.channel, call.agent_channel):
            if channel and self._by_channel.get((call.pbx, channel)) == call.call_id:
                self._by_channel.pop((call.pbx, channel), None)
        if call.agent_id is not None and self._agent_calls.get(call.agent_id) == call.call_id:
            self._agent_calls.pop(call.agent_id, None)

    async def _originate(
        self, call: LiveCall, endpoint: str, number: str, *, ring_timeout: float = 30.0
    ) -> None:
        """Ring ``endpoint`` (an agent's phone on the call's PBX) for ``ring_timeout``
        seconds; once answered, its leg dials ``number`` from the outbound context."""
        link = self.pbxs.home(call.pbx)
        local_id = link.local_id(call.call_id)
        action_id = f"originate-{local_id}"
        key = (link.name, action_id)
        self._originating[key] = call.call_id
        try:
            await link.ami.send(
                Action(
                    "Originate",
                    {
                        "Channel": endpoint,
                        "Context": link.settings.outbound_context,
                        "Exten": number,
                        "Priority": "1",
                        "Async": "true",
                        "Timeout": str(int(ring_timeout * 1000)),
                        "CallerID": f"Switchboard <{number}>",
                        # read back by the resync after a restart (routing.takeover); the
                        # recording's file for switchboard-outbound's MixMonitor (on the
                        # agent's leg: the AMI MixMonitor action would need "system")
                        "Variable": [
                            f"SWITCHBOARD_CALL={local_id}",
                            f"{RECORD_VARIABLE}={self._record_target(call.recording_file)}",
                        ],
                    },
                    action_id=action_id,
                )
            )
        except BaseException:
            self._originating.pop(key, None)
            raise

    async def _hangup_channel(self, pbx: str, channel: str) -> None:
        with contextlib.suppress(RemoteError, TimeoutError):
            await self.pbxs.home(pbx).ami.send(
                Action("Hangup", {"Channel": channel, "Cause": "16"})
            )

    def _agent_pbx(self, agent_id: str) -> str:
        """The name of the PBX the agent's phone is on."""
        try:
            return self.pbxs.home(self.acd.agent_config(agent_id).pbx).name
        except (NotFound, KeyError):
            return self.pbxs.first.name

    def _in_wrap_up(self, agent_id: str) -> bool:
        try:
            return self.acd.agent_state(agent_id) is AgentState.WRAP_UP
        except NotFound:
            return False

    def _agent_changed(self, command: acd_cmd.AgentStateChanged) -> None:
        if command.state is not AgentState.WRAP_UP:
            self._wrapping.pop(command.agent_id, None)  # wrap-up over, by timer or by hand
        self.recorder.agent_state(self._saved_state(command))
        self._publish_agent(command.agent_id)

    def _publish_agent(self, agent_id: str) -> None:
        agent = self._agent_json(agent_id)
        self._publish(
            {"type": "agent_state", "agent_id": agent_id, "queues": agent["queues"], "agent": agent}
        )

    def _saved_state(self, command: acd_cmd.AgentStateChanged) -> SavedAgentState:
        """What the next start needs to bring this agent back (routing.takeover)."""
        call_id = command.call_id or self._agent_calls.get(command.agent_id)
        call = (self.calls.get(call_id) or self._recent.get(call_id)) if call_id else None
        queue = call.queue if call is not None else None
        until = None
        if command.state is AgentState.WRAP_UP and call is None:
            until, queue = self.restored_wrap_up.get(command.agent_id, (None, None))
        elif command.state is AgentState.WRAP_UP:
            config = self.queue_config(queue)
            until = command.since + (config.wrap_up if config else 0.0)
        return SavedAgentState(
            command.agent_id,
            command.state.value,
            command.reason,
            command.since,
            wrap_up_until=until,
            wrap_queue=queue,
        )

    # ------------------------------------------------------------------ AMI events

    def _on_event(self, pbx: str, event: Event) -> None:
        if isinstance(event, DialBegin):
            self._dial_begin(pbx, event)
        elif isinstance(event, DialEnd):
            self._dial_end(pbx, event)
        elif isinstance(event, Hangup):
            self._hangup(pbx, event)
        elif isinstance(event, OriginateResponse):
            self._originate_response(pbx, event)

    def _dial_begin(self, pbx: str, event: DialBegin) -> None:
        call = self._call_on(pbx, event.channel)
        if call is None or call.phase is not Phase.RINGING or call.agent_id is None:
            return
        if call.direction != "inbound":
            # The agent's leg dials the customer: that leg is now the call's far end.
            call.channel = event.dest_channel
            self._by_channel[pbx, event.dest_channel] = call.call_id
            return
        if not _dials(event, call.ring_endpoint) or call.agent_channel:
            return  # a leg of an earlier, cancelled attempt
        call.agent_channel = event.dest_channel
        self._by_channel[pbx, event.dest_channel] = call.call_id
        self._screen_pop(call)
        self._publish_call(call)
        self.recorder.offered(call, self.clock())

    def _screen_pop(self, call: LiveCall) -> None:
        """The agent's phone rings for ``call``: show them the caller's card."""
        self._publish(
            {
                "type": "screen_pop",
                "agent_id": call.agent_id,
                "call": call.to_json(self.clock()),
                "card": call.card or new_caller_json(call.caller),
            }
        )

    def _dial_end(self, pbx: str, event: DialEnd) -> None:
        call = self._call_on(pbx, event.channel)
        if call is not None and call.phase is Phase.TRANSFERRED:
            self._transfer_answered(call, event)
            return
        if call is None or call.phase is not Phase.RINGING or call.agent_id is None:
            return
        if call.direction == "inbound" and (
            call.agent_channel != event.dest_channel or not call.agent_channel
        ):
            return  # the end of an earlier, cancelled attempt
        if event.dial_status == CANCELLED and call.direction == "inbound":
            # The caller hung up while the phone rang: not the agent's fault. The caller's
            # Hangup follows at once and the ACD puts the agent back to ready.
            return
        now = self.clock()
        agent_id = call.agent_id
        answered = event.dial_status == ANSWERED
        if call.direction == "callback":
            # The agent's leg dialled the customer back: tell the engine how that went.
            self._execute(self.acd.handle(acd_ev.CallbackResult(call.call_id, answered), now))
            if not answered:
                self._forget(call)
                return
        elif call.direction == "outbound" and not answered:
            self._call_gone(call, f"customer {event.dial_status.lower() or 'did not answer'}")
            return
        if answered:
            call.phase = Phase.TALKING
            call.answered_at = now
            if call.direction == "inbound":
                self._execute(self.acd.handle(acd_ev.AgentAnswered(call.call_id, agent_id), now))
            self.recorder.answered(call, now)
            if call.recording_file:
                # MixMonitor (started by switchboard-connect, or switchboard-outbound on
                # the agent's leg of a callback or click-to-dial) records from this bridge
                self.recorder.recording(call, call.recording_file, now, agent_id)
            self._publish_call(call)
        else:
            data = {"agent": agent_id, "status": event.dial_status}
            self.recorder.note(call, "ring_no_answer", data, now)
            if call.agent_channel:
                self._by_channel.pop((pbx, call.agent_channel), None)
            self._ring_failed(call, agent_id)

    def _transfer_answered(self, call: LiveCall, event: DialEnd) -> None:
        """The caller's Dial of ``switchboard-transfer`` (or ``switchboard-outbound``) has
        ended: answered by the agent the call was sent to, their own recording (started
        there) joins the contact's. Linked only at the answer, as at a ring: a transfer
        nobody took leaves an empty file that the history never names."""
        if event.channel != call.channel or event.dial_status != ANSWERED:
            return
        if call.recording_file:
            self.recorder.recording(call, call.recording_file, self.clock(), call.recording_agent)

    def _hangup(self, pbx: str, event: Hangup) -> None:
        call = self._call_on(pbx, event.channel)
        if call is None:
            return
        if event.channel != call.channel:
            # The agent's leg went away. While talking the caller follows (Dial without g);
            # while held the caller is alone in music: hang them up too.
            self._by_channel.pop((pbx, event.channel), None)
            if call.phase is Phase.HELD:
                self._spawn(self._hangup_channel(pbx, call.channel), "hangup-held-caller")
            return
        self._call_gone(call, event.cause_txt or event.cause)

    def _call_gone(self, call: LiveCall, cause: str = "") -> None:
        now = self.clock()
        phase = call.phase
        call.ended_at = now
        call.phase = Phase.ENDED
        if phase is Phase.HELD and call.agent_channel:
            # The agent's leg waits in switchboard-agent-hold: nobody else ends it.
            self._spawn(self._hangup_channel(call.pbx, call.agent_channel), "hangup-held-agent")
        for channel in (call.channel, call.agent_channel):
            if channel:
                self._by_channel.pop((call.pbx, channel), None)
        self.calls.pop(call.call_id, None)
        if call.direction != "inbound" and call.answered_at is None:
            outcome = "failed"  # the agent or the customer never answered
        elif call.pending == "voicemail_done":
            outcome = "voicemail"
        elif call.pending == "callback_booked":
            outcome = "callback"
        elif phase is Phase.IVR:
            outcome = "abandoned_ivr" if call.ivr_outcome in ("", "abandoned_ivr") else "failed"
        elif phase in (Phase.WAITING, Phase.RINGING):
            outcome = "abandoned_queue"
            with contextlib.suppress(SwitchboardError):
                self._execute(self.acd.handle(acd_ev.CallAbandoned(call.call_id), now))
        else:
            outcome = "answered"
            if call.direction != "outbound":  # click-to-dial calls are not the ACD's
                with contextlib.suppress(SwitchboardError):
                    self._execute(self.acd.handle(acd_ev.CallEnded(call.call_id), now))
        if call.agent_id is not None:
            if self._agent_calls.get(call.agent_id) == call.call_id:
                self._agent_calls.pop(call.agent_id, None)
            if outcome == "answered" and self._in_wrap_up(call.agent_id):
                self._wrapping[call.agent_id] = call.call_id
        self.recorder.ended(call, now, outcome, cause)
        self._publish(
            {
                "type": "call_ended",
                "call_id": call.call_id,
                "agent_id": call.agent_id,
                "queue": call.queue,
                "contact_id": call.contact_id,
            }
        )
        self._recent[call.call_id] = call
        while len(self._recent) > RECENT_CALLS:
            self._recent.pop(next(iter(self._recent)))

    def _originate_response(self, pbx: str, event: OriginateResponse) -> None:
        """The agent's phone answered (or not) an Originate for click-to-dial or a callback.

        Once answered, the agent's leg runs ``switchboard-outbound`` and dials the customer;
        that leg is then the call's channel, and its ``DialEnd`` tells if the customer answered.
        """
        call_id = self._originating.pop((pbx, event.action_id), None)
        call = self.calls.get(call_id) if call_id else None
        if call is None or call.agent_id is None:
            return
        now = self.clock()
        if event.success:
            # The agent answered; their leg now dials the customer (see _dial_begin).
            call.channel = call.agent_channel = event.channel
            call.recording_channel = event.channel  # switchboard-outbound's MixMonitor
            self._by_channel[pbx, event.channel] = call.call_id
            self._publish_call(call)
            return
        log.info(
            "originate failed", extra={"fields": {"call": call.call_id, "reason": event.reason}}
        )
        if call.direction == "callback":
            with contextlib.suppress(SwitchboardError):
                self._execute(
                    self.acd.handle(acd_ev.RingNoAnswer(call.call_id, call.agent_id), now)
                )
            self._forget(call)
        else:
            self._call_gone(call, f"originate failed (reason {event.reason})")

    def _call_on(self, pbx: str, channel: str) -> LiveCall | None:
        call_id = self._by_channel.get((pbx, channel))
        return self.calls.get(call_id) if call_id else None

    def _first_queue(self) -> str:
        return self.acd.queue_configs()[0].name

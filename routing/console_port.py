"""What the agent console asks of the call center (``agent_console.ports.ContactCenter``).

Routing never imports the console: :class:`CallCenter` satisfies the console's protocol
structurally through this mixin. Reads come from the ACD's snapshot and the live calls;
actions go to the ACD as events or to Asterisk as AMI actions (hold is a Redirect of both
legs into music and a wait, unhold a Bridge; see docs/ARCHITECTURE.md "Call flow").
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

from config.errors import (
    Conflict,
    IllegalTransition,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RemoteError,
    SwitchboardError,
)
from config.settings import Settings
from routing.acd import events as acd_ev
from routing.acd.engine import Acd
from routing.acd.states import AgentState
from routing.contacts import ContactRecorder
from routing.digital import new_visitor_token
from routing.ivr_ports import dialable
from routing.live import LiveCall, Phase
from routing.pbx import Pbxs
from routing.recording import VARIABLE as RECORD_VARIABLE
from routing.recording import RecordingPolicy, file_name
from routing.reloader import Reloader
from telephony.ami import Action, AmiClient

log = logging.getLogger(__name__)


class ConsoleOperations:
    """The console-facing half of :class:`routing.center.CallCenter`.

    It shares the center's state (declared below) and uses its machinery: ``_execute``
    (run ACD commands), ``_publish_call``, ``_originate``, ``_call_gone``,
    ``refresh_position``, ``ami_of`` (a call's PBX link) and ``_agent_pbx``.
    """

    settings: Settings
    ami: AmiClient
    acd: Acd
    recorder: ContactRecorder
    supervisors: dict[str, frozenset[str]]
    thresholds: dict[str, Mapping[str, Mapping[str, float]]]
    reloader: Reloader
    calls: dict[str, LiveCall]
    clock: Callable[[], float]
    _agent_calls: dict[str, str]
    _wrapping: dict[str, str]
    _recent: dict[str, LiveCall]
    _by_channel: dict[tuple[str, str], str]
    pbxs: Pbxs
    alerting: Any
    digital: Any
    recording_policy: RecordingPolicy
    _record_target: Callable[[str], str]

    # ------------------------------------------------------------------ JSON shapes

    def _queue_json(self, name: str, stats: Mapping[str, Any]) -> dict[str, Any]:
        since = stats.get("longest_wait_since")
        agents = stats.get("agents", {})
        return {
            "name": name,
            "waiting": stats.get("waiting", 0),
            "longest_wait": round(self.clock() - since, 1) if since is not None else 0.0,
            "longest_wait_since": since,
            "service_level": stats.get("service_level"),
            "offered": stats.get("offered", 0),
            "answered": stats.get("answered", 0),
            "abandoned": stats.get("abandoned", 0),
            "short_abandoned": stats.get("short_abandoned", 0),
            "asa": stats.get("asa"),
            "aht": stats.get("aht"),
            "ewt": round(float(stats.get("ewt") or 0.0), 1),
            "agents_ready": agents.get("ready", 0),
            "agents": dict(agents),
            "callbacks_waiting": stats.get("callbacks_waiting", 0),
            "waiting_by_channel": dict(stats.get("waiting_by_channel") or {}),
            # the queue file's warn/bad levels for the wallboard's tiles ({} = none)
            "thresholds": {m: dict(v) for m, v in self.thresholds.get(name, {}).items()},
        }

    def _agent_json(self, agent_id: str, snap: Mapping[str, Any] | None = None) -> dict[str, Any]:
        if snap is None:
            a = self.acd.agent_snapshot(agent_id, self.clock())  # NotFound for an unknown one
        else:
            a = snap["agents"].get(agent_id)
            if a is None:
                raise NotFound(f"no agent {agent_id!r}")
        return {
            "agent_id": agent_id,
            "name": a["name"],
            "state": a["state"],
            "reason": a["reason"],
            "since": a["since"],
            "queues": list(a["queues"]),
            "call_id": a["call_id"] or self._agent_calls.get(agent_id),
            "calls": a["calls"],
            "talk_seconds": a["talk_seconds"],
            "state_seconds": a["state_seconds"],
            "wrap_up_until": a["wrap_up_until"],
            "wrap_up_limit": a["wrap_up_limit"],
            "wrap_up_overdue": a["wrap_up_overdue"],
            # chat and email: what the agent may hold per channel, holds, and which
            "capacity": dict(a.get("capacity") or {}),
            "load": dict(a.get("load") or {}),
            "contacts": list(a.get("contacts") or ()),
        }

    # ------------------------------------------------------------------ console port

    def snapshot(self) -> dict[str, Any]:
        now = self.clock()
        snap = self.acd.snapshot(now)
        return {
            "now": now,
            "queues": [self._queue_json(name, q["stats"]) for name, q in snap["queues"].items()],
            "agents": [self._agent_json(agent_id, snap) for agent_id in snap["agents"]],
            "calls": [call.to_json(now) for call in self.calls.values()],
            "intervals": self.recorder.intervals(),
            "alerts": self.alerting.alerts() if self.alerting is not None else [],
            "conversations": self.digital.open_conversations() if self.digital else [],
        }

    def agent(self, agent_id: str) -> dict[str, Any] | None:
        try:
            return self._agent_json(agent_id)
        except NotFound:
            return None

    def agent_snapshot(self, agent_id: str) -> dict[str, Any] | None:
        agent = self.agent(agent_id)
        if agent is None:
            return None
        now = self.clock()
        served = set(agent["queues"])
        return {
            "now": now,
            "queues": [
                self._queue_json(q.name, self.acd.queue_stats(q.name))
                for q in self.acd.queue_configs()  # the queue file's order, as snapshot()
                if q.name in served
            ],
            "agents": [agent],
            # A scan, not an index: comparing one field per live call costs microseconds,
            # and it cannot drift from what snapshot() lists.
            "calls": [c.to_json(now) for c in self.calls.values() if c.agent_id == agent_id],
            "intervals": [],
            "conversations": self.conversations_of(agent_id),
        }

    def queues_for_supervisor(self, username: str) -> frozenset[str]:
        names = [q.name for q in self.acd.queue_configs()]
        return frozenset(
            name
            for name in names
            if not self.supervisors.get(name) or username in self.supervisors[name]
        )

    def current_call(self, agent_id: str) -> dict[str, Any] | None:
        self.acd.agent_state(agent_id)  # NotFound for an unknown agent
        now = self.clock()
        call_id = self._agent_calls.get(agent_id) or self._wrapping.get(agent_id)
        if call_id is None:
            return None
        call = self.calls.get(call_id) or self._recent.get(call_id)
        return call.to_json(now) if call is not None else None

    def call(self, call_id: str) -> dict[str, Any] | None:
        call = self.calls.get(call_id)
        return call.to_json(self.clock()) if call is not None else None

    async def set_agent_state(
        self, agent_id: str, state: str, reason: str = "", *, forced_by: str | None = None
    ) -> None:
        try:
            wanted = AgentState(state)
        except ValueError:
            raise InvalidInput(f"unknown agent state {state!r}", field="state") from None
        self._execute(
            self.acd.handle(
                acd_ev.AgentStateRequest(agent_id, wanted, reason, forced_by), self.clock()
            )
        )
        if wanted is not AgentState.NOT_READY:
            self._wrapping.pop(agent_id, None)

    async def wrapup_done(self, agent_id: str) -> None:
        self._execute(self.acd.handle(acd_ev.WrapUpDone(agent_id), self.clock()))
        self._wrapping.pop(agent_id, None)

    async def wrapup_draft(self, agent_id: str, unsaved: bool | str) -> None:
        # A cluster standby forwards its arguments as text ("true" / "false").
        if isinstance(unsaved, str):
            unsaved = {"true": True, "false": False}.get(unsaved, unsaved)
        # anything but a flag is refused by the ACD (InvalidInput naming "unsaved")
        self._execute(self.acd.handle(acd_ev.WrapUpDraft(agent_id, unsaved), self.clock()))  # type: ignore[arg-type]

    def _connected(self, call_id: str) -> LiveCall:
        call = self.calls.get(call_id)
        if call is None:
            raise NotFound(f"no live call {call_id!r}")
        return call

    async def hold(self, call_id: str) -> None:
        call = self._connected(call_id)
        if call.phase is not Phase.TALKING or not call.agent_channel:
            raise IllegalTransition(call.phase.value, "put the call on hold")
        # Both legs as the call's PBX sees them: for an agent on another PBX the agent
        # leg is the trunk's channel, which waits here while the far PBX keeps the phone.
        await self.ami_of(call).send(
            Action(
                "Redirect",
                {
                    "Channel": call.channel,
                    "Context": "switchboard-hold",
                    "Exten": "s",
                    "Priority": "1",
                    "ExtraChannel": call.agent_channel,
                    "ExtraContext": "switchboard-agent-hold",
                    "ExtraExten": "s",
                    "ExtraPriority": "1",
                },
            )
        )
        call.phase = Phase.HELD
        self.recorder.held(call, self.clock())
        self._publish_call(call)

    async def unhold(self, call_id: str) -> None:
        call = self._connected(call_id)
        if call.phase is not Phase.HELD or not call.agent_channel:
            raise IllegalTransition(call.phase.value, "take the call off hold")
        await self.ami_of(call).send(
            Action(
                "Bridge", {"Channel1": call.channel, "Channel2": call.agent_channel, "Tone": "no"}
            )
        )
        call.phase = Phase.TALKING
        self.recorder.unheld(call, self.clock())
        self._publish_call(call)

    async def transfer(self, call_id: str, kind: str, target: str) -> None:
        call = self._connected(call_id)
        if call.phase not in (Phase.TALKING, Phase.HELD):
            raise IllegalTransition(call.phase.value, "transfer the call")
        segment = ""  # the file of the part after a transfer to an agent ("" = none)
        variables: list[tuple[str, str]] = []  # Setvar'd on the caller before the Redirect
        if kind == "queue":
            self.acd.estimate(target, self.clock())  # NotFound for an unknown queue
            # The agent is done with this caller: the call ends for the ACD (wrap-up),
            # and the caller enters ``target`` as a new wait when back in AGI.
            call.pending_queue = target
            context, exten = "switchboard-requeue", "s"
        elif kind == "agent":
            if self.acd.agent_state(target) is not AgentState.READY:
                raise InvalidInput(f"agent {target} is not ready", field="target")
            # A blind transfer to the agent's own phone, outside the ACD's queues:
            # ``switchboard-transfer`` dials ``SWITCHBOARD_AGENT`` (the phone, or for an
            # agent of another PBX the trunk's dial string). It also stops the first
            # agent's recording and starts the second agent's own file when
            # ``SWITCHBOARD_RECORD`` names one: one recording per agent segment.
            endpoint = self.acd.agent_config(target).endpoint
            link = self.pbxs.home(call.pbx)
            dial = link.settings.trunk_dial(self._agent_pbx(target), endpoint)
            if dial is None:
                raise InvalidInput(
                    f"agent {target} is on PBX {self._agent_pbx(target)}, which PBX "
                    f"{link.name} has no trunk to",
                    field="target",
                )
            rule_queue = call.queue or call.dialed_for
            if self.recording_policy.records(rule_queue, target, call.record_choice):
                segment = file_name(call.call_id, target, self.clock())
            variables = [
                ("SWITCHBOARD_AGENT", dial),
                (RECORD_VARIABLE, self._record_target(segment)),
            ]
            context, exten = "switchboard-transfer", "s"
        elif kind == "number":
            exten = dialable(target)
            context = self.pbxs.home(call.pbx).settings.outbound_context
            if call.recording_file:
                # The agent's part is over and the caller leaves the service's hands: stop
                # recording before the Redirect, so the outside call is never in the file.
                await self._stop_recording(call)
            # switchboard-outbound records what SWITCHBOARD_RECORD names (a click-to-dial's
            # file): emptied, so the outside call never restarts the agent's file.
            variables = [(RECORD_VARIABLE, "")]
        else:
            raise InvalidInput(f"unknown transfer kind {kind!r}", field="kind")
        try:
            for name, value in variables:
                await self._setvar(call, name, value)
            await self.ami_of(call).send(
                Action(
                    "Redirect",
                    {"Channel": call.channel, "Context": context, "Exten": exten, "Priority": "1"},
                )
            )
        except (RemoteError, TimeoutError):
            if kind == "agent":
                # The caller still talks to this agent, recorded into this agent's file:
                # the variables say so again (a restart's takeover reads them back).
                await self._restore_ring_variables(call)
            raise
        self.recorder.note(call, "transfer", {"kind": kind, "target": target}, self.clock())
        self._end_agent_part(call, requeued=kind == "queue")
        if segment:
            # switchboard-transfer records the caller's channel into it; the history links
            # it when the agent answers (Center._transfer_answered)
            call.recording_file, call.recording_channel = segment, call.channel
            call.recording_agent = target
        if kind == "agent":
            # Outside the queues the ACD would not know the target is busy with this caller.
            self._execute(
                self.acd.handle(
                    acd_ev.AgentStateRequest(target, AgentState.NOT_READY, "transfer"),
                    self.clock(),
                )
            )

    def _end_agent_part(self, call: LiveCall, *, requeued: bool) -> None:
        """The agent's part of a call is over while the caller stays: a blind transfer.

        The agent goes to wrap-up; the caller waits again in a queue (``requeued``) or talks
        to whoever the call was sent to until they hang up.
        """
        now = self.clock()
        if call.agent_id is not None:
            with contextlib.suppress(SwitchboardError):
                self._execute(self.acd.handle(acd_ev.CallEnded(call.call_id), now))
            self._agent_calls.pop(call.agent_id, None)
            if self.acd.agent_state(call.agent_id) is AgentState.WRAP_UP:
                self._wrapping[call.agent_id] = call.call_id
        if call.agent_channel:
            self._by_channel.pop((call.pbx, call.agent_channel), None)
            if call.phase is Phase.HELD:
                # The agent's leg waits in switchboard-agent-hold: nobody else ends it.
                self._spawn(self._hangup_channel(call.pbx, call.agent_channel), "hangup-held-agent")
        call.agent_channel = None
        call.agent_id = None  # the contact row keeps who answered
        call.recording_file = ""  # a next ring decides again (switchboard-connect stops it)
        call.recording_paused = False
        call.phase = Phase.WAITING if requeued else Phase.TRANSFERRED
        self._publish_call(call)

    async def _restore_ring_variables(self, call: LiveCall) -> None:
        """Best effort: SWITCHBOARD_AGENT / SWITCHBOARD_RECORD as the ring set them."""
        own = call.recording_channel in ("", call.channel)  # else on the agent's leg
        target = self._record_target(call.recording_file) if own else ""
        try:
            await self._setvar(call, "SWITCHBOARD_AGENT", call.ring_endpoint)
            await self._setvar(call, RECORD_VARIABLE, target)
        except (RemoteError, TimeoutError) as exc:
            log.warning(
                "could not restore the call's variables after a refused transfer",
                extra={"fields": {"call": call.call_id, "error": exc}},
            )

    async def _setvar(self, call: LiveCall, name: str, value: str) -> None:
        await self.ami_of(call).send(
            Action("Setvar", {"Channel": call.channel, "Variable": name, "Value": value})
        )

    async def _stop_recording(self, call: LiveCall) -> None:
        channel = call.recording_channel or call.channel
        try:
            await self.ami_of(call).send(Action("StopMixMonitor", {"Channel": channel}))
        except (RemoteError, TimeoutError) as exc:
            # Not worth failing the transfer for: the recording then ends at the hangup.
            log.warning(
                "could not stop the recording",
                extra={"fields": {"call": call.call_id, "error": exc}},
            )

    async def recording_pause(self, agent_id: str, call_id: str, paused: bool | str) -> None:
        # A cluster standby forwards its arguments as text ("true" / "false").
        if isinstance(paused, str):
            word = {"true": True, "false": False}.get(paused)
            if word is None:
                raise InvalidInput("paused must be true or false", field="paused")
            paused = word
        call = self._connected(call_id)
        if call.agent_id != agent_id:
            raise PermissionDenied("only the agent on the call pauses its recording")
        if call.phase not in (Phase.TALKING, Phase.HELD):
            raise IllegalTransition(call.phase.value, "pause the recording")
        if not call.recording_file:
            raise Conflict(f"call {call_id} is not being recorded")
        if call.recording_paused == paused:
            return  # already so: a double click sends nothing
        channel = call.recording_channel or call.channel  # an adopted call: the caller's
        await self.ami_of(call).send(
            Action(
                "MixMonitorMute",
                {"Channel": channel, "Direction": "both", "State": "1" if paused else "0"},
            )
        )
        call.recording_paused = paused
        kind = "recording_paused" if paused else "recording_resumed"
        self.recorder.note(call, kind, {"agent_id": agent_id}, self.clock())
        self._publish_call(call)

    async def hangup(self, call_id: str) -> None:
        call = self._connected(call_id)
        await self.ami_of(call).send(Action("Hangup", {"Channel": call.channel, "Cause": "16"}))

    async def dial(
        self,
        agent_id: str,
        number: str,
        *,
        customer_id: str | None = None,
        queue: str | None = None,
    ) -> str:
        state = self.acd.agent_state(agent_id)
        if state in (AgentState.RINGING, AgentState.ON_CALL, AgentState.LOGGED_OUT):
            raise IllegalTransition(state.value, "dial out")
        exten = dialable(number)
        if queue is not None:
            self.acd.queue_config(queue)  # NotFound for an unknown queue
            if queue not in self.acd.agent_config(agent_id).queues:
                raise InvalidInput(
                    f"agent {agent_id} does not take calls of queue {queue}", field="queue"
                )
        if (
            state is not AgentState.NOT_READY
            or self.acd.agent_snapshot(agent_id, self.clock())["reason"] != "outbound"
        ):
            # Keep the ACD from offering a queue call to an agent busy dialling out.
            self._execute(
                self.acd.handle(
                    acd_ev.AgentStateRequest(agent_id, AgentState.NOT_READY, "outbound"),
                    self.clock(),
                )
            )
        endpoint = self.acd.agent_config(agent_id).endpoint
        now = self.clock()
        # Dialled out from the agent's own PBX: its phone is registered there, and that
        # PBX's trunk carries the call to the customer.
        link = self.pbxs.home(self._agent_pbx(agent_id))
        call_id = link.global_id(f"out-{agent_id}-{int(now * 1000)}")
        call = LiveCall(
            call_id=call_id,
            channel=endpoint,
            uniqueid="",
            caller=endpoint,
            dialed=exten,
            arrived_at=now,
            direction="outbound",
            phase=Phase.RINGING,
            agent_id=agent_id,
            customer_id=customer_id,
            pbx=link.name,
            dialed_for=queue,
        )
        # Recorded by the rule of a call of that queue answered by this agent (without a
        # queue: the agent's own record key only). The queue is on the timeline, not in
        # the contact's queue column: the queue reports count calls that entered one.
        if self.recording_policy.records(queue, agent_id):
            call.recording_file = file_name(call_id, agent_id, now)
        self.calls[call_id] = call
        self._agent_calls[agent_id] = call_id
        self.recorder.arrived(call)
        if queue is not None:
            self.recorder.note(call, "dialed_for", {"queue": queue}, now)
        try:
            await self._originate(call, endpoint, exten)
        except (RemoteError, TimeoutError):
            self._call_gone(call, "originate refused")
            raise
        self._publish_call(call)
        return call_id

    async def move_call(self, call_id: str, queue: str) -> None:
        call = self._connected(call_id)
        if call.phase is not Phase.WAITING:
            raise IllegalTransition(call.phase.value, "move the call")
        self._execute(self.acd.handle(acd_ev.MoveCall(call_id, queue), self.clock()))
        call.queue = queue
        self.recorder.note(call, "moved", {"queue": queue}, self.clock())
        self.refresh_position(call)
        self._publish_call(call)

    async def spy(self, agent_id: str, mode: str, *, supervisor_agent_id: str) -> None:
        call_id = self._agent_calls.get(agent_id)
        call = self.calls.get(call_id) if call_id else None
        if call is None or not call.agent_channel:
            raise NotFound(f"agent {agent_id} has no call")
        options = {"listen": "qE", "whisper": "qEw", "barge": "qEB"}.get(mode)
        if options is None:
            raise InvalidInput(f"unknown spy mode {mode!r}", field="mode")
        # ChanSpy runs on the PBX of the call, where its agent leg is. A supervisor who
        # also takes calls has an ACD agent, endpoint and PBX (reached through the trunk
        # when that is another PBX); otherwise their agent id is their extension on the
        # call's PBX.
        link = self.pbxs.home(call.pbx)
        try:
            config = self.acd.agent_config(supervisor_agent_id)
        except NotFound:
            endpoint: str | None = f"PJSIP/{dialable(supervisor_agent_id)}"
        else:
            endpoint = link.settings.trunk_dial(
                self._agent_pbx(supervisor_agent_id), config.endpoint
            )
        if endpoint is None:
            raise InvalidInput(
                f"your phone is on PBX {self._agent_pbx(supervisor_agent_id)}, which PBX "
                f"{link.name} (the call's) has no trunk to",
                field="mode",
            )
        await link.ami.send(
            Action(
                "Originate",
                {
                    "Channel": endpoint,
                    "Application": "ChanSpy",
                    "Data": f"{call.agent_channel},{options}",
                    "Async": "true",
                    "CallerID": f"Spy <{agent_id}>",
                },
            )
        )

    async def ack_alert(self, alert_id: str, username: str) -> dict[str, Any]:
        if self.alerting is None:
            raise NotFound(f"no alert {alert_id[:40]!r}")
        return self.alerting.ack(alert_id, username)  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ chat and email

    def _desk(self) -> Any:
        if self.digital is None:
            raise NotFound("chat and email are not enabled")
        return self.digital

    def conversations_of(self, agent_id: str) -> list[dict[str, Any]]:
        """The agent's conversations not closed (routing.digital)."""
        if self.digital is None:
            return []
        return self.digital.conversations_of(agent_id)  # type: ignore[no-any-return]

    def conversation(self, key: str) -> dict[str, Any] | None:
        if self.digital is None:
            return None
        return self.digital.conversation(key)  # type: ignore[no-any-return]

    async def conversation_reply(self, agent_id: str, key: str, text: str) -> dict[str, Any]:
        return await self._desk().agent_message(key, agent_id, text)  # type: ignore[no-any-return]

    async def conversation_typing(self, agent_id: str, key: str, on: bool | str) -> None:
        self._desk().typing(key, agent_id, on)

    async def conversation_end(self, agent_id: str, key: str) -> dict[str, Any]:
        return await self._desk().end(key, agent_id)  # type: ignore[no-any-return]

    async def conversation_close(self, agent_id: str, key: str) -> dict[str, Any]:
        return await self._desk().close(key, agent_id)  # type: ignore[no-any-return]

    async def conversation_messages(
        self, key: str, after_seq: int | str = 0, before_seq: int | str | None = 0
    ) -> list[dict[str, Any]]:
        numbers = []
        for name, value in (("after_seq", after_seq), ("before_seq", before_seq or 0)):
            try:
                numbers.append(int(value))
            except (TypeError, ValueError):
                raise InvalidInput(f"{name} must be a whole number", field=name) from None
        after, before = numbers
        return await self._desk().messages(  # type: ignore[no-any-return]
            key, after, before_seq=before
        )

    async def visitor_open(
        self,
        channel: str,
        queue: str,
        party: Mapping[str, Any],
        subject: str = "",
        language: str = "",
        first_message: str | None = None,
    ) -> dict[str, Any]:
        """A visitor starts a chat (or a mail opens a conversation): the conversation
        JSON plus ``token``, the visitor's resume token (stored hashed; shown only here)."""
        token = new_visitor_token()
        conversation = await self._desk().open_conversation(
            channel,
            queue=queue,
            party=party,
            subject=subject,
            language=language,
            first_message=first_message or None,
            visitor_token=token,
        )
        return {**conversation, "token": token}

    async def visitor_message(self, key: str, text: str, client_id: str = "") -> dict[str, Any]:
        return await self._desk().customer_message(  # type: ignore[no-any-return]
            key, text, client_id=client_id or ""
        )

    async def visitor_typing(self, key: str, on: bool | str) -> None:
        self._desk().typing(key, "customer", on)

    async def visitor_leave(self, key: str) -> dict[str, Any]:
        return await self._desk().end(key, "customer")  # type: ignore[no-any-return]

    async def visitor_transcript(self, key: str, email: str) -> dict[str, Any]:
        return {"message_id": await self._desk().send_transcript(key, email)}

    def health(self) -> dict[str, Any]:
        calls: dict[str, int] = {link.name: 0 for link in self.pbxs}
        for call in self.calls.values():
            name = self.pbxs.home(call.pbx).name
            calls[name] = calls.get(name, 0) + 1
        pbx = {
            link.name: {
                "connected": link.ami.connected,
                "host": link.settings.host,
                "port": link.settings.port,
                "calls": calls[link.name],
            }
            for link in self.pbxs
        }
        return {
            # the first PBX, as before there were several; every PBX under "pbx"
            "ami": pbx[self.pbxs.first.name] | {"name": self.pbxs.first.name},
            "pbx": pbx,
            "calls": len(self.calls),
            "contacts": {"pending_writes": self.recorder.pending},
            "reload": self.reloader.status(),
        }

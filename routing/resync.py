"""Restart takeover and AMI resync, the shell: runs after every AMI (re)connect of one
PBX, for that PBX's calls and agents only (each PBX has its own ``Resync``).

It asks Asterisk what is live (``CoreShowChannels``, then one ``Status`` for the variables
the service set), reads what the store left open, lets the pure
:func:`routing.takeover.plan_takeover` decide, and carries the plan out on the call
center. Calls the center still tracks in memory (an AMI drop, not a restart) are checked
here too: vanished ones are closed, rings decided while the link was down are caught
up, and waiting callers get a fresh AsyncAGI session. See docs/ARCHITECTURE.md
"Restart and takeover".
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, Protocol

from config.errors import NotFound, RemoteError, SwitchboardError
from crm_lookup.drafts import holds_input
from crm_lookup.models import Contact
from routing.acd import events as acd_ev
from routing.acd.states import AgentState
from routing.live import LiveCall, Phase
from routing.pbx import PbxLink
from routing.ports import CallCenterPort
from routing.takeover import (
    Adopt,
    ChannelView,
    OpenContact,
    Plan,
    Resume,
    SavedAgent,
    plan_takeover,
)
from telephony.ami import Action
from telephony.ami.events import CoreShowChannel, Event

log = logging.getLogger(__name__)

#: the variables read back from every channel after a restart
TAKEOVER_VARIABLES = (
    "SWITCHBOARD_DID",
    "SWITCHBOARD_CALL",
    "SWITCHBOARD_AGENT",
    # the file MixMonitor writes for the current ring (routing.recording), "" = none
    "SWITCHBOARD_RECORD",
)
#: how long the resync waits for the contact writer before giving up this round
FLUSH_SECONDS = 30.0
#: how long an agent saved on a call waits for the resync of a PBX trunked to theirs
RESTORE_WAIT_SECONDS = 15.0
#: device states of a phone that cannot take a call (not registered, no such endpoint)
OFFLINE_STATES = frozenset({"UNAVAILABLE", "INVALID"})


class ResyncHost(CallCenterPort, Protocol):
    """What the resync needs of the call center (``routing.center.CallCenter``)."""

    calls: dict[str, LiveCall]
    _by_channel: dict[tuple[str, str], str]
    _agent_calls: dict[str, str]
    _originating: dict[tuple[str, str], str]
    _recent: dict[str, LiveCall]
    restored_wrap_up: dict[str, tuple[float | None, str | None]]
    resyncs: dict[str, Resync]

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]: ...
    def _execute(self, commands: Sequence[Any]) -> None: ...
    def _call_gone(self, call: LiveCall, cause: str = "") -> None: ...
    def _ring_failed(self, call: LiveCall, agent_id: str) -> None: ...
    def _publish(self, message: dict[str, Any]) -> None: ...
    def _publish_call(self, call: LiveCall) -> None: ...
    def _screen_pop(self, call: LiveCall) -> None: ...
    def _agent_pbx(self, agent_id: str) -> str: ...
    def _first_queue(self) -> str: ...
    async def _break_in(self, call: LiveCall) -> None: ...
    async def _load_card(self, call: LiveCall) -> None: ...


def dials_leg(channel: str, endpoint: str) -> bool:
    """Whether ``channel`` is a leg of ``endpoint`` (``PJSIP/1001-0000002a`` of ``PJSIP/1001``)."""
    return bool(endpoint) and channel.startswith(endpoint + "-")


def open_contact(contact: Contact, last_at: float) -> OpenContact:
    return OpenContact(
        key=contact.key,
        direction=contact.direction,
        caller=contact.caller,
        dialed=contact.dialed,
        arrived_at=contact.arrived_at,
        queue=contact.queue,
        queued_at=contact.queued_at,
        agent_id=contact.agent_id,
        answered_at=contact.answered_at,
        customer_id=contact.customer_id,
        contact_id=contact.id,
        last_at=last_at,
    )


def _seconds(duration: str) -> float:
    """``HH:MM:SS`` (CoreShowChannel's Duration) in seconds; 0 when unreadable."""
    parts = duration.split(":")
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() and len(p) <= 6 for p in parts):
        return 0.0
    hours, minutes, seconds = (int(p) for p in parts)
    return float(hours * 3600 + minutes * 60 + seconds)


class Resync:
    """Runs the resync / takeover of one PBX after every (re)connect of its AMI link.

    Ids on the PBX's wire are its own; the plan (``routing.takeover``) is made in them,
    and its results are turned into the service's global ids (``routing.pbx``).

    Args:
        center: the call center.
        link: the PBX.
        restore_agents: whether the first run restores the saved states of this PBX's
            agents (a new process); later runs never do (the engine has them).
    """

    def __init__(self, center: ResyncHost, link: PbxLink, *, restore_agents: bool = True) -> None:
        self.center = center
        self.link = link
        self.ami = link.ami
        self._restore_pending = restore_agents
        # agents saved in wrap-up who had typed a wrap-up not saved yet (stored drafts)
        self._unsaved: set[str] = set()
        self.runs = 0
        self.last_plan: Plan | None = None
        #: set once the first resync has run (others wait for it to restore agents)
        self.first_done = asyncio.Event()

    async def run(self) -> None:
        center = self.center
        listed_at = center.clock()
        try:
            listing = await self.ami.send(Action("CoreShowChannels"))
            variables = await self._variables()
        except (RemoteError, TimeoutError) as exc:
            log.warning(
                "channel resync failed", extra={"fields": {"pbx": self.link.name, "error": exc}}
            )
            return
        events: list[Event] = list(getattr(listing, "events", []))
        shown = [e for e in events if isinstance(e, CoreShowChannel)]
        channels = {e.channel: e for e in shown}
        self._check_known(channels, listed_at)
        views = [
            ChannelView(
                channel=e.channel,
                uniqueid=e.uniqueid,
                linkedid=e.linkedid or e.uniqueid,
                context=e.context,
                exten=e.exten,
                application=e.application,
                bridge_id=e.bridge_id,
                seconds=_seconds(e.duration),
                caller_num=e.caller_id_num,
                caller_name=e.caller_id_name,
                variables=variables.get(e.channel, {}),
            )
            for e in shown
        ]
        await self._take_over(views)
        self.runs += 1
        self.first_done.set()

    async def _variables(self) -> dict[str, dict[str, str]]:
        """The service's own variables on every channel: one ``Status`` for them all."""
        reply = await self.ami.send(Action("Status", {"Variables": ",".join(TAKEOVER_VARIABLES)}))
        out: dict[str, dict[str, str]] = {}
        for event in getattr(reply, "events", []):
            found = {}
            for item in event.message.get_all("Variable"):
                name, _, value = item.partition("=")
                if name in TAKEOVER_VARIABLES and value:
                    found[name] = value
            out[event.message.get("Channel")] = found
        return out

    async def _offline_agents(self, endpoints: Mapping[str, str]) -> set[str]:
        """Agents whose phone is not registered now (``DeviceStateList``: UNAVAILABLE)."""
        try:
            reply = await self.ami.send(Action("DeviceStateList"))
        except (RemoteError, TimeoutError) as exc:
            log.warning("device states unknown", extra={"fields": {"error": exc}})
            return set()
        out = set()
        for event in getattr(reply, "events", []):
            device = event.message.get("Device")
            if device in endpoints and event.message.get("State") in OFFLINE_STATES:
                out.add(endpoints[device])
        return out

    # ------------------------------------------------------------------ calls in memory

    def _check_known(self, channels: Mapping[str, CoreShowChannel], listed_at: float) -> None:
        """Calls the center tracks (an AMI drop): close the vanished, catch up on rings,
        bring waiting callers back into AGI."""
        center = self.center
        pbx = self.link.name
        originating = {c for (p, _), c in center._originating.items() if p == pbx}
        for call in list(center.calls.values()):
            if center.pbxs.home(call.pbx) is not self.link:
                continue  # another PBX's: its own resync checks it
            if call.call_id in originating:
                continue  # its OriginateResponse is still to come
            if call.arrived_at >= listed_at and not call.adopted:
                continue  # arrived after the list was taken: not in it, yet not gone
            if call.channel not in channels:
                log.info(
                    "call vanished while AMI was down", extra={"fields": {"call": call.call_id}}
                )
                center._call_gone(call, "vanished")
            elif call.phase is Phase.RINGING and call.direction == "inbound":
                self._check_ring(call, channels)
            elif call.phase in (Phase.IVR, Phase.WAITING):
                # Its AGI session lost the command in flight: bring it back into AGI. A
                # caller who was in the IVR goes to the queue it was heading for (or the
                # first queue), rather than hearing the menu again from the start.
                if call.phase is Phase.IVR:
                    call.pending_queue = call.queue or center._first_queue()
                center._spawn(center._break_in(call), f"resume-{call.call_id}")

    def _check_ring(self, call: LiveCall, channels: Mapping[str, CoreShowChannel]) -> None:
        """A ring whose DialBegin / DialEnd may have been lost with the connection."""
        center = self.center
        caller = channels[call.channel]
        leg = call.agent_channel
        if leg is None or leg not in channels:
            leg = next((n for n in channels if dials_leg(n, call.ring_endpoint)), None)
        if leg is None and "@" in call.ring_endpoint:
            # rung through a trunk: the leg is the caller's call's channel on that trunk
            trunk = _trunk_base(call.ring_endpoint)
            leg = next(
                (
                    name
                    for name, chan in channels.items()
                    if name.rsplit("-", 1)[0] == trunk
                    and (chan.linkedid or chan.uniqueid) == (caller.linkedid or caller.uniqueid)
                ),
                None,
            )
        agent_id = call.agent_id
        if agent_id is None:
            return
        if leg is not None and call.agent_channel is None:
            # DialBegin was lost: the agent's phone rang (or rings) without a screen pop.
            call.agent_channel = leg
            center._by_channel[self.link.name, leg] = call.call_id
            center._screen_pop(call)
            center.recorder.offered(call, center.clock())
        if caller.bridge_id and leg is not None and channels[leg].bridge_id == caller.bridge_id:
            now = center.clock()
            call.phase = Phase.TALKING
            call.answered_at = now
            center._execute(center.acd.handle(acd_ev.AgentAnswered(call.call_id, agent_id), now))
            center.recorder.answered(call, now)
            if call.direction == "inbound" and call.recording_file:  # as _dial_end would
                center.recorder.recording(call, call.recording_file, now, call.agent_id or "")
            center._publish_call(call)
        elif caller.application.lower() != "dial":
            # The ring ended unanswered while we were away and the caller is back in
            # AGI, whose AsyncAGIStart was lost too: a Redirect gives us a fresh one.
            center._ring_failed(call, agent_id)
            center._spawn(center._break_in(call), f"resume-{call.call_id}")

    # ------------------------------------------------------------------ takeover

    async def _take_over(self, views: Sequence[ChannelView]) -> None:
        center = self.center
        recorder = center.recorder
        # Milestones still queued would make a contact look open that is not. A database
        # stuck for long (busy retries) must not hold the AMI connection's set-up forever.
        try:
            await asyncio.wait_for(recorder.flush(), FLUSH_SECONDS)
        except TimeoutError:
            log.warning("contact writer behind; takeover postponed to the next connect")
            return
        rows = await recorder.contacts.open_contacts()
        saved: list[SavedAgent] = []
        if self._restore_pending and recorder.agent_states is not None:
            saved = await recorder.agent_states.all()
            self._unsaved = await _unsaved_wrap_ups(recorder.drafts, saved)
        now = center.clock()
        link = self.link
        mine = center.pbxs.owner
        # This PBX's agents (their device states come from here) and, for agents of other
        # PBXs, the trunk dial strings this PBX rings them by.
        endpoints: dict[str, str] = {}
        trunk_dials: dict[str, str] = {}
        for agent_id in center.acd.agent_ids():
            home = center._agent_pbx(agent_id)
            endpoint = center.acd.agent_config(agent_id).endpoint
            if home == link.name:
                endpoints[endpoint] = agent_id
            elif (dial := link.settings.trunk_dial(home, endpoint)) is not None:
                trunk_dials[dial] = agent_id
        offline = await self._offline_agents(endpoints) if saved else set()
        contacts = [
            dataclasses.replace(open_contact(contact, last), key=link.local_id(contact.key))
            for contact, last in rows
            if mine(contact.key) is link
        ]
        known = {
            link.local_id(call_id)
            for call_id in (*center.calls, *center._recent)
            if mine(call_id) is link
        }
        plan = plan_takeover(
            views,
            contacts,
            endpoints=endpoints,
            known=known,
            saved_agents=[
                s
                for s in saved
                if s.agent_id in endpoints.values() and s.agent_id not in center._agent_calls
            ],
            wrap_up_seconds={q.name: q.wrap_up for q in center.acd.queue_configs()},
            offline=offline,
            agent_legs=_trunk_legs(views, trunk_dials),
            now=now,
        )
        plan = dataclasses.replace(
            plan,
            close=tuple(dataclasses.replace(c, key=link.global_id(c.key)) for c in plan.close),
            adopt=tuple(
                dataclasses.replace(a, call_id=link.global_id(a.call_id)) for a in plan.adopt
            ),
        )
        self.last_plan = plan
        for close in plan.close:
            log.info(
                "contact lost while the service was down",
                extra={"fields": {"call": close.key, "at": close.at}},
            )
            recorder.lost(close.key, close.at)
        agents_calls = [a for a in plan.adopt if a.agent_id is not None]
        others = [a for a in plan.adopt if a.agent_id is None]
        for adopt in agents_calls:
            self._adopt(adopt)
            if adopt.agent_id in self._unsaved:
                # typed on this call before the restart: unsaved input of its wrap-up
                self._guarded(acd_ev.WrapUpDraft(adopt.agent_id, True), adopt.agent_id)
        if self._restore_pending:
            self._restore_pending = False
            # An agent saved on a call may be talking to a caller of another PBX through
            # the trunk: that PBX's resync adopts the call. Until it has run (or for
            # RESTORE_WAIT_SECONDS at most) such an agent is not sent to wrap-up here.
            on_a_call = {s.agent_id for s in saved if s.state in ("on_call", "ringing")}
            others_first = self._trunked_in_not_yet_run()
            later = [r for r in plan.restore if others_first and r.agent_id in on_a_call]
            for restore in plan.restore:
                if restore not in later:
                    self._restore(restore)
            if later:
                center._spawn(self._restore_later(later, others_first), "restore-later")
        for adopt in others:
            self._adopt(adopt)
        if plan.adopt:
            log.info(
                "live calls taken over",
                extra={
                    "fields": {
                        "calls": len(plan.adopt),
                        "closed": len(plan.close),
                        "agents": len(plan.restore),
                    }
                },
            )
        # Ring tasks spawned above set their calls ringing first; those still waiting (or
        # about to run their IVR) get a fresh AsyncAGI session.
        await asyncio.sleep(0)
        for adopt in others:
            call = center.calls.get(adopt.call_id)
            if call is not None and call.phase in (Phase.WAITING, Phase.IVR):
                center._spawn(center._break_in(call), f"adopt-{call.call_id}")

    def _trunked_in_not_yet_run(self) -> list[asyncio.Event]:
        """First runs still to come of the PBXs with a trunk to this one."""
        return [
            other.first_done
            for other in self.center.resyncs.values()
            if other is not self
            and self.link.name in other.link.settings.trunks
            and not other.first_done.is_set()
        ]

    async def _restore_later(
        self, restores: Sequence[SavedAgent], runs: Sequence[asyncio.Event]
    ) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(run.wait() for run in runs)), RESTORE_WAIT_SECONDS
            )
        center = self.center
        for restore in restores:
            free = restore.agent_id not in center._agent_calls
            with contextlib.suppress(NotFound):
                if free and center.acd.agent_state(restore.agent_id) is AgentState.LOGGED_OUT:
                    self._restore(restore)

    def _restore(self, restore: SavedAgent) -> None:
        """Bring one agent back in its saved state (``plan.restore``)."""
        if restore.state == AgentState.LOGGED_OUT.value:
            return
        if restore.state == AgentState.WRAP_UP.value:
            self.center.restored_wrap_up[restore.agent_id] = (
                restore.wrap_up_until,
                restore.wrap_queue,
            )
        self._guarded(
            acd_ev.AgentRestored(
                restore.agent_id,
                AgentState(restore.state),
                restore.reason,
                restore.since,
                restore.wrap_up_until,
                restore.wrap_queue,
                wrap_up_unsaved=restore.agent_id in self._unsaved,
            ),
            restore.agent_id,
        )

    async def _pop_again(self, call: LiveCall) -> None:
        """The agent's phone still rings for a call of the dead process: its console
        (reconnected) gets the screen pop again, with the caller's card."""
        await self.center._load_card(call)
        if call.phase is Phase.RINGING:
            self.center._screen_pop(call)

    def _guarded(self, event: Any, what: str) -> bool:
        center = self.center
        try:
            center._execute(center.acd.handle(event, center.clock()))
        except SwitchboardError as exc:
            log.warning(
                "takeover step refused",
                extra={"fields": {"step": type(event).__name__, "for": what, "error": exc}},
            )
            return False
        return True

    def _adopt(self, adopt: Adopt) -> None:
        center = self.center
        view, contact = adopt.channel, adopt.contact
        call = LiveCall(
            call_id=adopt.call_id,
            channel=view.channel,
            uniqueid=view.uniqueid,
            caller=(contact.caller if contact else "") or view.caller_num,
            dialed=adopt.dialed,
            arrived_at=adopt.arrived_at,
            direction="inbound" if contact is None else contact.direction,
            queue=adopt.queue or None,
            queued_at=adopt.queued_at,
            customer_id=contact.customer_id if contact else None,
            contact_id=contact.contact_id if contact else None,
            pbx=self.link.name,
        )
        call.adopted = True
        center.calls[call.call_id] = call
        center._by_channel[call.pbx, call.channel] = call.call_id
        if contact is None:
            center.recorder.arrived(call)
        if adopt.resume is Resume.IVR:
            call.phase = Phase.IVR
            center._publish_call(call)
            return
        if adopt.resume is not Resume.RINGING:
            center._spawn(center._load_card(call), f"card-{call.call_id}")
        if adopt.resume is Resume.WAITING:
            call.phase = Phase.WAITING
            try:
                center.enqueue(call, adopt.queue, 0, {}, since=adopt.queued_at)
            except SwitchboardError as exc:  # e.g. its queue is no longer in the file
                log.warning(
                    "adopted caller's queue refused; first queue",
                    extra={"fields": {"call": call.call_id, "error": exc}},
                )
                center.enqueue(call, center._first_queue(), 0, {}, since=adopt.queued_at)
            return
        agent_id = adopt.agent_id or ""
        call.agent_id = agent_id
        # A ring or conversation recorded before the restart goes on being recorded (the
        # MixMonitor is on the caller's channel, not in this process): its file is the
        # variable's last part. Whether it was paused cannot be read back over AMI; it is
        # taken as not paused, and a pause from the console mutes it again. A click-to-dial's
        # or a callback's MixMonitor is on the agent's leg (switchboard-outbound).
        target = adopt.agent_record
        if target is None:
            target = view.variables.get("SWITCHBOARD_RECORD", "")
        else:
            call.recording_channel = adopt.agent_channel or ""
        call.recording_file = target.rsplit("/", 1)[-1]
        call.recording_agent = agent_id
        call.agent_channel = adopt.agent_channel
        if adopt.agent_channel:
            center._by_channel[call.pbx, adopt.agent_channel] = call.call_id
        inbound = call.direction == "inbound"  # a click-to-dial is not the ACD's
        try:
            endpoint = center.acd.agent_config(agent_id).endpoint
        except NotFound:
            endpoint = ""
        dial = self.link.settings.trunk_dial(center._agent_pbx(agent_id), endpoint)
        call.ring_endpoint = dial or endpoint
        queue = adopt.queue or center._first_queue()
        if inbound:
            call.queue = queue
        since = adopt.queued_at or adopt.arrived_at
        if adopt.resume is Resume.RINGING:
            call.phase = Phase.RINGING
            center._agent_calls[agent_id] = call.call_id
            self._guarded(acd_ev.CallAdopted(call.call_id, queue, agent_id, since), agent_id)
            if contact is None or contact.agent_id != agent_id:  # the offer not yet written
                center.recorder.offered(call, center.clock())
            center._spawn(self._pop_again(call), f"pop-{call.call_id}")
            return
        call.phase = Phase.TALKING if adopt.resume is Resume.TALKING else Phase.HELD
        call.answered_at = adopt.answered_at
        center._agent_calls[agent_id] = call.call_id
        if inbound:
            self._guarded(
                acd_ev.CallAdopted(
                    call.call_id, queue, agent_id, since, answered_at=adopt.answered_at
                ),
                agent_id,
            )
        if contact is None or contact.answered_at is None:
            center.recorder.answered(call, call.answered_at or center.clock())
            if call.recording_file:  # written with the answer, so missed with it
                center.recorder.recording(
                    call, call.recording_file, call.answered_at or center.clock(), agent_id
                )
        center._publish_call(call)


async def _unsaved_wrap_ups(drafts: Any, saved: Sequence[SavedAgent]) -> set[str]:
    """The agents saved in wrap-up (or on its call) with a draft typed since then that
    holds input: a wrap-up limit that ran out while the service was down must not make
    them ready behind their back."""
    if drafts is None:
        return set()
    found: set[str] = set()
    for agent in saved:
        # saved on a call that ended while nobody watched, the agent is brought back in
        # wrap-up: what they typed while talking holds it as well
        if agent.state not in (AgentState.WRAP_UP.value, AgentState.ON_CALL.value):
            continue
        try:
            kept = await drafts.for_agent(agent.agent_id)
        except Exception:  # a draft that cannot be read holds nobody: the takeover goes on
            log.warning(
                "could not read wrap-up drafts", extra={"fields": {"agent": agent.agent_id}}
            )
            continue
        # a draft last typed before this wrap-up began is an older contact's, left behind
        if any(d.updated_at >= agent.since and holds_input(d.data) for d in kept):
            found.add(agent.agent_id)
    return found


def _trunk_legs(views: Sequence[ChannelView], trunk_dials: Mapping[str, str]) -> dict[str, str]:
    """Channel -> agent for the trunk legs of calls rung to agents of another PBX.

    The trunk's channel (``PJSIP/pbx-east-0000002a``) does not name the agent; the caller's
    ``SWITCHBOARD_AGENT`` (``PJSIP/1001@pbx-east``, set before the ring) does, and the
    leg is the caller's Linkedid's channel on that trunk (``PJSIP/pbx-east``).
    """
    by_linkedid: dict[str, list[ChannelView]] = {}
    for view in views:
        by_linkedid.setdefault(view.linkedid, []).append(view)
    legs: dict[str, str] = {}
    for view in views:
        dial = view.variables.get("SWITCHBOARD_AGENT", "")
        agent_id = trunk_dials.get(dial)
        if agent_id is None or "@" not in dial:
            continue
        trunk = _trunk_base(dial)
        for other in by_linkedid.get(view.linkedid, ()):
            if other is not view and other.channel.rsplit("-", 1)[0] == trunk:
                legs[other.channel] = agent_id
    return legs


def _trunk_base(dial: str) -> str:
    """The channel name prefix of a trunk dial string (``PJSIP/1001@pbx-east`` ->
    ``PJSIP/pbx-east``): Asterisk names the trunk's channels after the endpoint."""
    tech, _, rest = dial.partition("/")
    return f"{tech}/{rest.partition('@')[2]}"

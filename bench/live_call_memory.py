"""Memory per live call: what the service keeps for each call in progress (issue 12).

Run: ``python -m bench.live_call_memory [--calls 5000] [--quick]``

Target: < 16 KB per live call. The call is built through the real pure pieces the service
keeps it in, without sockets or a database, and ``tracemalloc`` counts what each piece
holds once every call is in place (bytes still allocated, divided by the calls):

* the ACD engine (``routing.acd``): ``CallQueued`` for each caller on a floor of half as
  many agents, every agent ready, so half the calls are rung and answered
  (``AgentAnswered``) and half wait in line; the engine's records, line entries, timers;
* call tracking (``telephony.calls.CallTracker``): the caller's channel (``Newchannel``,
  the DID ``VarSet``, ``Newstate`` Up, ``AsyncAGIStart``) and, for an answered call, the
  agent's leg and both ``BridgeEnter``;
* the shell's record (``routing.live.LiveCall``) with what the service fills in: a
  4-step IVR path, the CRM card of the screen pop (a ``CustomerCard`` with 5 recent
  contacts and 2 open cases, as ``Directory`` returns by default), and the call center's
  per-call maps (``calls``, ``_by_channel``, ``_agent_calls``: built here as plain dicts,
  ``routing.center`` needs an AMI client);
* the contact recorder (``routing.contacts.ContactRecorder``): the milestones a call
  produces up to its answer (arrived, 4 IVR steps, IVR done, queued, offered, answered),
  all still queued, as when the database writer is behind. With the writer keeping up
  this part is near zero; it is the worst case that the figure includes.

Every number is bytes held after ``gc.collect()``: objects built only to feed the pieces
(events, CustomerCard before ``to_json``) are freed and not counted. An IVR session (only
while the caller is in the IVR) and the consoles' websockets are not per-call state here.
This is a benchmark, not a test: it prints a table and asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.figures import Figure
from bench.figures import report as report_figures
from bench.routing_decision import make_agents, make_call, queues
from crm_lookup.directory import CustomerCard
from crm_lookup.models import Case, CaseStatus, Contact, Direction
from routing.acd import Acd, AgentState
from routing.acd import commands as cmd
from routing.acd import events as ev
from routing.contacts import ContactRecorder
from routing.ivr.interpreter import PathStep
from routing.ivr_ports import without_this_call
from routing.live import LiveCall, Phase
from telephony.ami.events import AsyncAGIStart, BridgeEnter, Newchannel, Newstate, VarSet
from telephony.calls import CallTracker

TARGET_BYTES = 16 * 1024


class PendingContacts:
    """Stands in for ``crm_lookup.contacts.ContactLog``: the writer never runs here."""

    def __getattr__(self, name: str) -> Callable[..., Any]:  # pragma: no cover - not called
        raise AssertionError(f"the bench does not write milestones ({name})")


def customer_card(i: int, rng: random.Random) -> dict[str, Any]:
    contacts = tuple(
        Contact(
            id=i * 10 + k,
            key=f"17961{i:05d}.{k}",
            customer_id=i,
            direction=Direction.INBOUND.value,
            caller=f"+1555{i:07d}",
            dialed="+18005550100",
            started_at=1_796_000_000.0 - k * 86_400,
            queue=rng.choice(("sales", "support", "billing")),
            agent_id=f"a{rng.randrange(1000)}",
            outcome="answered",
            disposition=rng.choice(("resolved", "follow-up", "")),
            notes="Asked about the invoice; sent a copy by e-mail." if k == 0 else "",
            ivr_path=("menu", "2", "queue"),
        )
        for k in range(5)
    )
    cases = tuple(
        Case(
            id=i * 10 + k,
            customer_id=i,
            subject=f"Invoice {i}-{k} disputed",
            status=CaseStatus.OPEN.value,
            created_at=1_795_000_000.0,
            updated_at=1_796_000_000.0,
        )
        for k in range(2)
    )
    card = CustomerCard(
        customer_id=i,
        name=f"Customer {i} Lastname",
        phone=f"+1555{i:07d}",
        company="Example Trading Ltd",
        tier=rng.choice(("", "", "gold", "vip")),
        language="en",
        email=f"customer{i}@example.com",
        account=f"ACC-{i:08d}",
        tags=("newsletter", "invoice-by-mail"),
        notes="Prefers e-mail.",
        open_cases=cases,
        recent_contacts=contacts,
    )
    return card.to_json()


def ivr_path(arrived: float) -> list[dict[str, Any]]:
    steps = (("welcome", "play", ""), ("menu", "menu", "2"), ("account", "collect", "12345678"))
    path = [
        PathStep(node, kind, digits, arrived + k * 4.0, arrived + k * 4.0 + 3.5, "ok").to_json()
        for k, (node, kind, digits) in enumerate(steps)
    ]
    path.append(PathStep("queue", "queue", "", arrived + 12.0, arrived + 12.0, "queued").to_json())
    return path


class Floor:
    """The pieces that hold the live calls, and the calls' ids."""

    def __init__(self, calls: int, seed: int) -> None:
        self.rng = random.Random(seed)
        agents = make_agents(max(1, calls // 2), self.rng)
        self.acd = Acd(queues(), agents, now=0.0)
        for a in agents:
            self.acd.handle(ev.AgentStateRequest(a.agent_id, AgentState.READY), 0.0)
        self.tracker = CallTracker(clock=lambda: 0.0)
        self.recorder = ContactRecorder(PendingContacts())
        self.calls: dict[str, LiveCall] = {}
        self.by_channel: dict[str, str] = {}
        self.agent_calls: dict[str, str] = {}
        self.count = calls
        self.ids = [f"{1_796_100_000 + i}.{i}" for i in range(calls)]
        # bench bookkeeping, sized before the measurement so it adds nothing to it
        self.agent_of: dict[str, str | None] = dict.fromkeys(self.ids)
        self.now = 10.0

    def acd_part(self) -> None:
        for i, call_id in enumerate(self.ids):
            e = make_call(i, self.rng)
            queued = ev.CallQueued(call_id, e.queue, e.priority, e.skills, tier=e.tier)
            for c in self.acd.handle(queued, self.now):
                if isinstance(c, cmd.RingAgent):
                    self.acd.handle(ev.AgentAnswered(c.call_id, c.agent_id), self.now)
                    self.agent_of[c.call_id] = c.agent_id
        self.acd.tick(self.now + 1.0)

    def tracker_part(self) -> None:
        for i, call_id in enumerate(self.ids):
            caller = f"PJSIP/trunk-{i:08x}"
            fields = {
                "channel": caller,
                "uniqueid": call_id,
                "linkedid": call_id,
                "caller_id_num": f"+1555{i:07d}",
                "caller_id_name": f"Customer {i}",
                "exten": "+18005550100",
                "context": "switchboard-inbound",
            }
            feed = self.tracker.feed
            feed(Newchannel(channel_state_desc="Ring", **fields), self.now)
            feed(VarSet(variable="__SWITCHBOARD_DID", value="+18005550100", **fields), self.now)
            feed(Newstate(channel_state_desc="Up", **fields), self.now)
            env = f"agi_channel: {caller}%0Aagi_uniqueid: {call_id}%0Aagi_dnid: +18005550100"
            feed(AsyncAGIStart(env=env, channel_state_desc="Up", **fields), self.now)
            agent_id = self.agent_of[call_id]
            if agent_id is None:
                continue
            leg = {**fields, "channel": f"PJSIP/{agent_id}-{i:08x}", "uniqueid": f"{call_id}1"}
            feed(Newchannel(channel_state_desc="Ring", **leg), self.now)
            feed(Newstate(channel_state_desc="Up", **leg), self.now)
            bridge = f"b{i:032x}"
            for f in (fields, leg):
                feed(
                    BridgeEnter(
                        bridge_uniqueid=bridge,
                        bridge_num_channels="2",
                        channel_state_desc="Up",
                        **f,
                    ),
                    self.now,
                )

    def live_part(self) -> None:
        for i, call_id in enumerate(self.ids):
            call = LiveCall(
                call_id=call_id,
                channel=f"PJSIP/trunk-{i:08x}",
                uniqueid=call_id,
                caller=f"+1555{i:07d}",
                dialed="+18005550100",
                arrived_at=self.now - 20.0,
                language="en",
            )
            call.path = ivr_path(call.arrived_at)
            call.card = without_this_call(customer_card(i, self.rng), call)
            call.customer_id = i
            call.queue = "support"
            call.queued_at = self.now - 8.0
            agent_id = self.agent_of[call_id]
            if agent_id is not None:
                call.phase = Phase.TALKING
                call.agent_id = agent_id
                call.agent_channel = f"PJSIP/{agent_id}-{i:08x}"
                call.ring_endpoint = f"PJSIP/{1000 + i}"
                call.answered_at = self.now
                self.agent_calls[agent_id] = call_id
            else:
                call.phase = Phase.WAITING
                call.position, call.estimate = i, 42.0
            self.calls[call_id] = call
            self.by_channel[call.channel] = call_id

    def recorder_part(self) -> None:
        rec = self.recorder
        for call_id in self.ids:
            call = self.calls[call_id]
            rec.arrived(call)
            steps = [
                PathStep(
                    s["node"], s["kind"], s["digits"], s["entered_at"], s["left_at"], s["result"]
                )
                for s in call.path
            ]
            for step in steps:
                rec.ivr_step(call, step)
            rec.ivr_done(call, steps, "queued")
            rec.queued(call, call.queued_at or self.now)
            if call.agent_id is not None:
                rec.offered(call, self.now)
                rec.answered(call, self.now)


PARTS = (
    ("ACD engine (routing.acd)", "acd_part"),
    ("call tracking (telephony.calls)", "tracker_part"),
    ("LiveCall + card + IVR path + maps", "live_part"),
    ("contact recorder, writer behind", "recorder_part"),
)


def measure(calls: int, seed: int) -> tuple[dict[str, float], int, int]:
    """Bytes per call held by each part (tracemalloc, after gc); calls answered, waiting."""
    tracemalloc.start()
    floor = Floor(calls, seed)
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    per_call: dict[str, float] = {}
    for label, method in PARTS:
        getattr(floor, method)()
        gc.collect()
        now = tracemalloc.get_traced_memory()[0]
        per_call[label] = (now - before) / calls
        before = now
    tracemalloc.stop()
    waiting = sum(floor.acd.queue_stats(q.name)["waiting"] for q in floor.acd.queue_configs())
    return per_call, len(floor.agent_calls), waiting


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000, help="live calls (default 5,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="smoke run: 300 calls")
    args = parser.parse_args(argv)
    calls = 300 if args.quick else args.calls
    result, answered, waiting = measure(calls, args.seed)
    total = sum(result.values())
    print(
        f"{calls} live calls on {max(1, calls // 2)} agents: {answered} answered, {waiting} waiting"
    )
    print(f"{'part':<36} {'bytes per call':>15}")
    print("-" * 52)
    for label, value in result.items():
        print(f"{label:<36} {value:>15,.0f}")
    print("-" * 52)
    print(f"{'total':<36} {total:>15,.0f}   target < {TARGET_BYTES:,} ({total / 1024:.1f} KB)")
    without = total - result["contact recorder, writer behind"]
    print(f"{'total, recorder writer keeping up':<36} {without:>15,.0f}")
    print(
        f"python {sys.version.split()[0]}; tracemalloc, bytes still allocated after "
        f"gc.collect() / calls; 1-min load {os.getloadavg()[0]:.2f}"
    )
    figures = [
        Figure("memory per live call", total / 1024, "KB", "< 16 KB", total < TARGET_BYTES),
        Figure("  of which ACD engine", result["ACD engine (routing.acd)"] / 1024, "KB"),
        Figure("  of which call tracking", result["call tracking (telephony.calls)"] / 1024, "KB"),
        Figure(
            "  of which LiveCall, card, path, maps",
            result["LiveCall + card + IVR path + maps"] / 1024,
            "KB",
        ),
        Figure(
            "  of which recorder backlog",
            result["contact recorder, writer behind"] / 1024,
            "KB",
        ),
    ]
    report_figures(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())

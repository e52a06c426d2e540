"""An agent's console reads its own agent, not the whole floor (issue 12's regression).

Every websocket connect and every agent action used to build the center's full snapshot
(every agent, every live call) to find one agent, two or three times over: with 1,000
consoles and 1,000 live calls, connecting them took 20-60 s and delayed the screen pops
queued behind. These tests run the real service on the PBX simulator with a call ringing
an agent and check that the agent's view is the full snapshot cut down, exactly, and
that building it does not build the full snapshot.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from agent_console.actions import Console
from agent_console.auth import Role, User
from agent_console.keys import CONSOLE
from telephony.simulator import PhoneBehaviour
from tests.service_harness import running_service

DEMO_DID = "5550100"  # demo_line: menu 1 sales / 2 support / 3 billing


class FrozenClock:
    """Real time, except while frozen: two reads then see one instant."""

    def __init__(self) -> None:
        self.at: float | None = None

    def __call__(self) -> float:
        return time.time() if self.at is None else self.at


def cut_down(snap: dict[str, Any], agent_id: str) -> dict[str, Any]:
    agent = next(a for a in snap["agents"] if a["agent_id"] == agent_id)
    return {
        "now": snap["now"],
        "queues": [q for q in snap["queues"] if q["name"] in agent["queues"]],
        "agents": [agent],
        "calls": [c for c in snap["calls"] if c["agent_id"] == agent_id],
        "intervals": [],
        "conversations": [c for c in snap["conversations"] if c["agent_id"] == agent_id],
    }


async def test_agent_view_is_the_full_snapshot_cut_down_and_never_builds_it(
    tmp_path: Path,
) -> None:
    clock = FrozenClock()
    phones = {"PJSIP/1001": PhoneBehaviour(answer_after=30)}  # keeps ringing
    async with running_service(tmp_path, phones=phones, clock=clock) as (service, sim, rec, _):
        center = service.center
        await center.set_agent_state("1001", "ready")
        await center.set_agent_state("1002", "ready")
        sim.place_call("+15550001111", did=DEMO_DID, dtmf=["1"], patience=60)
        pop = await rec.wait_for(
            lambda m: m.get("type") == "screen_pop" and m.get("agent_id") == "1001"
        )

        clock.at = time.time()
        full = center.snapshot()
        for agent_id in ("1001", "1002"):
            assert center.agent_snapshot(agent_id) == cut_down(full, agent_id)
            assert center.agent(agent_id) == cut_down(full, agent_id)["agents"][0]
        ringing = center.agent_snapshot("1001")
        assert ringing is not None
        assert [c["call_id"] for c in ringing["calls"]] == [pop["call"]["call_id"]]
        assert center.agent_snapshot("no-such-agent") is None
        assert center.agent("no-such-agent") is None

        # What a console does on connect and on an agent action: scope, snapshot,
        # agent lookups. None of it may build the floor's snapshot.
        built = 0
        real = center.acd.snapshot

        def counting(now: float) -> dict[str, Any]:
            nonlocal built
            built += 1
            return real(now)

        center.acd.snapshot = counting  # type: ignore[method-assign]
        console: Console = service.app[CONSOLE]
        user = User("ada", Role.AGENT, "1001")
        scope = console.scope(user)
        view = console.snapshot_for(scope)
        console.current_call_of(user)
        console._check_agent(user, "1001")
        assert built == 0
        assert scope.queues == frozenset(cut_down(full, "1001")["agents"][0]["queues"])
        assert view["agents"] == ringing["agents"] and view["calls"] == ringing["calls"]
        assert view["queues"] == ringing["queues"] and view["current_call"] is not None

        # A wallboard still gets the whole floor.
        console.snapshot_for(console.scope(User("root", Role.ADMIN)))
        assert built == 1
        clock.at = None

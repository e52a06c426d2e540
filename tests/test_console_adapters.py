"""agent_console.adapters over a real (pure) ACD engine, no event loop."""

from __future__ import annotations

from agent_console.actions import Console
from agent_console.adapters import agent_state_message, queue_stats_message, snapshot_from_acd
from agent_console.auth import Role, User
from config.settings import Settings
from routing.acd import Acd, AgentConfig, AgentState, QueueConfig
from routing.acd import commands as cmd
from routing.acd import events as ev


class SnapCenter:
    """Only what Console.visible / scope need."""

    def __init__(self, snap: dict[str, object]) -> None:
        self.snap = snap

    def snapshot(self) -> dict[str, object]:
        return self.snap

    def queues_for_supervisor(self, username: str) -> frozenset[str]:
        return frozenset({"sales"})


def build() -> tuple[Acd, list[object]]:
    acd = Acd(
        [QueueConfig("sales"), QueueConfig("support")],
        [
            AgentConfig("1001", "Alice", "PJSIP/1001", queues=("sales",)),
            AgentConfig("1002", "Bob", "PJSIP/1002", queues=("support",)),
        ],
        now=100.0,
    )
    out: list[object] = []
    out += acd.handle(ev.AgentStateRequest("1002", AgentState.READY), 101.0)
    out += acd.handle(ev.CallQueued("c1", "sales", caller="+15551230001"), 102.0)
    return acd, out


def test_snapshot_from_the_acd() -> None:
    acd, _ = build()
    snap = snapshot_from_acd(acd.snapshot(110.0), calls=[])
    tiles = {q["name"]: q for q in snap["queues"]}
    assert tiles["sales"]["waiting"] == 1
    assert tiles["sales"]["longest_wait"] == 8.0
    assert tiles["support"]["agents_ready"] == 1
    agents = {a["agent_id"]: a for a in snap["agents"]}
    assert agents["1002"]["state"] == "ready"
    assert agents["1001"] == agents["1001"] | {"name": "Alice", "queues": ["sales"]}
    console = Console(Settings(), SnapCenter(snap), crm=None)  # type: ignore[arg-type]
    view = console.snapshot_for(console.scope(User("sue", Role.SUPERVISOR)))
    assert [q["name"] for q in view["queues"]] == ["sales"]
    assert [a["agent_id"] for a in view["agents"]] == ["1001"]


def test_messages_from_acd_commands() -> None:
    acd, out = build()
    changes = [c for c in out if isinstance(c, cmd.AgentStateChanged)]
    msg = agent_state_message(changes[0], "Bob", ["support"])
    assert msg["type"] == "agent_state"
    assert msg["agent"]["state"] == "ready" and msg["queues"] == ["support"]
    stats = [c for c in out if isinstance(c, cmd.QueueStatsChanged) and c.queue == "sales"]
    tile = queue_stats_message(stats[-1], 110.0)
    assert tile["queue"] == "sales" and tile["stats"]["waiting"] == 1
    assert tile["stats"]["name"] == "sales"
    snap = snapshot_from_acd(acd.snapshot(110.0), calls=[])
    console = Console(Settings(), SnapCenter(snap), crm=None)  # type: ignore[arg-type]
    sue = console.scope(User("sue", Role.SUPERVISOR))
    assert console.visible(sue, tile)
    assert not console.visible(sue, msg)  # Bob serves support only


def test_ivr_summary_and_screen_pop() -> None:
    from agent_console.adapters import ivr_summary, screen_pop_message
    from crm_lookup.directory import new_caller_card
    from routing.ivr.interpreter import PathStep

    path = [PathStep("menu", "menu", "2", 1.0, 3.0, "billing"), {"node": "acct", "digits": "42"}]
    ivr = ivr_summary(path, verified=True, waited=12.345)
    assert ivr == {
        "path": [
            {"node": "menu", "kind": "menu", "digits": "2", "result": "billing"},
            {"node": "acct", "kind": "", "digits": "42", "result": ""},
        ],
        "verified": True,
        "waited": 12.3,
    }
    pop = screen_pop_message("1001", {"call_id": "c1", "ivr": ivr}, new_caller_card("+15550001"))
    assert pop["type"] == "screen_pop" and pop["card"]["new_caller"] is True
    assert pop["call"]["ivr"]["verified"] is True

"""The demo shows the product as documented: its simulated agents respect a state someone
forced on them, every queue the shipped IVR scripts send callers to has an agent who can
take them (VIPs included), the banner says where the demo's data is, and its alert
thresholds raise an alert when its queue backs up."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from pathlib import Path
from typing import Any

from config.settings import load_settings
from routing.acd.config import load_queue_file
from routing.alerting import rules_of
from routing.alerts.engine import AlertEngine, ChangeKind
from routing.alerts.rules import QueueSample, Sample
from routing.ivr.nodes import QueueNode, SetNode
from routing.ivr.script import load_script, script_files
from switchboard.demo import SimulatedAgents, demo_banner, demo_settings


class FakeCenter:
    def __init__(self) -> None:
        self.listeners: list[Any] = []
        self.actions: list[tuple[str, str]] = []

    def subscribe(self, listener: Any) -> Any:
        self.listeners.append(listener)
        return lambda: None

    async def set_agent_state(self, agent_id: str, state: str, reason: str = "") -> None:
        self.actions.append((agent_id, state))

    async def wrapup_done(self, agent_id: str) -> None:
        self.actions.append((agent_id, "wrapup_done"))

    def publish(self, agent_id: str, state: str, reason: str = "") -> None:
        message = {
            "type": "agent_state",
            "agent_id": agent_id,
            "agent": {"agent_id": agent_id, "state": state, "reason": reason},
        }
        for listener in self.listeners:
            listener(message)


async def test_simulated_agents_keep_a_forced_not_ready() -> None:
    center = FakeCenter()
    bots = SimulatedAgents(center, ["1003", "1004"], random.Random(1), time_scale=0.001)
    try:
        center.publish("1003", "not_ready", "meeting")  # a supervisor's forced state
        center.publish("1004", "not_ready", "no answer")  # the ACD's, after a missed ring
        center.publish("1001", "not_ready", "no answer")  # a person's: not the bots' business
        await asyncio.sleep(0.1)
        assert center.actions == [("1004", "ready")]
        center.publish("1003", "wrap_up")
        await asyncio.sleep(0.1)
        assert center.actions[-1] == ("1003", "wrapup_done")
    finally:
        bots.stop()


def test_every_queue_of_the_shipped_scripts_has_an_agent_who_can_serve_it() -> None:
    settings = load_settings(environ={})
    queue_file = load_queue_file(settings.path(settings.routing.queues_file))
    queues = {q.name: q for q in queue_file.queues}
    prompts = settings.path(settings.ivr.prompts_dir)
    checked = 0
    for path in script_files(settings.path(settings.ivr.scripts_dir)):
        script = load_script(path, prompts)
        # A skill set anywhere in the script may still be required at its queue nodes.
        set_skills = {
            skill: level
            for node in script.nodes.values()
            if isinstance(node, SetNode)
            for skill, level in node.skills.items()
        }
        for name, node in script.nodes.items():
            if not isinstance(node, QueueNode):
                continue
            for skill, level in {**queues[node.queue].skills, **node.skills}.items():
                servers = [
                    a.agent_id
                    for a in queue_file.agents
                    if node.queue in a.queues and a.skills.get(skill, 0) >= level
                ]
                assert servers, f"{path.name}:{name}: nobody in {node.queue} has {skill}>={level}"
                checked += 1
        for skill in set_skills:
            assert any(skill in a.skills for a in queue_file.agents), f"{path.name}: {skill}"
    assert checked >= 5


def test_banner_tells_where_the_demo_data_is() -> None:
    settings = load_settings(environ={})
    text = demo_banner(settings, Path("/tmp/d/demo.sqlite3"), 5038)
    assert "SWITCHBOARD_DATABASE__PATH=/tmp/d/demo.sqlite3 switchboard report" in text
    assert f"Recordings:  {settings.path(settings.recording.dir)}" in text
    assert "/contacts/<id>" in text


def demo_of(settings: Any) -> Any:
    return demo_settings(
        settings, host="127.0.0.1", port=8080, data_dir=Path("/tmp/d"), ami_port=5038, secret="x"
    )


def test_the_demo_raises_an_alert_when_its_queue_backs_up() -> None:
    """With the shipped settings and queue file, callers waiting in sales with nobody
    ready raise an alert within a minute (the demo run shows it in about half a minute),
    and a long wait another; a settings file's own thresholds win."""
    settings = load_settings(environ={})
    demo = demo_of(settings)
    queue_file = load_queue_file(demo.path(demo.routing.queues_file))
    engine = AlertEngine(rules_of(demo.alerts, queue_file.alerts))
    step = demo.alerts.check_interval
    assert 0 < step <= 5
    raised: dict[str, float] = {}
    for n in range(int(60 / step) + 1):
        waited = n * step
        backed_up = QueueSample("sales", waiting=2, longest_wait=waited, agents_ready=0)
        for change in engine.evaluate(Sample(queues=(backed_up,)), 1000.0 + waited):
            assert change.kind in (ChangeKind.RAISED, ChangeKind.UPDATED)
            raised.setdefault(change.alert.rule.value, waited)
    assert raised["no_agent_ready"] <= 30
    assert raised["longest_wait"] <= 60

    own = dataclasses.replace(settings.alerts, longest_wait_seconds=300)
    kept = demo_of(dataclasses.replace(settings, alerts=own))
    assert kept.alerts == own

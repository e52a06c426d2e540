"""The pure restart-takeover planner: open contacts + saved agents + live channels -> plan.

Channel shapes follow the real capture ``10-takeover-after-client-loss.txt``: a channel
idle in async AGI shows ``Application: AGI``; one whose AGI runs an EXEC shows that
application (``MusicOnHold``, ``Dial``); the agent's leg is ``AppDial`` with the caller's
Linkedid and, once answered, the same ``BridgeId``.
"""

from __future__ import annotations

import dataclasses

from routing.takeover import (
    ChannelView,
    OpenContact,
    Resume,
    SavedAgent,
    plan_takeover,
)

NOW = 1_000_000.0
ENDPOINTS = {"PJSIP/1001": "1001", "PJSIP/1002": "1002", "PJSIP/1003": "1003"}


def caller(n: int, app: str = "AGI", **kw: object) -> ChannelView:
    uid = f"17000.{n}"
    return ChannelView(
        channel=f"PJSIP/trunk-{n:08x}",
        uniqueid=uid,
        linkedid=uid,
        context=str(kw.pop("context", "switchboard-inbound")),
        exten="5550100",
        application=app,
        caller_num=f"+1555000{n:04d}",
        **kw,  # type: ignore[arg-type]
    )


def leg(n: int, agent: str, bridge: str = "", context: str = "switchboard-agents") -> ChannelView:
    return ChannelView(
        channel=f"PJSIP/{agent}-{n + 100:08x}",
        uniqueid=f"17000.{n + 100}",
        linkedid=f"17000.{n}",
        context=context,
        application="AppDial",
        bridge_id=bridge,
    )


def opened(n: int, **kw: object) -> OpenContact:
    return OpenContact(key=f"17000.{n}", arrived_at=NOW - 60 + n, last_at=NOW - 30, **kw)  # type: ignore[arg-type]


def plan(channels: list[ChannelView], contacts: list[OpenContact], **kw: object):  # type: ignore[no-untyped-def]
    return plan_takeover(channels, contacts, endpoints=ENDPOINTS, now=NOW, **kw)  # type: ignore[arg-type]


def test_a_contact_whose_channel_is_gone_is_closed_at_its_last_milestone() -> None:
    result = plan([], [opened(1, queue="sales", queued_at=NOW - 50)])
    assert [(c.key, c.at, c.outcome) for c in result.close] == [
        ("17000.1", NOW - 30, "lost_during_outage")
    ]
    assert result.adopt == ()


def test_each_phase_is_read_from_the_channels() -> None:
    channels = [
        caller(1, "Dial", bridge_id="b1"),
        leg(1, "1001", bridge="b1"),  # talking
        caller(2, "Dial"),
        leg(2, "1002"),  # ringing
        caller(3, "MusicOnHold"),  # waiting (EXEC under the dead connection's AGI)
        caller(4, "AGI"),  # in the IVR, no queue yet
        caller(5, "MusicOnHold", context="switchboard-hold"),
        leg(5, "1003", context="switchboard-agent-hold"),  # held
    ]
    contacts = [
        opened(1, queue="sales", queued_at=NOW - 55, agent_id="1001", answered_at=NOW - 40),
        opened(2, queue="sales", queued_at=NOW - 54),
        opened(3, queue="sales", queued_at=NOW - 53),
        opened(4),
        opened(5, queue="support", queued_at=NOW - 52, answered_at=NOW - 45),
    ]
    result = plan(channels, contacts)
    got = {a.call_id: (a.resume, a.agent_id, a.agent_channel) for a in result.adopt}
    assert got == {
        "17000.1": (Resume.TALKING, "1001", "PJSIP/1001-00000065"),
        "17000.2": (Resume.RINGING, "1002", "PJSIP/1002-00000066"),
        "17000.3": (Resume.WAITING, None, None),
        "17000.4": (Resume.IVR, None, None),
        "17000.5": (Resume.HELD, "1003", "PJSIP/1003-00000069"),
    }
    talking = next(a for a in result.adopt if a.call_id == "17000.1")
    assert talking.answered_at == NOW - 40  # talk time counts from the real answer
    assert result.close == ()


def test_waiting_callers_come_in_their_original_order_after_agents_calls() -> None:
    channels = [caller(n, "MusicOnHold") for n in (1, 2, 3)] + [
        caller(4, "Dial", bridge_id="b"),
        leg(4, "1001", bridge="b"),
    ]
    contacts = [
        opened(1, queue="sales", queued_at=NOW - 10),
        opened(2, queue="sales", queued_at=NOW - 30),
        opened(3, queue="sales", queued_at=NOW - 20),
        opened(4, queue="sales", queued_at=NOW - 5, answered_at=NOW - 2),
    ]
    order = [a.call_id for a in plan(channels, contacts).adopt]
    assert order == ["17000.4", "17000.2", "17000.3", "17000.1"]


def test_a_caller_that_arrived_while_nobody_listened_is_adopted_with_its_real_age() -> None:
    new = ChannelView(
        channel="PJSIP/trunk-0000001f",
        uniqueid="1796155715.31",
        linkedid="1796155715.31",
        context="switchboard-inbound",
        exten="5550100",
        application="AGI",
        seconds=3,
        variables={"SWITCHBOARD_DID": "5550100"},
    )
    result = plan([new], [])
    (adopt,) = result.adopt
    assert (adopt.resume, adopt.contact, adopt.arrived_at, adopt.dialed) == (
        Resume.IVR,
        None,
        NOW - 3,
        "5550100",
    )


def test_agent_legs_unknown_channels_and_known_calls_are_left_alone() -> None:
    stray = ChannelView("Local/x@y-0001;1", "9.1", "9.1", application="Wait")  # not in AGI
    talking = [caller(1, "Dial", bridge_id="b"), leg(1, "1001", bridge="b")]
    result = plan([stray, *talking], [opened(1, queue="sales")], known={"17000.1"})
    assert result.adopt == () and result.close == ()


def test_agents_come_back_as_saved_and_agents_of_lost_calls_recover() -> None:
    saved = [
        SavedAgent("1001", "ready", since=NOW - 100),
        SavedAgent("1002", "not_ready", "lunch", since=NOW - 200),
        SavedAgent("1003", "wrap_up", since=NOW - 5, wrap_up_until=NOW + 25, wrap_queue="sales"),
        SavedAgent("1004", "on_call", since=NOW - 50, wrap_queue="support"),  # call gone
        SavedAgent("1005", "ringing", since=NOW - 3, wrap_queue="sales"),  # call gone
        SavedAgent("1006", "on_call", since=NOW - 9, wrap_queue="sales"),  # call adopted
    ]
    endpoints = {**ENDPOINTS, "PJSIP/1006": "1006"}
    channels = [caller(1, "Dial", bridge_id="b"), leg(1, "1006", bridge="b")]
    result = plan_takeover(
        channels,
        [opened(1, queue="sales", answered_at=NOW - 9)],
        endpoints=endpoints,
        saved_agents=saved,
        wrap_up_seconds={"support": 30.0, "sales": 20.0},
        now=NOW,
    )
    got = {r.agent_id: (r.state, r.reason, r.since, r.wrap_up_until) for r in result.restore}
    assert got == {
        "1001": ("ready", "", NOW - 100, None),
        "1002": ("not_ready", "lunch", NOW - 200, None),
        "1003": ("wrap_up", "", NOW - 5, NOW + 25),
        "1004": ("wrap_up", "", NOW, NOW + 30),
        "1005": ("ready", "", NOW, None),
    }
    assert [(a.call_id, a.agent_id) for a in result.adopt] == [("17000.1", "1006")]


def test_an_outbound_call_is_adopted_only_while_the_agent_talks_to_the_customer() -> None:
    agent_leg = ChannelView(
        "PJSIP/1001-0000001a",
        "5.26",
        "5.26",
        context="switchboard-outbound",
        application="Dial",
        bridge_id="f29",
        variables={"SWITCHBOARD_CALL": "out-1001-1"},
    )
    customer = ChannelView("PJSIP/trunk-0000001b", "5.27", "5.26", bridge_id="f29")
    out = OpenContact("out-1001-1", direction="outbound", agent_id="1001", arrived_at=NOW - 9)
    result = plan([agent_leg, customer], [out])
    (adopt,) = result.adopt
    assert (adopt.resume, adopt.channel.channel, adopt.agent_channel) == (
        Resume.TALKING,
        "PJSIP/trunk-0000001b",
        "PJSIP/1001-0000001a",
    )
    assert plan([], [out]).close[0].key == "out-1001-1"


def test_a_trunk_leg_named_by_the_shell_is_the_agents_leg() -> None:
    # A caller rung to agent 2001 of another PBX: this PBX sees only its trunk channel.
    trunk_leg = leg(1, "pbx-east", bridge="b1")
    channels = [caller(1, "Dial", bridge_id="b1"), trunk_leg]
    contacts = [opened(1, queue="sales", queued_at=NOW - 50, agent_id="2001")]
    without = plan(channels, contacts)
    assert [(a.resume, a.agent_id) for a in without.adopt] == [(Resume.WAITING, None)]
    named = plan(channels, contacts, agent_legs={trunk_leg.channel: "2001"})
    assert [(a.resume, a.agent_id, a.agent_channel) for a in named.adopt] == [
        (Resume.TALKING, "2001", trunk_leg.channel)
    ]


def test_a_paused_agent_whose_phone_is_offline_keeps_the_pause_and_its_reason() -> None:
    """Agents unplug their soft phone at lunch: the takeover must not turn "lunch" into
    "phone offline" (and restart its clock); only an agent who would be offered calls
    (ready) is held back as not ready, "phone offline"."""
    saved = [
        SavedAgent("1001", "not_ready", "lunch", NOW - 600),
        SavedAgent("1002", "ready", "", NOW - 300),
        SavedAgent("1003", "not_ready", "", NOW - 120),
    ]
    result = plan([], [], saved_agents=saved, offline={"1001", "1002", "1003"})
    assert [(r.agent_id, r.state, r.reason, r.since) for r in result.restore] == [
        ("1001", "not_ready", "lunch", NOW - 600),
        ("1002", "not_ready", "phone offline", NOW),
        ("1003", "not_ready", "", NOW - 120),
    ]


def test_an_outbound_calls_recording_is_read_from_the_agents_leg() -> None:
    # switchboard-outbound's MixMonitor runs on the agent's leg, whose Originate set the file
    agent_leg = ChannelView(
        "PJSIP/1001-0000001a",
        "5.26",
        "5.26",
        context="switchboard-outbound",
        application="Dial",
        bridge_id="f29",
        variables={"SWITCHBOARD_CALL": "out-1001-1", "SWITCHBOARD_RECORD": "/rec/out-1.wav"},
    )
    customer = ChannelView("PJSIP/trunk-0000001b", "5.27", "5.26", bridge_id="f29")
    out = OpenContact("out-1001-1", direction="outbound", agent_id="1001", arrived_at=NOW - 9)
    (adopt,) = plan([agent_leg, customer], [out]).adopt
    assert adopt.agent_record == "/rec/out-1.wav"
    unrecorded = dataclasses.replace(agent_leg, variables={"SWITCHBOARD_CALL": "out-1001-1"})
    (adopt,) = plan([unrecorded, customer], [out]).adopt
    assert adopt.agent_record == ""

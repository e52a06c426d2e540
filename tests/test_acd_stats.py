"""ACD statistics checked against figures worked out by hand, and the snapshot format."""

from __future__ import annotations

import json

import pytest

from config.errors import InvalidInput
from config.settings import RoutingSettings
from routing.acd import Acd, AcdSettings, AgentConfig, AgentState, QueueConfig
from routing.acd import commands as cmd
from routing.acd import events as ev


def _day() -> tuple[Acd, list[cmd.Command]]:
    """One agent, four callers; every figure below is worked out from this timeline.

    t=0   a1 ready; c1 queued -> rings a1; t=4 answered (waited 4: within the 20 s SL)
    t=10  c2 queued (a1 busy); t=12 c2 hangs up (waited 2: a short abandon, < 5 s)
    t=20  c3 queued; t=30 c4 queued
    t=64  c1 ends (talk 60) -> wrap-up 10 s
    t=74  wrap-up timer -> a1 ready -> rings c3 (the longest waiting); t=80 answered (waited 60)
    t=90  c4 hangs up (waited 60: abandoned)
    t=140 c3 ends (talk 60); t=145 a1 ends wrap-up early (wrap 5)
    """
    q = QueueConfig("q", service_level=20, wrap_up=10, default_handle_time=100)
    acd = Acd(
        [q],
        [AgentConfig("a1", "Ann", "PJSIP/1001", {}, ("q",))],
        AcdSettings(short_abandon_seconds=5),
    )
    out: list[cmd.Command] = []
    out += acd.handle(ev.AgentStateRequest("a1", AgentState.READY), 0)
    out += acd.handle(ev.CallQueued("c1", "q"), 0)
    out += acd.handle(ev.AgentAnswered("c1", "a1"), 4)
    out += acd.handle(ev.CallQueued("c2", "q"), 10)
    out += acd.handle(ev.CallAbandoned("c2"), 12)
    out += acd.handle(ev.CallQueued("c3", "q"), 20)
    out += acd.handle(ev.CallQueued("c4", "q"), 30)
    out += acd.handle(ev.CallEnded("c1"), 64)
    out += acd.tick(74)
    assert ("c3", "a1") in [(c.call_id, c.agent_id) for c in out if isinstance(c, cmd.RingAgent)]
    out += acd.handle(ev.AgentAnswered("c3", "a1"), 80)
    out += acd.handle(ev.CallAbandoned("c4"), 90)
    out += acd.handle(ev.CallEnded("c3"), 140)
    out += acd.handle(ev.WrapUpDone("a1"), 145)
    return acd, out


def test_queue_figures_match_the_hand_computed_day() -> None:
    acd, _ = _day()
    stats = acd.queue_stats("q")
    assert stats["offered"] == 4
    assert stats["answered"] == 2
    assert stats["answered_within_sl"] == 1
    assert stats["abandoned"] == 2
    assert stats["short_abandoned"] == 1
    assert stats["service_level"] == pytest.approx(1 / 3, abs=1e-4)  # 1 / (4 - 1)
    assert stats["asa"] == 32.0  # (4 + 60) / 2
    assert stats["aht"] == 67.5  # ((60 + 10) + (60 + 5)) / 2
    assert stats["waiting"] == 0
    assert stats["longest_wait_since"] is None
    assert stats["agents"]["ready"] == 1
    # estimate accuracy: c1 predicted 0 s (an agent was ready), waited 4;
    # c3 predicted 100 / (1 busy + 1) = 50 s, waited 60
    assert stats["estimate_accuracy"] == {"samples": 2, "mean_abs_error": 7.0, "bias": -7.0}


def test_agent_figures_match_the_hand_computed_day() -> None:
    acd, out = _day()
    agent = acd.snapshot(150)["agents"]["a1"]
    assert agent["calls"] == 2
    assert agent["talk_seconds"] == 120.0
    # ringing 0-4 and 74-80, on call 4-64 and 80-140, wrap 64-74 and 140-145, ready since 145
    assert agent["state_seconds"] == {
        "ready": 5.0,
        "ringing": 10.0,
        "on_call": 120.0,
        "wrap_up": 15.0,
    }
    last = [c for c in out if isinstance(c, cmd.AgentStateChanged)][-1]
    assert (last.state, last.since, last.calls, last.talk_seconds) == (
        AgentState.READY,
        145,
        2,
        120.0,
    )


def test_longest_wait_and_live_estimate_in_the_snapshot() -> None:
    q = QueueConfig("q", default_handle_time=60)
    acd = Acd([q], [AgentConfig("a1", "Ann", "PJSIP/1001", {}, ("q",))])
    acd.handle(ev.CallQueued("c1", "q"), 100)
    acd.handle(ev.CallQueued("c2", "q", priority=1), 110)
    snap = acd.snapshot(130)
    view = snap["queues"]["q"]
    assert view["stats"]["longest_wait_since"] == 100
    assert view["stats"]["longest_wait"] == 30.0
    assert [w["call_id"] for w in view["waiting"]] == ["c2", "c1"]
    assert [w["position"] for w in view["waiting"]] == [1, 2]
    assert [w["estimate"] for w in view["waiting"]] == [60.0, 120.0]


def test_stats_are_published_only_when_they_change() -> None:
    acd = Acd(
        [QueueConfig("a"), QueueConfig("b")],
        [AgentConfig("x", "X", "PJSIP/1", {}, ("a",))],
    )
    first = acd.tick(0)
    assert sorted(c.queue for c in first if isinstance(c, cmd.QueueStatsChanged)) == ["a", "b"]
    assert acd.tick(1) == []
    out = acd.handle(ev.AgentStateRequest("x", AgentState.READY), 2)
    published = [c for c in out if isinstance(c, cmd.QueueStatsChanged)]
    assert [c.queue for c in published] == ["a"]
    assert published[0].stats["agents"]["ready"] == 1
    out = acd.handle(ev.CallQueued("c", "b"), 3)
    assert [c.queue for c in out if isinstance(c, cmd.QueueStatsChanged)] == ["b"]


def test_today_counters_restart_at_midnight() -> None:
    acd, _ = _day()
    assert acd.queue_stats("q")["offered"] == 4
    out = acd.tick(86400 + 10)
    stats = next(c for c in out if isinstance(c, cmd.QueueStatsChanged)).stats
    assert (stats["offered"], stats["answered"], stats["service_level"]) == (0, 0, None)
    agent = acd.snapshot(86400 + 20)["agents"]["a1"]
    assert agent["calls"] == 0
    assert agent["state_seconds"] == {"ready": 20.0}  # counted from midnight


def test_snapshot_is_json_serialisable_with_every_kind_of_call() -> None:
    q = QueueConfig("q", skills={"sales": 2})
    agents = [
        AgentConfig("a1", "Ann", "PJSIP/1001", {"sales": 3}, ("q",)),
        AgentConfig("a2", "Bo", "PJSIP/1002", {"sales": 3}, ("q",)),
    ]
    acd = Acd([q], agents)
    acd.handle(ev.AgentStateRequest("a1", AgentState.READY), 0)
    acd.handle(ev.CallQueued("ringing", "q", tier="vip", customer_id="cust-1"), 1)
    acd.handle(ev.CallQueued("waiting", "q"), 2)
    acd.handle(ev.CallQueued("cb", "q", callback_number="+15550001111"), 3)
    acd.handle(ev.AgentStateRequest("a2", AgentState.NOT_READY, "lunch"), 4)
    snap = acd.snapshot(10)
    again = json.loads(json.dumps(snap))
    assert again == snap
    assert again["calls"]["ringing"]["state"] == "offered"
    assert again["agents"]["a2"]["reason"] == "lunch"
    assert [w["callback"] for w in again["queues"]["q"]["waiting"]] == [False, True]
    assert again["queues"]["q"]["stats"]["callbacks_waiting"] == 1


def _published(out: list[cmd.Command]) -> dict[str, dict[str, object]]:
    return {c.queue: dict(c.stats) for c in out if isinstance(c, cmd.QueueStatsChanged)}


def _coalescing(interval: float) -> Acd:
    return Acd(
        [QueueConfig("a"), QueueConfig("b")],
        [AgentConfig(f"x{i}", "X", f"PJSIP/{i}", {}, ("a", "b")) for i in range(3)],
        AcdSettings(stats_interval=interval),
    )


def test_coalesced_stats_come_at_most_once_per_interval_and_converge() -> None:
    acd = _coalescing(1.0)
    # a quiet engine publishes at once, one queue per event: the next event has the next
    out = acd.handle(ev.AgentStateRequest("x0", AgentState.READY), 10.0)
    assert _published(out) == {"a": acd.queue_stats("a")}
    out = acd.handle(ev.AgentStateRequest("x2", AgentState.NOT_READY, "break"), 10.0)
    assert _published(out) == {"b": acd.queue_stats("b")}
    # the burst within the interval publishes nothing, and says when it will
    for i, now in enumerate((10.2, 10.4, 10.6)):
        out = acd.handle(ev.CallQueued(f"c{i}", "a"), now)
        assert _published(out) == {}
    assert acd.next_timer() == 11.0
    assert acd.queue_stats("a")["waiting"] == 2  # c0 rings x0, c1 and c2 wait
    # the first events after the interval carry the latest figures of the dirty queues
    out = acd.handle(ev.AgentStateRequest("x1", AgentState.READY), 11.0)
    assert _published(out) == {"a": acd.queue_stats("a")}
    assert acd.queue_stats("a")["offered"] == 3
    assert acd.next_timer() == 11.0  # "b" is due too: tick at once
    out = acd.handle(ev.CallQueued("c3", "b"), 11.01)
    assert _published(out) == {"b": acd.queue_stats("b")}
    next_timer = acd.next_timer()
    assert next_timer is not None and next_timer > 12.0  # the ring timers, nothing sooner


def test_a_tick_flushes_every_queue_due() -> None:
    acd = _coalescing(0.25)
    acd.handle(ev.AgentStateRequest("x0", AgentState.READY), 5.0)  # publishes "a"
    out = acd.handle(ev.CallQueued("c1", "b"), 5.1)  # "b" due: published; "a" held
    assert _published(out) == {"b": acd.queue_stats("b")}
    out = acd.handle(ev.AgentStateRequest("x1", AgentState.READY), 5.2)  # both held
    assert _published(out) == {}
    assert acd.tick(5.2) == []  # still within the interval of both
    assert acd.next_timer() == 5.25
    out = acd.tick(5.35)
    assert _published(out) == {"a": acd.queue_stats("a"), "b": acd.queue_stats("b")}
    assert _published(out)["b"]["agents"]["ready"] == 1  # x0 rings c1, x1 is ready
    # once flushed nothing is pending: no timer for statistics, no repeat
    next_timer = acd.next_timer()
    assert next_timer is not None and next_timer > 6.0  # c1's ring timeout, nothing sooner
    assert _published(acd.tick(6.0)) == {}


def test_stats_interval_zero_publishes_after_every_event() -> None:
    acd = _coalescing(0.0)
    acd.handle(ev.AgentStateRequest("x0", AgentState.READY), 1.0)
    for i in range(3):
        out = acd.handle(ev.CallQueued(f"c{i}", "a"), 1.0 + i * 0.01)
        assert _published(out)["a"] == acd.queue_stats("a")


def test_a_clock_set_back_does_not_hold_the_stats() -> None:
    acd = _coalescing(60.0)
    acd.handle(ev.AgentStateRequest("x0", AgentState.READY), 1000.0)
    out = acd.handle(ev.CallQueued("c1", "a"), 500.0)  # the wall clock stepped back
    assert _published(out)["a"] == acd.queue_stats("a")


def test_stats_interval_is_read_from_routing_settings_and_checked() -> None:
    assert AcdSettings.from_routing(RoutingSettings(stats_interval=0.5)).stats_interval == 0.5
    assert RoutingSettings().stats_interval == 0.25
    with pytest.raises(InvalidInput):
        AcdSettings(stats_interval=-1)

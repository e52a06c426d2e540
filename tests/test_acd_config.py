"""The queue file loader: the shipped demo file loads, mistakes name the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from config.errors import InvalidInput
from config.settings import RoutingSettings
from routing.acd import Acd, AcdSettings, MaxWaitAction, Strategy
from routing.acd.config import load_queue_file, parse_queue_file

ROOT = Path(__file__).resolve().parent.parent


def test_demo_queue_file_loads_and_builds_an_engine() -> None:
    loaded = load_queue_file(ROOT / "config" / "queues.yaml")
    names = [q.name for q in loaded.queues]
    assert names == ["sales", "support", "billing", "vip"]
    sales = loaded.queues[0]
    assert sales.strategy is Strategy.LONGEST_IDLE
    assert sales.max_wait_action is MaxWaitAction.OVERFLOW
    assert dict(sales.skills) == {"sales": 2}
    assert dict(sales.tier_priority)["vip"] == 3
    assert loaded.agents[0].endpoint == "PJSIP/1001"
    Acd(loaded.queues, loaded.agents)


GOOD = {
    "queues": {"q": {"ring_timeout": 10}},
    "agents": [{"id": 1001, "name": "Ann", "endpoint": "PJSIP/1001", "queues": ["q"]}],
}


def test_integer_agent_ids_become_text() -> None:
    loaded = parse_queue_file(GOOD, "f.yaml")
    assert loaded.agents[0].agent_id == "1001"


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"queues": {"q": {"ring_timeout": "soon"}}}, "queues.q.ring_timeout"),
        ({"queues": {"q": {"ring_timout": 10}}}, "queues.q.ring_timout"),
        ({"queues": {"q": {"strategy": "fastest"}}}, "queues.q.strategy"),
        ({"queues": {"q": {"skills": {"sales": 7}}}}, "queues.q.skills"),
        ({"queues": {"q": {"max_wait_action": "overflow"}}}, "queues.q.max_wait_target"),
        (
            {"queues": {"q": {"max_wait_action": "overflow", "max_wait_target": "x"}}},
            "queues.q.max_wait_target",
        ),
        ({"queues": {"q": {"widening": {"every": -1}}}}, "queues.q.widening"),
        ({"queues": {"q": {"widening": {"evry": 1}}}}, "queues.q.widening.evry"),
        ({"queues": {}}, "queues"),
        ({"queue": {}}, "queue"),
        ({"queues": {"q": {}}, "agents": [{"id": "a", "name": "A"}]}, "agents[0].endpoint"),
        (
            {"queues": {"q": {}}, "agents": [{"id": "a", "name": "A", "endpoint": "1001"}]},
            "agents[0].endpoint",
        ),
        (
            {
                "queues": {"q": {}},
                "agents": [{"id": "a", "name": "A", "endpoint": "PJSIP/1", "queues": ["r"]}],
            },
            "agents[0].queues",
        ),
        (
            {
                "queues": {"q": {}},
                "agents": [
                    {"id": "a", "name": "A", "endpoint": "PJSIP/1"},
                    {"id": "a", "name": "B", "endpoint": "PJSIP/2"},
                ],
            },
            "agents[1].id",
        ),
        (
            {
                "queues": {"q": {}},
                "agents": [{"id": "a", "name": "A", "endpoint": "PJSIP/1", "skills": {"s": 0}}],
            },
            "agents[0].skills",
        ),
        ({"queues": {"q": {}}, "agents": {"a": 1}}, "agents"),
        ([1, 2], "-"),
    ],
)
def test_mistakes_name_the_file_and_the_key(data: object, key: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_queue_file(data, "queues.yaml")
    assert info.value.field == key
    assert str(info.value).startswith(f"queues.yaml: {key}: ")


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="file not found"):
        load_queue_file(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("queues: [unclosed\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="not valid YAML"):
        load_queue_file(bad)
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(GOOD), encoding="utf-8")
    assert load_queue_file(good).queues[0].ring_timeout == 10


def test_engine_settings_come_from_the_routing_section() -> None:
    routing = RoutingSettings(
        not_ready_reasons=["break", "coaching"], sticky_offer_seconds=7, short_abandon_seconds=3
    )
    settings = AcdSettings.from_routing(routing, seed=4)
    assert settings.not_ready_reasons == (
        "break",
        "coaching",
        "no answer",
        "outbound",
        "transfer",
        "phone offline",
    )
    assert (settings.sticky_offer_seconds, settings.short_abandon_seconds) == (7, 3)
    assert settings.seed == 4
    with pytest.raises(InvalidInput):
        AcdSettings(sticky_offer_seconds=-1)


def test_supervisors_are_configured_per_queue() -> None:
    data = {
        "queues": {"q": {"supervisors": ["sam", "lena"]}, "r": {}, "s": {"supervisors": []}},
    }
    loaded = parse_queue_file(data, "f.yaml")
    # r and s name nobody: every supervisor supervises them
    assert loaded.supervisors == {"q": frozenset({"sam", "lena"})}
    assert [q.name for q in loaded.queues] == ["q", "r", "s"]
    shipped = load_queue_file(ROOT / "config" / "queues.yaml")
    assert shipped.supervisors == {"vip": frozenset({"sam"})}


@pytest.mark.parametrize("value", ["sam", ["sam", 3], ["no spaces"], {"sam": 1}])
def test_supervisors_must_be_a_list_of_usernames(value: object) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_queue_file({"queues": {"q": {"supervisors": value}}}, "f.yaml")
    assert info.value.field == "queues.q.supervisors"
    assert str(info.value).startswith("f.yaml: queues.q.supervisors: ")


def test_thresholds_are_configured_per_queue() -> None:
    data = {
        "queues": {
            "q": {
                "thresholds": {
                    "service_level": {"warn": 0.8, "bad": 0.6},
                    "longest_wait": {"warn": 60, "bad": 120},
                    "waiting": {"bad": 10},
                }
            },
            "r": {},
        }
    }
    loaded = parse_queue_file(data, "f.yaml")
    assert loaded.thresholds == {
        "q": {
            "service_level": {"warn": 0.8, "bad": 0.6},
            "longest_wait": {"warn": 60.0, "bad": 120.0},
            "waiting": {"bad": 10.0},
        }
    }
    # not an ACD setting: the queue itself is built as without it
    assert loaded.queues[0] == parse_queue_file({"queues": {"q": {}}}).queues[0]
    shipped = load_queue_file(ROOT / "config" / "queues.yaml")
    assert shipped.thresholds["sales"]["waiting"] == {"warn": 5.0, "bad": 10.0}


@pytest.mark.parametrize(
    ("value", "key", "says"),
    [
        ("high", "queues.q.thresholds", "expected a mapping"),
        ({"queue_length": {"warn": 1}}, "queues.q.thresholds.queue_length", "unknown metric"),
        ({"waiting": {}}, "queues.q.thresholds.waiting", "warn and/or bad"),
        ({"waiting": {"red": 3}}, "queues.q.thresholds.waiting.red", "unknown key"),
        ({"waiting": {"warn": "5"}}, "queues.q.thresholds.waiting.warn", "a number"),
        ({"waiting": {"warn": True}}, "queues.q.thresholds.waiting.warn", "a number"),
        ({"longest_wait": {"bad": -1}}, "queues.q.thresholds.longest_wait.bad", ">= 0"),
        ({"service_level": {"warn": 80}}, "queues.q.thresholds.service_level.warn", "0 to 1"),
        ({"waiting": {"warn": 10, "bad": 5}}, "queues.q.thresholds.waiting.bad", "at least"),
        (
            {"service_level": {"warn": 0.6, "bad": 0.8}},
            "queues.q.thresholds.service_level.bad",
            "at most warn (0.6)",
        ),
    ],
)
def test_bad_thresholds_name_the_key(value: object, key: str, says: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_queue_file({"queues": {"q": {"thresholds": value}}}, "f.yaml")
    assert info.value.field == key
    assert str(info.value).startswith(f"f.yaml: {key}: ")
    assert says in str(info.value)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("queues:\n  q: " + "[" * 5000 + "]" * 5000 + "\n", ":2: nested more than 50 levels deep"),
        (
            'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
            + "".join(
                f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n"
                for p, n in zip("abcdefgh", "bcdefghi", strict=True)
            )
            + "queues: {q: {skills: *i}}\n",
            ":6: more than 300000 values once aliases are expanded",
        ),
        ("queues: &q {q: {skills: *q}}\n", ":1: alias *q refers to the value it is part of"),
        ("#" * (1024 * 1024 + 1), ":1: file is larger than 1048576 bytes"),
    ],
)
def test_hostile_queue_files_are_refused_with_the_line(
    tmp_path: Path, text: str, error: str
) -> None:
    path = tmp_path / "queues.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInput) as info:
        load_queue_file(path)
    assert str(info.value) == f"{path}{error}"

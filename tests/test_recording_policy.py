"""Which calls are recorded (pure): the queue file's ``record`` keys, the IVR's ``record``
variable, the effective rule, file names, and the call JSON's ``recording``."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.errors import InvalidInput
from routing.acd.config import load_queue_file, parse_queue_file
from routing.ivr.script import check_files, load_script
from routing.live import LiveCall, Phase
from routing.recording import RecordingPolicy, file_name, flag, pbx_path
from tests.test_ivr_script import prompts  # noqa: F401 - the fixture

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        ("yes", True),
        ("NO", False),
        (" true ", True),
        ("False", False),
        ("1", True),
        ("0", False),
    ],
)
def test_flag_reads_the_documented_words(value: object, expected: bool) -> None:
    assert flag(value) is expected


@pytest.mark.parametrize("value", ["maybe", "", 2, -1, 1.0, None, [], "y", "on"])
def test_flag_refuses_anything_else_naming_the_field(value: object) -> None:
    with pytest.raises(InvalidInput) as info:
        flag(value, "queues.sales.record")
    assert info.value.field == "queues.sales.record"
    assert "expected true or false" in str(info.value)


def test_effective_rule_ivr_then_agent_then_queue() -> None:
    policy = RecordingPolicy({"sales": True, "billing": False}, {"1002": False, "1004": True})
    assert policy.records("sales", "1001") is True  # the queue's
    assert policy.records("sales", "1002") is False  # the agent's wins over the queue's
    assert policy.records("billing", "1004") is True
    assert policy.records("support", "1001") is False  # a queue without the key: no
    assert policy.records(None, "1001") is False
    # the caller's own choice in the IVR wins over both
    assert policy.records("sales", "1001", ivr=False) is False
    assert policy.records("billing", "1002", ivr=True) is True
    assert RecordingPolicy().records("sales", "1001") is False


def test_file_names_are_safe_and_name_call_agent_and_time() -> None:
    assert (
        file_name("1796155638.22", "1001", 1796155640.1234)
        == "1796155638.22-1001-1796155640123.wav"
    )
    # global ids of other PBXs hold ':'; nothing may climb out of the directory
    name = file_name("east:1796.3", "a/../b", 1.0)
    assert name == "east_1796.3-a_.._b-1000.wav"
    assert "/" not in name and ":" not in name
    assert pbx_path("/var/spool/asterisk/monitor/", name) == f"/var/spool/asterisk/monitor/{name}"


QUEUES = {
    "queues": {"sales": {"record": True}, "support": {"record": "no"}, "billing": {}},
    "agents": [
        {"id": "1001", "name": "A", "endpoint": "PJSIP/1001", "queues": ["sales"]},
        {"id": 1002, "name": "B", "endpoint": "PJSIP/1002", "queues": ["sales"], "record": False},
        {"id": "1003", "name": "C", "endpoint": "PJSIP/1003", "record": "yes"},
    ],
}


def test_queue_file_record_keys_go_to_the_policy_not_the_acd() -> None:
    loaded = parse_queue_file(QUEUES, "q.yaml")
    assert dict(loaded.recording.queues) == {"sales": True, "support": False}
    assert dict(loaded.recording.agents) == {"1002": False, "1003": True}
    assert [q.name for q in loaded.queues] == ["sales", "support", "billing"]
    assert not hasattr(loaded.queues[0], "record")


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"queues": {"q": {"record": "sometimes"}}}, "queues.q.record"),
        ({"queues": {"q": {"record": 5}}}, "queues.q.record"),
        (
            {
                "queues": {"q": {}},
                "agents": [{"id": "a", "name": "A", "endpoint": "PJSIP/1", "record": "x"}],
            },
            "agents[0].record",
        ),
    ],
)
def test_bad_record_values_name_the_file_and_key(data: object, key: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_queue_file(data, "q.yaml")
    assert info.value.field == key
    assert str(info.value).startswith(f"q.yaml: {key}: expected true or false")


def test_the_shipped_queue_file_records_the_demo_queues() -> None:
    loaded = load_queue_file(ROOT / "config" / "queues.yaml")
    assert loaded.recording.records("sales", "1001") is True
    assert loaded.recording.records("support", "1003") is True
    assert loaded.recording.records("billing", "1004") is False


IVR = """\
start: ask
nodes:
  ask: {{kind: set, variables: {{record: {value}}}, next: q}}
  q: {{kind: queue, queue: sales}}
"""


@pytest.mark.parametrize("value", ["true", "no", "'1'", "0", "yes"])
def test_ivr_set_record_accepts_flags(tmp_path: Path, prompts: Path, value: str) -> None:  # noqa: F811
    path = tmp_path / "s.yaml"
    path.write_text(IVR.format(value=value))
    assert check_files([path], prompts) == []
    load_script(path, prompts)


def test_ivr_set_record_refuses_a_typo_with_its_line(tmp_path: Path, prompts: Path) -> None:  # noqa: F811
    path = tmp_path / "s.yaml"
    path.write_text(IVR.format(value="perhaps"))
    problems = [str(p) for p in check_files([path], prompts)]
    assert problems == [f"{path}:3: variable 'record' must be true or false (yes/no, 1/0)"]


def test_call_json_says_recording_only_while_connected() -> None:
    call = LiveCall("c", "PJSIP/x-1", "1.1", "+1555", "5550100", 0.0, phase=Phase.RINGING)
    call.recording_file = "c-1001-1.wav"
    assert call.to_json(1.0)["recording"] == {"on": False, "paused": False}
    call.phase = Phase.TALKING
    assert call.to_json(1.0)["recording"] == {"on": True, "paused": False}
    call.recording_paused = True
    call.phase = Phase.HELD
    assert call.to_json(1.0)["recording"] == {"on": True, "paused": True}
    call.phase = Phase.ENDED
    assert call.to_json(1.0)["recording"] == {"on": False, "paused": False}
    unrecorded = LiveCall("d", "PJSIP/x-2", "1.2", "+1555", "5550100", 0.0, phase=Phase.TALKING)
    assert unrecorded.to_json(1.0)["recording"] == {"on": False, "paused": False}

"""The canned-responses file: its checks (every refusal names the file, the response and
what is wrong), the placeholders, and the shipped config/canned_responses.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from config.errors import InvalidInput
from routing.canned_responses import fill, load_responses, parse_responses, placeholders_in

ROOT = Path(__file__).resolve().parent.parent


def test_the_shipped_file_loads() -> None:
    responses = load_responses(ROOT / "config" / "canned_responses.yaml")
    ids = [r.id for r in responses]
    assert "greeting" in ids and "email-signoff" in ids
    signoff = next(r for r in responses if r.id == "email-signoff")
    assert signoff.channels == ("email",)
    assert signoff.to_json()["placeholders"] == ["agent.name", "queue"]


def test_fill_replaces_placeholders_and_keeps_escaped_braces() -> None:
    text = "Hi {customer.first_name} ({customer.name}), {agent.name} of {queue}: {{ok}}"
    assert placeholders_in(text) == {"customer.first_name", "customer.name", "agent.name", "queue"}
    values = {"customer.name": "Ada Lovelace", "customer.first_name": "Ada", "agent.name": "Al"}
    assert fill(text, {**values, "queue": "sales"}) == "Hi Ada (Ada Lovelace), Al of sales: {ok}"
    # an unnamed customer: a neutral word, never the raw token
    assert fill("Hello {customer.first_name}!", {}) == "Hello there!"


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"responses": [{"id": "a", "title": "A", "text": "Hi {custmer.name}"}]}, "custmer.name"),
        ({"responses": [{"id": "a", "title": "A", "text": "a { brace"}]}, "lone"),
        ({"responses": [{"id": "a", "title": "A", "text": "}"}]}, "lone"),
        ({"responses": [{"id": "a", "title": "A"}]}, "text is required"),
        ({"responses": [{"id": "a b", "title": "A", "text": "x"}]}, "id must be"),
        ({"responses": [{"id": "a", "title": "A\nB", "text": "x"}]}, "control"),
        ({"responses": [{"id": "a", "title": "A", "text": "x", "colour": 1}]}, "colour"),
        ({"responses": [{"id": "a", "title": "A", "text": "x", "channels": ["voice"]}]}, "chat"),
        ({"responses": [{"id": "a", "title": "A", "text": "x", "channels": []}]}, "chat"),
        ({"responses": [{"id": "a", "title": "A", "text": "x" * 5000}]}, "longer"),
        ({"responses": [{"id": "a", "title": "A", "text": "x", "language": "English"}]}, "code"),
        (
            {
                "responses": [
                    {"id": "a", "title": "A", "text": "x"},
                    {"id": "a", "title": "B", "text": "y"},
                ]
            },
            "twice",
        ),
        ({"responses": "hello"}, "list"),
        ({"canned": []}, "one key"),
        (["a"], "one key"),
    ],
)
def test_a_wrong_response_is_refused_by_name(data: Any, says: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_responses(data, "canned.yaml")
    assert "canned.yaml" in str(err.value)
    assert says in str(err.value)


def test_the_file_is_read_within_limits(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("responses:\n" + "  - {id: a, title: A, text: x}\n" * 20_000)
    with pytest.raises(InvalidInput, match="larger than"):
        load_responses(big)
    with pytest.raises(InvalidInput, match="file not found"):
        load_responses(tmp_path / "missing.yaml")
    bomb = tmp_path / "bomb.yaml"
    lines, previous = ["a0: &a0 [" + ",".join(["x"] * 10) + "]"], "a0"
    for level in range(1, 6):  # 10**6 values once aliases are expanded, in a few bytes
        lines.append(f"a{level}: &a{level} [" + ",".join([f"*{previous}"] * 10) + "]")
        previous = f"a{level}"
    bomb.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidInput, match="values once aliases are expanded"):
        load_responses(bomb)
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"responses: [\xff]\n")
    with pytest.raises(InvalidInput, match="UTF-8"):
        load_responses(bad)
    (tmp_path / "empty.yaml").write_text("")
    assert load_responses(tmp_path / "empty.yaml") == ()


def test_a_wrong_file_stops_the_console_at_start(tmp_path: Path) -> None:
    from agent_console.conversations_api import load_canned
    from config.errors import ConfigError
    from config.settings import ConsoleSettings, Settings

    wrong = tmp_path / "canned.yaml"
    wrong.write_text("responses:\n  - {id: a, title: A, text: 'Hi {nme}'}\n")
    settings = Settings(console=ConsoleSettings(canned_responses_file=str(wrong)))
    with pytest.raises(ConfigError, match="nme"):
        load_canned(settings)

"""Pure rules of the console, no event loop: input validation, the login rate limiter,
and who sees which live message."""

from __future__ import annotations

from typing import Any

import pytest

from agent_console.actions import Console, Scope, choice, number, text
from agent_console.auth import RateLimiter, Role, TooManyAttempts, User, check_username
from config.errors import InvalidInput
from config.settings import Settings
from tests.console_fakes import AGENTS, QUEUES, FakeCenter


def test_text_rejects_control_characters() -> None:
    assert text({"a": "plain"}, "a") == "plain"
    assert text({"a": "two\nlines\tok"}, "a", multiline=True, max_len=100) == "two\nlines\tok"
    for bad in ("a\nb", "a\rb", "a\x00b", "a\x7fb"):
        with pytest.raises(InvalidInput) as info:
            text({"a": bad}, "a")
        assert info.value.field == "a"
    with pytest.raises(InvalidInput):
        text({"a": "x\r\ny"}, "a", multiline=True, max_len=100)
    with pytest.raises(InvalidInput):
        text({"a": "x" * 201}, "a")
    with pytest.raises(InvalidInput):
        text({"a": 5}, "a")
    with pytest.raises(InvalidInput):
        text({}, "a")
    assert text({}, "a", required=False) == ""


def test_number_and_choice() -> None:
    assert number({"number": "+1 555-123 4567"}) == "+15551234567"
    for bad in ("12a", "1", "+" + "1" * 21, "1\r\n2", ""):
        with pytest.raises(InvalidInput):
            number({"number": bad})
    assert choice({"m": "listen"}, "m", ("listen", "barge")) == "listen"
    with pytest.raises(InvalidInput):
        choice({"m": "LISTEN"}, "m", ("listen", "barge"))


def test_usernames_and_roles() -> None:
    check_username("sue.o-neil@x")
    for bad in ("", "a b", "é", "x" * 65, "a\nb"):
        with pytest.raises(InvalidInput):
            check_username(bad)
    assert Role.parse("admin") is Role.ADMIN
    with pytest.raises(InvalidInput):
        Role.parse("root")


def test_rate_limiter_counts_failures_in_a_sliding_window() -> None:
    now = [0.0]
    limiter = RateLimiter(3, 60.0, clock=lambda: now[0])
    for t in (0.0, 10.0, 20.0):
        now[0] = t
        limiter.check("ip:a", "user:x")
        limiter.record("ip:a", "user:x")
    now[0] = 30.0
    with pytest.raises(TooManyAttempts) as info:
        limiter.check("ip:b", "user:x")
    assert info.value.retry_after == 30
    limiter.check("ip:b", "user:y")  # other keys are not affected
    now[0] = 60.5  # the first failure left the window
    limiter.check("ip:a", "user:x")


def console() -> Console:
    center = FakeCenter(QUEUES, AGENTS, supervisors={"sue": {"sales", "billing"}})
    return Console(Settings(), center, crm=None)  # type: ignore[arg-type]


ALICE = User("alice", Role.AGENT, "1001")
SUE = User("sue", Role.SUPERVISOR, "2001")
ROOT = User("root", Role.ADMIN)


@pytest.mark.parametrize(
    ("message", "alice", "sue", "root"),
    [
        ({"type": "screen_pop", "agent_id": "1001"}, True, False, False),
        ({"type": "screen_pop", "agent_id": "2001"}, False, True, False),
        ({"type": "agent_state", "agent_id": "1001", "queues": ["sales"]}, True, True, True),
        ({"type": "agent_state", "agent_id": "1002", "queues": ["support"]}, False, False, True),
        ({"type": "queue_stats", "queue": "sales"}, False, True, True),
        ({"type": "queue_stats", "queue": "support"}, False, False, True),
        ({"type": "call_update", "agent_id": None, "queue": "billing"}, False, True, True),
        ({"type": "call_ended", "agent_id": "1001", "queue": "sales"}, True, True, True),
        ({"type": "wallboard", "intervals": []}, False, True, True),
    ],
)
def test_who_sees_which_message(
    message: dict[str, Any], alice: bool, sue: bool, root: bool
) -> None:
    c = console()
    assert c.visible(c.scope(ALICE), message) is alice
    assert c.visible(c.scope(SUE), message) is sue
    assert c.visible(c.scope(ROOT), message) is root


def test_scopes() -> None:
    c = console()
    assert c.scope(ALICE) == Scope(ALICE, frozenset({"sales"}))
    assert c.scope(SUE) == Scope(SUE, frozenset({"sales", "billing"}))
    assert c.scope(ROOT).queues is None
    assert c.scope(User("ghost", Role.AGENT, "9999")).queues == frozenset()

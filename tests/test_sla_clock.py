"""The case SLA clock (routing.sla): business hours, a holiday, pause and reopen, DST."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

import pytest

from config.errors import ConfigError
from routing.ivr.hours import Holiday, at_local, build_schedule, parse_range
from routing.sla import (
    CaseTimes,
    Policy,
    Target,
    add_business,
    business_seconds,
    clocks,
    counting_at,
    resume,
)
from routing.sla_config import load_policy

H = 3600.0
OFFICE = build_schedule(
    "Europe/London",
    {"mon-fri": "09:00-17:00"},
    [
        Holiday(date(2026, 12, 25), "Christmas"),
        Holiday(date(2026, 12, 24), "Eve", (parse_range("09:00-12:00"),)),
    ],
)
ALWAYS = build_schedule("Europe/London", {"daily": "00:00-24:00"})


def at(y: int, m: int, d: int, hh: int, mm: int = 0) -> float:
    return at_local(OFFICE, date(y, m, d), time(hh, mm))


def test_business_seconds_skip_nights_and_the_weekend() -> None:
    # Friday 16:00 -> Monday 10:00 is one hour on Friday and one on Monday
    assert business_seconds(OFFICE, at(2026, 11, 27, 16), at(2026, 11, 30, 10)) == 2 * H
    assert business_seconds(OFFICE, at(2026, 11, 28, 10), at(2026, 11, 29, 23)) == 0
    assert add_business(OFFICE, at(2026, 11, 27, 16), 2 * H) == at(2026, 11, 30, 10)
    # before opening: the clock starts at 09:00
    assert add_business(OFFICE, at(2026, 11, 30, 7), 1 * H) == at(2026, 11, 30, 10)


def test_a_holiday_and_short_hours_do_not_count() -> None:
    # Thu 24 Dec opens 09:00-12:00, Fri 25 Dec closed: a 4 h target from Thu 11:00 runs
    # 1 h on Thursday, none on Friday, and ends Monday 28th at 12:00
    start = at(2026, 12, 24, 11)
    assert add_business(OFFICE, start, 4 * H) == at(2026, 12, 28, 12)
    assert business_seconds(OFFICE, start, at(2026, 12, 27, 12)) == 1 * H


def test_across_the_dst_change() -> None:
    # 2026-03-29 the UK clocks go forward: Saturday noon to Sunday noon is 23 hours
    sat = at_local(ALWAYS, date(2026, 3, 28), time(12))
    sun = at_local(ALWAYS, date(2026, 3, 29), time(12))
    assert business_seconds(ALWAYS, sat, sun) == 23 * H
    assert add_business(ALWAYS, sat, 23 * H) == sun
    # and office hours across it: Fri 16:00 GMT + 2 h = Mon 10:00 BST
    assert add_business(OFFICE, at(2026, 3, 27, 16), 2 * H) == at(2026, 3, 30, 10)
    # autumn: 25 hours
    assert (
        business_seconds(
            ALWAYS,
            at_local(ALWAYS, date(2026, 10, 24), time(12)),
            at_local(ALWAYS, date(2026, 10, 25), time(12)),
        )
        == 25 * H
    )


POLICY = Policy({"normal": Target(2 * H, 8 * H)}, OFFICE, warn_at=0.75)


def test_pause_while_pending_customer_and_resume_on_reopen() -> None:
    created = at(2026, 11, 30, 9)  # Monday
    times = CaseTimes(created, first_response_at=at(2026, 11, 30, 10))
    c = clocks(POLICY, "normal", times, at(2026, 11, 30, 12))
    assert c["first_response"].state == "met" and not c["first_response"].breached
    assert c["resolution"].elapsed == 3 * H and c["resolution"].due_at == at(2026, 11, 30, 17)
    # pending_customer from 12:00; Tuesday 15:00 the clock still says 3 h
    paused = CaseTimes(created, times.first_response_at, paused_since=at(2026, 11, 30, 12))
    c = clocks(POLICY, "normal", paused, at(2026, 12, 1, 15))
    assert c["resolution"].state == "paused" and c["resolution"].elapsed == 3 * H
    assert c["resolution"].due_at is None
    # the customer replies Tuesday 15:00: 11 business hours paused (Mon 12-17, Tue 9-15)
    resumed = resume(OFFICE, paused, at(2026, 12, 1, 15))
    assert resumed.paused_seconds == 11 * H and resumed.paused_since is None
    c = clocks(POLICY, "normal", resumed, at(2026, 12, 1, 16))
    assert c["resolution"].elapsed == 4 * H
    assert c["resolution"].due_at == at(2026, 12, 2, 12)
    assert not c["resolution"].warning
    c = clocks(POLICY, "normal", resumed, at(2026, 12, 2, 10))
    assert c["resolution"].warning and not c["resolution"].breached
    c = clocks(POLICY, "normal", resumed, at(2026, 12, 2, 12, 30))
    assert c["resolution"].breached and c["resolution"].state == "breached"


def test_first_response_breach_and_no_target() -> None:
    created = at(2026, 11, 30, 16)
    c = clocks(POLICY, "normal", CaseTimes(created), at(2026, 12, 1, 10))
    assert c["first_response"].elapsed == 2 * H and not c["first_response"].breached
    c = clocks(POLICY, "normal", CaseTimes(created), at(2026, 12, 1, 10, 1))
    assert c["first_response"].breached
    assert (
        clocks(POLICY, "low", CaseTimes(created), at(2026, 12, 9, 9))["resolution"].state == "none"
    )


def test_policy_file_bounded(tmp_path: Path) -> None:
    scripts = Path("ivr_scripts")
    policy = load_policy(Path("config/sla.yaml"), scripts, scripts / "prompts")
    assert policy.schedule is not None and policy.schedule.timezone == "Europe/London"
    assert policy.target("urgent").first_response == 1 * H
    bad = tmp_path / "sla.yaml"
    for text, key in (
        ("priorities: {urgent: {first_response_hours: -1}}", "first_response_hours"),
        ("priorities: {vip: {}}", "priorities.vip"),
        ("schedule: {script: ../x.yaml, name: office}", "schedule.script"),
        ("schedule: {script: main.yaml, name: nope}", "schedule.name"),
        ("warn_at: 2", "warn_at"),
    ):
        bad.write_text(text)
        with pytest.raises(ConfigError, match=key):
            load_policy(bad, scripts, scripts / "prompts")
    bad.write_text("#" * 70_000)
    with pytest.raises(ConfigError, match="bytes"):
        load_policy(bad, scripts, scripts / "prompts")


def test_whether_the_clock_counts_now_and_when_it_resumes() -> None:
    # open on a weekday afternoon
    assert counting_at(OFFICE, at(2026, 11, 30, 14)) == (True, None)
    # Friday evening: resumes on Monday at 09:00
    assert counting_at(OFFICE, at(2026, 11, 27, 18)) == (False, at(2026, 11, 30, 9))
    # Christmas Eve after its short hours: Christmas is a holiday, so the 28th (Monday)
    assert counting_at(OFFICE, at(2026, 12, 24, 13)) == (False, at(2026, 12, 28, 9))
    # no schedule: the clock always counts
    assert counting_at(None, at(2026, 11, 28, 3)) == (True, None)

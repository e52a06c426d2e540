"""Pure parts of crm_lookup: phone normalisation, breaker, cache, report arithmetic."""

from __future__ import annotations

import pytest

from config.errors import InvalidInput
from crm_lookup.phones import normalize_phone, parse_phone, try_normalize
from crm_lookup.reports import ContactFacts, aggregate
from crm_lookup.resilience import BreakerState, CircuitBreaker, TtlCache


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("(555) 000-1111", "US", "+15550001111"),
        ("555.000.1111", "US", "+15550001111"),
        ("1 555 000 1111", "US", "+15550001111"),
        ("+1 555 000 1111", "US", "+15550001111"),
        ("+15550001111", "US", "+15550001111"),
        ("001 555 000 1111", "DE", "+15550001111"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("8 (495) 123-45-67", "RU", "+74951234567"),
        ("+7 495 123-45-67", "US", "+74951234567"),
        ("+39 06 1234 5678", "US", "+390612345678"),
    ],
)
def test_national_and_international_numbers_normalise(raw: str, region: str, e164: str) -> None:
    assert normalize_phone(raw, region) == e164


@pytest.mark.parametrize(
    ("raw", "extension"),
    [("555-000-1111 ext. 12", "12"), ("+1 555 000 1111 x7", "7"), ("(555) 000-1111 #33", "33")],
)
def test_extensions_are_split_off(raw: str, extension: str) -> None:
    phone = parse_phone(raw, "US")
    assert phone.e164 == "+15550001111"
    assert phone.extension == extension


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "abc",
        "call me",
        "555-0100",
        "12",
        "+1555000111",
        "+999 123 456 789",
        "+1 555 000 1111 1111 1111",
        "555-000-1111; DROP TABLE",
        "+15550001111\r\nX: y",
    ],
)
def test_garbage_is_refused_with_a_clear_error(raw: str) -> None:
    with pytest.raises(InvalidInput) as info:
        normalize_phone(raw, "US")
    assert info.value.field == "phone"
    assert try_normalize(raw, "US") is None


def test_fast_path_agrees_with_the_general_parser() -> None:
    # Canonical input takes a shortcut; its answers must match the spelled-out forms.
    for canonical, spelled in [
        ("+15550001111", "(555) 000-1111"),
        ("+442079460958", "+44 (0)20 7946 0958"),
        ("+74951234567", "+7 (495) 123 45 67"),
        ("+390612345678", "+39 06 1234 5678"),
    ]:
        assert normalize_phone(canonical) == normalize_phone(spelled) == canonical
    with pytest.raises(InvalidInput):
        normalize_phone("+1555")


def test_breaker_opens_after_failures_and_half_opens_after_reset() -> None:
    breaker = CircuitBreaker(failures=3, reset_after=10.0)
    for t in range(3):
        assert breaker.allow(float(t))
        breaker.record_failure(float(t))
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow(5.0)
    assert breaker.allow(12.5)  # one trial call
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.allow(12.6)  # only one at a time
    breaker.record_failure(13.0)
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow(20.0)
    assert breaker.allow(23.0)
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow(23.1)


def test_breaker_success_resets_the_count() -> None:
    breaker = CircuitBreaker(failures=2, reset_after=1.0)
    breaker.record_failure(0.0)
    breaker.record_success()
    breaker.record_failure(0.1)
    assert breaker.state is BreakerState.CLOSED


def test_ttl_cache_expires_and_is_bounded() -> None:
    cache: TtlCache[str | None] = TtlCache(ttl=5.0, max_entries=2)
    cache.put("a", "A", 0.0)
    cache.put("n", None, 0.0)  # negative answers are cached too
    assert cache.get("a", 4.9) == (True, "A")
    assert cache.get("n", 1.0) == (True, None)
    assert cache.get("a", 5.0) == (False, None)
    cache.put("b", "B", 6.0)
    cache.put("c", "C", 6.0)
    assert len(cache) == 2
    assert cache.get("n", 6.0) == (False, None)


def _fact(
    queue: str,
    agent: str,
    at: float,
    answered: bool,
    wait: float | None,
    handle: float | None,
    outcome: str,
) -> ContactFacts:
    return ContactFacts(queue, agent, at, answered, wait, handle, outcome)


def test_aggregate_by_queue_hand_computed() -> None:
    facts = [
        _fact("sales", "a1", 0, True, 10, 100, "answered"),
        _fact("sales", "a2", 60, True, 30, 200, "answered"),
        _fact("sales", "", 120, False, 3, None, "abandoned_queue"),  # short
        _fact("sales", "", 180, False, 45, None, "abandoned_queue"),
        _fact("sales", "", 240, False, 50, None, "voicemail"),
        _fact("help", "a1", 300, True, 0, 60, "answered"),
    ]
    rows = {r.key: r for r in aggregate(facts, "queue", sl_threshold=20, short_abandon=5)}
    sales = rows["sales"]
    assert (sales.offered, sales.answered, sales.abandoned, sales.short_abandoned, sales.other) == (
        5,
        2,
        1,
        1,
        1,
    )
    assert sales.asa == 20.0
    assert sales.aht == 150.0
    assert sales.service_level == pytest.approx(100 * 1 / 4)
    assert sales.longest_wait == 50
    assert rows["help"].service_level == 100.0


def test_aggregate_by_interval_fills_empty_buckets() -> None:
    facts = [_fact("q", "a", 30 * 60 + 5, True, 4, 10, "answered")]
    rows = aggregate(facts, "interval", start=0, end=3600, interval_minutes=15)
    assert [r.key for r in rows] == [
        "1970-01-01 00:00",
        "1970-01-01 00:15",
        "1970-01-01 00:30",
        "1970-01-01 00:45",
    ]
    assert [r.offered for r in rows] == [0, 0, 1, 0]
    assert rows[0].asa is None and rows[0].service_level is None


def test_aggregate_refuses_unknown_grouping() -> None:
    with pytest.raises(InvalidInput):
        aggregate([], "week")
    with pytest.raises(InvalidInput):
        aggregate([], "interval", interval_minutes=7)

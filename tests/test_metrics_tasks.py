"""The ``switchboard_asyncio_tasks`` gauge counts the live tasks of the loop it is read in."""

from __future__ import annotations

import asyncio

from agent_console.metrics import Metrics


def tasks_gauge(metrics: Metrics) -> float:
    text = metrics.render().body
    assert isinstance(text, bytes)
    line = next(
        line for line in text.decode().splitlines() if line.startswith("switchboard_asyncio_tasks ")
    )
    return float(line.split()[1])


async def test_the_gauge_follows_the_tasks_alive() -> None:
    metrics = Metrics()
    before = tasks_gauge(metrics)
    assert before == len(asyncio.all_tasks()) >= 1  # this test's own task at least
    parked = [asyncio.ensure_future(asyncio.Event().wait()) for _ in range(5)]
    try:
        assert tasks_gauge(metrics) == before + 5
    finally:
        for task in parked:
            task.cancel()
        await asyncio.gather(*parked, return_exceptions=True)
    assert tasks_gauge(metrics) == before


def test_read_outside_a_loop_is_zero_not_an_error() -> None:
    assert tasks_gauge(Metrics()) == 0.0

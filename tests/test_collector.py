"""The start-up heap freeze: what exists at start-up leaves the collector's generations,
cyclic garbage made afterwards is still collected."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from switchboard.collector import OLD_THRESHOLD, YOUNG_THRESHOLD, freeze_start_up_heap


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_start_up_objects_are_frozen_and_later_cycles_still_collected(
    restored_collector: None,
) -> None:
    resident = {"queue file": [Node() for _ in range(100)]}
    frozen = freeze_start_up_heap()
    assert frozen == gc.get_freeze_count() > 100
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD and gc.get_threshold()[2] == OLD_THRESHOLD
    tracked = {id(o) for o in gc.get_objects()}
    assert id(resident) not in tracked  # no collection walks it any more
    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    del a, b
    gc.collect()
    assert gone() is None

"""The two indexes the router reads instead of scanning: ready agents and waiting calls.

Both hold :data:`~routing.acd.sortedlist.Entry` tuples whose first fields are the sort key
and whose last field is the agent or call id; the engine owns the records and the keys.
Every operation is O(log n) in the number of entries, plus the (configuration-bounded)
number of skills, levels and requirement groups it touches.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Iterator, Mapping

from routing.acd.model import MAX_SKILL
from routing.acd.sortedlist import Entry, SortedEntries

#: a skill requirement, sorted: ((skill, minimum level), ...)
Requirement = tuple[tuple[str, int], ...]
#: where an agent's entries went, so they can be taken out again
Handles = list[tuple[SortedEntries, Entry]]

_LAST: Entry = (math.inf, math.inf, 0, "")


class ReadyAgents:
    """Ready agents per queue, in the queue's strategy order, and per (queue, skill, level).

    An agent with ``billing: 4`` sits in the (queue, billing, 4) list; a caller needing
    billing ≥ 3 reads the first entries of the level 3, 4 and 5 lists only.
    """

    __slots__ = ("_any", "_skill")

    def __init__(self, queues: Iterable[str]) -> None:
        self._any: dict[str, SortedEntries] = {name: SortedEntries() for name in queues}
        self._skill: dict[tuple[str, str, int], SortedEntries] = {}

    def count(self, queue: str) -> int:
        """How many agents of ``queue`` are ready."""
        return len(self._any[queue])

    def add(self, queue: str, key: Entry, skills: Mapping[str, int], handles: Handles) -> None:
        """Index a ready agent in ``queue`` under ``key``; append where it went to ``handles``."""
        every = self._any[queue]
        every.add(key)
        handles.append((every, key))
        for skill, level in skills.items():
            lst = self._skill.get((queue, skill, level))
            if lst is None:
                lst = self._skill[(queue, skill, level)] = SortedEntries()
            lst.add(key)
            handles.append((lst, key))

    @staticmethod
    def remove(handles: Handles) -> None:
        """Take an agent out of every list ``add`` put it in."""
        for lst, key in handles:
            lst.discard(key)
        handles.clear()

    def best(
        self, queue: str, requirement: Requirement, meets: Callable[[str], bool]
    ) -> str | None:
        """The first agent, in strategy order, who meets ``requirement``.

        Args:
            queue: the caller's queue.
            requirement: the caller's current skill requirement.
            meets: checks the *whole* requirement for an agent id (used only when the
                requirement names several skills).
        """
        if not requirement:
            first = self._any[queue].first()
            return first[3] if first is not None else None
        # Start from the skill with the fewest ready agents at or above its level; the
        # other skills are checked per candidate, so the smallest pool is cheapest.
        pools: list[SortedEntries] = []
        pool_size = math.inf
        for skill, level in requirement:
            lists = [
                lst
                for lvl in range(level, MAX_SKILL + 1)
                if (lst := self._skill.get((queue, skill, lvl)))
            ]
            size = sum(len(lst) for lst in lists)
            if size == 0:
                return None
            if size < pool_size:
                pools, pool_size = lists, size
        if len(requirement) == 1:
            return min(lst.first() or _LAST for lst in pools)[3]
        for entry in heapq.merge(*pools):
            if meets(entry[3]):
                return entry[3]
        return None


class WaitingCalls:
    """Waiting calls (live and virtual callbacks) per queue.

    Three views: the *line* in route-key order (positions, the front), the calls in order
    of entering the queue (the longest wait), and *groups* by current requirement — an
    agent reads the first call of each group whose requirement they meet.
    """

    __slots__ = ("_groups", "_line", "_live", "_oldest")

    def __init__(self, queues: Iterable[str]) -> None:
        names = list(queues)
        self._line: dict[str, SortedEntries] = {n: SortedEntries() for n in names}
        self._oldest: dict[str, SortedEntries] = {n: SortedEntries() for n in names}
        self._groups: dict[str, dict[Requirement, SortedEntries]] = {n: {} for n in names}
        self._live: dict[str, int] = dict.fromkeys(names, 0)

    def add(
        self, queue: str, entry: Entry, since: Entry, requirement: Requirement, live: bool
    ) -> None:
        """Put a call in line. ``since`` orders by time in queue; ``live`` = not a callback."""
        self._line[queue].add(entry)
        self._oldest[queue].add(since)
        self._group(queue, entry, requirement)
        if live:
            self._live[queue] += 1

    def remove(
        self, queue: str, entry: Entry, since: Entry, requirement: Requirement, live: bool
    ) -> None:
        """Take a call out of line (arguments as given to ``add``)."""
        self._line[queue].discard(entry)
        self._oldest[queue].discard(since)
        self._ungroup(queue, entry, requirement)
        if live:
            self._live[queue] -= 1

    def regroup(self, queue: str, entry: Entry, old: Requirement, new: Requirement) -> None:
        """The call's requirement widened from ``old`` to ``new``."""
        self._ungroup(queue, entry, old)
        self._group(queue, entry, new)

    def best_for(
        self, queues: Iterable[str], eligible: Callable[[Requirement], bool]
    ) -> Entry | None:
        """The best-keyed call across ``queues`` whose requirement passes ``eligible``."""
        best: Entry | None = None
        for name in queues:
            for requirement, lst in self._groups[name].items():
                first = lst.first()
                if first is not None and (best is None or first < best) and eligible(requirement):
                    best = first
        return best

    def front(self, queue: str) -> Entry | None:
        return self._line[queue].first()

    def position(self, queue: str, entry: Entry) -> int:
        """1-based place of ``entry`` in its line."""
        return self._line[queue].rank(entry) + 1

    def count(self, queue: str) -> int:
        return len(self._line[queue])

    def live(self, queue: str) -> int:
        """Callers actually on hold (callbacks excluded): what ``max_length`` limits."""
        return self._live[queue]

    def oldest_since(self, queue: str) -> float | None:
        """When the longest-waiting caller entered the queue."""
        first = self._oldest[queue].first()
        return first[0] if first is not None else None

    def entries(self, queue: str) -> Iterator[Entry]:
        """The line, front first."""
        return iter(self._line[queue])

    def _group(self, queue: str, entry: Entry, requirement: Requirement) -> None:
        groups = self._groups[queue]
        lst = groups.get(requirement)
        if lst is None:
            lst = groups[requirement] = SortedEntries()
        lst.add(entry)

    def _ungroup(self, queue: str, entry: Entry, requirement: Requirement) -> None:
        groups = self._groups[queue]
        lst = groups.get(requirement)
        if lst is not None:
            lst.discard(entry)
            if not lst:
                del groups[requirement]

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

from routing.acd.model import CHANNELS, MAX_SKILL
from routing.acd.sortedlist import Entry, SortedEntries

#: a skill requirement, sorted: ((skill, minimum level), ...)
Requirement = tuple[tuple[str, int], ...]
#: where an agent's entries went, so they can be taken out again
Handles = list[tuple[SortedEntries, Entry]]


class ReadyAgents:
    """Ready agents per queue, in the queue's strategy order, and per (queue, skill, level).

    An agent with ``billing: 4`` sits in the (queue, billing) list of level 4; a caller
    needing billing ≥ 3 reads the first entries of the level 3, 4 and 5 lists only.
    """

    __slots__ = ("_any", "_skill")

    def __init__(self, queues: Iterable[str]) -> None:
        self._any: dict[str, SortedEntries] = {name: SortedEntries() for name in queues}
        # (queue, skill) -> one list per level, indexed by the level (index 0 unused), so
        # a requirement "at least level L" is the slice [L:] with no key built per level
        self._skill: dict[tuple[str, str], list[SortedEntries]] = {}

    def count(self, queue: str) -> int:
        """How many agents of ``queue`` are ready."""
        return self._any[queue].size

    def add(self, queue: str, key: Entry, skills: Mapping[str, int], handles: Handles) -> None:
        """Index a ready agent in ``queue`` under ``key``; append where it went to ``handles``."""
        every = self._any[queue]
        every.add(key)
        handles.append((every, key))
        index = self._skill
        for skill, level in skills.items():
            levels = index.get((queue, skill))
            if levels is None:
                levels = index[(queue, skill)] = [SortedEntries() for _ in range(MAX_SKILL + 1)]
            lst = levels[level]
            lst.add(key)
            handles.append((lst, key))

    @staticmethod
    def rekey(handles: Handles, keys: list[Entry], per_queue: int) -> None:
        """Move an agent indexed by ``add`` (once per queue, ``per_queue`` lists each, in
        that order) to new keys in the same lists: ``keys`` has one per queue."""
        j = 0
        for key in keys:
            end = j + per_queue
            if handles[j][1] == key:  # this queue's key did not change
                j = end
                continue
            while j < end:
                lst, old = handles[j]
                lst.discard(old)
                lst.add(key)
                handles[j] = (lst, key)
                j += 1

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
        every = self._any[queue]
        if not every.size:  # a busy center: nobody ready, the common case for an arrival
            return None
        if not requirement:
            return every.head()[3]
        # Start from the skill with the fewest ready agents at or above its level; the
        # other skills are checked per candidate, so the smallest pool is cheapest.
        pools: list[SortedEntries] = []
        pool_size = math.inf
        index = self._skill
        for skill, level in requirement:
            levels = index.get((queue, skill))
            if levels is None:
                return None
            lists = [lst for lst in levels[level:] if lst.size]
            size = sum([lst.size for lst in lists])
            if size == 0:
                return None
            if size < pool_size:
                pools, pool_size = lists, size
        if len(requirement) == 1:
            return min([lst.head() for lst in pools])[3]
        for entry in heapq.merge(*pools):
            if meets(entry[3]):
                return entry[3]
        return None


class WaitingCalls:
    """Waiting calls (live and virtual callbacks) per queue.

    Three views: the *line* in route-key order (positions, the front), the calls in order
    of entering the queue (the longest wait), and *groups* by current requirement — an
    agent takes the best first call among the groups whose requirement they meet. The
    groups' first calls are kept in order too (the *heads*), so an agent walks them best
    first and stops at the first group they qualify for, instead of reading every group.
    The heads are kept per channel (a group's calls are all of one channel: its
    requirement holds the channel mark), so an agent walks only the channels they have
    room on: one holding three chats skips every chat group without looking.
    """

    __slots__ = ("_by_channel", "_group_of_head", "_groups", "_heads", "_line", "_live", "_oldest")

    def __init__(self, queues: Iterable[str]) -> None:
        names = list(queues)
        self._line: dict[str, SortedEntries] = {n: SortedEntries() for n in names}
        self._oldest: dict[str, SortedEntries] = {n: SortedEntries() for n in names}
        self._groups: dict[str, dict[Requirement, SortedEntries]] = {n: {} for n in names}
        #: channel -> queue -> the groups' first calls
        self._heads: dict[str, dict[str, SortedEntries]] = {
            channel: {n: SortedEntries() for n in names} for channel in CHANNELS
        }
        #: call id of a group's first entry -> that group's requirement
        self._group_of_head: dict[str, Requirement] = {}
        self._live: dict[str, int] = dict.fromkeys(names, 0)
        #: queue -> channel -> contacts waiting (callbacks count as voice)
        self._by_channel: dict[str, dict[str, int]] = {n: dict.fromkeys(CHANNELS, 0) for n in names}

    def add(
        self,
        queue: str,
        entry: Entry,
        since: Entry,
        requirement: Requirement,
        live: bool,
        channel: str = "voice",
    ) -> None:
        """Put a call in line. ``since`` orders by time in queue; ``live`` = not a callback."""
        self._line[queue].add(entry)
        self._oldest[queue].add(since)
        self._group(queue, entry, requirement, channel)
        if live:
            self._live[queue] += 1
        self._by_channel[queue][channel] += 1

    def remove(
        self,
        queue: str,
        entry: Entry,
        since: Entry,
        requirement: Requirement,
        live: bool,
        channel: str = "voice",
    ) -> None:
        """Take a call out of line (arguments as given to ``add``)."""
        self._line[queue].discard(entry)
        self._oldest[queue].discard(since)
        self._ungroup(queue, entry, requirement, channel)
        if live:
            self._live[queue] -= 1
        self._by_channel[queue][channel] -= 1

    def by_channel(self, queue: str) -> Mapping[str, int]:
        """Waiting contacts per channel (the index's own dict: read it, copy to keep it)."""
        return self._by_channel[queue]

    def regroup(
        self, queue: str, entry: Entry, old: Requirement, new: Requirement, channel: str = "voice"
    ) -> None:
        """The call's requirement widened from ``old`` to ``new``."""
        self._ungroup(queue, entry, old, channel)
        self._group(queue, entry, new, channel)

    def best_for(
        self,
        queues: Iterable[str],
        eligible: Callable[[Requirement], bool],
        channels: Iterable[str] = ("voice",),
    ) -> Entry | None:
        """The best-keyed call of ``channels`` across ``queues`` whose requirement passes
        ``eligible``."""
        best: Entry | None = None
        group_of = self._group_of_head
        for channel in channels:
            heads = self._heads[channel]
            for name in queues:
                for head in heads[name]:
                    if best is not None and head > best:
                        break  # every later group of this queue starts behind the best so far
                    if eligible(group_of[head[3]]):
                        best = head
                        break
        return best

    def front(self, queue: str) -> Entry | None:
        return self._line[queue].first()

    def position(self, queue: str, entry: Entry) -> int:
        """1-based place of ``entry`` in its line."""
        return self._line[queue].rank(entry) + 1

    def count(self, queue: str) -> int:
        return self._line[queue].size

    def live(self, queue: str) -> int:
        """Callers actually on hold (callbacks excluded): what ``max_length`` limits."""
        return self._live[queue]

    def oldest_since(self, queue: str) -> float | None:
        """When the longest-waiting caller entered the queue."""
        first = self._oldest[queue].first()
        return first[0] if first is not None else None

    def summary(self, queue: str) -> tuple[int, int, float | None]:
        """``(count, live, oldest_since)`` in one call (the statistics read all three)."""
        oldest = self._oldest[queue]
        since = oldest.head()[0] if oldest.size else None
        return self._line[queue].size, self._live[queue], since

    def entries(self, queue: str) -> Iterator[Entry]:
        """The line, front first."""
        return iter(self._line[queue])

    def _group(self, queue: str, entry: Entry, requirement: Requirement, channel: str) -> None:
        groups = self._groups[queue]
        lst = groups.get(requirement)
        if lst is None:
            lst = groups[requirement] = SortedEntries()
            lst.add(entry)
            self._heads[channel][queue].add(entry)
            self._group_of_head[entry[3]] = requirement
            return
        head = lst.head()
        lst.add(entry)
        if entry < head:
            heads = self._heads[channel][queue]
            heads.discard(head)
            del self._group_of_head[head[3]]
            heads.add(entry)
            self._group_of_head[entry[3]] = requirement

    def _ungroup(self, queue: str, entry: Entry, requirement: Requirement, channel: str) -> None:
        groups = self._groups[queue]
        lst = groups.get(requirement)
        if lst is None:
            return
        head = lst.head()
        if not lst.discard(entry) or entry != head:
            return
        heads = self._heads[channel][queue]
        heads.discard(entry)
        del self._group_of_head[entry[3]]
        if lst.size:
            following = lst.head()
            heads.add(following)
            self._group_of_head[following[3]] = requirement
        else:
            del groups[requirement]

"""A small sorted list of routing entries, split into buckets.

Why not ``heapq``: the router must look *past* the best entry (a caller whose skills the
agent lacks, an agent who does not meet a caller's level) and must remove arbitrary
entries (an agent going on break, a caller hanging up) without lazy tombstones piling
up. Why not one plain list: ``insort`` on a 10,000-item list moves the whole tail.
Buckets of a few hundred entries keep every add / remove at O(log n) comparisons plus a
short move inside one bucket — the layout ``sortedcontainers`` uses, cut to what the
engine needs.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator
from itertools import chain

#: (primary key, secondary key, tie-break sequence, id). Tuples keep comparisons in C.
Entry = tuple[float, float, int, str]

_LOAD = 256


class SortedEntries:
    """Entries kept in ascending order; duplicates are not expected (the id is unique)."""

    __slots__ = ("_lists", "_maxes", "size")

    def __init__(self) -> None:
        self._lists: list[list[Entry]] = []
        self._maxes: list[Entry] = []
        #: how many entries (read only). An attribute because the router reads sizes
        #: several times per event, and ``len()`` on a Python class costs a method call.
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def __bool__(self) -> bool:
        return self.size > 0

    def __iter__(self) -> Iterator[Entry]:
        return chain.from_iterable(self._lists)

    def __contains__(self, entry: object) -> bool:
        if not isinstance(entry, tuple) or not self._maxes:
            return False
        i = bisect_left(self._maxes, entry)
        if i == len(self._maxes):
            return False
        bucket = self._lists[i]
        j = bisect_left(bucket, entry)
        return j < len(bucket) and bucket[j] == entry

    def first(self) -> Entry | None:
        """The smallest entry, or None when empty."""
        return self._lists[0][0] if self._lists else None

    def head(self) -> Entry:
        """The smallest entry of a list known not to be empty (IndexError if it is)."""
        return self._lists[0][0]

    def add(self, entry: Entry) -> None:
        """Insert ``entry`` at its place."""
        if not self._maxes:
            self._lists.append([entry])
            self._maxes.append(entry)
            self.size = 1
            return
        i = bisect_left(self._maxes, entry)
        if i == len(self._maxes):
            i -= 1
            self._lists[i].append(entry)
            self._maxes[i] = entry
        else:
            insort(self._lists[i], entry)
        self.size += 1
        bucket = self._lists[i]
        if len(bucket) > 2 * _LOAD:
            half = bucket[_LOAD:]
            del bucket[_LOAD:]
            self._maxes[i] = bucket[-1]
            self._lists.insert(i + 1, half)
            self._maxes.insert(i + 1, half[-1])

    def discard(self, entry: Entry) -> bool:
        """Remove ``entry`` if present; True when something was removed."""
        lists, maxes = self._lists, self._maxes
        if lists and lists[0][0] is entry:
            # The router mostly removes the best entry (the caller it just offered is the
            # first of its group, often of its line); callers pass the stored tuple itself.
            i, j = 0, 0
        else:
            i = bisect_left(maxes, entry) if len(maxes) > 1 else 0
            if i == len(maxes):
                return False
            j = bisect_left(lists[i], entry)
            if j == len(lists[i]) or lists[i][j] != entry:
                return False
        bucket = lists[i]
        del bucket[j]
        self.size -= 1
        if bucket:
            maxes[i] = bucket[-1]
        else:
            del lists[i]
            del maxes[i]
        return True

    def rank(self, entry: Entry) -> int:
        """How many entries sort before ``entry`` (0-based position)."""
        i = bisect_left(self._maxes, entry)
        before = sum(map(len, self._lists[:i]))
        if i < len(self._lists):
            before += bisect_left(self._lists[i], entry)
        return before

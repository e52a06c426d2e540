"""The linear-time graph checks agree with the obvious quadratic searches, and stay linear."""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence

import pytest

from routing.ivr.graph import quiet_loops, trapped, unreachable_groups


def random_graph(rng: random.Random, n: int, density: float) -> dict[str, list[str]]:
    names = [f"n{i}" for i in range(n)]
    return {
        a: [b for b in names if rng.random() < density and (b != a or rng.random() < 0.2)]
        for a in names
    }


def naive_trapped(
    succ: Mapping[str, Sequence[str]], exits: set[str], menus: Mapping[str, Sequence[str]]
) -> list[str]:
    """What the validator did before: one search per menu, never through the menu."""
    out = []
    for menu, options in menus.items():
        seen = {menu}
        todo = list(options)
        found = False
        while todo and not found:
            node = todo.pop()
            if node in seen:
                continue
            seen.add(node)
            found = node in exits
            todo.extend(succ[node])
        if not found:
            out.append(menu)
    return out


def on_a_cycle(succ: Mapping[str, Sequence[str]], node: str) -> bool:
    seen: set[str] = set()
    todo = list(succ[node])
    while todo:
        nxt = todo.pop()
        if nxt == node:
            return True
        if nxt not in seen:
            seen.add(nxt)
            todo.extend(succ[nxt])
    return False


@pytest.mark.parametrize("seed", range(60))
def test_trapped_menus_match_the_search_per_menu(seed: int) -> None:
    rng = random.Random(seed)
    succ = random_graph(rng, rng.randint(1, 14), rng.choice([0.08, 0.15, 0.3]))
    names = list(succ)
    exits = {n for n in names if rng.random() < 0.2}
    menus = {n: [t for t in names if rng.random() < 0.3] for n in names if rng.random() < 0.5}
    assert trapped(succ, exits, menus) == naive_trapped(succ, exits, menus)


@pytest.mark.parametrize("seed", range(40))
def test_each_node_on_a_cycle_is_in_one_reported_loop(seed: int) -> None:
    rng = random.Random(seed)
    succ = random_graph(rng, rng.randint(1, 14), rng.choice([0.05, 0.1, 0.2]))
    loops = quiet_loops(succ, list(succ))
    for loop in loops:  # each is a real simple cycle
        assert len(set(loop)) == len(loop)
        for a, b in zip(loop, [*loop[1:], loop[0]], strict=True):
            assert b in succ[a]
    cyclic = {n for n in succ if on_a_cycle(succ, n)}
    firsts = [loop[0] for loop in loops]
    assert set(firsts) <= cyclic
    assert set().union(*map(set, loops)) <= cyclic
    # one loop per strongly connected component: no two loops can reach each other
    for i, a in enumerate(firsts):
        for b in firsts[i + 1 :]:
            assert not (reaches(succ, a, b) and reaches(succ, b, a))


def reaches(succ: Mapping[str, Sequence[str]], a: str, b: str) -> bool:
    seen = {a}
    todo = [a]
    while todo:
        node = todo.pop()
        if node == b:
            return True
        for nxt in succ[node]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


def test_unreachable_nodes_are_folded_under_their_entry() -> None:
    succ = {
        "start": ["a"],
        "a": [],
        "lost": ["x", "y"],  # nothing reachable leads here: the entry
        "x": ["y"],
        "y": ["lost"],  # back into the entry: still one group
        "island": ["island"],
    }
    assert unreachable_groups(succ, "start", list(succ)) == [
        ("lost", ["x", "y"]),
        ("island", []),
    ]
    # a cycle that nothing enters is reported at its first node in file order
    ring = {"s": [], "p": ["q"], "q": ["p"]}
    assert unreachable_groups(ring, "s", list(ring)) == [("p", ["q"])]


def test_graph_checks_are_linear() -> None:
    """A 20,000-node chain and a 20,000-node ring of menus take well under a second;
    the checks they replace took minutes (quadratic)."""
    n = 20_000
    chain = {f"n{i}": [f"n{i + 1}"] for i in range(n)}
    chain[f"n{n}"] = []
    ring = {f"m{i}": [f"m{(i + 1) % n}"] for i in range(n)}
    started = time.perf_counter()
    assert quiet_loops(chain, list(chain)) == []
    assert len(quiet_loops(ring, list(ring))[0]) == n
    assert trapped(chain, {f"n{n}"}, {f"n{i}": [f"n{i + 1}"] for i in range(n)}) == []
    assert len(trapped(ring, set(), {m: ring[m] for m in ring})) == n
    assert unreachable_groups(chain, "n1", list(chain)) == [("n0", [])]
    assert time.perf_counter() - started < 2.0

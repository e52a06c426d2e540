"""Graph checks of an IVR script in linear time: reachability, quiet loops, ways out of menus.

A script of 8,000 nodes must validate in well under a second, so nothing here searches
once per node. Nodes are strings; ``succ`` maps every node to its successors (targets
that exist). Every walk is iterative: a 10,000-node chain must not hit the recursion
limit.

* :func:`unreachable_groups` — the nodes the start cannot reach, folded: one group per
  unreachable "entry" (a node no other unreachable node leads to), holding every node
  first reached from it. One misspelt ``next:`` strands a whole subtree; reporting the
  entry once, with the count of what hangs off it, keeps the cause visible.
* :func:`quiet_loops` — one cycle per strongly connected component (Tarjan) of the
  nodes that never wait for a key press.
* :func:`trapped` — the menus none of whose options reaches an exit without coming back
  through the menu. "Every path from option ``t`` to an exit passes through menu ``m``"
  is "``m`` post-dominates ``t``": one dominator tree of the reversed graph, rooted at a
  virtual exit after every terminal node (Lengauer–Tarjan, O(E log N)), answers it for
  every menu and option with an ancestor test.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

__all__ = ["quiet_loops", "trapped", "unreachable_groups"]


def reachable(succ: Mapping[str, Sequence[str]], start: str) -> set[str]:
    """Every node reachable from ``start`` (``start`` included when it is a node)."""
    if start not in succ:
        return set()
    seen = {start}
    todo = [start]
    while todo:
        for nxt in succ[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def unreachable_groups(
    succ: Mapping[str, Sequence[str]], start: str, order: Sequence[str]
) -> list[tuple[str, list[str]]]:
    """The unreachable nodes as ``(entry, [nodes first reached from entry])``.

    Args:
        succ: node -> successors.
        start: the start node.
        order: every node in file order; entries and their followers keep this order.
    """
    seen = reachable(succ, start)
    lost = [n for n in order if n not in seen]
    lost_set = set(lost)
    entered: set[str] = set()
    for n in lost:
        entered.update(t for t in succ[n] if t in lost_set and t != n)
    # Entries first (nothing unreachable leads to them); then, for cycles of unreachable
    # nodes that nothing enters, the first node of the cycle in file order.
    candidates = [n for n in lost if n not in entered] + [n for n in lost if n in entered]
    rank = {n: i for i, n in enumerate(order)}
    groups: list[tuple[str, list[str]]] = []
    covered: set[str] = set()
    for entry in candidates:
        if entry in covered:
            continue
        covered.add(entry)
        followers: list[str] = []
        todo = [entry]
        while todo:
            for nxt in succ[todo.pop()]:
                if nxt in lost_set and nxt not in covered:
                    covered.add(nxt)
                    followers.append(nxt)
                    todo.append(nxt)
        followers.sort(key=rank.__getitem__)
        groups.append((entry, followers))
    groups.sort(key=lambda g: rank[g[0]])
    return groups


def quiet_loops(succ: Mapping[str, Sequence[str]], order: Sequence[str]) -> list[list[str]]:
    """One simple cycle per cyclic strongly connected component of ``succ``.

    Each cycle starts at its component's first node in ``order`` and follows the graph;
    cycles come in the order of their first node.
    """
    rank = {n: i for i, n in enumerate(order)}
    loops = []
    for component in _strong_components(succ):
        if len(component) == 1:
            only = next(iter(component))
            if only not in succ[only]:
                continue
        first = min(component, key=rank.__getitem__)
        loops.append(_cycle_within(succ, component, first))
    loops.sort(key=lambda c: rank[c[0]])
    return loops


def _strong_components(succ: Mapping[str, Sequence[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[set[str]] = []
    for root in succ:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, i = work[-1]
            targets = succ[node]
            if i < len(targets):
                work[-1] = (node, i + 1)
                nxt = targets[i]
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                out.append(component)
    return out


def _cycle_within(succ: Mapping[str, Sequence[str]], component: set[str], first: str) -> list[str]:
    """A simple cycle through ``first`` inside its strongly connected ``component``.

    A depth-first walk that never revisits a node: in a strongly connected component it
    meets an edge back to ``first`` before it runs out of nodes (O(component edges)).
    """
    path = [first]
    work: list[tuple[str, int]] = [(first, 0)]
    visited = {first}
    while work:
        node, i = work[-1]
        targets = succ[node]
        if i == len(targets):
            work.pop()
            path.pop()
            continue
        work[-1] = (node, i + 1)
        nxt = targets[i]
        if nxt == first:
            return list(path)
        if nxt in component and nxt not in visited:
            visited.add(nxt)
            path.append(nxt)
            work.append((nxt, 0))
    raise AssertionError("a strongly connected component has a cycle through each node")


def trapped(
    succ: Mapping[str, Sequence[str]],
    exits: Iterable[str],
    menus: Mapping[str, Iterable[str]],
) -> list[str]:
    """The menus none of whose options leads to an exit without passing the menu again.

    Args:
        succ: node -> successors.
        exits: the terminal nodes (a path that reaches one has left the IVR).
        menus: menu -> its option targets.
    """
    nodes = list(succ)
    number = {n: i for i, n in enumerate(nodes)}
    exit_node = len(nodes)  # the virtual exit after every terminal node
    # The reversed graph: edges b -> a for a -> b, and exit -> every terminal node.
    rev_succ: list[list[int]] = [[] for _ in range(exit_node + 1)]
    rev_pred: list[list[int]] = [[] for _ in range(exit_node + 1)]
    for a, targets in succ.items():
        for b in targets:
            rev_succ[number[b]].append(number[a])
            rev_pred[number[a]].append(number[b])
    for t in exits:
        if t in number:
            rev_succ[exit_node].append(number[t])
            rev_pred[number[t]].append(exit_node)
    idom = _dominators(rev_succ, rev_pred, exit_node)
    enter, leave = _tree_times(idom, exit_node)

    def avoids(option: int, menu: int) -> bool:
        # The option reaches the exit, and the menu is not on every such path.
        if option not in enter:
            return False
        if menu not in enter:  # the menu reaches no exit, so no path to one passes it
            return True
        return not (enter[menu] <= enter[option] and leave[option] <= leave[menu])

    out = []
    for menu, options in menus.items():
        m = number[menu]
        if not any(t in number and avoids(number[t], m) for t in options):
            out.append(menu)
    return out


def _dominators(succ: list[list[int]], pred: list[list[int]], root: int) -> dict[int, int]:
    """Immediate dominators of the nodes reachable from ``root`` (Lengauer–Tarjan, simple
    version with path compression; iterative throughout)."""
    semi: dict[int, int] = {}
    vertex: list[int] = []
    parent: dict[int, int] = {}
    work = [(root, -1)]
    while work:  # depth-first numbering
        node, from_node = work.pop()
        if node in semi:
            continue
        semi[node] = len(vertex)
        vertex.append(node)
        if from_node >= 0:
            parent[node] = from_node
        for nxt in reversed(succ[node]):
            if nxt not in semi:
                work.append((nxt, node))
    ancestor: dict[int, int] = {}
    label = {v: v for v in vertex}
    idom: dict[int, int] = {}
    bucket: dict[int, list[int]] = {v: [] for v in vertex}

    def evaluate(v: int) -> int:
        if v not in ancestor:
            return v
        chain = []  # compress the path to the forest root, without recursion
        u = v
        while ancestor[u] in ancestor:
            chain.append(u)
            u = ancestor[u]
        for w in reversed(chain):
            a = ancestor[w]
            if semi[label[a]] < semi[label[w]]:
                label[w] = label[a]
            ancestor[w] = ancestor[a]
        return label[v]

    for w in reversed(vertex[1:]):
        for v in pred[w]:
            if v in semi:
                u = evaluate(v)
                if semi[u] < semi[w]:
                    semi[w] = semi[u]
        bucket[vertex[semi[w]]].append(w)
        p = parent[w]
        ancestor[w] = p
        for v in bucket[p]:
            u = evaluate(v)
            idom[v] = u if semi[u] < semi[v] else p
        bucket[p] = []
    for w in vertex[1:]:
        if idom[w] != vertex[semi[w]]:
            idom[w] = idom[idom[w]]
    return idom


def _tree_times(idom: Mapping[int, int], root: int) -> tuple[dict[int, int], dict[int, int]]:
    """Entry and exit times of a depth-first walk of the dominator tree: ``a`` is an
    ancestor of ``b`` exactly when ``enter[a] <= enter[b]`` and ``leave[b] <= leave[a]``."""
    children: dict[int, list[int]] = {}
    for node, dom in idom.items():
        children.setdefault(dom, []).append(node)
    enter: dict[int, int] = {}
    leave: dict[int, int] = {}
    clock = 0
    work: list[tuple[int, bool]] = [(root, False)]
    while work:
        node, done = work.pop()
        if done:
            leave[node] = clock
            clock += 1
            continue
        enter[node] = clock
        clock += 1
        work.append((node, True))
        work.extend((child, False) for child in children.get(node, ()))
    return enter, leave

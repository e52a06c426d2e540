"""A YAML tree that remembers lines: what PyYAML's loader throws away.

``yaml.safe_load`` gives plain dicts: no line numbers, and a repeated key silently
replaces the first (fatal for an IVR menu with two ``"1":`` options). ``compose`` walks
``yaml.compose``'s node graph instead and keeps, for every value, its 1-based line, the
text as written and the value as YAML resolves it, plus the duplicated keys it saw.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from config.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class YScalar:
    line: int
    text: str  # as written (so `on`, `no` and `1` stay text where we want text)
    value: Any  # as YAML 1.1 resolves it (int, float, bool, None, str, date)


@dataclass(frozen=True, slots=True)
class YSeq:
    line: int
    items: tuple[YNode, ...]


@dataclass(frozen=True, slots=True)
class YMap:
    line: int
    # key -> (line of the key, value); the first of duplicated keys wins
    items: Mapping[str, tuple[int, YNode]]
    # (key, line of the repeat, line of the first)
    duplicates: tuple[tuple[str, int, int], ...] = ()


YNode = YScalar | YSeq | YMap


def compose(text: str) -> YNode | None:
    """Parse YAML text into a located tree (None for an empty document).

    Raises:
        InvalidInput: not YAML, or a key that is not plain text; ``field`` is the line.
    """
    try:
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as exc:  # e.g. control characters, refused before parsing
        raise InvalidInput(f"not valid YAML: {exc}".replace("\n", " "), field="1") from None
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else 1
            raise InvalidInput(
                f"not valid YAML: {exc.problem or exc.context}", field=str(line)
            ) from None
        except yaml.YAMLError as exc:
            raise InvalidInput(f"not valid YAML: {exc}".replace("\n", " "), field="1") from None
        if root is None:
            return None
        return _convert(loader, root)
    finally:
        loader.dispose()


def _convert(loader: yaml.SafeLoader, node: yaml.Node) -> YNode:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode):
        try:
            value = loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError):
            # e.g. 2026-02-30 looks like a date but is none; the text is checked later
            value = node.value
        return YScalar(line, str(node.value), value)
    if isinstance(node, yaml.SequenceNode):
        return YSeq(line, tuple(_convert(loader, n) for n in node.value))
    assert isinstance(node, yaml.MappingNode)
    items: dict[str, tuple[int, YNode]] = {}
    dups: list[tuple[str, int, int]] = []
    for key_node, value_node in node.value:
        key_line = key_node.start_mark.line + 1
        if not isinstance(key_node, yaml.ScalarNode):
            raise InvalidInput("keys must be plain text", field=str(key_line))
        key = str(key_node.value)
        if key in items:
            dups.append((key, key_line, items[key][0]))
            continue
        items[key] = (key_line, _convert(loader, value_node))
    return YMap(line, items, tuple(dups))

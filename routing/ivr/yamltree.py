"""A YAML tree that remembers lines, read within limits a hostile file cannot get past.

``yaml.safe_load`` gives plain dicts: no line numbers, and a repeated key silently
replaces the first (fatal for an IVR menu with two ``"1":`` options). ``compose`` walks
``yaml.compose``'s node graph instead and keeps, for every value, its 1-based line, the
text as written and the value as YAML resolves it, plus the duplicated keys it saw.

Every file is read within :class:`Limits`, checked while PyYAML composes (so nothing is
built past a limit):

* ``max_bytes`` — a bigger file is refused before it is parsed;
* ``max_depth`` — PyYAML's composer recurses once per level, so 5,000 nested ``[``
  would raise ``RecursionError`` out of it; we stop at the limit instead;
* ``max_values`` — the number of values *with every alias expanded*. Aliases share
  nodes, so a 357-byte "billion laughs" composes to a few dozen nodes but expands to
  millions of values for whoever walks it as a tree. The expanded size of each node is
  summed bottom-up as it is composed (linear time), and an alias that refers to the
  value it is part of (``&a [*a]``, an endless tree) is refused.

A cooperative ``cancelled()`` callback is polled while composing, so a reload that runs
in a thread can be stopped at its time limit.

:func:`load_data` gives the same limits to loaders that want plain Python data (the
queue file).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from config.errors import InvalidInput

__all__ = [
    "DEFAULT_LIMITS",
    "Limits",
    "YMap",
    "YNode",
    "YScalar",
    "YSeq",
    "compose",
    "load_data",
    "read_limited",
]


@dataclass(frozen=True, slots=True)
class Limits:
    """How big a YAML file may be; the defaults fit an IVR script of ~10,000 nodes."""

    max_bytes: int = 1024 * 1024
    max_depth: int = 50
    max_values: int = 300_000


DEFAULT_LIMITS = Limits()

# How many composed nodes pass between two calls of ``cancelled()``.
_POLL_EVERY = 512


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


class _Stop(Exception):
    """A limit was crossed while composing; carries the line and the message."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader whose composer counts depth and expanded size as it goes."""

    def __init__(self, text: str, limits: Limits, cancelled: Callable[[], bool]) -> None:
        super().__init__(text)
        self._limits = limits
        self._cancelled = cancelled
        self._depth = 0
        self._composed = 0
        # id(node) -> number of values under it with aliases expanded; a node that is
        # being composed has no entry yet, which is how a self-referring alias shows.
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            node = super().compose_node(parent, index)
            if id(node) not in self._sizes:
                raise _Stop(
                    event.start_mark.line + 1,
                    f"alias *{event.anchor} refers to the value it is part of",
                )
            return node
        start = self.peek_event().start_mark  # type: ignore[no-untyped-call]
        self._depth += 1
        if self._depth > self._limits.max_depth:
            raise _Stop(start.line + 1, f"nested more than {self._limits.max_depth} levels deep")
        self._composed += 1
        if self._composed % _POLL_EVERY == 0 and self._cancelled():
            raise _Stop(start.line + 1, "reading stopped: the time limit was reached")
        node = super().compose_node(parent, index)
        self._depth -= 1
        size = 1
        if isinstance(node, yaml.SequenceNode):
            size += sum(self._sizes[id(child)] for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            size += sum(self._sizes[id(k)] + self._sizes[id(v)] for k, v in node.value)
        if size > self._limits.max_values:
            raise _Stop(
                start.line + 1,
                f"more than {self._limits.max_values} values once aliases are expanded",
            )
        self._sizes[id(node)] = size
        return node


def _never() -> bool:
    return False


def _compose_root(
    text: str, limits: Limits, cancelled: Callable[[], bool]
) -> tuple[_BoundedLoader, yaml.Node | None]:
    """The composed root and its loader (dispose it), or InvalidInput with the line."""
    if (
        len(text) > limits.max_bytes
        or len(text.encode("utf-8", "surrogatepass")) > limits.max_bytes
    ):
        raise InvalidInput(f"file is larger than {limits.max_bytes} bytes", field="1")
    try:
        loader = _BoundedLoader(text, limits, cancelled)
    except yaml.YAMLError as exc:  # e.g. control characters, refused before parsing
        raise InvalidInput(f"not valid YAML: {exc}".replace("\n", " "), field="1") from None
    try:
        return loader, loader.get_single_node()
    except _Stop as stop:
        loader.dispose()
        raise InvalidInput(stop.message, field=str(stop.line)) from None
    except yaml.MarkedYAMLError as exc:
        loader.dispose()
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise InvalidInput(
            f"not valid YAML: {exc.problem or exc.context}", field=str(line)
        ) from None
    except yaml.YAMLError as exc:
        loader.dispose()
        raise InvalidInput(f"not valid YAML: {exc}".replace("\n", " "), field="1") from None


def compose(
    text: str, limits: Limits = DEFAULT_LIMITS, cancelled: Callable[[], bool] = _never
) -> YNode | None:
    """Parse YAML text into a located tree (None for an empty document).

    Args:
        text: the document.
        limits: size, depth and expanded-size limits.
        cancelled: polled while composing; True stops with an error.

    Raises:
        InvalidInput: not YAML, over a limit, or a key that is not plain text; ``field``
            is the line.
    """
    loader, root = _compose_root(text, limits, cancelled)
    try:
        if root is None:
            return None
        return _convert(loader, root)
    finally:
        loader.dispose()


def load_data(
    text: str, limits: Limits = DEFAULT_LIMITS, cancelled: Callable[[], bool] = _never
) -> Any:
    """``yaml.safe_load`` within the limits: plain Python data (None for an empty document).

    Raises:
        InvalidInput: not YAML or over a limit; ``field`` is the line.
    """
    loader, root = _compose_root(text, limits, cancelled)
    try:
        if root is None:
            return None
        try:
            return loader.construct_document(root)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else 1
            raise InvalidInput(
                f"not valid YAML: {exc.problem or exc.context}", field=str(line)
            ) from None
        except (yaml.YAMLError, ValueError, TypeError) as exc:
            raise InvalidInput(f"not valid YAML: {exc}".replace("\n", " "), field="1") from None
    finally:
        loader.dispose()


def load_file(
    path: str | os.PathLike[str],
    limits: Limits = DEFAULT_LIMITS,
    cancelled: Callable[[], bool] = _never,
) -> Any:
    """A YAML file's plain data within the limits (None for an empty one): what the queue,
    evaluation-form and canned-response files are read with.

    Raises:
        InvalidInput: missing, unreadable, too big, not UTF-8 or not YAML; the message
            names the file and the line (``field`` is "-").
    """
    source = str(path)
    try:
        raw = read_limited(path, limits)
    except FileNotFoundError:
        raise InvalidInput(f"{source}: file not found", field="-") from None
    except OSError as exc:
        raise InvalidInput(f"{source}: cannot read ({exc.strerror})", field="-") from None
    except InvalidInput as exc:
        raise InvalidInput(f"{source}:{exc.field}: {exc}", field="-") from None
    try:
        return load_data(raw.decode("utf-8"), limits, cancelled)
    except UnicodeDecodeError:
        raise InvalidInput(f"{source}:1: not UTF-8 text", field="-") from None
    except InvalidInput as exc:
        raise InvalidInput(f"{source}:{exc.field}: {exc}", field="-") from None


def read_limited(path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS) -> bytes:
    """The bytes of a file, reading no more than ``max_bytes`` + 1 of them.

    Raises:
        InvalidInput: the file is larger than the limit (``field`` "1").
        OSError: the file cannot be read.
    """
    with open(path, "rb") as fh:
        data = fh.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:
        raise InvalidInput(f"file is larger than {limits.max_bytes} bytes", field="1")
    return data


def _convert(loader: yaml.SafeLoader, node: yaml.Node) -> YNode:
    # Recursion is bounded: the composer refused anything deeper than max_depth, and a
    # self-referring alias (the only way to go deeper through aliases) was refused too.
    line = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode):
        try:
            value = loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError):
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

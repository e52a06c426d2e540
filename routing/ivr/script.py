"""IVR scripts: the YAML format, its validator, and a library that reloads changed files.

Theory of operation: a script file is composed (``yaml.compose``, never ``yaml.load``)
into a small tree that remembers the line of every key and value and every duplicated
key — PyYAML's default loader would silently keep the last of two ``"1":`` menu
options. One pass over that tree checks each field against a per-kind table and builds
the typed nodes of :mod:`routing.ivr.nodes`; a second pass looks at the graph (missing
and unreachable nodes, menus with no way out, loops that never wait for the caller) and
at the prompt files. Every problem is a :class:`Problem` printed ``file:line: message``;
a file with any problem never becomes a :class:`Script`.

The format (one flow per file)::

    name: main                 # default: the file name
    start: greeting            # default: the first node
    language: en               # default language (fallback for prompts)
    languages: [en, ru]
    schedules:
      office:
        timezone: Europe/London
        weekly: {mon-fri: "09:00-18:00", sat: "10:00-13:00"}
        holidays: [2026-12-25, {date: 2026-12-24, hours: "09:00-13:00"}]
    variables: {brand: acme}
    nodes:
      greeting: {kind: play, prompts: [welcome], next: main_menu}
      ...

Node kinds and their fields are listed in ``routing.ivr.fields.KINDS``; the located tree
is :mod:`routing.ivr.yamltree`; ``ivr_scripts/README.md`` documents the format.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.errors import InvalidInput, NotFound, ScriptError
from routing.ivr.fields import (
    NAME,
    Bad,
    Ctx,
    Parser,
    Problem,
    build_node,
    p_name,
    p_variables,
    parse_schedule,
    report_dups,
)
from routing.ivr.hours import Schedule
from routing.ivr.nodes import (
    INPUT_KINDS,
    TERMINAL_KINDS,
    AnyNode,
    MenuNode,
    Script,
)
from routing.ivr.yamltree import YMap, YSeq, compose

__all__ = [
    "AUDIO_EXTENSIONS",
    "Problem",
    "ScriptLibrary",
    "check_files",
    "check_text",
    "load_script",
    "script_files",
]

log = logging.getLogger(__name__)

AUDIO_EXTENSIONS = (".wav", ".ulaw", ".alaw", ".gsm", ".sln", ".g722")
SCRIPT_SUFFIXES = (".yaml", ".yml")


# --- the whole file ------------------------------------------------------------------------------

_TOP_FIELDS = (
    "name",
    "description",
    "start",
    "language",
    "languages",
    "schedules",
    "variables",
    "nodes",
)


def _problems_and_script(
    file: str, text: str, prompts_dir: str, default_language: str
) -> tuple[list[Problem], Script | None]:
    ctx = Ctx(file)
    try:
        root = compose(text)
    except InvalidInput as exc:
        return [Problem(file, int(exc.field or 1), str(exc))], None
    if not isinstance(root, YMap):
        line = root.line if root is not None else 1
        return [Problem(file, line, "a script is a mapping with 'nodes'")], None
    report_dups(ctx, root)
    top = root.items
    for key, (line, _v) in top.items():
        if key not in _TOP_FIELDS:
            ctx.add(line, f"unknown field '{key}'; expected one of {', '.join(_TOP_FIELDS)}")

    def opt(key: str, parser: Parser, default: Any) -> Any:
        if key not in top:
            return default
        try:
            return parser(ctx, top[key][1])
        except Bad as bad:
            ctx.add(bad.line, bad.message)
            return default

    name = opt("name", p_name, Path(file).stem)
    language = opt("language", p_name, default_language)
    languages: tuple[str, ...] = (language,)
    if "languages" in top:
        lang_node = top["languages"][1]
        if isinstance(lang_node, YSeq) and lang_node.items:
            try:
                languages = tuple(p_name(ctx, i) for i in lang_node.items)
            except Bad as bad:
                ctx.add(bad.line, bad.message)
        else:
            ctx.add(lang_node.line, "languages must be a list, like [en, ru]")
        if language not in languages:
            ctx.add(top["languages"][0], f"default language '{language}' is not in languages")
    variables = opt("variables", p_variables, {})
    schedules: dict[str, Schedule] = {}
    if "schedules" in top:
        sched_node = top["schedules"][1]
        if isinstance(sched_node, YMap):
            report_dups(ctx, sched_node)
            for sname, (sline, sy) in sched_node.items.items():
                sched = parse_schedule(ctx, sname, sy, sline)
                if sched is not None:
                    schedules[sname] = sched
        else:
            ctx.add(sched_node.line, "schedules must map names to schedules")

    if "nodes" not in top:
        ctx.add(root.line, "a script needs 'nodes'")
        return sorted(ctx.problems), None
    nodes_line, nodes_y = top["nodes"]
    if not isinstance(nodes_y, YMap) or not nodes_y.items:
        ctx.add(nodes_line, "'nodes' must map node ids to nodes")
        return sorted(ctx.problems), None
    for key, line, first in nodes_y.duplicates:
        ctx.add(line, f"duplicate node id '{key}' (first at line {first})")
    node_lines = {nid: line for nid, (line, _y) in nodes_y.items.items()}
    nodes: dict[str, AnyNode] = {}
    for nid, (line, ny) in nodes_y.items.items():
        if not NAME.match(nid):
            ctx.add(line, f"node id {nid!r} is not a valid name (letters, digits, _ . -)")
            continue
        built = build_node(ctx, nid, ny, line)
        if built is not None:
            nodes[nid] = built

    start = next(iter(nodes_y.items))
    start_line = nodes_line
    if "start" in top:
        start_line = top["start"][0]
        start = opt("start", p_name, start)
    for target, line in ((start, start_line),):
        if target not in node_lines:
            ctx.add(line, f"start node '{target}' does not exist")
    for src, target, line in ctx.refs:
        if target not in node_lines:
            ctx.add(line, f"node '{src}' refers to missing node '{target}'")
    declared = top["schedules"][1] if "schedules" in top else None
    for sname, line in ctx.schedule_refs:
        # A declared schedule that failed to parse was reported where it is written.
        if not (isinstance(declared, YMap) and sname in declared.items):
            ctx.add(line, f"unknown schedule '{sname}'")
    for lang, line in ctx.language_refs:
        if lang not in languages:
            ctx.add(
                line,
                f"language '{lang}' is not one of the script's languages ({', '.join(languages)})",
            )

    graph = _graph(nodes_y, ctx.refs, node_lines)
    _check_reachable(ctx, graph, start, node_lines)
    _check_menus(ctx, nodes, graph)
    _check_loops(ctx, nodes, graph, node_lines)
    prompt_paths = _check_prompts(ctx, prompts_dir, language, languages)

    if ctx.problems:
        return sorted(set(ctx.problems)), None
    return [], Script(
        name=name,
        file=file,
        start=start,
        language=language,
        languages=languages,
        nodes=nodes,
        schedules=schedules,
        variables=variables,
        prompt_paths=prompt_paths,
        prompts_dir=prompts_dir,
    )


def _graph(
    nodes_y: YMap, refs: Iterable[tuple[str, str, int]], node_lines: Mapping[str, int]
) -> dict[str, list[str]]:
    graph: dict[str, list[str]] = {nid: [] for nid in nodes_y.items}
    for src, target, _line in refs:
        if src in graph and target in node_lines and target not in graph[src]:
            graph[src].append(target)
    return graph


def _check_reachable(
    ctx: Ctx, graph: Mapping[str, list[str]], start: str, node_lines: Mapping[str, int]
) -> None:
    if start not in graph:
        return
    seen = {start}
    todo = [start]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    for nid, line in node_lines.items():
        if nid not in seen:
            ctx.add(line, f"node '{nid}' is unreachable from start node '{start}'")


def _check_menus(ctx: Ctx, nodes: Mapping[str, AnyNode], graph: Mapping[str, list[str]]) -> None:
    for menu in nodes.values():
        if not isinstance(menu, MenuNode) or not menu.options:
            continue
        # A way out is an option from which some path reaches the end of the IVR without
        # coming back through this menu; on_fail does not count (callers must not have to
        # fail a menu to leave it).
        seen = {menu.id}
        todo = [t for t in menu.options.values() if t in graph]
        found = False
        while todo and not found:
            nid = todo.pop()
            if nid in seen:
                continue
            seen.add(nid)
            node = nodes.get(nid)
            if node is not None and node.kind in TERMINAL_KINDS:
                found = True
            todo.extend(graph.get(nid, []))
        if not found:
            ctx.add(
                menu.line,
                f"menu '{menu.id}' has no way out: no option leads to a queue, "
                "callback, voicemail, transfer or hangup",
            )


def _check_loops(
    ctx: Ctx,
    nodes: Mapping[str, AnyNode],
    graph: Mapping[str, list[str]],
    node_lines: Mapping[str, int],
) -> None:
    # Edges between nodes that never wait for a key press; any cycle among them would spin
    # the interpreter without the caller being able to do anything.
    quiet = {nid for nid, n in nodes.items() if n.kind not in INPUT_KINDS}
    sub = {nid: [t for t in graph[nid] if t in quiet] for nid in quiet}
    reported: set[str] = set()
    for first in sorted(quiet, key=lambda n: node_lines[n]):
        if first in reported:
            continue
        cycle = _cycle_from(first, sub)
        if cycle is None:
            continue
        reported.update(cycle)
        loop = " -> ".join([*cycle, cycle[0]])
        ctx.add(node_lines[first], f"loop waits for no input: {loop}")


def _cycle_from(start: str, sub: Mapping[str, list[str]]) -> list[str] | None:
    """A simple cycle through ``start`` in ``sub``, or None (iterative DFS)."""
    stack: list[tuple[str, int]] = [(start, 0)]
    path = [start]
    on_path = {start}
    visited: set[str] = set()
    while stack:
        nid, i = stack[-1]
        succ = sub[nid]
        if i == len(succ):
            stack.pop()
            path.pop()
            on_path.discard(nid)
            visited.add(nid)
            continue
        stack[-1] = (nid, i + 1)
        nxt = succ[i]
        if nxt == start:
            return list(path)
        if nxt in on_path or nxt in visited:
            continue
        stack.append((nxt, 0))
        path.append(nxt)
        on_path.add(nxt)
    return None


def _check_prompts(
    ctx: Ctx, prompts_dir: str, language: str, languages: Sequence[str]
) -> dict[str, dict[str, str]]:
    paths: dict[str, dict[str, str]] = {lang: {} for lang in languages}
    names = {name for name, _line in ctx.prompts}
    for lang in languages:
        for name in names:
            stem = os.path.join(prompts_dir, lang, name)
            if any(os.path.isfile(stem + ext) for ext in AUDIO_EXTENSIONS):
                paths[lang][name] = stem
    for name, line in ctx.prompts:
        if name not in paths.get(language, {}):
            exts = ", ".join(AUDIO_EXTENSIONS[1:])
            ctx.add(
                line,
                f"prompt '{name}' has no audio: no {name}.wav (or {exts}) in "
                f"{os.path.join(prompts_dir, language)}",
            )
    return paths


# --- public API ---------------------------------------------------------------------------------


def check_text(
    file: str, text: str, prompts_dir: str, default_language: str = "en"
) -> tuple[list[Problem], Script | None]:
    """Validate script text; returns its problems (sorted by line) and, if none, the Script."""
    return _problems_and_script(file, text, prompts_dir, default_language)


def check_files(
    paths: Iterable[str | os.PathLike[str]],
    prompts_dir: str | os.PathLike[str],
    default_language: str = "en",
) -> list[Problem]:
    """Validate script files; every problem of every file, in file then line order.

    Args:
        paths: script files; each is reported under the name given.
        prompts_dir: the directory holding ``<lang>/<prompt>.wav``.
        default_language: the language of a script that names none.
    """
    out: list[Problem] = []
    for path in paths:
        name = os.fspath(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            out.append(Problem(name, 1, f"cannot read: {exc}"))
            continue
        problems, _script = _problems_and_script(
            name, text, os.fspath(prompts_dir), default_language
        )
        out.extend(problems)
    return out


def load_script(
    path: str | os.PathLike[str],
    prompts_dir: str | os.PathLike[str],
    default_language: str = "en",
) -> Script:
    """Load and validate one script file.

    Raises:
        ScriptError: the file cannot be read or does not validate; ``problems`` lists
            every ``file:line: message``.
    """
    name = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScriptError([f"{name}:1: cannot read: {exc}"]) from None
    problems, script = _problems_and_script(name, text, os.fspath(prompts_dir), default_language)
    if script is None:
        raise ScriptError([str(p) for p in problems])
    return script


def script_files(scripts_dir: str | os.PathLike[str]) -> list[Path]:
    """The script files directly in ``scripts_dir`` (``*.yaml``, ``*.yml``), sorted."""
    root = Path(scripts_dir)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.suffix in SCRIPT_SUFFIXES and p.is_file())


@dataclass(frozen=True, slots=True)
class _Loaded:
    digest: str
    script: Script | None
    problems: tuple[Problem, ...]


class ScriptLibrary:
    """The scripts the service is serving, reloaded when their files change.

    ``reload()`` re-reads files whose content changed (and retries invalid ones, since
    a missing prompt may have appeared). A new valid version replaces the old one; an
    invalid one is refused with a log line and the last valid version keeps serving.
    The library never reads the clock: call ``reload()`` every ``ivr.reload_interval``.
    """

    def __init__(
        self,
        scripts_dir: str | os.PathLike[str],
        prompts_dir: str | os.PathLike[str],
        *,
        default_language: str = "en",
        entries: Mapping[str, str] | None = None,
    ) -> None:
        self.scripts_dir = Path(scripts_dir)
        self.prompts_dir = os.fspath(prompts_dir)
        self.default_language = default_language
        self.entries = dict(entries or {"default": "main"})
        self._serving: dict[str, Script] = {}
        self._files: dict[Path, _Loaded] = {}

    @property
    def names(self) -> list[str]:
        return sorted(self._serving)

    def reload(self) -> list[Problem]:
        """Re-read changed scripts; returns the problems of the files refused this time."""
        refused: list[Problem] = []
        present = set(script_files(self.scripts_dir))
        for path in sorted(present):
            try:
                data = path.read_bytes()
            except OSError as exc:
                refused.append(Problem(str(path), 1, f"cannot read: {exc}"))
                continue
            digest = hashlib.sha256(data).hexdigest()
            old = self._files.get(path)
            if old is not None and old.digest == digest and old.script is not None:
                continue
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                problems: list[Problem] = [Problem(str(path), 1, "not UTF-8 text")]
                script = None
            else:
                problems, script = _problems_and_script(
                    str(path), text, self.prompts_dir, self.default_language
                )
            self._files[path] = _Loaded(digest, script, tuple(problems))
            if script is not None:
                self._serving[path.stem] = script
                if old is None or old.script is None or old.digest != digest:
                    log.info(
                        "IVR script loaded",
                        extra={"fields": {"script": path.stem, "file": str(path)}},
                    )
                continue
            refused.extend(problems)
            if old is None or old.problems != tuple(problems):
                keeping = (
                    "keeping the last valid version"
                    if path.stem in self._serving
                    else "no valid version to serve"
                )
                log.error(
                    f"IVR script refused; {keeping}",
                    extra={
                        "fields": {"script": path.stem, "problems": "; ".join(map(str, problems))}
                    },
                )
        for path in set(self._files) - present:
            del self._files[path]
            if self._serving.pop(path.stem, None) is not None:
                log.warning("IVR script removed", extra={"fields": {"script": path.stem}})
        return refused

    def get(self, name: str) -> Script:
        """The serving version of script ``name``.

        Raises:
            NotFound: no valid script of that name.
        """
        try:
            return self._serving[name]
        except KeyError:
            raise NotFound(f"no valid IVR script named {name!r}") from None

    def for_dialed(self, dialed: str) -> Script:
        """The entry script for a dialed number (DID) or extension, else ``default``.

        Raises:
            NotFound: neither the number nor ``default`` maps to a valid script.
        """
        name = self.entries.get(dialed) or self.entries.get("default")
        if name is None:
            raise NotFound(f"no IVR entry for {dialed!r} and no default")
        return self.get(name)

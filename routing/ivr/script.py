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

import difflib
import hashlib
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
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
from routing.ivr.graph import quiet_loops, trapped, unreachable_groups
from routing.ivr.hours import Schedule
from routing.ivr.nodes import (
    INPUT_KINDS,
    TERMINAL_KINDS,
    AnyNode,
    MenuNode,
    Script,
)
from routing.ivr.yamltree import DEFAULT_LIMITS, Limits, YMap, YSeq, compose

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
    file: str,
    text: str,
    prompts_dir: str,
    default_language: str,
    limits: Limits,
    cancelled: Callable[[], bool],
) -> tuple[list[Problem], Script | None]:
    ctx = Ctx(file)
    try:
        root = compose(text, limits, cancelled)
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
    if start not in node_lines:
        ctx.add(
            start_line, f"start node '{start}' does not exist{_did_you_mean(start, node_lines)}"
        )
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
    missing = _missing_refs(ctx, node_lines)
    _check_menus(ctx, nodes, graph, missing)
    _check_loops(ctx, nodes, graph, node_lines)
    prompt_paths = _check_prompts(ctx, prompts_dir, language, languages)
    # Unreachable nodes are most often a consequence (of a misspelt name above), so they
    # come after the causes, one line per stranded group.
    folded = _unreachable(ctx.file, graph, start, node_lines, missing)

    if ctx.problems or folded:
        return sorted(set(ctx.problems)) + folded, None
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
    targets: dict[str, dict[str, None]] = {nid: {} for nid in nodes_y.items}
    for src, target, _line in refs:
        if src in targets and target in node_lines:
            targets[src][target] = None  # an ordered set: a menu may have 10,000 options
    return {nid: list(t) for nid, t in targets.items()}


@dataclass(frozen=True, slots=True)
class _Missing:
    """The references to nodes that do not exist: name -> line of its first use, and
    name -> the existing node it probably meant."""

    lines: dict[str, int]
    meant: dict[str, str]

    def __contains__(self, name: object) -> bool:
        return name in self.lines


_HINTED = 20  # missing names given a "did you mean" (each costs a pass over the names)


def _did_you_mean(name: str, node_lines: Mapping[str, int]) -> str:
    hint = difflib.get_close_matches(name, node_lines, n=1)
    return f" (did you mean '{hint[0]}'?)" if hint else ""


def _missing_refs(ctx: Ctx, node_lines: Mapping[str, int]) -> _Missing:
    """Report references to missing nodes with the name they probably meant."""
    missing = _Missing({}, {})
    for src, target, line in ctx.refs:
        if target in node_lines:
            continue
        if target not in missing.lines:
            missing.lines[target] = line
            if len(missing.lines) <= _HINTED:
                hint = difflib.get_close_matches(target, node_lines, n=1)
                if hint:
                    missing.meant[target] = hint[0]
        meant = missing.meant.get(target)
        guess = f" (did you mean '{meant}'?)" if meant else ""
        ctx.add(line, f"node '{src}' refers to missing node '{target}'{guess}")
    return missing


def _unreachable(
    file: str,
    graph: Mapping[str, list[str]],
    start: str,
    node_lines: Mapping[str, int],
    missing: _Missing,
) -> list[Problem]:
    if start not in graph:
        return []  # the missing start node was reported; everything else would follow
    misspelt = {meant: name for name, meant in missing.meant.items()}
    out = []
    for entry, followers in unreachable_groups(graph, start, list(node_lines)):
        message = f"node '{entry}' is unreachable from start node '{start}'"
        typo = misspelt.get(entry)
        if typo is not None:
            message += f" (misspelt as '{typo}' at line {missing.lines[typo]}?)"
        if followers:
            names = ", ".join(followers[:_LISTED])
            more = f" and {len(followers) - _LISTED} more" if len(followers) > _LISTED else ""
            message += f"; so are the {len(followers)} node(s) reached from it: {names}{more}"
        out.append(Problem(file, node_lines[entry], message))
    return out


_LISTED = 5  # follow-on nodes named in a folded "unreachable" line


def _check_menus(
    ctx: Ctx,
    nodes: Mapping[str, AnyNode],
    graph: Mapping[str, list[str]],
    missing: _Missing,
) -> None:
    # A way out is an option from which some path reaches the end of the IVR without
    # coming back through this menu; on_fail does not count (callers must not have to
    # fail a menu to leave it). A menu with an option to a missing node was reported
    # there: fixing that name may well be its way out.
    menus = {
        menu.id: list(menu.options.values())
        for menu in nodes.values()
        if isinstance(menu, MenuNode)
        and menu.options
        and not any(t in missing for t in menu.options.values())
    }
    exits = [nid for nid, node in nodes.items() if node.kind in TERMINAL_KINDS]
    for menu_id in trapped(graph, exits, menus):
        ctx.add(
            nodes[menu_id].line,
            f"menu '{menu_id}' has no way out: no option leads to a queue, "
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
    sub = {nid: [t for t in graph[nid] if t in quiet] for nid in node_lines if nid in quiet}
    for cycle in quiet_loops(sub, [nid for nid in node_lines if nid in quiet]):
        loop = " -> ".join([*cycle, cycle[0]])
        ctx.add(node_lines[cycle[0]], f"loop waits for no input: {loop}")


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


def _never() -> bool:
    return False


def check_text(
    file: str,
    text: str,
    prompts_dir: str,
    default_language: str = "en",
    *,
    limits: Limits = DEFAULT_LIMITS,
    cancelled: Callable[[], bool] = _never,
) -> tuple[list[Problem], Script | None]:
    """Validate script text; returns its problems (causes by line, then the unreachable
    nodes they strand) and, if none, the Script.

    Args:
        limits: size, nesting and alias-expansion limits of the YAML.
        cancelled: polled while reading; True stops the check with a problem.
    """
    try:
        return _problems_and_script(file, text, prompts_dir, default_language, limits, cancelled)
    except (RecursionError, MemoryError) as exc:
        # The limits should make this impossible; if they do not, the file is refused
        # with a line like any other problem instead of escaping as a traceback.
        return [Problem(file, 1, f"too complex to check ({type(exc).__name__})")], None


def _check_file(
    path: str | os.PathLike[str],
    prompts_dir: str,
    default_language: str,
    limits: Limits = DEFAULT_LIMITS,
    cancelled: Callable[[], bool] = _never,
) -> tuple[str, list[Problem], Script | None]:
    """Read (within ``limits.max_bytes``) and check one file: (digest, problems, script)."""
    name = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(limits.max_bytes + 1)  # enough to refuse a bigger file
    except OSError as exc:
        return "", [Problem(name, 1, f"cannot read: {exc}")], None
    digest = hashlib.sha256(data).hexdigest()
    if len(data) > limits.max_bytes:
        return digest, [Problem(name, 1, f"file is larger than {limits.max_bytes} bytes")], None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return digest, [Problem(name, 1, "not UTF-8 text")], None
    problems, script = check_text(
        name, text, prompts_dir, default_language, limits=limits, cancelled=cancelled
    )
    return digest, problems, script


def check_files(
    paths: Iterable[str | os.PathLike[str]],
    prompts_dir: str | os.PathLike[str],
    default_language: str = "en",
) -> list[Problem]:
    """Validate script files; every problem of every file, in file order.

    Args:
        paths: script files; each is reported under the name given.
        prompts_dir: the directory holding ``<lang>/<prompt>.wav``.
        default_language: the language of a script that names none.
    """
    out: list[Problem] = []
    for path in paths:
        _digest, problems, _script = _check_file(path, os.fspath(prompts_dir), default_language)
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
    _digest, problems, script = _check_file(path, os.fspath(prompts_dir), default_language)
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
    prompts: str  # the prompts fingerprint the file was checked against


TIME_LIMIT_PROBLEM = (
    "checking took longer than the reload time limit; refused until the file changes"
)


class ScriptLibrary:
    """The scripts the service is serving, reloaded when their files change.

    ``reload()`` re-reads files whose content changed, and retries invalid ones when the
    prompt files changed (a missing prompt may have appeared) — never an unchanged bad
    file against unchanged prompts, so a hostile file costs one check, not one every
    reload. A new valid version replaces the old one; an invalid one is refused with a
    log line and the last valid version keeps serving.

    ``reload()`` may run in a worker thread while the event loop reads: it builds new
    tables and swaps them in with one assignment each, so readers see the old or the new
    version, never half of one. Run one ``reload()`` at a time. The library never reads
    the clock: call ``reload()`` every ``ivr.reload_interval`` (``routing.reloader`` does,
    off the loop, with a time limit).
    """

    def __init__(
        self,
        scripts_dir: str | os.PathLike[str],
        prompts_dir: str | os.PathLike[str],
        *,
        default_language: str = "en",
        entries: Mapping[str, str] | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.scripts_dir = Path(scripts_dir)
        self.prompts_dir = os.fspath(prompts_dir)
        self.default_language = default_language
        self.entries = dict(entries or {"default": "main"})
        self.limits = limits
        self._serving: dict[str, Script] = {}
        self._files: dict[Path, _Loaded] = {}

    @property
    def names(self) -> list[str]:
        return sorted(self._serving)

    def reload(self, cancelled: Callable[[], bool] = _never) -> list[Problem]:
        """Re-read changed scripts; returns the problems of the files refused now.

        Args:
            cancelled: polled while checking; once True, the file being checked is
                refused (until it changes) and the remaining files wait for the next
                reload.
        """
        refused: list[Problem] = []
        files = dict(self._files)
        serving = dict(self._serving)
        present = set(script_files(self.scripts_dir))
        prompts = self._prompts_fingerprint()
        for path in sorted(present):
            if cancelled():
                break
            old = files.get(path)
            try:
                digest = _file_digest(path, self.limits)
            except OSError as exc:
                refused.append(Problem(str(path), 1, f"cannot read: {exc}"))
                continue
            if (
                old is not None
                and old.digest == digest
                and (old.script is not None or old.prompts == prompts)
            ):
                refused.extend(old.problems)  # unchanged: valid, or refused for good
                continue
            digest, problems, script = _check_file(
                path, self.prompts_dir, self.default_language, self.limits, cancelled
            )
            if script is None and cancelled():
                problems = [Problem(str(path), 1, TIME_LIMIT_PROBLEM)]
            loaded = _Loaded(digest, script, tuple(problems), prompts)
            if digest:
                files[path] = loaded
            if script is not None:
                serving[path.stem] = script
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
                    if path.stem in serving
                    else "no valid version to serve"
                )
                log.error(
                    f"IVR script refused; {keeping}",
                    extra={
                        "fields": {"script": path.stem, "problems": "; ".join(map(str, problems))}
                    },
                )
        for path in set(files) - present:
            del files[path]
            if serving.pop(path.stem, None) is not None:
                log.warning("IVR script removed", extra={"fields": {"script": path.stem}})
        self._files = files
        self._serving = serving
        return refused

    def _prompts_fingerprint(self) -> str:
        """A digest of the names of every file under the prompts directory."""
        names: list[str] = []
        for folder, _dirs, files in os.walk(self.prompts_dir):
            names.extend(os.path.join(folder, f) for f in files)
        return hashlib.sha256(
            "\0".join(sorted(names)).encode("utf-8", "surrogateescape")
        ).hexdigest()

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


def _file_digest(path: Path, limits: Limits) -> str:
    """The digest of a file's first ``max_bytes`` + 1 bytes (enough to see a change)."""
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read(limits.max_bytes + 1)).hexdigest()

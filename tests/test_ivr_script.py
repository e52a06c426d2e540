"""The script validator (exact ``file:line: message``), the loader and the reloading library."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from config.errors import NotFound, ScriptError
from routing.ivr import script as script_module
from routing.ivr.nodes import MenuNode
from routing.ivr.script import (
    TIME_LIMIT_PROBLEM,
    ScriptLibrary,
    check_files,
    check_text,
    compose,
    load_script,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    root = tmp_path / "prompts"
    (root / "en").mkdir(parents=True)
    for name in ("welcome", "menu", "bye"):
        (root / "en" / f"{name}.wav").write_bytes(b"RIFF")
    (root / "en" / "hold.ulaw").write_bytes(b"\xff")
    return root


def check(tmp_path: Path, prompts: Path, text: str, name: str = "s.yaml") -> list[str]:
    path = tmp_path / name
    path.write_text(text)
    return [str(p) for p in check_files([path], prompts)]


GOOD = """\
start: hi
nodes:
  hi: {kind: play, prompts: welcome, next: m}
  m:
    kind: menu
    prompts: [menu]
    options: {"1": q, "2": bye}
  q: {kind: queue, queue: sales, prompts: hold}
  bye: {kind: hangup, prompts: bye}
"""


def test_a_good_script_has_no_problems(tmp_path: Path, prompts: Path) -> None:
    assert check(tmp_path, prompts, GOOD) == []
    script = load_script(tmp_path / "s.yaml", prompts)
    assert script.name == "s" and script.start == "hi" and script.language == "en"
    menu = script.nodes["m"]
    assert isinstance(menu, MenuNode) and dict(menu.options) == {"1": "q", "2": "bye"}
    assert script.prompt("hold", "en") == str(prompts / "en" / "hold")


def test_shipped_scripts_are_valid() -> None:
    scripts = sorted((ROOT / "ivr_scripts").glob("*.yaml"))
    assert len(scripts) >= 2
    assert check_files(scripts, ROOT / "ivr_scripts" / "prompts") == []


def test_duplicate_digits_are_caught(tmp_path: Path, prompts: Path) -> None:
    text = GOOD.replace('options: {"1": q, "2": bye}', 'options:\n      1: q\n      "1": bye')
    assert check(tmp_path, prompts, text) == [
        "{}:9: duplicate digit '1' in menu 'm' (first at line 8)".format(tmp_path / "s.yaml"),
        "{}:11: node 'bye' is unreachable from start node 'hi'".format(tmp_path / "s.yaml"),
    ]


def test_every_kind_of_problem_with_its_line(tmp_path: Path, prompts: Path) -> None:
    text = """\
name: broken
start: hi
colour: blue
nodes:
  hi: {kind: play, prompts: [welcome, missing_prompt], next: m}
  m:
    kind: menu
    prompts: menu
    options: {"1": q, "2": nowhere, "x": q}
    retries: many
  q: {kind: queue, queue: sales, flavour: mint}
  loop_a: {kind: set, next: loop_b}
  loop_b: {kind: branch, cases: [{if: {var: x, eq: 1}, next: loop_a}], default: loop_a}
  trap:
    kind: menu
    prompts: menu
    options: {"1": trap, "2": loop_a}
    on_fail: bye
  bye: {kind: hangup}
  odd: {kind: dance}
  hi: {kind: hangup}
  c: {kind: collect, prompts: menu, variable: v, min: 5, max: 2, next: bye}
  t: {kind: transfer, target: "ext 12"}
  h: {kind: hours, schedule: office, open: bye}
"""
    f = tmp_path / "s.yaml"
    assert check(tmp_path, prompts, text) == [
        f"{f}:3: unknown field 'colour'; expected one of name, description, start, language, "
        "languages, schedules, variables, nodes",
        f"{f}:5: prompt 'missing_prompt' has no audio: no missing_prompt.wav (or .ulaw, .alaw, "
        f".gsm, .sln, .g722) in {prompts / 'en'}",
        f"{f}:9: node 'm' refers to missing node 'nowhere'",
        f"{f}:9: option 'x' is not 1-4 digits (0-9, *)",
        f"{f}:10: expected a whole number >= 0, got 'many'",
        f"{f}:11: unknown field 'flavour' in queue node 'q'; expected queue, priority, skills, "
        "prompts",
        f"{f}:12: loop waits for no input: loop_a -> loop_b -> loop_a",
        f"{f}:14: menu 'trap' has no way out: no option leads to a queue, callback, voicemail, "
        "transfer or hangup",
        f"{f}:20: unknown node kind 'dance'; expected one of play, menu, collect, lookup, branch, "
        "hours, set, queue, callback, voicemail, transfer, hangup",
        f"{f}:21: duplicate node id 'hi' (first at line 5)",
        f"{f}:22: collect node 'c': min 5 > max 2",
        f"{f}:23: transfer target 'ext 12' is not an extension or +E.164 number",
        f"{f}:24: hours node 'h' needs 'closed'",
        f"{f}:24: unknown schedule 'office'",
        # the consequences after the causes, one line per stranded group
        f"{f}:14: node 'trap' is unreachable from start node 'hi'; so are the 3 node(s) "
        "reached from it: loop_a, loop_b, bye",
        f"{f}:20: node 'odd' is unreachable from start node 'hi'",
        f"{f}:22: node 'c' is unreachable from start node 'hi'",
        f"{f}:23: node 't' is unreachable from start node 'hi'",
        f"{f}:24: node 'h' is unreachable from start node 'hi'",
    ]


def test_structural_errors(tmp_path: Path, prompts: Path) -> None:
    f = tmp_path / "s.yaml"
    assert check(tmp_path, prompts, "nodes: [1, 2]\n") == [
        f"{f}:1: 'nodes' must map node ids to nodes"
    ]
    assert check(tmp_path, prompts, "- a\n") == [f"{f}:1: a script is a mapping with 'nodes'"]
    assert check(tmp_path, prompts, "") == [f"{f}:1: a script is a mapping with 'nodes'"]
    assert check(tmp_path, prompts, "nodes:\n  a: {kind: play\n") == [
        f"{f}:3: not valid YAML: expected ',' or '}}', but got '<stream end>'"
    ]
    assert check(tmp_path, prompts, "start: zz\nnodes:\n  a: {kind: hangup}\n") == [
        f"{f}:1: start node 'zz' does not exist",
    ]
    assert check(tmp_path, prompts, "nodes:\n  a: {prompts: x}\n") == [
        f"{f}:2: node 'a' has no 'kind'; expected one of play, menu, collect, lookup, branch, "
        "hours, set, queue, callback, voicemail, transfer, hangup"
    ]


def test_missing_required_fields_and_bad_conditions(tmp_path: Path, prompts: Path) -> None:
    text = """\
nodes:
  b:
    kind: branch
    cases:
      - if: {var: x}
        next: z
      - if: {gt: 3}
        next: z
      - if: {queue: sales}
        next: z
      - if: {wait_over: 3}
        next: z
      - if: {weather: sunny}
        next: z
      - {next: z}
    default: z
  z: {kind: lookup, by: account, next: q}
  q: {kind: queue}
"""
    f = tmp_path / "s.yaml"
    assert check(tmp_path, prompts, text) == [
        f"{f}:5: 'var' needs exactly one of eq, ne, in, not_in, gt, ge, lt, le, set",
        f"{f}:7: 'gt' needs a 'var' to compare",
        f"{f}:9: 'queue' needs one of wait_over, wait_under, agents_ready_over, "
        "agents_ready_under, waiting_over, waiting_under",
        f"{f}:11: 'wait_over' needs a 'queue'",
        f"{f}:13: unknown condition 'weather'; expected one of var, eq, ne, in, not_in, gt, ge, "
        "lt, le, set, tier, open, closed, queue, wait_over, wait_under, agents_ready_over, "
        "agents_ready_under, waiting_over, waiting_under, all, any, not",
        f"{f}:15: a case of branch 'b' needs 'if' and 'next'",
        f"{f}:17: lookup node 'z' by account needs 'from' (the variable to look up)",
        f"{f}:18: queue node 'q' needs 'queue'",
    ]


def test_schedules_and_languages(tmp_path: Path, prompts: Path) -> None:
    text = """\
language: en
languages: [en, ru]
schedules:
  office:
    timezone: Mars/Olympus
    weekly: {mon-fri: "09:00-17:00"}
  shop:
    timezone: UTC
    weekly: {mon-fri: "09:00-25:00", funday: "10:00-11:00"}
  late:
    timezone: UTC
    weekly: {mon: "10:00-12:00", mon-tue: closed}
  xmas:
    timezone: UTC
    weekly: {daily: "10:00-12:00"}
    holidays: [2026-12-25, 2026-02-30]
nodes:
  l: {kind: set, language: de, next: h}
  h: {kind: hours, schedule: office, open: x, closed: x}
  x: {kind: hangup}
"""
    f = tmp_path / "s.yaml"
    assert check(tmp_path, prompts, text) == [
        f"{f}:4: schedule 'office': unknown time zone 'Mars/Olympus'",
        f"{f}:9: schedule 'shop', mon-fri: time out of range in '09:00-25:00'",
        f"{f}:10: schedule 'late': mon is given twice in the weekly hours",
        f"{f}:16: schedule 'xmas': expected a date like 2026-12-25, got '2026-02-30'",
        f"{f}:18: language 'de' is not one of the script's languages (en, ru)",
    ]


def test_compose_keeps_lines_and_text() -> None:
    tree = compose("a:\n  on: yes\n  '1': 2\n")
    assert tree is not None and tree.line == 1
    inner = tree.items["a"][1]  # type: ignore[union-attr]
    assert inner.items["on"][0] == 2  # type: ignore[union-attr]
    scalar = inner.items["on"][1]  # type: ignore[union-attr]
    assert scalar.text == "yes" and scalar.value is True  # type: ignore[union-attr]


def test_load_script_raises_script_error(tmp_path: Path, prompts: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("nodes:\n  a: {kind: play, prompts: welcome}\n")
    with pytest.raises(ScriptError) as info:
        load_script(path, prompts)
    assert info.value.problems == [f"{path}:2: play node 'a' needs 'next'"]
    with pytest.raises(ScriptError) as info:
        load_script(tmp_path / "absent.yaml", prompts)
    assert info.value.problems[0].startswith(f"{tmp_path / 'absent.yaml'}:1: cannot read:")


def test_library_reloads_and_keeps_the_last_valid_version(
    tmp_path: Path, prompts: Path, caplog: pytest.LogCaptureFixture
) -> None:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    main = scripts / "main.yaml"
    main.write_text(GOOD)
    (scripts / "vip.yml").write_text("nodes:\n  q: {kind: queue, queue: vip}\n")
    (scripts / "notes.txt").write_text("not a script")
    lib = ScriptLibrary(scripts, prompts, entries={"default": "main", "5001": "vip"})
    assert lib.reload() == []
    assert lib.names == ["main", "vip"]
    first = lib.get("main")
    assert lib.for_dialed("5001").name == "vip" and lib.for_dialed("999") is first

    assert lib.reload() == [] and lib.get("main") is first  # unchanged: not re-parsed

    main.write_text(GOOD.replace("queue: sales", "queue: support"))
    assert lib.reload() == []
    second = lib.get("main")
    assert second is not first and second.nodes["q"].queue == "support"  # type: ignore[union-attr]

    caplog.set_level(logging.INFO, logger="routing.ivr.script")
    main.write_text(GOOD.replace("next: m", "next: gone"))
    refused = lib.reload()
    assert next(str(p) for p in refused) == f"{main}:3: node 'hi' refers to missing node 'gone'"
    assert lib.get("main") is second  # the last valid version keeps serving
    assert any("refused" in r.getMessage() for r in caplog.records)
    caplog.clear()
    assert lib.reload() != []  # still invalid: reported again, logged once
    assert not any("refused" in r.getMessage() for r in caplog.records)

    main.write_text(GOOD)
    assert lib.reload() == [] and lib.get("main").nodes["q"].queue == "sales"  # type: ignore[union-attr]

    os.unlink(scripts / "vip.yml")
    lib.reload()
    with pytest.raises(NotFound):
        lib.get("vip")
    with pytest.raises(NotFound):
        lib.for_dialed("5001")  # mapped to a script that is gone: no silent fallback


def test_library_retries_when_a_missing_prompt_appears(tmp_path: Path, prompts: Path) -> None:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "main.yaml").write_text(GOOD.replace("prompts: bye", "prompts: later"))
    lib = ScriptLibrary(scripts, prompts)
    assert len(lib.reload()) == 1
    with pytest.raises(NotFound):
        lib.for_dialed("123")
    (prompts / "en" / "later.wav").write_bytes(b"RIFF")
    assert lib.reload() == []
    assert lib.for_dialed("123").name == "main"


# --- hostile and careless files: limits, linear checks, folded follow-on problems -------------


def test_a_misspelt_node_name_gives_its_cause_first_and_one_folded_consequence(
    tmp_path: Path,
) -> None:
    shipped = (ROOT / "ivr_scripts" / "main.yaml").read_text()
    path = tmp_path / "main.yaml"
    path.write_text(shipped.replace("next: check_hours", "next: chek_hours"))
    problems = [str(p) for p in check_files([path], ROOT / "ivr_scripts" / "prompts")]
    assert problems == [
        f"{path}:26: node 'welcome' refers to missing node 'chek_hours' "
        "(did you mean 'check_hours'?)",
        f"{path}:28: node 'check_hours' is unreachable from start node 'welcome' (misspelt as "
        "'chek_hours' at line 26?); so are the 27 node(s) reached from it: after_hours, "
        "holiday, choose_language, english, russian and 22 more",
    ]


def test_a_menu_with_an_option_to_a_missing_node_is_not_also_called_a_trap(
    tmp_path: Path, prompts: Path
) -> None:
    text = 'nodes:\n  m: {kind: menu, prompts: menu, options: {"1": m, "2": byee}}\n'
    text += "  bye: {kind: hangup}\n"
    f = tmp_path / "s.yaml"
    assert check(tmp_path, prompts, text) == [
        f"{f}:2: node 'm' refers to missing node 'byee' (did you mean 'bye'?)",
        f"{f}:3: node 'bye' is unreachable from start node 'm' (misspelt as 'byee' at line 2?)",
    ]


def test_nesting_past_the_limit_is_a_problem_not_a_recursion_error(
    tmp_path: Path, prompts: Path
) -> None:
    text = "nodes:\n  h: {kind: hangup}\nvariables:\n  x: " + "[" * 5000 + "]" * 5000 + "\n"
    assert check(tmp_path, prompts, text) == [
        f"{tmp_path / 's.yaml'}:4: nested more than 50 levels deep"
    ]


BOMB = "".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n',
        *(
            f"{n}: &{n} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
            for p, n in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)


def test_an_alias_bomb_is_refused_at_once(tmp_path: Path, prompts: Path) -> None:
    assert len(BOMB) < 400  # 9**9 "lol"s once expanded
    started = time.perf_counter()
    problems = check(tmp_path, prompts, BOMB + "nodes: {h: {kind: hangup}}\n")
    assert time.perf_counter() - started < 0.5
    assert problems == [
        f"{tmp_path / 's.yaml'}:6: more than 300000 values once aliases are expanded"
    ]


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path: Path, prompts: Path) -> None:
    text = "nodes:\n  h: {kind: hangup}\nvariables: &v {x: *v}\n"
    assert check(tmp_path, prompts, text) == [
        f"{tmp_path / 's.yaml'}:3: alias *v refers to the value it is part of"
    ]


def test_a_file_over_the_size_limit_is_not_parsed(tmp_path: Path, prompts: Path) -> None:
    text = GOOD + "#" * (1024 * 1024) + "\n"
    assert check(tmp_path, prompts, text) == [
        f"{tmp_path / 's.yaml'}:1: file is larger than 1048576 bytes"
    ]


def big_script(nodes: int) -> str:
    """A valid script: a long chain of quiet nodes, then a chain of menus (on, or back to
    the first menu) and quiet nodes; the only way out is at the very end."""
    lines = ["nodes:"]
    for i in range(nodes):
        if i >= nodes * 3 // 4 and i % 2:
            lines.append(
                f"  n{i}: {{kind: menu, prompts: menu, options: {{'1': n{i + 1}, '2': n{nodes * 3 // 4 + 1}}}}}"
            )
        else:
            lines.append(f"  n{i}: {{kind: set, variables: {{x: '1'}}, next: n{i + 1}}}")
    lines.append(f"  n{nodes}: {{kind: hangup, prompts: bye}}")
    return "\n".join(lines) + "\n"


def test_validation_time_is_linear_in_the_number_of_nodes(
    prompts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """4,000 nodes: the checks after parsing took about 4 s with the old quadratic loop
    and menu searches, about 0.3 s now. (PyYAML's parsing, linear, is timed apart: it is
    done once, before the clock starts.)"""
    text = big_script(4000)
    tree = compose(text)
    monkeypatch.setattr(script_module, "compose", lambda *args: tree)
    started = time.perf_counter()
    problems, script = check_text("big.yaml", text, str(prompts))
    assert problems == [] and script is not None and len(script.nodes) == 4001
    assert time.perf_counter() - started < 2.0


def test_an_unchanged_bad_file_is_checked_once_not_on_every_reload(
    tmp_path: Path, prompts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "bomb.yaml").write_text(BOMB)
    (scripts / "main.yaml").write_text(GOOD.replace("prompts: bye", "prompts: later"))
    checked: list[str] = []
    real = script_module._check_file

    def counting(path: Path, *args: object) -> object:
        checked.append(path.name)
        return real(path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(script_module, "_check_file", counting)
    lib = ScriptLibrary(scripts, prompts)
    assert len(lib.reload()) == 2 and checked == ["bomb.yaml", "main.yaml"]
    assert len(lib.reload()) == 2 and checked == ["bomb.yaml", "main.yaml"]
    (prompts / "en" / "later.wav").write_bytes(b"RIFF")  # prompts changed: bad files retried
    assert [p.file for p in lib.reload()] == [str(scripts / "bomb.yaml")]
    assert checked[2:] == ["bomb.yaml", "main.yaml"] and lib.names == ["main"]


def test_a_reload_stopped_at_its_time_limit_refuses_that_file_until_it_changes(
    tmp_path: Path, prompts: Path
) -> None:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "a_big.yaml").write_text(big_script(600))
    (scripts / "b_next.yaml").write_text(GOOD)
    lib = ScriptLibrary(scripts, prompts)
    polls = 0

    def cancelled() -> bool:
        nonlocal polls
        polls += 1
        return polls > 3  # stop while reading the big file

    assert [str(p) for p in lib.reload(cancelled)] == [
        f"{scripts / 'a_big.yaml'}:1: {TIME_LIMIT_PROBLEM}"
    ]
    assert lib.names == []  # b_next waits for the next reload
    assert len(lib.reload()) == 1 and lib.names == ["b_next"]  # a_big: refused until changed
    (scripts / "a_big.yaml").write_text(big_script(601))
    assert lib.reload() == [] and lib.names == ["a_big", "b_next"]

"""Robustness: the validator never crashes on odd YAML; the interpreter never crashes on
odd event sequences (it answers or raises IllegalTransition and changes nothing)."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.errors import IllegalTransition
from routing.ivr import events as ev
from routing.ivr.interpreter import CallInfo, IvrSession
from routing.ivr.script import check_text, load_script

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = str(ROOT / "ivr_scripts" / "prompts")
KINDS = [
    "play",
    "menu",
    "collect",
    "lookup",
    "branch",
    "hours",
    "set",
    "queue",
    "callback",
    "voicemail",
    "transfer",
    "hangup",
    "dance",
]
FIELDS = [
    "prompts",
    "next",
    "options",
    "timeout",
    "retries",
    "variable",
    "min",
    "max",
    "by",
    "from",
    "cases",
    "default",
    "schedule",
    "open",
    "closed",
    "queue",
    "target",
    "skills",
    "priority",
    "language",
    "declined",
    "offer",
    "confirm",
    "enter_number",
    "check",
    "pattern",
    "if",
    "var",
    "eq",
    "on_fail",
    "weekly",
    "timezone",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 500),
    st.floats(allow_nan=False, width=32),
    st.sampled_from(["welcome", "a", "b", "c", "1", "vip", "09:00-17:00", "UTC", "luhn", "#"]),
    st.text(max_size=5),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from([*FIELDS, "1", "2"]), inner, max_size=4),
    ),
    max_leaves=12,
)
node = st.fixed_dictionaries({"kind": st.sampled_from(KINDS)}).flatmap(
    lambda base: st.dictionaries(st.sampled_from(FIELDS), values, max_size=5).map(
        lambda extra: {**extra, **base}
    )
)
documents = st.one_of(
    values,
    st.fixed_dictionaries(
        {"nodes": st.dictionaries(st.sampled_from(["a", "b", "c"]), node, max_size=3)},
        optional={"start": scalars, "schedules": values, "languages": values},
    ),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_validator_never_crashes(doc: object) -> None:
    text = yaml.safe_dump(doc, allow_unicode=True)
    problems, script = check_text("f.yaml", text, PROMPTS)
    assert (script is None) == bool(problems)
    for p in problems:
        assert p.file == "f.yaml" and p.line >= 1 and p.message


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_validator_survives_arbitrary_text(text: str) -> None:
    problems, script = check_text("f.yaml", text, PROMPTS)
    assert (script is None) == bool(problems)


MAIN = load_script(ROOT / "ivr_scripts" / "main.yaml", PROMPTS)
event_st = st.one_of(
    st.builds(ev.PlayDone, st.sampled_from([None, "1", "2", "#"])),
    st.builds(
        ev.Collected,
        st.sampled_from(["", "1", "2", "3", "9", "12345678", "2125550100"]),
        st.booleans(),
    ),
    st.builds(
        ev.LookupDone, st.sampled_from([None, {"tier": "vip"}, {"name": "x", "open_cases": "2"}])
    ),
    st.builds(ev.QueueState, st.sampled_from([0.0, 500.0]), st.integers(0, 3), st.integers(0, 9)),
    st.builds(ev.RecordDone, st.sampled_from(["", "/v/x.wav"])),
)


BY_TYPE = {
    ev.PlayDone: st.builds(ev.PlayDone, st.sampled_from([None, "1", "2", "#"])),
    ev.Collected: st.builds(
        ev.Collected,
        st.sampled_from(["", "1", "2", "3", "9", "12345678", "2125550100"]),
        st.booleans(),
    ),
    ev.LookupDone: st.builds(
        ev.LookupDone,
        st.sampled_from([None, {"tier": "vip"}, {"name": "x", "open_cases": "2"}]),
    ),
    ev.QueueState: st.builds(
        ev.QueueState, st.sampled_from([0.0, 500.0]), st.integers(0, 3), st.integers(0, 9)
    ),
    ev.RecordDone: st.builds(ev.RecordDone, st.sampled_from(["", "/v/x.wav"])),
}


@settings(max_examples=200, deadline=None)
@given(st.data(), st.integers(0, 7 * 24 * 3600), st.sampled_from(["en", "ru", "de", ""]))
def test_interpreter_answers_or_refuses(data: st.DataObject, offset: int, lang: str) -> None:
    now = 1_795_000_000.0 + offset
    s = IvrSession(MAIN, CallInfo(caller="+15550001111", language=lang), now)
    assert len(s.start(now)) == 1
    for _ in range(40):
        if s.finished:
            break
        expected = s._expect  # the event type the pending command is waiting for
        assert expected is not None
        event = data.draw(BY_TYPE[expected]) if data.draw(st.booleans()) else data.draw(event_st)
        before = (len(s.path), s.state, s.current_node)
        try:
            out = s.handle(event, now)
        except IllegalTransition:
            assert not isinstance(event, expected)
            assert (len(s.path), s.state, s.current_node) == before
            continue
        assert len(out) == 1
        now += 1
    if s.finished:
        assert s.outcome is not None
        assert s.path[-1].result  # the last step is closed with a result
    s.handle(ev.HungUp(), now + 1)
    assert s.finished and s.outcome is not None
    assert all(a.left_at <= b.entered_at for a, b in zip(s.path, s.path[1:], strict=False))

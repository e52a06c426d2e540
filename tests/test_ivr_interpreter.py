"""The pure IVR interpreter: events in, commands out, no event loop."""

from __future__ import annotations

import textwrap
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from config.errors import IllegalTransition
from routing.ivr.interpreter import (
    CallInfo,
    IvrSession,
    Outcome,
    SessionState,
    luhn_ok,
)
from routing.ivr.interpreter import commands as ivr_cmd
from routing.ivr.interpreter import events as ivr_ev
from routing.ivr.nodes import Script
from routing.ivr.script import check_text, load_script

ROOT = Path(__file__).resolve().parent.parent
KEYS = "0123456789*#"
PROMPTS_EN = [
    "welcome",
    "menu",
    "invalid",
    "no_input",
    "hold",
    "account",
    "offer",
    "confirm",
    "number",
    "booked",
    "bye",
    "closed",
    "thanks",
    "holiday",
]
PROMPTS_RU = ["welcome", "menu"]  # the rest falls back to English
LONDON = ZoneInfo("Europe/London")
# Monday 2026-11-23 10:00 London: the office is open.
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=LONDON).timestamp()


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    root = tmp_path / "prompts"
    for lang, names in (("en", PROMPTS_EN), ("ru", PROMPTS_RU)):
        (root / lang).mkdir(parents=True)
        for name in names:
            (root / lang / f"{name}.wav").write_bytes(b"RIFF")
    return root


def make(prompts: Path, body: str, head: str = "") -> Script:
    text = textwrap.dedent(head) + "nodes:\n" + textwrap.indent(textwrap.dedent(body), "  ")
    problems, script = check_text("t.yaml", text, str(prompts))
    assert not problems, [str(p) for p in problems]
    assert script is not None
    return script


def p(prompts: Path, name: str, lang: str = "en") -> str:
    return str(prompts / lang / name)


CALL = CallInfo(
    caller="+442071234567",
    dialed="5000",
    language="en",
    channel="PJSIP/t-1",
    uniqueid="1700000000.1",
)


def session(script: Script, call: CallInfo = CALL, now: float = MONDAY_10) -> IvrSession:
    return IvrSession(script, call, now)


# --- play ------------------------------------------------------------------------------------


def test_play_then_queue_records_the_path(prompts: Path) -> None:
    script = make(
        prompts,
        """
        hi: {kind: play, prompts: [welcome, hold], next: q}
        q: {kind: queue, queue: support}
    """,
    )
    s = session(script)
    assert s.start(100.0) == [ivr_cmd.Play((p(prompts, "welcome"), p(prompts, "hold")), KEYS)]
    assert s.state is SessionState.WAITING
    out = s.handle(ivr_ev.PlayDone(None), 103.5)
    assert out == [ivr_cmd.Enqueue("support", 0, {}, s.variables_for_routing())]
    assert s.outcome is Outcome.QUEUED and s.finished
    assert [
        (st.node, st.kind, st.digits, st.entered_at, st.left_at, st.result) for st in s.path
    ] == [
        ("hi", "play", "", 100.0, 103.5, "played"),
        ("q", "queue", "", 103.5, 103.5, "queued support"),
    ]
    assert s.path[0].to_json()["seconds"] == 3.5


def test_uninterruptible_play_and_interrupting_digit(prompts: Path) -> None:
    script = make(
        prompts,
        """
        a: {kind: play, prompts: welcome, interruptible: false, next: b}
        b: {kind: play, prompts: hold, next: c}
        c: {kind: hangup}
    """,
    )
    s = session(script)
    assert s.start(0) == [ivr_cmd.Play((p(prompts, "welcome"),), "")]
    assert s.handle(ivr_ev.PlayDone(None), 1) == [ivr_cmd.Play((p(prompts, "hold"),), KEYS)]
    assert s.handle(ivr_ev.PlayDone("5"), 2) == [ivr_cmd.Hangup("normal")]
    assert s.path[1].digits == "5" and s.path[1].result == "interrupted by 5"
    assert s.outcome is Outcome.HANGUP


def test_key_pressed_during_a_prompt_answers_the_next_menu(prompts: Path) -> None:
    script = make(
        prompts,
        """
        a: {kind: play, prompts: welcome, next: m}
        m: {kind: menu, prompts: menu, options: {"1": q}}
        q: {kind: queue, queue: sales}
    """,
    )
    s = session(script)
    s.start(0)
    out = s.handle(ivr_ev.PlayDone("1"), 1)
    assert isinstance(out[0], ivr_cmd.Enqueue)
    assert [(st.node, st.digits, st.result) for st in s.path] == [
        ("a", "1", "interrupted by 1"),
        ("m", "1", "option 1"),
        ("q", "", "queued sales"),
    ]
    skipped = session(script)
    skipped.start(0)
    # "#" only skipped the greeting: the menu is asked as usual
    assert skipped.handle(ivr_ev.PlayDone("#"), 1) == [
        ivr_cmd.Collect((p(prompts, "menu"),), 1, 5000, "#")
    ]


# --- menu ------------------------------------------------------------------------------------

MENU = """
    m:
      kind: menu
      prompts: menu
      options: {"1": sales, "2": support}
      timeout: 3
      retries: 2
      invalid: invalid
      no_input: no_input
      on_fail: bye
    sales: {kind: queue, queue: sales}
    support: {kind: queue, queue: support}
    bye: {kind: hangup, prompts: bye, reason: menu_failed}
"""


def test_menu_option(prompts: Path) -> None:
    s = session(make(prompts, MENU))
    assert s.start(0) == [ivr_cmd.Collect((p(prompts, "menu"),), 1, 3000, "#")]
    out = s.handle(ivr_ev.Collected("2"), 4)
    assert out == [ivr_cmd.Enqueue("support", 0, {}, s.variables_for_routing())]
    assert s.path[0].digits == "2" and s.path[0].result == "option 2"


def test_menu_invalid_then_no_input_then_valid(prompts: Path) -> None:
    s = session(make(prompts, MENU))
    s.start(0)
    again_invalid = s.handle(ivr_ev.Collected("9"), 1)
    assert again_invalid == [
        ivr_cmd.Collect((p(prompts, "invalid"), p(prompts, "menu")), 1, 3000, "#")
    ]
    again_silent = s.handle(ivr_ev.Collected("", timed_out=True), 5)
    assert again_silent == [
        ivr_cmd.Collect((p(prompts, "no_input"), p(prompts, "menu")), 1, 3000, "#")
    ]
    out = s.handle(ivr_ev.Collected("1"), 7)
    assert isinstance(out[0], ivr_cmd.Enqueue) and out[0].queue == "sales"
    assert s.path[0].digits == "9,1" and s.path[0].result == "option 1"


def test_menu_retries_exhausted_goes_to_on_fail(prompts: Path) -> None:
    s = session(make(prompts, MENU))
    s.start(0)
    s.handle(ivr_ev.Collected("", True), 3)
    s.handle(ivr_ev.Collected("7"), 6)
    out = s.handle(ivr_ev.Collected("", True), 9)
    assert out == [ivr_cmd.Play((p(prompts, "bye"),), "")]
    assert s.path[0].result == "failed: no input"
    assert s.handle(ivr_ev.PlayDone(None), 10) == [ivr_cmd.Hangup("menu_failed")]
    assert s.outcome is Outcome.HANGUP


def test_menu_without_on_fail_hangs_up_as_failed(prompts: Path) -> None:
    s = session(
        make(
            prompts,
            """
        m: {kind: menu, prompts: menu, options: {"1": q}, retries: 0}
        q: {kind: queue, queue: sales}
    """,
        )
    )
    s.start(0)
    assert s.handle(ivr_ev.Collected("3"), 1) == [ivr_cmd.Hangup("ivr_failed")]
    assert s.outcome is Outcome.FAILED and s.path[0].result == "failed: invalid input"


def test_multi_digit_menu_asks_for_the_longest_option(prompts: Path) -> None:
    s = session(
        make(
            prompts,
            """
        m: {kind: menu, prompts: menu, options: {"1": q, "42": q}}
        q: {kind: queue, queue: sales}
    """,
        )
    )
    assert s.start(0) == [ivr_cmd.Collect((p(prompts, "menu"),), 2, 5000, "#")]
    # "#" ended the input after one digit: GET DATA returns "1", not timed out.
    assert isinstance(s.handle(ivr_ev.Collected("1"), 1)[0], ivr_cmd.Enqueue)


# --- collect ---------------------------------------------------------------------------------

COLLECT = """
    acct:
      kind: collect
      prompts: account
      variable: account
      min: 6
      max: 8
      pattern: "[1-9][0-9]*"
      retries: 1
      invalid: invalid
      no_input: no_input
      next: q
      on_fail: q
    q: {kind: queue, queue: billing}
"""


def test_collect_stores_the_variable(prompts: Path) -> None:
    s = session(make(prompts, COLLECT))
    assert s.start(0) == [ivr_cmd.Collect((p(prompts, "account"),), 8, 5000, "#")]
    out = s.handle(ivr_ev.Collected("123456", timed_out=True), 4)
    assert isinstance(out[0], ivr_cmd.Enqueue)
    assert out[0].variables["account"] == "123456"
    assert s.path[0].digits == "123456" and s.path[0].result == "ok"


@pytest.mark.parametrize("bad", ["12345", "012345", "12a456"])
def test_collect_rejects_length_pattern_and_non_digits(prompts: Path, bad: str) -> None:
    s = session(make(prompts, COLLECT))
    s.start(0)
    out = s.handle(ivr_ev.Collected(bad), 1)
    assert out == [ivr_cmd.Collect((p(prompts, "invalid"), p(prompts, "account")), 8, 5000, "#")]
    assert "account" not in s.variables
    out = s.handle(ivr_ev.Collected(""), 2)
    assert isinstance(out[0], ivr_cmd.Enqueue)  # on_fail -> q
    assert s.path[0].result == "failed: no input"


def test_collect_luhn_masks_the_digits(prompts: Path) -> None:
    s = session(
        make(
            prompts,
            """
        card: {kind: collect, prompts: account, variable: card, min: 13, max: 19,
               check: luhn, next: q}
        q: {kind: queue, queue: billing}
    """,
        )
    )
    s.start(0)
    s.handle(ivr_ev.Collected("4111111111111112"), 1)  # fails Luhn
    out = s.handle(ivr_ev.Collected("4111111111111111"), 2)
    assert isinstance(out[0], ivr_cmd.Enqueue)
    assert s.variables["card"] == "4111111111111111"  # the interpreter may use it...
    assert out[0].variables["card"] == "************1111"  # ...routing never sees it
    assert s.path[0].digits == "************1112,************1111"


def test_luhn() -> None:
    assert luhn_ok("79927398713") and luhn_ok("4111111111111111")
    assert not luhn_ok("79927398710") and not luhn_ok("") and not luhn_ok("12a")


# --- lookup ----------------------------------------------------------------------------------

LOOKUP = """
    who: {kind: lookup, by: caller_id, use_language: true, next: tier, not_found: acct}
    acct: {kind: collect, prompts: account, variable: account, min: 4, max: 8, next: find}
    find: {kind: lookup, by: account, from: account, next: tier}
    tier:
      kind: branch
      cases:
        - {if: {tier: vip}, next: vip}
        - {if: {var: customer.open_cases, ge: 2}, next: busy}
      default: normal
    vip: {kind: queue, queue: vip, priority: 9}
    busy: {kind: queue, queue: support}
    normal: {kind: play, prompts: menu, next: end}
    end: {kind: hangup}
"""
HEAD = "language: en\nlanguages: [en, ru]\n"


def test_lookup_by_caller_id_sets_customer_variables_and_language(prompts: Path) -> None:
    s = session(make(prompts, LOOKUP, HEAD))
    assert s.start(0) == [ivr_cmd.Lookup("phone", "+442071234567")]
    out = s.handle(
        ivr_ev.LookupDone(
            {"id": 7, "name": "Ann", "tier": "gold", "language": "ru", "open_cases": [1, 2, 3]}
        ),
        1,
    )
    assert out == [ivr_cmd.Enqueue("support", 0, {}, s.variables_for_routing())]
    assert s.language == "ru"
    assert {k: v for k, v in s.variables.items() if k.startswith("customer.")} == {
        "customer.found": True,
        "customer.id": "7",
        "customer.name": "Ann",
        "customer.tier": "gold",
        "customer.language": "ru",
        "customer.open_cases": 3,
        "customer.verified": False,
    }


def test_lookup_not_found_then_by_account(prompts: Path) -> None:
    s = session(make(prompts, LOOKUP, HEAD))
    s.start(0)
    assert s.handle(ivr_ev.LookupDone(None), 1)[0] == ivr_cmd.Collect(
        (p(prompts, "account"),), 8, 5000, "#"
    )
    assert s.path[0].result == "not found" and s.variables["customer.found"] is False
    assert s.handle(ivr_ev.Collected("4321"), 2) == [ivr_cmd.Lookup("account", "4321")]
    out = s.handle(ivr_ev.LookupDone({"name": "Bo", "tier": "vip"}), 3)
    assert out[0] == ivr_cmd.Enqueue("vip", 9, {}, s.variables_for_routing())
    assert s.variables["customer.verified"] is True  # proved by the account number
    assert [st.node for st in s.path] == ["who", "acct", "find", "tier", "vip"]


def test_lookup_without_caller_id_skips_the_query(prompts: Path) -> None:
    s = session(make(prompts, LOOKUP, HEAD), CallInfo(caller="", language="en"))
    assert s.start(0) == [ivr_cmd.Collect((p(prompts, "account"),), 8, 5000, "#")]
    assert s.path[0].result == "not found"


# --- branch on queue state -------------------------------------------------------------------


def test_branch_queries_each_queue_once_then_decides(prompts: Path) -> None:
    s = session(
        make(
            prompts,
            """
        b:
          kind: branch
          cases:
            - if: {queue: sales, wait_over: 120}
              next: cb
            - if: {any: [{queue: support, agents_ready_under: 1}, {not: {var: vip, set: true}}]}
              next: vm
          default: q
        cb: {kind: queue, queue: sales, priority: 1}
        vm: {kind: voicemail}
        q: {kind: queue, queue: sales}
    """,
        )
    )
    assert s.start(0) == [ivr_cmd.QueryQueue("sales")]
    assert s.handle(ivr_ev.QueueState(30, 2, 1), 1) == [ivr_cmd.QueryQueue("support")]
    with pytest.raises(IllegalTransition):
        s.handle(ivr_ev.PlayDone(None), 1)
    out = s.handle(ivr_ev.QueueState(10, 0, 0), 2)
    assert out == [ivr_cmd.Record("general-2-1700000000-1", 120)]
    assert s.path[0].result == "case 2"
    assert s.variables["queue.sales.estimated_wait"] == 30


@pytest.mark.parametrize(
    ("cond", "variables", "expected"),
    [
        ("{var: n, gt: 3}", {"n": 4}, True),
        ("{var: n, gt: 3}", {"n": "3"}, False),
        ("{var: n, le: 3}", {"n": "3"}, True),
        ("{var: n, lt: 3}", {"n": "abc"}, False),
        ("{var: n, eq: 5}", {"n": "5"}, True),
        ("{var: n, ne: 5}", {}, True),
        ("{var: n, in: [a, b]}", {"n": "b"}, True),
        ("{var: n, not_in: [a, b]}", {"n": "c"}, True),
        ("{var: n, set: true}", {"n": ""}, False),
        ("{var: n, set: false}", {}, True),
        ("{var: f, eq: true}", {"f": True}, True),
        ("{all: [{var: n, gt: 1}, {var: n, lt: 9}]}", {"n": 5}, True),
        ("{var: n, gt: 1, tier: gold}", {"n": 5, "customer.tier": "silver"}, False),
    ],
)
def test_branch_conditions(
    prompts: Path, cond: str, variables: dict[str, object], expected: bool
) -> None:
    script = make(
        prompts,
        f"""
        b:
          kind: branch
          cases: [{{if: {cond}, next: yes}}]
          default: no
        yes: {{kind: hangup, reason: yes_}}
        no: {{kind: hangup, reason: no_}}
    """,
    )
    s = session(script)
    s.variables.update(variables)  # type: ignore[arg-type]
    assert s.start(0) == [ivr_cmd.Hangup("yes_" if expected else "no_")]


# --- hours -----------------------------------------------------------------------------------

HOURS_HEAD = """
schedules:
  office:
    timezone: America/New_York
    weekly: {mon-fri: "09:00-17:00"}
    holidays: [2026-11-26, {date: 2026-11-27, hours: "09:00-12:00"}]
"""
HOURS = """
    h: {kind: hours, schedule: office, open: o, closed: c, holiday: hol}
    o: {kind: hangup, reason: open}
    c: {kind: hangup, reason: closed}
    hol: {kind: hangup, reason: holiday}
"""


def ny(day: date, hh: int, mm: int = 0) -> float:
    return datetime.combine(day, time(hh, mm), ZoneInfo("America/New_York")).timestamp()


@pytest.mark.parametrize(
    ("now", "reason"),
    [
        (ny(date(2026, 11, 23), 9), "open"),  # Monday 09:00 New York
        (ny(date(2026, 11, 23), 8, 59), "closed"),
        (ny(date(2026, 11, 23), 17), "closed"),
        (ny(date(2026, 11, 28), 11), "closed"),  # Saturday
        (ny(date(2026, 11, 26), 11), "holiday"),  # Thanksgiving
        (ny(date(2026, 11, 27), 11), "open"),  # half day
        (ny(date(2026, 11, 27), 13), "holiday"),
        # 14:30 UTC: 09:30 in New York in winter (EST), 10:30 in summer (EDT)
        (datetime(2026, 1, 5, 13, 30, tzinfo=ZoneInfo("UTC")).timestamp(), "closed"),
        (datetime(2026, 7, 6, 13, 30, tzinfo=ZoneInfo("UTC")).timestamp(), "open"),
    ],
)
def test_hours_node(prompts: Path, now: float, reason: str) -> None:
    s = session(make(prompts, HOURS, HOURS_HEAD), now=now)
    assert s.start(now) == [ivr_cmd.Hangup(reason)]
    assert s.path[0].result == reason


def test_holiday_without_holiday_node_goes_to_closed(prompts: Path) -> None:
    script = make(
        prompts,
        """
        h: {kind: hours, schedule: office, open: o, closed: c}
        o: {kind: hangup, reason: open}
        c: {kind: hangup, reason: closed}
    """,
        HOURS_HEAD,
    )
    s = session(script)
    now = ny(date(2026, 11, 26), 11)
    assert s.start(now) == [ivr_cmd.Hangup("closed")]
    assert s.path[0].result == "holiday"


def test_branch_on_open_hours(prompts: Path) -> None:
    script = make(
        prompts,
        """
        b: {kind: branch, cases: [{if: {closed: office}, next: c}], default: o}
        o: {kind: hangup, reason: open}
        c: {kind: hangup, reason: closed}
    """,
        HOURS_HEAD,
    )
    assert session(script).start(ny(date(2026, 11, 23), 20)) == [ivr_cmd.Hangup("closed")]
    assert session(script).start(ny(date(2026, 11, 23), 10)) == [ivr_cmd.Hangup("open")]


# --- set, queue, transfer, hangup ------------------------------------------------------------


def test_set_then_queue_carries_priority_skills_variables(prompts: Path) -> None:
    script = make(
        prompts,
        """
        s1: {kind: set, variables: {topic: billing, n: 3}, language: ru, priority: 4,
             skills: [billing], next: s2}
        s2: {kind: set, skills: {english: 2}, next: q}
        q: {kind: queue, queue: billing, skills: {billing: 3}, prompts: hold}
    """,
        HEAD,
    )
    s = session(script)
    assert s.start(0) == [ivr_cmd.Play((p(prompts, "hold"),), "")]  # no ru/hold: falls back
    out = s.handle(ivr_ev.PlayDone(None), 1)
    assert len(out) == 1 and isinstance(out[0], ivr_cmd.Enqueue)
    assert out[0].priority == 4 and out[0].skills == {"billing": 3, "english": 2}
    assert out[0].variables["topic"] == "billing" and out[0].variables["language"] == "ru"
    assert out[0].variables["caller"] == "+442071234567"


def test_language_fallback_per_prompt(prompts: Path) -> None:
    script = make(
        prompts,
        """
        a: {kind: play, prompts: [welcome, hold], next: z}
        z: {kind: hangup}
    """,
        HEAD,
    )
    s = session(script, CallInfo(caller="1", language="ru"))
    assert s.start(0) == [ivr_cmd.Play((p(prompts, "welcome", "ru"), p(prompts, "hold")), KEYS)]
    unknown = session(script, CallInfo(caller="1", language="de"))
    assert unknown.language == "en"


def test_transfer(prompts: Path) -> None:
    s = session(make(prompts, "t: {kind: transfer, target: '+15551230000', prompts: hold}\n"))
    assert s.start(0) == [ivr_cmd.Play((p(prompts, "hold"),), "")]
    assert s.handle(ivr_ev.PlayDone(None), 1) == [ivr_cmd.Transfer("+15551230000")]
    assert s.outcome is Outcome.TRANSFERRED and s.path[0].result == "transferred to +15551230000"


def test_hangup_node_without_prompts(prompts: Path) -> None:
    s = session(make(prompts, "h: {kind: hangup, reason: closed}\n"))
    assert s.start(0) == [ivr_cmd.Hangup("closed")]
    assert s.outcome is Outcome.HANGUP


# --- callback --------------------------------------------------------------------------------

CALLBACK = """
    cb:
      kind: callback
      queue: support
      offer: offer
      confirm: confirm
      enter_number: number
      booked: booked
      invalid: invalid
      retries: 1
      declined: q
    q: {kind: queue, queue: support}
"""


def test_callback_to_the_calling_number(prompts: Path) -> None:
    s = session(make(prompts, CALLBACK))
    assert s.start(0) == [ivr_cmd.Collect((p(prompts, "offer"),), 1, 5000, "#")]
    assert s.handle(ivr_ev.Collected("1"), 1) == [
        ivr_cmd.Collect((p(prompts, "confirm"),), 1, 5000, "#")
    ]
    assert s.handle(ivr_ev.Collected("1"), 2) == [ivr_cmd.Play((p(prompts, "booked"),), "")]
    out = s.handle(ivr_ev.PlayDone(None), 3)
    assert out == [
        ivr_cmd.OfferCallback("support", "+442071234567", 0, {}, s.variables_for_routing())
    ]
    assert s.outcome is Outcome.CALLBACK
    assert s.path[0].digits == "1,1" and s.path[0].result == "callback support"


def test_callback_to_another_number_after_a_bad_one(prompts: Path) -> None:
    s = session(make(prompts, CALLBACK))
    s.start(0)
    s.handle(ivr_ev.Collected("1"), 1)
    assert s.handle(ivr_ev.Collected("2"), 2) == [
        ivr_cmd.Collect((p(prompts, "number"),), 15, 5000, "#")
    ]
    assert s.handle(ivr_ev.Collected("123"), 3) == [
        ivr_cmd.Collect((p(prompts, "invalid"), p(prompts, "number")), 15, 5000, "#")
    ]
    s.handle(ivr_ev.Collected("2125550100"), 4)
    out = s.handle(ivr_ev.PlayDone(None), 5)
    assert isinstance(out[0], ivr_cmd.OfferCallback) and out[0].number == "2125550100"


def test_callback_declined_and_anonymous_caller(prompts: Path) -> None:
    s = session(make(prompts, CALLBACK))
    s.start(0)
    out = s.handle(ivr_ev.Collected("2"), 1)
    assert isinstance(out[0], ivr_cmd.Enqueue) and s.path[0].result == "declined"

    anon = session(make(prompts, CALLBACK), CallInfo(caller="anonymous"))
    anon.start(0)
    assert anon.handle(ivr_ev.Collected("1"), 1) == [
        ivr_cmd.Collect((p(prompts, "number"),), 15, 5000, "#")
    ]
    anon.handle(ivr_ev.Collected(""), 2)
    out = anon.handle(ivr_ev.Collected("", True), 3)
    assert isinstance(out[0], ivr_cmd.Enqueue)
    assert anon.path[0].result == "declined: no valid number"


# --- voicemail -------------------------------------------------------------------------------

VOICEMAIL = """
    vm: {kind: voicemail, prompts: closed, box: sales, max_seconds: 60, after: thanks}
"""


def test_voicemail_records_and_links(prompts: Path) -> None:
    s = session(make(prompts, VOICEMAIL))
    assert s.start(50.9) == [ivr_cmd.Play((p(prompts, "closed"),), "")]
    assert s.handle(ivr_ev.PlayDone(None), 55) == [ivr_cmd.Record("sales-55-1700000000-1", 60)]
    assert s.handle(ivr_ev.RecordDone("/v/sales-55.wav"), 80) == [
        ivr_cmd.Play((p(prompts, "thanks"),), "")
    ]
    assert s.handle(ivr_ev.PlayDone(None), 82) == [ivr_cmd.Hangup("voicemail")]
    assert s.outcome is Outcome.VOICEMAIL and s.recording == "/v/sales-55.wav"
    assert s.variables["voicemail.path"] == "/v/sales-55.wav"
    assert s.path[0].result == "recorded"


def test_hanging_up_after_the_message_is_still_voicemail(prompts: Path) -> None:
    s = session(make(prompts, VOICEMAIL))
    s.start(0)
    s.handle(ivr_ev.PlayDone(None), 1)
    s.handle(ivr_ev.RecordDone("/v/x.wav"), 30)
    assert s.handle(ivr_ev.HungUp(), 31) == []
    assert s.outcome is Outcome.VOICEMAIL and s.path[-1].result == "recorded"


def test_hanging_up_during_the_intro_is_abandoned(prompts: Path) -> None:
    s = session(make(prompts, VOICEMAIL))
    s.start(0)
    s.handle(ivr_ev.HungUp(), 2)
    assert s.outcome is Outcome.ABANDONED and s.recording is None


# --- state machine discipline ---------------------------------------------------------------


def test_wrong_event_changes_nothing(prompts: Path) -> None:
    s = session(make(prompts, MENU))
    s.start(0)
    before = (list(s.path), dict(s.variables), s.state, s.current_node)
    for wrong in (
        ivr_ev.PlayDone("1"),
        ivr_ev.LookupDone(None),
        ivr_ev.RecordDone("x"),
        ivr_ev.QueueState(1, 1),
    ):
        with pytest.raises(IllegalTransition):
            s.handle(wrong, 1)
    assert (list(s.path), dict(s.variables), s.state, s.current_node) == before
    with pytest.raises(IllegalTransition):
        s.start(2)


def test_events_before_start_and_after_end_are_refused(prompts: Path) -> None:
    s = session(make(prompts, "h: {kind: hangup}\n"))
    with pytest.raises(IllegalTransition):
        s.handle(ivr_ev.PlayDone(None), 0)
    s.start(0)
    with pytest.raises(IllegalTransition):
        s.handle(ivr_ev.PlayDone(None), 0)
    assert s.handle(ivr_ev.HungUp(), 1) == []  # the caller leaving later changes nothing
    assert s.outcome is Outcome.HANGUP


# --- the shipped main flow, with a hangup at every step --------------------------------------

MAIN_WALK: list[ivr_ev.Event] = [
    ivr_ev.PlayDone(None),  # welcome (not interruptible)
    ivr_ev.Collected("2"),  # language menu: Russian
    ivr_ev.LookupDone(None),  # caller id unknown
    ivr_ev.Collected("123", True),  # account too short
    ivr_ev.Collected("12345678"),  # account
    ivr_ev.LookupDone(None),  # unknown account
    ivr_ev.PlayDone(None),  # "not found"
    ivr_ev.Collected("2"),  # main menu: support
    ivr_ev.QueueState(300.0, 1, 9),  # long wait
    ivr_ev.Collected("1"),  # callback offer: yes
    ivr_ev.Collected("1"),  # this number
    ivr_ev.PlayDone(None),  # booked
]


def main_script() -> Script:
    return load_script(ROOT / "ivr_scripts" / "main.yaml", ROOT / "ivr_scripts" / "prompts")


def test_main_flow_to_a_callback() -> None:
    s = session(main_script())
    out = s.start(MONDAY_10)
    for i, event in enumerate(MAIN_WALK):
        assert not s.finished
        out = s.handle(event, MONDAY_10 + i + 1)
    assert len(out) == 1 and isinstance(out[0], ivr_cmd.OfferCallback)
    assert out[0].queue == "support" and out[0].number == "+442071234567"
    assert out[0].skills == {"support": 1}
    assert s.language == "ru"
    assert [(st.node, st.digits, st.result) for st in s.path] == [
        ("welcome", "", "played"),
        ("check_hours", "", "open"),
        ("choose_language", "2", "option 2"),
        ("russian", "", "set"),
        ("identify", "", "not found"),
        ("ask_account", "123,12345678", "ok"),
        ("find_account", "", "not found"),
        ("account_unknown", "", "played"),
        ("main_menu", "2", "option 2"),
        ("support", "", "set"),
        ("support_wait", "", "case 1"),
        ("support_callback", "1,1", "callback support"),
    ]


def test_main_flow_vip_goes_to_the_priority_queue() -> None:
    s = session(main_script())
    s.start(MONDAY_10)
    s.handle(ivr_ev.PlayDone(None), MONDAY_10 + 1)
    s.handle(ivr_ev.Collected("1"), MONDAY_10 + 2)
    out = s.handle(ivr_ev.LookupDone({"name": "Vera", "tier": "vip"}), MONDAY_10 + 3)
    assert out == [ivr_cmd.Play((str(ROOT / "ivr_scripts/prompts/en/vip"),), KEYS)]
    out = s.handle(ivr_ev.PlayDone(None), MONDAY_10 + 4)
    assert len(out) == 1 and isinstance(out[0], ivr_cmd.Enqueue)
    assert (out[0].queue, out[0].priority, out[0].skills) == ("support", 10, {"vip": 1})
    assert out[0].variables["customer.name"] == "Vera"


def test_main_flow_after_hours_goes_to_voicemail() -> None:
    sunday = datetime(2026, 11, 22, 10, 0, tzinfo=LONDON).timestamp()
    s = session(main_script(), now=sunday)
    s.start(sunday)
    out = s.handle(ivr_ev.PlayDone(None), sunday + 2)
    assert out == [ivr_cmd.Play((str(ROOT / "ivr_scripts/prompts/en/closed"),), "")]
    christmas = datetime(2026, 12, 25, 10, 0, tzinfo=LONDON).timestamp()
    s = session(main_script(), now=christmas)
    s.start(christmas)
    out = s.handle(ivr_ev.PlayDone(None), christmas + 2)
    assert out == [ivr_cmd.Play((str(ROOT / "ivr_scripts/prompts/en/holiday"),), "")]


@pytest.mark.parametrize("at", range(len(MAIN_WALK)))
def test_hangup_at_each_step_of_the_main_flow(at: int) -> None:
    s = session(main_script())
    s.start(MONDAY_10)
    for i, event in enumerate(MAIN_WALK[:at]):
        s.handle(event, MONDAY_10 + i + 1)
    waiting_in = s.current_node
    assert s.handle(ivr_ev.HungUp(), MONDAY_10 + 100) == []
    assert s.outcome is Outcome.ABANDONED and s.finished
    assert s.path[-1].node == waiting_in and s.path[-1].result == "hung up"
    assert s.path[-1].left_at == MONDAY_10 + 100
    with pytest.raises(IllegalTransition):
        s.handle(MAIN_WALK[at], MONDAY_10 + 101)

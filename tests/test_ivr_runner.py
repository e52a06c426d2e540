"""The IVR runner over a fake AGI session that behaves like a caller on a real channel."""

from __future__ import annotations

import asyncio
import itertools
import textwrap
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from config.errors import AgiError, ChannelHungUp, ExternalServiceError, NotFound
from routing.ivr import commands as cmd
from routing.ivr import events as ev
from routing.ivr.interpreter import CallInfo, IvrSession, Outcome, PathStep
from routing.ivr.nodes import Script
from routing.ivr.runner import ALL_KEYS, keep_reloading, run_ivr
from routing.ivr.script import ScriptLibrary, check_text, load_script

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = ROOT / "ivr_scripts" / "prompts"
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/London")).timestamp()
HANG_UP = "<hang up>"


class FakeAgi:
    """A caller on an AsyncAGI channel.

    ``keys`` answers, in order, each command that listens for keys (STREAM FILE with
    escape digits, GET DATA): ``None`` = the caller does nothing, ``"12"`` = presses
    those keys (a STREAM FILE is interrupted by the first, the rest stay buffered for
    the next GET DATA, as on Asterisk), ``("12", True)`` = types 12 then stops (timeout),
    ``HANG_UP`` = hangs up during that command. Every later command raises
    ChannelHungUp, like a real dead channel.
    """

    def __init__(self, keys: Sequence[object] = (), record_hangs_up: bool = False) -> None:
        self.keys = list(keys)
        self.buffer = ""
        self.log: list[tuple[object, ...]] = []
        self.closed = False
        self.record_hangs_up = record_hangs_up

    def _alive(self) -> None:
        if self.closed:
            raise ChannelHungUp("channel gone")

    def _next(self) -> object:
        answer = self.keys.pop(0) if self.keys else None
        if answer == HANG_UP:
            self.closed = True
            raise ChannelHungUp("caller hung up")
        return answer

    async def answer(self) -> None:
        self._alive()
        self.log.append(("ANSWER",))

    async def stream_file(self, name: str, escape_digits: str = "") -> str | None:
        self._alive()
        self.log.append(("STREAM FILE", name, escape_digits))
        if not escape_digits:
            return None
        if self.buffer:
            digit, self.buffer = self.buffer[0], self.buffer[1:]
            return digit
        answer = self._next()
        if answer is None:
            return None
        assert isinstance(answer, str)
        self.buffer = answer[1:]
        return answer[0]

    async def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> tuple[str, bool]:
        self._alive()
        self.log.append(("GET DATA", prompt, timeout_ms, max_digits))
        if self.buffer:
            typed, timed_out = self.buffer, False
            self.buffer = ""
        else:
            answer = self._next()
            if answer is None:
                return "", True
            typed, timed_out = answer if isinstance(answer, tuple) else (answer, False)
        typed = typed.split("#")[0]
        return typed[:max_digits], timed_out

    async def record_file(
        self, path: str, fmt: str = "wav", escape: str = "#", timeout_ms: int = 60000
    ) -> str | None:
        self._alive()
        self.log.append(("RECORD FILE", path, fmt, escape, timeout_ms))
        if self.record_hangs_up:
            self.closed = True
            raise ChannelHungUp("caller hung up after the message")
        return "#"

    async def hangup(self) -> None:
        if self.closed:
            return
        self.log.append(("HANGUP",))
        self.closed = True


class FakeDirectory:
    def __init__(
        self, customers: Mapping[tuple[str, str], Mapping[str, Any]] = {}, fail: bool = False
    ) -> None:
        self.customers = dict(customers)
        self.fail = fail
        self.asked: list[tuple[str, str]] = []

    async def lookup(self, by: str, value: str) -> Mapping[str, Any] | None:
        self.asked.append((by, value))
        if self.fail:
            raise ExternalServiceError("CRM timed out")
        return self.customers.get((by, value))


class FakeRouting:
    def __init__(self, states: Mapping[str, ev.QueueState] = {}) -> None:
        self.states = dict(states)
        self.enqueued: list[tuple[CallInfo, cmd.Enqueue]] = []
        self.callbacks: list[tuple[CallInfo, cmd.OfferCallback]] = []
        self.transfers: list[tuple[CallInfo, str]] = []

    async def queue_state(self, queue: str) -> ev.QueueState:
        return self.states.get(queue, ev.QueueState(0.0, 1, 0))

    async def enqueue(self, call: CallInfo, request: cmd.Enqueue) -> None:
        self.enqueued.append((call, request))

    async def request_callback(self, call: CallInfo, request: cmd.OfferCallback) -> None:
        self.callbacks.append((call, request))

    async def transfer(self, call: CallInfo, target: str) -> None:
        self.transfers.append((call, target))


class FakeSink:
    def __init__(self, fail: bool = False) -> None:
        self.steps: list[PathStep] = []
        self.done: list[tuple[list[PathStep], str]] = []
        self.voicemails: list[tuple[str, str]] = []
        self.fail = fail

    async def ivr_step(self, call: CallInfo, step: PathStep) -> None:
        if self.fail:
            raise NotFound("no such contact")
        self.steps.append(step)

    async def ivr_done(self, call: CallInfo, path: Sequence[PathStep], outcome: str) -> None:
        self.done.append((list(path), outcome))

    async def voicemail(self, call: CallInfo, box: str, path: str) -> None:
        self.voicemails.append((box, path))


CALL = CallInfo(
    caller="+442071234567",
    dialed="5000",
    language="en",
    channel="PJSIP/t-1",
    uniqueid="1700000000.7",
)


def clock() -> Any:
    ticks = itertools.count(1)
    return lambda: MONDAY_10 + next(ticks)


def en(name: str) -> str:
    return str(PROMPTS / "en" / name)


def main() -> Script:
    return load_script(ROOT / "ivr_scripts" / "main.yaml", PROMPTS)


async def run(
    script: Script,
    agi: FakeAgi,
    directory: FakeDirectory | None = None,
    routing: FakeRouting | None = None,
    sink: FakeSink | None = None,
    call: CallInfo = CALL,
) -> tuple[Outcome | None, FakeRouting, FakeSink]:
    routing = routing or FakeRouting()
    sink = sink or FakeSink()
    session = IvrSession(script, call, MONDAY_10)
    outcome = await run_ivr(
        session,
        agi,
        directory or FakeDirectory(),
        routing,
        sink,
        clock=clock(),
        recordings_dir="/var/vm/",
    )
    return outcome, routing, sink


async def test_vip_caller_reaches_the_priority_queue() -> None:
    agi = FakeAgi(["1", "12345678#"])
    directory = FakeDirectory({("account", "12345678"): {"id": 3, "name": "Vera", "tier": "vip"}})
    outcome, routing, sink = await run(main(), agi, directory)
    assert outcome is Outcome.QUEUED
    assert agi.log == [
        ("ANSWER",),
        ("STREAM FILE", en("welcome"), ""),
        ("GET DATA", en("language"), 4000, 1),
        ("GET DATA", en("account"), 6000, 10),
        ("STREAM FILE", en("vip"), ALL_KEYS),
    ]
    assert directory.asked == [("phone", "+442071234567"), ("account", "12345678")]
    [(call, request)] = routing.enqueued
    assert call == CALL and (request.queue, request.priority) == ("support", 10)
    assert request.variables["customer.name"] == "Vera"
    assert [s.node for s in sink.steps] == [
        "welcome",
        "check_hours",
        "choose_language",
        "english",
        "identify",
        "ask_account",
        "find_account",
        "vip_check",
        "vip",
        "vip_hello",
        "vip_queue",
    ]
    assert sink.done == [(sink.steps, "queued")]
    assert sink.steps[2].digits == "1" and sink.steps[5].digits == "12345678"


async def test_hangup_in_the_menu_is_abandoned_ivr() -> None:
    agi = FakeAgi(["1", None, HANG_UP])
    directory = FakeDirectory()
    outcome, routing, sink = await run(main(), agi, directory)
    assert outcome is Outcome.ABANDONED and routing.enqueued == []
    [(path, result)] = sink.done
    assert result == "abandoned_ivr"
    assert (path[-1].node, path[-1].result) == ("ask_account", "hung up")
    assert path == sink.steps


async def test_a_re_ask_plays_the_sorry_prompt_then_listens(tmp_path: Path) -> None:
    script = _script(
        tmp_path,
        """
        acct: {kind: collect, prompts: account, variable: a, min: 4, max: 6,
               invalid: welcome, next: q}
        q: {kind: queue, queue: billing}
    """,
    )
    agi = FakeAgi(["12", "1234#"])
    outcome, routing, sink = await run(script, agi)
    assert outcome is Outcome.QUEUED
    assert agi.log[1:] == [
        ("GET DATA", str(tmp_path / "en" / "account"), 5000, 6),
        ("STREAM FILE", str(tmp_path / "en" / "welcome"), ""),
        ("GET DATA", str(tmp_path / "en" / "account"), 5000, 6),
    ]
    assert routing.enqueued[0][1].variables["a"] == "1234"
    assert sink.steps[0].digits == "12,1234"


async def test_long_wait_offers_a_callback() -> None:
    routing = FakeRouting({"sales": ev.QueueState(600.0, 0, 12)})
    # no account (asked three times), then sales
    agi = FakeAgi(["1", None, None, None, "1", "1", "2", "2125550100#"])
    outcome, routing, sink = await run(main(), agi, routing=routing)
    assert outcome is Outcome.CALLBACK
    [(_call, offer)] = routing.callbacks
    assert (offer.queue, offer.number, offer.skills) == ("sales", "2125550100", {"sales": 1})
    assert agi.log[-1] == ("HANGUP",)
    assert sink.done[0][1] == "callback"


async def test_voicemail_ends_when_the_caller_hangs_up(tmp_path: Path) -> None:
    sunday = datetime(2026, 11, 22, 12, 0, tzinfo=ZoneInfo("Europe/London")).timestamp()
    session = IvrSession(main(), CALL, sunday)
    agi = FakeAgi(record_hangs_up=True)
    sink = FakeSink()
    outcome = await run_ivr(
        session,
        agi,
        FakeDirectory(),
        FakeRouting(),
        sink,
        clock=lambda: sunday,
        recordings_dir="/var/vm",
    )
    assert outcome is Outcome.VOICEMAIL
    name = f"after_hours-{int(sunday)}-1700000000-7"
    assert agi.log[-1] == ("RECORD FILE", f"/var/vm/{name}", "wav", "#", 120000)
    assert sink.voicemails == [("after_hours", f"/var/vm/{name}.wav")]
    assert sink.done[0][1] == "voicemail"


async def test_crm_failure_counts_as_unknown_and_sink_failure_is_ignored() -> None:
    agi = FakeAgi(["2", "12345678", None, "3"])
    outcome, routing, sink = await run(
        main(), agi, FakeDirectory(fail=True), sink=FakeSink(fail=True)
    )
    assert outcome is Outcome.QUEUED
    assert routing.enqueued[0][1].queue == "billing"
    assert routing.enqueued[0][1].variables["language"] == "ru"
    assert ("STREAM FILE", str(PROMPTS / "ru" / "not_found"), ALL_KEYS) in agi.log
    assert sink.done[0][1] == "queued"  # ivr_done still written


async def test_transfer_and_agi_error(tmp_path: Path) -> None:
    script = _script(tmp_path, "t: {kind: transfer, target: '1001'}\n")
    outcome, routing, _ = await run(script, FakeAgi())
    assert outcome is Outcome.TRANSFERRED and routing.transfers == [(CALL, "1001")]

    class BrokenAgi(FakeAgi):
        async def stream_file(self, name: str, escape_digits: str = "") -> str | None:
            raise AgiError(511, "dead channel")

    script = _script(tmp_path, "p: {kind: play, prompts: welcome, next: h}\nh: {kind: hangup}\n")
    outcome, _, sink = await run(script, BrokenAgi())
    assert outcome is None and sink.done[0][1] == "failed"


@pytest.mark.parametrize("at", range(5))
async def test_hangup_at_each_command(at: int) -> None:
    # language, account, "not found" (interruptible), main menu
    keys: list[object] = ["1", "12345678", None, "1"]
    keys.insert(at, HANG_UP)
    agi = FakeAgi(keys)
    outcome, _routing, sink = await run(main(), agi)
    if at < 4:
        assert outcome is Outcome.ABANDONED and sink.done[0][1] == "abandoned_ivr"
        assert sink.done[0][0][-1].result == "hung up"
    else:
        assert outcome is Outcome.QUEUED  # already handed to routing
        assert sink.done[0][1] == "queued"


def _script(tmp_path: Path, body: str) -> Script:
    (tmp_path / "en").mkdir(exist_ok=True)
    for name in ("welcome", "account"):
        (tmp_path / "en" / f"{name}.wav").write_bytes(b"RIFF")
    text = "nodes:\n" + textwrap.indent(textwrap.dedent(body), "  ")
    problems, script = check_text("t.yaml", text, str(tmp_path))
    assert not problems and script is not None
    return script


async def test_keep_reloading_picks_up_a_changed_script(tmp_path: Path) -> None:
    _script(tmp_path, "h: {kind: hangup}\n")  # creates the prompts
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "main.yaml").write_text("nodes:\n  h: {kind: hangup, reason: one}\n")
    library = ScriptLibrary(scripts, tmp_path)
    library.reload()
    task = asyncio.create_task(keep_reloading(library, 0.01))
    try:
        (scripts / "main.yaml").write_text("nodes:\n  h: {kind: hangup, reason: two}\n")
        for _ in range(500):
            if library.get("main").nodes["h"].reason == "two":  # type: ignore[union-attr]
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the changed script was never reloaded")
    finally:
        task.cancel()

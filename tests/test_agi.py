"""AsyncAGI: pure result parsing (no loop) and sessions over a real loopback AMI connection."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.errors import AgiError, ChannelHungUp, LocalProtocolError
from telephony.agi import AgiDispatcher, AgiSession
from telephony.ami.agi import AgiDeadChannel, AgiEnv, agi_quote, parse_agi_result
from tests import ami_fuzz
from tests.test_ami_client import FakeAsterisk, eventually, make_client

# -- pure ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "result", "data", "endpos"),
    [
        ("200 result=0\n", "0", "", None),
        ("200 result=1 (bar)\n", "1", "bar", None),
        ("200 result=1 (a (nested) value)\n", "1", "a (nested) value", None),
        ("200 result=12 (timeout)\n", "12", "timeout", None),
        ("200 result= (timeout)\n", "", "timeout", None),
        ("200 result=49 endpos=20000\n", "49", "", 20000),
        ("200 result=0 endpos=242240\n", "0", "", 242240),
        ("200 result=-1\n", "-1", "", None),
        ("200 result=35 (dtmf) endpos=8000\n", "35", "dtmf", 8000),
    ],
)
def test_parse_success(raw: str, result: str, data: str, endpos: int | None) -> None:
    parsed = parse_agi_result(raw)
    assert (parsed.code, parsed.result, parsed.data, parsed.endpos) == (200, result, data, endpos)


def test_parse_errors() -> None:
    with pytest.raises(AgiError) as err:
        parse_agi_result("510 Invalid or unknown command\n")
    assert err.value.code == 510 and "Invalid or unknown command" in str(err.value)
    with pytest.raises(AgiDeadChannel) as dead:
        parse_agi_result("511 Command Not Permitted on a dead channel or intercept routine\n")
    assert isinstance(dead.value, ChannelHungUp) and dead.value.code == 511
    with pytest.raises(AgiError) as usage:
        parse_agi_result(
            "520-Invalid command syntax.  Proper usage follows:\n Usage: GET DATA <file>\n"
            "520 End of proper usage.\n"
        )
    assert usage.value.code == 520 and "Usage: GET DATA" in str(usage.value)
    with pytest.raises(AgiError):
        parse_agi_result("garbage")


@pytest.mark.parametrize(
    "raw",
    [
        "²00 result=1\n",  # "²".isdigit() is True, int("²") is not
        "2٠0 result=1\n",  # an Arabic-Indic zero: a digit to int(), not to AGI
        "200 result=1 endpos=" + "9" * 5000 + "\n",  # past int()'s 4,300-digit limit
        "200 result=" + "9" * 5000 + "\n",
        "200 result=1 endpos=99999999999999999999\n",
    ],
)
def test_malformed_replies_raise_agi_error(raw: str) -> None:
    with pytest.raises(AgiError):
        parse_agi_result(raw)


def test_non_ascii_digits_are_not_a_result() -> None:
    assert parse_agi_result("200 result=٣\n").result == ""


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.text(max_size=60),
        st.builds(
            lambda code, result, data, endpos: f"{code} result={result}{data}{endpos}\n",
            st.sampled_from(["200", "510", "511", "520", "520-x\n520", "²00", "2٠0", "20", ""]),
            st.one_of(st.text(max_size=8), st.integers().map(str), st.just("9" * 5000)),
            st.one_of(st.just(""), st.text(max_size=12).map(lambda t: f" ({t})")),
            st.one_of(
                st.just(""),
                st.integers().map(lambda n: f" endpos={n}"),
                st.text(max_size=8).map(lambda t: f" endpos={t}"),
                st.just(" endpos=" + "7" * 5000),
            ),
        ),
    )
)
def test_fuzzed_replies_raise_only_agi_error(raw: str) -> None:
    """Whatever Asterisk (or a broken proxy) sends, the parser answers an AgiResult with
    in-range numbers or raises AgiError: never ValueError, which would leave the IVR
    call waiting for a reply that never resolves."""
    try:
        parsed = parse_agi_result(raw)
    except AgiError:
        return
    assert parsed.code == 200
    assert parsed.result == "" or parsed.result.lstrip("-").isascii()
    assert isinstance(parsed.value, int) and abs(parsed.value) < 10**19
    assert parsed.endpos is None or abs(parsed.endpos) < 10**19


def test_quoting_and_env() -> None:
    assert agi_quote('say "hi" \\ now') == '"say \\"hi\\" \\\\ now"'
    assert agi_quote("") == '""'
    with pytest.raises(LocalProtocolError):
        agi_quote("a\nHANGUP")
    env = AgiEnv.from_env({"agi_callerid": "+1555", "agi_dnid": "unknown", "agi_language": "fr"})
    assert (env.caller_id, env.dnid, env.language) == ("+1555", "", "fr")
    assert env.vars["agi_dnid"] == "unknown"


# -- over AMI ----------------------------------------------------------------------------------


async def run_session(pbx: FakeAsterisk, script) -> tuple[list, AgiDispatcher]:
    client = make_client(pbx)
    await client.connect()
    outcome: list = []
    sessions: list[AgiSession] = []

    async def handler(session: AgiSession) -> None:
        sessions.append(session)
        try:
            await script(session, outcome)
        except Exception as exc:
            outcome.append(exc)
            raise
        finally:
            outcome.append("done")

    dispatcher = AgiDispatcher(client, handler)
    pbx.start_agi()
    await eventually(lambda: "done" in outcome)
    await dispatcher.close()
    await client.close()
    outcome.append(sessions)
    return outcome, dispatcher


async def test_commands_and_results(pbx: FakeAsterisk) -> None:
    async def script(s: AgiSession, out: list) -> None:
        out.append((s.channel, s.env.caller_id, s.env.dnid, s.env.language))
        await s.answer()
        out.append(await s.get_variable("FOO"))
        await s.set_variable("NOTE", 'with "quotes" and spaces')
        out.append(await s.stream_file("demo-congrats", "0123456789#*"))
        out.append(await s.get_data("beep", 3000, 4))
        out.append(await s.say_digits("42"))
        out.append(await s.exec("Playback", "beep"))
        out.append(await s.record_file("/tmp/msg", "wav", "#", 5000))
        try:
            await s.command("NOSUCH foo")
        except AgiError as exc:
            out.append(exc.code)
        await s.hangup()
        out.append(s.closed)

    outcome, _ = await run_session(pbx, script)
    assert outcome[0] == ("PJSIP/sipp-00000023", "+15550001111", "5551000", "en")
    assert outcome[1:-3] == ["bar", "1", ("12", True), None, 0, "#", 510]
    assert outcome[-3] is True  # AsyncAGIEnd after HANGUP closed the session
    commands = [a["Command"] for a in pbx.received if a.get("Action") == "AGI"]
    assert commands[2] == 'SET VARIABLE "NOTE" "with \\"quotes\\" and spaces"'
    assert commands[3] == 'STREAM FILE "demo-congrats" "0123456789#*"'
    ids = [a["CommandID"] for a in pbx.received if a.get("Action") == "AGI"]
    assert len(set(ids)) == len(ids)


async def test_hangup_during_a_command_raises_channel_hung_up(pbx: FakeAsterisk) -> None:
    pbx.hangup_during = {"GET DATA"}

    async def script(s: AgiSession, out: list) -> None:
        await s.answer()
        await s.get_data("beep", 10000, 4)
        out.append("not reached")

    outcome, dispatcher = await run_session(pbx, script)
    assert isinstance(outcome[0], ChannelHungUp) and "not reached" not in outcome
    session = outcome[-1][0]
    assert session.closed and dispatcher.sessions == {}
    with pytest.raises(ChannelHungUp):
        await session.answer()


async def test_bad_arguments_are_refused_before_sending(pbx: FakeAsterisk) -> None:
    async def script(s: AgiSession, out: list) -> None:
        for bad in (
            lambda: s.stream_file("x", "12x"),
            lambda: s.say_digits("4a2;"),
            lambda: s.get_variable("A\r\nB"),
            lambda: s.exec("Dial;Hangup"),
        ):
            try:
                await bad()
            except (LocalProtocolError, AgiError) as exc:
                out.append(type(exc).__name__)

    outcome, _ = await run_session(pbx, script)
    assert outcome[:4] == [
        "LocalProtocolError",
        "LocalProtocolError",
        "LocalProtocolError",
        "AgiError",
    ]
    assert not [a for a in pbx.received if a.get("Action") == "AGI"]


async def test_new_asyncagistart_for_same_channel_opens_a_new_session(pbx: FakeAsterisk) -> None:
    client = make_client(pbx)
    await client.connect()
    started: list[AgiSession] = []
    release = asyncio.Event()

    async def handler(session: AgiSession) -> None:
        started.append(session)
        await release.wait()

    dispatcher = AgiDispatcher(client, handler)
    pbx.start_agi()
    await eventually(lambda: len(started) == 1)
    pbx.start_agi()
    await eventually(lambda: len(started) == 2)
    assert started[0].closed and not started[1].closed
    assert dispatcher.sessions[started[1].uniqueid] is started[1]
    release.set()
    await dispatcher.close()
    await client.close()


# -- against the PBX simulator (telephony.simulator) ------------------------------------------


async def test_client_and_dispatcher_against_the_simulator() -> None:
    from telephony.ami import Action, AmiClient, ListResponse
    from telephony.ami.events import CoreShowChannel, Event
    from telephony.calls import CallState, CallTracker
    from telephony.simulator import PbxSimulator

    sim = PbxSimulator("switchboard", "pw", time_scale=0.02, seed=3)
    await sim.start()
    client = AmiClient(
        "127.0.0.1", sim.port, "switchboard", "pw", ping_interval=0, reconnect_min=0.05,
        reconnect_max=0.2,
    )  # fmt: skip
    tracker = CallTracker()
    client.subscribe(lambda event: tracker.feed(event))
    resyncs: list[int] = []

    async def resync() -> None:
        listed = await client.send(Action("CoreShowChannels"))
        assert isinstance(listed, ListResponse)
        tracker.resync([e for e in listed.events if isinstance(e, CoreShowChannel)], 0.0)
        resyncs.append(len(listed.events))

    client.on_connect(resync)
    outcome: list = []

    async def ivr(session: AgiSession) -> None:
        outcome.append((session.env.caller_id, session.env.dnid))
        await session.answer()
        await session.set_variable("SB_TEST", "x y")
        outcome.append(await session.get_variable("SB_TEST"))
        outcome.append(await session.stream_file("welcome", "123"))
        outcome.append(await session.get_data("enter-account", 2000, 4))
        await session.hangup()
        outcome.append("hung up")

    events: list[Event] = []
    client.subscribe(events.append)
    try:
        await client.connect()
        assert client.fully_booted and resyncs == [0]
        dispatcher = AgiDispatcher(client, ivr)
        uniqueid = sim.place_call(caller="+15550001111", did="5551000", dtmf=["2", "1234"])
        await eventually(lambda: "hung up" in outcome, within=10)
        assert outcome[0] == ("+15550001111", "5551000")
        assert outcome[1] == "x y" and outcome[2] == "2" and outcome[3][0] == "1234"
        await eventually(lambda: tracker.calls[uniqueid].state is CallState.ENDED, within=5)
        assert tracker.calls[uniqueid].dialed == "5551000"
        await sim.restart(downtime=0.2)
        await eventually(lambda: len(resyncs) == 2 and client.connected, within=10)
        await client.wait_fully_booted(5)
        await dispatcher.close()
    finally:
        await client.close()
        await sim.stop()


class StubAmi:
    """Answers every AGI action with a scripted error, without any socket."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.sent: list = []

    def subscribe(self, callback):
        return lambda: None

    def on_disconnect(self, hook):
        return lambda: None

    async def send(self, action, timeout=10.0):  # noqa: ASYNC109
        from config.errors import ActionFailed

        self.sent.append(action)
        raise ActionFailed(f"AMI AGI failed: {self.message}", {"Message": self.message})


async def test_agi_action_refused_for_a_vanished_channel() -> None:
    from telephony.ami.events import AsyncAGIStart

    start = AsyncAGIStart(channel="PJSIP/x-1", uniqueid="1.1", env={"agi_channel": "PJSIP/x-1"})
    gone = AgiSession(StubAmi("Channel does not exist."), start)
    with pytest.raises(ChannelHungUp):
        await gone.answer()
    assert gone.closed
    from config.errors import ActionFailed

    other = AgiSession(StubAmi("Permission denied"), start)
    with pytest.raises(ActionFailed):
        await other.answer()
    assert not other.closed


async def test_record_ended_by_hangup_raises_channel_hung_up(pbx: FakeAsterisk) -> None:
    pbx.agi_results["RECORD FILE"] = "200 result=-1 (hangup) endpos=0\n"

    async def script(s: AgiSession, out: list) -> None:
        await s.record_file("/tmp/vm", "wav", "#", 5000)

    outcome, _ = await run_session(pbx, script)
    assert isinstance(outcome[0], ChannelHungUp)


@pytest.mark.parametrize(
    ("command", "reply"),
    [
        ("ANSWER", "²00 result=1\n"),
        ("ANSWER", "200 result=0 endpos=" + "9" * 5000 + "\n"),
        ("STREAM FILE", "200 result=99999999\n"),  # no such character, let alone a digit
        ("STREAM FILE", "200 result=960\n"),  # a character, but not a DTMF symbol
    ],
)
async def test_a_malformed_reply_fails_the_command_at_once(
    pbx: FakeAsterisk, command: str, reply: str
) -> None:
    """The IVR gets an AgiError at once instead of waiting for hangup."""
    pbx.agi_results[command] = reply

    async def script(s: AgiSession, out: list) -> None:
        if command != "ANSWER":
            await s.answer()
        await asyncio.wait_for(s.stream_file("beep", "1") if command != "ANSWER" else s.answer(), 2)

    outcome, _ = await run_session(pbx, script)
    assert isinstance(outcome[0], AgiError), outcome


async def test_an_unexpected_parser_failure_still_fails_the_command(
    pbx: FakeAsterisk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever breaks in reading a reply, the waiting command fails at once."""
    import telephony.agi

    def broken(text: str) -> None:
        raise ValueError("a parser bug")

    monkeypatch.setattr(telephony.agi, "parse_agi_result", broken)

    async def script(s: AgiSession, out: list) -> None:
        await asyncio.wait_for(s.answer(), 2)

    outcome, _ = await run_session(pbx, script)
    assert isinstance(outcome[0], AgiError) and "ValueError" in str(outcome[0])


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=0, max_value=2**64))
def test_mutated_real_replies_raise_only_agi_error(seed: int) -> None:
    """The captures' real AGI replies, mutated (seeded: a failure names its seed)."""
    rng = random.Random(seed)
    reply = ami_fuzz.mutate_agi(rng, rng.choice(ami_fuzz.real_agi_results()))
    try:
        parsed = parse_agi_result(reply)
    except AgiError:
        return
    assert parsed.code == 200 and isinstance(parsed.value, int)

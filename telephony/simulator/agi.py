"""AsyncAGI in the simulator: the ``AGI(agi:async)`` application and its commands.

Theory of operation: entering ``AGI(agi:async)`` emits ``AsyncAGIStart`` with the
URL-encoded environment and opens the channel's command queue; ``Action: AGI`` puts
``(command, CommandID)`` on it. The loop runs one command at a time: ``AGIExecStart``
(with an internal numeric CommandId, as Asterisk does), the command itself, then
``AGIExecEnd`` and ``AsyncAGIExec`` whose ``Result`` is the raw AGI reply, URL-encoded
with its trailing newline, echoing the client's id as ``CommandId``. A command cut short
by a hangup or Redirect still answers ``200 result=-1``; then ``AsyncAGIEnd`` and
``VarSet AGISTATUS`` follow. Digits come from the channel's DTMF queue, fed by the
simulated caller (its next DTMF group when a prompt accepts digits) or ``PlayDTMF``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .dialplan import PROMPT_SECONDS, dial, number_or, run_app, substitute
from .model import SimChannel
from .wire import agi_args, agi_env, agi_quote

if TYPE_CHECKING:
    from .pbx import PbxSimulator

USAGE = {
    "STREAM FILE": " Usage: STREAM FILE <filename> <escape digits> [sample offset]",
    "GET DATA": " Usage: GET DATA <file to be streamed> [timeout] [max digits]",
    "SAY DIGITS": " Usage: SAY DIGITS <number> <escape digits>",
    "SAY NUMBER": " Usage: SAY NUMBER <number> <escape digits> [gender]",
    "SET VARIABLE": " Usage: SET VARIABLE <variablename> <value>",
    "GET VARIABLE": " Usage: GET VARIABLE <variablename>",
    "GET FULL VARIABLE": " Usage: GET FULL VARIABLE <variablename> [<channel name>]",
    "EXEC": " Usage: EXEC <application> <options>",
    "RECORD FILE": " Usage: RECORD FILE <filename> <format> <escape digits> <timeout>"
    " [offset samples] [BEEP] [s=silence]",
    "WAIT FOR DIGIT": " Usage: WAIT FOR DIGIT <timeout>",
    "VERBOSE": " Usage: VERBOSE <message> <level>",
}
SAMPLES_PER_SECOND = 8000


@dataclass(frozen=True, slots=True)
class AgiReply:
    """What one AGI command answered: the raw line(s) and the AGIExecEnd summary."""

    raw: str
    code: int = 200
    summary: str = "Success"
    then: str = ""  # "hangup" or "break": what the AGI loop does afterwards


def ok(result: str | int, summary: str = "Success", then: str = "") -> AgiReply:
    return AgiReply(f"200 result={result}", 200, summary, then)


def usage(key: str) -> AgiReply:
    raw = (
        "520-Invalid command syntax.  Proper usage follows:\n"
        f"{USAGE[key]}\n520 End of proper usage."
    )
    return AgiReply(raw, 520, "Usage")


INVALID = AgiReply("510 Invalid or unknown command", 510, "Invalid or unknown command")


def agi_environment(chan: SimChannel) -> list[tuple[str, str]]:
    tech = chan.tech
    return [
        ("agi_request", "async"),
        ("agi_channel", chan.name),
        ("agi_language", "en"),
        ("agi_type", tech),
        ("agi_uniqueid", chan.uniqueid),
        ("agi_version", "22.10.1"),
        ("agi_callerid", chan.caller_num),
        ("agi_calleridname", chan.caller_name),
        ("agi_callingpres", "0"),
        ("agi_callingani2", "0"),
        ("agi_callington", "0"),
        ("agi_callingtns", "0"),
        ("agi_dnid", chan.dnid or "unknown"),
        ("agi_rdnis", "unknown"),
        ("agi_context", chan.context),
        ("agi_extension", chan.exten),
        ("agi_priority", str(chan.priority)),
        ("agi_enhanced", "0.0"),
        ("agi_accountcode", ""),
        ("agi_threadid", str(140173616236224 + (hash(chan.uniqueid) & 0xFFFF) * 64)),
    ]


async def agi_session(pbx: PbxSimulator, chan: SimChannel) -> int:
    """Run ``AGI(agi:async)`` on ``chan``; returns the application's result (0 / -1)."""
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    chan.agi = queue
    pbx.emit_chan("AsyncAGIStart", chan, ("Env", agi_env(agi_environment(chan))))
    status = "SUCCESS"
    try:
        while True:
            command, command_id = await queue.get()
            await pbx.sleep(0.1)  # Asterisk polls the queue; results start ~0.1 s later.
            internal = str(pbx.rng.randrange(1, 2**31))
            pbx.emit_chan("AGIExecStart", chan, ("CommandId", internal), ("Command", command))
            try:
                reply = await execute(pbx, chan, command)
            except asyncio.CancelledError:
                _finish(pbx, chan, internal, command, command_id, ok(-1))
                raise
            _finish(pbx, chan, internal, command, command_id, reply)
            if reply.then:
                status = "HANGUP" if reply.then == "hangup" else "SUCCESS"
                break
    except asyncio.CancelledError:
        status = "HANGUP"
        _end(pbx, chan, status)
        raise
    _end(pbx, chan, status)
    return -1 if status == "HANGUP" else 0


def _finish(
    pbx: PbxSimulator,
    chan: SimChannel,
    internal: str,
    command: str,
    command_id: str,
    reply: AgiReply,
) -> None:
    if chan.gone.is_set():
        return
    pbx.emit_chan(
        "AGIExecEnd",
        chan,
        ("CommandId", internal),
        ("Command", command),
        ("ResultCode", str(reply.code)),
        ("Result", reply.summary),
    )
    extra = [("CommandId", command_id)] if command_id else []
    pbx.emit_chan("AsyncAGIExec", chan, ("Result", agi_quote(reply.raw + "\n")), *extra)


def _end(pbx: PbxSimulator, chan: SimChannel, status: str) -> None:
    chan.agi = None
    if chan.gone.is_set():
        return
    pbx.emit_chan("AsyncAGIEnd", chan)
    pbx.set_var(chan, "AGISTATUS", status)


async def execute(pbx: PbxSimulator, chan: SimChannel, command: str) -> AgiReply:
    """Run one AGI command line on ``chan`` and return its reply."""
    args = agi_args(command)
    words = [a.upper() for a in args[:3]]
    key2 = " ".join(words[:2])
    key3 = " ".join(words[:3])
    rest2, rest3 = args[2:], args[3:]
    if words[:1] == ["ANSWER"]:
        pbx.set_state(chan, 6)
        return ok(0)
    if words[:1] == ["HANGUP"]:
        if len(args) > 1:
            other = pbx.find(args[1])
            if other is None:
                return ok(-1)
            if other is not chan:
                await pbx.hangup(other, cause=16, source="ami")
                return ok(1)
        pbx.emit_chan("SoftHangupRequest", chan, ("Cause", "32"))
        return ok(1, then="hangup")
    if words[:1] == ["NOOP"]:
        return ok(0)
    if key2 == "ASYNCAGI BREAK":
        return ok(0, then="break")
    if key2 == "CHANNEL STATUS":
        return ok(chan.state)
    if key2 == "STREAM FILE":
        return await _stream_file(pbx, chan, rest2)
    if key2 == "GET DATA":
        return await _get_data(pbx, chan, rest2)
    if key2 in ("SAY DIGITS", "SAY NUMBER"):
        if len(rest2) < 2:
            return usage(key2)
        await pbx.sleep(0.4 * max(1, len(rest2[0])))
        return ok(0)
    if key2 == "SET VARIABLE":
        if len(rest2) < 2:
            return usage(key2)
        pbx.set_var(chan, rest2[0], rest2[1])
        return ok(1)
    if key2 == "GET VARIABLE":
        if len(rest2) != 1:
            return usage(key2)
        return _get_variable(pbx, chan, rest2[0])
    if key3 == "GET FULL VARIABLE":
        if not rest3:
            return usage(key3)
        return ok(f"1 ({substitute(chan, rest3[0], pbx.globals)})")
    if key2 == "WAIT FOR DIGIT":
        if len(rest2) != 1:
            return usage(key2)
        return await _wait_digit(pbx, chan, rest2[0])
    if key2 == "RECORD FILE":
        return await _record_file(pbx, chan, rest2)
    if words[:1] == ["VERBOSE"]:
        return ok(1)
    if words[:1] == ["EXEC"]:
        if len(args) < 2:
            return usage("EXEC")
        return await _exec(pbx, chan, args[1], " ".join(args[2:]))
    return INVALID


def _get_variable(pbx: PbxSimulator, chan: SimChannel, name: str) -> AgiReply:
    if "(" in name:
        value = substitute(chan, "${" + name + "}", pbx.globals)
        return ok(f"1 ({value})")
    if name in chan.variables:
        return ok(f"1 ({chan.variables[name]})")
    if name in pbx.globals:
        return ok(f"1 ({pbx.globals[name]})")
    return ok(0)


async def _next_digit(pbx: PbxSimulator, chan: SimChannel, seconds: float) -> str | None:
    try:
        return await asyncio.wait_for(chan.dtmf.get(), pbx.scaled(seconds))
    except TimeoutError:
        return None


async def _stream_file(pbx: PbxSimulator, chan: SimChannel, args: list[str]) -> AgiReply:
    if len(args) < 2:
        return usage("STREAM FILE")
    escape = args[1]
    loop = asyncio.get_running_loop()
    started = loop.time()
    end = started + pbx.scaled(PROMPT_SECONDS)
    if escape:
        pbx.next_dtmf_group(chan, escape)
        while (left := end - loop.time()) > 0:
            digit = await _next_digit(pbx, chan, left / pbx.time_scale)
            if digit is None:
                break
            if digit in escape:
                played = (loop.time() - started) / pbx.time_scale
                pos = int(played * SAMPLES_PER_SECOND)
                pbx.set_var(chan, "PLAYBACKSTATUS", "FAILED")
                return ok(f"{ord(digit)} endpos={pos}")
    else:
        await asyncio.sleep(max(0.0, end - loop.time()))
    pbx.set_var(chan, "PLAYBACKSTATUS", "SUCCESS")
    return ok(f"0 endpos={int(PROMPT_SECONDS * SAMPLES_PER_SECOND)}")


async def _get_data(pbx: PbxSimulator, chan: SimChannel, args: list[str]) -> AgiReply:
    if not args:
        return usage("GET DATA")
    try:
        timeout_ms = int(args[1]) if len(args) > 1 else 0
        max_digits = int(args[2]) if len(args) > 2 else 1024
    except ValueError:
        return usage("GET DATA")
    timeout = (timeout_ms if timeout_ms > 0 else 6000) / 1000
    loop = asyncio.get_running_loop()
    pbx.next_dtmf_group(chan, None)
    digits = ""
    deadline = loop.time() + pbx.scaled(1.0 + timeout)  # a short prompt, then the wait
    timed_out = False
    while len(digits) < max_digits:
        left = (deadline - loop.time()) / pbx.time_scale
        digit = await _next_digit(pbx, chan, left) if left > 0 else None
        if digit is None:
            timed_out = True
            break
        if digit == "#":
            break
        digits += digit
        deadline = loop.time() + pbx.scaled(timeout)
    return ok(f"{digits} (timeout)" if timed_out else digits)


async def _wait_digit(pbx: PbxSimulator, chan: SimChannel, arg: str) -> AgiReply:
    try:
        timeout_ms = int(arg)
    except ValueError:
        return usage("WAIT FOR DIGIT")
    pbx.next_dtmf_group(chan, "0123456789*#")
    digit = await _next_digit(pbx, chan, timeout_ms / 1000 if timeout_ms >= 0 else 3600.0)
    return ok(ord(digit) if digit else 0)


async def _record_file(pbx: PbxSimulator, chan: SimChannel, args: list[str]) -> AgiReply:
    if len(args) < 4:
        return usage("RECORD FILE")
    escape = args[2]
    try:
        timeout_ms = int(args[3])
    except ValueError:
        return usage("RECORD FILE")
    # A simulated caller talks for at most a few seconds, then keys or goes silent.
    limit = min(timeout_ms / 1000, 5.0) if timeout_ms > 0 else 5.0
    loop = asyncio.get_running_loop()
    started = loop.time()
    pbx.next_dtmf_group(chan, escape)
    end = started + pbx.scaled(limit)
    while (left := end - loop.time()) > 0:
        digit = await _next_digit(pbx, chan, left / pbx.time_scale)
        if digit is None:
            break
        if digit in escape:
            pos = int((loop.time() - started) / pbx.time_scale * SAMPLES_PER_SECOND)
            return ok(f"{ord(digit)} (dtmf) endpos={pos}")
    return ok(f"0 (timeout) endpos={int(limit * SAMPLES_PER_SECOND)}")


async def _exec(pbx: PbxSimulator, chan: SimChannel, app: str, data: str) -> AgiReply:
    if app.lower() == "dial":
        parts = data.split(",")
        target = parts[0].split("&")[0].strip()
        if not target:
            return ok(-1, "Unknown Result")
        timeout = number_or(parts[1], 0.0) or None if len(parts) > 1 else None
        options = parts[2] if len(parts) > 2 else ""
        moh = "default" if "m" in options else None
        _status, result = await dial(pbx, chan, target, timeout, moh)
    else:
        result = await run_app(pbx, chan, app, data)
    return ok(result, "Success" if result == 0 else "Unknown Result")

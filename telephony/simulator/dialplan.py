"""The simulator's dialplan: the contexts of config/asterisk/extensions.conf, run as code.

Theory of operation: :func:`run_dialplan` is a channel's runner. It looks up the step at
the channel's context/exten/priority, emits ``Newexten``, and awaits the application. An
application returns 0 to go on to the next priority or -1 to hang up, like Asterisk's
``pbx_exec``. Applications that wait (AGI, Dial, MusicOnHold, Wait) clean up in
``except CancelledError`` so a Redirect or a hangup produces the interruption events in
Asterisk's order before the runner ends.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from . import mixmonitor
from .model import PhoneBehaviour, SimBridge, SimChannel

if TYPE_CHECKING:
    from .pbx import PbxSimulator

Step = tuple[str, str]

# Context -> extension pattern -> priorities (1-based). Mirrors extensions.conf.
CONTEXTS: dict[str, dict[str, list[Step]]] = {
    "switchboard-inbound": {
        "_X.": [
            ("NoOp", "Inbound call to ${EXTEN} from ${CALLERID(num)}"),
            ("Set", "__SWITCHBOARD_DID=${EXTEN}"),
            ("AGI", "agi:async"),
            ("Hangup", ""),
        ],
    },
    "switchboard-connect": {
        "s": [
            ("NoOp", "Connect ${CHANNEL} to ${SWITCHBOARD_AGENT}"),
            ("StopMixMonitor", ""),
            ("ExecIf", '$["${SWITCHBOARD_RECORD}" != ""]?MixMonitor(${SWITCHBOARD_RECORD},b)'),
            ("Dial", "${SWITCHBOARD_AGENT},${SWITCHBOARD_RING_TIMEOUT},m(${SWITCHBOARD_MOH})"),
            ("AGI", "agi:async"),
            ("Hangup", ""),
        ],
    },
    "switchboard-requeue": {
        "s": [("NoOp", "Requeue ${CHANNEL}"), ("AGI", "agi:async"), ("Hangup", "")],
    },
    "switchboard-hold": {
        "s": [
            ("NoOp", "Hold ${CHANNEL}"),
            ("MusicOnHold", "${SWITCHBOARD_MOH}"),
            ("Hangup", ""),
        ],
    },
    "switchboard-agent-hold": {
        "s": [("NoOp", "Agent waits ${CHANNEL}"), ("Wait", "3600"), ("Hangup", "")],
    },
    "switchboard-outbound": {
        "_X.": [
            ("NoOp", "Outbound call to ${EXTEN}"),
            ("StopMixMonitor", ""),
            ("ExecIf", '$["${SWITCHBOARD_RECORD}" != ""]?MixMonitor(${SWITCHBOARD_RECORD},b)'),
            ("Dial", "PJSIP/${EXTEN}@trunk,60"),
            ("Hangup", ""),
        ],
    },
    "switchboard-agents": {
        "_1XXX": [("Dial", "PJSIP/${EXTEN},30"), ("Hangup", "")],
    },
    # A blind transfer to an agent (of this PBX, or of another through the trunk): the
    # first agent's recording stops, the second agent's own file starts.
    "switchboard-transfer": {
        "s": [
            ("NoOp", "Transfer ${CHANNEL} to ${SWITCHBOARD_AGENT}"),
            ("StopMixMonitor", ""),
            ("ExecIf", '$["${SWITCHBOARD_RECORD}" != ""]?MixMonitor(${SWITCHBOARD_RECORD},b)'),
            ("Dial", "${SWITCHBOARD_AGENT},30"),
            ("Hangup", ""),
        ],
    },
    # Several PBXs (optional in extensions.conf): what arrives from another PBX's trunk.
    "switchboard-from-pbx": {
        "_XXXX": [
            ("NoOp", "From another PBX to ${EXTEN}"),
            ("Dial", "PJSIP/${EXTEN},60"),
            ("Hangup", ""),
        ],
    },
    # The transcript lab's contexts (../shared/ami-transcripts/README.md).
    "inbound": {
        "s": [
            ("NoOp", "Inbound call ${CALLERID(all)}"),
            ("Answer", ""),
            ("Set", "CALL_TYPE=support"),
            ("Set", "__CUSTOMER_TIER=gold"),
            ("AGI", "agi:async"),
            ("Hangup", ""),
        ],
    },
    "hold": {
        "s": [
            ("NoOp", "On hold ${CHANNEL}"),
            ("Answer", ""),
            ("MusicOnHold", "default,300"),
            ("Hangup", ""),
        ],
    },
    "requeue": {"s": [("NoOp", "Requeue ${CHANNEL}"), ("AGI", "agi:async"), ("Hangup", "")]},
    "caller": {"_X.": [("NoOp", "Caller ${EXTEN}"), ("Answer", ""), ("Wait", "60")]},
}
# E.164 numbers start with "+", which "_X." does not match; extensions.conf has both.
CONTEXTS["switchboard-inbound"]["_+X."] = CONTEXTS["switchboard-inbound"]["_X."]
CONTEXTS["switchboard-outbound"]["_+X."] = CONTEXTS["switchboard-outbound"]["_X."]

ENDPOINT_CONTEXT = {"trunk": "switchboard-inbound"}
AGENT_CONTEXT = "switchboard-agents"


def pattern_matches(pattern: str, exten: str) -> bool:
    """Asterisk extension matching: literal, or ``_`` with X Z N [..] . !"""
    if not pattern.startswith("_"):
        return pattern == exten
    rx = ""
    i, body = 0, pattern[1:]
    while i < len(body):
        c = body[i]
        if c == "X":
            rx += "[0-9]"
        elif c == "Z":
            rx += "[1-9]"
        elif c == "N":
            rx += "[2-9]"
        elif c == ".":
            rx += ".+"
        elif c == "!":
            rx += ".*"
        elif c == "[":
            end = body.index("]", i)
            rx += "[" + re.escape(body[i + 1 : end]).replace("\\-", "-") + "]"
            i = end
        else:
            rx += re.escape(c)
        i += 1
    return re.fullmatch(rx, exten) is not None


def lookup(context: str, exten: str) -> list[Step] | None:
    extens = CONTEXTS.get(context)
    if extens is None:
        return None
    if exten in extens:
        return extens[exten]
    for pattern, steps in extens.items():
        if pattern_matches(pattern, exten):
            return steps
    return None


def substitute(chan: SimChannel, text: str, globals_: dict[str, str] | None = None) -> str:
    """Expand ``${VAR}``, the few functions the sample dialplan uses, and ``$[expr]``
    (after the variables inside it, as pbx_substitute_variables does; see
    :func:`evaluate`). A substituted value is never scanned again."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        special = {
            "EXTEN": chan.exten,
            "CONTEXT": chan.context,
            "CHANNEL": chan.name,
            "CHANNEL(name)": chan.name,
            "UNIQUEID": chan.uniqueid,
            "CALLERID(num)": chan.caller_num,
            "CALLERID(name)": chan.caller_name,
            "CALLERID(all)": f'"{chan.caller_name}" <{chan.caller_num}>',
            "CHANNEL(state)": {6: "Up", 4: "Ring", 5: "Ringing"}.get(chan.state, "Down"),
        }
        if name in special:
            return special[name]
        if name in chan.variables:
            return chan.variables[name]
        return (globals_ or {}).get(name, "")

    def variables(part: str) -> str:
        return re.sub(r"\$\{([^}]*)\}", value, part)

    out: list[str] = []
    i = 0
    while (j := text.find("$[", i)) >= 0:
        end = _closing_bracket(text, j + 1)
        if end < 0:
            break
        out.append(variables(text[i:j]))
        out.append(evaluate(substitute(chan, text[j + 2 : end], globals_)))
        i = end + 1
    out.append(variables(text[i:]))
    return "".join(out)


def _closing_bracket(text: str, start: int) -> int:
    """Index of the ``]`` closing the ``[`` at ``start`` (nested ones counted), or -1."""
    depth = 0
    for k in range(start, len(text)):
        if text[k] == "[":
            depth += 1
        elif text[k] == "]":
            depth -= 1
            if depth == 0:
                return k
    return -1


_EXPR_TOKEN = re.compile(r'\s*(?:"([^"]*)"|(!=|==|=)|([^\s"!=]+|!))')


def evaluate(expr: str) -> str:
    """Just enough of Asterisk's ``$[...]`` expressions: one operand, or two compared with
    ``=`` (``==``) or ``!=``; quoted strings lose their quotes, two integers compare as
    numbers; the result is ``1`` or ``0``. Anything else is a syntax error, which
    Asterisk logs and substitutes as the empty string."""
    tokens: list[tuple[str, str]] = []  # (kind, text): "v" value or "o" operator
    pos = 0
    while pos < len(expr.rstrip()):
        match = _EXPR_TOKEN.match(expr, pos)
        if match is None or match.end() == pos:
            return ""
        quoted, op, bare = match.groups()
        tokens.append(("o", op) if op else ("v", quoted if quoted is not None else bare))
        pos = match.end()
    kinds = "".join(kind for kind, _ in tokens)
    if kinds == "v":
        return tokens[0][1]
    if kinds != "vov":
        return ""
    (_, left), (_, op), (_, right) = tokens
    same = int(left) == int(right) if _is_int(left) and _is_int(right) else left == right
    return "1" if same == (op != "!=") else "0"


def _is_int(text: str) -> bool:
    return re.fullmatch(r"[+-]?\d+", text.strip()) is not None


def check_condition(text: str) -> bool:
    """pbx_checkcondition: empty is false, a number is its value, any other text true."""
    text = text.strip()
    if not text:
        return False
    try:
        return float(text) != 0
    except ValueError:
        return True


def split_args(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside parentheses, brackets and double quotes (as
    ast_app_separate_args), quotes kept."""
    parts: list[str] = []
    depth = 0
    quoted = False
    current = ""
    for c in text:
        if c == '"':
            quoted = not quoted
        elif not quoted and c in "([":
            depth += 1
        elif not quoted and c in ")]":
            depth = max(0, depth - 1)
        elif c == sep and depth == 0 and not quoted:
            parts.append(current)
            current = ""
            continue
        current += c
    parts.append(current)
    return parts


async def run_dialplan(pbx: PbxSimulator, chan: SimChannel) -> None:
    """The channel's runner: execute priorities until an application ends the call."""
    while not chan.hanging:
        steps = lookup(chan.context, chan.exten)
        if steps is None or chan.priority > len(steps):
            await pbx.hangup(chan, cause=16 if steps else 0, source="dialplan")
            return
        app, template = steps[chan.priority - 1]
        data = substitute(chan, template, pbx.globals)
        pbx.emit_chan(
            "Newexten", chan, ("Extension", chan.exten), ("Application", app), ("AppData", data)
        )
        chan.app, chan.app_data = app, data
        result = await run_app(pbx, chan, app, data)
        if result < 0:
            await pbx.hangup(chan, cause=16, source="dialplan")
            return
        chan.priority += 1


async def run_app(pbx: PbxSimulator, chan: SimChannel, app: str, data: str) -> int:
    """Run one dialplan application; -2 when it does not exist (as AGI EXEC reports)."""
    name = app.lower()
    if name == "agi":
        return await pbx.run_agi(chan)
    handler = APPS.get(name)
    if handler is None:
        return -2
    return await handler(pbx, chan, data)


async def app_noop(pbx: PbxSimulator, chan: SimChannel, data: str) -> int:
    return 0


async def app_set(pbx: PbxSimulator, chan: SimChannel, data: str) -> int:
    name, _, value = data.partition("=")
    if name:
        pbx.set_var(chan, name, value)
    return 0


async def app_answer(pbx: PbxSimulator, chan: SimChannel, data: str) -> int:
    pbx.set_state(chan, 6)
    return 0


async def app_hangup(pbx: PbxSimulator, chan: SimChannel, data: str) -> int:
    return -1


async def app_wait(pbx: PbxSimulator, chan: SimChannel, data: str) -> int:
    await pbx.sleep(number_or(data.split(",")[0], 0.0))
    return 0


async def app_playback(pbx: PbxSimulator, chan: SimChannel, data: str) -> int:
    pbx.set_state(chan, 6)
    await pbx.sleep(PROMPT_SECONDS * max(1, len([f for f in data.split(",")[0].split("&") if f])))
    pbx.set_var(chan, "PLAYBACKSTATUS", "SUCCESS")
    return 0


async def app_record(pbx: PbxSimulator, chan: SimChannel, data: str) -> int:
    parts = data.split(",")
    max_seconds = number_or(parts[2], 0.0) if len(parts) > 2 else 0.0
    await pbx.sleep(min(max_seconds, 3.0) if max_seconds > 0 else 3.0)
    pbx.set_var(chan, "RECORDED_FILE", parts[0].rsplit(".", 1)[0])
    pbx.set_var(chan, "RECORD_STATUS", "SILENCE")
    return 0


async def app_moh(pbx: PbxSimulator, chan: SimChannel, data: str) -> int:
    parts = data.split(",")
    klass = parts[0] or "default"
    duration = number_or(parts[1], 0.0) if len(parts) > 1 else 0.0
    pbx.set_state(chan, 6)
    pbx.emit_chan("MusicOnHoldStart", chan, ("Class", klass))
    try:
        if duration > 0:
            await pbx.sleep(duration)
        else:
            await asyncio.Event().wait()
    finally:
        if not chan.gone.is_set():
            pbx.emit_chan("MusicOnHoldStop", chan)
    return 0


async def app_chanspy(pbx: PbxSimulator, chan: SimChannel, data: str) -> int:
    target = pbx.find(data.split(",")[0])
    if target is None:
        return -1
    pbx.emit("ChanSpyStart", [*chan.block("Spyer"), *target.block("Spyee")], "call")
    try:
        await target.gone.wait()
    finally:
        pbx.emit("ChanSpyStop", [*chan.block("Spyer"), *target.block("Spyee")], "call")
    return -1


async def app_execif(pbx: PbxSimulator, chan: SimChannel, data: str) -> int:
    """``ExecIf(<expr>?<app>(<args>)[:<app>(<args>)])``: the chosen application's result;
    0 when the branch taken is empty, -1 when its application does not exist."""
    expr, sep, rest = data.partition("?")
    if not sep:
        return -1  # "ExecIf requires an argument: expr?app(args)"
    branches = split_args(rest, ":")
    branch = branches[0] if check_condition(expr) else (branches[1] if len(branches) > 1 else "")
    branch = branch.strip()
    if not branch:
        return 0
    name, _, args = branch.partition("(")
    if args.endswith(")"):
        args = args[:-1]
    result = await run_app(pbx, chan, name.strip(), args)
    return -1 if result == -2 else result


async def app_mixmonitor(pbx: PbxSimulator, chan: SimChannel, data: str) -> int:
    """``MixMonitor(file[,options[,command]])``: -1 without a file name (the channel
    hangs up, as in Asterisk), else the recording starts and the dialplan goes on."""
    parts = split_args(data, ",")
    filename = parts[0].strip()
    if not filename:
        return -1
    mixmonitor.start(pbx, chan, filename, parts[1] if len(parts) > 1 else "")
    return 0


async def app_stopmixmonitor(pbx: PbxSimulator, chan: SimChannel, data: str) -> int:
    """``StopMixMonitor()``: stops the channel's (oldest) recording; without one it does
    nothing and, like Asterisk's, still returns 0."""
    mixmonitor.stop(pbx, chan)
    return 0


async def app_dial(pbx: PbxSimulator, chan: SimChannel, data: str) -> int:
    parts = data.split(",")
    target = parts[0].split("&")[0].strip()
    if not target:
        return -1  # "Dial requires an argument (technology/resource)"
    timeout = number_or(parts[1], 0.0) if len(parts) > 1 else 0.0
    options = parts[2] if len(parts) > 2 else ""
    moh = re.search(r"m\(([^)]*)\)", options)
    moh_class = (moh.group(1) or "default") if moh else ("default" if "m" in options else None)
    _status, result = await dial(pbx, chan, target, timeout or None, moh_class)
    return result


AppFn = Callable[["PbxSimulator", SimChannel, str], Awaitable[int]]
APPS: dict[str, AppFn] = {
    "noop": app_noop,
    "set": app_set,
    "answer": app_answer,
    "hangup": app_hangup,
    "wait": app_wait,
    "playback": app_playback,
    "record": app_record,
    "musiconhold": app_moh,
    "chanspy": app_chanspy,
    "dial": app_dial,
    "execif": app_execif,
    "mixmonitor": app_mixmonitor,
    "stopmixmonitor": app_stopmixmonitor,
}
PROMPT_SECONDS = 2.0
DIAL_VARS = (
    "DIALSTATUS",
    "DIALEDPEERNUMBER",
    "DIALEDPEERNAME",
    "ANSWEREDTIME",
    "ANSWEREDTIME_MS",
    "DIALEDTIME",
    "DIALEDTIME_MS",
    "RINGTIME",
    "RINGTIME_MS",
    "PROGRESSTIME",
    "PROGRESSTIME_MS",
)


def number_or(text: str, default: float) -> float:
    try:
        return float(text)
    except ValueError:
        return default


def leg_prefix(target: str) -> tuple[str, str, str]:
    """Channel-name prefix, endpoint context and caller number for a dial target."""
    tech, _, resource = target.partition("/")
    number, _, endpoint = resource.partition("@")
    if endpoint:
        return f"{tech}/{endpoint}", ENDPOINT_CONTEXT.get(endpoint, "default"), number
    return f"{tech}/{number}", AGENT_CONTEXT, number


async def dial(
    pbx: PbxSimulator,
    chan: SimChannel,
    target: str,
    ring_limit: float | None,
    moh_class: str | None,
) -> tuple[str, int]:
    """``Dial(target,timeout,m(class))`` from ``chan``; returns (DIALSTATUS, app result)."""
    trunk = pbx.trunk_for(target)
    if trunk is not None:
        return await dial_trunk(pbx, chan, target, trunk, ring_limit, moh_class)
    timeout = ring_limit
    loop = asyncio.get_running_loop()
    for var in DIAL_VARS:
        pbx.set_var(chan, var, "")
    behaviour = pbx.endpoint_behaviour(target)
    dialstring = target.partition("/")[2]
    if behaviour is None or behaviour.mode == "unavailable":
        pbx.set_var(chan, "DIALSTATUS", "CHANUNAVAIL")
        return "CHANUNAVAIL", 0
    leg = _new_dial_leg(pbx, chan, target, dialstring)
    started = loop.time()
    pbx.show_app(leg, "AppDial", "(Outgoing Line)")
    pbx.emit("DialBegin", [*chan.block(), *leg.block("Dest"), ("DialString", dialstring)], "call")
    moh_on = False
    answered = False
    try:
        if behaviour.mode == "busy":
            await pbx.sleep(0.05)
            pbx.set_state(leg, 7)
            _dial_end(pbx, chan, leg, "BUSY")
            await pbx.hangup(leg, cause=17, source="dialplan")
            pbx.set_var(chan, "DIALSTATUS", "BUSY")
            return "BUSY", 0
        pbx.set_state(leg, 5)
        pbx.emit(
            "DialState", [*chan.block(), *leg.block("Dest"), ("DialStatus", "RINGING")], "call"
        )
        pbx.set_var(chan, "RINGTIME", "0")
        if moh_class is not None:
            pbx.emit_chan("MusicOnHoldStart", chan, ("Class", moh_class))
            moh_on = True
        wait = behaviour.answer_after if behaviour.mode == "answer" else None
        limit = [t for t in (wait, timeout) if t is not None]
        ring = min(limit) if limit else None
        if ring is None:
            await leg.gone.wait()
        else:
            with _suppress_timeout():
                await asyncio.wait_for(leg.gone.wait(), pbx.scaled(ring))
        if moh_on:
            pbx.emit_chan("MusicOnHoldStop", chan)
            moh_on = False
        if leg.gone.is_set() or wait is None or (timeout is not None and timeout < wait):
            status = "NOANSWER"
            _dial_end(pbx, chan, leg, status)
            await pbx.hangup(leg, cause=0, source="dialplan")
            pbx.set_var(chan, "DIALSTATUS", status)
            return status, 0
        answered = True
        bridge = _bridge_answered(pbx, chan, leg, dialstring, target)
        answered_at = loop.time()
        if behaviour.talk_seconds is not None:
            pbx.hang_up_later(leg, behaviour.talk_seconds)
        await bridge.ended.wait()
        talk = (loop.time() - answered_at) / pbx.time_scale
        total = (loop.time() - started) / pbx.time_scale
        pbx.set_var(chan, "ANSWEREDTIME", str(int(talk)))
        pbx.set_var(chan, "ANSWEREDTIME_MS", str(int(talk * 1000)))
        pbx.set_var(chan, "DIALEDTIME", str(int(total)))
        pbx.set_var(chan, "DIALEDTIME_MS", str(int(total * 1000)))
        pbx.set_var(chan, "DIALSTATUS", "ANSWER")
        if _owned(leg, chan):
            await pbx.hangup(leg, cause=16, source="dialplan")
        return "ANSWER", -1
    except asyncio.CancelledError:
        # The caller hung up or was redirected while dialing or talking.
        if moh_on and not chan.gone.is_set():
            pbx.emit_chan("MusicOnHoldStop", chan)
        if not answered and not leg.gone.is_set():
            _dial_end(pbx, chan, leg, "CANCEL")
        pbx.leave_bridge(chan)
        if _owned(leg, chan):
            await pbx.hangup(leg, cause=16, source="dialplan")
        raise


async def dial_trunk(
    pbx: PbxSimulator,
    chan: SimChannel,
    target: str,
    trunk: tuple[PbxSimulator, str],
    ring_limit: float | None,
    moh_class: str | None,
) -> tuple[str, int]:
    """``Dial(PJSIP/<ext>@<trunk>)`` to a linked simulator (``PbxSimulator.link_trunk``).

    This PBX gets the trunk leg (``PJSIP/<trunk>-...``, Dial events as for any leg); the
    far PBX an inbound channel running ``switchboard-from-pbx``, which rings its own
    phone. The leg answers when that channel is bridged (the agent answered); a hangup on
    either side ends the other, as a SIP BYE across the trunk does.
    """
    peer, back = trunk
    loop = asyncio.get_running_loop()
    for var in DIAL_VARS:
        pbx.set_var(chan, var, "")
    if not peer.running:
        pbx.set_var(chan, "DIALSTATUS", "CHANUNAVAIL")
        return "CHANUNAVAIL", 0
    dialstring = target.partition("/")[2]
    number = leg_prefix(target)[2]
    leg = _new_dial_leg(pbx, chan, target, dialstring)
    pbx.show_app(leg, "AppDial", "(Outgoing Line)")
    pbx.emit("DialBegin", [*chan.block(), *leg.block("Dest"), ("DialString", dialstring)], "call")
    far = peer.new_channel(
        f"PJSIP/{back}",
        state=4,
        context="switchboard-from-pbx",
        exten=number,
        caller=(chan.caller_num, chan.caller_name),
    )
    far.dnid = number
    peer.start_runner(far)
    moh_on = False
    answered = False
    try:
        pbx.set_state(leg, 5)
        pbx.emit(
            "DialState", [*chan.block(), *leg.block("Dest"), ("DialStatus", "RINGING")], "call"
        )
        if moh_class is not None:
            pbx.emit_chan("MusicOnHoldStart", chan, ("Class", moh_class))
            moh_on = True
        waits = [asyncio.ensure_future(e.wait()) for e in (far.bridged, far.gone, leg.gone)]
        try:
            await asyncio.wait(
                waits,
                timeout=pbx.scaled(ring_limit) if ring_limit else None,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for waiting in waits:
                waiting.cancel()
        if moh_on:
            pbx.emit_chan("MusicOnHoldStop", chan)
            moh_on = False
        if not far.bridged.is_set() or far.gone.is_set() or leg.gone.is_set():
            far_status = far.variables.get("DIALSTATUS", "")
            status = far_status if far_status in ("BUSY", "CHANUNAVAIL") else "NOANSWER"
            _dial_end(pbx, chan, leg, status)
            await peer.hangup(far, cause=16, source="ami")
            await pbx.hangup(leg, cause=0, source="dialplan")
            pbx.set_var(chan, "DIALSTATUS", status)
            return status, 0
        answered = True
        bridge = _bridge_answered(pbx, chan, leg, dialstring, target)
        answered_at = loop.time()
        pbx.spawn(_bye_across(far, pbx, leg))
        peer.spawn(_bye_across(leg, peer, far))
        await bridge.ended.wait()
        talk = (loop.time() - answered_at) / pbx.time_scale
        pbx.set_var(chan, "ANSWEREDTIME", str(int(talk)))
        pbx.set_var(chan, "ANSWEREDTIME_MS", str(int(talk * 1000)))
        if _owned(leg, chan):
            await pbx.hangup(leg, cause=16, source="dialplan")
        return "ANSWER", -1
    except asyncio.CancelledError:
        if moh_on and not chan.gone.is_set():
            pbx.emit_chan("MusicOnHoldStop", chan)
        if not answered and not leg.gone.is_set():
            _dial_end(pbx, chan, leg, "CANCEL")
            await peer.hangup(far, cause=16, source="ami")
        pbx.leave_bridge(chan)
        if _owned(leg, chan):
            await pbx.hangup(leg, cause=16, source="dialplan")
        raise


def _new_dial_leg(pbx: PbxSimulator, chan: SimChannel, target: str, dialstring: str) -> SimChannel:
    """The outgoing channel Dial creates for ``target``, on ``chan``'s Linkedid, with
    the variables ``chan`` passes on (``__`` / ``_``)."""
    prefix, context, number = leg_prefix(target)
    leg = pbx.new_channel(
        prefix,
        state=0,
        context=context,
        exten="s",
        caller=(number, ""),
        connected=(chan.caller_num, chan.caller_name),
        linkedid=chan.linkedid,
    )
    leg.dial_owner = chan
    pbx.set_var(leg, "DIALEDPEERNUMBER", dialstring)
    for name, value in chan.inherited.items():
        pbx.set_var(leg, name, value)
    return leg


def _bridge_answered(
    pbx: PbxSimulator, chan: SimChannel, leg: SimChannel, dialstring: str, target: str
) -> SimBridge:
    """The dialled ``leg`` answered: Dial's variables and DialEnd on the caller's
    ``chan``, and the two bridged, as app_dial does for a phone or a trunk alike."""
    pbx.set_state(leg, 6)
    pbx.set_var(chan, "DIALSTATUS", "ANSWER")
    pbx.set_var(chan, "DIALEDPEERNAME", leg.name)
    pbx.set_var(chan, "DIALEDPEERNUMBER", dialstring)
    _dial_end(pbx, chan, leg, "ANSWER")
    bridge = pbx.new_bridge(leg, chan)
    pbx.set_var(leg, "BRIDGEPEER", chan.name)
    pbx.set_var(chan, "BRIDGEPEER", leg.name)
    leg.app, leg.app_data = "AppDial", "(Outgoing Line)"
    chan.app, chan.app_data = "Dial", target
    return bridge


async def _bye_across(gone: SimChannel, pbx: PbxSimulator, other: SimChannel) -> None:
    """When one end of a trunk call hangs up, the other PBX hangs its end up."""
    await gone.gone.wait()
    await pbx.hangup(other, cause=16, source="remote")


def _owned(leg: SimChannel, chan: SimChannel) -> bool:
    """Is ``leg`` still ``chan``'s Dial leg (not gone, not redirected or bridged away)?"""
    return not leg.gone.is_set() and not leg.redirecting and leg.dial_owner is chan


def _dial_end(pbx: PbxSimulator, chan: SimChannel | None, leg: SimChannel, status: str) -> None:
    head = chan.block() if chan is not None else []
    pbx.emit("DialEnd", [*head, *leg.block("Dest"), ("DialStatus", status)], "call")


class _suppress_timeout:
    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: object, tb: object) -> bool:
        return exc_type is TimeoutError


async def originate(
    pbx: PbxSimulator,
    target: str,
    *,
    action_id: str,
    context: str,
    exten: str,
    priority: int,
    application: str,
    data: str,
    caller: tuple[str, str],
    ring_seconds: float,
    variables: dict[str, str],
) -> bool:
    """``Originate``: ring ``target``; when it answers run the context or application.

    Emits the DialBegin/DialEnd pair without ``Channel:`` and ``OriginateResponse``
    (broadcast, carrying the originator's ActionID). Returns True when answered.
    """
    timeout = ring_seconds
    where = (
        [("Application", application), ("Data", data)]
        if application
        else [("Context", context), ("Exten", exten)]
    )

    def response(ok: bool, name: str, reason: int, uid: str, num: str, nm: str) -> None:
        head = [("ActionID", action_id)] if action_id else []
        pbx.emit(
            "OriginateResponse",
            [
                *head,
                ("Response", "Success" if ok else "Failure"),
                ("Channel", name),
                *where,
                ("Reason", str(reason)),
                ("Uniqueid", uid),
                ("CallerIDNum", num),
                ("CallerIDName", nm),
            ],
            "call",
        )

    trunk = pbx.trunk_for(target)
    behaviour: PhoneBehaviour | None = pbx.endpoint_behaviour(target)
    if trunk is not None and trunk[0].running:
        # The far PBX rings its phone; this leg answers when that one does.
        behaviour = PhoneBehaviour(mode="answer", answer_after=timeout, talk_seconds=None)
    if behaviour is None or behaviour.mode == "unavailable":
        response(False, target, 0, "<null>", "<unknown>", "<unknown>")
        return False
    prefix, ep_context, number = leg_prefix(target)
    leg = pbx.new_channel(
        prefix, state=0, context=ep_context, exten="s", caller=caller, connected=caller
    )
    for name, value in variables.items():
        pbx.set_var(leg, name, value)
    pbx.show_app(leg, "AppDial2", "(Outgoing Line)")
    dialstring = target.partition("/")[2]
    pbx.emit("DialBegin", [*leg.block("Dest"), ("DialString", dialstring)], "call")
    if behaviour.mode == "busy":
        await pbx.sleep(0.05)
        _dial_end(pbx, None, leg, "BUSY")
        await pbx.hangup(leg, cause=17, source="dialplan")
        response(False, target, 5, "<null>", "<unknown>", "<unknown>")
        return False
    pbx.set_state(leg, 5)
    pbx.emit("DialState", [*leg.block("Dest"), ("DialStatus", "RINGING")], "call")
    wait = behaviour.answer_after if behaviour.mode == "answer" else None
    ring = timeout if wait is None else min(wait, timeout)
    if trunk is not None:
        peer, back = trunk
        far = peer.new_channel(
            f"PJSIP/{back}", state=4, context="switchboard-from-pbx", exten=number, caller=caller
        )
        peer.start_runner(far)
        waits = [asyncio.ensure_future(e.wait()) for e in (far.bridged, far.gone, leg.gone)]
        try:
            await asyncio.wait(
                waits, timeout=pbx.scaled(timeout), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiting in waits:
                waiting.cancel()
        if far.bridged.is_set() and not far.gone.is_set():
            pbx.spawn(_bye_across(far, pbx, leg))
            peer.spawn(_bye_across(leg, peer, far))
        else:
            await peer.hangup(far, cause=16, source="ami")
            wait = None  # not answered over there
    else:
        with _suppress_timeout():
            await asyncio.wait_for(leg.gone.wait(), pbx.scaled(ring))
    if leg.gone.is_set() or wait is None or timeout < wait:
        timed_out = not leg.gone.is_set()  # else the ringing leg was hung up (reason 1)
        if timed_out:
            _dial_end(pbx, None, leg, "NOANSWER")
            await pbx.hangup(leg, cause=0, source="dialplan")
        response(False, target, 3 if timed_out else 1, "<null>", "<unknown>", "<unknown>")
        return False
    pbx.set_state(leg, 6)
    response(True, leg.name, 4, leg.uniqueid, leg.caller_num, leg.caller_name)
    _dial_end(pbx, None, leg, "ANSWER")
    if behaviour.talk_seconds is not None:
        pbx.hang_up_later(leg, behaviour.talk_seconds)
    if application:
        leg.context, leg.exten, leg.priority = "", "", 1
        leg.app, leg.app_data = application, data

        async def run_application() -> None:
            await run_app(pbx, leg, application, data)
            await pbx.hangup(leg, cause=16, source="dialplan")

        leg.runner = pbx.spawn(run_application())
    else:
        leg.context, leg.exten, leg.priority = context, exten, priority
        pbx.start_runner(leg)
    return True

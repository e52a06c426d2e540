"""Pure AsyncAGI pieces: command text, result parsing, the caller's environment.

Theory of operation: an AGI reply is one line ``<code> result=<n> [(<data>)] [endpos=<n>]``
(``AsyncAGIExec`` carries it URL-encoded; :mod:`telephony.ami.events` already decoded it).
200 is success and the meaning of ``result`` depends on the command (a digit comes back
as its ASCII code, ``-1`` means failure or hangup). 510 (unknown command), 511 (dead
channel) and 520 (usage, possibly multi-line ``520-...``) are errors and raise here, so
callers never inspect codes. Arguments are quoted the way Asterisk's AGI parser splits
them (double quotes, backslash escapes), which keeps spaces and quotes in prompts safe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from config.errors import AgiError, ChannelHungUp, LocalProtocolError

__all__ = [
    "DTMF_SYMBOLS",
    "AgiDeadChannel",
    "AgiEnv",
    "AgiResult",
    "agi_quote",
    "check_digits",
    "parse_agi_result",
]

# ASCII digits only (``\d`` and ``int()`` take any Unicode digit), and a bound on their
# number: ``int()`` refuses more than 4,300 digits with ValueError, and no AGI number
# (a character code, an exit status, a sample offset) needs more than 18.
_MAX_NUMBER_DIGITS = 18
_RESULT = re.compile(r"result=(-?[0-9]*)", re.ASCII)
_ENDPOS = re.compile(r"endpos=(-?[0-9]+)", re.ASCII)
DTMF_SYMBOLS = frozenset("0123456789*#ABCDabcd")


class AgiDeadChannel(AgiError, ChannelHungUp):
    """511: the command was refused because the channel is dead (both an AGI error and a
    hangup, so ``except ChannelHungUp`` in an IVR catches it)."""


@dataclass(frozen=True, slots=True)
class AgiResult:
    """A parsed 200 reply: ``result`` as text (``"1"``, ``"-1"``, ``""``), the text in
    parentheses as ``data`` (``"bar"``, ``"timeout"``), ``endpos`` when present."""

    code: int
    result: str
    data: str = ""
    endpos: int | None = None
    raw: str = ""

    @property
    def value(self) -> int:
        """``result`` as an int (``0`` when empty)."""
        try:
            return int(self.result)
        except ValueError:
            return 0


def parse_agi_result(text: str) -> AgiResult:
    """Parse a decoded AGI reply such as ``"200 result=1 (bar)\\n"``.

    Raises:
        AgiError: a 510 or 520 reply, a reply that is not AGI at all, or one whose
            numbers are not ASCII digits or are too long to be real (this is the only
            exception it raises, whatever the text).
        AgiDeadChannel: a 511 reply.
    """
    raw = text.strip("\r\n")
    first = raw.split("\n", 1)[0].strip()
    code_text = first[:3]
    if len(code_text) != 3 or not (code_text.isascii() and code_text.isdigit()):
        raise AgiError(0, f"not an AGI reply: {raw[:80]!r}")
    code = int(code_text)
    rest = first[4:] if len(first) > 3 else ""
    if code == 511:
        raise AgiDeadChannel(code, rest or "command not permitted on a dead channel")
    if code != 200:
        message = rest or "error"
        if code == 520:
            usage = [ln.strip() for ln in raw.split("\n")[1:] if ln.strip()]
            message = " ".join([rest, *usage]).strip() or "invalid command syntax"
        raise AgiError(code, message)
    match = _RESULT.search(rest)
    result = match.group(1) if match else ""
    data = ""
    after = rest[match.end() :] if match else rest
    open_at = after.find("(")
    close_at = after.rfind(")")
    if 0 <= open_at < close_at:
        data = after[open_at + 1 : close_at]
    endpos_match = _ENDPOS.search(after[close_at + 1 :] if close_at >= 0 else after)
    endpos = _number(endpos_match.group(1), "endpos", raw) if endpos_match else None
    if result:
        _number(result, "result", raw)
    return AgiResult(code, result, data, endpos, raw)


def _number(text: str, what: str, raw: str) -> int | None:
    """``text`` (``-?[0-9]*``) as an int; empty or a lone ``-`` gives None.

    Raises:
        AgiError: more digits than any real AGI number has.
    """
    digits = text.lstrip("-")
    if not digits:
        return None
    if len(digits) > _MAX_NUMBER_DIGITS:
        raise AgiError(200, f"{what} out of range in {raw[:80]!r}")
    return int(text)


def agi_quote(arg: str) -> str:
    """Quote one AGI argument (always quoted, so empty strings and spaces survive).

    Raises:
        LocalProtocolError: the argument contains CR or LF.
    """
    if "\r" in arg or "\n" in arg:
        raise LocalProtocolError(f"AGI argument contains CR or LF: {arg[:40]!r}")
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def check_digits(digits: str, what: str = "digits") -> str:
    """Return ``digits`` if it contains only DTMF symbols.

    Raises:
        LocalProtocolError: anything else.
    """
    if any(c not in DTMF_SYMBOLS for c in digits):
        raise LocalProtocolError(f"AGI {what} must be DTMF symbols 0-9 * # A-D, got {digits!r}")
    return digits


@dataclass(frozen=True, slots=True)
class AgiEnv:
    """The ``AsyncAGIStart`` environment in plain names; ``vars`` holds every raw key."""

    channel: str = ""
    uniqueid: str = ""
    caller_id: str = ""
    caller_id_name: str = ""
    dnid: str = ""
    extension: str = ""
    context: str = ""
    priority: str = ""
    language: str = ""
    type: str = ""
    vars: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str]) -> AgiEnv:
        """Build from the decoded env; Asterisk's ``unknown`` placeholder becomes ``""``."""

        def pick(key: str) -> str:
            value = env.get(key, "")
            return "" if value == "unknown" else value

        return cls(
            channel=pick("agi_channel"),
            uniqueid=pick("agi_uniqueid"),
            caller_id=pick("agi_callerid"),
            caller_id_name=pick("agi_calleridname"),
            dnid=pick("agi_dnid"),
            extension=pick("agi_extension"),
            context=pick("agi_context"),
            priority=pick("agi_priority"),
            language=pick("agi_language"),
            type=pick("agi_type"),
            vars=dict(env),
        )

"""The console's bounded parsers: every byte a browser sends goes through one of these.

Theory of operation: Python's own parsers have edges a client can reach — ``json.loads``
recurses once per ``[`` (``RecursionError`` past ~1,000), ``str.isdigit`` says yes to
``"²"`` which ``int`` then refuses, ``int`` refuses more than 4,300 digits, SQLite refuses
integers past 2**63, ``date + timedelta`` overflows past year 9999, and a JSON
``"\\ud800"`` decodes to a string no UTF-8 encoder can write back. Each of those used to
escape a handler as a 500 (or kill a websocket task silently). Here every parser bounds
its input first (size, depth, digit count, range) and reports anything else as
:class:`~config.errors.InvalidInput` naming the field, which the API maps to 400
``invalid_input`` and the websocket to an ``error`` frame. Handlers and actions use only
these, so a new route gets the same bounds by construction.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from config.errors import InvalidInput

__all__ = [
    "MAX_ID",
    "MAX_JSON_DEPTH",
    "decode_json",
    "int_id",
    "moment",
    "no_surrogates",
    "whole_number",
]

# The console's messages are at most three levels deep (a wrap-up's ``case``); 16 leaves
# room without letting the decoder or anything walking the result recurse far.
MAX_JSON_DEPTH = 16
MAX_ID = 2**63 - 1  # SQLite's INTEGER
_MAX_ID_DIGITS = 18
_ASCII_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_WHOLE = re.compile(r"-?[0-9]{1,18}", re.ASCII)
# A JSON string (the same boundaries as the decoder's), or one bracket. The closing quote
# is optional so an unterminated string runs to the end in one match: with it required,
# text like '"\\"\\"\\"...' would be rescanned from every quote (quadratic).
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)
_SURROGATE = re.compile("[\ud800-\udfff]")
FIRST_YEAR = 1970
LAST_YEAR = 9998  # a day's end (+1 day) and any UTC offset stay inside datetime's range


def decode_json(raw: bytes | str, *, max_bytes: int, what: str = "body") -> Any:
    """Decode one JSON document, bounded in size and nesting.

    Args:
        raw: the bytes (UTF-8) or text as received.
        max_bytes: the largest accepted size.
        what: how error messages name the input (``"body"``, ``"message"``).

    Raises:
        InvalidInput: too large, nested deeper than :data:`MAX_JSON_DEPTH`, not UTF-8,
            not JSON (``NaN`` and ``Infinity`` included), or holding a lone surrogate.
    """
    if len(raw) > max_bytes:
        raise InvalidInput(f"{what} too large (over {max_bytes} bytes)")
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"{what} is not UTF-8") from None
    else:
        text = raw
    _check_depth(text, what)
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):  # ValueError also covers over-long numbers
        raise InvalidInput(f"{what} is not valid JSON") from None
    _check_strings(value, what)
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check_depth(text: str, what: str) -> None:
    """Refuse nesting past the limit before the recursive decoder sees it. Strings are
    skipped exactly where the decoder skips them, so brackets inside text do not count
    and the decoder can never nest deeper than counted here."""
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise InvalidInput(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels")
        elif token in "]}":
            depth -= 1


def _check_strings(value: Any, what: str) -> None:
    """Every key and string must be writable as UTF-8 (to SQLite, logs, responses)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            no_surrogates(item, what)
        elif isinstance(item, dict):
            for key, inner in item.items():
                no_surrogates(key, what)
                stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)


def no_surrogates(value: str, name: str) -> str:
    """``value`` unchanged. Raises InvalidInput if it holds a lone surrogate."""
    if _SURROGATE.search(value):
        raise InvalidInput(f"{name} is not valid Unicode text (a lone surrogate)", field=name)
    return value


def int_id(value: str, what: str, *, field: str = "id") -> int:
    """A database id written as ASCII digits (``"0042"`` is 42).

    Raises:
        InvalidInput: anything but 1 to 18 ASCII digits (no sign, no spaces, no "²").
    """
    if (
        not isinstance(value, str)
        or len(value) > _MAX_ID_DIGITS
        or not _ASCII_DIGITS.fullmatch(value)
    ):
        raise InvalidInput(f"{what} must be a number", field=field)
    return int(value)


def whole_number(value: str, name: str, *, minimum: int = 0, maximum: int = 1_000_000_000) -> int:
    """A whole number from a query string, inside ``[minimum, maximum]``.

    Raises:
        InvalidInput: not ASCII digits (with an optional ``-``), or out of range.
    """
    if not _WHOLE.fullmatch(value):
        raise InvalidInput(f"{name} must be a whole number", field=name)
    number = int(value)
    if not minimum <= number <= maximum:
        raise InvalidInput(f"{name} must be from {minimum} to {maximum}", field=name)
    return number


def moment(value: str, name: str, *, end_of_day: bool = False) -> float:
    """An ISO date (a whole UTC day; ``end_of_day`` takes its end) or datetime (UTC when
    it has no offset), as epoch seconds.

    Raises:
        InvalidInput: not ISO 8601, or outside the years 1970 to 9998.
    """
    problem = InvalidInput(
        f"{name} must be an ISO date (YYYY-MM-DD) or datetime from {FIRST_YEAR} to {LAST_YEAR}",
        field=name,
    )
    if not value.isascii():
        raise problem
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            at = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        else:
            at = dt.datetime.fromisoformat(value)
            if at.tzinfo is None:
                at = at.replace(tzinfo=dt.UTC)
    except ValueError:
        raise problem from None
    if not FIRST_YEAR <= at.year <= LAST_YEAR:
        raise problem
    if len(value) == 10 and end_of_day:
        at += dt.timedelta(days=1)
    return at.timestamp()

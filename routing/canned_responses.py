"""Canned responses for chats and emails: the file, its checks, and the placeholders.

Theory of operation: the file (``[console] canned_responses_file``, e.g.
``config/canned_responses.yaml``) is a list of responses, each ``{id, title, text}`` with
optional ``channels`` (``chat`` / ``email``; default both) and ``language`` (``""`` =
any). :func:`load_responses` reads it within the limits of :mod:`routing.ivr.yamltree`
and :func:`parse_responses` checks it: every problem is one
:class:`~config.errors.InvalidInput` whose message names the file, the response and what
is wrong, so a typo stops the service at start-up instead of reaching a customer.

A text may hold the placeholders of :data:`PLACEHOLDERS` (``{customer.name}``,
``{customer.first_name}``, ``{agent.name}``, ``{queue}``); any other ``{...}`` is refused
at load — a response that would send a literal ``{custmer.name}`` to a customer never
loads. ``{{`` and ``}}`` stand for literal braces. :func:`fill` is the one substitution
(the agent page does the same in JavaScript, since it holds the card); a value missing
for a placeholder leaves a neutral word, never the raw token.

No I/O but reading the file: ``mypy --strict`` passes here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from config.errors import InvalidInput
from routing.ivr.yamltree import Limits, load_file

__all__ = [
    "CANNED_LIMITS",
    "CHANNELS",
    "PLACEHOLDERS",
    "CannedResponse",
    "fill",
    "load_responses",
    "parse_responses",
    "placeholders_in",
]

# The digital channels a canned response may be for (voice has no text to send).
CHANNELS = ("chat", "email")
# Placeholder -> what fill() writes when the value is unknown (an unnamed customer).
PLACEHOLDERS: Mapping[str, str] = {
    "customer.name": "there",
    "customer.first_name": "there",
    "agent.name": "",
    "queue": "",
}
CANNED_LIMITS = Limits(max_bytes=256 * 1024, max_depth=10, max_values=20_000)
MAX_RESPONSES = 500
MAX_TITLE = 100
MAX_TEXT = 4000
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_KEYS = {"id", "title", "text", "channels", "language"}
_LANGUAGE = re.compile(r"^([a-z]{2,3}(-[A-Za-z0-9]{2,8})?)?$")
# ``{{`` / ``}}`` (escaped braces) or one ``{name}``; a lone brace is caught apart.
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


@dataclass(frozen=True, slots=True)
class CannedResponse:
    id: str
    title: str
    text: str
    channels: tuple[str, ...] = CHANNELS
    language: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "text": self.text,
            "channels": list(self.channels),
            "language": self.language,
            "placeholders": sorted(placeholders_in(self.text)),
        }


def placeholders_in(text: str) -> set[str]:
    """The placeholder names ``text`` uses.

    Raises:
        InvalidInput: an unknown placeholder, or a ``{`` / ``}`` that opens or closes
            nothing (write ``{{`` / ``}}`` for a literal brace).
    """
    names: set[str] = set()
    rest = []
    last = 0
    for match in _TOKEN.finditer(text):
        rest.append(text[last : match.start()])
        last = match.end()
        name = match.group(1)
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            raise InvalidInput(
                f"unknown placeholder {{{name[:40]}}} (known: {known})", field="text"
            )
        names.add(name)
    rest.append(text[last:])
    if any("{" in part or "}" in part for part in rest):
        raise InvalidInput("a lone { or } (write {{ or }} for a brace)", field="text")
    return names


def fill(text: str, values: Mapping[str, str]) -> str:
    """``text`` with its placeholders replaced by ``values`` (a missing or empty value:
    the placeholder's neutral word). ``text`` must have passed :func:`placeholders_in`."""

    def one(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        name = match.group(1)
        return values.get(name) or PLACEHOLDERS.get(name, "")

    return _TOKEN.sub(one, text)


def load_responses(
    path: str | os.PathLike[str], limits: Limits = CANNED_LIMITS
) -> tuple[CannedResponse, ...]:
    """Read and check a canned-responses file.

    Raises:
        InvalidInput: the file is missing, too big, not YAML, or a response is wrong; the
            message names the file (and line or response) and what is wrong.
    """
    source = str(path)
    return parse_responses(load_file(path, limits), source)


def parse_responses(data: Any, source: str = "<canned responses>") -> tuple[CannedResponse, ...]:
    """Check the file's data: ``{"responses": [...]}`` (an empty file: no responses).

    Raises:
        InvalidInput: the message names ``source``, the response and what is wrong.
    """
    if data is None:
        return ()
    if not isinstance(data, dict) or set(data) - {"responses"}:
        raise InvalidInput(f"{source}: expected a table with one key, responses", field="-")
    items = data.get("responses") or []
    if not isinstance(items, list):
        raise InvalidInput(f"{source}: responses must be a list", field="-")
    if len(items) > MAX_RESPONSES:
        raise InvalidInput(f"{source}: more than {MAX_RESPONSES} responses", field="-")
    out: list[CannedResponse] = []
    seen: set[str] = set()
    for index, item in enumerate(items, 1):
        response = _response(item, f"{source}: response {index}")
        if response.id in seen:
            raise InvalidInput(f"{source}: response id {response.id!r} is used twice", field="-")
        seen.add(response.id)
        out.append(response)
    return tuple(out)


def _response(item: Any, where: str) -> CannedResponse:
    if not isinstance(item, dict):
        raise InvalidInput(f"{where}: expected a table (id, title, text)", field="-")
    unknown = sorted(str(k) for k in set(item) - _KEYS)
    if unknown:
        raise InvalidInput(f"{where}: unknown key {unknown[0]!r}", field="-")
    ident = item.get("id")
    if not isinstance(ident, str) or not _ID.match(ident):
        raise InvalidInput(f"{where}: id must be 1-64 of A-Z a-z 0-9 _ . -", field="-")
    where = f"{where} ({ident})"
    title = _string(item, "title", MAX_TITLE, where, multiline=False)
    text = _string(item, "text", MAX_TEXT, where, multiline=True)
    try:
        placeholders_in(text)
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: text: {exc}", field="-") from None
    channels = item.get("channels", list(CHANNELS))
    if (
        not isinstance(channels, list)
        or not channels
        or any(c not in CHANNELS for c in channels)
        or len(set(channels)) != len(channels)
    ):
        raise InvalidInput(f"{where}: channels must be a list of chat, email", field="-")
    language = item.get("language", "")
    if not isinstance(language, str) or not _LANGUAGE.match(language):
        raise InvalidInput(f"{where}: language must be a code such as en or ru", field="-")
    return CannedResponse(ident, title, text, tuple(channels), language)


def _string(item: Mapping[str, Any], key: str, limit: int, where: str, *, multiline: bool) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{where}: {key} is required (a string)", field="-")
    if len(value) > limit:
        raise InvalidInput(f"{where}: {key} is longer than {limit} characters", field="-")
    allowed = "\n\t" if multiline else ""
    if any((ord(c) < 32 or ord(c) == 127) and c not in allowed for c in value):
        raise InvalidInput(f"{where}: {key} holds control characters", field="-")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise InvalidInput(f"{where}: {key} holds a lone surrogate", field="-")
    return value.strip() if not multiline else value.rstrip("\n")

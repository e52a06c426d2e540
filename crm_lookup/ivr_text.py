"""An IVR path in words, as the console's ``SB.describeStep`` (static/common.js) says it.

One place on the server side for exports and drill-down lists: each step becomes a
catalogue key and its values (:func:`step_phrase`), and a caller that has the catalogue
(agent_console.catalogue.translator) turns them into its language. Collected digits are
never shown: they may be an account number or a PIN. A plain-string step (an older
contact's node id) is said as its name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

Translate = Callable[..., str]


def spell(node: Any) -> str:
    """A node id as words: ``main_menu`` -> ``main menu``."""
    text = str(node or "")
    for mark in "_-":
        text = text.replace(mark, " ")
    return " ".join(text.split())


def step_phrase(step: Any) -> tuple[str, dict[str, str]] | None:
    """The catalogue key and values of one step, or None for the script's bookkeeping
    (``branch``, ``set``), which is not the caller's doing."""
    if not isinstance(step, Mapping):
        return "ivr.other", {"name": spell(step), "result": ""}
    name = spell(step.get("node"))
    result = str(step.get("result") or "")
    kind = step.get("kind")
    if kind == "play":
        return ("ivr.play.interrupted" if result.startswith("interrupted") else "ivr.play"), {
            "name": name
        }
    if kind == "menu":
        digits = str(step.get("digits") or "")
        if result.startswith("option") or digits:
            return "ivr.menu.option", {"name": name, "digits": digits or result[7:]}
        return "ivr.menu.failed", {"name": name}
    if kind == "collect":
        return "ivr.collect", {"name": name}
    if kind == "lookup":
        return ("ivr.lookup.found" if result == "found" else "ivr.lookup.not_found"), {}
    if kind == "hours":
        return (f"ivr.hours.{result}" if result in ("closed", "holiday") else "ivr.hours.open"), {}
    if kind == "queue":
        return "ivr.queue", {}
    if kind == "callback":
        return ("ivr.callback.declined" if result.startswith("declined") else "ivr.callback"), {}
    if kind == "voicemail":
        return ("ivr.voicemail" if result == "recorded" else "ivr.voicemail.none"), {}
    if kind == "transfer":
        return "ivr.transfer", {}
    if kind == "hangup":
        return "ivr.hangup", {}
    if kind in ("branch", "set"):
        return None
    return "ivr.other", {"name": name, "result": result}


def describe_path(path: Iterable[Any], t: Translate, sep: str = " → ") -> str:
    """The whole path as one line of text in the language of ``t(key, **values)``."""
    parts = []
    for step in path:
        phrase = step_phrase(step)
        if phrase is not None:
            parts.append(t(phrase[0], **phrase[1]))
    return sep.join(parts)

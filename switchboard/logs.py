"""One line per log record, ``key=value`` fields, secrets and card numbers scrubbed.

Call :func:`setup_logging` once at start-up. Pass structured fields with
``log.info("call queued", extra={"fields": {"queue": "sales", "wait": 3.2}})``.

DEBUG is ours only: libraries write their payloads at DEBUG (aiosqlite every SQL statement
with its parameters — password hashes, session keys, CSRF tokens, phone numbers;
websockets every frame), so their loggers stay at INFO whatever the level, and a filter on
the handler drops any DEBUG record from outside this project that gets through anyway.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any, TextIO

SECRET_KEYS = re.compile(r"(secret|password|passwd|token|key|cookie|authorization)", re.I)
# 13-19 digit runs (optionally spaced or dashed) look like card numbers: keep the last four.
CARD_NUMBER = re.compile(r"\b(?:\d[ -]?){9,15}(\d{4})\b")
SECRET_IN_TEXT = re.compile(r"(?i)\b(secret|password|key)(\s*[:=]\s*)(\S+)")
# A password hash is as good as a password to an offline guesser.
PASSWORD_HASH = re.compile(r"\$argon2(?:id|i|d)\$\S+")
# The packages whose DEBUG records are written to be safe to print.
OWN_PACKAGES = ("agent_console", "config", "crm_lookup", "routing", "switchboard", "telephony")


def scrub(text: str) -> str:
    """Mask what must never reach a log: secrets written as ``secret: x`` and card numbers."""
    text = SECRET_IN_TEXT.sub(lambda m: f"{m[1]}{m[2]}***", text)
    text = PASSWORD_HASH.sub("$argon2***", text)
    return CARD_NUMBER.sub(lambda m: "****" + m[1], text)


def _quote(value: Any) -> str:
    text = scrub(str(value))
    if text == "" or any(c in text for c in ' "=\n\r\t'):
        text = (
            '"'
            + text.replace("\\", "\\\\")
            .replace('"', '\\"')
            .replace("\n", "\\n")
            .replace("\r", "\\r")
            + '"'
        )
    return text


class KeyValueFormatter(logging.Formatter):
    """``ts=... level=info logger=telephony.ami msg="connected" host=127.0.0.1``."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [
            "ts="
            + time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level=" + record.levelname.lower(),
            "logger=" + record.name,
            "msg=" + _quote(record.getMessage()),
        ]
        fields = getattr(record, "fields", None) or {}
        for key, value in fields.items():
            parts.append(f"{key}=" + ("***" if SECRET_KEYS.search(key) else _quote(value)))
        if record.exc_info:
            parts.append("exc=" + _quote(self.formatException(record.exc_info)))
        return " ".join(parts)


def _is_own(name: str) -> bool:
    return name.partition(".")[0] in OWN_PACKAGES


def only_own_debug(record: logging.LogRecord) -> bool:
    """Handler filter: a DEBUG record passes only from this project's own loggers."""
    return record.levelno >= logging.INFO or _is_own(record.name)


def setup_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Log ``key=value`` lines to ``stream`` (stderr) at ``level`` for this project's
    loggers; every other logger at INFO or above, never DEBUG (see the module docstring)."""
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(KeyValueFormatter())
    handler.addFilter(only_own_debug)
    wanted = logging.getLevelName(level.upper())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(wanted, logging.INFO))
    for package in OWN_PACKAGES:
        logging.getLogger(package).setLevel(wanted)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)

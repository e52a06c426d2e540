"""One line per log record, ``key=value`` fields, secrets and card numbers scrubbed.

Call :func:`setup_logging` once at start-up. Pass structured fields with
``log.info("call queued", extra={"fields": {"queue": "sales", "wait": 3.2}})``.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any

SECRET_KEYS = re.compile(r"(secret|password|passwd|token|key|cookie|authorization)", re.I)
# 13-19 digit runs (optionally spaced or dashed) look like card numbers: keep the last four.
CARD_NUMBER = re.compile(r"\b(?:\d[ -]?){9,15}(\d{4})\b")
SECRET_IN_TEXT = re.compile(r"(?i)\b(secret|password|key)(\s*[:=]\s*)(\S+)")


def scrub(text: str) -> str:
    """Mask what must never reach a log: secrets written as ``secret: x`` and card numbers."""
    text = SECRET_IN_TEXT.sub(lambda m: f"{m[1]}{m[2]}***", text)
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


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)

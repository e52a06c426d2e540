"""Phone number normalisation: every stored or looked-up number is E.164.

Caller ids arrive in every shape (``(555) 000-1111``, ``+1 555 000 1111``,
``001 555 ...``, with an extension). One canonical form keeps "one client base without
duplicates" a UNIQUE constraint instead of fuzzy matching. Numbers are checked for a
*possible* length, not full validity, because test and demo ranges (555) are not
allocated yet still are real caller ids on a lab PBX.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    NumberParseException,
    PhoneNumber,
    PhoneNumberFormat,
    ValidationResult,
)

from config.errors import InvalidInput

_CANONICAL = re.compile(r"^\+([1-9]\d{6,14})$")
_PUNCTUATION = re.compile(r"[\s().\-]")
_ALLOWED = re.compile(r"^[\d\s()+\-./]*(?:(?:ext\.?|x|#|;ext=)\s*\d{1,10})?$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Phone:
    """A normalised number: ``e164`` like ``+15550001111`` and the extension, if any."""

    e164: str
    extension: str = ""


def parse_phone(raw: str, region: str = "US") -> Phone:
    """Parse a national or international number, with an optional extension.

    Args:
        raw: what a user typed or a caller id: ``(555) 000-1111``, ``+44 20 7946 0958``,
            ``555-000-1111 ext. 12``.
        region: the ISO country used for national numbers (``settings.crm.default_region``).

    Raises:
        InvalidInput: empty, letters, too short or too long for the country.
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidInput("phone number is empty", field="phone")
    canonical = _CANONICAL.match(text)
    if canonical is None and text[0] == "+":
        canonical = _CANONICAL.match(_PUNCTUATION.sub("", text))
    if canonical:
        fast = _parse_canonical(canonical.group(1))
        if fast is not None:
            return fast
    if not _ALLOWED.match(text):
        raise InvalidInput(f"not a phone number: {text[:40]!r}", field="phone")
    try:
        number = phonenumbers.parse(text, region.upper())
    except NumberParseException as exc:
        raise InvalidInput(
            f"not a phone number: {text[:40]!r} ({exc._msg})", field="phone"
        ) from None
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason != ValidationResult.IS_POSSIBLE:
        why = {
            ValidationResult.TOO_SHORT: "too short",
            ValidationResult.TOO_LONG: "too long",
            ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
            ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "local number without area code",
            ValidationResult.INVALID_LENGTH: "wrong length",
        }.get(reason, "not a possible number")
        raise InvalidInput(f"not a phone number: {text[:40]!r} ({why})", field="phone")
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return Phone(e164=e164, extension=number.extension or "")


def _parse_canonical(digits: str) -> Phone | None:
    """Already E.164 (the bulk of an import): skip the general parser, same checks.

    ITU country codes are prefix-free, so the first known 1-3 digit prefix is the code.
    National numbers with a leading zero (Italy) take the general path.
    """
    for length in (1, 2, 3):
        code = int(digits[:length])
        if code in COUNTRY_CODE_TO_REGION_CODE:
            national = digits[length:]
            if not national or national[0] == "0":
                return None
            number = PhoneNumber(country_code=code, national_number=int(national))
            if phonenumbers.is_possible_number_with_reason(number) == ValidationResult.IS_POSSIBLE:
                return Phone(e164="+" + digits)
            return None
    return None


def normalize_phone(raw: str, region: str = "US") -> str:
    """The E.164 form of ``raw`` (extension dropped). Raises InvalidInput like parse_phone."""
    return parse_phone(raw, region).e164


def try_normalize(raw: str, region: str = "US") -> str | None:
    """E.164 or None, for caller ids that may be anonymous or an internal extension."""
    try:
        return normalize_phone(raw, region)
    except InvalidInput:
        return None

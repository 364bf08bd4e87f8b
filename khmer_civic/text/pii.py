"""Masking of personal data in comment dumps: phone numbers, e-mail addresses, @mentions."""

from __future__ import annotations

import re

from khmer_civic.text.patterns import EMAIL, MENTION, PHONE, URL, is_phone_number

PHONE_MASK = "[PHONE]"
EMAIL_MASK = "[EMAIL]"
MENTION_MASK = "[MENTION]"
URL_MASK = "[URL]"

# URLs are matched first so that digits inside a link are not taken for a phone number.
_PII = re.compile(rf"(?P<url>{URL})|(?P<email>{EMAIL})|(?P<mention>{MENTION})|(?P<phone>{PHONE})")


def mask_pii(
    text: str, *, phones: bool = True, emails: bool = True, mentions: bool = True, urls: bool = False
) -> str:
    """Replace phone numbers, e-mails and @mentions (and URLs if asked) with placeholders.

    >>> mask_pii("ទាក់ទង 012 345 678 ឬ sok@example.org @Dara")
    'ទាក់ទង [PHONE] ឬ [EMAIL] [MENTION]'

    The text is not otherwise changed (no normalisation), so it can be written back next to the
    original columns. Raises :class:`TypeError` for a non-``str``.
    """
    if not isinstance(text, str):
        raise TypeError(f"mask_pii() expects str, got {type(text).__name__}")

    def replace(m: re.Match[str]) -> str:
        kind, value = m.lastgroup, m.group(0)
        if kind == "url":
            return URL_MASK if urls else value
        if kind == "email":
            return EMAIL_MASK if emails else value
        if kind == "mention":
            return MENTION_MASK if mentions else value
        return PHONE_MASK if phones and is_phone_number(value) else value

    return _PII.sub(replace, text)

"""Regular expressions for the non-Khmer pieces of social-media text.

One place for the patterns that the segmenter keeps whole and the PII masker replaces, so the
two always agree on what a URL, an e-mail, a mention or a phone number is.
"""

from __future__ import annotations

import re

DIGIT = "[0-9\u17e0-\u17e9]"
#: Khmer letters and marks that can stand inside a word (no digits, no punctuation), plus the
#: repetition sign ៗ, which belongs to the word before it.
KHMER_WORD_CHAR = "\u1780-\u17d3\u17d7\u17dd\u19e0-\u19ff"
LATIN_LETTER = "A-Za-z\u00c0-\u024f"

URL = r"(?:https?://|www\.)[^\s<>\"'\u17d4\u17d5]*[^\s<>\"'.,!?;:)\]}\u17d4\u17d5]"
EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
# A mention is a Latin handle (letters, digits, _ and inner dots) or, for names typed in Khmer,
# a run of Khmer letters; a Latin handle never swallows Khmer text glued after it.
MENTION = rf"@(?:[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*|[{KHMER_WORD_CHAR}]+)"
HASHTAG = rf"#[A-Za-z0-9_{KHMER_WORD_CHAR}\u17e0-\u17e9]+"
# A phone number candidate: optional + or (, then groups of 2–4 digits in either script
# separated by single spaces, dots or dashes. :func:`is_phone_number` decides.
PHONE = rf"(?:\+|\(\+?)?{DIGIT}{{2,4}}\)?(?:[ .-]?{DIGIT}{{2,4}}){{1,4}}(?!{DIGIT})"
NUMBER = rf"{DIGIT}+(?:[.,:/]{DIGIT}+)*%?"
LATIN_WORD = rf"[{LATIN_LETTER}0-9]*[{LATIN_LETTER}][{LATIN_LETTER}0-9]*(?:['\u2019][{LATIN_LETTER}]+)*"
KHMER_RUN = rf"[{KHMER_WORD_CHAR}]+"
# Anything else: one visible character with the selectors, skin tones and joined characters
# that make it a single emoji.
SYMBOL = r"\S(?:[\ufe0e\ufe0f\U0001f3fb-\U0001f3ff\u20e3]|\u200d\S)*"

TOKEN = re.compile(
    rf"(?P<url>{URL})|(?P<email>{EMAIL})|(?P<mention>{MENTION})|(?P<hashtag>{HASHTAG})"
    rf"|(?P<phone>{PHONE})|(?P<number>{NUMBER})|(?P<latin>{LATIN_WORD})|(?P<khmer>{KHMER_RUN})"
    rf"|(?P<symbol>{SYMBOL})"
)

_DIGIT_RE = re.compile(DIGIT)
_TO_ASCII = str.maketrans("០១២៣៤៥៦៧៨៩", "0123456789")


def is_phone_number(candidate: str) -> bool:
    """True when a PHONE match looks like a Cambodian or international number: 8–12 digits,
    starting with a 0 (local form), a + or 855 (country code)."""
    digits = "".join(_DIGIT_RE.findall(candidate)).translate(_TO_ASCII)
    if not 8 <= len(digits) <= 12:
        return False
    return candidate.startswith(("+", "(")) or digits.startswith(("0", "855"))

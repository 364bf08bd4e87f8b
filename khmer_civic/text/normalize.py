"""Normalisation of Khmer social-media text.

The same visible Khmer word can be typed as several code-point sequences (marks in another
order, a vowel typed in two halves, a mark typed twice), and posts carry invisible characters
that split words for one program and not for another. :func:`normalize` maps all of these to
one canonical string, so that the segmenter, the tokenizer and the classifier see one form.

Rules, in the order they are applied (each with a before → after example; code points in
``U+`` notation where the glyphs would not show the difference):

1. **Invisible characters removed.** Zero-width space, zero-width non-joiner, word joiner, BOM,
   soft hyphen, Mongolian vowel separator, direction marks and embeddings, invisible operators:
   ``"សាលា\\u200bរៀន"`` → ``"សាលារៀន"``. A zero-width joiner survives only between two
   non-Khmer, non-space characters, where it glues emoji sequences (``👨\\u200d👩``);
   elsewhere it is removed. Other control characters (C0/C1) are removed; tabs and line breaks
   count as whitespace (rule 6).
2. **Unicode NFC**: ``"e\\u0301"`` → ``"é"``.
3. **Deprecated Khmer characters replaced**: U+17A3 → ``អ`` (U+17A2); U+17A4 → ``អា``;
   the invisible inherent vowels U+17B4 and U+17B5 are removed; U+17D8 → ``។ល។``; a subscript
   DA (``្ដ``) becomes the subscript TA (``្ត``) it is rendered identically to:
   ``"ឧត្ដម"`` → ``"ឧត្តម"``.
4. **Canonical order inside each Khmer syllable**: base consonant or independent vowel, then
   robat (U+17CC), then subscripts (coeng + consonant; a subscript RO after the others), then
   the register shifters (U+17C9, U+17CA), then the dependent vowel, then the other signs, with
   reahmuk and yuukaleapintu (U+17C7, U+17C8) last: ``"ក" + U+17B6 + U+17D2 + "ត"`` (vowel typed
   before the subscript) → ``"ក្តា"``; ``"ស" + U+17D2 + "រ" + U+17D2 + "ត"`` → ``"ស្ត្រ"``.
5. **Repairs inside a syllable**: a mark or subscript typed twice or more in a row is kept once
   (``"ណាស់់់"`` → ``"ណាស់"``); a subscript sign (coeng, U+17D2) with no consonant after it
   is dropped (``"ក" + U+17D2 + "ា"`` → ``"កា"``); a vowel typed in two halves is composed: U+17C1 + U+17B8 →
   ``ើ`` (U+17BE), U+17C1 + U+17B6 → ``ោ`` (U+17C4), and the look-alike U+17BE + U+17B6 →
   U+17C4 + U+17B8. A run of the repetition sign ``ៗ``, or of one mark with no consonant before
   it, is kept once: ``"ល្អៗៗៗ"`` → ``"ល្អៗ"``.
6. **Whitespace collapsed**: any run of Unicode whitespace (spaces, no-break spaces, tabs, line
   breaks) becomes one space, and the ends are stripped: ``"  សួស្តី \\t\\n បង "`` →
   ``"សួស្តី បង"``. With ``keep_newlines=True`` a run containing a line break becomes ``"\\n"``.
7. **Digits (optional)**: ``digits="ascii"`` folds Khmer digits to ASCII (``"០១២"`` → ``"012"``),
   ``digits="khmer"`` the reverse; the default ``"keep"`` leaves them.

The result is deterministic and idempotent (``normalize(normalize(s)) == normalize(s)``) for
every string; it never raises on a ``str`` and raises :class:`TypeError` for anything else.
The reordering follows the Khmer encoding structure described by SIL's Khmer character
specification; it does not attempt spelling correction.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Literal

#: Version of the normalisation rules. A model records the version it was trained with;
#: bump it whenever a rule changes the output of well-formed text. (Dropping a coeng that
#: has no consonant after it, added after the default model was trained, only repairs
#: malformed input: 2 of its 5,057 training texts, so the version stayed 1.)
NORMALIZER_VERSION = 1

DigitMode = Literal["keep", "ascii", "khmer"]

_KHMER_RANGE = "\u1780-\u17ff\u19e0-\u19ff"

# Rule 1: characters that never render and only split or disturb words.
_INVISIBLE = re.compile(
    "[\u200b\u200c\u2060\ufeff\u00ad\u180e\u200e\u200f\u202a-\u202e\u2061-\u2064\u2066-\u2069"
    "\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]"
)
_ZWJ_RUN = re.compile("\u200d{2,}")
# A ZWJ touching Khmer, whitespace or either end of the text has no job to do.
_STRAY_ZWJ = re.compile(rf"^\u200d|\u200d$|(?<=[{_KHMER_RANGE}\s])\u200d|\u200d(?=[{_KHMER_RANGE}\s])")

# Rule 3.
_DEPRECATED = str.maketrans({"\u17a3": "\u17a2", "\u17a4": "\u17a2\u17b6", "\u17b4": None, "\u17b5": None,
                             "\u17d8": "\u17d4\u179b\u17d4"})

# Rule 4: a syllable is a base followed by marks and subscripts.
_BASE = "\u1780-\u17a2\u17a5-\u17b3"
_MARK = "\u17b6-\u17d1\u17d3\u17dd"
_SYLLABLE = re.compile(rf"[{_BASE}](?:\u17d2[{_BASE}]|[{_MARK}]|\u17d2)+")
_UNIT = re.compile(rf"\u17d2[{_BASE}]|[{_MARK}]|\u17d2")

_COENG = "\u17d2"
_RO = "\u179a"


def _unit_rank(unit: str) -> int:
    """Position class of one syllable unit (a mark, or coeng + consonant)."""
    c = unit[0]
    if c == _COENG:
        return 3 if unit[1] == _RO else 2
    o = ord(c)
    if o == 0x17CC:
        return 1  # robat
    if o in (0x17C9, 0x17CA):
        return 4  # register shifters
    if 0x17BE <= o <= 0x17C5:
        return 5  # vowels with a part before the base
    if 0x17BB <= o <= 0x17BD:
        return 6  # vowels below
    if 0x17B7 <= o <= 0x17BA:
        return 7  # vowels above
    if o == 0x17B6:
        return 8  # aa
    if o in (0x17C7, 0x17C8):
        return 10  # reahmuk, yuukaleapintu close the syllable
    return 9  # other signs above


_SPLIT_VOWELS = (
    ("\u17c1\u17b8", "\u17be"),
    ("\u17c1\u17b6", "\u17c4"),
    ("\u17be\u17b6", "\u17c4\u17b8"),
)


def _fix_syllable(match: re.Match[str]) -> str:
    return _canonical_syllable(match.group(0))


# A pure function of the syllable; a text repeats few distinct syllables, so its result is kept
# (bounded: about 4 MB at most) and labelling a corpus normalises each distinct syllable once.
@functools.lru_cache(maxsize=65536)
def _canonical_syllable(syllable: str) -> str:
    base, marks = syllable[0], syllable[1:]
    for _ in range(3):  # sorting and composing settle in at most two rounds
        # a coeng with no consonant after it renders nothing and would latch on to the next
        # syllable's consonant once moved: drop it; a subscript DA becomes the subscript TA
        units = [("\u17d2\u178f" if u == "\u17d2\u178a" else u) for u in _UNIT.findall(marks) if u != _COENG]
        units.sort(key=_unit_rank)  # stable: equal ranks keep their typed order
        deduped = [u for i, u in enumerate(units) if i == 0 or u != units[i - 1]]
        new = "".join(deduped)
        for split, whole in _SPLIT_VOWELS:
            new = new.replace(split, whole)
        if new == marks:
            break
        marks = new
    return base + marks


_REPEAT_SIGN_RUN = re.compile("\u17d7{2,}")
# identical marks repeated outside any syllable (after a space, at the start of the text)
_ORPHAN_MARK_RUN = re.compile(f"([{_MARK}])\\1+")
_WHITESPACE = re.compile(r"\s+")
_WHITESPACE_KEEP_NL = re.compile(r"\s*\n\s*|[^\S\n]+")

_KHMER_TO_ASCII = str.maketrans("០១២៣៤៥៦៧៨៩", "0123456789")
_ASCII_TO_KHMER = str.maketrans("0123456789", "០១២៣៤៥៦៧៨៩")


def normalize(text: str, *, digits: DigitMode = "keep", keep_newlines: bool = False) -> str:
    """Return the canonical form of ``text`` (see the module docstring for every rule).

    ``digits`` is ``"keep"`` (default), ``"ascii"`` or ``"khmer"``; ``keep_newlines`` keeps a
    single ``"\\n"`` where the text had line breaks. Raises :class:`TypeError` if ``text`` is
    not a ``str``.
    """
    if not isinstance(text, str):
        raise TypeError(f"normalize() expects str, got {type(text).__name__}")
    if digits not in ("keep", "ascii", "khmer"):
        raise ValueError(f"digits must be 'keep', 'ascii' or 'khmer', not {digits!r}")
    out = _INVISIBLE.sub("", text)
    if "\u200d" in out:
        out = _STRAY_ZWJ.sub("", _ZWJ_RUN.sub("\u200d", out))
    if not out.isascii():
        out = unicodedata.normalize("NFC", out)
        out = out.translate(_DEPRECATED)
        out = _SYLLABLE.sub(_fix_syllable, out)
        out = _REPEAT_SIGN_RUN.sub("\u17d7", out)
        out = _ORPHAN_MARK_RUN.sub(r"\1", out)
        if not unicodedata.is_normalized("NFC", out):  # a removed mark can leave a pair NFC composes
            out = unicodedata.normalize("NFC", out)
    if keep_newlines:
        out = _WHITESPACE_KEEP_NL.sub(lambda m: "\n" if "\n" in m.group(0) else " ", out).strip()
    else:
        out = _WHITESPACE.sub(" ", out).strip()
    if digits == "ascii":
        out = out.translate(_KHMER_TO_ASCII)
    elif digits == "khmer":
        out = out.translate(_ASCII_TO_KHMER)
    if "\u200d" in out:  # stripping may have left a joiner at an end
        out = _STRAY_ZWJ.sub("", out)
    return out


_LETTER = re.compile(r"[a-zA-Z\u00c0-\u024f\u1780-\u17b3]")


def has_letters(text: str) -> bool:
    """True when ``text`` holds at least one Khmer consonant/independent vowel or Latin letter.

    Emoji-only, digit-only and punctuation-only strings have none; such texts carry nothing a
    classifier can read.
    """
    return _LETTER.search(text) is not None

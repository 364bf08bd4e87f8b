"""Golden tests for each normalisation rule, and properties over arbitrary text."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from khmer_civic.text import has_letters, normalize

KA, TA, RO, COENG = "\u1780", "\u178f", "\u179a", "\u17d2"
AA, E, II, OE, OO = "\u17b6", "\u17c1", "\u17b8", "\u17be", "\u17c4"
BANTOC, TRIISAP, NIKAHIT, REAHMUK = "\u17cb", "\u17ca", "\u17c6", "\u17c7"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # rule 1: invisible characters
        ("សាលា\u200bរៀន", "សាលារៀន"),
        ("ក\u200cខ\u2060គ\ufeff", "កខគ"),
        ("soft\u00adhyphen", "softhyphen"),
        ("\u200eabc\u202e", "abc"),
        ("a\x00b\x07c", "abc"),
        ("\U0001f468\u200d\U0001f469", "\U0001f468\u200d\U0001f469"),  # emoji joiner kept
        ("ក\u200dខ", "កខ"),  # joiner inside Khmer removed
        ("x \u200d y", "x y"),
        # rule 2: NFC
        ("e\u0301", "\u00e9"),
        # rule 3: deprecated characters and subscript DA
        ("\u17a3ក", "អក"),
        ("\u17a4ក", "អាក"),
        ("ក\u17b4ខ\u17b5", "កខ"),
        ("សៀវភៅ\u17d8", "សៀវភៅ។ល។"),
        ("ឧត\u17d2\u178aម", "ឧត្តម"),
        # rule 4: mark order
        (KA + AA + COENG + TA, KA + COENG + TA + AA),  # vowel typed before the subscript
        ("ស" + COENG + RO + COENG + TA + II, "ស" + COENG + TA + COENG + RO + II),  # subscript RO last
        ("ប" + II + TRIISAP, "ប" + TRIISAP + II),  # register shifter before the vowel
        (KA + REAHMUK + "\u17bb", KA + "\u17bb" + REAHMUK),  # reahmuk closes the syllable
        (KA + NIKAHIT + AA, KA + AA + NIKAHIT),  # aa before nikahit: the vowel "am"
        ("ក" + "\u17cc" + COENG + KA, "ក" + "\u17cc" + COENG + KA),  # robat stays first
        (KA + COENG + KA + "\u17cc", KA + "\u17cc" + COENG + KA),
        # rule 5: duplicated marks, split vowels, repetition sign
        ("ណាស់់់", "ណាស់"),
        ("ល្អណាាស់", "ល្អណាស់"),  # aa typed twice
        (KA + E + II, KA + OE),
        (KA + E + AA, KA + OO),
        (KA + OE + AA, KA + OO + II),
        ("ល្អៗៗៗ", "ល្អៗ"),
        (KA + COENG + AA + KA, KA + AA + KA),  # a coeng before a vowel has nothing to subscript
        (KA + COENG, KA),
        # rule 6: whitespace
        ("  សួស្តី \t\n បង ", "សួស្តី បង"),
        ("a\u00a0\u3000b", "a b"),
    ],
)
def test_rule_golden(before: str, after: str) -> None:
    assert normalize(before) == after


def test_keep_newlines() -> None:
    assert normalize("ជួរ ទី១ \n\n  ជួរទី២\t", keep_newlines=True) == "ជួរ ទី១\nជួរទី២"


@pytest.mark.parametrize(("mode", "expected"), [("keep", "ថ្ងៃ ០៥/12"), ("ascii", "ថ្ងៃ 05/12"), ("khmer", "ថ្ងៃ ០៥/១២")])
def test_digit_folding(mode: str, expected: str) -> None:
    assert normalize("ថ្ងៃ ០៥/12", digits=mode) == expected  # type: ignore[arg-type]


def test_visually_identical_spellings_become_equal() -> None:
    typed_one_way = "ស" + COENG + RO + COENG + TA + II  # ស្រ្តី as many keyboards type it
    typed_other_way = "ស" + COENG + TA + COENG + RO + II
    assert normalize(typed_one_way) == normalize(typed_other_way)


@pytest.mark.parametrize("bad", [None, 3, 2.5, b"bytes", ["a"], float("nan")])
def test_non_str_is_a_type_error(bad: object) -> None:
    with pytest.raises(TypeError, match="expects str"):
        normalize(bad)  # type: ignore[arg-type]


def test_bad_digit_mode() -> None:
    with pytest.raises(ValueError):
        normalize("x", digits="roman")  # type: ignore[arg-type]


def test_has_letters() -> None:
    assert has_letters("សួស្តី")
    assert has_letters("ok 👍")
    assert not has_letters("👍👍 !!! 123 ១២៣")
    assert not has_letters("")


khmer_soup = st.text(
    alphabet=st.sampled_from(
        [chr(c) for c in range(0x1780, 0x17FF)]
        + [chr(c) for c in range(0x19E0, 0x1A00)]
        + ["\u200b", "\u200c", "\u200d", "\ufeff", " ", "\n", "\t", "\u00a0", "a", "e", "\u0301", "1", "👍", "\U0001f3fd"]
    ),
    max_size=60,
)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(khmer_soup, st.text(max_size=80)))
def test_never_raises_and_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert isinstance(once, str)
    assert normalize(once) == once
    assert once == once.strip()
    assert "\u200b" not in once and "  " not in once


@settings(max_examples=2000, deadline=None)
@given(khmer_soup)
@example("a\u17b4\u0301")  # the removed inherent vowel left "a" + combining acute, which NFC composes
def test_output_is_nfc_and_keeps_no_duplicate_marks(text: str) -> None:
    once = normalize(text)
    assert unicodedata.is_normalized("NFC", once)
    for mark in "\u17b6\u17cb\u17c6\u17c7":
        assert mark * 2 not in once


@settings(max_examples=2000, deadline=None)
@given(khmer_soup, st.sampled_from(["keep", "ascii", "khmer"]), st.booleans())
def test_idempotent_in_every_mode(text: str, digits: str, keep_newlines: bool) -> None:
    once = normalize(text, digits=digits, keep_newlines=keep_newlines)  # type: ignore[arg-type]
    assert normalize(once, digits=digits, keep_newlines=keep_newlines) == once  # type: ignore[arg-type]

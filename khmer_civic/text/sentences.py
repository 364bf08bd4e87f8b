"""Sentence splitting on Khmer and Latin sentence marks."""

from __future__ import annotations

import re

from khmer_civic.text.normalize import normalize

# A sentence ends at ។ or ៕ (not inside the abbreviation ។ល។ "etc."), at ! or ? (ASCII or
# full width), at a Latin full stop followed by a space or the end (not between digits, as in
# 3.5), and at a line break. Closing quotes and brackets stay with the sentence they close.
_END = re.compile(
    r"(?:(?<!។ល)(?<!^ល)[\u17d4\u17d5](?!ល\u17d4)|[!?\uff01\uff1f]+|(?<![0-9A-Z])\.(?=\s|$))"
    r"[\"'\u201d\u2019)\]\u00bb]*"
    r"|\n"
)


def split_sentences(text: str, *, normalize_first: bool = True) -> list[str]:
    """Split ``text`` into sentences, each stripped, none empty; the end mark stays attached.

    >>> split_sentences("សួស្តី។ តើមណ្ឌលសុខភាពបើកទេ? Thanks.")
    ['សួស្តី។', 'តើមណ្ឌលសុខភាពបើកទេ?', 'Thanks.']
    """
    if normalize_first:
        text = normalize(text, keep_newlines=True)
    elif not isinstance(text, str):
        raise TypeError(f"split_sentences() expects str, got {type(text).__name__}")
    sentences: list[str] = []
    start = 0
    for m in _END.finditer(text):
        piece = text[start : m.end()].strip()
        if piece:
            sentences.append(piece)
        start = m.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences
